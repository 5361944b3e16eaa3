//! Square f32 matmul through `Tensor` beside the `gemm` crate called directly (the kernel
//! Tensor uses) and `matrixmultiply` (the alternative we measured against), in one run.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engram::tensor::{seeded_rng, Tensor};

fn gemm_direct(a: &[f32], b: &[f32], c: &mut [f32], n: usize) {
    // SAFETY: a, b and c are n×n row-major buffers of exactly n² elements.
    unsafe {
        gemm::gemm(
            n,
            n,
            n,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            n as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(rayon::current_num_threads()),
        )
    }
}

fn matrixmultiply_direct(a: &[f32], b: &[f32], c: &mut [f32], n: usize) {
    // SAFETY: a, b and c are n×n row-major buffers of exactly n² elements.
    unsafe {
        matrixmultiply::sgemm(
            n,
            n,
            n,
            1.0,
            a.as_ptr(),
            n as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

fn square_matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul_f32_square");
    group.sample_size(10);
    for n in [128usize, 512, 1024, 2048] {
        let mut rng = seeded_rng(1);
        let a = Tensor::<f32>::randn(&[n, n], &mut rng);
        let b = Tensor::<f32>::randn(&[n, n], &mut rng);
        let (av, bv) = (a.to_vec(), b.to_vec());
        let mut out = vec![0.0f32; n * n];
        group.throughput(Throughput::Elements((2 * n * n * n) as u64));
        group.bench_with_input(BenchmarkId::new("tensor", n), &n, |bch, _| {
            bch.iter(|| a.matmul(&b))
        });
        group.bench_with_input(
            BenchmarkId::new("tensor_lhs_transposed", n),
            &n,
            |bch, _| {
                let at = a.t();
                bch.iter(|| at.matmul(&b))
            },
        );
        group.bench_with_input(BenchmarkId::new("gemm_crate", n), &n, |bch, &n| {
            bch.iter(|| gemm_direct(&av, &bv, &mut out, n))
        });
        group.bench_with_input(
            BenchmarkId::new("matrixmultiply_crate", n),
            &n,
            |bch, &n| bch.iter(|| matrixmultiply_direct(&av, &bv, &mut out, n)),
        );
    }
    group.finish();
}

criterion_group!(benches, square_matmul);
criterion_main!(benches);
