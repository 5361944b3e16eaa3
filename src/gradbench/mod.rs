//! Engram as a GradBench tool: the JSON-lines protocol on stdin/stdout (one message per
//! line; each answered with one line carrying its `id`), and one module per eval.
//!
//! Every derivative comes from Engram's autodiff applied to the eval's primal code.

mod evals;
mod input;
mod output;
mod protocol;
mod timing;

pub use protocol::serve;
