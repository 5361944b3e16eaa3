//! Keras-style training end to end: `compile`, `fit`, `evaluate`, `predict`, callbacks.

use engram_nn::optim::{Adam, AdamOptions, Sgd, SgdOptions};
use engram_nn::train::{EarlyStopping, FitOptions, Loss, Metric, Model, Verbosity};
use engram_nn::{Linear, ReLU, Sequential, Sigmoid, Tanh};
use engram_tensor::{seeded_rng, Tensor};

fn xor() -> (Tensor<f32>, Tensor<f32>) {
    (
        Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], &[4, 2]),
        Tensor::from_vec(vec![0., 1., 1., 0.], &[4, 1]),
    )
}

#[test]
fn fit_learns_xor_to_full_accuracy() {
    let mut rng = seeded_rng(3);
    let net = Sequential::new()
        .add(Linear::new(2, 8, &mut rng))
        .add(Tanh)
        .add(Linear::new(8, 1, &mut rng))
        .add(Sigmoid);
    let mut model = Model::new(net).compile(
        Adam::new(AdamOptions {
            lr: 0.05,
            ..Default::default()
        }),
        Loss::binary_cross_entropy(),
        &[Metric::Accuracy],
    );
    let (x, y) = xor();
    let history = model.fit(
        &x,
        &y,
        FitOptions::new(400, 4).with_verbosity(Verbosity::Quiet),
    );
    assert_eq!(history.epochs.len(), 400);
    assert_eq!(history.last("accuracy"), Some(1.0));
    let first = history.epochs[0].values["loss"];
    assert!(history.last("loss").unwrap() < first / 10.0);
    let scores = model.evaluate(&x, &y, 4);
    assert_eq!(scores["accuracy"], 1.0);
    let p = model.predict(&x, 3);
    assert_eq!(p.shape(), &[4, 1]);
    let rounded: Vec<f32> = p.to_vec().iter().map(|v| v.round()).collect();
    assert_eq!(rounded, vec![0., 1., 1., 0.]);
}

#[test]
fn early_stopping_ends_a_run_that_stopped_improving() {
    let mut rng = seeded_rng(0);
    let net = Sequential::<f32>::new().add(Linear::new(2, 1, &mut rng));
    // A zero learning rate: the loss never improves after the first epoch.
    let mut model =
        Model::new(net).compile(Sgd::new(SgdOptions::new(0.0)), Loss::mse(), &[Metric::Mae]);
    let (x, y) = xor();
    let history = model.fit(
        &x,
        &y,
        FitOptions::new(50, 2)
            .with_validation(x.clone(), y.clone())
            .with_verbosity(Verbosity::Quiet)
            .with_callback(EarlyStopping::new("val_loss", 3)),
    );
    assert_eq!(history.epochs.len(), 4, "1 best epoch + 3 of patience");
    assert!(history.last("val_mae").is_some());
}

#[test]
fn validation_split_holds_out_the_last_examples() {
    let mut rng = seeded_rng(1);
    let net = Sequential::<f32>::new()
        .add(Linear::new(2, 4, &mut rng))
        .add(ReLU)
        .add(Linear::new(4, 2, &mut rng));
    let mut model = Model::new(net).compile(
        Adam::new(AdamOptions::default()),
        Loss::cross_entropy(),
        &[Metric::Accuracy, Metric::TopK(2)],
    );
    let x = Tensor::from_vec((0..20).map(|i| i as f32 / 20.0).collect(), &[10, 2]);
    let y = Tensor::from_vec((0..10).map(|i| (i % 2) as f32).collect(), &[10]);
    let history = model.fit(
        &x,
        &y,
        FitOptions::new(2, 3)
            .with_validation_split(0.2)
            .with_verbosity(Verbosity::Quiet),
    );
    let names = history.names();
    for name in [
        "loss",
        "accuracy",
        "top2_accuracy",
        "val_loss",
        "val_accuracy",
        "lr",
    ] {
        assert!(
            names.contains(&name.to_string()),
            "missing {name}: {names:?}"
        );
    }
    assert_eq!(history.last("val_top2_accuracy"), Some(1.0));
    assert!(history
        .to_csv()
        .starts_with("epoch,seconds,loss,accuracy,top2_accuracy,val_loss"));
}

#[test]
#[should_panic(expected = "same number of examples")]
fn fit_rejects_inputs_and_targets_of_different_lengths() {
    let mut rng = seeded_rng(1);
    let net = Sequential::<f32>::new().add(Linear::new(2, 1, &mut rng));
    let mut model = Model::new(net).compile(Adam::new(AdamOptions::default()), Loss::mse(), &[]);
    let (x, _) = xor();
    model.fit(
        &x,
        &Tensor::zeros(&[3, 1]),
        FitOptions::new(1, 2).with_verbosity(Verbosity::Quiet),
    );
}
