//! Training: Keras-style [`Model`] with `compile`/`fit`/`evaluate`/`predict`, and the pieces
//! a hand-written loop shares with it — metrics, the per-epoch [`History`] with its CSV and
//! plot, progress output and callbacks.

mod callbacks;
mod fit;
mod history;
mod loss;
mod metrics;
mod plot;
mod progress;

pub use callbacks::{
    Callback, Control, EarlyStopping, Goal, LearningRateScheduler, ModelCheckpoint,
};
pub use fit::{FitOptions, Model, Validation};
pub use history::{EpochLog, History};
pub use loss::Loss;
pub use metrics::{Metric, Running};
pub use progress::{Progress, Verbosity};
