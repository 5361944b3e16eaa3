//! `engram gradbench` as GradBench runs it: each test starts the real binary, speaks the
//! protocol to it over pipes (`start`, `define`, then `evaluate` and `analysis` for every
//! function, as the Python evals do) and checks each answer independently — by a closed
//! form, a plain-loop reimplementation of the primal, or central differences of the
//! primal served by the tool itself. Inputs have the shapes and fields the official evals
//! send. Bad input of every kind must get an error answer and leave the tool serving.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// A running `engram gradbench`, spoken to one line at a time.
struct Tool {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    module: String,
    next_id: u64,
}

impl Tool {
    /// Starts the tool without sending anything.
    fn spawn() -> Tool {
        Tool::spawn_with_stderr(Stdio::inherit())
    }

    /// Starts the tool with its stderr going to `stderr`.
    fn spawn_with_stderr(stderr: Stdio) -> Tool {
        let mut child = Command::new(env!("CARGO_BIN_EXE_engram"))
            .arg("gradbench")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("the engram binary starts");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Tool {
            child,
            stdin,
            stdout,
            module: String::new(),
            next_id: 0,
        }
    }

    /// Starts the tool and opens an eval as GradBench does: `start`, then `define`.
    fn for_eval(module: &str) -> Tool {
        Tool::open(Tool::spawn(), module)
    }

    /// As [`Tool::for_eval`], keeping what the tool writes to stderr for [`Tool::finish`].
    fn for_eval_keeping_stderr(module: &str) -> Tool {
        Tool::open(Tool::spawn_with_stderr(Stdio::piped()), module)
    }

    /// Ends the session as GradBench does (closes stdin) and returns what the tool wrote
    /// to stderr (empty unless it was started by [`Tool::for_eval_keeping_stderr`]).
    fn finish(mut self) -> String {
        drop(self.stdin.take());
        let mut written = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            // Read to the end: the tool closes it when it exits (checked on drop).
            stderr.read_to_string(&mut written).unwrap();
        }
        written
    }

    fn open(mut tool: Tool, module: &str) -> Tool {
        let started = tool.send(json!({"kind": "start", "eval": module}));
        assert_eq!(started["tool"], "engram", "{started}");
        tool.define(module);
        tool
    }

    /// Defines `module` (which must succeed) and makes it the module of later calls.
    fn define(&mut self, module: &str) {
        let defined = self.send(json!({"kind": "define", "module": module}));
        assert_eq!(defined["success"], true, "define {module}: {defined}");
        self.module = module.to_string();
    }

    /// Sends a message with the next id; returns the answer, which must carry that id.
    fn send(&mut self, mut message: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        message["id"] = json!(id);
        let answer = self.send_line(message.to_string().as_bytes());
        assert_eq!(answer["id"], id, "answer to {message}: {answer}");
        answer
    }

    /// Sends raw bytes as one line and reads one answer line.
    fn send_line(&mut self, line: &[u8]) -> Value {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).unwrap();
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("answer {answer:?}: {e}"))
    }

    /// Evaluates a function of the current module; returns the whole answer. Object inputs
    /// get the repetition fields the evals add (one run, no minimum time).
    fn evaluate(&mut self, function: &str, mut input: Value) -> Value {
        if input.is_object() {
            input["min_runs"] = json!(1);
            input["min_seconds"] = json!(0.0);
        }
        let module = self.module.clone();
        self.send(
            json!({"kind": "evaluate", "module": module, "function": function,
                         "input": input, "description": "test"}),
        )
    }

    /// Evaluates, requires success, sends the `analysis` the eval would, returns the output.
    fn call(&mut self, function: &str, input: Value) -> Value {
        let answer = self.evaluate(function, input);
        assert_eq!(
            answer["success"], true,
            "{}.{function} failed: {answer}",
            self.module
        );
        let of = answer["id"].clone();
        assert_eq!(
            self.send(json!({"kind": "analysis", "of": of, "valid": true})),
            json!({"id": of.as_u64().unwrap() + 1})
        );
        answer["output"].clone()
    }

    /// Evaluates, requires failure, returns the error text.
    fn refused(&mut self, function: &str, input: Value) -> String {
        let answer = self.evaluate(function, input);
        assert_eq!(answer["success"], false, "{answer}");
        answer["error"].as_str().unwrap().to_string()
    }

    /// Checks that the tool still serves a normal request.
    fn still_serves(&mut self) {
        self.define("hello");
        assert_eq!(self.call("square", json!(3.0)), 9.0);
    }
}

impl Drop for Tool {
    fn drop(&mut self) {
        // End of input is how GradBench ends a tool: it must exit by itself.
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        if !std::thread::panicking() {
            assert!(status.success(), "engram gradbench exited with {status}");
        }
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// Central differences of a scalar primal served by the tool, w.r.t. the numbers at
/// `input[key]` (a flat or nested array).
fn numeric_gradient(tool: &mut Tool, function: &str, input: &Value, key: &str) -> Vec<f64> {
    let flat: Vec<f64> = flatten(&input[key]);
    let eps = 1e-6;
    (0..flat.len())
        .map(|i| {
            let mut at = |delta: f64| {
                let mut changed = flat.clone();
                changed[i] += delta;
                let mut inp = input.clone();
                inp[key] = unflatten(&input[key], &changed);
                tool.call(function, inp).as_f64().unwrap()
            };
            (at(eps) - at(-eps)) / (2.0 * eps)
        })
        .collect()
}

fn flatten(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(flatten).collect(),
        other => vec![other.as_f64().unwrap()],
    }
}

fn unflatten(shape_of: &Value, data: &[f64]) -> Value {
    match shape_of {
        Value::Array(rows) if rows.first().is_some_and(Value::is_array) => {
            let width = rows[0].as_array().unwrap().len();
            Value::from(
                data.chunks(width)
                    .map(|c| Value::from(c.to_vec()))
                    .collect::<Vec<_>>(),
            )
        }
        _ => Value::from(data.to_vec()),
    }
}

fn assert_all_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(close(*a, *b, tol), "{what}[{i}]: engram {a}, expected {b}");
    }
}

/// A small input of each module in the form its eval sends, and the functions it defines.
fn small_inputs() -> Vec<(&'static str, &'static [&'static str], Value)> {
    vec![
        ("hello", &["square", "double"], json!(1.5)),
        (
            "lse",
            &["primal", "gradient"],
            json!({"x": [0.5, -1.0, 3.0]}),
        ),
        (
            "llsq",
            &["primal", "gradient"],
            json!({"x": [0.3, -0.2, 0.5], "n": 7}),
        ),
        (
            "det",
            &["primal", "gradient"],
            json!({"A": [1.0, 2.0, 3.0, 4.0], "ell": 2}),
        ),
        (
            "ode",
            &["primal", "gradient"],
            json!({"x": [0.5, 0.25, 2.0], "s": 2}),
        ),
        ("gmm", &["objective", "jacobian"], gmm_input()),
        ("lstm", &["objective", "jacobian"], lstm_input()),
        ("kmeans", &["cost", "dir"], kmeans_input()),
        ("ba", &["objective", "jacobian"], ba_input()),
        ("ht", &["objective", "jacobian"], small_hand()),
        // The nested descents start near their answers, so every mode is tried in little
        // time; the tests below run them from the evals' own starting points.
        (
            "saddle",
            &["ff", "fr", "rf", "rr"],
            json!({"start": [1e-4, 1e-4]}),
        ),
        ("particle", &["ff", "fr", "rf", "rr"], json!({"w": 0.2})),
    ]
}

#[test]
fn every_module_is_defined_and_every_function_answers() {
    let modules = small_inputs();
    assert_eq!(modules.len(), 12);
    for (module, functions, input) in modules {
        // A fresh tool per eval, as `gradbench run` starts one.
        let mut tool = Tool::for_eval_keeping_stderr(module);
        for function in functions {
            let answer = tool.evaluate(function, input.clone());
            assert_eq!(answer["success"], true, "{module}.{function}: {answer}");
            let runs = answer["timings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["name"] == "evaluate" && t["nanoseconds"].is_u64())
                .count();
            assert_eq!(runs, 1, "{module}.{function}: one timed run");
            let of = answer["id"].as_u64().unwrap();
            let analysis = json!({"kind": "analysis", "of": of, "valid": true});
            assert_eq!(tool.send(analysis), json!({"id": of + 1}));
        }
        // Nothing for the harness's logs: no warnings (the tape's growth check once
        // reported saddle's and particle's nested descents as leaks).
        assert_eq!(tool.finish(), "", "{module} wrote to stderr");
    }
}

#[test]
fn protocol_answers_every_kind_with_its_id() {
    let mut tool = Tool::spawn();
    let started = tool.send(json!({"kind": "start", "eval": "lse", "config": {"n": [1]}}));
    assert_eq!(started["tool"], "engram");
    let no = tool.send(json!({"kind": "define", "module": "fft"}));
    assert_eq!(no["success"], false);
    assert!(no["error"].as_str().unwrap().contains("`fft`"), "{no}");
    let analysis = tool.send(json!({"kind": "analysis", "of": 1, "valid": false, "error": "x"}));
    assert_eq!(analysis, json!({"id": 2}));
    assert_eq!(tool.send(json!({"kind": "mystery"})), json!({"id": 3}));
    tool.still_serves();
}

#[test]
fn malformed_messages_get_errors_and_the_tool_keeps_serving() {
    let mut tool = Tool::spawn();
    let broken = tool.send_line(b"{not json");
    assert_eq!(
        (broken["id"].clone(), broken["success"].clone()),
        (Value::Null, json!(false))
    );
    assert!(broken["error"].as_str().unwrap().contains("malformed JSON"));
    for (line, needle) in [
        (
            r#"{"id":5,"kind":"evaluate","module":"nope","function":"f","input":{}}"#,
            "does not implement module",
        ),
        (
            r#"{"id":5,"kind":"evaluate","module":"lse","function":"hessian","input":{"x":[1]}}"#,
            "has no function `hessian`",
        ),
        (
            r#"{"id":5,"kind":"evaluate","module":"lse","function":"primal","input":{"y":[1]}}"#,
            "missing field `x`",
        ),
        (
            r#"{"id":5,"kind":"evaluate","module":"det","function":"primal","input":{"A":[1,2,3],"ell":2}}"#,
            "must hold ell²",
        ),
        (
            r#"{"id":5,"kind":"evaluate","module":"kmeans","function":"cost","input":{"points":[[1,2],[3]],"centroids":[[0,0]]}}"#,
            "rows of different lengths",
        ),
        (
            r#"{"id":5,"kind":"evaluate","module":"gmm","function":"objective","input":{"d":2}}"#,
            "missing field",
        ),
        (
            r#"{"id":5,"kind":"evaluate","module":"lse"}"#,
            "needs a string `function`",
        ),
        (
            r#"{"id":5,"kind":"evaluate","module":"lse","function":"primal","input":{"x":[1],"min_runs":-2}}"#,
            "`min_runs` must be a non-negative integer",
        ),
    ] {
        let answer = tool.send_line(line.as_bytes());
        assert_eq!(answer["id"], 5, "{line}");
        assert_eq!(answer["success"], false, "{line}");
        assert!(
            answer["error"].as_str().unwrap().contains(needle),
            "{line}: {answer}"
        );
    }
    tool.still_serves();
}

/// Found by the protocol fuzzer (`fuzz/`): an `id` too long for a u64 came back as a
/// different number. The default JSON parser may round such a number one ulp off, and
/// the reply printed that value; parsed correctly rounded, the id survives the trip.
#[test]
fn an_id_too_long_for_an_integer_comes_back_as_the_number_sent() {
    let mut tool = Tool::spawn();
    let id = "3333333333333333333333333333333333333333333333333333333333333333333333333333332";
    let line = format!(
        r#"{{"id":{id},"kind":"evaluate","module":"hello","function":"square","input":1.5}}"#
    );
    let answer = tool.send_line(line.as_bytes());
    // Rust's own `parse` rounds correctly: it is the reference.
    let sent: f64 = id.parse().unwrap();
    assert_eq!(answer["id"].as_f64(), Some(sent), "{answer}");
    assert_eq!(answer["output"], 2.25, "{answer}");
    tool.still_serves();
}

#[test]
fn a_line_of_invalid_utf8_is_answered_and_the_next_served() {
    let mut tool = Tool::spawn();
    let answer = tool.send_line(b"{\"id\":0,\"kind\":\"define\",\"module\":\"l\xffse\"}");
    assert_eq!(answer["id"], 0, "the id is still read: {answer}");
    assert_eq!(answer["success"], false);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("not valid UTF-8"),
        "{answer}"
    );
    let garbage = tool.send_line(b"\xfe\xfe\xfe");
    assert_eq!(
        (garbage["id"].clone(), garbage["success"].clone()),
        (Value::Null, json!(false))
    );
    tool.next_id = 1;
    tool.still_serves();
}

#[test]
fn evaluate_repeats_for_min_runs_and_reports_each_run() {
    let mut tool = Tool::for_eval("lse");
    let msg = json!({"kind": "evaluate", "module": "lse", "function": "primal",
                     "input": {"x": [1.0, 2.0], "min_runs": 5, "min_seconds": 0.0}});
    let answer = tool.send(msg);
    let timings = answer["timings"].as_array().unwrap();
    let runs = timings.iter().filter(|t| t["name"] == "evaluate").count();
    assert_eq!(runs, 5);
    assert_eq!(
        timings[0]["name"], "prepare",
        "input conversion is reported apart"
    );
}

#[test]
fn absurd_repetition_requests_are_refused() {
    let mut tool = Tool::for_eval("lse");
    for (runs, seconds) in [
        (json!(1_000_000_000_000_000u64), json!(1.0)),
        (json!(1e15), json!(1.0)),
        (json!(1), json!(1e15)),
    ] {
        let msg = json!({"kind": "evaluate", "module": "lse", "function": "primal",
                         "input": {"x": [1.0], "min_runs": runs, "min_seconds": seconds}});
        let answer = tool.send(msg);
        assert_eq!(answer["success"], false, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("min_"),
            "{answer}"
        );
    }
    tool.still_serves();
}

#[test]
fn sizes_that_ask_for_terabytes_are_refused_before_allocating() {
    let huge = 1_000_000_000_000u64;
    let mut tool = Tool::for_eval("llsq");
    for function in ["primal", "gradient"] {
        let e = tool.refused(function, json!({"x": [0.1, 0.2], "n": huge}));
        assert!(
            e.contains("too large") && e.contains("`n`"),
            "llsq {function}: {e}"
        );
    }
    tool.define("ba");
    let mut input = ba_input();
    input["p"] = json!(huge);
    for function in ["objective", "jacobian"] {
        let e = tool.refused(function, input.clone());
        assert!(
            e.contains("too large") && e.contains("`p`"),
            "ba {function}: {e}"
        );
    }
    tool.define("ode");
    for function in ["primal", "gradient"] {
        let e = tool.refused(function, json!({"x": [0.5, 0.5], "s": huge}));
        assert!(
            e.contains("too large") && e.contains("`s`"),
            "ode {function}: {e}"
        );
    }
    tool.still_serves();
}

#[test]
fn a_particle_that_never_lands_is_refused() {
    // With the moving charge far above, only the charge at (10, 0) acts: it pushes the
    // particle up and away, so it never crosses y = 0.
    let mut tool = Tool::for_eval("particle");
    for function in ["rr", "ff"] {
        let e = tool.refused(function, json!({"w": -1e6}));
        assert!(
            e.contains("never lands") || e.contains("did not land"),
            "{function}: {e}"
        );
    }
    tool.still_serves();
}

#[test]
fn non_finite_results_are_errors_that_name_the_output() {
    let mut tool = Tool::for_eval("hello");
    let e = tool.refused("square", json!(1e308));
    assert!(e.contains("not finite") && e.contains("inf"), "{e}");
    tool.define("kmeans");
    // The second centroid is nobody's nearest: its cluster is empty and dir is 0/0.
    let empty =
        json!({"points": [[0.0, 0.0], [1.0, 0.0]], "centroids": [[0.5, 0.0], [50.0, 50.0]]});
    let e = tool.refused("dir", empty);
    assert!(e.contains("not finite") && e.contains("`dir[1]"), "{e}");
    tool.define("ode");
    for function in ["primal", "gradient"] {
        let e = tool.refused(function, json!({"x": [1e200, 1e200, 1e200], "s": 10}));
        assert!(
            e.contains("not finite") && e.contains(&format!("`{function}[")),
            "{e}"
        );
    }
    tool.still_serves();
}

#[test]
fn hello_squares_and_differentiates() {
    let mut tool = Tool::for_eval("hello");
    assert_eq!(tool.call("square", json!(3.0)), 9.0);
    assert_eq!(tool.call("double", json!(3.0)), 6.0);
}

#[test]
fn lse_matches_closed_form_and_softmax() {
    let mut tool = Tool::for_eval("lse");
    let x = vec![0.5, -1.0, 3.0, 2.5, -0.2];
    let m = 3.0;
    let s: f64 = x.iter().map(|v: &f64| (v - m).exp()).sum();
    assert!(close(
        tool.call("primal", json!({"x": x})).as_f64().unwrap(),
        m + s.ln(),
        1e-14
    ));
    let softmax: Vec<f64> = x.iter().map(|v| (v - m).exp() / s).collect();
    assert_all_close(
        &floats(&tool.call("gradient", json!({"x": x}))),
        &softmax,
        1e-14,
        "lse gradient",
    );
}

#[test]
fn llsq_matches_loops_and_finite_differences() {
    let mut tool = Tool::for_eval("llsq");
    let input = json!({"x": [0.3, -0.2, 0.5, 0.1], "n": 9});
    let (x, n) = (floats(&input["x"]), 9usize);
    let mut expected = 0.0;
    for i in 0..n {
        let t = -1.0 + i as f64 * 2.0 / (n as f64 - 1.0);
        let mut r = if t > 0.0 {
            1.0
        } else if t < 0.0 {
            -1.0
        } else {
            0.0
        };
        for (j, xj) in x.iter().enumerate() {
            r -= xj * t.powi(j as i32);
        }
        expected += r * r;
    }
    assert!(close(
        tool.call("primal", input.clone()).as_f64().unwrap(),
        expected / 2.0,
        1e-14
    ));
    let numeric = numeric_gradient(&mut tool, "primal", &input, "x");
    assert_all_close(
        &floats(&tool.call("gradient", input)),
        &numeric,
        1e-7,
        "llsq gradient",
    );
}

#[test]
fn det_matches_triangular_closed_form_and_finite_differences() {
    let mut tool = Tool::for_eval("det");
    let tri = json!({"ell": 4, "A": [2.0, 0.0, 0.0, 0.0, 1.0, 3.0, 0.0, 0.0, 4.0, 5.0, -1.0, 0.0, 6.0, 7.0, 8.0, 0.5]});
    assert!(close(
        tool.call("primal", tri).as_f64().unwrap(),
        -3.0,
        1e-14
    ));
    let input = json!({"ell": 5, "A": (0..25).map(|i| ((i * 37 % 11) as f64 - 5.0) / 3.0).collect::<Vec<_>>()});
    let numeric = numeric_gradient(&mut tool, "primal", &input, "A");
    assert_all_close(
        &floats(&tool.call("gradient", input)),
        &numeric,
        1e-7,
        "det gradient",
    );
}

#[test]
fn ode_matches_exact_polynomial_solution() {
    let mut tool = Tool::for_eval("ode");
    // y_i(t) = x_0⋯x_i t^(i+1)/(i+1)!: degree ≤ 4, so RK4 is exact for n = 4.
    let x = [0.7, 1.3, -0.4, 2.0];
    let input = json!({"x": x, "s": 3});
    let mut expected = Vec::new();
    let (mut prod, mut fact) = (1.0, 1.0);
    for (i, xi) in x.iter().enumerate() {
        prod *= xi;
        fact *= (i + 1) as f64;
        expected.push(prod * 2f64.powi(i as i32 + 1) / fact);
    }
    assert_all_close(
        &floats(&tool.call("primal", input.clone())),
        &expected,
        1e-13,
        "ode primal",
    );
    let last = expected[3];
    let gradient: Vec<f64> = x.iter().map(|xi| last / xi).collect();
    assert_all_close(
        &floats(&tool.call("gradient", input)),
        &gradient,
        1e-13,
        "ode gradient",
    );
}

fn kmeans_input() -> Value {
    json!({
        "points": [[0.0, 0.1], [0.2, -0.1], [5.0, 5.2], [4.8, 5.1], [5.3, 4.7], [0.1, 0.3]],
        "centroids": [[0.5, 0.5], [4.0, 4.5]]
    })
}

#[test]
fn kmeans_cost_and_dir_match_closed_form() {
    let mut tool = Tool::for_eval("kmeans");
    let input = kmeans_input();
    let points: Vec<Vec<f64>> = input["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    let cents: Vec<Vec<f64>> = input["centroids"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    let d2 = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>();
    let cost: f64 = points
        .iter()
        .map(|p| cents.iter().map(|c| d2(p, c)).fold(f64::INFINITY, f64::min))
        .sum();
    assert!(close(
        tool.call("cost", input.clone()).as_f64().unwrap(),
        cost,
        1e-13
    ));
    // dir_j = C_j - mean of the points nearest to C_j.
    let dir: Vec<Vec<f64>> = tool
        .call("dir", input)
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    for (j, c) in cents.iter().enumerate() {
        let members: Vec<&Vec<f64>> = points
            .iter()
            .filter(|p| (0..cents.len()).all(|o| d2(p, &cents[j]) <= d2(p, &cents[o])))
            .collect();
        for k in 0..c.len() {
            let mean = members.iter().map(|p| p[k]).sum::<f64>() / members.len() as f64;
            assert!(
                close(dir[j][k], c[k] - mean, 1e-12),
                "dir[{j}][{k}] = {}, expected {}",
                dir[j][k],
                c[k] - mean
            );
        }
    }
}

fn gmm_input() -> Value {
    json!({
        "d": 3, "k": 2, "n": 4, "m": 1, "gamma": 1.5,
        "x": [[0.1, -0.4, 0.8], [1.2, 0.3, -0.5], [-0.7, 0.9, 0.2], [0.4, 0.4, -1.1]],
        "alpha": [0.3, -0.2],
        "mu": [[0.0, 0.1, 0.2], [0.5, -0.3, 0.4]],
        "q": [[0.1, -0.2, 0.05], [0.2, 0.1, -0.1]],
        "l": [[0.3, -0.1, 0.2], [-0.2, 0.4, 0.1]]
    })
}

/// The GMM objective in plain loops, following the formula (not Engram's code).
fn gmm_by_loops(input: &Value) -> f64 {
    let get = |k: &str| input[k].as_u64().unwrap() as usize;
    let (d, k, n) = (get("d"), get("k"), get("n"));
    let rows = |key: &str| {
        input[key]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect::<Vec<_>>()
    };
    let (x, mu, q, l) = (rows("x"), rows("mu"), rows("q"), rows("l"));
    let alpha = floats(&input["alpha"]);
    let (gamma, m) = (
        input["gamma"].as_f64().unwrap(),
        input["m"].as_f64().unwrap(),
    );
    let lse = |v: &[f64]| {
        let mx = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        mx + v.iter().map(|a| (a - mx).exp()).sum::<f64>().ln()
    };
    let mut slse = 0.0;
    for xi in &x {
        let mut main = vec![0.0; k];
        for c in 0..k {
            let xc: Vec<f64> = (0..d).map(|j| xi[j] - mu[c][j]).collect();
            let mut qx: Vec<f64> = (0..d).map(|j| q[c][j].exp() * xc[j]).collect();
            let mut idx = 0;
            for (col, &x_col) in xc.iter().enumerate() {
                for q_row in qx.iter_mut().skip(col + 1) {
                    *q_row += l[c][idx] * x_col;
                    idx += 1;
                }
            }
            main[c] =
                alpha[c] + q[c].iter().sum::<f64>() - 0.5 * qx.iter().map(|v| v * v).sum::<f64>();
        }
        slse += lse(&main);
    }
    let nw = d as f64 + m + 1.0;
    let lgamma_d: f64 = 0.25 * (d * (d - 1)) as f64 * std::f64::consts::PI.ln()
        + (1..=d)
            .map(|j| libm_lgamma(0.5 * nw + 0.5 * (1.0 - j as f64)))
            .sum::<f64>();
    let c_const = nw * d as f64 * (gamma.ln() - 0.5 * 2f64.ln()) - lgamma_d;
    let mut prior = 0.0;
    for c in 0..k {
        let frob: f64 = q[c].iter().map(|v| (2.0 * v).exp()).sum::<f64>()
            + l[c].iter().map(|v| v * v).sum::<f64>();
        prior -= 0.5 * gamma * gamma * frob - m * q[c].iter().sum::<f64>();
    }
    -(n as f64) * d as f64 * 0.5 * (2.0 * std::f64::consts::PI).ln() + slse - n as f64 * lse(&alpha)
        + prior
        + k as f64 * c_const
}

/// ln Γ(x) for x > 0 by the Lanczos approximation (g = 7), independent of the tool's libm.
fn libm_lgamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    let x = x - 1.0;
    let t = x + 7.5;
    let series: f64 = G[0] + (1..9).map(|i| G[i] / (x + i as f64)).sum::<f64>();
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}

#[test]
fn gmm_matches_loops_and_finite_differences() {
    let mut tool = Tool::for_eval("gmm");
    let input = gmm_input();
    let got = tool.call("objective", input.clone()).as_f64().unwrap();
    assert!(
        close(got, gmm_by_loops(&input), 1e-12),
        "engram {got}, loops {}",
        gmm_by_loops(&input)
    );
    let jac = tool.call("jacobian", input.clone());
    for key in ["alpha", "mu", "q", "l"] {
        let numeric = numeric_gradient(&mut tool, "objective", &input, key);
        assert_all_close(&flatten(&jac[key]), &numeric, 1e-6, key);
    }
    assert_eq!(
        jac["mu"].as_array().unwrap().len(),
        2,
        "mu comes back as k rows"
    );
}

fn lstm_input() -> Value {
    json!({
        "main_params": [[0.1, -0.2, 0.3, 0.05, 0.2, -0.1, 0.15, 0.3], [0.0, 0.1, -0.1, 0.2, 0.05, 0.0, 0.1, -0.2],
                        [0.2, 0.1, -0.3, 0.25, -0.2, 0.1, 0.05, 0.1], [0.1, -0.1, 0.0, 0.3, 0.2, -0.05, 0.1, 0.0]],
        "extra_params": [[0.9, 1.1], [0.8, -0.7], [0.1, 0.2]],
        "state": [[0.1, -0.1], [0.2, 0.05], [0.0, 0.3], [-0.1, 0.1]],
        "sequence": [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 1.0]]
    })
}

/// ADBench's LSTM objective in plain scalar loops.
fn lstm_by_loops(input: &Value) -> f64 {
    let rows = |key: &str| {
        input[key]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect::<Vec<_>>()
    };
    let (main, extra, mut state, seq) = (
        rows("main_params"),
        rows("extra_params"),
        rows("state"),
        rows("sequence"),
    );
    let (layers, b) = (main.len() / 2, main[0].len() / 4);
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let mut total = 0.0;
    for t in 0..seq.len() - 1 {
        let mut x: Vec<f64> = (0..b).map(|i| seq[t][i] * extra[0][i]).collect();
        for layer in 0..layers {
            let (w, bias) = (&main[2 * layer], &main[2 * layer + 1]);
            for i in 0..b {
                let h = state[2 * layer][i];
                let f = sig(x[i] * w[i] + bias[i]);
                let ig = sig(h * w[b + i] + bias[b + i]);
                let o = sig(x[i] * w[2 * b + i] + bias[2 * b + i]);
                let g = (h * w[3 * b + i] + bias[3 * b + i]).tanh();
                state[2 * layer + 1][i] = state[2 * layer + 1][i] * f + ig * g;
                state[2 * layer][i] = o * state[2 * layer + 1][i].tanh();
            }
            x = state[2 * layer].clone();
        }
        let y: Vec<f64> = (0..b).map(|i| x[i] * extra[1][i] + extra[2][i]).collect();
        let lse = (y.iter().map(|v| v.exp()).sum::<f64>() + 2.0).ln();
        total += (0..b).map(|i| seq[t + 1][i] * (y[i] - lse)).sum::<f64>();
    }
    -total / ((seq.len() - 1) * b) as f64
}

#[test]
fn lstm_matches_loops_and_finite_differences() {
    let mut tool = Tool::for_eval("lstm");
    let input = lstm_input();
    let got = tool.call("objective", input.clone()).as_f64().unwrap();
    assert!(
        close(got, lstm_by_loops(&input), 1e-13),
        "engram {got}, loops {}",
        lstm_by_loops(&input)
    );
    let jac = floats(&tool.call("jacobian", input.clone()));
    let mut numeric = numeric_gradient(&mut tool, "objective", &input, "main_params");
    numeric.extend(numeric_gradient(
        &mut tool,
        "objective",
        &input,
        "extra_params",
    ));
    assert_eq!(jac.len(), 8 * 2 * 2 + 3 * 2); // 8·l·b + 3·b with l = 2, b = 2
    assert_all_close(&jac, &numeric, 1e-7, "lstm jacobian");
}

#[test]
fn saddle_reaches_the_known_saddle_point_in_every_mode() {
    let mut tool = Tool::for_eval("saddle");
    // The eval's expected point: every coordinate ≈ 8.2463e-06 (the descent stops there).
    for function in ["rr", "fr", "rf", "ff"] {
        let out = floats(&tool.call(function, json!({"start": [1.0, 1.0]})));
        assert_eq!(out.len(), 4);
        for v in out {
            assert!((v - 8.2463e-6).abs() < 1e-9, "saddle {function}: {v}");
        }
    }
}

#[test]
fn particle_finds_the_known_control() {
    let mut tool = Tool::for_eval("particle");
    // The eval's expected answer for w = 0: 0.2071918746486116.
    let w = tool.call("rr", json!({"w": 0.0})).as_f64().unwrap();
    assert!((w - 0.2071918746486116).abs() < 1e-10, "particle rr: {w}");
    let mixed = tool.call("fr", json!({"w": 0.0})).as_f64().unwrap();
    assert!((mixed - w).abs() < 1e-10, "particle fr: {mixed}");
}

/// One observation's BA residuals in plain scalar code (Rodrigues, distortion, projection).
fn ba_residual(params: &[f64], feat: [f64; 2]) -> [f64; 2] {
    let (cam, x, w) = (&params[0..11], &params[11..14], params[14]);
    let xo = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let rot = &cam[0..3];
    let theta = (rot[0] * rot[0] + rot[1] * rot[1] + rot[2] * rot[2]).sqrt();
    let k = [rot[0] / theta, rot[1] / theta, rot[2] / theta];
    let kx = [
        k[1] * xo[2] - k[2] * xo[1],
        k[2] * xo[0] - k[0] * xo[2],
        k[0] * xo[1] - k[1] * xo[0],
    ];
    let dot = (k[0] * xo[0] + k[1] * xo[1] + k[2] * xo[2]) * (1.0 - theta.cos());
    let xc: Vec<f64> = (0..3)
        .map(|i| xo[i] * theta.cos() + kx[i] * theta.sin() + k[i] * dot)
        .collect();
    let (u, v) = (xc[0] / xc[2], xc[1] / xc[2]);
    let r2 = u * u + v * v;
    let l = 1.0 + cam[9] * r2 + cam[10] * r2 * r2;
    [
        w * (u * l * cam[6] + cam[7] - feat[0]),
        w * (v * l * cam[6] + cam[8] - feat[1]),
    ]
}

const BA_CAMERA: [f64; 11] = [
    0.1, -0.2, 0.05, 0.3, 0.1, -5.0, 500.0, 0.5, -0.3, 1e-4, 1e-8,
];
const BA_POINT: [f64; 3] = [0.5, -0.4, 2.0];
const BA_WEIGHT: f64 = 0.9;
const BA_FEATURE: [f64; 2] = [30.0, -20.0];

/// A BA problem as the eval sends it: one camera, point, weight and feature, replicated
/// to n = 3 cameras, m = 5 points and p = 20 observations.
fn ba_input() -> Value {
    json!({"n": 3, "m": 5, "p": 20, "cam": BA_CAMERA, "x": BA_POINT, "w": BA_WEIGHT, "feat": BA_FEATURE})
}

#[test]
fn ba_jacobian_matches_finite_differences_and_csr_layout() {
    let mut tool = Tool::for_eval("ba");
    let (cam, x, w, feat) = (BA_CAMERA, BA_POINT, BA_WEIGHT, BA_FEATURE);
    let input = ba_input();
    let params: Vec<f64> = cam.iter().chain(&x).copied().chain([w]).collect();
    let err = ba_residual(&params, feat);
    let obj = tool.call("objective", input.clone());
    assert_all_close(
        &floats(&obj["reproj_error"]["elements"]),
        &err,
        1e-12,
        "reproj_error",
    );
    assert_eq!(obj["reproj_error"]["repeated"], 20);
    assert!(close(
        obj["w_err"]["element"].as_f64().unwrap(),
        1.0 - w * w,
        1e-15
    ));
    let jac = tool.call("jacobian", input);
    let vals = floats(&jac["vals"]);
    let (rows, cols): (Vec<u64>, Vec<u64>) = (
        jac["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect(),
        jac["cols"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect(),
    );
    assert_eq!((rows.len(), cols.len(), vals.len()), (31, 31, 31));
    assert_eq!(&rows[..3], &[0, 15, 30]);
    assert_eq!(
        *rows.last().unwrap(),
        31 * 20,
        "2 rows of 15 plus 1 per observation"
    );
    // Observation 0 uses camera 0 and point 0; its weight column is 11·3 + 3·5 + 0 = 48.
    let expected_cols: Vec<u64> = (0..11).chain(33..36).chain([48]).collect();
    assert_eq!(&cols[..15], &expected_cols[..]);
    assert_eq!(&cols[15..30], &expected_cols[..]);
    assert_eq!(*cols.last().unwrap(), 48 + 19);
    assert!(close(*vals.last().unwrap(), -2.0 * w, 1e-15));
    for row in 0..2 {
        let numeric: Vec<f64> = (0..15)
            .map(|j| {
                let h = 1e-6 * params[j].abs().max(1e-3);
                let at = |d: f64| {
                    let mut q = params.clone();
                    q[j] += d;
                    ba_residual(&q, feat)[row]
                };
                (at(h) - at(-h)) / (2.0 * h)
            })
            .collect();
        assert_all_close(
            &vals[15 * row..15 * row + 15],
            &numeric,
            1e-5,
            &format!("ba row {row}"),
        );
    }
}

/// A small hand model: 22 bones in a chain, `v` vertices, given bone transforms.
fn hand_input(
    theta: Vec<f64>,
    us: Vec<[f64; 2]>,
    relatives: Vec<Vec<Vec<f64>>>,
    inverse_absolutes: Vec<Vec<Vec<f64>>>,
) -> Value {
    let v = 6;
    let base: Vec<Vec<f64>> = (0..v)
        .map(|i| {
            vec![
                0.1 * i as f64,
                0.5 - 0.07 * i as f64,
                0.2 + 0.03 * (i * i) as f64,
                1.0,
            ]
        })
        .collect();
    let weights: Vec<Vec<f64>> = (0..v)
        .map(|i| {
            let raw: Vec<f64> = (0..22)
                .map(|b| 1.0 + ((i * 7 + b * 3) % 5) as f64)
                .collect();
            let total: f64 = raw.iter().sum();
            raw.iter().map(|w| w / total).collect()
        })
        .collect();
    json!({
        "theta": theta,
        "us": us,
        "data": {
            "correspondences": [0, 2, 3, 5],
            "points": [[0.1, 0.2, 0.3], [0.0, -0.1, 0.4], [0.3, 0.3, 0.1], [-0.2, 0.1, 0.5]],
            "model": {
                "bone_count": 22,
                "bone_names": (0..22).map(|i| format!("bone{i}")).collect::<Vec<_>>(),
                "parents": (0..22).map(|i| i as i64 - 1).collect::<Vec<_>>(),
                "base_relatives": relatives,
                "inverse_base_absolutes": inverse_absolutes,
                "base_positions": base,
                "weights": weights,
                "triangles": [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [0, 2, 4], [1, 3, 5]],
                "is_mirrored": false
            }
        }
    })
}

fn identity4() -> Vec<Vec<f64>> {
    (0..4)
        .map(|r| (0..4).map(|c| if r == c { 1.0 } else { 0.0 }).collect())
        .collect()
}

/// A small complicated-variant hand at a non-trivial pose.
fn small_hand() -> Value {
    let theta: Vec<f64> = (0..26).map(|i| 0.05 * ((i * 3 % 7) as f64 - 3.0)).collect();
    let us = vec![[0.2, 0.3], [0.5, 0.1], [0.3, 0.3], [0.1, 0.6]];
    hand_input(theta, us, vec![identity4(); 22], vec![identity4(); 22])
}

#[test]
fn ht_at_rest_pose_places_base_vertices_and_translates() {
    let mut tool = Tool::for_eval("ht");
    let mut theta = vec![0.0; 26];
    let rest = hand_input(
        theta.clone(),
        vec![],
        vec![identity4(); 22],
        vec![identity4(); 22],
    );
    let base = rest["data"]["model"]["base_positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect::<Vec<_>>();
    let points = rest["data"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect::<Vec<_>>();
    let got = floats(&tool.call("objective", rest));
    for (i, &c) in [0usize, 2, 3, 5].iter().enumerate() {
        for j in 0..3 {
            assert!(
                close(got[3 * i + j], points[i][j] - base[c][j], 1e-13),
                "rest residual {i},{j}"
            );
        }
    }
    theta[3..6].copy_from_slice(&[0.5, -0.25, 1.0]);
    let moved = floats(&tool.call(
        "objective",
        hand_input(theta, vec![], vec![identity4(); 22], vec![identity4(); 22]),
    ));
    for i in 0..4 {
        for (j, t) in [0.5, -0.25, 1.0].iter().enumerate() {
            assert!(
                close(moved[3 * i + j], got[3 * i + j] - t, 1e-13),
                "translated residual {i},{j}"
            );
        }
    }
}

#[test]
fn ht_jacobian_matches_finite_differences_in_both_variants() {
    let mut tool = Tool::for_eval("ht");
    let affine = |k: usize| -> Vec<Vec<f64>> {
        let a = 0.3 + 0.05 * k as f64;
        vec![
            vec![a.cos(), -a.sin(), 0.0, 0.1 * k as f64],
            vec![a.sin(), a.cos(), 0.0, 0.05],
            vec![0.0, 0.0, 1.0, -0.02 * k as f64],
            vec![0.0, 0.0, 0.0, 1.0],
        ]
    };
    let relatives: Vec<_> = (0..22).map(affine).collect();
    let inverse: Vec<_> = (0..22).map(|k| affine(k + 5)).collect();
    let theta: Vec<f64> = (0..26).map(|i| 0.1 * ((i * 5 % 7) as f64 - 3.0)).collect();
    for us in [vec![], vec![[0.2, 0.3], [0.5, 0.1], [0.3, 0.3], [0.1, 0.6]]] {
        let input = hand_input(
            theta.clone(),
            us.clone(),
            relatives.clone(),
            inverse.clone(),
        );
        let jac: Vec<Vec<f64>> = tool
            .call("jacobian", input.clone())
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect();
        let offset = if us.is_empty() { 0 } else { 2 };
        assert_eq!((jac.len(), jac[0].len()), (12, offset + 26));
        let mut residual_at = |key: &str, idx: usize, delta: f64| {
            let mut inp = input.clone();
            let mut flat = flatten(&input[key]);
            flat[idx] += delta;
            inp[key] = unflatten(&input[key], &flat);
            floats(&tool.call("objective", inp))
        };
        let eps = 1e-6;
        for k in 0..26 {
            let (plus, minus) = (residual_at("theta", k, eps), residual_at("theta", k, -eps));
            for r in 0..12 {
                let numeric = (plus[r] - minus[r]) / (2.0 * eps);
                assert!(
                    close(jac[r][offset + k], numeric, 1e-6),
                    "theta column {k}, row {r}: {} vs {numeric}",
                    jac[r][offset + k]
                );
            }
        }
        for point in 0..us.len() {
            for c in [0usize, 1] {
                let (plus, minus) = (
                    residual_at("us", 2 * point + c, eps),
                    residual_at("us", 2 * point + c, -eps),
                );
                for j in 0..3 {
                    let r = 3 * point + j;
                    let numeric = (plus[r] - minus[r]) / (2.0 * eps);
                    assert!(
                        close(jac[r][c], numeric, 1e-6),
                        "us column {c}, row {r}: {} vs {numeric}",
                        jac[r][c]
                    );
                }
            }
        }
    }
}
