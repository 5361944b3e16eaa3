//! A 2-d convolution and its two gradients, image by image: each image's im2col columns
//! go into a scratch buffer of one worker, and GEMMs read (or, for the input gradient,
//! write) them there. Against one im2col of the whole batch this keeps the columns in
//! cache and never faults a batch-sized buffer in afresh: in the CNN step of
//! `benches/steps.rs` those buffers cost more than the GEMMs (see BENCHMARKS.md).
//!
//! Per group `g` of `groups`, with `cols` an image's columns `[C/groups·kh·kw, Ho·Wo]`:
//! `y = W_g · cols`, `dW_g = Σ_images dy_g · colsᵀ`, `dx = fold(W_gᵀ · dy_g)`.

use crate::conv::{conv2d_geometry, Conv2dOptions, Window};
use crate::element::Float;
use crate::matmul::{gemm_into, MatrixRef, Write, BATCH_PARALLEL_PRODUCTS_PER_THREAD};
use crate::parallel::PARALLEL_THRESHOLD;
use crate::shape::{checked_numel, shape_error};
use crate::team::for_each_chunk_mut_with;
use crate::tensor::Tensor;

/// Images whose weight gradients one worker sums into one partial sum. Fixed, so that the
/// partial sums, and the order they are added in, never depend on the thread count.
const IMAGES_PER_PARTIAL_SUM: usize = 8;

/// The sizes of one convolution, from its input, weight and options.
struct Geometry {
    window: Window,
    groups: usize,
    /// Batch, input channels, input plane, output channels, output plane.
    n: usize,
    c: usize,
    input: [usize; 2],
    o: usize,
    output: [usize; 2],
}

impl Geometry {
    #[track_caller]
    fn new(input: &[usize], weight: &[usize], options: &Conv2dOptions) -> Geometry {
        let (window, groups) = conv2d_geometry(input, weight, options);
        let &[n, c, h, w] = input else { unreachable!() };
        Geometry {
            window,
            groups,
            n,
            c,
            input: [h, w],
            o: weight[0],
            output: window.output_size("conv2d", [h, w]),
        }
    }

    /// Output positions per plane.
    fn positions(&self) -> usize {
        self.output[0] * self.output[1]
    }
    /// Kernel taps per plane.
    fn taps(&self) -> usize {
        self.window.kernel[0] * self.window.kernel[1]
    }
    /// Rows of one group's columns: its input channels times the taps.
    fn per_group(&self) -> usize {
        self.c / self.groups * self.taps()
    }
    /// Output channels per group.
    fn out_group(&self) -> usize {
        self.o / self.groups
    }
    /// Elements of one image's columns.
    fn cols_len(&self) -> usize {
        self.c * self.taps() * self.positions()
    }
    /// Multiply-adds of one image's product.
    fn flops_per_image(&self) -> usize {
        (self.o * self.positions()).saturating_mul(self.per_group())
    }

    /// Image `image`'s columns, written into `cols` (zeros where a tap is in the padding).
    fn unfold_image<T: Float>(&self, src: &[T], image: usize, cols: &mut [T]) {
        let [h, w] = self.input;
        cols.fill(T::zero());
        for (channel, rows) in cols.chunks_mut(self.taps() * self.positions()).enumerate() {
            let plane = (image * self.c + channel) * h * w;
            self.window
                .unfold_plane(&src[plane..plane + h * w], self.input, rows);
        }
    }

    /// Checks that `grad` is the `[N, O, Ho, Wo]` output gradient of this convolution.
    #[track_caller]
    fn expect_output_grad<T: Float>(&self, op: &str, grad: &Tensor<T>) {
        let want = [self.n, self.o, self.output[0], self.output[1]];
        if grad.shape() != want {
            shape_error(
                op,
                format!(
                    "the output gradient must have the convolution's output shape {want:?}, got {:?}",
                    grad.shape()
                ),
            );
        }
    }
}

/// Whether a batch of `images` runs one image per thread at a time (rather than in turn,
/// each GEMM splitting itself across threads): when there are enough images to share out
/// evenly and enough work to pay for the split.
fn images_in_parallel(images: usize, flops_per_image: usize) -> bool {
    let threads = rayon::current_num_threads();
    threads > 1
        && images >= BATCH_PARALLEL_PRODUCTS_PER_THREAD * threads
        && images.saturating_mul(flops_per_image) >= PARALLEL_THRESHOLD
}

/// Runs `image(cols, i, dst, threads)` for every image `i`, where `dst` is image `i`'s
/// `out_per_image` elements of `out` and `cols` a scratch buffer of `cols_len` elements
/// that the call may overwrite. `threads` is what the call's GEMMs may use. Every image's
/// result is the same whichever way the images run.
fn per_image<T: Float>(
    out: &mut [T],
    out_per_image: usize,
    cols_len: usize,
    flops_per_image: usize,
    image: impl Fn(&mut [T], usize, &mut [T], usize) + Sync,
) {
    if out.is_empty() {
        return;
    }
    if images_in_parallel(out.len() / out_per_image, flops_per_image) {
        for_each_chunk_mut_with(
            out,
            out_per_image,
            || crate::buffer_pool::full(cols_len, T::zero()),
            |cols, i, dst| image(cols, i, dst, 1),
        );
    } else {
        let mut cols = crate::buffer_pool::full(cols_len, T::zero());
        let threads = rayon::current_num_threads();
        for (i, dst) in out.chunks_mut(out_per_image).enumerate() {
            image(&mut cols, i, dst, threads);
        }
    }
}

impl<T: Float> Tensor<T> {
    /// 2-d cross-correlation (what deep learning calls convolution), as PyTorch's `conv2d`:
    /// input `[N, C, H, W]`, weight `[O, C/groups, kh, kw]`, output `[N, O, Ho, Wo]`.
    #[track_caller]
    pub fn conv2d(&self, weight: &Tensor<T>, options: Conv2dOptions) -> Tensor<T> {
        let geo = Geometry::new(self.shape(), weight.shape(), &options);
        let (x, kernels) = (self.contiguous(), weight.contiguous());
        let (src, kernels) = (x.as_slice().unwrap(), kernels.as_slice().unwrap());
        let (l, per_group, out_group) = (geo.positions(), geo.per_group(), geo.out_group());
        let shape = [geo.n, geo.o, geo.output[0], geo.output[1]];
        let mut out = crate::buffer_pool::full(checked_numel("conv2d", &shape), T::zero());
        per_image(
            &mut out,
            geo.o * l,
            geo.cols_len(),
            geo.flops_per_image(),
            |cols, image, dst, threads| {
                geo.unfold_image(src, image, cols);
                for (group, dst) in dst.chunks_mut(out_group * l).enumerate() {
                    gemm_into(
                        dst,
                        (out_group, l, per_group),
                        (
                            kernels,
                            MatrixRef::rows(group * out_group * per_group, per_group),
                        ),
                        (cols, MatrixRef::rows(group * per_group * l, l)),
                        Write::Overwrite,
                        threads,
                    );
                }
            },
        );
        Tensor::from_pooled(out, &shape)
    }

    /// The gradient of [`Tensor::conv2d`] with respect to its input, as PyTorch's
    /// `torch.nn.grad.conv2d_input`: `self` is the output gradient `[N, O, Ho, Wo]`,
    /// `weight` `[O, C/groups, kh, kw]`, and `input` the input plane `[H, W]` (several
    /// sizes give one output size when the stride is above 1). Returns `[N, C, H, W]`.
    #[track_caller]
    pub fn conv2d_input_grad(
        &self,
        weight: &Tensor<T>,
        input: [usize; 2],
        options: Conv2dOptions,
    ) -> Tensor<T> {
        let op = "conv2d_input_grad";
        if self.rank() != 4 || weight.rank() != 4 {
            shape_error(
                op,
                format!(
                    "expected an output gradient [N, O, Ho, Wo] and weight [O, C/groups, kh, kw], got {:?} and {:?}",
                    self.shape(),
                    weight.shape()
                ),
            );
        }
        let channels = weight.shape()[1] * options.groups;
        let input_shape = [self.shape()[0], channels, input[0], input[1]];
        let geo = Geometry::new(&input_shape, weight.shape(), &options);
        geo.expect_output_grad(op, self);
        let (grad, kernels) = (self.contiguous(), weight.contiguous());
        let (grad, kernels) = (grad.as_slice().unwrap(), kernels.as_slice().unwrap());
        let (l, per_group, out_group) = (geo.positions(), geo.per_group(), geo.out_group());
        let plane = input[0] * input[1];
        let mut out = crate::buffer_pool::full(checked_numel(op, &input_shape), T::zero());
        per_image(
            &mut out,
            geo.c * plane,
            geo.cols_len(),
            geo.flops_per_image(),
            |cols, image, dst, threads| {
                for (group, cols) in cols.chunks_mut(per_group * l).enumerate() {
                    // W_gᵀ: element (row r, column k) of [per_group, out_group] lies at
                    // k·per_group + r in the row-major [out_group, per_group] block.
                    let weight_t = MatrixRef {
                        offset: group * out_group * per_group,
                        row_stride: 1,
                        col_stride: per_group,
                    };
                    let grad_rows = (image * geo.o + group * out_group) * l;
                    gemm_into(
                        cols,
                        (per_group, l, out_group),
                        (kernels, weight_t),
                        (grad, MatrixRef::rows(grad_rows, l)),
                        Write::Overwrite,
                        threads,
                    );
                }
                let rows = geo.taps() * l;
                for (channel, img) in dst.chunks_mut(plane).enumerate() {
                    let cols = &cols[channel * rows..(channel + 1) * rows];
                    geo.window.fold_plane(cols, input, img);
                }
            },
        );
        Tensor::from_pooled(out, &input_shape)
    }

    /// The gradient of [`Tensor::conv2d`] with respect to its weight, as PyTorch's
    /// `torch.nn.grad.conv2d_weight`: `self` is the input `[N, C, H, W]`, `grad` the output
    /// gradient `[N, O, Ho, Wo]` and `kernel` the weight's `[kh, kw]`. Returns
    /// `[O, C/groups, kh, kw]`, summed over the batch in fixed groups of images (the same
    /// sum for any thread count).
    #[track_caller]
    pub fn conv2d_weight_grad(
        &self,
        grad: &Tensor<T>,
        kernel: [usize; 2],
        options: Conv2dOptions,
    ) -> Tensor<T> {
        let op = "conv2d_weight_grad";
        if self.rank() != 4 || grad.rank() != 4 || options.groups == 0 {
            shape_error(
                op,
                format!(
                    "expected an input [N, C, H, W] and output gradient [N, O, Ho, Wo] with groups ≥ 1, got {:?}, {:?} and groups={}",
                    self.shape(),
                    grad.shape(),
                    options.groups
                ),
            );
        }
        let weight_shape = [
            grad.shape()[1],
            self.shape()[1] / options.groups,
            kernel[0],
            kernel[1],
        ];
        let geo = Geometry::new(self.shape(), &weight_shape, &options);
        geo.expect_output_grad(op, grad);
        let (x, grad) = (self.contiguous(), grad.contiguous());
        let (src, grad) = (x.as_slice().unwrap(), grad.as_slice().unwrap());
        let (l, per_group, out_group) = (geo.positions(), geo.per_group(), geo.out_group());
        let size = checked_numel(op, &weight_shape);
        if geo.n == 0 || size == 0 {
            return Tensor::zeros(&weight_shape);
        }
        let partials = geo.n.div_ceil(IMAGES_PER_PARTIAL_SUM);
        let mut sums = crate::buffer_pool::full(partials * size, T::zero());
        let flops = IMAGES_PER_PARTIAL_SUM.saturating_mul(geo.flops_per_image());
        per_image(
            &mut sums,
            size,
            geo.cols_len(),
            flops,
            |cols, part, dst, threads| {
                let first = part * IMAGES_PER_PARTIAL_SUM;
                for image in first..(first + IMAGES_PER_PARTIAL_SUM).min(geo.n) {
                    geo.unfold_image(src, image, cols);
                    for (group, dst) in dst.chunks_mut(out_group * per_group).enumerate() {
                        // colsᵀ: element (row p, column r) of [l, per_group] lies at r·l + p.
                        let cols_t = MatrixRef {
                            offset: group * per_group * l,
                            row_stride: 1,
                            col_stride: l,
                        };
                        let grad_rows = (image * geo.o + group * out_group) * l;
                        gemm_into(
                            dst,
                            (out_group, per_group, l),
                            (grad, MatrixRef::rows(grad_rows, l)),
                            (cols, cols_t),
                            if image == first {
                                Write::Overwrite
                            } else {
                                Write::Accumulate
                            },
                            threads,
                        );
                    }
                }
            },
        );
        let (total, rest) = sums.split_at_mut(size);
        for part in rest.chunks(size) {
            for (t, p) in total.iter_mut().zip(part) {
                *t += *p;
            }
        }
        sums.truncate(size);
        Tensor::from_pooled(sums, &weight_shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::tests::option_cases;
    use crate::test_util::iota;

    /// The input and weight gradients composed from im2col and batched products, the
    /// unfused form these kernels replace.
    fn composed<T: Float>(
        x: &Tensor<T>,
        w: &Tensor<T>,
        g: &Tensor<T>,
        o: &Conv2dOptions,
    ) -> (Tensor<T>, Tensor<T>) {
        let (window, groups) = conv2d_geometry(x.shape(), w.shape(), o);
        let (xs, ws) = (x.shape(), w.shape());
        let (n, c) = (xs[0], xs[1]);
        let per_group = c / groups * ws[2] * ws[3];
        let l = g.shape()[2] * g.shape()[3];
        let g = g.reshape(&[n, groups, ws[0] / groups, l]);
        let cols = x.unfold(&window).reshape(&[n, groups, per_group, l]);
        let dw = g.matmul(&cols.transpose(-2, -1)).sum_axes(&[0]).reshape(ws);
        let dx = w
            .reshape(&[groups, ws[0] / groups, per_group])
            .transpose(-2, -1)
            .matmul(&g)
            .reshape(&[n, c * ws[2] * ws[3], l])
            .fold(&window, c, [xs[2], xs[3]]);
        (dx, dw)
    }

    fn assert_close<T: Float>(what: &str, got: &Tensor<T>, want: &Tensor<T>, tol: f64) {
        assert_eq!(got.shape(), want.shape(), "{what}");
        for (a, b) in got.to_vec().into_iter().zip(want.to_vec()) {
            let (a, b) = (a.as_f64(), b.as_f64());
            assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{what}: {a} vs {b}");
        }
    }

    /// Both gradients against the composed form, for a batch of `n` (above
    /// `IMAGES_PER_PARTIAL_SUM` when large, so several partial sums are added).
    fn gradients_match_composition<T: Float>(n: usize, tol: f64) {
        let x = iota(&[n, 4, 7, 6]).map(|v| T::of((v * 0.37).sin()));
        for o in option_cases() {
            let w = iota(&[4, 4 / o.groups, 3, 2]).map(|v| T::of((v * 0.11).cos()));
            let y = x.conv2d(&w, o);
            let g = y.map(|v| (v * T::of(1.3)).sin());
            let (dx, dw) = composed(&x, &w, &g, &o);
            let what = format!("{o:?}, batch {n}");
            assert_close(&what, &g.conv2d_input_grad(&w, [7, 6], o), &dx, tol);
            assert_close(&what, &x.conv2d_weight_grad(&g, [3, 2], o), &dw, tol);
        }
    }

    #[test]
    fn conv2d_gradients_match_im2col_composition_f64() {
        gradients_match_composition::<f64>(2, 1e-12);
        gradients_match_composition::<f64>(IMAGES_PER_PARTIAL_SUM * 2 + 3, 1e-12);
    }

    #[test]
    fn conv2d_gradients_match_im2col_composition_f32() {
        gradients_match_composition::<f32>(3, 1e-5);
        gradients_match_composition::<f32>(IMAGES_PER_PARTIAL_SUM + 1, 1e-5);
    }

    /// Images split across threads (a batch of 24), or each GEMM split across them (a
    /// batch of 3), give bitwise the output and gradients of one thread.
    #[test]
    fn conv2d_and_gradients_are_the_same_on_one_and_two_threads() {
        let run = |threads: usize, n: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a rayon pool")
                .install(|| {
                    let x = iota(&[n, 16, 14, 14]).map(|v| (v * 0.013).sin() as f32);
                    let w = iota(&[32, 16, 3, 3]).map(|v| (v * 0.07).cos() as f32);
                    let o = Conv2dOptions::default().padding(1);
                    let y = x.conv2d(&w, o);
                    let g = y.map(|v| v.sin());
                    let dx = g.conv2d_input_grad(&w, [14, 14], o);
                    let dw = x.conv2d_weight_grad(&g, [3, 3], o);
                    (y.to_vec(), dx.to_vec(), dw.to_vec())
                })
        };
        for n in [24, 3] {
            assert_eq!(run(1, n), run(2, n), "batch {n}");
        }
    }

    #[test]
    #[should_panic(
        expected = "`conv2d_weight_grad`: the output gradient must have the convolution's output shape [1, 2, 3, 3], got [1, 2, 4, 4]"
    )]
    fn weight_grad_with_a_mismatched_output_gradient_panics() {
        Tensor::<f32>::zeros(&[1, 1, 5, 5]).conv2d_weight_grad(
            &Tensor::zeros(&[1, 2, 4, 4]),
            [3, 3],
            Conv2dOptions::default(),
        );
    }

    #[test]
    #[should_panic(
        expected = "`conv2d_input_grad`: the output gradient must have the convolution's output shape [1, 2, 3, 3], got [1, 3, 3, 3]"
    )]
    fn input_grad_with_a_mismatched_output_gradient_panics() {
        Tensor::<f32>::zeros(&[1, 3, 3, 3]).conv2d_input_grad(
            &Tensor::zeros(&[2, 1, 3, 3]),
            [5, 5],
            Conv2dOptions::default(),
        );
    }
}
