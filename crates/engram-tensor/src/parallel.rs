//! When and how kernels use several cores. Work is always cut into the same fixed chunks,
//! whatever the thread count, so results are bitwise identical for 1 and N threads.

use crate::team::for_each_chunk_mut;
use std::mem::MaybeUninit;

/// Below this many elements a kernel runs on the calling thread: spawning costs more.
pub(crate) const PARALLEL_THRESHOLD: usize = 1 << 15;

/// Elements per unit of parallel work; fixed so that chunk boundaries never depend on threads.
pub(crate) const CHUNK: usize = 1 << 14;

/// Fills `out` by calling `fill(start, chunk)` on fixed-size chunks, in parallel when large.
pub(crate) fn fill_chunked<T: Send>(out: &mut [T], fill: impl Fn(usize, &mut [T]) + Sync) {
    if out.len() < PARALLEL_THRESHOLD {
        fill(0, out);
    } else {
        for_each_chunk_mut(out, CHUNK, |i, chunk| fill(i * CHUNK, chunk));
    }
}

/// Fills `out` in groups of `group` consecutive elements (one output row, one lane),
/// in parallel when the total work (`out.len() * work_per_element`) is large.
pub(crate) fn fill_groups<T: Send>(
    out: &mut [T],
    group: usize,
    work_per_element: usize,
    fill: impl Fn(usize, &mut [T]) + Sync,
) {
    let group = group.max(1);
    if out.len().saturating_mul(work_per_element.max(1)) < PARALLEL_THRESHOLD {
        out.chunks_mut(group)
            .enumerate()
            .for_each(|(i, c)| fill(i, c));
    } else {
        for_each_chunk_mut(out, group, fill);
    }
}

/// A new vector of `n` elements, each written by `fill(start, chunk)` over fixed chunks
/// (in parallel when large). The buffer is not zeroed first: for large outputs that pass
/// over memory costs as much as a cheap kernel itself.
///
/// # Safety
///
/// `fill` must initialise every element of each chunk it is handed (`chunk[i].write(..)`
/// for every `i`), or panic. An element left unwritten would be read as a `T` later.
pub(crate) unsafe fn filled<T: Send>(
    n: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync,
) -> crate::buffer_pool::PoolVec<T> {
    let mut out = crate::buffer_pool::with_capacity::<T>(n);
    fill_chunked(&mut out.spare_capacity_mut()[..n], fill);
    // SAFETY: `fill_chunked` hands every index of `0..n` to `fill` exactly once, and the
    // caller guarantees that `fill` writes every element it is handed. If `fill` panics we
    // never get here, and the vector drops with length 0 (leaking, never reading, what was
    // written).
    unsafe { out.set_len(n) };
    out
}
