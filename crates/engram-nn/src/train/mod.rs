//! Training: the pieces a training loop and Keras-style `fit` share — metrics, the
//! per-epoch history with its CSV and plot, and progress output.

mod history;
mod metrics;
mod plot;
mod progress;

pub use history::{EpochLog, History};
pub use metrics::{Metric, Running};
pub use progress::{Progress, Verbosity};
