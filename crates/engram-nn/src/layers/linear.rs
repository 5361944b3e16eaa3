//! The fully connected layer.

use crate::context::Context;
use crate::functional;
use crate::init::{self, FanMode, Nonlinearity};
use crate::module::Forward;
use crate::parameter::Parameter;
use engram_autograd::Var;
use engram_derive::Module;
use engram_tensor::Float;
use rand::Rng;

/// `y = x · Wᵀ + b`, as `torch.nn.Linear`: input `[.., in_features]`, output
/// `[.., out_features]`.
///
/// Initialised as PyTorch: `weight` from `kaiming_uniform(a = √5)`, which is
/// `U(-1/√in, 1/√in)`, and `bias` from the same uniform.
#[derive(Module, Debug, Clone)]
pub struct Linear<T: Float = f32> {
    /// `[out_features, in_features]`.
    pub weight: Parameter<T>,
    /// `[out_features]`; absent when built with `bias(false)`.
    pub bias: Option<Parameter<T>>,
}

/// How to build a [`Linear`]: sizes and whether it has a bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearConfig {
    /// Features of each input.
    pub in_features: usize,
    /// Features of each output.
    pub out_features: usize,
    /// Whether to learn an additive bias (default true).
    pub bias: bool,
}

impl LinearConfig {
    /// A layer from `in_features` to `out_features`, with bias.
    pub fn new(in_features: usize, out_features: usize) -> LinearConfig {
        LinearConfig {
            in_features,
            out_features,
            bias: true,
        }
    }

    /// With (`true`) or without an additive bias.
    pub fn bias(mut self, bias: bool) -> LinearConfig {
        self.bias = bias;
        self
    }

    /// The layer, with PyTorch's default initialisation drawn from `rng`.
    pub fn init<T: Float>(&self, rng: &mut impl Rng) -> Linear<T> {
        let shape = [self.out_features, self.in_features];
        let weight = init::kaiming_uniform(
            &shape,
            FanMode::FanIn,
            Nonlinearity::LeakyRelu(5f64.sqrt()),
            rng,
        );
        let bias = self.bias.then(|| {
            let bound = fan_in_bound(self.in_features);
            Parameter::new(init::uniform(&[self.out_features], -bound, bound, rng))
        });
        Linear {
            weight: Parameter::new(weight),
            bias,
        }
    }
}

/// PyTorch's bias bound `1/√fan_in` (0 for an empty fan, as PyTorch).
pub(crate) fn fan_in_bound(fan_in: usize) -> f64 {
    if fan_in == 0 {
        0.0
    } else {
        1.0 / (fan_in as f64).sqrt()
    }
}

impl<T: Float> Linear<T> {
    /// A layer from `in_features` to `out_features` with a bias, initialised as PyTorch.
    ///
    /// ```
    /// use engram_nn::{Context, Forward, Linear, Module};
    /// use engram_tensor::Tensor;
    /// use rand::SeedableRng;
    ///
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let fc = Linear::<f32>::new(4, 3, &mut rng);
    /// let names: Vec<String> = fc.named_parameters().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["weight", "bias"]);
    /// let cx = Context::eval();
    /// let y = fc.forward(&cx, &cx.input(Tensor::ones(&[2, 4])));
    /// assert_eq!(y.shape(), &[2, 3]);
    /// ```
    pub fn new(in_features: usize, out_features: usize, rng: &mut impl Rng) -> Linear<T> {
        LinearConfig::new(in_features, out_features).init(rng)
    }

    /// Features of each input.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Features of each output.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }
}

impl<T: Float> Forward<T> for Linear<T> {
    #[track_caller]
    fn forward(&self, cx: &Context<T>, input: &Var<T>) -> Var<T> {
        let bias = self.bias.as_ref().map(|b| cx.param(b));
        functional::linear(input, &cx.param(&self.weight), bias.as_ref())
    }
}
