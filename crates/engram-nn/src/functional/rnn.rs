//! Recurrent cells and multi-layer recurrences, PyTorch's math and layouts: the weights of
//! layer `k` are `weight_ih_l{k}` `[gates·H, in]`, `weight_hh_l{k}` `[gates·H, H]` and the
//! biases `[gates·H]`, with the gates stacked in PyTorch's order — LSTM `i, f, g, o`,
//! GRU `r, z, n` — so that PyTorch's weights work unchanged.
//!
//! Sequences are time-major (`[T, B, in]`); the modules in [`crate::rnn`] handle
//! `batch_first`. Each layer projects its whole input sequence with one matrix product
//! and then steps through time with the hidden-to-hidden product only; an LSTM layer's
//! steps are one fused node ([`Var::lstm_recurrence`]), with one vjp rule for all of them.

#[cfg(feature = "registry")]
use engram_autograd::case;
#[cfg(feature = "registry")]
use engram_autograd::registry::{apart, real, unit, GradcheckCase};
use engram_autograd::Var;
use engram_tensor::Float;

/// The weights of one recurrent layer, as Vars of the step (see [`crate::Context::param`]).
#[derive(Clone, Debug)]
pub struct CellWeights<T: Float> {
    /// Input-to-hidden weights, `[gates·H, in]`.
    pub weight_ih: Var<T>,
    /// Hidden-to-hidden weights, `[gates·H, H]`.
    pub weight_hh: Var<T>,
    /// Input-to-hidden bias, `[gates·H]`.
    pub bias_ih: Option<Var<T>>,
    /// Hidden-to-hidden bias, `[gates·H]`. Kept apart from `bias_ih` because the GRU's
    /// candidate gate multiplies it by the reset gate.
    pub bias_hh: Option<Var<T>>,
}

/// The activation of a plain (Elman) RNN, as PyTorch's `nonlinearity=`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Nonlinearity {
    /// `tanh`, PyTorch's default.
    #[default]
    Tanh,
    /// `relu`.
    Relu,
}

/// `x Wᵀ + b` over the last axis.
fn affine<T: Float>(x: &Var<T>, weight: &Var<T>, bias: Option<&Var<T>>) -> Var<T> {
    let y = x.matmul(&weight.t());
    match bias {
        Some(b) => y.add(b),
        None => y,
    }
}

/// Panics unless the weights fit `gates` gates of `hidden` units over `input` features.
#[track_caller]
fn check_weights<T: Float>(
    op: &str,
    w: &CellWeights<T>,
    gates: usize,
    input: usize,
    hidden: usize,
) {
    let rows = gates * hidden;
    let ok_bias = |b: &Option<Var<T>>| b.as_ref().is_none_or(|b| b.shape() == [rows]);
    if w.weight_ih.shape() != [rows, input]
        || w.weight_hh.shape() != [rows, hidden]
        || !ok_bias(&w.bias_ih)
        || !ok_bias(&w.bias_hh)
    {
        panic!(
            "engram: `{op}`: for input size {input} and hidden size {hidden} ({gates} gates) the \
             weights must be weight_ih [{rows}, {input}], weight_hh [{rows}, {hidden}], biases \
             [{rows}]; got weight_ih {:?}, weight_hh {:?}, bias_ih {:?}, bias_hh {:?}",
            w.weight_ih.shape(),
            w.weight_hh.shape(),
            w.bias_ih.as_ref().map(|b| b.shape().to_vec()),
            w.bias_hh.as_ref().map(|b| b.shape().to_vec()),
        );
    }
}

/// Panics unless `state` is `[.., hidden]` with the input's leading (batch) shape.
#[track_caller]
fn check_state<T: Float>(op: &str, what: &str, input: &Var<T>, state: &Var<T>, hidden: usize) {
    let mut want = input.shape().to_vec();
    *want.last_mut().expect("rank checked") = hidden;
    if state.shape() != want.as_slice() {
        panic!(
            "engram: `{op}`: for input {:?} the {what} must have shape {want:?}, got {:?}",
            input.shape(),
            state.shape()
        );
    }
}

/// The hidden size and input size implied by the weights, checked against the input.
#[track_caller]
fn sizes<T: Float>(op: &str, input: &Var<T>, w: &CellWeights<T>, gates: usize) -> usize {
    if input.rank() == 0 || w.weight_hh.rank() != 2 {
        panic!(
            "engram: `{op}`: input must be [batch, features] or [features] and weight_hh \
             [gates·H, H]; got input {:?}, weight_hh {:?}",
            input.shape(),
            w.weight_hh.shape()
        );
    }
    let hidden = w.weight_hh.shape()[1];
    check_weights(op, w, gates, input.shape()[input.rank() - 1], hidden);
    hidden
}

/// One step of an Elman RNN, PyTorch's `nn.RNNCell`:
/// `h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)`. `input` is `[B, in]` (or `[in]`), `hidden`
/// `[B, H]` (or `[H]`).
#[track_caller]
pub fn rnn_cell<T: Float>(
    input: &Var<T>,
    hidden: &Var<T>,
    weights: &CellWeights<T>,
    nonlinearity: Nonlinearity,
) -> Var<T> {
    let h = sizes("rnn_cell", input, weights, 1);
    check_state("rnn_cell", "hidden state", input, hidden, h);
    let gi = affine(input, &weights.weight_ih, weights.bias_ih.as_ref());
    rnn_step(&gi, hidden, weights, nonlinearity)
}

/// One step of an LSTM, PyTorch's `nn.LSTMCell`: with the gates `i, f, g, o` of
/// `x W_ihᵀ + b_ih + h W_hhᵀ + b_hh`, `c' = σ(f) c + σ(i) tanh(g)` and `h' = σ(o) tanh(c')`.
/// Returns `(h', c')`.
#[track_caller]
pub fn lstm_cell<T: Float>(
    input: &Var<T>,
    state: (&Var<T>, &Var<T>),
    weights: &CellWeights<T>,
) -> (Var<T>, Var<T>) {
    let h = sizes("lstm_cell", input, weights, 4);
    check_state("lstm_cell", "hidden state", input, state.0, h);
    check_state("lstm_cell", "cell state", input, state.1, h);
    // One step of the fused recurrence: a time axis (and a batch axis) of length 1.
    let batched = input.rank() == 2;
    let lift = |v: &Var<T>| if batched { v.clone() } else { v.unsqueeze(0) };
    let (x, h0, c0) = (lift(input), lift(state.0), lift(state.1));
    let (_, (h, c)) = lstm_layer(&x.unsqueeze(0), (&h0, &c0), weights);
    let drop = |v: Var<T>| if batched { v } else { v.squeeze(0) };
    (drop(h), drop(c))
}

/// One step of a GRU, PyTorch's `nn.GRUCell`: with `r, z, n` the thirds of
/// `gi = x W_ihᵀ + b_ih` and `gh = h W_hhᵀ + b_hh`, `r = σ(gi_r + gh_r)`,
/// `z = σ(gi_z + gh_z)`, `n = tanh(gi_n + r ⊙ gh_n)` and `h' = (1 - z) n + z h`.
#[track_caller]
pub fn gru_cell<T: Float>(input: &Var<T>, hidden: &Var<T>, weights: &CellWeights<T>) -> Var<T> {
    let h = sizes("gru_cell", input, weights, 3);
    check_state("gru_cell", "hidden state", input, hidden, h);
    let gi = affine(input, &weights.weight_ih, weights.bias_ih.as_ref());
    gru_step(&gi, hidden, weights)
}

/// An RNN step from the projected input `gi`.
fn rnn_step<T: Float>(gi: &Var<T>, h: &Var<T>, w: &CellWeights<T>, act: Nonlinearity) -> Var<T> {
    let pre = gi.add(&affine(h, &w.weight_hh, w.bias_hh.as_ref()));
    match act {
        Nonlinearity::Tanh => pre.tanh(),
        Nonlinearity::Relu => pre.relu(),
    }
}

/// One LSTM layer over a time-major sequence `[T, B, in]` from the state `(h0, c0)`
/// `[B, H]`: one product projects every step's input, and the recurrence is one fused
/// node ([`Var::lstm_recurrence`]). `b_hh` joins `b_ih` before the projection (the gates
/// only see their sum), so the `[T, B, 4H]` projection takes one bias add, not two.
/// Returns `(output [T, B, H], (h_T, c_T))`.
fn lstm_layer<T: Float>(
    input: &Var<T>,
    state: (&Var<T>, &Var<T>),
    w: &CellWeights<T>,
) -> (Var<T>, (Var<T>, Var<T>)) {
    let bias = match (&w.bias_ih, &w.bias_hh) {
        (Some(a), Some(b)) => Some(a.add(b)),
        (a, b) => a.clone().or_else(|| b.clone()),
    };
    affine(input, &w.weight_ih, bias.as_ref()).lstm_recurrence(state, &w.weight_hh)
}

/// A GRU step from the projected input `gi`.
fn gru_step<T: Float>(gi: &Var<T>, h: &Var<T>, w: &CellWeights<T>) -> Var<T> {
    let gi = gi.chunk(-1, 3);
    let gh = affine(h, &w.weight_hh, w.bias_hh.as_ref()).chunk(-1, 3);
    let r = gi[0].add(&gh[0]).sigmoid();
    let z = gi[1].add(&gh[1]).sigmoid();
    let n = gi[2].add(&r.mul(&gh[2])).tanh();
    // h' = (1 - z) n + z h = n + z (h - n)
    n.add(&z.mul(&h.sub(&n)))
}

/// Which recurrence a stack of layers runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Rnn(Nonlinearity),
    Lstm,
    Gru,
}

impl Kind {
    /// The number of gate blocks stacked in each weight.
    pub(crate) fn gates(self) -> usize {
        match self {
            Kind::Rnn(_) => 1,
            Kind::Lstm => 4,
            Kind::Gru => 3,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Rnn(_) => "rnn",
            Kind::Lstm => "lstm",
            Kind::Gru => "gru",
        }
    }
}

/// Runs one layer of a recurrence that has no fused node over the time-major `sequence`
/// from the hidden state `h`: one product projects every step's input, then `step` maps
/// each step's projection and the previous state to the next state. Returns the stacked
/// states `[T, B, H]` and the last one.
fn step_through<T: Float>(
    sequence: &Var<T>,
    mut h: Var<T>,
    w: &CellWeights<T>,
    step: impl Fn(&Var<T>, &Var<T>) -> Var<T>,
) -> (Var<T>, Var<T>) {
    let projected = affine(sequence, &w.weight_ih, w.bias_ih.as_ref());
    let steps = sequence.shape()[0];
    let mut outputs = Vec::with_capacity(steps);
    for t in 0..steps {
        h = step(&projected.narrow(0, t, 1).squeeze(0), &h);
        outputs.push(h.clone());
    }
    (Var::stack(&outputs.iter().collect::<Vec<_>>(), 0), h)
}

/// Runs `layers` over the time-major `input` `[T, B, in]` from the initial hidden state
/// `h0` `[L, B, H]` (and, for an LSTM, cell state `c0`). Returns the last layer's hidden
/// state at every step `[T, B, H]`, and every layer's final hidden (and cell) state
/// `[L, B, H]`.
#[track_caller]
pub(crate) fn recurrence<T: Float>(
    kind: Kind,
    input: &Var<T>,
    h0: &Var<T>,
    c0: Option<&Var<T>>,
    layers: &[CellWeights<T>],
) -> (Var<T>, Var<T>, Option<Var<T>>) {
    let op = kind.name();
    if input.rank() != 3 || input.shape()[0] == 0 || layers.is_empty() {
        panic!(
            "engram: `{op}`: input must be [seq_len, batch, features] with seq_len >= 1 and at \
             least one layer; got input {:?} and {} layers",
            input.shape(),
            layers.len()
        );
    }
    let batch = input.shape()[1];
    let hidden = layers[0].weight_hh.shape().get(1).copied().unwrap_or(0);
    let state_shape = [layers.len(), batch, hidden];
    for (what, s) in [("h0", Some(h0)), ("c0", c0)] {
        if let Some(s) = s {
            if s.shape() != state_shape {
                panic!(
                    "engram: `{op}`: {what} must be [num_layers, batch, hidden] = {state_shape:?} \
                     for input {:?}, got {:?}",
                    input.shape(),
                    s.shape()
                );
            }
        }
    }
    let mut sequence = input.clone();
    let (mut h_n, mut c_n) = (Vec::new(), Vec::new());
    for (k, w) in layers.iter().enumerate() {
        let features = sequence.shape()[2];
        check_weights(op, w, kind.gates(), features, hidden);
        let state = |s: &Var<T>| s.narrow(0, k, 1).squeeze(0);
        let h = state(h0);
        let (out, h) = match (kind, c0) {
            (Kind::Lstm, Some(c0)) => {
                let (out, (h, c)) = lstm_layer(&sequence, (&h, &state(c0)), w);
                c_n.push(c);
                (out, h)
            }
            (Kind::Lstm, None) => panic!("engram: `lstm`: needs a cell state c0"),
            (Kind::Rnn(act), _) => step_through(&sequence, h, w, |gi, h| rnn_step(gi, h, w, act)),
            (Kind::Gru, _) => step_through(&sequence, h, w, |gi, h| gru_step(gi, h, w)),
        };
        sequence = out;
        h_n.push(h);
    }
    let stack = |v: &[Var<T>]| Var::stack(&v.iter().collect::<Vec<_>>(), 0);
    let c_n = (!c_n.is_empty()).then(|| stack(&c_n));
    (sequence, stack(&h_n), c_n)
}

/// A multi-layer Elman RNN over a time-major sequence, PyTorch's `nn.RNN` as a function:
/// `input` `[T, B, in]`, `h0` `[L, B, H]`, one [`CellWeights`] per layer. Returns
/// `(output [T, B, H], h_n [L, B, H])`.
#[track_caller]
pub fn rnn<T: Float>(
    input: &Var<T>,
    h0: &Var<T>,
    layers: &[CellWeights<T>],
    nonlinearity: Nonlinearity,
) -> (Var<T>, Var<T>) {
    let (out, h_n, _) = recurrence(Kind::Rnn(nonlinearity), input, h0, None, layers);
    (out, h_n)
}

/// A multi-layer LSTM over a time-major sequence, PyTorch's `nn.LSTM` as a function:
/// returns `(output [T, B, H], (h_n, c_n))`, each final state `[L, B, H]`.
#[track_caller]
pub fn lstm<T: Float>(
    input: &Var<T>,
    (h0, c0): (&Var<T>, &Var<T>),
    layers: &[CellWeights<T>],
) -> (Var<T>, (Var<T>, Var<T>)) {
    let (out, h_n, c_n) = recurrence(Kind::Lstm, input, h0, Some(c0), layers);
    (out, (h_n, c_n.expect("an LSTM keeps a cell state")))
}

/// A multi-layer GRU over a time-major sequence, PyTorch's `nn.GRU` as a function:
/// returns `(output [T, B, H], h_n [L, B, H])`.
#[track_caller]
pub fn gru<T: Float>(input: &Var<T>, h0: &Var<T>, layers: &[CellWeights<T>]) -> (Var<T>, Var<T>) {
    let (out, h_n, _) = recurrence(Kind::Gru, input, h0, None, layers);
    (out, h_n)
}

/// The weights of case inputs `x[at..at + 4]`.
#[cfg(feature = "registry")]
fn weights_at<T: Float>(x: &[Var<T>], at: usize) -> CellWeights<T> {
    CellWeights {
        weight_ih: x[at].clone(),
        weight_hh: x[at + 1].clone(),
        bias_ih: Some(x[at + 2].clone()),
        bias_hh: Some(x[at + 3].clone()),
    }
}

/// `[gates·H, in]`, `[gates·H, H]`, `[gates·H]`, `[gates·H]` inputs of one layer.
#[cfg(feature = "registry")]
fn layer_inputs(
    gates: usize,
    input: usize,
    hidden: usize,
) -> [engram_autograd::registry::InputSpec; 4] {
    let rows = gates * hidden;
    [
        real(&[rows, input]),
        real(&[rows, hidden]),
        real(&[rows]),
        real(&[rows]),
    ]
}

#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<GradcheckCase> {
    let [a, b, c, d] = layer_inputs(1, 3, 2);
    let [e, f, g, h] = layer_inputs(4, 3, 2);
    let [i, j, k, l] = layer_inputs(3, 3, 2);
    let [m, n, o, p] = layer_inputs(4, 2, 2);
    let [q, r, s, t] = layer_inputs(3, 2, 2);
    let [u, v, w, y] = layer_inputs(1, 2, 2);
    vec![
        case!("rnn_cell", "tanh", [real(&[2, 3]), real(&[2, 2]), a.clone(), b.clone(), c.clone(), d.clone()], second: true,
            |x| rnn_cell(&x[0], &x[1], &weights_at(x, 2), Nonlinearity::Tanh)),
        // Inputs and weights in (-0.9, 0.9) and a bias of at least 6 in magnitude keep every
        // pre-activation at least 1 from ReLU's kink (alive or dead), so the finite
        // differences of an f32 sweep (eps 1e-3) never straddle it.
        case!("rnn_cell", "relu_unbatched", [unit(&[3]), unit(&[2]), unit(&[2, 3]), unit(&[2, 2]), apart(&[2]), unit(&[2])], second: false,
        |x| {
            let w = CellWeights { bias_ih: Some(x[4].mul_scalar(30.0)), ..weights_at(x, 2) };
            rnn_cell(&x[0], &x[1], &w, Nonlinearity::Relu)
        }),
        case!("rnn_cell", "no_bias", [real(&[1, 3]), real(&[1, 2]), a.clone(), b.clone()], second: true,
            |x| rnn_cell(&x[0], &x[1], &CellWeights { weight_ih: x[2].clone(), weight_hh: x[3].clone(), bias_ih: None, bias_hh: None }, Nonlinearity::Tanh)),
        case!("lstm_cell", "batch2", [real(&[2, 3]), real(&[2, 2]), real(&[2, 2]), e.clone(), f.clone(), g.clone(), h.clone()], second: true,
            |x| { let (h, c) = lstm_cell(&x[0], (&x[1], &x[2]), &weights_at(x, 3)); Var::concat(&[&h, &c], 1) }),
        case!("lstm_cell", "unbatched", [real(&[3]), real(&[2]), real(&[2]), e.clone(), f.clone(), g.clone(), h.clone()], second: true,
            |x| { let (h, c) = lstm_cell(&x[0], (&x[1], &x[2]), &weights_at(x, 3)); h.mul(&c) }),
        case!("lstm_cell", "batch1", [real(&[1, 3]), real(&[1, 2]), real(&[1, 2]), e.clone(), f.clone(), g.clone(), h.clone()], second: true,
            |x| lstm_cell(&x[0], (&x[1], &x[2]), &weights_at(x, 3)).1),
        case!("gru_cell", "batch2", [real(&[2, 3]), real(&[2, 2]), i.clone(), j.clone(), k.clone(), l.clone()], second: true,
            |x| gru_cell(&x[0], &x[1], &weights_at(x, 2))),
        case!("gru_cell", "unbatched", [real(&[3]), real(&[2]), i.clone(), j.clone(), k.clone(), l.clone()], second: true,
            |x| gru_cell(&x[0], &x[1], &weights_at(x, 2))),
        case!("gru_cell", "batch1", [real(&[1, 3]), real(&[1, 2]), i.clone(), j.clone(), k.clone(), l.clone()], second: true,
            |x| gru_cell(&x[0], &x[1], &weights_at(x, 2))),
        case!("lstm", "two_layers", [real(&[3, 2, 3]), real(&[2, 2, 2]), real(&[2, 2, 2]), e, f, g, h, m, n, o, p], second: true,
            |x| { let (out, (h, c)) = lstm(&x[0], (&x[1], &x[2]), &[weights_at(x, 3), weights_at(x, 7)]);
                  Var::concat(&[&out, &h, &c], 0) }),
        case!("gru", "two_layers", [real(&[3, 2, 3]), real(&[2, 2, 2]), i, j, k, l, q, r, s, t], second: true,
            |x| { let (out, h) = gru(&x[0], &x[1], &[weights_at(x, 2), weights_at(x, 6)]); Var::concat(&[&out, &h], 0) }),
        case!("rnn", "two_layers_tanh", [real(&[3, 2, 3]), real(&[2, 2, 2]), a, b, c, d, u, v, w, y], second: true,
            |x| { let (out, h) = rnn(&x[0], &x[1], &[weights_at(x, 2), weights_at(x, 6)], Nonlinearity::Tanh); Var::concat(&[&out, &h], 0) }),
    ]
}
