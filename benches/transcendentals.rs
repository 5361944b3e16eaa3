//! Throughput of the vectorised transcendentals beside a plain copy, in GB/s (bytes read
//! plus bytes written), on 1M and 16M elements, f32 and f64.
//!
//! - `copy`: `Tensor::map(|v| v)`, the same allocation, chunking and threads as every
//!   elementwise op: the machine's memory bandwidth as the kernels see it.
//! - `exp`, `expm1`, `ln`, `tanh`, `softplus`, `sigmoid`, `erf`, `sin`, `cos`: the tensor
//!   methods.
//! - `scalar_*`: the same function through `Tensor::map` with the standard library's (or
//!   libm's) scalar routine, as every op ran before the vectorised kernels.
//!
//! Threads follow rayon (`RAYON_NUM_THREADS=1` for one). `tools/compare/transcendentals_torch.py`
//! times the same in PyTorch.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engram::tensor::{seeded_rng, Float, Tensor};
use std::time::Duration;

/// Inputs in `[-4, 4]` (positive `[0.01, 4]` for `ln`): where activations live, and
/// wide enough that every kernel branch (and every quadrant of `sin` and `cos`) is taken.
fn inputs<T: Float>(n: usize, positive: bool) -> Tensor<T> {
    let lo = if positive { 0.01 } else { -4.0 };
    Tensor::rand_uniform(&[n], T::of(lo), T::of(4.0), &mut seeded_rng(0))
}

fn scalar_sigmoid<T: Float>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// A figure's name, its input and the op.
type Case<'a, T> = (&'static str, &'a Tensor<T>, fn(&Tensor<T>) -> Tensor<T>);

fn transcendentals<T: Float>(c: &mut Criterion) {
    for (label, n) in [("1M", 1usize << 20), ("16M", 1 << 24)] {
        let mut group = c.benchmark_group(format!("transcendentals_{}_{label}", T::DTYPE));
        group.throughput(Throughput::Bytes((2 * n * std::mem::size_of::<T>()) as u64));
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        group.sample_size(if n > 1 << 20 { 10 } else { 30 });
        let (x, pos) = (inputs::<T>(n, false), inputs::<T>(n, true));
        let cases: [Case<T>; 19] = [
            ("copy", &x, |t| t.map(|v| v)),
            ("exp", &x, |t| t.exp()),
            ("scalar_exp", &x, |t| t.map(|v| v.exp())),
            ("expm1", &x, |t| t.expm1()),
            ("scalar_expm1", &x, |t| t.map(|v| v.exp_m1())),
            ("ln", &pos, |t| t.ln()),
            ("scalar_ln", &pos, |t| t.map(|v| v.ln())),
            ("tanh", &x, |t| t.tanh()),
            ("scalar_tanh", &x, |t| t.map(|v| v.tanh())),
            ("softplus", &x, |t| t.softplus()),
            ("scalar_softplus", &x, |t| {
                t.map(|v| v.max(T::zero()) + (-v.abs()).exp().ln_1p())
            }),
            ("sigmoid", &x, |t| t.sigmoid()),
            ("scalar_sigmoid", &x, |t| t.map(scalar_sigmoid)),
            ("erf", &x, |t| t.erf()),
            ("scalar_erf", &x, |t| t.map(|v| Float::erf(v))),
            ("sin", &x, |t| t.sin()),
            ("scalar_sin", &x, |t| t.map(|v| v.sin())),
            ("cos", &x, |t| t.cos()),
            ("scalar_cos", &x, |t| t.map(|v| v.cos())),
        ];
        for (name, input, f) in cases {
            group.bench_with_input(BenchmarkId::new(name, label), input, |b, t| b.iter(|| f(t)));
        }
        group.finish();
    }
}

criterion_group!(benches, transcendentals::<f32>, transcendentals::<f64>);
criterion_main!(benches);
