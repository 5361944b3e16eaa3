//! Property tests of the autodiff (issue 15, item 8): random shapes and broadcasts for
//! the binary ops, random axis sets for the reductions, random permutations, slices and
//! joins for the views. Each case is gradchecked in f64 and its forward value compared
//! with a naive reference written with explicit index loops, so a wrong forward is caught
//! as well as a wrong vjp.
//!
//! Values come from a seeded generator in a domain where each op is smooth: positive
//! bases for `pow`, denominators away from 0, and, for `maximum`, `minimum`, `max`, `min`
//! and the comparisons behind `where_cond`, values that never tie (central differences
//! straddling a kink would report a false failure).

#[path = "autodiff_properties/binary.rs"]
mod binary;
#[path = "autodiff_properties/reduce.rs"]
mod reduce;
#[path = "autodiff_properties/shapes.rs"]
mod shapes;
#[path = "autodiff_properties/views.rs"]
mod views;

use engram::autograd::{gradcheck, gradgradcheck, GradcheckOptions, Var};
use engram::tensor::{seeded_rng, Rng, Tensor};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Cases per property: enough to meet every rank, broadcast pattern and axis set many
/// times over, while the whole file runs in a few seconds in the test profile.
const CASES: u32 = 256;

/// Uniform values in `[low, high)`.
fn uniform(shape: &[usize], low: f64, high: f64, seed: u64) -> Tensor<f64> {
    Tensor::rand_uniform(shape, low, high, &mut seeded_rng(seed))
}

/// Values whose magnitude lies in `[low, high)`, with random signs: safe denominators.
fn away_from_zero(shape: &[usize], low: f64, high: f64, seed: u64) -> Tensor<f64> {
    let mut rng = seeded_rng(seed);
    let values = uniform(shape, low, high, seed ^ 0x5eed).to_vec();
    let signed = values
        .into_iter()
        .map(|v| if rng.gen() { v } else { -v })
        .collect();
    Tensor::from_vec(signed, shape)
}

/// Values near the points `0.2·k + offset` (`k` in -5..5), at most 0.02 away. Two
/// tensors with offsets 0 and 0.1 are at least 0.06 apart everywhere, whatever the
/// broadcast: no ties, and no kink within a finite-difference step.
fn on_lattice(shape: &[usize], offset: f64, seed: u64) -> Tensor<f64> {
    let mut rng = seeded_rng(seed);
    let n: usize = shape.iter().product();
    let values = (0..n)
        .map(|_| 0.2 * rng.gen_range(-5..5) as f64 + offset + rng.gen_range(-0.02..0.02))
        .collect();
    Tensor::from_vec(values, shape)
}

/// Distinct values 0.25 apart, in random order: no ties for `max` and `min`.
fn distinct(shape: &[usize], seed: u64) -> Tensor<f64> {
    use rand::seq::SliceRandom;
    let n: usize = shape.iter().product();
    let mut values: Vec<f64> = (0..n).map(|i| 0.25 * i as f64 - 0.125 * n as f64).collect();
    values.shuffle(&mut seeded_rng(seed));
    Tensor::from_vec(values, shape)
}

/// Gradchecks `f` at `inputs` with the default f64 options, first derivatives and then
/// second ones (through the recorded backward pass, which every rule must also build
/// for these shapes); the failing report is the failure.
fn assert_gradcheck(
    f: impl Fn(&[Var<f64>]) -> Var<f64>,
    inputs: &[Tensor<f64>],
) -> Result<(), TestCaseError> {
    let options = GradcheckOptions::default();
    let first = gradcheck(&f, inputs, &options);
    prop_assert!(first.passed(), "first derivatives: {}", first);
    let second = gradgradcheck(&f, inputs, &options);
    prop_assert!(second.passed(), "second derivatives: {}", second);
    Ok(())
}

/// `f` on constants: its forward value alone, nothing recorded.
fn forward(f: &impl Fn(&[Var<f64>]) -> Var<f64>, inputs: &[Tensor<f64>]) -> Tensor<f64> {
    let constants: Vec<Var<f64>> = inputs.iter().cloned().map(Var::constant).collect();
    f(&constants).value().clone()
}

/// Checks a forward value against a reference: the same shape, and each element within
/// a few rounding errors (NaN matching NaN, infinities matching exactly).
fn assert_forward(
    actual: &Tensor<f64>,
    shape: &[usize],
    expected: &[f64],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(actual.shape(), shape, "forward shape");
    let got = actual.to_vec();
    prop_assert_eq!(got.len(), expected.len());
    for (i, (&a, &e)) in got.iter().zip(expected).enumerate() {
        let same = if e.is_nan() {
            a.is_nan()
        } else if e.is_infinite() {
            a == e
        } else {
            (a - e).abs() <= 1e-12 * (1.0 + e.abs())
        };
        prop_assert!(
            same,
            "forward element {} is {}, the reference says {}",
            i,
            a,
            e
        );
    }
    Ok(())
}

/// One case's whole property: the forward value matches the reference, and the
/// gradients pass gradcheck.
fn assert_op(
    f: impl Fn(&[Var<f64>]) -> Var<f64>,
    inputs: &[Tensor<f64>],
    shape: &[usize],
    expected: &[f64],
) -> Result<(), TestCaseError> {
    assert_forward(&forward(&f, inputs), shape, expected)?;
    assert_gradcheck(f, inputs)
}
