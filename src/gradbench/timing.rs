//! The repetition rule every eval shares: run at least `min_runs` times and at least
//! `min_seconds` in total, timing only the computation; answer with the last output.

use super::input::EvalError;
use serde_json::{json, Value};
use std::time::Instant;

/// The most runs one request may ask for. Each run is one entry of the answer's timings
/// list (about 45 bytes of JSON), so this bounds an answer to tens of megabytes; a
/// `min_seconds` that would need more runs than this stops here.
pub const MAX_RUNS: usize = 1_000_000;

/// The longest `min_seconds` one request may ask for: an hour of repetitions.
pub const MAX_SECONDS: f64 = 3600.0;

/// One prepared computation: inputs already converted, ready to run repeatedly.
pub trait Workload {
    /// Computes, keeping the result for [`Workload::output`].
    fn run(&mut self) -> Result<(), EvalError>;
    /// The last result as the eval expects it, or why it cannot be sent (a value that is
    /// not finite has no JSON form). Called after at least one [`Workload::run`].
    fn output(&self) -> Result<Value, EvalError>;
}

/// A workload from a state and a function of it, with the function's JSON encoding.
pub struct Job<S, R> {
    state: S,
    compute: fn(&S) -> Result<R, EvalError>,
    encode: fn(&R) -> Result<Value, EvalError>,
    last: Option<R>,
}

impl<S, R> Job<S, R> {
    /// Wraps a state and how to compute and encode its result.
    pub fn boxed(
        state: S,
        compute: fn(&S) -> Result<R, EvalError>,
        encode: fn(&R) -> Result<Value, EvalError>,
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
    fn output(&self) -> Result<Value, EvalError> {
        // `timed` runs every workload at least once before asking for its output.
        (self.encode)(self.last.as_ref().expect("`run` comes before `output`"))
    }
}

/// `min_runs` and `min_seconds` from an input (defaults 1 and 0: one run), checked
/// against [`MAX_RUNS`] and [`MAX_SECONDS`].
pub fn repetitions(input: &Value) -> Result<(usize, f64), EvalError> {
    let runs = match input.get("min_runs") {
        None => 1,
        Some(v) => {
            let runs = v.as_f64().filter(|r| *r >= 0.0 && r.fract() == 0.0);
            let runs = runs.ok_or_else(|| {
                EvalError::BadInput(format!(
                    "`min_runs` must be a non-negative integer, got {v}"
                ))
            })?;
            if runs > MAX_RUNS as f64 {
                return Err(EvalError::TooLarge(format!(
                    "`min_runs` = {v} exceeds the limit of {MAX_RUNS} runs (one timing entry each)"
                )));
            }
            (runs as usize).max(1)
        }
    };
    let seconds = match input.get("min_seconds") {
        None => 0.0,
        Some(v) => {
            let seconds = v.as_f64().filter(|s| (0.0..=MAX_SECONDS).contains(s));
            seconds.ok_or_else(|| {
                EvalError::BadInput(format!(
                    "`min_seconds` must be a number from 0 to {MAX_SECONDS}, got {v}"
                ))
            })?
        }
    };
    Ok((runs, seconds))
}

/// Runs the workload by the repetition rule; returns the output and the timings entries.
pub fn timed(
    work: &mut dyn Workload,
    prepare_ns: u128,
    (min_runs, min_seconds): (usize, f64),
) -> Result<(Value, Vec<Value>), EvalError> {
    let mut runs_ns = Vec::new();
    let mut total = 0.0;
    while (runs_ns.len() < min_runs || total < min_seconds) && runs_ns.len() < MAX_RUNS {
        let start = Instant::now();
        work.run()?;
        let elapsed = start.elapsed();
        total += elapsed.as_secs_f64();
        runs_ns.push(elapsed.as_nanos() as u64);
    }
    let output = work.output()?;
    let timings = std::iter::once(json!({"name": "prepare", "nanoseconds": prepare_ns as u64}))
        .chain(
            runs_ns
                .into_iter()
                .map(|ns| json!({"name": "evaluate", "nanoseconds": ns})),
        )
        .collect();
    Ok((output, timings))
}
