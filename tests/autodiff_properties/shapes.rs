//! Random shapes, broadcast groups, axis sets and layouts, and the index arithmetic the
//! naive references use. Written from NumPy's rules directly, not through Engram's shape
//! helpers, so that a reference does not share a bug with the code it checks.

use engram::autograd::Var;
use engram::tensor::Tensor;
use proptest::collection::vec;
use proptest::prelude::*;

/// Largest rank generated.
pub const MAX_RANK: usize = 4;

/// One dimension: 1–4, or now and then 0 when `empty` (for ops that allow empty tensors).
pub fn dim(empty: bool) -> BoxedStrategy<usize> {
    if empty {
        prop_oneof![9 => 1..=4usize, 1 => Just(0usize)].boxed()
    } else {
        (1..=4usize).boxed()
    }
}

/// A shape of rank 0 to [`MAX_RANK`].
pub fn shape(empty: bool) -> impl Strategy<Value = Vec<usize>> {
    vec(dim(empty), 0..=MAX_RANK)
}

/// A shape of rank at least `min_rank`.
pub fn shape_of_rank_at_least(min_rank: usize, empty: bool) -> impl Strategy<Value = Vec<usize>> {
    vec(dim(empty), min_rank..=MAX_RANK)
}

/// `n` shapes that broadcast together: each is a target shape with some leading axes
/// dropped and some others set to 1, so every pairing NumPy allows turns up (equal
/// shapes, scalars, size-1 axes on either side, different ranks).
pub fn broadcast_group(n: usize, empty: bool) -> impl Strategy<Value = Vec<Vec<usize>>> {
    shape(empty).prop_flat_map(move |target| {
        let rank = target.len();
        let operand = (0..=rank, vec(any::<bool>(), rank)).prop_map({
            let target = target.clone();
            move |(dropped, ones)| {
                (dropped..rank)
                    .map(|d| if ones[d] { 1 } else { target[d] })
                    .collect::<Vec<usize>>()
            }
        });
        vec(operand, n)
    })
}

/// NumPy's broadcast of several shapes: aligned at the right, each axis takes the size
/// that is not 1 (0 included), or 1 if all are 1. The shapes must be compatible.
pub fn broadcast(shapes: &[Vec<usize>]) -> Vec<usize> {
    let rank = shapes.iter().map(Vec::len).max().unwrap_or(0);
    (0..rank)
        .map(|d| {
            shapes
                .iter()
                .filter_map(|s| (d + s.len()).checked_sub(rank).map(|i| s[i]))
                .find(|&n| n != 1)
                .unwrap_or(1)
        })
        .collect()
}

/// The index into an operand of shape `of` that a broadcast output index `out` reads.
pub fn broadcast_index(out: &[usize], of: &[usize]) -> Vec<usize> {
    let lead = out.len() - of.len();
    of.iter()
        .enumerate()
        .map(|(k, &n)| if n == 1 { 0 } else { out[lead + k] })
        .collect()
}

/// Every multi-index of `shape`, in row-major order.
pub fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let total: usize = shape.iter().product();
    (0..total)
        .map(|mut flat| {
            let mut idx = vec![0; shape.len()];
            for d in (0..shape.len()).rev() {
                idx[d] = flat % shape[d];
                flat /= shape[d];
            }
            idx
        })
        .collect()
}

/// A random order of `0..rank`.
pub fn permutation(rank: usize) -> impl Strategy<Value = Vec<usize>> {
    Just((0..rank).collect::<Vec<usize>>()).prop_shuffle()
}

/// A set of distinct axes of a tensor of rank `rank`, in random order, each written
/// either from the front (`d`) or from the back (`d - rank`); empty and full sets
/// included.
pub fn axis_set(rank: usize) -> impl Strategy<Value = Vec<isize>> {
    (
        vec(any::<bool>(), rank),
        vec(any::<bool>(), rank),
        permutation(rank),
    )
        .prop_map(move |(chosen, negative, order)| {
            order
                .into_iter()
                .filter(|&d| chosen[d])
                .map(|d| {
                    if negative[d] {
                        d as isize - rank as isize
                    } else {
                        d as isize
                    }
                })
                .collect()
        })
}

/// An axis of a tensor of rank `rank` (at least 1), from the front or from the back.
pub fn axis(rank: usize) -> impl Strategy<Value = isize> {
    let r = rank as isize;
    -r..r
}

/// An axis written as given resolved to `0..rank`.
pub fn resolve(axis: isize, rank: usize) -> usize {
    if axis < 0 {
        (axis + rank as isize) as usize
    } else {
        axis as usize
    }
}

/// How an input is held: contiguous in a permuted axis order, so that the op under test
/// reads it through a strided view (`permute`) rather than always a contiguous buffer.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The axis order of the stored buffer: stored axis `i` is logical axis `perm[i]`.
    perm: Vec<usize>,
}

impl Layout {
    /// A layout for a tensor of rank `rank`: usually a random order, sometimes the plain one.
    pub fn strategy(rank: usize) -> impl Strategy<Value = Layout> {
        permutation(rank).prop_map(|perm| Layout { perm })
    }

    /// The permutation that turns the stored buffer back into the logical tensor.
    fn inverse(&self) -> Vec<usize> {
        let mut inv = vec![0; self.perm.len()];
        for (i, &p) in self.perm.iter().enumerate() {
            inv[p] = i;
        }
        inv
    }

    /// The contiguous buffer that holds `logical` in this layout.
    pub fn store(&self, logical: &Tensor<f64>) -> Tensor<f64> {
        Tensor::from_vec(
            logical.permute(&self.perm).to_vec(),
            &permuted(logical.shape(), &self.perm),
        )
    }

    /// The logical Var, as a recorded permute of the stored leaf.
    pub fn view(&self, stored: &Var<f64>) -> Var<f64> {
        stored.permute(&self.inverse())
    }
}

fn permuted(shape: &[usize], perm: &[usize]) -> Vec<usize> {
    perm.iter().map(|&p| shape[p]).collect()
}

/// The row-major position of a multi-index in `shape`.
pub fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |flat, (&i, &n)| flat * n + i)
}
