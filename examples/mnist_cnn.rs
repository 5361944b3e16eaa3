//! LeNet-5 on real MNIST digits (10,000 of them, bundled in `data/`), or with `--fashion`
//! on the full Fashion-MNIST from Debian's `dataset-fashion-mnist` package.
//!
//!     cargo run --release --example mnist_cnn
//!     cargo run --release --example mnist_cnn -- --fashion
//!
//! In PyTorch terms: `nn.Sequential(Conv2d(1, 6, 5, padding=2), ReLU, MaxPool2d(2),
//! Conv2d(6, 16, 5), ReLU, MaxPool2d(2), Flatten, Linear(400, 120), ReLU, Linear(120, 84),
//! ReLU, Linear(84, 10))`, the LeNet-5 of `tools/compare/digits_torch.py`, trained with
//! Adam(lr=1e-3) and cross-entropy in batches of 32 for 20 epochs, written as the explicit
//! loop (`for x, y in loader: ...`). MNIST 10k is grouped by class, so the 8,000 / 2,000
//! split is a seeded shuffle; it reaches 97.5–98% test accuracy. Fashion-MNIST trains on
//! its 60,000 images and tests on its 10,000 (about 90%).
//!
//! Each epoch prints its training loss, test accuracy and training time. When
//! `python3 tools/compare/digits_torch.py lenet` has written its times to
//! `engram-examples-out/torch_times.json`, PyTorch's time per epoch is printed beside
//! Engram's.

use engram::nn::data::datasets::{Split, FASHION_MNIST_DIR};
use engram::nn::data::DataError;
use engram::nn::loss::{cross_entropy, CrossEntropyOptions};
use engram::prelude::*;
use std::time::Instant;

/// LeNet-5 with ReLU and max pooling; `rng` draws every initial weight.
fn lenet(rng: &mut impl rand::Rng) -> Sequential {
    Sequential::new()
        .add(Conv2dConfig::new(1, 6, 5).padding(2).init(rng))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Conv2dConfig::new(6, 16, 5).init(rng))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Linear::new(16 * 5 * 5, 120, rng))
        .add(ReLU)
        .add(Linear::new(120, 84, rng))
        .add(ReLU)
        .add(Linear::new(84, 10, rng))
}

/// The fraction of `images` whose largest logit is at the label (`model.eval()` under
/// `torch.no_grad()`), in batches of 500.
fn accuracy(model: &Sequential, images: &Tensor, labels: &Tensor<usize>) -> f64 {
    let cx = Context::eval();
    let n = images.shape()[0];
    let mut correct = 0;
    for start in (0..n).step_by(500) {
        let len = 500.min(n - start);
        let logits = model.forward(&cx, &cx.input(images.narrow(0, start, len)));
        let predicted = logits.value().argmax(1).to_vec();
        let truth = labels.narrow(0, start, len).to_vec();
        correct += predicted.iter().zip(&truth).filter(|(p, t)| p == t).count();
    }
    correct as f64 / n as f64
}

/// Training and test images `[N, 1, 28, 28]` in [0, 1] with their labels, and a name.
type Data = (Tensor, Tensor<usize>, Tensor, Tensor<usize>, &'static str);

/// MNIST 10k, shuffled with a seed and split 8,000 / 2,000.
fn mnist() -> Result<Data, DataError> {
    let parts = random_split(
        datasets::mnist10k::<f32>(datasets::data_dir())?,
        [8000, 2000],
        42,
    );
    let (train_x, train_y) = parts[0].to_batch();
    let (test_x, test_y) = parts[1].to_batch();
    Ok((train_x, train_y, test_x, test_y, "MNIST 10k"))
}

/// Fashion-MNIST's own 60,000 / 10,000 split, from the Debian package's folder; when the
/// package is missing, says how to install it and exits.
fn fashion() -> Result<Data, DataError> {
    let read = |split| match datasets::fashion_mnist::<f32>(FASHION_MNIST_DIR, split) {
        Err(DataError::NotFound { path, .. }) => {
            eprintln!(
                "Fashion-MNIST is not installed ({} is missing).\n\
                 Install Debian's package, which puts it in {FASHION_MNIST_DIR}:\n\n    \
                 sudo apt-get install dataset-fashion-mnist",
                path.display()
            );
            std::process::exit(1);
        }
        other => other.map(|data| data.into_tensors()),
    };
    let (train_x, train_y) = read(Split::Train)?;
    let (test_x, test_y) = read(Split::Test)?;
    Ok((train_x, train_y, test_x, test_y, "Fashion-MNIST"))
}

/// PyTorch's seconds per epoch for LeNet-5, from the JSON that
/// `tools/compare/digits_torch.py` writes next to the examples' output, if it is there.
fn torch_seconds_per_epoch(out: &std::path::Path) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(out.join("torch_times.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let lenet = json.get("lenet")?;
    Some((
        lenet.get("seconds_per_epoch")?.as_f64()?,
        lenet.get("accuracy")?.as_f64()?,
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let on_fashion = std::env::args().skip(1).any(|a| a == "--fashion");
    let (train_x, train_y, test_x, test_y, name) = if on_fashion { fashion()? } else { mnist()? };
    println!(
        "{name}: {} training and {} test images of 28x28",
        train_x.shape()[0],
        test_x.shape()[0]
    );

    let mut model = lenet(&mut seeded_rng(0));
    println!("LeNet-5 with {} parameters", model.num_parameters());
    let mut adam = Adam::new(AdamOptions {
        lr: 1e-3,
        ..Default::default()
    });
    // DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True), seeded.
    let loader = DataLoader::new(TensorDataset::new(train_x, train_y), 32).shuffle(0);
    let cx = Context::train(0);
    let epochs = engram::examples::epochs(20);
    let mut training_seconds = 0.0;
    for epoch in 1..=epochs {
        let started = Instant::now();
        let (mut loss_sum, mut seen) = (0.0, 0);
        for (images, labels) in &loader {
            let logits = model.forward(&cx, &cx.input(images));
            let loss = cross_entropy(&logits, &labels, &CrossEntropyOptions::default());
            // The logits' Var must be gone before the tape is released.
            drop(logits);
            let grads = cx.backward(loss);
            loss_sum += grads.loss() as f64 * labels.shape()[0] as f64;
            seen += labels.shape()[0];
            adam.step(&mut model, &grads);
        }
        let seconds = started.elapsed().as_secs_f64();
        training_seconds += seconds;
        println!(
            "epoch {epoch:2}/{epochs}: loss {:.4}, test accuracy {:.2}%, {seconds:.1} s",
            loss_sum / seen as f64,
            100.0 * accuracy(&model, &test_x, &test_y)
        );
    }
    let accuracy = accuracy(&model, &test_x, &test_y);
    let per_epoch = training_seconds / epochs as f64;
    println!(
        "test accuracy {:.2}% after {epochs} epochs; training took {training_seconds:.1} s, \
         {per_epoch:.2} s per epoch",
        100.0 * accuracy
    );
    // PyTorch's figure is for the MNIST 10k run only.
    if !on_fashion {
        let out = engram::examples::output_dir()?;
        match torch_seconds_per_epoch(&out) {
            Some((torch, torch_accuracy)) => println!(
                "PyTorch, the same network and loop (from {}): {torch:.2} s per epoch and \
                 {:.2}% test accuracy; Engram: {per_epoch:.2} s per epoch",
                out.join("torch_times.json").display(),
                100.0 * torch_accuracy
            ),
            None => println!(
                "(run `python3 tools/compare/digits_torch.py lenet` to print PyTorch's time \
                 per epoch beside Engram's)"
            ),
        }
    }
    Ok(())
}
