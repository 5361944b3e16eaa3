//! The affine map of a fully connected layer.

#[cfg(feature = "registry")]
use engram_autograd::case;
#[cfg(feature = "registry")]
use engram_autograd::registry::{real, GradcheckCase};
use engram_autograd::Var;
use engram_tensor::{shape_error, Float};

/// `y = x · Wᵀ + b`: input `[.., in]`, weight `[out, in]` (PyTorch's layout), bias `[out]`,
/// output `[.., out]`.
///
/// ```
/// use engram_autograd::Var;
/// use engram_nn::functional::linear;
/// use engram_tensor::Tensor;
/// let x = Var::constant(Tensor::<f32>::from_vec(vec![1.0, 2.0], &[1, 2]));
/// let w = Var::constant(Tensor::from_vec(vec![1.0, 0.0, 1.0, 1.0, 0.0, -1.0], &[3, 2]));
/// let b = Var::constant(Tensor::from_vec(vec![0.5, 0.5, 0.5], &[3]));
/// assert_eq!(linear(&x, &w, Some(&b)).value().to_vec(), vec![1.5, 3.5, -1.5]);
/// ```
#[track_caller]
pub fn linear<T: Float>(input: &Var<T>, weight: &Var<T>, bias: Option<&Var<T>>) -> Var<T> {
    let (x, w) = (input.shape(), weight.shape());
    if w.len() != 2 || x.is_empty() || x[x.len() - 1] != w[1] {
        shape_error(
            "linear",
            format!(
                "input {x:?} does not fit weight {w:?}: expected input [.., in] and weight \
                 [out, in] with the same `in`"
            ),
        );
    }
    if let Some(b) = bias {
        if b.shape() != [w[0]] {
            shape_error(
                "linear",
                format!(
                    "bias {:?} does not fit weight {w:?}: expected [{}]",
                    b.shape(),
                    w[0]
                ),
            );
        }
    }
    match bias {
        // One node for product and bias: the tape keeps one activation, not two.
        Some(b) => input.matmul_bias(&weight.t(), b),
        None => input.matmul(&weight.t()),
    }
}

#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<GradcheckCase> {
    vec![
        case!("nn.linear", "batch", [real(&[4, 3]), real(&[2, 3]), real(&[2])], second: true, |x| {
            linear(&x[0], &x[1], Some(&x[2])).tanh()
        }),
        case!("nn.linear", "sequence_no_bias", [real(&[2, 3, 4]), real(&[5, 4])], second: true, |x| {
            linear(&x[0], &x[1], None).tanh()
        }),
        case!("nn.linear", "transposed_weight_size1", [real(&[1, 2]), real(&[1, 2]).transposed(), real(&[1])], second: true, |x| {
            linear(&x[0], &x[1], Some(&x[2])).tanh()
        }),
    ]
}
