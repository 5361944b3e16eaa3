//! Reductions: sum, mean, prod, max, min, logsumexp and var, over any set of axes.
//!
//! Every rule first "unreduces" the output gradient (reshape to keepdim form, broadcast to
//! the input's shape). Max and min share the gradient equally among tied elements, as
//! JAX does (and `torch.amax`).

use crate::operand::Operand;
use crate::ops::{op_names, InputGrads, Op};
use crate::tape::record;
use crate::var::Var;
use engram_tensor::{normalize_axes, sum_to_shape_axes, Float, Tensor};
use smallvec::{smallvec, SmallVec};

/// Which reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReduceKind {
    Sum,
    Mean,
    Prod,
    Max,
    Min,
    LogSumExp,
    /// Variance with this correction (1 = unbiased).
    Var(usize),
}

/// A reduction and the axes it ran over (`None`: all of them).
#[derive(Clone, Debug)]
pub(crate) struct ReduceOp {
    kind: ReduceKind,
    axes: Option<SmallVec<[isize; 6]>>,
    keepdim: bool,
}

impl ReduceKind {
    op_names! {
        ReduceKind::Sum => "sum",
        ReduceKind::Mean => "mean",
        ReduceKind::Prod => "prod",
        ReduceKind::Max => "max",
        ReduceKind::Min => "min",
        ReduceKind::LogSumExp => "logsumexp",
        ReduceKind::Var(_) => "var",
    }
}

impl ReduceOp {
    pub(crate) fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Reduces with the axes kept as size 1, then drops them unless `keepdim`: a reshape of
    /// a fresh contiguous result, which copies nothing.
    #[track_caller]
    fn forward<T: Float>(&self, x: &Tensor<T>) -> Tensor<T> {
        let Some(a) = &self.axes else {
            return match self.kind {
                ReduceKind::Sum => x.sum(),
                ReduceKind::Mean => x.mean(),
                ReduceKind::Prod => x.prod(),
                ReduceKind::Max => x.max(),
                ReduceKind::Min => x.min(),
                ReduceKind::LogSumExp => x.logsumexp(),
                ReduceKind::Var(c) => x.var(c),
            };
        };
        let kept = match self.kind {
            ReduceKind::Sum => x.sum_keepdim(a),
            ReduceKind::Mean => x.mean_keepdim(a),
            ReduceKind::Prod => x.prod_keepdim(a),
            ReduceKind::Max => x.max_keepdim(a),
            ReduceKind::Min => x.min_keepdim(a),
            ReduceKind::LogSumExp => x.logsumexp_keepdim(a),
            ReduceKind::Var(c) => x.var_keepdim(a, c),
        };
        if self.keepdim {
            return kept;
        }
        let reduced = normalize_axes(self.name(), a, x.rank());
        let dropped: Vec<usize> = (0..x.rank())
            .filter(|d| !reduced.contains(d))
            .map(|d| x.shape()[d])
            .collect();
        kept.reshape(&dropped)
    }

    /// The reduced axes, and the input's shape with them set to 1.
    fn kept_shape(&self, shape: &[usize]) -> (SmallVec<[usize; 6]>, Vec<usize>) {
        let reduced: SmallVec<[usize; 6]> = match &self.axes {
            None => (0..shape.len()).collect(),
            Some(a) => normalize_axes(self.name(), a, shape.len()),
        };
        let kept = (0..shape.len())
            .map(|d| if reduced.contains(&d) { 1 } else { shape[d] })
            .collect();
        (reduced, kept)
    }

    pub(crate) fn vjp<T: Float, V: Operand<T>>(&self, x: &V, y: &V, g: &V) -> InputGrads<V> {
        let shape = x.value().shape().to_vec();
        let (reduced, kept) = self.kept_shape(&shape);
        let count: usize = reduced.iter().map(|&d| shape[d]).product();
        let unreduce = |v: &V| v.reshape(&kept).broadcast_to(&shape);
        let gb = unreduce(g);
        let dx = match self.kind {
            ReduceKind::Sum => gb,
            ReduceKind::Mean => gb.mul_scalar(T::one() / T::of(count as f64)),
            ReduceKind::Prod => gb.mul(&product_of_others(x, &reduced)),
            ReduceKind::Max | ReduceKind::Min => {
                let hit = x.value().eq(y.value().reshape(&kept)).to_float::<T>();
                let ties = hit.sum_keepdim(
                    &(0..shape.len() as isize)
                        .filter(|&d| kept[d as usize] == 1 && shape[d as usize] != 1)
                        .collect::<Vec<_>>(),
                );
                gb.mul_const(hit.div(&ties))
            }
            ReduceKind::LogSumExp => {
                // The weights are softmax(x) = e^(x − y). A lane of nothing but −∞ has
                // y = −∞ and −∞ − (−∞) = NaN: its weights are 0 (no element can move y),
                // so shift such lanes by 0 instead of by y.
                // Checked on the reduced y, so the common case costs one pass over it.
                let yb = unreduce(y);
                let shift = if y.value().to_vec().contains(&T::neg_infinity()) {
                    let empty = yb.value().map(|v| v == T::neg_infinity());
                    V::select_where(&empty, &yb.lift(Tensor::zeros(yb.value().shape())), &yb)
                } else {
                    yb
                };
                gb.mul(&x.sub(&shift).exp())
            }
            ReduceKind::Var(c) => {
                let axes: Vec<isize> = reduced.iter().map(|&d| d as isize).collect();
                let centered = x.sub(&x.mean_keepdim(&axes));
                // With no degree of freedom left the variance is NaN (see `Tensor::var`),
                // and so is its gradient, rather than a negative or infinite factor.
                let dof = count as f64 - c as f64;
                let factor = if dof > 0.0 { 2.0 / dof } else { f64::NAN };
                gb.mul(&centered).mul_scalar(T::of(factor))
            }
        };
        smallvec![Some(dx)]
    }
}

/// For each element of `x`, the product of the other elements of its lane (the `reduced`
/// axes): prod's gradient without dividing `y / x`, which is 0/0 wherever an element is
/// zero. It is the product of everything before the element and everything after it,
/// each an exclusive scan of `mul` along the lane. Every step is an op the rule records,
/// so the gradient can be differentiated again, as JAX's product tree can.
fn product_of_others<T: Float, V: Operand<T>>(x: &V, reduced: &[usize]) -> V {
    let shape = x.value().shape().to_vec();
    let rank = shape.len();
    let order: Vec<usize> = (0..rank)
        .filter(|d| !reduced.contains(d))
        .chain(reduced.iter().copied())
        .collect();
    let moved: Vec<usize> = order.iter().map(|&d| shape[d]).collect();
    let mut lanes_shape: Vec<usize> = moved[..rank - reduced.len()].to_vec();
    lanes_shape.push(reduced.iter().map(|&d| shape[d]).product());
    let identity = order.iter().enumerate().all(|(i, &d)| i == d);
    let lanes = if identity {
        x.reshape(&lanes_shape)
    } else {
        x.permute(&order).reshape(&lanes_shape)
    };
    let others = exclusive_products(&lanes, true)
        .mul(&exclusive_products(&lanes, false))
        .reshape(&moved);
    if identity {
        return others;
    }
    let mut inverse = vec![0; rank];
    for (i, &d) in order.iter().enumerate() {
        inverse[d] = i;
    }
    others.permute(&inverse)
}

/// Along the last axis, the product of the elements strictly before each one (`before`),
/// or strictly after it; 1 where there are none. An inclusive scan that doubles its reach
/// each step (Hillis–Steele: O(n log n) multiplications in log n steps), then shifted by
/// one.
fn exclusive_products<T: Float, V: Operand<T>>(lanes: &V, before: bool) -> V {
    let shape = lanes.value().shape().to_vec();
    let n = shape[shape.len() - 1];
    if n == 0 {
        return lanes.clone();
    }
    // Moves the lane `s` places along (towards its end if `before`), filling with ones.
    let shift = |v: &V, s: usize| {
        let mut fill = shape.clone();
        *fill.last_mut().expect("lanes have an axis") = s;
        let ones = v.lift(Tensor::ones(&fill));
        if before {
            V::concat(&[ones, v.slice(-1, 0, n - s, 1)], -1)
        } else {
            V::concat(&[v.slice(-1, s, n, 1), ones], -1)
        }
    };
    let mut inclusive = lanes.clone();
    let mut reach = 1;
    while reach < n {
        inclusive = inclusive.mul(&shift(&inclusive, reach));
        reach *= 2;
    }
    shift(&inclusive, 1)
}

impl<T: Float> Var<T> {
    #[track_caller]
    fn reduce(&self, kind: ReduceKind, axes: Option<&[isize]>, keepdim: bool) -> Var<T> {
        let op = ReduceOp {
            kind,
            axes: axes.map(SmallVec::from_slice),
            keepdim,
        };
        let value = op.forward(self.value());
        record(Op::Reduce(Box::new(op)), &[self], value)
    }

    /// Sum of all elements.
    #[track_caller]
    pub fn sum(&self) -> Var<T> {
        self.reduce(ReduceKind::Sum, None, false)
    }
    /// Sum over `axes`.
    #[track_caller]
    pub fn sum_axes(&self, axes: &[isize]) -> Var<T> {
        self.reduce(ReduceKind::Sum, Some(axes), false)
    }

    /// As [`Self::sum_axes`], keeping each reduced axis as size 1 (`keepdims=True`).
    #[track_caller]
    pub fn sum_keepdim(&self, axes: &[isize]) -> Var<T> {
        self.reduce(ReduceKind::Sum, Some(axes), true)
    }
    /// Mean of all elements.
    #[track_caller]
    pub fn mean(&self) -> Var<T> {
        self.reduce(ReduceKind::Mean, None, false)
    }
    /// Mean over `axes`.
    #[track_caller]
    pub fn mean_axes(&self, axes: &[isize]) -> Var<T> {
        self.reduce(ReduceKind::Mean, Some(axes), false)
    }

    /// As [`Self::mean_axes`], keeping each reduced axis as size 1 (`keepdims=True`).
    #[track_caller]
    pub fn mean_keepdim(&self, axes: &[isize]) -> Var<T> {
        self.reduce(ReduceKind::Mean, Some(axes), true)
    }
    /// Product of all elements. Its gradient is each element's product of the others,
    /// computed without dividing by the element, so it is right where elements are 0.
    #[track_caller]
    pub fn prod(&self) -> Var<T> {
        self.reduce(ReduceKind::Prod, None, false)
    }
    /// Product over `axes`.
    #[track_caller]
    pub fn prod_axes(&self, axes: &[isize]) -> Var<T> {
        self.reduce(ReduceKind::Prod, Some(axes), false)
    }

    /// As [`Self::prod_axes`], keeping each reduced axis as size 1 (`keepdims=True`).
    #[track_caller]
    pub fn prod_keepdim(&self, axes: &[isize]) -> Var<T> {
        self.reduce(ReduceKind::Prod, Some(axes), true)
    }
    /// Largest element; tied maxima share the gradient equally.
    #[track_caller]
    pub fn max(&self) -> Var<T> {
        self.reduce(ReduceKind::Max, None, false)
    }
    /// Largest element over `axes`; ties share the gradient equally.
    #[track_caller]
    pub fn max_axes(&self, axes: &[isize]) -> Var<T> {
        self.reduce(ReduceKind::Max, Some(axes), false)
    }

    /// As [`Self::max_axes`], keeping each reduced axis as size 1 (`keepdims=True`).
    #[track_caller]
    pub fn max_keepdim(&self, axes: &[isize]) -> Var<T> {
        self.reduce(ReduceKind::Max, Some(axes), true)
    }
    /// Smallest element; tied minima share the gradient equally.
    #[track_caller]
    pub fn min(&self) -> Var<T> {
        self.reduce(ReduceKind::Min, None, false)
    }
    /// Smallest element over `axes`; ties share the gradient equally.
    #[track_caller]
    pub fn min_axes(&self, axes: &[isize]) -> Var<T> {
        self.reduce(ReduceKind::Min, Some(axes), false)
    }

    /// As [`Self::min_axes`], keeping each reduced axis as size 1 (`keepdims=True`).
    #[track_caller]
    pub fn min_keepdim(&self, axes: &[isize]) -> Var<T> {
        self.reduce(ReduceKind::Min, Some(axes), true)
    }
    /// `ln Σ e^x` over all elements.
    #[track_caller]
    pub fn logsumexp(&self) -> Var<T> {
        self.reduce(ReduceKind::LogSumExp, None, false)
    }
    /// `ln Σ e^x` over `axes`.
    #[track_caller]
    pub fn logsumexp_axes(&self, axes: &[isize]) -> Var<T> {
        self.reduce(ReduceKind::LogSumExp, Some(axes), false)
    }

    /// As [`Self::logsumexp_axes`], keeping each reduced axis as size 1 (`keepdims=True`).
    #[track_caller]
    pub fn logsumexp_keepdim(&self, axes: &[isize]) -> Var<T> {
        self.reduce(ReduceKind::LogSumExp, Some(axes), true)
    }
    /// Variance of all elements with the given correction (1 = unbiased).
    #[track_caller]
    pub fn var(&self, correction: usize) -> Var<T> {
        self.reduce(ReduceKind::Var(correction), None, false)
    }
    /// Variance over `axes` with the given correction.
    #[track_caller]
    pub fn var_axes(&self, axes: &[isize], correction: usize) -> Var<T> {
        self.reduce(ReduceKind::Var(correction), Some(axes), false)
    }

    /// As [`Self::var_axes`], keeping each reduced axis as size 1 (`keepdims=True`).
    #[track_caller]
    pub fn var_keepdim(&self, axes: &[isize], correction: usize) -> Var<T> {
        self.reduce(ReduceKind::Var(correction), Some(axes), true)
    }

    /// Sums a broadcast value back to `shape` (the adjoint of `broadcast_to`; see
    /// [`Tensor::sum_to_shape`]).
    #[track_caller]
    pub fn sum_to_shape(&self, shape: &[usize]) -> Var<T> {
        if self.shape() == shape {
            return self.clone();
        }
        self.sum_keepdim(&sum_to_shape_axes(self.shape(), shape))
            .reshape(shape)
    }
}

#[cfg(feature = "registry")]
macro_rules! reduce_cases {
    ($cases:ident; $($name:literal, $dom:ident, $second:expr, $all:ident, $axes:ident, $keep:ident;)*) => {
        $(
            $cases.push(case!($name, "all", [$dom(&[3, 4])], second: $second, |x| x[0].$all()));
            $cases.push(case!($name, "axis0_keepdim", [$dom(&[3, 4])], second: $second, |x| x[0].$keep(&[0])));
            $cases.push(case!($name, "last_axis", [$dom(&[2, 3, 4])], second: $second, |x| x[0].$axes(&[-1])));
            $cases.push(case!($name, "two_axes", [$dom(&[2, 3, 4])], second: $second, |x| x[0].$axes(&[0, 2])));
            $cases.push(case!($name, "size1", [$dom(&[1, 4])], second: $second, |x| x[0].$axes(&[0])));
            $cases.push(case!($name, "transposed", [$dom(&[4, 3]).transposed()], second: $second, |x| x[0].$axes(&[1])));
            $cases.push(case!($name, "empty", [$dom(&[0, 3])], second: $second, |x| x[0].$axes(&[1])));
        )*
    };
}

/// Gradcheck entries for this family.
#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<crate::registry::GradcheckCase> {
    use crate::case;
    use crate::registry::{positive, real, with_zeros};
    let mut v = vec![
        case!("var", "all_unbiased", [real(&[3, 4])], second: true, |x| x[0].var(1)),
        case!("var", "axis1_biased", [real(&[3, 4])], second: true, |x| x[0].var_axes(&[1], 0)),
        case!("var", "two_axes_keepdim", [real(&[2, 3, 4])], second: true, |x| x[0].var_keepdim(&[0, 2], 1)),
        case!("var", "transposed", [real(&[4, 3]).transposed()], second: true, |x| x[0].var_axes(&[0], 1)),
    ];
    reduce_cases! { v;
        "sum", real, false, sum, sum_axes, sum_keepdim;
        "mean", real, false, mean, mean_axes, mean_keepdim;
        "prod", positive, true, prod, prod_axes, prod_keepdim;
        "max", real, false, max, max_axes, max_keepdim;
        "min", real, false, min, min_axes, min_keepdim;
        "logsumexp", real, true, logsumexp, logsumexp_axes, logsumexp_keepdim;
    }
    v.push(case!("var", "empty", [real(&[0, 3])], second: true, |x| x[0].var_axes(&[1], 1)));
    v.push(case!("sum", "empty_axis", [real(&[0, 3])], second: false, |x| x[0].sum_axes(&[0])));
    // Factors of exactly zero, where the gradient used to be y / x = 0 / 0: one zero in a
    // lane (its gradient is the product of the others), two (all zero), none.
    v.push(
        case!("prod", "with_zeros", [with_zeros(&[3, 4])], second: true, |x| x[0].prod_axes(&[1])),
    );
    v.push(case!("prod", "one_zero", [with_zeros(&[1, 3])], second: true, |x| x[0].prod()));
    v.push(case!("sum_to_shape", "empty", [real(&[0, 3])], second: false, |x| x[0].sum_to_shape(&[1, 3]).square()));
    v.push(case!("sum_to_shape", "broadcast_back", [real(&[2, 3, 4])], second: false, |x| x[0].sum_to_shape(&[3, 1])));
    v.push(case!("sum_to_shape", "leading_only", [real(&[2, 3])], second: false, |x| x[0].sum_to_shape(&[3]).square()));
    v.push(case!("sum_to_shape", "transposed", [real(&[4, 3]).transposed()], second: false, |x| x[0].sum_to_shape(&[1, 3]).square()));
    v
}
