//! Adagrad: per-coordinate learning rates from the sum of squared gradients.

use super::groups::ParamGroups;
use super::state::State;
use super::{optimizer_bookkeeping, scalar, Optimizer};
use crate::context::Grads;
use crate::module::Module;
use engram_tensor::Float;

/// [`Adagrad`]'s settings; `Default` gives PyTorch's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdagradOptions {
    /// The learning rate (1e-2).
    pub lr: f64,
    /// Learning-rate decay: step `t` uses `lr / (1 + (t − 1) · lr_decay)` (0).
    pub lr_decay: f64,
    /// L2 penalty added to the gradient: `g + weight_decay · θ` (0).
    pub weight_decay: f64,
    /// The starting value of the sum of squared gradients (0).
    pub initial_accumulator_value: f64,
    /// Added to the denominator for stability (1e-10).
    pub eps: f64,
}

impl Default for AdagradOptions {
    fn default() -> Self {
        AdagradOptions {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }
}

/// Adagrad, as `torch.optim.Adagrad` (Duchi et al., 2011):
///
/// ```text
/// g ← ∇ + weight_decay · θ
/// s ← s + g²        (s starts at initial_accumulator_value)
/// θ ← θ − lr / (1 + (t − 1) · lr_decay) · g / (√s + eps)
/// ```
///
/// ```
/// use engram_nn::optim::{Adagrad, AdagradOptions, Optimizer};
/// use engram_nn::{Context, Parameter};
/// use engram_tensor::Tensor;
///
/// let mut w = Parameter::new(Tensor::<f64>::from_vec(vec![1.0], &[1]));
/// let mut adagrad = Adagrad::new(AdagradOptions { lr: 0.5, ..Default::default() });
/// let cx = Context::train(0);
/// let grads = cx.backward(cx.param(&w).sum().mul_scalar(3.0)); // gradient 3
/// adagrad.step(&mut w, &grads);
/// assert!((w.value().item() - 0.5).abs() < 1e-9);
/// ```
#[derive(Debug)]
pub struct Adagrad<T: Float = f32> {
    options: AdagradOptions,
    groups: ParamGroups,
    state: State<T>,
}

impl<T: Float> Adagrad<T> {
    /// An optimizer with these settings; panics on a negative setting, as PyTorch raises.
    #[track_caller]
    pub fn new(options: AdagradOptions) -> Adagrad<T> {
        let AdagradOptions {
            lr,
            lr_decay,
            weight_decay,
            initial_accumulator_value,
            eps,
        } = options;
        if !(lr >= 0.0
            && lr_decay >= 0.0
            && weight_decay >= 0.0
            && initial_accumulator_value >= 0.0
            && eps >= 0.0)
        {
            panic!(
                "engram: `Adagrad::new`: lr ({lr}), lr_decay ({lr_decay}), weight_decay \
                 ({weight_decay}), initial_accumulator_value ({initial_accumulator_value}) and \
                 eps ({eps}) must be non-negative"
            );
        }
        Adagrad {
            options,
            groups: ParamGroups::new(lr, weight_decay),
            state: State::new(vec!["sum"]),
        }
    }

    /// The settings it was made with (group settings aside).
    pub fn options(&self) -> &AdagradOptions {
        &self.options
    }
}

impl<T: Float> Optimizer<T> for Adagrad<T> {
    fn step(&mut self, model: &mut dyn Module<T>, grads: &Grads<T>) {
        let AdagradOptions {
            lr_decay,
            initial_accumulator_value,
            eps,
            ..
        } = self.options;
        let (initial, eps): (T, T) = (scalar(initial_accumulator_value), scalar(eps));
        self.state
            .update(model, grads, &self.groups, |hyper, slots, values, grad| {
                let (wd, t) = (scalar::<T>(hyper.weight_decay), slots.step as f64);
                let step: T = scalar(-(hyper.lr / (1.0 + (t - 1.0) * lr_decay)));
                let sum = &mut slots.buffers[0];
                if slots.step == 1 {
                    // PyTorch fills the sum when the optimizer is made; here state is made on a
                    // parameter's first step, which comes to the same.
                    sum.fill(initial);
                }
                for (i, (x, &g)) in values.iter_mut().zip(grad).enumerate() {
                    let g = if hyper.weight_decay != 0.0 {
                        g + wd * *x
                    } else {
                        g
                    };
                    sum[i] += g * g;
                    *x += step * g / (sum[i].sqrt() + eps);
                }
            });
    }

    optimizer_bookkeeping!();
}
