//! `ht`: hand tracking (ADBench). Pose parameters θ (26) → per-bone transforms along the
//! kinematic tree → linear-blend-skinned mesh → residuals `point - model point` (3 per
//! correspondence). In the "complicated" variant each model point lies on a triangle at
//! barycentric-like coordinates `us`.
//!
//! The Jacobian (3N × 26, or 3N × (2 + 26) with the `us` columns first) is taken column
//! by column without one pass per residual: the pullback `u ↦ Jᵀu` is recorded once
//! (`grad_graph` with a seed Var u), and column k is then `∂(Jᵀu)_k/∂u`, one first-order
//! sweep of that small recorded graph. The `us` part is block-diagonal (residual i sees
//! only `us_i`), so seeding column c of every point at once gives its column.
//!
//! Only the vertices some residual reads are skinned (at most the corners of the model's
//! triangles, where the mesh has 10,000 vertices): the residuals are the same, and the
//! skinning, repeated in each of the Jacobian's sweeps, costs in proportion to the
//! vertices it poses. Which vertices those are is worked out inside each timed run.

use super::unknown_function;
use crate::gradbench::input::{field, matrix, require, vector, EvalError};
use crate::gradbench::output;
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{grad, grad_graph, Tape, Var};
use engram_tensor::Tensor;
use serde_json::Value;

const THETA: usize = 26;
const BONES: usize = 22;

struct Model {
    parents: Vec<Option<usize>>,
    base_relatives: Vec<Tensor<f64>>,
    inverse_base_absolutes: Vec<Tensor<f64>>,
    /// `[4, V]`: homogeneous vertex positions, one column per vertex.
    base_positions: Tensor<f64>,
    /// `[BONES, 1, V]`: each bone's skinning weight per vertex.
    weights: Tensor<f64>,
    mirrored: bool,
}

struct Problem {
    theta: Tensor<f64>,
    /// `[N, 2]`, empty in the simple variant.
    us: Option<Tensor<f64>>,
    /// `[N, 3]`.
    points: Tensor<f64>,
    correspondences: Vec<usize>,
    /// The model's triangles, three vertex indices each (read by the complicated variant).
    triangles: Vec<[usize; 3]>,
    model: Model,
    /// For each of the 3 × 25 pose-parameter entries, its source in `[0, 1, θ…]`.
    pose_map: Vec<usize>,
}

/// Where each pose parameter comes from: global rotation, unit scale, translation, then
/// per finger a two-angle base joint and two one-angle joints (ADBench's fixed order).
fn pose_map() -> Vec<usize> {
    let columns = BONES + 3;
    let mut map = vec![0; 3 * columns];
    let theta = |i: usize| 2 + i;
    for r in 0..3 {
        map[r * columns] = theta(r);
        map[r * columns + 1] = 1;
        map[r * columns + 2] = theta(3 + r);
    }
    let (mut t, mut col) = (6, 5);
    for _finger in 0..5 {
        for joint in 0..3 {
            map[col] = theta(t);
            t += 1;
            if joint == 0 {
                map[columns + col] = theta(t);
                t += 1;
            }
            col += 1;
        }
        col += 1;
    }
    map
}

fn scalar(v: &Var<f64>, i: usize) -> Var<f64> {
    v.narrow(0, i, 1)
}

/// A 3 × 3 matrix from nine `[1]`-shaped Vars, row by row.
fn mat3(entries: [&Var<f64>; 9]) -> Var<f64> {
    Var::concat(&entries, 0).reshape(&[3, 3])
}

fn constant(v: f64) -> Var<f64> {
    Var::constant(Tensor::from_vec(vec![v], &[1]))
}

/// `R = Rz(xzy₁) · Ry(xzy₂) · Rx(xzy₀)`.
fn euler_rotation(xzy: &Var<f64>) -> Var<f64> {
    let (zero, one) = (constant(0.0), constant(1.0));
    let (tx, ty, tz) = (scalar(xzy, 0), scalar(xzy, 2), scalar(xzy, 1));
    let (cx, sx, cy, sy, cz, sz) = (tx.cos(), tx.sin(), ty.cos(), ty.sin(), tz.cos(), tz.sin());
    let rx = mat3([&one, &zero, &zero, &zero, &cx, &sx.neg(), &zero, &sx, &cx]);
    let ry = mat3([&cy, &zero, &sy, &zero, &one, &zero, &sy.neg(), &zero, &cy]);
    let rz = mat3([&cz, &sz.neg(), &zero, &sz, &cz, &zero, &zero, &zero, &one]);
    rz.matmul(&ry).matmul(&rx)
}

/// Rotation of an angle-axis vector; identity below a norm of 1e-4, as the reference.
fn angle_axis_rotation(aa: &Var<f64>) -> Var<f64> {
    let norm = aa.square().sum().sqrt();
    if norm.value().item() < 1e-4 {
        return Var::constant(Tensor::eye(3));
    }
    let unit = aa.div(&norm);
    let (x, y, z) = (scalar(&unit, 0), scalar(&unit, 1), scalar(&unit, 2));
    let (s, c) = (norm.sin().reshape(&[1]), norm.cos().reshape(&[1]));
    let one_c = c.neg().add_scalar(1.0);
    let diag = |a: &Var<f64>| a.square().add(&a.square().neg().add_scalar(1.0).mul(&c));
    let (xy, xz, yz) = (
        x.mul(&y).mul(&one_c),
        x.mul(&z).mul(&one_c),
        y.mul(&z).mul(&one_c),
    );
    let (xs, ys, zs) = (x.mul(&s), y.mul(&s), z.mul(&s));
    mat3([
        &diag(&x),
        &xy.sub(&zs),
        &xz.add(&ys),
        &xy.add(&zs),
        &diag(&y),
        &yz.sub(&xs),
        &xz.sub(&ys),
        &yz.add(&xs),
        &diag(&z),
    ])
}

/// The vertices the residuals read, each once, in order of first use; and for each
/// correspondence (or triangle corner) its position in that list.
struct Used {
    vertices: Vec<usize>,
    /// `slots[k][i]`: correspondence i's vertex (simple) or triangle corner k's.
    slots: Vec<Vec<usize>>,
}

fn used_vertices(p: &Problem) -> Used {
    let corners = if p.us.is_some() { 3 } else { 1 };
    let vertex = |k: usize, c: usize| if p.us.is_some() { p.triangles[c][k] } else { c };
    let mut slot_of = vec![usize::MAX; p.model.base_positions.shape()[1]];
    let mut vertices = Vec::new();
    let slots = (0..corners)
        .map(|k| {
            p.correspondences
                .iter()
                .map(|&c| {
                    let v = vertex(k, c);
                    if slot_of[v] == usize::MAX {
                        slot_of[v] = vertices.len();
                        vertices.push(v);
                    }
                    slot_of[v]
                })
                .collect()
        })
        .collect();
    Used { vertices, slots }
}

/// The posed, skinned and globally transformed `vertices` of the mesh, `[3, U]`.
fn vertices(p: &Problem, theta: &Var<f64>, vertices: &[usize]) -> Var<f64> {
    let m = &p.model;
    let padded = Var::concat(
        &[
            &Var::constant(Tensor::from_vec(vec![0.0, 1.0], &[2])),
            theta,
        ],
        0,
    );
    let pose = padded.index_select(0, &p.pose_map).reshape(&[3, BONES + 3]);
    let corner = Var::constant(Tensor::from_vec(
        (0..16).map(|i| if i == 15 { 1.0 } else { 0.0 }).collect(),
        &[4, 4],
    ));
    let mut absolutes: Vec<Var<f64>> = Vec::with_capacity(BONES);
    let mut transforms = Vec::with_capacity(BONES);
    for i in 0..BONES {
        let rotation = euler_rotation(&pose.narrow(1, i + 3, 1).reshape(&[3]));
        let local = rotation.pad(&[(0, 1), (0, 1)], 0.0).add(&corner);
        let relative = Var::constant(m.base_relatives[i].clone()).matmul(&local);
        let absolute = match m.parents[i] {
            Some(parent) => absolutes[parent].matmul(&relative),
            None => relative,
        };
        transforms.push(absolute.matmul(&Var::constant(m.inverse_base_absolutes[i].clone())));
        absolutes.push(absolute);
    }
    let stacked = Var::stack(&transforms.iter().collect::<Vec<_>>(), 0); // [B, 4, 4]
    let moved = stacked
        .matmul(&Var::constant(m.base_positions.index_select(1, vertices)))
        .narrow(1, 0, 3); // [B, 3, U]
    let mut positions = moved
        .mul(&Var::constant(m.weights.index_select(2, vertices)))
        .sum_axes(&[0]); // [3, U]
    if m.mirrored {
        positions = positions.mul(&Var::constant(Tensor::from_vec(
            vec![-1.0, 1.0, 1.0],
            &[3, 1],
        )));
    }
    let scale = pose.narrow(1, 1, 1).reshape(&[1, 3]);
    let rotation = angle_axis_rotation(&pose.narrow(1, 0, 1).reshape(&[3])).mul(&scale);
    rotation.matmul(&positions).add(&pose.narrow(1, 2, 1))
}

/// Residuals `[N, 3]`: data point minus model point.
fn residuals(p: &Problem, theta: &Var<f64>, us: Option<&Var<f64>>) -> Var<f64> {
    let used = used_vertices(p);
    let mesh = vertices(p, theta, &used.vertices); // [3, U]
    let model_points = match us {
        None => mesh.index_select(1, &used.slots[0]),
        Some(us) => {
            let corner = |k: usize| mesh.index_select(1, &used.slots[k]); // [3, N]
            let (u0, u1) = (
                us.narrow(1, 0, 1).reshape(&[1, p.correspondences.len()]),
                us.narrow(1, 1, 1).reshape(&[1, p.correspondences.len()]),
            );
            let rest = u0.add(&u1).neg().add_scalar(1.0);
            corner(0)
                .mul(&u0)
                .add(&corner(1).mul(&u1))
                .add(&corner(2).mul(&rest))
        }
    };
    Var::constant(p.points.clone()).sub(&model_points.t())
}

fn objective(p: &Problem) -> Vec<f64> {
    let c = |t: &Tensor<f64>| Var::constant(t.clone());
    let us = p.us.as_ref().map(c);
    residuals(p, &c(&p.theta), us.as_ref()).value().to_vec()
}

/// Rows: residuals `3i + j`; columns: (`us_i0`, `us_i1`,) then θ.
fn jacobian(p: &Problem) -> Vec<Vec<f64>> {
    let tape = Tape::new();
    let theta = tape.leaf(p.theta.clone());
    let us = p.us.as_ref().map(|t| tape.leaf(t.clone()));
    let err = residuals(p, &theta, us.as_ref()).flatten();
    let rows = err.shape()[0];
    let seed = tape.leaf(Tensor::zeros(&[rows]));
    let mut wrt = vec![&theta];
    wrt.extend(us.as_ref());
    let pulled = grad_graph(&err, Some(&seed), &wrt);
    let mut columns: Vec<Tensor<f64>> = Vec::new();
    if let Some(us_pull) = pulled.get(1) {
        for c in 0..2 {
            columns.push(grad(&us_pull.narrow(1, c, 1).sum(), &[&seed]).remove(0));
        }
    }
    for k in 0..THETA {
        columns.push(grad(&pulled[0].narrow(0, k, 1).sum(), &[&seed]).remove(0));
    }
    let cols: Vec<Vec<f64>> = columns.iter().map(|c| c.to_vec()).collect();
    (0..rows)
        .map(|r| cols.iter().map(|c| c[r]).collect())
        .collect()
}

fn matrices(v: &Value, what: &str, count: usize) -> Result<Vec<Tensor<f64>>, EvalError> {
    let items = v.as_array().ok_or_else(|| {
        EvalError::BadInput(format!("`{what}` must be an array of 4 × 4 matrices"))
    })?;
    require(items.len() == count, || {
        format!("`{what}` must hold {count} matrices, got {}", items.len())
    })?;
    items
        .iter()
        .map(|m| {
            let t = matrix(m, what)?;
            require(t.shape() == [4, 4], || {
                format!("each of `{what}` must be 4 × 4, got {:?}", t.shape())
            })?;
            Ok(t)
        })
        .collect()
}

fn indices(v: &Value, what: &str) -> Result<Vec<usize>, EvalError> {
    vector(v, what)?
        .into_iter()
        .map(|x| {
            if x >= 0.0 && x.fract() == 0.0 {
                Ok(x as usize)
            } else {
                Err(EvalError::BadInput(format!(
                    "`{what}` must hold non-negative integers"
                )))
            }
        })
        .collect()
}

pub fn prepare(function: &str, input: &Value) -> Result<Box<dyn Workload>, EvalError> {
    let theta = vector(field(input, "theta")?, "theta")?;
    require(theta.len() == THETA, || {
        format!("`theta` must hold {THETA} numbers, got {}", theta.len())
    })?;
    let data = field(input, "data")?;
    let model = field(data, "model")?;
    let parents_raw = vector(field(model, "parents")?, "parents")?;
    require(parents_raw.len() == BONES, || {
        format!(
            "the model must have {BONES} bones, got {}",
            parents_raw.len()
        )
    })?;
    let parents: Vec<Option<usize>> = parents_raw
        .iter()
        .map(|&q| (q >= 0.0).then_some(q as usize))
        .collect();
    require(
        parents
            .iter()
            .enumerate()
            .all(|(i, q)| q.is_none_or(|q| q < i)),
        || "each bone's parent must come before it".into(),
    )?;
    let base_positions = matrix(field(model, "base_positions")?, "base_positions")?;
    let vertex_count = base_positions.shape()[0];
    require(base_positions.shape()[1] == 4, || {
        "`base_positions` must be [V][4]".into()
    })?;
    let weights = matrix(field(model, "weights")?, "weights")?;
    require(weights.shape() == [vertex_count, BONES], || {
        format!("`weights` must be [{vertex_count}][{BONES}]")
    })?;
    let correspondences = indices(field(data, "correspondences")?, "correspondences")?;
    let n = correspondences.len();
    let points = matrix(field(data, "points")?, "points")?;
    require(points.shape() == [n, 3], || {
        format!("`points` must be [{n}][3], got {:?}", points.shape())
    })?;
    let us_raw = field(input, "us")?;
    let complicated = us_raw.as_array().is_some_and(|a| !a.is_empty());
    let mut triangles = Vec::new();
    let us = if complicated {
        let us = matrix(us_raw, "us")?;
        require(us.shape() == [n, 2], || {
            format!("`us` must be [{n}][2], got {:?}", us.shape())
        })?;
        let listed = field(model, "triangles")?
            .as_array()
            .ok_or_else(|| EvalError::BadInput("`triangles` must be an array".into()))?;
        for triangle in listed {
            let tri = indices(triangle, "triangles")?;
            require(
                tri.len() == 3 && tri.iter().all(|&v| v < vertex_count),
                || "each triangle needs 3 valid vertex indices".into(),
            )?;
            triangles.push([tri[0], tri[1], tri[2]]);
        }
        require(correspondences.iter().all(|&c| c < triangles.len()), || {
            "a correspondence names no triangle".into()
        })?;
        Some(us)
    } else {
        require(correspondences.iter().all(|&c| c < vertex_count), || {
            "a correspondence names no vertex".into()
        })?;
        None
    };
    let problem = Problem {
        theta: Tensor::from_vec(theta, &[THETA]),
        us,
        points,
        correspondences,
        triangles,
        model: Model {
            parents,
            base_relatives: matrices(field(model, "base_relatives")?, "base_relatives", BONES)?,
            inverse_base_absolutes: matrices(
                field(model, "inverse_base_absolutes")?,
                "inverse_base_absolutes",
                BONES,
            )?,
            base_positions: base_positions.t().contiguous(),
            weights: weights.t().contiguous().reshape(&[BONES, 1, vertex_count]),
            mirrored: field(model, "is_mirrored")?.as_bool().unwrap_or(false),
        },
        pose_map: pose_map(),
    };
    match function {
        "objective" => Ok(Job::boxed(
            problem,
            |p| Ok(objective(p)),
            |v| output::list("objective", v),
        )),
        "jacobian" => Ok(Job::boxed(
            problem,
            |p| Ok(jacobian(p)),
            |rows| {
                let rows: Result<Vec<Value>, EvalError> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| output::list(&format!("jacobian[{i}]"), r))
                    .collect();
                Ok(Value::from(rows?))
            },
        )),
        other => Err(unknown_function("ht", other, &["objective", "jacobian"])),
    }
}
