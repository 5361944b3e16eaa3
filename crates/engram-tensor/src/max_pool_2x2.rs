//! Max pooling by 2×2 windows at stride 2 without padding (nearly every CNN's), forward
//! values and input gradient, one plane at a time.
//!
//! Each output row reads a pair of input rows; the loops below pick between the even and
//! odd columns with selects only, so the compiler turns them into lane-wise compares and
//! blends over deinterleaved registers. They are compiled for AVX-512F, for AVX2 and for
//! the baseline, and the widest the CPU runs is picked at run time (the detection of
//! [`crate::vmath`]). The gradient recomputes which tap won from the input instead of
//! reading stored indices: the same comparisons give the same winner, and the forward
//! pass then writes no index tensor at all.
//!
//! Within a window the winner is the first maximum in row-major order (a NaN wins and
//! then stays, ties keep the earlier tap), found as the general path finds it: the first of
//! the two rows' first maxima.

use crate::element::Float;
use crate::pool::beats;
use crate::vmath::Level;

/// The first maximum of `a` and `b`, `a` first (see [`beats`]).
#[inline(always)]
fn first_of<T: Float>(a: T, b: T) -> T {
    if beats(b, a) {
        b
    } else {
        a
    }
}

/// One output row: `out[i]` is the maximum of columns `2i` and `2i + 1` of rows `top` and
/// `bottom`.
#[inline(always)]
fn values_row<T: Float>(top: &[T], bottom: &[T], out: &mut [T]) {
    let pairs = top.chunks_exact(2).zip(bottom.chunks_exact(2));
    for ((t, b), o) in pairs.zip(out) {
        *o = first_of(first_of(t[0], t[1]), first_of(b[0], b[1]));
    }
}

/// One output row's gradient `g` sent back to the winning tap of each window of rows
/// `top` and `bottom`, into the matching rows `grad_top` and `grad_bottom` (the three other
/// taps get zero). The winner gets `0 + g`, which is what adding `g` into zeros gives
/// (a gradient of −0 lands as +0), so the result is bitwise a scatter-add's.
#[inline(always)]
fn gradient_row<T: Float>(
    (top, bottom): (&[T], &[T]),
    g: &[T],
    (grad_top, grad_bottom): (&mut [T], &mut [T]),
) {
    let zero = T::zero();
    let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2)).zip(g);
    let targets = grad_top
        .chunks_exact_mut(2)
        .zip(grad_bottom.chunks_exact_mut(2));
    for (((t, b), &g), (gt, gb)) in windows.zip(targets) {
        let right_of_top = beats(t[1], t[0]);
        let right_of_bottom = beats(b[1], b[0]);
        let upper = if right_of_top { t[1] } else { t[0] };
        let lower = if right_of_bottom { b[1] } else { b[0] };
        let below = beats(lower, upper);
        let g = zero + g;
        // `&` rather than `&&`: both sides are plain compares, and a short circuit would
        // keep the compiler from evaluating them lane-wise.
        gt[0] = if !below & !right_of_top { g } else { zero };
        gt[1] = if !below & right_of_top { g } else { zero };
        gb[0] = if below & !right_of_bottom { g } else { zero };
        gb[1] = if below & right_of_bottom { g } else { zero };
    }
}

/// The maxima of one plane `img` (rows of `w`) into `out` (rows of `wo`, `w / 2` of them);
/// an odd last row or column is left out, as by any 2×2 stride-2 window.
#[inline(always)]
fn values_plane<T: Float>(img: &[T], w: usize, wo: usize, out: &mut [T]) {
    if wo == 0 {
        return;
    }
    for (rows, out_row) in img.chunks_exact(2 * w).zip(out.chunks_exact_mut(wo)) {
        let (top, bottom) = rows.split_at(w);
        values_row(&top[..2 * wo], &bottom[..2 * wo], out_row);
    }
}

/// The input gradient of one plane: `g` (rows of `wo`) sent to the winning taps of `img`
/// (rows of `w`), written into `grad` (the plane's shape). Only the covered rows and
/// columns are written: `grad` must hold zeros where an odd last row or column lies.
#[inline(always)]
fn gradient_plane<T: Float>(img: &[T], w: usize, g: &[T], wo: usize, grad: &mut [T]) {
    if wo == 0 {
        return;
    }
    let rows = img.chunks_exact(2 * w).zip(grad.chunks_exact_mut(2 * w));
    for ((rows, grad_rows), g_row) in rows.zip(g.chunks_exact(wo)) {
        let (top, bottom) = rows.split_at(w);
        let (grad_top, grad_bottom) = grad_rows.split_at_mut(w);
        gradient_row(
            (&top[..2 * wo], &bottom[..2 * wo]),
            g_row,
            (&mut grad_top[..2 * wo], &mut grad_bottom[..2 * wo]),
        );
    }
}

/// A public-in-crate function `$name(level, args..)` that runs the `#[inline(always)]`
/// function `$body` compiled for `level`'s instruction set: the body inlines into each
/// `#[target_feature]` copy, which is what lets the compiler use the wider registers.
macro_rules! at_level {
    ($(#[$doc:meta])* $name:ident => $body:ident($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        ///
        /// `level` must not exceed [`crate::vmath::level()`].
        #[track_caller]
        pub(crate) fn $name<T: Float>(level: Level, $($arg: $ty),*) {
            assert!(
                level <= crate::vmath::level(),
                "max_pool2d: {level:?} is not supported by this CPU"
            );
            #[cfg(target_arch = "x86_64")]
            {
                /// `$body` for AVX-512F.
                ///
                /// # Safety
                /// The CPU must support AVX-512F.
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512<T: Float>($($arg: $ty),*) {
                    $body($($arg),*)
                }
                /// `$body` for AVX2.
                ///
                /// # Safety
                /// The CPU must support AVX2 and FMA.
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2<T: Float>($($arg: $ty),*) {
                    $body($($arg),*)
                }
                match level {
                    // SAFETY: the assertion above checked that the CPU supports the level.
                    Level::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    Level::Avx2 => return unsafe { avx2($($arg),*) },
                    Level::Scalar => {}
                }
            }
            $body($($arg),*)
        }
    };
}

at_level!(
    /// The 2×2 stride-2 maxima of one plane `img` (rows of `w`) into `out` (rows of `wo`).
    max_pool_2x2_values => values_plane(img: &[T], w: usize, wo: usize, out: &mut [T])
);

at_level!(
    /// The input gradient of one plane's 2×2 stride-2 max pooling: `g` (rows of `wo`) goes
    /// to each window's first maximum in `img` (rows of `w`), written into `grad`, which
    /// must hold zeros in an odd last row or column.
    max_pool_2x2_gradient => gradient_plane(img: &[T], w: usize, g: &[T], wo: usize, grad: &mut [T])
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::Pool2dOptions;
    use crate::tensor::Tensor;
    use crate::test_util::{awkward, bits};
    use crate::vmath::levels;

    /// Planes with even and odd sides (an odd last row or column is dropped) and rows long
    /// enough to fill several registers plus a remainder.
    const PLANES: [[usize; 2]; 7] = [[2, 2], [4, 6], [5, 7], [7, 4], [3, 9], [6, 70], [2, 3]];

    /// Each level's values and gradients against the general path's winners: the values
    /// `max_pool2d_with_indices` finds, and its gradient, a scatter-add into zeros at its
    /// indices; bit for bit, NaN signs and zero signs included.
    fn every_level_matches_the_indices<T: Float>() {
        let options = Pool2dOptions::new([2, 2]);
        for [h, w] in PLANES {
            let (ho, wo) = (h / 2, w / 2);
            let img = awkward::<T>(h * w);
            let x = Tensor::from_vec(img.clone(), &[1, 1, h, w]);
            let (values, indices) = x.max_pool2d_with_indices(options);
            // Output gradients with a −0, whose sum into zeros is +0, and a NaN.
            let g: Vec<T> = (0..ho * wo)
                .map(|i| match i % 5 {
                    1 => -T::zero(),
                    3 => T::nan(),
                    _ => T::of(i as f64 + 0.5),
                })
                .collect();
            let expected = Tensor::<T>::zeros(&[1, h * w]).scatter_add(
                1,
                &indices.reshape(&[1, ho * wo]),
                &Tensor::from_vec(g.clone(), &[1, ho * wo]),
            );
            for level in levels() {
                let mut out = vec![T::of(7.0); ho * wo];
                max_pool_2x2_values(level, &img, w, wo, &mut out);
                assert_eq!(bits(&out), bits(&values.to_vec()), "{level:?} [{h}, {w}]");
                let mut grad = vec![T::zero(); h * w];
                max_pool_2x2_gradient(level, &img, w, &g, wo, &mut grad);
                assert_eq!(
                    bits(&grad),
                    bits(&expected.to_vec()),
                    "{level:?} [{h}, {w}]"
                );
            }
        }
    }

    #[test]
    fn every_level_matches_the_general_path_bitwise_f32_and_f64() {
        every_level_matches_the_indices::<f32>();
        every_level_matches_the_indices::<f64>();
    }
}
