//! candle's side of `tools/compare/run`: the workloads of Engram's `benches/workloads/`
//! written as a candle user writes them (candle-nn layers, `loss::cross_entropy`, `SGD`),
//! served over the protocol of Engram's `benches/workloads/protocol.rs`, included here.
//! Threads follow `RAYON_NUM_THREADS`, as Engram's do.

use candle_core::{DType, Device, Module, Result, Tensor, Var};
use candle_nn::{rnn::RNN, Optimizer, VarBuilder, VarMap, SGD};

#[path = "../../../../benches/workloads/protocol.rs"]
mod protocol;

use protocol::Figure;

/// The learning rate of every step's SGD update.
const LEARNING_RATE: f64 = 0.01;
/// Repetitions of the three-op link `tanh(x · 1.0001 + 0.0001)`: 10,002 ops.
const LINKS: usize = 3334;

/// A figure whose repetition is `run`, with candle's errors as text.
fn fallible(mut run: impl FnMut() -> Result<()> + 'static, work: f64) -> Figure {
    Figure {
        run: Box::new(move || run().map_err(|e| e.to_string())),
        work,
    }
}

/// Labels `(7 i) mod 10`, as every tool's program.
fn labels(batch: usize, dev: &Device) -> Result<Tensor> {
    Tensor::from_vec(
        (0..batch as u32).map(|i| (i * 7) % 10).collect(),
        batch,
        dev,
    )
}

/// One training step of `forward` on `input`: cross-entropy, backward, SGD.
fn step_figure(
    varmap: VarMap,
    forward: impl Fn(&Tensor) -> Result<Tensor> + 'static,
    input: Tensor,
) -> Result<Figure> {
    let target = labels(input.dim(0)?, input.device())?;
    let mut sgd = SGD::new(varmap.all_vars(), LEARNING_RATE)?;
    Ok(fallible(
        move || {
            let loss = candle_nn::loss::cross_entropy(&forward(&input)?, &target)?;
            sgd.backward_step(&loss)
        },
        1.0,
    ))
}

/// The figure named `name`, set up; `None` for a name this worker does not know.
fn figure(name: &str) -> Result<Option<Figure>> {
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
    let sgemm = |n: usize| -> Result<Figure> {
        let a = Tensor::randn(0f32, 1f32, (n, n), &dev)?;
        let b = Tensor::randn(0f32, 1f32, (n, n), &dev)?;
        Ok(fallible(
            move || a.matmul(&b).map(|c| drop(std::hint::black_box(c))),
            2.0 * (n as f64).powi(3),
        ))
    };
    Ok(Some(match name {
        "sgemm_1024" => sgemm(1024)?,
        "sgemm_2048" => sgemm(2048)?,
        "mlp_step" => {
            let fc1 = candle_nn::linear(784, 512, vb.pp("fc1"))?;
            let fc2 = candle_nn::linear(512, 512, vb.pp("fc2"))?;
            let fc3 = candle_nn::linear(512, 10, vb.pp("fc3"))?;
            let input = Tensor::randn(0f32, 1f32, (128, 784), &dev)?;
            step_figure(
                varmap,
                move |x| fc3.forward(&fc2.forward(&fc1.forward(x)?.relu()?)?.relu()?),
                input,
            )?
        }
        "cnn_step" => {
            let same = candle_nn::Conv2dConfig {
                padding: 1,
                ..Default::default()
            };
            let conv1 = candle_nn::conv2d(1, 16, 3, same, vb.pp("conv1"))?;
            let conv2 = candle_nn::conv2d(16, 32, 3, same, vb.pp("conv2"))?;
            let fc = candle_nn::linear(32 * 7 * 7, 10, vb.pp("fc"))?;
            let input = Tensor::randn(0f32, 1f32, (64, 1, 28, 28), &dev)?;
            step_figure(
                varmap,
                move |x| {
                    let h = conv1.forward(x)?.relu()?.max_pool2d(2)?;
                    let h = conv2.forward(&h)?.relu()?.max_pool2d(2)?;
                    fc.forward(&h.flatten_from(1)?)
                },
                input,
            )?
        }
        "lstm_step" => {
            let lstm = candle_nn::lstm(64, 128, Default::default(), vb.pp("lstm"))?;
            let fc = candle_nn::linear(128, 10, vb.pp("fc"))?;
            // candle's LSTM takes [batch, time, features].
            let input = Tensor::randn(0f32, 1f32, (32, 32, 64), &dev)?;
            step_figure(
                varmap,
                move |x| {
                    let states = lstm.seq(x)?;
                    let last = states.last().expect("32 steps give 32 states");
                    fc.forward(last.h())
                },
                input,
            )?
        }
        "tape_10k" => {
            let x = Var::new(0.5f32, &dev)?;
            fallible(
                move || {
                    let mut y = x.as_tensor().clone();
                    for _ in 0..LINKS {
                        y = ((y * 1.0001)? + 0.0001)?.tanh()?;
                    }
                    let grads = y.backward()?;
                    std::hint::black_box(grads.get(&x).expect("x is a leaf of y"));
                    Ok(())
                },
                (3 * LINKS) as f64,
            )
        }
        _ => return Ok(None),
    }))
}

fn main() -> std::io::Result<()> {
    let hello = serde_json::json!({
        "tool": "candle",
        "threads": candle_core::utils::get_num_threads(),
    });
    protocol::serve(hello, |name| figure(name).map_err(|e| e.to_string()))
}
