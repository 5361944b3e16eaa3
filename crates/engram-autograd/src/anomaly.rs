//! Anomaly mode: a scoped, per-thread switch under which every value recorded on a tape
//! and every gradient a vjp rule produces is checked for NaN and ±∞, and the first one
//! panics with the op, where it was recorded and its input shapes (as PyTorch's
//! `torch.autograd.detect_anomaly` and JAX's `debug_nans`).
//!
//! Off, it costs one thread-local read per recorded op and per vjp: no value is scanned.
//! The source location it reports is stored in every node either way, as a `&'static`
//! pointer that `#[track_caller]` hands down from the user's call.
//!
//! What counts as an anomaly. NaN always: no computation means it. ±∞ in a gradient
//! always: an optimizer step cannot use it. ±∞ in a forward value only where the op made
//! it from finite inputs (`exp` overflowing, `ln(0)`, `1/0`): an infinity that came in
//! through an input is the legitimate `-∞` of an attention mask (`masked_fill(mask,
//! -∞)`, an additive mask), which softmax turns into zero weights. A leaf the user
//! supplies is checked for NaN and ±∞; a constant fed into an op, for NaN.

use crate::gradcheck::unravel;
use crate::var::Var;
use engram_tensor::{Float, Tensor};
use std::cell::Cell;
use std::fmt::Write;
use std::marker::PhantomData;
use std::panic::Location;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
}

/// True while anomaly mode is on on this thread (as `torch.is_anomaly_enabled()`).
/// Inlined: every recorded op asks.
#[inline]
pub fn is_anomaly_enabled() -> bool {
    ENABLED.get()
}

/// Runs `f` with anomaly mode on, then restores the previous state (even if `f` panics):
/// as PyTorch's `with torch.autograd.detect_anomaly():`. See [`AnomalyMode`] for what is
/// checked and what the report says.
///
/// ```should_panic
/// use engram_autograd::{detect_anomaly, Tape};
/// use engram_tensor::Tensor;
/// let tape = Tape::<f32>::new();
/// let x = tape.leaf(Tensor::from_vec(vec![1.0, -1.0], &[2]));
/// // panics: "engram: anomaly in forward: `ln` (recorded at src/main.rs:7:37) gave 1 NaN ..."
/// detect_anomaly(|| x.ln().sum().backward());
/// ```
pub fn detect_anomaly<R>(f: impl FnOnce() -> R) -> R {
    let _on = AnomalyMode::enable();
    f()
}

/// A guard that sets anomaly mode for the current thread and restores the previous state
/// when dropped, so guards nest (an inner [`AnomalyMode::disable`] exempts a region, for
/// instance).
///
/// With the mode on, the first non-finite value panics, as a shape mistake does, with a
/// message that names:
///
/// - where: `forward` (an op's value), `backward` (a gradient from an op's vjp rule) or
///   `input/leaf` (a leaf, a constant input or a seed gradient holding NaN or ±∞);
/// - the op, and the file, line and column of the user's code that recorded it (in
///   backward, the forward op whose rule produced the gradient, and which of its inputs
///   the gradient is for);
/// - the shapes of the op's inputs, and how many elements are NaN, +∞ and −∞, with the
///   index of the first.
///
/// NaN is always reported; so is ±∞ in a gradient; ±∞ in a forward value only where the
/// op made it from finite inputs, so the `-∞` of an attention mask passes. Values
/// computed without recording (constants, `no_grad`) are not checked. Off (the default),
/// nothing is scanned, and NaN passes through as it does without the mode.
///
/// ```should_panic
/// use engram_autograd::{AnomalyMode, Tape};
/// use engram_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let x = tape.leaf(Tensor::from_vec(vec![0.0, 4.0], &[2]));
/// let loss = x.sqrt().sum(); // finite: 0 + 2
/// let _anomaly = AnomalyMode::enable();
/// // panics: "engram: anomaly in backward: the vjp of `sqrt` (recorded at ...) gave
/// // 1 +inf of 2 elements (the first at [0]) in the gradient for its input 0 of shape [2]"
/// loss.backward();
/// ```
#[must_use = "anomaly mode is on only while the guard lives; bind it: `let _anomaly = ...`"]
pub struct AnomalyMode {
    before: bool,
    /// The state is per thread: the guard must be dropped on the thread that made it.
    _not_send: PhantomData<*const ()>,
}

impl AnomalyMode {
    /// Turns anomaly mode on until the guard is dropped.
    pub fn enable() -> AnomalyMode {
        AnomalyMode::set(true)
    }

    /// Turns anomaly mode off until the guard is dropped: exempts a region from an
    /// enclosing [`detect_anomaly`].
    pub fn disable() -> AnomalyMode {
        AnomalyMode::set(false)
    }

    fn set(on: bool) -> AnomalyMode {
        AnomalyMode {
            before: ENABLED.replace(on),
            _not_send: PhantomData,
        }
    }
}

impl Drop for AnomalyMode {
    fn drop(&mut self) {
        ENABLED.set(self.before);
    }
}

/// How many elements of a tensor are not finite, and where the first one is.
struct NonFinite {
    nan: usize,
    pos_inf: usize,
    neg_inf: usize,
    first: Vec<usize>,
    numel: usize,
}

impl NonFinite {
    /// `None` when every element is finite.
    fn scan<T: Float>(t: &Tensor<T>) -> Option<NonFinite> {
        let data = t.contiguous_data();
        let first = data.iter().position(|v| !v.is_finite())?;
        let mut found = NonFinite {
            nan: 0,
            pos_inf: 0,
            neg_inf: 0,
            first: unravel(first, t.shape()),
            numel: data.len(),
        };
        for v in &data[first..] {
            if v.is_nan() {
                found.nan += 1;
            } else if *v == T::infinity() {
                found.pos_inf += 1;
            } else if *v == T::neg_infinity() {
                found.neg_inf += 1;
            }
        }
        Some(found)
    }

    /// As "1 NaN and 2 +inf of 6 elements (the first at [0, 1])".
    fn describe(&self) -> String {
        let kinds: Vec<String> = [
            (self.nan, "NaN"),
            (self.pos_inf, "+inf"),
            (self.neg_inf, "-inf"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, kind)| format!("{n} {kind}"))
        .collect();
        format!(
            "{} of {} element{} (the first at {:?})",
            kinds.join(" and "),
            self.numel,
            if self.numel == 1 { "" } else { "s" },
            self.first
        )
    }
}

/// As "[2, 3], [3]".
fn shapes<'a>(shapes: impl IntoIterator<Item = &'a [usize]>) -> String {
    let mut out = String::new();
    for (k, s) in shapes.into_iter().enumerate() {
        let sep = if k == 0 { "" } else { ", " };
        write!(out, "{sep}{s:?}").expect("writing to a String cannot fail");
    }
    if out.is_empty() {
        out.push_str("none");
    }
    out
}

/// Checks a leaf the user supplies for NaN and ±∞.
#[track_caller]
pub(crate) fn check_leaf<T: Float>(value: &Tensor<T>, at: &Location<'_>) {
    if let Some(bad) = NonFinite::scan(value) {
        panic!(
            "engram: anomaly in input/leaf: a leaf (recorded at {at}) of shape {:?} holds {}",
            value.shape(),
            bad.describe()
        );
    }
}

/// Checks an op's recorded value, and its constant inputs for NaN (see the module docs
/// for what counts).
#[track_caller]
pub(crate) fn check_forward<T: Float>(
    op: &str,
    at: &Location<'_>,
    inputs: &[&Var<T>],
    value: &Tensor<T>,
) {
    for (k, v) in inputs.iter().enumerate() {
        if v.requires_grad() {
            continue;
        }
        if let Some(bad) = NonFinite::scan(v.value()).filter(|b| b.nan > 0) {
            panic!(
                "engram: anomaly in input/leaf: input {k} of `{op}` (recorded at {at}) is a \
                 constant of shape {:?} holding {}",
                v.shape(),
                bad.describe()
            );
        }
    }
    let Some(bad) = NonFinite::scan(value) else {
        return;
    };
    let inherited = bad.nan == 0 && inputs.iter().any(|v| NonFinite::scan(v.value()).is_some());
    if !inherited {
        panic!(
            "engram: anomaly in forward: `{op}` (recorded at {at}) gave {} in its output of \
             shape {:?}; input shapes {}",
            bad.describe(),
            value.shape(),
            shapes(inputs.iter().map(|v| v.shape()))
        );
    }
}

/// Checks the seed gradient a backward pass starts from.
#[track_caller]
pub(crate) fn check_seed<T: Float>(seed: &Tensor<T>) {
    if let Some(bad) = NonFinite::scan(seed) {
        panic!(
            "engram: anomaly in input/leaf: the seed gradient of the backward pass, of shape \
             {:?}, holds {}",
            seed.shape(),
            bad.describe()
        );
    }
}

/// What a gradient check needs to know of the forward op whose vjp produced it.
pub(crate) struct VjpSite<'a> {
    pub(crate) op: &'a str,
    pub(crate) at: &'a Location<'a>,
    pub(crate) input_shapes: Vec<&'a [usize]>,
}

/// Who made a non-finite gradient: the rule itself, or the sum of its gradient with the
/// ones other uses of the same input contributed (finite terms can overflow).
pub(crate) enum Blame {
    Rule,
    Sum,
}

/// Checks a gradient for input `k` of the op at `site`: the one its vjp rule gave
/// (`Blame::Rule`), or that input's running sum once it is added (`Blame::Sum`).
#[track_caller]
pub(crate) fn check_gradient<T: Float>(
    site: &VjpSite<'_>,
    k: usize,
    gradient: &Tensor<T>,
    blame: Blame,
) {
    let Some(bad) = NonFinite::scan(gradient) else {
        return;
    };
    let how = match blame {
        Blame::Rule => "gave",
        Blame::Sum => "overflowed, added to the input's other gradients, to",
    };
    panic!(
        "engram: anomaly in backward: the vjp of `{}` (recorded at {}; input shapes {}) {how} \
         {} in the gradient for its input {k} of shape {:?}",
        site.op,
        site.at,
        shapes(site.input_shapes.iter().copied()),
        bad.describe(),
        gradient.shape()
    );
}
