//! The small set of operations vjp rules are written in. `Tensor` implements it by computing
//! (the fast first-order path, nothing recorded); `Var` implements it by recording, so a
//! rule run on Vars is itself differentiable. Each rule therefore exists exactly once.

use crate::custom::CustomOp;
use crate::var::Var;
use engram_tensor::{Conv2dOptions, Float, LstmSaved, Pool2dOptions, Tensor, Window};
use std::rc::Rc;

/// Keeps [`Operand`] to the two types that implement it here, so that adding a method
/// (a fused rule, as `mul_relu_grad`) never breaks a user's code: users name the trait in
/// their own rules (a custom op's vjp), they do not implement it.
mod sealed {
    /// Implemented by `Tensor` and `Var` only.
    pub trait Sealed {}
    impl<T: engram_tensor::Float> Sealed for engram_tensor::Tensor<T> {}
    impl<T: engram_tensor::Float> Sealed for crate::var::Var<T> {}
}

/// What a vjp rule may compute with. Implemented by [`Tensor`] (computing) and [`Var`]
/// (recording) only; sealed.
pub trait Operand<T: Float>: Clone + sealed::Sealed {
    /// The value underneath.
    fn value(&self) -> &Tensor<T>;
    /// A constant of the same kind (for `Var`: untracked).
    fn lift(&self, t: Tensor<T>) -> Self;
    /// Elementwise sum (broadcasting).
    fn add(&self, o: &Self) -> Self;
    /// Elementwise difference (broadcasting).
    fn sub(&self, o: &Self) -> Self;
    /// Elementwise product (broadcasting).
    fn mul(&self, o: &Self) -> Self;
    /// Elementwise quotient (broadcasting).
    fn div(&self, o: &Self) -> Self;
    /// `-x`.
    fn neg(&self) -> Self;
    /// `x + c`.
    fn add_scalar(&self, c: T) -> Self;
    /// `x · c`.
    fn mul_scalar(&self, c: T) -> Self;
    /// `x / c`, a true division.
    fn div_scalar(&self, c: T) -> Self;
    /// `e^x`.
    fn exp(&self) -> Self;
    /// `ln x`.
    fn ln(&self) -> Self;
    /// `sin x`.
    fn sin(&self) -> Self;
    /// `cos x`.
    fn cos(&self) -> Self;
    /// `tanh x`.
    fn tanh(&self) -> Self;
    /// `σ(x)`.
    fn sigmoid(&self) -> Self;
    /// `erf(x)`.
    fn erf(&self) -> Self;
    /// `x^p`.
    fn powf(&self, p: T) -> Self;
    /// `x^n`.
    fn powi(&self, n: i32) -> Self;
    /// Elementwise `x^e` (broadcasting).
    fn pow(&self, e: &Self) -> Self;
    /// Matrix product.
    fn matmul(&self, o: &Self) -> Self;
    /// Swaps two axes.
    fn transpose(&self, a: isize, b: isize) -> Self;
    /// New shape, same elements.
    fn reshape(&self, shape: &[usize]) -> Self;
    /// Reorders axes.
    fn permute(&self, order: &[usize]) -> Self;
    /// Broadcasts to a larger shape.
    fn broadcast_to(&self, shape: &[usize]) -> Self;
    /// Sums over axes, keeping them as size 1.
    fn sum_keepdim(&self, axes: &[isize]) -> Self;
    /// Sums a broadcast value back to `shape`.
    fn sum_to_shape(&self, shape: &[usize]) -> Self;
    /// Mean over axes, keeping them as size 1.
    fn mean_keepdim(&self, axes: &[isize]) -> Self;
    /// A slice along one axis with a step.
    fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Self;
    /// Zero padding, `(before, after)` per axis.
    fn pad_zeros(&self, widths: &[(usize, usize)]) -> Self;
    /// Joins along an axis.
    fn concat(parts: &[Self], axis: isize) -> Self;
    /// im2col.
    fn unfold(&self, window: &Window) -> Self;
    /// col2im.
    fn fold(&self, window: &Window, channels: usize, input: [usize; 2]) -> Self;
    /// 2-d convolution of `self` `[N, C, H, W]` by `weight` `[O, C/groups, kh, kw]`.
    fn conv2d(&self, weight: &Self, options: Conv2dOptions) -> Self;
    /// The input gradient `[N, C, H, W]` of a convolution by `weight`, from its output
    /// gradient `self`; `input` is the plane `[H, W]`.
    fn conv2d_input_grad(&self, weight: &Self, input: [usize; 2], options: Conv2dOptions) -> Self;
    /// The weight gradient `[O, C/groups, kh, kw]` of a convolution of `self`, from its
    /// output gradient `grad`; `kernel` is `[kh, kw]`.
    fn conv2d_weight_grad(&self, grad: &Self, kernel: [usize; 2], options: Conv2dOptions) -> Self;
    /// `out[p] = x[p with axis replaced by index[p]]`.
    fn gather(&self, axis: isize, index: &Tensor<usize>) -> Self;
    /// `self` with `src` added at the indexed positions.
    fn scatter_add(&self, axis: isize, index: &Tensor<usize>, src: &Self) -> Self;
    /// Slices at `indices` along `axis`.
    fn index_select(&self, axis: isize, indices: &[usize]) -> Self;
    /// `self` with slices of `src` added at `indices` along `axis`.
    fn index_add(&self, axis: isize, indices: &[usize], src: &Self) -> Self;
    /// Runs a user-defined op's vjp.
    fn custom_vjp(
        op: &Rc<dyn CustomOp<T>>,
        inputs: &[&Self],
        output: &Self,
        grad: &Self,
    ) -> Vec<Option<Self>>;

    /// The gradients of the fused LSTM recurrence's inputs `x` (projected input, `h0`,
    /// `c0`, `weight_hh`; see [`Var::lstm_recurrence`]) given its output `y` and the
    /// output's gradient `g`. Tensors run the fused backward kernel on what the forward
    /// pass `saved`; Vars record the vjp of the op's composed definition, so that the
    /// gradients can be differentiated again.
    fn lstm_recurrence_vjp(saved: &LstmSaved<T>, x: &[&Self], y: &Self, g: &Self) -> [Self; 4];

    /// The input gradient `[N, C, H, W]` of max pooling `input` (see
    /// [`Tensor::max_pool2d_input_grad`]), from its output gradient `self`: each window's
    /// gradient goes to its first maximum. This form scatters into zeros at the winners'
    /// indices (`gather`'s adjoint), which records a differentiable op on Vars; plain
    /// tensors write each window's gradient in place with the same sums.
    fn max_pool2d_input_grad(&self, input: &Self, options: Pool2dOptions) -> Self {
        let xs = input.value().shape();
        let (_, indices) = input.value().max_pool2d_with_indices(options);
        let s = indices.shape();
        let indices = indices.reshape(&[s[0] * s[1], s[2] * s[3]]);
        let planes = Tensor::zeros(&[xs[0] * xs[1], xs[2] * xs[3]]);
        self.lift(planes)
            .scatter_add(1, &indices, &self.reshape(indices.shape()))
            .reshape(xs)
    }

    /// `on_true` where `mask` holds, else `on_false` (broadcasting), differentiable in both.
    fn select_where(mask: &Tensor<bool>, on_true: &Self, on_false: &Self) -> Self;

    /// `self · c` for a constant tensor `c` (a mask, a fixed factor).
    fn mul_const(&self, c: Tensor<T>) -> Self {
        self.mul(&self.lift(c))
    }

    /// `self · [x > 0]`: ReLU's vjp, from its input `x` (of this gradient's shape). Plain
    /// tensors mask this gradient in its own buffer when nothing else shares it, with the
    /// same roundings (a product with 0 or 1), instead of building the mask and a product.
    fn mul_relu_grad(self, x: &Tensor<T>) -> Self {
        self.mul_const(x.map(|v| if v > T::zero() { T::one() } else { T::zero() }))
    }

    /// `self · (1 - y²)`: tanh's vjp, from its output `y` (of this gradient's shape).
    /// Plain tensors fuse the four ops into one pass, with the same roundings.
    fn mul_tanh_grad(&self, y: &Self) -> Self {
        self.mul(&y.mul(y).neg().add_scalar(T::one()))
    }

    /// `self · y(1 - y)`: the sigmoid's vjp, from its output `y` (of this gradient's
    /// shape). Plain tensors fuse the four ops into one pass, with the same roundings.
    fn mul_sigmoid_grad(&self, y: &Self) -> Self {
        self.mul(&y.mul(&y.neg().add_scalar(T::one())))
    }

    /// The gradient of `x` for `y = softmax(x)` along `axis` (log-softmax when `log`),
    /// from its output `y` and this gradient of `y`: `y · (g - Σ g·y)`, or
    /// `g - e^y · Σ g`. Plain tensors run it as one kernel over groups of rows along a
    /// contiguous last axis, with the same roundings.
    fn softmax_grad(&self, y: &Self, axis: isize, log: bool) -> Self {
        if log {
            self.sub(&y.exp().mul(&self.sum_keepdim(&[axis])))
        } else {
            y.mul(&self.sub(&self.mul(y).sum_keepdim(&[axis])))
        }
    }

    /// `acc + unslice(g)`: the gradient `g` of a slice (from `start`, every `step`-th
    /// position along `axis`) added into `acc`, what an input of `shape` has gathered so
    /// far (`None`: nothing yet). This form pads `g` to the input's shape and adds, which
    /// records the padding when the backward pass is itself recorded; plain tensors add
    /// `g` into the slice's region in place instead, so that `T` slices of one input (an
    /// RNN's time steps) cost O(T) rather than O(T²).
    fn accumulate_slice(
        acc: Option<Self>,
        g: &Self,
        shape: &[usize],
        (axis, start, step): (usize, usize, usize),
    ) -> Self {
        let padded = crate::ops::shape::unslice(g, shape, axis, start, step);
        match acc {
            Some(acc) => acc.add(&padded),
            None => padded,
        }
    }
}

macro_rules! forward_all {
    ($recv:ident, $to:ty) => {
        fn add(&self, o: &Self) -> Self {
            <$to>::add(self, o)
        }
        fn sub(&self, o: &Self) -> Self {
            <$to>::sub(self, o)
        }
        fn mul(&self, o: &Self) -> Self {
            <$to>::mul(self, o)
        }
        fn div(&self, o: &Self) -> Self {
            <$to>::div(self, o)
        }
        fn neg(&self) -> Self {
            <$to>::neg(self)
        }
        fn add_scalar(&self, c: T) -> Self {
            <$to>::add_scalar(self, c)
        }
        fn mul_scalar(&self, c: T) -> Self {
            <$to>::mul_scalar(self, c)
        }
        fn div_scalar(&self, c: T) -> Self {
            <$to>::div_scalar(self, c)
        }
        fn exp(&self) -> Self {
            <$to>::exp(self)
        }
        fn ln(&self) -> Self {
            <$to>::ln(self)
        }
        fn sin(&self) -> Self {
            <$to>::sin(self)
        }
        fn cos(&self) -> Self {
            <$to>::cos(self)
        }
        fn tanh(&self) -> Self {
            <$to>::tanh(self)
        }
        fn sigmoid(&self) -> Self {
            <$to>::sigmoid(self)
        }
        fn powf(&self, p: T) -> Self {
            <$to>::powf(self, p)
        }
        fn powi(&self, n: i32) -> Self {
            <$to>::powi(self, n)
        }
        fn pow(&self, e: &Self) -> Self {
            <$to>::pow(self, e)
        }
        fn matmul(&self, o: &Self) -> Self {
            <$to>::matmul(self, o)
        }
        fn transpose(&self, a: isize, b: isize) -> Self {
            <$to>::transpose(self, a, b)
        }
        fn reshape(&self, shape: &[usize]) -> Self {
            <$to>::reshape(self, shape)
        }
        fn permute(&self, order: &[usize]) -> Self {
            <$to>::permute(self, order)
        }
        fn broadcast_to(&self, shape: &[usize]) -> Self {
            <$to>::broadcast_to(self, shape)
        }
        fn sum_keepdim(&self, axes: &[isize]) -> Self {
            <$to>::sum_keepdim(self, axes)
        }
        fn sum_to_shape(&self, shape: &[usize]) -> Self {
            <$to>::sum_to_shape(self, shape)
        }
        fn mean_keepdim(&self, axes: &[isize]) -> Self {
            <$to>::mean_keepdim(self, axes)
        }
        fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Self {
            <$to>::slice(self, axis, start, end, step)
        }
        fn unfold(&self, window: &Window) -> Self {
            <$to>::unfold(self, window)
        }
        fn fold(&self, window: &Window, channels: usize, input: [usize; 2]) -> Self {
            <$to>::fold(self, window, channels, input)
        }
        fn conv2d(&self, weight: &Self, options: Conv2dOptions) -> Self {
            <$to>::conv2d(self, weight, options)
        }
        fn conv2d_input_grad(
            &self,
            weight: &Self,
            input: [usize; 2],
            options: Conv2dOptions,
        ) -> Self {
            <$to>::conv2d_input_grad(self, weight, input, options)
        }
        fn conv2d_weight_grad(
            &self,
            grad: &Self,
            kernel: [usize; 2],
            options: Conv2dOptions,
        ) -> Self {
            <$to>::conv2d_weight_grad(self, grad, kernel, options)
        }
        fn gather(&self, axis: isize, index: &Tensor<usize>) -> Self {
            <$to>::gather(self, axis, index)
        }
        fn scatter_add(&self, axis: isize, index: &Tensor<usize>, src: &Self) -> Self {
            <$to>::scatter_add(self, axis, index, src)
        }
        fn index_select(&self, axis: isize, indices: &[usize]) -> Self {
            <$to>::index_select(self, axis, indices)
        }
        fn index_add(&self, axis: isize, indices: &[usize], src: &Self) -> Self {
            <$to>::index_add(self, axis, indices, src)
        }
    };
}

impl<T: Float> Operand<T> for Tensor<T> {
    fn value(&self) -> &Tensor<T> {
        self
    }
    fn select_where(mask: &Tensor<bool>, on_true: &Self, on_false: &Self) -> Self {
        Tensor::where_cond(mask, on_true, on_false)
    }
    fn lift(&self, t: Tensor<T>) -> Self {
        t
    }
    fn max_pool2d_input_grad(&self, input: &Self, options: Pool2dOptions) -> Self {
        Tensor::max_pool2d_input_grad(self, input, options)
    }
    fn mul_relu_grad(mut self, x: &Tensor<T>) -> Self {
        if self.shape() != x.shape() {
            // A broadcast gradient (never from the sweep, which checks shapes): the
            // composed form broadcasts.
            return self.mul_const(x.map(|v| if v > T::zero() { T::one() } else { T::zero() }));
        }
        self.zip_assign_(x, |g, v| {
            g * if v > T::zero() { T::one() } else { T::zero() }
        });
        self
    }
    fn mul_tanh_grad(&self, y: &Self) -> Self {
        engram_tensor::zip_map("tanh", self, y, |g, y| g * (-(y * y) + T::one()))
    }
    fn mul_sigmoid_grad(&self, y: &Self) -> Self {
        engram_tensor::zip_map("sigmoid", self, y, |g, y| g * (y * (-y + T::one())))
    }
    fn softmax_grad(&self, y: &Self, axis: isize, log: bool) -> Self {
        y.softmax_vjp(self, axis, log)
    }
    fn erf(&self) -> Self {
        Tensor::erf(self)
    }
    fn pad_zeros(&self, widths: &[(usize, usize)]) -> Self {
        self.pad(widths, T::zero())
    }
    fn concat(parts: &[Self], axis: isize) -> Self {
        Tensor::concat(&parts.iter().collect::<Vec<_>>(), axis)
    }
    fn custom_vjp(
        op: &Rc<dyn CustomOp<T>>,
        inputs: &[&Self],
        output: &Self,
        grad: &Self,
    ) -> Vec<Option<Self>> {
        let wrap = |t: &Tensor<T>| Var::constant(t.clone());
        let inputs: Vec<Var<T>> = inputs.iter().map(|t| wrap(t)).collect();
        op.vjp(&inputs, &wrap(output), &wrap(grad))
            .into_iter()
            .map(|g| g.map(|v| v.value().clone()))
            .collect()
    }
    fn lstm_recurrence_vjp(saved: &LstmSaved<T>, x: &[&Self], y: &Self, g: &Self) -> [Self; 4] {
        let grads = saved.backward(g, y, (x[1], x[2]), x[3]);
        [grads.input, grads.h0, grads.c0, grads.weight_hh]
    }
    fn accumulate_slice(
        acc: Option<Self>,
        g: &Self,
        shape: &[usize],
        (axis, start, step): (usize, usize, usize),
    ) -> Self {
        let mut acc = acc.unwrap_or_else(|| Tensor::zeros(shape));
        let g = g.contiguous();
        let src = g.as_slice().expect("contiguous");
        let outer: usize = shape[..axis].iter().product();
        let inner: usize = shape[axis + 1..].iter().product();
        let (dim, len) = (shape[axis], g.shape()[axis]);
        // Copies the accumulator first only if its storage is shared (with another
        // gradient that an identity rule passed on) or it is a view.
        let dst = acc.as_mut_slice();
        for o in 0..outer {
            for k in 0..len {
                let to = (o * dim + start + k * step) * inner;
                let from = (o * len + k) * inner;
                for (d, s) in dst[to..to + inner].iter_mut().zip(&src[from..from + inner]) {
                    *d += *s;
                }
            }
        }
        acc
    }
    forward_all!(self, Tensor<T>);
}

impl<T: Float> Operand<T> for Var<T> {
    fn value(&self) -> &Tensor<T> {
        Var::value(self)
    }
    fn select_where(mask: &Tensor<bool>, on_true: &Self, on_false: &Self) -> Self {
        Var::where_cond(mask, on_true, on_false)
    }
    fn lift(&self, t: Tensor<T>) -> Self {
        Var::constant(t)
    }
    fn erf(&self) -> Self {
        Var::erf(self)
    }
    fn pad_zeros(&self, widths: &[(usize, usize)]) -> Self {
        Var::pad(self, widths, T::zero())
    }
    fn concat(parts: &[Self], axis: isize) -> Self {
        Var::concat(&parts.iter().collect::<Vec<_>>(), axis)
    }
    fn custom_vjp(
        op: &Rc<dyn CustomOp<T>>,
        inputs: &[&Self],
        output: &Self,
        grad: &Self,
    ) -> Vec<Option<Self>> {
        // The user's rule takes the inputs as a slice of Vars: the one place they are cloned.
        let inputs: Vec<Var<T>> = inputs.iter().map(|&v| v.clone()).collect();
        op.vjp(&inputs, output, grad)
    }
    fn lstm_recurrence_vjp(_saved: &LstmSaved<T>, x: &[&Self], _y: &Self, g: &Self) -> [Self; 4] {
        crate::ops::lstm::recorded_vjp(x, g)
    }
    forward_all!(self, Var<T>);
}
