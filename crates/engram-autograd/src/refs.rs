//! `Refs`: the lists that `grad`, `vjp`, `jvp`, `hvp` and friends take, so that a caller
//! with a `Vec<Var>` passes `&xs` rather than building a `Vec<&Var>` first.

use std::borrow::Borrow;

/// A list of `X`s, each held or borrowed: `&[X]`, `&[&X]`, `&[X; N]`, `&[&X; N]`,
/// `&Vec<X>` or `&Vec<&X>`. The derivative functions take Vars and tangents this way:
///
/// ```
/// use engram_autograd::{grad, Tape, Var};
/// use engram_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let xs: Vec<Var<f64>> = (1..=3).map(|i| tape.leaf(Tensor::scalar(i as f64))).collect();
/// let y = xs[0].mul(&xs[1]).mul(&xs[2]);
/// let by_vec = grad(&y, &xs); // a Vec<Var>
/// let by_refs = grad(&y, &[&xs[2], &xs[0]]); // an array of &Var
/// assert_eq!(by_vec[0].item(), 6.0);
/// assert_eq!(by_refs[0].item(), 2.0);
/// ```
pub trait Refs<X> {
    /// The items, in order, by reference.
    fn refs(&self) -> Vec<&X>;
}

impl<X, V: Borrow<X>> Refs<X> for &[V] {
    fn refs(&self) -> Vec<&X> {
        self.iter().map(Borrow::borrow).collect()
    }
}

impl<X, V: Borrow<X>, const N: usize> Refs<X> for &[V; N] {
    fn refs(&self) -> Vec<&X> {
        self.iter().map(Borrow::borrow).collect()
    }
}

impl<X, V: Borrow<X>> Refs<X> for &Vec<V> {
    fn refs(&self) -> Vec<&X> {
        self.iter().map(Borrow::borrow).collect()
    }
}
