//! Standardising features: statistics fitted on the training split, applied to every
//! split, as scikit-learn's `StandardScaler`.

use engram_tensor::{shape_error, Float, Tensor};

/// Per-feature mean and standard deviation, fitted on training features and then used to
/// standardise any split to zero mean and unit variance — fitting on the training split
/// alone keeps test statistics out of training.
///
/// Statistics run over the first axis (the examples), so features `[N, F]` get `F` means,
/// and images `[N, C, H, W]` one per pixel. The standard deviation is the population one
/// (no Bessel correction) and a constant feature is divided by 1 instead of 0, both as in
/// scikit-learn.
///
/// ```
/// use engram_nn::data::StandardScaler;
/// use engram_tensor::Tensor;
///
/// let train = Tensor::<f64>::from_vec(vec![1.0, 10.0, 3.0, 10.0], &[2, 2]);
/// let scaler = StandardScaler::fit(&train);
/// assert_eq!(scaler.transform(&train).to_vec(), vec![-1.0, 0.0, 1.0, 0.0]);
/// let test = Tensor::from_vec(vec![4.0, 12.0], &[1, 2]);
/// assert_eq!(scaler.transform(&test).to_vec(), vec![2.0, 2.0]);
/// ```
#[derive(Clone, Debug)]
pub struct StandardScaler<T: Float = f32> {
    mean: Tensor<T>,
    std: Tensor<T>,
}

impl<T: Float> StandardScaler<T> {
    /// Fits the mean and standard deviation of `features` `[N, ...]` over its first axis;
    /// panics when it has no examples.
    #[track_caller]
    pub fn fit(features: &Tensor<T>) -> Self {
        if features.rank() == 0 || features.dim(0) == 0 {
            shape_error(
                "StandardScaler::fit",
                format!(
                    "needs features [N, ...] with N >= 1, got {:?}",
                    features.shape()
                ),
            );
        }
        let mean = features.mean_axes(&[0]);
        let std = features
            .var_axes(&[0], 0)
            .map(|v| if v > T::zero() { v.sqrt() } else { T::one() });
        StandardScaler { mean, std }
    }

    /// The fitted means, one per feature.
    pub fn mean(&self) -> &Tensor<T> {
        &self.mean
    }

    /// The fitted standard deviations, one per feature (1 for a constant feature).
    pub fn std(&self) -> &Tensor<T> {
        &self.std
    }

    #[track_caller]
    fn check(&self, op: &str, features: &Tensor<T>) {
        if features.rank() == 0 || features.shape()[1..] != *self.mean.shape() {
            shape_error(
                op,
                format!(
                    "features {:?} do not match the fitted per-example shape {:?} (expected [N, {}])",
                    features.shape(),
                    self.mean.shape(),
                    self.mean.shape().iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }

    /// `(features - mean) / std`; panics when the per-example shape differs from the
    /// fitted one.
    #[track_caller]
    pub fn transform(&self, features: &Tensor<T>) -> Tensor<T> {
        self.check("StandardScaler::transform", features);
        (features - &self.mean) / &self.std
    }

    /// `features * std + mean`, undoing [`transform`](Self::transform).
    #[track_caller]
    pub fn inverse_transform(&self, features: &Tensor<T>) -> Tensor<T> {
        self.check("StandardScaler::inverse_transform", features);
        features * &self.std + &self.mean
    }
}
