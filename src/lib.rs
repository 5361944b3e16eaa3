//! Engram: a deep-learning framework for Rust.
//!
//! This facade re-exports the workspace crates; most programs need only the prelude. The
//! `engram` command-line tool (gradient-check sweep, GradBench server) is the package's
//! binary, behind the default `cli` feature: `default-features = false` leaves it out.
//!
//! ```
//! use engram::prelude::*;
//! let x = Tensor::<f64>::ones(&[2, 3]);
//! assert_eq!(x.sum().item(), 6.0);
//! ```

pub mod examples;
/// The GradBench protocol server that `engram gradbench` runs. It lives in the library,
/// not the binary, only so that the fuzz target (`fuzz/`) can feed the very code the tool
/// runs; it is not part of the API.
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod gradbench;

pub use engram_autograd as autograd;
/// Data-parallel training on MPI (the `distributed` feature).
#[cfg(feature = "distributed")]
pub use engram_distributed as distributed;
pub use engram_nn as nn;
pub use engram_tensor as tensor;

/// The names most programs use.
pub mod prelude {
    pub use engram_autograd::{
        detect_anomaly, grad, grad_graph, gradcheck, hvp, jvp, jvp_graph, value_and_grad, vjp,
        AnomalyMode, GradcheckOptions, Gradients, Tape, Var,
    };
    pub use engram_nn::checkpoint;
    pub use engram_nn::data::{
        datasets, random_split, DataLoader, Dataset, StandardScaler, TensorDataset,
    };
    pub use engram_nn::optim::{Adam, AdamOptions, Optimizer, Sgd, SgdOptions};
    pub use engram_nn::train::{FitOptions, History, Loss, Metric, Model, Verbosity};
    pub use engram_nn::{
        Buffer, Context, Conv2d, Conv2dConfig, Dropout, Flatten, Forward, Grads, Linear, MaxPool2d,
        Module, Parameter, ReLU, Sequential, Sigmoid, Tanh,
    };
    pub use engram_tensor::{
        s, seeded_rng, AxisIndex, Conv1dOptions, Conv2dOptions, Element, Float, Pool2dOptions, Rng,
        SeedableRng, SeededRng, Tensor,
    };
}

/// The README's tour, compiled and run as doc tests so that it cannot drift from the API.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeTour;
