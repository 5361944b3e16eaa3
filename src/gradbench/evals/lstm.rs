//! `lstm`: ADBench's LSTM with diagonal weights over a character sequence; `objective` is
//! its loss, `jacobian` the gradient with respect to `main_params` then `extra_params`,
//! flattened row by row, by the tape through every step.
//!
//! Per layer the weight row is laid out [forget, ingate, outgate, change]; those gates
//! read [input, hidden, input, hidden], so each step forms `[x, h, x, h] ⊙ W + B` once.
//! The prediction and its loss depend on each step's last hidden state only, not on one
//! another, so they are computed once for all steps on the stacked states: the time loop
//! records only the recurrence (a quarter fewer ops per step at two layers).

use super::unknown_function;
use crate::gradbench::input::{field, matrix, require, EvalError};
use crate::gradbench::output;
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{grad, Tape, Var};
use engram_tensor::Tensor;
use serde_json::Value;

struct Problem {
    main: Tensor<f64>,
    extra: Tensor<f64>,
    state: Tensor<f64>,
    sequence: Vec<Tensor<f64>>,
    /// The characters each step predicts: rows 1.. of the sequence, `[c - 1, b]`.
    targets: Tensor<f64>,
    layers: usize,
    bits: usize,
}

fn objective(p: &Problem, main: &Var<f64>, extra: &Var<f64>) -> Var<f64> {
    let b = p.bits;
    let weights: Vec<Var<f64>> = (0..p.layers)
        .map(|i| main.narrow(0, 2 * i, 1).reshape(&[4 * b]))
        .collect();
    let biases: Vec<Var<f64>> = (0..p.layers)
        .map(|i| main.narrow(0, 2 * i + 1, 1).reshape(&[4 * b]))
        .collect();
    let row = |t: &Var<f64>, i: usize| t.narrow(0, i, 1).reshape(&[b]);
    let (in_weight, out_weight, out_bias) = (row(extra, 0), row(extra, 1), row(extra, 2));
    let mut hidden: Vec<Var<f64>> = (0..p.layers)
        .map(|i| Var::constant(p.state.narrow(0, 2 * i, 1).reshape(&[b])))
        .collect();
    let mut cell: Vec<Var<f64>> = (0..p.layers)
        .map(|i| Var::constant(p.state.narrow(0, 2 * i + 1, 1).reshape(&[b])))
        .collect();
    let mut outputs = Vec::with_capacity(p.sequence.len() - 1);
    for t in 0..p.sequence.len() - 1 {
        let mut x = Var::constant(p.sequence[t].clone()).mul(&in_weight);
        for layer in 0..p.layers {
            let h = &hidden[layer];
            let z = Var::concat(&[&x, h, &x, h], 0)
                .mul(&weights[layer])
                .add(&biases[layer]);
            let gates = z.narrow(0, 0, 3 * b).sigmoid();
            let change = z.narrow(0, 3 * b, b).tanh();
            let (forget, ingate, outgate) = (
                gates.narrow(0, 0, b),
                gates.narrow(0, b, b),
                gates.narrow(0, 2 * b, b),
            );
            let c = cell[layer].mul(&forget).add(&ingate.mul(&change));
            let h = outgate.mul(&c.tanh());
            cell[layer] = c;
            hidden[layer] = h.clone();
            x = h;
        }
        outputs.push(x);
    }
    let hidden = Var::stack(&outputs.iter().collect::<Vec<_>>(), 0); // [c - 1, b]
    let y = hidden.mul(&out_weight).add(&out_bias);
    // ADBench's normaliser: ln(Σ e^y + 2), per step.
    let lse = y.exp().sum_keepdim(&[1]).add_scalar(2.0).ln();
    let count = (outputs.len() * b) as f64;
    Var::constant(p.targets.clone())
        .mul(&y.sub(&lse))
        .sum()
        .mul_scalar(-1.0 / count)
}

pub fn prepare(function: &str, input: &Value) -> Result<Box<dyn Workload>, EvalError> {
    let main = matrix(field(input, "main_params")?, "main_params")?;
    let extra = matrix(field(input, "extra_params")?, "extra_params")?;
    let state = matrix(field(input, "state")?, "state")?;
    let sequence = matrix(field(input, "sequence")?, "sequence")?;
    let (rows, width) = (main.shape()[0], main.shape()[1]);
    require(
        rows >= 2 && rows % 2 == 0 && width % 4 == 0 && width > 0,
        || {
            format!(
                "`main_params` must be [2·layers, 4·bits], got {:?}",
                main.shape()
            )
        },
    )?;
    let (layers, bits) = (rows / 2, width / 4);
    require(extra.shape() == [3, bits], || {
        format!(
            "`extra_params` must be [3, {bits}], got {:?}",
            extra.shape()
        )
    })?;
    require(state.shape() == [2 * layers, bits], || {
        format!(
            "`state` must be [{}, {bits}], got {:?}",
            2 * layers,
            state.shape()
        )
    })?;
    require(
        sequence.shape()[1] == bits && sequence.shape()[0] >= 2,
        || {
            format!(
                "`sequence` must be [c ≥ 2, {bits}], got {:?}",
                sequence.shape()
            )
        },
    )?;
    let rows_of_sequence = (0..sequence.shape()[0])
        .map(|t| sequence.narrow(0, t, 1).reshape(&[bits]).contiguous())
        .collect();
    let chars = sequence.shape()[0];
    let problem = Problem {
        main,
        extra,
        state,
        targets: sequence.narrow(0, 1, chars - 1).contiguous(),
        sequence: rows_of_sequence,
        layers,
        bits,
    };
    match function {
        "objective" => Ok(Job::boxed(
            problem,
            |p| {
                Ok(objective(
                    p,
                    &Var::constant(p.main.clone()),
                    &Var::constant(p.extra.clone()),
                )
                .value()
                .item())
            },
            |v| output::number("objective", *v),
        )),
        "jacobian" => Ok(Job::boxed(
            problem,
            |p| {
                let tape = Tape::new();
                let (main, extra) = (tape.leaf(p.main.clone()), tape.leaf(p.extra.clone()));
                let g = grad(&objective(p, &main, &extra), &[&main, &extra]);
                let mut flat = g[0].to_vec();
                flat.extend(g[1].to_vec());
                Ok(flat)
            },
            |v| output::list("jacobian", v),
        )),
        other => Err(unknown_function("lstm", other, &["objective", "jacobian"])),
    }
}
