//! Activations as layers, for [`crate::Sequential`]: each calls the function of the same
//! name in [`crate::functional`].

use crate::context::Context;
use crate::functional;
use crate::module::Forward;
use engram_autograd::Var;
use engram_derive::Module;
use engram_tensor::Float;

macro_rules! unit_activation {
    ($(#[$doc:meta])* $name:ident, $f:ident) => {
        $(#[$doc])*
        #[derive(Module, Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;

        impl<T: Float> Forward<T> for $name {
            fn forward(&self, _: &Context<T>, input: &Var<T>) -> Var<T> {
                functional::$f(input)
            }
        }
    };
}

unit_activation!(
    /// `max(x, 0)`, as `torch.nn.ReLU`.
    ReLU,
    relu
);
unit_activation!(
    /// `x · σ(x)`, as `torch.nn.SiLU`.
    SiLU,
    silu
);
unit_activation!(
    /// The logistic function, as `torch.nn.Sigmoid`.
    Sigmoid,
    sigmoid
);
unit_activation!(
    /// The hyperbolic tangent, as `torch.nn.Tanh`.
    Tanh,
    tanh
);
unit_activation!(
    /// `ln(1 + eˣ)`, as `torch.nn.Softplus` with `beta=1`.
    Softplus,
    softplus
);

/// GELU, as `torch.nn.GELU`: exact by default, the tanh approximation with
/// [`GELU::tanh`].
// PyTorch's spelling, which users search for.
#[allow(clippy::upper_case_acronyms)]
#[derive(Module, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GELU {
    /// Use the tanh approximation (`approximate='tanh'`).
    pub approximate_tanh: bool,
}

impl GELU {
    /// The exact GELU, `x · Φ(x)`.
    pub fn new() -> GELU {
        GELU {
            approximate_tanh: false,
        }
    }

    /// The tanh approximation.
    pub fn tanh() -> GELU {
        GELU {
            approximate_tanh: true,
        }
    }
}

impl<T: Float> Forward<T> for GELU {
    fn forward(&self, _: &Context<T>, input: &Var<T>) -> Var<T> {
        if self.approximate_tanh {
            functional::gelu_tanh(input)
        } else {
            functional::gelu(input)
        }
    }
}

/// Leaky ReLU, as `torch.nn.LeakyReLU` (default slope 0.01).
///
/// ```
/// use engram_nn::{Context, Forward, LeakyReLU, ReLU, Softmax, GELU};
/// use engram_tensor::Tensor;
/// let cx = Context::<f64>::eval();
/// let x = cx.input(Tensor::from_vec(vec![-2.0, 0.5], &[2]));
/// assert_eq!(ReLU.forward(&cx, &x).value().to_vec(), vec![0.0, 0.5]);
/// assert_eq!(LeakyReLU::default().forward(&cx, &x).value().to_vec(), vec![-0.02, 0.5]);
/// assert!(GELU::new().forward(&cx, &x).value().get(&[1]) > 0.3);
/// let p = Softmax::new(-1).forward(&cx, &x).value().sum().item();
/// assert!((p - 1.0).abs() < 1e-12);
/// ```
#[derive(Module, Clone, Copy, Debug, PartialEq)]
pub struct LeakyReLU {
    /// The slope for negative inputs.
    pub negative_slope: f64,
}

impl LeakyReLU {
    /// Leaky ReLU with `negative_slope`.
    pub fn new(negative_slope: f64) -> LeakyReLU {
        LeakyReLU { negative_slope }
    }
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new(0.01)
    }
}

impl<T: Float> Forward<T> for LeakyReLU {
    fn forward(&self, _: &Context<T>, input: &Var<T>) -> Var<T> {
        functional::leaky_relu(input, self.negative_slope)
    }
}

/// ELU, as `torch.nn.ELU` (default alpha 1).
// PyTorch's spelling, which users search for.
#[allow(clippy::upper_case_acronyms)]
#[derive(Module, Clone, Copy, Debug, PartialEq)]
pub struct ELU {
    /// The scale of the negative part.
    pub alpha: f64,
}

impl ELU {
    /// ELU with `alpha`.
    pub fn new(alpha: f64) -> ELU {
        ELU { alpha }
    }
}

impl Default for ELU {
    fn default() -> Self {
        ELU::new(1.0)
    }
}

impl<T: Float> Forward<T> for ELU {
    fn forward(&self, _: &Context<T>, input: &Var<T>) -> Var<T> {
        functional::elu(input, self.alpha)
    }
}

/// Softmax along `dim`, as `torch.nn.Softmax`.
#[derive(Module, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Softmax {
    /// The axis that sums to one.
    pub dim: isize,
}

impl Softmax {
    /// Softmax along `dim` (negative counts from the end).
    pub fn new(dim: isize) -> Softmax {
        Softmax { dim }
    }
}

impl<T: Float> Forward<T> for Softmax {
    #[track_caller]
    fn forward(&self, _: &Context<T>, input: &Var<T>) -> Var<T> {
        functional::softmax(input, self.dim)
    }
}

/// Log-softmax along `dim`, as `torch.nn.LogSoftmax`.
#[derive(Module, Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogSoftmax {
    /// The axis normalised over.
    pub dim: isize,
}

impl LogSoftmax {
    /// Log-softmax along `dim` (negative counts from the end).
    pub fn new(dim: isize) -> LogSoftmax {
        LogSoftmax { dim }
    }
}

impl<T: Float> Forward<T> for LogSoftmax {
    #[track_caller]
    fn forward(&self, _: &Context<T>, input: &Var<T>) -> Var<T> {
        functional::log_softmax(input, self.dim)
    }
}
