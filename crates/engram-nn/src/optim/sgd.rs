//! Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

use super::groups::ParamGroups;
use super::state::State;
use super::{optimizer_bookkeeping, scalar, Optimizer};
use crate::context::Grads;
use crate::module::Module;
use engram_tensor::Float;

/// [`Sgd`]'s settings. The learning rate has no default (as in PyTorch): start from
/// [`SgdOptions::new`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdOptions {
    /// The learning rate.
    pub lr: f64,
    /// Momentum factor (0: plain gradient descent).
    pub momentum: f64,
    /// Dampening of the gradient's contribution to the momentum (0).
    pub dampening: f64,
    /// L2 penalty added to the gradient: `g + weight_decay · θ` (0).
    pub weight_decay: f64,
    /// Nesterov momentum (needs momentum > 0 and dampening 0).
    pub nesterov: bool,
}

impl SgdOptions {
    /// PyTorch's defaults with learning rate `lr`.
    pub fn new(lr: f64) -> SgdOptions {
        SgdOptions {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }
}

/// Stochastic gradient descent, as `torch.optim.SGD`:
///
/// ```text
/// g ← ∇ + weight_decay · θ
/// b ← g                                    (first step)
/// b ← momentum · b + (1 − dampening) · g   (later steps)
/// g ← g + momentum · b   (Nesterov)   or   g ← b
/// θ ← θ − lr · g
/// ```
///
/// ```
/// use engram_nn::optim::{Optimizer, Sgd, SgdOptions};
/// use engram_nn::{Context, Parameter};
/// use engram_tensor::Tensor;
///
/// let mut w = Parameter::new(Tensor::<f64>::from_vec(vec![1.0, -1.0], &[2]));
/// let mut sgd = Sgd::new(SgdOptions { momentum: 0.9, ..SgdOptions::new(0.1) });
/// let cx = Context::train(0);
/// let grads = cx.backward(cx.param(&w).square().sum()); // gradient 2w
/// sgd.step(&mut w, &grads);
/// let w = w.value().to_vec();
/// assert!((w[0] - 0.8).abs() < 1e-15 && (w[1] + 0.8).abs() < 1e-15);
/// ```
#[derive(Debug)]
pub struct Sgd<T: Float = f32> {
    options: SgdOptions,
    groups: ParamGroups,
    state: State<T>,
}

impl<T: Float> Sgd<T> {
    /// An optimizer with these settings; panics on a negative setting or Nesterov without
    /// momentum, as PyTorch raises.
    #[track_caller]
    pub fn new(options: SgdOptions) -> Sgd<T> {
        let SgdOptions {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
        } = options;
        if !(lr >= 0.0 && momentum >= 0.0 && weight_decay >= 0.0) {
            panic!(
                "engram: `Sgd::new`: lr ({lr}), momentum ({momentum}) and weight_decay \
                 ({weight_decay}) must be non-negative"
            );
        }
        if nesterov && (momentum <= 0.0 || dampening != 0.0) {
            panic!(
                "engram: `Sgd::new`: Nesterov momentum needs momentum > 0 and dampening 0, \
                 got momentum {momentum} and dampening {dampening}"
            );
        }
        let buffers = if momentum != 0.0 {
            vec!["momentum_buffer"]
        } else {
            vec![]
        };
        Sgd {
            options,
            groups: ParamGroups::new(lr, weight_decay),
            state: State::new(buffers),
        }
    }

    /// The settings it was made with (group settings aside).
    pub fn options(&self) -> &SgdOptions {
        &self.options
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn step(&mut self, model: &mut dyn Module<T>, grads: &Grads<T>) {
        let SgdOptions {
            momentum,
            dampening,
            nesterov,
            ..
        } = self.options;
        let (m, keep): (T, T) = (scalar(momentum), scalar(1.0 - dampening));
        self.state
            .update(model, grads, &self.groups, |hyper, slots, values, grad| {
                let (wd, step): (T, T) = (scalar(hyper.weight_decay), scalar(-hyper.lr));
                if momentum == 0.0 && hyper.weight_decay == 0.0 {
                    // Plain SGD, the common case, as its own loop with nothing but the
                    // update in it: with the branches below inside, whether the loop was
                    // vectorised changed from one build to the next (once element by
                    // element, twice the step's 3.5% share of the MLP step).
                    for (x, &g) in values.iter_mut().zip(grad) {
                        *x += step * g;
                    }
                    return;
                }
                let first = slots.step == 1;
                for (i, (x, &g)) in values.iter_mut().zip(grad).enumerate() {
                    let mut g = if hyper.weight_decay != 0.0 {
                        g + wd * *x
                    } else {
                        g
                    };
                    if momentum != 0.0 {
                        let b = &mut slots.buffers[0][i];
                        *b = if first { g } else { *b * m + keep * g };
                        g = if nesterov { g + m * *b } else { *b };
                    }
                    *x += step * g;
                }
            });
    }

    optimizer_bookkeeping!();
}
