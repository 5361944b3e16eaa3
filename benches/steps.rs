//! One training step of each network in issue 14's table, built from engram-nn layers as
//! a user writes them (see `workloads/steps.rs`): forward, cross-entropy, backward and an
//! SGD update, f32. `tools/compare/run` times the same code beside PyTorch, JAX and candle.

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "workloads/steps.rs"]
mod workloads;

fn steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("steps");
    group.sample_size(20);
    let mut mlp = workloads::mlp();
    group.bench_function("mlp_784_512_512_10_b128_step", |b| b.iter(|| mlp.run()));
    let mut cnn = workloads::cnn();
    group.bench_function("cnn_conv16_conv32_linear10_b64_28x28_step", |b| {
        b.iter(|| cnn.run())
    });
    let mut lstm = workloads::lstm();
    group.bench_function("lstm_seq32_b32_in64_h128_linear10_step", |b| {
        b.iter(|| lstm.run())
    });
    group.finish();
}

criterion_group!(benches, steps);
criterion_main!(benches);
