//! `kmeans`: `cost = Σ_i min_j ‖P_i - C_j‖²`, and `dir = J / H` with J = ∂cost/∂C and H the
//! diagonal of ∂²cost/∂C².
//!
//! H comes from one Hessian-vector product with the all-ones vector: this Hessian is
//! diagonal (each centroid coordinate's curvature is 2 × the points assigned to that
//! centroid, and nothing couples coordinates), so `H · 1` is exactly its diagonal. J is
//! the value of the differentiable gradient that product differentiates again, so one
//! recorded backward pass gives both.
//!
//! `‖P_i - C_j‖² = ‖P_i‖² + (‖C_j‖² - 2 P_i·C_j)`, and the first term does not depend on
//! j, so it leaves the minimum: cost = `Σ‖P_i‖² + Σ_i min_j [P_i, 1]·[-2C_j, ‖C_j‖²]`,
//! one GEMM per block of points instead of an n × k × d tensor. The points are taken a
//! block at a time, small enough that the block's n × k scores stay in cache through
//! the forward and both backward passes; the cost is the sum of the blocks' costs, and
//! J and H the sums of theirs (gradients accumulate across backward passes). Everything
//! derived from the points (norms, the appended ones) is computed inside each timed run.

use super::unknown_function;
use crate::gradbench::input::{field, fits_in_memory, matrix, require, EvalError};
use crate::gradbench::output;
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{grad, grad_graph, Tape, Var};
use engram_tensor::Tensor;
use serde_json::Value;

/// Scores in one block (points × centroids): 512 KB, within a core's L2 cache.
const BLOCK: usize = 64 * 1024;

struct Problem {
    points: Tensor<f64>,
    centroids: Tensor<f64>,
}

/// Blocks of points as `[rows, d + 1]` with a last column of ones, and their summed
/// squared norms.
fn point_blocks(points: &Tensor<f64>, k: usize) -> (Vec<Tensor<f64>>, f64) {
    let (n, d) = (points.shape()[0], points.shape()[1]);
    let data = points.contiguous().to_vec();
    let rows = (BLOCK / k.max(1)).max(1);
    let norms = data.iter().map(|v| v * v).sum();
    let blocks = (0..n)
        .step_by(rows)
        .map(|start| {
            let end = (start + rows).min(n);
            let mut augmented = Vec::with_capacity((end - start) * (d + 1));
            for point in start..end {
                augmented.extend_from_slice(&data[point * d..(point + 1) * d]);
                augmented.push(1.0);
            }
            Tensor::from_vec(augmented, &[end - start, d + 1])
        })
        .collect();
    (blocks, norms)
}

/// `[-2C, ‖C‖²]`, `[k, d + 1]`.
fn augmented_centroids(c: &Var<f64>) -> Var<f64> {
    Var::concat(&[&c.mul_scalar(-2.0), &c.square().sum_keepdim(&[1])], 1)
}

/// `Σ_i min_j (‖C_j‖² - 2 P_i·C_j)` over one block of points.
fn block_cost(block: &Tensor<f64>, augmented: &Var<f64>) -> Var<f64> {
    Var::constant(block.clone())
        .matmul(&augmented.t())
        .min_axes(&[1])
        .sum()
}

fn cost(p: &Problem) -> f64 {
    let (blocks, norms) = point_blocks(&p.points, p.centroids.shape()[0]);
    let augmented = augmented_centroids(&Var::constant(p.centroids.clone()));
    norms
        + blocks
            .iter()
            .map(|b| block_cost(b, &augmented).value().item())
            .sum::<f64>()
}

fn dir(p: &Problem) -> Tensor<f64> {
    let (blocks, _) = point_blocks(&p.points, p.centroids.shape()[0]);
    let ones = Var::constant(Tensor::ones(p.centroids.shape()));
    let mut jacobian = Tensor::zeros(p.centroids.shape());
    let mut diagonal = Tensor::zeros(p.centroids.shape());
    for block in &blocks {
        let tape = Tape::new();
        let c = tape.leaf(p.centroids.clone());
        let total = block_cost(block, &augmented_centroids(&c));
        let g = grad_graph(&total, None, &[&c]).remove(0);
        jacobian = jacobian.add(g.value());
        diagonal = diagonal.add(&grad(&g.mul(&ones).sum(), &[&c]).remove(0));
    }
    jacobian.div(&diagonal)
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
    let (n, k, d) = (points.shape()[0], centroids.shape()[0], points.shape()[1]);
    // A copy of the points, and per block of points the scores and their companions.
    fits_in_memory(
        8.0 * (n as f64 * (d + 1) as f64 + 8.0 * BLOCK.max(k) as f64),
        &format!("{n} points and {k} centroids"),
    )?;
    let problem = Problem { points, centroids };
    match function {
        "cost" => Ok(Job::boxed(
            problem,
            |p| Ok(cost(p)),
            |c| output::number("cost", *c),
        )),
        "dir" => Ok(Job::boxed(
            problem,
            |p| Ok(dir(p)),
            |d| output::tensor("dir", d),
        )),
        other => Err(unknown_function("kmeans", other, &["cost", "dir"])),
    }
}
