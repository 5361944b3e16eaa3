//! Numerically stable softmax and log-softmax along one axis.

use crate::element::Float;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;

impl<T: Float> Tensor<T> {
    /// `e^(x - m) / Σ e^(x - m)` along `axis`, with `m` the maximum there (so large inputs
    /// never overflow).
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Tensor<T> {
        let Some(shifted) = self.shifted_by_max("softmax", axis) else {
            return self.clone();
        };
        let e = shifted.exp();
        e.div(&e.sum_keepdim(&[axis]))
    }

    /// `x - logsumexp(x)` along `axis`, computed without forming the softmax.
    #[track_caller]
    pub fn log_softmax(&self, axis: isize) -> Tensor<T> {
        let Some(shifted) = self.shifted_by_max("log_softmax", axis) else {
            return self.clone();
        };
        shifted.sub(&shifted.exp().sum_keepdim(&[axis]).ln())
    }

    /// `x - max(x)` along `axis`, the axis checked in `op`'s name (not `max`'s); `None`
    /// when the axis is empty, where the result is the (empty) input itself.
    #[track_caller]
    fn shifted_by_max(&self, op: &str, axis: isize) -> Option<Tensor<T>> {
        let ax = normalize_axis(op, axis, self.rank());
        if self.shape()[ax] == 0 {
            return None;
        }
        Some(self.sub(&self.max_keepdim(&[axis]).map(finite_or_zero)))
    }
}

/// A shift of ±∞ would turn every entry into NaN; shifting by 0 instead keeps
/// all-−∞ rows as they are.
fn finite_or_zero<T: Float>(m: T) -> T {
    if m.is_finite() {
        m
    } else {
        T::zero()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn softmax_rows_sum_to_one_and_survive_large_inputs() {
        let x = Tensor::<f64>::from_vec(vec![1000.0, 1001.0, 1002.0, -1.0, 0.0, 1.0], &[2, 3]);
        let s = x.softmax(-1);
        let e: f64 = 1.0 + 1f64.exp() + 2f64.exp();
        for row in 0..2 {
            assert_relative_eq!(s.get(&[row, 0]), 1.0 / e, epsilon = 1e-15);
            assert_relative_eq!(s.get(&[row, 2]), 2f64.exp() / e, epsilon = 1e-15);
        }
        assert_relative_eq!(x.log_softmax(1).get(&[0, 0]), -e.ln(), epsilon = 1e-12);
    }

    #[test]
    #[should_panic(expected = "`softmax`: axis 2 is out of range for a tensor of rank 2")]
    fn softmax_axis_error_names_softmax() {
        Tensor::<f64>::zeros(&[2, 3]).softmax(2);
    }

    #[test]
    fn softmax_over_an_empty_axis_is_empty() {
        let x = Tensor::<f64>::zeros(&[2, 0]);
        assert_eq!(x.softmax(-1).shape(), &[2, 0]);
        assert_eq!(x.log_softmax(1).shape(), &[2, 0]);
    }

    #[test]
    fn softmax_along_first_axis() {
        let x = Tensor::<f64>::from_vec(vec![0.0, 0.0, 0.0, 2f64.ln()], &[2, 2]);
        assert_eq!(
            x.softmax(0)
                .to_vec()
                .iter()
                .map(|v| (v * 1e12).round() / 1e12)
                .collect::<Vec<_>>(),
            [0.5, 1.0 / 3.0, 0.5, 2.0 / 3.0]
                .iter()
                .map(|v| (v * 1e12f64).round() / 1e12)
                .collect::<Vec<_>>()
        );
    }
}
