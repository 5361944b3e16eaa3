//! Keras-style training for the simple case: wrap a module in a [`Model`], `compile` it
//! with an optimizer, a loss and metrics, then `fit` on tensors. The explicit loop —
//! context, forward, loss, backward, step — stays first-class; this is that loop with
//! shuffled batches, validation, metrics, callbacks, progress and a history around it.

use crate::context::Context;
use crate::module::Forward;
use crate::optim::Optimizer;
use crate::train::callbacks::{Callback, Control};
use crate::train::history::{EpochLog, History};
use crate::train::loss::Loss;
use crate::train::metrics::{Metric, Running};
use crate::train::progress::{Progress, Verbosity};
use engram_tensor::{Float, Tensor};
use indexmap::IndexMap;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// Held-out data scored after every epoch.
pub enum Validation<T: Float = f32> {
    /// No validation.
    None,
    /// These inputs and targets.
    Data(Tensor<T>, Tensor<T>),
    /// The last fraction of the training data (before shuffling), as Keras's
    /// `validation_split`.
    Split(f64),
}

/// How `fit` runs. Build with `FitOptions::new(epochs, batch_size)` and the `with_*`
/// methods.
pub struct FitOptions<T: Float = f32> {
    /// Passes over the training data.
    pub epochs: usize,
    /// Examples per step; the last batch of an epoch may be smaller.
    pub batch_size: usize,
    /// Held-out data.
    pub validation: Validation<T>,
    /// Reshuffle the examples every epoch (with `seed`), as Keras's `shuffle=True`.
    pub shuffle: bool,
    /// Seeds the shuffling and the dropout generator.
    pub seed: u64,
    /// What to print.
    pub verbosity: Verbosity,
    /// Called after each epoch: early stopping, checkpoints, learning-rate schedules.
    pub callbacks: Vec<Box<dyn Callback<T>>>,
}

impl<T: Float> FitOptions<T> {
    /// `epochs` passes in batches of `batch_size`, shuffled with seed 0, no validation,
    /// progress on a terminal.
    pub fn new(epochs: usize, batch_size: usize) -> FitOptions<T> {
        FitOptions {
            epochs,
            batch_size,
            validation: Validation::None,
            shuffle: true,
            seed: 0,
            verbosity: Verbosity::Auto,
            callbacks: Vec::new(),
        }
    }

    /// Scores these held-out inputs and targets after each epoch.
    pub fn with_validation(mut self, inputs: Tensor<T>, targets: Tensor<T>) -> Self {
        self.validation = Validation::Data(inputs, targets);
        self
    }

    /// Holds out the last `fraction` of the training data for validation.
    pub fn with_validation_split(mut self, fraction: f64) -> Self {
        self.validation = Validation::Split(fraction);
        self
    }

    /// The seed of shuffling and dropout.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Keeps the examples in order.
    pub fn without_shuffle(mut self) -> Self {
        self.shuffle = false;
        self
    }

    /// What to print.
    pub fn with_verbosity(mut self, verbosity: Verbosity) -> Self {
        self.verbosity = verbosity;
        self
    }

    /// Adds a callback.
    pub fn with_callback(mut self, callback: impl Callback<T> + 'static) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }
}

/// A module with what training needs: optimizer, loss and metrics. As a compiled Keras
/// model.
///
/// ```
/// use engram_nn::optim::{Adam, AdamOptions};
/// use engram_nn::train::{FitOptions, Loss, Metric, Model, Verbosity};
/// use engram_nn::{Linear, ReLU, Sequential, Sigmoid};
/// use engram_tensor::{seeded_rng, Tensor};
///
/// let mut rng = seeded_rng(0);
/// let net = Sequential::<f32>::new()
///     .add(Linear::new(2, 8, &mut rng))
///     .add(ReLU)
///     .add(Linear::new(8, 1, &mut rng))
///     .add(Sigmoid);
/// let mut model = Model::new(net).compile(
///     Adam::new(AdamOptions { lr: 0.05, ..Default::default() }),
///     Loss::binary_cross_entropy(),
///     &[Metric::Accuracy],
/// );
/// let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], &[4, 2]);
/// let y = Tensor::from_vec(vec![0., 1., 1., 0.], &[4, 1]);
/// let history = model.fit(&x, &y, FitOptions::new(300, 4).with_verbosity(Verbosity::Quiet));
/// assert_eq!(history.last("accuracy"), Some(1.0));
/// ```
pub struct Model<M, T: Float = f32> {
    /// The wrapped module.
    pub module: M,
    optimizer: Option<Box<dyn Optimizer<T>>>,
    loss: Option<Loss<T>>,
    metrics: Vec<Metric>,
}

impl<M: Forward<T>, T: Float> Model<M, T> {
    /// Wraps a module; `compile` before `fit` or `evaluate`.
    pub fn new(module: M) -> Model<M, T> {
        Model {
            module,
            optimizer: None,
            loss: None,
            metrics: Vec::new(),
        }
    }

    /// Sets the optimizer, the loss and the metrics to report.
    pub fn compile(
        mut self,
        optimizer: impl Optimizer<T> + 'static,
        loss: Loss<T>,
        metrics: &[Metric],
    ) -> Model<M, T> {
        self.optimizer = Some(Box::new(optimizer));
        self.loss = Some(loss);
        self.metrics = metrics.to_vec();
        self
    }

    /// The optimizer, once compiled.
    pub fn optimizer(&self) -> Option<&dyn Optimizer<T>> {
        self.optimizer.as_deref()
    }

    /// Trains on `inputs` `[N, ...]` and `targets` `[N, ...]` (class ids as numbers for
    /// classification losses) and returns every epoch's figures.
    #[track_caller]
    pub fn fit(
        &mut self,
        inputs: &Tensor<T>,
        targets: &Tensor<T>,
        options: FitOptions<T>,
    ) -> History {
        let FitOptions {
            epochs,
            batch_size,
            validation,
            shuffle,
            seed,
            verbosity,
            mut callbacks,
        } = options;
        check_examples("fit", inputs, targets);
        if batch_size == 0 {
            panic!("engram: `fit`: batch_size must be at least 1");
        }
        let (train_x, train_y, held_out) = match validation {
            Validation::None => (inputs.clone(), targets.clone(), None),
            Validation::Data(x, y) => {
                check_examples("fit (validation data)", &x, &y);
                (inputs.clone(), targets.clone(), Some((x, y)))
            }
            Validation::Split(fraction) => {
                if !(0.0..1.0).contains(&fraction) {
                    panic!("engram: `fit`: validation split {fraction} must be in [0, 1)");
                }
                let n = inputs.shape()[0];
                let held = ((n as f64) * fraction).round() as usize;
                let kept = n - held;
                (
                    inputs.narrow(0, 0, kept),
                    targets.narrow(0, 0, kept),
                    (held > 0)
                        .then(|| (inputs.narrow(0, kept, held), targets.narrow(0, kept, held))),
                )
            }
        };
        let n = train_x.shape()[0];
        let steps = n.div_ceil(batch_size);
        let Model {
            module,
            optimizer,
            loss,
            metrics,
        } = self;
        let (Some(optimizer), Some(loss_fn)) = (optimizer.as_deref_mut(), loss.as_ref()) else {
            panic!("engram: `fit`: compile the model first (`Model::compile(optimizer, loss, metrics)`)");
        };
        let mut progress = Progress::new(verbosity, epochs, steps);
        let mut history = History::new();
        let mut order: Vec<usize> = (0..n).collect();
        let mut shuffler = ChaCha8Rng::seed_from_u64(seed);
        let cx = Context::train(seed);
        for epoch in 1..=epochs {
            let started = Instant::now();
            progress.start_epoch(epoch);
            if shuffle {
                order.shuffle(&mut shuffler);
            }
            let mut loss_sum = Running::default();
            let mut scores = vec![Running::default(); metrics.len()];
            for chunk in order.chunks(batch_size) {
                let x = rows(&train_x, chunk);
                let y = rows(&train_y, chunk);
                let prediction = module.forward(&cx, &cx.input(x));
                let loss = loss_fn.compute(&prediction, &cx.input(y.clone()));
                for (metric, score) in metrics.iter().zip(&mut scores) {
                    score.add(metric.batch_sum(prediction.value(), &y));
                }
                // The prediction's Var must go before the tape is cleared.
                drop(prediction);
                let grads = cx.backward(loss);
                let value = grads.loss().as_f64();
                optimizer.step(module, &grads);
                loss_sum.add((value * chunk.len() as f64, chunk.len()));
                progress.step(chunk.len(), value);
            }
            let mut values = IndexMap::new();
            values.insert("loss".to_string(), loss_sum.mean());
            for (metric, score) in metrics.iter().zip(&scores) {
                values.insert(metric.name(), score.mean());
            }
            if let Some((vx, vy)) = &held_out {
                for (name, v) in score(module, loss_fn, metrics, vx, vy, batch_size) {
                    values.insert(format!("val_{name}"), v);
                }
            }
            values.insert("lr".to_string(), optimizer.learning_rate());
            let log = EpochLog {
                epoch,
                values,
                seconds: started.elapsed().as_secs_f64(),
            };
            progress.end_epoch(&log);
            let mut control = Control::new(epoch, &log);
            for callback in &mut callbacks {
                callback.on_epoch_end(&mut control, module, optimizer);
            }
            for note in control.take_notes() {
                progress.note(&note);
            }
            let stop = control.should_stop();
            history.push(log);
            if stop {
                break;
            }
        }
        for callback in &mut callbacks {
            callback.on_train_end(module);
        }
        history
    }

    /// The loss and metrics on `inputs` and `targets`, without training (dropout off,
    /// batch norm on its running statistics).
    #[track_caller]
    pub fn evaluate(
        &self,
        inputs: &Tensor<T>,
        targets: &Tensor<T>,
        batch_size: usize,
    ) -> IndexMap<String, f64> {
        check_examples("evaluate", inputs, targets);
        let loss_fn = self.loss.as_ref().unwrap_or_else(|| {
            panic!("engram: `evaluate`: compile the model first (`Model::compile`)")
        });
        score(
            &self.module,
            loss_fn,
            &self.metrics,
            inputs,
            targets,
            batch_size,
        )
    }

    /// The module's outputs for `inputs`, in batches, in evaluation behaviour.
    pub fn predict(&self, inputs: &Tensor<T>, batch_size: usize) -> Tensor<T> {
        let cx = Context::eval();
        let n = inputs.shape()[0];
        let all: Vec<usize> = (0..n).collect();
        let parts: Vec<Tensor<T>> = all
            .chunks(batch_size.max(1))
            .map(|chunk| {
                self.module
                    .forward(&cx, &cx.input(rows(inputs, chunk)))
                    .value()
                    .clone()
            })
            .collect();
        Tensor::concat(&parts.iter().collect::<Vec<_>>(), 0)
    }
}

/// Loss and metrics over `inputs` in batches, in evaluation behaviour.
fn score<M: Forward<T>, T: Float>(
    module: &M,
    loss_fn: &Loss<T>,
    metrics: &[Metric],
    inputs: &Tensor<T>,
    targets: &Tensor<T>,
    batch_size: usize,
) -> IndexMap<String, f64> {
    let cx = Context::eval();
    let n = inputs.shape()[0];
    let mut loss_sum = Running::default();
    let mut scores = vec![Running::default(); metrics.len()];
    let all: Vec<usize> = (0..n).collect();
    for chunk in all.chunks(batch_size.max(1)) {
        let x = rows(inputs, chunk);
        let y = rows(targets, chunk);
        let prediction = module.forward(&cx, &cx.input(x));
        let loss = loss_fn.compute(&prediction, &cx.input(y.clone()));
        loss_sum.add((
            loss.value().item().as_f64() * chunk.len() as f64,
            chunk.len(),
        ));
        for (metric, score) in metrics.iter().zip(&mut scores) {
            score.add(metric.batch_sum(prediction.value(), &y));
        }
    }
    let mut out = IndexMap::new();
    out.insert("loss".to_string(), loss_sum.mean());
    for (metric, score) in metrics.iter().zip(&scores) {
        out.insert(metric.name(), score.mean());
    }
    out
}

/// The examples at `indices` (rows of axis 0).
fn rows<T: Float>(t: &Tensor<T>, indices: &[usize]) -> Tensor<T> {
    t.index_select(0, indices)
}

#[track_caller]
fn check_examples<T: Float>(op: &str, inputs: &Tensor<T>, targets: &Tensor<T>) {
    if inputs.rank() == 0 || targets.rank() == 0 || inputs.shape()[0] != targets.shape()[0] {
        panic!(
            "engram: `{op}`: inputs of shape {:?} and targets of shape {:?} must hold the same number \
             of examples along axis 0",
            inputs.shape(),
            targets.shape()
        );
    }
}
