//! The loss a compiled [`crate::train::Model`] minimises: a named function of predictions
//! and targets.

use crate::loss::{
    bce_with_logits, binary_cross_entropy, cross_entropy, l1_loss, mse_loss, BceWithLogitsOptions,
    CrossEntropyOptions, Reduction,
};
use engram_autograd::Var;
use engram_tensor::{Float, Tensor};

/// The function behind a [`Loss`]: (predictions, targets) → scalar.
type LossFn<T> = dyn Fn(&Var<T>, &Var<T>) -> Var<T>;

/// A scalar loss of (predictions, targets), with its name for logs.
pub struct Loss<T: Float = f32> {
    name: String,
    function: Box<LossFn<T>>,
}

impl<T: Float> Loss<T> {
    /// A loss of the user's: `function(predictions, targets)` must return a scalar.
    pub fn new(name: &str, function: impl Fn(&Var<T>, &Var<T>) -> Var<T> + 'static) -> Loss<T> {
        Loss {
            name: name.to_string(),
            function: Box::new(function),
        }
    }

    /// Mean squared error, as Keras's `mse`. Targets may be `[N]` for predictions `[N, 1]`.
    pub fn mse() -> Loss<T> {
        Loss::new("mse", |p, t| mse_loss(p, &like(p, t), Reduction::Mean))
    }

    /// Mean absolute error, as Keras's `mae`.
    pub fn mae() -> Loss<T> {
        Loss::new("mae", |p, t| l1_loss(p, &like(p, t), Reduction::Mean))
    }

    /// Binary cross-entropy of probabilities (a sigmoid output), as Keras's
    /// `binary_crossentropy`; 0/1 targets.
    pub fn binary_cross_entropy() -> Loss<T> {
        Loss::new("binary_crossentropy", |p, t| {
            binary_cross_entropy(p, &like(p, t), None, Reduction::Mean)
        })
    }

    /// Binary cross-entropy of logits (no sigmoid in the model): stable for any logit.
    pub fn bce_with_logits() -> Loss<T> {
        Loss::new("bce_with_logits", |p, t| {
            bce_with_logits(p, &like(p, t), &BceWithLogitsOptions::default())
        })
    }

    /// Cross-entropy of logits `[N, C]` against class ids `[N]` given as numbers (Keras's
    /// `sparse_categorical_crossentropy` with `from_logits=True`).
    pub fn cross_entropy() -> Loss<T> {
        Loss::new("cross_entropy", |p, t| {
            let classes = class_ids(t.value());
            cross_entropy(p, &classes, &CrossEntropyOptions::default())
        })
    }

    /// The name in logs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The loss of `predictions` against `targets`.
    #[track_caller]
    pub fn compute(&self, predictions: &Var<T>, targets: &Var<T>) -> Var<T> {
        let loss = (self.function)(predictions, targets);
        if loss.value().numel() != 1 {
            panic!(
                "engram: loss `{}` returned shape {:?}; a training loss must be a scalar (reduce with mean or sum)",
                self.name,
                loss.shape()
            );
        }
        loss
    }
}

/// The targets in the predictions' shape when they hold as many elements (`[N]` against
/// `[N, 1]`), as Keras accepts; otherwise unchanged, for the loss to report the mismatch.
fn like<T: Float>(predictions: &Var<T>, targets: &Var<T>) -> Var<T> {
    if targets.shape() != predictions.shape()
        && targets.value().numel() == predictions.value().numel()
    {
        targets.reshape(predictions.shape())
    } else {
        targets.clone()
    }
}

/// Class ids held as numbers, as indices; a fractional or negative id is a mistake in the
/// caller's data.
#[track_caller]
fn class_ids<T: Float>(targets: &Tensor<T>) -> Tensor<usize> {
    targets.map(|v| {
        let id = v.as_f64();
        if id < 0.0 || id.fract() != 0.0 {
            panic!(
                "engram: `cross_entropy`: a target {id} is not a class id (a whole number from 0)"
            );
        }
        id as usize
    })
}
