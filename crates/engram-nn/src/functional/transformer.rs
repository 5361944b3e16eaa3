//! The Transformer encoder layer as a function of its weights, PyTorch's
//! `nn.TransformerEncoderLayer.forward` in batch-first layout, built from
//! [`multi_head_attention`], [`linear`], [`layer_norm`] and [`dropout`].

use crate::context::Context;
use crate::functional::attention::{
    check_mask, check_projections, multi_head_attention, AttentionProjections,
};
use crate::functional::{dropout, gelu, layer_norm, linear, relu};
#[cfg(feature = "registry")]
use engram_autograd::case;
#[cfg(feature = "registry")]
use engram_autograd::registry::{real, GradcheckCase};
use engram_autograd::Var;
use engram_tensor::{shape_error, Float, Tensor};

/// The feed-forward block's activation, PyTorch's `activation=` ("relu" or "gelu").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Activation {
    /// ReLU, the default.
    #[default]
    Relu,
    /// GELU with the exact (erf) form, as PyTorch's `"gelu"`.
    Gelu,
}

/// The parameters of one encoder layer, as Vars of the step (see
/// [`crate::Context::param`]), under PyTorch's names: `E` is the model width, `F` the
/// feed-forward width.
#[derive(Clone, Copy, Debug)]
pub struct EncoderLayerWeights<'a, T: Float> {
    /// The self-attention's projections (`self_attn.*`).
    pub self_attn: AttentionProjections<'a, T>,
    /// `[F, E]`.
    pub linear1_weight: &'a Var<T>,
    /// `[F]`.
    pub linear1_bias: Option<&'a Var<T>>,
    /// `[E, F]`.
    pub linear2_weight: &'a Var<T>,
    /// `[E]`.
    pub linear2_bias: Option<&'a Var<T>>,
    /// `[E]`: the scale of the norm around the attention block.
    pub norm1_weight: Option<&'a Var<T>>,
    /// `[E]`: its shift.
    pub norm1_bias: Option<&'a Var<T>>,
    /// `[E]`: the scale of the norm around the feed-forward block.
    pub norm2_weight: Option<&'a Var<T>>,
    /// `[E]`: its shift.
    pub norm2_bias: Option<&'a Var<T>>,
}

/// The hyperparameters of [`transformer_encoder_layer`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EncoderLayerOptions {
    /// Attention heads; must divide `E`.
    pub num_heads: usize,
    /// The feed-forward activation.
    pub activation: Activation,
    /// The layer norms' epsilon.
    pub layer_norm_eps: f64,
    /// Pre-norm (`true`): each block reads the normalised input and adds to the raw one.
    pub norm_first: bool,
    /// The dropout probability on the attention weights, after attention, and inside and
    /// after the feed-forward block (training only).
    pub dropout: f64,
}

impl EncoderLayerOptions {
    /// `num_heads` heads, with PyTorch's other defaults: ReLU, `layer_norm_eps` 1e-5,
    /// post-norm, dropout 0.1.
    pub fn new(num_heads: usize) -> EncoderLayerOptions {
        EncoderLayerOptions {
            num_heads,
            activation: Activation::Relu,
            layer_norm_eps: 1e-5,
            norm_first: false,
            dropout: 0.1,
        }
    }
}

/// Panics unless the feed-forward and norm weights fit model width `e`.
#[track_caller]
fn check_weights<T: Float>(op: &str, e: usize, w: &EncoderLayerWeights<'_, T>) {
    let f = w.linear1_weight.shape().first().copied().unwrap_or(0);
    let wrong: Vec<String> = [
        ("linear1_weight", Some(w.linear1_weight), vec![f, e]),
        ("linear1_bias", w.linear1_bias, vec![f]),
        ("linear2_weight", Some(w.linear2_weight), vec![e, f]),
        ("linear2_bias", w.linear2_bias, vec![e]),
        ("norm1_weight", w.norm1_weight, vec![e]),
        ("norm1_bias", w.norm1_bias, vec![e]),
        ("norm2_weight", w.norm2_weight, vec![e]),
        ("norm2_bias", w.norm2_bias, vec![e]),
    ]
    .into_iter()
    .filter_map(|(what, var, want)| {
        var.filter(|v| v.shape() != want.as_slice())
            .map(|v| format!("{what} {:?}", v.shape()))
    })
    .collect();
    if !wrong.is_empty() {
        shape_error(
            op,
            format!(
                "for E = {e} and feed-forward width F = {f} (linear1_weight's rows) the weights \
                 must be linear1 [F, E] and [F], linear2 [E, F] and [E], norms [E]; got {}",
                wrong.join(", ")
            ),
        );
    }
}

/// One Transformer encoder layer, PyTorch's `nn.TransformerEncoderLayer` with
/// `batch_first=True`, on `src` `[B, L, E]`:
///
/// - post-norm (`norm_first = false`, PyTorch's default):
///   `x = norm1(src + sa(src))`, then `norm2(x + ff(x))`;
/// - pre-norm: `x = src + sa(norm1(src))`, then `x + ff(norm2(x))`;
///
/// where `sa` is [`multi_head_attention`] of `x` over itself under the additive `mask`
/// (broadcasting to `[B, heads, L, L]`) followed by dropout, and `ff` is
/// `dropout(linear2(dropout(activation(linear1(x)))))`. Dropout (also on the attention
/// weights) is active only when `cx` is training, drawing from `cx.rng()`. Returns
/// `[B, L, E]`.
///
/// ```
/// use engram_autograd::Tape;
/// use engram_nn::functional::{
///     transformer_encoder_layer, AttentionProjections, EncoderLayerOptions, EncoderLayerWeights,
/// };
/// use engram_nn::Context;
/// use engram_tensor::Tensor;
///
/// let cx = Context::<f64>::eval();
/// let (e, f) = (4, 6);
/// let leaf = |shape: &[usize]| {
///     let n = shape.iter().product::<usize>() as f64;
///     cx.tape().leaf(Tensor::arange(0.0, n, 1.0).reshape(shape).mul_scalar(0.1).sin())
/// };
/// let (in_proj, out_proj) = (leaf(&[3 * e, e]), leaf(&[e, e]));
/// let (linear1, linear2) = (leaf(&[f, e]), leaf(&[e, f]));
/// let weights = EncoderLayerWeights {
///     self_attn: AttentionProjections {
///         in_proj_weight: &in_proj,
///         in_proj_bias: None,
///         out_proj_weight: &out_proj,
///         out_proj_bias: None,
///     },
///     linear1_weight: &linear1,
///     linear1_bias: None,
///     linear2_weight: &linear2,
///     linear2_bias: None,
///     norm1_weight: None,
///     norm1_bias: None,
///     norm2_weight: None,
///     norm2_bias: None,
/// };
/// let src = leaf(&[2, 3, e]);
/// let y = transformer_encoder_layer(&cx, &src, &weights, &EncoderLayerOptions::new(2), None);
/// assert_eq!(y.shape(), &[2, 3, 4]);
/// // Post-norm without affine: every position comes out with mean 0.
/// assert!(y.value().mean_axes(&[-1]).to_vec().iter().all(|m| m.abs() < 1e-12));
/// ```
#[track_caller]
pub fn transformer_encoder_layer<T: Float>(
    cx: &Context<T>,
    src: &Var<T>,
    weights: &EncoderLayerWeights<'_, T>,
    options: &EncoderLayerOptions,
    mask: Option<&Tensor<T>>,
) -> Var<T> {
    let op = "transformer_encoder_layer";
    let s = src.shape();
    if s.len() != 3 {
        shape_error(op, format!("expected src [B, L, E], got {s:?}"));
    }
    let (b, l, e, h) = (s[0], s[1], s[2], options.num_heads);
    check_projections(op, e, h, &weights.self_attn);
    check_weights(op, e, weights);
    check_mask(op, mask, [b, h, l, l]);
    let p = options.dropout;
    if !(0.0..=1.0).contains(&p) {
        panic!("engram: `{op}`: the dropout probability must be in [0, 1], got {p}");
    }
    let w = weights;
    let norm = |x: &Var<T>, weight, bias| layer_norm(x, &[e], weight, bias, options.layer_norm_eps);
    let attend = |x: &Var<T>| {
        let (y, _) = if cx.is_training() && p > 0.0 {
            let mut rng = cx.rng();
            let rng = &mut *rng as &mut dyn rand::RngCore;
            multi_head_attention(x, x, x, h, &w.self_attn, mask, Some((p, rng)))
        } else {
            multi_head_attention(x, x, x, h, &w.self_attn, mask, None)
        };
        dropout(cx, &y, p)
    };
    let feed_forward = |x: &Var<T>| {
        let hidden = linear(x, w.linear1_weight, w.linear1_bias);
        let hidden = match options.activation {
            Activation::Relu => relu(&hidden),
            Activation::Gelu => gelu(&hidden),
        };
        let y = linear(&dropout(cx, &hidden, p), w.linear2_weight, w.linear2_bias);
        dropout(cx, &y, p)
    };
    if options.norm_first {
        let x = src.add(&attend(&norm(src, w.norm1_weight, w.norm1_bias)));
        x.add(&feed_forward(&norm(&x, w.norm2_weight, w.norm2_bias)))
    } else {
        let x = norm(&src.add(&attend(src)), w.norm1_weight, w.norm1_bias);
        norm(&x.add(&feed_forward(&x)), w.norm2_weight, w.norm2_bias)
    }
}

#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<GradcheckCase> {
    use crate::functional::attention::{additive_mask, causal_mask};
    /// Inputs `[src, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias,
    /// linear1_weight, linear1_bias, linear2_weight, linear2_bias, norm1_weight, norm1_bias,
    /// norm2_weight, norm2_bias]`, every one checked.
    fn layer<T: Float>(
        x: &[Var<T>],
        options: EncoderLayerOptions,
        mask: Option<&Tensor<T>>,
    ) -> Var<T> {
        let weights = EncoderLayerWeights {
            self_attn: AttentionProjections {
                in_proj_weight: &x[1],
                in_proj_bias: Some(&x[2]),
                out_proj_weight: &x[3],
                out_proj_bias: Some(&x[4]),
            },
            linear1_weight: &x[5],
            linear1_bias: Some(&x[6]),
            linear2_weight: &x[7],
            linear2_bias: Some(&x[8]),
            norm1_weight: Some(&x[9]),
            norm1_bias: Some(&x[10]),
            norm2_weight: Some(&x[11]),
            norm2_bias: Some(&x[12]),
        };
        // Evaluation: dropout is the identity, as the finite differences need.
        transformer_encoder_layer(&Context::eval(), &x[0], &weights, &options, mask)
    }
    // E = 4, 2 heads, L = 3, B = 2, feed-forward width 6.
    vec![
        case!("nn.transformer_encoder_layer", "post_norm_relu", [real(&[2, 3, 4]), real(&[12, 4]), real(&[12]), real(&[4, 4]), real(&[4]), real(&[6, 4]), real(&[6]), real(&[4, 6]), real(&[4]), real(&[4]), real(&[4]), real(&[4]), real(&[4])], second: true,
            |x| layer(x, EncoderLayerOptions::new(2), None)),
        case!("nn.transformer_encoder_layer", "pre_norm_gelu", [real(&[2, 3, 4]), real(&[12, 4]), real(&[12]), real(&[4, 4]), real(&[4]), real(&[6, 4]), real(&[6]), real(&[4, 6]), real(&[4]), real(&[4]), real(&[4]), real(&[4]), real(&[4])], second: true,
            |x| layer(x, EncoderLayerOptions { activation: Activation::Gelu, norm_first: true, ..EncoderLayerOptions::new(2) }, None)),
        case!("nn.transformer_encoder_layer", "post_norm_gelu_causal", [real(&[2, 3, 4]), real(&[12, 4]), real(&[12]), real(&[4, 4]), real(&[4]), real(&[6, 4]), real(&[6]), real(&[4, 6]), real(&[4]), real(&[4]), real(&[4]), real(&[4]), real(&[4])], second: true,
            |x| layer(x, EncoderLayerOptions { activation: Activation::Gelu, ..EncoderLayerOptions::new(2) }, Some(&additive_mask(&causal_mask(3))))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "linear2_weight [4, 5]")]
    fn transformer_encoder_layer_names_the_wrong_feed_forward_weight() {
        let zeros = |shape: &[usize]| Var::constant(Tensor::<f64>::zeros(shape));
        let (src, in_proj, out_proj) = (zeros(&[2, 3, 4]), zeros(&[12, 4]), zeros(&[4, 4]));
        let (linear1, linear2) = (zeros(&[6, 4]), zeros(&[4, 5]));
        let weights = EncoderLayerWeights {
            self_attn: AttentionProjections {
                in_proj_weight: &in_proj,
                in_proj_bias: None,
                out_proj_weight: &out_proj,
                out_proj_bias: None,
            },
            linear1_weight: &linear1,
            linear1_bias: None,
            linear2_weight: &linear2,
            linear2_bias: None,
            norm1_weight: None,
            norm1_bias: None,
            norm2_weight: None,
            norm2_bias: None,
        };
        let cx = Context::eval();
        transformer_encoder_layer(&cx, &src, &weights, &EncoderLayerOptions::new(2), None);
    }
}
