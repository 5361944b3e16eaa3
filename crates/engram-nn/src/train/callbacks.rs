//! What `fit` calls after each epoch: stop early, save the best model, schedule the
//! learning rate — or anything a user writes against [`Callback`].

use crate::checkpoint::{self, CheckpointError};
use crate::module::{named_buffers_mut, Module};
use crate::optim::Optimizer;
use crate::schedule::LrScheduler;
use crate::train::history::EpochLog;
use engram_tensor::{Float, Tensor};
use indexmap::IndexMap;
use std::path::PathBuf;

/// What a callback sees of the epoch that ended, and how it asks `fit` to stop.
pub struct Control<'a> {
    epoch: usize,
    log: &'a EpochLog,
    stop: bool,
    notes: Vec<String>,
}

impl<'a> Control<'a> {
    pub(crate) fn new(epoch: usize, log: &'a EpochLog) -> Control<'a> {
        Control {
            epoch,
            log,
            stop: false,
            notes: Vec::new(),
        }
    }

    /// The epoch that ended, from 1.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// A figure of the epoch (`loss`, `val_accuracy`, ...).
    pub fn value(&self, name: &str) -> Option<f64> {
        self.log.values.get(name).copied()
    }

    /// Asks `fit` to stop after this epoch.
    pub fn stop(&mut self) {
        self.stop = true;
    }

    /// True once a callback asked to stop.
    pub fn should_stop(&self) -> bool {
        self.stop
    }

    /// A line for the person watching (printed unless quiet).
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    pub(crate) fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }
}

/// Runs after every epoch of `fit`.
pub trait Callback<T: Float = f32> {
    /// The epoch in `control` ended; the model and optimizer may be read or changed.
    fn on_epoch_end(
        &mut self,
        control: &mut Control<'_>,
        model: &mut dyn Module<T>,
        optimizer: &mut dyn Optimizer<T>,
    );

    /// Training ended (after the last epoch or an early stop).
    fn on_train_end(&mut self, model: &mut dyn Module<T>) {
        let _ = model;
    }
}

/// Whether a smaller or a larger monitored figure is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    /// Losses and errors.
    Minimize,
    /// Accuracies.
    Maximize,
}

impl Goal {
    /// Keras's `mode="auto"`: maximise figures named like accuracies, minimise the rest.
    pub fn for_figure(name: &str) -> Goal {
        if name.contains("acc") {
            Goal::Maximize
        } else {
            Goal::Minimize
        }
    }

    fn improves(self, value: f64, best: Option<f64>, min_delta: f64) -> bool {
        match (best, self) {
            (_, _) if !value.is_finite() => false,
            (None, _) => true,
            (Some(b), Goal::Minimize) => value < b - min_delta,
            (Some(b), Goal::Maximize) => value > b + min_delta,
        }
    }
}

/// Stops training when a figure has not improved for `patience` epochs, as Keras's
/// `EarlyStopping`; optionally puts back the weights of the best epoch at the end.
pub struct EarlyStopping<T: Float = f32> {
    monitor: String,
    goal: Goal,
    patience: usize,
    min_delta: f64,
    restore_best: bool,
    best: Option<f64>,
    waited: usize,
    best_state: Option<IndexMap<String, Tensor<T>>>,
}

impl<T: Float> EarlyStopping<T> {
    /// Watches `monitor` (e.g. `val_loss`), stopping after `patience` epochs without
    /// improvement. The goal follows the name (accuracies up, the rest down).
    pub fn new(monitor: &str, patience: usize) -> EarlyStopping<T> {
        EarlyStopping {
            monitor: monitor.to_string(),
            goal: Goal::for_figure(monitor),
            patience,
            min_delta: 0.0,
            restore_best: false,
            best: None,
            waited: 0,
            best_state: None,
        }
    }

    /// An improvement must exceed `delta`.
    pub fn min_delta(mut self, delta: f64) -> Self {
        self.min_delta = delta.abs();
        self
    }

    /// Sets the goal instead of inferring it from the name.
    pub fn goal(mut self, goal: Goal) -> Self {
        self.goal = goal;
        self
    }

    /// At the end, puts back the parameters and buffers of the best epoch.
    pub fn restore_best_weights(mut self) -> Self {
        self.restore_best = true;
        self
    }

    /// The best value seen.
    pub fn best(&self) -> Option<f64> {
        self.best
    }
}

impl<T: Float> Callback<T> for EarlyStopping<T> {
    fn on_epoch_end(
        &mut self,
        control: &mut Control<'_>,
        model: &mut dyn Module<T>,
        _optimizer: &mut dyn Optimizer<T>,
    ) {
        let Some(value) = control.value(&self.monitor) else {
            control.note(format!(
                "early stopping: no figure `{}` this epoch; not stopping",
                self.monitor
            ));
            return;
        };
        if self.goal.improves(value, self.best, self.min_delta) {
            self.best = Some(value);
            self.waited = 0;
            if self.restore_best {
                // Deep copies: the optimizer updates the live tensors in place.
                self.best_state = Some(
                    model
                        .state_dict()
                        .into_iter()
                        .map(|(k, t)| (k, Tensor::from_vec(t.to_vec(), t.shape())))
                        .collect(),
                );
            }
        } else {
            self.waited += 1;
            if self.waited >= self.patience {
                control.stop();
                control.note(format!(
                    "Early stopping at epoch {}: `{}` has not improved on {:.4} for {} epochs",
                    control.epoch(),
                    self.monitor,
                    self.best.unwrap_or(f64::NAN),
                    self.waited
                ));
            }
        }
    }

    fn on_train_end(&mut self, model: &mut dyn Module<T>) {
        if let Some(state) = self.best_state.take() {
            restore(model, &state);
        }
    }
}

/// Writes the state back by name (the names come from the same model, so they match).
fn restore<T: Float>(model: &mut dyn Module<T>, state: &IndexMap<String, Tensor<T>>) {
    for (name, p) in model.named_parameters_mut() {
        if let Some(t) = state.get(&name) {
            p.set(t.clone());
        }
    }
    for (name, b) in named_buffers_mut(model) {
        if let Some(t) = state.get(&name) {
            b.replace(t.clone());
        }
    }
}

/// Saves the model to a safetensors file after each epoch, or only when `monitor`
/// improves, as Keras's `ModelCheckpoint(save_best_only=True)`.
pub struct ModelCheckpoint {
    path: PathBuf,
    monitor: Option<(String, Goal)>,
    best: Option<f64>,
    last_error: Option<CheckpointError>,
}

impl ModelCheckpoint {
    /// Saves after every epoch to `path`.
    pub fn every_epoch(path: impl Into<PathBuf>) -> ModelCheckpoint {
        ModelCheckpoint {
            path: path.into(),
            monitor: None,
            best: None,
            last_error: None,
        }
    }

    /// Saves to `path` when `monitor` reaches its best value so far.
    pub fn best_only(path: impl Into<PathBuf>, monitor: &str) -> ModelCheckpoint {
        ModelCheckpoint {
            path: path.into(),
            monitor: Some((monitor.to_string(), Goal::for_figure(monitor))),
            best: None,
            last_error: None,
        }
    }

    /// The best monitored value saved.
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// The error of the last failed save, if any (training goes on after a failed save; the
    /// previous file stays intact, since saving is atomic).
    pub fn last_error(&self) -> Option<&CheckpointError> {
        self.last_error.as_ref()
    }
}

impl<T: Float> Callback<T> for ModelCheckpoint {
    fn on_epoch_end(
        &mut self,
        control: &mut Control<'_>,
        model: &mut dyn Module<T>,
        _optimizer: &mut dyn Optimizer<T>,
    ) {
        if let Some((name, goal)) = &self.monitor {
            let Some(value) = control.value(name) else {
                return;
            };
            if !goal.improves(value, self.best, 0.0) {
                return;
            }
            self.best = Some(value);
        }
        match checkpoint::save(&self.path, &*model) {
            Ok(()) => {
                let why = match (&self.monitor, self.best) {
                    (Some((name, _)), Some(v)) => format!(" ({name} {v:.4})"),
                    _ => String::new(),
                };
                control.note(format!("Saved {}{why}", self.path.display()));
                self.last_error = None;
            }
            Err(e) => {
                control.note(format!("Could not save {}: {e}", self.path.display()));
                self.last_error = Some(e);
            }
        }
    }
}

/// Sets the optimizer's learning rate after each epoch from a scheduler; a plateau
/// scheduler is fed the monitored figure (`val_loss` by default, else `loss`).
pub struct LearningRateScheduler<T: Float = f32> {
    scheduler: Box<dyn LrScheduler<T>>,
    monitor: Option<String>,
}

impl<T: Float> LearningRateScheduler<T> {
    /// Drives `scheduler` once per epoch.
    pub fn new(scheduler: impl LrScheduler<T> + 'static) -> LearningRateScheduler<T> {
        LearningRateScheduler {
            scheduler: Box::new(scheduler),
            monitor: None,
        }
    }

    /// The figure a plateau scheduler watches.
    pub fn monitor(mut self, figure: &str) -> Self {
        self.monitor = Some(figure.to_string());
        self
    }
}

impl<T: Float> Callback<T> for LearningRateScheduler<T> {
    fn on_epoch_end(
        &mut self,
        control: &mut Control<'_>,
        _model: &mut dyn Module<T>,
        optimizer: &mut dyn Optimizer<T>,
    ) {
        let metric = match &self.monitor {
            Some(name) => control.value(name),
            None => control.value("val_loss").or_else(|| control.value("loss")),
        };
        self.scheduler.end_epoch(optimizer, metric);
    }
}
