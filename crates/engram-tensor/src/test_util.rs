//! Helpers shared by this crate's unit tests.

use crate::element::Float;
use crate::shape::numel;
use crate::tensor::Tensor;

/// `0, 1, 2, ...` in row-major order, in `shape`: every element says where it came from,
/// so a test of a view or an index reads its expected values off the positions.
pub(crate) fn iota(shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec((0..numel(shape)).map(|i| i as f64).collect(), shape)
}

/// `n` values that make a max pooling choose carefully: NaNs of either sign, infinities,
/// zeros of either sign and many ties, between small integers.
pub(crate) fn awkward<T: Float>(n: usize) -> Vec<T> {
    (0..n)
        .map(|i| match i % 13 {
            3 => T::nan(),
            4 => -T::nan(),
            5 => T::infinity(),
            6 => T::neg_infinity(),
            7 | 8 => T::of(2.0),
            9 => T::zero(),
            10 => -T::zero(),
            _ => T::of(((i * 37) % 11) as f64 - 6.0),
        })
        .collect()
}

/// The bits of each element, widened to f64 (which keeps a NaN's sign and payload apart):
/// what a test compares when results must be bitwise identical.
pub(crate) fn bits<T: Float>(values: &[T]) -> Vec<u64> {
    values.iter().map(|v| v.as_f64().to_bits()).collect()
}
