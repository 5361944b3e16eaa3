//! A seeded training run gives bitwise the same parameters on 1 thread and on 2, and on a
//! rerun (issue 15, item 6): kernels cut work into fixed chunks, never by thread count,
//! and dropout masks and shuffles come from the user's seed.

mod common;
use common::on_threads;
use engram::nn::loss::{cross_entropy, CrossEntropyOptions};
use engram::prelude::*;
use rand::seq::SliceRandom;

/// Fifteen Adam steps of a small CNN with dropout on shuffled batches of 128 UCI digits
/// (large enough that the kernels split their work); every parameter's bits at the end.
fn train() -> Vec<(String, Vec<u32>)> {
    let digits = datasets::digits::<f32>(datasets::data_dir()).expect("bundled digits");
    let (x, y) = digits.to_batch();
    let x = x.mul_scalar(1.0 / 16.0).reshape(&[x.shape()[0], 1, 8, 8]);
    let mut rng = seeded_rng(5);
    let mut model = Sequential::new()
        .add(Conv2dConfig::new(1, 16, 3).padding(1).init(&mut rng))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Dropout::new(0.3))
        .add(Linear::new(16 * 4 * 4, 10, &mut rng));
    let mut adam = Adam::new(AdamOptions {
        lr: 1e-2,
        ..Default::default()
    });
    let cx = Context::train(11);
    let mut order: Vec<usize> = (0..x.shape()[0]).collect();
    order.shuffle(&mut seeded_rng(7));
    for step in 0..15 {
        let rows: Vec<usize> = (0..128)
            .map(|i| order[(step * 128 + i) % order.len()])
            .collect();
        let batch = cx.input(x.index_select(0, &rows));
        let labels = y.index_select(0, &rows);
        let loss = cross_entropy(
            &model.forward(&cx, &batch),
            &labels,
            &CrossEntropyOptions::default(),
        );
        let grads = cx.backward(loss);
        adam.step(&mut model, &grads);
    }
    parameter_bits(&model)
}

#[test]
fn training_is_bitwise_identical_on_one_and_two_threads_and_on_a_rerun() {
    let one = on_threads(1, train);
    let two = on_threads(2, train);
    let again = on_threads(2, train);
    assert_eq!(one.len(), 4);
    for ((name, a), ((_, b), (_, c))) in one.iter().zip(two.iter().zip(&again)) {
        assert!(a == b, "{name} differs between 1 and 2 threads");
        assert!(b == c, "{name} differs between two runs");
    }
}

/// Ten full-batch SGD steps of an MLP on all 1,797 digits: the first layer's weight
/// gradient, 96 × 64 out of a 1,797-long sum, is a product split into bands on two threads,
/// and each band must add up its terms in the blocks the whole product would.
fn train_full_batch_mlp() -> Vec<(String, Vec<u32>)> {
    let digits = datasets::digits::<f32>(datasets::data_dir()).expect("bundled digits");
    let (x, y) = digits.to_batch();
    let x = x.mul_scalar(1.0 / 16.0);
    let mut rng = seeded_rng(9);
    let mut model = Sequential::new()
        .add(Linear::new(64, 96, &mut rng))
        .add(Tanh)
        .add(Linear::new(96, 10, &mut rng));
    let mut sgd = Sgd::new(SgdOptions::new(0.1));
    let cx = Context::train(3);
    for _ in 0..10 {
        let loss = cross_entropy(
            &model.forward(&cx, &cx.input(x.clone())),
            &y,
            &CrossEntropyOptions::default(),
        );
        let grads = cx.backward(loss);
        sgd.step(&mut model, &grads);
    }
    parameter_bits(&model)
}

#[test]
fn full_batch_training_is_bitwise_identical_on_one_and_two_threads() {
    let one = on_threads(1, train_full_batch_mlp);
    let two = on_threads(2, train_full_batch_mlp);
    assert_eq!(one.len(), 4);
    for ((name, a), (_, b)) in one.iter().zip(&two) {
        assert!(a == b, "{name} differs between 1 and 2 threads");
    }
}

/// Every parameter's name and bits.
fn parameter_bits(model: &Sequential<f32>) -> Vec<(String, Vec<u32>)> {
    model
        .named_parameters()
        .into_iter()
        .map(|(name, p)| {
            (
                name,
                p.value().to_vec().iter().map(|v| v.to_bits()).collect(),
            )
        })
        .collect()
}
