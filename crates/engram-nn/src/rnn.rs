//! Recurrent layers — [`RNN`], [`LSTM`], [`GRU`] — with PyTorch's API, semantics and
//! parameter names (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, ...), so a
//! PyTorch `state_dict` loads by name. The math is in [`crate::functional::rnn`].
//!
//! ```
//! use engram_nn::rnn::{RecurrentOptions, LSTM};
//! use engram_nn::{Context, Module};
//! use engram_tensor::Tensor;
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let options = RecurrentOptions::default().num_layers(2).batch_first(true);
//! let lstm = LSTM::<f32>::new(3, 5, options, &mut rng);
//! assert_eq!(lstm.named_parameters()[1].0, "weight_hh_l0");
//! assert_eq!(lstm.named_parameters()[1].1.shape(), &[20, 5]);
//!
//! let cx = Context::eval();
//! let x = cx.input(Tensor::zeros(&[4, 7, 3])); // [batch, time, features]
//! let (output, (h_n, c_n)) = lstm.forward(&cx, &x, None);
//! assert_eq!(output.shape(), &[4, 7, 5]); // the last layer's state at every step
//! assert_eq!(h_n.shape(), &[2, 4, 5]); // every layer's final state, [layers, batch, hidden]
//! assert_eq!(c_n.shape(), &[2, 4, 5]);
//! ```
//!
//! Not (yet) supported: `bidirectional`, `proj_size`, and the dropout between layers
//! (PyTorch's `dropout=`).

use crate::context::Context;
use crate::functional::rnn::{recurrence, CellWeights, Kind, Nonlinearity};
use crate::module::{Module, Visitor, VisitorMut};
use crate::parameter::Parameter;
use engram_autograd::Var;
use engram_tensor::{Float, Tensor};
use rand::Rng;

/// The options shared by [`RNN`], [`LSTM`] and [`GRU`], with PyTorch's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecurrentOptions {
    /// Stacked layers; each after the first reads the previous one's hidden states.
    pub num_layers: usize,
    /// Whether each layer has `bias_ih` and `bias_hh`.
    pub bias: bool,
    /// Inputs and outputs as `[batch, time, features]` instead of `[time, batch, features]`
    /// (the states `h0`, `h_n` stay `[layers, batch, hidden]`, as PyTorch's).
    pub batch_first: bool,
}

impl Default for RecurrentOptions {
    fn default() -> Self {
        RecurrentOptions {
            num_layers: 1,
            bias: true,
            batch_first: false,
        }
    }
}

impl RecurrentOptions {
    /// Sets the number of stacked layers.
    pub fn num_layers(mut self, n: usize) -> Self {
        self.num_layers = n;
        self
    }
    /// Sets whether the layers have biases.
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
    /// Sets batch-first layout.
    pub fn batch_first(mut self, batch_first: bool) -> Self {
        self.batch_first = batch_first;
        self
    }
}

/// One layer's parameters, visited under PyTorch's flat names (`weight_ih_l{k}`).
#[derive(Debug)]
struct Layer<T: Float> {
    weight_ih: Parameter<T>,
    weight_hh: Parameter<T>,
    bias_ih: Option<Parameter<T>>,
    bias_hh: Option<Parameter<T>>,
}

/// The stack of layers and the options: what the three modules share.
#[derive(Debug)]
struct Stack<T: Float> {
    kind: Kind,
    input_size: usize,
    hidden_size: usize,
    options: RecurrentOptions,
    layers: Vec<Layer<T>>,
}

impl<T: Float> Stack<T> {
    /// PyTorch's initialisation: every weight and bias from U(-1/√H, 1/√H).
    #[track_caller]
    fn new(
        kind: Kind,
        input_size: usize,
        hidden_size: usize,
        options: RecurrentOptions,
        rng: &mut impl Rng,
    ) -> Stack<T> {
        if options.num_layers == 0 || hidden_size == 0 {
            panic!(
                "engram: `{kind:?}::new`: num_layers and hidden_size must be at least 1, got \
                 {} and {hidden_size}",
                options.num_layers
            );
        }
        let bound = T::of(1.0 / (hidden_size as f64).sqrt());
        let rows = kind.gates() * hidden_size;
        let mut draw =
            |shape: &[usize]| Parameter::new(Tensor::rand_uniform(shape, -bound, bound, rng));
        let layers = (0..options.num_layers)
            .map(|k| {
                let features = if k == 0 { input_size } else { hidden_size };
                Layer {
                    weight_ih: draw(&[rows, features]),
                    weight_hh: draw(&[rows, hidden_size]),
                    bias_ih: options.bias.then(|| draw(&[rows])),
                    bias_hh: options.bias.then(|| draw(&[rows])),
                }
            })
            .collect();
        Stack {
            kind,
            input_size,
            hidden_size,
            options,
            layers,
        }
    }

    /// Runs the stack; `state` is `(h0, c0)` (`c0` for an LSTM only), zeros when absent.
    #[track_caller]
    fn forward(
        &self,
        cx: &Context<T>,
        input: &Var<T>,
        h0: Option<&Var<T>>,
        c0: Option<&Var<T>>,
    ) -> (Var<T>, Var<T>, Option<Var<T>>) {
        if input.rank() != 3 || input.shape()[2] != self.input_size {
            panic!(
                "engram: `{:?}::forward`: input must be {} with {} features, got {:?}",
                self.kind,
                if self.options.batch_first {
                    "[batch, time, features]"
                } else {
                    "[time, batch, features]"
                },
                self.input_size,
                input.shape()
            );
        }
        let time_major = if self.options.batch_first {
            input.transpose(0, 1)
        } else {
            input.clone()
        };
        let batch = time_major.shape()[1];
        let zeros = || cx.input(Tensor::zeros(&[self.layers.len(), batch, self.hidden_size]));
        let h0 = h0.cloned().unwrap_or_else(zeros);
        let c0 = (self.kind == Kind::Lstm).then(|| c0.cloned().unwrap_or_else(zeros));
        let weights: Vec<CellWeights<T>> = self
            .layers
            .iter()
            .map(|l| CellWeights {
                weight_ih: cx.param(&l.weight_ih),
                weight_hh: cx.param(&l.weight_hh),
                bias_ih: l.bias_ih.as_ref().map(|b| cx.param(b)),
                bias_hh: l.bias_hh.as_ref().map(|b| cx.param(b)),
            })
            .collect();
        let (out, h_n, c_n) = recurrence(self.kind, &time_major, &h0, c0.as_ref(), &weights);
        let out = if self.options.batch_first {
            out.transpose(0, 1)
        } else {
            out
        };
        (out, h_n, c_n)
    }

    fn visit<'a>(&'a self, visitor: &mut dyn Visitor<'a, T>) {
        for (k, l) in self.layers.iter().enumerate() {
            let parts = [
                ("weight_ih", Some(&l.weight_ih)),
                ("weight_hh", Some(&l.weight_hh)),
                ("bias_ih", l.bias_ih.as_ref()),
                ("bias_hh", l.bias_hh.as_ref()),
            ];
            for (name, p) in parts {
                if let Some(p) = p {
                    visitor.enter(&format!("{name}_l{k}"));
                    visitor.parameter(p);
                    visitor.leave();
                }
            }
        }
    }

    fn visit_mut<'a>(&'a mut self, visitor: &mut dyn VisitorMut<'a, T>) {
        for (k, l) in self.layers.iter_mut().enumerate() {
            let parts = [
                ("weight_ih", Some(&mut l.weight_ih)),
                ("weight_hh", Some(&mut l.weight_hh)),
                ("bias_ih", l.bias_ih.as_mut()),
                ("bias_hh", l.bias_hh.as_mut()),
            ];
            for (name, p) in parts {
                if let Some(p) = p {
                    visitor.enter(&format!("{name}_l{k}"));
                    visitor.parameter(p);
                    visitor.leave();
                }
            }
        }
    }
}

/// Implements `Module` by visiting the stack under PyTorch's flat names (the derive would
/// nest them as `layers.0.weight_ih`).
macro_rules! recurrent_module {
    ($name:ident) => {
        impl<T: Float> Module<T> for $name<T> {
            fn visit<'a>(&'a self, visitor: &mut dyn Visitor<'a, T>) {
                self.stack.visit(visitor);
            }
            fn visit_mut<'a>(&'a mut self, visitor: &mut dyn VisitorMut<'a, T>) {
                self.stack.visit_mut(visitor);
            }
        }

        impl<T: Float> $name<T> {
            /// The number of input features.
            pub fn input_size(&self) -> usize {
                self.stack.input_size
            }
            /// The number of hidden units per layer.
            pub fn hidden_size(&self) -> usize {
                self.stack.hidden_size
            }
            /// The options it was built with.
            pub fn options(&self) -> RecurrentOptions {
                self.stack.options
            }
        }
    };
}

/// A multi-layer Elman RNN, PyTorch's `nn.RNN`: `h_t = act(x_t W_ihᵀ + b_ih + h_{t-1}
/// W_hhᵀ + b_hh)` with `act` tanh (default) or relu.
#[derive(Debug)]
pub struct RNN<T: Float = f32> {
    stack: Stack<T>,
}

impl<T: Float> RNN<T> {
    /// An RNN with PyTorch's initialisation, every draw from `rng`.
    #[track_caller]
    pub fn new(
        input_size: usize,
        hidden_size: usize,
        nonlinearity: Nonlinearity,
        options: RecurrentOptions,
        rng: &mut impl Rng,
    ) -> RNN<T> {
        let kind = Kind::Rnn(nonlinearity);
        RNN {
            stack: Stack::new(kind, input_size, hidden_size, options, rng),
        }
    }

    /// Runs the sequence from `h0` (`[layers, batch, hidden]`, zeros when `None`); returns
    /// `(output, h_n)`: the last layer's hidden state at every step (`[time, batch,
    /// hidden]`, or batch-first) and every layer's final hidden state.
    #[track_caller]
    pub fn forward(
        &self,
        cx: &Context<T>,
        input: &Var<T>,
        h0: Option<&Var<T>>,
    ) -> (Var<T>, Var<T>) {
        let (out, h_n, _) = self.stack.forward(cx, input, h0, None);
        (out, h_n)
    }
}

/// A multi-layer LSTM, PyTorch's `nn.LSTM` (gates `i, f, g, o` stacked in that order in
/// each weight).
#[derive(Debug)]
pub struct LSTM<T: Float = f32> {
    stack: Stack<T>,
}

impl<T: Float> LSTM<T> {
    /// An LSTM with PyTorch's initialisation, every draw from `rng`.
    #[track_caller]
    pub fn new(
        input_size: usize,
        hidden_size: usize,
        options: RecurrentOptions,
        rng: &mut impl Rng,
    ) -> LSTM<T> {
        LSTM {
            stack: Stack::new(Kind::Lstm, input_size, hidden_size, options, rng),
        }
    }

    /// Runs the sequence from `state = (h0, c0)` (each `[layers, batch, hidden]`, zeros
    /// when `None`); returns `(output, (h_n, c_n))` as PyTorch's `nn.LSTM`.
    #[track_caller]
    pub fn forward(
        &self,
        cx: &Context<T>,
        input: &Var<T>,
        state: Option<(&Var<T>, &Var<T>)>,
    ) -> (Var<T>, (Var<T>, Var<T>)) {
        let (h0, c0) = state.unzip();
        let (out, h_n, c_n) = self.stack.forward(cx, input, h0, c0);
        (out, (h_n, c_n.expect("an LSTM keeps a cell state")))
    }
}

/// A multi-layer GRU, PyTorch's `nn.GRU` (gates `r, z, n`, with the candidate
/// `tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`).
#[derive(Debug)]
pub struct GRU<T: Float = f32> {
    stack: Stack<T>,
}

impl<T: Float> GRU<T> {
    /// A GRU with PyTorch's initialisation, every draw from `rng`.
    #[track_caller]
    pub fn new(
        input_size: usize,
        hidden_size: usize,
        options: RecurrentOptions,
        rng: &mut impl Rng,
    ) -> GRU<T> {
        GRU {
            stack: Stack::new(Kind::Gru, input_size, hidden_size, options, rng),
        }
    }

    /// Runs the sequence from `h0` (zeros when `None`); returns `(output, h_n)`.
    #[track_caller]
    pub fn forward(
        &self,
        cx: &Context<T>,
        input: &Var<T>,
        h0: Option<&Var<T>>,
    ) -> (Var<T>, Var<T>) {
        let (out, h_n, _) = self.stack.forward(cx, input, h0, None);
        (out, h_n)
    }
}

recurrent_module!(RNN);
recurrent_module!(LSTM);
recurrent_module!(GRU);

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Every parameter lies in `±1/√hidden` and reaches within 20% of both ends.
    #[track_caller]
    fn assert_uniform_within_one_over_sqrt_hidden(module: &impl Module<f64>, hidden: usize) {
        let bound = 1.0 / (hidden as f64).sqrt();
        let mut count = 0;
        for (name, p) in module.named_parameters() {
            let (min, max) = (p.value().min().item(), p.value().max().item());
            assert!(
                min >= -bound && max <= bound,
                "{name}: [{min}, {max}] outside ±{bound}"
            );
            assert!(
                min < -0.8 * bound && max > 0.8 * bound,
                "{name}: [{min}, {max}]"
            );
            count += 1;
        }
        assert_eq!(
            count, 8,
            "two layers of weight_ih, weight_hh, bias_ih, bias_hh"
        );
    }

    #[test]
    fn rnn_and_gru_init_is_uniform_within_one_over_sqrt_hidden() {
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        let options = RecurrentOptions::default().num_layers(2);
        let rnn = RNN::<f64>::new(5, 64, Nonlinearity::Tanh, options, &mut rng);
        assert_uniform_within_one_over_sqrt_hidden(&rnn, 64);
        let gru = GRU::<f64>::new(5, 36, options, &mut rng);
        assert_uniform_within_one_over_sqrt_hidden(&gru, 36);
    }
}
