//! Pooling and flattening layers; they hold no parameters, only geometry.

use crate::context::Context;
use crate::functional;
use crate::module::Forward;
use engram_autograd::Var;
use engram_derive::Module;
use engram_tensor::{Float, Pool2dOptions};

/// Max pooling over `[N, C, H, W]`, as `torch.nn.MaxPool2d`; the stride defaults to the
/// kernel size.
///
/// ```
/// use engram_nn::{AdaptiveAvgPool2d, Context, Flatten, Forward, MaxPool2d};
/// use engram_tensor::Tensor;
/// let cx = Context::<f32>::eval();
/// let x = cx.input(Tensor::ones(&[2, 3, 8, 8]));
/// assert_eq!(MaxPool2d::new(2).forward(&cx, &x).shape(), &[2, 3, 4, 4]);
/// assert_eq!(MaxPool2d::new(3).stride(1).padding(1).forward(&cx, &x).shape(), &[2, 3, 8, 8]);
/// let pooled = AdaptiveAvgPool2d::new([1, 1]).forward(&cx, &x);
/// assert_eq!(Flatten::new().forward(&cx, &pooled).shape(), &[2, 3]);
/// ```
#[derive(Module, Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool2d {
    /// Window size, (rows, columns).
    pub kernel_size: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Implicit padding on each side (never the maximum).
    pub padding: [usize; 2],
}

/// Average pooling over `[N, C, H, W]`, as `torch.nn.AvgPool2d`; the stride defaults to
/// the kernel size, and padding counts in each window's divisor unless
/// `count_include_pad(false)` says otherwise.
///
/// ```
/// use engram_nn::{AvgPool2d, Context, Forward};
/// use engram_tensor::Tensor;
/// let cx = Context::<f32>::eval();
/// let x = cx.input(Tensor::ones(&[1, 1, 4, 4]));
/// let exclusive = AvgPool2d::new(3).stride(2).padding(1).count_include_pad(false);
/// assert_eq!(exclusive.forward(&cx, &x).value().to_vec(), vec![1.0; 4]);
/// ```
#[derive(Module, Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPool2d {
    /// Window size, (rows, columns).
    pub kernel_size: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Zero padding on each side.
    pub padding: [usize; 2],
    /// Whether padding counts in each window's divisor (PyTorch's default: true).
    pub count_include_pad: bool,
}

impl AvgPool2d {
    /// A square window of `kernel_size`, stride equal to it, no padding.
    pub fn new(kernel_size: usize) -> AvgPool2d {
        AvgPool2d {
            kernel_size: [kernel_size; 2],
            stride: [kernel_size; 2],
            padding: [0; 2],
            count_include_pad: true,
        }
    }

    /// Whether padding counts in each window's divisor.
    pub fn count_include_pad(mut self, include: bool) -> AvgPool2d {
        self.count_include_pad = include;
        self
    }

    fn options(&self) -> Pool2dOptions {
        Pool2dOptions {
            kernel: self.kernel_size,
            stride: self.stride,
            padding: self.padding,
            count_include_pad: self.count_include_pad,
        }
    }
}

impl MaxPool2d {
    /// A square window of `kernel_size`, stride equal to it, no padding.
    pub fn new(kernel_size: usize) -> MaxPool2d {
        MaxPool2d {
            kernel_size: [kernel_size; 2],
            stride: [kernel_size; 2],
            padding: [0; 2],
        }
    }

    fn options(&self) -> Pool2dOptions {
        Pool2dOptions {
            kernel: self.kernel_size,
            stride: self.stride,
            padding: self.padding,
            count_include_pad: true,
        }
    }
}

macro_rules! pool_builders {
    ($name:ident, $f:ident) => {
        impl $name {
            /// The same stride along both axes.
            pub fn stride(mut self, stride: usize) -> $name {
                self.stride = [stride; 2];
                self
            }

            /// The same padding on every side.
            pub fn padding(mut self, padding: usize) -> $name {
                self.padding = [padding; 2];
                self
            }
        }

        impl<T: Float> Forward<T> for $name {
            #[track_caller]
            fn forward(&self, _: &Context<T>, input: &Var<T>) -> Var<T> {
                functional::$f(input, self.options())
            }
        }
    };
}

pool_builders!(MaxPool2d, max_pool2d);
pool_builders!(AvgPool2d, avg_pool2d);

/// Average pooling to a fixed `[oh, ow]` output, as `torch.nn.AdaptiveAvgPool2d`: output
/// cell `(i, j)` averages input rows `⌊i·H/oh⌋..⌈(i+1)·H/oh⌉` and the columns likewise, so
/// bins may overlap when the sizes do not divide.
///
/// ```
/// use engram_nn::{AdaptiveAvgPool2d, Context, Forward};
/// use engram_tensor::Tensor;
/// let cx = Context::<f64>::eval();
/// // 4 × 6 into 2 × 3: each output averages a 2 × 2 block.
/// let x = cx.input(Tensor::arange(0.0, 24.0, 1.0).reshape(&[1, 1, 4, 6]));
/// let y = AdaptiveAvgPool2d::new([2, 3]).forward(&cx, &x);
/// assert_eq!(y.shape(), &[1, 1, 2, 3]);
/// assert_eq!(y.value().to_vec(), vec![3.5, 5.5, 7.5, 15.5, 17.5, 19.5]);
/// // 5 columns into 3: the bins 0..2, 1..4 and 3..5 overlap.
/// let row = cx.input(Tensor::from_vec(vec![0.0, 3.0, 6.0, 9.0, 12.0], &[1, 1, 1, 5]));
/// let y = AdaptiveAvgPool2d::new([1, 3]).forward(&cx, &row);
/// assert_eq!(y.value().to_vec(), vec![1.5, 6.0, 10.5]);
/// ```
#[derive(Module, Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdaptiveAvgPool2d {
    /// The output's `[H, W]`.
    pub output_size: [usize; 2],
}

impl AdaptiveAvgPool2d {
    /// Pooling to `output_size` (`[1, 1]` is global average pooling).
    pub fn new(output_size: [usize; 2]) -> AdaptiveAvgPool2d {
        AdaptiveAvgPool2d { output_size }
    }
}

impl<T: Float> Forward<T> for AdaptiveAvgPool2d {
    #[track_caller]
    fn forward(&self, _: &Context<T>, input: &Var<T>) -> Var<T> {
        functional::adaptive_avg_pool2d(input, self.output_size)
    }
}

/// Merges dimensions `start_dim..=end_dim`, as `torch.nn.Flatten` (default 1 to -1: every
/// dimension but the batch).
///
/// ```
/// use engram_nn::{Context, Flatten, Forward};
/// use engram_tensor::Tensor;
/// let cx = Context::<f32>::eval();
/// let x = cx.input(Tensor::arange(0.0, 120.0, 1.0).reshape(&[2, 3, 4, 5]));
/// let y = Flatten::new().forward(&cx, &x);
/// assert_eq!(y.shape(), &[2, 60]);
/// assert_eq!(y.value().to_vec(), x.value().to_vec()); // the order is kept
/// let middle = Flatten { start_dim: 1, end_dim: 2 };
/// assert_eq!(middle.forward(&cx, &x).shape(), &[2, 12, 5]);
/// ```
#[derive(Module, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flatten {
    /// First dimension merged.
    pub start_dim: isize,
    /// Last dimension merged (negative counts from the end).
    pub end_dim: isize,
}

impl Flatten {
    /// Flattens all but the batch dimension.
    pub fn new() -> Flatten {
        Flatten {
            start_dim: 1,
            end_dim: -1,
        }
    }
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten::new()
    }
}

impl<T: Float> Forward<T> for Flatten {
    #[track_caller]
    fn forward(&self, _: &Context<T>, input: &Var<T>) -> Var<T> {
        functional::flatten(input, self.start_dim, self.end_dim)
    }
}
