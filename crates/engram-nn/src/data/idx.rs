//! The IDX format of MNIST and Fashion-MNIST, gzip-compressed or not.
//!
//! An IDX file is a header — two zero bytes, a type code, the rank — then the rank's
//! dimensions as big-endian u32, then the elements, big-endian, row-major. The readers
//! check all of it against the file's length before trusting it: a corrupt header is a
//! `DataError`, never a panic or a terabyte allocation.

use super::dataset::TensorDataset;
use super::error::{DataError, Location};
use super::source::Source;
use engram_tensor::{Float, Tensor};
use std::path::Path;

/// The most a deflate stream can expand (about 1032 to 1): a gzip file of `n` bytes holds
/// at most this many times `n` bytes of content, which bounds what a header may claim.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// The elements of an IDX file, in the type its header names.
#[derive(Debug, Clone, PartialEq)]
pub enum IdxData {
    /// Type code 0x08.
    U8(Vec<u8>),
    /// Type code 0x09.
    I8(Vec<i8>),
    /// Type code 0x0b.
    I16(Vec<i16>),
    /// Type code 0x0c.
    I32(Vec<i32>),
    /// Type code 0x0d.
    F32(Vec<f32>),
    /// Type code 0x0e.
    F64(Vec<f64>),
}

impl IdxData {
    /// The type's name, for messages.
    fn type_name(&self) -> &'static str {
        match self {
            IdxData::U8(_) => "u8",
            IdxData::I8(_) => "i8",
            IdxData::I16(_) => "i16",
            IdxData::I32(_) => "i32",
            IdxData::F32(_) => "f32",
            IdxData::F64(_) => "f64",
        }
    }

    /// Every element converted to `T`.
    fn to_floats<T: Float>(&self) -> Vec<T> {
        fn convert<T: Float, S: Copy + Into<f64>>(values: &[S]) -> Vec<T> {
            values.iter().map(|&v| T::of(v.into())).collect()
        }
        match self {
            IdxData::U8(v) => convert(v),
            IdxData::I8(v) => convert(v),
            IdxData::I16(v) => convert(v),
            IdxData::I32(v) => convert(v),
            IdxData::F32(v) => convert(v),
            IdxData::F64(v) => convert(v),
        }
    }

    /// Every element widened to i64, or `None` for the floating types.
    fn to_integers(&self) -> Option<Vec<i64>> {
        fn convert<S: Copy + Into<i64>>(values: &[S]) -> Vec<i64> {
            values.iter().map(|&v| v.into()).collect()
        }
        match self {
            IdxData::U8(v) => Some(convert(v)),
            IdxData::I8(v) => Some(convert(v)),
            IdxData::I16(v) => Some(convert(v)),
            IdxData::I32(v) => Some(convert(v)),
            IdxData::F32(_) | IdxData::F64(_) => None,
        }
    }
}

/// An IDX file's content: its dimensions and its elements, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    /// The dimensions, from the header.
    pub dims: Vec<usize>,
    /// The elements, in the header's type.
    pub data: IdxData,
}

impl IdxArray {
    /// The elements as a float tensor of the file's dimensions (bytes stay 0..=255).
    pub fn to_tensor<T: Float>(&self) -> Tensor<T> {
        Tensor::from_vec(self.data.to_floats(), &self.dims)
    }
}

/// An element type: its size in bytes and how to decode a big-endian buffer of it.
fn decode(code: u8, bytes: &[u8]) -> IdxData {
    macro_rules! be {
        ($t:ty, $n:expr) => {
            bytes
                .chunks_exact($n)
                .map(|c| <$t>::from_be_bytes(c.try_into().expect("chunk of the type's size")))
                .collect()
        };
    }
    match code {
        0x08 => IdxData::U8(bytes.to_vec()),
        0x09 => IdxData::I8(bytes.iter().map(|&b| b as i8).collect()),
        0x0b => IdxData::I16(be!(i16, 2)),
        0x0c => IdxData::I32(be!(i32, 4)),
        0x0d => IdxData::F32(be!(f32, 4)),
        0x0e => IdxData::F64(be!(f64, 8)),
        _ => unreachable!("type codes are checked by element_size"),
    }
}

/// The size of one element of the type with this code, or `None` for an unknown code.
fn element_size(code: u8) -> Option<u64> {
    match code {
        0x08 | 0x09 => Some(1),
        0x0b => Some(2),
        0x0c | 0x0d => Some(4),
        0x0e => Some(8),
        _ => None,
    }
}

/// Reads exactly `len` bytes at `offset`, or says where the file ended.
fn read_header_part(src: &mut Source, offset: u64, len: u64) -> Result<Vec<u8>, DataError> {
    let mut buf = Vec::new();
    src.read_up_to(len, &mut buf)?;
    if (buf.len() as u64) < len {
        return Err(DataError::Truncated {
            path: src.path.clone(),
            offset: offset + buf.len() as u64,
            expected: offset + len,
        });
    }
    Ok(buf)
}

/// Reads an IDX file (gzip-compressed or not: the first bytes decide, not the name).
///
/// Errors: [`DataError::IdxMagic`] for a file that does not start `00 00`,
/// [`DataError::IdxType`] for an unknown type code, [`DataError::Truncated`] for a file
/// shorter than its header promises, [`DataError::TrailingBytes`] for one longer,
/// [`DataError::TooLarge`] for dimensions no file of this length could hold, and
/// [`DataError::Gzip`] or [`DataError::Io`] when reading fails.
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    let mut src = Source::open(path.as_ref())?;
    let path = src.path.clone();
    let head = read_header_part(&mut src, 0, 4)?;
    if head[0] != 0 || head[1] != 0 {
        return Err(DataError::IdxMagic {
            path,
            found: [head[0], head[1], head[2], head[3]],
        });
    }
    let code = head[2];
    let size = element_size(code).ok_or(DataError::IdxType {
        path: path.clone(),
        code,
    })?;
    let rank = u64::from(head[3]);
    let dims: Vec<u64> = read_header_part(&mut src, 4, 4 * rank)?
        .chunks_exact(4)
        .map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    let header_len = 4 + 4 * rank;

    let payload = dims
        .iter()
        .try_fold(size, |acc, &d| acc.checked_mul(d))
        .filter(|&b| usize::try_from(b).is_ok());
    let too_large = |bytes| DataError::TooLarge {
        path: path.clone(),
        dims: dims.clone(),
        bytes,
        file_len: src.file_len,
    };
    let Some(payload) = payload else {
        return Err(too_large(None));
    };
    let capacity = if src.compressed {
        src.file_len.saturating_mul(MAX_DEFLATE_RATIO)
    } else {
        src.file_len.saturating_sub(header_len)
    };
    if src.compressed && payload > capacity {
        return Err(too_large(Some(payload)));
    }
    if !src.compressed && payload > capacity {
        // The file is shorter than promised; say so without reading it.
        return Err(DataError::Truncated {
            path,
            offset: src.file_len,
            expected: header_len + payload,
        });
    }

    let mut bytes = Vec::new();
    src.read_up_to(payload, &mut bytes)?;
    if (bytes.len() as u64) < payload {
        return Err(DataError::Truncated {
            path,
            offset: header_len + bytes.len() as u64,
            expected: header_len + payload,
        });
    }
    let mut extra = Vec::new();
    src.read_up_to(1, &mut extra)?;
    if !extra.is_empty() {
        return Err(DataError::TrailingBytes {
            path,
            dims,
            expected: header_len + payload,
        });
    }
    Ok(IdxArray {
        dims: dims.iter().map(|&d| d as usize).collect(),
        data: decode(code, &bytes),
    })
}

/// Reads an IDX file as a float tensor of its dimensions, values unscaled (MNIST's bytes
/// stay 0..=255). Errors as [`read_idx`].
pub fn read_idx_tensor<T: Float>(path: impl AsRef<Path>) -> Result<Tensor<T>, DataError> {
    read_idx(path).map(|array| array.to_tensor())
}

/// Reads an IDX labels file: one dimension of non-negative integers, each below
/// `classes` when that is given.
///
/// Errors as [`read_idx`], and [`DataError::Shape`] for a file of another rank or of
/// floats, [`DataError::LabelOutOfRange`] naming the first bad record.
pub fn read_idx_labels(
    path: impl AsRef<Path>,
    classes: Option<usize>,
) -> Result<Tensor<usize>, DataError> {
    let path = path.as_ref();
    let array = read_idx(path)?;
    let shape_error = |found: String| DataError::Shape {
        path: path.to_path_buf(),
        expected: "a labels file holds one dimension of integers".to_string(),
        found,
    };
    if array.dims.len() != 1 {
        return Err(shape_error(format!("it has dimensions {:?}", array.dims)));
    }
    let values = array
        .data
        .to_integers()
        .ok_or_else(|| shape_error(format!("it holds {}", array.data.type_name())))?;
    let labels = values
        .iter()
        .enumerate()
        .map(|(record, &v)| {
            usize::try_from(v)
                .ok()
                .filter(|&label| classes.is_none_or(|c| label < c))
                .ok_or_else(|| DataError::LabelOutOfRange {
                    path: path.to_path_buf(),
                    at: Location::Record(record),
                    label: v.to_string(),
                    classes,
                })
        })
        .collect::<Result<Vec<usize>, DataError>>()?;
    let n = labels.len();
    Ok(Tensor::from_vec(labels, &[n]))
}

/// Reads a pair of IDX files — examples and their labels, as MNIST ships them — into a
/// dataset, checking that the counts agree. Features keep the file's dimensions and
/// values; labels are checked against `classes` as in [`read_idx_labels`].
pub fn read_idx_dataset<T: Float>(
    examples: impl AsRef<Path>,
    labels: impl AsRef<Path>,
    classes: Option<usize>,
) -> Result<TensorDataset<T, usize>, DataError> {
    let features = read_idx_tensor::<T>(examples.as_ref())?;
    let labels_path = labels.as_ref();
    let targets = read_idx_labels(labels_path, classes)?;
    if features.rank() == 0 || features.dim(0) != targets.dim(0) {
        return Err(DataError::Shape {
            path: labels_path.to_path_buf(),
            expected: format!(
                "{} holds examples of shape {:?}, one per label",
                examples.as_ref().display(),
                features.shape()
            ),
            found: format!("it holds {} labels", targets.dim(0)),
        });
    }
    Ok(TensorDataset::new(features, targets))
}
