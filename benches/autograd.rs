//! Tape overhead and one training step, the two figures the autodiff issue sets goals for.
//!
//! - `tape_chain_10k_scalar_ops`: 10,002 scalar ops (`x · 1.0001`, `+ 0.0001`, `tanh`,
//!   repeated), forward and backward; criterion's elements per second are ops per second.
//! - `tape_chain_10k_scalar_ops_anomaly_mode`: the same under `detect_anomaly`, every value
//!   and gradient scanned for NaN and ±∞ (the figure without it shows the mode costs
//!   nothing when off).
//! - `mlp_784_512_512_10_b128_step`: forward, backward and SGD update of a ReLU MLP with
//!   softmax cross-entropy on a batch of 128, f32, on raw Vars: the tape without the layers
//!   (`benches/steps.rs` times the same step built from engram-nn layers).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engram::autograd::{detect_anomaly, grad, Tape, Var};
use engram::tensor::{seeded_rng, Tensor};

#[path = "workloads/tape.rs"]
mod tape;

fn tape_chain(c: &mut Criterion) {
    let chain_tape = Tape::<f32>::new();
    let mut group = c.benchmark_group("tape");
    group.throughput(Throughput::Elements(tape::TAPE_CHAIN_OPS as u64));
    group.bench_function("tape_chain_10k_scalar_ops", |b| {
        b.iter(|| tape::tape_chain(&chain_tape))
    });
    group.bench_function("tape_chain_10k_scalar_ops_anomaly_mode", |b| {
        b.iter(|| detect_anomaly(|| tape::tape_chain(&chain_tape)))
    });
    group.finish();
}

/// Parameters of the MLP, kept as plain tensors between steps.
struct Mlp {
    params: Vec<Tensor<f32>>,
}

impl Mlp {
    fn new() -> Self {
        let mut rng = seeded_rng(0);
        let mut params = Vec::new();
        for (fan_in, fan_out) in [(784, 512), (512, 512), (512, 10)] {
            let bound = (6.0f32 / fan_in as f32).sqrt();
            params.push(Tensor::rand_uniform(
                &[fan_in, fan_out],
                -bound,
                bound,
                &mut rng,
            ));
            params.push(Tensor::zeros(&[fan_out]));
        }
        Mlp { params }
    }

    /// One SGD step. The step's Vars live in the inner block, so once it ends and the
    /// tape is cleared nothing else shares the parameters' storage: the update is in place.
    fn step(&mut self, tape: &Tape<f32>, x: &Tensor<f32>, targets: &Tensor<f32>, lr: f32) -> f32 {
        let (value, grads) = {
            let p: Vec<Var<f32>> = self.params.iter().map(|t| tape.leaf(t.clone())).collect();
            let mut h = Var::constant(x.clone());
            for layer in 0..3 {
                h = h.matmul(&p[2 * layer]) + &p[2 * layer + 1];
                if layer < 2 {
                    h = h.relu();
                }
            }
            let batch = x.shape()[0] as f32;
            let loss = -(h.log_softmax(-1) * targets).sum() / batch;
            (loss.value().item(), grad(&loss, &p))
        };
        tape.clear();
        for (param, grad) in self.params.iter_mut().zip(&grads) {
            param.add_scaled_(grad, -lr);
        }
        value
    }
}

fn mlp_step(c: &mut Criterion) {
    let mut rng = seeded_rng(1);
    let x = Tensor::<f32>::randn(&[128, 784], &mut rng);
    let labels = Tensor::from_vec((0..128).map(|i| (i * 7) % 10).collect(), &[128]);
    let targets = Tensor::<f32>::one_hot(&labels, 10);
    let mut mlp = Mlp::new();
    let tape = Tape::<f32>::new();
    let mut group = c.benchmark_group("mlp");
    group.sample_size(30);
    group.bench_function("mlp_784_512_512_10_b128_step", |b| {
        b.iter(|| mlp.step(&tape, &x, &targets, 0.01))
    });
    group.finish();
}

criterion_group!(benches, tape_chain, mlp_step);
criterion_main!(benches);
