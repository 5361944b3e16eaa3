//! Learning-rate schedules, as `torch.optim.lr_scheduler`: step, multi-step, exponential,
//! cosine annealing, linear warm-up, schedules in sequence, and reduce-on-plateau.
//!
//! A [`Schedule`] is the closed form — the learning rate at an epoch, given the group's
//! initial one — so schedules compose ([`Sequential`], [`warmup`]) without the drift of
//! PyTorch's chained updates. A [`Scheduler`] drives one against an optimizer: made at the
//! start of training (which sets epoch 0's rate, as PyTorch does), then
//! [`Scheduler::step`] once per epoch. Every parameter group follows the schedule from
//! its own initial learning rate.
//!
//! ```
//! use engram_nn::optim::{Optimizer, Sgd, SgdOptions};
//! use engram_nn::schedule::{warmup, CosineAnnealingLr, Scheduler};
//!
//! let mut sgd = Sgd::<f32>::new(SgdOptions::new(0.1));
//! // Two epochs of linear warm-up from 0.1 × lr, then cosine annealing over eight.
//! let schedule = warmup(2, 0.1, CosineAnnealingLr { t_max: 8, eta_min: 0.0 });
//! let mut scheduler = Scheduler::new(schedule, &mut sgd);
//! let mut lrs = vec![sgd.learning_rate()];
//! for _epoch in 0..10 {
//!     // ... train one epoch ...
//!     scheduler.step(&mut sgd);
//!     lrs.push(sgd.learning_rate());
//! }
//! assert!((lrs[0] - 0.01).abs() < 1e-12); // warming up
//! assert!((lrs[2] - 0.1).abs() < 1e-12); // the cosine starts at the full rate
//! assert!(lrs[10].abs() < 1e-12); // and ends at eta_min
//! ```

use crate::optim::Optimizer;
use engram_tensor::Float;
use std::f64::consts::PI;

/// A learning rate as a function of the epoch.
pub trait Schedule {
    /// The learning rate at `epoch` (0 at the start) for a group whose initial learning
    /// rate is `base_lr`.
    fn lr(&self, base_lr: f64, epoch: usize) -> f64;
}

impl<S: Schedule + ?Sized> Schedule for Box<S> {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        (**self).lr(base_lr, epoch)
    }
}

/// Multiplies the rate by `gamma` every `step_size` epochs, as `StepLR`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLr {
    /// Epochs between decays.
    pub step_size: usize,
    /// The factor of each decay (PyTorch's default is 0.1).
    pub gamma: f64,
}

impl Schedule for StepLr {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        base_lr * self.gamma.powi((epoch / self.step_size.max(1)) as i32)
    }
}

/// Multiplies the rate by `gamma` at each milestone epoch, as `MultiStepLR`.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiStepLr {
    /// The epochs at which the rate decays (a milestone listed twice decays twice, as in
    /// PyTorch).
    pub milestones: Vec<usize>,
    /// The factor of each decay (PyTorch's default is 0.1).
    pub gamma: f64,
}

impl Schedule for MultiStepLr {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        let passed = self.milestones.iter().filter(|&&m| m <= epoch).count();
        base_lr * self.gamma.powi(passed as i32)
    }
}

/// Multiplies the rate by `gamma` every epoch, as `ExponentialLR`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExponentialLr {
    /// The factor per epoch.
    pub gamma: f64,
}

impl Schedule for ExponentialLr {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        base_lr * self.gamma.powi(epoch as i32)
    }
}

/// Half a cosine from the initial rate down to `eta_min` over `t_max` epochs, as
/// `CosineAnnealingLR` (past `t_max` the cosine goes on, back up, as PyTorch's does):
/// `eta_min + (base − eta_min) · (1 + cos(π · epoch / t_max)) / 2`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineAnnealingLr {
    /// Epochs from the initial rate to `eta_min`.
    pub t_max: usize,
    /// The lowest rate (PyTorch's default is 0).
    pub eta_min: f64,
}

impl Schedule for CosineAnnealingLr {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        let phase = PI * epoch as f64 / self.t_max.max(1) as f64;
        self.eta_min + (base_lr - self.eta_min) * (1.0 + phase.cos()) / 2.0
    }
}

/// Scales the rate by a factor going linearly from `start_factor` to `end_factor` over
/// `total_iters` epochs, then stays at `end_factor`, as `LinearLR` (PyTorch's defaults:
/// 1/3, 1, 5).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearLr {
    /// The factor at epoch 0.
    pub start_factor: f64,
    /// The factor from epoch `total_iters` on.
    pub end_factor: f64,
    /// Epochs of the ramp.
    pub total_iters: usize,
}

impl Default for LinearLr {
    fn default() -> Self {
        LinearLr {
            start_factor: 1.0 / 3.0,
            end_factor: 1.0,
            total_iters: 5,
        }
    }
}

impl Schedule for LinearLr {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        let done = epoch.min(self.total_iters) as f64 / self.total_iters.max(1) as f64;
        base_lr * (self.start_factor + (self.end_factor - self.start_factor) * done)
    }
}

/// Schedules one after another, as `SequentialLR`: the first until the first milestone,
/// then the second, restarted at its epoch 0, until the next milestone, and so on.
pub struct Sequential {
    schedules: Vec<Box<dyn Schedule>>,
    milestones: Vec<usize>,
}

impl Sequential {
    /// `schedules[i]` runs from `milestones[i - 1]` (0 for the first) to `milestones[i]`;
    /// there is one milestone fewer than schedules, in increasing order.
    #[track_caller]
    pub fn new(schedules: Vec<Box<dyn Schedule>>, milestones: Vec<usize>) -> Sequential {
        if schedules.is_empty() || milestones.len() + 1 != schedules.len() {
            panic!(
                "engram: `schedule::Sequential::new`: {} schedules need {} milestones, got {}",
                schedules.len(),
                schedules.len().saturating_sub(1),
                milestones.len()
            );
        }
        if milestones.windows(2).any(|w| w[0] > w[1]) {
            panic!("engram: `schedule::Sequential::new`: milestones {milestones:?} must increase");
        }
        Sequential {
            schedules,
            milestones,
        }
    }
}

impl Schedule for Sequential {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        let index = self.milestones.iter().filter(|&&m| m <= epoch).count();
        let start = if index == 0 {
            0
        } else {
            self.milestones[index - 1]
        };
        self.schedules[index].lr(base_lr, epoch - start)
    }
}

/// Linear warm-up from `start_factor` × the rate to the full rate over `epochs`, then
/// `then` from its epoch 0: `SequentialLR([LinearLR(start_factor, 1, epochs), then],
/// [epochs])`.
pub fn warmup(epochs: usize, start_factor: f64, then: impl Schedule + 'static) -> Sequential {
    let ramp = LinearLr {
        start_factor,
        end_factor: 1.0,
        total_iters: epochs,
    };
    Sequential::new(vec![Box::new(ramp), Box::new(then)], vec![epochs])
}

/// Anything that sets an optimizer's learning rates once per epoch: what a training loop's
/// learning-rate callback holds.
pub trait LrScheduler<T: Float = f32> {
    /// Ends an epoch: advances and sets `optimizer`'s learning rates. `metric` is the
    /// monitored value of the epoch (a validation loss); only [`ReduceLrOnPlateau`] uses
    /// it, and needs it.
    fn end_epoch(&mut self, optimizer: &mut dyn Optimizer<T>, metric: Option<f64>);
}

/// Drives a [`Schedule`]: sets each parameter group's learning rate to the schedule's
/// value for the current epoch, from the rate the group had when the scheduler was made.
pub struct Scheduler<S: Schedule = Box<dyn Schedule>> {
    schedule: S,
    base_lrs: Vec<f64>,
    epoch: usize,
}

impl<S: Schedule> Scheduler<S> {
    /// Takes each group's current learning rate as its initial one and sets epoch 0's rate
    /// (for a warm-up, below the initial one), as PyTorch's schedulers do when made.
    pub fn new<T: Float>(schedule: S, optimizer: &mut dyn Optimizer<T>) -> Scheduler<S> {
        let scheduler = Scheduler {
            schedule,
            base_lrs: optimizer.param_groups().learning_rates(),
            epoch: 0,
        };
        scheduler.apply(optimizer);
        scheduler
    }

    /// Ends an epoch: the next epoch's rates.
    pub fn step<T: Float>(&mut self, optimizer: &mut dyn Optimizer<T>) {
        self.epoch += 1;
        self.apply(optimizer);
    }

    /// Jumps to `epoch` (resuming from a checkpoint) and sets its rates.
    pub fn set_epoch<T: Float>(&mut self, epoch: usize, optimizer: &mut dyn Optimizer<T>) {
        self.epoch = epoch;
        self.apply(optimizer);
    }

    /// The current epoch: the number of `step` calls since the start.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Each group's learning rate at the current epoch.
    pub fn learning_rates(&self) -> Vec<f64> {
        self.base_lrs
            .iter()
            .map(|&base| self.schedule.lr(base, self.epoch))
            .collect()
    }

    fn apply<T: Float>(&self, optimizer: &mut dyn Optimizer<T>) {
        optimizer
            .param_groups_mut()
            .set_learning_rates(&self.learning_rates());
    }
}

impl<T: Float, S: Schedule> LrScheduler<T> for Scheduler<S> {
    fn end_epoch(&mut self, optimizer: &mut dyn Optimizer<T>, _metric: Option<f64>) {
        self.step(optimizer);
    }
}

/// Whether a lower or a higher monitored value is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Lower is better (a loss).
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How [`PlateauOptions::threshold`] measures a significant improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdMode {
    /// Better than `best · (1 ∓ threshold)`.
    Rel,
    /// Better than `best ∓ threshold`.
    Abs,
}

/// [`ReduceLrOnPlateau`]'s settings; `Default` gives PyTorch's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlateauOptions {
    /// Minimise or maximise the metric (min).
    pub mode: Mode,
    /// The factor of each reduction (0.1).
    pub factor: f64,
    /// Epochs without improvement tolerated before reducing (10).
    pub patience: usize,
    /// The smallest improvement that counts (1e-4).
    pub threshold: f64,
    /// Whether the threshold is relative or absolute (relative).
    pub threshold_mode: ThresholdMode,
    /// Epochs after a reduction during which bad epochs are not counted (0).
    pub cooldown: usize,
    /// The rate is never reduced below this (0).
    pub min_lr: f64,
    /// A reduction smaller than this is skipped (1e-8).
    pub eps: f64,
}

impl Default for PlateauOptions {
    fn default() -> Self {
        PlateauOptions {
            mode: Mode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
        }
    }
}

/// Reduces every group's learning rate by `factor` when the monitored metric has not
/// improved for more than `patience` epochs, as `ReduceLROnPlateau`.
///
/// ```
/// use engram_nn::optim::{Optimizer, Sgd, SgdOptions};
/// use engram_nn::schedule::{PlateauOptions, ReduceLrOnPlateau};
///
/// let mut sgd = Sgd::<f32>::new(SgdOptions::new(1.0));
/// let mut plateau = ReduceLrOnPlateau::new(PlateauOptions { patience: 1, ..Default::default() });
/// for loss in [1.0, 0.5, 0.5, 0.5] {
///     plateau.step(&mut sgd, loss);
/// }
/// assert!((sgd.learning_rate() - 0.1).abs() < 1e-12); // two epochs without improvement
/// ```
#[derive(Clone, Debug)]
pub struct ReduceLrOnPlateau {
    options: PlateauOptions,
    best: f64,
    bad_epochs: usize,
    cooldown_left: usize,
}

impl ReduceLrOnPlateau {
    /// A scheduler with these settings; panics on a factor of one or more, as PyTorch
    /// raises.
    #[track_caller]
    pub fn new(options: PlateauOptions) -> ReduceLrOnPlateau {
        if options.factor.is_nan() || options.factor >= 1.0 {
            panic!(
                "engram: `ReduceLrOnPlateau::new`: factor must be below 1, got {}",
                options.factor
            );
        }
        ReduceLrOnPlateau {
            best: match options.mode {
                Mode::Min => f64::INFINITY,
                Mode::Max => f64::NEG_INFINITY,
            },
            options,
            bad_epochs: 0,
            cooldown_left: 0,
        }
    }

    /// The best metric seen so far.
    pub fn best(&self) -> f64 {
        self.best
    }

    /// Ends an epoch whose monitored value was `metric`; reduces the rates on a plateau.
    pub fn step<T: Float>(&mut self, optimizer: &mut dyn Optimizer<T>, metric: f64) {
        let o = self.options;
        if self.is_better(metric) {
            self.best = metric;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad_epochs = 0;
        }
        if self.bad_epochs > o.patience {
            let lrs: Vec<f64> = optimizer
                .param_groups()
                .learning_rates()
                .into_iter()
                .map(|old| {
                    let new = (old * o.factor).max(o.min_lr);
                    if old - new > o.eps {
                        new
                    } else {
                        old
                    }
                })
                .collect();
            optimizer.param_groups_mut().set_learning_rates(&lrs);
            self.cooldown_left = o.cooldown;
            self.bad_epochs = 0;
        }
    }

    fn is_better(&self, metric: f64) -> bool {
        let PlateauOptions {
            mode,
            threshold,
            threshold_mode,
            ..
        } = self.options;
        match (mode, threshold_mode) {
            (Mode::Min, ThresholdMode::Rel) => metric < self.best * (1.0 - threshold),
            (Mode::Min, ThresholdMode::Abs) => metric < self.best - threshold,
            (Mode::Max, ThresholdMode::Rel) => metric > self.best * (threshold + 1.0),
            (Mode::Max, ThresholdMode::Abs) => metric > self.best + threshold,
        }
    }
}

impl<T: Float> LrScheduler<T> for ReduceLrOnPlateau {
    #[track_caller]
    fn end_epoch(&mut self, optimizer: &mut dyn Optimizer<T>, metric: Option<f64>) {
        let Some(metric) = metric else {
            panic!(
                "engram: `ReduceLrOnPlateau` needs the epoch's monitored metric (a validation \
                 loss), got none"
            );
        };
        self.step(optimizer, metric);
    }
}
