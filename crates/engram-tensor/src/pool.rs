//! 2-d pooling. Max pooling also returns where each maximum came from, which is all its
//! backward pass needs.

use crate::conv::Window;
use crate::element::Float;
use crate::parallel::fill_groups;
use crate::shape::shape_error;
use crate::tensor::Tensor;

impl Window {
    /// A pooling window: no dilation.
    pub fn pool(kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> Window {
        Window {
            kernel,
            stride,
            padding,
            dilation: [1, 1],
        }
    }
}

#[track_caller]
fn check_pool(op: &str, shape: &[usize], window: &Window) -> [usize; 2] {
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

impl<T: Float> Tensor<T> {
    /// Max pooling over `[N, C, H, W]`; also returns, per output, the flat index `y·W + x`
    /// of its maximum within the input plane (the first one on ties; padding never wins).
    #[track_caller]
    pub fn max_pool2d_with_indices(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> (Tensor<T>, Tensor<usize>) {
        let window = Window::pool(kernel, stride, padding);
        let [ho, wo] = check_pool("max_pool2d", self.shape(), &window);
        let &[n, c, h, w] = self.shape() else {
            unreachable!()
        };
        let x = self.contiguous();
        let src = x.as_slice().expect("contiguous");
        let mut best = vec![(T::zero(), 0usize); n * c * ho * wo];
        fill_groups(&mut best, ho * wo, kernel[0] * kernel[1], |plane, out| {
            let img = &src[plane * h * w..(plane + 1) * h * w];
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut pick: Option<(T, usize)> = None;
                    for i in 0..kernel[0] {
                        let iy = (oy * stride[0] + i) as isize - padding[0] as isize;
                        if iy < 0 || iy as usize >= h {
                            continue;
                        }
                        for j in 0..kernel[1] {
                            let ix = (ox * stride[1] + j) as isize - padding[1] as isize;
                            if ix < 0 || ix as usize >= w {
                                continue;
                            }
                            let at = iy as usize * w + ix as usize;
                            let v = img[at];
                            let better = match pick {
                                None => true,
                                Some((b, _)) => !b.is_nan() && (v.is_nan() || v > b),
                            };
                            if better {
                                pick = Some((v, at));
                            }
                        }
                    }
                    out[oy * wo + ox] = pick
                        .expect("padding is at most half the kernel, so every window sees input");
                }
            }
        });
        let shape = [n, c, ho, wo];
        (
            Tensor::from_vec(best.iter().map(|p| p.0).collect(), &shape),
            Tensor::from_vec(best.iter().map(|p| p.1).collect(), &shape),
        )
    }

    /// Max pooling over `[N, C, H, W]`, as PyTorch's `max_pool2d` (padding counts as −∞).
    #[track_caller]
    pub fn max_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Tensor<T> {
        self.max_pool2d_with_indices(kernel, stride, padding).0
    }

    /// Average pooling over `[N, C, H, W]`; padded zeros count in the average, as PyTorch's
    /// default (`count_include_pad=True`).
    #[track_caller]
    pub fn avg_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Tensor<T> {
        let window = Window::pool(kernel, stride, padding);
        let [ho, wo] = check_pool("avg_pool2d", self.shape(), &window);
        let &[n, c, _, _] = self.shape() else {
            unreachable!()
        };
        let area = T::of((kernel[0] * kernel[1]) as f64);
        self.unfold(&window)
            .reshape(&[n, c, kernel[0] * kernel[1], ho * wo])
            .sum_axes(&[2])
            .map(|s| s / area)
            .reshape(&[n, c, ho, wo])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::iota;

    #[test]
    fn max_pool_picks_window_maxima_and_their_indices() {
        let x = iota(&[1, 1, 4, 4]);
        let (v, i) = x.max_pool2d_with_indices([2, 2], [2, 2], [0, 0]);
        assert_eq!(v.to_vec(), vec![5.0, 7.0, 13.0, 15.0]);
        assert_eq!(i.to_vec(), vec![5, 7, 13, 15]);
    }

    #[test]
    fn max_pool_padding_never_wins() {
        let x = Tensor::<f64>::full(&[1, 1, 2, 2], -5.0);
        let (v, i) = x.max_pool2d_with_indices([2, 2], [1, 1], [1, 1]);
        assert_eq!(v.to_vec(), vec![-5.0; 9]);
        assert_eq!(i.get(&[0, 0, 0, 0]), 0);
        assert_eq!(i.get(&[0, 0, 2, 2]), 3);
    }

    #[test]
    fn avg_pool_counts_padding_as_zeros() {
        let x = Tensor::<f64>::ones(&[1, 1, 2, 2]);
        let v = x.avg_pool2d([2, 2], [2, 2], [1, 1]);
        assert_eq!(v.to_vec(), vec![0.25; 4]);
        let y = iota(&[1, 2, 2, 4]);
        assert_eq!(
            y.avg_pool2d([2, 2], [2, 2], [0, 0]).to_vec(),
            vec![2.5, 4.5, 10.5, 12.5]
        );
    }

    #[test]
    #[should_panic(
        expected = "`max_pool2d`: kernel [2, 2] with padding [2, 2]: padding must be at most half the kernel"
    )]
    fn oversized_padding_panics() {
        Tensor::<f32>::zeros(&[1, 1, 4, 4]).max_pool2d([2, 2], [2, 2], [2, 2]);
    }
}
