//! Multi-head attention, PyTorch's `nn.MultiheadAttention`: the same parameters
//! (`in_proj_weight` `[3E, E]`, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`), the
//! same layouts (`[L, B, E]`, or `[B, L, E]` with `batch_first`) and masks.
//!
//! ```
//! use engram_nn::attention::{AttentionOptions, MultiHeadAttention};
//! use engram_nn::functional::causal_mask;
//! use engram_nn::{Context, Module};
//! use engram_tensor::Tensor;
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let mha = MultiHeadAttention::<f32>::new(8, 2, &mut rng).batch_first(true);
//! assert_eq!(mha.named_parameters()[2].0, "out_proj.weight");
//!
//! let cx = Context::eval();
//! let x = cx.input(Tensor::ones(&[3, 5, 8])); // [batch, seq, embed]
//! let padding = Tensor::from_vec(vec![false, false, false, true, true].repeat(3), &[3, 5]);
//! let options = AttentionOptions::default()
//!     .key_padding_mask(padding)
//!     .attn_mask(causal_mask(5));
//! let (out, weights) = mha.forward(&cx, &x, &x, &x, &options);
//! assert_eq!(out.shape(), &[3, 5, 8]);
//! assert_eq!(weights.unwrap().shape(), &[3, 5, 5]); // averaged over heads
//! ```

use crate::context::Context;
use crate::functional::attention::{additive_mask, scaled_dot_product_attention};
use crate::parameter::Parameter;
use crate::Module;
use engram_autograd::Var;
use engram_tensor::{Float, Tensor};
use rand::Rng;

/// An attention mask, as PyTorch's `attn_mask`: boolean (`true` = may not attend; a
/// `Tensor<bool>` converts with `into()`) or additive (added to the scores; `-∞` forbids).
/// `[L, S]`, or `[B·heads, L, S]`.
#[derive(Clone, Debug)]
pub enum AttnMask<T: Float = f32> {
    /// `true` where a query may not attend to a key.
    Bool(Tensor<bool>),
    /// Added to the attention scores.
    Additive(Tensor<T>),
}

impl<T: Float> From<Tensor<bool>> for AttnMask<T> {
    fn from(mask: Tensor<bool>) -> Self {
        AttnMask::Bool(mask)
    }
}

impl<T: Float> AttnMask<T> {
    fn additive(&self) -> Tensor<T> {
        match self {
            AttnMask::Bool(m) => additive_mask(m),
            AttnMask::Additive(m) => m.clone(),
        }
    }
}

/// The per-call options of [`MultiHeadAttention::forward`], PyTorch's keyword arguments
/// with its defaults.
#[derive(Clone, Debug)]
pub struct AttentionOptions<T: Float = f32> {
    /// `[B, S]`, `true` where a key is padding and must be ignored.
    pub key_padding_mask: Option<Tensor<bool>>,
    /// Which queries may attend to which keys; see [`AttnMask`].
    pub attn_mask: Option<AttnMask<T>>,
    /// Whether to return the attention weights (default `true`).
    pub need_weights: bool,
    /// Whether the returned weights are averaged over heads (`[B, L, S]`, default) or
    /// per head (`[B, heads, L, S]`).
    pub average_attn_weights: bool,
}

impl<T: Float> Default for AttentionOptions<T> {
    fn default() -> Self {
        AttentionOptions {
            key_padding_mask: None,
            attn_mask: None,
            need_weights: true,
            average_attn_weights: true,
        }
    }
}

impl<T: Float> AttentionOptions<T> {
    /// Sets the key padding mask (`true` = ignore).
    pub fn key_padding_mask(mut self, mask: Tensor<bool>) -> Self {
        self.key_padding_mask = Some(mask);
        self
    }
    /// Sets the attention mask (boolean or additive).
    pub fn attn_mask(mut self, mask: impl Into<AttnMask<T>>) -> Self {
        self.attn_mask = Some(mask.into());
        self
    }
    /// Sets whether the weights are returned.
    pub fn need_weights(mut self, need: bool) -> Self {
        self.need_weights = need;
        self
    }
    /// Sets whether the weights are averaged over heads.
    pub fn average_attn_weights(mut self, average: bool) -> Self {
        self.average_attn_weights = average;
        self
    }
}

/// An affine map `x Wᵀ + b` with PyTorch's `nn.Linear` parameter names and layout.
// Replace with the shared `Linear` module of the feed-forward layers once both are merged.
#[derive(Module, Debug)]
pub(crate) struct Proj<T: Float> {
    pub(crate) weight: Parameter<T>,
    pub(crate) bias: Option<Parameter<T>>,
}

impl<T: Float> Proj<T> {
    /// `nn.Linear`'s initialisation: weight and bias from U(-1/√in, 1/√in).
    pub(crate) fn new(input: usize, output: usize, rng: &mut impl Rng) -> Proj<T> {
        let bound = T::of(1.0 / (input as f64).sqrt());
        Proj {
            weight: Parameter::new(Tensor::rand_uniform(&[output, input], -bound, bound, rng)),
            bias: Some(Parameter::new(Tensor::rand_uniform(
                &[output],
                -bound,
                bound,
                rng,
            ))),
        }
    }

    pub(crate) fn forward(&self, cx: &Context<T>, x: &Var<T>) -> Var<T> {
        let y = x.matmul(&cx.param(&self.weight).t());
        match &self.bias {
            Some(b) => y.add(&cx.param(b)),
            None => y,
        }
    }
}

/// Multi-head attention, PyTorch's `nn.MultiheadAttention` with `kdim = vdim = embed_dim`
/// (no `add_bias_kv`, `add_zero_attn`).
#[derive(Module, Debug)]
pub struct MultiHeadAttention<T: Float = f32> {
    in_proj_weight: Parameter<T>,
    in_proj_bias: Option<Parameter<T>>,
    out_proj: Proj<T>,
    embed_dim: usize,
    num_heads: usize,
    dropout: f64,
    batch_first: bool,
}

impl<T: Float> MultiHeadAttention<T> {
    /// `num_heads` heads over `embed_dim` features, PyTorch's initialisation:
    /// `in_proj_weight` Xavier-uniform, `out_proj.weight` as `nn.Linear`, biases zero.
    #[track_caller]
    pub fn new(embed_dim: usize, num_heads: usize, rng: &mut impl Rng) -> MultiHeadAttention<T> {
        if num_heads == 0 || !embed_dim.is_multiple_of(num_heads) {
            panic!(
                "engram: `MultiHeadAttention::new`: embed_dim ({embed_dim}) must be divisible by \
                 num_heads ({num_heads})"
            );
        }
        let xavier = T::of((6.0 / (4 * embed_dim) as f64).sqrt());
        let mut out_proj = Proj::new(embed_dim, embed_dim, rng);
        out_proj.bias = Some(Parameter::new(Tensor::zeros(&[embed_dim])));
        MultiHeadAttention {
            in_proj_weight: Parameter::new(Tensor::rand_uniform(
                &[3 * embed_dim, embed_dim],
                -xavier,
                xavier,
                rng,
            )),
            in_proj_bias: Some(Parameter::new(Tensor::zeros(&[3 * embed_dim]))),
            out_proj,
            embed_dim,
            num_heads,
            dropout: 0.0,
            batch_first: false,
        }
    }

    /// Without the input and output projection biases (PyTorch's `bias=False`).
    pub fn without_bias(mut self) -> Self {
        self.in_proj_bias = None;
        self.out_proj.bias = None;
        self
    }

    /// Dropout on the attention weights in training (PyTorch's `dropout=`, default 0).
    pub fn dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self
    }

    /// `[B, L, E]` inputs and outputs instead of `[L, B, E]`.
    pub fn batch_first(mut self, batch_first: bool) -> Self {
        self.batch_first = batch_first;
        self
    }

    /// The number of heads.
    pub fn num_heads(&self) -> usize {
        self.num_heads
    }

    /// The embedding size `E`.
    pub fn embed_dim(&self) -> usize {
        self.embed_dim
    }

    /// Attention of `query` `[L, B, E]` over `key`/`value` `[S, B, E]` (batch first if so
    /// built). Returns the output (the query's shape) and, if `options.need_weights`, the
    /// attention weights `[B, L, S]` (averaged) or `[B, heads, L, S]`.
    #[track_caller]
    pub fn forward(
        &self,
        cx: &Context<T>,
        query: &Var<T>,
        key: &Var<T>,
        value: &Var<T>,
        options: &AttentionOptions<T>,
    ) -> (Var<T>, Option<Var<T>>) {
        let e = self.embed_dim;
        let (q, k, v) = if self.batch_first {
            (query.clone(), key.clone(), value.clone())
        } else {
            (
                query.transpose(0, 1),
                key.transpose(0, 1),
                value.transpose(0, 1),
            )
        };
        let (qs, ks) = (q.shape().to_vec(), k.shape().to_vec());
        if qs.len() != 3
            || qs[2] != e
            || ks.len() != 3
            || ks[2] != e
            || v.shape() != ks.as_slice()
            || ks[0] != qs[0]
        {
            panic!(
                "engram: `MultiHeadAttention::forward`: query, key and value must be {} with \
                 E = {e}, key and value of one shape; got query {:?}, key {:?}, value {:?}",
                if self.batch_first {
                    "[B, L, E]"
                } else {
                    "[L, B, E]"
                },
                query.shape(),
                key.shape(),
                value.shape()
            );
        }
        let (b, l, s, h) = (qs[0], qs[1], ks[1], self.num_heads);
        let weight = cx.param(&self.in_proj_weight);
        let bias = self.in_proj_bias.as_ref().map(|p| cx.param(p));
        let project = |x: &Var<T>, i: usize, len: usize| {
            let y = x.matmul(&weight.narrow(0, i * e, e).t());
            let y = match &bias {
                Some(bias) => y.add(&bias.narrow(0, i * e, e)),
                None => y,
            };
            y.reshape(&[b, len, h, e / h]).permute(&[0, 2, 1, 3])
        };
        let mask = self.mask(options, b, l, s);
        let mut rng = cx.rng();
        let dropout = (cx.is_training() && self.dropout > 0.0)
            .then_some((self.dropout, &mut *rng as &mut dyn rand::RngCore));
        let (out, weights) = scaled_dot_product_attention(
            &project(&q, 0, l),
            &project(&k, 1, s),
            &project(&v, 2, s),
            mask.as_ref(),
            dropout,
        );
        drop(rng);
        let out = self
            .out_proj
            .forward(cx, &out.permute(&[0, 2, 1, 3]).reshape(&[b, l, e]));
        let out = if self.batch_first {
            out
        } else {
            out.transpose(0, 1)
        };
        let weights = options.need_weights.then(|| {
            if options.average_attn_weights {
                weights.mean_axes(&[1])
            } else {
                weights
            }
        });
        (out, weights)
    }

    /// The key padding and attention masks as one additive mask `[B, 1 or H, L, S]`.
    #[track_caller]
    fn mask(
        &self,
        options: &AttentionOptions<T>,
        b: usize,
        l: usize,
        s: usize,
    ) -> Option<Tensor<T>> {
        let h = self.num_heads;
        let padding = options.key_padding_mask.as_ref().map(|m| {
            if m.shape() != [b, s] {
                panic!(
                    "engram: `MultiHeadAttention::forward`: key_padding_mask must be [batch, \
                     source length] = [{b}, {s}], got {:?}",
                    m.shape()
                );
            }
            additive_mask::<T>(m).reshape(&[b, 1, 1, s])
        });
        let attn = options.attn_mask.as_ref().map(|m| {
            let m = m.additive();
            match m.shape() {
                [ml, ms] if (*ml, *ms) == (l, s) => m.reshape(&[1, 1, l, s]),
                [bh, ml, ms] if (*bh, *ml, *ms) == (b * h, l, s) => m.reshape(&[b, h, l, s]),
                other => panic!(
                    "engram: `MultiHeadAttention::forward`: attn_mask must be [L, S] = [{l}, {s}] \
                     or [B·heads, L, S] = [{}, {l}, {s}], got {other:?}",
                    b * h
                ),
            }
        });
        match (padding, attn) {
            (Some(p), Some(a)) => Some(p.add(&a)),
            (p, a) => p.or(a),
        }
    }
}
