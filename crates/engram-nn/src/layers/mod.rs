//! Module structs: each holds its parameters and calls its function in
//! [`crate::functional`].
//!
//! A layer is built once (drawing its initial weights from a seeded generator), then run
//! with [`Forward::forward`](crate::Forward::forward) in a [`Context`](crate::Context):
//! a training context records the tape and turns on dropout and batch statistics, an
//! evaluation context does neither.
//!
//! ```
//! use engram_nn::{functional, BatchNorm1d, Context, Dropout, Forward, Linear, Module, ReLU};
//! use engram_tensor::Tensor;
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let fc = Linear::<f64>::new(3, 2, &mut rng);
//! assert_eq!(fc.num_parameters(), 3 * 2 + 2);
//!
//! // The struct holds the parameters; the math is the function of the same name.
//! let cx = Context::eval();
//! let x = cx.input(Tensor::ones(&[4, 3]));
//! let y = ReLU.forward(&cx, &fc.forward(&cx, &x));
//! let bias = fc.bias.as_ref().map(|b| cx.param(b));
//! let by_hand = functional::relu(&functional::linear(&x, &cx.param(&fc.weight), bias.as_ref()));
//! assert_eq!(y.value().to_vec(), by_hand.value().to_vec());
//!
//! // Dropout acts and batch norm updates its running mean only in a training context.
//! let (drop, norm) = (Dropout::new(0.5), BatchNorm1d::<f64>::new(2));
//! assert_eq!(drop.forward(&cx, &y).value().to_vec(), y.value().to_vec());
//! let train = Context::train(1);
//! norm.forward(&train, &train.input(Tensor::ones(&[4, 2])));
//! assert_eq!(norm.running_mean.get().to_vec(), vec![0.1, 0.1]);
//! ```

mod activation;
mod conv;
mod dropout;
mod embedding;
pub(crate) mod linear;
mod norm;
mod pool;

pub use activation::{
    LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh, ELU, GELU,
};
pub use conv::{Conv1d, Conv1dConfig, Conv2d, Conv2dConfig};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use linear::{Linear, LinearConfig};
pub use norm::{BatchNorm, BatchNorm1d, BatchNorm2d, LayerNorm};
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, Flatten, MaxPool2d};
