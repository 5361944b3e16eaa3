//! `saddle`: `min_x max_y f(x, y)` with `f = (x₁² + y₁²) - (x₂² + y₂²)`, where the point
//! minimised over is `(x₁, y₁)` and the one maximised over is `(x₂, y₂)`. The outer
//! descent differentiates through the whole inner ascent (nested AD). Function names give
//! the modes: first letter the outer gradient's, second the inner's.

use super::descent::{argmax, argmin, nested_tape, Mode};
use super::unknown_function;
use crate::gradbench::input::{field, require, vector, EvalError};
use crate::gradbench::output;
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::Var;
use engram_tensor::Tensor;
use serde_json::Value;

struct Problem {
    start: Tensor<f64>,
    outer: Mode,
    inner: Mode,
}

fn f(outer_point: &Var<f64>, inner_point: &Var<f64>) -> Var<f64> {
    outer_point.square().sum().sub(&inner_point.square().sum())
}

fn solve(p: &Problem) -> Result<Vec<f64>, EvalError> {
    let tape = nested_tape();
    let start = Var::constant(p.start.clone());
    let cost = |x: &Var<f64>| {
        let best = argmax(p.inner, &tape, &|y| Ok(f(x, y)), &start, false)?;
        Ok(f(x, &best))
    };
    let x = argmin(p.outer, &tape, &cost, &start, true)?;
    let y = argmax(p.outer, &tape, &|y| Ok(f(&x, y)), &start, true)?;
    let mut out = x.value().to_vec();
    out.extend(y.value().to_vec());
    Ok(out)
}

pub fn prepare(function: &str, input: &Value) -> Result<Box<dyn Workload>, EvalError> {
    let Some((outer, inner)) = Mode::pair(function) else {
        return Err(unknown_function(
            "saddle",
            function,
            &["ff", "fr", "rf", "rr"],
        ));
    };
    let start = vector(field(input, "start")?, "start")?;
    require(start.len() == 2, || {
        format!("`start` must hold 2 numbers, got {}", start.len())
    })?;
    let problem = Problem {
        start: Tensor::from_vec(start, &[2]),
        outer,
        inner,
    };
    Ok(Job::boxed(problem, solve, |v| output::list("point", v)))
}
