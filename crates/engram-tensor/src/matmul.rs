//! Matrix products: vector, matrix and batched with broadcast batch dimensions.
//!
//! Every operand is handed to the blocked product (`gemm_driver`: `gemm`'s micro-kernels
//! in loops and packing of our own) by its strides, so a transposed or broadcast operand
//! is never copied whole. A product split across threads runs as bands of the output, one
//! single-threaded product each (see `gemm_raw`), so that each thread packs its own part.
//! The `gemm` crate was kept over `matrixmultiply` on measured speed (see
//! `benches/matmul.rs` and the commit that chose it).

use crate::element::Float;
use crate::gemm_driver::{product, Operand};
use crate::parallel::{fill_groups, PARALLEL_THRESHOLD};
use crate::shape::{checked_numel, shape_error, try_broadcast_shapes, Shape};
use crate::team::{for_each_chunk_mut, for_each_index};
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::mem::MaybeUninit;

/// Multiply-adds each thread must get before one product is split across threads.
/// Below it the fork and join cost more than they save. While loops went through
/// `rayon`, an LSTM's per-step products ([32, 128] × [128, 512], 2^21 multiply-adds) were
/// slower split and this was 2^21; with the team's helpers watching for work, splitting
/// from 2^18 each made the MLP step 1.1–1.8% faster on two threads (its last layer's three
/// products of 2^19.3 ran on one thread while the other waited), the LSTM's 0.7%, the
/// CNN's the same.
const GEMM_FLOPS_PER_THREAD: usize = 1 << 18;

/// Whether a product of `flops` multiply-adds is split across `threads` threads.
fn splits_product(flops: usize, threads: usize) -> bool {
    threads > 1 && flops >= threads.saturating_mul(GEMM_FLOPS_PER_THREAD)
}

/// A batch of at least this many products per thread is split by product, not inside
/// each product: with fewer, whole products do not share out evenly.
pub(crate) const BATCH_PARALLEL_PRODUCTS_PER_THREAD: usize = 4;

/// One strided matrix inside a storage buffer.
#[derive(Clone, Copy)]
pub(crate) struct MatrixRef {
    /// Where element `[0, 0]` is.
    pub(crate) offset: usize,
    /// The step from one row to the next.
    pub(crate) row_stride: usize,
    /// The step from one column to the next.
    pub(crate) col_stride: usize,
}

impl MatrixRef {
    /// A row-major matrix of `cols` columns starting at `offset`.
    pub(crate) fn rows(offset: usize, cols: usize) -> MatrixRef {
        MatrixRef {
            offset,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of this matrix: the same elements, rows and columns swapped.
    pub(crate) fn t(self) -> MatrixRef {
        MatrixRef {
            offset: self.offset,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

/// Whether a product overwrites its destination or adds into it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// `dst = lhs · rhs`.
    Overwrite,
    /// `dst += lhs · rhs`.
    Accumulate,
}

/// `dst[m × n] = lhs[m × k] · rhs[k × n]` (or `+=`, see [`Write`]), with `dst` contiguous
/// and the operands strided.
pub(crate) fn gemm_into<T: Float>(
    dst: &mut [T],
    dims: (usize, usize, usize),
    lhs: (&[T], MatrixRef),
    rhs: (&[T], MatrixRef),
    write: Write,
    threads: usize,
) {
    // SAFETY: `dst` is an exclusive, initialised slice of `dst.len()` elements, so the
    // product may read (to accumulate) and write all of them.
    unsafe { gemm_raw(dst.as_mut_ptr(), dst.len(), dims, lhs, rhs, write, threads) }
}

/// [`gemm_into`] with [`Write::Overwrite`] into a destination not yet initialised (a
/// fresh output buffer, which then needs no zeroing first); every element of `dst` is
/// written.
pub(crate) fn gemm_into_uninit<T: Float>(
    dst: &mut [MaybeUninit<T>],
    dims: (usize, usize, usize),
    lhs: (&[T], MatrixRef),
    rhs: (&[T], MatrixRef),
    threads: usize,
) {
    let (m, n, _) = dims;
    debug_assert_eq!(dst.len(), m * n);
    // SAFETY: an overwriting product never reads `dst` (`gemm_driver::product` without
    // `accumulate` ignores its contents, and the `k == 0` branch only writes), so uninitialised
    // elements are never read; `MaybeUninit<T>` has `T`'s layout.
    unsafe {
        gemm_raw(
            dst.as_mut_ptr().cast::<T>(),
            dst.len(),
            dims,
            lhs,
            rhs,
            Write::Overwrite,
            threads,
        )
    }
}

/// The product of [`gemm_into`] into `len` elements at `dst`.
///
/// # Safety
///
/// `dst` must be valid for writes of `len` elements, exclusively ours, and initialised
/// when `write` is [`Write::Accumulate`]; `len` must be at least `m · n` unless `m` or `n`
/// is 0. Every element of `dst[..m·n]` is written (all `len` when `k` is 0).
unsafe fn gemm_raw<T: Float>(
    dst: *mut T,
    len: usize,
    (m, n, k): (usize, usize, usize),
    lhs: (&[T], MatrixRef),
    rhs: (&[T], MatrixRef),
    write: Write,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if write == Write::Overwrite {
            for i in 0..len {
                // SAFETY: the caller gives `len` writable elements at `dst`.
                unsafe { dst.add(i).write(T::zero()) };
            }
        }
        return;
    }
    let split = splits_product((m * n).saturating_mul(k), threads);
    let (l, lr) = lhs;
    let (r, rr) = rhs;
    debug_assert!(l.len() > lr.offset + (m - 1) * lr.row_stride + (k - 1) * lr.col_stride);
    debug_assert!(r.len() > rr.offset + (k - 1) * rr.row_stride + (n - 1) * rr.col_stride);
    debug_assert!(len >= m * n);
    let accumulate = write == Write::Accumulate;
    // One single-threaded product of the block of rows `rows.0..rows.0 + rows.1` and
    // columns `cols.0..cols.0 + cols.1` of the destination.
    let block = |dst: *mut T, rows: (usize, usize), cols: (usize, usize)| {
        // SAFETY: the operands' extents were checked above (in debug) and follow from the
        // tensors' shapes and strides, which views keep within storage; `dst` holds at
        // least m·n writable elements laid out row-major (the caller's contract),
        // initialised when `accumulate` asks the product to read them; a block writes only its
        // own elements of them.
        unsafe {
            product(
                (cols.1, rows.1, k),
                dst.add(rows.0 * n + cols.0),
                n as isize,
                Operand {
                    ptr: r.as_ptr().add(rr.offset + cols.0 * rr.col_stride),
                    rs: rr.col_stride as isize,
                    cs: rr.row_stride as isize,
                },
                Operand {
                    ptr: l.as_ptr().add(lr.offset + rows.0 * lr.row_stride),
                    rs: lr.col_stride as isize,
                    cs: lr.row_stride as isize,
                },
                accumulate,
                (n, m),
            );
        }
    };
    // A split product runs as bands, one single-threaded product each (`gemm`'s own
    // threading, used before, chose blocks so large on a machine with 2 MB of L2 per core
    // that a 128-row product had nothing to share out). Each band gathers its own part of
    // a strided operand (a linear layer's `Wᵀ`) on its thread.
    let cut_rows = cuts_rows(m, n, k);
    let (cut, other) = if cut_rows { (m, n) } else { (n, m) };
    let Some((width, count)) = split.then(|| bands(cut, other, threads)).flatten() else {
        block(dst, (0, m), (0, n));
        return;
    };
    let at = dst as usize;
    for_each_index(count, |b| {
        let start = b * width;
        let band = (start, if b + 1 == count { cut - start } else { width });
        if cut_rows {
            block(at as *mut T, band, (0, n));
        } else {
            block(at as *mut T, (0, m), band);
        }
    });
}

/// Whether a split product of an `m × n` output, summed over `k` terms, runs as bands of
/// rows (else of columns).
///
/// Every band packs again the operand whose side it does not cut, so cutting the longer
/// side packs less. But a band of rows writes one contiguous block of the output, while
/// bands of columns interleave the threads' writes along every row, and a product with a
/// short sum writes an output element every few multiply-adds. On two threads, products
/// summing 128 terms ran 4–14% faster in row bands when the rows were at least half the
/// columns (the MLP's weight gradients, 512 × 512 and 512 × 784, whose column bands had
/// left the caller waiting for the later band), although each row band packs the right
/// operand whole; at 256 terms rows were 8% faster at 512 × 512 and within 2% at
/// 1024 × 1024; from 512 terms, column bands of a square product were 5% faster. A linear layer's forward
/// product (128 × 512) keeps column bands: row bands would each pack the whole weight.
fn cuts_rows(m: usize, n: usize, k: usize) -> bool {
    m > n || (2 * m >= n && k <= ROW_BANDS_MAX_DEPTH)
}

/// The longest sum for which [`cuts_rows`] prefers bands of rows down to half as many
/// rows as columns.
const ROW_BANDS_MAX_DEPTH: usize = 256;

/// Rows or columns per band of a split product are a multiple of this: whole vector
/// registers of the micro-kernels (a band of ragged width packs its last panel).
const BAND_ALIGN: usize = 16;

/// How a product whose output has `cut` rows or columns to share out (and `other` of the
/// other kind) is split across `threads`: `(width, count)`, `count` bands of the `cut`
/// side, each `width` wide but the last, which takes the rest; `None` when it runs whole.
/// Bands may be cut anywhere (a band's elements get the bits the whole product gives them,
/// see `gemm_driver`); they are cut at whole registers where that leaves every band some.
fn bands(cut: usize, other: usize, threads: usize) -> Option<(usize, usize)> {
    if other == 0 || cut < 2 {
        return None;
    }
    let count = threads.min(cut);
    for align in [BAND_ALIGN, 1] {
        let width = cut.div_ceil(count).next_multiple_of(align);
        if (count - 1) * width < cut {
            return (count > 1).then_some((width, count));
        }
    }
    unreachable!("bands of width ceil(cut / count) always leave the last some")
}

impl<T: Float> Tensor<T> {
    /// Matrix product with NumPy's `matmul` rules:
    /// `[k] @ [k] -> []`, `[m, k] @ [k, n] -> [m, n]`, `[.., m, k] @ [.., k, n] -> [.., m, n]`
    /// with the batch dimensions `..` broadcast; a 1-d left operand is a row, a 1-d right
    /// operand a column, and that dimension is dropped from the result.
    ///
    /// ```
    /// use engram_tensor::Tensor;
    /// let a = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
    /// let v = Tensor::<f64>::from_vec(vec![1.0, 1.0], &[2]);
    /// assert_eq!(a.matmul(&v).to_vec(), vec![3.0, 7.0]);
    /// ```
    #[track_caller]
    pub fn matmul(&self, other: &Tensor<T>) -> Tensor<T> {
        if self.rank() == 0 || other.rank() == 0 {
            shape_error(
                "matmul",
                format!("operands must have at least 1 dimension, got {:?} @ {:?}; use `mul` for scalars", self.shape(), other.shape()),
            );
        }
        let a = if self.rank() == 1 {
            self.unsqueeze(0)
        } else {
            self.clone()
        };
        let b = if other.rank() == 1 {
            other.unsqueeze(1)
        } else {
            other.clone()
        };
        let (m, k) = (a.shape()[a.rank() - 2], a.shape()[a.rank() - 1]);
        let (k2, n) = (b.shape()[b.rank() - 2], b.shape()[b.rank() - 1]);
        if k != k2 {
            shape_error(
                "matmul",
                format!(
                    "lhs {:?} @ rhs {:?}: the contracted dimensions differ ({k} vs {k2}); expected [.., m, k] @ [.., k, n] \
                     (transpose one operand?)",
                    self.shape(),
                    other.shape()
                ),
            );
        }
        let Some(batch) =
            try_broadcast_shapes(&a.shape()[..a.rank() - 2], &b.shape()[..b.rank() - 2])
        else {
            shape_error(
                "matmul",
                format!(
                    "lhs {:?} @ rhs {:?}: batch dimensions cannot be broadcast together",
                    self.shape(),
                    other.shape()
                ),
            )
        };
        let mut full_out: Shape = batch.clone();
        full_out.extend_from_slice(&[m, n]);
        checked_numel("matmul", &full_out);
        let full = |t: &Tensor<T>, r: usize, c: usize| {
            let mut s: Shape = batch.clone();
            s.extend_from_slice(&[r, c]);
            t.broadcast_to(&s)
        };
        let (a, b) = (full(&a, m, k), full(&b, k, n));
        let out = batched_gemm(&a, &b, &batch, (m, n, k));
        let mut out_shape: Shape = batch;
        if self.rank() > 1 {
            out_shape.push(m);
        }
        if other.rank() > 1 {
            out_shape.push(n);
        }
        out.reshape(&out_shape)
    }

    /// `self @ other + bias`, with `bias` a vector along the product's last axis (a
    /// linear layer's), added into the product's own buffer rather than a second one. The
    /// same numbers as `self.matmul(other).add(bias)`: each element is the product's, plus
    /// its bias, rounded once.
    ///
    /// ```
    /// use engram_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
    /// let w = Tensor::<f64>::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[2, 2]);
    /// let b = Tensor::<f64>::from_vec(vec![10.0, 20.0], &[2]);
    /// assert_eq!(x.matmul_bias(&w, &b).to_vec(), vec![11.0, 22.0, 13.0, 24.0]);
    /// ```
    #[track_caller]
    pub fn matmul_bias(&self, other: &Tensor<T>, bias: &Tensor<T>) -> Tensor<T> {
        let mut out = self.matmul(other);
        let n = out.shape().last().copied();
        if out.rank() == 0 || bias.shape() != [n.unwrap_or(0)] {
            shape_error(
                "matmul_bias",
                format!(
                    "bias {:?} does not fit the product {:?} @ {:?} of shape {:?}: expected a \
                     vector as long as the product's last axis",
                    bias.shape(),
                    self.shape(),
                    other.shape(),
                    out.shape()
                ),
            );
        }
        let row = bias.contiguous_data();
        // One row per group; no row splits across threads, so the split never changes
        // a number.
        fill_groups(out.as_mut_slice(), row.len(), 1, |_, out_row| {
            for (o, &b) in out_row.iter_mut().zip(row.iter()) {
                *o += b;
            }
        });
        out
    }
}

/// The row stride at which `a`'s matrices continue one another as the rows of a single
/// `[count · m, k]` matrix, when they do and `b` is one matrix for every batch entry (its
/// batch strides 0); `None` otherwise.
fn stacked_rows<T: Float>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    batch: &[usize],
    m: usize,
) -> Option<usize> {
    let rank = a.rank();
    let row_stride = a.strides()[rank - 2];
    let mut next = row_stride * m;
    for (d, &size) in batch.iter().enumerate().rev() {
        if size == 1 {
            continue;
        }
        if b.strides()[d] != 0 || a.strides()[d] != next {
            return None;
        }
        next *= size;
    }
    Some(row_stride)
}

/// Runs one gemm per batch index of the (already broadcast) operands.
fn batched_gemm<T: Float>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    batch: &[usize],
    (m, n, k): (usize, usize, usize),
) -> Tensor<T> {
    let count: usize = batch.iter().product();
    let total = count * m * n;
    let mut out = crate::buffer_pool::with_capacity(total);
    let rank = a.rank();
    let mat = |t: &Tensor<T>, idx: usize| {
        let mut rem = idx;
        let mut offset = t.offset;
        for d in (0..rank - 2).rev() {
            offset += (rem % batch[d]) * t.strides()[d];
            rem /= batch[d];
        }
        MatrixRef {
            offset,
            row_stride: t.strides()[rank - 2],
            col_stride: t.strides()[rank - 1],
        }
    };
    let (da, db) = (a.data(), b.data());
    let threads = rayon::current_num_threads();
    let per = m * n;
    let mut shape: SmallVec<[usize; 6]> = SmallVec::from_slice(batch);
    shape.extend_from_slice(&[m, n]);
    if total == 0 {
        return Tensor::from_pooled(out, &shape);
    }
    let run = |(i, dst): (usize, &mut [MaybeUninit<T>]), threads: usize| {
        gemm_into_uninit(dst, (m, n, k), (da, mat(a, i)), (db, mat(b, i)), threads)
    };
    let dst = &mut out.spare_capacity_mut()[..total];
    if let Some(row_stride) = stacked_rows(a, b, batch, m) {
        // One matrix applied to a batch of them laid out as one (a linear layer on a
        // sequence): a single product of all their rows, large enough to use every
        // thread, and the right operand prepared for `gemm` once rather than per entry.
        let rows = MatrixRef {
            offset: a.offset,
            row_stride,
            col_stride: a.strides()[rank - 1],
        };
        gemm_into_uninit(dst, (count * m, n, k), (da, rows), (db, mat(b, 0)), threads);
        // SAFETY: `gemm_into_uninit` wrote all `count · m · n` elements of `dst`.
        unsafe { out.set_len(total) };
        return Tensor::from_pooled(out, &shape);
    }
    // Whole products per thread when there are enough of them to share out evenly: each
    // thread then runs its gemms with no synchronisation inside, where splitting each
    // product across threads costs a fork and join per product (the rule the convolution
    // kernels follow for their images, `conv_gemm.rs`).
    let many = count >= BATCH_PARALLEL_PRODUCTS_PER_THREAD * threads;
    if count > 1
        && (count * per).saturating_mul(k) >= PARALLEL_THRESHOLD
        && (many || !splits_product(per.saturating_mul(k), threads))
    {
        for_each_chunk_mut(dst, per, |i, d| run((i, d), 1));
    } else {
        dst.chunks_mut(per)
            .enumerate()
            .for_each(|c| run(c, threads));
    }
    // SAFETY: the chunks of `per` elements tile `dst`, the first `total` elements, and
    // `gemm_into_uninit` wrote every element of each. Had it panicked we would not be
    // here, and `out` would drop with length 0.
    unsafe { out.set_len(total) };
    Tensor::from_pooled(out, &shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::iota;

    #[test]
    fn bands_cover_the_cut_side_in_whole_registers_where_they_can() {
        assert_eq!(bands(512, 512, 2), Some((256, 2)));
        assert_eq!(bands(300, 128, 4), Some((80, 4)));
        // 40 rows on four threads: bands of 16 would leave the fourth none.
        assert_eq!(bands(40, 8, 4), Some((10, 4)));
        assert_eq!(bands(3, 8, 4), Some((1, 3)));
        assert_eq!(bands(1, 8, 4), None);
        assert_eq!(bands(8, 0, 4), None);
        for (cut, other, threads) in [(144, 32, 2), (300, 16, 4), (1000, 5, 7), (90, 90, 3)] {
            let (width, count) = bands(cut, other, threads).unwrap();
            let last = cut - (count - 1) * width;
            assert!(count <= threads && last > 0 && last <= width);
        }
    }

    #[test]
    fn bands_cut_rows_for_short_sums_unless_rows_are_fewer_than_half_the_columns() {
        // Weight gradients of a linear layer: rows, written as contiguous blocks.
        assert!(cuts_rows(512, 784, 128) && cuts_rows(512, 512, 128));
        // Its forward product: columns, so that no band packs the whole weight.
        assert!(!cuts_rows(128, 512, 784) && !cuts_rows(10, 512, 128));
        // Long sums cut the longer side, columns on a tie; more rows are always cut.
        assert!(!cuts_rows(1024, 1024, 1024) && cuts_rows(1025, 1024, 1024));
    }

    /// The textbook triple loop, as the reference.
    fn naive(a: &Tensor<f64>, b: &Tensor<f64>) -> Vec<f64> {
        let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a.get(&[i, p]) * b.get(&[p, j])).sum();
            }
        }
        out
    }

    #[test]
    fn matrix_product_matches_triple_loop() {
        let (a, b) = (iota(&[3, 4]), iota(&[4, 5]));
        assert_eq!(a.matmul(&b).to_vec(), naive(&a, &b));
    }

    #[test]
    fn transposed_operands_are_read_by_stride() {
        let a = iota(&[4, 3]).t();
        let b = iota(&[5, 4]).t();
        assert!(!a.is_contiguous());
        assert_eq!(
            a.matmul(&b).to_vec(),
            naive(&a.contiguous(), &b.contiguous())
        );
    }

    #[test]
    fn vector_forms_drop_their_dimension() {
        let v = iota(&[3]);
        assert_eq!(v.matmul(&v).shape(), &[] as &[usize]);
        assert_eq!(v.matmul(&v).item(), 5.0);
        assert_eq!(v.matmul(&iota(&[3, 2])).to_vec(), vec![10.0, 13.0]);
        assert_eq!(iota(&[2, 3]).matmul(&v).to_vec(), vec![5.0, 14.0]);
    }

    #[test]
    fn batch_dimensions_broadcast() {
        let a = iota(&[2, 1, 2, 3]);
        let b = iota(&[3, 3, 2]);
        let c = a.matmul(&b);
        assert_eq!(c.shape(), &[2, 3, 2, 2]);
        let a1 = a.narrow(0, 1, 1).reshape(&[2, 3]);
        let b2 = b.narrow(0, 2, 1).reshape(&[3, 2]);
        assert_eq!(c.narrow(0, 1, 1).narrow(1, 2, 1).to_vec(), naive(&a1, &b2));
    }

    #[test]
    fn one_matrix_applied_to_a_batch_is_one_product_of_the_same_values() {
        // The stacked path (a contiguous batch times one broadcast matrix), with the
        // right operand transposed, beside each entry's own product; then a strided
        // batch, and an empty one.
        let (a, w) = (iota(&[3, 5, 130]), iota(&[140, 130]));
        let c = a.matmul(&w.t());
        assert_eq!(c.shape(), &[3, 5, 140]);
        for e in 0..3 {
            let entry = a.narrow(0, e, 1).reshape(&[5, 130]);
            let want = naive(&entry, &w.t().contiguous());
            assert_eq!(c.narrow(0, e, 1).to_vec(), want, "entry {e}");
        }
        let strided = a.narrow(1, 1, 3);
        let c = strided.matmul(&w.t());
        let entry = strided.narrow(0, 2, 1).reshape(&[3, 130]);
        assert_eq!(
            c.narrow(0, 2, 1).to_vec(),
            naive(&entry, &w.t().contiguous())
        );
        assert_eq!(iota(&[0, 5, 130]).matmul(&w.t()).shape(), &[0, 5, 140]);
    }

    #[test]
    fn a_split_product_of_a_transposed_right_operand_reads_it_through_a_copy() {
        // Large enough to be split across two threads, so `Wᵀ` is copied row-major first.
        let (x, w) = (iota(&[64, 256]), iota(&[300, 256]));
        assert!(splits_product(64 * 256 * 300, 2));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let got = pool.install(|| x.matmul(&w.t()));
        assert_eq!(got.to_vec(), naive(&x, &w.t().contiguous()));
    }

    #[test]
    fn empty_contraction_gives_zeros() {
        let c = Tensor::<f32>::ones(&[2, 0]).matmul(&Tensor::ones(&[0, 3]));
        assert_eq!(c.to_vec(), vec![0.0; 6]);
        assert_eq!(
            Tensor::<f32>::ones(&[0, 2])
                .matmul(&Tensor::ones(&[2, 3]))
                .shape(),
            &[0, 3]
        );
    }

    #[test]
    fn products_into_a_reused_dirty_buffer_overwrite_every_element() {
        // Shapes of a general product, vector products and an empty contraction, each large
        // enough that its output comes from the buffer pool, where a NaN-filled buffer of
        // its size class was just returned.
        for (m, k, n) in [(130, 7, 130), (1, 5, 9000), (9000, 5, 1), (130, 0, 130)] {
            drop(Tensor::<f64>::full(&[m * n], f64::NAN));
            let (a, b) = (iota(&[m, k]), iota(&[k, n]));
            let c = a.matmul(&b);
            assert_eq!(c.to_vec(), naive(&a, &b), "[{m}, {k}] @ [{k}, {n}]");
        }
    }

    #[test]
    #[should_panic(
        expected = "`matmul`: lhs [2, 3] @ rhs [2, 3]: the contracted dimensions differ (3 vs 2)"
    )]
    fn mismatched_inner_dimensions_panic() {
        iota(&[2, 3]).matmul(&iota(&[2, 3]));
    }
}
