//! Gradient descent as GradBench's nested-AD evals (`saddle`, `particle`) define it, with
//! the gradient taken in forward or reverse mode by the tape.
//!
//! The rule: step size η starts at 1e-5; stop when ‖∇f‖ ≤ 1e-5 or a step would move
//! ≤ 1e-5; accept a step that lowers f (else halve η); after 10 accepted steps, double η.
//!
//! Nothing in the rule bounds the number of steps (a function without a minimum, or a
//! NaN, loops forever), so a descent gives up after [`MAX_STEPS`] steps or at the first
//! value that is not finite, with an error that says so.

use crate::gradbench::input::EvalError;
use engram_autograd::{grad_graph, jvp_graph, GrowthCheck, Tape, Var};
use engram_tensor::Tensor;

/// The most steps (accepted or not) one descent may take; the evals' own descents take
/// a few hundred.
pub const MAX_STEPS: usize = 100_000;

/// A function that is minimised: a Var in, a scalar Var out, or why it has no value.
pub type Objective<'a> = &'a dyn Fn(&Var<f64>) -> Result<Var<f64>, EvalError>;

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

/// A tape for a nested descent. An inner descent keeps every step recorded so the outer
/// derivative can pass through it, and each inner gradient is one more backward pass
/// over a longer tape: growth by design, which the tape's growth check would report as
/// a leak (on stderr, in the harness's logs). Each pass still walks only the nodes
/// above the iterate it differentiates by.
pub fn nested_tape() -> Tape<f64> {
    let tape = Tape::new();
    tape.set_growth_check(GrowthCheck::Off);
    tape
}

/// ∇f at `x` (a 1-d Var) as a Var, differentiable again. An untracked `x` becomes a leaf;
/// a tracked one is differentiated by as it is, so outer derivatives flow through it.
pub fn gradient(
    mode: Mode,
    tape: &Tape<f64>,
    f: Objective,
    x: &Var<f64>,
) -> Result<Var<f64>, EvalError> {
    let x = if x.requires_grad() {
        x.clone()
    } else {
        tape.leaf(x.value().clone())
    };
    let y = f(&x)?;
    Ok(match mode {
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
    })
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
    f: Objective,
    start: &Var<f64>,
    outermost: bool,
) -> Result<Var<f64>, EvalError> {
    let settle = |v: Var<f64>| if outermost { v.detach() } else { v };
    let mut x = start.clone();
    let mut fx = settle(f(&x)?);
    let mut gx = settle(gradient(mode, tape, f, &x)?);
    let mut eta = 1e-5;
    let mut accepted = 0;
    for _ in 0..MAX_STEPS {
        if outermost {
            tape.clear();
        }
        let (value, slope) = (fx.value().item(), norm(gx.value()));
        if !value.is_finite() || !slope.is_finite() {
            return Err(EvalError::NotFinite(format!(
                "the descent reached f = {value}, ‖∇f‖ = {slope} at x = {:?}",
                x.value().to_vec()
            )));
        }
        if slope <= 1e-5 {
            return Ok(x);
        }
        if accepted == 10 {
            eta *= 2.0;
            accepted = 0;
            continue;
        }
        let candidate = x.sub(&gx.mul_scalar(eta));
        if norm(&x.value().sub(candidate.value())) <= 1e-5 {
            return Ok(x);
        }
        let f_candidate = settle(f(&candidate)?);
        if f_candidate.value().item() < value {
            x = settle(candidate);
            fx = f_candidate;
            gx = settle(gradient(mode, tape, f, &x)?);
            accepted += 1;
        } else {
            eta /= 2.0;
            accepted = 0;
        }
    }
    Err(EvalError::TooLarge(format!(
        "the descent did not converge in {MAX_STEPS} steps"
    )))
}

/// The argmax of `f`: the argmin of `-f`.
pub fn argmax(
    mode: Mode,
    tape: &Tape<f64>,
    f: Objective,
    start: &Var<f64>,
    outermost: bool,
) -> Result<Var<f64>, EvalError> {
    argmin(mode, tape, &|x| Ok(f(x)?.neg()), start, outermost)
}
