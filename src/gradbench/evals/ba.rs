//! `ba`: bundle adjustment (ADBench). Observation i sees camera `i mod n` and point
//! `i mod m`; its residuals are `w·(proj - feat)` (2 values) and `1 - w²`.
//!
//! The Jacobian is built without exploiting the replication: every observation's camera
//! and point are gathered into its own row, all residuals are one batched graph, and two
//! reverse sweeps (seeding residual component 0, then 1, across all observations) give
//! every observation's 2 × 15 block at once, since each residual depends only on its own
//! row. The full CSR matrix is then assembled as the reference does; only its prefix is
//! sent, as the eval asks.

use super::unknown_function;
use crate::gradbench::input::{count, field, number, require, vector, EvalError};
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{vjp, Tape, Var};
use engram_tensor::Tensor;
use serde_json::{json, Value};

const CAMERA: usize = 11;

struct Problem {
    n: usize,
    m: usize,
    p: usize,
    cameras: Tensor<f64>,
    points: Tensor<f64>,
    weights: Tensor<f64>,
    features: Tensor<f64>,
    camera_of: Vec<usize>,
    point_of: Vec<usize>,
}

fn col(t: &Var<f64>, start: usize, len: usize) -> Var<f64> {
    t.narrow(1, start, len)
}

/// `a × b` row by row, for `[p, 3]` operands.
fn cross(a: &Var<f64>, b: &Var<f64>) -> Var<f64> {
    let c = |t: &Var<f64>, i: usize| col(t, i, 1);
    let x = c(a, 1).mul(&c(b, 2)).sub(&c(a, 2).mul(&c(b, 1)));
    let y = c(a, 2).mul(&c(b, 0)).sub(&c(a, 0).mul(&c(b, 2)));
    let z = c(a, 0).mul(&c(b, 1)).sub(&c(a, 1).mul(&c(b, 0)));
    Var::concat(&[&x, &y, &z], 1)
}

/// Rodrigues rotation of each row of `pt` by the angle-axis vector in the same row of
/// `rot`; rows with a zero rotation use the first-order form `pt + rot × pt`.
fn rotate(rot: &Var<f64>, pt: &Var<f64>) -> Var<f64> {
    let sq = rot.square().sum_keepdim(&[1]);
    let zero = sq.value().map(|v| v == 0.0);
    let rotated = {
        // Keep theta away from 0 in rows that take the other branch, so no NaN leaks.
        let theta = sq.add(&Var::constant(zero.to_float())).sqrt();
        let (cos, sin) = (theta.cos(), theta.sin());
        let axis = rot.div(&theta);
        let along = axis
            .mul(pt)
            .sum_keepdim(&[1])
            .mul(&cos.neg().add_scalar(1.0));
        pt.mul(&cos)
            .add(&cross(&axis, pt).mul(&sin))
            .add(&axis.mul(&along))
    };
    if zero.to_vec().contains(&true) {
        Var::where_cond(&zero, pt.add(&cross(rot, pt)), &rotated)
    } else {
        rotated
    }
}

/// Reprojection residuals `[p, 2]` of per-observation cameras `[p, 11]`, points `[p, 3]`
/// and weights `[p]`.
fn reprojection(cam: &Var<f64>, x: &Var<f64>, w: &Var<f64>, features: &Tensor<f64>) -> Var<f64> {
    let xcam = rotate(&col(cam, 0, 3), &x.sub(&col(cam, 3, 3)));
    let proj = col(&xcam, 0, 2).div(&col(&xcam, 2, 1));
    let rsq = proj.square().sum_keepdim(&[1]);
    let distortion = col(cam, 9, 1)
        .mul(&rsq)
        .add(&col(cam, 10, 1).mul(&rsq.square()))
        .add_scalar(1.0);
    let projected = proj
        .mul(&distortion)
        .mul(&col(cam, 6, 1))
        .add(&col(cam, 7, 2));
    w.unsqueeze(1)
        .mul(&projected.sub(&Var::constant(features.clone())))
}

fn gathered(p: &Problem) -> (Tensor<f64>, Tensor<f64>) {
    (
        p.cameras.index_select(0, &p.camera_of),
        p.points.index_select(0, &p.point_of),
    )
}

fn objective(p: &Problem) -> Value {
    let (cam, x) = gathered(p);
    let c = |t: &Tensor<f64>| Var::constant(t.clone());
    let err = reprojection(&c(&cam), &c(&x), &c(&p.weights), &p.features);
    let w_err = p.weights.map(|w| 1.0 - w * w);
    json!({
        "reproj_error": {"elements": [err.value().get(&[0, 0]), err.value().get(&[0, 1])], "repeated": p.p},
        "w_err": {"element": w_err.get(&[0]), "repeated": p.p}
    })
}

/// The sparse Jacobian in CSR form.
struct Csr {
    rows: Vec<usize>,
    cols: Vec<usize>,
    vals: Vec<f64>,
}

fn jacobian(p: &Problem) -> Csr {
    let (cam, x) = gathered(p);
    let tape = Tape::new();
    let (cv, xv, wv) = (tape.leaf(cam), tape.leaf(x), tape.leaf(p.weights.clone()));
    let err = reprojection(&cv, &xv, &wv, &p.features);
    let mut blocks = Vec::with_capacity(2);
    for component in 0..2 {
        let mut seed = vec![0.0; 2 * p.p];
        seed.iter_mut()
            .skip(component)
            .step_by(2)
            .for_each(|s| *s = 1.0);
        let g = vjp(&err, &Tensor::from_vec(seed, &[p.p, 2]), &[&cv, &xv, &wv]);
        blocks.push(
            g.iter()
                .map(|t| t.contiguous().to_vec())
                .collect::<Vec<_>>(),
        );
    }
    let w_grad = p.weights.map(|w| -2.0 * w).to_vec();
    let per_row = CAMERA + 3 + 1;
    let mut csr = Csr {
        rows: Vec::with_capacity(3 * p.p + 1),
        cols: Vec::with_capacity(31 * p.p),
        vals: Vec::with_capacity(31 * p.p),
    };
    csr.rows.push(0);
    for i in 0..p.p {
        for block in &blocks {
            csr.rows.push(csr.rows.last().unwrap() + per_row);
            let (cam_idx, pt_idx) = (p.camera_of[i], p.point_of[i]);
            csr.cols.extend((0..CAMERA).map(|j| CAMERA * cam_idx + j));
            csr.vals
                .extend_from_slice(&block[0][i * CAMERA..(i + 1) * CAMERA]);
            csr.cols
                .extend((0..3).map(|j| CAMERA * p.n + 3 * pt_idx + j));
            csr.vals.extend_from_slice(&block[1][i * 3..(i + 1) * 3]);
            csr.cols.push(CAMERA * p.n + 3 * p.m + i);
            csr.vals.push(block[2][i]);
        }
    }
    for (i, &g) in w_grad.iter().enumerate() {
        csr.rows.push(csr.rows.last().unwrap() + 1);
        csr.cols.push(CAMERA * p.n + 3 * p.m + i);
        csr.vals.push(g);
    }
    csr
}

/// The first 30 entries of each CSR array and its last one, as the reference sends.
fn prefix(csr: &Csr) -> Value {
    fn cut<T: Copy + Into<Value>>(v: &[T]) -> Value {
        let mut out: Vec<Value> = v.iter().take(30).map(|&x| x.into()).collect();
        out.push((*v.last().expect("non-empty")).into());
        Value::from(out)
    }
    json!({"rows": cut(&csr.rows), "cols": cut(&csr.cols), "vals": cut(&csr.vals)})
}

pub fn prepare(function: &str, input: &Value) -> Result<Box<dyn Workload>, EvalError> {
    let (n, m, p) = (
        count(field(input, "n")?, "n")?,
        count(field(input, "m")?, "m")?,
        count(field(input, "p")?, "p")?,
    );
    let cam = vector(field(input, "cam")?, "cam")?;
    let x = vector(field(input, "x")?, "x")?;
    let w = number(field(input, "w")?, "w")?;
    let feat = vector(field(input, "feat")?, "feat")?;
    require(n >= 1 && m >= 1 && p >= 15, || {
        format!("need n, m ≥ 1 and p ≥ 15, got n={n}, m={m}, p={p}")
    })?;
    require(
        cam.len() == CAMERA && x.len() == 3 && feat.len() == 2,
        || "`cam`, `x` and `feat` must hold 11, 3 and 2 numbers".into(),
    )?;
    let problem = Problem {
        n,
        m,
        p,
        cameras: Tensor::from_vec(cam.repeat(n), &[n, CAMERA]),
        points: Tensor::from_vec(x.repeat(m), &[m, 3]),
        weights: Tensor::full(&[p], w),
        features: Tensor::from_vec(feat.repeat(p), &[p, 2]),
        camera_of: (0..p).map(|i| i % n).collect(),
        point_of: (0..p).map(|i| i % m).collect(),
    };
    match function {
        "objective" => Ok(Job::boxed(problem, |p| Ok(objective(p)), |v| v.clone())),
        "jacobian" => Ok(Job::boxed(problem, |p| Ok(jacobian(p)), prefix)),
        other => Err(unknown_function("ba", other, &["objective", "jacobian"])),
    }
}
