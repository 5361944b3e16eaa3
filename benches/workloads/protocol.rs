//! The line protocol of `tools/compare/run`'s timing workers, shared by Engram's
//! (`benches/compare_worker.rs`) and candle's (`tools/compare/candle`, which includes this
//! file by path); the Python workers speak it through `tools/compare/serve.py`.
//!
//! After start a worker prints one JSON line `{"tool", "threads", ...}`. For each request
//! line `FIGURE BUDGET_SECONDS MIN_REPS` it runs the figure (set up and warmed up on first
//! use) until both the budget is spent and `MIN_REPS` are done, and prints
//! `{"figure", "seconds": [one per rep], "work"}`, where `work` is the figure's size (flops
//! for SGEMM, ops for the tape chain, 1 for a training step), or `{"error"}`.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

/// Untimed runs after a figure is set up: first-touch page faults, caches, lazy buffers.
const WARMUP_RUNS: usize = 3;

/// A figure ready to run: `run` does one repetition.
pub struct Figure {
    /// One repetition; an error ends the request with that message.
    pub run: Box<dyn FnMut() -> Result<(), String>>,
    /// The work in one repetition (flops, ops, or 1).
    pub work: f64,
}

/// Runs `figure` until `budget` is spent and at least `min_reps` are done; each rep's seconds.
fn time(figure: &mut Figure, budget: Duration, min_reps: usize) -> Result<Vec<f64>, String> {
    let started = Instant::now();
    let mut seconds = Vec::new();
    while seconds.len() < min_reps || started.elapsed() < budget {
        let rep = Instant::now();
        (figure.run)()?;
        seconds.push(rep.elapsed().as_secs_f64());
    }
    Ok(seconds)
}

/// One request line: the figure's name, the time budget and the least number of reps.
fn parse_request(line: &str) -> Option<(&str, Duration, usize)> {
    let mut words = line.split_whitespace();
    let name = words.next()?;
    let budget = Duration::try_from_secs_f64(words.next()?.parse().ok()?).ok()?;
    let min_reps = words.next()?.parse().ok()?;
    words.next().is_none().then_some((name, budget, min_reps))
}

/// The reply to one request line; figures are set up by `make` on first use and kept.
fn answer(
    ready: &mut HashMap<String, Figure>,
    make: &mut impl FnMut(&str) -> Result<Option<Figure>, String>,
    line: &str,
) -> Result<serde_json::Value, String> {
    let (name, budget, min_reps) =
        parse_request(line).ok_or_else(|| format!("bad request {line:?}"))?;
    if !ready.contains_key(name) {
        let mut fresh = make(name)?.ok_or_else(|| format!("unknown figure {name:?}"))?;
        for _ in 0..WARMUP_RUNS {
            (fresh.run)()?;
        }
        ready.insert(name.to_string(), fresh);
    }
    let figure = ready.get_mut(name).expect("inserted above");
    Ok(serde_json::json!({
        "figure": name,
        "seconds": time(figure, budget, min_reps)?,
        "work": figure.work,
    }))
}

/// Prints `hello`, then answers requests from stdin until it closes.
pub fn serve(
    hello: serde_json::Value,
    mut make: impl FnMut(&str) -> Result<Option<Figure>, String>,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{hello}")?;
    out.flush()?;
    let mut ready = HashMap::new();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let reply = answer(&mut ready, &mut make, &line)
            .unwrap_or_else(|error| serde_json::json!({ "error": error }));
        writeln!(out, "{reply}")?;
        out.flush()?;
    }
    Ok(())
}
