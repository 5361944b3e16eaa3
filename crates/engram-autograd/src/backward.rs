//! The reverse sweep, and the ways to ask for derivatives: `backward` (every leaf),
//! `grad`/`vjp` (chosen Vars), `value_and_grad` (a function of tensors), `grad_graph`
//! (differentiable gradients), and built on those, `jvp` (forward-mode product by the
//! double-vjp trick) and `hvp`.

use crate::anomaly::{self, is_anomaly_enabled, AnomalyMode, Blame, VjpSite};
use crate::operand::Operand;
use crate::ops::Op;
use crate::refs::Refs;
use crate::tape::{per_input, Node, Tape};
use crate::var::Var;
use engram_tensor::{Float, Tensor};
use std::borrow::Cow;
use std::collections::HashMap;

/// One reverse sweep from the last node of `nodes` down to node `lo` (no node below the
/// lowest one asked for can lie between it and the root, so nothing below `lo` is
/// visited). `nodes[0]` is node `base` (`base <= lo`); `input(nodes, i)` makes any node's
/// value into an operand (borrowed where it can be: a scalar node's values cost more to
/// clone than its vjp does to compute); `keep(i)` says whose gradient to return. Each slot
/// is taken (freed) when its node is processed. With `free_passed`, each node's value is
/// dropped as soon as the sweep has passed it: no node still to come reads it (a node's
/// parents come before it), so the pass holds only the values it has yet to use.
fn sweep<T: Float, V: Operand<T>>(
    nodes: &mut [Node<T>],
    (base, lo): (usize, usize),
    seed: V,
    input: impl for<'n> Fn(&'n [Node<T>], usize) -> Cow<'n, V>,
    keep: impl Fn(usize, &Node<T>) -> bool,
    free_passed: bool,
) -> Vec<(usize, V)> {
    // Read once: a pass is checked as a whole or not at all. A recorded pass
    // (`grad_graph`) records ops of its own, in its rules and in summing gradients; with
    // the forward checks off while it runs, a non-finite gradient is caught below and
    // blamed on the node whose rule made it, not on the internals of that rule.
    let anomaly = is_anomaly_enabled();
    let _quiet = anomaly.then(AnomalyMode::disable);
    if anomaly {
        anomaly::check_seed(seed.value());
    }
    let root = base + nodes.len() - 1;
    let mut slots: Vec<Option<V>> = (lo..=root).map(|_| None).collect();
    slots[root - lo] = Some(seed);
    let mut kept = Vec::new();
    for i in (lo..=root).rev() {
        if free_passed && i < root {
            release_value(&mut nodes[i + 1 - base]);
        }
        let Some(g) = slots[i - lo].take() else {
            continue;
        };
        let nodes = &*nodes;
        let input = |i: usize| input(nodes, i);
        let node = &nodes[i - base];
        if keep(i, node) {
            kept.push((i, g.clone()));
        }
        if let Op::Unary(op) = &node.op {
            // One input: the general path's per-input lists (which inputs need a
            // gradient, their values, the rule's gradients) cost more than a scalar
            // node's rule does.
            let p = node.parents[0];
            if p < lo || !nodes[p - base].requires_grad {
                continue;
            }
            let x = input(p);
            let Some(gx) = op.vjp(&*x, &*input(i), g) else {
                continue;
            };
            let site = anomaly.then(|| VjpSite {
                op: op.name(),
                at: node.location,
                input_shapes: vec![x.value().shape()],
            });
            let shape = nodes[p - base].value.shape();
            deliver(&mut slots[p - lo], gx, shape, &node.op, 0, site.as_ref());
            continue;
        }
        let needs = per_input(&node.parents, |&p| p >= lo && nodes[p - base].requires_grad);
        if !needs.contains(&true) {
            continue;
        }
        if let Some(geometry) = node.op.slice_geometry() {
            // A slice's gradient goes straight into its region of the input's gradient.
            let p = node.parents[0];
            let shape = nodes[p - base].value.shape();
            let sum = V::accumulate_slice(slots[p - lo].take(), &g, shape, geometry);
            if anomaly {
                let site = VjpSite {
                    op: node.op.name(),
                    at: node.location,
                    input_shapes: vec![shape],
                };
                anomaly::check_gradient(&site, 0, sum.value(), Blame::Sum);
            }
            slots[p - lo] = Some(sum);
            continue;
        }
        let xs = per_input(&node.parents, |&p| input(p));
        let x_refs = per_input(&xs, |x| &**x);
        let mut grads = node.op.vjp(&x_refs, &input(i), &g, &needs);
        let site = anomaly.then(|| VjpSite {
            op: node.op.name(),
            at: node.location,
            input_shapes: xs.iter().map(|x| x.value().shape()).collect(),
        });
        // Taken in place rather than by `into_iter`, which moves the whole vector first.
        for (k, gk) in grads.iter_mut().enumerate() {
            let Some(gk) = gk.take() else { continue };
            if !needs[k] {
                continue;
            }
            let p = node.parents[k];
            let shape = nodes[p - base].value.shape();
            deliver(&mut slots[p - lo], gk, shape, &node.op, k, site.as_ref());
        }
    }
    if free_passed {
        release_value(&mut nodes[lo - base]);
    }
    kept
}

/// Drops a node's value, for a sweep that has passed it: an empty stand-in takes its
/// place (its op and parents stay).
fn release_value<T: Float>(node: &mut Node<T>) {
    node.value = Tensor::from_vec(Vec::new(), &[0]);
}

/// Adds `gk`, the gradient that `op`'s rule gave its input `k` (of `shape`), into that
/// input's `slot`. Under anomaly mode (`site` given) both the rule's gradient and the sum
/// are checked.
fn deliver<T: Float, V: Operand<T>>(
    slot: &mut Option<V>,
    gk: V,
    shape: &[usize],
    op: &Op<T>,
    k: usize,
    site: Option<&VjpSite<'_>>,
) {
    // Element by element: slice equality calls `memcmp`, even for a scalar's empty shape.
    if gk.value().shape().iter().ne(shape) {
        panic!(
            "engram: the vjp of `{}` returned a gradient of shape {:?} for an input of shape {:?}; \
             this is a bug in that op's rule",
            op.name(),
            gk.value().shape(),
            shape
        );
    }
    if let Some(site) = site {
        anomaly::check_gradient(site, k, gk.value(), Blame::Rule);
    }
    match slot {
        Some(prev) => {
            *prev = prev.add(&gk);
            if let Some(site) = site {
                anomaly::check_gradient(site, k, prev.value(), Blame::Sum);
            }
        }
        None => *slot = Some(gk),
    }
}

/// Runs the first-order sweep on plain tensors: nothing is recorded. The node list is
/// moved out of the tape for the sweep and put back after, even if the sweep panics.
/// With `free_passed`, the values of nodes `lo..=root` are dropped as the sweep passes
/// them, and the tape refuses another pass until it is cleared.
#[track_caller]
fn sweep_tensors<T: Float>(
    tape: &Tape<T>,
    (lo, root): (usize, usize),
    seed: Tensor<T>,
    keep: impl Fn(usize, &Node<T>) -> bool,
    free_passed: bool,
) -> Vec<(usize, Tensor<T>)> {
    struct PutBack<'a, T: Float> {
        tape: &'a Tape<T>,
        nodes: Vec<Node<T>>,
    }
    impl<T: Float> Drop for PutBack<'_, T> {
        fn drop(&mut self) {
            self.tape.inner.borrow_mut().nodes = std::mem::take(&mut self.nodes);
        }
    }
    tape.count_pass();
    if free_passed {
        tape.inner.borrow_mut().values_freed = true;
    }
    let mut guard = PutBack {
        tape,
        nodes: std::mem::take(&mut tape.inner.borrow_mut().nodes),
    };
    sweep(
        &mut guard.nodes[..=root],
        (0, lo),
        seed,
        |nodes, i| Cow::Borrowed(&nodes[i].value),
        keep,
        free_passed,
    )
}

/// Runs the sweep on Vars, recording the backward computation on the tape, so the
/// gradients it returns can be differentiated again. Only nodes `lo..=root` are copied
/// out; any node's value is handed to the rules as a tracked Var, so that derivatives
/// with respect to nodes below `lo` (an outer level of nesting) still flow through.
#[track_caller]
fn sweep_vars<T: Float>(
    tape: &Tape<T>,
    (lo, root): (usize, usize),
    seed: Var<T>,
    keep: impl Fn(usize, &Node<T>) -> bool,
) -> Vec<(usize, Var<T>)> {
    tape.count_pass();
    let mut snapshot: Vec<Node<T>> = tape.inner.borrow().nodes[lo..=root].to_vec();
    sweep(
        &mut snapshot,
        (lo, lo),
        seed,
        |snapshot: &[Node<T>], i: usize| {
            let (value, tracked) = if i >= lo {
                (
                    snapshot[i - lo].value.clone(),
                    snapshot[i - lo].requires_grad,
                )
            } else {
                let inner = tape.inner.borrow();
                (inner.nodes[i].value.clone(), inner.nodes[i].requires_grad)
            };
            Cow::Owned(if tracked {
                Var::tracked(value, tape.node_ref(i))
            } else {
                Var::constant(value)
            })
        },
        keep,
        false,
    )
}

#[track_caller]
fn scalar_seed<T: Float>(op: &str, output: &Var<T>) -> Tensor<T> {
    if output.value().numel() != 1 {
        panic!(
            "engram: `{op}` needs a scalar output, got shape {:?}; reduce it first (`.sum()`, `.mean()`) \
             or give a seed gradient (`backward_with`, `vjp`)",
            output.shape()
        );
    }
    Tensor::ones(output.shape())
}

#[track_caller]
fn check_seed<T: Float>(op: &str, output: &Var<T>, seed: &Tensor<T>) {
    if seed.shape() != output.shape() {
        panic!(
            "engram: `{op}`: the seed gradient has shape {:?} but the output has shape {:?}",
            seed.shape(),
            output.shape()
        );
    }
}

/// What a derivative asked of a constant output (one that is not recorded) gives.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OfConstant {
    /// Panic, as PyTorch does: the user asked to differentiate something that cannot be.
    Panic,
    /// Zeros: inside `hvp`, `jvp` and the gradient checks, where an intermediate (the
    /// gradient of a linear function, say) is legitimately constant.
    Zeros,
}

/// Panics for `op` when `output` is a constant and `of_constant` says so.
#[track_caller]
fn check_recorded<T: Float>(op: &str, output: &Var<T>, of_constant: OfConstant) {
    if of_constant == OfConstant::Panic && !output.requires_grad() {
        panic!(
            "engram: `{op}`: the output does not require grad: it is a constant (computed under \
             `no_grad`, through `detach`, or from constants only), so there is nothing to \
             differentiate. Record it from leaves (`tape.leaf`) outside `no_grad`. (The gradient \
             of a function linear in its inputs, from `grad_graph`, is such a constant: its own \
             derivative is zero.)"
        );
    }
}

/// Gradients of one backward pass, per leaf.
///
/// Index with the leaf (`grads[&x]`), or use [`Gradients::get`], which answers `None` for
/// a leaf the output does not depend on. The gradients outlive the tape: read them (or
/// [`take`](Gradients::take) them) before `Tape::clear`, which makes every Var recorded
/// before it unknown here.
/// Both panic for a Var of another tape: its node index would name some other node of
/// this one.
pub struct Gradients<T: Float = f32> {
    by_node: HashMap<usize, Tensor<T>>,
    /// The id of the tape the pass ran on (`None` before any pass).
    tape: Option<u64>,
    generation: u64,
}

impl<T: Float> Gradients<T> {
    /// No gradients yet: the start for accumulating over several backward passes.
    pub fn empty() -> Self {
        Gradients {
            by_node: HashMap::new(),
            tape: None,
            generation: u64::MAX,
        }
    }

    /// The gradient of a leaf, if the output depends on it; `None` for a constant, for a
    /// Var the output does not depend on, and for any Var once its tape has been cleared.
    #[track_caller]
    pub fn get(&self, leaf: &Var<T>) -> Option<&Tensor<T>> {
        let id = self.node_id("Gradients::get", leaf)?;
        self.by_node.get(&id)
    }

    /// Removes a leaf's gradient and hands it over (`None` as for [`Gradients::get`]), so
    /// an update step owns its gradients without a copy and can then drop the Vars and
    /// clear the tape (see [`Tape`](crate::Tape) for the whole loop).
    #[track_caller]
    pub fn take(&mut self, leaf: &Var<T>) -> Option<Tensor<T>> {
        let id = self.node_id("Gradients::take", leaf)?;
        self.by_node.remove(&id)
    }

    /// The node of `leaf` in these gradients: `None` for a constant and for a Var whose
    /// tape was cleared since; a panic naming `op` for a Var of another tape.
    #[track_caller]
    fn node_id(&self, op: &str, leaf: &Var<T>) -> Option<usize> {
        let n = leaf.live_node()?;
        if let Some(tape) = self.tape {
            if tape != n.tape.id() {
                panic!(
                    "engram: `{op}`: this Var is recorded on a different tape from the one these \
                     gradients were computed on; look up each leaf in its own tape's gradients"
                );
            }
        }
        (n.generation == self.generation).then_some(n.id)
    }

    /// Number of leaves with a gradient.
    pub fn len(&self) -> usize {
        self.by_node.len()
    }

    /// True when no leaf got a gradient.
    pub fn is_empty(&self) -> bool {
        self.by_node.is_empty()
    }

    /// Adds another pass's gradients into these (as PyTorch accumulates into `.grad`).
    #[track_caller]
    pub fn accumulate(&mut self, other: Gradients<T>) {
        if self.by_node.is_empty() {
            *self = other;
            return;
        }
        if other.tape.is_some() && other.tape != self.tape {
            panic!("engram: `accumulate`: the gradients come from two different tapes");
        }
        if other.generation != self.generation {
            panic!("engram: `accumulate`: gradients come from different tape generations (was the tape cleared in between?)");
        }
        for (id, g) in other.by_node {
            match self.by_node.get_mut(&id) {
                Some(prev) => *prev = prev.add(&g),
                None => {
                    self.by_node.insert(id, g);
                }
            }
        }
    }
}

impl<T: Float> std::ops::Index<&Var<T>> for Gradients<T> {
    type Output = Tensor<T>;
    #[track_caller]
    fn index(&self, leaf: &Var<T>) -> &Tensor<T> {
        match self
            .node_id("Gradients::index", leaf)
            .and_then(|id| self.by_node.get(&id))
        {
            Some(g) => g,
            None => panic!(
                "engram: no gradient for this Var: it is not a leaf of this backward pass, is a constant, \
                 the output does not depend on it, or its tape was cleared since (read gradients \
                 before `Tape::clear`; `Gradients::get` answers `None` instead of panicking)"
            ),
        }
    }
}

impl<T: Float> Var<T> {
    /// Gradients of this scalar with respect to every leaf it depends on. Panics if this
    /// Var is a constant (see [`grad`]).
    #[track_caller]
    pub fn backward(&self) -> Gradients<T> {
        let seed = scalar_seed("backward", self);
        self.backward_as("backward", &seed, false)
    }

    /// [`backward`](Var::backward) for a step that clears the tape right after (as
    /// PyTorch's `backward()` without `retain_graph`): each recorded value is dropped as
    /// soon as the pass has used it for the last time, so the pass's peak memory holds
    /// only the activations still to be used, not all of them. Until [`Tape::clear`], the
    /// tape refuses another backward pass (a panic says so); the gradients are read as
    /// usual, and new ops may still be recorded.
    #[track_caller]
    pub fn backward_once(&self) -> Gradients<T> {
        let seed = scalar_seed("backward_once", self);
        self.backward_as("backward_once", &seed, true)
    }

    /// Gradients of `Σ self · seed` with respect to every leaf (a vector-Jacobian product).
    #[track_caller]
    pub fn backward_with(&self, seed: &Tensor<T>) -> Gradients<T> {
        self.backward_as("backward_with", seed, false)
    }

    #[track_caller]
    fn backward_as(&self, op: &str, seed: &Tensor<T>, free_passed: bool) -> Gradients<T> {
        check_seed(op, self, seed);
        check_recorded(op, self, OfConstant::Panic);
        let node = self.node_ref().expect("checked to be recorded");
        let generation = node.generation;
        let kept = sweep_tensors(
            &node.tape,
            (0, node.id),
            seed.clone(),
            |_, n| matches!(n.op, Op::Leaf),
            free_passed,
        );
        Gradients {
            by_node: kept.into_iter().collect(),
            tape: Some(node.tape.id()),
            generation,
        }
    }
}

/// Node ids of `wrt` on the output's tape (None for untracked Vars); panics on mixed tapes.
#[track_caller]
fn targets<T: Float>(op: &str, output: &Var<T>, wrt: &[&Var<T>]) -> Vec<Option<usize>> {
    let out = output.node_ref();
    let mut ids = Vec::with_capacity(wrt.len());
    for v in wrt {
        let id = match (v.node_ref(), out) {
            (Some(n), Some(o)) if !o.tape.same_as(&n.tape) => panic!(
                "engram: `{op}`: the output and an input to differentiate by are on different tapes"
            ),
            (n, _) => n.map(|n| n.id),
        };
        ids.push(id);
    }
    ids
}

/// The lowest node to differentiate by that the root can depend on (ids at or below it).
fn lowest(ids: &[Option<usize>], root: usize) -> Option<usize> {
    ids.iter().flatten().copied().filter(|&i| i <= root).min()
}

fn pick<V: Clone>(
    kept: Vec<(usize, V)>,
    ids: &[Option<usize>],
    zero: impl Fn(usize) -> V,
) -> Vec<V> {
    let found: HashMap<usize, V> = kept.into_iter().collect();
    ids.iter()
        .enumerate()
        .map(|(k, id)| {
            id.and_then(|i| found.get(&i).cloned())
                .unwrap_or_else(|| zero(k))
        })
        .collect()
}

/// `∂output/∂wrt` for a scalar output, one tensor per Var in `wrt`, as `jax.grad` or
/// `torch.autograd.grad`. `wrt` is any list of Vars or of references to them (see
/// [`Refs`]): `&[&x, &y]`, or `&xs` for a `Vec<Var>`. Where the output is recorded but
/// does not depend on an input, that input's gradient is zeros. Panics if the output is a
/// constant (computed under `no_grad`, through `detach`, or from constants only), as
/// PyTorch's "element 0 of tensors does not require grad": asking for its gradient is a
/// mistake.
#[track_caller]
pub fn grad<T: Float>(output: &Var<T>, wrt: impl Refs<Var<T>>) -> Vec<Tensor<T>> {
    let seed = scalar_seed("grad", output);
    vjp_as("grad", output, &seed, &wrt.refs(), OfConstant::Panic)
}

/// `(f(inputs), ∇f(inputs))` for a function from tensors to a scalar, as
/// `jax.value_and_grad`: each input becomes a leaf on a fresh tape, `f` runs on them, and
/// one reverse sweep gives every input's gradient. The tape and its Vars are gone when it
/// returns, so nothing else shares the inputs' storage: an update step writes them in place.
///
/// ```
/// use engram_autograd::value_and_grad;
/// use engram_tensor::Tensor;
/// let w = Tensor::<f64>::from_vec(vec![1.0, -2.0], &[2]);
/// let b = Tensor::<f64>::scalar(0.5);
/// let (loss, g) = value_and_grad(|p| (&p[0] + &p[1]).square().sum(), &[&w, &b]);
/// assert_eq!(loss.item(), 4.5); // 1.5² + (-1.5)²
/// assert_eq!(g[0].to_vec(), vec![3.0, -3.0]); // 2(w + b)
/// assert_eq!(g[1].item(), 0.0);
/// ```
#[track_caller]
pub fn value_and_grad<T: Float>(
    f: impl FnOnce(&[Var<T>]) -> Var<T>,
    inputs: impl Refs<Tensor<T>>,
) -> (Tensor<T>, Vec<Tensor<T>>) {
    let tape = Tape::new();
    let leaves: Vec<Var<T>> = inputs
        .refs()
        .into_iter()
        .map(|t| tape.leaf(t.clone()))
        .collect();
    let output = f(&leaves);
    let seed = scalar_seed("value_and_grad", &output);
    let grads = vjp(&output, &seed, &leaves);
    (output.value().clone(), grads)
}

/// The vector-Jacobian product `seedᵀ · ∂output/∂wrt`, one tensor per Var in `wrt`
/// (zeros for an input the output does not depend on; panics for a constant output, as
/// [`grad`]).
#[track_caller]
pub fn vjp<T: Float>(output: &Var<T>, seed: &Tensor<T>, wrt: impl Refs<Var<T>>) -> Vec<Tensor<T>> {
    vjp_as("vjp", output, seed, &wrt.refs(), OfConstant::Panic)
}

/// [`vjp`] for `op`, which messages name.
#[track_caller]
pub(crate) fn vjp_as<T: Float>(
    op: &str,
    output: &Var<T>,
    seed: &Tensor<T>,
    wrt: &[&Var<T>],
    of_constant: OfConstant,
) -> Vec<Tensor<T>> {
    check_seed(op, output, seed);
    check_recorded(op, output, of_constant);
    let ids = targets(op, output, wrt);
    let zero = |k: usize| Tensor::zeros(wrt[k].shape());
    let Some(node) = output.node_ref() else {
        return (0..wrt.len()).map(zero).collect();
    };
    let Some(lo) = lowest(&ids, node.id) else {
        return (0..wrt.len()).map(zero).collect();
    };
    let kept = sweep_tensors(
        &node.tape,
        (lo, node.id),
        seed.clone(),
        |i, _| ids.contains(&Some(i)),
        false,
    );
    pick(kept, &ids, zero)
}

/// Like [`vjp`] (or [`grad`] when `seed` is `None`), but the backward computation is
/// recorded: the returned gradients are Vars that can be differentiated again (grad of
/// grad, Hessian-vector products). As `create_graph=True` in PyTorch. Panics for a
/// constant output, as [`grad`].
#[track_caller]
pub fn grad_graph<T: Float>(
    output: &Var<T>,
    seed: Option<&Var<T>>,
    wrt: impl Refs<Var<T>>,
) -> Vec<Var<T>> {
    grad_graph_as("grad_graph", output, seed, &wrt.refs(), OfConstant::Panic)
}

/// [`grad_graph`] for `op`, which messages name.
#[track_caller]
pub(crate) fn grad_graph_as<T: Float>(
    op: &str,
    output: &Var<T>,
    seed: Option<&Var<T>>,
    wrt: &[&Var<T>],
    of_constant: OfConstant,
) -> Vec<Var<T>> {
    let seed = match seed {
        Some(s) => {
            check_seed(op, output, s.value());
            s.clone()
        }
        None => Var::constant(scalar_seed(op, output)),
    };
    check_recorded(op, output, of_constant);
    let ids = targets(op, output, wrt);
    let zero = |k: usize| Var::constant(Tensor::zeros(wrt[k].shape()));
    let Some(node) = output.node_ref() else {
        return (0..wrt.len()).map(zero).collect();
    };
    let Some(lo) = lowest(&ids, node.id) else {
        return (0..wrt.len()).map(zero).collect();
    };
    let kept = sweep_vars(&node.tape, (lo, node.id), seed, |i, _| {
        ids.contains(&Some(i))
    });
    pick(kept, &ids, zero)
}

/// The Jacobian-vector product `Σ_k ∂output/∂wrt_k · tangent_k`, with the output's shape,
/// by the double-vjp trick: `u ↦ vjp(u)` is linear in `u`, and its own vjp with the
/// tangents as seed is the jvp.
#[track_caller]
pub fn jvp<T: Float>(
    output: &Var<T>,
    wrt: impl Refs<Var<T>>,
    tangents: impl Refs<Tensor<T>>,
) -> Tensor<T> {
    jvp_graph(output, wrt, tangents).value().clone()
}

/// [`jvp`] with the computation recorded: the result is a Var that can be differentiated
/// again, as forward mode nested inside reverse (or forward) mode needs.
#[track_caller]
pub fn jvp_graph<T: Float>(
    output: &Var<T>,
    wrt: impl Refs<Var<T>>,
    tangents: impl Refs<Tensor<T>>,
) -> Var<T> {
    let (wrt, tangents) = (wrt.refs(), tangents.refs());
    check_directions("jvp", "tangent", &wrt, &tangents);
    let Some(node) = output.node_ref() else {
        return Var::constant(Tensor::zeros(output.shape()));
    };
    let u = node.tape.leaf(Tensor::zeros(output.shape()));
    let pulled = grad_graph_as("jvp", output, Some(&u), &wrt, OfConstant::Zeros);
    let total = pulled
        .iter()
        .zip(tangents)
        .map(|(p, t)| p.mul(&Var::constant((*t).clone())).sum())
        .reduce(|a, b| a.add(&b));
    match total {
        Some(s) => grad_graph_as("jvp", &s, None, &[&u], OfConstant::Zeros).remove(0),
        None => Var::constant(Tensor::zeros(output.shape())),
    }
}

/// Panics for `op` unless there is one `what` (a tangent, a direction) per input, of
/// that input's shape: a short list would drop inputs and a wrong shape would broadcast.
#[track_caller]
fn check_directions<T: Float>(op: &str, what: &str, wrt: &[&Var<T>], given: &[&Tensor<T>]) {
    if wrt.len() != given.len() {
        panic!(
            "engram: `{op}`: {} input(s) to differentiate by but {} {what}(s); give one {what} per input",
            wrt.len(),
            given.len()
        );
    }
    for (k, (v, t)) in wrt.iter().zip(given).enumerate() {
        if v.shape() != t.shape() {
            panic!(
                "engram: `{op}`: {what} {k} has shape {:?} but input {k} has shape {:?}; they must be equal",
                t.shape(),
                v.shape()
            );
        }
    }
}

/// The Hessian-vector product `H · v` of a scalar `loss`, one tensor per Var in `wrt`:
/// `v` holds one direction per input, of its shape. Panics for a constant loss, as
/// [`grad`]; a loss linear in its inputs has a zero Hessian, and gives zeros.
#[track_caller]
pub fn hvp<T: Float>(
    loss: &Var<T>,
    wrt: impl Refs<Var<T>>,
    v: impl Refs<Tensor<T>>,
) -> Vec<Tensor<T>> {
    let (wrt, v) = (wrt.refs(), v.refs());
    check_directions("hvp", "direction", &wrt, &v);
    let g = grad_graph_as("hvp", loss, None, &wrt, OfConstant::Panic);
    let dot = g
        .iter()
        .zip(v)
        .map(|(gi, vi)| gi.mul(&Var::constant((*vi).clone())).sum())
        .reduce(|a, b| a.add(&b));
    match dot {
        Some(d) => {
            let seed = Tensor::ones(d.shape());
            vjp_as("hvp", &d, &seed, &wrt, OfConstant::Zeros)
        }
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::Tape;
    use engram_tensor::Tensor;

    /// Whether every node of the tape still holds a value of its recorded size.
    fn values_kept(tape: &Tape<f64>) -> Vec<bool> {
        let inner = tape.inner.borrow();
        inner.nodes.iter().map(|n| n.value.numel() > 0).collect()
    }

    #[test]
    fn backward_once_drops_every_value_it_passes_and_backward_keeps_them() {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::from_vec(vec![0.5, -1.0, 2.0], &[3]));
        let loss = (x.exp() * &x).sum();
        let _ = loss.backward();
        assert!(values_kept(&tape).iter().all(|&k| k));
        let grads = loss.backward_once();
        assert_eq!(grads[&x].shape(), &[3]);
        assert!(values_kept(&tape).iter().all(|&k| !k));
    }
}
