//! Metrics reported beside the loss: accuracy (binary and multi-class), top-k accuracy,
//! mean absolute and mean squared error. Each batch gives a sum and a count, so the epoch's
//! figure is exact however the batches split (a short last batch weighs what it holds).

use engram_tensor::{Float, Tensor};

/// A figure computed from predictions and targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Fraction of examples classified right. Predictions `[N, C]` (C > 1) are scored by
    /// their arg-max against class ids; predictions `[N]` or `[N, 1]` are probabilities
    /// of the positive class, thresholded at 0.5 against 0/1 targets (Keras's
    /// `binary_accuracy`).
    Accuracy,
    /// Fraction of examples whose class is among the `k` highest predictions `[N, C]`.
    TopK(usize),
    /// Mean absolute error over all elements.
    Mae,
    /// Mean squared error over all elements.
    Mse,
}

impl Metric {
    /// The name in logs and histories (`accuracy`, `top5_accuracy`, `mae`, `mse`).
    pub fn name(&self) -> String {
        match self {
            Metric::Accuracy => "accuracy".into(),
            Metric::TopK(k) => format!("top{k}_accuracy"),
            Metric::Mae => "mae".into(),
            Metric::Mse => "mse".into(),
        }
    }

    /// The batch's summed score and how many items it covers. Targets hold class ids (as
    /// floats) for the accuracies and values of the predictions' shape for the errors.
    #[track_caller]
    pub fn batch_sum<T: Float>(
        &self,
        predictions: &Tensor<T>,
        targets: &Tensor<T>,
    ) -> (f64, usize) {
        match self {
            Metric::Accuracy => {
                let classes = class_count(predictions);
                if classes == 1 {
                    let p = predictions.to_vec();
                    let t = flat_targets("accuracy", targets, p.len());
                    let hits = p
                        .iter()
                        .zip(&t)
                        .filter(|(p, t)| (p.as_f64() > 0.5) == (t.as_f64() > 0.5))
                        .count();
                    (hits as f64, p.len())
                } else {
                    Metric::TopK(1).batch_sum(predictions, targets)
                }
            }
            Metric::TopK(k) => {
                let classes = class_count(predictions);
                let rows = predictions.numel() / classes.max(1);
                let p = predictions.to_vec();
                let t = flat_targets(&self.name(), targets, rows);
                let hits = (0..rows)
                    .filter(|&r| {
                        let row = &p[r * classes..(r + 1) * classes];
                        let class = t[r].as_f64() as usize;
                        // Ties rank by index, as arg-max picks the first maximum.
                        let better = row
                            .iter()
                            .enumerate()
                            .filter(|&(j, &v)| v > row[class] || (v == row[class] && j < class))
                            .count();
                        class < classes && better < *k
                    })
                    .count();
                (hits as f64, rows)
            }
            Metric::Mae | Metric::Mse => {
                if predictions.numel() != targets.numel() {
                    panic!(
                        "engram: metric `{}`: predictions of shape {:?} and targets of shape {:?} \
                         hold different numbers of elements",
                        self.name(),
                        predictions.shape(),
                        targets.shape()
                    );
                }
                let sum = predictions
                    .to_vec()
                    .iter()
                    .zip(targets.to_vec())
                    .map(|(p, t)| {
                        let d = p.as_f64() - t.as_f64();
                        if *self == Metric::Mae {
                            d.abs()
                        } else {
                            d * d
                        }
                    })
                    .sum();
                (sum, predictions.numel())
            }
        }
    }
}

/// The size of the class axis: the last axis of a rank ≥ 2 prediction, else 1.
fn class_count<T: Float>(predictions: &Tensor<T>) -> usize {
    if predictions.rank() >= 2 {
        predictions.shape()[predictions.rank() - 1]
    } else {
        1
    }
}

#[track_caller]
fn flat_targets<T: Float>(metric: &str, targets: &Tensor<T>, rows: usize) -> Vec<T> {
    if targets.numel() != rows {
        panic!(
            "engram: metric `{metric}`: expected one target per example ({rows}), got targets of shape {:?}",
            targets.shape()
        );
    }
    targets.to_vec()
}

/// A metric's running sum over an epoch.
#[derive(Clone, Copy, Debug, Default)]
pub struct Running {
    total: f64,
    count: usize,
}

impl Running {
    /// Adds a batch's `(sum, count)`.
    pub fn add(&mut self, (sum, count): (f64, usize)) {
        self.total += sum;
        self.count += count;
    }

    /// The mean so far (NaN before any item).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.total / self.count as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(v.to_vec(), shape)
    }

    #[test]
    fn multiclass_accuracy_takes_the_arg_max() {
        let p = t(&[0.1, 0.7, 0.2, 0.5, 0.4, 0.1], &[2, 3]);
        assert_eq!(
            Metric::Accuracy.batch_sum(&p, &t(&[1.0, 2.0], &[2])),
            (1.0, 2)
        );
    }

    #[test]
    fn binary_accuracy_thresholds_at_one_half() {
        let p = t(&[0.9, 0.2, 0.6, 0.4], &[4, 1]);
        assert_eq!(
            Metric::Accuracy.batch_sum(&p, &t(&[1.0, 0.0, 0.0, 0.0], &[4])),
            (3.0, 4)
        );
    }

    #[test]
    fn top_k_counts_the_class_among_the_k_best() {
        let p = t(&[0.1, 0.7, 0.2, 0.5, 0.4, 0.1], &[2, 3]);
        let y = t(&[2.0, 2.0], &[2]);
        assert_eq!(Metric::TopK(2).batch_sum(&p, &y), (1.0, 2));
        assert_eq!(Metric::TopK(3).batch_sum(&p, &y), (2.0, 2));
    }

    #[test]
    fn errors_average_over_every_element() {
        let p = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let y = t(&[1.0, 0.0, 3.0, 7.0], &[2, 2]);
        assert_eq!(Metric::Mae.batch_sum(&p, &y), (5.0, 4));
        assert_eq!(Metric::Mse.batch_sum(&p, &y), (13.0, 4));
        let mut r = Running::default();
        r.add(Metric::Mae.batch_sum(&p, &y));
        r.add((3.0, 4));
        assert_eq!(r.mean(), 1.0);
    }

    #[test]
    #[should_panic(expected = "one target per example")]
    fn accuracy_rejects_targets_of_another_count() {
        Metric::Accuracy.batch_sum(&t(&[0.1, 0.9], &[1, 2]), &t(&[1.0, 0.0], &[2]));
    }
}
