//! `ode`: `y_0' = x_0`, `y_i' = x_i · y_{i-1}`, `y(0) = 0`, integrated by classic RK4 from
//! t = 0 to 2 in `s` steps. `primal` is y(2); `gradient` is ∂y_{n-1}(2)/∂x, by the tape
//! through all `s` steps.
//!
//! Each step is checkpointed, as reverse mode through a long time loop usually is: in
//! `gradient` a step is one op on the tape ([`Step`]), which keeps only the step's input
//! and output; its vjp records that one step again on a tape of its own and sweeps it
//! back. The tape then holds s states of n numbers instead of the ~25 temporaries of
//! every step, and each step's replay stays in cache.

use super::unknown_function;
use crate::gradbench::input::{
    count, field, fits_in_memory, fits_in_time, require, vector, EvalError,
};
use crate::gradbench::output;
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{grad, vjp, CustomOp, Tape, Var};
use engram_tensor::Tensor;
use serde_json::Value;
use std::rc::Rc;

/// Ops per RK4 step (four right-hand sides and the combination), each over n numbers.
const OPS_PER_STEP: f64 = 25.0;

struct Problem {
    x: Tensor<f64>,
    steps: usize,
}

/// The right-hand side: `z = x ⊙ [1, y_0, …, y_{n-2}]`.
fn rhs(x: &Var<f64>, y: &Var<f64>, one: &Var<f64>) -> Var<f64> {
    let n = y.shape()[0];
    x.mul(&Var::concat(&[one, &y.narrow(0, 0, n - 1)], 0))
}

/// One classic RK4 step of length `h` from `y`.
fn step(x: &Var<f64>, y: &Var<f64>, h: f64) -> Var<f64> {
    let one = Var::constant(Tensor::ones(&[1]));
    let k1 = rhs(x, y, &one);
    let k2 = rhs(x, &y.add(&k1.mul_scalar(h / 2.0)), &one);
    let k3 = rhs(x, &y.add(&k2.mul_scalar(h / 2.0)), &one);
    let k4 = rhs(x, &y.add(&k3.mul_scalar(h)), &one);
    let slope = k1
        .add(&k2.mul_scalar(2.0))
        .add(&k3.mul_scalar(2.0))
        .add(&k4);
    y.add(&slope.mul_scalar(h / 6.0))
}

/// A checkpointed RK4 step: inputs `[x, y]`, output the next `y`. Its vjp is the tape's
/// vjp of [`step`], recorded afresh; the gradients it returns are constants, so this op
/// serves first derivatives only (all `gradient` needs).
struct Step {
    h: f64,
}

impl CustomOp<f64> for Step {
    fn name(&self) -> &str {
        "rk4_step"
    }

    fn forward(&self, inputs: &[&Tensor<f64>]) -> Tensor<f64> {
        let c = |t: &Tensor<f64>| Var::constant(t.clone());
        step(&c(inputs[0]), &c(inputs[1]), self.h).value().clone()
    }

    fn vjp(&self, inputs: &[Var<f64>], _: &Var<f64>, g: &Var<f64>) -> Vec<Option<Var<f64>>> {
        let tape = Tape::new();
        let x = tape.leaf(inputs[0].value().clone());
        let y = tape.leaf(inputs[1].value().clone());
        vjp(&step(&x, &y, self.h), g.value(), &[&x, &y])
            .into_iter()
            .map(|t| Some(Var::constant(t)))
            .collect()
    }
}

/// y(2) from `x`; with `checkpointed`, each step is one [`Step`] op on `x`'s tape.
fn solve(x: &Var<f64>, steps: usize, checkpointed: bool) -> Var<f64> {
    let h = 2.0 / steps as f64;
    let checkpoint: Rc<dyn CustomOp<f64>> = Rc::new(Step { h });
    let mut y = Var::constant(Tensor::zeros(x.shape()));
    for _ in 0..steps {
        y = if checkpointed {
            Var::custom(checkpoint.clone(), &[x, &y])
        } else {
            step(x, &y, h)
        };
    }
    y
}

pub fn prepare(function: &str, input: &Value) -> Result<Box<dyn Workload>, EvalError> {
    let x = vector(field(input, "x")?, "x")?;
    let steps = count(field(input, "s")?, "s")?;
    require(!x.is_empty(), || "`x` must not be empty".into())?;
    require(steps >= 1, || "`s` must be at least 1".into())?;
    let n = x.len();
    let what = format!("`s` = {steps} steps with n = {n}");
    let cells = steps as f64 * n as f64 * OPS_PER_STEP;
    fits_in_time(cells, &what)?;
    if function == "gradient" {
        // Every step's state, and its gradient, stays on the tape for the reverse sweep.
        fits_in_memory(2.0 * 8.0 * steps as f64 * n as f64, &what)?;
    }
    let problem = Problem {
        x: Tensor::from_vec(x, &[n]),
        steps,
    };
    match function {
        "primal" => Ok(Job::boxed(
            problem,
            |p| {
                Ok(solve(&Var::constant(p.x.clone()), p.steps, false)
                    .value()
                    .clone())
            },
            |y| output::tensor("primal", y),
        )),
        "gradient" => Ok(Job::boxed(
            problem,
            |p| {
                let tape = Tape::new();
                let x = tape.leaf(p.x.clone());
                let n = p.x.numel();
                let last = solve(&x, p.steps, true).narrow(0, n - 1, 1).sum();
                Ok(grad(&last, &[&x]).remove(0))
            },
            |g| output::tensor("gradient", g),
        )),
        other => Err(unknown_function("ode", other, &["primal", "gradient"])),
    }
}
