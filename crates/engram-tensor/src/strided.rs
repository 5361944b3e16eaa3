//! Walking several strided operands that share one logical shape, in runs along the
//! innermost dimension. Every kernel that accepts non-contiguous input goes through here.

use crate::shape::Shape;
use smallvec::SmallVec;

/// `N` operands laid over one logical shape: each has its own strides and offset.
/// Dimensions are coalesced on construction, so a contiguous operand walks as one run.
pub(crate) struct Walk<const N: usize> {
    shape: Shape,
    strides: [Shape; N],
    offsets: [usize; N],
}

impl<const N: usize> Walk<N> {
    /// Describes the operands; size-1 dimensions are dropped and mergeable dimensions merged.
    pub(crate) fn new(shape: &[usize], strides: [&[usize]; N], offsets: [usize; N]) -> Self {
        if shape.contains(&0) {
            // Nothing to visit; an empty tensor's strides may be saturated, so they are
            // not multiplied out below.
            return Walk {
                shape: SmallVec::from_slice(&[0]),
                strides: std::array::from_fn(|_| SmallVec::from_slice(&[0])),
                offsets,
            };
        }
        let mut dims: Shape = SmallVec::new();
        let mut strd: [Shape; N] = std::array::from_fn(|_| SmallVec::new());
        for d in 0..shape.len() {
            if shape[d] == 1 {
                continue;
            }
            if let Some(&last) = dims.last() {
                let mergeable =
                    (0..N).all(|k| *strd[k].last().unwrap() == strides[k][d] * shape[d]);
                if mergeable {
                    *dims.last_mut().unwrap() = last * shape[d];
                    for (k, s) in strd.iter_mut().enumerate() {
                        *s.last_mut().unwrap() = strides[k][d];
                    }
                    continue;
                }
            }
            dims.push(shape[d]);
            for (k, s) in strd.iter_mut().enumerate() {
                s.push(strides[k][d]);
            }
        }
        if dims.is_empty() {
            dims.push(1);
            for s in strd.iter_mut() {
                s.push(0);
            }
        }
        Walk {
            shape: dims,
            strides: strd,
            offsets,
        }
    }

    /// Total number of logical elements.
    pub(crate) fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The stride of each operand along the innermost (run) dimension.
    pub(crate) fn inner_strides(&self) -> [usize; N] {
        std::array::from_fn(|k| *self.strides[k].last().unwrap())
    }

    /// Calls `f(offsets, position, run_length)` for each run of logical positions in
    /// `start..start + len`; within a run, operand `k` advances by `inner_strides()[k]`.
    #[inline]
    pub(crate) fn for_each_run(
        &self,
        start: usize,
        len: usize,
        mut f: impl FnMut([usize; N], usize, usize),
    ) {
        if len == 0 {
            return;
        }
        let rank = self.shape.len();
        let last = rank - 1;
        let mut idx: Shape = SmallVec::from_elem(0, rank);
        let mut rem = start;
        for d in (0..rank).rev() {
            idx[d] = rem % self.shape[d];
            rem /= self.shape[d];
        }
        let mut offs = self.offsets;
        for (k, off) in offs.iter_mut().enumerate() {
            for d in 0..rank {
                *off += idx[d] * self.strides[k][d];
            }
        }
        let end = start + len;
        let mut pos = start;
        let inner = self.shape[last];
        loop {
            let run = (inner - idx[last]).min(end - pos);
            f(offs, pos, run);
            pos += run;
            if pos >= end {
                return;
            }
            idx[last] += run;
            for (k, off) in offs.iter_mut().enumerate() {
                *off += run * self.strides[k][last];
            }
            let mut d = last;
            while idx[d] == self.shape[d] && d > 0 {
                for (k, off) in offs.iter_mut().enumerate() {
                    *off -= idx[d] * self.strides[k][d];
                    *off += self.strides[k][d - 1];
                }
                idx[d] = 0;
                d -= 1;
                idx[d] += 1;
            }
        }
    }

    /// Calls `f(offsets)` for every logical position in order.
    #[inline]
    pub(crate) fn for_each(&self, mut f: impl FnMut([usize; N])) {
        let inner = self.inner_strides();
        self.for_each_run(0, self.len(), |offs, _, run| {
            let mut o = offs;
            for _ in 0..run {
                f(o);
                for k in 0..N {
                    o[k] += inner[k];
                }
            }
        });
    }
}

/// Rows and columns of the square tiles [`Walk::gather`] copies a transposed plane in:
/// 32 rows of 32 `f64` are 8 KiB, so a tile's source lines stay in L1 while it is read.
const TILE: usize = 32;

impl Walk<1> {
    /// The walked elements of `src`, in logical (row-major) order.
    ///
    /// The two innermost (coalesced) dimensions are copied tile by tile: a transposed
    /// view then reads each source cache line once per tile instead of once per element,
    /// and short inner runs (a `[n, 2]` view of a `[2, n]` tensor) cost no per-run
    /// bookkeeping.
    pub(crate) fn gather<T: Copy>(&self, src: &[T]) -> crate::buffer_pool::PoolVec<T> {
        let len = self.len();
        let mut out = crate::buffer_pool::with_capacity(len);
        if len == 0 {
            return out;
        }
        let rank = self.shape.len();
        let strides = &self.strides[0];
        if rank == 1 {
            let (base, step) = (self.offsets[0], strides[0]);
            out.extend((0..len).map(|i| src[base + i * step]));
            return out;
        }
        let (rows, cols) = (self.shape[rank - 2], self.shape[rank - 1]);
        let (row_step, col_step) = (strides[rank - 2], strides[rank - 1]);
        let plane = rows * cols;
        out.resize(len, src[self.offsets[0]]);
        let mut next = 0;
        let mut copy_plane_at = |base: usize| {
            let dst = &mut out[next..next + plane];
            copy_plane(src, base, (rows, row_step), (cols, col_step), dst);
            next += plane;
        };
        if rank == 2 {
            copy_plane_at(self.offsets[0]);
        } else {
            // The leading dimensions, one plane per position.
            let leading = Walk {
                shape: self.shape[..rank - 2].into(),
                strides: [strides[..rank - 2].into()],
                offsets: self.offsets,
            };
            leading.for_each(|[base]| copy_plane_at(base));
        }
        out
    }
}

/// Copies a `rows × cols` plane of `src`, starting at `base` with the given steps, into
/// `dst` in row-major order.
fn copy_plane<T: Copy>(
    src: &[T],
    base: usize,
    (rows, row_step): (usize, usize),
    (cols, col_step): (usize, usize),
    dst: &mut [T],
) {
    if col_step == 1 {
        for (r, line) in dst.chunks_exact_mut(cols).enumerate() {
            let start = base + r * row_step;
            line.copy_from_slice(&src[start..start + cols]);
        }
        return;
    }
    if col_step == 0 {
        // A broadcast row: one value repeated.
        for (r, line) in dst.chunks_exact_mut(cols).enumerate() {
            line.fill(src[base + r * row_step]);
        }
        return;
    }
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            let c1 = (c0 + TILE).min(cols);
            for r in r0..(r0 + TILE).min(rows) {
                let from = base + r * row_step + c0 * col_step;
                let line = src[from..].iter().step_by(col_step);
                for (slot, value) in dst[r * cols + c0..r * cols + c1].iter_mut().zip(line) {
                    *slot = *value;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_operand_is_one_run() {
        let w = Walk::new(&[2, 3, 4], [&[12, 4, 1]], [0]);
        let mut runs = vec![];
        w.for_each_run(0, 24, |o, p, r| runs.push((o[0], p, r)));
        assert_eq!(runs, vec![(0, 0, 24)]);
    }

    #[test]
    fn transposed_walk_visits_column_major_offsets() {
        // A [2, 3] tensor viewed as its transpose [3, 2] with strides [1, 3].
        let w = Walk::new(&[3, 2], [&[1, 3]], [0]);
        let mut seen = vec![];
        w.for_each(|o| seen.push(o[0]));
        assert_eq!(seen, vec![0, 3, 1, 4, 2, 5]);
    }

    /// What `gather` must return: one element per logical position, in order.
    fn gathered_one_by_one(w: &Walk<1>, src: &[u32]) -> Vec<u32> {
        let mut out = vec![];
        w.for_each(|[o]| out.push(src[o]));
        out
    }

    #[test]
    fn gather_matches_the_element_walk_across_tile_edges() {
        let src: Vec<u32> = (0..200_000).collect();
        // (shape, strides, offset): transposes whose planes end mid-tile, a short inner
        // run, a permuted rank-3 view, a narrowed view with an offset, a broadcast
        // (stride 0) axis, a rank-4 view, a strided vector and an empty view.
        let cases: &[(&[usize], &[usize], usize)] = &[
            (&[70, 45], &[1, 70], 0),
            (&[1000, 2], &[1, 1000], 0),
            (&[3, 33, 65], &[1, 195, 3], 0),
            (&[5, 40, 31], &[2000, 1, 40], 17),
            (&[4, 37, 6], &[0, 1, 37], 3),
            (&[37, 6], &[1, 0], 3),
            (&[2, 3, 33, 34], &[3 * 33 * 34, 1, 3 * 34, 3], 5),
            (&[300], &[7], 11),
            (&[4, 0, 3], &[1, 4, 4], 0),
        ];
        for &(shape, strides, offset) in cases {
            let w = Walk::new(shape, [strides], [offset]);
            assert_eq!(
                w.gather(&src).into_vec(),
                gathered_one_by_one(&w, &src),
                "shape {shape:?} strides {strides:?}"
            );
        }
    }

    #[test]
    fn partial_range_starts_mid_row() {
        let w = Walk::new(&[3, 2], [&[1, 3]], [10]);
        let mut seen = vec![];
        w.for_each_run(3, 2, |o, p, r| seen.push((o[0], p, r)));
        assert_eq!(seen, vec![(14, 3, 1), (12, 4, 1)]);
    }
}
