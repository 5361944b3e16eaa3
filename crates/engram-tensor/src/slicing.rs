//! NumPy-style indexing: `select` (one position, dropping the axis) and `index` with the
//! [`s!`](crate::s) macro, so that NumPy's `x[1, :, :2]` is `x.index(s![1, .., ..2])`.
//! Both give views.

use crate::element::Element;
use crate::shape::{normalize_axis, shape_error};
use crate::tensor::Tensor;
use std::ops::{Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};

/// What [`Tensor::index`] takes along one axis: one position, which drops the axis, or a
/// range with a step, which keeps it. Negative positions count from the end, as in NumPy;
/// range ends are clamped to the axis, so `..100` on an axis of 5 is the whole axis.
///
/// Usually written with [`s!`](crate::s): `1` is `At(1)`, `..2` a range, `1..;2` a range
/// with step 2. Negative steps (reversal) are not supported: strides are unsigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxisIndex {
    /// One position (`x[i]`); the axis is dropped.
    At(isize),
    /// `x[start:end:step]`; `end: None` runs to the end of the axis.
    Range {
        /// First position (negative: from the end).
        start: isize,
        /// One past the last position (negative: from the end), or `None` for the end.
        end: Option<isize>,
        /// Distance between taken positions, at least 1.
        step: usize,
    },
}

impl AxisIndex {
    /// The whole axis, NumPy's `:`.
    pub const ALL: AxisIndex = AxisIndex::Range {
        start: 0,
        end: None,
        step: 1,
    };

    /// This range with a step: `s![1..;2]` is `AxisIndex::from(1..).step_by(2)`.
    #[track_caller]
    pub fn step_by(self, step: usize) -> AxisIndex {
        match self {
            AxisIndex::Range { start, end, .. } if step > 0 => {
                AxisIndex::Range { start, end, step }
            }
            _ => shape_error(
                "index",
                format!(
                    "a step must be at least 1 and follow a range, got {self:?} with step {step}"
                ),
            ),
        }
    }
}

impl From<RangeFull> for AxisIndex {
    fn from(_: RangeFull) -> Self {
        AxisIndex::ALL
    }
}

/// `a..=b` as a half-open range; `..=-1` (through the last element) has no end.
fn through(start: isize, last: isize) -> AxisIndex {
    AxisIndex::Range {
        start,
        end: (last != -1).then_some(last + 1),
        step: 1,
    }
}

macro_rules! axis_index_from {
    ($($int:ty),*) => {
        $(
            impl From<$int> for AxisIndex {
                #[track_caller]
                fn from(i: $int) -> Self {
                    AxisIndex::At(signed(i))
                }
            }
            impl From<Range<$int>> for AxisIndex {
                #[track_caller]
                fn from(r: Range<$int>) -> Self {
                    AxisIndex::Range { start: signed(r.start), end: Some(signed(r.end)), step: 1 }
                }
            }
            impl From<RangeFrom<$int>> for AxisIndex {
                #[track_caller]
                fn from(r: RangeFrom<$int>) -> Self {
                    AxisIndex::Range { start: signed(r.start), end: None, step: 1 }
                }
            }
            impl From<RangeTo<$int>> for AxisIndex {
                #[track_caller]
                fn from(r: RangeTo<$int>) -> Self {
                    AxisIndex::Range { start: 0, end: Some(signed(r.end)), step: 1 }
                }
            }
            impl From<RangeInclusive<$int>> for AxisIndex {
                #[track_caller]
                fn from(r: RangeInclusive<$int>) -> Self {
                    through(signed(*r.start()), signed(*r.end()))
                }
            }
            impl From<RangeToInclusive<$int>> for AxisIndex {
                #[track_caller]
                fn from(r: RangeToInclusive<$int>) -> Self {
                    through(0, signed(r.end))
                }
            }
        )*
    };
}

// i32 is there for literals (an unsuffixed `1` or `1..3` falls back to i32); usize and
// isize for computed positions.
axis_index_from!(i32, i64, isize, usize);

#[track_caller]
fn signed<I: TryInto<isize> + Copy + std::fmt::Display>(i: I) -> isize {
    i.try_into()
        .unwrap_or_else(|_| shape_error("index", format!("position {i} does not fit an isize")))
}

/// Builds the per-axis spec of [`Tensor::index`] (and `Var::index`) from NumPy's slice
/// syntax: `s![1, .., ..2]` is `x[1, :, :2]`, `s![-1]` the last row, `s![.., 1..;2]`
/// every other column from the second. Axes left out at the end are taken whole.
///
/// ```
/// use engram_tensor::{s, Tensor};
/// let x = Tensor::<f32>::arange(0.0, 24.0, 1.0).reshape(&[2, 3, 4]);
/// let y = x.index(s![1, .., ..2]); // x[1, :, :2]
/// assert_eq!(y.shape(), &[3, 2]);
/// assert_eq!(y.to_vec(), vec![12.0, 13.0, 16.0, 17.0, 20.0, 21.0]);
/// assert_eq!(x.index(s![-1, 2, 1..;2]).to_vec(), vec![21.0, 23.0]);
/// ```
#[macro_export]
macro_rules! s {
    // A negative end counts from the end, so `1..-1` (NumPy's `1:-1`) is not the empty
    // range clippy takes it for; the `allow` sits on a statement, where it is stable.
    (@one $item:expr) => {{
        #[allow(clippy::reversed_empty_ranges)]
        let item = $crate::AxisIndex::from($item);
        item
    }};
    (@one $item:expr ; $step:expr) => {{
        #[allow(clippy::reversed_empty_ranges)]
        let item = $crate::AxisIndex::from($item).step_by($step);
        item
    }};
    ($($item:expr $(; $step:expr)?),* $(,)?) => {
        [$($crate::s!(@one $item $(; $step)?)),*]
    };
}

/// One plain view step of a resolved [`AxisIndex`] spec (see [`index_steps`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexStep {
    /// `slice(axis, start, end, step)`: keeps the axis.
    Slice {
        /// The axis.
        axis: usize,
        /// First position.
        start: usize,
        /// One past the last, at most the axis size.
        end: usize,
        /// Distance between positions.
        step: usize,
    },
    /// `select(axis, index)`: drops the axis.
    Select {
        /// The axis.
        axis: usize,
        /// The position.
        index: usize,
    },
}

/// Resolves a position (negative counts from the end) on an axis of size `dim`.
#[track_caller]
fn position(op: &str, i: isize, axis: usize, dim: usize) -> usize {
    let resolved = if i < 0 { i + dim as isize } else { i };
    if resolved < 0 || resolved >= dim as isize {
        shape_error(
            op,
            format!("index {i} is out of bounds for axis {axis} of size {dim}"),
        );
    }
    resolved as usize
}

/// Resolves a range bound as Python does: negative counts from the end, then clamp.
fn bound(i: isize, dim: usize) -> usize {
    let resolved = if i < 0 { i + dim as isize } else { i };
    resolved.clamp(0, dim as isize) as usize
}

/// Resolves `spec` against `shape` into plain view steps, to apply in order: the slices
/// first (they keep every axis in place), then the selects from the last axis to the
/// first (so that no select moves an axis a later one names). Whole-axis ranges are left
/// out. Shared by [`Tensor::index`] and the differentiable `Var::index`.
#[track_caller]
pub fn index_steps(shape: &[usize], spec: &[AxisIndex]) -> Vec<IndexStep> {
    if spec.len() > shape.len() {
        shape_error(
            "index",
            format!(
                "{} indices for a tensor of rank {} (shape {shape:?})",
                spec.len(),
                shape.len()
            ),
        );
    }
    let mut slices = Vec::new();
    let mut selects = Vec::new();
    for (axis, (&item, &dim)) in spec.iter().zip(shape).enumerate() {
        match item {
            AxisIndex::At(i) => selects.push(IndexStep::Select {
                axis,
                index: position("index", i, axis, dim),
            }),
            AxisIndex::Range { start, end, step } => {
                if step == 0 {
                    shape_error("index", format!("axis {axis}: a step must be at least 1"));
                }
                let start = bound(start, dim);
                let end = end.map_or(dim, |e| bound(e, dim)).max(start);
                if (start, end, step) != (0, dim, 1) {
                    slices.push(IndexStep::Slice {
                        axis,
                        start,
                        end,
                        step,
                    });
                }
            }
        }
    }
    selects.reverse();
    slices.extend(selects);
    slices
}

/// Resolves `select`'s axis and position against a shape.
#[track_caller]
pub fn select_position(shape: &[usize], axis: isize, index: isize) -> (usize, usize) {
    let ax = normalize_axis("select", axis, shape.len());
    (ax, position("select", index, ax, shape[ax]))
}

impl<T: Element> Tensor<T> {
    /// The slice at position `index` along `axis`, with that axis dropped (a view), as
    /// PyTorch's `select`: `x.select(0, -1)` is NumPy's `x[-1]`.
    #[track_caller]
    pub fn select(&self, axis: isize, index: isize) -> Tensor<T> {
        let (ax, i) = select_position(self.shape(), axis, index);
        self.narrow(ax as isize, i, 1).squeeze(ax as isize)
    }

    /// NumPy-style indexing over several axes at once (a view): one [`AxisIndex`] per
    /// leading axis, usually written with [`s!`](crate::s). `x.index(s![1, .., ..2])` is
    /// `x[1, :, :2]`.
    #[track_caller]
    pub fn index(&self, spec: impl AsRef<[AxisIndex]>) -> Tensor<T> {
        let mut out = self.clone();
        for step in index_steps(self.shape(), spec.as_ref()) {
            out = match step {
                IndexStep::Slice {
                    axis,
                    start,
                    end,
                    step,
                } => out.slice(axis as isize, start, end, step),
                IndexStep::Select { axis, index } => out.select(axis as isize, index as isize),
            };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iota(shape: &[usize]) -> Tensor<f64> {
        let n = crate::shape::numel(shape) as f64;
        Tensor::arange(0.0, n, 1.0).reshape(shape)
    }

    #[test]
    fn select_drops_the_axis_and_counts_from_the_end() {
        let x = iota(&[2, 3]);
        assert_eq!(x.select(0, 1).to_vec(), vec![3.0, 4.0, 5.0]);
        assert_eq!(x.select(-1, -1).to_vec(), vec![2.0, 5.0]);
        assert!(x.select(1, 0).shares_storage_with(&x));
    }

    #[test]
    fn index_matches_numpy_slicing() {
        let x = iota(&[2, 3, 4]);
        assert_eq!(x.index(s![1]).shape(), &[3, 4]);
        assert_eq!(
            x.index(s![.., -1, ..]).to_vec(),
            vec![8.0, 9.0, 10.0, 11.0, 20.0, 21.0, 22.0, 23.0]
        );
        assert_eq!(x.index(s![0, 1..=2, 3]).to_vec(), vec![7.0, 11.0]);
        assert_eq!(x.index(s![0, 0, ..;3]).to_vec(), vec![0.0, 3.0]);
        assert_eq!(x.index(s![0, 0, -3..-1]).to_vec(), vec![1.0, 2.0]);
        assert_eq!(x.index(s![0, 0, 2..1]).numel(), 0);
        assert_eq!(x.index(s![0, 0, ..=-1]).to_vec(), vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(x.index(s![0, 0, ..100]).numel(), 4);
        let i: usize = 1;
        assert_eq!(x.index(s![i, i..i + 1, i]).to_vec(), vec![17.0]);
        assert_eq!(x.index([AxisIndex::ALL, AxisIndex::At(2)]).shape(), &[2, 4]);
        assert!(x.index(s![1, .., ..2]).shares_storage_with(&x));
    }

    #[test]
    fn index_steps_select_from_the_last_axis() {
        let steps = index_steps(&[2, 3, 4], &s![1, .., 2]);
        assert_eq!(
            steps,
            vec![
                IndexStep::Select { axis: 2, index: 2 },
                IndexStep::Select { axis: 0, index: 1 }
            ]
        );
    }

    #[test]
    #[should_panic(expected = "`index`: index 3 is out of bounds for axis 1 of size 3")]
    fn index_out_of_bounds_panics() {
        iota(&[2, 3]).index(s![.., 3]);
    }

    #[test]
    #[should_panic(expected = "`index`: 3 indices for a tensor of rank 2")]
    fn too_many_indices_panic() {
        iota(&[2, 3]).index(s![0, 0, 0]);
    }
}
