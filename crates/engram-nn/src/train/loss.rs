//! The loss a compiled [`crate::train::Model`] minimises: a named function of predictions
//! and targets.

use engram_autograd::Var;
use engram_tensor::Float;

/// A scalar loss of (predictions, targets), with its name for logs.
pub struct Loss<T: Float = f32> {
    name: String,
    function: Box<dyn Fn(&Var<T>, &Var<T>) -> Var<T>>,
}

impl<T: Float> Loss<T> {
    /// A loss of the user's: `function(predictions, targets)` must return a scalar.
    pub fn new(name: &str, function: impl Fn(&Var<T>, &Var<T>) -> Var<T> + 'static) -> Loss<T> {
        Loss {
            name: name.to_string(),
            function: Box::new(function),
        }
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
