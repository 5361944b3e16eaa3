//! Convolutions and pooling. Every rule here is a composition of differentiable ops, so
//! it works to any order.
//!
//! conv2d, `y = W ⊛ x` per group, with its two gradients as ops of their own (PyTorch's
//! `conv2d_input` and `conv2d_weight`), each fused image by image in engram-tensor:
//! `dx = conv2d_input_grad(g, W)` (`fold(Wᵀ · g)`) and `dW = conv2d_weight_grad(x, g)`
//! (`Σ_n g · colsᵀ`). The three are bilinear and each one's vjp is the other two:
//! `⟨H, conv2d_weight_grad(x, g)⟩ = ⟨conv2d(x, H), g⟩ = ⟨x, conv2d_input_grad(g, H)⟩`.
//! `unfold` (im2col) and `fold` (col2im) are each other's vjp.
//! max_pool2d: the gradient goes to each window's argmax, found again from the input
//! (`max_pool2d_input_grad`, a scatter into zeros: `gather`'s adjoint).
//! avg_pool2d: each output's gradient, over its divisor, is spread over its window (`fold`).

use crate::operand::Operand;
use crate::ops::{op_names, InputGrads, Op};
use crate::tape::record;
use crate::var::Var;
#[cfg(doc)]
use engram_tensor::Tensor;
use engram_tensor::{conv1d_as_conv2d, Conv1dOptions, Conv2dOptions, Float, Pool2dOptions, Window};
use smallvec::smallvec;

/// A convolution or pooling op and its geometry.
#[derive(Clone, Debug)]
pub(crate) enum ConvOp {
    Unfold(Window),
    Fold(Window),
    Conv2d(Conv2dOptions),
    /// Inputs: the output gradient and the weight.
    Conv2dInputGrad(Conv2dOptions),
    /// Inputs: the convolution's input and its output gradient.
    Conv2dWeightGrad(Conv2dOptions),
    /// The backward pass finds each window's maximum again from the input: cheaper than
    /// writing an index per output in the forward pass and reading it back.
    MaxPool2d(Pool2dOptions),
    AvgPool2d(Pool2dOptions),
}

impl ConvOp {
    op_names! {
        ConvOp::Unfold(_) => "unfold",
        ConvOp::Fold(_) => "fold",
        ConvOp::Conv2d(_) => "conv2d",
        ConvOp::Conv2dInputGrad(_) => "conv2d_input_grad",
        ConvOp::Conv2dWeightGrad(_) => "conv2d_weight_grad",
        ConvOp::MaxPool2d(_) => "max_pool2d",
        ConvOp::AvgPool2d(_) => "avg_pool2d",
    }

    pub(crate) fn vjp<T: Float, V: Operand<T>>(
        &self,
        x: &[&V],
        g: &V,
        needs: &[bool],
    ) -> InputGrads<V> {
        let xs = x[0].value().shape().to_vec();
        match self {
            ConvOp::Unfold(window) => smallvec![Some(g.fold(window, xs[1], [xs[2], xs[3]]))],
            ConvOp::Fold(window) => smallvec![Some(g.unfold(window))],
            ConvOp::Conv2d(options) => {
                let (w, ws) = (&x[1], x[1].value().shape());
                smallvec![
                    needs[0].then(|| g.conv2d_input_grad(w, [xs[2], xs[3]], *options)),
                    needs[1].then(|| x[0].conv2d_weight_grad(g, [ws[2], ws[3]], *options)),
                ]
            }
            ConvOp::Conv2dInputGrad(options) => {
                let (grad, w, ws) = (&x[0], &x[1], x[1].value().shape());
                smallvec![
                    needs[0].then(|| g.conv2d(w, *options)),
                    needs[1].then(|| g.conv2d_weight_grad(grad, [ws[2], ws[3]], *options)),
                ]
            }
            ConvOp::Conv2dWeightGrad(options) => {
                let (input, grad) = (&x[0], &x[1]);
                smallvec![
                    needs[0].then(|| grad.conv2d_input_grad(g, [xs[2], xs[3]], *options)),
                    needs[1].then(|| input.conv2d(g, *options)),
                ]
            }
            ConvOp::MaxPool2d(options) => smallvec![Some(g.max_pool2d_input_grad(x[0], *options))],
            ConvOp::AvgPool2d(options) => {
                let (n, c) = (xs[0], xs[1]);
                let taps = options.kernel[0] * options.kernel[1];
                let gs = g.value().shape().to_vec();
                let l = gs[2] * gs[3];
                let divisors = options.divisors::<T>([xs[2], xs[3]]);
                let spread = g
                    .div(&g.lift(divisors))
                    .reshape(&[n, c, 1, l])
                    .broadcast_to(&[n, c, taps, l])
                    .reshape(&[n, c * taps, l]);
                smallvec![Some(spread.fold(&options.window(), c, [xs[2], xs[3]]))]
            }
        }
    }
}

impl<T: Float> Var<T> {
    /// im2col: `[N, C, H, W] -> [N, C·kh·kw, Ho·Wo]` (see [`Tensor::unfold`]).
    #[track_caller]
    pub fn unfold(&self, window: &Window) -> Var<T> {
        let value = self.value().unfold(window);
        record(Op::Conv(Box::new(ConvOp::Unfold(*window))), &[self], value)
    }

    /// col2im, the adjoint of `unfold` (see [`Tensor::fold`]).
    #[track_caller]
    pub fn fold(&self, window: &Window, channels: usize, input: [usize; 2]) -> Var<T> {
        let value = self.value().fold(window, channels, input);
        record(Op::Conv(Box::new(ConvOp::Fold(*window))), &[self], value)
    }

    /// 2-d convolution: input `[N, C, H, W]`, weight `[O, C/groups, kh, kw]`.
    #[track_caller]
    pub fn conv2d(&self, weight: &Var<T>, options: Conv2dOptions) -> Var<T> {
        let value = self.value().conv2d(weight.value(), options);
        record(
            Op::Conv(Box::new(ConvOp::Conv2d(options))),
            &[self, weight],
            value,
        )
    }

    /// The gradient of [`Var::conv2d`] with respect to its input, from the output
    /// gradient `self` (see [`Tensor::conv2d_input_grad`]).
    #[track_caller]
    pub fn conv2d_input_grad(
        &self,
        weight: &Var<T>,
        input: [usize; 2],
        options: Conv2dOptions,
    ) -> Var<T> {
        let value = self
            .value()
            .conv2d_input_grad(weight.value(), input, options);
        let op = ConvOp::Conv2dInputGrad(options);
        record(Op::Conv(Box::new(op)), &[self, weight], value)
    }

    /// The gradient of [`Var::conv2d`] of `self` with respect to its weight, from the
    /// output gradient `grad` (see [`Tensor::conv2d_weight_grad`]).
    #[track_caller]
    pub fn conv2d_weight_grad(
        &self,
        grad: &Var<T>,
        kernel: [usize; 2],
        options: Conv2dOptions,
    ) -> Var<T> {
        let value = self
            .value()
            .conv2d_weight_grad(grad.value(), kernel, options);
        let op = ConvOp::Conv2dWeightGrad(options);
        record(Op::Conv(Box::new(op)), &[self, grad], value)
    }

    /// 1-d convolution: input `[N, C, L]`, weight `[O, C/groups, k]` (see
    /// [`Tensor::conv1d`]); recorded as a conv2d over a height-1 plane.
    #[track_caller]
    pub fn conv1d(&self, weight: &Var<T>, options: Conv1dOptions) -> Var<T> {
        let options = conv1d_as_conv2d(self.shape(), weight.shape(), &options);
        self.unsqueeze(2)
            .conv2d(&weight.unsqueeze(2), options)
            .squeeze(2)
    }

    /// Max pooling over `[N, C, H, W]`; the gradient goes to each window's (first) maximum.
    #[track_caller]
    pub fn max_pool2d(&self, options: Pool2dOptions) -> Var<T> {
        let value = self.value().max_pool2d(options);
        record(
            Op::Conv(Box::new(ConvOp::MaxPool2d(options))),
            &[self],
            value,
        )
    }

    /// Average pooling over `[N, C, H, W]` (see [`Tensor::avg_pool2d`] for how padding
    /// counts).
    #[track_caller]
    pub fn avg_pool2d(&self, options: Pool2dOptions) -> Var<T> {
        let value = self.value().avg_pool2d(options);
        record(
            Op::Conv(Box::new(ConvOp::AvgPool2d(options))),
            &[self],
            value,
        )
    }
}

/// Gradcheck entries for this family.
#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<crate::registry::GradcheckCase> {
    use crate::case;
    use crate::registry::real;
    vec![
        case!("conv2d", "plain", [real(&[2, 3, 5, 4]), real(&[2, 3, 3, 2])], second: true, |x| x[0].conv2d(&x[1], Conv2dOptions::default())),
        case!("conv2d", "stride_pad", [real(&[1, 2, 6, 5]), real(&[3, 2, 3, 3])], second: true, |x| {
            x[0].conv2d(&x[1], Conv2dOptions::default().stride(2).padding(1))
        }),
        case!("conv2d", "dilation_groups", [real(&[1, 4, 6, 6]), real(&[4, 2, 2, 2])], second: true, |x| {
            x[0].conv2d(&x[1], Conv2dOptions { stride: [1, 2], padding: [1, 0], dilation: [2, 1], groups: 2 })
        }),
        case!("conv2d", "transposed_input", [real(&[1, 2, 4, 5]).transposed(), real(&[1, 2, 2, 2])], second: true, |x| {
            x[0].conv2d(&x[1], Conv2dOptions::default())
        }),
        case!("conv2d", "size1", [real(&[1, 1, 1, 3]), real(&[2, 1, 1, 1])], second: true, |x| x[0].conv2d(&x[1], Conv2dOptions::default())),
        case!("conv2d_input_grad", "stride_pad", [real(&[2, 3, 3, 3]), real(&[3, 2, 3, 2])], second: true, |x| {
            x[0].conv2d_input_grad(&x[1], [6, 5], Conv2dOptions::default().stride(2).padding(1))
        }),
        case!("conv2d_input_grad", "dilation_groups", [real(&[1, 4, 6, 3]), real(&[4, 2, 2, 2])], second: true, |x| {
            x[0].conv2d_input_grad(&x[1], [6, 6], Conv2dOptions { stride: [1, 2], padding: [1, 0], dilation: [2, 1], groups: 2 })
        }),
        case!("conv2d_input_grad", "transposed_grad", [real(&[1, 2, 4, 3]).transposed(), real(&[2, 1, 2, 2])], second: true, |x| {
            x[0].conv2d_input_grad(&x[1], [3, 2], Conv2dOptions::default().padding(1))
        }),
        case!("conv2d_weight_grad", "stride_pad", [real(&[2, 2, 6, 5]), real(&[2, 3, 3, 3])], second: true, |x| {
            x[0].conv2d_weight_grad(&x[1], [3, 2], Conv2dOptions::default().stride(2).padding(1))
        }),
        case!("conv2d_weight_grad", "dilation_groups", [real(&[1, 4, 6, 6]), real(&[1, 4, 6, 3])], second: true, |x| {
            x[0].conv2d_weight_grad(&x[1], [2, 2], Conv2dOptions { stride: [1, 2], padding: [1, 0], dilation: [2, 1], groups: 2 })
        }),
        case!("conv2d_weight_grad", "many_images", [real(&[11, 1, 3, 3]), real(&[11, 2, 3, 3])], second: true, |x| {
            x[0].conv2d_weight_grad(&x[1], [3, 3], Conv2dOptions::default().padding(1))
        }),
        case!("conv1d", "plain", [real(&[2, 3, 7]), real(&[2, 3, 3])], second: true, |x| x[0].conv1d(&x[1], Conv1dOptions::default())),
        case!("conv1d", "stride_pad_dilation_groups", [real(&[1, 4, 9]), real(&[2, 2, 2])], second: true, |x| x[0].conv1d(&x[1], Conv1dOptions { stride: 2, padding: 1, dilation: 2, groups: 2 })),
        case!("conv1d", "transposed_input", [real(&[1, 3, 6]).transposed(), real(&[1, 3, 2])], second: true, |x| x[0].conv1d(&x[1], Conv1dOptions::default().padding(1))),
        case!("unfold", "stride_pad", [real(&[1, 2, 4, 4])], second: false, |x| {
            x[0].unfold(&Window { kernel: [2, 3], stride: [2, 1], padding: [1, 1], dilation: [1, 1] }).square()
        }),
        case!("unfold", "transposed", [real(&[1, 1, 3, 4]).transposed()], second: false, |x| {
            x[0].unfold(&Window { kernel: [2, 2], stride: [1, 1], padding: [0, 0], dilation: [1, 1] }).square()
        }),
        case!("unfold", "size1", [real(&[1, 1, 1, 3])], second: false, |x| {
            x[0].unfold(&Window { kernel: [1, 2], stride: [1, 1], padding: [0, 0], dilation: [1, 1] }).square()
        }),
        case!("fold", "plain", [real(&[1, 4, 4])], second: false, |x| {
            x[0].fold(&Window { kernel: [2, 2], stride: [1, 1], padding: [0, 0], dilation: [1, 1] }, 1, [3, 3]).square()
        }),
        case!("fold", "size1", [real(&[1, 1, 2])], second: false, |x| {
            x[0].fold(&Window { kernel: [1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1] }, 1, [1, 2]).square()
        }),
        case!("fold", "stride_pad", [real(&[1, 12, 12])], second: false, |x| {
            x[0].fold(&Window { kernel: [2, 3], stride: [2, 1], padding: [1, 1], dilation: [1, 1] }, 2, [4, 4]).square()
        }),
        case!("max_pool2d", "k2s2_odd_transposed", [real(&[2, 3, 7, 5]).transposed()], second: false, |x| x[0].max_pool2d(Pool2dOptions::new([2, 2]))),
        case!("max_pool2d", "k3s2p1_overlap", [real(&[1, 2, 5, 5])], second: false, |x| x[0].max_pool2d(Pool2dOptions::new([3, 3]).stride(2).padding(1))),
        case!("max_pool2d", "transposed", [real(&[1, 1, 4, 6]).transposed()], second: false, |x| x[0].max_pool2d(Pool2dOptions { stride: [2, 1], padding: [1, 1], ..Pool2dOptions::new([2, 3]) })),
        case!("avg_pool2d", "k2s2", [real(&[2, 2, 4, 4])], second: false, |x| x[0].avg_pool2d(Pool2dOptions::new([2, 2]))),
        case!("avg_pool2d", "k3s2p1_overlap", [real(&[1, 2, 5, 5])], second: false, |x| x[0].avg_pool2d(Pool2dOptions::new([3, 3]).stride(2).padding(1))),
        case!("avg_pool2d", "exclude_pad_overlap", [real(&[1, 2, 5, 5])], second: false, |x| {
            x[0].avg_pool2d(Pool2dOptions::new([3, 3]).stride(2).padding(1).count_include_pad(false))
        }),
        case!("avg_pool2d", "exclude_pad_uneven", [real(&[2, 1, 4, 3]).transposed()], second: false, |x| {
            x[0].avg_pool2d(Pool2dOptions { stride: [1, 2], padding: [1, 1], ..Pool2dOptions::new([2, 2]) }.count_include_pad(false))
        }),
        case!("avg_pool2d", "transposed", [real(&[1, 1, 4, 6]).transposed()], second: false, |x| x[0].avg_pool2d(Pool2dOptions { stride: [2, 1], padding: [1, 1], ..Pool2dOptions::new([2, 3]) })),
        case!("conv2d", "empty", [real(&[0, 3, 5, 4]), real(&[2, 3, 3, 2])], second: true, |x| x[0].conv2d(&x[1], Conv2dOptions::default())),
        case!("conv2d_input_grad", "empty", [real(&[0, 3, 3, 3]), real(&[3, 2, 3, 2])], second: true, |x| {
            x[0].conv2d_input_grad(&x[1], [6, 5], Conv2dOptions::default().stride(2).padding(1))
        }),
        case!("conv2d_weight_grad", "empty", [real(&[0, 2, 6, 5]), real(&[0, 3, 3, 3])], second: true, |x| {
            x[0].conv2d_weight_grad(&x[1], [3, 2], Conv2dOptions::default().stride(2).padding(1))
        }),
        case!("conv1d", "empty", [real(&[0, 3, 7]), real(&[2, 3, 3])], second: true, |x| x[0].conv1d(&x[1], Conv1dOptions::default())),
        case!("unfold", "empty", [real(&[0, 2, 4, 4])], second: false, |x| {
            x[0].unfold(&Window { kernel: [2, 2], stride: [1, 1], padding: [0, 0], dilation: [1, 1] }).square()
        }),
        case!("fold", "empty", [real(&[0, 4, 4])], second: false, |x| {
            x[0].fold(&Window { kernel: [2, 2], stride: [1, 1], padding: [0, 0], dilation: [1, 1] }, 1, [3, 3]).square()
        }),
        case!("max_pool2d", "empty", [real(&[0, 2, 4, 4])], second: false, |x| x[0].max_pool2d(Pool2dOptions::new([2, 2]))),
        case!("avg_pool2d", "empty", [real(&[0, 2, 4, 4])], second: false, |x| x[0].avg_pool2d(Pool2dOptions::new([2, 2]))),
    ]
}

#[cfg(test)]
mod tests {
    use crate::{grad_graph, vjp, Tape};
    use engram_tensor::{Pool2dOptions, Tensor};

    /// The two forms of max pooling's vjp, the direct kernel on tensors and the recorded
    /// scatter on Vars (what `create_graph` runs), give the same bits: for the 2×2 fast
    /// path and for overlapping windows, on inputs full of ties.
    #[test]
    fn max_pool_recorded_gradient_matches_the_direct_kernel_bitwise() {
        let halving = Pool2dOptions::new([2, 2]);
        let overlapping = Pool2dOptions::new([3, 3]).stride(2).padding(1);
        for options in [halving, overlapping] {
            let tape = Tape::<f32>::new();
            let ties = (0..2 * 3 * 5 * 7).map(|i| ((i * 7) % 5) as f32).collect();
            let x = tape.leaf(Tensor::from_vec(ties, &[2, 3, 5, 7]));
            let y = x.max_pool2d(options);
            let n = y.value().numel();
            let seed = Tensor::from_vec((0..n).map(|i| i as f32 - 3.5).collect(), y.shape());
            let direct = vjp(&y, &seed, &[&x]).remove(0);
            let recorded = grad_graph(&y, Some(&tape.leaf(seed)), &[&x]).remove(0);
            let bits = |t: &Tensor<f32>| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(recorded.value()), bits(&direct), "{options:?}");
        }
    }
}
