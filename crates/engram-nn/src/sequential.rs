//! `Sequential`: layers applied in order, named by position as `torch.nn.Sequential`.
//!
//! A stack nests like any other layer, and its parameters are named by their path, so
//! `state_dict` keys read as PyTorch's (`1.0.weight` is the first layer of the second).
//!
//! ```
//! use engram_nn::{Context, Dropout, Forward, Linear, Module, Sequential, Tanh};
//! use engram_tensor::Tensor;
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let block = Sequential::new().add(Linear::new(8, 8, &mut rng)).add(Tanh);
//! let model = Sequential::<f32>::new()
//!     .add(Linear::new(4, 8, &mut rng))
//!     .add(block)
//!     .add(Dropout::new(0.1))
//!     .add(Linear::new(8, 1, &mut rng));
//! let keys: Vec<String> = model.state_dict().keys().cloned().collect();
//! assert_eq!(keys, ["0.weight", "0.bias", "1.0.weight", "1.0.bias", "3.weight", "3.bias"]);
//! let cx = Context::eval();
//! assert_eq!(model.forward(&cx, &cx.input(Tensor::ones(&[5, 4]))).shape(), &[5, 1]);
//! ```

use crate::context::Context;
use crate::module::{Forward, Module, Visitor, VisitorMut};
use engram_autograd::Var;
use engram_tensor::Float;

/// Layers applied one after another, as `torch.nn.Sequential`. Parameters are named by
/// position (`0.weight`, `2.bias`), so a PyTorch `state_dict` of the same stack maps onto
/// it by name. A `Sequential` is itself a [`Forward`] layer, so stacks nest.
///
/// ```
/// use engram_nn::{Context, Forward, Linear, Module, ReLU, Sequential};
/// use engram_tensor::Tensor;
/// use rand::SeedableRng;
///
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let mlp = Sequential::new()
///     .add(Linear::new(4, 8, &mut rng))
///     .add(ReLU)
///     .add(Linear::new(8, 2, &mut rng));
/// let names: Vec<String> = mlp.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
/// let cx = Context::<f32>::eval();
/// assert_eq!(mlp.forward(&cx, &cx.input(Tensor::ones(&[3, 4]))).shape(), &[3, 2]);
/// ```
pub struct Sequential<T: Float = f32> {
    layers: Vec<Box<dyn Forward<T>>>,
}

impl<T: Float> Sequential<T> {
    /// An empty stack (the identity).
    pub fn new() -> Sequential<T> {
        Sequential { layers: Vec::new() }
    }

    /// The stack with `layer` appended.
    // `add` is the builder name Rust users know from tch-rs (`nn::seq().add(..)`); this is
    // not `std::ops::Add`, since a layer is not a Sequential.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Forward<T> + 'static) -> Sequential<T> {
        self.push(layer);
        self
    }

    /// Appends `layer`.
    pub fn push(&mut self, layer: impl Forward<T> + 'static) {
        self.layers.push(Box::new(layer));
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Box<dyn Forward<T>>] {
        &self.layers
    }
}

impl<T: Float> Default for Sequential<T> {
    fn default() -> Self {
        Sequential::new()
    }
}

impl<T: Float> Module<T> for Sequential<T> {
    fn visit<'a>(&'a self, visitor: &mut dyn Visitor<'a, T>) {
        self.layers.visit(visitor);
    }
    fn visit_mut<'a>(&'a mut self, visitor: &mut dyn VisitorMut<'a, T>) {
        self.layers.visit_mut(visitor);
    }
}

impl<T: Float> Forward<T> for Sequential<T> {
    fn forward(&self, cx: &Context<T>, input: &Var<T>) -> Var<T> {
        self.layers
            .iter()
            .fold(input.clone(), |x, layer| layer.forward(cx, &x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BatchNorm1d, Linear, Tanh};
    use rand::SeedableRng;

    #[test]
    fn nested_stacks_name_parameters_by_path() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let inner = Sequential::new()
            .add(Linear::<f64>::new(2, 2, &mut rng))
            .add(BatchNorm1d::new(2));
        let outer = Sequential::new().add(Tanh).add(inner);
        let names: Vec<String> = outer.state_dict().keys().cloned().collect();
        assert_eq!(
            names,
            [
                "1.0.weight",
                "1.0.bias",
                "1.1.weight",
                "1.1.bias",
                "1.1.running_mean",
                "1.1.running_var"
            ]
        );
    }

    #[test]
    fn empty_stack_is_the_identity() {
        let cx = Context::<f64>::eval();
        let x = cx.input(engram_tensor::Tensor::ones(&[2]));
        assert_eq!(
            Sequential::new().forward(&cx, &x).value().to_vec(),
            vec![1.0, 1.0]
        );
    }
}
