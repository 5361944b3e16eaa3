//! Issue 14's memory figure: the peak resident memory of the MLP training loop (the
//! 784-512-512-10 network of the step figures, batch 128, plain SGD), set beside the bytes
//! the loop cannot do without: parameters, their gradients, the optimizer's state and one
//! step's activations. The goal is a peak of at most 1.5× that budget, and no growth over
//! 10,000 steps.
//!
//! `cargo bench --bench memory` runs 10,000 steps (`-- --steps N` for another count) and
//! prints one line per reading. It reads `/proc/self/status` (Linux): the baseline is the
//! resident memory before the model and its data exist (`VmRSS`), after the process's
//! peak is reset through `/proc/self/clear_refs`, so that the peak it reports (`VmHWM`)
//! is the loop's own. Where `/proc` is missing it says so and measures nothing. A last
//! line splits the memory at the end of the loop into the program's code first run by
//! the loop (file-backed pages) and anonymous memory (the data).
//!
//! The budget counts, in f32: every parameter, one gradient per parameter, the optimizer's
//! buffers (none for plain SGD), and the activations a step must keep for its backward
//! pass: the input batch, each layer's output (three linear layers and two ReLUs) and the
//! softmax of the loss. Copies made by the kernels (GEMM packing, gradient temporaries)
//! and the allocator's slack are what the 1.5× allows for.

use engram::nn::loss::{cross_entropy, CrossEntropyOptions};
use engram::prelude::*;

/// The batch of the MLP figure.
const BATCH: usize = 128;
/// Widths of the MLP figure's layers, input first.
const WIDTHS: [usize; 4] = [784, 512, 512, 10];
/// Steps when none are given: the "no growth over 10,000 steps".
const DEFAULT_STEPS: usize = 10_000;
/// The step at which the loop's memory is read as settled: growth is measured from here.
const SETTLED_STEP: usize = 100;
/// The bound on peak memory over the budget.
const PEAK_GOAL: f64 = 1.5;

/// One figure of `/proc/self/status`, in bytes (the file gives kB).
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the process's peak resident memory (`VmHWM`) to its current resident memory.
fn reset_peak() -> std::io::Result<()> {
    // "5" is the documented value of clear_refs that resets the peak RSS (Linux 4.0 on).
    std::fs::write("/proc/self/clear_refs", "5")
}

/// Megabytes, for printing.
fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// The steps to run: `--steps N` among the arguments, or [`DEFAULT_STEPS`].
fn steps_from_args() -> Result<usize, String> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--steps") {
        None => Ok(DEFAULT_STEPS),
        Some(i) => {
            let value = args.get(i + 1).ok_or("--steps needs a number")?;
            let steps: usize = value
                .parse()
                .map_err(|_| format!("--steps: `{value}` is not a whole number"))?;
            if steps <= SETTLED_STEP {
                return Err(format!("--steps must be more than {SETTLED_STEP}"));
            }
            Ok(steps)
        }
    }
}

/// Bytes of the activations one step keeps: the input, each layer's output, the softmax.
fn activation_bytes() -> u64 {
    let linear_outputs: usize = WIDTHS[1..].iter().sum();
    let relu_outputs: usize = WIDTHS[1..WIDTHS.len() - 1].iter().sum();
    let softmax = WIDTHS[WIDTHS.len() - 1];
    let per_row = WIDTHS[0] + linear_outputs + relu_outputs + softmax;
    (BATCH * per_row * std::mem::size_of::<f32>()) as u64
}

fn main() {
    let steps = match steps_from_args() {
        Ok(steps) => steps,
        Err(message) => {
            eprintln!("memory: {message}");
            std::process::exit(2);
        }
    };
    if reset_peak().is_err() || status_bytes("VmRSS:").is_none() {
        println!("memory: no /proc/self/status or clear_refs here (not Linux); nothing measured");
        return;
    }
    let baseline = status_bytes("VmRSS:").expect("read above");
    let (anon_before, file_before) = (status_bytes("RssAnon:"), status_bytes("RssFile:"));

    let mut rng = seeded_rng(0);
    let mut model = Sequential::new();
    for pair in WIDTHS.windows(2) {
        model = model.add(Linear::new(pair[0], pair[1], &mut rng));
        if pair[1] != WIDTHS[WIDTHS.len() - 1] {
            model = model.add(ReLU);
        }
    }
    let input = Tensor::randn(&[BATCH, WIDTHS[0]], &mut rng);
    let labels = Tensor::from_vec((0..BATCH).map(|i| (i * 7) % 10).collect(), &[BATCH]);
    let mut sgd = Sgd::new(SgdOptions::new(0.01));
    let cx = Context::train(0);

    let parameter_bytes = (model.num_parameters() * std::mem::size_of::<f32>()) as u64;
    let optimizer_bytes = 0; // plain SGD keeps no buffers
    let budget = 2 * parameter_bytes + optimizer_bytes + activation_bytes();

    let mut settled = 0;
    let mut last_loss = f32::NAN;
    for step in 1..=steps {
        let logits = model.forward(&cx, &cx.input(input.clone()));
        let loss = cross_entropy(&logits, &labels, &CrossEntropyOptions::default());
        drop(logits);
        let grads = cx.backward(loss);
        sgd.step(&mut model, &grads);
        last_loss = grads.loss();
        if step == SETTLED_STEP {
            settled = status_bytes("VmRSS:").unwrap_or(0);
        }
        if step % (steps / 10).max(1) == 0 {
            eprintln!("memory: step {step}/{steps}, loss {last_loss:.4}");
        }
    }
    let end = status_bytes("VmRSS:").unwrap_or(0);
    let peak = status_bytes("VmHWM:").unwrap_or(0);
    let peak_over_baseline = peak.saturating_sub(baseline);
    let ratio = peak_over_baseline as f64 / budget as f64;

    println!(
        "MLP {} batch {BATCH}, plain SGD, {steps} steps, {} thread(s); final loss {last_loss:.4}",
        WIDTHS.map(|w| w.to_string()).join("-"),
        rayon::current_num_threads()
    );
    println!(
        "budget: {:.2} MB = parameters {:.2} + gradients {:.2} + optimizer state {:.2} + one step's activations {:.2}",
        mb(budget),
        mb(parameter_bytes),
        mb(parameter_bytes),
        mb(optimizer_bytes),
        mb(activation_bytes())
    );
    println!(
        "resident: {:.2} MB before the model; peak {:.2} MB, {:.2} MB above it: {ratio:.2}x the budget  => <= {PEAK_GOAL}x: {}",
        mb(baseline),
        mb(peak),
        mb(peak_over_baseline),
        if ratio <= PEAK_GOAL { "met" } else { "NOT met" }
    );
    // What the peak is made of, read at the end (the loop's memory is flat by then, see
    // growth below): program code first run by the loop (file-backed pages, a fixed cost
    // whatever the model's size) and anonymous memory (data: tensors, the allocator's
    // and the GEMM's buffers, thread stacks).
    if let (Some(a0), Some(f0), Some(a1), Some(f1)) = (
        anon_before,
        file_before,
        status_bytes("RssAnon:"),
        status_bytes("RssFile:"),
    ) {
        let data = a1.saturating_sub(a0);
        println!(
            "of which, at the end: code first run by the loop {:.2} MB, anonymous memory {:.2} MB ({:.2}x the budget)",
            mb(f1.saturating_sub(f0)),
            mb(data),
            data as f64 / budget as f64
        );
    }
    let growth = end as i64 - settled as i64;
    println!(
        "growth: {:.2} MB at step {SETTLED_STEP}, {:.2} MB at step {steps}: {:+.2} MB",
        mb(settled),
        mb(end),
        growth as f64 / 1e6
    );
}
