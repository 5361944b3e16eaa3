//! Views: new shapes over the same storage, copying nothing.

use crate::element::Element;
use crate::shape::{
    checked_numel, contiguous_strides, normalize_axis, numel, shape_error, shape_of, Shape,
};
use crate::tensor::Tensor;
use smallvec::SmallVec;

impl<T: Element> Tensor<T> {
    /// The same elements in a new shape, in row-major order. A view whenever the new shape
    /// can be laid over the existing strides (always for a contiguous tensor; for a view,
    /// when each group of dimensions being merged or split is itself laid out
    /// contiguously, as in PyTorch's `reshape`), else a contiguous copy.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Self {
        if checked_numel("reshape", shape) != self.numel() {
            shape_error(
                "reshape",
                format!(
                    "cannot reshape {:?} ({} elements) into {shape:?} ({} elements)",
                    self.shape,
                    self.numel(),
                    numel(shape)
                ),
            );
        }
        if let Some(strides) = view_strides(&self.shape, &self.strides, shape) {
            return Tensor::from_parts(self.storage.clone(), shape_of(shape), strides, self.offset);
        }
        let base = self.contiguous();
        Tensor::from_parts(
            base.storage,
            shape_of(shape),
            contiguous_strides(shape),
            base.offset,
        )
    }

    /// Collapses everything into one dimension.
    pub fn flatten(&self) -> Self {
        self.reshape(&[self.numel()])
    }

    /// Swaps two axes (a view).
    #[track_caller]
    pub fn transpose(&self, a: isize, b: isize) -> Self {
        let (a, b) = (
            normalize_axis("transpose", a, self.rank()),
            normalize_axis("transpose", b, self.rank()),
        );
        let mut out = self.clone();
        out.shape.swap(a, b);
        out.strides.swap(a, b);
        out
    }

    /// The transpose of the last two axes, as `x.mT` in PyTorch (a view).
    #[track_caller]
    pub fn t(&self) -> Self {
        if self.rank() < 2 {
            shape_error(
                "t",
                format!("needs at least 2 dimensions, got shape {:?}", self.shape),
            );
        }
        self.transpose(-2, -1)
    }

    /// Reorders the axes: output axis `i` is input axis `order[i]` (a view).
    #[track_caller]
    pub fn permute(&self, order: &[usize]) -> Self {
        let mut seen: SmallVec<[bool; 6]> = SmallVec::from_elem(false, self.rank());
        if order.len() != self.rank()
            || order
                .iter()
                .any(|&a| a >= self.rank() || std::mem::replace(&mut seen[a], true))
        {
            shape_error(
                "permute",
                format!(
                    "order {order:?} is not a permutation of the {} axes of shape {:?}",
                    self.rank(),
                    self.shape
                ),
            );
        }
        let mut out = self.clone();
        out.shape = order.iter().map(|&a| self.shape[a]).collect();
        out.strides = order.iter().map(|&a| self.strides[a]).collect();
        out
    }

    /// Elements `start..start + len` along one axis (a view), as `torch.narrow`: the range
    /// must lie inside the axis; it is never shortened to fit.
    #[track_caller]
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Self {
        let ax = normalize_axis("narrow", axis, self.rank());
        let dim = self.shape[ax];
        match start.checked_add(len) {
            Some(end) if end <= dim => self.slice(ax as isize, start, end, 1),
            _ => shape_error(
                "narrow",
                format!(
                    "start {start} and length {len} run past the end of axis {ax} (size {dim}) of shape {:?}",
                    self.shape
                ),
            ),
        }
    }

    /// Elements `start, start + step, ...` below `end` along one axis, as `x[start:end:step]`
    /// (a view). As in NumPy and PyTorch, `end` past the dimension means "to the end", and
    /// `end <= start` gives an empty slice; `start` past the dimension is an error.
    #[track_caller]
    pub fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Self {
        let ax = normalize_axis("slice", axis, self.rank());
        let dim = self.shape[ax];
        if step == 0 || start > dim {
            shape_error(
                "slice",
                format!("range {start}..{end} step {step} does not fit axis {ax} of size {dim} in shape {:?}", self.shape),
            );
        }
        let end = end.min(dim);
        let len = if end > start {
            (end - start).div_ceil(step)
        } else {
            0
        };
        let mut out = self.clone();
        if len > 0 {
            out.offset += start * self.strides[ax];
        }
        out.shape[ax] = len;
        out.strides[ax] = self.strides[ax] * step;
        out
    }

    /// Repeats size-1 dimensions (and prepends new ones) to reach `shape`, by zero
    /// strides: a view, as NumPy's `broadcast_to`.
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Self {
        if shape.len() < self.rank() {
            shape_error(
                "broadcast_to",
                format!(
                    "cannot broadcast {:?} to fewer dimensions {shape:?}",
                    self.shape
                ),
            );
        }
        checked_numel("broadcast_to", shape);
        let lead = shape.len() - self.rank();
        let mut strides: Shape = SmallVec::from_elem(0, shape.len());
        for (i, &target) in shape.iter().enumerate().skip(lead) {
            let (d, s) = (self.shape[i - lead], self.strides[i - lead]);
            strides[i] = if d == target {
                s
            } else if d == 1 {
                0
            } else {
                shape_error(
                    "broadcast_to",
                    format!("cannot broadcast {:?} to {shape:?}: dimension {} is {d}, not 1 or {target}", self.shape, i - lead),
                )
            };
        }
        Tensor::from_parts(self.storage.clone(), shape_of(shape), strides, self.offset)
    }

    /// Removes one axis of size 1 (a view).
    #[track_caller]
    pub fn squeeze(&self, axis: isize) -> Self {
        let ax = normalize_axis("squeeze", axis, self.rank());
        if self.shape[ax] != 1 {
            shape_error(
                "squeeze",
                format!(
                    "axis {ax} of shape {:?} has size {}, not 1",
                    self.shape, self.shape[ax]
                ),
            );
        }
        let mut out = self.clone();
        out.shape.remove(ax);
        out.strides.remove(ax);
        out
    }

    /// Removes every axis of size 1 (a view).
    pub fn squeeze_all(&self) -> Self {
        let keep: Vec<usize> = (0..self.rank()).filter(|&i| self.shape[i] != 1).collect();
        let mut out = self.clone();
        out.shape = keep.iter().map(|&i| self.shape[i]).collect();
        out.strides = keep.iter().map(|&i| self.strides[i]).collect();
        out
    }

    /// Inserts an axis of size 1 at `axis` (which may equal the rank, or be negative
    /// counting from the end of the result) (a view).
    #[track_caller]
    pub fn unsqueeze(&self, axis: isize) -> Self {
        let ax = normalize_axis("unsqueeze", axis, self.rank() + 1);
        let mut out = self.clone();
        let stride = if ax < self.rank() {
            self.strides[ax] * self.shape[ax]
        } else {
            1
        };
        out.shape.insert(ax, 1);
        out.strides.insert(ax, stride);
        out
    }
}

/// Strides that lay `new_shape` over elements stored with `shape` and `strides`, visiting
/// them in the same row-major order, or `None` when no strides can (the tensor must be
/// copied). The old dimensions fall into runs that are contiguous with each other
/// (`strides[i] == strides[i + 1] * shape[i + 1]`); each run must be covered exactly by
/// consecutive new dimensions, which then step through it with the run's innermost stride.
/// Both shapes hold the same number of elements (the caller checked).
fn view_strides(shape: &[usize], strides: &[usize], new_shape: &[usize]) -> Option<Shape> {
    if shape.contains(&0) {
        return Some(contiguous_strides(new_shape));
    }
    let mut new_strides: Shape = SmallVec::from_elem(0, new_shape.len());
    // The new dimensions not yet placed are `new_shape[..next_new]`.
    let mut next_new = new_shape.len();
    let mut run_stride = strides.last().copied().unwrap_or(1);
    let mut run_elements = 1;
    for dim in (0..shape.len()).rev() {
        run_elements *= shape[dim];
        let run_ends =
            dim == 0 || (shape[dim - 1] != 1 && strides[dim - 1] != run_elements * run_stride);
        if !run_ends {
            continue;
        }
        // Place new dimensions, innermost first, until they cover this run; size-1
        // dimensions can go anywhere, so they are taken along.
        let mut placed_elements = 1;
        while next_new > 0 && (placed_elements < run_elements || new_shape[next_new - 1] == 1) {
            next_new -= 1;
            new_strides[next_new] = placed_elements * run_stride;
            placed_elements *= new_shape[next_new];
        }
        if placed_elements != run_elements {
            return None;
        }
        if dim > 0 {
            run_stride = strides[dim - 1];
            run_elements = 1;
        }
    }
    // Leading size-1 dimensions of the new shape (and every dimension of a reshape from a
    // scalar) are still unplaced; any stride serves them.
    while next_new > 0 && new_shape[next_new - 1] == 1 {
        next_new -= 1;
        new_strides[next_new] = 1;
    }
    (next_new == 0).then_some(new_strides)
}

#[cfg(test)]
mod tests {
    use crate::test_util::iota;

    #[test]
    fn views_share_storage() {
        let a = iota(&[2, 3]);
        for v in [
            a.t(),
            a.narrow(1, 1, 2),
            a.unsqueeze(0),
            a.reshape(&[3, 2]),
            a.slice(1, 0, 3, 2),
        ] {
            assert!(v.shares_storage_with(&a));
        }
        assert!(a
            .unsqueeze(0)
            .broadcast_to(&[4, 2, 3])
            .shares_storage_with(&a));
    }

    /// Every reshape gives the row-major elements of its source, whether it came out a
    /// view or a copy; the ones whose merged or split dimensions are laid out
    /// contiguously come out views.
    #[test]
    fn reshape_of_a_view_keeps_the_order_and_copies_only_when_it_must() {
        let a = iota(&[2, 3, 4]);
        let cases = [
            // (source, new shape, expected to be a view)
            (a.clone(), vec![6, 4], true),
            (a.reshape(&[2, 3, 4]), vec![2, 3, 4], true),
            (a.transpose(0, 1), vec![3, 2, 4], true),
            (a.transpose(0, 1), vec![3, 8], false),
            (a.transpose(0, 1), vec![3, 2, 2, 2], true),
            (a.transpose(0, 1), vec![1, 3, 1, 2, 4, 1], true),
            (a.narrow(2, 1, 2), vec![6, 2], true),
            (a.narrow(2, 1, 2), vec![12], false),
            (a.narrow(1, 1, 2), vec![2, 8], true),
            (a.narrow(0, 1, 1), vec![12], true),
            (a.permute(&[2, 0, 1]), vec![24], false),
            (a.permute(&[2, 0, 1]), vec![4, 6], true),
            (
                a.unsqueeze(1).broadcast_to(&[2, 5, 3, 4]),
                vec![2, 5, 12],
                true,
            ),
            (
                a.unsqueeze(1).broadcast_to(&[2, 5, 3, 4]),
                vec![10, 12],
                false,
            ),
            (a.narrow(0, 0, 0), vec![0, 7], true),
            (
                a.select(0, 1).select(0, 2).select(0, 3),
                vec![1, 1, 1],
                true,
            ),
        ];
        for (i, (source, shape, view)) in cases.into_iter().enumerate() {
            let reshaped = source.reshape(&shape);
            assert_eq!(reshaped.shape(), &shape[..], "case {i}");
            assert_eq!(reshaped.to_vec(), source.to_vec(), "case {i}");
            assert_eq!(reshaped.shares_storage_with(&a), view, "case {i}");
        }
    }

    #[test]
    fn permute_and_transpose_reorder_elements() {
        let a = iota(&[2, 3, 4]);
        let p = a.permute(&[2, 0, 1]);
        assert_eq!(p.shape(), &[4, 2, 3]);
        assert_eq!(p.get(&[3, 1, 2]), a.get(&[1, 2, 3]));
        assert_eq!(a.transpose(0, -1).get(&[3, 2, 1]), a.get(&[1, 2, 3]));
    }

    #[test]
    fn slice_with_step_picks_every_other() {
        let a = iota(&[7]);
        assert_eq!(a.slice(0, 1, 7, 2).to_vec(), vec![1.0, 3.0, 5.0]);
        assert_eq!(a.slice(0, 5, 100, 3).to_vec(), vec![5.0]);
        assert_eq!(a.slice(0, 3, 3, 1).numel(), 0);
    }

    #[test]
    #[should_panic(
        expected = "`narrow`: start 1 and length 5 run past the end of axis 0 (size 3) of shape [3]"
    )]
    fn narrow_past_the_end_panics_instead_of_shortening() {
        iota(&[3]).narrow(0, 1, 5);
    }

    #[test]
    #[should_panic(expected = "`narrow`: start 2 and length 18446744073709551615 run past the end")]
    fn narrow_with_an_overflowing_length_panics_instead_of_wrapping() {
        iota(&[3]).narrow(0, 2, usize::MAX);
    }

    #[test]
    fn reshape_of_non_contiguous_copies() {
        let a = iota(&[2, 3]);
        let r = a.t().reshape(&[6]);
        assert!(!r.shares_storage_with(&a));
        assert_eq!(r.to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }

    #[test]
    fn broadcast_repeats_size_one_dims() {
        let a = iota(&[3, 1]);
        let b = a.broadcast_to(&[2, 3, 2]);
        assert_eq!(
            b.to_vec(),
            vec![0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0]
        );
    }

    #[test]
    fn squeeze_and_unsqueeze_round_trip() {
        let a = iota(&[2, 1, 3]);
        assert_eq!(a.squeeze(1).shape(), &[2, 3]);
        assert_eq!(a.squeeze(1).unsqueeze(-1).shape(), &[2, 3, 1]);
        assert_eq!(a.squeeze_all().shape(), &[2, 3]);
    }

    #[test]
    #[should_panic(
        expected = "`reshape`: cannot reshape [2, 3] (6 elements) into [4] (4 elements)"
    )]
    fn reshape_to_wrong_size_panics() {
        iota(&[2, 3]).reshape(&[4]);
    }

    #[test]
    #[should_panic(expected = "`broadcast_to`: cannot broadcast [2, 3] to [4, 3]")]
    fn broadcast_to_incompatible_panics() {
        iota(&[2, 3]).broadcast_to(&[4, 3]);
    }

    #[test]
    #[should_panic(expected = "`squeeze`: axis 0 of shape [2, 3] has size 2, not 1")]
    fn squeeze_non_unit_axis_panics() {
        iota(&[2, 3]).squeeze(0);
    }
}
