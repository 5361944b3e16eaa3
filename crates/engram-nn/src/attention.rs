//! Multi-head attention, PyTorch's `nn.MultiheadAttention`: the same parameters
//! (`in_proj_weight` `[3E, E]`, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`), the
//! same layouts (`[L, B, E]`, or `[B, L, E]` with `batch_first`) and masks. The math is
//! [`crate::functional::multi_head_attention`]; the module holds the parameters (the output
//! projection is a [`Linear`]), turns the layout to batch first and builds the mask.
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
use crate::functional::attention::additive_mask;
use crate::functional::{multi_head_attention, AttentionProjections};
use crate::init;
use crate::layers::Linear;
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

/// Multi-head attention's parameters as Vars of one step, lent to
/// [`AttentionProjections`].
pub(crate) struct ProjectionVars<T: Float> {
    in_proj_weight: Var<T>,
    in_proj_bias: Option<Var<T>>,
    out_proj_weight: Var<T>,
    out_proj_bias: Option<Var<T>>,
}

impl<T: Float> ProjectionVars<T> {
    /// The Vars, borrowed as the functional form takes them.
    pub(crate) fn projections(&self) -> AttentionProjections<'_, T> {
        AttentionProjections {
            in_proj_weight: &self.in_proj_weight,
            in_proj_bias: self.in_proj_bias.as_ref(),
            out_proj_weight: &self.out_proj_weight,
            out_proj_bias: self.out_proj_bias.as_ref(),
        }
    }
}

/// Multi-head attention, PyTorch's `nn.MultiheadAttention` with `kdim = vdim = embed_dim`
/// (no `add_bias_kv`, `add_zero_attn`).
#[derive(Module, Debug)]
pub struct MultiHeadAttention<T: Float = f32> {
    in_proj_weight: Parameter<T>,
    in_proj_bias: Option<Parameter<T>>,
    out_proj: Linear<T>,
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
        let mut out_proj = Linear::new(embed_dim, embed_dim, rng);
        out_proj.bias = Some(Parameter::new(Tensor::zeros(&[embed_dim])));
        MultiHeadAttention {
            in_proj_weight: Parameter::new(init::xavier_uniform(
                &[3 * embed_dim, embed_dim],
                1.0,
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
        let (b, l, s) = (qs[0], qs[1], ks[1]);
        let mask = self.mask("MultiHeadAttention::forward", options, b, l, s);
        let vars = self.projection_vars(cx);
        let mut rng = cx.rng();
        let dropout = (cx.is_training() && self.dropout > 0.0)
            .then_some((self.dropout, &mut *rng as &mut dyn rand::RngCore));
        let (out, weights) = multi_head_attention(
            &q,
            &k,
            &v,
            self.num_heads,
            &vars.projections(),
            mask.as_ref(),
            dropout,
        );
        drop(rng);
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

    /// The parameters as Vars of this step.
    pub(crate) fn projection_vars(&self, cx: &Context<T>) -> ProjectionVars<T> {
        ProjectionVars {
            in_proj_weight: cx.param(&self.in_proj_weight),
            in_proj_bias: self.in_proj_bias.as_ref().map(|p| cx.param(p)),
            out_proj_weight: cx.param(&self.out_proj.weight),
            out_proj_bias: self.out_proj.bias.as_ref().map(|p| cx.param(p)),
        }
    }

    /// The key padding and attention masks as one additive mask `[B, 1 or H, L, S]`;
    /// `op` names the caller in a shape error.
    #[track_caller]
    pub(crate) fn mask(
        &self,
        op: &str,
        options: &AttentionOptions<T>,
        b: usize,
        l: usize,
        s: usize,
    ) -> Option<Tensor<T>> {
        let h = self.num_heads;
        let padding = options.key_padding_mask.as_ref().map(|m| {
            if m.shape() != [b, s] {
                panic!(
                    "engram: `{op}`: key_padding_mask must be [batch, source length] = [{b}, \
                     {s}], got {:?}",
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
                    "engram: `{op}`: attn_mask must be [L, S] = [{l}, {s}] or [B·heads, L, S] = \
                     [{}, {l}, {s}], got {other:?}",
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn projections_start_xavier_uniform_and_biases_at_zero() {
        let e = 32;
        let mha = MultiHeadAttention::<f64>::new(e, 4, &mut ChaCha8Rng::seed_from_u64(19));
        let state = mha.state_dict();
        // in_proj_weight is [3E, E]: xavier bound √(6 / (fan_in + fan_out)) = √(6 / (E + 3E)).
        let w = &state["in_proj_weight"];
        assert_eq!(w.shape(), &[3 * e, e]);
        let bound = (6.0 / (4 * e) as f64).sqrt();
        assert!(w.max().item() <= bound && w.min().item() >= -bound);
        assert!(w.max().item() > 0.95 * bound && w.min().item() < -0.95 * bound);
        // out_proj.weight is an nn.Linear default: U(±1/√E).
        let out = &state["out_proj.weight"];
        let out_bound = 1.0 / (e as f64).sqrt();
        assert!(out.max().item() <= out_bound && out.min().item() >= -out_bound);
        assert!(out.max().item() > 0.95 * out_bound);
        assert_eq!(state["in_proj_bias"].to_vec(), vec![0.0; 3 * e]);
        assert_eq!(state["out_proj.bias"].to_vec(), vec![0.0; e]);
    }
}
