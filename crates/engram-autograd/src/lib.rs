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
//! - **One tape per thread.** [`Tape`] and [`Var`] are not `Send`: they share their
//!   recording through `Rc`. Tensors are `Send`; move tensors across threads and record
//!   on a tape of each thread's own.
//!
//! # Test machinery
//!
//! The gradient-check cases of every op (module `registry`, macro `case!`) are behind the
//! cargo feature `registry`, off by default: the sweep of the `engram` command-line tool
//! and the tests enable it, and a crate of layers enables it to register its own cases.
//! Users of the library compile none of the few hundred case functions.

mod backward;
mod custom;
mod gradcheck;
mod operand;
mod ops;
mod refs;
#[cfg(feature = "registry")]
pub mod registry;
mod tape;
mod var;

pub use backward::{grad, grad_graph, hvp, jvp, jvp_graph, value_and_grad, vjp, Gradients};
pub use custom::CustomOp;
pub use gradcheck::{
    gradcheck, gradgradcheck, GradcheckOptions, GradcheckReport, InputReport, Tolerances,
};
pub use operand::Operand;
pub use refs::Refs;
pub use tape::Tape;
pub use var::{IntoVar, Var};
