//! The dropout layer.

use crate::context::Context;
use crate::functional;
use crate::module::Forward;
use engram_autograd::Var;
use engram_derive::Module;
use engram_tensor::Float;

/// Inverted dropout with probability `p`, as `torch.nn.Dropout`: active when the context
/// is training, the identity otherwise.
///
/// ```
/// use engram_nn::{Context, Dropout, Forward};
/// use engram_tensor::Tensor;
/// let drop = Dropout::new(0.5);
/// let x = Tensor::<f32>::ones(&[4, 4]);
/// let eval = Context::eval();
/// assert_eq!(drop.forward(&eval, &eval.input(x.clone())).value().to_vec(), x.to_vec());
/// let train = Context::train(7);
/// assert_ne!(drop.forward(&train, &train.input(x.clone())).value().to_vec(), x.to_vec());
/// ```
#[derive(Module, Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    /// The probability of zeroing an element.
    pub p: f64,
}

impl Dropout {
    /// Dropout with probability `p` in `[0, 1]`.
    #[track_caller]
    pub fn new(p: f64) -> Dropout {
        if !(0.0..=1.0).contains(&p) {
            panic!("engram: `Dropout`: the probability p must be in [0, 1], got {p}");
        }
        Dropout { p }
    }
}

impl<T: Float> Forward<T> for Dropout {
    #[track_caller]
    fn forward(&self, cx: &Context<T>, input: &Var<T>) -> Var<T> {
        functional::dropout(cx, input, self.p)
    }
}
