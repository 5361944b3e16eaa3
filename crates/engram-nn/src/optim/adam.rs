//! Adam (with L2 weight decay and the AMSGrad variant) and AdamW (decoupled weight decay).

use super::groups::{Hyper, ParamGroups};
use super::state::{SlotsRun, State};
use super::{lerp, optimizer_bookkeeping, scalar, Optimizer};
use crate::context::Grads;
use crate::module::Module;
use engram_tensor::Float;

/// [`Adam`]'s settings; `Default` gives PyTorch's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamOptions {
    /// The learning rate (1e-3).
    pub lr: f64,
    /// Decay rates of the first and second moment estimates ((0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator for stability (1e-8).
    pub eps: f64,
    /// L2 penalty added to the gradient: `g + weight_decay · θ` (0).
    pub weight_decay: f64,
    /// Divide by the running maximum of the second moment (AMSGrad) (false).
    pub amsgrad: bool,
}

impl Default for AdamOptions {
    fn default() -> Self {
        AdamOptions {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
        }
    }
}

/// [`AdamW`]'s settings; `Default` gives PyTorch's (as Adam's, but weight decay 1e-2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWOptions {
    /// The learning rate (1e-3).
    pub lr: f64,
    /// Decay rates of the first and second moment estimates ((0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator for stability (1e-8).
    pub eps: f64,
    /// Decoupled decay: each step first scales θ by `1 − lr · weight_decay` (1e-2).
    pub weight_decay: f64,
    /// Divide by the running maximum of the second moment (AMSGrad) (false).
    pub amsgrad: bool,
}

impl Default for AdamWOptions {
    fn default() -> Self {
        AdamWOptions {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
        }
    }
}

/// Adam, as `torch.optim.Adam` (Kingma & Ba, 2015), step `t` counted per parameter:
///
/// ```text
/// g ← ∇ + weight_decay · θ
/// m ← lerp(m, g, 1 − β₁)          v ← β₂ · v + (1 − β₂) · g²
/// v̂ ← max(v̂, v)  (AMSGrad, else v̂ = v)
/// θ ← θ − lr / (1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + eps)
/// ```
///
/// ```
/// use engram_nn::optim::{Adam, AdamOptions, Optimizer};
/// use engram_nn::{Context, Parameter};
/// use engram_tensor::Tensor;
///
/// let mut w = Parameter::new(Tensor::<f64>::from_vec(vec![1.0, -1.0], &[2]));
/// let mut adam = Adam::new(AdamOptions { lr: 0.1, ..Default::default() });
/// let cx = Context::train(0);
/// let grads = cx.backward(cx.param(&w).square().sum());
/// adam.step(&mut w, &grads);
/// // Adam's first step moves each coordinate by about lr, whatever the gradient's scale.
/// let w = w.value().to_vec();
/// assert!((w[0] - 0.9).abs() < 1e-7 && (w[1] + 0.9).abs() < 1e-7);
/// ```
#[derive(Debug)]
pub struct Adam<T: Float = f32> {
    options: AdamOptions,
    groups: ParamGroups,
    state: State<T>,
}

/// AdamW, as `torch.optim.AdamW` (Loshchilov & Hutter, 2019): Adam whose weight decay
/// shrinks the parameter directly (`θ ← θ · (1 − lr · weight_decay)` before the Adam
/// update) instead of entering the gradient and being normalised away.
///
/// ```
/// use engram_nn::optim::{AdamW, AdamWOptions, Optimizer};
/// use engram_nn::{Context, Parameter};
/// use engram_tensor::Tensor;
///
/// let mut w = Parameter::new(Tensor::<f64>::from_vec(vec![2.0], &[1]));
/// let mut adamw = AdamW::new(AdamWOptions { lr: 0.1, weight_decay: 0.5, ..Default::default() });
/// let cx = Context::train(0);
/// let grads = cx.backward(cx.param(&w).sum()); // gradient 1
/// adamw.step(&mut w, &grads);
/// // 2 · (1 − 0.1 · 0.5) − 0.1
/// assert!((w.value().item() - 1.8).abs() < 1e-7);
/// ```
#[derive(Debug)]
pub struct AdamW<T: Float = f32> {
    options: AdamWOptions,
    groups: ParamGroups,
    state: State<T>,
}

#[track_caller]
fn check(op: &str, lr: f64, (beta1, beta2): (f64, f64), eps: f64, weight_decay: f64) {
    if !(lr >= 0.0 && eps >= 0.0 && weight_decay >= 0.0) {
        panic!(
            "engram: `{op}`: lr ({lr}), eps ({eps}) and weight_decay ({weight_decay}) must be \
             non-negative"
        );
    }
    if !((0.0..1.0).contains(&beta1) && (0.0..1.0).contains(&beta2)) {
        panic!("engram: `{op}`: betas ({beta1}, {beta2}) must each be in [0, 1)");
    }
}

fn buffers(amsgrad: bool) -> Vec<&'static str> {
    if amsgrad {
        vec!["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
    } else {
        vec!["exp_avg", "exp_avg_sq"]
    }
}

impl<T: Float> Adam<T> {
    /// An optimizer with these settings; panics on a negative setting or a beta outside
    /// [0, 1), as PyTorch raises.
    #[track_caller]
    pub fn new(options: AdamOptions) -> Adam<T> {
        check(
            "Adam::new",
            options.lr,
            options.betas,
            options.eps,
            options.weight_decay,
        );
        Adam {
            groups: ParamGroups::new(options.lr, options.weight_decay),
            state: State::new(buffers(options.amsgrad)),
            options,
        }
    }

    /// The settings it was made with (group settings aside).
    pub fn options(&self) -> &AdamOptions {
        &self.options
    }
}

impl<T: Float> AdamW<T> {
    /// An optimizer with these settings; panics on a negative setting or a beta outside
    /// [0, 1), as PyTorch raises.
    #[track_caller]
    pub fn new(options: AdamWOptions) -> AdamW<T> {
        check(
            "AdamW::new",
            options.lr,
            options.betas,
            options.eps,
            options.weight_decay,
        );
        AdamW {
            groups: ParamGroups::new(options.lr, options.weight_decay),
            state: State::new(buffers(options.amsgrad)),
            options,
        }
    }

    /// The settings it was made with (group settings aside).
    pub fn options(&self) -> &AdamWOptions {
        &self.options
    }
}

/// The settings Adam and AdamW share; `decoupled` chooses AdamW's weight decay.
#[derive(Clone, Copy)]
struct Rule {
    betas: (f64, f64),
    eps: f64,
    amsgrad: bool,
    decoupled: bool,
}

/// One Adam update of a run of one parameter.
fn update<T: Float>(
    rule: Rule,
    hyper: Hyper,
    slots: &mut SlotsRun<'_, T>,
    values: &mut [T],
    grad: &[T],
) {
    let Rule {
        betas: (beta1, beta2),
        eps,
        amsgrad,
        decoupled,
    } = rule;
    let t = slots.step as f64;
    let bias_correction1 = 1.0 - beta1.powf(t);
    let bias_correction2_sqrt = (1.0 - beta2.powf(t)).sqrt();
    let (w1, b2, w2): (T, T, T) = (scalar(1.0 - beta1), scalar(beta2), scalar(1.0 - beta2));
    let (eps, root_bc2): (T, T) = (scalar(eps), scalar(bias_correction2_sqrt));
    let step: T = scalar(-hyper.lr / bias_correction1);
    let wd: T = scalar(hyper.weight_decay);
    let shrink: T = scalar(1.0 - hyper.lr * hyper.weight_decay);
    let (m, rest) = slots.buffers.split_first_mut().expect("Adam keeps exp_avg");
    let (v, rest) = rest.split_first_mut().expect("Adam keeps exp_avg_sq");
    for (i, (x, &g)) in values.iter_mut().zip(grad).enumerate() {
        let mut g = g;
        if hyper.weight_decay != 0.0 {
            if decoupled {
                *x *= shrink;
            } else {
                g += wd * *x;
            }
        }
        m[i] = lerp(m[i], g, w1);
        v[i] = v[i] * b2 + w2 * g * g;
        let second = if amsgrad {
            let max = &mut rest[0][i];
            *max = max.max(v[i]);
            *max
        } else {
            v[i]
        };
        let denom = second.sqrt() / root_bc2 + eps;
        *x += step * m[i] / denom;
    }
}

impl<T: Float> Optimizer<T> for Adam<T> {
    fn step(&mut self, model: &mut dyn Module<T>, grads: &Grads<T>) {
        let rule = Rule {
            betas: self.options.betas,
            eps: self.options.eps,
            amsgrad: self.options.amsgrad,
            decoupled: false,
        };
        self.state
            .update(model, grads, &self.groups, |hyper, slots, values, grad| {
                update(rule, hyper, slots, values, grad)
            });
    }

    optimizer_bookkeeping!();
}

impl<T: Float> Optimizer<T> for AdamW<T> {
    fn step(&mut self, model: &mut dyn Module<T>, grads: &Grads<T>) {
        let rule = Rule {
            betas: self.options.betas,
            eps: self.options.eps,
            amsgrad: self.options.amsgrad,
            decoupled: true,
        };
        self.state
            .update(model, grads, &self.groups, |hyper, slots, values, grad| {
                update(rule, hyper, slots, values, grad)
            });
    }

    optimizer_bookkeeping!();
}
