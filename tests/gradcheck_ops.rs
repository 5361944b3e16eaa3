//! Every registered op, layer and loss passes gradcheck in f64 on each of its shape cases,
//! and gradgradcheck where its second derivative is non-trivial.

use engram::autograd::registry::{all_cases, GradcheckCase};
use engram::autograd::{gradcheck, gradgradcheck, GradcheckOptions, GradcheckReport, Var};
use engram::nn::gradcheck_cases;
use engram::tensor::{seeded_rng, Tensor};

fn inputs(case: &GradcheckCase, seed: u64) -> Vec<Tensor<f64>> {
    let mut rng = seeded_rng(seed);
    case.inputs.iter().map(|s| s.sample(&mut rng)).collect()
}

/// The function under test, in f64.
type CaseFn = fn(&[Var<f64>]) -> Var<f64>;

fn run(check: fn(CaseFn, &[Tensor<f64>]) -> GradcheckReport, only_second: bool) {
    let cases: Vec<_> = all_cases().into_iter().chain(gradcheck_cases()).collect();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, case) in cases.iter().enumerate() {
        if only_second && !case.second_order {
            continue;
        }
        checked += 1;
        let report = check(case.f64, &inputs(case, i as u64));
        if !report.passed() {
            failures.push(format!("{}:\n{report}", case.name()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_op_passes_gradcheck() {
    run(|f, x| gradcheck(f, x, &GradcheckOptions::default()), false);
}

#[test]
fn every_op_with_curvature_passes_gradgradcheck() {
    run(
        |f, x| gradgradcheck(f, x, &GradcheckOptions::default()),
        true,
    );
}

#[test]
fn registry_covers_each_op_with_three_shape_cases() {
    let cases = all_cases();
    let mut count: std::collections::BTreeMap<&str, usize> = Default::default();
    for c in &cases {
        *count.entry(c.op).or_default() += 1;
    }
    // Composite checks of several ops at once are exempt; every op has its own cases.
    let thin: Vec<_> = count
        .iter()
        .filter(|(op, &n)| n < 3 && !["operators", "sign_times_x"].contains(op))
        .collect();
    assert!(
        thin.is_empty(),
        "ops with fewer than three shape cases: {thin:?}"
    );
}
