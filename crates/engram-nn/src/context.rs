//! The per-step context: the tape a forward pass records on, the binding of parameters to
//! that tape's leaves, train/eval mode and the dropout generator — and the step's end,
//! which turns a loss into gradients keyed by parameter and releases the tape.

use crate::parameter::{Buffer, ParamId, Parameter};
use engram_autograd::{Tape, Var};
use engram_tensor::{Float, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::cell::{RefCell, RefMut};
use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// What one forward pass records on, and how layers should behave in it.
///
/// A training step is five lines:
///
/// ```
/// use engram_nn::{Context, Module, Parameter};
/// use engram_tensor::Tensor;
///
/// let mut w = Parameter::new(Tensor::<f64>::from_vec(vec![1.0, -2.0], &[2]));
/// let cx = Context::train(0);
/// let x = cx.input(Tensor::from_vec(vec![3.0, 4.0], &[2]));
/// let loss = (cx.param(&w) * x).sum().square();          // forward and loss
/// let grads = cx.backward(loss);                          // gradients by parameter
/// let g = &grads[&w];
/// w.value_mut().add_scaled_(g, -0.01);                    // an SGD step, in place
/// assert_eq!(grads.loss(), 25.0);
/// assert_eq!(grads[&w].to_vec(), vec![-30.0, -40.0]);
/// ```
///
/// One context serves a whole training run: `backward` clears the tape for the next step.
/// A context is not `Send` (its tape is single-threaded): make one per thread.
pub struct Context<T: Float = f32> {
    tape: Tape<T>,
    /// Each parameter's leaf in this step, so that a parameter used twice (tied weights,
    /// a recurrent cell over time) accumulates one gradient.
    bound: RefCell<HashMap<ParamId, Var<T>>>,
    training: bool,
    recording: bool,
    rng: RefCell<ChaCha8Rng>,
}

impl<T: Float> Context<T> {
    /// Training mode: parameters are recorded as leaves, dropout drops (drawing from a
    /// generator seeded with `seed`), batch norm uses and updates batch statistics.
    pub fn train(seed: u64) -> Context<T> {
        Context {
            tape: Tape::new(),
            bound: RefCell::new(HashMap::new()),
            training: true,
            recording: true,
            rng: RefCell::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// Inference: layers behave as in evaluation (dropout is the identity, batch norm uses
    /// its running statistics) and nothing is recorded, as `model.eval()` under
    /// `torch.no_grad()` in PyTorch. For gradients in evaluation behaviour, use
    /// `Context::train(seed).with_training(false)`.
    pub fn eval() -> Context<T> {
        Context {
            tape: Tape::new(),
            bound: RefCell::new(HashMap::new()),
            training: false,
            recording: false,
            rng: RefCell::new(ChaCha8Rng::seed_from_u64(0)),
        }
    }

    /// The same context with layers behaving as in training (`true`) or evaluation
    /// (`false`); recording is unchanged.
    pub fn with_training(mut self, training: bool) -> Context<T> {
        self.training = training;
        self
    }

    /// True when layers should behave as in training (dropout active, batch statistics).
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// True when parameters become leaves that receive gradients.
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// The tape this step records on.
    pub fn tape(&self) -> &Tape<T> {
        &self.tape
    }

    /// The parameter as a Var of this step: a leaf of the tape (the same leaf each time it
    /// is asked for in one step), or a constant when the context does not record or the
    /// parameter is frozen. The leaf is recorded at the caller's location (the layer's
    /// `forward`), which anomaly mode reports for a parameter that went NaN.
    #[track_caller]
    pub fn param(&self, parameter: &Parameter<T>) -> Var<T> {
        if !self.recording || !parameter.is_trainable() {
            return Var::constant(parameter.value().clone());
        }
        match self.bound.borrow_mut().entry(parameter.id()) {
            Entry::Occupied(bound) => bound.get().clone(),
            Entry::Vacant(slot) => slot
                .insert(self.tape.leaf(parameter.value().clone()))
                .clone(),
        }
    }

    /// A buffer's current value, as a constant.
    pub fn buffer(&self, buffer: &Buffer<T>) -> Var<T> {
        Var::constant(buffer.get())
    }

    /// Data fed to the model (inputs, targets, masks): a constant, never differentiated.
    pub fn input(&self, value: Tensor<T>) -> Var<T> {
        Var::constant(value)
    }

    /// The generator for this step's random draws (dropout masks).
    pub fn rng(&self) -> RefMut<'_, ChaCha8Rng> {
        self.rng.borrow_mut()
    }

    /// Ends the step: the gradient of the scalar `loss` with respect to every parameter
    /// bound in it, keyed by parameter. Then forgets the bindings and clears the tape, so
    /// each parameter's storage is held by its module alone and an optimizer updates it in
    /// place. Vars of this step cannot be used afterwards (using one panics).
    ///
    /// Takes the loss by value so that it is dropped with the tape. A loss that does not
    /// depend on any parameter gives empty gradients.
    #[track_caller]
    pub fn backward(&self, loss: Var<T>) -> Grads<T> {
        if loss.value().numel() != 1 {
            panic!(
                "engram: `Context::backward` needs a scalar loss, got shape {:?}; reduce it first \
                 (`.mean()`, `.sum()`)",
                loss.shape()
            );
        }
        let value = loss.value().item();
        let bound = std::mem::take(&mut *self.bound.borrow_mut());
        let by_id = if loss.requires_grad() {
            let grads = loss.backward_once();
            bound
                .iter()
                .filter_map(|(id, var)| grads.get(var).map(|g| (*id, g.clone())))
                .collect()
        } else {
            HashMap::new()
        };
        drop(bound);
        drop(loss);
        self.tape.clear();
        Grads { by_id, loss: value }
    }

    /// Forgets this step without computing gradients (an evaluation pass in a training
    /// context, or a step abandoned).
    pub fn reset(&self) {
        self.bound.borrow_mut().clear();
        self.tape.clear();
    }
}

/// The gradients of one step, keyed by parameter: what an optimizer consumes.
///
/// Index with the parameter (`grads[&layer.weight]`) or use [`Grads::get`], which answers
/// `None` for a parameter the loss did not depend on (as PyTorch leaves its `.grad` None).
#[derive(Clone, Debug)]
pub struct Grads<T: Float = f32> {
    by_id: HashMap<ParamId, Tensor<T>>,
    loss: T,
}

impl<T: Float> Grads<T> {
    /// No gradients: the start for accumulating over micro-batches.
    pub fn empty() -> Grads<T> {
        Grads {
            by_id: HashMap::new(),
            loss: T::zero(),
        }
    }

    /// The value of the loss these gradients came from (summed when accumulated).
    pub fn loss(&self) -> T {
        self.loss
    }

    /// The gradient of `parameter`, if the loss depended on it.
    pub fn get(&self, parameter: &Parameter<T>) -> Option<&Tensor<T>> {
        self.by_id.get(&parameter.id())
    }

    /// The gradient for a parameter id.
    pub fn get_id(&self, id: ParamId) -> Option<&Tensor<T>> {
        self.by_id.get(&id)
    }

    /// Replaces (or sets) a parameter's gradient, as a gradient-clipping or all-reduce step
    /// does.
    #[track_caller]
    pub fn set(&mut self, parameter: &Parameter<T>, gradient: Tensor<T>) {
        if gradient.shape() != parameter.shape() {
            panic!(
                "engram: `Grads::set`: gradient of shape {:?} for a parameter of shape {:?}",
                gradient.shape(),
                parameter.shape()
            );
        }
        self.by_id.insert(parameter.id(), gradient);
    }

    /// The number of parameters with a gradient.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when no parameter got a gradient.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every (parameter id, gradient) pair, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (ParamId, &Tensor<T>)> {
        self.by_id.iter().map(|(id, g)| (*id, g))
    }

    /// Mutable access to every gradient, in no particular order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (ParamId, &mut Tensor<T>)> {
        self.by_id.iter_mut().map(|(id, g)| (*id, g))
    }

    /// Adds another step's gradients (and loss) into these: gradient accumulation.
    pub fn accumulate(&mut self, other: Grads<T>) {
        self.loss += other.loss;
        for (id, g) in other.by_id {
            match self.by_id.get_mut(&id) {
                Some(prev) => *prev = prev.add(&g),
                None => {
                    self.by_id.insert(id, g);
                }
            }
        }
    }

    /// Multiplies every gradient (and the loss) by `factor`, e.g. `1/k` after accumulating
    /// `k` micro-batches.
    pub fn scale(&mut self, factor: T) {
        self.loss *= factor;
        for g in self.by_id.values_mut() {
            *g = g.mul_scalar(factor);
        }
    }
}

impl<T: Float> std::ops::Index<&Parameter<T>> for Grads<T> {
    type Output = Tensor<T>;
    #[track_caller]
    fn index(&self, parameter: &Parameter<T>) -> &Tensor<T> {
        self.get(parameter).unwrap_or_else(|| {
            panic!(
                "engram: no gradient for this parameter of shape {:?}: the loss does not depend on it, \
                 it is frozen, or it was not used through `Context::param` in this step \
                 (use `Grads::get` to allow that)",
                parameter.shape()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimizer_update_writes_into_the_same_storage() {
        let mut w = Parameter::new(Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0], &[3]));
        let before = w.value().as_slice().unwrap().as_ptr();
        let cx = Context::train(0);
        let x = cx.input(Tensor::from_vec(vec![1.0, 1.0, 1.0], &[3]));
        let y = cx.param(&w).matmul(&x.reshape(&[3, 1])).sum();
        let loss = y.square();
        let grads = cx.backward(loss);
        let g = &grads[&w];
        w.value_mut().add_scaled_(g, -0.25);
        let after = w.value().as_slice().unwrap().as_ptr();
        assert_eq!(before, after, "the update copied the parameter");
        assert_eq!(w.value().to_vec(), vec![-2.0, -1.0, 0.0]);
        assert!(cx.tape().is_empty());
    }

    #[test]
    fn a_parameter_used_twice_gets_one_summed_gradient() {
        let w = Parameter::new(Tensor::<f64>::scalar(3.0));
        let cx = Context::train(0);
        let loss = cx.param(&w) * cx.param(&w);
        let grads = cx.backward(loss);
        assert_eq!(grads[&w].item(), 6.0);
        assert_eq!(grads.len(), 1);
    }

    #[test]
    fn eval_context_records_nothing() {
        let w = Parameter::new(Tensor::<f64>::scalar(3.0));
        let cx = Context::eval();
        let loss = cx.param(&w).square();
        assert!(!loss.requires_grad());
        assert!(cx.backward(loss).is_empty());
        assert!(!cx.is_training());
    }

    #[test]
    fn frozen_parameter_gets_no_gradient() {
        let mut w = Parameter::new(Tensor::<f64>::scalar(3.0));
        let b = Parameter::new(Tensor::<f64>::scalar(1.0));
        w.set_trainable(false);
        let cx = Context::train(0);
        let grads = cx.backward(cx.param(&w) * cx.param(&b));
        assert!(grads.get(&w).is_none());
        assert_eq!(grads[&b].item(), 3.0);
    }

    #[test]
    fn accumulate_sums_gradients_and_losses() {
        let w = Parameter::new(Tensor::<f64>::scalar(2.0));
        let cx = Context::train(0);
        let mut total = Grads::empty();
        for _ in 0..3 {
            total.accumulate(cx.backward(cx.param(&w).square()));
        }
        total.scale(1.0 / 3.0);
        assert_eq!(total[&w].item(), 4.0);
        assert_eq!(total.loss(), 4.0);
    }

    #[test]
    #[should_panic(expected = "scalar loss")]
    fn backward_rejects_a_non_scalar_loss() {
        let w = Parameter::new(Tensor::<f64>::zeros(&[2]));
        let cx = Context::train(0);
        cx.backward(cx.param(&w));
    }
}
