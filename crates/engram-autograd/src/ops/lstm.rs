//! The recurrence of an LSTM layer as one node: `[T, B, 4H]` projected input, initial
//! state `(h0, c0)` and `W_hh` in, every step's `(h_t, c_t)` out.
//!
//! Its meaning is [`composed`], the step written with Var ops; the node computes the
//! same with the fused kernel of `engram_tensor` (`Tensor::lstm_recurrence`), and its
//! first-order rule is that kernel's backward pass (`LstmSaved::backward`): the
//! gradient of every step's pre-activations, of the initial state and of `W_hh` in one
//! sweep through time. When the backward pass is itself recorded (`grad_graph`,
//! Hessian-vector products), the rule is the recorded vjp of [`composed`] instead, so
//! that gradients of gradients follow from the same definition.

use crate::backward::{grad_graph_as, OfConstant};
use crate::operand::Operand;
use crate::ops::{InputGrads, Op};
use crate::tape::record;
use crate::var::Var;
use engram_tensor::{Float, LstmSaved};
use smallvec::SmallVec;

/// The rule: each of the four inputs' gradients, computed as the operand kind does it.
pub(crate) fn vjp<T: Float, V: Operand<T>>(
    saved: &LstmSaved<T>,
    x: &[&V],
    y: &V,
    g: &V,
) -> InputGrads<V> {
    let [input, h0, c0, weight_hh] = V::lstm_recurrence_vjp(saved, x, y, g);
    SmallVec::from_iter([Some(input), Some(h0), Some(c0), Some(weight_hh)])
}

/// What the node computes, written with Var ops: `[h_t; c_t]` of every step stacked as
/// `[2, T, B, H]`, where with `z = input[t] + h_{t-1} W_hhᵀ` split into gates `i, f, g, o`,
/// `c_t = σ(f) c_{t-1} + σ(i) tanh(g)` and `h_t = σ(o) tanh(c_t)`.
pub(crate) fn composed<T: Float>(
    input: &Var<T>,
    (h0, c0): (&Var<T>, &Var<T>),
    weight_hh: &Var<T>,
) -> Var<T> {
    let steps = input.shape()[0];
    let w_t = weight_hh.t();
    let (mut h, mut c) = (h0.clone(), c0.clone());
    let (mut hs, mut cs) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
    for t in 0..steps {
        let z = input.narrow(0, t, 1).squeeze(0).add(&h.matmul(&w_t));
        let gates = z.chunk(-1, 4);
        c = gates[1]
            .sigmoid()
            .mul(&c)
            .add(&gates[0].sigmoid().mul(&gates[2].tanh()));
        h = gates[3].sigmoid().mul(&c.tanh());
        hs.push(h.clone());
        cs.push(c.clone());
    }
    let stack = |v: &[Var<T>]| Var::stack(&v.iter().collect::<Vec<_>>(), 0);
    Var::stack(&[&stack(&hs), &stack(&cs)], 0)
}

/// The recorded rule: the vjp of [`composed`] with seed `g`, recorded on the tape.
pub(crate) fn recorded_vjp<T: Float>(x: &[&Var<T>], g: &Var<T>) -> [Var<T>; 4] {
    let y = composed(x[0], (x[1], x[2]), x[3]);
    let grads = grad_graph_as("lstm_recurrence", &y, Some(g), x, OfConstant::Zeros);
    grads
        .try_into()
        .unwrap_or_else(|_| unreachable!("one gradient per input, and the op has four"))
}

impl<T: Float> Var<T> {
    /// The recurrence of one LSTM layer, PyTorch's `nn.LSTM` after its input projection:
    /// `self` is `x W_ihᵀ + b_ih + b_hh` for every step of a time-major sequence,
    /// `[T, B, 4H]` with the gates in PyTorch's order `i, f, g, o`; `h0`, `c0` are
    /// `[B, H]` and `weight_hh` `[4H, H]`. With `z = self[t] + h_{t-1} W_hhᵀ`:
    /// `c_t = σ(z_f) c_{t-1} + σ(z_i) tanh(z_g)`, `h_t = σ(z_o) tanh(c_t)`.
    ///
    /// Returns `(output [T, B, H], (h_T, c_T))`: every step's hidden state and the final
    /// state. The whole recurrence is one node with one rule (backpropagation through
    /// time, the gradient of `weight_hh` as one product over all steps).
    ///
    /// ```
    /// use engram_autograd::Tape;
    /// use engram_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let gates = tape.leaf(Tensor::zeros(&[3, 2, 4]));
    /// let h0 = tape.leaf(Tensor::zeros(&[2, 1]));
    /// let c0 = tape.leaf(Tensor::ones(&[2, 1]));
    /// let w = tape.leaf(Tensor::zeros(&[4, 1]));
    /// let (out, (h, c)) = gates.lstm_recurrence((&h0, &c0), &w);
    /// assert_eq!(out.shape(), &[3, 2, 1]);
    /// // All gates at σ(0) = ½ and tanh(0) = 0: the cell state halves at each step.
    /// assert_eq!(c.value().to_vec(), vec![0.125, 0.125]);
    /// assert_eq!(engram_autograd::grad(&c.sum(), &[&c0])[0].to_vec(), vec![0.125, 0.125]);
    /// # let _ = h;
    /// ```
    #[track_caller]
    pub fn lstm_recurrence(
        &self,
        (h0, c0): (&Var<T>, &Var<T>),
        weight_hh: &Var<T>,
    ) -> (Var<T>, (Var<T>, Var<T>)) {
        let states = self.lstm_states((h0, c0), weight_hh);
        let last = self.shape()[0] - 1;
        let hidden = states.narrow(0, 0, 1).squeeze(0);
        let cell = states.narrow(0, 1, 1).squeeze(0);
        let final_of = |s: &Var<T>| s.narrow(0, last, 1).squeeze(0);
        let (h, c) = (final_of(&hidden), final_of(&cell));
        (hidden, (h, c))
    }
}

impl<T: Float> Var<T> {
    /// The node itself: `[h_t; c_t]` of every step, `[2, T, B, H]` (see [`composed`]).
    #[track_caller]
    fn lstm_states(&self, (h0, c0): (&Var<T>, &Var<T>), weight_hh: &Var<T>) -> Var<T> {
        let (states, saved) =
            self.value()
                .lstm_recurrence(h0.value(), c0.value(), weight_hh.value());
        record(
            Op::Lstm(Box::new(saved)),
            &[self, h0, c0, weight_hh],
            states,
        )
    }
}

/// Gradcheck entries for this family: every output (the hidden states, the final
/// hidden and cell state) feeds the checked function, so each one's gradient counts.
#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<crate::registry::GradcheckCase> {
    use crate::case;
    use crate::registry::real;
    /// All three outputs, as one `[T + 2, B, H]` value.
    fn outputs<T: Float>(x: &[Var<T>]) -> Var<T> {
        let (out, (h, c)) = x[0].lstm_recurrence((&x[1], &x[2]), &x[3]);
        Var::concat(&[&out, &h.unsqueeze(0), &c.unsqueeze(0)], 0)
    }
    vec![
        case!("lstm_recurrence", "three_steps", [real(&[3, 2, 8]), real(&[2, 2]), real(&[2, 2]), real(&[8, 2])], second: true,
            |x| outputs(x)),
        case!("lstm_recurrence", "one_step_batch1", [real(&[1, 1, 12]), real(&[1, 3]), real(&[1, 3]), real(&[12, 3])], second: true,
            |x| outputs(x)),
        case!("lstm_recurrence", "transposed_weight", [real(&[2, 3, 4]), real(&[3, 1]), real(&[3, 1]), real(&[4, 1]).transposed()], second: true,
            |x| outputs(x)),
        case!("lstm_recurrence", "final_cell_only", [real(&[4, 1, 8]), real(&[1, 2]), real(&[1, 2]), real(&[8, 2])], second: true,
            |x| x[0].lstm_recurrence((&x[1], &x[2]), &x[3]).1 .1),
        case!("lstm_recurrence", "empty_batch", [real(&[2, 0, 8]), real(&[0, 2]), real(&[0, 2]), real(&[8, 2])], second: true,
            |x| outputs(x)),
    ]
}

#[cfg(test)]
mod tests {
    use super::composed;
    use crate::{hvp, vjp, Tape, Var};
    use engram_tensor::{seeded_rng, Float, Tensor};

    /// Inputs of a recurrence with `T = 5`, `B = 3`, `H = 4`, then a cotangent of its states.
    fn draw<T: Float>() -> Vec<Tensor<T>> {
        draw_sized(5, 3, 4)
    }

    /// Inputs of a recurrence of `steps`, `batch` and `h` units, then a cotangent of its
    /// states; `W_hh` is scaled by `1/√h` so that the gates stay in their working range.
    fn draw_sized<T: Float>(steps: usize, batch: usize, h: usize) -> Vec<Tensor<T>> {
        let mut rng = seeded_rng(11);
        let shapes: [&[usize]; 5] = [
            &[steps, batch, 4 * h],
            &[batch, h],
            &[batch, h],
            &[4 * h, h],
            &[2, steps, batch, h],
        ];
        let mut drawn: Vec<Tensor<T>> = shapes.iter().map(|s| Tensor::randn(s, &mut rng)).collect();
        drawn[3] = drawn[3].mul_scalar(T::of(1.0 / (h as f64).sqrt()));
        drawn
    }

    /// The largest elementwise difference, relative to the scale of `want`.
    fn scaled_error<T: Float>(got: &Tensor<T>, want: &Tensor<T>) -> f64 {
        assert_eq!(got.shape(), want.shape());
        let want = want.to_vec();
        let scale = want.iter().fold(1.0f64, |m, v| m.max(v.as_f64().abs()));
        let err = got
            .to_vec()
            .iter()
            .zip(&want)
            .fold(0.0f64, |m, (x, y)| m.max((x.as_f64() - y.as_f64()).abs()));
        err / scale
    }

    /// The fused node's states and each input's gradient against the composed definition.
    fn fused_agrees_with_composed<T: Float>(tolerance: f64) {
        fused_agrees_with_composed_on(draw::<T>(), tolerance);
    }

    /// [`fused_agrees_with_composed`] on the inputs and cotangent `drawn`.
    fn fused_agrees_with_composed_on<T: Float>(drawn: Vec<Tensor<T>>, tolerance: f64) {
        let tape = Tape::<T>::new();
        let x: Vec<Var<T>> = drawn[..4].iter().map(|t| tape.leaf(t.clone())).collect();
        let fused = x[0].lstm_states((&x[1], &x[2]), &x[3]);
        let reference = composed(&x[0], (&x[1], &x[2]), &x[3]);
        assert!(scaled_error(fused.value(), reference.value()) <= tolerance);
        let ours = vjp(&fused, &drawn[4], &x);
        let theirs = vjp(&reference, &drawn[4], &x);
        for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            let err = scaled_error(a, b);
            assert!(err <= tolerance, "input {k}: scaled error {err:e}");
        }
    }

    #[test]
    fn fused_states_and_gradients_match_the_composed_steps_f64() {
        fused_agrees_with_composed::<f64>(1e-12);
    }

    #[test]
    fn fused_states_and_gradients_match_the_composed_steps_f32() {
        fused_agrees_with_composed::<f32>(1e-5);
    }

    #[test]
    fn fused_matches_the_composed_steps_when_the_batch_is_cut_into_shares() {
        // 36 rows of 64 units over 4 steps: enough work that the kernel runs the batch in
        // two shares of 18 rows (`shares` in engram-tensor's lstm.rs).
        fused_agrees_with_composed_on(draw_sized::<f64>(4, 36, 64), 1e-12);
    }

    #[test]
    fn second_order_through_the_fused_node_matches_the_composed_steps() {
        let drawn = draw::<f64>();
        let directions: Vec<Tensor<f64>> =
            drawn[..4].iter().map(|t| t.mul_scalar(0.5).sin()).collect();
        let hessian_product = |f: fn(&[Var<f64>]) -> Var<f64>| {
            let tape = Tape::<f64>::new();
            let x: Vec<Var<f64>> = drawn[..4].iter().map(|t| tape.leaf(t.clone())).collect();
            let loss = f(&x).mul(&Var::constant(drawn[4].clone())).sum();
            hvp(&loss, &x, &directions)
        };
        let ours = hessian_product(|x| x[0].lstm_states((&x[1], &x[2]), &x[3]));
        let theirs = hessian_product(|x| composed(&x[0], (&x[1], &x[2]), &x[3]));
        for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            let err = scaled_error(a, b);
            assert!(err <= 1e-12, "input {k}: scaled error {err:e}");
        }
    }
}
