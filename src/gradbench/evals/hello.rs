//! `hello`: `square` is x², `double` is its derivative, taken by the tape.

use super::unknown_function;
use crate::gradbench::input::{number, EvalError};
use crate::gradbench::output;
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
    match function {
        "square" => Ok(Job::boxed(
            x,
            |x| Ok(square(*x)),
            |y| output::number("square", *y),
        )),
        "double" => Ok(Job::boxed(
            x,
            |x| Ok(double(*x)),
            |y| output::number("double", *y),
        )),
        other => Err(unknown_function("hello", other, &["square", "double"])),
    }
}
