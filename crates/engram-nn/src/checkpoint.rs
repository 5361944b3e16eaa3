//! Checkpoints: a model's parameters and buffers by name — and, for resuming training, the
//! optimizer's state, the epoch and the step — in one safetensors file.
//!
//! The file is what PyTorch's `safetensors.torch.load_file` reads: each entry of the
//! model's [`state_dict`](crate::Module::state_dict) under its PyTorch name
//! (`encoder.0.weight`), F32 or F64 as the model, and `{"format": "pt"}` in the header's
//! `__metadata__`. So `model.load_state_dict(load_file(path))` loads an Engram checkpoint
//! into the same model written in PyTorch, provided it was saved without optimizer state.
//!
//! Optimizer state goes in the same file as extra tensors named `optimizer/<key>`, where
//! `<key>` is the optimizer's [`state_dict`](crate::optim::Optimizer::state_dict) name
//! (`optimizer/exp_avg.fc1.weight`, `optimizer/step.fc1.weight`); a `/` never occurs in a
//! parameter's name, so these cannot collide with the model's. Scalars that are not tensors
//! go in `__metadata__`, as text: `engram.epoch`, `engram.step`,
//! `engram.learning_rates` (each parameter group's, in group order, comma-separated, in
//! Rust's shortest round-trip form so that an f64 comes back to the same bits), and
//! whatever [`Checkpoint::metadata`] adds.
//!
//! Saving never leaves a half-written file: it writes a temporary file beside the target,
//! fsyncs it, renames it over the target and fsyncs the directory; it refuses to replace
//! anything but a regular file (a symlink, a FIFO, a directory). Loading checks every name,
//! shape and dtype against the model before changing anything, and returns a
//! [`CheckpointError`] — never panics — whatever the file holds.
//!
//! ```
//! use engram_nn::checkpoint::{self, Checkpoint};
//! use engram_nn::optim::{Optimizer, Sgd, SgdOptions};
//! use engram_nn::{Module, Parameter};
//! use engram_tensor::Tensor;
//!
//! #[derive(Module)]
//! struct Net {
//!     weight: Parameter,
//!     bias: Parameter,
//! }
//!
//! let net = Net {
//!     weight: Parameter::new(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])),
//!     bias: Parameter::new(Tensor::from_vec(vec![0.5, -0.5], &[2])),
//! };
//! let optimizer = Sgd::new(SgdOptions { momentum: 0.9, ..SgdOptions::new(0.1) });
//! let dir = std::env::temp_dir().join(format!("engram-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("net.safetensors");
//! Checkpoint::new(&net).optimizer(&optimizer).epoch(3).save(&path).unwrap();
//!
//! let mut restored = Net {
//!     weight: Parameter::new(Tensor::zeros(&[2, 2])),
//!     bias: Parameter::new(Tensor::zeros(&[2])),
//! };
//! let mut resumed = Sgd::new(SgdOptions { momentum: 0.9, ..SgdOptions::new(0.1) });
//! let loaded = checkpoint::load_with_optimizer(&path, &mut restored, &mut resumed).unwrap();
//! assert_eq!(loaded.epoch, Some(3));
//! assert_eq!(restored.weight.value().to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

use crate::files::WriteError;
use crate::module::{named_buffers_mut, Module};
use crate::optim::Optimizer;
use engram_tensor::{Float, Tensor};
use indexmap::IndexMap;
use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

impl From<WriteError> for CheckpointError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Io { path, source } => CheckpointError::Io { path, source },
            WriteError::NotARegularFile { path, kind } => {
                CheckpointError::NotARegularFile { path, kind }
            }
        }
    }
}

/// The prefix of optimizer-state tensors in a checkpoint.
pub const OPTIMIZER_PREFIX: &str = "optimizer/";

/// Why a checkpoint could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing the file failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The path names something other than a regular file (a symlink, a FIFO, a
    /// directory), which saving will not replace and loading will not read.
    #[error("{}: is a {kind}, not a regular file; refusing to use it as a checkpoint", .path.display())]
    NotARegularFile {
        /// The path.
        path: PathBuf,
        /// What is there.
        kind: &'static str,
    },
    /// The file ends before its header says it should.
    #[error("{}: truncated checkpoint: {reason}", .path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// The file is not a valid safetensors file, or a value in it makes no sense.
    #[error("{}corrupt checkpoint: {reason}", location(.path))]
    Corrupt {
        /// The file, when the error came from one.
        path: Option<PathBuf>,
        /// What is wrong.
        reason: String,
    },
    /// Names the model (or optimizer) has and the checkpoint lacks.
    #[error("checkpoint lacks {}", list(.0))]
    MissingNames(Vec<String>),
    /// Names the checkpoint has and the model (or optimizer) lacks.
    #[error("checkpoint has names the model does not: {}", list(.0))]
    UnexpectedNames(Vec<String>),
    /// A tensor's shape differs from the model's.
    #[error("`{name}` has shape {found:?} in the checkpoint, the model expects {expected:?}")]
    ShapeMismatch {
        /// The tensor.
        name: String,
        /// The model's shape.
        expected: Vec<usize>,
        /// The checkpoint's shape.
        found: Vec<usize>,
    },
    /// A tensor's element type differs from the model's.
    #[error("`{name}` is {found} in the checkpoint, the model is {expected}")]
    DtypeMismatch {
        /// The tensor.
        name: String,
        /// The model's type (safetensors' name: `F32`, `F64`).
        expected: String,
        /// The checkpoint's type.
        found: String,
    },
}

fn location(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}

fn list(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut out = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        out += &format!(" and {} more", names.len() - SHOWN);
    }
    out
}

/// What a checkpoint held besides tensors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Loaded {
    /// The epoch saved with [`Checkpoint::epoch`].
    pub epoch: Option<u64>,
    /// The step saved with [`Checkpoint::step`].
    pub step: Option<u64>,
    /// Every `__metadata__` entry, the above included.
    pub metadata: BTreeMap<String, String>,
}

/// A checkpoint to write: a model, optionally its optimizer, and metadata.
pub struct Checkpoint<'a, T: Float = f32> {
    model: &'a dyn Module<T>,
    optimizer: Option<&'a dyn Optimizer<T>>,
    metadata: BTreeMap<String, String>,
}

impl<'a, T: Float> Checkpoint<'a, T> {
    /// The model's parameters and buffers, by name.
    pub fn new(model: &'a dyn Module<T>) -> Checkpoint<'a, T> {
        Checkpoint {
            model,
            optimizer: None,
            metadata: BTreeMap::from([("format".to_string(), "pt".to_string())]),
        }
    }

    /// Also the optimizer's state and learning rates, to resume training.
    pub fn optimizer(mut self, optimizer: &'a dyn Optimizer<T>) -> Checkpoint<'a, T> {
        self.optimizer = Some(optimizer);
        self
    }

    /// Also the epoch (`engram.epoch`).
    pub fn epoch(self, epoch: u64) -> Checkpoint<'a, T> {
        self.metadata("engram.epoch", &epoch.to_string())
    }

    /// Also the step (`engram.step`).
    pub fn step(self, step: u64) -> Checkpoint<'a, T> {
        self.metadata("engram.step", &step.to_string())
    }

    /// Also a metadata entry of the caller's.
    pub fn metadata(mut self, key: &str, value: &str) -> Checkpoint<'a, T> {
        self.metadata.insert(key.to_string(), value.to_string());
        self
    }

    /// The file's bytes.
    fn serialize(&self) -> Result<Vec<u8>, SafeTensorError> {
        let mut tensors: Vec<(String, Tensor<T>)> = self.model.state_dict().into_iter().collect();
        let mut metadata: HashMap<String, String> = self.metadata.clone().into_iter().collect();
        if let Some(optimizer) = self.optimizer {
            tensors.extend(
                optimizer
                    .state_dict(self.model)
                    .into_iter()
                    .map(|(k, t)| (format!("{OPTIMIZER_PREFIX}{k}"), t)),
            );
            let lrs = optimizer.param_groups().learning_rates();
            let lrs: Vec<String> = lrs.iter().map(f64::to_string).collect();
            metadata.insert("engram.learning_rates".to_string(), lrs.join(","));
        }
        let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
            .into_iter()
            .map(|(name, t)| (name, to_bytes(&t.contiguous_data()), t.shape().to_vec()))
            .collect();
        let views = bytes
            .iter()
            .map(|(name, data, shape)| {
                TensorView::new(dtype::<T>(), shape.clone(), data).map(|v| (name.as_str(), v))
            })
            .collect::<Result<Vec<_>, _>>()?;
        safetensors::serialize(views, &Some(metadata))
    }

    /// Writes the checkpoint to `path`, atomically: a reader sees the old file or the new
    /// one, never a mix, even if the process dies mid-write.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
        let path = path.as_ref();
        let bytes = self.serialize().map_err(|e| CheckpointError::Corrupt {
            path: Some(path.to_path_buf()),
            reason: format!("could not serialize: {e:?}"),
        })?;
        crate::files::write_atomically(path, &bytes).map_err(CheckpointError::from)
    }
}

/// Saves `model`'s parameters and buffers to `path` (see [`Checkpoint`] for more).
pub fn save<T: Float>(
    path: impl AsRef<Path>,
    model: &dyn Module<T>,
) -> Result<(), CheckpointError> {
    Checkpoint::new(model).save(path)
}

/// Loads a checkpoint's parameters and buffers into `model`, by name. Optimizer state in
/// the file is ignored. The model is unchanged when an error is returned.
pub fn load<T: Float>(
    path: impl AsRef<Path>,
    model: &mut dyn Module<T>,
) -> Result<Loaded, CheckpointError> {
    load_impl(path.as_ref(), model, None)
}

/// Loads a checkpoint's parameters and buffers into `model` and its optimizer state and
/// learning rates into `optimizer`. The model and optimizer are unchanged when an error is
/// returned; a file without optimizer state is a [`CheckpointError::MissingNames`].
pub fn load_with_optimizer<T: Float>(
    path: impl AsRef<Path>,
    model: &mut dyn Module<T>,
    optimizer: &mut dyn Optimizer<T>,
) -> Result<Loaded, CheckpointError> {
    load_impl(path.as_ref(), model, Some(optimizer))
}

fn load_impl<T: Float>(
    path: &Path,
    model: &mut dyn Module<T>,
    optimizer: Option<&mut dyn Optimizer<T>>,
) -> Result<Loaded, CheckpointError> {
    let corrupt = |reason: String| CheckpointError::Corrupt {
        path: Some(path.to_path_buf()),
        reason,
    };
    let meta = fs::metadata(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        return Err(CheckpointError::NotARegularFile {
            path: path.to_path_buf(),
            kind: crate::files::kind_of(&meta.file_type()),
        });
    }
    let bytes = fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| parse_error(path, e))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| parse_error(path, e))?;
    let metadata: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();

    // The model: every name present, nothing else, each with the model's shape and dtype.
    let expected: Vec<(String, Vec<usize>)> = model
        .state_dict()
        .into_iter()
        .map(|(name, t)| (name, t.shape().to_vec()))
        .collect();
    let names = file.names();
    let missing: Vec<String> = expected
        .iter()
        .filter(|(name, _)| !names.contains(&name))
        .map(|(name, _)| name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(CheckpointError::MissingNames(missing));
    }
    let mut unexpected: Vec<String> = names
        .iter()
        .filter(|n| !n.starts_with(OPTIMIZER_PREFIX) && !expected.iter().any(|(e, _)| e == **n))
        .map(|n| n.to_string())
        .collect();
    if !unexpected.is_empty() {
        unexpected.sort();
        return Err(CheckpointError::UnexpectedNames(unexpected));
    }
    let mut values = HashMap::new();
    for (name, shape) in &expected {
        let view = file.tensor(name).map_err(|e| corrupt(format!("{e:?}")))?;
        values.insert(name.as_str(), decode::<T>(name, &view, Some(shape))?);
    }

    if let Some(optimizer) = optimizer {
        let mut state = IndexMap::new();
        for (name, view) in file.tensors() {
            if let Some(key) = name.strip_prefix(OPTIMIZER_PREFIX) {
                state.insert(key.to_string(), decode::<T>(&name, &view, None)?);
            }
        }
        let lrs = metadata.get("engram.learning_rates");
        let Some(lrs) = lrs else {
            return Err(CheckpointError::MissingNames(vec![format!(
                "{OPTIMIZER_PREFIX}* (the checkpoint has no optimizer state)"
            )]));
        };
        let lrs = lrs
            .split(',')
            .map(str::parse::<f64>)
            .collect::<Result<Vec<f64>, _>>()
            .map_err(|e| corrupt(format!("engram.learning_rates `{lrs}`: {e}")))?;
        let groups = optimizer.param_groups().len();
        if lrs.len() != groups {
            return Err(corrupt(format!(
                "{} learning rates saved, the optimizer has {groups} parameter groups",
                lrs.len()
            )));
        }
        optimizer
            .load_state_dict(&*model, &state)
            .map_err(|e| match e {
                CheckpointError::Corrupt { path: None, reason } => corrupt(reason),
                e => e,
            })?;
        optimizer.param_groups_mut().set_learning_rates(&lrs);
    }

    for (name, parameter) in model.named_parameters_mut() {
        let tensor = values.remove(name.as_str()).expect("checked above");
        parameter
            .value_mut()
            .as_mut_slice()
            .copy_from_slice(&tensor.contiguous_data());
    }
    for (name, buffer) in named_buffers_mut(model) {
        buffer.replace(values.remove(name.as_str()).expect("checked above"));
    }
    let number = |key: &str| -> Result<Option<u64>, CheckpointError> {
        metadata
            .get(key)
            .map(|v| v.parse().map_err(|e| corrupt(format!("{key} `{v}`: {e}"))))
            .transpose()
    };
    Ok(Loaded {
        epoch: number("engram.epoch")?,
        step: number("engram.step")?,
        metadata,
    })
}

fn parse_error(path: &Path, error: SafeTensorError) -> CheckpointError {
    let path = path.to_path_buf();
    match error {
        SafeTensorError::HeaderTooSmall => CheckpointError::Truncated {
            path,
            reason: "shorter than the 8-byte header length".to_string(),
        },
        SafeTensorError::InvalidHeaderLength => CheckpointError::Truncated {
            path,
            reason: "shorter than its header".to_string(),
        },
        SafeTensorError::MetadataIncompleteBuffer => CheckpointError::Truncated {
            path,
            reason: "the tensor data is not the length the header gives".to_string(),
        },
        e => CheckpointError::Corrupt {
            path: Some(path),
            reason: format!("not a safetensors file ({e:?})"),
        },
    }
}

fn dtype<T: Float>() -> Dtype {
    match std::mem::size_of::<T>() {
        4 => Dtype::F32,
        8 => Dtype::F64,
        n => unreachable!("engram's floats are f32 and f64, not {n} bytes"),
    }
}

fn to_bytes<T: Float>(values: &[T]) -> Vec<u8> {
    match dtype::<T>() {
        Dtype::F32 => values
            .iter()
            .flat_map(|x| (x.as_f64() as f32).to_le_bytes())
            .collect(),
        _ => values
            .iter()
            .flat_map(|x| x.as_f64().to_le_bytes())
            .collect(),
    }
}

/// The tensor `name`, checked to have the model's dtype and, when given, shape.
fn decode<T: Float>(
    name: &str,
    view: &TensorView<'_>,
    shape: Option<&[usize]>,
) -> Result<Tensor<T>, CheckpointError> {
    if view.dtype() != dtype::<T>() {
        return Err(CheckpointError::DtypeMismatch {
            name: name.to_string(),
            expected: format!("{:?}", dtype::<T>()),
            found: format!("{:?}", view.dtype()),
        });
    }
    if let Some(shape) = shape {
        if view.shape() != shape {
            return Err(CheckpointError::ShapeMismatch {
                name: name.to_string(),
                expected: shape.to_vec(),
                found: view.shape().to_vec(),
            });
        }
    }
    // The header's sizes were checked against the data by `SafeTensors::deserialize`.
    let values: Vec<T> = match view.dtype() {
        Dtype::F32 => view
            .data()
            .chunks_exact(4)
            .map(|b| T::of(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64))
            .collect(),
        _ => view
            .data()
            .chunks_exact(8)
            .map(|b| T::of(f64::from_le_bytes(b.try_into().expect("8 bytes"))))
            .collect(),
    };
    Ok(Tensor::from_vec(values, view.shape()))
}
