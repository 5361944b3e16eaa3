//! The tape: a Wengert list of nodes, each holding its value, its parents' indices and the
//! op that made it. Recording appends; `backward` walks it once in reverse.

use crate::anomaly;
use crate::growth::{Growth, GrowthCheck, TapeStats, Verdict};
use crate::ops::Op;
use crate::var::Var;
use engram_tensor::{Float, Tensor};
use smallvec::SmallVec;
use std::cell::RefCell;
use std::panic::Location;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One recorded value.
pub(crate) struct Node<T: Float> {
    pub(crate) op: Op<T>,
    pub(crate) parents: SmallVec<[usize; 2]>,
    pub(crate) value: Tensor<T>,
    /// False only for constants fed into a recorded op: they never receive a gradient.
    pub(crate) requires_grad: bool,
    /// The user's code that recorded it (through `#[track_caller]`), for anomaly reports.
    pub(crate) location: &'static Location<'static>,
}

pub(crate) struct TapeInner<T: Float> {
    /// Unique in the process: tells this tape's gradients from another's, whose node
    /// indices mean other nodes.
    pub(crate) id: u64,
    pub(crate) nodes: Vec<Node<T>>,
    /// Bumped by `clear`, so a `Var` from before a clear is caught rather than misread.
    pub(crate) generation: u64,
    pub(crate) recording: bool,
    pub(crate) growth: Growth,
    /// Set by [`Var::backward_once`], which drops the values it passes, and reset by
    /// `clear`: until then no backward pass may read them.
    pub(crate) values_freed: bool,
}

/// A recording of operations on [`Var`]s. Cloning gives another handle to the same tape.
///
/// ```
/// use engram_autograd::Tape;
/// use engram_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let x = tape.leaf(Tensor::from_vec(vec![1.0, 2.0], &[2]));
/// let loss = (&x * &x).sum();
/// let grads = loss.backward();
/// assert_eq!(grads[&x].to_vec(), vec![2.0, 4.0]);
/// ```
///
/// # A training step on raw Vars
///
/// A tape is reused across steps and must be cleared every step: it keeps every node
/// until [`Tape::clear`], and each backward pass walks all of them, so a loop that never
/// clears grows in memory and slows down quadratically. To update a parameter in place,
/// nothing else may share its storage: a leaf shares it with the parameter (and so does
/// the tape's node), so first take the gradients, then let the step's Vars go out of
/// scope, then clear the tape. [`Tensor::add_scaled_`] then writes in place (were the
/// storage still shared, it would copy: correct, only slower).
///
/// ```
/// use engram_autograd::{grad, Tape};
/// use engram_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let target = Tensor::from_vec(vec![1.0, -1.0], &[2]);
/// let mut w = Tensor::from_vec(vec![0.0, 0.0], &[2]);
/// let storage = w.as_mut_slice().as_ptr();
/// for _ in 0..100 {
///     let g = {
///         let wv = tape.leaf(w.clone());
///         let loss = (&wv - &target).square().sum();
///         grad(&loss, &[&wv]).remove(0)
///     }; // the step's Vars are dropped here...
///     tape.clear(); // ...and the tape's copies here
///     w.add_scaled_(&g, -0.1); // so the update is in place
/// }
/// assert!((w.get(&[0]) - 1.0).abs() < 1e-9);
/// assert_eq!(w.as_mut_slice().as_ptr(), storage);
/// ```
///
/// [`value_and_grad`](crate::value_and_grad) does the same in one call, on a fresh tape.
///
/// A tape is not `Send`: it is shared by `Rc` among the Vars recorded on it, so each
/// thread records on a tape of its own.
///
/// ```compile_fail
/// fn needs_send<S: Send>(_: S) {}
/// needs_send(engram_autograd::Tape::<f32>::new());
/// ```
///
/// [`Tensor::add_scaled_`]: engram_tensor::Tensor::add_scaled_
pub struct Tape<T: Float = f32> {
    pub(crate) inner: Rc<RefCell<TapeInner<T>>>,
}

impl<T: Float> Clone for Tape<T> {
    fn clone(&self) -> Self {
        Tape {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Float> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Where a [`Var`] lives on its tape.
pub(crate) struct NodeRef<T: Float> {
    pub(crate) tape: Tape<T>,
    pub(crate) id: usize,
    pub(crate) generation: u64,
}

impl<T: Float> Clone for NodeRef<T> {
    fn clone(&self) -> Self {
        NodeRef {
            tape: self.tape.clone(),
            id: self.id,
            generation: self.generation,
        }
    }
}

impl<T: Float> Tape<T> {
    /// An empty tape that records.
    pub fn new() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Tape {
            inner: Rc::new(RefCell::new(TapeInner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                nodes: Vec::new(),
                generation: 0,
                recording: true,
                growth: Growth::default(),
                values_freed: false,
            })),
        }
    }

    /// A leaf that requires a gradient: a parameter or an input to differentiate by (as
    /// PyTorch's `requires_grad_()`). Named `leaf` rather than `var`, which is the variance.
    #[track_caller]
    pub fn leaf(&self, value: Tensor<T>) -> Var<T> {
        let location = Location::caller();
        if anomaly::is_anomaly_enabled() {
            anomaly::check_leaf(&value, location);
        }
        let id = self.push(Node {
            op: Op::Leaf,
            parents: SmallVec::new(),
            value: value.clone(),
            requires_grad: true,
            location,
        });
        Var::tracked(value, self.node_ref(id))
    }

    /// A value that takes no part in differentiation (the same as [`Var::constant`]): an
    /// input, a target or a mask. Ops between it and recorded Vars record as usual.
    pub fn constant(&self, value: Tensor<T>) -> Var<T> {
        Var::constant(value)
    }

    /// Number of nodes recorded since the last `clear`.
    pub fn len(&self) -> usize {
        self.inner.borrow().nodes.len()
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every node but keeps the allocation, so a training loop reuses one tape;
    /// call it once per step (see the type's docs for the order of a step). Vars recorded
    /// before the clear must not be used in ops again (doing so panics), and
    /// [`Gradients`](crate::Gradients) no longer know them (`get` answers `None`).
    pub fn clear(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.nodes.clear();
        inner.generation += 1;
        inner.values_freed = false;
        inner.growth.cleared();
    }

    /// Runs `f` without recording: every op inside gives constants. As `torch.no_grad()`.
    pub fn no_grad<R>(&self, f: impl FnOnce() -> R) -> R {
        let before = std::mem::replace(&mut self.inner.borrow_mut().recording, false);
        let _restore = RestoreRecording { tape: self, before };
        f()
    }

    /// True unless inside [`Tape::no_grad`].
    pub fn is_recording(&self) -> bool {
        self.inner.borrow().recording
    }

    /// Sets what this tape does when it keeps growing across backward passes without a
    /// [`clear`](Tape::clear): by default it warns once on stderr after 64 such passes.
    ///
    /// ```
    /// use engram_autograd::{GrowthCheck, Tape};
    /// use engram_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// tape.set_growth_check(GrowthCheck::Panic { after: 3 });
    /// let w = Tensor::from_vec(vec![1.0, 2.0], &[2]);
    /// let forgets_to_clear = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    ///     for _ in 0..10 {
    ///         tape.leaf(w.clone()).square().sum().backward(); // and no `tape.clear()`
    ///     }
    /// }));
    /// assert!(forgets_to_clear.is_err());
    /// assert_eq!(tape.stats().growing_passes, 4);
    /// ```
    pub fn set_growth_check(&self, check: GrowthCheck) {
        self.inner.borrow_mut().growth.check = check;
    }

    /// How this tape has been used since its last [`clear`](Tape::clear): its nodes, its
    /// backward passes and how many of those found it grown (see [`GrowthCheck`]).
    pub fn stats(&self) -> TapeStats {
        let inner = self.inner.borrow();
        TapeStats {
            nodes: inner.nodes.len(),
            backward_passes: inner.growth.passes,
            growing_passes: inner.growth.growing,
            growth_warned: inner.growth.warned,
        }
    }

    /// Counts a backward pass for the [`GrowthCheck`], and warns or panics as it says.
    #[track_caller]
    pub(crate) fn count_pass(&self) {
        let verdict = {
            let mut inner = self.inner.borrow_mut();
            if inner.values_freed {
                drop(inner);
                panic!(
                    "engram: a backward pass over a tape whose values `backward_once` has freed; \
                     clear the tape and record the computation again, or use `backward`, which \
                     keeps them"
                );
            }
            let len = inner.nodes.len();
            inner.growth.pass(len)
        };
        match verdict {
            Verdict::Fine => {}
            Verdict::Warn(message) => eprintln!("{message}"),
            Verdict::Panic(message) => panic!("{message}"),
        }
    }

    /// True when both handles name the same tape.
    pub fn same_as(&self, other: &Tape<T>) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn push(&self, node: Node<T>) -> usize {
        let mut inner = self.inner.borrow_mut();
        inner.nodes.push(node);
        inner.nodes.len() - 1
    }

    pub(crate) fn node_ref(&self, id: usize) -> NodeRef<T> {
        NodeRef {
            tape: self.clone(),
            id,
            generation: self.inner.borrow().generation,
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.inner.borrow().generation
    }

    /// This tape's process-wide identity.
    pub(crate) fn id(&self) -> u64 {
        self.inner.borrow().id
    }
}

struct RestoreRecording<'a, T: Float> {
    tape: &'a Tape<T>,
    before: bool,
}

impl<T: Float> Drop for RestoreRecording<'_, T> {
    fn drop(&mut self) {
        self.tape.inner.borrow_mut().recording = self.before;
    }
}

/// Appends an op's result to the tape of its tracked inputs, or returns a constant when no
/// input is tracked (or recording is off). Every differentiable op ends here.
#[track_caller]
pub(crate) fn record<T: Float>(op: Op<T>, inputs: &[&Var<T>], value: Tensor<T>) -> Var<T> {
    let mut tape: Option<&Tape<T>> = None;
    for v in inputs {
        if let Some(n) = v.node_ref() {
            match tape {
                Some(t) if !t.same_as(&n.tape) => {
                    panic!("engram: `{}`: inputs come from two different tapes; record a computation on one tape", op.name())
                }
                _ => tape = Some(&n.tape),
            }
        }
    }
    let Some(tape) = tape else {
        return Var::constant(value);
    };
    if !tape.is_recording() {
        return Var::constant(value);
    }
    let location = Location::caller();
    if anomaly::is_anomaly_enabled() {
        anomaly::check_forward(op.name(), location, inputs, &value);
    }
    let node = {
        let mut inner = tape.inner.borrow_mut();
        let parents = per_input(inputs, |v| match &v.node {
            Some(n) => n.id,
            None => {
                inner.nodes.push(Node {
                    op: Op::Constant,
                    parents: SmallVec::new(),
                    value: v.value().clone(),
                    requires_grad: false,
                    location,
                });
                inner.nodes.len() - 1
            }
        });
        inner.nodes.push(Node {
            op,
            parents,
            value: value.clone(),
            requires_grad: true,
            location,
        });
        NodeRef {
            tape: tape.clone(),
            id: inner.nodes.len() - 1,
            generation: inner.generation,
        }
    };
    Var::tracked(value, node)
}

/// `f` of each of an op's inputs (at most a few), in order. A loop of pushes rather than
/// `collect`: `SmallVec`'s `extend` reserves first, and that cost more than the rest of
/// a scalar op's bookkeeping.
#[inline]
pub(crate) fn per_input<'a, I, R>(
    inputs: &'a [I],
    mut f: impl FnMut(&'a I) -> R,
) -> SmallVec<[R; 2]> {
    let mut out = SmallVec::new();
    for input in inputs {
        out.push(f(input));
    }
    out
}

impl<T: Float> Clone for Node<T> {
    fn clone(&self) -> Self {
        Node {
            op: self.op.clone(),
            parents: self.parents.clone(),
            value: self.value.clone(),
            requires_grad: self.requires_grad,
            location: self.location,
        }
    }
}
