//! The Transformer encoder layer, PyTorch's `nn.TransformerEncoderLayer`: self-attention
//! and a two-layer feed-forward block, each with a residual connection and layer norm,
//! after (`norm_first = false`, the default) or before (pre-norm) the block. Parameter
//! names are PyTorch's (`self_attn.in_proj_weight`, `linear1.weight`, `norm1.weight`, ...).
//!
//! ```
//! use engram_nn::attention::AttentionOptions;
//! use engram_nn::transformer::{Activation, TransformerEncoderLayer};
//! use engram_nn::{Context, Module};
//! use engram_tensor::Tensor;
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let layer = TransformerEncoderLayer::<f32>::new(16, 4, 32, &mut rng)
//!     .activation(Activation::Gelu)
//!     .norm_first(true)
//!     .batch_first(true);
//! assert_eq!(layer.named_parameters().len(), 12);
//! let cx = Context::eval();
//! let y = layer.forward(&cx, &cx.input(Tensor::ones(&[2, 7, 16])), &AttentionOptions::default());
//! assert_eq!(y.shape(), &[2, 7, 16]);
//! ```

use crate::attention::{AttentionOptions, MultiHeadAttention, Proj};
use crate::context::Context;
use crate::functional::attention::dropout;
use crate::parameter::Parameter;
use crate::Module;
use engram_autograd::Var;
use engram_tensor::{Float, Tensor};
use rand::Rng;

/// The feed-forward block's activation, PyTorch's `activation=` ("relu" or "gelu").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Activation {
    /// ReLU, the default.
    #[default]
    Relu,
    /// GELU with the exact (erf) form, as PyTorch's `"gelu"`.
    Gelu,
}

/// Layer norm over the last axis with PyTorch's `nn.LayerNorm` parameter names.
// Replace with the shared `LayerNorm` module of the feed-forward layers once merged.
#[derive(Module, Debug)]
struct Norm<T: Float> {
    weight: Parameter<T>,
    bias: Parameter<T>,
}

impl<T: Float> Norm<T> {
    fn new(features: usize) -> Norm<T> {
        Norm {
            weight: Parameter::new(Tensor::ones(&[features])),
            bias: Parameter::new(Tensor::zeros(&[features])),
        }
    }

    /// `(x - mean) / √(var + eps) · weight + bias`, with the biased variance.
    fn forward(&self, cx: &Context<T>, x: &Var<T>, eps: f64) -> Var<T> {
        let centred = x.sub(&x.mean_keepdim(&[-1]));
        let std = centred
            .square()
            .mean_keepdim(&[-1])
            .add_scalar(T::of(eps))
            .sqrt();
        centred
            .div(&std)
            .mul(&cx.param(&self.weight))
            .add(&cx.param(&self.bias))
    }
}

/// One Transformer encoder layer, PyTorch's `nn.TransformerEncoderLayer`.
#[derive(Module, Debug)]
pub struct TransformerEncoderLayer<T: Float = f32> {
    self_attn: MultiHeadAttention<T>,
    linear1: Proj<T>,
    linear2: Proj<T>,
    norm1: Norm<T>,
    norm2: Norm<T>,
    dropout: f64,
    #[module(skip)]
    activation: Activation,
    layer_norm_eps: f64,
    norm_first: bool,
    batch_first: bool,
}

impl<T: Float> TransformerEncoderLayer<T> {
    /// A layer of width `d_model` with `nhead` heads and a feed-forward block of width
    /// `dim_feedforward` (PyTorch's default is 2048); PyTorch's defaults otherwise:
    /// dropout 0.1, ReLU, `layer_norm_eps` 1e-5, post-norm, sequence-first.
    #[track_caller]
    pub fn new(d_model: usize, nhead: usize, dim_feedforward: usize, rng: &mut impl Rng) -> Self {
        TransformerEncoderLayer {
            self_attn: MultiHeadAttention::new(d_model, nhead, rng).dropout(0.1),
            linear1: Proj::new(d_model, dim_feedforward, rng),
            linear2: Proj::new(dim_feedforward, d_model, rng),
            norm1: Norm::new(d_model),
            norm2: Norm::new(d_model),
            dropout: 0.1,
            activation: Activation::Relu,
            layer_norm_eps: 1e-5,
            norm_first: false,
            batch_first: false,
        }
    }

    /// Sets the dropout probability (after attention, inside and after the feed-forward
    /// block, and on the attention weights), active in training only.
    pub fn dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self.self_attn = self.self_attn.dropout(p);
        self
    }

    /// Sets the feed-forward activation.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Sets the layer norms' epsilon.
    pub fn layer_norm_eps(mut self, eps: f64) -> Self {
        self.layer_norm_eps = eps;
        self
    }

    /// Pre-norm (`true`): each block reads the normalised input and adds to the raw one.
    pub fn norm_first(mut self, norm_first: bool) -> Self {
        self.norm_first = norm_first;
        self
    }

    /// `[B, L, E]` inputs and outputs instead of `[L, B, E]`.
    pub fn batch_first(mut self, batch_first: bool) -> Self {
        self.batch_first = batch_first;
        self.self_attn = self.self_attn.batch_first(batch_first);
        self
    }

    /// The layer applied to `src` (`[L, B, E]`, or batch first), with the self-attention's
    /// masks from `options` (its weights are not returned).
    #[track_caller]
    pub fn forward(&self, cx: &Context<T>, src: &Var<T>, options: &AttentionOptions<T>) -> Var<T> {
        let eps = self.layer_norm_eps;
        let attend = |x: &Var<T>| {
            let options = options.clone().need_weights(false);
            let (y, _) = self.self_attn.forward(cx, x, x, x, &options);
            dropout(cx, &y, self.dropout)
        };
        let feed_forward = |x: &Var<T>| {
            let hidden = self.linear1.forward(cx, x);
            let hidden = match self.activation {
                Activation::Relu => hidden.relu(),
                Activation::Gelu => hidden.gelu(),
            };
            let y = self
                .linear2
                .forward(cx, &dropout(cx, &hidden, self.dropout));
            dropout(cx, &y, self.dropout)
        };
        if self.norm_first {
            let x = src.add(&attend(&self.norm1.forward(cx, src, eps)));
            x.add(&feed_forward(&self.norm2.forward(cx, &x, eps)))
        } else {
            let x = self.norm1.forward(cx, &src.add(&attend(src)), eps);
            self.norm2.forward(cx, &x.add(&feed_forward(&x)), eps)
        }
    }
}
