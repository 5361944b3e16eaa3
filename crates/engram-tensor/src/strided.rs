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

    #[test]
    fn partial_range_starts_mid_row() {
        let w = Walk::new(&[3, 2], [&[1, 3]], [10]);
        let mut seen = vec![];
        w.for_each_run(3, 2, |o, p, r| seen.push((o[0], p, r)));
        assert_eq!(seen, vec![(14, 3, 1), (12, 4, 1)]);
    }
}
