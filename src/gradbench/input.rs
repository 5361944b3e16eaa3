//! Reading an eval's JSON input into numbers and tensors, with typed errors: nothing an
//! eval sends can crash the tool.

use engram_tensor::Tensor;
use serde_json::Value;

/// Why a request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A field is missing or has the wrong type or shape.
    #[error("bad input: {0}")]
    BadInput(String),
    /// The eval or function is not implemented.
    #[error("{0}")]
    Unsupported(String),
    /// The request asks for more memory or work than this machine can give.
    #[error("too large: {0}")]
    TooLarge(String),
    /// A result is NaN or infinite, which JSON cannot carry.
    #[error("not finite: {0}")]
    NotFinite(String),
}

fn bad(msg: impl Into<String>) -> EvalError {
    EvalError::BadInput(msg.into())
}

/// A field of an object.
pub fn field<'a>(input: &'a Value, name: &str) -> Result<&'a Value, EvalError> {
    input
        .get(name)
        .ok_or_else(|| bad(format!("missing field `{name}`")))
}

/// A number.
pub fn number(v: &Value, what: &str) -> Result<f64, EvalError> {
    v.as_f64()
        .ok_or_else(|| bad(format!("`{what}` must be a number")))
}

/// A non-negative integer.
pub fn count(v: &Value, what: &str) -> Result<usize, EvalError> {
    v.as_u64()
        .map(|u| u as usize)
        .ok_or_else(|| bad(format!("`{what}` must be a non-negative integer")))
}

/// A list of numbers.
pub fn vector(v: &Value, what: &str) -> Result<Vec<f64>, EvalError> {
    let items = v
        .as_array()
        .ok_or_else(|| bad(format!("`{what}` must be an array of numbers")))?;
    items
        .iter()
        .map(|x| {
            x.as_f64()
                .ok_or_else(|| bad(format!("`{what}` must hold only numbers")))
        })
        .collect()
}

/// A list of equal-length lists of numbers, as a `[rows, cols]` tensor.
pub fn matrix(v: &Value, what: &str) -> Result<Tensor<f64>, EvalError> {
    let rows = v
        .as_array()
        .ok_or_else(|| bad(format!("`{what}` must be an array of arrays")))?;
    let mut data = Vec::new();
    let mut cols = None;
    for row in rows {
        let r = vector(row, what)?;
        match cols {
            None => cols = Some(r.len()),
            Some(c) if c != r.len() => {
                return Err(bad(format!(
                    "`{what}` has rows of different lengths ({c} and {})",
                    r.len()
                )))
            }
            _ => {}
        }
        data.extend(r);
    }
    let shape = [rows.len(), cols.unwrap_or(0)];
    Ok(Tensor::from_vec(data, &shape))
}

/// Checks a condition on the input, or says what was expected.
pub fn require(ok: bool, msg: impl FnOnce() -> String) -> Result<(), EvalError> {
    if ok {
        Ok(())
    } else {
        Err(bad(msg()))
    }
}

/// Fails unless `bytes` of working memory can be had now: the request is refused before
/// anything is allocated, rather than the process aborting on a failed allocation.
/// `what` says what the memory is for. The figure is compared with the memory the kernel
/// reports available (`MemAvailable`); where that cannot be read, with 1 TiB, so sizes
/// that no machine has are still refused.
pub fn fits_in_memory(bytes: f64, what: &str) -> Result<(), EvalError> {
    let available = available_memory().unwrap_or(1u64 << 40) as f64;
    if bytes.is_finite() && bytes <= available {
        Ok(())
    } else {
        Err(EvalError::TooLarge(format!(
            "{what} needs about {:.3e} bytes; {:.3e} bytes of memory are available",
            bytes, available
        )))
    }
}

fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The most work one evaluation may ask for, in seconds at [`OPS_PER_SECOND`].
const MAX_WORK_SECONDS: f64 = 3600.0;

/// A generous rate of scalar operations on one core: a request refused by this estimate
/// would take longer than [`MAX_WORK_SECONDS`] on any machine.
const OPS_PER_SECOND: f64 = 1e10;

/// Fails when `ops` scalar operations would run for more than an hour even at a rate no
/// core reaches: a size that asks for that is a mistake, and the eval would wait on it.
pub fn fits_in_time(ops: f64, what: &str) -> Result<(), EvalError> {
    let seconds = ops / OPS_PER_SECOND;
    if seconds.is_finite() && seconds <= MAX_WORK_SECONDS {
        Ok(())
    } else {
        Err(EvalError::TooLarge(format!(
            "{what} needs about {ops:.3e} operations, over {MAX_WORK_SECONDS} s of work"
        )))
    }
}
