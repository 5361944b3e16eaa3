//! Scaled dot-product attention, multi-head attention, and the masks they take.
//!
//! Masks are additive: `0` where a query may attend to a key, `-∞` where it may not (a
//! boolean mask, `true` = ignore, becomes that). A query row whose every key is masked
//! gets zero attention weights and a zero output — with zero, not NaN, gradients — so a
//! fully padded sequence in a batch cannot poison a training step. PyTorch's
//! `nn.MultiheadAttention` gives NaN there; its `F.scaled_dot_product_attention` gives
//! zeros, as here.

use crate::functional::linear;
#[cfg(feature = "registry")]
use engram_autograd::case;
#[cfg(feature = "registry")]
use engram_autograd::registry::{real, GradcheckCase};
use engram_autograd::Var;
use engram_tensor::{shape_error, try_broadcast_shapes, Float, Tensor};
use rand::Rng;

/// A `[len, len]` causal mask, `true` above the diagonal: position `i` may attend to
/// positions `0..=i` only (PyTorch's `nn.Transformer.generate_square_subsequent_mask`,
/// as a boolean mask).
pub fn causal_mask(len: usize) -> Tensor<bool> {
    let data = (0..len * len).map(|i| i % len > i / len).collect();
    Tensor::from_vec(data, &[len, len])
}

/// A boolean mask (`true` = ignore) as an additive one: `-∞` where `true`, else 0.
pub fn additive_mask<T: Float>(mask: &Tensor<bool>) -> Tensor<T> {
    mask.map(|m| if m { T::neg_infinity() } else { T::zero() })
}

/// Attention `softmax(q kᵀ / √d + mask) v`, PyTorch's `F.scaled_dot_product_attention`:
/// `q` `[.., L, d]`, `k` `[.., S, d]`, `v` `[.., S, dv]`, and an additive `mask`
/// broadcasting to `[.., L, S]`. With `dropout = Some((p, rng))` the attention weights are
/// dropped with probability `p` and the rest scaled by `1 / (1 - p)` (training only: the
/// caller decides). Returns the output `[.., L, dv]` and the weights `[.., L, S]`.
#[track_caller]
pub fn scaled_dot_product_attention<T: Float>(
    q: &Var<T>,
    k: &Var<T>,
    v: &Var<T>,
    mask: Option<&Tensor<T>>,
    dropout: Option<(f64, &mut dyn rand::RngCore)>,
) -> (Var<T>, Var<T>) {
    let (qs, ks, vs) = (q.shape(), k.shape(), v.shape());
    let r = qs.len();
    if r < 2 || ks.len() != r || vs.len() != r || qs[r - 1] != ks[r - 1] || ks[r - 2] != vs[r - 2] {
        panic!(
            "engram: `scaled_dot_product_attention`: needs q [.., L, d], k [.., S, d], v \
             [.., S, dv] of one rank; got q {qs:?}, k {ks:?}, v {vs:?}"
        );
    }
    let scale = T::of(1.0 / (qs[r - 1] as f64).sqrt());
    let mut scores = q.mul_scalar(scale).matmul(&k.transpose(-2, -1));
    let mut dead_rows = None;
    if let Some(mask) = mask {
        let shape = scores.shape().to_vec();
        if try_broadcast_shapes(mask.shape(), &shape).is_none_or(|s| s[..] != shape[..]) {
            panic!(
                "engram: `scaled_dot_product_attention`: mask of shape {:?} does not broadcast \
                 to the attention scores' shape {shape:?} ([.., L, S])",
                mask.shape()
            );
        }
        scores = scores.add(&Var::constant(mask.clone()));
        let masked = mask.map(|m| {
            if m == T::neg_infinity() {
                T::one()
            } else {
                T::zero()
            }
        });
        let all_masked = masked.broadcast_to(&shape).min_keepdim(&[-1]);
        if all_masked.max().item() > T::zero() {
            dead_rows = Some(all_masked.map(|m| m > T::zero()));
        }
    }
    let zero = Var::constant(Tensor::scalar(T::zero()));
    let weights = match &dead_rows {
        // Softmax over a row of -∞ is NaN: give it zeros first, and zero its weights after.
        Some(dead) => Var::where_cond(
            dead,
            &zero,
            Var::where_cond(dead, &zero, &scores).softmax(-1),
        ),
        None => scores.softmax(-1),
    };
    let dropped = match dropout {
        Some((p, rng)) if p > 0.0 => {
            weights.mul(&Var::constant(dropout_mask(weights.shape(), p, rng)))
        }
        _ => weights.clone(),
    };
    (dropped.matmul(v), weights)
}

/// Inverted dropout's multiplier: 0 with probability `p`, else `1 / (1 - p)`.
fn dropout_mask<T: Float>(shape: &[usize], p: f64, rng: &mut dyn rand::RngCore) -> Tensor<T> {
    if !(0.0..1.0).contains(&p) {
        panic!("engram: `dropout`: probability must be in [0, 1), got {p}");
    }
    let keep = T::of(1.0 / (1.0 - p));
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            if rng.gen::<f64>() < p {
                T::zero()
            } else {
                keep
            }
        })
        .collect();
    Tensor::from_vec(data, shape)
}

/// The parameters of multi-head attention, as Vars of the step (see
/// [`crate::Context::param`]): the query, key and value projections stacked in one matrix,
/// as PyTorch's `in_proj_weight`, and the output projection.
#[derive(Clone, Copy, Debug)]
pub struct AttentionProjections<'a, T: Float> {
    /// `[3E, E]`: the query, key and value projections' weights, stacked in that order.
    pub in_proj_weight: &'a Var<T>,
    /// `[3E]`: their biases, stacked likewise.
    pub in_proj_bias: Option<&'a Var<T>>,
    /// `[E, E]`: the output projection's weight.
    pub out_proj_weight: &'a Var<T>,
    /// `[E]`: the output projection's bias.
    pub out_proj_bias: Option<&'a Var<T>>,
}

/// Panics unless `projections` fit embedding size `e` split over `num_heads` heads.
#[track_caller]
pub(crate) fn check_projections<T: Float>(
    op: &str,
    e: usize,
    num_heads: usize,
    projections: &AttentionProjections<'_, T>,
) {
    if num_heads == 0 || !e.is_multiple_of(num_heads) {
        shape_error(
            op,
            format!("the embedding size E = {e} must be divisible by num_heads = {num_heads}"),
        );
    }
    let p = projections;
    let wrong: Vec<String> = [
        ("in_proj_weight", Some(p.in_proj_weight), vec![3 * e, e]),
        ("in_proj_bias", p.in_proj_bias, vec![3 * e]),
        ("out_proj_weight", Some(p.out_proj_weight), vec![e, e]),
        ("out_proj_bias", p.out_proj_bias, vec![e]),
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
                "for E = {e} the projections must be in_proj_weight [{}, {e}], in_proj_bias \
                 [{}], out_proj_weight [{e}, {e}], out_proj_bias [{e}]; got {}",
                3 * e,
                3 * e,
                wrong.join(", ")
            ),
        );
    }
}

/// Panics unless the additive `mask` broadcasts to the attention scores `[B, heads, L, S]`.
#[track_caller]
pub(crate) fn check_mask<T: Float>(op: &str, mask: Option<&Tensor<T>>, scores: [usize; 4]) {
    if let Some(mask) = mask {
        if try_broadcast_shapes(mask.shape(), &scores).is_none_or(|s| s[..] != scores[..]) {
            shape_error(
                op,
                format!(
                    "the mask {:?} does not broadcast to the attention scores [B, heads, L, S] \
                     = {scores:?}",
                    mask.shape()
                ),
            );
        }
    }
}

/// Multi-head attention, PyTorch's `F.multi_head_attention_forward` in batch-first layout
/// (with `kdim = vdim = E`, no `bias_k`/`bias_v`, no zero attention):
///
/// - `query` `[B, L, E]`, `key` and `value` `[B, S, E]` are projected by the three
///   `[E, E]` blocks of `in_proj_weight` (and `in_proj_bias`) and split into `num_heads`
///   heads of `E / num_heads` features;
/// - each head attends with [`scaled_dot_product_attention`], under the additive `mask`
///   (broadcasting to `[B, heads, L, S]`; `-∞` forbids) and, with `dropout = Some((p,
///   rng))`, dropout on its attention weights (training only: the caller decides);
/// - the heads are concatenated and projected by `out_proj_weight` (and `out_proj_bias`).
///
/// Returns the output `[B, L, E]` and the attention weights of every head
/// `[B, heads, L, S]` (before dropout).
///
/// ```
/// use engram_autograd::Tape;
/// use engram_nn::functional::{additive_mask, causal_mask, multi_head_attention, AttentionProjections};
/// use engram_tensor::Tensor;
///
/// let tape = Tape::<f64>::new();
/// let x = tape.leaf(Tensor::arange(0.0, 24.0, 1.0).reshape(&[2, 3, 4]).mul_scalar(0.1));
/// let in_proj = tape.leaf(Tensor::arange(0.0, 48.0, 1.0).reshape(&[12, 4]).mul_scalar(0.01));
/// let out_proj = tape.leaf(Tensor::eye(4));
/// let projections = AttentionProjections {
///     in_proj_weight: &in_proj,
///     in_proj_bias: None,
///     out_proj_weight: &out_proj,
///     out_proj_bias: None,
/// };
/// let mask = additive_mask(&causal_mask(3)); // [L, S] broadcasts over batch and heads
/// let (out, weights) = multi_head_attention(&x, &x, &x, 2, &projections, Some(&mask), None);
/// assert_eq!(out.shape(), &[2, 3, 4]);
/// assert_eq!(weights.shape(), &[2, 2, 3, 3]);
/// // The first query may attend to the first key only.
/// assert_eq!(weights.value().narrow(2, 0, 1).sum().item(), 4.0);
/// ```
#[track_caller]
pub fn multi_head_attention<T: Float>(
    query: &Var<T>,
    key: &Var<T>,
    value: &Var<T>,
    num_heads: usize,
    projections: &AttentionProjections<'_, T>,
    mask: Option<&Tensor<T>>,
    dropout: Option<(f64, &mut dyn rand::RngCore)>,
) -> (Var<T>, Var<T>) {
    let op = "multi_head_attention";
    let (qs, ks, vs) = (query.shape(), key.shape(), value.shape());
    if qs.len() != 3 || ks.len() != 3 || vs != ks || ks[0] != qs[0] || ks[2] != qs[2] {
        shape_error(
            op,
            format!(
                "expected query [B, L, E] and key, value [B, S, E] (key and value of one \
                 shape); got query {qs:?}, key {ks:?}, value {vs:?}"
            ),
        );
    }
    let (b, l, s, e, h) = (qs[0], qs[1], ks[1], qs[2], num_heads);
    check_projections(op, e, h, projections);
    check_mask(op, mask, [b, h, l, s]);
    let p = projections;
    // Block `i` of the input projection, split into heads: [B, len, E] -> [B, h, len, E/h].
    let project = |x: &Var<T>, i: usize, len: usize| {
        let weight = p.in_proj_weight.narrow(0, i * e, e);
        let bias = p.in_proj_bias.map(|bias| bias.narrow(0, i * e, e));
        linear(x, &weight, bias.as_ref())
            .reshape(&[b, len, h, e / h])
            .permute(&[0, 2, 1, 3])
    };
    let (out, weights) = scaled_dot_product_attention(
        &project(query, 0, l),
        &project(key, 1, s),
        &project(value, 2, s),
        mask,
        dropout,
    );
    let heads = out.permute(&[0, 2, 1, 3]).reshape(&[b, l, e]);
    let out = linear(&heads, p.out_proj_weight, p.out_proj_bias);
    (out, weights)
}

#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<GradcheckCase> {
    fn causal<T: Float>(len: usize) -> Tensor<T> {
        additive_mask(&causal_mask(len))
    }
    /// Batch 0: the last query may attend to nothing; batch 1: key 2 is padding.
    fn padded<T: Float>() -> Tensor<T> {
        let data = (0..18)
            .map(|i| {
                let (b, q, k) = (i / 9, i / 3 % 3, i % 3);
                let masked = (b == 0 && q == 2) || (b == 1 && k == 2);
                if masked {
                    T::neg_infinity()
                } else {
                    T::zero()
                }
            })
            .collect();
        Tensor::from_vec(data, &[2, 3, 3])
    }
    /// `[B, 1, 1, S]` = `[2, 1, 1, 5]`: batch 1's last two keys are padding.
    fn key_padding<T: Float>() -> Tensor<T> {
        let data = (0..10)
            .map(|i| if i >= 8 { T::neg_infinity() } else { T::zero() })
            .collect();
        Tensor::from_vec(data, &[2, 1, 1, 5])
    }
    /// Inputs `[x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias]`.
    fn with_biases<T: Float>(x: &[Var<T>]) -> AttentionProjections<'_, T> {
        AttentionProjections {
            in_proj_weight: &x[1],
            in_proj_bias: Some(&x[2]),
            out_proj_weight: &x[3],
            out_proj_bias: Some(&x[4]),
        }
    }
    /// The output and the weights, flattened into one Var so both are checked.
    fn both<T: Float>((out, weights): (Var<T>, Var<T>)) -> Var<T> {
        Var::concat(&[&out.flatten(), &weights.flatten()], 0)
    }
    vec![
        case!("nn.multi_head_attention", "self_no_mask", [real(&[2, 3, 4]), real(&[12, 4]), real(&[12]), real(&[4, 4]), real(&[4])], second: true,
            |x| both(multi_head_attention(&x[0], &x[0], &x[0], 2, &with_biases(x), None, None))),
        case!("nn.multi_head_attention", "cross_padding_no_bias", [real(&[2, 3, 4]), real(&[2, 5, 4]), real(&[2, 5, 4]), real(&[12, 4]), real(&[4, 4])], second: true,
        |x| {
            let projections = AttentionProjections { in_proj_weight: &x[3], in_proj_bias: None, out_proj_weight: &x[4], out_proj_bias: None };
            both(multi_head_attention(&x[0], &x[1], &x[2], 2, &projections, Some(&key_padding()), None))
        }),
        case!("nn.multi_head_attention", "one_head_causal", [real(&[2, 3, 4]), real(&[12, 4]), real(&[12]), real(&[4, 4]), real(&[4])], second: true,
            |x| both(multi_head_attention(&x[0], &x[0], &x[0], 1, &with_biases(x), Some(&causal(3)), None))),
        case!("scaled_dot_product_attention", "no_mask", [real(&[2, 3, 4]), real(&[2, 5, 4]), real(&[2, 5, 2])], second: true,
            |x| { let (o, w) = scaled_dot_product_attention(&x[0], &x[1], &x[2], None, None); o.sum().add(&w.square().sum()) }),
        case!("scaled_dot_product_attention", "causal_heads", [real(&[2, 2, 3, 2]), real(&[2, 2, 3, 2]), real(&[2, 2, 3, 2])], second: true,
            |x| scaled_dot_product_attention(&x[0], &x[1], &x[2], Some(&causal(3)), None).0),
        case!("scaled_dot_product_attention", "fully_masked_row", [real(&[2, 3, 2]), real(&[2, 3, 2]), real(&[2, 3, 2])], second: true,
            |x| scaled_dot_product_attention(&x[0], &x[1], &x[2], Some(&padded()), None).0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_tensor::Tensor;

    fn zeros(shape: &[usize]) -> Var<f64> {
        Var::constant(Tensor::zeros(shape))
    }

    #[test]
    #[should_panic(expected = "in_proj_weight [8, 4], out_proj_bias [3]")]
    fn multi_head_attention_names_every_wrong_projection() {
        let (x, in_proj, out_proj, out_bias) = (
            zeros(&[2, 3, 4]),
            zeros(&[8, 4]),
            zeros(&[4, 4]),
            zeros(&[3]),
        );
        let projections = AttentionProjections {
            in_proj_weight: &in_proj,
            in_proj_bias: None,
            out_proj_weight: &out_proj,
            out_proj_bias: Some(&out_bias),
        };
        multi_head_attention(&x, &x, &x, 2, &projections, None, None);
    }

    #[test]
    #[should_panic(expected = "E = 4 must be divisible by num_heads = 3")]
    fn multi_head_attention_refuses_heads_that_do_not_divide_the_width() {
        let (x, in_proj, out_proj) = (zeros(&[2, 3, 4]), zeros(&[12, 4]), zeros(&[4, 4]));
        let projections = AttentionProjections {
            in_proj_weight: &in_proj,
            in_proj_bias: None,
            out_proj_weight: &out_proj,
            out_proj_bias: None,
        };
        multi_head_attention(&x, &x, &x, 3, &projections, None, None);
    }

    #[test]
    #[should_panic(
        expected = "does not broadcast to the attention scores [B, heads, L, S] = [2, 2, 3, 5]"
    )]
    fn multi_head_attention_checks_the_mask_against_the_scores() {
        let (q, kv, in_proj, out_proj) = (
            zeros(&[2, 3, 4]),
            zeros(&[2, 5, 4]),
            zeros(&[12, 4]),
            zeros(&[4, 4]),
        );
        let projections = AttentionProjections {
            in_proj_weight: &in_proj,
            in_proj_bias: None,
            out_proj_weight: &out_proj,
            out_proj_bias: None,
        };
        let mask = Tensor::zeros(&[3, 3]);
        multi_head_attention(&q, &kv, &kv, 2, &projections, Some(&mask), None);
    }
}
