//! `hello`: `square` is x², `double` is its derivative, taken by the tape.

use super::unknown_function;
use crate::gradbench::input::{number, EvalError};
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{grad, Tape};
use engram_tensor::Tensor;
use serde_json::Value;

fn square(x: f64) -> f64 {
    x * x
}

fn double(x: f64) -> f64 {
    let tape = Tape::<f64>::new();
    let v = tape.leaf(Tensor::scalar(x));
    grad(&v.square(), &[&v])[0].item()
}

pub fn prepare(function: &str, input: &Value) -> Result<Box<dyn Workload>, EvalError> {
    let x = number(input, "input")?;
    let f: fn(&f64) -> Result<f64, EvalError> = match function {
        "square" => |x| Ok(square(*x)),
        "double" => |x| Ok(double(*x)),
        other => return Err(unknown_function("hello", other, &["square", "double"])),
    };
    Ok(Job::boxed(x, f, |y| Value::from(*y)))
}
