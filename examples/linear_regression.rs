//! Gradient descent recovers y = 3x + 2 from 100 noisy points: a model that is two
//! parameters, a hand-written forward, and the explicit loop.
//!
//!     cargo run --release --example linear_regression

use engram::nn::loss::{mse_loss, Reduction};
use engram::prelude::*;
use rand::Rng;

/// y = slope · x + intercept; `#[derive(Module)]` names the parameters after the fields.
#[derive(engram::nn::Module)]
struct Line {
    slope: Parameter,
    intercept: Parameter,
}

impl Line {
    fn forward(&self, cx: &Context, x: &Var<f32>) -> Var<f32> {
        x * cx.param(&self.slope) + cx.param(&self.intercept)
    }
}

fn main() {
    // 100 points on y = 3x + 2 with Gaussian-ish noise (sum of uniforms), from a seed.
    let mut rng = seeded_rng(0);
    let xs: Vec<f32> = (0..100).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let ys: Vec<f32> = xs
        .iter()
        .map(|x| 3.0 * x + 2.0 + 0.1 * (rng.gen::<f32>() + rng.gen::<f32>() - 1.0))
        .collect();
    let x = Tensor::from_vec(xs, &[100]);
    let y = Tensor::from_vec(ys, &[100]);

    let mut line = Line {
        slope: Parameter::new(Tensor::scalar(0.0)),
        intercept: Parameter::new(Tensor::scalar(0.0)),
    };
    let mut sgd = Sgd::new(SgdOptions::new(0.1));
    let cx = Context::train(0);
    let steps = engram::examples::epochs(500);
    println!("fitting y = a x + b to 100 noisy points of y = 3x + 2, {steps} steps of SGD(lr=0.1)");
    for step in 1..=steps {
        let loss = mse_loss(
            &line.forward(&cx, &cx.input(x.clone())),
            &cx.input(y.clone()),
            Reduction::Mean,
        );
        let grads = cx.backward(loss);
        if step % 100 == 0 {
            println!("step {step:4}: mse {:.5}", grads.loss());
        }
        sgd.step(&mut line, &grads);
    }
    println!(
        "recovered y = {:.3} x + {:.3} (true: y = 3x + 2)",
        line.slope.value().item(),
        line.intercept.value().item()
    );
}
