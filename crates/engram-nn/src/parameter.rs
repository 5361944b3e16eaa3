//! Parameters and buffers: the tensors a module owns, each with a stable identity.

use engram_tensor::{Float, Tensor};
use std::cell::{Ref, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};

/// A process-wide identity of a [`Parameter`] or [`Buffer`]: the key of gradients and of
/// optimizer state. Checkpoints key by name instead (see [`crate::Module`]), since ids are
/// not stable across processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(u64);

impl ParamId {
    /// A fresh id, never handed out before in this process.
    pub fn fresh() -> ParamId {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        ParamId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A trainable tensor owned by a module: a weight or a bias.
///
/// Parameters outlive tapes. In a forward pass, [`crate::Context::param`] binds the
/// parameter to one leaf `Var` of that step's tape; after [`crate::Context::backward`]
/// releases the tape, an optimizer updates [`Parameter::value_mut`] in place.
///
/// Cloning gives a new parameter (a fresh id) holding the same values, as `copy.deepcopy`
/// of a PyTorch module: the two then train independently.
///
/// ```
/// use engram_nn::Parameter;
/// use engram_tensor::Tensor;
/// let w = Parameter::new(Tensor::<f32>::zeros(&[3, 2]));
/// assert_eq!(w.shape(), &[3, 2]);
/// assert_eq!(w.numel(), 6);
/// ```
#[derive(Debug)]
pub struct Parameter<T: Float = f32> {
    id: ParamId,
    value: Tensor<T>,
    trainable: bool,
}

impl<T: Float> Parameter<T> {
    /// A trainable parameter holding `value`.
    pub fn new(value: Tensor<T>) -> Parameter<T> {
        Parameter {
            id: ParamId::fresh(),
            value,
            trainable: true,
        }
    }

    /// Its identity, the key of its gradient and optimizer state.
    pub fn id(&self) -> ParamId {
        self.id
    }

    /// The current values.
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }

    /// The values, for an in-place update. Writes go straight to the storage when nothing
    /// else holds it (after `Context::backward` has released the step's tape).
    pub fn value_mut(&mut self) -> &mut Tensor<T> {
        &mut self.value
    }

    /// Replaces the values; the shape must stay the same.
    #[track_caller]
    pub fn set(&mut self, value: Tensor<T>) {
        if value.shape() != self.value.shape() {
            panic!(
                "engram: `Parameter::set`: new value has shape {:?}, the parameter has shape {:?}",
                value.shape(),
                self.value.shape()
            );
        }
        self.value = value;
    }

    /// The dimensions.
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.value.numel()
    }

    /// False when frozen: the parameter is then bound as a constant and gets no gradient
    /// (as `requires_grad_(False)` in PyTorch).
    pub fn is_trainable(&self) -> bool {
        self.trainable
    }

    /// Freezes (`false`) or unfreezes (`true`) the parameter.
    pub fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }
}

impl<T: Float> Clone for Parameter<T> {
    fn clone(&self) -> Self {
        Parameter {
            id: ParamId::fresh(),
            value: self.value.clone(),
            trainable: self.trainable,
        }
    }
}

/// A tensor a module keeps as state but does not train, such as BatchNorm's running
/// statistics. It is saved in checkpoints beside the parameters.
///
/// Forward passes take `&self`, yet training updates running statistics, so the value sits
/// in a `RefCell`: [`Buffer::replace`] swaps it during forward.
#[derive(Debug)]
pub struct Buffer<T: Float = f32> {
    id: ParamId,
    value: RefCell<Tensor<T>>,
}

impl<T: Float> Buffer<T> {
    /// A buffer holding `value`.
    pub fn new(value: Tensor<T>) -> Buffer<T> {
        Buffer {
            id: ParamId::fresh(),
            value: RefCell::new(value),
        }
    }

    /// Its identity.
    pub fn id(&self) -> ParamId {
        self.id
    }

    /// The current value (a cheap handle: tensors share storage).
    pub fn get(&self) -> Tensor<T> {
        self.value.borrow().clone()
    }

    /// Borrows the current value.
    pub fn borrow(&self) -> Ref<'_, Tensor<T>> {
        self.value.borrow()
    }

    /// Replaces the value; the shape must stay the same.
    #[track_caller]
    pub fn replace(&self, value: Tensor<T>) {
        let mut slot = self.value.borrow_mut();
        if value.shape() != slot.shape() {
            panic!(
                "engram: `Buffer::replace`: new value has shape {:?}, the buffer has shape {:?}",
                value.shape(),
                slot.shape()
            );
        }
        *slot = value;
    }

    /// The dimensions.
    pub fn shape(&self) -> Vec<usize> {
        self.value.borrow().shape().to_vec()
    }
}

impl<T: Float> Clone for Buffer<T> {
    fn clone(&self) -> Self {
        Buffer {
            id: ParamId::fresh(),
            value: RefCell::new(self.get()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_gets_its_own_id() {
        let a = Parameter::new(Tensor::<f32>::zeros(&[2]));
        let b = Parameter::new(Tensor::<f32>::zeros(&[2]));
        assert_ne!(a.id(), b.id());
        assert_ne!(a.clone().id(), a.id());
    }

    #[test]
    #[should_panic(expected = "Parameter::set")]
    fn set_rejects_another_shape() {
        let mut a = Parameter::new(Tensor::<f32>::zeros(&[2]));
        a.set(Tensor::zeros(&[3]));
    }

    #[test]
    fn buffer_replace_is_visible_through_shared_reference() {
        let b = Buffer::new(Tensor::<f64>::zeros(&[2]));
        b.replace(Tensor::ones(&[2]));
        assert_eq!(b.get().to_vec(), vec![1.0, 1.0]);
    }
}
