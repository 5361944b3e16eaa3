//! Optimizers: the update from gradients to new parameter values, in place.
//!
//! Each optimizer follows PyTorch's `torch.optim` update rule exactly (the single-tensor
//! path, `maximize=False`), so that a model trained in PyTorch and one trained here take the
//! same steps. Hyperparameters are `f64`, as Python floats are in PyTorch; each is rounded to
//! the parameter's element type where the update uses it, as PyTorch's kernels do.
//!
//! Gradients come fresh from each [`Context::backward`](crate::Context::backward), so there
//! is no `zero_grad`: a step is `forward`, `backward`, `optimizer.step(&mut model, &grads)`.
//!
//! ```
//! use engram_nn::optim::{Adam, AdamOptions, Group, Optimizer};
//! use engram_nn::{Context, Module, Parameter};
//! use engram_tensor::Tensor;
//!
//! #[derive(Module)]
//! struct Line {
//!     slope: Parameter<f64>,
//!     intercept: Parameter<f64>,
//! }
//!
//! let mut line = Line {
//!     slope: Parameter::new(Tensor::scalar(0.0)),
//!     intercept: Parameter::new(Tensor::scalar(0.0)),
//! };
//! // The intercept learns ten times faster than the rest: a parameter group.
//! let mut optimizer = Adam::new(AdamOptions { lr: 0.05, ..Default::default() })
//!     .with_group(Group::prefix("intercept").lr(0.5));
//! let x = Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0], &[4]);
//! let y = Tensor::from_vec(vec![2.0, 5.0, 8.0, 11.0], &[4]); // y = 3x + 2
//! let cx = Context::train(0);
//! for _ in 0..500 {
//!     let prediction = cx.input(x.clone()) * cx.param(&line.slope) + cx.param(&line.intercept);
//!     let grads = cx.backward((prediction - cx.input(y.clone())).square().mean());
//!     optimizer.step(&mut line, &grads);
//! }
//! assert!((line.slope.value().item() - 3.0).abs() < 1e-2);
//! assert!((line.intercept.value().item() - 2.0).abs() < 1e-2);
//! ```

mod adagrad;
mod adam;
mod clip;
mod groups;
mod rmsprop;
mod sgd;
mod state;

pub use adagrad::{Adagrad, AdagradOptions};
pub use adam::{Adam, AdamOptions, AdamW, AdamWOptions};
pub use clip::{clip_grad_norm, clip_grad_value};
pub use groups::{Group, ParamGroups};
pub use rmsprop::{RmsProp, RmsPropOptions};
pub use sgd::{Sgd, SgdOptions};

use crate::checkpoint::CheckpointError;
use crate::context::Grads;
use crate::module::Module;
use engram_tensor::{Float, Tensor};
use indexmap::IndexMap;

/// Updates a model's parameters from one step's gradients.
///
/// State (momentum, moment estimates) is kept per parameter, keyed by its
/// [`ParamId`](crate::ParamId), and created on the first step that parameter has a
/// gradient. Parameters without a gradient in a step (frozen, or unused by the loss) are
/// left alone and their state does not advance, as in PyTorch.
pub trait Optimizer<T: Float = f32> {
    /// Applies one update to every parameter of `model` that has a gradient in `grads`,
    /// writing into each parameter's storage in place.
    fn step(&mut self, model: &mut dyn Module<T>, grads: &Grads<T>);

    /// The parameter groups: each group's learning rate and weight decay.
    fn param_groups(&self) -> &ParamGroups;

    /// The parameter groups, to change a group's learning rate or weight decay.
    fn param_groups_mut(&mut self) -> &mut ParamGroups;

    /// The state by parameter name: `<slot>.<parameter name>` for each state tensor (e.g.
    /// `exp_avg.fc1.weight`) and `step.<parameter name>` for the step counter, as a scalar.
    /// Parameters that have no state yet are absent. The tensors are copies, independent of
    /// the optimizer.
    fn state_dict(&self, model: &dyn Module<T>) -> IndexMap<String, Tensor<T>>;

    /// Restores state saved by [`Optimizer::state_dict`] onto `model`'s parameters, by name.
    /// Checks every name and shape first and changes nothing when one is wrong.
    fn load_state_dict(
        &mut self,
        model: &dyn Module<T>,
        state: &IndexMap<String, Tensor<T>>,
    ) -> Result<(), CheckpointError>;

    /// The learning rate of the default group (the parameters no [`Group`] selected).
    fn learning_rate(&self) -> f64 {
        self.param_groups().learning_rate()
    }

    /// Sets the learning rate of every group, as `for g in opt.param_groups: g["lr"] = lr`
    /// does in PyTorch. To keep groups' ratios, use
    /// [`ParamGroups::set_learning_rates`] (as the schedulers do).
    fn set_learning_rate(&mut self, lr: f64) {
        self.param_groups_mut().set_learning_rate(lr);
    }

    /// Adds a parameter group: the parameters it selects get its learning rate and weight
    /// decay (where it sets them) instead of the optimizer's. Groups are tried in the order
    /// they were added; the first that selects a parameter wins.
    fn with_group(mut self, group: Group) -> Self
    where
        Self: Sized,
    {
        self.param_groups_mut().add(group);
        self
    }
}

/// Implements the state and group accessors of [`Optimizer`] for a type with fields
/// `groups: ParamGroups` and `state: state::State<T>`; only `step` differs between
/// optimizers.
macro_rules! optimizer_bookkeeping {
    () => {
        fn param_groups(&self) -> &$crate::optim::ParamGroups {
            &self.groups
        }

        fn param_groups_mut(&mut self) -> &mut $crate::optim::ParamGroups {
            &mut self.groups
        }

        fn state_dict(
            &self,
            model: &dyn $crate::Module<T>,
        ) -> indexmap::IndexMap<String, engram_tensor::Tensor<T>> {
            self.state.export(model)
        }

        fn load_state_dict(
            &mut self,
            model: &dyn $crate::Module<T>,
            state: &indexmap::IndexMap<String, engram_tensor::Tensor<T>>,
        ) -> Result<(), $crate::checkpoint::CheckpointError> {
            self.state.import(model, state)
        }
    };
}
use optimizer_bookkeeping;

/// Rounds a hyperparameter to the element type, as PyTorch does when a Python float
/// multiplies a tensor.
fn scalar<T: Float>(x: f64) -> T {
    T::of(x)
}

/// `self + weight · (end − self)`, computed as PyTorch's `lerp_` kernel does (the second
/// form for weights of one half or more keeps the result exact at `weight = 1`).
fn lerp<T: Float>(start: T, end: T, weight: T) -> T {
    if weight.abs() < T::of(0.5) {
        start + weight * (end - start)
    } else {
        end - (end - start) * (T::one() - weight)
    }
}
