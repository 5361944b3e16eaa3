//! How the activation and the optimizer change training: `digits_mlp`'s network on its
//! data and split, trained five ways, with every loss curve in one plot.
//!
//!     cargo run --release --example activations_and_optimizers
//!
//! In PyTorch terms: `nn.Sequential(Linear(64, 128), act, Linear(128, 10))` with
//! cross-entropy, batches of 32 and 50 epochs, seeded alike, for `act` in Sigmoid, Tanh and
//! ReLU under Adam(lr=1e-3), and for ReLU under SGD(lr=0.05) and SGD(lr=0.05,
//! momentum=0.9) too. It draws the five training-loss curves (left) and test-accuracy
//! curves (right) into one SVG and prints a table of final test accuracies.

use engram::nn::train::EpochLog;
use engram::prelude::*;
use std::time::Instant;

/// One way to train: its name in the plot and the table, and what it varies.
struct Run {
    activation: &'static str,
    optimizer: &'static str,
}

/// The MLP with the named activation; `rng` draws every initial weight.
fn mlp(activation: &str, rng: &mut impl rand::Rng) -> Sequential {
    let net = Sequential::new().add(Linear::new(64, 128, rng));
    let net = match activation {
        "sigmoid" => net.add(Sigmoid),
        "tanh" => net.add(Tanh),
        _ => net.add(ReLU),
    };
    net.add(Linear::new(128, 10, rng))
}

/// Fits `net` with `optimizer` and returns its history and final test accuracy.
fn train(
    net: Sequential,
    optimizer: impl Optimizer + 'static,
    epochs: usize,
    (train_x, train_y): (&Tensor, &Tensor),
    (test_x, test_y): (&Tensor, &Tensor),
) -> (History, f64) {
    let mut model = Model::new(net).compile(optimizer, Loss::cross_entropy(), &[Metric::Accuracy]);
    let history = model.fit(
        train_x,
        train_y,
        FitOptions::new(epochs, 32)
            .with_validation(test_x.clone(), test_y.clone())
            .with_seed(0)
            .with_verbosity(Verbosity::Quiet),
    );
    let accuracy = model.evaluate(test_x, test_y, 256)["accuracy"];
    (history, accuracy)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let digits = datasets::digits::<f32>(datasets::data_dir())?;
    let parts = random_split(digits, [0.8, 0.2], 42);
    let (train_x, train_y) = parts[0].to_batch();
    let (test_x, test_y) = parts[1].to_batch();
    let (train_x, test_x) = (
        train_x.mul_scalar(1.0 / 16.0),
        test_x.mul_scalar(1.0 / 16.0),
    );
    let (train_y, test_y) = (train_y.map(|c| c as f32), test_y.map(|c| c as f32));
    println!(
        "UCI digits: {} training and {} test examples of 64 pixels",
        train_x.shape()[0],
        test_x.shape()[0]
    );

    let runs = [
        Run {
            activation: "sigmoid",
            optimizer: "Adam",
        },
        Run {
            activation: "tanh",
            optimizer: "Adam",
        },
        Run {
            activation: "relu",
            optimizer: "Adam",
        },
        Run {
            activation: "relu",
            optimizer: "SGD",
        },
        Run {
            activation: "relu",
            optimizer: "SGD+momentum",
        },
    ];
    let epochs = engram::examples::epochs(50);
    let adam = || {
        Adam::new(AdamOptions {
            lr: 1e-3,
            ..Default::default()
        })
    };
    let sgd = |momentum| {
        Sgd::new(SgdOptions {
            momentum,
            ..SgdOptions::new(0.05)
        })
    };
    // All curves in one history: `write_svg` puts the names ending in "loss" on the left.
    let mut curves = History::new();
    let mut table = Vec::new();
    for run in &runs {
        let name = format!("{} {}", run.activation, run.optimizer);
        let net = mlp(run.activation, &mut seeded_rng(0));
        let data = ((&train_x, &train_y), (&test_x, &test_y));
        let started = Instant::now();
        let (history, accuracy) = match run.optimizer {
            "Adam" => train(net, adam(), epochs, data.0, data.1),
            "SGD" => train(net, sgd(0.0), epochs, data.0, data.1),
            _ => train(net, sgd(0.9), epochs, data.0, data.1),
        };
        let seconds = started.elapsed().as_secs_f64();
        let loss = history.last("loss").unwrap_or(f64::NAN);
        println!(
            "{name:20} {epochs} epochs: training loss {loss:.4}, test accuracy {:.2}% ({seconds:.1} s)",
            100.0 * accuracy
        );
        for (i, log) in history.epochs.iter().enumerate() {
            if curves.epochs.len() <= i {
                curves.push(EpochLog {
                    epoch: log.epoch,
                    values: Default::default(),
                    seconds: 0.0,
                });
            }
            let merged = &mut curves.epochs[i];
            merged.seconds += log.seconds;
            merged
                .values
                .insert(format!("{name} loss"), log.values["loss"]);
            merged
                .values
                .insert(format!("{name} test accuracy"), log.values["val_accuracy"]);
        }
        table.push((name, loss, accuracy));
    }

    let out = engram::examples::output_dir()?;
    let svg = out.join("activations_and_optimizers.svg");
    curves.write_svg(&svg, "digits MLP: activations and optimizers")?;
    println!(
        "wrote the loss and test-accuracy curves to {}",
        svg.display()
    );

    println!("\n| activation, optimizer | training loss | test accuracy |");
    println!("|---|---|---|");
    for (name, loss, accuracy) in &table {
        println!("| {name} | {loss:.4} | {:.2}% |", 100.0 * accuracy);
    }
    Ok(())
}
