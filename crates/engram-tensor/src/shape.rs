//! Shapes, strides, axes and broadcasting rules, and the panic messages for getting them wrong.

use smallvec::SmallVec;

/// The dimensions (or strides) of a tensor; ranks up to 4 (NCHW) never allocate, which
/// keeps `Tensor` small enough that scalar-heavy tapes move little memory per op.
pub type Shape = SmallVec<[usize; 4]>;

/// Builds a [`Shape`] from anything that lists dimensions.
#[inline]
pub fn shape_of(dims: &[usize]) -> Shape {
    if dims.len() <= 4 {
        // All four lanes are copied, whatever the rank, inline in the caller:
        // `from_slice`'s copy of a variable length is a call to `memcpy`, which was most of
        // the cost of the several shapes a scalar op builds (benches/autograd.rs,
        // tape_chain_10k_scalar_ops).
        let lanes: [usize; 4] = std::array::from_fn(|i| dims.get(i).copied().unwrap_or(0));
        SmallVec::from_buf_and_len(lanes, dims.len())
    } else {
        spilled_shape_of(dims)
    }
}

/// [`shape_of`] past the inline rank, kept out of line so that the common case inlines.
#[inline(never)]
fn spilled_shape_of(dims: &[usize]) -> Shape {
    SmallVec::from_slice(dims)
}

/// Number of elements of a shape (1 for a scalar, 0 if any dimension is 0); panics when
/// the product of the dimensions does not fit in `usize`, rather than wrapping to a small
/// (or zero) count.
#[track_caller]
#[inline]
pub fn numel(shape: &[usize]) -> usize {
    // Ranks 0 and 1 cannot overflow: skip the checked product for the scalars and vectors
    // whose every op asks.
    match shape {
        [] => 1,
        [n] => *n,
        _ => checked_numel("numel", shape),
    }
}

/// [`numel`] for `op`, which the panic names.
#[track_caller]
pub(crate) fn checked_numel(op: &str, shape: &[usize]) -> usize {
    match try_numel(shape) {
        Some(n) => n,
        None => shape_error(
            op,
            format!(
                "shape {shape:?} has more elements than fit in memory (the product of its \
                 dimensions overflows usize)"
            ),
        ),
    }
}

/// Number of elements of a shape, or `None` when it overflows `usize`.
pub fn try_numel(shape: &[usize]) -> Option<usize> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Row-major strides of a contiguous tensor of this shape.
///
/// Saturates rather than overflowing: that can only happen beside a zero dimension, where
/// the tensor is empty and no stride is ever used to address an element.
pub fn contiguous_strides(shape: &[usize]) -> Shape {
    // Starts from a copy of the shape only to get a vector of its length cheaply.
    let mut strides = shape_of(shape);
    let mut acc: usize = 1;
    for (stride, &dim) in strides.iter_mut().zip(shape).rev() {
        *stride = acc;
        acc = acc.saturating_mul(dim.max(1));
    }
    strides
}

/// Panics with Engram's shape-error format: the op, what went wrong, and a hint.
#[track_caller]
pub fn shape_error(op: &str, message: impl std::fmt::Display) -> ! {
    panic!("engram: `{op}`: {message}")
}

/// Resolves a possibly negative axis (`-1` is the last) against a rank, panicking if out of range.
#[track_caller]
pub fn normalize_axis(op: &str, axis: isize, rank: usize) -> usize {
    let resolved = if axis < 0 { axis + rank as isize } else { axis };
    if resolved < 0 || resolved >= rank as isize {
        shape_error(
            op,
            format!(
                "axis {axis} is out of range for a tensor of rank {rank} (valid: {} to {})",
                -(rank as isize),
                rank as isize - 1
            ),
        );
    }
    resolved as usize
}

/// Resolves a list of axes, sorted and without repeats; an empty list stays empty.
#[track_caller]
pub fn normalize_axes(op: &str, axes: &[isize], rank: usize) -> SmallVec<[usize; 6]> {
    // A loop, not `map`: a closure would not pass on `#[track_caller]`.
    let mut out: SmallVec<[usize; 6]> = SmallVec::new();
    for &a in axes {
        out.push(normalize_axis(op, a, rank));
    }
    out.sort_unstable();
    let before = out.len();
    out.dedup();
    if out.len() != before {
        shape_error(op, format!("axes {axes:?} name the same axis twice"));
    }
    out
}

/// The NumPy broadcast of two shapes, or a panic naming the op and both shapes.
#[track_caller]
pub fn broadcast_shapes(op: &str, a: &[usize], b: &[usize]) -> Shape {
    // A `match`, not `unwrap_or_else`: a closure would not pass on `#[track_caller]`, and
    // the panic would point here instead of at the user's line.
    let Some(shape) = try_broadcast_shapes(a, b) else {
        shape_error(
            op,
            format!(
                "shapes {a:?} and {b:?} cannot be broadcast together: aligned from the right, \
                 each pair of dimensions must be equal or one of them 1"
            ),
        )
    };
    if try_numel(&shape).is_none() {
        shape_error(
            op,
            format!(
                "broadcasting {a:?} with {b:?} gives {shape:?}, more elements than fit in memory"
            ),
        );
    }
    shape
}

/// The NumPy broadcast of two shapes, or `None` when they are incompatible.
pub fn try_broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Shape> {
    let rank = a.len().max(b.len());
    let mut out: Shape = SmallVec::from_elem(0, rank);
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// The axes of `from` to sum over to undo a broadcast of `to` up to `from`: the leading
/// axes `to` lacks and those where `to` has 1. Panics (as `sum_to_shape`) when `from` is
/// not a broadcast of `to`. Shared by `Tensor::sum_to_shape` and `Var::sum_to_shape`.
#[track_caller]
pub fn sum_to_shape_axes(from: &[usize], to: &[usize]) -> SmallVec<[isize; 6]> {
    let not_a_broadcast = || -> ! {
        shape_error(
            "sum_to_shape",
            format!("{from:?} is not a broadcast of {to:?}, so it cannot be summed back to it"),
        )
    };
    if to.len() > from.len() {
        not_a_broadcast();
    }
    let lead = from.len() - to.len();
    let mut axes: SmallVec<[isize; 6]> = (0..lead as isize).collect();
    for (i, &d) in to.iter().enumerate() {
        let have = from[lead + i];
        if d == 1 && have != 1 {
            axes.push((lead + i) as isize);
        } else if d != have {
            not_a_broadcast();
        }
    }
    axes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_follows_numpy_rules() {
        assert_eq!(&broadcast_shapes("t", &[3, 1, 5], &[4, 1])[..], &[3, 4, 5]);
        assert_eq!(&broadcast_shapes("t", &[], &[2, 3])[..], &[2, 3]);
        assert_eq!(&broadcast_shapes("t", &[0, 1], &[1, 7])[..], &[0, 7]);
        assert!(try_broadcast_shapes(&[2, 3], &[4, 3]).is_none());
    }

    #[test]
    #[should_panic(expected = "`add`: shapes [2, 3] and [4, 3] cannot be broadcast together")]
    fn broadcast_error_names_op_and_shapes() {
        broadcast_shapes("add", &[2, 3], &[4, 3]);
    }

    #[test]
    fn negative_axes_count_from_the_end() {
        assert_eq!(normalize_axis("t", -1, 3), 2);
        assert_eq!(&normalize_axes("t", &[-1, 0], 3)[..], &[0, 2]);
    }

    #[test]
    #[should_panic(expected = "axis 3 is out of range for a tensor of rank 3")]
    fn axis_out_of_range_panics() {
        normalize_axis("sum", 3, 3);
    }

    #[test]
    fn sum_to_shape_axes_undo_broadcasting() {
        assert_eq!(&sum_to_shape_axes(&[2, 3, 4], &[3, 1])[..], &[0, 2]);
        assert_eq!(&sum_to_shape_axes(&[2, 3], &[2, 3])[..], &[] as &[isize]);
    }

    #[test]
    #[should_panic(expected = "`sum_to_shape`: [2, 3] is not a broadcast of [4, 3]")]
    fn sum_to_shape_axes_reject_a_non_broadcast() {
        sum_to_shape_axes(&[2, 3], &[4, 3]);
    }

    #[test]
    #[should_panic(expected = "`numel`: shape [8589934592, 2147483648] has more elements than fit")]
    fn numel_overflow_panics_instead_of_wrapping() {
        numel(&[1 << 33, 1 << 31]);
    }

    #[test]
    fn numel_of_a_huge_shape_with_a_zero_dimension_is_zero() {
        assert_eq!(numel(&[1 << 40, 0, 1 << 40]), 0);
        assert_eq!(contiguous_strides(&[1 << 40, 0, 1 << 40])[2], 1);
    }

    #[test]
    fn strides_are_row_major() {
        assert_eq!(&contiguous_strides(&[2, 3, 4])[..], &[12, 4, 1]);
        assert_eq!(numel(&[2, 0, 4]), 0);
        assert_eq!(numel(&[]), 1);
    }
}
