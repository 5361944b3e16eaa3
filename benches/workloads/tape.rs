//! The tape-overhead figure, shared by `benches/autograd.rs` and the side-by-side worker
//! (`benches/compare_worker.rs`); the peers' programs in `tools/compare/` run the same chain.

use engram::autograd::Tape;
use engram::tensor::Tensor;

/// Repetitions of the three-op link `tanh(x · 1.0001 + 0.0001)`.
const LINKS: usize = 3334;

/// Scalar ops in one chain: divide a chain's time by this for the time per op.
pub const TAPE_CHAIN_OPS: usize = 3 * LINKS;

/// Records 10,002 scalar ops on `tape` (cleared first) and runs backward through them;
/// returns the gradient so the work cannot be optimised away.
pub fn tape_chain(tape: &Tape<f32>) -> f32 {
    tape.clear();
    let x = tape.leaf(Tensor::scalar(0.5f32));
    let mut y = x.clone();
    for _ in 0..LINKS {
        y = (y * 1.0001 + 0.0001).tanh();
    }
    y.backward()[&x].item()
}
