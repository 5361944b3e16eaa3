//! Engram's side of `tools/compare/run`: a timing worker that the script starts once per
//! thread count and asks, figure by figure, in turn with the peers' workers, so that every
//! tool is measured under the same load (the alternation is what makes the ratios mean
//! something on a shared machine). The protocol is in `workloads/protocol.rs`.
//!
//! It is a bench target rather than a program of its own so that it times exactly the
//! code of the criterion benches (`workloads/`), is built by CI (`cargo bench --no-run`,
//! `clippy --all-targets`) and so cannot drift from the API, and needs no second build of
//! the workspace. By hand: `cargo bench --bench compare_worker -- --serve`.

use engram::autograd::Tape;
use engram::tensor::{seeded_rng, Float, Tensor};

#[path = "workloads/protocol.rs"]
mod protocol;
#[path = "workloads/steps.rs"]
mod steps;
#[path = "workloads/tape.rs"]
mod tape;

use protocol::Figure;

/// A figure whose repetition is `run`, of size `work`.
fn infallible(mut run: impl FnMut() + 'static, work: f64) -> Figure {
    Figure {
        run: Box::new(move || {
            run();
            Ok(())
        }),
        work,
    }
}

/// A training step as a figure (one step per repetition).
fn step<M: engram::nn::Forward + 'static>(mut step: steps::TrainingStep<M>) -> Figure {
    infallible(
        move || {
            std::hint::black_box(step.run());
        },
        1.0,
    )
}

/// Elements of each transcendental figure's input: 16M, "large tensors" (64 MB in f32),
/// as the 16M figures of `benches/transcendentals.rs`.
const ELEMENTWISE_LEN: usize = 1 << 24;

/// `function` (`copy`, `exp`, `ln`, `tanh`, `sigmoid` or `erf`) on [`ELEMENTWISE_LEN`]
/// elements of `T`, out of place as every op; its work is the bytes read plus written.
/// Inputs as in `benches/transcendentals.rs`: uniform on [-4, 4], [0.01, 4] for `ln`.
fn elementwise<T: Float>(function: &str) -> Option<Figure> {
    let op: fn(&Tensor<T>) -> Tensor<T> = match function {
        "copy" => |t| t.map(|v| v),
        "exp" => |t| t.exp(),
        "ln" => |t| t.ln(),
        "tanh" => |t| t.tanh(),
        "sigmoid" => |t| t.sigmoid(),
        "erf" => |t| t.erf(),
        _ => return None,
    };
    let low = if function == "ln" { 0.01 } else { -4.0 };
    let x = Tensor::rand_uniform(
        &[ELEMENTWISE_LEN],
        T::of(low),
        T::of(4.0),
        &mut seeded_rng(0),
    );
    let bytes = 2 * ELEMENTWISE_LEN * std::mem::size_of::<T>();
    Some(infallible(
        move || {
            std::hint::black_box(op(&x));
        },
        bytes as f64,
    ))
}

/// The figure named `name`, set up; `None` for a name this worker does not know.
fn figure(name: &str) -> Option<Figure> {
    if let Some(function) = name.strip_suffix("_f32") {
        return elementwise::<f32>(function);
    }
    if let Some(function) = name.strip_suffix("_f64") {
        return elementwise::<f64>(function);
    }
    let sgemm = |n: usize| {
        let mut rng = seeded_rng(1);
        let a = Tensor::<f32>::randn(&[n, n], &mut rng);
        let b = Tensor::<f32>::randn(&[n, n], &mut rng);
        infallible(
            move || {
                std::hint::black_box(a.matmul(&b));
            },
            2.0 * (n as f64).powi(3),
        )
    };
    Some(match name {
        "sgemm_1024" => sgemm(1024),
        "sgemm_2048" => sgemm(2048),
        "mlp_step" => step(steps::mlp()),
        "cnn_step" => step(steps::cnn()),
        "lstm_step" => step(steps::lstm()),
        "tape_10k" => {
            let chain_tape = Tape::<f32>::new();
            infallible(
                move || {
                    std::hint::black_box(tape::tape_chain(&chain_tape));
                },
                tape::TAPE_CHAIN_OPS as f64,
            )
        }
        _ => return None,
    })
}

fn main() -> std::io::Result<()> {
    if !std::env::args().any(|a| a == "--serve") {
        // `cargo bench` runs every bench target; this one only serves tools/compare/run.
        println!("compare_worker: the timing worker of tools/compare/run (pass --serve)");
        return Ok(());
    }
    let hello = serde_json::json!({
        "tool": "engram",
        "version": env!("CARGO_PKG_VERSION"),
        "threads": rayon::current_num_threads(),
    });
    protocol::serve(hello, |name| Ok(figure(name)))
}
