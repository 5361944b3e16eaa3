//! RMSprop: plain, centred, and with momentum.

use super::groups::ParamGroups;
use super::state::State;
use super::{lerp, optimizer_bookkeeping, scalar, Optimizer};
use crate::context::Grads;
use crate::module::Module;
use engram_tensor::Float;

/// [`RmsProp`]'s settings; `Default` gives PyTorch's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropOptions {
    /// The learning rate (1e-2).
    pub lr: f64,
    /// Smoothing constant of the squared-gradient average (0.99).
    pub alpha: f64,
    /// Added to the denominator for stability (1e-8).
    pub eps: f64,
    /// L2 penalty added to the gradient: `g + weight_decay · θ` (0).
    pub weight_decay: f64,
    /// Momentum factor (0).
    pub momentum: f64,
    /// Normalise by the estimated variance instead of the second moment (false).
    pub centered: bool,
}

impl Default for RmsPropOptions {
    fn default() -> Self {
        RmsPropOptions {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        }
    }
}

/// RMSprop, as `torch.optim.RMSprop` (note: `eps` is added outside the square root):
///
/// ```text
/// g ← ∇ + weight_decay · θ
/// s ← α · s + (1 − α) · g²
/// a ← lerp(a, g, 1 − α);  d ← √(s − a²) + eps   (centred)   or   d ← √s + eps
/// b ← momentum · b + g / d;  θ ← θ − lr · b     (momentum > 0)
/// θ ← θ − lr · g / d                             (otherwise)
/// ```
///
/// ```
/// use engram_nn::optim::{Optimizer, RmsProp, RmsPropOptions};
/// use engram_nn::{Context, Parameter};
/// use engram_tensor::Tensor;
///
/// let mut w = Parameter::new(Tensor::<f64>::from_vec(vec![1.0], &[1]));
/// let mut rmsprop = RmsProp::new(RmsPropOptions { lr: 0.01, alpha: 0.75, ..Default::default() });
/// let cx = Context::train(0);
/// let grads = cx.backward(cx.param(&w).sum()); // gradient 1: s = 0.25, step 0.01 / 0.5
/// rmsprop.step(&mut w, &grads);
/// assert!((w.value().item() - 0.98).abs() < 1e-7);
/// ```
#[derive(Debug)]
pub struct RmsProp<T: Float = f32> {
    options: RmsPropOptions,
    groups: ParamGroups,
    state: State<T>,
}

impl<T: Float> RmsProp<T> {
    /// An optimizer with these settings; panics on a negative setting, as PyTorch raises.
    #[track_caller]
    pub fn new(options: RmsPropOptions) -> RmsProp<T> {
        let RmsPropOptions {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
        } = options;
        if !(lr >= 0.0 && alpha >= 0.0 && eps >= 0.0 && weight_decay >= 0.0 && momentum >= 0.0) {
            panic!(
                "engram: `RmsProp::new`: lr ({lr}), alpha ({alpha}), eps ({eps}), weight_decay \
                 ({weight_decay}) and momentum ({momentum}) must be non-negative"
            );
        }
        let mut buffers = vec!["square_avg"];
        if momentum > 0.0 {
            buffers.push("momentum_buffer");
        }
        if centered {
            buffers.push("grad_avg");
        }
        RmsProp {
            options,
            groups: ParamGroups::new(lr, weight_decay),
            state: State::new(buffers),
        }
    }

    /// The settings it was made with (group settings aside).
    pub fn options(&self) -> &RmsPropOptions {
        &self.options
    }
}

impl<T: Float> Optimizer<T> for RmsProp<T> {
    fn step(&mut self, model: &mut dyn Module<T>, grads: &Grads<T>) {
        let RmsPropOptions {
            alpha,
            eps,
            momentum,
            ..
        } = self.options;
        let (a, w, eps, mom): (T, T, T, T) = (
            scalar(alpha),
            scalar(1.0 - alpha),
            scalar(eps),
            scalar(momentum),
        );
        self.state
            .update(model, grads, &self.groups, |hyper, slots, values, grad| {
                let (wd, step): (T, T) = (scalar(hyper.weight_decay), scalar(-hyper.lr));
                let (square_avg, rest) = slots.buffers.split_first_mut().expect("square_avg");
                let (mut momentum_buffer, rest) = if momentum > 0.0 {
                    let (b, rest) = rest.split_first_mut().expect("momentum_buffer");
                    (Some(b), rest)
                } else {
                    (None, rest)
                };
                let mut grad_avg = rest.first_mut();
                for (i, (x, &g)) in values.iter_mut().zip(grad).enumerate() {
                    let g = if hyper.weight_decay != 0.0 {
                        g + wd * *x
                    } else {
                        g
                    };
                    let s = &mut square_avg[i];
                    *s = *s * a + w * g * g;
                    let avg = match grad_avg.as_mut() {
                        Some(ga) => {
                            ga[i] = lerp(ga[i], g, w);
                            (*s - ga[i] * ga[i]).sqrt()
                        }
                        _ => s.sqrt(),
                    } + eps;
                    match momentum_buffer.as_deref_mut() {
                        Some(b) => {
                            b[i] = b[i] * mom + g / avg;
                            *x += step * b[i];
                        }
                        None => *x += step * g / avg,
                    }
                }
            });
    }

    optimizer_bookkeeping!();
}
