//! The message loop: read a line, answer it, flush; never exit on a bad message.

use super::evals;
use super::input::EvalError;
use super::timing::{repetitions, timed};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::time::Instant;

/// Answers one line of input. Whatever the line holds, the answer is one JSON object; it
/// carries the message's `id` when there is one (`null` when the line is not JSON).
pub fn respond(line: &str) -> Value {
    let message: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            return json!({"id": Value::Null, "success": false, "error": format!("malformed JSON: {e}")})
        }
    };
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let kind = message.get("kind").and_then(Value::as_str).unwrap_or("");
    match kind {
        "start" => {
            json!({"id": id, "tool": "engram", "config": {"version": env!("CARGO_PKG_VERSION")}})
        }
        "define" => match message.get("module").and_then(Value::as_str) {
            Some(module) if evals::supports(module) => json!({"id": id, "success": true}),
            Some(module) => {
                json!({"id": id, "success": false, "error": format!("engram does not implement module `{module}`")})
            }
            None => {
                json!({"id": id, "success": false, "error": "a define message needs a string `module`"})
            }
        },
        "evaluate" => match evaluate(&message) {
            Ok((output, timings)) => {
                json!({"id": id, "success": true, "output": output, "timings": timings})
            }
            Err(e) => json!({"id": id, "success": false, "error": e.to_string()}),
        },
        _ => json!({"id": id}),
    }
}

fn evaluate(message: &Value) -> Result<(Value, Vec<Value>), EvalError> {
    let text = |name: &str| {
        message.get(name).and_then(Value::as_str).ok_or_else(|| {
            EvalError::BadInput(format!("an evaluate message needs a string `{name}`"))
        })
    };
    let (module, function) = (text("module")?, text("function")?);
    let input = message
        .get("input")
        .ok_or_else(|| EvalError::BadInput("an evaluate message needs an `input`".into()))?;
    let start = Instant::now();
    let mut work = evals::prepare(module, function, input)?;
    let prepare_ns = start.elapsed().as_nanos();
    timed(work.as_mut(), prepare_ns, repetitions(input))
}

/// Serves the protocol until end of input. A panic inside one evaluation (a bug) is
/// caught and answered as a failure, so the tool keeps serving.
pub fn serve(input: impl BufRead, mut output: impl Write) -> std::io::Result<()> {
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = std::panic::catch_unwind(|| respond(&line)).unwrap_or_else(|panic| {
            let id = serde_json::from_str::<Value>(&line)
                .ok()
                .and_then(|m| m.get("id").cloned())
                .unwrap_or(Value::Null);
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            json!({"id": id, "success": false, "error": format!("internal error: {why}")})
        });
        writeln!(output, "{answer}")?;
        output.flush()?;
    }
    Ok(())
}
