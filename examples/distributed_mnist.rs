//! Data-parallel training of an MLP on MNIST 10k across processes, with MPI.
//!
//!     cargo build --release --example distributed_mnist --features distributed
//!     RAYON_NUM_THREADS=1 mpirun -np 2 target/release/examples/distributed_mnist
//!
//! The single-process program with three changes (the `// distributed:` lines): join the
//! job, start every rank from rank 0's parameters, and wrap the optimizer; each rank then
//! reads its own shard of the data. The global batch stays 64 examples whatever the
//! number of processes (each of `N` ranks takes `64 / N`), so one step on `N` processes
//! is the step one process takes, and the accuracy is the single-process one up to the
//! order the examples are drawn in. Each rank prints its throughput; rank 0 prints the
//! test accuracy and writes the model (`distributed_mnist.safetensors`) — rank 0 alone.

use engram::distributed::{DistributedOptimizer, DistributedSampler, World};
use engram::nn::checkpoint::Checkpoint;
use engram::nn::loss::{cross_entropy, CrossEntropyOptions};
use engram::prelude::*;
use std::time::Instant;

const GLOBAL_BATCH: usize = 64;

/// 784 → 256 → 128 → 10 with ReLU; `rng` draws every initial weight.
fn mlp(rng: &mut impl Rng) -> Sequential {
    Sequential::new()
        .add(Flatten::new())
        .add(Linear::new(28 * 28, 256, rng))
        .add(ReLU)
        .add(Linear::new(256, 128, rng))
        .add(ReLU)
        .add(Linear::new(128, 10, rng))
}

/// The fraction of `images` whose largest logit is at the label.
fn accuracy(model: &Sequential, images: &Tensor, labels: &Tensor<usize>) -> f64 {
    let cx = Context::eval();
    let predicted = model
        .forward(&cx, &cx.input(images.clone()))
        .value()
        .argmax(1)
        .to_vec();
    let truth = labels.to_vec();
    predicted.iter().zip(&truth).filter(|(p, t)| p == t).count() as f64 / truth.len() as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let world = World::init()?; // distributed: join the job
    let (rank, ranks) = (world.rank(), world.size());
    if !GLOBAL_BATCH.is_multiple_of(ranks) {
        return Err(format!("{ranks} processes do not divide the batch of {GLOBAL_BATCH}").into());
    }
    // The same seeded 8,000 / 2,000 split on every rank.
    let parts = random_split(
        datasets::mnist10k::<f32>(datasets::data_dir())?,
        [8000, 2000],
        42,
    );
    let train = &parts[0];
    let (test_x, test_y) = parts[1].to_batch();

    let mut model = mlp(&mut seeded_rng(0));
    world.broadcast_parameters(&mut model)?; // distributed: rank 0's initial values
    let adam = Adam::new(AdamOptions {
        lr: 1e-3,
        ..Default::default()
    });
    let mut optimizer = DistributedOptimizer::new(world.clone(), adam); // distributed

    let sampler = DistributedSampler::new(&world, train.len()).shuffle(0);
    let cx = Context::train(0);
    let epochs = engram::examples::epochs(5);
    let (mut seen, mut seconds) = (0usize, 0.0);
    for epoch in 0..epochs as u64 {
        let started = Instant::now();
        let loader = DataLoader::new(sampler.shard(train, epoch), GLOBAL_BATCH / ranks);
        for (images, labels) in &loader {
            let logits = model.forward(&cx, &cx.input(images));
            let loss = cross_entropy(&logits, &labels, &CrossEntropyOptions::default());
            drop(logits);
            let grads = cx.backward(loss);
            seen += labels.shape()[0];
            optimizer.step(&mut model, &grads);
        }
        seconds += started.elapsed().as_secs_f64();
        if world.is_root() {
            println!(
                "epoch {}/{epochs}: test accuracy {:.2}%",
                epoch + 1,
                100.0 * accuracy(&model, &test_x, &test_y)
            );
        }
    }
    println!(
        "rank {rank} of {ranks}: {seen} images in {seconds:.2} s, {:.0} images/s",
        seen as f64 / seconds
    );
    world.barrier();
    if world.is_root() {
        println!(
            "{ranks} process(es): test accuracy {:.2}%, {:.0} images/s in all",
            100.0 * accuracy(&model, &test_x, &test_y),
            (seen * ranks) as f64 / seconds
        );
    }
    let path = engram::examples::output_dir()?.join("distributed_mnist.safetensors");
    world.save_checkpoint(&path, &Checkpoint::new(&model).epoch(epochs as u64))?;
    Ok(())
}
