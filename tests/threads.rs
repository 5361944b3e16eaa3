//! Kernels give bitwise the same result on 1 thread and on several: work is cut into fixed
//! chunks, never by thread count.

mod common;
use common::on_threads;
use engram::tensor::{seeded_rng, Conv2dOptions, Pool2dOptions, Tensor};

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.to_vec().iter().map(|x| x.to_bits()).collect()
}

fn workload() -> Vec<Vec<u32>> {
    let mut rng = seeded_rng(3);
    let big = Tensor::<f32>::randn(&[1 << 20], &mut rng);
    let m = Tensor::<f32>::randn(&[300, 700], &mut rng);
    let a = Tensor::<f32>::randn(&[512, 512], &mut rng);
    let b = Tensor::<f32>::randn(&[512, 512], &mut rng);
    let x = Tensor::<f32>::randn(&[16, 8, 28, 28], &mut rng);
    let w = Tensor::<f32>::randn(&[16, 8, 3, 3], &mut rng);
    // An LSTM recurrence large enough that its batch is cut into shares.
    let gates = Tensor::<f32>::randn(&[4, 32, 256], &mut rng);
    let (h0, c0) = (
        Tensor::<f32>::randn(&[32, 64], &mut rng),
        Tensor::<f32>::randn(&[32, 64], &mut rng),
    );
    let w_hh = Tensor::<f32>::randn(&[256, 64], &mut rng).mul_scalar(0.1);
    let (states, saved) = gates.lstm_recurrence(&h0, &c0, &w_hh);
    let seed = Tensor::<f32>::randn(states.shape(), &mut rng);
    let lstm = saved.backward(&seed, &states, (&h0, &c0), &w_hh);
    vec![
        bits(&big.sum()),
        bits(&big.exp()),
        bits(&m.sum_axes(&[0])),
        bits(&m.t().sum_axes(&[1])),
        bits(&m.logsumexp_axes(&[1])),
        bits(&m.softmax(0)),
        bits(&a.matmul(&b)),
        bits(&a.t().matmul(&b)),
        bits(&x.conv2d(&w, Conv2dOptions::default().padding(1))),
        bits(&x.max_pool2d(Pool2dOptions::new([2, 2]))),
        bits(&(&m + &m.sum_keepdim(&[0]))),
        // A convolution's bias gradient: each channel sums whole runs, one unit of work.
        bits(&x.sum_axes(&[0, 2, 3])),
        bits(&states),
        bits(&lstm.input),
        bits(&lstm.h0),
        bits(&lstm.c0),
        bits(&lstm.weight_hh),
    ]
}

#[test]
fn results_are_bitwise_identical_for_one_and_many_threads() {
    let one = on_threads(1, workload);
    for threads in [2, 4] {
        let many = on_threads(threads, workload);
        for (i, (a, b)) in one.iter().zip(&many).enumerate() {
            assert!(a == b, "kernel {i} differs between 1 and {threads} threads");
        }
    }
}

/// Products whose split into bands could change how `gemm` blocks the contracted
/// dimension: sums longer than one block (k above 512), bands of unequal width, bands
/// small enough for `gemm`'s small-product paths while the whole product is not, both
/// orientations, and transposed operands.
fn split_products() -> Vec<Vec<u32>> {
    let mut rng = seeded_rng(11);
    let mut out = Vec::new();
    for &(m, n, k) in &[
        (128, 64, 1000),
        (64, 128, 1000),
        (32, 144, 12544),
        (144, 32, 12544),
        (20, 100, 5000),
        (100, 12, 9000),
        (300, 16, 2000),
        (16, 300, 2000),
        (3, 200, 16000),
        (40, 70, 1537),
        (513, 129, 700),
        (90, 90, 600),
    ] {
        let a = Tensor::<f32>::randn(&[m, k], &mut rng);
        let b = Tensor::<f32>::randn(&[k, n], &mut rng);
        let at = Tensor::<f32>::randn(&[k, m], &mut rng);
        let bt = Tensor::<f32>::randn(&[n, k], &mut rng);
        out.push(bits(&a.matmul(&b)));
        out.push(bits(&a.matmul(&bt.t())));
        out.push(bits(&at.t().matmul(&b)));
        out.push(bits(&at.t().matmul(&bt.t())));
    }
    // f64 products block their sums the same way with other register tiles.
    for &(m, n, k) in &[(128, 64, 1000), (32, 144, 3000), (100, 12, 9000)] {
        let a = Tensor::<f64>::randn(&[m, k], &mut rng);
        let b = Tensor::<f64>::randn(&[k, n], &mut rng);
        let bt = Tensor::<f64>::randn(&[n, k], &mut rng);
        let at = Tensor::<f64>::randn(&[k, m], &mut rng);
        for product in [
            a.matmul(&b),
            a.matmul(&bt.t()),
            at.t().matmul(&b),
            at.t().matmul(&bt.t()),
        ] {
            out.push(
                product
                    .to_vec()
                    .iter()
                    .flat_map(|x| {
                        let b = x.to_bits();
                        [b as u32, (b >> 32) as u32]
                    })
                    .collect(),
            );
        }
    }
    out
}

#[test]
fn split_products_are_bitwise_identical_for_one_and_many_threads() {
    let one = on_threads(1, split_products);
    let mut differing = Vec::new();
    for threads in [2, 3, 4] {
        let many = on_threads(threads, split_products);
        for (i, (a, b)) in one.iter().zip(&many).enumerate() {
            if a != b {
                differing.push(format!(
                    "product {} (operand layout {}) on {threads} threads",
                    i / 4,
                    i % 4
                ));
            }
        }
    }
    assert!(
        differing.is_empty(),
        "differ from one thread: {differing:?}"
    );
}
