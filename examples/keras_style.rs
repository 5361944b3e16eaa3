//! The Keras way, on a real binary task: `Sequential` of Dense(10, relu), Dense(8, relu),
//! Dense(1, sigmoid), `compile(adam, binary_crossentropy, accuracy)`, `fit(epochs,
//! batch_size)` — on the Wisconsin breast-cancer data (569 tumours, 30 features), bundled.
//!
//!     cargo run --release --example keras_style

use engram::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = datasets::breast_cancer::<f32>(datasets::data_dir())?;
    let parts = random_split(data, [0.8, 0.2], 7);
    let (train_x, train_y) = parts[0].to_batch();
    let (test_x, test_y) = parts[1].to_batch();
    // Standardise with the training split's mean and std only (sklearn's StandardScaler).
    let scaler = StandardScaler::fit(&train_x);
    let (train_x, test_x) = (scaler.transform(&train_x), scaler.transform(&test_x));
    // Binary targets as [N, 1] floats, the shape of the sigmoid's output.
    let column = |y: Tensor<usize>| y.map(|c| c as f32).reshape(&[y.shape()[0], 1]);
    let (train_y, test_y) = (column(train_y), column(test_y));
    println!(
        "breast cancer: {} training and {} test tumours, 30 standardised features",
        train_x.shape()[0],
        test_x.shape()[0]
    );

    let mut rng = seeded_rng(0);
    // model = Sequential([Dense(10, activation="relu"), Dense(8, activation="relu"),
    //                     Dense(1, activation="sigmoid")])
    let net = Sequential::new()
        .add(Linear::new(30, 10, &mut rng))
        .add(ReLU)
        .add(Linear::new(10, 8, &mut rng))
        .add(ReLU)
        .add(Linear::new(8, 1, &mut rng))
        .add(Sigmoid);
    // model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    let mut model = Model::new(net).compile(
        Adam::new(AdamOptions::default()),
        Loss::binary_cross_entropy(),
        &[Metric::Accuracy],
    );
    // model.fit(x, y, epochs=50, batch_size=16, validation_split=0.1)
    let epochs = engram::examples::epochs(50);
    model.fit(
        &train_x,
        &train_y,
        FitOptions::new(epochs, 16).with_validation_split(0.1),
    );
    let test = model.evaluate(&test_x, &test_y, 64);
    println!(
        "test loss {:.4}, test accuracy {:.2}%",
        test["loss"],
        100.0 * test["accuracy"]
    );
    Ok(())
}
