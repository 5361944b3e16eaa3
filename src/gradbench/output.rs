//! Results as JSON. JSON has no NaN or infinity (serde_json would write `null`), so every
//! encoder checks its numbers and names the output and the element that is not finite.

use super::input::EvalError;
use engram_tensor::Tensor;
use serde_json::Value;

/// A number, named `what` in the error when it is not finite.
pub fn number(what: &str, v: f64) -> Result<Value, EvalError> {
    finite(what, &[v], |_| String::new())?;
    Ok(Value::from(v))
}

/// A flat list of numbers.
pub fn list(what: &str, values: &[f64]) -> Result<Value, EvalError> {
    finite(what, values, |i| format!("[{i}]"))?;
    Ok(Value::from(values.to_vec()))
}

/// A tensor as a JSON number (rank 0), list (rank 1) or list of rows (rank 2).
pub fn tensor(what: &str, t: &Tensor<f64>) -> Result<Value, EvalError> {
    let data = t.to_vec();
    match t.rank() {
        0 => number(what, data[0]),
        1 => list(what, &data),
        _ => {
            let cols = *t.shape().last().expect("rank ≥ 2");
            finite(what, &data, |i| format!("[{}][{}]", i / cols, i % cols))?;
            Ok(Value::from(
                data.chunks(cols.max(1))
                    .map(|c| Value::from(c.to_vec()))
                    .collect::<Vec<_>>(),
            ))
        }
    }
}

fn finite(what: &str, values: &[f64], at: impl Fn(usize) -> String) -> Result<(), EvalError> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(EvalError::NotFinite(format!(
            "output `{what}{}` is {}",
            at(i),
            values[i]
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_finite_element_is_named_with_its_position() {
        let t = Tensor::from_vec(vec![1.0, 2.0, 3.0, f64::NAN], &[2, 2]);
        let e = tensor("dir", &t).unwrap_err().to_string();
        assert_eq!(e, "not finite: output `dir[1][1]` is NaN");
        assert!(number("x", f64::INFINITY).is_err());
        assert_eq!(list("y", &[1.0]).unwrap(), Value::from(vec![1.0]));
    }
}
