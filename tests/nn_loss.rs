//! Losses against PyTorch: `tests/fixtures/nn/loss.json`, written by
//! `tools/oracle/nn_seq_oracle.py` with `torch.nn.functional`. Each case holds the inputs, the
//! value, a cotangent and the gradients of `⟨loss, cotangent⟩` with respect to each
//! differentiable input; Engram must agree in f64 to 1e-10 of the tensor's scale, and in
//! f32 (the ±1e4-logit cases) to 1e-5 of it, with every value finite.

mod common;
use common::{indices, tensor};
use engram::autograd::{vjp, Tape, Var};
use engram::nn::loss::{
    bce_with_logits, binary_cross_entropy, cross_entropy, huber_loss, kl_div, l1_loss, mse_loss,
    nll_loss, smooth_l1_loss, BceWithLogitsOptions, CrossEntropyOptions, KlReduction, NllOptions,
    Reduction,
};
use engram::tensor::{Float, Tensor};
use serde_json::Value;

const FIXTURES: &str = include_str!("fixtures/nn/loss.json");

fn cases() -> serde_json::Map<String, Value> {
    let doc: Value = serde_json::from_str(FIXTURES).unwrap();
    doc["cases"].as_object().unwrap().clone()
}

/// `|got - want| <= rtol · max(1, max |want|)` elementwise, where PyTorch's entry is finite.
#[track_caller]
fn assert_close<T: Float>(what: &str, got: &Tensor<T>, want: &Tensor<T>, rtol: f64) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let want = want.to_vec();
    let scale = want
        .iter()
        .filter(|w| w.as_f64().is_finite())
        .fold(1.0f64, |m, w| m.max(w.as_f64().abs()));
    for (i, (g, w)) in got.to_vec().iter().zip(&want).enumerate() {
        let (g, w) = (g.as_f64(), w.as_f64());
        assert!(g.is_finite(), "{what}[{i}]: engram gives {g}");
        if w.is_finite() {
            assert!(
                (g - w).abs() <= rtol * scale,
                "{what}[{i}]: engram {g}, torch {w}"
            );
        }
    }
}

/// The loss a case name stands for, on inputs `x` (and the case's constants).
fn loss<T: Float>(name: &str, case: &Value, x: &[Var<T>]) -> Var<T> {
    let weight = || tensor::<T>(&case["weight"]);
    let classes = || indices(&case["classes"]);
    match name {
        "mse_mean" => mse_loss(&x[0], &x[1], Reduction::Mean),
        "mse_none" => mse_loss(&x[0], &x[1], Reduction::None),
        "l1_sum" => l1_loss(&x[0], &x[1], Reduction::Sum),
        "smooth_l1_beta_half_mean" => smooth_l1_loss(&x[0], &x[1], 0.5, Reduction::Mean),
        "huber_delta_1_5_sum" => huber_loss(&x[0], &x[1], 1.5, Reduction::Sum),
        "bce_weight_mean" => binary_cross_entropy(&x[0], &x[1], Some(&weight()), Reduction::Mean),
        "bce_floor_none" => binary_cross_entropy(&x[0], &x[1], None, Reduction::None),
        "bce_logits_weight_pos_weight_mean" => bce_with_logits(
            &x[0],
            &x[1],
            &BceWithLogitsOptions::default()
                .weight(weight())
                .pos_weight(tensor(&case["pos_weight"])),
        ),
        "bce_logits_none" => bce_with_logits(
            &x[0],
            &x[1],
            &BceWithLogitsOptions::default().reduction(Reduction::None),
        ),
        "ce_indices_mean" | "f32_ce_large_logits" => {
            cross_entropy(&x[0], &classes(), &CrossEntropyOptions::default())
        }
        "ce_weight_ignore_smooth_mean" => cross_entropy(
            &x[0],
            &classes(),
            &CrossEntropyOptions::default()
                .weight(weight())
                .ignore_index(1)
                .label_smoothing(0.2),
        ),
        "ce_smooth_none" => cross_entropy(
            &x[0],
            &classes(),
            &CrossEntropyOptions::default()
                .label_smoothing(0.1)
                .reduction(Reduction::None),
        ),
        "ce_rank3_weight_sum" => cross_entropy(
            &x[0],
            &classes(),
            &CrossEntropyOptions::default()
                .weight(weight())
                .reduction(Reduction::Sum),
        ),
        "ce_probabilities_weight_smooth_mean" => cross_entropy(
            &x[0],
            &x[1],
            &CrossEntropyOptions::default()
                .weight(weight())
                .label_smoothing(0.15),
        ),
        "nll_weight_ignore_mean" => nll_loss(
            &x[0],
            &classes(),
            &NllOptions::default().weight(weight()).ignore_index(2),
        ),
        "kl_batchmean" => kl_div(&x[0], &x[1], KlReduction::BatchMean, false),
        "kl_log_target_sum" => kl_div(&x[0], &x[1], KlReduction::Sum, true),
        "f32_bce_logits_large" => bce_with_logits(&x[0], &x[1], &BceWithLogitsOptions::default()),
        other => panic!("fixture case {other} has no Engram counterpart in this test"),
    }
}

fn check<T: Float>(name: &str, case: &Value, rtol: f64) {
    let inputs: Vec<Tensor<T>> = (0..)
        .map_while(|i| case.get(format!("input{i}")).map(tensor::<T>))
        .collect();
    let value = vjp_check::<T>(name, case, &inputs, rtol);
    assert_close(
        &format!("{name}: value"),
        &value,
        &tensor(&case["value"]),
        rtol,
    );
}

/// Checks the gradients (where the fixture has them) and returns the value.
fn vjp_check<T: Float>(name: &str, case: &Value, inputs: &[Tensor<T>], rtol: f64) -> Tensor<T> {
    if case.get("cotangent").is_none() {
        let x: Vec<Var<T>> = inputs.iter().cloned().map(Var::constant).collect();
        return loss(name, case, &x).value().clone();
    }
    let cotangent = tensor::<T>(&case["cotangent"]);
    let tape = Tape::new();
    let x: Vec<Var<T>> = inputs.iter().cloned().map(|t| tape.leaf(t)).collect();
    let out = loss(name, case, &x);
    let grads = vjp(&out, &cotangent, &x.iter().collect::<Vec<_>>());
    for (i, g) in grads.iter().enumerate() {
        if let Some(want) = case.get(format!("grad{i}")) {
            assert_close(&format!("{name}: grad{i}"), g, &tensor(want), rtol);
        }
    }
    out.value().clone()
}

#[test]
fn every_loss_matches_pytorch_in_f64() {
    let mut checked = 0;
    for (name, case) in cases() {
        if !name.starts_with("f32_") {
            check::<f64>(&name, &case, 1e-10);
            checked += 1;
        }
    }
    assert!(checked >= 17);
}

#[test]
fn logits_of_1e4_stay_finite_and_match_pytorch_in_f32() {
    for (name, case) in cases() {
        if name.starts_with("f32_") {
            check::<f32>(&name, &case, 1e-5);
        }
    }
}
