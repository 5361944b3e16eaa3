//! The reverse sweep, and the ways to ask for derivatives: `backward` (every leaf),
//! `grad`/`vjp` (chosen Vars), `value_and_grad` (a function of tensors), `grad_graph`
//! (differentiable gradients), and built on those, `jvp` (forward-mode product by the
//! double-vjp trick) and `hvp`.

use crate::operand::Operand;
use crate::refs::Refs;
use crate::tape::{Node, Tape};
use crate::var::Var;
use engram_tensor::{Float, Tensor};
use smallvec::SmallVec;
use std::collections::HashMap;

/// One reverse sweep from `root` down to node `lo` (no node below the lowest one asked
/// for can lie between it and the root, so nothing below `lo` is visited). `nodes` holds
/// nodes `lo..=root`; `input(i)` makes any node's value into an operand; `keep(i)` says
/// whose gradient to return. Each slot is taken (freed) when its node is processed.
fn sweep<T: Float, V: Operand<T>>(
    nodes: &[Node<T>],
    lo: usize,
    seed: V,
    input: impl Fn(usize) -> V,
    keep: impl Fn(usize, &Node<T>) -> bool,
) -> Vec<(usize, V)> {
    let mut slots: Vec<Option<V>> = (0..nodes.len()).map(|_| None).collect();
    slots[nodes.len() - 1] = Some(seed);
    let mut kept = Vec::new();
    for i in (lo..lo + nodes.len()).rev() {
        let Some(g) = slots[i - lo].take() else {
            continue;
        };
        let node = &nodes[i - lo];
        if keep(i, node) {
            kept.push((i, g.clone()));
        }
        let needs: SmallVec<[bool; 2]> = node
            .parents
            .iter()
            .map(|&p| p >= lo && nodes[p - lo].requires_grad)
            .collect();
        if !needs.contains(&true) {
            continue;
        }
        let xs: SmallVec<[V; 2]> = node.parents.iter().map(|&p| input(p)).collect();
        let grads = node.op.vjp(&xs, &input(i), &g, &needs);
        for (k, gk) in grads.into_iter().enumerate() {
            let Some(gk) = gk else { continue };
            if !needs[k] {
                continue;
            }
            let p = node.parents[k];
            if gk.value().shape() != nodes[p - lo].value.shape() {
                panic!(
                    "engram: the vjp of `{}` returned a gradient of shape {:?} for an input of shape {:?}; \
                     this is a bug in that op's rule",
                    node.op.name(),
                    gk.value().shape(),
                    nodes[p - lo].value.shape()
                );
            }
            slots[p - lo] = Some(match slots[p - lo].take() {
                Some(prev) => prev.add(&gk),
                None => gk,
            });
        }
    }
    kept
}

/// Runs the first-order sweep on plain tensors: nothing is recorded. The node list is
/// moved out of the tape for the sweep and put back after, even if the sweep panics.
fn sweep_tensors<T: Float>(
    tape: &Tape<T>,
    (lo, root): (usize, usize),
    seed: Tensor<T>,
    keep: impl Fn(usize, &Node<T>) -> bool,
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
    let guard = PutBack {
        tape,
        nodes: std::mem::take(&mut tape.inner.borrow_mut().nodes),
    };
    let nodes = &guard.nodes;
    sweep(
        &nodes[lo..=root],
        lo,
        seed,
        |i| nodes[i].value.clone(),
        keep,
    )
}

/// Runs the sweep on Vars, recording the backward computation on the tape, so the
/// gradients it returns can be differentiated again. Only nodes `lo..=root` are copied
/// out; any node's value is handed to the rules as a tracked Var, so that derivatives
/// with respect to nodes below `lo` (an outer level of nesting) still flow through.
fn sweep_vars<T: Float>(
    tape: &Tape<T>,
    (lo, root): (usize, usize),
    seed: Var<T>,
    keep: impl Fn(usize, &Node<T>) -> bool,
) -> Vec<(usize, Var<T>)> {
    let snapshot: Vec<Node<T>> = tape.inner.borrow().nodes[lo..=root].to_vec();
    let input = |i: usize| {
        let (value, tracked) = if i >= lo {
            (
                snapshot[i - lo].value.clone(),
                snapshot[i - lo].requires_grad,
            )
        } else {
            let inner = tape.inner.borrow();
            (inner.nodes[i].value.clone(), inner.nodes[i].requires_grad)
        };
        if tracked {
            Var::tracked(value, tape.node_ref(i))
        } else {
            Var::constant(value)
        }
    };
    sweep(&snapshot, lo, seed, input, keep)
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

/// Gradients of one backward pass, per leaf.
///
/// Index with the leaf (`grads[&x]`), or use [`Gradients::get`], which answers `None` for
/// a leaf the output does not depend on. The gradients outlive the tape: read them (or
/// [`take`](Gradients::take) them) before `Tape::clear`, which makes every Var recorded
/// before it unknown here.
pub struct Gradients<T: Float = f32> {
    by_node: HashMap<usize, Tensor<T>>,
    generation: u64,
}

impl<T: Float> Gradients<T> {
    /// No gradients yet: the start for accumulating over several backward passes.
    pub fn empty() -> Self {
        Gradients {
            by_node: HashMap::new(),
            generation: u64::MAX,
        }
    }

    /// The gradient of a leaf, if the output depends on it; `None` for a constant, for a
    /// Var the output does not depend on, and for any Var once its tape has been cleared.
    pub fn get(&self, leaf: &Var<T>) -> Option<&Tensor<T>> {
        let n = leaf.live_node()?;
        if n.generation != self.generation {
            return None;
        }
        self.by_node.get(&n.id)
    }

    /// Removes a leaf's gradient and hands it over (`None` as for [`Gradients::get`]), so
    /// an update step owns its gradients without a copy and can then drop the Vars and
    /// clear the tape (see [`Tape`](crate::Tape) for the whole loop).
    pub fn take(&mut self, leaf: &Var<T>) -> Option<Tensor<T>> {
        let n = leaf.live_node()?;
        if n.generation != self.generation {
            return None;
        }
        self.by_node.remove(&n.id)
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
        self.get(leaf).unwrap_or_else(|| {
            panic!(
                "engram: no gradient for this Var: it is not a leaf of this backward pass, is a constant, \
                 the output does not depend on it, or its tape was cleared since (read gradients \
                 before `Tape::clear`; `Gradients::get` answers `None` instead of panicking)"
            )
        })
    }
}

impl<T: Float> Var<T> {
    /// Gradients of this scalar with respect to every leaf it depends on.
    #[track_caller]
    pub fn backward(&self) -> Gradients<T> {
        let seed = scalar_seed("backward", self);
        self.backward_with(&seed)
    }

    /// Gradients of `Σ self · seed` with respect to every leaf (a vector-Jacobian product).
    #[track_caller]
    pub fn backward_with(&self, seed: &Tensor<T>) -> Gradients<T> {
        check_seed("backward_with", self, seed);
        let Some(node) = self.node_ref() else {
            return Gradients {
                by_node: HashMap::new(),
                generation: u64::MAX,
            };
        };
        let generation = node.generation;
        let kept = sweep_tensors(&node.tape, (0, node.id), seed.clone(), |_, n| {
            matches!(n.op, crate::ops::Op::Leaf)
        });
        Gradients {
            by_node: kept.into_iter().collect(),
            generation,
        }
    }
}

/// Node ids of `wrt` on the output's tape (None for untracked Vars); panics on mixed tapes.
#[track_caller]
fn targets<T: Float>(op: &str, output: &Var<T>, wrt: &[&Var<T>]) -> Vec<Option<usize>> {
    wrt.iter()
        .map(|v| {
            let n = v.node_ref()?;
            if let Some(o) = output.node_ref() {
                if !o.tape.same_as(&n.tape) {
                    panic!("engram: `{op}`: the output and an input to differentiate by are on different tapes");
                }
            }
            Some(n.id)
        })
        .collect()
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

/// `∂output/∂wrt` for a scalar output, one tensor per Var in `wrt` (zeros where the output
/// does not depend on it), as `jax.grad` or `torch.autograd.grad`. `wrt` is any list of
/// Vars or of references to them (see [`Refs`]): `&[&x, &y]`, or `&xs` for a `Vec<Var>`.
#[track_caller]
pub fn grad<T: Float>(output: &Var<T>, wrt: impl Refs<Var<T>>) -> Vec<Tensor<T>> {
    let seed = scalar_seed("grad", output);
    vjp(output, &seed, wrt)
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

/// The vector-Jacobian product `seedᵀ · ∂output/∂wrt`, one tensor per Var in `wrt`.
#[track_caller]
pub fn vjp<T: Float>(output: &Var<T>, seed: &Tensor<T>, wrt: impl Refs<Var<T>>) -> Vec<Tensor<T>> {
    check_seed("vjp", output, seed);
    let wrt = wrt.refs();
    let ids = targets("vjp", output, &wrt);
    let zero = |k: usize| Tensor::zeros(wrt[k].shape());
    let Some(node) = output.node_ref() else {
        return (0..wrt.len()).map(zero).collect();
    };
    let Some(lo) = lowest(&ids, node.id) else {
        return (0..wrt.len()).map(zero).collect();
    };
    let kept = sweep_tensors(&node.tape, (lo, node.id), seed.clone(), |i, _| {
        ids.contains(&Some(i))
    });
    pick(kept, &ids, zero)
}

/// Like [`vjp`] (or [`grad`] when `seed` is `None`), but the backward computation is
/// recorded: the returned gradients are Vars that can be differentiated again (grad of
/// grad, Hessian-vector products). As `create_graph=True` in PyTorch.
#[track_caller]
pub fn grad_graph<T: Float>(
    output: &Var<T>,
    seed: Option<&Var<T>>,
    wrt: impl Refs<Var<T>>,
) -> Vec<Var<T>> {
    let wrt = wrt.refs();
    let seed = match seed {
        Some(s) => {
            check_seed("grad_graph", output, s.value());
            s.clone()
        }
        None => Var::constant(scalar_seed("grad_graph", output)),
    };
    let ids = targets("grad_graph", output, &wrt);
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
    if wrt.len() != tangents.len() {
        panic!(
            "engram: `jvp`: {} inputs but {} tangents",
            wrt.len(),
            tangents.len()
        );
    }
    for (v, t) in wrt.iter().zip(&tangents) {
        if v.shape() != t.shape() {
            panic!(
                "engram: `jvp`: a tangent has shape {:?} for an input of shape {:?}",
                t.shape(),
                v.shape()
            );
        }
    }
    let Some(node) = output.node_ref() else {
        return Var::constant(Tensor::zeros(output.shape()));
    };
    let u = node.tape.leaf(Tensor::zeros(output.shape()));
    let pulled = grad_graph(output, Some(&u), &wrt);
    let total = pulled
        .iter()
        .zip(tangents)
        .map(|(p, t)| p.mul(&Var::constant((*t).clone())).sum())
        .reduce(|a, b| a.add(&b));
    match total {
        Some(s) => grad_graph(&s, None, &[&u]).remove(0),
        None => Var::constant(Tensor::zeros(output.shape())),
    }
}

/// The Hessian-vector product `H · v` of a scalar `loss`, one tensor per Var in `wrt`.
#[track_caller]
pub fn hvp<T: Float>(
    loss: &Var<T>,
    wrt: impl Refs<Var<T>>,
    v: impl Refs<Tensor<T>>,
) -> Vec<Tensor<T>> {
    let (wrt, v) = (wrt.refs(), v.refs());
    let g = grad_graph(loss, None, &wrt);
    let dot = g
        .iter()
        .zip(v)
        .map(|(gi, vi)| gi.mul(&Var::constant((*vi).clone())).sum())
        .reduce(|a, b| a.add(&b));
    match dot {
        Some(d) => grad(&d, &wrt),
        None => Vec::new(),
    }
}
