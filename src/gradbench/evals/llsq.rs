//! `llsq`: `½ Σ_i (s_i - Σ_j x_j t_i^j)²` with `t_i = -1 + 2i/(n-1)` and `s_i = sign(t_i)`,
//! vectorised as `½ ‖s - T x‖²` where `T[i, j] = t_i^j`.
//!
//! T and s depend only on n and m, but building them is O(n·m), as much work as the
//! objective itself; a user of the function would pay for it, so it is built inside
//! every timed run, not in `prepare`. It is built and used a block of rows at a time,
//! transposed (`Tᵀ` is `[m, rows]`, each power row the previous one times `t`, a
//! vectorised product), so each block is still in cache when the product reads it.

use super::unknown_function;
use crate::gradbench::input::{
    count, field, fits_in_memory, fits_in_time, require, vector, EvalError,
};
use crate::gradbench::output;
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{grad, Tape, Var};
use engram_tensor::Tensor;
use serde_json::Value;

/// Numbers in one block of `Tᵀ`: 256 KB, within a core's L2 cache.
const BLOCK: usize = 32 * 1024;

struct Problem {
    x: Tensor<f64>,
    n: usize,
}

/// `t_i` for rows `start..end`.
fn samples(n: usize, start: usize, end: usize) -> Vec<f64> {
    (start..end)
        .map(|i| -1.0 + i as f64 * 2.0 / (n as f64 - 1.0))
        .collect()
}

/// `Tᵀ` for the given samples: row j holds `t_i^j`.
fn powers_transposed(t: &[f64], m: usize) -> Tensor<f64> {
    let rows = t.len();
    let mut powers = vec![1.0; rows * m];
    for j in 1..m {
        let (done, rest) = powers.split_at_mut(j * rows);
        let previous = &done[(j - 1) * rows..];
        for ((power, p), t) in rest[..rows].iter_mut().zip(previous).zip(t) {
            *power = p * t;
        }
    }
    Tensor::from_vec(powers, &[m, rows])
}

fn objective(p: &Problem, x: &Var<f64>) -> Var<f64> {
    let m = p.x.numel();
    let rows = (BLOCK / m.max(1)).max(1);
    let x_row = x.reshape(&[1, m]);
    let mut total: Option<Var<f64>> = None;
    for start in (0..p.n).step_by(rows) {
        let t = samples(p.n, start, (start + rows).min(p.n));
        let signs: Vec<f64> = t.iter().map(|&t| sign(t)).collect();
        let count = t.len();
        let fitted = x_row.matmul(&Var::constant(powers_transposed(&t, m)));
        let residual = Var::constant(Tensor::from_vec(signs, &[1, count])).sub(&fitted);
        let part = residual.square().sum();
        total = Some(match total {
            Some(acc) => acc.add(&part),
            None => part,
        });
    }
    total.expect("n ≥ 2").mul_scalar(0.5)
}

/// -1, 0 or 1, as the reference's `(0 < t) - (t < 0)`.
fn sign(t: f64) -> f64 {
    if t > 0.0 {
        1.0
    } else if t < 0.0 {
        -1.0
    } else {
        0.0
    }
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
