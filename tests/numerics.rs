//! Numerics at the edges (issue 15, item 3): softmax, log-softmax, logsumexp,
//! cross-entropy and BCE with logits stay finite and right for logits of ±1e4 in f32;
//! binary cross-entropy clamps its log; variance survives a large offset; logsumexp of
//! nothing but −∞ is −∞ with a zero, not NaN, gradient.

use engram::autograd::{grad, grad_graph, Tape};
use engram::nn::loss::{
    bce_with_logits, binary_cross_entropy, cross_entropy, BceWithLogitsOptions,
    CrossEntropyOptions, Reduction,
};
use engram::tensor::Tensor;

fn all_finite(values: &[f32]) -> bool {
    values.iter().all(|v| v.is_finite())
}

#[test]
fn softmax_family_is_finite_and_exact_for_huge_logits_in_f32() {
    let x = Tensor::<f32>::from_vec(vec![1e4, -1e4, 0.0, 1e4 - 1.0], &[1, 4]);
    let p = x.softmax(-1).to_vec();
    assert!(all_finite(&p));
    let e = (-1.0f32).exp();
    assert!((p[0] - 1.0 / (1.0 + e)).abs() < 1e-6 && (p[3] - e / (1.0 + e)).abs() < 1e-6);
    assert_eq!(p[1], 0.0);
    let lp = x.log_softmax(-1).to_vec();
    assert!(all_finite(&lp), "{lp:?}");
    assert!((lp[1] - (-2e4 - (1.0 + e).ln())).abs() < 1.0);
    let lse = x.logsumexp_axes(&[-1]).to_vec();
    assert!((lse[0] - (1e4 + (1.0 + e).ln())).abs() < 1e-2, "{lse:?}");

    let tape = Tape::<f32>::new();
    let v = tape.leaf(x.clone());
    let g = grad(&v.log_softmax(-1).sum(), &[&v]).remove(0).to_vec();
    assert!(all_finite(&g), "{g:?}");
}

#[test]
fn losses_stay_finite_for_logits_of_1e4_in_f32() {
    let tape = Tape::<f32>::new();
    let logits = tape.leaf(Tensor::from_vec(vec![1e4, -1e4, -1e4, 1e4], &[2, 2]));
    let labels = Tensor::from_vec(vec![1usize, 0], &[2]);
    let ce = cross_entropy(&logits, &labels, &CrossEntropyOptions::default());
    // Each row is wrong by 2e4: the loss is the margin.
    assert!(
        (ce.value().item() - 2e4).abs() < 1.0,
        "{}",
        ce.value().item()
    );
    let g = grad(&ce, &[&logits]).remove(0).to_vec();
    assert!(all_finite(&g), "{g:?}");

    let targets = tape.constant(Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], &[2, 2]));
    let bce = bce_with_logits(&logits, &targets, &BceWithLogitsOptions::default());
    assert!(
        (bce.value().item() - 1e4).abs() < 1.0,
        "{}",
        bce.value().item()
    );
    let g = grad(&bce, &[&logits]).remove(0).to_vec();
    assert!(all_finite(&g), "{g:?}");
}

#[test]
fn binary_cross_entropy_clamps_its_log() {
    let tape = Tape::<f32>::new();
    let p = tape.leaf(Tensor::from_vec(vec![0.0, 1.0], &[2]));
    let y = tape.constant(Tensor::from_vec(vec![1.0, 0.0], &[2]));
    let loss = binary_cross_entropy(&p, &y, None, Reduction::Sum);
    // PyTorch clamps each log at −100: two certain mistakes cost 100 each.
    assert_eq!(loss.value().item(), 200.0);
    let g = grad(&loss, &[&p]).remove(0).to_vec();
    assert!(all_finite(&g), "{g:?}");
}

#[test]
fn variance_survives_a_large_offset_in_f32() {
    let noise = [0.5f32, -0.25, 0.125, -0.375, 0.0, 0.25, -0.125, -0.125];
    let mean = noise.iter().sum::<f32>() / 8.0;
    let want = noise.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 7.0;
    // 1e8 + noise is not exact in f32 (its spacing there is 8): offset by 1e4 instead,
    // where the values are exact but a naive E[x²] − E[x]² loses every digit.
    let x = Tensor::<f32>::from_vec(noise.iter().map(|v| 1e4 + v).collect(), &[8]);
    let got = x.var(1).item();
    assert!((got - want).abs() < 1e-4 * want.max(1.0), "{got} vs {want}");
    let big = Tensor::<f32>::from_vec(noise.iter().map(|v| 1e8 + 64.0 * v).collect(), &[8]);
    let exact: Vec<f64> = big.to_vec().iter().map(|&v| v as f64).collect();
    let m = exact.iter().sum::<f64>() / 8.0;
    let want_big = exact.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / 7.0;
    let got_big = big.var(1).item() as f64;
    assert!(
        (got_big - want_big).abs() < 1e-3 * want_big,
        "{got_big} vs {want_big}"
    );
}

#[test]
fn logsumexp_of_only_minus_infinity_is_minus_infinity_with_zero_gradient() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![f64::NEG_INFINITY; 3], &[3]));
    let y = x.logsumexp();
    assert_eq!(y.value().item(), f64::NEG_INFINITY);
    let g = grad(&y, &[&x]).remove(0).to_vec();
    assert_eq!(g, vec![0.0; 3]);
    let recorded = grad_graph(&y, None, &[&x]).remove(0);
    assert_eq!(recorded.value().to_vec(), vec![0.0; 3]);
}
