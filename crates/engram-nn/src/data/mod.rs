//! Data: datasets, mini-batch loading, standardisation, readers for the formats users
//! have (IDX, CSV, plain text) and the real data sets bundled with the repository.
//!
//! A dataset is anything with a length and random access ([`Dataset`]); examples held in
//! tensors are a [`TensorDataset`]; a [`DataLoader`] cuts one into shuffled
//! mini-batches, reproducibly by seed. Readers return a [`DataError`] naming the file and
//! the line, record or byte for malformed input — never a panic.
//!
//! ```
//! use engram_nn::data::{datasets, random_split, DataLoader, Dataset, StandardScaler, TensorDataset};
//!
//! // The UCI digits, split 80/20 with a fixed seed.
//! let digits = datasets::digits::<f32>(datasets::data_dir())?;
//! let parts = random_split(digits, [0.8, 0.2], 0);
//! let (train, test) = (&parts[0], &parts[1]);
//!
//! // Standardise with statistics of the training split only.
//! let (x_train, y_train) = train.to_batch();
//! let (x_test, y_test) = test.to_batch();
//! let scaler = StandardScaler::fit(&x_train);
//! let train = TensorDataset::new(scaler.transform(&x_train), y_train);
//! let test = TensorDataset::new(scaler.transform(&x_test), y_test);
//!
//! let loader = DataLoader::new(train, 32).shuffle(42);
//! assert_eq!(loader.len(), 45); // 1438 examples in batches of 32
//! for (x, y) in &loader {
//!     assert_eq!(x.shape()[1], 64);
//!     assert_eq!(x.dim(0), y.dim(0));
//! }
//! assert_eq!(test.len(), 359);
//! # Ok::<(), engram_nn::data::DataError>(())
//! ```

mod csv;
mod dataset;
pub mod datasets;
mod error;
mod idx;
mod loader;
mod scaler;
mod source;
mod text;

pub use csv::{CsvReader, LabelColumn};
pub use dataset::{random_split, Dataset, SplitLengths, Subset, TensorDataset};
pub use error::{DataError, Location};
pub use idx::{read_idx, read_idx_dataset, read_idx_labels, read_idx_tensor, IdxArray, IdxData};
pub use loader::{Batches, Collate, DataLoader, GetBatch};
pub use scaler::StandardScaler;
pub use text::{read_text, NextTokenDataset, UnknownToken, Vocabulary};
