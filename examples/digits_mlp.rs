//! A multilayer perceptron on the UCI optical digits (1,797 images of 8×8, bundled).
//!
//!     cargo run --release --example digits_mlp
//!
//! In PyTorch terms: `nn.Sequential(Linear(64, 128), ReLU, Linear(128, 10))`, Adam(lr=1e-3),
//! cross-entropy, batches of 32, 50 epochs, on the same seeded 80/20 split as
//! `digits_cnn`: 97.5% test accuracy (30 epochs give 96.7% on this split, 60 give 98%).
//! It writes its curves as an SVG, saves a checkpoint and reloads it into a fresh model.

use engram::prelude::*;
use std::time::Instant;

/// The network; `rng` draws every initial weight, so a seed fixes the run.
fn mlp(rng: &mut impl rand::Rng) -> Sequential {
    Sequential::new()
        .add(Linear::new(64, 128, rng))
        .add(ReLU)
        .add(Linear::new(128, 10, rng))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let digits = datasets::digits::<f32>(datasets::data_dir())?;
    let parts = random_split(digits, [0.8, 0.2], 42);
    let (train_x, train_y) = parts[0].to_batch();
    let (test_x, test_y) = parts[1].to_batch();
    // Pixels 0..=16 scaled to [0, 1]; class ids as float targets, which `fit` takes.
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

    let mut model = Model::new(mlp(&mut seeded_rng(0))).compile(
        Adam::new(AdamOptions {
            lr: 1e-3,
            ..Default::default()
        }),
        Loss::cross_entropy(),
        &[Metric::Accuracy],
    );
    println!(
        "MLP 64-128-10 with {} parameters",
        model.module.num_parameters()
    );

    let epochs = engram::examples::epochs(50);
    let started = Instant::now();
    let history = model.fit(
        &train_x,
        &train_y,
        FitOptions::new(epochs, 32)
            .with_validation(test_x.clone(), test_y.clone())
            .with_seed(0),
    );
    let seconds = started.elapsed().as_secs_f64();
    let accuracy = model.evaluate(&test_x, &test_y, 256)["accuracy"];
    println!(
        "test accuracy {:.2}% after {epochs} epochs in {seconds:.1} s",
        100.0 * accuracy
    );

    let out = engram::examples::output_dir()?;
    let curves = out.join("digits_mlp.svg");
    history.write_svg(&curves, "digits MLP")?;
    println!("wrote the loss and accuracy curves to {}", curves.display());

    let path = out.join("digits_mlp.safetensors");
    checkpoint::save(&path, &model.module)?;
    let mut fresh = Model::new(mlp(&mut seeded_rng(1))).compile(
        Adam::new(AdamOptions::default()),
        Loss::cross_entropy(),
        &[Metric::Accuracy],
    );
    checkpoint::load(&path, &mut fresh.module)?;
    let reloaded = fresh.evaluate(&test_x, &test_y, 256)["accuracy"];
    if reloaded != accuracy {
        return Err(format!("reloaded model scores {reloaded}, the trained one {accuracy}").into());
    }
    println!(
        "saved {} and reloaded it into a fresh model: the same test accuracy, {:.2}%",
        path.display(),
        100.0 * reloaded
    );
    Ok(())
}
