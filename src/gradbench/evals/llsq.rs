//! `llsq`: `½ Σ_i (s_i - Σ_j x_j t_i^j)²` with `t_i = -1 + 2i/(n-1)` and `s_i = sign(t_i)`,
//! vectorised as `½ ‖s - T x‖²` where `T[i, j] = t_i^j`.
//!
//! T and s depend only on n and m, but building them is O(n·m), as much work as the
//! objective itself; a user of the function would pay for it, so it is built inside
//! every timed run, not in `prepare`.

use super::unknown_function;
use crate::gradbench::input::{
    count, field, fits_in_memory, fits_in_time, require, vector, EvalError,
};
use crate::gradbench::output;
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{grad, Tape, Var};
use engram_tensor::Tensor;
use serde_json::Value;

struct Problem {
    x: Tensor<f64>,
    n: usize,
}

/// The sample points' powers `T` (`[n, m]`) and signs `s` (`[n]`).
fn design(n: usize, m: usize) -> (Tensor<f64>, Tensor<f64>) {
    let mut powers = Vec::with_capacity(n * m);
    let mut signs = Vec::with_capacity(n);
    for i in 0..n {
        let t = -1.0 + i as f64 * 2.0 / (n as f64 - 1.0);
        signs.push(if t > 0.0 {
            1.0
        } else if t < 0.0 {
            -1.0
        } else {
            0.0
        });
        let mut power = 1.0;
        for _ in 0..m {
            powers.push(power);
            power *= t;
        }
    }
    (
        Tensor::from_vec(powers, &[n, m]),
        Tensor::from_vec(signs, &[n]),
    )
}

fn objective(p: &Problem, x: &Var<f64>) -> Var<f64> {
    let (powers, signs) = design(p.n, p.x.numel());
    let residual = Var::constant(signs).sub(&Var::constant(powers).matmul(x));
    residual.square().sum().mul_scalar(0.5)
}

pub fn prepare(function: &str, input: &Value) -> Result<Box<dyn Workload>, EvalError> {
    let x = vector(field(input, "x")?, "x")?;
    let n = count(field(input, "n")?, "n")?;
    require(n >= 2, || format!("`n` must be at least 2, got {n}"))?;
    let m = x.len();
    // T, the residual and their gradients on the tape: about four n × m or n arrays.
    let cells = n as f64 * m.max(1) as f64;
    let what = format!("`n` = {n} with m = {m}");
    fits_in_memory(4.0 * 8.0 * cells, &what)?;
    fits_in_time(6.0 * cells, &what)?;
    let problem = Problem {
        x: Tensor::from_vec(x, &[m]),
        n,
    };
    match function {
        "primal" => Ok(Job::boxed(
            problem,
            |p| Ok(objective(p, &Var::constant(p.x.clone())).value().clone()),
            |y| output::tensor("primal", y),
        )),
        "gradient" => Ok(Job::boxed(
            problem,
            |p| {
                let tape = Tape::new();
                let x = tape.leaf(p.x.clone());
                Ok(grad(&objective(p, &x), &[&x]).remove(0))
            },
            |g| output::tensor("gradient", g),
        )),
        other => Err(unknown_function("llsq", other, &["primal", "gradient"])),
    }
}
