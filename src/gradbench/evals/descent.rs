//! Gradient descent as GradBench's nested-AD evals (`saddle`, `particle`) define it, with
//! the gradient taken in forward or reverse mode by the tape.
//!
//! The rule: step size η starts at 1e-5; stop when ‖∇f‖ ≤ 1e-5 or a step would move
//! ≤ 1e-5; accept a step that lowers f (else halve η); after 10 accepted steps, double η.

use engram_autograd::{grad_graph, jvp_graph, Tape, Var};
use engram_tensor::Tensor;

/// How a gradient is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One jvp per input coordinate.
    Forward,
    /// One vjp.
    Reverse,
}

impl Mode {
    /// The modes named by a two-letter function (`ff`, `fr`, `rf`, `rr`): outer, inner.
    pub fn pair(function: &str) -> Option<(Mode, Mode)> {
        let mode = |c| match c {
            'f' => Some(Mode::Forward),
            'r' => Some(Mode::Reverse),
            _ => None,
        };
        let mut chars = function.chars();
        let (a, b) = (mode(chars.next()?)?, mode(chars.next()?)?);
        chars.next().is_none().then_some((a, b))
    }
}

/// ∇f at `x` (a 1-d Var) as a Var, differentiable again. An untracked `x` becomes a leaf;
/// a tracked one is differentiated by as it is, so outer derivatives flow through it.
pub fn gradient(
    mode: Mode,
    tape: &Tape<f64>,
    f: &dyn Fn(&Var<f64>) -> Var<f64>,
    x: &Var<f64>,
) -> Var<f64> {
    let x = if x.requires_grad() {
        x.clone()
    } else {
        tape.leaf(x.value().clone())
    };
    let y = f(&x);
    match mode {
        Mode::Reverse => grad_graph(&y, None, &[&x]).remove(0),
        Mode::Forward => {
            let n = x.shape()[0];
            let parts: Vec<Var<f64>> = (0..n)
                .map(|i| {
                    let mut e = vec![0.0; n];
                    e[i] = 1.0;
                    jvp_graph(&y, &[&x], &[&Tensor::from_vec(e, &[n])]).reshape(&[1])
                })
                .collect();
            Var::concat(&parts.iter().collect::<Vec<_>>(), 0)
        }
    }
}

fn norm(t: &Tensor<f64>) -> f64 {
    t.to_vec().iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// The argmin of `f` from `x` by the rule above. With `outermost`, iterates are cut from
/// the graph and the tape is cleared between steps (nothing outside needs their
/// derivatives); otherwise every step is recorded so that an enclosing derivative can
/// pass through the whole descent.
pub fn argmin(
    mode: Mode,
    tape: &Tape<f64>,
    f: &dyn Fn(&Var<f64>) -> Var<f64>,
    start: &Var<f64>,
    outermost: bool,
) -> Var<f64> {
    let settle = |v: Var<f64>| if outermost { v.detach() } else { v };
    let mut x = start.clone();
    let mut fx = settle(f(&x));
    let mut gx = settle(gradient(mode, tape, f, &x));
    let mut eta = 1e-5;
    let mut accepted = 0;
    loop {
        if outermost {
            tape.clear();
        }
        if norm(gx.value()) <= 1e-5 {
            return x;
        }
        if accepted == 10 {
            eta *= 2.0;
            accepted = 0;
            continue;
        }
        let candidate = x.sub(&gx.mul_scalar(eta));
        if norm(&x.value().sub(candidate.value())) <= 1e-5 {
            return x;
        }
        let f_candidate = settle(f(&candidate));
        if f_candidate.value().item() < fx.value().item() {
            x = settle(candidate);
            fx = f_candidate;
            gx = settle(gradient(mode, tape, f, &x));
            accepted += 1;
        } else {
            eta /= 2.0;
            accepted = 0;
        }
    }
}

/// The argmax of `f`: the argmin of `-f`.
pub fn argmax(
    mode: Mode,
    tape: &Tape<f64>,
    f: &dyn Fn(&Var<f64>) -> Var<f64>,
    start: &Var<f64>,
    outermost: bool,
) -> Var<f64> {
    argmin(mode, tape, &|x| f(x).neg(), start, outermost)
}
