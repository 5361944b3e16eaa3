//! Indexing: gather and its adjoint scatter_add, index_select and its adjoint index_add,
//! and one_hot.

use crate::element::{Element, Float};
use crate::shape::{checked_numel, normalize_axis, numel, shape_error, Shape};
use crate::strided::Walk;
use crate::tensor::Tensor;
use std::borrow::Cow;

#[track_caller]
fn check_index_shape(op: &str, input: &[usize], index: &[usize], axis: usize) {
    let fits =
        index.len() == input.len() && (0..input.len()).all(|d| d == axis || index[d] <= input[d]);
    if !fits {
        shape_error(
            op,
            format!(
                "index {index:?} does not fit input {input:?} along axis {axis}: it needs the same rank and, \
                 off that axis, dimensions no larger than the input's"
            ),
        );
    }
}

#[track_caller]
fn check_bound(op: &str, i: usize, size: usize, axis: usize) -> usize {
    if i >= size {
        shape_error(
            op,
            format!("index {i} is out of range for axis {axis} of size {size}"),
        );
    }
    i
}

/// Checks every index before any is used: a kernel's loop may visit none of them (an
/// empty input), and a panic inside a closure would point into this file rather than at
/// the caller.
#[track_caller]
fn check_bounds(op: &str, indices: impl IntoIterator<Item = usize>, size: usize, axis: usize) {
    if let Some(bad) = indices.into_iter().find(|&i| i >= size) {
        check_bound(op, bad, size, axis);
    }
}

/// Splits a contiguous shape at `axis` into (elements before, size of axis, elements after).
fn around(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        numel(&shape[..axis]),
        shape[axis],
        numel(&shape[axis + 1..]),
    )
}

/// Positions along one axis, for `index_select` and `index_add`: `&[usize]`,
/// `&[usize; N]`, `&Vec<usize>`, or a 1-d `&Tensor<usize>` (the index type `gather`
/// takes), so an index computed as a tensor needs no conversion.
pub trait Indices {
    /// The positions; panics, naming `op`, if they come as a tensor that is not 1-d.
    #[track_caller]
    fn positions(&self, op: &str) -> Cow<'_, [usize]>;
}

impl Indices for &[usize] {
    fn positions(&self, _: &str) -> Cow<'_, [usize]> {
        Cow::Borrowed(self)
    }
}

impl<const N: usize> Indices for &[usize; N] {
    fn positions(&self, _: &str) -> Cow<'_, [usize]> {
        Cow::Borrowed(&self[..])
    }
}

impl Indices for &Vec<usize> {
    fn positions(&self, _: &str) -> Cow<'_, [usize]> {
        Cow::Borrowed(self)
    }
}

impl Indices for &Tensor<usize> {
    #[track_caller]
    fn positions(&self, op: &str) -> Cow<'_, [usize]> {
        if self.rank() != 1 {
            shape_error(
                op,
                format!("indices must be 1-d, got shape {:?}", self.shape()),
            );
        }
        self.contiguous_data()
    }
}

impl<T: Element> Tensor<T> {
    /// `out[p] = self[p with p[axis] replaced by index[p]]`, as PyTorch's `gather`; the
    /// result has the index's shape.
    #[track_caller]
    pub fn gather(&self, axis: isize, index: &Tensor<usize>) -> Tensor<T> {
        let ax = normalize_axis("gather", axis, self.rank());
        check_index_shape("gather", self.shape(), index.shape(), ax);
        let mut strides: Shape = self.strides.clone();
        strides[ax] = 0;
        let walk = Walk::new(
            index.shape(),
            [index.strides(), &strides],
            [index.offset, self.offset],
        );
        let (di, ds, step) = (index.data(), self.data(), self.strides[ax]);
        check_bounds("gather", index.to_vec(), self.shape[ax], ax);
        let mut out = crate::buffer_pool::with_capacity(index.numel());
        walk.for_each(|[oi, os]| out.push(ds[os + di[oi] * step]));
        Tensor::from_pooled(out, index.shape())
    }

    /// The slices at `indices` along `axis`, in that order (repeats allowed).
    #[track_caller]
    pub fn index_select(&self, axis: isize, indices: impl Indices) -> Tensor<T> {
        let indices = indices.positions("index_select");
        let ax = normalize_axis("index_select", axis, self.rank());
        let (outer, dim, inner) = around(self.shape(), ax);
        check_bounds("index_select", indices.iter().copied(), dim, ax);
        let mut shape = self.shape.clone();
        shape[ax] = indices.len();
        let src = self.contiguous_data();
        let mut out = crate::buffer_pool::with_capacity(checked_numel("index_select", &shape));
        for o in 0..outer {
            for &i in indices.iter() {
                let start = (o * dim + i) * inner;
                out.extend_from_slice(&src[start..start + inner]);
            }
        }
        Tensor::from_pooled(out, &shape)
    }
}

impl<T: Float> Tensor<T> {
    /// A copy of `self` with `src[p]` added at `p with p[axis] replaced by index[p]`, as
    /// PyTorch's `scatter_add` (`src` has the index's shape). The adjoint of `gather`.
    #[track_caller]
    pub fn scatter_add(&self, axis: isize, index: &Tensor<usize>, src: &Tensor<T>) -> Tensor<T> {
        let ax = normalize_axis("scatter_add", axis, self.rank());
        check_index_shape("scatter_add", self.shape(), index.shape(), ax);
        if src.shape() != index.shape() {
            shape_error(
                "scatter_add",
                format!(
                    "src {:?} must have the index's shape {:?}",
                    src.shape(),
                    index.shape()
                ),
            );
        }
        let mut out = self.pooled_copy();
        let mut strides = crate::shape::contiguous_strides(self.shape());
        let step = strides[ax];
        strides[ax] = 0;
        let walk = Walk::new(
            index.shape(),
            [index.strides(), src.strides(), &strides],
            [index.offset, src.offset, 0],
        );
        let (di, dsrc) = (index.data(), src.data());
        check_bounds("scatter_add", index.to_vec(), self.shape[ax], ax);
        walk.for_each(|[oi, os, oo]| out[oo + di[oi] * step] += dsrc[os]);
        Tensor::from_pooled(out, self.shape())
    }

    /// A copy of `self` with slice `j` of `src` added at slice `indices[j]` along `axis`
    /// (repeated indices accumulate). The adjoint of `index_select`.
    #[track_caller]
    pub fn index_add(&self, axis: isize, indices: impl Indices, src: &Tensor<T>) -> Tensor<T> {
        let indices = indices.positions("index_add");
        let ax = normalize_axis("index_add", axis, self.rank());
        let mut expected = self.shape.clone();
        expected[ax] = indices.len();
        if src.shape() != &expected[..] {
            shape_error(
                "index_add",
                format!(
                    "src {:?} must be {expected:?} for {} indices into {:?}",
                    src.shape(),
                    indices.len(),
                    self.shape()
                ),
            );
        }
        let (outer, dim, inner) = around(self.shape(), ax);
        check_bounds("index_add", indices.iter().copied(), dim, ax);
        let mut out = self.pooled_copy();
        let s = src.contiguous_data();
        for o in 0..outer {
            for (j, &i) in indices.iter().enumerate() {
                let dst = (o * dim + i) * inner;
                let from = (o * indices.len() + j) * inner;
                for (d, &v) in out[dst..dst + inner].iter_mut().zip(&s[from..from + inner]) {
                    *d += v;
                }
            }
        }
        Tensor::from_pooled(out, self.shape())
    }

    /// One-hot rows: shape `indices.shape() + [classes]`, 1 at each index, 0 elsewhere.
    #[track_caller]
    pub fn one_hot(indices: &Tensor<usize>, classes: usize) -> Tensor<T> {
        let idx = indices.to_vec();
        check_bounds("one_hot", idx.iter().copied(), classes, indices.rank());
        let mut shape: Shape = indices.shape.clone();
        shape.push(classes);
        let mut out = crate::buffer_pool::full(checked_numel("one_hot", &shape), T::zero());
        for (row, &i) in idx.iter().enumerate() {
            out[row * classes + i] = T::one();
        }
        Tensor::from_pooled(out, &shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::iota;

    #[test]
    fn gather_picks_along_axis() {
        let x = iota(&[2, 3]);
        let idx = Tensor::from_vec(vec![2, 0, 1, 1], &[2, 2]);
        assert_eq!(x.gather(1, &idx).to_vec(), vec![2.0, 0.0, 4.0, 4.0]);
        let idx0 = Tensor::from_vec(vec![1, 0, 1], &[1, 3]);
        assert_eq!(x.gather(0, &idx0).to_vec(), vec![3.0, 1.0, 5.0]);
    }

    #[test]
    fn gather_on_transposed_input() {
        let x = iota(&[3, 2]).t(); // [[0,2,4],[1,3,5]]
        let idx = Tensor::from_vec(vec![1, 2], &[2, 1]);
        assert_eq!(x.gather(1, &idx).to_vec(), vec![2.0, 5.0]);
    }

    #[test]
    fn scatter_add_accumulates_repeats() {
        let base = Tensor::<f64>::zeros(&[2, 3]);
        let idx = Tensor::from_vec(vec![0, 0, 2, 1], &[2, 2]);
        let src = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        assert_eq!(
            base.scatter_add(1, &idx, &src).to_vec(),
            vec![3.0, 0.0, 0.0, 0.0, 4.0, 3.0]
        );
    }

    #[test]
    fn index_select_and_index_add_are_adjoint() {
        let x = iota(&[3, 2]);
        let s = x.index_select(0, &[2, 0, 2]);
        assert_eq!(s.to_vec(), vec![4.0, 5.0, 0.0, 1.0, 4.0, 5.0]);
        let back = Tensor::<f64>::zeros(&[3, 2]).index_add(0, &[2, 0, 2], &Tensor::ones(&[3, 2]));
        assert_eq!(back.to_vec(), vec![1.0, 1.0, 0.0, 0.0, 2.0, 2.0]);
        assert_eq!(
            iota(&[2, 3]).index_select(-1, &[1]).to_vec(),
            vec![1.0, 4.0]
        );
        let as_tensor = Tensor::from_vec(vec![2, 0, 2], &[3]);
        assert_eq!(x.index_select(0, &as_tensor).to_vec(), s.to_vec());
        assert_eq!(x.index_select(0, &vec![2, 0, 2]).to_vec(), s.to_vec());
    }

    #[test]
    fn one_hot_places_ones() {
        let idx = Tensor::from_vec(vec![2, 0], &[2]);
        assert_eq!(
            Tensor::<f32>::one_hot(&idx, 3).to_vec(),
            vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
        );
    }

    #[test]
    #[should_panic(expected = "`index_select`: indices must be 1-d, got shape [1, 2]")]
    fn index_select_with_a_matrix_of_indices_panics() {
        iota(&[2, 3]).index_select(0, &Tensor::from_vec(vec![0, 1], &[1, 2]));
    }

    #[test]
    #[should_panic(expected = "`index_select`: index 99 is out of range for axis 1 of size 0")]
    fn index_select_on_an_empty_axis_rejects_any_index() {
        Tensor::<f64>::zeros(&[0, 0]).index_select(1, &[99]);
    }

    #[test]
    #[should_panic(expected = "`index_add`: index 5 is out of range for axis 0 of size 2")]
    fn index_add_checks_indices_even_when_there_is_nothing_to_add() {
        Tensor::<f64>::zeros(&[2, 0]).index_add(0, &[5], &Tensor::zeros(&[1, 0]));
    }

    #[test]
    #[should_panic(expected = "`gather`: index 3 is out of range for axis 1 of size 3")]
    fn gather_out_of_range_panics() {
        iota(&[2, 3]).gather(1, &Tensor::from_vec(vec![3], &[1, 1]));
    }
}
