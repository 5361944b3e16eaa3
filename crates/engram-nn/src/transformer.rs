//! The Transformer encoder layer, PyTorch's `nn.TransformerEncoderLayer`: self-attention
//! and a two-layer feed-forward block, each with a residual connection and layer norm,
//! after (`norm_first = false`, the default) or before (pre-norm) the block. Parameter
//! names are PyTorch's (`self_attn.in_proj_weight`, `linear1.weight`, `norm1.weight`, ...).
//! The math is [`crate::functional::transformer_encoder_layer`]; the module holds a
//! [`MultiHeadAttention`], two [`Linear`]s and two [`LayerNorm`]s, turns the layout to
//! batch first and builds the mask.
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

use crate::attention::{AttentionOptions, MultiHeadAttention};
use crate::context::Context;
use crate::functional::{transformer_encoder_layer, EncoderLayerOptions, EncoderLayerWeights};
use crate::layers::{LayerNorm, Linear};
use crate::parameter::Parameter;
use crate::Module;
use engram_autograd::Var;
use engram_tensor::Float;
use rand::Rng;

pub use crate::functional::Activation;

/// One Transformer encoder layer, PyTorch's `nn.TransformerEncoderLayer`.
#[derive(Module, Debug)]
pub struct TransformerEncoderLayer<T: Float = f32> {
    self_attn: MultiHeadAttention<T>,
    linear1: Linear<T>,
    linear2: Linear<T>,
    norm1: LayerNorm<T>,
    norm2: LayerNorm<T>,
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
            linear1: Linear::new(d_model, dim_feedforward, rng),
            linear2: Linear::new(dim_feedforward, d_model, rng),
            norm1: LayerNorm::new(&[d_model]),
            norm2: LayerNorm::new(&[d_model]),
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
        self.norm1 = self.norm1.eps(eps);
        self.norm2 = self.norm2.eps(eps);
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
        let e = self.self_attn.embed_dim();
        if src.rank() != 3 || src.shape()[2] != e {
            panic!(
                "engram: `TransformerEncoderLayer::forward`: src must be {} with E = {e}, got {:?}",
                if self.batch_first {
                    "[B, L, E]"
                } else {
                    "[L, B, E]"
                },
                src.shape()
            );
        }
        let x = if self.batch_first {
            src.clone()
        } else {
            src.transpose(0, 1)
        };
        let (b, l) = (x.shape()[0], x.shape()[1]);
        let mask = self
            .self_attn
            .mask("TransformerEncoderLayer::forward", options, b, l, l);
        let param = |p: &Parameter<T>| cx.param(p);
        let optional = |p: &Option<Parameter<T>>| p.as_ref().map(param);
        let self_attn = self.self_attn.projection_vars(cx);
        let (linear1, linear1_bias) = (param(&self.linear1.weight), optional(&self.linear1.bias));
        let (linear2, linear2_bias) = (param(&self.linear2.weight), optional(&self.linear2.bias));
        let (norm1, norm1_bias) = (optional(&self.norm1.weight), optional(&self.norm1.bias));
        let (norm2, norm2_bias) = (optional(&self.norm2.weight), optional(&self.norm2.bias));
        let weights = EncoderLayerWeights {
            self_attn: self_attn.projections(),
            linear1_weight: &linear1,
            linear1_bias: linear1_bias.as_ref(),
            linear2_weight: &linear2,
            linear2_bias: linear2_bias.as_ref(),
            norm1_weight: norm1.as_ref(),
            norm1_bias: norm1_bias.as_ref(),
            norm2_weight: norm2.as_ref(),
            norm2_bias: norm2_bias.as_ref(),
        };
        let layer_options = EncoderLayerOptions {
            num_heads: self.self_attn.num_heads(),
            activation: self.activation,
            layer_norm_eps: self.layer_norm_eps,
            norm_first: self.norm_first,
            dropout: self.dropout,
        };
        let y = transformer_encoder_layer(cx, &x, &weights, &layer_options, mask.as_ref());
        if self.batch_first {
            y
        } else {
            y.transpose(0, 1)
        }
    }
}
