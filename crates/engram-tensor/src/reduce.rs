//! Reductions over any set of axes (sum, mean, var, max, min, argmax, argmin, logsumexp,
//! prod), and `sum_to_shape`, the adjoint of broadcasting.
//!
//! Each output element reduces its own lane sequentially (or in fixed chunks when the lane
//! is long), so the result never depends on the number of threads.

use crate::element::{Element, Float};
use crate::parallel::{CHUNK, PARALLEL_THRESHOLD};
use crate::shape::{normalize_axes, numel, shape_error, sum_to_shape_axes, Shape};
use crate::strided::Walk;
use crate::team::{for_each_chunk_mut, for_each_mut};
use crate::tensor::Tensor;
use crate::transcendental::logsumexp_shifted;
use smallvec::SmallVec;

/// The elements of one output's reduced block.
pub(crate) struct Lane<'a, T> {
    data: &'a [T],
    base: usize,
    walk: &'a Walk<1>,
    contiguous: bool,
}

impl<T: Element> Lane<'_, T> {
    /// Number of elements in the lane.
    pub(crate) fn len(&self) -> usize {
        self.walk.len()
    }

    /// The lane as a slice, when its elements are adjacent.
    pub(crate) fn as_slice(&self) -> Option<&[T]> {
        self.contiguous
            .then(|| &self.data[self.base..self.base + self.len()])
    }

    /// Folds over the lane's elements in row-major order.
    pub(crate) fn fold<A>(&self, init: A, mut f: impl FnMut(A, T) -> A) -> A {
        if let Some(s) = self.as_slice() {
            return s.iter().fold(init, |a, &x| f(a, x));
        }
        let mut acc = Some(init);
        let [step] = self.walk.inner_strides();
        self.walk.for_each_run(0, self.len(), |[o], _, run| {
            let mut a = acc.take().unwrap();
            for i in 0..run {
                a = f(a, self.data[self.base + o + i * step]);
            }
            acc = Some(a);
        });
        acc.unwrap()
    }
}

/// Sums a slice by pairwise (cascade) summation over blocks that use eight interleaved
/// accumulators: vectorisable, with error growing as log n, as NumPy's. Blocks of `CHUNK`
/// are summed in parallel when long; the split never depends on the thread count.
pub(crate) fn sum_slice<T: Float>(s: &[T]) -> T {
    if s.len() <= CHUNK {
        return pairwise(s);
    }
    let partials: Vec<T> = if s.len() >= PARALLEL_THRESHOLD {
        let mut partials = vec![T::zero(); s.len().div_ceil(CHUNK)];
        for_each_mut(&mut partials, |i, partial| {
            *partial = pairwise(&s[i * CHUNK..((i + 1) * CHUNK).min(s.len())]);
        });
        partials
    } else {
        s.chunks(CHUNK).map(pairwise).collect()
    };
    pairwise(&partials)
}

fn pairwise<T: Float>(s: &[T]) -> T {
    const BLOCK: usize = 128;
    if s.len() > BLOCK {
        let half = (s.len() / 2).next_multiple_of(8);
        return pairwise(&s[..half]) + pairwise(&s[half..]);
    }
    let mut acc = [T::zero(); 8];
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        for k in 0..8 {
            acc[k] += c[k];
        }
    }
    let mut total =
        ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &x in chunks.remainder() {
        total += x;
    }
    total
}

impl<T: Element> Tensor<T> {
    /// Reduces the given axes (all of them for `None`), calling `lane` once per output.
    #[track_caller]
    pub(crate) fn reduce_lanes<R: Element>(
        &self,
        op: &str,
        axes: Option<&[isize]>,
        keepdim: bool,
        lane: impl Fn(&Lane<T>) -> R + Sync,
    ) -> Tensor<R> {
        let rank = self.rank();
        let reduced: SmallVec<[usize; 6]> = match axes {
            Some(a) => normalize_axes(op, a, rank),
            None => (0..rank).collect(),
        };
        let kept: SmallVec<[usize; 6]> = (0..rank).filter(|d| !reduced.contains(d)).collect();
        let pick =
            |dims: &[usize], of: &[usize]| -> Shape { dims.iter().map(|&d| of[d]).collect() };
        let (kept_shape, kept_strides) = (pick(&kept, &self.shape), pick(&kept, &self.strides));
        let (lane_shape, lane_strides) =
            (pick(&reduced, &self.shape), pick(&reduced, &self.strides));
        let outer = Walk::new(&kept_shape, [&kept_strides], [self.offset]);
        let inner = Walk::new(&lane_shape, [&lane_strides], [0]);
        let lane_len = numel(&lane_shape);
        let contiguous =
            lane_len > 0 && inner.inner_strides() == [1] && inner.len() == lane_len && {
                let mut runs = 0;
                inner.for_each_run(0, lane_len, |_, _, _| runs += 1);
                runs == 1
            };
        let data = self.data();
        let n_out = numel(&kept_shape);
        let out_shape: Shape = if keepdim {
            (0..rank)
                .map(|d| {
                    if reduced.contains(&d) {
                        1
                    } else {
                        self.shape[d]
                    }
                })
                .collect()
        } else {
            kept_shape
        };
        if n_out == 1 {
            let mut base = self.offset;
            outer.for_each(|[o]| base = o);
            return Tensor::inline(
                lane(&Lane {
                    data,
                    base,
                    walk: &inner,
                    contiguous,
                }),
                &out_shape,
            );
        }
        let mut out = crate::buffer_pool::full(n_out, R::default());
        let [outer_step] = outer.inner_strides();
        let fill = |start: usize, chunk: &mut [R]| {
            outer.for_each_run(start, chunk.len(), |[base], pos, run| {
                for i in 0..run {
                    let l = Lane {
                        data,
                        base: base + i * outer_step,
                        walk: &inner,
                        contiguous,
                    };
                    chunk[pos - start + i] = lane(&l);
                }
            });
        };
        let per_chunk = (CHUNK / lane_len.max(1)).max(1);
        if n_out * lane_len.max(1) >= PARALLEL_THRESHOLD && n_out > 1 {
            for_each_chunk_mut(&mut out, per_chunk, |i, c| fill(i * per_chunk, c));
        } else {
            fill(0, &mut out);
        }
        Tensor::from_pooled(out, &out_shape)
    }
}

fn lane_sum<T: Float>(l: &Lane<T>) -> T {
    match l.as_slice() {
        Some(s) => sum_slice(s),
        None => l.fold(T::zero(), |a, x| a + x),
    }
}

fn lane_max<T: Float>(l: &Lane<T>) -> T {
    match l.as_slice() {
        Some(s) => extreme_slice(s, T::neg_infinity(), |x, best| x > best),
        None => l.fold(T::neg_infinity(), |a, x| {
            if x.is_nan() || a.is_nan() {
                T::nan()
            } else {
                a.max(x)
            }
        }),
    }
}

fn lane_min<T: Float>(l: &Lane<T>) -> T {
    match l.as_slice() {
        Some(s) => extreme_slice(s, T::infinity(), |x, best| x < best),
        None => l.fold(T::infinity(), |a, x| {
            if x.is_nan() || a.is_nan() {
                T::nan()
            } else {
                a.min(x)
            }
        }),
    }
}

/// The largest (or, with `<`, smallest) element of a slice, NaN if any element is NaN:
/// what the lane folds above give, but over eight independent accumulators, and with
/// NaN noted in a flag rather than by a branch per element, so the loop vectorises
/// (lane-wise compare and blend). `better(x, best)` is a strict comparison, which NaN
/// never passes, so NaN never enters an accumulator and only the flag reports it.
pub(crate) fn extreme_slice<T: Float>(s: &[T], identity: T, better: impl Fn(T, T) -> bool) -> T {
    const WIDTH: usize = 8;
    let mut best = [identity; WIDTH];
    let mut nan = [false; WIDTH];
    let mut chunks = s.chunks_exact(WIDTH);
    for chunk in &mut chunks {
        for j in 0..WIDTH {
            let x = chunk[j];
            nan[j] |= x.is_nan();
            best[j] = if better(x, best[j]) { x } else { best[j] };
        }
    }
    let mut result = identity;
    let mut any_nan = nan.contains(&true);
    for &x in best.iter().chain(chunks.remainder()) {
        any_nan |= x.is_nan();
        if better(x, result) {
            result = x;
        }
    }
    if any_nan {
        T::nan()
    } else {
        result
    }
}

fn lane_logsumexp<T: Float>(l: &Lane<T>) -> T {
    let m = lane_max(l);
    if !m.is_finite() {
        return m;
    }
    logsumexp_shifted(m, |visit| l.fold((), |(), x| visit(x)))
}

/// Index of the first element that `better(candidate, best)` prefers; NaN beats everything.
fn lane_arg<T: Float>(l: &Lane<T>, better: impl Fn(T, T) -> bool) -> usize {
    let (best, _, _) = l.fold((0usize, T::nan(), 0usize), |(bi, bv, i), x| {
        let take = i == 0 || (!bv.is_nan() && (x.is_nan() || better(x, bv)));
        if take {
            (i, x, i + 1)
        } else {
            (bi, bv, i + 1)
        }
    });
    best
}

#[track_caller]
fn require_nonempty<T: Element>(t: &Tensor<T>, op: &str, axes: Option<&[isize]>) {
    let empty = match axes {
        None => t.numel() == 0,
        Some(a) => normalize_axes(op, a, t.rank())
            .iter()
            .any(|&d| t.shape()[d] == 0),
    };
    if empty {
        shape_error(
            op,
            format!(
                "cannot reduce an empty axis (shape {:?}): it has no identity",
                t.shape()
            ),
        );
    }
}

impl<T: Float> Tensor<T> {
    /// Sum of all elements (a 0-d tensor).
    pub fn sum(&self) -> Tensor<T> {
        self.reduce_lanes("sum", None, false, lane_sum)
    }

    /// Sum over `axes`.
    #[track_caller]
    pub fn sum_axes(&self, axes: &[isize]) -> Tensor<T> {
        self.sum_around_middle(axes, false)
            .unwrap_or_else(|| self.reduce_lanes("sum", Some(axes), false, lane_sum))
    }

    /// As [`Self::sum_axes`], keeping each reduced axis as size 1 (`keepdims=True`).
    #[track_caller]
    pub fn sum_keepdim(&self, axes: &[isize]) -> Tensor<T> {
        self.sum_around_middle(axes, true)
            .unwrap_or_else(|| self.reduce_lanes("sum", Some(axes), true, lane_sum))
    }

    /// The sum of a contiguous tensor over leading axes, and possibly trailing ones, that
    /// keeps a block of middle axes: `[A, B, C] → [B]`. This is every bias gradient (a
    /// linear layer's `[batch, out] → [out]`, a convolution's `[N, C, H·W] → [C]`), which
    /// lane by lane would walk columns with a stride; here each output accumulates whole
    /// rows, or sums whole contiguous runs, so the loops vectorise. `None` when the
    /// layout or the axes are not of that form (the general path handles them).
    #[track_caller]
    fn sum_around_middle(&self, axes: &[isize], keepdim: bool) -> Option<Tensor<T>> {
        let rank = self.rank();
        let reduced = normalize_axes("sum", axes, rank);
        let kept: SmallVec<[usize; 6]> = (0..rank).filter(|d| !reduced.contains(d)).collect();
        let (&first, &last) = (kept.first()?, kept.last()?);
        // Only a leading reduction gains: a trailing-only one has contiguous lanes already.
        if first == 0 || last + 1 - first != kept.len() || !self.is_contiguous() {
            return None;
        }
        let shape = self.shape();
        let (outer, middle, inner) = (
            numel(&shape[..first]),
            numel(&shape[first..=last]),
            numel(&shape[last + 1..]),
        );
        let data = &self.data()[self.offset..self.offset + outer * middle * inner];
        let fill = |start: usize, chunk: &mut [T]| {
            if data.is_empty() {
                return; // every output is an empty sum (or there is none)
            }
            for block in data.chunks_exact(middle * inner) {
                if inner == 1 {
                    for (o, &x) in chunk.iter_mut().zip(&block[start..]) {
                        *o += x;
                    }
                } else {
                    for (i, o) in chunk.iter_mut().enumerate() {
                        let at = (start + i) * inner;
                        *o += pairwise(&block[at..at + inner]);
                    }
                }
            }
        };
        let mut out = crate::buffer_pool::full(middle, T::zero());
        if outer * middle * inner >= PARALLEL_THRESHOLD && middle > 1 {
            // Each thread owns a run of outputs and adds every block into it in order, so
            // the result does not depend on the number of threads. Rows (`inner == 1`)
            // are added in runs of at least 64 outputs, which vectorise; an output that
            // sums whole runs (a convolution's channel) is a unit of its own, so that a
            // layer's 16 channels go to every core rather than all to one.
            let least = if inner == 1 { 64 } else { 1 };
            let per_chunk = (CHUNK / (outer * inner).max(1)).max(least);
            for_each_chunk_mut(&mut out, per_chunk, |i, c| fill(i * per_chunk, c));
        } else {
            fill(0, &mut out);
        }
        let out_shape: Shape = if keepdim {
            (0..rank)
                .map(|d| if kept.contains(&d) { shape[d] } else { 1 })
                .collect()
        } else {
            shape[first..=last].iter().copied().collect()
        };
        Some(Tensor::from_pooled(out, &out_shape))
    }

    /// Mean of all elements (NaN for an empty tensor, as NumPy).
    pub fn mean(&self) -> Tensor<T> {
        self.reduce_lanes("mean", None, false, |l| lane_sum(l) / T::of(l.len() as f64))
    }

    /// Mean over `axes`.
    #[track_caller]
    pub fn mean_axes(&self, axes: &[isize]) -> Tensor<T> {
        self.reduce_lanes("mean", Some(axes), false, |l| {
            lane_sum(l) / T::of(l.len() as f64)
        })
    }

    /// As [`Self::mean_axes`], keeping each reduced axis as size 1 (`keepdims=True`).
    #[track_caller]
    pub fn mean_keepdim(&self, axes: &[isize]) -> Tensor<T> {
        self.reduce_lanes("mean", Some(axes), true, |l| {
            lane_sum(l) / T::of(l.len() as f64)
        })
    }

    /// Product of all elements.
    pub fn prod(&self) -> Tensor<T> {
        self.reduce_lanes("prod", None, false, |l| l.fold(T::one(), |a, x| a * x))
    }

    /// Product over `axes`.
    #[track_caller]
    pub fn prod_axes(&self, axes: &[isize]) -> Tensor<T> {
        self.reduce_lanes("prod", Some(axes), false, |l| {
            l.fold(T::one(), |a, x| a * x)
        })
    }

    /// As [`Self::prod_axes`], keeping each reduced axis as size 1 (`keepdims=True`).
    #[track_caller]
    pub fn prod_keepdim(&self, axes: &[isize]) -> Tensor<T> {
        self.reduce_lanes("prod", Some(axes), true, |l| l.fold(T::one(), |a, x| a * x))
    }

    /// Largest element (NaN if any is NaN); panics on an empty tensor.
    #[track_caller]
    pub fn max(&self) -> Tensor<T> {
        require_nonempty(self, "max", None);
        self.reduce_lanes("max", None, false, lane_max)
    }

    /// Largest element over `axes`.
    #[track_caller]
    pub fn max_axes(&self, axes: &[isize]) -> Tensor<T> {
        require_nonempty(self, "max", Some(axes));
        self.reduce_lanes("max", Some(axes), false, lane_max)
    }

    /// As [`Self::max_axes`], keeping each reduced axis as size 1 (`keepdims=True`).
    #[track_caller]
    pub fn max_keepdim(&self, axes: &[isize]) -> Tensor<T> {
        require_nonempty(self, "max", Some(axes));
        self.reduce_lanes("max", Some(axes), true, lane_max)
    }

    /// Smallest element (NaN if any is NaN); panics on an empty tensor.
    #[track_caller]
    pub fn min(&self) -> Tensor<T> {
        require_nonempty(self, "min", None);
        self.reduce_lanes("min", None, false, lane_min)
    }

    /// Smallest element over `axes`.
    #[track_caller]
    pub fn min_axes(&self, axes: &[isize]) -> Tensor<T> {
        require_nonempty(self, "min", Some(axes));
        self.reduce_lanes("min", Some(axes), false, lane_min)
    }

    /// As [`Self::min_axes`], keeping each reduced axis as size 1 (`keepdims=True`).
    #[track_caller]
    pub fn min_keepdim(&self, axes: &[isize]) -> Tensor<T> {
        require_nonempty(self, "min", Some(axes));
        self.reduce_lanes("min", Some(axes), true, lane_min)
    }

    /// `ln Σ e^x` over all elements, computed as `m + ln Σ e^(x - m)` with `m` the maximum.
    pub fn logsumexp(&self) -> Tensor<T> {
        self.reduce_lanes("logsumexp", None, false, lane_logsumexp)
    }

    /// `ln Σ e^x` over `axes`, stable for large inputs.
    #[track_caller]
    pub fn logsumexp_axes(&self, axes: &[isize]) -> Tensor<T> {
        self.reduce_lanes("logsumexp", Some(axes), false, lane_logsumexp)
    }

    /// As [`Self::logsumexp_axes`], keeping each reduced axis as size 1 (`keepdims=True`).
    #[track_caller]
    pub fn logsumexp_keepdim(&self, axes: &[isize]) -> Tensor<T> {
        self.reduce_lanes("logsumexp", Some(axes), true, lane_logsumexp)
    }

    /// Variance of all elements: `Σ (x - mean)² / (n - correction)` (`correction` 1 is the
    /// unbiased estimate, as PyTorch's default; 0 is NumPy's default).
    ///
    /// NaN when no degree of freedom is left (`n <= correction`, an empty tensor included):
    /// the statistic is undefined there. NumPy also gives NaN for an empty input, and warns
    /// and divides by zero (inf) when `correction >= n`; a sign or an infinity would pass
    /// for a value, so Engram gives NaN in both cases.
    pub fn var(&self, correction: usize) -> Tensor<T> {
        self.reduce_lanes("var", None, false, |l| lane_var(l, correction))
    }

    /// Variance over `axes` with the given correction (NaN where `n <= correction`, see
    /// [`Self::var`]).
    #[track_caller]
    pub fn var_axes(&self, axes: &[isize], correction: usize) -> Tensor<T> {
        self.reduce_lanes("var", Some(axes), false, |l| lane_var(l, correction))
    }

    /// As [`Self::var_axes`], keeping each reduced axis as size 1 (`keepdims=True`).
    #[track_caller]
    pub fn var_keepdim(&self, axes: &[isize], correction: usize) -> Tensor<T> {
        self.reduce_lanes("var", Some(axes), true, |l| lane_var(l, correction))
    }

    /// Index of the largest element along `axis`, which is dropped (the first one on ties;
    /// a NaN counts as largest).
    #[track_caller]
    pub fn argmax(&self, axis: isize) -> Tensor<usize> {
        self.arg_best("argmax", axis, false, |x, b| x > b)
    }

    /// As [`Self::argmax`], keeping `axis` as size 1.
    #[track_caller]
    pub fn argmax_keepdim(&self, axis: isize) -> Tensor<usize> {
        self.arg_best("argmax", axis, true, |x, b| x > b)
    }

    /// Index of the smallest element along `axis`, which is dropped (the first one on ties;
    /// a NaN counts as smallest).
    #[track_caller]
    pub fn argmin(&self, axis: isize) -> Tensor<usize> {
        self.arg_best("argmin", axis, false, |x, b| x < b)
    }

    /// As [`Self::argmin`], keeping `axis` as size 1.
    #[track_caller]
    pub fn argmin_keepdim(&self, axis: isize) -> Tensor<usize> {
        self.arg_best("argmin", axis, true, |x, b| x < b)
    }

    #[track_caller]
    fn arg_best(
        &self,
        op: &str,
        axis: isize,
        keepdim: bool,
        better: fn(T, T) -> bool,
    ) -> Tensor<usize> {
        require_nonempty(self, op, Some(&[axis]));
        self.reduce_lanes(op, Some(&[axis]), keepdim, |l| lane_arg(l, better))
    }

    /// Row-major flat index of the largest element (first on ties).
    #[track_caller]
    pub fn argmax_flat(&self) -> usize {
        require_nonempty(self, "argmax_flat", None);
        self.reduce_lanes("argmax_flat", None, false, |l| lane_arg(l, |x, b| x > b))
            .item()
    }

    /// Sums a broadcast result back to `shape`: over the leading axes `shape` lacks and over
    /// axes where `shape` has 1. This is the adjoint of `broadcast_to`.
    #[track_caller]
    pub fn sum_to_shape(&self, shape: &[usize]) -> Tensor<T> {
        if self.shape() == shape {
            return self.clone();
        }
        let axes = sum_to_shape_axes(self.shape(), shape);
        self.sum_keepdim(&axes).reshape(shape)
    }
}

fn lane_var<T: Float>(l: &Lane<T>, correction: usize) -> T {
    let n = l.len();
    if n <= correction {
        return T::nan();
    }
    let mean = lane_sum(l) / T::of(n as f64);
    let ss = l.fold(T::zero(), |a, x| a + (x - mean) * (x - mean));
    ss / T::of(n as f64 - correction as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::iota;
    use approx::assert_relative_eq;

    #[test]
    fn sum_over_axes_with_and_without_keepdim() {
        let a = iota(&[2, 3]);
        assert_eq!(a.sum().item(), 15.0);
        assert_eq!(a.sum_axes(&[0]).to_vec(), vec![3.0, 5.0, 7.0]);
        assert_eq!(a.sum_keepdim(&[-1]).shape(), &[2, 1]);
        assert_eq!(a.sum_keepdim(&[-1]).to_vec(), vec![3.0, 12.0]);
        assert_eq!(a.sum_axes(&[]).to_vec(), a.to_vec());
    }

    #[test]
    fn reductions_of_transposed_input() {
        let a = iota(&[2, 3]).t();
        assert_eq!(a.sum_axes(&[1]).to_vec(), vec![3.0, 5.0, 7.0]);
        assert_eq!(a.max_axes(&[0]).to_vec(), vec![2.0, 5.0]);
        assert_eq!(a.argmax(0).to_vec(), vec![2, 2]);
    }

    #[test]
    fn mean_var_prod_hand_values() {
        let a = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]);
        assert_eq!(a.mean().item(), 2.5);
        assert_relative_eq!(a.var(1).item(), 5.0 / 3.0, epsilon = 1e-15);
        assert_relative_eq!(a.var(0).item(), 1.25, epsilon = 1e-15);
        assert_eq!(a.prod().item(), 24.0);
        assert_eq!(a.min().item(), 1.0);
        assert_eq!(a.argmin(0).item(), 0);
    }

    #[test]
    fn var_without_degrees_of_freedom_is_nan() {
        assert!(Tensor::<f64>::zeros(&[0]).var(0).item().is_nan());
        assert!(Tensor::<f64>::zeros(&[0]).var(1).item().is_nan());
        let a = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]);
        assert!(a.var(2).item().is_nan());
        assert!(a.var(3).item().is_nan());
        assert_eq!(a.var(1).item(), 0.5);
        let per_row = iota(&[2, 1]).var_axes(&[1], 1);
        assert!(per_row.to_vec().iter().all(|v| v.is_nan()));
    }

    #[test]
    fn logsumexp_is_stable_for_large_inputs() {
        let a = Tensor::<f64>::from_vec(vec![1000.0, 1000.0], &[2]);
        assert_relative_eq!(a.logsumexp().item(), 1000.0 + 2f64.ln(), epsilon = 1e-12);
        let b = Tensor::<f64>::full(&[3], f64::NEG_INFINITY);
        assert_eq!(b.logsumexp().item(), f64::NEG_INFINITY);
    }

    /// The contiguous max/min (eight accumulators) against the strided walk (one fold),
    /// over lengths around the accumulator width, with NaN and infinities at every place.
    #[test]
    fn contiguous_max_and_min_agree_with_the_strided_walk() {
        for len in 1..40usize {
            let base: Vec<f64> = (0..len).map(|i| ((i * 7919) % 23) as f64 - 11.5).collect();
            let mut variants = vec![base.clone()];
            for at in [0, len / 2, len - 1] {
                for special in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    let mut v = base.clone();
                    v[at] = special;
                    variants.push(v);
                }
            }
            for v in variants {
                let contiguous = Tensor::from_vec(v.clone(), &[len]);
                // The same values as every other element of a longer buffer: not contiguous.
                let spread: Vec<f64> = v.iter().flat_map(|&x| [x, 0.0]).collect();
                let strided = Tensor::from_vec(spread, &[len, 2]).select(1, 0);
                for (fast, slow) in [
                    (contiguous.max().item(), strided.max().item()),
                    (contiguous.min().item(), strided.min().item()),
                ] {
                    assert!(
                        fast == slow || (fast.is_nan() && slow.is_nan()),
                        "len {len}: {fast} vs {slow} for {v:?}"
                    );
                }
                assert_eq!(
                    contiguous.max().item().is_nan(),
                    v.iter().any(|x| x.is_nan())
                );
            }
        }
    }

    #[test]
    fn argmax_takes_first_of_ties_and_nan_wins() {
        let a = Tensor::<f64>::from_vec(vec![1.0, 3.0, 3.0, f64::NAN, 0.0], &[5]);
        assert_eq!(a.argmax(0).item(), 3);
        let b = Tensor::<f64>::from_vec(vec![1.0, 3.0, 3.0], &[3]);
        assert_eq!(b.argmax(0).item(), 1);
        assert_eq!(b.argmax_flat(), 1);
        let c = iota(&[2, 3]);
        assert_eq!(c.argmax(1).shape(), &[2]);
        assert_eq!(c.argmax_keepdim(1).shape(), &[2, 1]);
        assert_eq!(c.argmin_keepdim(0).to_vec(), vec![0, 0, 0]);
    }

    #[test]
    fn sum_of_empty_is_zero_and_mean_is_nan() {
        let a = Tensor::<f32>::zeros(&[0, 4]);
        assert_eq!(a.sum().item(), 0.0);
        assert_eq!(a.sum_axes(&[0]).to_vec(), vec![0.0; 4]);
        assert!(a.mean().item().is_nan());
    }

    #[test]
    #[should_panic(expected = "`max`: cannot reduce an empty axis (shape [0, 4])")]
    fn max_of_empty_panics() {
        Tensor::<f32>::zeros(&[0, 4]).max();
    }

    #[test]
    fn sums_around_a_middle_block_match_lane_sums() {
        // Leading-and-trailing reductions take the row-accumulating path; the general
        // lane path (forced through a transposed copy) is the reference.
        for (shape, axes) in [
            (vec![5, 7], vec![0]),
            (vec![3, 4, 6], vec![0, 2]),
            (vec![2, 3, 4, 5], vec![0, 1, 3]),
            (vec![2, 3, 4, 5], vec![0, 3]),
            (vec![64, 3000], vec![0]),
            (vec![0, 4], vec![0]),
            (vec![3, 0, 2], vec![0, 2]),
        ] {
            let a = iota(&shape).map(|v| (v * 0.37).sin());
            let axes: Vec<isize> = axes.iter().map(|&d| d as isize).collect();
            let reference = a.reduce_lanes("sum", Some(&axes), true, lane_sum);
            let fast = a.sum_keepdim(&axes);
            assert_eq!(fast.shape(), reference.shape(), "{shape:?} over {axes:?}");
            for (x, y) in fast.to_vec().iter().zip(reference.to_vec()) {
                assert_relative_eq!(*x, y, max_relative = 1e-12, epsilon = 1e-12);
            }
            let dropped = a.sum_axes(&axes);
            assert_eq!(dropped.to_vec(), fast.to_vec());
            assert_eq!(dropped.numel(), fast.numel());
        }
    }

    #[test]
    fn sum_to_shape_undoes_broadcast() {
        let g = Tensor::<f64>::ones(&[2, 3, 4]);
        assert_eq!(g.sum_to_shape(&[3, 1]).to_vec(), vec![8.0; 3]);
        assert_eq!(g.sum_to_shape(&[]).item(), 24.0);
    }

    #[test]
    fn long_sum_is_accurate() {
        let n = 1_000_000;
        let a = Tensor::<f32>::full(&[n], 0.1);
        assert_relative_eq!(a.sum().item(), 100_000.0, max_relative = 1e-5);
    }
}
