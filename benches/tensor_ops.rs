//! Elementwise, reduction, convolution and pooling kernels on f32.

use criterion::{criterion_group, criterion_main, Criterion};
use engram::tensor::{seeded_rng, Conv2dOptions, Pool2dOptions, Tensor};

fn kernels(c: &mut Criterion) {
    let mut rng = seeded_rng(2);
    let a = Tensor::<f32>::randn(&[1 << 20], &mut rng);
    let b = Tensor::<f32>::randn(&[1 << 20], &mut rng);
    c.bench_function("add_1m_f32", |bch| bch.iter(|| &a + &b));
    c.bench_function("exp_1m_f32", |bch| bch.iter(|| a.exp()));
    c.bench_function("sum_1m_f32", |bch| bch.iter(|| a.sum()));
    let x = Tensor::<f32>::randn(&[64, 16, 28, 28], &mut rng);
    let w = Tensor::<f32>::randn(&[32, 16, 3, 3], &mut rng);
    let mut group = c.benchmark_group("conv");
    group.sample_size(20);
    group.bench_function("conv2d_x64x16x28x28_w32x16x3x3_f32", |bch| {
        bch.iter(|| x.conv2d(&w, Conv2dOptions::default()))
    });
    // The CNN step's first pooling, forward and backward.
    let pool = Pool2dOptions::new([2, 2]);
    let g = Tensor::<f32>::randn(&[64, 16, 14, 14], &mut rng);
    group.bench_function("max_pool2d_2x2_x64x16x28x28_f32", |bch| {
        bch.iter(|| x.max_pool2d(pool))
    });
    group.bench_function("max_pool2d_input_grad_2x2_x64x16x28x28_f32", |bch| {
        bch.iter(|| g.max_pool2d_input_grad(&x, pool))
    });
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
