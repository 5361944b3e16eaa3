//! XOR with a 2-4-1 MLP and plain SGD, written as the explicit PyTorch loop: forward,
//! loss, backward, step.
//!
//!     cargo run --release --example xor

use engram::nn::loss::{mse_loss, Reduction};
use engram::prelude::*;

fn main() {
    let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], &[4, 2]);
    let y = Tensor::from_vec(vec![0., 1., 1., 0.], &[4, 1]);
    // nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid()), seeded.
    let mut net = Sequential::<f32>::new()
        .add(Linear::new(2, 4, &mut seeded_rng(0)))
        .add(Tanh)
        .add(Linear::new(4, 1, &mut seeded_rng(1)))
        .add(Sigmoid);
    let mut sgd = Sgd::new(SgdOptions::new(1.0));
    // The context plays the role of autograd's global state: it records the step's tape.
    let cx = Context::train(0);
    let steps = engram::examples::epochs(2000);
    println!("training a 2-4-1 MLP on XOR with SGD(lr=1.0) for {steps} steps");
    for step in 1..=steps {
        let prediction = net.forward(&cx, &cx.input(x.clone()));
        let loss = mse_loss(&prediction, &cx.input(y.clone()), Reduction::Mean);
        // loss.backward(); the prediction Var must be gone before the tape is released.
        drop(prediction);
        let grads = cx.backward(loss);
        if step % 500 == 0 {
            println!("step {step:5}: loss {:.5}", grads.loss());
        }
        sgd.step(&mut net, &grads);
    }
    let eval = Context::eval();
    let prediction = net.forward(&eval, &eval.input(x.clone()));
    for (input, p) in x.to_vec().chunks(2).zip(prediction.value().to_vec()) {
        println!("{} xor {} -> {p:.3}", input[0], input[1]);
    }
}
