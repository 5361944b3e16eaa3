//! Masks: comparisons that make them (`gt`, `eq`, ...), ops that use them (`where_cond`,
//! `masked_fill`, `tril`/`triu`), and logic on them.
//!
//! A causal attention mask is one line:
//!
//! ```
//! use engram_tensor::Tensor;
//! let scores = Tensor::<f32>::zeros(&[2, 3, 3]); // [batch, query, key]
//! let causal = Tensor::tril_mask(3, 3, 0); // query i may see keys 0..=i
//! let weights = scores.masked_fill(&causal.logical_not(), f32::NEG_INFINITY).softmax(-1);
//! assert_eq!(weights.select(0, 0).to_vec(), vec![1.0, 0.0, 0.0, 0.5, 0.5, 0.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]);
//! ```

use crate::element::{Element, Float};
use crate::elementwise::zip_map;
use crate::parallel::fill_chunked;
use crate::shape::{broadcast_shapes, shape_error};
use crate::strided::Walk;
use crate::tensor::Tensor;

/// The other side of an elementwise op: a tensor, which broadcasts as in NumPy, or a
/// scalar. It lets `x.gt(&y)`, `x.gt(y)` and `x.gt(0.5)` all read as they do in NumPy.
pub trait IntoTensor<T: Element> {
    /// The value as a tensor; a scalar becomes a 0-d tensor, which broadcasts to any shape.
    fn into_tensor(self) -> Tensor<T>;
}

impl<T: Element> IntoTensor<T> for T {
    fn into_tensor(self) -> Tensor<T> {
        Tensor::scalar(self)
    }
}

impl<T: Element> IntoTensor<T> for Tensor<T> {
    fn into_tensor(self) -> Tensor<T> {
        self
    }
}

impl<T: Element> IntoTensor<T> for &Tensor<T> {
    fn into_tensor(self) -> Tensor<T> {
        self.clone()
    }
}

macro_rules! comparisons {
    ($($(#[$doc:meta])* $name:ident => |$a:ident, $b:ident| $body:expr;)*) => {
        impl<T: Float> Tensor<T> {
            $(
                $(#[$doc])*
                #[track_caller]
                pub fn $name(&self, other: impl IntoTensor<T>) -> Tensor<bool> {
                    zip_map(stringify!($name), self, &other.into_tensor(), |$a: T, $b: T| $body)
                }
            )*
        }
    };
}

comparisons! {
    /// Mask of `self > other`; `other` is a tensor (broadcast) or a scalar.
    gt => |a, b| a > b;
    /// Mask of `self >= other`; `other` is a tensor (broadcast) or a scalar.
    ge => |a, b| a >= b;
    /// Mask of `self < other`; `other` is a tensor (broadcast) or a scalar.
    lt => |a, b| a < b;
    /// Mask of `self <= other`; `other` is a tensor (broadcast) or a scalar.
    le => |a, b| a <= b;
    /// Mask of `self == other` (PyTorch's `eq`; NaN equals nothing); `other` is a tensor
    /// (broadcast) or a scalar.
    eq => |a, b| a == b;
    /// Mask of `self != other` (PyTorch's `ne`; NaN differs from everything); `other` is a
    /// tensor (broadcast) or a scalar.
    ne => |a, b| a != b;
}

impl<T: Float> Tensor<T> {
    /// NumPy's name for [`Tensor::eq`].
    #[track_caller]
    pub fn equal(&self, other: impl IntoTensor<T>) -> Tensor<bool> {
        self.eq(other)
    }

    /// NumPy's name for [`Tensor::ne`].
    #[track_caller]
    pub fn not_equal(&self, other: impl IntoTensor<T>) -> Tensor<bool> {
        self.ne(other)
    }
}

/// Panics unless `mask` broadcasts to exactly `shape` (the mask may not grow the result).
#[track_caller]
fn check_mask(op: &str, mask: &[usize], shape: &[usize]) {
    if &broadcast_shapes(op, mask, shape)[..] != shape {
        shape_error(
            op,
            format!("the mask {mask:?} must broadcast to the tensor's shape {shape:?}"),
        );
    }
}

#[track_caller]
fn matrix_dims(op: &str, shape: &[usize]) -> (usize, usize) {
    match shape {
        [.., rows, cols] => (*rows, *cols),
        _ => shape_error(
            op,
            format!(
                "needs at least 2 dimensions (the matrix is the last two), got shape {shape:?}"
            ),
        ),
    }
}

impl<T: Element> Tensor<T> {
    /// Picks `on_true` where `mask` is true, else `on_false`, as `jnp.where` / `torch.where`;
    /// all three broadcast together. Either branch may be a tensor or a scalar.
    #[track_caller]
    pub fn where_cond(
        mask: &Tensor<bool>,
        on_true: impl IntoTensor<T>,
        on_false: impl IntoTensor<T>,
    ) -> Tensor<T> {
        let (on_true, on_false) = (on_true.into_tensor(), on_false.into_tensor());
        let shape = broadcast_shapes("where_cond", mask.shape(), on_true.shape());
        let shape = broadcast_shapes("where_cond", &shape, on_false.shape());
        let (m, a, b) = (
            mask.broadcast_to(&shape),
            on_true.broadcast_to(&shape),
            on_false.broadcast_to(&shape),
        );
        let walk = Walk::new(
            &shape,
            [m.strides(), a.strides(), b.strides()],
            [m.offset, a.offset, b.offset],
        );
        let steps = walk.inner_strides();
        let (dm, da, db) = (m.data(), a.data(), b.data());
        let mut out = crate::buffer_pool::full(walk.len(), T::default());
        fill_chunked(&mut out, |start, chunk| {
            walk.for_each_run(start, chunk.len(), |o, pos, run| {
                for (i, d) in chunk[pos - start..pos - start + run].iter_mut().enumerate() {
                    let pick = dm[o[0] + i * steps[0]];
                    *d = if pick {
                        da[o[1] + i * steps[1]]
                    } else {
                        db[o[2] + i * steps[2]]
                    };
                }
            });
        });
        Tensor::from_pooled(out, &shape)
    }

    /// `self` with `value` wherever `mask` is true, as PyTorch's `masked_fill`. The mask
    /// broadcasts to `self`'s shape (a `[n, n]` mask serves `[batch, heads, n, n]` scores).
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor<bool>, value: T) -> Tensor<T> {
        check_mask("masked_fill", mask.shape(), self.shape());
        Tensor::where_cond(mask, value, self)
    }

    /// The lower triangle of the last two axes: element `(i, j)` is kept where
    /// `j - i <= k` and zeroed (false, for masks) above. `k = 0` keeps the main diagonal,
    /// `k = -1` drops it. As `torch.tril`.
    #[track_caller]
    pub fn tril(&self, k: isize) -> Tensor<T> {
        let (rows, cols) = matrix_dims("tril", self.shape());
        Tensor::where_cond(&Tensor::tril_mask(rows, cols, k), self, T::default())
    }

    /// The upper triangle of the last two axes: element `(i, j)` is kept where
    /// `j - i >= k` and zeroed below. As `torch.triu`.
    #[track_caller]
    pub fn triu(&self, k: isize) -> Tensor<T> {
        let (rows, cols) = matrix_dims("triu", self.shape());
        Tensor::where_cond(&Tensor::triu_mask(rows, cols, k), self, T::default())
    }
}

impl Tensor<bool> {
    /// The `[rows, cols]` mask that is true where `j - i <= k` (NumPy's `tri`). With
    /// `k = 0` on a square matrix it is the causal mask: position `i` sees `0..=i`.
    pub fn tril_mask(rows: usize, cols: usize, k: isize) -> Tensor<bool> {
        let data = (0..rows)
            .flat_map(|i| (0..cols).map(move |j| j as isize - i as isize <= k))
            .collect();
        Tensor::from_vec(data, &[rows, cols])
    }

    /// The `[rows, cols]` mask that is true where `j - i >= k`.
    pub fn triu_mask(rows: usize, cols: usize, k: isize) -> Tensor<bool> {
        Tensor::tril_mask(rows, cols, k - 1).logical_not()
    }

    /// The mask as 0.0 / 1.0 floats.
    pub fn to_float<T: Float>(&self) -> Tensor<T> {
        self.map(|b| if b { T::one() } else { T::zero() })
    }

    /// Elementwise logical not (also the `!` operator).
    pub fn logical_not(&self) -> Tensor<bool> {
        self.map(|b| !b)
    }

    /// Elementwise logical and, with broadcasting.
    #[track_caller]
    pub fn logical_and(&self, other: &Tensor<bool>) -> Tensor<bool> {
        zip_map("logical_and", self, other, |a, b| a && b)
    }

    /// Elementwise logical or, with broadcasting.
    #[track_caller]
    pub fn logical_or(&self, other: &Tensor<bool>) -> Tensor<bool> {
        zip_map("logical_or", self, other, |a, b| a || b)
    }
}

impl std::ops::Not for &Tensor<bool> {
    type Output = Tensor<bool>;
    fn not(self) -> Tensor<bool> {
        self.logical_not()
    }
}

impl std::ops::Not for Tensor<bool> {
    type Output = Tensor<bool>;
    fn not(self) -> Tensor<bool> {
        self.logical_not()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(data.to_vec(), shape)
    }

    #[test]
    fn comparisons_take_a_tensor_or_a_scalar() {
        let a = t(&[1.0, 5.0, 3.0], &[3]);
        let b = t(&[2.0, 2.0, 3.0], &[3]);
        assert_eq!(a.gt(&b).to_vec(), vec![false, true, false]);
        assert_eq!(a.ge(b.clone()).to_vec(), vec![false, true, true]);
        assert_eq!(a.lt(3.0).to_vec(), vec![true, false, false]);
        assert_eq!(a.le(3.0).to_vec(), vec![true, false, true]);
        assert_eq!(a.eq(&b).to_vec(), vec![false, false, true]);
        assert_eq!(a.ne(5.0).to_vec(), vec![true, false, true]);
        assert_eq!(a.equal(&b).to_vec(), a.eq(&b).to_vec());
    }

    #[test]
    fn where_cond_takes_scalar_branches() {
        let a = t(&[1.0, 5.0, 3.0], &[3]);
        let m = a.gt(2.0);
        assert_eq!(
            Tensor::where_cond(&m, &a, 0.0).to_vec(),
            vec![0.0, 5.0, 3.0]
        );
        assert_eq!(
            Tensor::where_cond(&m, -1.0, &a).to_vec(),
            vec![1.0, -1.0, -1.0]
        );
    }

    #[test]
    fn masked_fill_broadcasts_the_mask() {
        let x = Tensor::<f64>::zeros(&[2, 2, 2]);
        let filled = x.masked_fill(&Tensor::from_vec(vec![true, false], &[2]), 7.0);
        assert_eq!(filled.shape(), &[2, 2, 2]);
        assert_eq!(
            filled.to_vec(),
            vec![7.0, 0.0, 7.0, 0.0, 7.0, 0.0, 7.0, 0.0]
        );
    }

    #[test]
    #[should_panic(
        expected = "`masked_fill`: the mask [2, 3] must broadcast to the tensor's shape [3]"
    )]
    fn masked_fill_mask_may_not_grow_the_result() {
        Tensor::<f32>::zeros(&[3]).masked_fill(&Tensor::full(&[2, 3], true), 1.0);
    }

    #[test]
    fn triangles_keep_the_right_diagonals() {
        let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        assert_eq!(x.tril(0).to_vec(), vec![1.0, 0.0, 0.0, 4.0, 5.0, 0.0]);
        assert_eq!(x.tril(-1).to_vec(), vec![0.0, 0.0, 0.0, 4.0, 0.0, 0.0]);
        assert_eq!(x.triu(1).to_vec(), vec![0.0, 2.0, 3.0, 0.0, 0.0, 6.0]);
        assert_eq!(x.triu(0).add(&x.tril(-1)).to_vec(), x.to_vec());
        assert_eq!(
            Tensor::full(&[2, 2], true).tril(0).to_vec(),
            Tensor::tril_mask(2, 2, 0).to_vec()
        );
    }

    #[test]
    fn mask_logic() {
        let a = Tensor::from_vec(vec![true, true, false, false], &[4]);
        let b = Tensor::from_vec(vec![true, false, true, false], &[4]);
        assert_eq!(a.logical_and(&b).to_vec(), vec![true, false, false, false]);
        assert_eq!(a.logical_or(&b).to_vec(), vec![true, true, true, false]);
        assert_eq!((!&a).to_vec(), vec![false, false, true, true]);
        assert_eq!(a.to_float::<f32>().to_vec(), vec![1.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "`tril`: needs at least 2 dimensions")]
    fn tril_of_a_vector_panics() {
        Tensor::<f32>::zeros(&[3]).tril(0);
    }
}
