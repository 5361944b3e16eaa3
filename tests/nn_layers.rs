//! engram-nn's feed-forward layers against PyTorch, in training, and in evaluation mode.
//!
//! - Oracle: `tests/fixtures/nn/layers.json`, computed by PyTorch in float64
//!   (`tools/oracle/nn_layers_oracle.py`): each layer's output and the gradients of `⟨y, r⟩`
//!   with respect to its input and parameters, and BatchNorm's running statistics after
//!   two training calls. Tolerance `1e-10 · max(1, max |torch|)` per tensor.
//! - Gradcheck: every `nn.*` registry case, first order, and second order where curved.
//! - Training: an MLP learns XOR; a small CNN reduces its loss (plain SGD by hand).
//! - Evaluation: Dropout is the identity and BatchNorm uses its running statistics.

mod common;
use common::{indices, tensor};
use engram::autograd::{gradcheck, gradgradcheck, GradcheckOptions};
use engram::nn::{
    AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Context, Conv1dConfig, Conv2d,
    Conv2dConfig, Dropout, Embedding, Flatten, Forward, LayerNorm, Linear, LinearConfig, MaxPool2d,
    Module, Parameter, ReLU, Sequential, Sigmoid, Tanh,
};
use engram::tensor::{seeded_rng, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

const FIXTURES: &str = include_str!("fixtures/nn/layers.json");
const RTOL: f64 = 1e-10;

fn fixture(name: &str) -> Value {
    let all: Value = serde_json::from_str(FIXTURES).unwrap();
    all["cases"][name].clone()
}

fn attr(case: &Value, key: &str) -> usize {
    case["attrs"][key].as_u64().unwrap() as usize
}

#[track_caller]
fn assert_close(what: &str, got: &Tensor<f64>, expected: &Value) {
    let expected = tensor::<f64>(expected);
    assert_eq!(got.shape(), expected.shape(), "{what}: shape");
    let scale = expected.to_vec().iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let worst = got
        .to_vec()
        .iter()
        .zip(expected.to_vec())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f64, f64::max);
    assert!(
        worst <= RTOL * scale,
        "{what}: largest difference {worst:e} from PyTorch (scale {scale})"
    );
}

/// Loads the fixture's parameter values into `layer` by name.
fn load(layer: &mut impl Module<f64>, case: &Value) {
    for (name, p) in layer.named_parameters_mut() {
        p.set(tensor(&case["params"][name.as_str()]));
    }
    assert_eq!(
        layer.named_parameters().len(),
        case["params"].as_object().unwrap().len(),
        "parameter names differ from PyTorch's"
    );
}

/// Runs `layer` on the fixture's input in a training context and compares the output
/// and the gradients of `⟨y, r⟩` with PyTorch's.
fn check_layer(name: &str, layer: &mut impl Forward<f64>) {
    let case = fixture(name);
    load(layer, &case);
    let x = Parameter::new(tensor(&case["inputs"]["x"]));
    let cx = Context::train(0);
    let y = layer.forward(&cx, &cx.param(&x));
    assert_close(&format!("{name}: y"), y.value(), &case["y"]);
    let r = cx.input(tensor(&case["inputs"]["r"]));
    let grads = cx.backward((y * r).sum());
    assert_close(&format!("{name}: grad x"), &grads[&x], &case["grads"]["x"]);
    for (pname, p) in layer.named_parameters() {
        assert_close(
            &format!("{name}: grad {pname}"),
            &grads[p],
            &case["grads"][pname.as_str()],
        );
    }
}

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(0)
}

#[test]
fn linear_matches_pytorch() {
    check_layer("linear", &mut Linear::new(4, 5, &mut rng()));
    check_layer(
        "linear_no_bias_3d",
        &mut LinearConfig::new(3, 2).bias(false).init(&mut rng()),
    );
}

fn conv2d_from(case: &str) -> Conv2d<f64> {
    let c = fixture(case);
    Conv2dConfig::new(attr(&c, "in"), attr(&c, "out"), attr(&c, "kernel"))
        .stride(attr(&c, "stride"))
        .padding(attr(&c, "padding"))
        .dilation(attr(&c, "dilation"))
        .groups(attr(&c, "groups"))
        .init(&mut rng())
}

#[test]
fn conv_layers_match_pytorch() {
    check_layer("conv2d_stride_pad", &mut conv2d_from("conv2d_stride_pad"));
    check_layer(
        "conv2d_dilation_groups",
        &mut conv2d_from("conv2d_dilation_groups"),
    );
    let c = fixture("conv1d");
    let mut conv1d = Conv1dConfig::new(attr(&c, "in"), attr(&c, "out"), attr(&c, "kernel"))
        .stride(attr(&c, "stride"))
        .padding(attr(&c, "padding"))
        .dilation(attr(&c, "dilation"))
        .groups(attr(&c, "groups"))
        .init(&mut rng());
    check_layer("conv1d", &mut conv1d);
}

#[test]
fn layer_norm_matches_pytorch() {
    check_layer("layer_norm", &mut LayerNorm::new(&[3, 4]));
}

#[test]
fn pools_match_pytorch() {
    check_layer("max_pool2d", &mut MaxPool2d::new(3).stride(2).padding(1));
    check_layer("avg_pool2d", &mut AvgPool2d::new(3).stride(2).padding(1));
    check_layer("adaptive_avg_pool2d", &mut AdaptiveAvgPool2d::new([3, 4]));
}

#[test]
fn embedding_with_padding_matches_pytorch() {
    let case = fixture("embedding_padding");
    let mut emb = Embedding::<f64>::new(attr(&case, "num"), attr(&case, "dim"), &mut rng())
        .padding_idx(attr(&case, "padding_idx"));
    load(&mut emb, &case);
    let cx = Context::train(0);
    let y = emb.forward(&cx, &indices(&case["inputs"]["x"]));
    assert_close("embedding: y", y.value(), &case["y"]);
    let grads = cx.backward((y * cx.input(tensor(&case["inputs"]["r"]))).sum());
    assert_close(
        "embedding: grad weight",
        &grads[&emb.weight],
        &case["grads"]["weight"],
    );
}

fn check_batch_norm(name: &str, bn: &mut impl Forward<f64>) {
    let case = fixture(name);
    load(bn, &case);
    let cx = Context::train(0);
    bn.forward(&cx, &cx.input(tensor(&case["inputs"]["x1"])));
    cx.reset();
    let x = Parameter::new(tensor(&case["inputs"]["x"]));
    let y = bn.forward(&cx, &cx.param(&x));
    assert_close(&format!("{name}: y"), y.value(), &case["y"]);
    let grads = cx.backward((y * cx.input(tensor(&case["inputs"]["r"]))).sum());
    assert_close(&format!("{name}: grad x"), &grads[&x], &case["grads"]["x"]);
    for (pname, p) in bn.named_parameters() {
        assert_close(
            &format!("{name}: grad {pname}"),
            &grads[p],
            &case["grads"][pname.as_str()],
        );
    }
    let state = bn.state_dict();
    assert_close(
        &format!("{name}: running_mean"),
        &state["running_mean"],
        &case["running_mean"],
    );
    assert_close(
        &format!("{name}: running_var"),
        &state["running_var"],
        &case["running_var"],
    );
    let eval = Context::eval();
    let y_eval = bn.forward(&eval, &eval.input(tensor(&case["inputs"]["x3"])));
    assert_close(&format!("{name}: eval y"), y_eval.value(), &case["y_eval"]);
}

#[test]
fn batch_norm_running_statistics_match_pytorch() {
    check_batch_norm("batch_norm2d", &mut BatchNorm2d::new(3));
    check_batch_norm("batch_norm1d", &mut BatchNorm1d::new(3));
    check_batch_norm("batch_norm1d_sequence", &mut BatchNorm1d::new(2));
}

#[test]
fn every_layer_passes_gradcheck_and_gradgradcheck() {
    let options = GradcheckOptions::default();
    let mut failures = Vec::new();
    let cases = engram::nn::gradcheck_cases();
    for (i, case) in cases.iter().enumerate() {
        let mut rng = seeded_rng(i as u64);
        let inputs: Vec<Tensor<f64>> = case.inputs.iter().map(|s| s.sample(&mut rng)).collect();
        let first = gradcheck(case.f64, &inputs, &options);
        if !first.passed() {
            failures.push(format!("{}:\n{first}", case.name()));
        }
        if case.second_order {
            let second = gradgradcheck(case.f64, &inputs, &options);
            if !second.passed() {
                failures.push(format!("{} (second order):\n{second}", case.name()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for layer in [
        "nn.linear",
        "nn.conv1d",
        "nn.conv2d",
        "nn.max_pool2d",
        "nn.avg_pool2d",
        "nn.adaptive_avg_pool2d",
        "nn.flatten",
        "nn.dropout",
        "nn.embedding",
        "nn.layer_norm",
        "nn.batch_norm",
    ] {
        let n = cases.iter().filter(|c| c.op == layer).count();
        assert!(n >= 3, "{layer} has {n} gradcheck cases, want at least 3");
    }
}

/// One SGD step on every trainable parameter.
fn sgd(model: &mut impl Module<f64>, grads: &engram::nn::Grads<f64>, lr: f64) {
    for (_, p) in model.named_parameters_mut() {
        if let Some(g) = grads.get(p).cloned() {
            p.value_mut().add_scaled_(&g, -lr);
        }
    }
}

#[test]
fn mlp_learns_xor() {
    let mut r = ChaCha8Rng::seed_from_u64(3);
    let mut mlp = Sequential::new()
        .add(Linear::new(2, 8, &mut r))
        .add(Tanh)
        .add(Linear::new(8, 1, &mut r))
        .add(Sigmoid);
    let x = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2]);
    let y = Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], &[4, 1]);
    let cx = Context::train(0);
    for _ in 0..2000 {
        let p = mlp.forward(&cx, &cx.input(x.clone()));
        let loss = (p - cx.input(y.clone())).square().mean();
        let grads = cx.backward(loss);
        sgd(&mut mlp, &grads, 1.0);
    }
    let eval = Context::eval();
    let p = mlp.forward(&eval, &eval.input(x)).value().to_vec();
    for (got, want) in p.iter().zip([0.0, 1.0, 1.0, 0.0]) {
        assert!((got - want).abs() < 0.1, "XOR predictions {p:?}");
    }
}

#[test]
fn small_cnn_reduces_its_loss() {
    let mut r = ChaCha8Rng::seed_from_u64(5);
    let mut cnn = Sequential::new()
        .add(Conv2dConfig::new(1, 4, 3).padding(1).init(&mut r))
        .add(BatchNorm2d::new(4))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Dropout::new(0.1))
        .add(Linear::new(4 * 4 * 4, 2, &mut r));
    // Class 1 images are brighter on the left half.
    let images = Tensor::<f64>::randn(&[8, 1, 8, 8], &mut r);
    let labels: Vec<usize> = (0..8).map(|i| i % 2).collect();
    let mut data = images.to_vec();
    for (n, &label) in labels.iter().enumerate() {
        for row in 0..8 {
            for col in 0..4 {
                data[n * 64 + row * 8 + col] += 1.5 * label as f64;
            }
        }
    }
    let images = Tensor::from_vec(data, &[8, 1, 8, 8]);
    let targets = Tensor::one_hot(&Tensor::from_vec(labels, &[8]), 2);
    let cx = Context::train(1);
    let mut losses = Vec::new();
    for _ in 0..40 {
        let logits = cnn.forward(&cx, &cx.input(images.clone()));
        let loss = -(logits.log_softmax(-1) * cx.input(targets.clone()))
            .sum_axes(&[-1])
            .mean();
        let grads = cx.backward(loss);
        losses.push(grads.loss());
        sgd(&mut cnn, &grads, 0.1);
    }
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    assert!(last < 0.5 * first, "loss went from {first} to {last}");
}

#[test]
fn eval_mode_makes_dropout_identity_and_batch_norm_use_running_stats() {
    let mut r = ChaCha8Rng::seed_from_u64(9);
    let model = Sequential::new()
        .add(Linear::<f64>::new(3, 4, &mut r))
        .add(BatchNorm1d::new(4))
        .add(Dropout::new(0.5));
    let cx = Context::train(2);
    for _ in 0..3 {
        model.forward(&cx, &cx.input(Tensor::randn(&[6, 3], &mut r)));
        cx.reset();
    }
    let state = model.state_dict();
    let (mean, var) = (
        state["1.running_mean"].clone(),
        state["1.running_var"].clone(),
    );
    assert_ne!(
        mean.to_vec(),
        vec![0.0; 4],
        "training must move the running mean"
    );

    let x = Tensor::randn(&[5, 3], &mut r);
    let eval = Context::eval();
    let y = model.forward(&eval, &eval.input(x.clone())).value().clone();
    // By hand: the linear map, then the running statistics; no dropout.
    let h = x.matmul(&state["0.weight"].t()).add(&state["0.bias"]);
    let expected = h
        .sub(&mean)
        .div(&var.add_scalar(1e-5).sqrt())
        .mul(&state["1.weight"])
        .add(&state["1.bias"]);
    for (a, b) in y.to_vec().iter().zip(expected.to_vec()) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    let again = model.forward(&eval, &eval.input(x)).value().to_vec();
    assert_eq!(again, y.to_vec(), "evaluation must be deterministic");
    assert_eq!(model.state_dict()["1.running_mean"].to_vec(), mean.to_vec());
}

#[test]
fn linear_init_has_pytorch_bounds() {
    let fc = Linear::<f64>::new(400, 300, &mut rng());
    let bound = 1.0 / 400f64.sqrt();
    let w = fc.weight.value();
    assert!(w.max().item() <= bound && w.min().item() >= -bound);
    assert!(w.max().item() > 0.99 * bound && w.min().item() < -0.99 * bound);
    let std = w.flatten().var(1).item().sqrt();
    assert!(
        (std / (bound / 3f64.sqrt()) - 1.0).abs() < 0.02,
        "weight std {std}"
    );
    let b = fc.bias.as_ref().unwrap().value();
    assert!(b.max().item() <= bound && b.min().item() >= -bound);
    let conv = Conv2dConfig::new(8, 4, 3).groups(2).init::<f64>(&mut rng());
    let conv_bound = 1.0 / (4.0f64 * 9.0).sqrt();
    assert!(conv.weight.value().max().item() <= conv_bound);
    assert!(conv.weight.value().max().item() > 0.9 * conv_bound);
}

#[test]
#[should_panic(expected = "`linear`: input [2, 3] does not fit weight [4, 5]")]
fn linear_shape_mistake_names_the_op_and_shapes() {
    let fc = Linear::<f32>::new(5, 4, &mut rng());
    let cx = Context::eval();
    fc.forward(&cx, &cx.input(Tensor::zeros(&[2, 3])));
}
