//! Catching a loop that forgets to clear its tape. Such a loop records each step's graph
//! on top of the last, and each backward pass walks every node since the last clear, so
//! memory grows without bound and step `n` costs `n` times the first.
//!
//! The sign is a tape that keeps growing between backward passes: a legitimate program
//! makes few passes over one recording (grad of grad: two or three) or many over a
//! recording that stays the same size (a Jacobian row by row), and a long graph such as
//! an unrolled RNN is big but is cleared each step. So a tape counts the backward passes
//! since its last clear that found it longer than the pass before, and past a bound
//! (64 by default) it warns once, or panics if asked to.

/// What a [`Tape`](crate::Tape) does when it keeps growing across backward passes without
/// a [`clear`](crate::Tape::clear): set with [`Tape::set_growth_check`](crate::Tape::set_growth_check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrowthCheck {
    /// Print one warning on stderr, once per tape, when more than `after` backward passes
    /// since the last clear have each found the tape longer than the pass before. The
    /// default, with `after` = 64.
    Warn {
        /// Growing passes tolerated.
        after: usize,
    },
    /// Panic (naming the fix) at the pass that would warn: for tests and for training
    /// loops that would rather stop than slow down.
    Panic {
        /// Growing passes tolerated.
        after: usize,
    },
    /// Never check: for a program that means its tape to grow.
    Off,
}

impl Default for GrowthCheck {
    fn default() -> Self {
        GrowthCheck::Warn { after: 64 }
    }
}

/// How a tape has been used since its last [`clear`](crate::Tape::clear), from
/// [`Tape::stats`](crate::Tape::stats).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TapeStats {
    /// Nodes recorded (as [`Tape::len`](crate::Tape::len)).
    pub nodes: usize,
    /// Backward passes run on it (`backward`, `grad`, `vjp`, `grad_graph`, and the passes
    /// `jvp` and `hvp` make).
    pub backward_passes: usize,
    /// Of those, the passes that found it longer than the pass before: the count a
    /// [`GrowthCheck`] bounds.
    pub growing_passes: usize,
    /// True once this tape has printed its growth warning (it prints it once, ever).
    pub growth_warned: bool,
}

/// A tape's count of its backward passes, kept in the tape.
#[derive(Default)]
pub(crate) struct Growth {
    pub(crate) check: GrowthCheck,
    pub(crate) passes: usize,
    pub(crate) growing: usize,
    len_at_last_pass: usize,
    pub(crate) warned: bool,
}

/// What a backward pass must do about the tape's growth.
pub(crate) enum Verdict {
    Fine,
    Warn(String),
    Panic(String),
}

impl Growth {
    /// Starts the count again, as after a clear.
    pub(crate) fn cleared(&mut self) {
        self.passes = 0;
        self.growing = 0;
        self.len_at_last_pass = 0;
    }

    /// Counts a backward pass over a tape of `len` nodes.
    pub(crate) fn pass(&mut self, len: usize) -> Verdict {
        self.passes += 1;
        if len > self.len_at_last_pass {
            self.growing += 1;
        }
        self.len_at_last_pass = len;
        match self.check {
            GrowthCheck::Warn { after } if self.growing > after && !self.warned => {
                self.warned = true;
                Verdict::Warn(self.explain(len, "`GrowthCheck::Panic` makes this an error"))
            }
            GrowthCheck::Panic { after } if self.growing > after => {
                Verdict::Panic(self.explain(len, "this tape's `GrowthCheck` is `Panic`"))
            }
            _ => Verdict::Fine,
        }
    }

    fn explain(&self, len: usize, severity: &str) -> String {
        format!(
            "engram: this tape has grown across {} backward passes without `Tape::clear` and \
             holds {len} nodes: each pass walks every node recorded since the last clear, so a \
             loop that never clears uses more memory and more time at every step. Call \
             `tape.clear()` once per step, after taking the gradients (`Context::backward` \
             does it; `value_and_grad` uses a fresh tape). If this tape is meant to grow, \
             `tape.set_growth_check(GrowthCheck::Off)`; {severity}.",
            self.growing
        )
    }
}
