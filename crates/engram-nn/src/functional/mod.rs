//! Layers as pure functions on `Var`s, as `torch.nn.functional`: each layer's math lives
//! here, once, and is gradchecked in f64 through the registry (`engram gradcheck --filter
//! nn.`); the module structs only hold parameters and call these.
//!
//! ```
//! use engram_autograd::Tape;
//! use engram_nn::functional as F;
//! use engram_tensor::Tensor;
//!
//! let tape = Tape::<f64>::new();
//! let x = tape.leaf(Tensor::ones(&[2, 1, 4, 4]));
//! let kernel = tape.leaf(Tensor::ones(&[3, 1, 3, 3]).mul_scalar(0.1));
//! let h = F::relu(&F::conv2d(&x, &kernel, None, Default::default()));
//! let h = F::flatten(&F::adaptive_avg_pool2d(&h, [1, 1]), 1, -1);
//! let w = tape.leaf(Tensor::ones(&[2, 3]));
//! let y = F::log_softmax(&F::linear(&h, &w, None), -1);
//! assert_eq!(y.shape(), &[2, 2]);
//! ```

mod activation;
pub mod attention;
mod conv;
mod dropout;
mod embedding;
mod linear;
mod norm;
mod pool;
pub mod rnn;
pub(crate) mod transformer;

pub use activation::{
    elu, gelu, gelu_tanh, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, softplus, tanh,
};
pub use attention::{
    additive_mask, causal_mask, multi_head_attention, scaled_dot_product_attention,
    AttentionProjections,
};
pub use conv::{conv1d, conv2d};
pub use dropout::dropout;
pub use embedding::embedding;
pub use linear::linear;
pub use norm::{batch_norm, layer_norm};
pub use pool::{adaptive_avg_pool2d, avg_pool2d, flatten, max_pool2d};
pub use rnn::{gru, gru_cell, lstm, lstm_cell, rnn, rnn_cell, CellWeights, Nonlinearity};
pub use transformer::{
    transformer_encoder_layer, Activation, EncoderLayerOptions, EncoderLayerWeights,
};

#[cfg(feature = "registry")]
use engram_autograd::registry::GradcheckCase;

/// The gradcheck cases of every functional layer.
#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<GradcheckCase> {
    let mut cases = linear::cases();
    cases.extend(conv::cases());
    cases.extend(pool::cases());
    cases.extend(dropout::cases());
    cases.extend(embedding::cases());
    cases.extend(norm::cases());
    cases
}
