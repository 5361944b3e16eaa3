//! Normalisation: layer norm over the trailing dimensions, batch norm over all but the
//! channels.

use crate::parameter::Buffer;
#[cfg(feature = "registry")]
use engram_autograd::case;
#[cfg(feature = "registry")]
use engram_autograd::registry::{real, GradcheckCase};
use engram_autograd::Var;
use engram_tensor::{shape_error, Float};

/// `(x - mean) / √(var + eps) · weight + bias` with the mean and the biased variance taken
/// over the trailing `normalized_shape` dimensions of each sample; `weight` and `bias`
/// have shape `normalized_shape` (as `torch.nn.functional.layer_norm`).
///
/// ```
/// use engram_autograd::Var;
/// use engram_nn::functional::layer_norm;
/// use engram_tensor::Tensor;
/// let x = Var::constant(Tensor::<f64>::from_vec(vec![1.0, 3.0, 10.0, 30.0], &[2, 2]));
/// let y = layer_norm(&x, &[2], None, None, 0.0);
/// assert_eq!(y.value().to_vec(), vec![-1.0, 1.0, -1.0, 1.0]);
/// ```
#[track_caller]
pub fn layer_norm<T: Float>(
    input: &Var<T>,
    normalized_shape: &[usize],
    weight: Option<&Var<T>>,
    bias: Option<&Var<T>>,
    eps: f64,
) -> Var<T> {
    let s = input.shape();
    let k = normalized_shape.len();
    if k == 0 || s.len() < k || s[s.len() - k..] != *normalized_shape {
        shape_error(
            "layer_norm",
            format!(
                "input {s:?} does not end in normalized_shape {normalized_shape:?}; \
                 normalized_shape names the trailing dimensions to normalise"
            ),
        );
    }
    for (what, p) in [("weight", weight), ("bias", bias)] {
        if let Some(p) = p {
            if p.shape() != normalized_shape {
                shape_error(
                    "layer_norm",
                    format!(
                        "{what} {:?} must have normalized_shape {normalized_shape:?}",
                        p.shape()
                    ),
                );
            }
        }
    }
    let axes: Vec<isize> = (1..=k as isize).map(|i| -i).collect();
    let mean = input.mean_keepdim(&axes);
    let var = input.var_keepdim(&axes, 0);
    let y = (input - mean) / var.add_scalar(T::of(eps)).sqrt();
    affine(y, weight, bias)
}

fn affine<T: Float>(y: Var<T>, weight: Option<&Var<T>>, bias: Option<&Var<T>>) -> Var<T> {
    let y = match weight {
        Some(w) => y * w,
        None => y,
    };
    match bias {
        Some(b) => y + b,
        None => y,
    }
}

/// Batch normalisation of `[N, C, ..]` per channel `C`, as `torch.nn.functional.batch_norm`
/// (same argument order).
///
/// - Training: normalises with the batch's mean and biased variance over every axis but
///   the channels (gradients flow through both), and, where running statistics are given,
///   updates them in place: `running = (1 - momentum) · running + momentum · batch`, with
///   the *unbiased* batch variance for `running_var`, as PyTorch.
/// - Evaluation: normalises with the running statistics (or the batch's, if none are
///   given).
///
/// `weight` and `bias` are `[C]`. Training needs more than one value per channel.
///
/// ```
/// use engram_autograd::Var;
/// use engram_nn::{functional::batch_norm, Buffer};
/// use engram_tensor::Tensor;
/// let x = Var::constant(Tensor::<f64>::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2]));
/// let (mean, var) = (Buffer::new(Tensor::zeros(&[2])), Buffer::new(Tensor::ones(&[2])));
/// let y = batch_norm(&x, Some(&mean), Some(&var), None, None, true, 0.1, 0.0);
/// assert_eq!(y.value().to_vec(), vec![-1.0, -1.0, 1.0, 1.0]);
/// // Batch means [2, 20], unbiased variances [2, 200].
/// assert_eq!(mean.get().to_vec(), vec![0.2, 2.0]);
/// assert_eq!(var.get().to_vec(), vec![0.9 + 0.2, 0.9 + 20.0]);
/// ```
// The argument list mirrors `F.batch_norm`, which PyTorch users know by position.
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn batch_norm<T: Float>(
    input: &Var<T>,
    running_mean: Option<&Buffer<T>>,
    running_var: Option<&Buffer<T>>,
    weight: Option<&Var<T>>,
    bias: Option<&Var<T>>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Var<T> {
    let s = input.shape().to_vec();
    if s.len() < 2 {
        shape_error(
            "batch_norm",
            format!("expected input [N, C, ..], got {s:?}"),
        );
    }
    let c = s[1];
    let named = [
        ("running_mean", running_mean.map(|b| b.shape())),
        ("running_var", running_var.map(|b| b.shape())),
        ("weight", weight.map(|w| w.shape().to_vec())),
        ("bias", bias.map(|b| b.shape().to_vec())),
    ];
    for (what, shape) in named {
        if let Some(shape) = shape {
            if shape != [c] {
                shape_error(
                    "batch_norm",
                    format!("{what} {shape:?} does not fit input {s:?}: expected [{c}]"),
                );
            }
        }
    }
    let axes: Vec<isize> = (0..s.len() as isize).filter(|&a| a != 1).collect();
    let mut per_channel = vec![1; s.len()];
    per_channel[1] = c;
    let (mean, var) = match (training, running_mean, running_var) {
        (false, Some(mean), Some(var)) => (
            Var::constant(mean.get().reshape(&per_channel)),
            Var::constant(var.get().reshape(&per_channel)),
        ),
        _ => {
            if training {
                if input.value().numel() / c.max(1) < 2 {
                    shape_error(
                        "batch_norm",
                        format!(
                            "expected more than 1 value per channel when training, got input \
                             {s:?}; use a larger batch or evaluation mode"
                        ),
                    );
                }
                update_running(input, running_mean, running_var, &axes, momentum);
            }
            (input.mean_keepdim(&axes), input.var_keepdim(&axes, 0))
        }
    };
    let y = (input - mean) / var.add_scalar(T::of(eps)).sqrt();
    let weight = weight.map(|w| w.reshape(&per_channel));
    let bias = bias.map(|b| b.reshape(&per_channel));
    affine(y, weight.as_ref(), bias.as_ref())
}

/// The running-statistics update of a training step; values only, nothing recorded.
fn update_running<T: Float>(
    input: &Var<T>,
    running_mean: Option<&Buffer<T>>,
    running_var: Option<&Buffer<T>>,
    axes: &[isize],
    momentum: f64,
) {
    let x = input.value();
    let (keep, m) = (T::of(1.0 - momentum), T::of(momentum));
    if let Some(rm) = running_mean {
        let batch = x.mean_axes(axes);
        rm.replace(rm.get().mul_scalar(keep).add(&batch.mul_scalar(m)));
    }
    if let Some(rv) = running_var {
        let batch = x.var_axes(axes, 1);
        rv.replace(rv.get().mul_scalar(keep).add(&batch.mul_scalar(m)));
    }
}

#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<GradcheckCase> {
    vec![
        case!("nn.layer_norm", "last_dim", [real(&[3, 4]), real(&[4]), real(&[4])], second: true, |x| {
            layer_norm(&x[0], &[4], Some(&x[1]), Some(&x[2]), 1e-5)
        }),
        case!("nn.layer_norm", "two_dims_no_affine", [real(&[2, 3, 4])], second: true, |x| {
            layer_norm(&x[0], &[3, 4], None, None, 1e-5)
        }),
        case!("nn.layer_norm", "transposed", [real(&[3, 5]).transposed(), real(&[5]), real(&[5])], second: true, |x| {
            layer_norm(&x[0], &[5], Some(&x[1]), Some(&x[2]), 1e-5)
        }),
        case!("nn.batch_norm", "train_2d", [real(&[4, 3]), real(&[3]), real(&[3])], second: true, |x| {
            batch_norm(&x[0], None, None, Some(&x[1]), Some(&x[2]), true, 0.1, 1e-5)
        }),
        case!("nn.batch_norm", "train_4d_no_affine", [real(&[3, 2, 2, 3])], second: true, |x| {
            batch_norm(&x[0], None, None, None, None, true, 0.1, 1e-5)
        }),
        case!("nn.batch_norm", "train_3d_transposed", [real(&[2, 3, 4]).transposed(), real(&[3]), real(&[3])], second: true, |x| {
            batch_norm(&x[0], None, None, Some(&x[1]), Some(&x[2]), true, 0.1, 1e-5)
        }),
        case!("nn.batch_norm", "eval_running_stats", [real(&[2, 3, 2]), real(&[3]), real(&[3])], second: true, |x| {
            // Running statistics are state, not inputs: nothing differentiates them.
            let mean = crate::Buffer::new(engram_tensor::Tensor::from_vec([0.3, -0.2, 0.1].into_iter().map(engram_tensor::Float::of).collect(), &[3]));
            let var = crate::Buffer::new(engram_tensor::Tensor::from_vec([0.5, 1.5, 2.0].into_iter().map(engram_tensor::Float::of).collect(), &[3]));
            batch_norm(&x[0], Some(&mean), Some(&var), Some(&x[1]), Some(&x[2]), false, 0.1, 1e-5).tanh()
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_tensor::Tensor;

    #[test]
    fn eval_uses_running_statistics() {
        let x = Var::constant(Tensor::<f64>::from_vec(vec![1.0, 5.0], &[2, 1]));
        let mean = Buffer::new(Tensor::from_vec(vec![1.0], &[1]));
        let var = Buffer::new(Tensor::from_vec(vec![4.0], &[1]));
        let y = batch_norm(&x, Some(&mean), Some(&var), None, None, false, 0.1, 0.0);
        assert_eq!(y.value().to_vec(), vec![0.0, 2.0]);
        assert_eq!(mean.get().to_vec(), vec![1.0], "eval must not update");
    }

    #[test]
    #[should_panic(expected = "more than 1 value per channel")]
    fn training_on_one_value_per_channel_is_refused() {
        let x = Var::constant(Tensor::<f64>::zeros(&[1, 3]));
        batch_norm(&x, None, None, None, None, true, 0.1, 1e-5);
    }

    #[test]
    #[should_panic(expected = "normalized_shape")]
    fn layer_norm_checks_trailing_dims() {
        let x = Var::constant(Tensor::<f64>::zeros(&[2, 3]));
        layer_norm(&x, &[2], None, None, 1e-5);
    }
}
