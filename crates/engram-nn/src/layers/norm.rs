//! Normalisation layers: `LayerNorm`, and `BatchNorm1d`/`BatchNorm2d` with running
//! statistics.

use crate::context::Context;
use crate::functional;
use crate::module::Forward;
use crate::parameter::{Buffer, Parameter};
use engram_autograd::Var;
use engram_derive::Module;
use engram_tensor::{Float, Tensor};

/// Layer normalisation over the trailing `normalized_shape` dimensions, as
/// `torch.nn.LayerNorm`: `weight` starts at ones, `bias` at zeros, `eps` is 1e-5.
///
/// ```
/// use engram_nn::{Context, Forward, LayerNorm, Module};
/// use engram_tensor::Tensor;
/// let norm = LayerNorm::<f64>::new(&[4]);
/// assert_eq!(norm.num_parameters(), 8);
/// let cx = Context::eval();
/// let y = norm.forward(&cx, &cx.input(Tensor::arange(0.0, 8.0, 1.0).reshape(&[2, 4])));
/// assert!(y.value().mean().item().abs() < 1e-12);
/// ```
#[derive(Module, Debug, Clone)]
pub struct LayerNorm<T: Float = f32> {
    /// Scale, shaped `normalized_shape`; absent without elementwise affine.
    pub weight: Option<Parameter<T>>,
    /// Shift, shaped `normalized_shape`; absent without elementwise affine.
    pub bias: Option<Parameter<T>>,
    normalized_shape: Vec<usize>,
    eps: f64,
}

impl<T: Float> LayerNorm<T> {
    /// Normalisation over trailing dimensions `normalized_shape`, with a learned scale and
    /// shift.
    pub fn new(normalized_shape: &[usize]) -> LayerNorm<T> {
        LayerNorm {
            weight: Some(Parameter::new(Tensor::ones(normalized_shape))),
            bias: Some(Parameter::new(Tensor::zeros(normalized_shape))),
            normalized_shape: normalized_shape.to_vec(),
            eps: 1e-5,
        }
    }

    /// The same, with `eps` added to the variance.
    pub fn eps(mut self, eps: f64) -> LayerNorm<T> {
        self.eps = eps;
        self
    }

    /// Without the learned scale and shift (`elementwise_affine=False`).
    pub fn without_affine(mut self) -> LayerNorm<T> {
        self.weight = None;
        self.bias = None;
        self
    }
}

impl<T: Float> Forward<T> for LayerNorm<T> {
    #[track_caller]
    fn forward(&self, cx: &Context<T>, input: &Var<T>) -> Var<T> {
        let weight = self.weight.as_ref().map(|w| cx.param(w));
        let bias = self.bias.as_ref().map(|b| cx.param(b));
        functional::layer_norm(
            input,
            &self.normalized_shape,
            weight.as_ref(),
            bias.as_ref(),
            self.eps,
        )
    }
}

/// Batch normalisation per channel, as PyTorch's `BatchNorm1d` (`D = 1`: input `[N, C]` or
/// `[N, C, L]`) and `BatchNorm2d` (`D = 2`: input `[N, C, H, W]`). Use the aliases
/// [`BatchNorm1d`] and [`BatchNorm2d`].
///
/// In a training context it normalises with batch statistics and updates `running_mean`
/// and `running_var` (momentum 0.1, unbiased variance, as PyTorch); in evaluation it
/// normalises with them. `eps` is 1e-5; `weight` starts at ones and `bias` at zeros.
///
/// Differences from PyTorch: no `num_batches_tracked` buffer (it only matters for
/// `momentum=None`, the cumulative average, which is not offered), and running statistics
/// are always tracked. Loading a PyTorch `state_dict` should skip `num_batches_tracked`.
///
/// ```
/// use engram_nn::{BatchNorm2d, Context, Forward, Module};
/// use engram_tensor::Tensor;
/// let bn = BatchNorm2d::<f32>::new(3);
/// let names: Vec<String> = bn.state_dict().keys().cloned().collect();
/// assert_eq!(names, ["weight", "bias", "running_mean", "running_var"]);
/// let cx = Context::train(0);
/// let x = cx.input(Tensor::ones(&[2, 3, 4, 4]).mul_scalar(5.0));
/// bn.forward(&cx, &x); // a training step moves the running mean toward 5
/// assert_eq!(bn.running_mean.get().to_vec(), vec![0.5; 3]);
/// ```
#[derive(Module, Debug, Clone)]
pub struct BatchNorm<T: Float, const D: usize> {
    /// Scale per channel `[C]`; absent without affine.
    pub weight: Option<Parameter<T>>,
    /// Shift per channel `[C]`; absent without affine.
    pub bias: Option<Parameter<T>>,
    /// The running mean per channel `[C]`, used in evaluation.
    pub running_mean: Buffer<T>,
    /// The running (unbiased) variance per channel `[C]`, used in evaluation.
    pub running_var: Buffer<T>,
    momentum: f64,
    eps: f64,
}

/// Batch normalisation of `[N, C]` or `[N, C, L]` (see [`BatchNorm`]).
pub type BatchNorm1d<T = f32> = BatchNorm<T, 1>;
/// Batch normalisation of `[N, C, H, W]` (see [`BatchNorm`]).
pub type BatchNorm2d<T = f32> = BatchNorm<T, 2>;

impl<T: Float, const D: usize> BatchNorm<T, D> {
    /// Batch normalisation of `num_features` channels, affine, momentum 0.1, eps 1e-5.
    pub fn new(num_features: usize) -> BatchNorm<T, D> {
        let c = [num_features];
        BatchNorm {
            weight: Some(Parameter::new(Tensor::ones(&c))),
            bias: Some(Parameter::new(Tensor::zeros(&c))),
            running_mean: Buffer::new(Tensor::zeros(&c)),
            running_var: Buffer::new(Tensor::ones(&c)),
            momentum: 0.1,
            eps: 1e-5,
        }
    }

    /// The weight of the newest batch in the running statistics.
    pub fn momentum(mut self, momentum: f64) -> BatchNorm<T, D> {
        self.momentum = momentum;
        self
    }

    /// The value added to the variance.
    pub fn eps(mut self, eps: f64) -> BatchNorm<T, D> {
        self.eps = eps;
        self
    }

    /// Without the learned scale and shift (`affine=False`).
    pub fn without_affine(mut self) -> BatchNorm<T, D> {
        self.weight = None;
        self.bias = None;
        self
    }
}

impl<T: Float, const D: usize> Forward<T> for BatchNorm<T, D> {
    #[track_caller]
    fn forward(&self, cx: &Context<T>, input: &Var<T>) -> Var<T> {
        let rank = input.rank();
        let fits = if D == 1 {
            rank == 2 || rank == 3
        } else {
            rank == D + 2
        };
        if !fits {
            let expected = if D == 1 {
                "[N, C] or [N, C, L]"
            } else {
                "[N, C, H, W]"
            };
            engram_tensor::shape_error(
                &format!("BatchNorm{D}d"),
                format!("expected input {expected}, got {:?}", input.shape()),
            );
        }
        let weight = self.weight.as_ref().map(|w| cx.param(w));
        let bias = self.bias.as_ref().map(|b| cx.param(b));
        functional::batch_norm(
            input,
            Some(&self.running_mean),
            Some(&self.running_var),
            weight.as_ref(),
            bias.as_ref(),
            cx.is_training(),
            self.momentum,
            self.eps,
        )
    }
}
