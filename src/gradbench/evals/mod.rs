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

/// How a module turns a function name and its input into the computation to time.
type Prepare = fn(&str, &Value) -> Result<Box<dyn Workload>, EvalError>;

/// Every module this tool implements, by the name the evals use. `define` and `evaluate`
/// both read this one table, so a module is either fully served or not at all.
const MODULES: &[(&str, Prepare)] = &[
    ("hello", hello::prepare),
    ("lse", lse::prepare),
    ("llsq", llsq::prepare),
    ("det", det::prepare),
    ("ode", ode::prepare),
    ("gmm", gmm::prepare),
    ("lstm", lstm::prepare),
    ("kmeans", kmeans::prepare),
    ("ba", ba::prepare),
    ("ht", ht::prepare),
    ("saddle", saddle::prepare),
    ("particle", particle::prepare),
];

fn find(module: &str) -> Option<Prepare> {
    MODULES
        .iter()
        .find(|(name, _)| *name == module)
        .map(|&(_, prepare)| prepare)
}

/// True when `module` is implemented.
pub fn supports(module: &str) -> bool {
    find(module).is_some()
}

/// Converts the input and returns the computation to time.
pub fn prepare(
    module: &str,
    function: &str,
    input: &Value,
) -> Result<Box<dyn Workload>, EvalError> {
    let prepare = find(module).ok_or_else(|| {
        EvalError::Unsupported(format!("engram does not implement module `{module}`"))
    })?;
    prepare(function, input)
}

/// The error for a function a module does not have.
fn unknown_function(module: &str, function: &str, known: &[&str]) -> EvalError {
    EvalError::Unsupported(format!(
        "module `{module}` has no function `{function}` (it has: {})",
        known.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_is_served_and_named_once() {
        for (i, (name, _)) in MODULES.iter().enumerate() {
            assert!(supports(name), "{name}");
            assert!(
                MODULES[i + 1..].iter().all(|(other, _)| other != name),
                "{name} is listed twice"
            );
        }
        assert_eq!(MODULES.len(), 12);
    }
}
