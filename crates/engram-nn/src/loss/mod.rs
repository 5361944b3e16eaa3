//! Loss functions, as PyTorch's `torch.nn.functional` has them: each takes the model's
//! output and the target as Vars (targets are usually constants from
//! [`crate::Context::input`], but any Var works and is differentiated too) and a
//! [`Reduction`].
//!
//! All are stable for large inputs: classification losses work on logits through
//! log-softmax or softplus, never by taking the log of a probability that underflowed.
//!
//! ```
//! use engram_nn::loss::{cross_entropy, mse_loss, CrossEntropyOptions, Reduction};
//! use engram_autograd::Var;
//! use engram_tensor::Tensor;
//!
//! let logits = Var::constant(Tensor::<f64>::from_vec(vec![2.0, 0.0, 0.0, 0.0, 3.0, 0.0], &[2, 3]));
//! let classes = Tensor::from_vec(vec![0usize, 1], &[2]);
//! let ce = cross_entropy(&logits, &classes, &CrossEntropyOptions::default());
//! let expected = ((1.0 + 2.0 * (-2.0f64).exp()).ln() + (1.0 + 2.0 * (-3.0f64).exp()).ln()) / 2.0;
//! assert!((ce.value().item() - expected).abs() < 1e-12);
//!
//! let y = Var::constant(Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]));
//! let t = Var::constant(Tensor::from_vec(vec![0.0, 0.0], &[2]));
//! assert_eq!(mse_loss(&y, &t, Reduction::Sum).value().item(), 5.0);
//! ```

mod class;
mod probability;
mod regression;

pub use class::{cross_entropy, nll_loss, ClassTarget, CrossEntropyOptions, NllOptions};
pub use probability::{
    bce_with_logits, binary_cross_entropy, kl_div, BceWithLogitsOptions, KlReduction,
};
pub use regression::{huber_loss, l1_loss, mse_loss, smooth_l1_loss};

#[cfg(feature = "registry")]
use engram_autograd::registry::GradcheckCase;
use engram_autograd::Var;
use engram_tensor::Float;

/// How per-element losses become the result, as PyTorch's `reduction=` argument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// The mean over elements (for weighted classification losses, the weighted mean).
    #[default]
    Mean,
    /// The sum over elements.
    Sum,
    /// No reduction: one loss per element (per sample for classification losses).
    None,
}

impl Reduction {
    /// Applies a plain (unweighted) reduction.
    pub(crate) fn apply<T: Float>(self, loss: Var<T>) -> Var<T> {
        match self {
            Reduction::Mean => loss.mean(),
            Reduction::Sum => loss.sum(),
            Reduction::None => loss,
        }
    }
}

/// Panics, naming the loss and both shapes, unless `input` and `target` have one shape.
#[track_caller]
pub(crate) fn check_same_shape(op: &str, input: &[usize], target: &[usize]) {
    if input != target {
        panic!(
            "engram: `{op}`: input has shape {input:?} but target has shape {target:?}; \
             they must be equal (reshape the target, or broadcast it explicitly)"
        );
    }
}

/// `ln x` where that is above `floor`, else `floor` — with a zero (not NaN) gradient where
/// the floor applies. Taking the log of the floored input (the "double where") keeps `ln`
/// from seeing 0, whose infinite derivative times a zero cotangent would be NaN.
pub(crate) fn floored_ln<T: Float>(x: &Var<T>, floor: f64) -> Var<T> {
    let keep = x.value().map(move |v| v.as_f64().ln() > floor);
    let one = Var::constant(engram_tensor::Tensor::scalar(T::one()));
    let safe = Var::where_cond(&keep, x, &one);
    let floor = Var::constant(engram_tensor::Tensor::scalar(T::of(floor)));
    Var::where_cond(&keep, safe.ln(), &floor)
}

/// Gradcheck entries for every loss.
#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<GradcheckCase> {
    let mut v = regression::cases();
    v.extend(probability::cases());
    v.extend(class::cases());
    v
}
