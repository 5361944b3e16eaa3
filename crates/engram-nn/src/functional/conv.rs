//! Convolutions with a bias, on autograd's `conv1d`/`conv2d`.

#[cfg(feature = "registry")]
use engram_autograd::case;
#[cfg(feature = "registry")]
use engram_autograd::registry::{real, GradcheckCase};
use engram_autograd::Var;
use engram_tensor::{shape_error, Conv1dOptions, Conv2dOptions, Float};

/// The bias `[out]` added to a convolution's output `[N, out, ..]`, one value per channel.
#[track_caller]
fn add_channel_bias<T: Float>(op: &str, y: Var<T>, bias: Option<&Var<T>>) -> Var<T> {
    let Some(b) = bias else { return y };
    let channels = y.shape()[1];
    if b.shape() != [channels] {
        shape_error(
            op,
            format!(
                "bias {:?} does not fit the {channels} output channels: expected [{channels}]",
                b.shape()
            ),
        );
    }
    let mut shape = vec![1; y.rank()];
    shape[1] = channels;
    y + b.reshape(&shape)
}

/// 2-d convolution: input `[N, C, H, W]`, weight `[O, C/groups, kh, kw]`, bias `[O]`,
/// output `[N, O, Ho, Wo]` (as `torch.nn.functional.conv2d`).
///
/// ```
/// use engram_autograd::Var;
/// use engram_nn::functional::conv2d;
/// use engram_tensor::{Conv2dOptions, Tensor};
/// let x = Var::constant(Tensor::<f32>::ones(&[1, 1, 4, 4]));
/// let w = Var::constant(Tensor::ones(&[2, 1, 3, 3]));
/// let y = conv2d(&x, &w, None, Conv2dOptions::default().padding(1));
/// assert_eq!(y.shape(), &[1, 2, 4, 4]);
/// assert_eq!(y.value().get(&[0, 0, 1, 1]), 9.0);
/// ```
#[track_caller]
pub fn conv2d<T: Float>(
    input: &Var<T>,
    weight: &Var<T>,
    bias: Option<&Var<T>>,
    options: Conv2dOptions,
) -> Var<T> {
    add_channel_bias("conv2d", input.conv2d(weight, options), bias)
}

/// 1-d convolution: input `[N, C, L]`, weight `[O, C/groups, k]`, bias `[O]`, output
/// `[N, O, Lo]` (as `torch.nn.functional.conv1d`, with the same argument order).
#[track_caller]
pub fn conv1d<T: Float>(
    input: &Var<T>,
    weight: &Var<T>,
    bias: Option<&Var<T>>,
    options: Conv1dOptions,
) -> Var<T> {
    let y = input.conv1d(weight, options);
    add_channel_bias("conv1d", y, bias)
}

#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<GradcheckCase> {
    vec![
        case!("nn.conv2d", "bias", [real(&[2, 2, 4, 4]), real(&[3, 2, 2, 2]), real(&[3])], second: true, |x| {
            conv2d(&x[0], &x[1], Some(&x[2]), Conv2dOptions::default()).tanh()
        }),
        case!("nn.conv2d", "stride_pad_groups", [real(&[1, 4, 5, 5]), real(&[2, 2, 3, 3]), real(&[2])], second: true, |x| {
            conv2d(&x[0], &x[1], Some(&x[2]), Conv2dOptions::default().stride(2).padding(1).groups(2)).tanh()
        }),
        case!("nn.conv2d", "dilation_no_bias", [real(&[1, 1, 5, 4]), real(&[1, 1, 2, 2])], second: true, |x| {
            conv2d(&x[0], &x[1], None, Conv2dOptions::default().dilation(2)).tanh()
        }),
        case!("nn.conv1d", "bias", [real(&[2, 3, 6]), real(&[2, 3, 3]), real(&[2])], second: true, |x| {
            conv1d(&x[0], &x[1], Some(&x[2]), Conv1dOptions::default()).tanh()
        }),
        case!("nn.conv1d", "stride_pad_dilation_groups", [real(&[1, 4, 9]), real(&[4, 2, 2]), real(&[4])], second: true, |x| {
            conv1d(&x[0], &x[1], Some(&x[2]), Conv1dOptions::default().stride(2).padding(1).dilation(2).groups(2)).tanh()
        }),
        case!("nn.conv1d", "no_bias_size1", [real(&[1, 1, 3]), real(&[1, 1, 1])], second: true, |x| {
            conv1d(&x[0], &x[1], None, Conv1dOptions::default()).tanh()
        }),
    ]
}
