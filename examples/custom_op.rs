//! A user-defined op with its own derivative: `log1pexp(x) = ln(1 + eˣ)`, computed without
//! overflow, with the vjp stated by hand — then checked by central differences and used
//! as the activation of an MLP trained on the UCI digits.
//!
//!     cargo run --release --example custom_op
//!
//! In PyTorch terms this is a `torch.autograd.Function` with `forward` and `backward`,
//! checked with `torch.autograd.gradcheck` and `gradgradcheck` in float64. Here the op
//! implements [`CustomOp`]: `forward` works on tensors, `vjp` is written with `Var` ops
//! (`g · σ(x)`), so the op can be differentiated again (`gradgradcheck` checks that too).
//! Written naively as `x.exp().log1p()`, the function overflows in f32 at x = 100 and its
//! gradient is NaN there; the custom op gives 100 and 1.

use engram::autograd::{gradgradcheck, CustomOp};
use engram::nn::loss::{cross_entropy, CrossEntropyOptions};
use engram::prelude::*;
use std::rc::Rc;

/// `ln(1 + eˣ)` as `max(x, 0) + ln(1 + e^-|x|)`, which never exponentiates a positive
/// number; its derivative is the logistic function `σ(x)`.
struct Log1pExp;

impl<T: Float> CustomOp<T> for Log1pExp {
    fn name(&self) -> &str {
        "log1pexp"
    }

    fn forward(&self, inputs: &[&Tensor<T>]) -> Tensor<T> {
        inputs[0].map(|x| x.max(T::zero()) + (-x.abs()).exp().ln_1p())
    }

    /// `∂/∂x ln(1 + eˣ) = σ(x)`, so the input's gradient is `g · σ(x)`.
    fn vjp(&self, inputs: &[Var<T>], _output: &Var<T>, grad: &Var<T>) -> Vec<Option<Var<T>>> {
        vec![Some(grad.mul(&inputs[0].sigmoid()))]
    }
}

/// Applies the op: what a user calls, as `Log1pExp.apply(x)` in PyTorch.
fn log1pexp<T: Float>(x: &Var<T>) -> Var<T> {
    Var::custom(Rc::new(Log1pExp), &[x])
}

/// The op as a layer, so that it goes into a `Sequential` like `nn.ReLU()`.
#[derive(Module)]
struct Log1pExpLayer;

impl Forward for Log1pExpLayer {
    fn forward(&self, _: &Context, input: &Var) -> Var {
        log1pexp(input)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The gradient, against central differences in f64 (PyTorch's tolerances), at
    //    points from far negative to far positive, and the gradient of the gradient.
    let inputs = [Tensor::<f64>::from_vec(
        vec![
            -30.0, -5.0, -1.0, -0.1, 0.0, 0.1, 1.0, 5.0, 30.0, 2.5, -2.5, 0.7,
        ],
        &[3, 4],
    )];
    let options = GradcheckOptions::default();
    let first = gradcheck(|v: &[Var<f64>]| log1pexp(&v[0]), &inputs, &options);
    println!("gradcheck of log1pexp on a [3, 4] input in f64:\n{first}");
    let second = gradgradcheck(|v: &[Var<f64>]| log1pexp(&v[0]), &inputs, &options);
    println!("gradgradcheck (the vjp, differentiated again):\n{second}");
    if !first.passed() || !second.passed() {
        return Err("log1pexp failed its gradient check".into());
    }

    // 2. Against the library's own softplus, and the naive composition, in f32 at x = 100.
    let tape = Tape::<f32>::new();
    let big = tape.leaf(Tensor::from_vec(vec![-100.0, 0.0, 100.0], &[3]));
    let naive = big.exp().log1p();
    let custom = log1pexp(&big);
    let builtin = big.softplus();
    println!("at x = [-100, 0, 100] in f32:");
    for (name, y) in [
        ("x.exp().log1p()", &naive),
        ("log1pexp (custom)", &custom),
        ("softplus (built in)", &builtin),
    ] {
        let g = grad(&y.sum(), &[&big]).remove(0);
        println!(
            "  {name:20} value {:?}, gradient {:?}",
            y.value().to_vec(),
            g.to_vec()
        );
    }
    drop((naive, custom, builtin, big));

    // 3. In a model: an MLP 64-128-10 on the UCI digits with log1pexp as its activation,
    //    the explicit loop with Adam; the loss falls as the custom vjp trains it.
    let digits = datasets::digits::<f32>(datasets::data_dir())?;
    let parts = random_split(digits, [0.8, 0.2], 42);
    let (train_x, train_y) = parts[0].to_batch();
    let (test_x, test_y) = parts[1].to_batch();
    let (train_x, test_x) = (
        train_x.mul_scalar(1.0 / 16.0),
        test_x.mul_scalar(1.0 / 16.0),
    );
    let mut rng = seeded_rng(0);
    let mut model = Sequential::new()
        .add(Linear::new(64, 128, &mut rng))
        .add(Log1pExpLayer)
        .add(Linear::new(128, 10, &mut rng));
    let mut adam = Adam::new(AdamOptions {
        lr: 1e-3,
        ..Default::default()
    });
    let loader = DataLoader::new(TensorDataset::new(train_x, train_y), 32).shuffle(0);
    let cx = Context::train(0);
    let epochs = engram::examples::epochs(20);
    println!(
        "MLP 64-128-10 with log1pexp on {} digits, Adam(lr=1e-3), batch 32, {epochs} epochs",
        loader.dataset().len()
    );
    for epoch in 1..=epochs {
        let (mut loss_sum, mut seen) = (0.0, 0);
        for (images, labels) in &loader {
            let logits = model.forward(&cx, &cx.input(images));
            let loss = cross_entropy(&logits, &labels, &CrossEntropyOptions::default());
            drop(logits);
            let grads = cx.backward(loss);
            loss_sum += grads.loss() as f64 * labels.shape()[0] as f64;
            seen += labels.shape()[0];
            adam.step(&mut model, &grads);
        }
        println!(
            "epoch {epoch:2}/{epochs}: loss {:.4}",
            loss_sum / seen as f64
        );
    }
    let eval = Context::eval();
    let predicted = model
        .forward(&eval, &eval.input(test_x))
        .value()
        .argmax(1)
        .to_vec();
    let correct = predicted
        .iter()
        .zip(test_y.to_vec())
        .filter(|(p, t)| **p == *t)
        .count();
    println!(
        "test accuracy {:.2}% on {} digits",
        100.0 * correct as f64 / predicted.len() as f64,
        predicted.len()
    );
    Ok(())
}
