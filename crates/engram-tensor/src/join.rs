//! Joining and splitting: concat, stack, split, chunk, and constant padding.

use crate::element::Element;
use crate::shape::{normalize_axis, numel, shape_error, Shape};
use crate::tensor::Tensor;

/// Checks that `shapes` can be stacked (at least one, all equal) and resolves the new
/// axis, which may be one past the last. Shared with the differentiable `Var::stack`.
#[track_caller]
pub fn stack_axis(shapes: &[&[usize]], axis: isize) -> usize {
    let Some(first) = shapes.first() else {
        shape_error("stack", "needs at least one input")
    };
    if let Some(other) = shapes.iter().find(|s| s != &first) {
        shape_error(
            "stack",
            format!("all inputs need one shape, got {first:?} and {other:?}"),
        );
    }
    normalize_axis("stack", axis, first.len() + 1)
}

/// The resolved axis and the `(start, len)` of each part of `split(axis, sizes)`, checked
/// against `shape`. Shared with the differentiable `Var::split`.
#[track_caller]
pub fn split_ranges(shape: &[usize], axis: isize, sizes: &[usize]) -> (usize, Vec<(usize, usize)>) {
    let ax = normalize_axis("split", axis, shape.len());
    if sizes.iter().sum::<usize>() != shape[ax] {
        shape_error(
            "split",
            format!("sizes {sizes:?} do not add up to axis {ax} of shape {shape:?}"),
        );
    }
    let mut start = 0;
    let ranges = sizes
        .iter()
        .map(|&len| {
            start += len;
            (start - len, len)
        })
        .collect();
    (ax, ranges)
}

/// The part sizes of `chunk(axis, chunks)`: `ceil(dim / chunks)` each, the last one
/// smaller when the dimension does not divide evenly (so there may be fewer than
/// `chunks` parts, as in PyTorch).
#[track_caller]
pub fn chunk_sizes(shape: &[usize], axis: isize, chunks: usize) -> Vec<usize> {
    let ax = normalize_axis("chunk", axis, shape.len());
    if chunks == 0 {
        shape_error("chunk", "needs at least one chunk");
    }
    let dim = shape[ax];
    let size = dim.div_ceil(chunks).max(1);
    let mut sizes = vec![size; dim / size];
    if !dim.is_multiple_of(size) {
        sizes.push(dim % size);
    }
    sizes
}

impl<T: Element> Tensor<T> {
    /// Joins tensors along an existing axis; all other dimensions must agree.
    #[track_caller]
    pub fn concat(tensors: &[&Tensor<T>], axis: isize) -> Tensor<T> {
        let Some(first) = tensors.first() else {
            shape_error("concat", "needs at least one tensor")
        };
        let ax = normalize_axis("concat", axis, first.rank());
        for t in tensors {
            let ok = t.rank() == first.rank()
                && (0..first.rank()).all(|d| d == ax || t.shape()[d] == first.shape()[d]);
            if !ok {
                let shapes: Vec<&[usize]> = tensors.iter().map(|t| t.shape()).collect();
                shape_error("concat", format!("shapes {shapes:?} differ off axis {ax}"));
            }
        }
        let outer = numel(&first.shape()[..ax]);
        let inner = numel(&first.shape()[ax + 1..]);
        let parts: Vec<_> = tensors
            .iter()
            .map(|t| (t.contiguous_data(), t.shape()[ax] * inner))
            .collect();
        let total: usize = tensors.iter().map(|t| t.shape()[ax]).sum();
        let mut out = crate::buffer_pool::with_capacity(outer * total * inner);
        for o in 0..outer {
            for (data, block) in &parts {
                out.extend_from_slice(&data[o * block..(o + 1) * block]);
            }
        }
        let mut shape: Shape = first.shape.clone();
        shape[ax] = total;
        Tensor::from_pooled(out, &shape)
    }

    /// Joins same-shaped tensors along a new axis.
    #[track_caller]
    pub fn stack(tensors: &[&Tensor<T>], axis: isize) -> Tensor<T> {
        let shapes: Vec<&[usize]> = tensors.iter().map(|t| t.shape()).collect();
        let ax = stack_axis(&shapes, axis) as isize;
        let expanded: Vec<Tensor<T>> = tensors.iter().map(|t| t.unsqueeze(ax)).collect();
        Tensor::concat(&expanded.iter().collect::<Vec<_>>(), ax)
    }

    /// Splits into consecutive views of the given sizes along `axis` (they must add up),
    /// as `torch.split(x, sizes, dim)`.
    #[track_caller]
    pub fn split(&self, axis: isize, sizes: &[usize]) -> Vec<Tensor<T>> {
        let (ax, ranges) = split_ranges(self.shape(), axis, sizes);
        ranges
            .into_iter()
            .map(|(start, len)| self.narrow(ax as isize, start, len))
            .collect()
    }

    /// Splits into `chunks` views of equal size along `axis` (the last may be smaller), as
    /// PyTorch's `chunk`.
    #[track_caller]
    pub fn chunk(&self, axis: isize, chunks: usize) -> Vec<Tensor<T>> {
        self.split(axis, &chunk_sizes(self.shape(), axis, chunks))
    }

    /// Pads with `value`: `widths[d] = (before, after)` for each axis `d`, as NumPy's `pad`.
    #[track_caller]
    pub fn pad(&self, widths: &[(usize, usize)], value: T) -> Tensor<T> {
        if widths.len() != self.rank() {
            shape_error(
                "pad",
                format!(
                    "needs one (before, after) pair per axis: {} for shape {:?}, got {}",
                    self.rank(),
                    self.shape(),
                    widths.len()
                ),
            );
        }
        let mut shape: Shape = Shape::new();
        for (&d, &(before, after)) in self.shape().iter().zip(widths) {
            match d.checked_add(before).and_then(|s| s.checked_add(after)) {
                Some(padded) => shape.push(padded),
                None => shape_error(
                    "pad",
                    format!(
                        "widths {widths:?} make shape {:?} larger than fits in memory",
                        self.shape()
                    ),
                ),
            }
        }
        let mut out = Tensor::filled_with("pad", &shape, value);
        let mut interior = out.clone();
        for (d, &(before, _)) in widths.iter().enumerate() {
            interior = interior.narrow(d as isize, before, self.shape()[d]);
        }
        let src = self.to_vec();
        let offsets: Vec<usize> = {
            let mut v = Vec::with_capacity(src.len());
            interior.walk().for_each(|[o]| v.push(o));
            v
        };
        drop(interior);
        let dst = out.as_mut_slice();
        for (o, x) in offsets.into_iter().zip(src) {
            dst[o] = x;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::iota;

    #[test]
    fn concat_along_inner_axis_interleaves_rows() {
        let a = iota(&[2, 2]);
        let b = iota(&[2, 1]).map(|v| v + 10.0);
        assert_eq!(
            Tensor::concat(&[&a, &b], 1).to_vec(),
            vec![0.0, 1.0, 10.0, 2.0, 3.0, 11.0]
        );
        assert_eq!(
            Tensor::concat(&[&a, &a.t()], 0).to_vec(),
            vec![0.0, 1.0, 2.0, 3.0, 0.0, 2.0, 1.0, 3.0]
        );
    }

    #[test]
    fn stack_adds_an_axis() {
        let a = iota(&[2]);
        let s = Tensor::stack(&[&a, &a], -1);
        assert_eq!(s.shape(), &[2, 2]);
        assert_eq!(s.to_vec(), vec![0.0, 0.0, 1.0, 1.0]);
    }

    #[test]
    fn split_and_chunk_are_views() {
        let a = iota(&[5, 2]);
        let parts = a.split(0, &[2, 3]);
        assert_eq!(parts[1].to_vec(), vec![4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        assert!(parts[1].shares_storage_with(&a));
        let chunks = a.chunk(0, 2);
        assert_eq!(
            chunks.iter().map(|c| c.shape()[0]).collect::<Vec<_>>(),
            vec![3, 2]
        );
    }

    #[test]
    fn pad_surrounds_with_value() {
        let a = iota(&[1, 2]);
        let p = a.pad(&[(1, 0), (0, 2)], -1.0);
        assert_eq!(p.shape(), &[2, 4]);
        assert_eq!(
            p.to_vec(),
            vec![-1.0, -1.0, -1.0, -1.0, 0.0, 1.0, -1.0, -1.0]
        );
    }

    #[test]
    #[should_panic(expected = "`concat`: shapes [[2, 2], [3, 1]] differ off axis 1")]
    fn concat_mismatch_panics() {
        Tensor::concat(&[&iota(&[2, 2]), &iota(&[3, 1])], 1);
    }
}
