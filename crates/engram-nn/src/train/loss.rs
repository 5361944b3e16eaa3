//! The loss a compiled [`crate::train::Model`] minimises: a named function of predictions
//! and targets.

use crate::loss::{binary_cross_entropy, cross_entropy, mse_loss, CrossEntropyOptions, Reduction};
use engram_autograd::Var;
use engram_tensor::Float;

/// `function(predictions, targets)`, boxed.
type LossFn<T> = Box<dyn Fn(&Var<T>, &Var<T>) -> Var<T>>;

/// A scalar loss of (predictions, targets), with its name for logs.
pub struct Loss<T: Float = f32> {
    name: String,
    function: LossFn<T>,
}

impl<T: Float> Loss<T> {
    /// A loss of the user's: `function(predictions, targets)` must return a scalar.
    pub fn new(name: &str, function: impl Fn(&Var<T>, &Var<T>) -> Var<T> + 'static) -> Loss<T> {
        Loss {
            name: name.to_string(),
            function: Box::new(function),
        }
    }

    /// Mean squared error (`mse`), Keras's `mean_squared_error`: predictions and targets
    /// of one shape.
    pub fn mse() -> Loss<T> {
        Loss::new("mse", |p, t| mse_loss(p, t, Reduction::Mean))
    }

    /// Binary cross-entropy on probabilities (`binary_crossentropy`, after a sigmoid):
    /// predictions and 0/1 targets of one shape, as Keras's `binary_crossentropy`.
    pub fn binary_cross_entropy() -> Loss<T> {
        Loss::new("binary_crossentropy", |p, t| {
            binary_cross_entropy(p, t, None, Reduction::Mean)
        })
    }

    /// Cross-entropy on logits `[N, C]` against class ids `[N]` given as numbers, since
    /// `fit` takes float targets (Keras's `sparse_categorical_crossentropy` with
    /// `from_logits=True`, PyTorch's `F.cross_entropy`).
    pub fn cross_entropy() -> Loss<T> {
        Loss::new("cross_entropy", |logits, targets| {
            let classes = targets.value().map(|c: T| c.as_f64() as usize);
            cross_entropy(logits, &classes, &CrossEntropyOptions::default())
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
