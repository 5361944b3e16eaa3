//! Pooling over `[N, C, H, W]` and flattening, as `torch.nn.functional`'s.

#[cfg(feature = "registry")]
use engram_autograd::case;
#[cfg(feature = "registry")]
use engram_autograd::registry::{real, GradcheckCase};
use engram_autograd::Var;
use engram_tensor::{normalize_axis, shape_error, Float, Pool2dOptions, Tensor};

/// Max pooling over the windows `options` describes (kernel, stride, padding that never
/// wins the maximum), as `torch.nn.functional.max_pool2d`. The gradient goes to each
/// window's first maximum.
#[track_caller]
pub fn max_pool2d<T: Float>(input: &Var<T>, options: Pool2dOptions) -> Var<T> {
    input.max_pool2d(options)
}

/// Average pooling, as `torch.nn.functional.avg_pool2d`; `options.count_include_pad`
/// says whether padding counts in each window's divisor (PyTorch's default: it does).
#[track_caller]
pub fn avg_pool2d<T: Float>(input: &Var<T>, options: Pool2dOptions) -> Var<T> {
    input.avg_pool2d(options)
}

/// `[out, size]`: row `i` averages the inputs of PyTorch's adaptive bin
/// `[⌊i·size/out⌋, ⌈(i+1)·size/out⌉)`.
fn bin_averages<T: Float>(size: usize, out: usize) -> Tensor<T> {
    let mut data = vec![T::zero(); out * size];
    for i in 0..out {
        let start = i * size / out;
        let end = ((i + 1) * size).div_ceil(out);
        let weight = T::one() / T::of((end - start) as f64);
        data[i * size + start..i * size + end].fill(weight);
    }
    Tensor::from_vec(data, &[out, size])
}

/// Average pooling to a fixed output size `[oh, ow]` whatever the input's `[H, W]`, with
/// PyTorch's bins (which overlap when the sizes do not divide).
///
/// The bins form a rectangle per output, so the pooling is `A_h · x · A_wᵀ` with constant
/// bin-averaging matrices: two batched matmuls, exact and differentiable to any order.
///
/// ```
/// use engram_autograd::Var;
/// use engram_nn::functional::adaptive_avg_pool2d;
/// use engram_tensor::Tensor;
/// let x = Var::constant(Tensor::<f64>::arange(0.0, 6.0, 1.0).reshape(&[1, 1, 2, 3]));
/// let y = adaptive_avg_pool2d(&x, [1, 1]); // global average pooling
/// assert_eq!(y.value().to_vec(), vec![2.5]);
/// ```
#[track_caller]
pub fn adaptive_avg_pool2d<T: Float>(input: &Var<T>, output_size: [usize; 2]) -> Var<T> {
    let s = input.shape();
    if s.len() != 4 || output_size.contains(&0) || s[2] == 0 || s[3] == 0 {
        shape_error(
            "adaptive_avg_pool2d",
            format!(
                "expected a non-empty input [N, C, H, W] and a positive output size, got input \
                 {s:?} and output size {output_size:?}"
            ),
        );
    }
    let rows = Var::constant(bin_averages::<T>(s[2], output_size[0]));
    let cols = Var::constant(bin_averages::<T>(s[3], output_size[1]).t());
    rows.matmul(input).matmul(&cols)
}

/// Merges dimensions `start_dim..=end_dim` into one (negative dims count from the end), as
/// `torch.flatten`; `flatten(x, 1, -1)` turns `[N, C, H, W]` into `[N, C·H·W]`.
#[track_caller]
pub fn flatten<T: Float>(input: &Var<T>, start_dim: isize, end_dim: isize) -> Var<T> {
    let s = input.shape();
    let rank = s.len().max(1);
    let start = normalize_axis("flatten", start_dim, rank);
    let end = normalize_axis("flatten", end_dim, rank);
    if start > end {
        shape_error(
            "flatten",
            format!("start_dim {start_dim} comes after end_dim {end_dim} for shape {s:?}"),
        );
    }
    if s.is_empty() {
        return input.reshape(&[1]);
    }
    let mut shape = s[..start].to_vec();
    shape.push(s[start..=end].iter().product());
    shape.extend_from_slice(&s[end + 1..]);
    input.reshape(&shape)
}

#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<GradcheckCase> {
    vec![
        case!("nn.adaptive_avg_pool2d", "overlapping_bins", [real(&[2, 2, 5, 7])], second: false, |x| {
            adaptive_avg_pool2d(&x[0], [3, 4]).square()
        }),
        case!("nn.adaptive_avg_pool2d", "global", [real(&[2, 3, 4, 4])], second: false, |x| {
            adaptive_avg_pool2d(&x[0], [1, 1]).square()
        }),
        case!("nn.adaptive_avg_pool2d", "upsampling_transposed", [real(&[1, 1, 2, 3]).transposed()], second: false, |x| {
            adaptive_avg_pool2d(&x[0], [4, 5]).square()
        }),
        case!("nn.max_pool2d", "k2s2", [real(&[2, 2, 4, 4])], second: false, |x| max_pool2d(&x[0], Pool2dOptions { kernel: [2, 2], stride: [2, 2], padding: [0, 0], count_include_pad: true })),
        case!("nn.max_pool2d", "k3s1p1", [real(&[1, 2, 4, 5])], second: false, |x| max_pool2d(&x[0], Pool2dOptions { kernel: [3, 3], stride: [1, 1], padding: [1, 1], count_include_pad: true })),
        case!("nn.max_pool2d", "transposed", [real(&[1, 1, 4, 6]).transposed()], second: false, |x| max_pool2d(&x[0], Pool2dOptions { kernel: [2, 3], stride: [2, 1], padding: [1, 1], count_include_pad: true })),
        case!("nn.avg_pool2d", "k2s2", [real(&[2, 2, 4, 4])], second: false, |x| avg_pool2d(&x[0], Pool2dOptions { kernel: [2, 2], stride: [2, 2], padding: [0, 0], count_include_pad: true })),
        case!("nn.avg_pool2d", "k3s2p1", [real(&[1, 2, 5, 5])], second: false, |x| avg_pool2d(&x[0], Pool2dOptions { kernel: [3, 3], stride: [2, 2], padding: [1, 1], count_include_pad: true })),
        case!("nn.avg_pool2d", "k3s2p1_exclude_pad", [real(&[1, 2, 5, 5])], second: false, |x| avg_pool2d(&x[0], Pool2dOptions::new([3, 3]).stride(2).padding(1).count_include_pad(false))),
        case!("nn.avg_pool2d", "transposed", [real(&[1, 1, 4, 6]).transposed()], second: false, |x| avg_pool2d(&x[0], Pool2dOptions { kernel: [2, 3], stride: [2, 1], padding: [1, 1], count_include_pad: true })),
        case!("nn.flatten", "from1", [real(&[2, 3, 2, 2])], second: false, |x| flatten(&x[0], 1, -1).square()),
        case!("nn.flatten", "middle_transposed", [real(&[2, 3, 4]).transposed()], second: false, |x| flatten(&x[0], 0, 1).square()),
        case!("nn.flatten", "size1", [real(&[1, 1])], second: false, |x| flatten(&x[0], 0, -1).square()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_bins_overlap_as_pytorch() {
        // Size 5 into 3 bins: [0, 2), [1, 4), [3, 5).
        let a = bin_averages::<f64>(5, 3);
        let half = 0.5;
        let third = 1.0 / 3.0;
        assert_eq!(
            a.to_vec(),
            vec![
                half, half, 0.0, 0.0, 0.0, //
                0.0, third, third, third, 0.0, //
                0.0, 0.0, 0.0, half, half
            ]
        );
    }

    #[test]
    fn flatten_merges_the_named_dims() {
        let x = Var::constant(Tensor::<f32>::zeros(&[2, 3, 4, 5]));
        assert_eq!(flatten(&x, 1, -1).shape(), &[2, 60]);
        assert_eq!(flatten(&x, 1, 2).shape(), &[2, 12, 5]);
    }

    #[test]
    #[should_panic(expected = "adaptive_avg_pool2d")]
    fn adaptive_pool_rejects_a_matrix() {
        adaptive_avg_pool2d(&Var::constant(Tensor::<f32>::zeros(&[3, 4])), [1, 1]);
    }
}
