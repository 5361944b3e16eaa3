//! The message loop: read a line, answer it, flush; never exit on a bad message.

use super::evals;
use super::input::EvalError;
use super::timing::{repetitions, timed};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::time::Instant;

/// Answers one line of input. Whatever the line holds, the answer is one JSON object; it
/// carries the message's `id` when there is one (`null` when the line is not JSON).
fn respond(line: &str) -> Value {
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
    let reps = repetitions(input)?;
    let start = Instant::now();
    let mut work = evals::prepare(module, function, input)?;
    let prepare_ns = start.elapsed().as_nanos();
    timed(work.as_mut(), prepare_ns, reps)
}

/// Serves the protocol until end of input. Lines are read as bytes, so a line that is not
/// UTF-8 is answered with an error like any other bad line. A panic inside one evaluation
/// (a bug) is caught and answered as a failure, so the tool keeps serving.
pub fn serve(mut input: impl BufRead, mut output: impl Write) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        if input.read_until(b'\n', &mut bytes)? == 0 {
            return Ok(());
        }
        let answer = match std::str::from_utf8(&bytes) {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => answer_catching_panics(line),
            Err(e) => not_utf8(&bytes, &e),
        };
        writeln!(output, "{answer}")?;
        output.flush()?;
    }
}

fn answer_catching_panics(line: &str) -> Value {
    std::panic::catch_unwind(|| respond(line)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        json!({"id": id_of(line), "success": false, "error": format!("internal error: {why}")})
    })
}

/// The `id` of a message, if the line is a JSON object that has one.
fn id_of(line: &str) -> Value {
    serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|m| m.get("id").cloned())
        .unwrap_or(Value::Null)
}

/// The answer to a line that is not UTF-8. Its `id` is still read when the bad bytes lie
/// elsewhere (inside a string), so the eval waiting on that id gets its reply.
fn not_utf8(bytes: &[u8], e: &std::str::Utf8Error) -> Value {
    let id = id_of(&String::from_utf8_lossy(bytes));
    json!({
        "id": id,
        "success": false,
        "error": format!("the message is not valid UTF-8 (bad byte at offset {})", e.valid_up_to())
    })
}
