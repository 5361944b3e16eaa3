//! `llsq`: `½ Σ_i (s_i - Σ_j x_j t_i^j)²` with `t_i = -1 + 2i/(n-1)` and `s_i = sign(t_i)`,
//! vectorised as `½ ‖s - T x‖²` where `T[i, j] = t_i^j`.

use super::unknown_function;
use crate::gradbench::input::{count, field, require, to_json, vector, EvalError};
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{grad, Tape, Var};
use engram_tensor::Tensor;
use serde_json::Value;

struct Problem {
    x: Tensor<f64>,
    powers: Tensor<f64>,
    signs: Tensor<f64>,
}

fn objective(p: &Problem, x: &Var<f64>) -> Var<f64> {
    let residual = Var::constant(p.signs.clone()).sub(&Var::constant(p.powers.clone()).matmul(x));
    residual.square().sum().mul_scalar(0.5)
}

pub fn prepare(function: &str, input: &Value) -> Result<Box<dyn Workload>, EvalError> {
    let x = vector(field(input, "x")?, "x")?;
    let n = count(field(input, "n")?, "n")?;
    require(n >= 2, || format!("`n` must be at least 2, got {n}"))?;
    let m = x.len();
    let t: Vec<f64> = (0..n)
        .map(|i| -1.0 + i as f64 * 2.0 / (n as f64 - 1.0))
        .collect();
    let signs = t
        .iter()
        .map(|&ti| {
            if ti > 0.0 {
                1.0
            } else if ti < 0.0 {
                -1.0
            } else {
                0.0
            }
        })
        .collect();
    let powers = t
        .iter()
        .flat_map(|&ti| (0..m).map(move |j| ti.powi(j as i32)))
        .collect();
    let problem = Problem {
        x: Tensor::from_vec(x, &[m]),
        powers: Tensor::from_vec(powers, &[n, m]),
        signs: Tensor::from_vec(signs, &[n]),
    };
    match function {
        "primal" => Ok(Job::boxed(
            problem,
            |p| Ok(objective(p, &Var::constant(p.x.clone())).value().clone()),
            to_json,
        )),
        "gradient" => Ok(Job::boxed(
            problem,
            |p| {
                let tape = Tape::new();
                let x = tape.leaf(p.x.clone());
                Ok(grad(&objective(p, &x), &[&x]).remove(0))
            },
            to_json,
        )),
        other => Err(unknown_function("llsq", other, &["primal", "gradient"])),
    }
}
