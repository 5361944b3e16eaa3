//! One module per GradBench eval; this file only routes requests to them.

mod ba;
mod descent;
mod det;
mod gmm;
mod hello;
mod ht;
mod kmeans;
mod llsq;
mod lse;
mod lstm;
mod ode;
mod particle;
mod saddle;

use super::input::EvalError;
use super::timing::Workload;
use serde_json::Value;

/// The modules this tool implements.
const MODULES: &[&str] = &[
    "hello", "lse", "llsq", "det", "ode", "gmm", "lstm", "kmeans",
];

/// True when `module` is implemented.
pub fn supports(module: &str) -> bool {
    MODULES.contains(&module)
}

/// Converts the input and returns the computation to time.
pub fn prepare(
    module: &str,
    function: &str,
    input: &Value,
) -> Result<Box<dyn Workload>, EvalError> {
    match module {
        "hello" => hello::prepare(function, input),
        "lse" => lse::prepare(function, input),
        "llsq" => llsq::prepare(function, input),
        "det" => det::prepare(function, input),
        "ode" => ode::prepare(function, input),
        "gmm" => gmm::prepare(function, input),
        "lstm" => lstm::prepare(function, input),
        "kmeans" => kmeans::prepare(function, input),
        "saddle" => saddle::prepare(function, input),
        "ba" => ba::prepare(function, input),
        "ht" => ht::prepare(function, input),
        "particle" => particle::prepare(function, input),
        other => Err(EvalError::Unsupported(format!(
            "engram does not implement module `{other}`"
        ))),
    }
}

/// The error for a function a module does not have.
fn unknown_function(module: &str, function: &str, known: &[&str]) -> EvalError {
    EvalError::Unsupported(format!(
        "module `{module}` has no function `{function}` (it has: {})",
        known.join(", ")
    ))
}
