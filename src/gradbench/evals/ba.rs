//! `ba`: bundle adjustment (ADBench). Observation i sees camera `i mod n` and point
//! `i mod m`; its residuals are `w·(proj - feat)` (2 values) and `1 - w²`.
//!
//! The Jacobian is built without exploiting the replication: every observation's camera
//! and point are gathered into its own row, all residuals are one batched graph, and two
//! reverse sweeps (seeding residual component 0, then 1, across all observations) give
//! every observation's 2 × 15 block at once, since each residual depends only on its own
//! row. The weight residuals `1 - w²` are recorded too; each depends on its own weight
//! only, so one reverse sweep of their sum gives every one's derivative. The full CSR
//! matrix is then assembled as the reference does; only its prefix is sent, as the eval
//! asks.

use super::unknown_function;
use crate::gradbench::input::{count, field, fits_in_memory, number, require, vector, EvalError};
use crate::gradbench::output;
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{grad, vjp, Tape, Var};
use engram_tensor::Tensor;
use serde_json::{json, Value};

const CAMERA: usize = 11;

/// Bytes per observation at the peak of `jacobian`: its gathered camera and point, the
/// batched graph's values on the tape (about a hundred numbers), its two gradient blocks
/// and its 31 CSR entries.
const BYTES_PER_OBSERVATION: f64 = 1600.0;

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

/// Rows `start..start + len` of a component-major `[components, observations]` Var: a
/// contiguous slice, so the elementwise ops on it take the kernels' fast path.
fn part(t: &Var<f64>, start: usize, len: usize) -> Var<f64> {
    t.narrow(0, start, len)
}

/// `a × b` per observation, for `[3, rows]` operands.
fn cross(a: &Var<f64>, b: &Var<f64>) -> Var<f64> {
    let c = |t: &Var<f64>, i: usize| part(t, i, 1);
    let x = c(a, 1).mul(&c(b, 2)).sub(&c(a, 2).mul(&c(b, 1)));
    let y = c(a, 2).mul(&c(b, 0)).sub(&c(a, 0).mul(&c(b, 2)));
    let z = c(a, 0).mul(&c(b, 1)).sub(&c(a, 1).mul(&c(b, 0)));
    Var::concat(&[&x, &y, &z], 0)
}

/// Rodrigues rotation of each column of `pt` by the angle-axis vector in the same column
/// of `rot`; columns with a zero rotation use the first-order form `pt + rot × pt`.
fn rotate(rot: &Var<f64>, pt: &Var<f64>) -> Var<f64> {
    let sq = rot.square().sum_keepdim(&[0]);
    let zero = sq.value().map(|v| v == 0.0);
    let rotated = {
        // Keep theta away from 0 in columns that take the other branch, so no NaN leaks.
        let theta = sq.add(&Var::constant(zero.to_float())).sqrt();
        let (cos, sin) = (theta.cos(), theta.sin());
        let axis = rot.div(&theta);
        let along = axis
            .mul(pt)
            .sum_keepdim(&[0])
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

/// Reprojection residuals `[2, rows]` of per-observation cameras `[11, rows]`, points
/// `[3, rows]`, weights `[1, rows]` and features `[2, rows]`: one column per observation.
fn reprojection(cam: &Var<f64>, x: &Var<f64>, w: &Var<f64>, features: &Tensor<f64>) -> Var<f64> {
    let xcam = rotate(&part(cam, 0, 3), &x.sub(&part(cam, 3, 3)));
    let proj = part(&xcam, 0, 2).div(&part(&xcam, 2, 1));
    let rsq = proj.square().sum_keepdim(&[0]);
    let distortion = part(cam, 9, 1)
        .mul(&rsq)
        .add(&part(cam, 10, 1).mul(&rsq.square()))
        .add_scalar(1.0);
    let projected = proj
        .mul(&distortion)
        .mul(&part(cam, 6, 1))
        .add(&part(cam, 7, 2));
    w.mul(&projected.sub(&Var::constant(features.clone())))
}

/// Observations per batch: enough that per-op costs are spread over many observations,
/// few enough that a batch's graph (about fifty `[≤ 3, rows]` values, forward and back)
/// fits in the L3 cache instead of streaming through memory.
const BATCH: usize = 8192;

/// One batch of observations, gathered and laid out one column per observation: its
/// cameras `[11, rows]`, points `[3, rows]`, weights `[1, rows]`, features `[2, rows]`.
struct Batch {
    start: usize,
    cameras: Tensor<f64>,
    points: Tensor<f64>,
    weights: Tensor<f64>,
    features: Tensor<f64>,
}

/// `[width, rows]` from the row-major `[_, width]` `table`: column `r` is the table's row
/// `row_of(r)`. One pass, where a row gather followed by a transpose would take two.
fn columns(table: &Tensor<f64>, rows: usize, row_of: impl Fn(usize) -> usize) -> Tensor<f64> {
    let width = table.shape()[1];
    let data = table.contiguous_data();
    let mut out = vec![0.0; width * rows];
    for r in 0..rows {
        let row = &data[row_of(r) * width..][..width];
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
    Tensor::from_vec(out, &[width, rows])
}

fn batches(p: &Problem) -> impl Iterator<Item = Batch> + '_ {
    (0..p.p).step_by(BATCH).map(move |start| {
        let rows = (start + BATCH).min(p.p) - start;
        Batch {
            start,
            cameras: columns(&p.cameras, rows, |r| p.camera_of[start + r]),
            points: columns(&p.points, rows, |r| p.point_of[start + r]),
            weights: p.weights.narrow(0, start, rows).reshape(&[1, rows]),
            features: columns(&p.features, rows, |r| start + r),
        }
    })
}

/// The weight residuals `1 - w²`.
fn weight_error(w: &Var<f64>) -> Var<f64> {
    w.square().neg().add_scalar(1.0)
}

/// The residuals of every observation: reprojection (2 per observation) and weight.
struct Residuals {
    reprojection: Vec<f64>,
    weight: Vec<f64>,
}

fn objective(p: &Problem) -> Residuals {
    let c = |t: &Tensor<f64>| Var::constant(t.clone());
    let mut r = Residuals {
        reprojection: Vec::with_capacity(2 * p.p),
        weight: Vec::with_capacity(p.p),
    };
    for batch in batches(p) {
        let w = c(&batch.weights);
        let err = reprojection(&c(&batch.cameras), &c(&batch.points), &w, &batch.features);
        // Back to one row per observation, as the residual vector is ordered.
        let err = err.value().contiguous_data().into_owned();
        let (x, y) = err.split_at(err.len() / 2);
        r.reprojection
            .extend(x.iter().zip(y).flat_map(|(&x, &y)| [x, y]));
        r.weight.extend(weight_error(&w).value().to_vec());
    }
    r
}

/// The residuals as the reference sends them: the first observation's, and a count.
fn compressed(r: &Residuals) -> Result<Value, EvalError> {
    let p = r.weight.len();
    Ok(json!({
        "reproj_error": {"elements": output::list("reproj_error.elements", &r.reprojection[..2])?, "repeated": p},
        "w_err": {"element": output::number("w_err.element", r.weight[0])?, "repeated": p}
    }))
}

/// The sparse Jacobian in CSR form.
struct Csr {
    rows: Vec<usize>,
    cols: Vec<usize>,
    vals: Vec<f64>,
}

fn jacobian(p: &Problem) -> Csr {
    let per_row = CAMERA + 3 + 1;
    let weight_column = CAMERA * p.n + 3 * p.m;
    let mut csr = Csr {
        rows: Vec::with_capacity(3 * p.p + 1),
        cols: Vec::with_capacity(31 * p.p),
        vals: Vec::with_capacity(31 * p.p),
    };
    csr.rows.push(0);
    let mut w_grad = Vec::with_capacity(p.p);
    for batch in batches(p) {
        let rows = batch.weights.numel();
        let tape = Tape::new();
        let (cv, xv, wv) = (
            tape.leaf(batch.cameras),
            tape.leaf(batch.points),
            tape.leaf(batch.weights),
        );
        let err = reprojection(&cv, &xv, &wv, &batch.features);
        let mut blocks = Vec::with_capacity(2);
        for component in 0..2 {
            let mut seed = vec![0.0; 2 * rows];
            seed[component * rows..(component + 1) * rows].fill(1.0);
            let g = vjp(&err, &Tensor::from_vec(seed, &[2, rows]), &[&cv, &xv, &wv]);
            // Still one column per observation: [11, rows], [3, rows], [1, rows].
            blocks.push(g.iter().map(Tensor::to_vec).collect::<Vec<_>>());
        }
        w_grad.extend(grad(&weight_error(&wv).sum(), &[&wv]).remove(0).to_vec());
        for r in 0..rows {
            let i = batch.start + r;
            let (cam_idx, pt_idx) = (p.camera_of[i], p.point_of[i]);
            for block in &blocks {
                csr.rows.push(csr.rows.last().unwrap() + per_row);
                csr.cols.extend((0..CAMERA).map(|j| CAMERA * cam_idx + j));
                csr.vals.extend((0..CAMERA).map(|j| block[0][j * rows + r]));
                csr.cols
                    .extend((0..3).map(|j| CAMERA * p.n + 3 * pt_idx + j));
                csr.vals.extend((0..3).map(|j| block[1][j * rows + r]));
                csr.cols.push(weight_column + i);
                csr.vals.push(block[2][r]);
            }
        }
    }
    for (i, &g) in w_grad.iter().enumerate() {
        csr.rows.push(csr.rows.last().unwrap() + 1);
        csr.cols.push(weight_column + i);
        csr.vals.push(g);
    }
    csr
}

/// The first 30 entries of each CSR array and its last one, as the reference sends.
fn prefix(csr: &Csr) -> Result<Value, EvalError> {
    fn cut<T: Copy>(v: &[T]) -> Vec<T> {
        let mut out: Vec<T> = v.iter().take(30).copied().collect();
        out.push(*v.last().expect("non-empty"));
        out
    }
    Ok(json!({
        "rows": cut(&csr.rows),
        "cols": cut(&csr.cols),
        "vals": output::list("vals", &cut(&csr.vals))?
    }))
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
    fits_in_memory(
        BYTES_PER_OBSERVATION * p as f64 + 8.0 * (CAMERA as f64 * n as f64 + 3.0 * m as f64),
        &format!("`n` = {n} cameras, `m` = {m} points and `p` = {p} observations"),
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
        "objective" => Ok(Job::boxed(problem, |p| Ok(objective(p)), compressed)),
        "jacobian" => Ok(Job::boxed(problem, |p| Ok(jacobian(p)), prefix)),
        other => Err(unknown_function("ba", other, &["objective", "jacobian"])),
    }
}
