//! Layers as pure functions on Vars: each layer's math, gradchecked in f64; the module
//! structs hold parameters and call these.

pub mod attention;
pub mod rnn;

pub use attention::{additive_mask, causal_mask, scaled_dot_product_attention};
pub use rnn::{gru, gru_cell, lstm, lstm_cell, rnn, rnn_cell, CellWeights, Nonlinearity};
