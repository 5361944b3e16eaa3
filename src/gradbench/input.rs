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

/// A tensor as a JSON number (scalar), list, or list of lists, by its rank.
pub fn to_json(t: &Tensor<f64>) -> Value {
    let data = t.to_vec();
    match t.rank() {
        0 => Value::from(data[0]),
        1 => Value::from(data),
        _ => {
            let cols = *t.shape().last().unwrap();
            Value::from(
                data.chunks(cols.max(1))
                    .map(|c| Value::from(c.to_vec()))
                    .collect::<Vec<_>>(),
            )
        }
    }
}
