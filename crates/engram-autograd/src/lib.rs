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

mod backward;
mod custom;
mod gradcheck;
mod operand;
mod ops;
pub mod registry;
mod tape;
mod var;

pub use backward::{grad, grad_graph, hvp, jvp, jvp_graph, vjp, Gradients};
pub use custom::CustomOp;
pub use gradcheck::{
    gradcheck, gradgradcheck, GradcheckOptions, GradcheckReport, InputReport, Tolerances,
};
pub use operand::Operand;
pub use tape::Tape;
pub use var::Var;
