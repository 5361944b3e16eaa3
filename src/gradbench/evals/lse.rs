//! `lse`: log-sum-exp from primitives, `max(x) + ln Σ e^(x - max(x))`, and its gradient.

use super::unknown_function;
use crate::gradbench::input::{field, require, vector, EvalError};
use crate::gradbench::output;
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{grad, Tape, Var};
use engram_tensor::Tensor;
use serde_json::Value;

fn primal(x: &Var<f64>) -> Var<f64> {
    let top = x.max();
    x.sub(&top).exp().sum().ln().add(&top)
}

pub fn prepare(function: &str, input: &Value) -> Result<Box<dyn Workload>, EvalError> {
    let x = vector(field(input, "x")?, "x")?;
    require(!x.is_empty(), || "`x` must not be empty".into())?;
    let n = x.len();
    let x = Tensor::from_vec(x, &[n]);
    match function {
        "primal" => Ok(Job::boxed(
            x,
            |x| Ok(primal(&Var::constant(x.clone())).value().clone()),
            |y| output::tensor("primal", y),
        )),
        "gradient" => Ok(Job::boxed(
            x,
            |x| {
                let tape = Tape::new();
                let v = tape.leaf(x.clone());
                Ok(grad(&primal(&v), &[&v]).remove(0))
            },
            |g| output::tensor("gradient", g),
        )),
        other => Err(unknown_function("lse", other, &["primal", "gradient"])),
    }
}
