//! Engram: a deep-learning framework for Rust.
//!
//! This facade re-exports the workspace crates; most programs need only the prelude.
//!
//! ```
//! use engram::prelude::*;
//! let x = Tensor::<f64>::ones(&[2, 3]);
//! assert_eq!(x.sum().item(), 6.0);
//! ```

pub mod gradbench;
pub mod sweep;

pub use engram_autograd as autograd;
pub use engram_nn as nn;
pub use engram_tensor as tensor;

/// The names most programs use.
pub mod prelude {
    pub use engram_autograd::{
        grad, grad_graph, gradcheck, hvp, jvp, jvp_graph, value_and_grad, vjp, GradcheckOptions,
        Gradients, Tape, Var,
    };
    pub use engram_tensor::{
        s, seeded_rng, AxisIndex, Conv1dOptions, Conv2dOptions, Element, Float, Pool2dOptions, Rng,
        SeedableRng, SeededRng, Tensor,
    };
}

/// The README's code, compiled and run as doc tests so that its tour stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
