//! 2-d pooling. Max pooling also returns where each maximum came from, which is all its
//! backward pass needs.

use crate::conv::Window;
use crate::element::Float;
use crate::max_pool_2x2::{max_pool_2x2_gradient, max_pool_2x2_values};
use crate::parallel::fill_groups;
use crate::shape::shape_error;
use crate::tensor::Tensor;
use crate::vmath;

/// Window, stride and padding of 2-d pooling, and how average pooling counts padding, as
/// PyTorch's `max_pool2d` / `avg_pool2d` (without `ceil_mode`).
///
/// ```
/// use engram_tensor::{Pool2dOptions, Tensor};
/// let x = Tensor::<f32>::ones(&[1, 1, 4, 4]);
/// // 3×3 windows, stride 2, one row and column of padding that the average ignores.
/// let opts = Pool2dOptions::new([3, 3]).stride(2).padding(1).count_include_pad(false);
/// assert_eq!(x.avg_pool2d(opts).to_vec(), vec![1.0; 4]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dOptions {
    /// Window size, (rows, columns).
    pub kernel: [usize; 2],
    /// Step between windows, (rows, columns).
    pub stride: [usize; 2],
    /// Implicit padding on each side, at most half the window: −∞ for max pooling, zeros
    /// for average pooling.
    pub padding: [usize; 2],
    /// Average pooling only: true divides every window by its full area, padding
    /// included (PyTorch's default); false divides by the number of input elements the
    /// window covers.
    pub count_include_pad: bool,
}

impl Pool2dOptions {
    /// A `kernel` window that steps by its own size (PyTorch's default stride), with no
    /// padding.
    pub fn new(kernel: [usize; 2]) -> Self {
        Pool2dOptions {
            kernel,
            stride: kernel,
            padding: [0, 0],
            count_include_pad: true,
        }
    }
    /// The same stride along both axes.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = [s, s];
        self
    }
    /// The same padding along both axes.
    pub fn padding(mut self, p: usize) -> Self {
        self.padding = [p, p];
        self
    }
    /// Whether average pooling counts padding in each window's divisor.
    pub fn count_include_pad(mut self, include: bool) -> Self {
        self.count_include_pad = include;
        self
    }

    /// Whether these are 2×2 windows at stride 2 without padding, which halve each side:
    /// the layout of nearly every CNN, which has kernels of its own (`max_pool_2x2`).
    fn is_halving(&self) -> bool {
        self.kernel == [2, 2] && self.stride == [2, 2] && self.padding == [0, 0]
    }

    /// The window geometry (no dilation).
    pub fn window(&self) -> Window {
        Window {
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
            dilation: [1, 1],
        }
    }

    /// Average pooling's divisor for each output position of an input plane `input`,
    /// shape `[Ho, Wo]`: the window's area, or with `count_include_pad = false` the number
    /// of taps that fall inside the input. Shared with average pooling's gradient.
    #[track_caller]
    pub fn divisors<T: Float>(&self, input: [usize; 2]) -> Tensor<T> {
        let window = self.window();
        let [ho, wo] = window.output_size("avg_pool2d", input);
        let inside = |axis: usize, o: usize| -> usize {
            if self.count_include_pad {
                return self.kernel[axis];
            }
            let first = (o * self.stride[axis]) as isize - self.padding[axis] as isize;
            (0..self.kernel[axis] as isize)
                .filter(|t| (0..input[axis] as isize).contains(&(first + t)))
                .count()
        };
        let data = (0..ho)
            .flat_map(|oy| (0..wo).map(move |ox| T::of((inside(0, oy) * inside(1, ox)) as f64)))
            .collect();
        Tensor::from_vec(data, &[ho, wo])
    }
}

#[track_caller]
fn check_pool(op: &str, shape: &[usize], options: &Pool2dOptions) -> [usize; 2] {
    let window = options.window();
    if shape.len() != 4 {
        shape_error(
            op,
            format!("expected a 4-d input [N, C, H, W], got shape {shape:?}"),
        );
    }
    if (0..2).any(|i| window.kernel[i] == 0 || window.padding[i] * 2 > window.kernel[i]) {
        shape_error(
            op,
            format!(
                "kernel {:?} with padding {:?}: padding must be at most half the kernel",
                window.kernel, window.padding
            ),
        );
    }
    window.output_size(op, [shape[2], shape[3]])
}

/// The input coordinates `0..size` that a window starting at `start − padding` and
/// `kernel` long covers.
#[inline]
fn clipped(start: usize, padding: usize, kernel: usize, size: usize) -> std::ops::Range<usize> {
    let lo = start.saturating_sub(padding);
    let hi = (start + kernel).saturating_sub(padding).min(size);
    lo..hi.max(lo)
}

/// Whether `v` replaces `top` as a window's maximum: a NaN wins and then stays, and ties
/// keep the earlier element. Written as `top` not NaN and not `top ≥ v` (true when `v` is
/// NaN or larger), with `&` rather than `&&`: a short circuit makes reading `v` conditional,
/// which keeps the compiler from vectorising the 2×2 kernels (`max_pool_2x2`).
#[inline(always)]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(top >= v)` is meant to hold for a NaN `v`.
pub(crate) fn beats<T: Float>(v: T, top: T) -> bool {
    !top.is_nan() & !(top >= v)
}

/// The first maximum of two (value, index) candidates, `a` coming first: a NaN wins and
/// then stays, ties keep `a`. Written as selects rather than a branch: on real data which
/// one wins is a coin toss, and a mispredicted branch per comparison cost more than the
/// rest of the 2×2 pooling together.
#[inline(always)]
fn first_max<T: Float>(a: (T, usize), b: (T, usize)) -> (T, usize) {
    let take = beats(b.0, a.0);
    (if take { b.0 } else { a.0 }, if take { b.1 } else { a.1 })
}

/// Max pooling of one plane `img` (row length `w`) by 2×2 windows at stride 2 without
/// padding, the layout of nearly every CNN: every window lies inside the plane, so the four
/// taps are read directly with no clipping. The first maximum of the row-major order (the
/// general path's) is the first of the two rows' first maxima, so ties and NaNs resolve
/// the same way. `out` holds `Ho·Wo` (value, flat index) pairs.
fn max_pool_2x2<T: Float>(img: &[T], w: usize, wo: usize, out: &mut [(T, usize)]) {
    for (oy, out_row) in out.chunks_mut(wo.max(1)).enumerate() {
        let at = 2 * oy * w;
        let top_row = img[at..at + 2 * wo].chunks_exact(2);
        let bottom_row = img[at + w..at + w + 2 * wo].chunks_exact(2);
        for (ox, ((top, bottom), slot)) in top_row.zip(bottom_row).zip(out_row).enumerate() {
            let at = at + 2 * ox;
            let upper = first_max((top[0], at), (top[1], at + 1));
            let lower = first_max((bottom[0], at + w), (bottom[1], at + w + 1));
            *slot = first_max(upper, lower);
        }
    }
}

/// Max pooling of one plane `img` (`size` = [H, W]) by any window: `out` holds the
/// `Ho·Wo` (value, flat index) pairs, in rows of `wo`.
fn max_pool_plane<T: Float>(
    img: &[T],
    size: [usize; 2],
    wo: usize,
    options: &Pool2dOptions,
    out: &mut [(T, usize)],
) {
    let (
        [h, w],
        Pool2dOptions {
            kernel,
            stride,
            padding,
            ..
        },
    ) = (size, *options);
    for (oy, out_row) in out.chunks_mut(wo.max(1)).enumerate() {
        let rows = clipped(oy * stride[0], padding[0], kernel[0], h);
        for (ox, slot) in out_row.iter_mut().enumerate() {
            let cols = clipped(ox * stride[1], padding[1], kernel[1], w);
            // Padding is at most half the kernel, so every window sees input; the first
            // element starts the search, and ties keep the first maximum.
            let mut at = rows.start * w + cols.start;
            let mut top = img[at];
            for iy in rows.clone() {
                let row = &img[iy * w..(iy + 1) * w];
                for ix in cols.clone() {
                    let v = row[ix];
                    if beats(v, top) {
                        top = v;
                        at = iy * w + ix;
                    }
                }
            }
            *slot = (top, at);
        }
    }
}

impl<T: Float> Tensor<T> {
    /// Max pooling over `[N, C, H, W]`; also returns, per output, the flat index `y·W + x`
    /// of its maximum within the input plane (the first one on ties; padding never wins).
    #[track_caller]
    pub fn max_pool2d_with_indices(&self, options: Pool2dOptions) -> (Tensor<T>, Tensor<usize>) {
        let [ho, wo] = check_pool("max_pool2d", self.shape(), &options);
        let kernel = options.kernel;
        let &[n, c, h, w] = self.shape() else {
            unreachable!()
        };
        let x = self.contiguous();
        let src = x.as_slice().expect("contiguous");
        let mut best = crate::buffer_pool::full(n * c * ho * wo, (T::zero(), 0usize));
        let halving = options.is_halving();
        fill_groups(&mut best, ho * wo, kernel[0] * kernel[1], |plane, out| {
            let img = &src[plane * h * w..(plane + 1) * h * w];
            if halving {
                max_pool_2x2(img, w, wo, out);
            } else {
                max_pool_plane(img, [h, w], wo, &options, out);
            }
        });
        let shape = [n, c, ho, wo];
        (
            Tensor::from_pooled(
                crate::buffer_pool::collect(best.iter().map(|p| p.0)),
                &shape,
            ),
            Tensor::from_pooled(
                crate::buffer_pool::collect(best.iter().map(|p| p.1)),
                &shape,
            ),
        )
    }

    /// Max pooling over `[N, C, H, W]`, as PyTorch's `max_pool2d` (padding counts as −∞).
    #[track_caller]
    pub fn max_pool2d(&self, options: Pool2dOptions) -> Tensor<T> {
        let [ho, wo] = check_pool("max_pool2d", self.shape(), &options);
        if !options.is_halving() {
            return self.max_pool2d_with_indices(options).0;
        }
        let &[n, c, h, w] = self.shape() else {
            unreachable!()
        };
        let x = self.contiguous();
        let src = x.as_slice().expect("contiguous");
        let mut out = crate::buffer_pool::full(n * c * ho * wo, T::zero());
        let level = vmath::level();
        fill_groups(&mut out, ho * wo, 4, |plane, out| {
            let img = &src[plane * h * w..(plane + 1) * h * w];
            max_pool_2x2_values(level, img, w, wo, out);
        });
        Tensor::from_pooled(out, &[n, c, ho, wo])
    }

    /// The input gradient of [`Tensor::max_pool2d`] of `input` `[N, C, H, W]`, from its
    /// output gradient `self` `[N, C, Ho, Wo]`: each window's gradient goes to the input
    /// element that won its maximum (the first one on ties), added up where windows
    /// overlap (in output order), zeros elsewhere. PyTorch's `max_pool2d_with_indices_backward`,
    /// with the winners found again from `input` rather than stored.
    ///
    /// ```
    /// use engram_tensor::{Pool2dOptions, Tensor};
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 4.0, 4.0, 2.0], &[1, 1, 2, 2]);
    /// let g = Tensor::from_vec(vec![10.0], &[1, 1, 1, 1]);
    /// let dx = g.max_pool2d_input_grad(&x, Pool2dOptions::new([2, 2]));
    /// assert_eq!(dx.to_vec(), vec![0.0, 10.0, 0.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn max_pool2d_input_grad(&self, input: &Tensor<T>, options: Pool2dOptions) -> Tensor<T> {
        let [ho, wo] = check_pool("max_pool2d_input_grad", input.shape(), &options);
        let &[n, c, h, w] = input.shape() else {
            unreachable!()
        };
        if self.shape() != [n, c, ho, wo] {
            shape_error(
                "max_pool2d_input_grad",
                format!(
                    "the output gradient {:?} must have the pooled shape {:?} of the input {:?}",
                    self.shape(),
                    [n, c, ho, wo],
                    input.shape()
                ),
            );
        }
        let g = self.contiguous();
        let g = g.as_slice().expect("contiguous");
        // Zeros first: the kernels write only the taps windows cover.
        let mut grad = crate::buffer_pool::full(n * c * h * w, T::zero());
        if options.is_halving() {
            let x = input.contiguous();
            let src = x.as_slice().expect("contiguous");
            let level = vmath::level();
            fill_groups(&mut grad, h * w, 1, |plane, out| {
                let at = |len: usize| plane * len..(plane + 1) * len;
                max_pool_2x2_gradient(level, &src[at(h * w)], w, &g[at(ho * wo)], wo, out);
            });
        } else {
            let (_, indices) = input.max_pool2d_with_indices(options);
            let winners = indices.as_slice().expect("contiguous");
            fill_groups(&mut grad, h * w, 1, |plane, out| {
                let at = plane * ho * wo..(plane + 1) * ho * wo;
                for (&i, &gi) in winners[at.clone()].iter().zip(&g[at]) {
                    out[i] += gi;
                }
            });
        }
        Tensor::from_pooled(grad, &[n, c, h, w])
    }

    /// Average pooling over `[N, C, H, W]`, as PyTorch's `avg_pool2d`: each window's sum
    /// over its divisor (see [`Pool2dOptions::count_include_pad`]).
    #[track_caller]
    pub fn avg_pool2d(&self, options: Pool2dOptions) -> Tensor<T> {
        let [ho, wo] = check_pool("avg_pool2d", self.shape(), &options);
        let &[n, c, h, w] = self.shape() else {
            unreachable!()
        };
        let taps = options.kernel[0] * options.kernel[1];
        self.unfold(&options.window())
            .reshape(&[n, c, taps, ho * wo])
            .sum_axes(&[2])
            .div(&options.divisors::<T>([h, w]).reshape(&[ho * wo]))
            .reshape(&[n, c, ho, wo])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{awkward, bits, iota};

    #[test]
    fn max_pool_picks_window_maxima_and_their_indices() {
        let x = iota(&[1, 1, 4, 4]);
        let (v, i) = x.max_pool2d_with_indices(Pool2dOptions::new([2, 2]));
        assert_eq!(v.to_vec(), vec![5.0, 7.0, 13.0, 15.0]);
        assert_eq!(i.to_vec(), vec![5, 7, 13, 15]);
    }

    /// The 2×2 stride-2 fast path against the general loop on the same planes: odd and
    /// even sizes (the last row or column dropped), ties, NaNs and infinities, f32 and f64.
    fn max_pool_2x2_matches_general_path<T: Float>() {
        let options = Pool2dOptions::new([2, 2]);
        for [h, w] in [[2, 2], [4, 6], [5, 7], [7, 4], [3, 9]] {
            let (ho, wo) = (h / 2, w / 2);
            let img = awkward::<T>(h * w);
            let mut fast = vec![(T::zero(), 0); ho * wo];
            let mut general = fast.clone();
            max_pool_2x2(&img, w, wo, &mut fast);
            max_pool_plane(&img, [h, w], wo, &options, &mut general);
            for (a, b) in fast.iter().zip(&general) {
                assert_eq!(a.1, b.1, "[{h}, {w}]");
                assert!(a.0 == b.0 || (a.0.is_nan() && b.0.is_nan()), "[{h}, {w}]");
            }
        }
    }

    #[test]
    fn max_pool_2x2_fast_path_matches_general_path_f32_and_f64() {
        max_pool_2x2_matches_general_path::<f32>();
        max_pool_2x2_matches_general_path::<f64>();
    }

    /// The public forward and gradient on batches of channels, for the 2×2 fast path and
    /// the general one (overlapping windows, whose gradients add up), against the values of
    /// `max_pool2d_with_indices` and a scatter-add into zeros at its indices, bit for bit.
    fn max_pool_matches_indices_and_scatter_add<T: Float>() {
        let halving = Pool2dOptions::new([2, 2]);
        let overlapping = Pool2dOptions::new([3, 3]).stride(2).padding(1);
        for options in [halving, overlapping] {
            for shape in [[2, 3, 5, 7], [1, 2, 6, 4]] {
                let [n, c, h, w] = shape;
                let x =
                    Tensor::from_vec(awkward::<T>(n * c * h * w), &[n, c, w, h]).transpose(2, 3);
                let (values, indices) = x.max_pool2d_with_indices(options);
                assert_eq!(
                    bits(&x.max_pool2d(options).to_vec()),
                    bits(&values.to_vec())
                );
                let out = values.shape().to_vec();
                let g = Tensor::from_vec(awkward::<T>(out.iter().product()), &out);
                let planes = [n * c, out[2] * out[3]];
                let expected = Tensor::<T>::zeros(&[n * c, h * w])
                    .scatter_add(1, &indices.reshape(&planes), &g.reshape(&planes))
                    .reshape(&shape);
                let grad = g.max_pool2d_input_grad(&x, options);
                assert_eq!(
                    bits(&grad.to_vec()),
                    bits(&expected.to_vec()),
                    "{options:?} {shape:?}"
                );
            }
        }
    }

    #[test]
    fn max_pool_forward_and_gradient_match_indices_bitwise_f32_and_f64() {
        max_pool_matches_indices_and_scatter_add::<f32>();
        max_pool_matches_indices_and_scatter_add::<f64>();
    }

    #[test]
    #[should_panic(
        expected = "`max_pool2d_input_grad`: the output gradient [1, 1, 2, 2] must have the pooled shape [1, 1, 2, 3] of the input [1, 1, 4, 6]"
    )]
    fn max_pool_gradient_of_the_wrong_shape_panics() {
        let x = Tensor::<f32>::zeros(&[1, 1, 4, 6]);
        Tensor::<f32>::zeros(&[1, 1, 2, 2]).max_pool2d_input_grad(&x, Pool2dOptions::new([2, 2]));
    }

    #[test]
    fn max_pool_padding_never_wins() {
        let x = Tensor::<f64>::full(&[1, 1, 2, 2], -5.0);
        let (v, i) = x.max_pool2d_with_indices(Pool2dOptions::new([2, 2]).stride(1).padding(1));
        assert_eq!(v.to_vec(), vec![-5.0; 9]);
        assert_eq!(i.get(&[0, 0, 0, 0]), 0);
        assert_eq!(i.get(&[0, 0, 2, 2]), 3);
    }

    #[test]
    fn avg_pool_counts_padding_as_zeros() {
        let x = Tensor::<f64>::ones(&[1, 1, 2, 2]);
        let v = x.avg_pool2d(Pool2dOptions::new([2, 2]).padding(1));
        assert_eq!(v.to_vec(), vec![0.25; 4]);
        let y = iota(&[1, 2, 2, 4]);
        assert_eq!(
            y.avg_pool2d(Pool2dOptions::new([2, 2])).to_vec(),
            vec![2.5, 4.5, 10.5, 12.5]
        );
    }

    #[test]
    fn avg_pool_without_padding_in_the_count_averages_only_the_input() {
        let x = iota(&[1, 1, 3, 3]);
        let opts = Pool2dOptions::new([2, 2]).stride(2).padding(1);
        // Windows cover {0}, {1, 2}, {3, 6}, {4, 5, 7, 8}.
        assert_eq!(
            x.avg_pool2d(opts.count_include_pad(false)).to_vec(),
            vec![0.0, 1.5, 4.5, 6.0]
        );
        assert_eq!(x.avg_pool2d(opts).to_vec(), vec![0.0, 0.75, 2.25, 6.0]);
    }

    #[test]
    #[should_panic(
        expected = "`max_pool2d`: kernel [2, 2] with padding [2, 2]: padding must be at most half the kernel"
    )]
    fn oversized_padding_panics() {
        Tensor::<f32>::zeros(&[1, 1, 4, 4]).max_pool2d(Pool2dOptions::new([2, 2]).padding(2));
    }
}
