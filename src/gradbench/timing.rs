//! The repetition rule every eval shares: run at least `min_runs` times and at least
//! `min_seconds` in total, timing only the computation; answer with the last output.

use super::input::EvalError;
use serde_json::{json, Value};
use std::time::Instant;

/// One prepared computation: inputs already converted, ready to run repeatedly.
pub trait Workload {
    /// Computes, keeping the result for [`Workload::output`].
    fn run(&mut self) -> Result<(), EvalError>;
    /// The last result as the eval expects it.
    fn output(&self) -> Value;
}

/// A workload from a state and a function of it, with the function's JSON encoding.
pub struct Job<S, R> {
    state: S,
    compute: fn(&S) -> Result<R, EvalError>,
    encode: fn(&R) -> Value,
    last: Option<R>,
}

impl<S, R> Job<S, R> {
    /// Wraps a state and how to compute and encode its result.
    pub fn boxed(
        state: S,
        compute: fn(&S) -> Result<R, EvalError>,
        encode: fn(&R) -> Value,
    ) -> Box<dyn Workload>
    where
        S: 'static,
        R: 'static,
    {
        Box::new(Job {
            state,
            compute,
            encode,
            last: None,
        })
    }
}

impl<S, R> Workload for Job<S, R> {
    fn run(&mut self) -> Result<(), EvalError> {
        self.last = Some((self.compute)(&self.state)?);
        Ok(())
    }
    fn output(&self) -> Value {
        self.last.as_ref().map(self.encode).unwrap_or(Value::Null)
    }
}

/// `min_runs` and `min_seconds` from an input (defaults 1 and 0: one run).
pub fn repetitions(input: &Value) -> (usize, f64) {
    let runs = input
        .get("min_runs")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1) as usize;
    let seconds = input
        .get("min_seconds")
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
        .max(0.0);
    (runs, seconds)
}

/// Runs the workload by the repetition rule; returns the output and the timings entries.
pub fn timed(
    work: &mut dyn Workload,
    prepare_ns: u128,
    (min_runs, min_seconds): (usize, f64),
) -> Result<(Value, Vec<Value>), EvalError> {
    let mut timings = vec![json!({"name": "prepare", "nanoseconds": prepare_ns as u64})];
    let mut total = 0.0;
    let mut runs = 0;
    while runs < min_runs || total < min_seconds {
        let start = Instant::now();
        work.run()?;
        let elapsed = start.elapsed();
        total += elapsed.as_secs_f64();
        runs += 1;
        timings.push(json!({"name": "evaluate", "nanoseconds": elapsed.as_nanos() as u64}));
    }
    Ok((work.output(), timings))
}
