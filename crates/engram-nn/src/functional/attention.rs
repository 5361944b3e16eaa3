//! Scaled dot-product attention, and the masks it takes.
//!
//! Masks are additive: `0` where a query may attend to a key, `-∞` where it may not (a
//! boolean mask, `true` = ignore, becomes that). A query row whose every key is masked
//! gets zero attention weights and a zero output — with zero, not NaN, gradients — so a
//! fully padded sequence in a batch cannot poison a training step. PyTorch's
//! `nn.MultiheadAttention` gives NaN there; its `F.scaled_dot_product_attention` gives
//! zeros, as here.

use crate::context::Context;
#[cfg(feature = "registry")]
use engram_autograd::case;
#[cfg(feature = "registry")]
use engram_autograd::registry::{real, GradcheckCase};
use engram_autograd::Var;
use engram_tensor::{Float, Tensor};
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
        if engram_tensor::try_broadcast_shapes(mask.shape(), &shape)
            .is_none_or(|s| s[..] != shape[..])
        {
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

/// Inverted dropout with the context's generator, the identity outside training.
// The shared `functional::dropout` of the feed-forward layers replaces this once merged.
pub(crate) fn dropout<T: Float>(cx: &Context<T>, x: &Var<T>, p: f64) -> Var<T> {
    if !cx.is_training() || p == 0.0 {
        return x.clone();
    }
    let mask = dropout_mask(x.shape(), p, &mut *cx.rng());
    x.mul(&Var::constant(mask))
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
    vec![
        case!("scaled_dot_product_attention", "no_mask", [real(&[2, 3, 4]), real(&[2, 5, 4]), real(&[2, 5, 2])], second: true,
            |x| { let (o, w) = scaled_dot_product_attention(&x[0], &x[1], &x[2], None, None); o.sum().add(&w.square().sum()) }),
        case!("scaled_dot_product_attention", "causal_heads", [real(&[2, 2, 3, 2]), real(&[2, 2, 3, 2]), real(&[2, 2, 3, 2])], second: true,
            |x| scaled_dot_product_attention(&x[0], &x[1], &x[2], Some(&causal(3)), None).0),
        case!("scaled_dot_product_attention", "fully_masked_row", [real(&[2, 3, 2]), real(&[2, 3, 2]), real(&[2, 3, 2])], second: true,
            |x| scaled_dot_product_attention(&x[0], &x[1], &x[2], Some(&padded()), None).0),
    ]
}
