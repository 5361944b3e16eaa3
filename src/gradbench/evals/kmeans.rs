//! `kmeans`: `cost = Σ_i min_j ‖P_i - C_j‖²`, and `dir = J / H` with J = ∂cost/∂C and H the
//! diagonal of ∂²cost/∂C².
//!
//! H comes from one Hessian-vector product with the all-ones vector: this Hessian is
//! diagonal (each centroid coordinate's curvature is 2 × the points assigned to that
//! centroid, and nothing couples coordinates), so `H · 1` is exactly its diagonal.
//! Distances use `‖P‖² - 2 P Cᵀ + ‖C‖²`, one GEMM instead of an n × k × d tensor; the
//! points' norms are part of that computation and are taken inside every timed run.

use super::unknown_function;
use crate::gradbench::input::{field, fits_in_memory, matrix, require, EvalError};
use crate::gradbench::output;
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{grad, hvp, Tape, Var};
use engram_tensor::Tensor;
use serde_json::Value;

struct Problem {
    points: Tensor<f64>,
    centroids: Tensor<f64>,
}

fn cost(p: &Problem, c: &Var<f64>) -> Var<f64> {
    let point_norms = p.points.square().sum_keepdim(&[1]);
    let cross = Var::constant(p.points.clone()).matmul(&c.t());
    let centroid_norms = c.square().sum_axes(&[1]);
    let distances = Var::constant(point_norms)
        .sub(&cross.mul_scalar(2.0))
        .add(&centroid_norms);
    distances.min_axes(&[1]).sum()
}

pub fn prepare(function: &str, input: &Value) -> Result<Box<dyn Workload>, EvalError> {
    let points = matrix(field(input, "points")?, "points")?;
    let centroids = matrix(field(input, "centroids")?, "centroids")?;
    require(points.shape()[0] > 0 && centroids.shape()[0] > 0, || {
        "`points` and `centroids` must not be empty".into()
    })?;
    require(points.shape()[1] == centroids.shape()[1], || {
        format!(
            "points have {} coordinates but centroids {}",
            points.shape()[1],
            centroids.shape()[1]
        )
    })?;
    let (n, k) = (points.shape()[0], centroids.shape()[0]);
    // The n × k distances and their companions on the tape, forward and back.
    fits_in_memory(
        6.0 * 8.0 * n as f64 * k as f64,
        &format!("{n} points and {k} centroids"),
    )?;
    let problem = Problem { points, centroids };
    match function {
        "cost" => Ok(Job::boxed(
            problem,
            |p| Ok(cost(p, &Var::constant(p.centroids.clone())).value().clone()),
            |c| output::tensor("cost", c),
        )),
        "dir" => Ok(Job::boxed(
            problem,
            |p| {
                let tape = Tape::new();
                let c = tape.leaf(p.centroids.clone());
                let total = cost(p, &c);
                let jacobian = grad(&total, &[&c]).remove(0);
                let ones = Tensor::ones(p.centroids.shape());
                let diagonal = hvp(&total, &[&c], &[&ones]).remove(0);
                Ok(jacobian.div(&diagonal))
            },
            |d| output::tensor("dir", d),
        )),
        other => Err(unknown_function("kmeans", other, &["cost", "dir"])),
    }
}
