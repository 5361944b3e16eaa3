//! Anomaly mode, through the public API: the first NaN or ±∞ in a recorded value or in a
//! gradient panics with forward/backward, the op, the line of this file that recorded it
//! and the input shapes; outside the mode the same code runs and NaN passes through.

use engram::autograd::{
    detect_anomaly, grad_graph, is_anomaly_enabled, AnomalyMode, CustomOp, Tape, Var,
};
use engram::nn::functional::scaled_dot_product_attention;
use engram::nn::loss::{mse_loss, Reduction};
use engram::nn::{Context, Forward, Linear};
use engram::tensor::{seeded_rng, Float, Tensor};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

/// The message of the panic `call` must raise.
fn panic_message<R>(call: impl FnOnce() -> R) -> String {
    let Err(payload) = panic::catch_unwind(AssertUnwindSafe(call)) else {
        panic!("the call was expected to panic, and returned");
    };
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast::<&str>()
            .map_or_else(|_| String::new(), |s| s.to_string()),
    }
}

/// `file:line:` of this file, as an anomaly report writes where an op was recorded.
fn here(line: u32) -> String {
    format!("{}:{line}:", file!())
}

/// Asserts that `message` contains every one of `parts`, showing it otherwise.
fn assert_names(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "expected {part:?} in the message:\n{message}"
        );
    }
}

/// A test in f32 and one in f64 of a check generic over the float type.
macro_rules! in_f32_and_f64 {
    ($check:ident) => {
        mod $check {
            #[test]
            fn f32() {
                super::$check::<f32>();
            }

            #[test]
            fn f64() {
                super::$check::<f64>();
            }
        }
    };
}

fn ln_of_a_negative_is_reported_in_forward<T: Float>() {
    let tape = Tape::<T>::new();
    let x = tape.leaf(Tensor::from_vec(vec![T::of(1.0), T::of(-2.0)], &[2]));
    let message = detect_anomaly(|| panic_message(|| x.ln()));
    let line = line!() - 1;
    assert_names(
        &message,
        &[
            "anomaly in forward",
            "`ln`",
            &here(line),
            "1 NaN of 2 elements (the first at [1])",
            "input shapes [2]",
        ],
    );
}

in_f32_and_f64!(ln_of_a_negative_is_reported_in_forward);

fn zero_over_zero_is_reported_in_forward<T: Float>() {
    let tape = Tape::<T>::new();
    let x = tape.leaf(Tensor::from_vec(vec![T::of(0.0), T::of(1.0)], &[2, 1]));
    let y = tape.leaf(Tensor::from_vec(vec![T::of(0.0), T::of(2.0)], &[2]));
    let message = detect_anomaly(|| panic_message(|| &x / &y));
    let line = line!() - 1;
    assert_names(
        &message,
        &[
            "anomaly in forward",
            "`div`",
            &here(line),
            "1 NaN and 1 +inf of 4 elements (the first at [0, 0])",
            "of shape [2, 2]",
            "input shapes [2, 1], [2]",
        ],
    );
}

in_f32_and_f64!(zero_over_zero_is_reported_in_forward);

fn exp_overflow_is_reported_in_forward<T: Float>() {
    let tape = Tape::<T>::new();
    let x = tape.leaf(Tensor::from_vec(vec![T::of(1.0), T::of(1000.0)], &[2]));
    let message = detect_anomaly(|| panic_message(|| x.exp()));
    let line = line!() - 1;
    assert_names(
        &message,
        &[
            "anomaly in forward",
            "`exp`",
            &here(line),
            "1 +inf of 2 elements (the first at [1])",
        ],
    );
}

in_f32_and_f64!(exp_overflow_is_reported_in_forward);

fn sqrt_at_zero_is_reported_in_backward<T: Float>() {
    let tape = Tape::<T>::new();
    let x = tape.leaf(Tensor::from_vec(vec![T::of(4.0), T::of(0.0)], &[2]));
    let root = x.sqrt();
    let line = line!() - 1;
    let loss = root.sum(); // 2, finite: only the gradient 1/(2√x) is not
    let message = detect_anomaly(|| panic_message(|| loss.backward()));
    assert_names(
        &message,
        &[
            "anomaly in backward",
            "the vjp of `sqrt`",
            &here(line),
            "input shapes [2]",
            "1 +inf of 2 elements (the first at [1])",
            "for its input 0 of shape [2]",
        ],
    );
}

in_f32_and_f64!(sqrt_at_zero_is_reported_in_backward);

#[test]
fn a_recorded_backward_pass_blames_the_forward_op_not_its_rule() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![1.0, 0.0], &[2]));
    let w = tape.leaf(Tensor::from_vec(vec![3.0, 5.0], &[2]));
    let root = x.sqrt();
    let line = line!() - 1;
    let loss = (&root * &w).sum();
    let message = detect_anomaly(|| panic_message(|| grad_graph(&loss, None, &[&x])));
    assert_names(
        &message,
        &[
            "anomaly in backward",
            "the vjp of `sqrt`",
            &here(line),
            "for its input 0",
        ],
    );
}

#[test]
fn a_leaf_holding_nan_is_reported_as_input() {
    let tape = Tape::<f32>::new();
    let value = Tensor::from_vec(vec![0.0, f32::NAN, 1.0], &[3]);
    let message = detect_anomaly(|| panic_message(|| tape.leaf(value.clone())));
    let line = line!() - 1;
    assert_names(
        &message,
        &[
            "anomaly in input/leaf",
            "a leaf",
            &here(line),
            "shape [3]",
            "1 NaN of 3 elements",
        ],
    );
}

#[test]
fn a_constant_input_holding_nan_is_reported_as_input() {
    let tape = Tape::<f32>::new();
    let x = tape.leaf(Tensor::ones(&[2]));
    let shift = Tensor::from_vec(vec![f32::NAN, 0.0], &[2]);
    let message = detect_anomaly(|| panic_message(|| &x + &shift));
    let line = line!() - 1;
    assert_names(
        &message,
        &[
            "anomaly in input/leaf",
            "input 1 of `add`",
            &here(line),
            "constant of shape [2]",
        ],
    );
}

#[test]
fn a_seed_gradient_holding_inf_is_reported_as_input() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::ones(&[2]));
    let y = x.tanh();
    let seed = Tensor::from_vec(vec![1.0, f64::INFINITY], &[2]);
    let message = detect_anomaly(|| panic_message(|| y.backward_with(&seed)));
    assert_names(&message, &["anomaly in input/leaf", "the seed gradient"]);
}

/// `1 / x`, with its vjp stated by hand.
struct Reciprocal;

impl CustomOp<f64> for Reciprocal {
    fn name(&self) -> &str {
        "reciprocal"
    }
    fn forward(&self, inputs: &[&Tensor<f64>]) -> Tensor<f64> {
        inputs[0].map(|v| 1.0 / v)
    }
    fn vjp(&self, _inputs: &[Var<f64>], y: &Var<f64>, g: &Var<f64>) -> Vec<Option<Var<f64>>> {
        vec![Some(g.mul(&y.square()).neg())]
    }
}

#[test]
fn a_custom_op_is_checked_under_its_own_name() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![2.0, 0.0], &[2]));
    let message = detect_anomaly(|| panic_message(|| Var::custom(Rc::new(Reciprocal), &[&x])));
    let line = line!() - 1;
    assert_names(
        &message,
        &["anomaly in forward", "`reciprocal`", &here(line)],
    );
}

#[test]
fn outside_the_mode_nan_and_inf_pass_through() {
    let tape = Tape::<f32>::new();
    let x = tape.leaf(Tensor::from_vec(vec![1.0, -2.0, 0.0], &[3]));
    let logged = x.ln();
    assert!(logged.value().get(&[1]).is_nan());
    let g = x.sqrt().sum().backward();
    assert_eq!(g[&x].get(&[2]), f32::INFINITY);
    assert!(g[&x].get(&[1]).is_nan());
    assert!(x.exp().mul_scalar(f32::MAX).value().get(&[0]).is_infinite());
}

#[test]
fn the_guard_restores_the_previous_state_and_nests() {
    assert!(!is_anomaly_enabled());
    {
        let _on = AnomalyMode::enable();
        assert!(is_anomaly_enabled());
        {
            let _off = AnomalyMode::disable();
            assert!(!is_anomaly_enabled());
            {
                let _again = AnomalyMode::enable();
                assert!(is_anomaly_enabled());
            }
            assert!(!is_anomaly_enabled());
        }
        assert!(is_anomaly_enabled());
    }
    assert!(!is_anomaly_enabled());
}

#[test]
fn detect_anomaly_restores_the_state_after_a_panic() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(-1.0));
    panic_message(|| detect_anomaly(|| x.ln()));
    assert!(!is_anomaly_enabled());
    assert!(x.ln().value().item().is_nan()); // off again: passes through
}

#[test]
fn a_disabled_region_inside_detect_anomaly_is_not_checked() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(-1.0));
    let y = detect_anomaly(|| {
        let _exempt = AnomalyMode::disable();
        x.ln()
    });
    assert!(y.value().item().is_nan());
}

#[test]
fn masked_attention_passes_in_both_directions() {
    // The -∞ of a mask is an infinity that comes in through an input, not one an op made.
    let tape = Tape::<f32>::new();
    let q = tape.leaf(Tensor::randn(&[2, 4, 8], &mut seeded_rng(0)));
    let causal = Tensor::tril_mask(4, 4, 0);
    let g = detect_anomaly(|| {
        let scores = q.matmul(&q.transpose(-1, -2)) / 8f32.sqrt();
        let weights = scores
            .masked_fill(&causal.logical_not(), f32::NEG_INFINITY)
            .softmax(-1);
        weights.matmul(&q).sum().backward()
    });
    assert!(g[&q].to_vec().iter().all(|v| v.is_finite()));

    let k = tape.leaf(Tensor::randn(&[2, 4, 8], &mut seeded_rng(1)));
    let mut padded = vec![0.0f32; 16];
    padded[12..].fill(f32::NEG_INFINITY); // the last query attends to nothing
    let mask = Tensor::from_vec(padded, &[4, 4]);
    let g = detect_anomaly(|| {
        let (out, _) = scaled_dot_product_attention(&q, &k, &k, Some(&mask), None);
        out.sum().backward()
    });
    assert!(g[&k].to_vec().iter().all(|v| v.is_finite()));
}

#[test]
fn a_linear_model_whose_loss_overflows_is_reported_at_the_loss_call() {
    let layer = Linear::<f32>::new(2, 1, &mut seeded_rng(0));
    let x = Tensor::from_vec(vec![1e20, -1e20, 3e20, 1e20], &[2, 2]);
    let target = Tensor::zeros(&[2, 1]);
    let cx = Context::train(0);
    let prediction = layer.forward(&cx, &cx.input(x));
    let target = cx.input(target);
    let loss = || mse_loss(&prediction, &target, Reduction::Mean);
    let line = line!() - 1;
    let message = detect_anomaly(|| panic_message(loss));
    assert_names(
        &message,
        &[
            "anomaly in forward",
            "`square`",
            &here(line),
            "+inf",
            "input shapes [2, 1]",
        ],
    );
    // Without the mode the same step gives a loss of +inf and NaN gradients, silently.
    let loss = mse_loss(&prediction, &target, Reduction::Mean);
    assert_eq!(loss.value().item(), f32::INFINITY);
    let grads = cx.backward(loss);
    assert!(grads.get(&layer.weight).is_some());
}

#[test]
fn a_linear_model_with_a_nan_parameter_is_reported_at_its_forward() {
    let mut layer = Linear::<f32>::new(2, 1, &mut seeded_rng(0));
    layer
        .weight
        .set(Tensor::from_vec(vec![f32::NAN, 0.5], &[1, 2]));
    let cx = Context::train(0);
    let x = cx.input(Tensor::ones(&[3, 2]));
    let message = detect_anomaly(|| panic_message(|| layer.forward(&cx, &x)));
    let line = line!() - 1;
    assert_names(
        &message,
        &[
            "anomaly in input/leaf",
            "a leaf",
            &here(line),
            "shape [1, 2]",
        ],
    );
}
