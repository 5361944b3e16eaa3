//! Convolution layers.

use crate::context::Context;
use crate::functional;
use crate::init::{self, FanMode, Nonlinearity};
use crate::layers::linear::fan_in_bound;
use crate::module::Forward;
use crate::parameter::Parameter;
use engram_autograd::Var;
use engram_derive::Module;
use engram_tensor::{Conv1dOptions, Conv2dOptions, Float};
use rand::Rng;

/// The weight and bias of a convolution with PyTorch's default initialisation:
/// `kaiming_uniform(a = √5)` for the kernel, `U(-1/√fan_in, 1/√fan_in)` for the bias.
#[track_caller]
fn init_kernel<T: Float>(
    op: &str,
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    kernel: &[usize],
    bias: bool,
    rng: &mut impl Rng,
) -> (Parameter<T>, Option<Parameter<T>>) {
    if groups == 0 || !in_channels.is_multiple_of(groups) || !out_channels.is_multiple_of(groups) {
        panic!(
            "engram: `{op}`: in_channels {in_channels} and out_channels {out_channels} must \
             both be divisible by groups {groups}"
        );
    }
    let mut shape = vec![out_channels, in_channels / groups];
    shape.extend_from_slice(kernel);
    let weight = init::kaiming_uniform(
        &shape,
        FanMode::FanIn,
        Nonlinearity::LeakyRelu(5f64.sqrt()),
        rng,
    );
    let bias = bias.then(|| {
        let bound = fan_in_bound(init::fan_in_and_fan_out(&shape).0);
        Parameter::new(init::uniform(&[out_channels], -bound, bound, rng))
    });
    (Parameter::new(weight), bias)
}

/// 2-d convolution, as `torch.nn.Conv2d`: input `[N, C_in, H, W]`, output
/// `[N, C_out, Ho, Wo]`. Zero padding only (PyTorch's default `padding_mode='zeros'`).
#[derive(Module, Debug, Clone)]
pub struct Conv2d<T: Float = f32> {
    /// `[out_channels, in_channels / groups, kh, kw]`.
    pub weight: Parameter<T>,
    /// `[out_channels]`; absent when built with `bias(false)`.
    pub bias: Option<Parameter<T>>,
    #[module(skip)]
    options: Conv2dOptions,
}

/// How to build a [`Conv2d`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dConfig {
    /// Channels of the input.
    pub in_channels: usize,
    /// Channels of the output.
    pub out_channels: usize,
    /// Kernel size, (rows, columns).
    pub kernel_size: [usize; 2],
    /// Stride, padding, dilation and groups.
    pub options: Conv2dOptions,
    /// Whether to learn a bias per output channel (default true).
    pub bias: bool,
}

impl Conv2dConfig {
    /// A square `kernel_size` convolution with stride 1, no padding, no dilation, one group.
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize) -> Conv2dConfig {
        Conv2dConfig {
            in_channels,
            out_channels,
            kernel_size: [kernel_size; 2],
            options: Conv2dOptions::default(),
            bias: true,
        }
    }

    /// A rectangular kernel, (rows, columns).
    pub fn kernel_size(mut self, kernel_size: [usize; 2]) -> Conv2dConfig {
        self.kernel_size = kernel_size;
        self
    }

    /// The same stride along both axes.
    pub fn stride(mut self, stride: usize) -> Conv2dConfig {
        self.options = self.options.stride(stride);
        self
    }

    /// The same zero padding on every side.
    pub fn padding(mut self, padding: usize) -> Conv2dConfig {
        self.options = self.options.padding(padding);
        self
    }

    /// The same dilation along both axes.
    pub fn dilation(mut self, dilation: usize) -> Conv2dConfig {
        self.options = self.options.dilation(dilation);
        self
    }

    /// Channel groups (`in_channels` for a depthwise convolution).
    pub fn groups(mut self, groups: usize) -> Conv2dConfig {
        self.options = self.options.groups(groups);
        self
    }

    /// All geometry at once, with per-axis values.
    pub fn options(mut self, options: Conv2dOptions) -> Conv2dConfig {
        self.options = options;
        self
    }

    /// With (`true`) or without a bias.
    pub fn bias(mut self, bias: bool) -> Conv2dConfig {
        self.bias = bias;
        self
    }

    /// The layer, with PyTorch's default initialisation drawn from `rng`.
    #[track_caller]
    pub fn init<T: Float>(&self, rng: &mut impl Rng) -> Conv2d<T> {
        let (weight, bias) = init_kernel(
            "Conv2d",
            self.in_channels,
            self.out_channels,
            self.options.groups,
            &self.kernel_size,
            self.bias,
            rng,
        );
        Conv2d {
            weight,
            bias,
            options: self.options,
        }
    }
}

impl<T: Float> Conv2d<T> {
    /// A square-kernel convolution with default geometry and a bias; see [`Conv2dConfig`]
    /// for stride, padding, dilation, groups.
    ///
    /// ```
    /// use engram_nn::{Context, Conv2d, Conv2dConfig, Forward};
    /// use engram_tensor::Tensor;
    /// use rand::SeedableRng;
    ///
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let conv: Conv2d = Conv2dConfig::new(3, 8, 3).stride(2).padding(1).init(&mut rng);
    /// let cx = Context::eval();
    /// let y = conv.forward(&cx, &cx.input(Tensor::ones(&[1, 3, 8, 8])));
    /// assert_eq!(y.shape(), &[1, 8, 4, 4]);
    /// assert_eq!(Conv2d::<f32>::new(3, 8, 5, &mut rng).weight.shape(), &[8, 3, 5, 5]);
    /// ```
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        rng: &mut impl Rng,
    ) -> Conv2d<T> {
        Conv2dConfig::new(in_channels, out_channels, kernel_size).init(rng)
    }

    /// Its stride, padding, dilation and groups.
    pub fn options(&self) -> Conv2dOptions {
        self.options
    }
}

impl<T: Float> Forward<T> for Conv2d<T> {
    #[track_caller]
    fn forward(&self, cx: &Context<T>, input: &Var<T>) -> Var<T> {
        let bias = self.bias.as_ref().map(|b| cx.param(b));
        functional::conv2d(input, &cx.param(&self.weight), bias.as_ref(), self.options)
    }
}

/// 1-d convolution, as `torch.nn.Conv1d`: input `[N, C_in, L]`, output `[N, C_out, Lo]`.
#[derive(Module, Debug, Clone)]
pub struct Conv1d<T: Float = f32> {
    /// `[out_channels, in_channels / groups, k]`.
    pub weight: Parameter<T>,
    /// `[out_channels]`; absent when built with `bias(false)`.
    pub bias: Option<Parameter<T>>,
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
}

/// How to build a [`Conv1d`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv1dConfig {
    /// Channels of the input.
    pub in_channels: usize,
    /// Channels of the output.
    pub out_channels: usize,
    /// Kernel length.
    pub kernel_size: usize,
    /// Step between windows (default 1).
    pub stride: usize,
    /// Zeros added at each end (default 0).
    pub padding: usize,
    /// Spacing between kernel taps (default 1).
    pub dilation: usize,
    /// Channel groups (default 1).
    pub groups: usize,
    /// Whether to learn a bias per output channel (default true).
    pub bias: bool,
}

impl Conv1dConfig {
    /// A convolution with stride 1, no padding, no dilation, one group, and a bias.
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize) -> Conv1dConfig {
        Conv1dConfig {
            in_channels,
            out_channels,
            kernel_size,
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
            bias: true,
        }
    }

    /// Step between windows.
    pub fn stride(mut self, stride: usize) -> Conv1dConfig {
        self.stride = stride;
        self
    }

    /// Zeros added at each end.
    pub fn padding(mut self, padding: usize) -> Conv1dConfig {
        self.padding = padding;
        self
    }

    /// Spacing between kernel taps.
    pub fn dilation(mut self, dilation: usize) -> Conv1dConfig {
        self.dilation = dilation;
        self
    }

    /// Channel groups.
    pub fn groups(mut self, groups: usize) -> Conv1dConfig {
        self.groups = groups;
        self
    }

    /// With (`true`) or without a bias.
    pub fn bias(mut self, bias: bool) -> Conv1dConfig {
        self.bias = bias;
        self
    }

    /// The layer, with PyTorch's default initialisation drawn from `rng`.
    #[track_caller]
    pub fn init<T: Float>(&self, rng: &mut impl Rng) -> Conv1d<T> {
        let (weight, bias) = init_kernel(
            "Conv1d",
            self.in_channels,
            self.out_channels,
            self.groups,
            &[self.kernel_size],
            self.bias,
            rng,
        );
        Conv1d {
            weight,
            bias,
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
            groups: self.groups,
        }
    }
}

impl<T: Float> Conv1d<T> {
    /// A convolution with default geometry and a bias; see [`Conv1dConfig`] for the rest.
    ///
    /// ```
    /// use engram_nn::{Context, Conv1d, Forward};
    /// use engram_tensor::Tensor;
    /// use rand::SeedableRng;
    ///
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let conv = Conv1d::<f32>::new(2, 4, 3, &mut rng);
    /// let cx = Context::eval();
    /// assert_eq!(conv.forward(&cx, &cx.input(Tensor::ones(&[5, 2, 10]))).shape(), &[5, 4, 8]);
    /// ```
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        rng: &mut impl Rng,
    ) -> Conv1d<T> {
        Conv1dConfig::new(in_channels, out_channels, kernel_size).init(rng)
    }
}

impl<T: Float> Forward<T> for Conv1d<T> {
    #[track_caller]
    fn forward(&self, cx: &Context<T>, input: &Var<T>) -> Var<T> {
        let bias = self.bias.as_ref().map(|b| cx.param(b));
        functional::conv1d(
            input,
            &cx.param(&self.weight),
            bias.as_ref(),
            Conv1dOptions {
                stride: self.stride,
                padding: self.padding,
                dilation: self.dilation,
                groups: self.groups,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_tensor::Tensor;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(13)
    }

    /// Every value of `t` lies in `[-bound, bound]` and both ends come within 5% of it.
    #[track_caller]
    fn assert_fills(what: &str, t: &Tensor<f64>, bound: f64) {
        let (min, max) = (t.min().item(), t.max().item());
        assert!(
            min >= -bound && max <= bound,
            "{what}: [{min}, {max}] outside ±{bound}"
        );
        assert!(
            min < -0.95 * bound && max > 0.95 * bound,
            "{what}: [{min}, {max}] well inside ±{bound}"
        );
    }

    #[test]
    fn conv1d_weight_and_bias_are_uniform_within_one_over_sqrt_fan_in() {
        // fan_in = in_channels / groups · kernel = 4 · 3.
        let conv = Conv1dConfig::new(8, 400, 3)
            .groups(2)
            .init::<f64>(&mut rng());
        assert_eq!(conv.weight.shape(), &[400, 4, 3]);
        let bound = 1.0 / 12f64.sqrt();
        assert_fills("Conv1d weight", conv.weight.value(), bound);
        assert_fills("Conv1d bias", conv.bias.as_ref().unwrap().value(), bound);
    }

    #[test]
    fn conv2d_bias_is_uniform_within_one_over_sqrt_fan_in() {
        // fan_in = in_channels / groups · kernel area = 4 · 9.
        let conv = Conv2dConfig::new(8, 400, 3)
            .groups(2)
            .init::<f64>(&mut rng());
        assert_fills(
            "Conv2d bias",
            conv.bias.as_ref().unwrap().value(),
            1.0 / 6.0,
        );
        assert!(Conv2dConfig::new(8, 4, 3)
            .bias(false)
            .init::<f64>(&mut rng())
            .bias
            .is_none());
    }
}
