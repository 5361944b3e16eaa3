//! Sequence layers against PyTorch: `tests/fixtures/nn/seq.json` (recurrent) and
//! `attention.json` (attention, encoder layer, in eval mode: no dropout), written by
//! `tools/oracle/nn_seq_oracle.py` from `torch.nn` modules with their weights. Each case holds
//! the module's parameters by `state_dict` name, the inputs, the outputs, and the
//! gradients of `Σ_k ⟨output_k, cotangent_k⟩` with respect to every parameter and input.
//! Engram loads the parameters by name, runs the same inputs and must agree in f64 to
//! 1e-10 of each tensor's scale.

mod common;
use common::{bools, tensor};
use engram::autograd::{grad, Var};
use engram::nn::attention::{AttentionOptions, AttnMask, MultiHeadAttention};
use engram::nn::functional::Nonlinearity;
use engram::nn::rnn::{RecurrentOptions, GRU, LSTM, RNN};
use engram::nn::transformer::{Activation, TransformerEncoderLayer};
use engram::nn::{Context, Module};
use engram::tensor::Tensor;
use rand::SeedableRng;
use serde_json::Value;

const RECURRENT: &str = include_str!("fixtures/nn/seq.json");
const ATTENTION: &str = include_str!("fixtures/nn/attention.json");
const RTOL: f64 = 1e-10;

fn case(name: &str) -> Value {
    for doc in [RECURRENT, ATTENTION] {
        let doc: Value = serde_json::from_str(doc).unwrap();
        if let Some(case) = doc["cases"].get(name) {
            return case.clone();
        }
    }
    panic!("no fixture case {name}")
}

#[track_caller]
fn assert_close(what: &str, got: &Tensor<f64>, want: &Tensor<f64>) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let want = want.to_vec();
    let scale = want.iter().fold(1.0f64, |m, w| m.max(w.abs()));
    for (i, (g, w)) in got.to_vec().iter().zip(&want).enumerate() {
        assert!(
            (g - w).abs() <= RTOL * scale,
            "{what}[{i}]: engram {g}, torch {w}"
        );
    }
}

/// Loads the case's parameters into `module` by name; every name must match both ways.
fn load(module: &mut impl Module<f64>, case: &Value) {
    let mut loaded = 0;
    for (name, p) in module.named_parameters_mut() {
        let spec = case
            .get(format!("param.{name}"))
            .unwrap_or_else(|| panic!("PyTorch has no parameter {name}"));
        p.set(tensor(spec));
        loaded += 1;
    }
    let in_torch = case
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("param."))
        .count();
    assert_eq!(loaded, in_torch, "parameter names differ from PyTorch's");
}

/// A module's forward on a case: (module, context, case JSON, inputs) → outputs.
type CaseForward<M> = fn(&M, &Context<f64>, &Value, &[Var<f64>]) -> Vec<Var<f64>>;

/// Runs `forward` on the case's inputs (as leaves) and checks the outputs and the
/// gradients of every parameter and input.
fn check<M: Module<f64>>(name: &str, module: &mut M, forward: CaseForward<M>) {
    let case = case(name);
    load(module, &case);
    // Recording, with layers in evaluation behaviour (no dropout), as `model.eval()`.
    let cx = Context::train(0).with_training(false);
    let inputs: Vec<Var<f64>> = (0..)
        .map_while(|i| case.get(format!("input{i}")))
        .map(|spec| cx.tape().leaf(tensor(spec)))
        .collect();
    let outputs = forward(module, &cx, &case, &inputs);
    let mut total: Option<Var<f64>> = None;
    for (k, out) in outputs.iter().enumerate() {
        assert_close(
            &format!("{name}: output{k}"),
            out.value(),
            &tensor(&case[format!("output{k}")]),
        );
        let term = out
            .mul(&cx.input(tensor(&case[format!("cotangent{k}")])))
            .sum();
        total = Some(match total {
            Some(t) => t.add(&term),
            None => term,
        });
    }
    let total = total.unwrap();
    let params: Vec<(String, Var<f64>)> = module
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, cx.param(p)))
        .collect();
    let wrt: Vec<&Var<f64>> = params.iter().map(|(_, v)| v).chain(&inputs).collect();
    let grads = grad(&total, &wrt);
    for ((n, _), g) in params.iter().zip(&grads) {
        assert_close(
            &format!("{name}: grad {n}"),
            g,
            &tensor(&case[format!("grad.{n}")]),
        );
    }
    for (i, g) in grads[params.len()..].iter().enumerate() {
        assert_close(
            &format!("{name}: grad input{i}"),
            g,
            &tensor(&case[format!("grad.input{i}")]),
        );
    }
}

fn rng() -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(0)
}

#[test]
fn lstm_two_layers_with_initial_state_matches_pytorch() {
    let options = RecurrentOptions::default().num_layers(2);
    let mut lstm = LSTM::new(3, 4, options, &mut rng());
    check("lstm_2layers_state", &mut lstm, |m, cx, _, x| {
        let (out, (h, c)) = m.forward(cx, &x[0], Some((&x[1], &x[2])));
        vec![out, h, c]
    });
}

#[test]
fn gru_two_layers_batch_first_matches_pytorch() {
    let options = RecurrentOptions::default().num_layers(2).batch_first(true);
    let mut gru = GRU::new(3, 4, options, &mut rng());
    check("gru_2layers_batch_first", &mut gru, |m, cx, _, x| {
        let (out, h) = m.forward(cx, &x[0], None);
        vec![out, h]
    });
}

#[test]
fn rnn_relu_two_layers_without_bias_matches_pytorch() {
    let options = RecurrentOptions::default().num_layers(2).bias(false);
    let mut rnn = RNN::new(3, 4, Nonlinearity::Relu, options, &mut rng());
    check("rnn_relu_2layers_no_bias", &mut rnn, |m, cx, _, x| {
        let (out, h) = m.forward(cx, &x[0], Some(&x[1]));
        vec![out, h]
    });
}

#[test]
fn rnn_tanh_one_layer_matches_pytorch() {
    let mut rnn = RNN::new(
        3,
        4,
        Nonlinearity::Tanh,
        RecurrentOptions::default(),
        &mut rng(),
    );
    check("rnn_tanh_1layer", &mut rnn, |m, cx, _, x| {
        let (out, h) = m.forward(cx, &x[0], None);
        vec![out, h]
    });
}

#[test]
fn recurrent_init_is_uniform_within_one_over_sqrt_hidden() {
    let lstm = LSTM::<f64>::new(8, 16, RecurrentOptions::default(), &mut rng());
    for (name, p) in lstm.named_parameters() {
        let v = p.value();
        assert!(v.max().item() <= 0.25 && v.min().item() >= -0.25, "{name}");
        assert!(v.max().item() > 0.2 && v.min().item() < -0.2, "{name}");
    }
}

#[test]
fn a_small_lstm_reduces_its_loss_on_fixed_data() {
    // Regress the running mean of a fixed sequence from its LSTM states, with plain SGD.
    let mut rng = rng();
    let mut lstm = LSTM::<f64>::new(
        2,
        8,
        RecurrentOptions::default().batch_first(true),
        &mut rng,
    );
    let x = Tensor::<f64>::rand_uniform(&[4, 6, 2], -1.0, 1.0, &mut rng);
    let target = x.sum_keepdim(&[2]).mul_scalar(0.3).tanh();
    let cx = Context::train(0);
    let mut losses = Vec::new();
    for _ in 0..60 {
        let (out, _) = lstm.forward(&cx, &cx.input(x.clone()), None);
        let prediction = out.narrow(2, 0, 1);
        let loss = prediction.sub(&cx.input(target.clone())).square().mean();
        let grads = cx.backward(loss);
        losses.push(grads.loss());
        for (_, p) in lstm.named_parameters_mut() {
            let g = grads[&*p].clone();
            p.value_mut().add_scaled_(&g, -0.5);
        }
    }
    let (first, last) = (losses[0], *losses.last().unwrap());
    assert!(last < 0.5 * first, "loss went from {first} to {last}");
}

#[test]
#[should_panic(expected = "h0 must be [num_layers, batch, hidden]")]
fn a_wrong_initial_state_names_the_expected_shape() {
    let gru = GRU::<f64>::new(3, 4, RecurrentOptions::default(), &mut rng());
    let cx = Context::eval();
    let x = cx.input(Tensor::zeros(&[5, 2, 3]));
    let h0 = cx.input(Tensor::zeros(&[2, 4]));
    gru.forward(&cx, &x, Some(&h0));
}

#[test]
fn multi_head_cross_attention_with_padding_and_causal_masks_matches_pytorch() {
    let mut mha = MultiHeadAttention::new(8, 2, &mut rng());
    check("mha_cross_padding_causal", &mut mha, |m, cx, case, x| {
        let options = AttentionOptions::default()
            .key_padding_mask(bools(&case["key_padding_mask"]))
            .attn_mask(bools(&case["attn_mask"]));
        let (out, weights) = m.forward(cx, &x[0], &x[1], &x[2], &options);
        vec![out, weights.unwrap()]
    });
}

#[test]
fn multi_head_self_attention_batch_first_with_additive_per_head_mask_matches_pytorch() {
    let mut mha = MultiHeadAttention::new(6, 3, &mut rng()).batch_first(true);
    check(
        "mha_self_batch_first_additive_per_head",
        &mut mha,
        |m, cx, case, x| {
            let mut options = AttentionOptions::default().average_attn_weights(false);
            options.attn_mask = Some(AttnMask::Additive(tensor(&case["attn_mask"])));
            let (out, weights) = m.forward(cx, &x[0], &x[0], &x[0], &options);
            vec![out, weights.unwrap()]
        },
    );
}

#[test]
fn post_norm_encoder_layer_with_padding_matches_pytorch_in_eval_mode() {
    let mut layer = TransformerEncoderLayer::new(8, 2, 16, &mut rng());
    check(
        "encoder_post_norm_relu_padding",
        &mut layer,
        |m, cx, case, x| {
            let options =
                AttentionOptions::default().key_padding_mask(bools(&case["key_padding_mask"]));
            vec![m.forward(cx, &x[0], &options)]
        },
    );
}

#[test]
fn pre_norm_gelu_encoder_layer_with_causal_mask_matches_pytorch_in_eval_mode() {
    let mut layer = TransformerEncoderLayer::new(8, 2, 16, &mut rng())
        .activation(Activation::Gelu)
        .norm_first(true)
        .batch_first(true);
    check("encoder_pre_norm_gelu_causal", &mut layer, |m, cx, _, x| {
        let options = AttentionOptions::default().attn_mask(engram::nn::functional::causal_mask(5));
        vec![m.forward(cx, &x[0], &options)]
    });
}

#[test]
fn a_fully_masked_query_gets_zero_output_and_finite_gradients() {
    let mha = MultiHeadAttention::<f64>::new(4, 2, &mut rng()).batch_first(true);
    let cx = Context::train(0);
    let x = cx
        .tape()
        .leaf(Tensor::rand_uniform(&[1, 3, 4], -1.0, 1.0, &mut rng()));
    // Query 0 may attend to nothing: every key is masked for it.
    let mask = Tensor::from_vec(
        vec![true, true, true, false, false, false, false, false, false],
        &[3, 3],
    );
    let options = AttentionOptions::default().attn_mask(mask);
    let (out, weights) = mha.forward(&cx, &x, &x, &x, &options);
    let weights = weights.unwrap();
    assert!(weights
        .value()
        .narrow(1, 0, 1)
        .to_vec()
        .iter()
        .all(|w| *w == 0.0));
    assert!(out.value().to_vec().iter().all(|v| v.is_finite()));
    let g = grad(&out.square().sum(), &[&x]).remove(0);
    assert!(g.to_vec().iter().all(|v| v.is_finite()));
}
