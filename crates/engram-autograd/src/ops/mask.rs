//! Masks on Vars: comparisons give plain `Tensor<bool>` masks (nothing to differentiate);
//! `where_cond`, `masked_fill`, `tril` and `triu` use them. All four record one `Where`
//! node, whose rule sends the gradient to whichever branch each element was picked from:
//! `d on_true = g · mask`, `d on_false = g · !mask`, each summed back to its shape.
//!
//! Causal self-attention, end to end:
//!
//! ```
//! use engram_autograd::Tape;
//! use engram_tensor::{seeded_rng, Tensor};
//! let tape = Tape::<f64>::new();
//! let q = tape.leaf(Tensor::randn(&[2, 4, 8], &mut seeded_rng(0))); // [batch, seq, dim]
//! let causal = Tensor::tril_mask(4, 4, 0); // position i attends to 0..=i
//! let scores = q.matmul(&q.transpose(-1, -2)) / 8f64.sqrt();
//! let attn = scores.masked_fill(&causal.logical_not(), f64::NEG_INFINITY).softmax(-1);
//! let out = attn.matmul(&q);
//! assert_eq!(attn.value().select(0, 0).select(0, 0).to_vec(), vec![1.0, 0.0, 0.0, 0.0]);
//! let g = out.sum().backward();
//! assert!(g[&q].to_vec().iter().all(|v| v.is_finite()));
//! ```

use crate::operand::Operand;
use crate::ops::{InputGrads, Op};
use crate::tape::record;
use crate::var::{IntoVar, Var};
use engram_tensor::{Float, Tensor};
use smallvec::smallvec;

/// `where_cond`'s rule: the gradient goes to whichever input was picked.
pub(crate) fn where_vjp<T: Float, V: Operand<T>>(
    mask: &Tensor<bool>,
    x: &[&V],
    g: &V,
    needs: &[bool],
) -> InputGrads<V> {
    let shape = g.value().shape().to_vec();
    let picked = mask.broadcast_to(&shape).to_float::<T>();
    let other = picked.map(|p| T::one() - p);
    smallvec![
        needs[0].then(|| g.mul_const(picked).sum_to_shape(x[0].value().shape())),
        needs[1].then(|| g.mul_const(other).sum_to_shape(x[1].value().shape()))
    ]
}

macro_rules! comparisons {
    ($($(#[$doc:meta])* $name:ident;)*) => {
        impl<T: Float> Var<T> {
            $(
                $(#[$doc])*
                ///
                /// A comparison is not differentiable: the mask is a plain tensor, to feed
                /// `where_cond` or `masked_fill`.
                #[track_caller]
                pub fn $name(&self, other: impl IntoVar<T>) -> Tensor<bool> {
                    self.value().$name(other.into_var().value())
                }
            )*
        }
    };
}

comparisons! {
    /// Mask of `self > other`; `other` is a Var, a tensor or a scalar (`x.gt(&y)`,
    /// `x.gt(0.5)`), broadcast as in NumPy.
    ///
    /// ```
    /// use engram_autograd::Tape;
    /// use engram_tensor::Tensor;
    /// let tape = Tape::<f32>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![0.2, 0.7], &[2]));
    /// let y = tape.leaf(Tensor::from_vec(vec![0.3, 0.3], &[2]));
    /// assert_eq!(x.gt(&y).to_vec(), vec![false, true]);
    /// assert_eq!(x.gt(0.5).to_vec(), vec![false, true]);
    /// ```
    gt;
    /// Mask of `self >= other` (a Var, a tensor or a scalar).
    ge;
    /// Mask of `self < other` (a Var, a tensor or a scalar).
    lt;
    /// Mask of `self <= other` (a Var, a tensor or a scalar).
    le;
    /// Mask of `self == other` (a Var, a tensor or a scalar).
    eq;
    /// Mask of `self != other` (a Var, a tensor or a scalar).
    ne;
}

impl<T: Float> Var<T> {
    #[track_caller]
    fn masked(
        mask: &Tensor<bool>,
        on_true: &Var<T>,
        on_false: &Var<T>,
        value: Tensor<T>,
    ) -> Var<T> {
        record(
            Op::Where(Box::new(mask.clone())),
            &[on_true, on_false],
            value,
        )
    }

    /// Picks `on_true` where `mask` holds, else `on_false`, as `jnp.where(mask, a, b)` and
    /// `torch.where(mask, a, b)` (the same argument order, so it reads as those do). All
    /// three broadcast; a branch may be a Var, a constant tensor or a scalar. The gradient
    /// goes to the branch each element came from.
    ///
    /// ```
    /// use engram_autograd::{Tape, Var};
    /// use engram_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![-1.0, 2.0], &[2]));
    /// let y = Var::where_cond(&x.gt(0.0), &x, 0.0); // relu
    /// assert_eq!(y.value().to_vec(), vec![0.0, 2.0]);
    /// assert_eq!(y.sum().backward()[&x].to_vec(), vec![0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn where_cond(
        mask: &Tensor<bool>,
        on_true: impl IntoVar<T>,
        on_false: impl IntoVar<T>,
    ) -> Var<T> {
        let (a, b) = (on_true.into_var(), on_false.into_var());
        let value = Tensor::where_cond(mask, a.value(), b.value());
        Var::masked(mask, &a, &b, value)
    }

    /// `self` with `value` wherever `mask` is true, as PyTorch's `masked_fill`; the mask
    /// broadcasts to `self`'s shape. The gradient is zero where the value was filled in.
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor<bool>, value: T) -> Var<T> {
        let out = self.value().masked_fill(mask, value);
        Var::masked(mask, &Var::constant(Tensor::scalar(value)), self, out)
    }

    /// The lower triangle of the last two axes (`j - i <= k` kept, the rest zero), as
    /// `torch.tril`; the gradient is zero above it.
    #[track_caller]
    pub fn tril(&self, k: isize) -> Var<T> {
        let value = self.value().tril(k);
        let (rows, cols) = matrix_dims(self.shape());
        let zero = Var::constant(Tensor::scalar(T::zero()));
        Var::masked(&Tensor::tril_mask(rows, cols, k), self, &zero, value)
    }

    /// The upper triangle of the last two axes (`j - i >= k` kept, the rest zero), as
    /// `torch.triu`; the gradient is zero below it.
    #[track_caller]
    pub fn triu(&self, k: isize) -> Var<T> {
        let value = self.value().triu(k);
        let (rows, cols) = matrix_dims(self.shape());
        let zero = Var::constant(Tensor::scalar(T::zero()));
        Var::masked(&Tensor::triu_mask(rows, cols, k), self, &zero, value)
    }
}

/// The last two dimensions; the tensor op has already checked there are two.
fn matrix_dims(shape: &[usize]) -> (usize, usize) {
    (shape[shape.len() - 2], shape[shape.len() - 1])
}

/// Gradcheck entries for this family.
#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<crate::registry::GradcheckCase> {
    use crate::case;
    use crate::registry::{apart, real};
    vec![
        case!("where_cond", "broadcast", [real(&[3, 1]), real(&[1, 4])], second: true, |x| {
            let mask = Tensor::from_vec(vec![true, false, true, true, false, false, true, false, true, false, true, false], &[3, 4]);
            Var::where_cond(&mask, x[0].square(), x[1].exp())
        }),
        case!("where_cond", "same", [real(&[2, 2]), real(&[2, 2])], second: false, |x| {
            Var::where_cond(&Tensor::from_vec(vec![true, false, false, true], &[2, 2]), &x[0], &x[1])
        }),
        case!("where_cond", "transposed", [real(&[3, 2]).transposed(), real(&[])], second: false, |x| {
            Var::where_cond(&Tensor::from_vec(vec![true, false], &[1, 2]), &x[0], &x[1])
        }),
        case!("where_cond", "scalar_and_tensor_branches", [apart(&[2, 3])], second: true, |x| {
            let mask = x[0].value().gt(0.0);
            let bound = Tensor::from_vec(vec![0.5, -0.5, 1.0], &[3]);
            Var::where_cond(&mask, x[0].square(), 0.25).add(&Var::where_cond(&mask, &bound, x[0].sin()))
        }),
        case!("masked_fill", "broadcast_mask", [real(&[2, 3, 3])], second: false, |x| {
            x[0].masked_fill(&Tensor::tril_mask(3, 3, 0).logical_not(), -2.0).square()
        }),
        case!("masked_fill", "row_mask_transposed", [real(&[4, 3]).transposed()], second: false, |x| {
            x[0].masked_fill(&Tensor::from_vec(vec![false, true, false, true], &[4, 1]), 0.5).exp()
        }),
        case!("masked_fill", "size1", [real(&[1, 1])], second: false, |x| {
            x[0].masked_fill(&Tensor::from_vec(vec![false], &[1]), 3.0).square()
        }),
        case!("masked_fill", "then_softmax", [real(&[2, 4, 4])], second: true, |x| {
            x[0].masked_fill(&Tensor::tril_mask(4, 4, 0).logical_not(), f64::NEG_INFINITY as _).softmax(-1)
        }),
        case!("tril", "square", [real(&[3, 3])], second: false, |x| x[0].tril(0).square()),
        case!("tril", "wide_above_diagonal", [real(&[2, 3, 5])], second: false, |x| x[0].tril(1).square()),
        case!("tril", "tall_transposed", [real(&[3, 4]).transposed()], second: false, |x| x[0].tril(-1).exp()),
        case!("triu", "square", [real(&[3, 3])], second: false, |x| x[0].triu(0).square()),
        case!("triu", "wide_below_diagonal", [real(&[2, 3, 5])], second: false, |x| x[0].triu(-1).square()),
        case!("triu", "tall_transposed", [real(&[3, 4]).transposed()], second: false, |x| x[0].triu(1).exp()),
        case!("masked_fill", "empty", [real(&[0, 3])], second: false, |x| {
            x[0].masked_fill(&Tensor::from_vec(vec![true, false, true], &[3]), 1.0).square()
        }),
        case!("tril", "empty", [real(&[0, 3, 3])], second: false, |x| x[0].tril(0).square()),
        case!("triu", "empty", [real(&[2, 0, 3])], second: false, |x| x[0].triu(0).square()),
    ]
}
