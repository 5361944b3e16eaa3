//! Modules, layers, losses, optimizers and the training loop for Engram.
//!
//! A model is a struct of [`Parameter`]s and sub-modules with `#[derive(Module)]`; its
//! forward pass records on a per-step [`Context`], which turns the loss into gradients
//! keyed by parameter and releases the tape so an optimizer updates parameters in place.
//!
//! What exists:
//!
//! - Core: [`Parameter`], [`Buffer`], [`Module`] (and `#[derive(Module)]`), [`Forward`],
//!   [`Context`], [`Grads`].
//! - Layers (PyTorch's names, parameter names, layouts and default initialisation):
//!   [`Linear`], [`Conv1d`], [`Conv2d`], [`MaxPool2d`], [`AvgPool2d`],
//!   [`AdaptiveAvgPool2d`], [`Flatten`], [`Dropout`], [`Embedding`], [`LayerNorm`],
//!   [`BatchNorm1d`], [`BatchNorm2d`], [`Sequential`]; activations [`ReLU`],
//!   [`LeakyReLU`], [`ELU`], [`GELU`], [`SiLU`], [`Sigmoid`], [`Tanh`], [`Softplus`],
//!   [`Softmax`], [`LogSoftmax`].
//! - [`functional`]: each layer's math as a pure function on `Var`s, gradchecked in f64
//!   ([`gradcheck_cases`], listed by `engram gradcheck --filter nn.`).
//! - [`init`]: `torch.nn.init`'s initialisers, each drawing from a generator you seed.
//!
//! A convolutional classifier reads as its PyTorch `nn.Sequential` would:
//!
//! ```
//! use engram_nn::{BatchNorm2d, Context, Conv2dConfig, Dropout, Flatten, Forward, Linear};
//! use engram_nn::{MaxPool2d, Module, ReLU, Sequential};
//! use engram_tensor::Tensor;
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let model: Sequential = Sequential::new()
//!     .add(Conv2dConfig::new(1, 32, 3).padding(1).init(&mut rng))
//!     .add(BatchNorm2d::new(32))
//!     .add(ReLU)
//!     .add(MaxPool2d::new(2))
//!     .add(Flatten::new())
//!     .add(Dropout::new(0.25))
//!     .add(Linear::new(32 * 14 * 14, 128, &mut rng))
//!     .add(ReLU)
//!     .add(Linear::new(128, 10, &mut rng));
//! let cx = Context::train(0);
//! let logits = model.forward(&cx, &cx.input(Tensor::ones(&[2, 1, 28, 28])));
//! assert_eq!(logits.shape(), &[2, 10]);
//! assert_eq!(model.state_dict().keys().next().unwrap(), "0.weight");
//! ```
//!
//! A training step:
//!
//! ```
//! use engram_nn::{Context, Module, Parameter};
//! use engram_autograd::Var;
//! use engram_tensor::Tensor;
//!
//! #[derive(Module)]
//! struct Line {
//!     slope: Parameter<f64>,
//!     intercept: Parameter<f64>,
//! }
//!
//! impl Line {
//!     fn forward(&self, cx: &Context<f64>, x: &Var<f64>) -> Var<f64> {
//!         x * cx.param(&self.slope) + cx.param(&self.intercept)
//!     }
//! }
//!
//! let mut line = Line {
//!     slope: Parameter::new(Tensor::scalar(0.0)),
//!     intercept: Parameter::new(Tensor::scalar(0.0)),
//! };
//! let x = Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0], &[4]);
//! let y = Tensor::from_vec(vec![2.0, 5.0, 8.0, 11.0], &[4]); // y = 3x + 2
//! let cx = Context::train(0);
//! for _ in 0..2000 {
//!     let err = line.forward(&cx, &cx.input(x.clone())) - cx.input(y.clone());
//!     let grads = cx.backward(err.square().mean());
//!     for (_, p) in line.named_parameters_mut() {
//!         let g = grads[&*p].clone();
//!         p.value_mut().add_scaled_(&g, -0.05);
//!     }
//! }
//! assert!((line.slope.value().item() - 3.0).abs() < 1e-6);
//! assert!((line.intercept.value().item() - 2.0).abs() < 1e-6);
//! ```

// The derive refers to `::engram_nn`; this lets the crate's own layers use it too.
extern crate self as engram_nn;

pub mod attention;
pub mod checkpoint;
mod context;
pub mod data;
pub mod files;
pub mod functional;
#[cfg(feature = "registry")]
mod gradcheck_cases;
pub mod init;
mod layers;
pub mod loss;
mod module;
pub mod optim;
mod parameter;
pub mod rnn;
pub mod schedule;
mod sequential;
pub mod train;
pub mod transformer;

pub use context::{Context, Grads};
pub use engram_derive::Module;
#[cfg(feature = "registry")]
pub use gradcheck_cases::gradcheck_cases;
pub use layers::*;
pub use module::{named_buffers_mut, Forward, Module, Visitor, VisitorMut};
pub use parameter::{Buffer, ParamId, Parameter};
pub use sequential::Sequential;

/// What `#[derive(Module)]` expands to needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use engram_tensor::Float;
}
