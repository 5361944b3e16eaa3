//! Matrix products in all their forms: `[.., m, k] @ [.., k, n] -> [.., m, n]`, with 1-d
//! operands as a row (left) or column (right) and batch dimensions broadcast.
//!
//! Rule, after promoting 1-d operands to matrices: `da = g @ bᵀ`, `db = aᵀ @ g`, each
//! summed over broadcast batch dimensions and reshaped back to its operand's shape.

use crate::operand::Operand;
use crate::ops::{InputGrads, Op};
use crate::tape::record;
use crate::var::Var;
use engram_tensor::Float;
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
        needs[0].then(|| g2
            .matmul(&b2.transpose(-2, -1))
            .sum_to_shape(a2.value().shape())
            .reshape(&sa)),
        needs[1].then(|| a2
            .transpose(-2, -1)
            .matmul(&g2)
            .sum_to_shape(b2.value().shape())
            .reshape(&sb))
    ]
}

impl<T: Float> Var<T> {
    /// Matrix product with NumPy's `matmul` rules (see [`engram_tensor::Tensor::matmul`]).
    #[track_caller]
    pub fn matmul(&self, other: &Var<T>) -> Var<T> {
        let value = self.value().matmul(other.value());
        record(Op::Matmul, &[self, other], value)
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
    ]
}
