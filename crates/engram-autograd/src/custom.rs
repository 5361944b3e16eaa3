//! User-defined ops: the user gives the forward computation on tensors and the vjp in
//! terms of `Var` ops. Because the vjp is written with Vars, a custom op composes with
//! everything else, higher-order derivatives included.

use crate::ops::Op;
use crate::tape::record;
use crate::var::Var;
use engram_tensor::{Float, Tensor};
use std::rc::Rc;

/// An op the user defines.
///
/// ```
/// use engram_autograd::{CustomOp, Tape, Var};
/// use engram_tensor::Tensor;
/// use std::rc::Rc;
///
/// /// `x³`, with its derivative stated by hand.
/// struct Cube;
/// impl CustomOp<f64> for Cube {
///     fn name(&self) -> &str { "cube" }
///     fn forward(&self, inputs: &[&Tensor<f64>]) -> Tensor<f64> { inputs[0].powi(3) }
///     fn vjp(&self, inputs: &[Var<f64>], _y: &Var<f64>, g: &Var<f64>) -> Vec<Option<Var<f64>>> {
///         vec![Some(g.mul(&inputs[0].square().mul_scalar(3.0)))]
///     }
/// }
///
/// let tape = Tape::<f64>::new();
/// let x = tape.leaf(Tensor::scalar(2.0));
/// let y = Var::custom(Rc::new(Cube), &[&x]);
/// assert_eq!(y.backward()[&x].item(), 12.0);
/// ```
pub trait CustomOp<T: Float> {
    /// A name for messages.
    fn name(&self) -> &str;
    /// Computes the output from the input values.
    fn forward(&self, inputs: &[&Tensor<T>]) -> Tensor<T>;
    /// Each input's gradient given the output's gradient `grad` (`None`: no gradient), in
    /// terms of Var ops so that it can itself be differentiated. Shapes must match inputs.
    fn vjp(&self, inputs: &[Var<T>], output: &Var<T>, grad: &Var<T>) -> Vec<Option<Var<T>>>;
}

impl<T: Float> Var<T> {
    /// Applies a user-defined op.
    #[track_caller]
    pub fn custom(op: Rc<dyn CustomOp<T>>, inputs: &[&Var<T>]) -> Var<T> {
        let values: Vec<&Tensor<T>> = inputs.iter().map(|v| v.value()).collect();
        let value = op.forward(&values);
        record(Op::Custom(op), inputs, value)
    }
}
