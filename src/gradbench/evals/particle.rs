//! `particle`: choose `w` so that a charged particle, pushed by two charges at (10, 10 - w)
//! and (10, 0), crosses the x-axis at the origin. The trajectory comes from Euler steps
//! (Δt = 0.1) whose force is `-∇ₓp` for the potential `p(x) = Σ 1/‖x - c‖`, until the
//! particle would cross y = 0, then linear interpolation to the crossing; the outer
//! descent minimises `x₀(t_f)²` over `w` by differentiating through that unbounded loop
//! and the inner gradients (nested AD). Function names give the modes: outer, inner.
//!
//! Nothing bounds the loop for a `w` whose particle is pushed away from the axis, and
//! every step stays on the tape for the outer derivative; after [`MAX_EULER_STEPS`] the
//! particle is taken never to land, and the request fails with that reason.

use super::descent::{argmin, gradient, nested_tape, Mode};
use super::unknown_function;
use crate::gradbench::input::{field, number, EvalError};
use crate::gradbench::output;
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{Tape, Var};
use engram_tensor::Tensor;
use serde_json::Value;

/// The most Euler steps of one trajectory: t = 1000, where the eval's particle lands
/// before t = 10 (a tape of about 10 MB).
const MAX_EULER_STEPS: usize = 10_000;

struct Problem {
    w: f64,
    outer: Mode,
    inner: Mode,
}

/// The potential at `x` of unit charges at `charges`.
fn potential(x: &Var<f64>, charges: &[Var<f64>]) -> Var<f64> {
    charges
        .iter()
        .map(|c| x.sub(c).square().sum().sqrt().recip())
        .reduce(|a, b| a.add(&b))
        .expect("two charges")
}

/// `x₀(t_f)²` for control `w` (a Var of shape [1]).
fn miss(inner: Mode, tape: &Tape<f64>, w: &Var<f64>) -> Result<Var<f64>, EvalError> {
    let ten = Var::constant(Tensor::scalar(10.0).reshape(&[1]));
    let moving = Var::concat(&[&ten, &w.neg().add_scalar(10.0)], 0);
    let fixed = Var::constant(Tensor::from_vec(vec![10.0, 0.0], &[2]));
    let charges = [moving, fixed];
    let dt = 0.1;
    let mut x = Var::constant(Tensor::from_vec(vec![0.0, 8.0], &[2]));
    let mut velocity = Var::constant(Tensor::from_vec(vec![0.75, 0.0], &[2]));
    let mut steps = 0;
    loop {
        let acceleration = gradient(inner, tape, &|p| Ok(potential(p, &charges)), &x)?.neg();
        let next = x.add(&velocity.mul_scalar(dt));
        if next.value().get(&[1]) > 0.0 {
            x = next;
            velocity = velocity.add(&acceleration.mul_scalar(dt));
        } else {
            break;
        }
        steps += 1;
        if steps == MAX_EULER_STEPS {
            return Err(EvalError::TooLarge(format!(
                "with w = {}, the particle did not land within {MAX_EULER_STEPS} Euler steps \
                 (it is at {:?})",
                w.value().get(&[0]),
                x.value().to_vec()
            )));
        }
    }
    let (x1, v1) = (x.narrow(0, 1, 1), velocity.narrow(0, 1, 1));
    let dt_final = x1.div(&v1).neg();
    let landing = x.add(&velocity.mul(&dt_final));
    Ok(landing.narrow(0, 0, 1).square().sum())
}

fn solve(p: &Problem) -> Result<f64, EvalError> {
    let tape = nested_tape();
    let start = Var::constant(Tensor::from_vec(vec![p.w], &[1]));
    let w = argmin(p.outer, &tape, &|w| miss(p.inner, &tape, w), &start, true)?;
    Ok(w.value().get(&[0]))
}

pub fn prepare(function: &str, input: &Value) -> Result<Box<dyn Workload>, EvalError> {
    let Some((outer, inner)) = Mode::pair(function) else {
        return Err(unknown_function(
            "particle",
            function,
            &["ff", "fr", "rf", "rr"],
        ));
    };
    let w = number(field(input, "w")?, "w")?;
    Ok(Job::boxed(Problem { w, outer, inner }, solve, |v| {
        output::number("w", *v)
    }))
}
