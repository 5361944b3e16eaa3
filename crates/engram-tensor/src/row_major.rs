//! Row-major copies of strided matrices, for the products that read them.
//!
//! `gemm` packs each operand into panels before its kernels run. From a row-major
//! operand that is a run of short contiguous copies; from a transposed one (a linear
//! layer's `x · Wᵀ`, a weight gradient's `gᵀ · x`) it is an element-by-element gather at
//! a stride of a whole row, which profiles of the MLP step put at 13% of its time, all on
//! the calling thread before `gemm`'s parallel section. A tiled transpose into a
//! row-major copy first, and a contiguous pack after, cost about what that gather does on
//! one thread, but the copy is split across threads: the MLP step at two threads took
//! 0.86× the time with it.

use crate::buffer_pool::PoolVec;
use crate::matmul::MatrixRef;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Rows of a tile: one source column's run of them is read in one go (for a transposed
/// operand, 64 contiguous elements).
const TILE_ROWS: usize = 64;

/// Columns of a tile: one output row's run of them is written in one go (a cache line
/// in f32).
const TILE_COLS: usize = 16;

/// Elements above which the copy is split across threads, a band of [`TILE_ROWS`] rows
/// each.
const PARALLEL_ELEMENTS: usize = 1 << 17;

/// The `rows × cols` matrix at `at` in `src`, copied row-major into a pooled buffer.
pub(crate) fn row_major_copy<T: Copy + Send + Sync>(
    src: &[T],
    at: MatrixRef,
    rows: usize,
    cols: usize,
    threads: usize,
) -> PoolVec<T> {
    let n = rows * cols;
    let mut out = crate::buffer_pool::with_capacity::<T>(n);
    if n > 0 {
        let band =
            |(b, dst): (usize, &mut [MaybeUninit<T>])| copy_band(src, at, b * TILE_ROWS, cols, dst);
        let spare = &mut out.spare_capacity_mut()[..n];
        if threads > 1 && n >= PARALLEL_ELEMENTS {
            spare
                .par_chunks_mut(TILE_ROWS * cols)
                .enumerate()
                .for_each(band);
        } else {
            spare
                .chunks_mut(TILE_ROWS * cols)
                .enumerate()
                .for_each(band);
        }
    }
    // SAFETY: the bands cover `0..n` (chunks of `TILE_ROWS · cols`, the last one shorter)
    // and `copy_band` writes every element of the band it is given.
    unsafe { out.set_len(n) };
    out
}

/// Writes rows `first..` of the matrix at `at` into `dst`, which holds whole rows of
/// `cols` elements, tile by tile. Each tile is read into a small buffer first, one source
/// column's run of rows at a time, and then written out one output row's run of columns
/// at a time: no cache line is left to be reused later. A direct element-by-element
/// transpose touches dozens of lines a whole row apart at once, which for power-of-two
/// row lengths fall into the same few cache sets and evict each other.
fn copy_band<T: Copy>(
    src: &[T],
    at: MatrixRef,
    first: usize,
    cols: usize,
    dst: &mut [MaybeUninit<T>],
) {
    let rows = dst.len() / cols;
    let mut tile = [src[at.offset]; TILE_ROWS * TILE_COLS];
    for j0 in (0..cols).step_by(TILE_COLS) {
        let width = TILE_COLS.min(cols - j0);
        for (j, column) in tile.chunks_exact_mut(TILE_ROWS).take(width).enumerate() {
            let from = at.offset + first * at.row_stride + (j0 + j) * at.col_stride;
            for (i, slot) in column[..rows].iter_mut().enumerate() {
                *slot = src[from + i * at.row_stride];
            }
        }
        for (i, out) in dst.chunks_exact_mut(cols).enumerate() {
            for (j, slot) in out[j0..j0 + width].iter_mut().enumerate() {
                slot.write(tile[j * TILE_ROWS + i]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_transposed_and_strided_matrices_row_major() {
        // A 70 × 45 column-major matrix (odd sizes: partial tiles and bands) at an offset,
        // on one thread and on several.
        let (rows, cols) = (70, 45);
        let src: Vec<f64> = (0..3 + rows * cols).map(|v| v as f64).collect();
        let at = MatrixRef {
            offset: 3,
            row_stride: 1,
            col_stride: rows,
        };
        let want: Vec<f64> = (0..rows)
            .flat_map(|i| (0..cols).map(move |j| (3 + i + j * rows) as f64))
            .collect();
        for threads in [1, 2] {
            assert_eq!(row_major_copy(&src, at, rows, cols, threads).to_vec(), want);
        }
        // A larger one, past the parallel threshold, read with a column step of 2.
        let (rows, cols) = (300, 500);
        let src: Vec<f32> = (0..rows * cols * 2).map(|v| v as f32).collect();
        let at = MatrixRef {
            offset: 0,
            row_stride: cols * 2,
            col_stride: 2,
        };
        let copy = row_major_copy(&src, at, rows, cols, 2);
        for (i, j) in [(0, 0), (299, 499), (31, 32), (32, 31), (150, 7)] {
            assert_eq!(copy[i * cols + j], src[i * cols * 2 + j * 2]);
        }
        assert!(row_major_copy::<f32>(&[], at, 0, 5, 2).is_empty());
        assert!(row_major_copy::<f32>(&[], at, 5, 0, 2).is_empty());
    }
}
