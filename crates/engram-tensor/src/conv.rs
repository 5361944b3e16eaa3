//! Convolution geometry and the im2col pair: `unfold` lays every receptive field out as a
//! column and `fold`, its adjoint, sums columns back into the input (overlapping fields
//! add). The convolution itself and its gradients run image by image on the same
//! per-plane kernels (`conv_gemm.rs`).

use crate::element::Float;
use crate::parallel::fill_groups;
use crate::shape::{checked_numel, shape_error};
use crate::tensor::Tensor;

/// Stride, padding, dilation and groups of a 2-d convolution, as PyTorch's `conv2d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dOptions {
    /// Step between receptive fields, (rows, columns).
    pub stride: [usize; 2],
    /// Zeros added on each side, (rows, columns).
    pub padding: [usize; 2],
    /// Spacing between kernel taps, (rows, columns).
    pub dilation: [usize; 2],
    /// Channel groups: input and output channels split into this many independent parts.
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl Conv2dOptions {
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
    /// The same dilation along both axes.
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = [d, d];
        self
    }
    /// The number of groups.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
}

/// Stride, padding, dilation and groups of a 1-d convolution, as PyTorch's `conv1d`.
///
/// ```
/// use engram_tensor::{Conv1dOptions, Tensor};
/// let x = Tensor::<f32>::ones(&[1, 4, 9]); // [N, C, L]
/// let w = Tensor::<f32>::ones(&[2, 2, 3]); // [O, C/groups, k]
/// let y = x.conv1d(&w, Conv1dOptions::default().stride(2).padding(1).groups(2));
/// assert_eq!(y.shape(), &[1, 2, 5]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv1dOptions {
    /// Step between receptive fields.
    pub stride: usize,
    /// Zeros added on each side.
    pub padding: usize,
    /// Spacing between kernel taps.
    pub dilation: usize,
    /// Channel groups: input and output channels split into this many independent parts.
    pub groups: usize,
}

impl Default for Conv1dOptions {
    fn default() -> Self {
        Conv1dOptions {
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
        }
    }
}

impl Conv1dOptions {
    /// The stride.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = s;
        self
    }
    /// The padding on each side.
    pub fn padding(mut self, p: usize) -> Self {
        self.padding = p;
        self
    }
    /// The dilation.
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = d;
        self
    }
    /// The number of groups.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
}

/// Checks a conv1d's ranks and gives the conv2d over a height-1 plane that computes it
/// (input and weight each with an axis of size 1 inserted at 2). Shared with the
/// differentiable `Var::conv1d`.
#[track_caller]
pub fn conv1d_as_conv2d(
    input: &[usize],
    weight: &[usize],
    options: &Conv1dOptions,
) -> Conv2dOptions {
    let op = "conv1d";
    if input.len() != 3 || weight.len() != 3 {
        shape_error(
            op,
            format!("expected input [N, C, L] and weight [O, C/groups, k], got input {input:?} and weight {weight:?}"),
        );
    }
    // Checked here in one dimension, so a conv1d mistake reads in the caller's terms
    // rather than as a conv2d over a height-1 plane.
    check_groups(op, input, weight, options.groups);
    let (kernel, length) = (weight[2], input[2]);
    for (what, value) in [
        ("kernel", kernel),
        ("stride", options.stride),
        ("dilation", options.dilation),
    ] {
        if value == 0 {
            shape_error(op, format!("{what} must be at least 1, got 0"));
        }
    }
    let span = options
        .dilation
        .checked_mul(kernel - 1)
        .and_then(|s| s.checked_add(1));
    let padded = options
        .padding
        .checked_mul(2)
        .and_then(|p| p.checked_add(length));
    if !matches!((span, padded), (Some(span), Some(padded)) if padded >= span) {
        shape_error(
            op,
            format!(
                "a window of {kernel} (dilation {}) does not fit an input of length {length} padded by {}",
                options.dilation, options.padding
            ),
        );
    }
    Conv2dOptions {
        stride: [1, options.stride],
        padding: [0, options.padding],
        dilation: [1, options.dilation],
        groups: options.groups,
    }
}

/// Geometry of sliding a `kernel` over an input plane: the unfold/fold contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Kernel size, (rows, columns).
    pub kernel: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Implicit zeros on each side.
    pub padding: [usize; 2],
    /// Spacing between taps.
    pub dilation: [usize; 2],
}

impl Window {
    /// Number of window positions along each axis for an input plane of `input` size.
    /// Panics, naming `op`, on a zero kernel, stride or dilation (which would silently give
    /// zeros or divide by zero) and on a window that does not fit the padded input.
    #[track_caller]
    pub fn output_size(&self, op: &str, input: [usize; 2]) -> [usize; 2] {
        for (what, value) in [
            ("kernel", self.kernel),
            ("stride", self.stride),
            ("dilation", self.dilation),
        ] {
            if value.contains(&0) {
                shape_error(
                    op,
                    format!("{what} must be at least 1 along each axis, got {value:?}"),
                );
            }
        }
        let mut out = [0; 2];
        for i in 0..2 {
            let span = self.dilation[i]
                .checked_mul(self.kernel[i] - 1)
                .and_then(|s| s.checked_add(1));
            let padded = self.padding[i]
                .checked_mul(2)
                .and_then(|p| p.checked_add(input[i]));
            match (span, padded) {
                (Some(span), Some(padded)) if padded >= span => {
                    out[i] = (padded - span) / self.stride[i] + 1;
                }
                _ => shape_error(
                    op,
                    format!(
                        "a window of {:?} (dilation {:?}, stride {:?}) does not fit an input of {input:?} padded by {:?}",
                        self.kernel, self.dilation, self.stride, self.padding
                    ),
                ),
            }
        }
        out
    }

    /// For output position `o` and tap `t` along axis `i`, the input coordinate, if inside.
    #[inline]
    fn source(&self, i: usize, o: usize, t: usize, size: usize) -> Option<usize> {
        let pos = (o * self.stride[i] + t * self.dilation[i]) as isize - self.padding[i] as isize;
        (pos >= 0 && (pos as usize) < size).then_some(pos as usize)
    }

    /// For tap `t` along axis `i`, the output positions `lo..hi` (of `outputs`) whose
    /// input coordinate falls inside `0..size`, and the coordinate of the first. Between
    /// them every position reads `stride` further on, so the kernels copy whole runs
    /// instead of testing each position against the padding.
    #[inline]
    fn inside(&self, i: usize, t: usize, size: usize, outputs: usize) -> (usize, usize, usize) {
        let (stride, offset) = (self.stride[i], t * self.dilation[i]);
        // Input coordinate of output o: o·stride + offset − padding.
        let lo = self.padding[i].saturating_sub(offset).div_ceil(stride);
        let reach = size + self.padding[i];
        let hi = if reach > offset {
            ((reach - offset - 1) / stride + 1).min(outputs)
        } else {
            0
        };
        if lo >= hi {
            return (0, 0, 0);
        }
        (lo, hi, lo * stride + offset - self.padding[i])
    }
}

impl Window {
    /// Calls `run(tap, output, input, len)` for every run of `len` output positions of a
    /// plane of `size` whose tap `tap` (`i·kw + j`) lies inside the plane: positions
    /// `output..output + len` of the plane's `Ho·Wo` read input positions `input`,
    /// `input + sx`, ... (`sx` the column stride). Whole runs rather than single
    /// positions, so the kernels copy instead of testing each position for padding.
    fn for_each_run(
        &self,
        op: &str,
        size: [usize; 2],
        mut run: impl FnMut(usize, usize, usize, usize),
    ) {
        let [h, w] = size;
        let [ho, wo] = self.output_size(op, size);
        let [kh, kw] = self.kernel;
        for i in 0..kh {
            for j in 0..kw {
                let (lo, hi, ix) = self.inside(1, j, w, wo);
                for oy in 0..ho {
                    if let Some(iy) = self.source(0, oy, i, h) {
                        run(i * kw + j, oy * wo + lo, iy * w + ix, hi - lo);
                    }
                }
            }
        }
    }

    /// im2col of one input plane `img` (`size` = [H, W]) into `dst`, `kh·kw` rows of
    /// `Ho·Wo`: row `i·kw + j` holds tap `(i, j)` of every window. Writes only the taps
    /// that fall inside the plane; `dst` must hold zeros where they fall in the padding.
    pub(crate) fn unfold_plane<T: Float>(&self, img: &[T], size: [usize; 2], dst: &mut [T]) {
        let [ho, wo] = self.output_size("unfold", size);
        let sx = self.stride[1];
        self.for_each_run("unfold", size, |tap, output, input, len| {
            let to = &mut dst[tap * ho * wo + output..][..len];
            let from = &img[input..];
            if sx == 1 {
                to.copy_from_slice(&from[..len]);
            } else {
                for (k, value) in to.iter_mut().enumerate() {
                    *value = from[k * sx];
                }
            }
        });
    }

    /// col2im of one plane, the adjoint of [`Window::unfold_plane`]: adds every entry of
    /// the `kh·kw` rows of `cols` into the position of `img` (`size` = [H, W]) it was read
    /// from.
    pub(crate) fn fold_plane<T: Float>(&self, cols: &[T], size: [usize; 2], img: &mut [T]) {
        let [ho, wo] = self.output_size("fold", size);
        let sx = self.stride[1];
        self.for_each_run("fold", size, |tap, output, input, len| {
            let from = &cols[tap * ho * wo + output..][..len];
            let to = &mut img[input..];
            if sx == 1 {
                for (value, add) in to.iter_mut().zip(from) {
                    *value += *add;
                }
            } else {
                for (k, add) in from.iter().enumerate() {
                    to[k * sx] += *add;
                }
            }
        });
    }
}

#[track_caller]
fn expect_rank<T: Float>(op: &str, t: &Tensor<T>, rank: usize, layout: &str) {
    if t.rank() != rank {
        shape_error(
            op,
            format!(
                "expected a {rank}-d input {layout}, got shape {:?}",
                t.shape()
            ),
        );
    }
}

impl<T: Float> Tensor<T> {
    /// im2col: `[N, C, H, W] -> [N, C·kh·kw, Ho·Wo]`; column `l` holds the receptive field of
    /// output position `l`, row `(c·kh + i)·kw + j` its tap `(i, j)` of channel `c`.
    #[track_caller]
    pub fn unfold(&self, window: &Window) -> Tensor<T> {
        expect_rank("unfold", self, 4, "[N, C, H, W]");
        let &[n, c, h, w] = self.shape() else {
            unreachable!()
        };
        let [ho, wo] = window.output_size("unfold", [h, w]);
        let [kh, kw] = window.kernel;
        let x = self.contiguous();
        let src = x.as_slice().expect("contiguous");
        let l = ho * wo;
        let block = kh * kw * l;
        let mut out =
            crate::buffer_pool::full(checked_numel("unfold", &[n, c, kh, kw, ho, wo]), T::zero());
        fill_groups(&mut out, block, 1, |plane, dst| {
            window.unfold_plane(&src[plane * h * w..(plane + 1) * h * w], [h, w], dst);
        });
        Tensor::from_pooled(out, &[n, c * kh * kw, l])
    }

    /// col2im, the adjoint of [`Tensor::unfold`]: `[N, C·kh·kw, Ho·Wo] -> [N, C, H, W]`,
    /// summing every column entry into the input position it was read from.
    #[track_caller]
    pub fn fold(&self, window: &Window, channels: usize, input: [usize; 2]) -> Tensor<T> {
        expect_rank("fold", self, 3, "[N, C·kh·kw, L]");
        let [h, w] = input;
        let [ho, wo] = window.output_size("fold", input);
        let [kh, kw] = window.kernel;
        let (n, l) = (self.shape()[0], ho * wo);
        if self.shape()[1] != channels * kh * kw || self.shape()[2] != l {
            shape_error(
                "fold",
                format!(
                    "expected columns [{n}, {}, {l}] for {channels} channels, kernel {:?} and input {input:?}, got {:?}",
                    channels * kh * kw,
                    window.kernel,
                    self.shape()
                ),
            );
        }
        let cols = self.contiguous();
        let src = cols.as_slice().expect("contiguous");
        let block = kh * kw * l;
        let mut out =
            crate::buffer_pool::full(checked_numel("fold", &[n, channels, h, w]), T::zero());
        fill_groups(&mut out, h * w, block / (h * w).max(1), |plane, img| {
            window.fold_plane(&src[plane * block..(plane + 1) * block], input, img);
        });
        Tensor::from_pooled(out, &[n, channels, h, w])
    }

    /// 1-d cross-correlation: input `[N, C, L]`, weight `[O, C/groups, k]`, output `[N, O, Lo]`.
    #[track_caller]
    pub fn conv1d(&self, weight: &Tensor<T>, options: Conv1dOptions) -> Tensor<T> {
        let options = conv1d_as_conv2d(self.shape(), weight.shape(), &options);
        self.unsqueeze(2)
            .conv2d(&weight.unsqueeze(2), options)
            .squeeze(2)
    }
}

/// Checks a conv2d's shapes and options; returns its window and group count.
#[track_caller]
pub fn conv2d_geometry(
    input: &[usize],
    weight: &[usize],
    options: &Conv2dOptions,
) -> (Window, usize) {
    let op = "conv2d";
    if input.len() != 4 || weight.len() != 4 {
        shape_error(
            op,
            format!("expected input [N, C, H, W] and weight [O, C/groups, kh, kw], got input {input:?} and weight {weight:?}"),
        );
    }
    let g = options.groups;
    check_groups(op, input, weight, g);
    let window = Window {
        kernel: [weight[2], weight[3]],
        stride: options.stride,
        padding: options.padding,
        dilation: options.dilation,
    };
    (window, g)
}

/// Checks that `groups` splits the input's channels (axis 1) and the weight's outputs
/// (axis 0) evenly and that the weight's axis 1 holds one group's channels.
#[track_caller]
fn check_groups(op: &str, input: &[usize], weight: &[usize], g: usize) {
    if g == 0
        || !input[1].is_multiple_of(g)
        || !weight[0].is_multiple_of(g)
        || weight[1].checked_mul(g) != Some(input[1])
    {
        shape_error(
            op,
            format!(
                "input {input:?} and weight {weight:?} with groups={g}: need C divisible by groups, O divisible by groups \
                 and weight's dimension 1 equal to C/groups"
            ),
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::test_util::iota;

    /// Direct seven-loop convolution, as the reference.
    fn naive_conv2d(x: &Tensor<f64>, w: &Tensor<f64>, o: &Conv2dOptions) -> Tensor<f64> {
        let (xs, ws) = (x.shape(), w.shape());
        let (n, c, h, wd, oc, cg, kh, kw) =
            (xs[0], xs[1], xs[2], xs[3], ws[0], ws[1], ws[2], ws[3]);
        let g = o.groups;
        let win = Window {
            kernel: [kh, kw],
            stride: o.stride,
            padding: o.padding,
            dilation: o.dilation,
        };
        let [ho, wo] = win.output_size("t", [h, wd]);
        let mut out = Tensor::zeros(&[n, oc, ho, wo]);
        let _ = c;
        for b in 0..n {
            for oc_i in 0..oc {
                let grp = oc_i / (oc / g);
                for oy in 0..ho {
                    for ox in 0..wo {
                        let mut s = 0.0;
                        for ci in 0..cg {
                            for i in 0..kh {
                                for j in 0..kw {
                                    let iy = (oy * o.stride[0] + i * o.dilation[0]) as isize
                                        - o.padding[0] as isize;
                                    let ix = (ox * o.stride[1] + j * o.dilation[1]) as isize
                                        - o.padding[1] as isize;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd
                                    {
                                        s += x.get(&[b, grp * cg + ci, iy as usize, ix as usize])
                                            * w.get(&[oc_i, ci, i, j]);
                                    }
                                }
                            }
                        }
                        out.set(&[b, oc_i, oy, ox], s);
                    }
                }
            }
        }
        out
    }

    /// Options that between them cover padding, stride unlike the kernel, dilation,
    /// groups, and windows that leave the last row or column of an odd plane unread; for
    /// 4 input channels.
    pub(crate) fn option_cases() -> [Conv2dOptions; 4] {
        [
            Conv2dOptions::default(),
            Conv2dOptions::default().stride(2).padding(1),
            Conv2dOptions {
                stride: [1, 2],
                padding: [2, 0],
                dilation: [2, 1],
                groups: 2,
            },
            Conv2dOptions::default().padding(1).groups(4),
        ]
    }

    #[test]
    fn conv2d_matches_direct_loops_across_options() {
        let x = iota(&[2, 4, 7, 6]).map(|v| (v * 0.37).sin());
        for opts in option_cases() {
            let w = iota(&[4, 4 / opts.groups, 3, 2]).map(|v| (v * 0.11).cos());
            let got = x.conv2d(&w, opts);
            let want = naive_conv2d(&x, &w, &opts);
            assert_eq!(got.shape(), want.shape());
            for (a, b) in got.to_vec().iter().zip(want.to_vec()) {
                assert!((a - b).abs() < 1e-12, "{opts:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn conv1d_is_conv2d_with_unit_height() {
        let x = iota(&[1, 2, 5]);
        let w = Tensor::<f64>::ones(&[1, 2, 2]);
        // out[l] = x[0,l] + x[0,l+1] + x[1,l] + x[1,l+1]
        assert_eq!(
            x.conv1d(&w, Conv1dOptions::default()).to_vec(),
            vec![12.0, 16.0, 20.0, 24.0]
        );
        assert_eq!(
            x.conv1d(&w, Conv1dOptions::default().stride(2).padding(1))
                .to_vec(),
            vec![5.0, 16.0, 24.0]
        );
    }

    /// unfold's run copies against a per-element reference, and fold against unfold's
    /// adjoint, over windows whose taps fall wholly or partly in the padding.
    #[test]
    fn unfold_and_fold_match_per_element_loops_across_windows() {
        let x = iota(&[2, 2, 5, 6]).map(|v| (v * 0.41).sin());
        for kernel in [[1, 1], [2, 3], [3, 3]] {
            for stride in [[1, 1], [2, 3]] {
                for padding in [[0, 0], [1, 2], [2, 3]] {
                    for dilation in [[1, 1], [2, 1]] {
                        let win = Window {
                            kernel,
                            stride,
                            padding,
                            dilation,
                        };
                        let Some([ho, wo]) =
                            std::panic::catch_unwind(|| win.output_size("t", [5, 6])).ok()
                        else {
                            continue;
                        };
                        let cols = x.unfold(&win);
                        for b in 0..2 {
                            for c in 0..2 {
                                for i in 0..kernel[0] {
                                    for j in 0..kernel[1] {
                                        for oy in 0..ho {
                                            for ox in 0..wo {
                                                let want = match (
                                                    win.source(0, oy, i, 5),
                                                    win.source(1, ox, j, 6),
                                                ) {
                                                    (Some(iy), Some(ix)) => x.get(&[b, c, iy, ix]),
                                                    _ => 0.0,
                                                };
                                                let row = (c * kernel[0] + i) * kernel[1] + j;
                                                assert_eq!(
                                                    cols.get(&[b, row, oy * wo + ox]),
                                                    want,
                                                    "{win:?}"
                                                );
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        let y = cols.map(|v| (v * 1.7 + 0.3).cos());
                        let lhs = cols.mul(&y).sum().item();
                        let rhs = x.mul(&y.fold(&win, 2, [5, 6])).sum().item();
                        assert!((lhs - rhs).abs() < 1e-10, "{win:?}: {lhs} vs {rhs}");
                    }
                }
            }
        }
    }

    #[test]
    fn fold_is_adjoint_of_unfold() {
        // <unfold(x), y> == <x, fold(y)> for all x, y.
        let win = Window {
            kernel: [3, 2],
            stride: [2, 1],
            padding: [1, 1],
            dilation: [1, 2],
        };
        let x = iota(&[2, 3, 5, 4]).map(|v| (v * 0.3).sin());
        let cols = x.unfold(&win);
        let y = cols.map(|v| v * 0.5 + 1.0).map(|v| v.cos());
        let lhs = cols.mul(&y).sum().item();
        let rhs = x.mul(&y.fold(&win, 3, [5, 4])).sum().item();
        assert!((lhs - rhs).abs() < 1e-10, "{lhs} vs {rhs}");
    }

    #[test]
    #[should_panic(expected = "`conv2d`: input [1, 3, 5, 5] and weight [4, 2, 3, 3] with groups=1")]
    fn conv2d_channel_mismatch_panics() {
        Tensor::<f32>::zeros(&[1, 3, 5, 5])
            .conv2d(&Tensor::zeros(&[4, 2, 3, 3]), Conv2dOptions::default());
    }

    #[test]
    #[should_panic(expected = "`conv1d`: input [2, 4, 9] and weight [6, 3, 3] with groups=2")]
    fn conv1d_channel_mismatch_names_conv1d_and_its_shapes() {
        let x = Tensor::<f64>::zeros(&[2, 4, 9]);
        x.conv1d(
            &Tensor::zeros(&[6, 3, 3]),
            Conv1dOptions::default().groups(2),
        );
    }

    #[test]
    #[should_panic(
        expected = "`conv1d`: a window of 5 (dilation 2) does not fit an input of length 6 padded by 1"
    )]
    fn conv1d_oversized_window_names_conv1d() {
        let x = Tensor::<f64>::zeros(&[1, 1, 6]);
        x.conv1d(
            &Tensor::zeros(&[1, 1, 5]),
            Conv1dOptions::default().padding(1).dilation(2),
        );
    }

    #[test]
    #[should_panic(expected = "`conv1d`: stride must be at least 1, got 0")]
    fn conv1d_zero_stride_names_conv1d() {
        let x = Tensor::<f64>::zeros(&[1, 1, 6]);
        x.conv1d(
            &Tensor::zeros(&[1, 1, 2]),
            Conv1dOptions::default().stride(0),
        );
    }

    #[test]
    #[should_panic(expected = "`conv2d`: kernel must be at least 1 along each axis, got [0, 0]")]
    fn conv2d_with_an_empty_kernel_panics_instead_of_giving_zeros() {
        Tensor::<f32>::zeros(&[1, 1, 3, 3])
            .conv2d(&Tensor::zeros(&[1, 1, 0, 0]), Conv2dOptions::default());
    }

    #[test]
    #[should_panic(expected = "`conv2d`: stride must be at least 1 along each axis, got [0, 1]")]
    fn conv2d_with_zero_stride_panics() {
        Tensor::<f32>::zeros(&[1, 1, 3, 3]).conv2d(
            &Tensor::zeros(&[1, 1, 2, 2]),
            Conv2dOptions {
                stride: [0, 1],
                ..Conv2dOptions::default()
            },
        );
    }

    #[test]
    #[should_panic(expected = "does not fit an input of [2, 2]")]
    fn kernel_larger_than_input_panics() {
        Tensor::<f32>::zeros(&[1, 1, 2, 2])
            .conv2d(&Tensor::zeros(&[1, 1, 3, 3]), Conv2dOptions::default());
    }
}
