//! Matrix products in all their forms: `[.., m, k] @ [.., k, n] -> [.., m, n]`, with 1-d
//! operands as a row (left) or column (right) and batch dimensions broadcast.
//!
//! Rule, after promoting 1-d operands to matrices: `da = g @ bᵀ`, `db = aᵀ @ g`, each
//! summed over broadcast batch dimensions and reshaped back to its operand's shape.

use crate::operand::Operand;
use crate::ops::{InputGrads, Op};
use crate::tape::record;
use crate::var::Var;
use engram_tensor::{Float, Tensor};
use smallvec::smallvec;

pub(crate) fn vjp<T: Float, V: Operand<T>>(a: &V, b: &V, g: &V, needs: &[bool]) -> InputGrads<V> {
    let (sa, sb) = (a.value().shape().to_vec(), b.value().shape().to_vec());
    let a2 = if sa.len() == 1 {
        a.reshape(&[1, sa[0]])
    } else {
        a.clone()
    };
    let b2 = if sb.len() == 1 {
        b.reshape(&[sb[0], 1])
    } else {
        b.clone()
    };
    let gs = g.value().shape();
    let dropped = usize::from(sa.len() > 1) + usize::from(sb.len() > 1);
    let mut g_shape: Vec<usize> = gs[..gs.len() - dropped].to_vec();
    g_shape.push(if sa.len() > 1 { sa[sa.len() - 2] } else { 1 });
    g_shape.push(if sb.len() > 1 { sb[sb.len() - 1] } else { 1 });
    let g2 = g.reshape(&g_shape);
    smallvec![
        needs[0].then(|| {
            let da = if in_own_layout(a2.value(), &g_shape) {
                // (b gᵀ)ᵀ: the same product, laid out as `a` is (see `in_own_layout`).
                b2.matmul(&g2.transpose(-2, -1)).transpose(-2, -1)
            } else {
                g2.matmul(&b2.transpose(-2, -1))
            };
            to_shape(da.sum_to_shape(a2.value().shape()), &sa)
        }),
        needs[1].then(|| {
            let (k, n) = (
                a2.value().shape()[a2.value().rank() - 1],
                g_shape[g_shape.len() - 1],
            );
            let db = if sb.len() == 2 && sa.len() > 2 {
                // A matrix applied to a batch (a linear layer on a sequence): one product
                // over the flattened batch, instead of one per batch entry and their sum.
                let rows = g2.value().numel() / n.max(1);
                let (a_flat, g_flat) = (a2.reshape(&[rows, k]), g2.reshape(&[rows, n]));
                flat_weight_gradient(&a_flat, &g_flat, b2.value())
            } else if in_own_layout(b2.value(), &g_shape) {
                flat_weight_gradient(&a2, &g2, b2.value())
            } else {
                a2.transpose(-2, -1).matmul(&g2)
            };
            to_shape(db.sum_to_shape(b2.value().shape()), &sb)
        })
    ]
}

/// The rule of `a @ b + bias`: the product's rule for `a` and `b`, and for the bias the
/// gradient summed over every axis but the last (as an addition's rule sums a
/// broadcast operand's).
pub(crate) fn bias_vjp<T: Float, V: Operand<T>>(x: &[&V], g: &V, needs: &[bool]) -> InputGrads<V> {
    let mut grads = vjp(x[0], x[1], g, &needs[..2]);
    grads.push(needs[2].then(|| g.sum_to_shape(x[2].value().shape())));
    grads
}

/// `v` in `shape`; unchanged (a view keeps its layout) when it has that shape already,
/// where a reshape would copy a transposed gradient into row-major order.
fn to_shape<T: Float, V: Operand<T>>(v: V, shape: &[usize]) -> V {
    if v.value().shape() == shape {
        v
    } else {
        v.reshape(shape)
    }
}

/// `aᵀ g`, computed as `(gᵀ a)ᵀ` when `b` is stored transposed, so that its gradient has
/// `b`'s own layout (see [`in_own_layout`]).
fn flat_weight_gradient<T: Float, V: Operand<T>>(a: &V, g: &V, b: &Tensor<T>) -> V {
    if column_major(b) {
        g.transpose(-2, -1).matmul(a).transpose(-2, -1)
    } else {
        a.transpose(-2, -1).matmul(g)
    }
}

/// True when an operand is a transposed view (a linear layer's `w.t()`) and its gradient
/// needs no sum over broadcast batch axes (its batch shape is the output's). Its gradient is then computed as the transpose of a contiguous product,
/// which the transpose's own vjp turns back into a contiguous gradient for the stored
/// weight: the optimizer then updates it in place instead of copying a strided view
/// every step.
fn in_own_layout<T: Float>(x: &Tensor<T>, out_shape: &[usize]) -> bool {
    column_major(x) && x.shape()[..x.rank() - 2] == out_shape[..out_shape.len() - 2]
}

/// The last two axes are stored column by column: a transposed contiguous matrix.
fn column_major<T: Float>(x: &Tensor<T>) -> bool {
    let (shape, strides) = (x.shape(), x.strides());
    let r = shape.len();
    r >= 2
        && shape[r - 2] > 1
        && shape[r - 1] > 1
        && strides[r - 2] == 1
        && strides[r - 1] == shape[r - 2]
}

impl<T: Float> Var<T> {
    /// Matrix product with NumPy's `matmul` rules (see [`engram_tensor::Tensor::matmul`]).
    #[track_caller]
    pub fn matmul(&self, other: &Var<T>) -> Var<T> {
        let value = self.value().matmul(other.value());
        record(Op::Matmul, &[self, other], value)
    }

    /// `self @ other + bias`, with `bias` a vector along the product's last axis: a
    /// linear layer (see [`engram_tensor::Tensor::matmul_bias`]). One node, so the tape
    /// keeps one value where the product and the sum would keep two; the same numbers and
    /// gradients as `self.matmul(other) + bias`.
    #[track_caller]
    pub fn matmul_bias(&self, other: &Var<T>, bias: &Var<T>) -> Var<T> {
        let value = self.value().matmul_bias(other.value(), bias.value());
        record(Op::MatmulBias, &[self, other, bias], value)
    }
}

/// Gradcheck entries for this family.
#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<crate::registry::GradcheckCase> {
    use crate::case;
    use crate::registry::real;
    vec![
        case!("matmul", "vec_vec", [real(&[4]), real(&[4])], second: true, |x| x[0].matmul(&x[1])),
        case!("matmul", "mat_vec", [real(&[3, 4]), real(&[4])], second: true, |x| x[0].matmul(&x[1])),
        case!("matmul", "vec_mat", [real(&[4]), real(&[4, 2])], second: true, |x| x[0].matmul(&x[1])),
        case!("matmul", "mat_mat", [real(&[3, 4]), real(&[4, 2])], second: true, |x| x[0].matmul(&x[1])),
        case!("matmul", "transposed", [real(&[3, 4]).transposed(), real(&[4, 2]).transposed()], second: true, |x| x[0].matmul(&x[1])),
        case!("matmul", "batch_broadcast", [real(&[2, 1, 3, 4]), real(&[3, 4, 2])], second: true, |x| x[0].matmul(&x[1])),
        case!("matmul", "batch_vec", [real(&[2, 3, 4]), real(&[4])], second: true, |x| x[0].matmul(&x[1])),
        case!("matmul", "size1", [real(&[1, 1]), real(&[1, 3])], second: true, |x| x[0].matmul(&x[1])),
        case!("matmul", "square_of_product", [real(&[3, 3])], second: true, |x| x[0].matmul(&x[0]).matmul(&x[0].t())),
        case!("matmul", "empty", [real(&[0, 3, 4]), real(&[4, 2])], second: true, |x| x[0].matmul(&x[1])),
        case!("matmul", "empty_inner", [real(&[3, 0]), real(&[0, 2])], second: true, |x| x[0].matmul(&x[1])),
        case!("matmul_bias", "mat_mat", [real(&[3, 4]), real(&[4, 2]), real(&[2])], second: true, |x| x[0].matmul_bias(&x[1], &x[2])),
        case!("matmul_bias", "linear_layer", [real(&[5, 4]), real(&[3, 4]), real(&[3])], second: true, |x| x[0].matmul_bias(&x[1].t(), &x[2])),
        case!("matmul_bias", "sequence", [real(&[2, 3, 4]), real(&[4, 2]).transposed(), real(&[2])], second: true, |x| x[0].matmul_bias(&x[1], &x[2])),
        case!("matmul_bias", "vec_mat", [real(&[4]), real(&[4, 2]), real(&[2])], second: true, |x| x[0].matmul_bias(&x[1], &x[2])),
        case!("matmul_bias", "empty", [real(&[0, 4]), real(&[4, 2]), real(&[2])], second: true, |x| x[0].matmul_bias(&x[1], &x[2])),
    ]
}
