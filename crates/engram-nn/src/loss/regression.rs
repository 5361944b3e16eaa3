//! Regression losses: squared, absolute, and their blend (smooth L1 / Huber).

use super::{check_same_shape, Reduction};
#[cfg(feature = "registry")]
use engram_autograd::case;
#[cfg(feature = "registry")]
use engram_autograd::registry::{apart, real, GradcheckCase};
use engram_autograd::Var;
use engram_tensor::Float;

/// Mean squared error `(input - target)²`, reduced; PyTorch's `F.mse_loss`.
#[track_caller]
pub fn mse_loss<T: Float>(input: &Var<T>, target: &Var<T>, reduction: Reduction) -> Var<T> {
    check_same_shape("mse_loss", input.shape(), target.shape());
    reduction.apply(input.sub(target).square())
}

/// Mean absolute error `|input - target|`, reduced; PyTorch's `F.l1_loss`. The gradient at
/// a zero difference is 0, as PyTorch's.
#[track_caller]
pub fn l1_loss<T: Float>(input: &Var<T>, target: &Var<T>, reduction: Reduction) -> Var<T> {
    check_same_shape("l1_loss", input.shape(), target.shape());
    reduction.apply(input.sub(target).abs())
}

/// Smooth L1, PyTorch's `F.smooth_l1_loss`: with `d = input - target`,
/// `0.5 d² / beta` where `|d| < beta`, else `|d| - 0.5 beta`. `beta = 0` is the L1 loss;
/// PyTorch's default is `beta = 1`.
#[track_caller]
pub fn smooth_l1_loss<T: Float>(
    input: &Var<T>,
    target: &Var<T>,
    beta: f64,
    reduction: Reduction,
) -> Var<T> {
    check_same_shape("smooth_l1_loss", input.shape(), target.shape());
    assert_non_negative("smooth_l1_loss", "beta", beta);
    let d = input.sub(target);
    if beta == 0.0 {
        return reduction.apply(d.abs());
    }
    let inner = d.value().map(move |v| v.as_f64().abs() < beta);
    let quadratic = d.square().mul_scalar(T::of(0.5 / beta));
    let linear = d.abs().add_scalar(T::of(-0.5 * beta));
    reduction.apply(Var::where_cond(&inner, &quadratic, &linear))
}

/// Huber loss, PyTorch's `F.huber_loss`: with `d = input - target`, `0.5 d²` where
/// `|d| <= delta`, else `delta (|d| - 0.5 delta)` — smooth L1 scaled by `delta`, with a
/// slope of `delta` (not 1) in the tails. PyTorch's default is `delta = 1`.
#[track_caller]
pub fn huber_loss<T: Float>(
    input: &Var<T>,
    target: &Var<T>,
    delta: f64,
    reduction: Reduction,
) -> Var<T> {
    check_same_shape("huber_loss", input.shape(), target.shape());
    assert_non_negative("huber_loss", "delta", delta);
    let d = input.sub(target);
    let inner = d.value().map(move |v| v.as_f64().abs() <= delta);
    let quadratic = d.square().mul_scalar(T::of(0.5));
    let linear = d
        .abs()
        .add_scalar(T::of(-0.5 * delta))
        .mul_scalar(T::of(delta));
    reduction.apply(Var::where_cond(&inner, &quadratic, &linear))
}

#[track_caller]
fn assert_non_negative(op: &str, name: &str, value: f64) {
    if value.is_nan() || value < 0.0 {
        panic!("engram: `{op}`: {name} must be >= 0, got {value}");
    }
}

#[cfg(feature = "registry")]
pub(super) fn cases() -> Vec<GradcheckCase> {
    // The kinked losses compare an input kept away from 0 (and, by chance, from the
    // thresholds) with zero, so both sides of each threshold are seen.
    fn target<T: Float>(shape: &[usize]) -> Var<T> {
        let n: usize = shape.iter().product();
        let data = (0..n)
            .map(|i| T::of([0.3, -0.45, 1.7, -2.2, 0.05][i % 5]))
            .collect();
        Var::constant(engram_tensor::Tensor::from_vec(data, shape))
    }
    fn zeros<T: Float>(shape: &[usize]) -> Var<T> {
        Var::constant(engram_tensor::Tensor::zeros(shape))
    }
    vec![
        case!("mse_loss", "mean", [real(&[3, 4])], second: true,
            |x| mse_loss(&x[0], &target(&[3, 4]), Reduction::Mean)),
        case!("mse_loss", "sum_grad_target", [real(&[5]), real(&[5])], second: true,
            |x| mse_loss(&x[0], &x[1], Reduction::Sum)),
        case!("mse_loss", "none_rank3", [real(&[2, 1, 3])], second: true,
            |x| mse_loss(&x[0], &target(&[2, 1, 3]), Reduction::None)),
        case!("l1_loss", "mean", [apart(&[3, 4])], second: false,
            |x| l1_loss(&x[0], &zeros(&[3, 4]), Reduction::Mean)),
        case!("l1_loss", "sum", [apart(&[5])], second: false,
            |x| l1_loss(&x[0], &zeros(&[5]), Reduction::Sum)),
        case!("l1_loss", "none", [apart(&[2, 3])], second: false,
            |x| l1_loss(&x[0], &zeros(&[2, 3]), Reduction::None)),
        case!("smooth_l1_loss", "mean", [apart(&[3, 4])], second: true,
            |x| smooth_l1_loss(&x[0], &zeros(&[3, 4]), 1.0, Reduction::Mean)),
        case!("smooth_l1_loss", "beta_half_sum", [apart(&[5])], second: true,
            |x| smooth_l1_loss(&x[0], &zeros(&[5]), 0.5, Reduction::Sum)),
        case!("smooth_l1_loss", "beta0_none", [apart(&[2, 3])], second: false,
            |x| smooth_l1_loss(&x[0], &zeros(&[2, 3]), 0.0, Reduction::None)),
        case!("huber_loss", "mean", [apart(&[3, 4])], second: true,
            |x| huber_loss(&x[0], &zeros(&[3, 4]), 1.0, Reduction::Mean)),
        case!("huber_loss", "delta_1_5_sum", [apart(&[5])], second: true,
            |x| huber_loss(&x[0], &zeros(&[5]), 1.5, Reduction::Sum)),
        case!("huber_loss", "none", [apart(&[2, 3])], second: true,
            |x| huber_loss(&x[0], &zeros(&[2, 3]), 0.7, Reduction::None)),
    ]
}
