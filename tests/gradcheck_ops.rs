//! Every registered op, layer and loss passes gradcheck in f64 on each of its shape cases,
//! and gradgradcheck where its second derivative is non-trivial.

use engram::autograd::registry::{all_cases, all_op_names, GradcheckCase};
use engram::autograd::{gradcheck, gradgradcheck, GradcheckOptions, GradcheckReport, Var};
use engram::nn::gradcheck_cases;
use engram::tensor::{seeded_rng, Float, Tensor};
use std::collections::BTreeMap;

fn inputs<T: Float>(case: &GradcheckCase, seed: u64) -> Vec<Tensor<T>> {
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

/// The default options follow the dtype: in f32 they are loose enough for rounding, and
/// every case, ops, layers and losses alike (what `engram gradcheck --dtype f32` runs),
/// passes with them.
#[test]
fn every_op_passes_gradcheck_in_f32_with_default_options() {
    let mut failures = Vec::new();
    let cases: Vec<_> = all_cases().into_iter().chain(gradcheck_cases()).collect();
    for (i, case) in cases.iter().enumerate() {
        let report = gradcheck(
            case.f32,
            &inputs::<f32>(case, i as u64),
            &GradcheckOptions::default(),
        );
        if !report.passed() {
            failures.push(format!("{}:\n{report}", case.name()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Composite checks of several ops at once, not ops of their own.
const COMPOSITES: [&str; 2] = ["operators", "sign_times_x"];

fn case_labels() -> BTreeMap<&'static str, Vec<&'static str>> {
    let mut labels: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in all_cases() {
        labels.entry(c.op).or_default().push(c.label);
    }
    labels
}

/// The list of ops comes from the `Op` enum, not from the registry, so an op with no
/// case at all (as `sign` once was) fails here.
#[test]
fn registry_covers_every_op_with_three_shape_cases() {
    let labels = case_labels();
    let mut ops: Vec<&str> = all_op_names();
    ops.extend(labels.keys().filter(|op| !COMPOSITES.contains(op)));
    let thin: Vec<(&str, usize)> = ops
        .iter()
        .map(|op| (*op, labels.get(op).map_or(0, Vec::len)))
        .filter(|&(_, n)| n < 3)
        .collect();
    assert!(
        thin.is_empty(),
        "ops with fewer than three shape cases: {thin:?}"
    );
}

/// DESIGN promises an empty-dimension case for every op that accepts empty input, and
/// every op does.
#[test]
fn registry_has_an_empty_case_for_every_op() {
    let labels = case_labels();
    let mut ops: Vec<&str> = all_op_names();
    ops.extend(labels.keys().filter(|op| !COMPOSITES.contains(op)));
    let missing: Vec<&str> = ops
        .into_iter()
        .filter(|op| {
            !labels
                .get(op)
                .is_some_and(|l| l.iter().any(|l| l.contains("empty")))
        })
        .collect();
    assert!(missing.is_empty(), "ops without an empty case: {missing:?}");
}
