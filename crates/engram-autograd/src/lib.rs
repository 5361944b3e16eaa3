//! Tape-based reverse-mode automatic differentiation, to any order.
//!
//! Every op on a [`Var`] records itself on a [`Tape`]; one reverse sweep gives the gradient
//! of a scalar with respect to every input. Each op has exactly one vjp rule, written over
//! the [`Operand`] trait: run on tensors it is the fast first-order path; run on Vars (with
//! [`grad_graph`]) it records, so gradients can be differentiated again.
//!
//! ```
//! use engram_autograd::{grad, grad_graph, Tape};
//! use engram_tensor::Tensor;
//! let tape = Tape::<f64>::new();
//! let x = tape.leaf(Tensor::scalar(3.0));
//! let y = x.powi(3); // y = x³
//! let dy = grad_graph(&y, None, &[&x]).remove(0); // 3x² = 27, still a Var
//! assert_eq!(dy.value().item(), 27.0);
//! assert_eq!(grad(&dy, &[&x])[0].item(), 18.0); // 6x
//! ```
//!
//! # What to know before writing a training loop
//!
//! - **Clear the tape every step.** A tape keeps every node recorded on it until
//!   [`Tape::clear`]; a loop that reuses one tape without clearing it grows without
//!   bound, and every backward pass walks the whole history, so each step is slower than
//!   the last (quadratic time overall). [`Tape`] shows the loop;
//!   [`value_and_grad`] uses a fresh tape per call and needs no clearing.
//!   A tape that grows across more than 64 backward passes without a clear says so
//!   once on stderr; [`Tape::set_growth_check`] makes that a panic (or turns it off),
//!   and [`Tape::stats`] reports the count.
//! - **One tape per thread.** [`Tape`] and [`Var`] are not `Send`: they share their
//!   recording through `Rc`. Tensors are `Send`; move tensors across threads and record
//!   on a tape of each thread's own.
//!
//! # Anomaly mode
//!
//! A NaN deep in a model usually shows only as a NaN loss. Under [`detect_anomaly`] (or
//! while an [`AnomalyMode::enable`] guard lives) every recorded value and every gradient
//! a vjp rule produces is checked, and the first NaN or ±∞ panics with `forward`,
//! `backward` or `input/leaf`, the op, the file, line and column that recorded it, its
//! input shapes and, in backward, which input's gradient went bad; as PyTorch's
//! `torch.autograd.detect_anomaly` and JAX's `debug_nans`. The `-∞` of an attention mask
//! passes: a forward infinity is reported only where an op made it from finite inputs.
//! Off (the default) it costs nothing measurable (`benches/autograd.rs`).
//!
//! ```should_panic
//! use engram_autograd::{detect_anomaly, Tape};
//! use engram_tensor::Tensor;
//! let tape = Tape::<f32>::new();
//! let x = tape.leaf(Tensor::from_vec(vec![0.5, 0.0], &[2]));
//! let loss = (x.ln() * &x).sum(); // ln(0) = -inf, and -inf · 0 = NaN
//! assert!(loss.value().item().is_nan()); // without the mode: just a NaN
//! // "engram: anomaly in forward: `ln` (recorded at src/lib.rs:6:14) gave 1 -inf of 2 ..."
//! detect_anomaly(|| (x.ln() * &x).sum());
//! ```
//!
//! # Test machinery
//!
//! The gradient-check cases of every op (module `registry`, macro `case!`) are behind the
//! cargo feature `registry`, off by default: the sweep of the `engram` command-line tool
//! and the tests enable it, and a crate of layers enables it to register its own cases.
//! Users of the library compile none of the few hundred case functions.

mod anomaly;
mod backward;
mod custom;
mod gradcheck;
mod growth;
mod operand;
mod ops;
mod refs;
#[cfg(feature = "registry")]
pub mod registry;
mod tape;
mod var;

pub use anomaly::{detect_anomaly, is_anomaly_enabled, AnomalyMode};
pub use backward::{grad, grad_graph, hvp, jvp, jvp_graph, value_and_grad, vjp, Gradients};
pub use custom::CustomOp;
pub use gradcheck::{
    gradcheck, gradgradcheck, GradcheckOptions, GradcheckReport, InputReport, Tolerances,
};
pub use growth::{GrowthCheck, TapeStats};
pub use operand::Operand;
pub use refs::Refs;
pub use tape::Tape;
pub use var::{IntoVar, Var};
