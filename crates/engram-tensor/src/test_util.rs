//! Helpers shared by this crate's unit tests.

use crate::shape::numel;
use crate::tensor::Tensor;

/// `0, 1, 2, ...` in row-major order, in `shape`: every element says where it came from,
/// so a test of a view or an index reads its expected values off the positions.
pub(crate) fn iota(shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec((0..numel(shape)).map(|i| i as f64).collect(), shape)
}
