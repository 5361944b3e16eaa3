//! The three training steps of issue 14's table, built from engram-nn layers as a user
//! writes them, shared by the criterion bench (`benches/steps.rs`) and the side-by-side
//! worker (`benches/compare_worker.rs`) so that both time the same code. The peers'
//! programs in `tools/compare/` build the same networks: same shapes, f32, softmax
//! cross-entropy on class indices (mean over the batch), plain SGD with learning rate 0.01.

use engram::nn::loss::{cross_entropy, CrossEntropyOptions};
use engram::nn::rnn::{RecurrentOptions, LSTM};
use engram::prelude::*;

/// The learning rate of every step's SGD update.
const LEARNING_RATE: f64 = 0.01;

/// One model with its fixed batch, optimizer and context: `run` is one training step
/// (forward, cross-entropy, backward, SGD update in place).
pub struct TrainingStep<M> {
    model: M,
    input: Tensor,
    labels: Tensor<usize>,
    sgd: Sgd,
    cx: Context,
}

impl<M: Forward> TrainingStep<M> {
    /// `model` trained on `input` with labels `(7 i) mod 10`, as every peer's program.
    fn new(model: M, input: Tensor, batch: usize) -> TrainingStep<M> {
        TrainingStep {
            model,
            input,
            labels: Tensor::from_vec((0..batch).map(|i| (i * 7) % 10).collect(), &[batch]),
            sgd: Sgd::new(SgdOptions::new(LEARNING_RATE)),
            cx: Context::train(0),
        }
    }

    /// One training step; returns the loss before the update.
    pub fn run(&mut self) -> f32 {
        let cx = &self.cx;
        let logits = self.model.forward(cx, &cx.input(self.input.clone()));
        let loss = cross_entropy(&logits, &self.labels, &CrossEntropyOptions::default());
        // The logits Var must be gone before the tape is released, so that the update
        // writes into each parameter's storage in place.
        drop(logits);
        let grads = cx.backward(loss);
        self.sgd.step(&mut self.model, &grads);
        grads.loss()
    }
}

/// MLP 784-512-512-10 with ReLU, batch 128.
pub fn mlp() -> TrainingStep<Sequential> {
    let mut rng = seeded_rng(0);
    let model = Sequential::new()
        .add(Linear::new(784, 512, &mut rng))
        .add(ReLU)
        .add(Linear::new(512, 512, &mut rng))
        .add(ReLU)
        .add(Linear::new(512, 10, &mut rng));
    let input = Tensor::randn(&[128, 784], &mut rng);
    TrainingStep::new(model, input, 128)
}

/// CNN on 64×1×28×28: conv3×3(16, padding 1) → ReLU → max-pool 2 → conv3×3(32, padding 1)
/// → ReLU → max-pool 2 → flatten (32·7·7) → linear(10).
pub fn cnn() -> TrainingStep<Sequential> {
    let mut rng = seeded_rng(0);
    let model = Sequential::new()
        .add(Conv2dConfig::new(1, 16, 3).padding(1).init(&mut rng))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Conv2dConfig::new(16, 32, 3).padding(1).init(&mut rng))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Linear::new(32 * 7 * 7, 10, &mut rng));
    let input = Tensor::randn(&[64, 1, 28, 28], &mut rng);
    TrainingStep::new(model, input, 64)
}

/// A one-layer LSTM whose last hidden state goes through a linear head: PyTorch's
/// `head(lstm(x)[1][0][-1])`.
#[derive(Module)]
pub struct LstmClassifier {
    lstm: LSTM,
    head: Linear,
}

impl Forward for LstmClassifier {
    /// Logits `[batch, 10]` for a sequence `[time, batch, 64]`.
    fn forward(&self, cx: &Context, input: &Var) -> Var {
        let (_, (h_n, _)) = self.lstm.forward(cx, input, None);
        self.head.forward(cx, &h_n.squeeze(0))
    }
}

/// LSTM with input 64 and hidden 128 over 32 steps of a batch of 32, its last hidden
/// state → linear(10).
pub fn lstm() -> TrainingStep<LstmClassifier> {
    let mut rng = seeded_rng(0);
    let model = LstmClassifier {
        lstm: LSTM::new(64, 128, RecurrentOptions::default(), &mut rng),
        head: Linear::new(128, 10, &mut rng),
    };
    let input = Tensor::randn(&[32, 32, 64], &mut rng);
    TrainingStep::new(model, input, 32)
}
