//! Elementwise and reduction throughput in GB/s beside a plain copy, the machine's memory
//! bandwidth, on 1M (4 MB, cache-resident on most server parts) and 16M f32 (64 MB, memory
//! bound). Bytes count each element read and written once: a copy or a unary op moves 8
//! bytes per element, a binary op 12, a full reduction 4.
//!
//! Two copies bound the elementwise ops: `copy_into_existing` writes into a buffer that is
//! already mapped (the bandwidth), `copy_to_new` into a fresh allocation, which is what an
//! op returning a new tensor pays (at 64 MB, fresh pages are faulted in on every call).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engram::tensor::{seeded_rng, Tensor};

const SIZES: [(usize, &str); 2] = [(1 << 20, "1m"), (1 << 24, "16m")];

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("throughput_f32");
    group.sample_size(20);
    for (n, label) in SIZES {
        let mut rng = seeded_rng(3);
        let a = Tensor::<f32>::randn(&[n], &mut rng);
        let b = Tensor::<f32>::randn(&[n], &mut rng);
        let src = a.as_slice().expect("randn gives a contiguous tensor");
        let mut dst = vec![0.0f32; n];
        let bytes = |per_element: usize| Throughput::Bytes((per_element * 4 * n) as u64);

        group.throughput(bytes(2));
        group.bench_function(BenchmarkId::new("copy_into_existing", label), |bch| {
            bch.iter(|| dst.copy_from_slice(src))
        });
        group.bench_function(BenchmarkId::new("copy_to_new", label), |bch| {
            bch.iter(|| src.to_vec())
        });
        group.bench_function(BenchmarkId::new("relu", label), |bch| bch.iter(|| a.relu()));
        group.throughput(bytes(3));
        group.bench_function(BenchmarkId::new("add", label), |bch| bch.iter(|| &a + &b));
        group.bench_function(BenchmarkId::new("mul", label), |bch| bch.iter(|| &a * &b));
        group.throughput(bytes(1));
        group.bench_function(BenchmarkId::new("sum", label), |bch| bch.iter(|| a.sum()));
        group.bench_function(BenchmarkId::new("max", label), |bch| bch.iter(|| a.max()));
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
