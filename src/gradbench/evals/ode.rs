//! `ode`: `y_0' = x_0`, `y_i' = x_i · y_{i-1}`, `y(0) = 0`, integrated by classic RK4 from
//! t = 0 to 2 in `s` steps. `primal` is y(2); `gradient` is ∂y_{n-1}(2)/∂x, by the tape
//! through all `s` steps.

use super::unknown_function;
use crate::gradbench::input::{
    count, field, fits_in_memory, fits_in_time, require, vector, EvalError,
};
use crate::gradbench::output;
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{grad, Tape, Var};
use engram_tensor::Tensor;
use serde_json::Value;

/// Ops recorded per RK4 step (four right-hand sides and the combination), each keeping
/// an n-vector on the tape.
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

fn solve(x: &Var<f64>, steps: usize) -> Var<f64> {
    let n = x.shape()[0];
    let h = 2.0 / steps as f64;
    let one = Var::constant(Tensor::ones(&[1]));
    let mut y = Var::constant(Tensor::zeros(&[n]));
    for _ in 0..steps {
        let k1 = rhs(x, &y, &one);
        let k2 = rhs(x, &y.add(&k1.mul_scalar(h / 2.0)), &one);
        let k3 = rhs(x, &y.add(&k2.mul_scalar(h / 2.0)), &one);
        let k4 = rhs(x, &y.add(&k3.mul_scalar(h)), &one);
        let slope = k1
            .add(&k2.mul_scalar(2.0))
            .add(&k3.mul_scalar(2.0))
            .add(&k4);
        y = y.add(&slope.mul_scalar(h / 6.0));
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
        // Every step's values stay on the tape for the reverse sweep.
        fits_in_memory(8.0 * cells, &what)?;
    }
    let problem = Problem {
        x: Tensor::from_vec(x, &[n]),
        steps,
    };
    match function {
        "primal" => Ok(Job::boxed(
            problem,
            |p| Ok(solve(&Var::constant(p.x.clone()), p.steps).value().clone()),
            |y| output::tensor("primal", y),
        )),
        "gradient" => Ok(Job::boxed(
            problem,
            |p| {
                let tape = Tape::new();
                let x = tape.leaf(p.x.clone());
                let n = p.x.numel();
                let last = solve(&x, p.steps).narrow(0, n - 1, 1).sum();
                Ok(grad(&last, &[&x]).remove(0))
            },
            |g| output::tensor("gradient", g),
        )),
        other => Err(unknown_function("ode", other, &["primal", "gradient"])),
    }
}
