//! The blocked matrix product under every `matmul`: our own loops and packing around the
//! `gemm` crate's micro-kernels.
//!
//! `gemm` 0.19 allocates the buffers it packs operands into on every call, and reads an
//! operand in place only when its columns are adjacent, so every backward product of a
//! linear layer (`Xᵀ·dY`, `dY·Wᵀ`) allocated and freed a few hundred KiB. glibc kept those
//! freed blocks in each thread's heap (arenas of 3.7–7 MB with under 1.2 MB in use), and
//! the MLP training loop's peak memory stood at 2.8× what the loop must hold. Here the
//! loops are GotoBLAS's (column blocks, depth blocks, row blocks, then micro-tiles), the
//! micro-kernels are `gemm`'s own (`gemm_f32`/`gemm_f64::microkernel`, chosen for the CPU
//! at run time), and packing goes to one scratch buffer per thread that is kept and
//! reused: no allocation per product.
//!
//! The problem is stated as `gemm` states it: `dst[m × n] (+)= lhs[m × k] · rhs[k × n]`,
//! each matrix by its row and column strides, with `dst`'s rows adjacent (`dst_rs == 1`)
//! so that the micro-kernels store whole registers. A row-major product `C = A · B` is the
//! column-major `Cᵀ = Bᵀ · Aᵀ` (see `matmul::gemm_raw`).
//!
//! Every element's terms are summed in depth blocks that depend only on `k` (each block
//! by one chain of fused multiply-adds in a register, then added to `dst`), so a product
//! cut into bands of rows or columns gives the same bits as the whole product. A product
//! of few outputs whose operands both run along the sum takes `gemm`'s dot-product
//! kernels instead (which sum in another order); that choice is made for the whole
//! product, never per band.

use crate::element::Float;
use crate::vmath::Level;
use gemm_common::microkernel::{HMicroKernelFn, MicroKernelFn};
use std::any::TypeId;
use std::cell::RefCell;

/// How a product is cut into blocks.
#[derive(Clone, Copy)]
struct Blocking {
    /// Most terms of the sum in one depth block.
    depth: usize,
    /// Most bytes of the left operand packed at a time (a block of whole panels).
    lhs_bytes: usize,
    /// Most bytes of the right operand packed at a time, when it is packed.
    rhs_bytes: usize,
}

/// The blocking of every product: depth blocks of 512 (`gemm`'s choice for these
/// micro-kernels on L1 caches of 32–48 KiB: a micro-tile's slice of the right operand,
/// `512 × nr`, stays in L1), and 1 MiB of each operand packed at a time (half of a 2 MiB
/// L2 cache: the left block stays in L2 while every column of micro-tiles sweeps it).
const BLOCKING: Blocking = Blocking {
    depth: 512,
    lhs_bytes: 1 << 20,
    rhs_bytes: 1 << 20,
};

/// `gemm`'s rule for the left operand: read in place only while the product has at most
/// this many micro-tile columns (beyond it, packing pays back in locality).
const LHS_PACKING_THRESHOLD: usize = 8;

/// `gemm`'s rule for a right operand with adjacent depth: read in place unless the
/// product has more than this many panels of rows.
const RHS_PACKING_THRESHOLD: usize = 128;

/// A right operand with adjacent columns (a transposed row-major matrix, as in a weight
/// gradient `dYᵀ · X`) is read in place while depth blocks are at most this long, or the
/// product has fewer than [`RHS_IN_PLACE_MIN_PANELS`] panels of rows. In place, a
/// micro-tile's slice of it takes one cache line per term of the block (its `nr` elements
/// per term lie in one row, rows a stride apart), and every panel of rows reads that slice
/// again. A block of 128 terms (8 KiB) stays in L1 beside the streaming left panel, and
/// packing would cost each band of a split product a copy of the operand (the MLP step
/// on two threads took 1.6% longer with it). Longer blocks no longer stay: with 16 panels
/// of rows, a 1024³ product `Aᵀ · B` took 1.6× as long as `A · B` in place and 1.15×
/// once packed; with 8 (each band of that product on two threads) packing won on 1024
/// rows (0.72×) and neither won nor lost on 512 (0.86–1.11× from one run to the next);
/// with 4 it lost (1.04–1.15×).
const RHS_IN_PLACE_MAX_DEPTH: usize = 128;

/// See [`RHS_IN_PLACE_MAX_DEPTH`].
const RHS_IN_PLACE_MIN_PANELS: usize = 8;

/// Products whose operands both run along the sum take the dot-product kernels, with no
/// packing, when they have at most this many outputs (`gemm`'s own rule: a convolution's
/// weight gradient `dY · colsᵀ`)...
const DOT_MAX_OUTPUTS: usize = 16 * 16;

/// ... or at most this many rows (a linear layer's forward product `X · Wᵀ` with few
/// output features, such as a classifier's 10 logits)...
const DOT_MAX_ROWS: usize = 10;

/// ... or at most this many columns (the same product for a batch of a few samples).
///
/// The micro-tiles would pack the whole left operand (its rows run along the sum) for
/// that few columns to reuse, or fill 16-row registers with a few rows. Measured on one
/// thread against them, dot products took 0.12–0.8× as long with up to 10 rows or 8
/// columns (a 128 × 784 batch into 10 logits 0.33×, one sample through a 784 → 512 layer
/// 0.24×), but 0.2–1.25× with 16 rows and 0.9–1.3× with 16 columns.
const DOT_MAX_COLS: usize = 8;

/// Terms of the sum per block of the dot-product kernels (`gemm`'s).
const DOT_DEPTH: usize = 1024;

/// Alignment of packed panels: a cache line.
const PANEL_ALIGN: usize = 64;

/// The micro-kernels of one element type at one instruction set.
pub(crate) struct MicroKernels<T: 'static> {
    /// Elements in one vector register.
    lanes: usize,
    /// Rows of a micro-tile (whole registers).
    mr: usize,
    /// Columns of a micro-tile.
    nr: usize,
    /// The kernel for a tile of `v` registers of rows and `c` columns is at
    /// `(v - 1) · nr + c - 1`.
    table: &'static [MicroKernelFn<T>],
    /// Rows of the largest tile of the dot-product kernels (0 where there are none).
    h_mr: usize,
    /// Columns of the largest tile of the dot-product kernels.
    h_nr: usize,
    /// The dot-product kernel for a tile of `r × c` is at `(r - 1) · h_nr + c - 1`.
    h_table: &'static [HMicroKernelFn<T>],
}

impl<T> MicroKernels<T> {
    /// The kernel for a tile of `rows × cols` (at most `mr × nr`).
    fn for_tile(&self, rows: usize, cols: usize) -> MicroKernelFn<T> {
        self.table[(rows.div_ceil(self.lanes) - 1) * self.nr + cols - 1]
    }

    /// The dot-product kernel for a tile of `rows × cols` (at most `h_mr × h_nr`).
    fn dot_for_tile(&self, rows: usize, cols: usize) -> HMicroKernelFn<T> {
        self.h_table[(rows - 1) * self.h_nr + cols - 1]
    }
}

/// The kernel tables, one per element type and instruction set (`gemm`'s constants; its
/// register widths are private, so the lane counts are written here).
mod tables {
    use super::MicroKernels;
    use gemm_common::microkernel::{HMicroKernelFn, MicroKernelFn};

    macro_rules! kernels {
        ($name:ident, $ty:ty, $($module:ident)::+, $lanes:expr) => {
            pub(super) static $name: MicroKernels<$ty> = MicroKernels {
                lanes: $lanes,
                mr: $($module)::+::MR_DIV_N * $lanes,
                nr: $($module)::+::NR,
                table: {
                    static TABLE: [[MicroKernelFn<$ty>; $($module)::+::NR];
                        $($module)::+::MR_DIV_N] = $($module)::+::UKR;
                    TABLE.as_flattened()
                },
                h_mr: $($module)::+::H_M,
                h_nr: $($module)::+::H_N,
                h_table: {
                    static TABLE: [[HMicroKernelFn<$ty>; $($module)::+::H_N];
                        $($module)::+::H_M] = $($module)::+::H_UKR;
                    TABLE.as_flattened()
                },
            };
        };
    }

    kernels!(F32_SCALAR, f32, gemm_f32::microkernel::scalar::f32, 1);
    kernels!(F64_SCALAR, f64, gemm_f64::microkernel::scalar::f64, 1);
    #[cfg(target_arch = "x86_64")]
    kernels!(F32_FMA, f32, gemm_f32::microkernel::fma::f32, 8);
    #[cfg(target_arch = "x86_64")]
    kernels!(F64_FMA, f64, gemm_f64::microkernel::fma::f64, 4);
    #[cfg(target_arch = "x86_64")]
    kernels!(F32_AVX512, f32, gemm_f32::microkernel::avx512f::f32, 16);
    #[cfg(target_arch = "x86_64")]
    kernels!(F64_AVX512, f64, gemm_f64::microkernel::avx512f::f64, 8);
}

/// The micro-kernels for `T` at instruction set `level`.
fn kernels<T: Float>(level: Level) -> &'static MicroKernels<T> {
    let is_f32 = TypeId::of::<T>() == TypeId::of::<f32>();
    assert!(
        is_f32 || TypeId::of::<T>() == TypeId::of::<f64>(),
        "matmul: no micro-kernels for this element type"
    );
    let (f32s, f64s) = match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => (&tables::F32_AVX512, &tables::F64_AVX512),
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => (&tables::F32_FMA, &tables::F64_FMA),
        Level::Scalar => (&tables::F32_SCALAR, &tables::F64_SCALAR),
    };
    let chosen: *const () = if is_f32 {
        (f32s as *const MicroKernels<f32>).cast()
    } else {
        (f64s as *const MicroKernels<f64>).cast()
    };
    // SAFETY: `T` is the element type of the table chosen (checked by `TypeId` above).
    unsafe { &*chosen.cast::<MicroKernels<T>>() }
}

/// One strided operand of a product.
#[derive(Clone, Copy)]
pub(crate) struct Operand<T> {
    /// Element `[0, 0]`.
    pub(crate) ptr: *const T,
    /// The step from one row to the next.
    pub(crate) rs: isize,
    /// The step from one column to the next.
    pub(crate) cs: isize,
}

impl<T> Operand<T> {
    /// Element `[row, col]`'s address.
    fn at(self, row: usize, col: usize) -> *const T {
        self.ptr
            .wrapping_offset(row as isize * self.rs + col as isize * self.cs)
    }
}

thread_local! {
    /// Each thread's packing buffer, in units of 64 bytes (so that panels start on cache
    /// lines); it grows to the largest blocks the thread has packed (at most
    /// `LHS_BLOCK_BYTES + RHS_BLOCK_BYTES` plus a panel) and is kept.
    static SCRATCH: RefCell<Vec<CacheLine>> = const { RefCell::new(Vec::new()) };
}

/// One cache line of scratch.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct CacheLine([u8; PANEL_ALIGN]);

/// `dst[m × n] = lhs · rhs`, or `dst += lhs · rhs` when `accumulate`; `dst`'s rows must be
/// adjacent (row stride 1), its column stride is `dst_cs`. `whole` is `(m, n)`, or for a
/// band of a split product the whole product's sides: the path (dot products or
/// micro-tiles, which sum in different orders) is chosen for the whole product, so that
/// every band gives the whole product's bits.
///
/// # Safety
///
/// Every element of the three matrices must be valid to read (and `dst`'s to write)
/// through the strides given; `dst` must not overlap the operands, and must be
/// initialised when `accumulate`. An overwriting product never reads `dst`.
pub(crate) unsafe fn product<T: Float>(
    dims: (usize, usize, usize),
    dst: *mut T,
    dst_cs: isize,
    lhs: Operand<T>,
    rhs: Operand<T>,
    accumulate: bool,
    whole: (usize, usize),
) {
    let kernels = kernels::<T>(crate::vmath::level());
    // SAFETY: the caller's contract.
    unsafe {
        product_with(
            kernels, BLOCKING, dims, dst, dst_cs, lhs, rhs, accumulate, whole,
        )
    }
}

/// [`product`] with the micro-kernels given.
///
/// # Safety
///
/// As for [`product`]; the CPU must run `kernels`' instruction set.
#[allow(clippy::too_many_arguments)]
unsafe fn product_with<T: Float>(
    kernels: &MicroKernels<T>,
    blocking: Blocking,
    (m, n, k): (usize, usize, usize),
    dst: *mut T,
    dst_cs: isize,
    lhs: Operand<T>,
    rhs: Operand<T>,
    accumulate: bool,
    whole: (usize, usize),
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for j in 0..n {
                for i in 0..m {
                    // SAFETY: inside `dst` (the caller's contract).
                    unsafe {
                        dst.offset(i as isize + j as isize * dst_cs)
                            .write(T::zero())
                    };
                }
            }
        }
        return;
    }
    if kernels.h_mr > 0 && lhs.cs == 1 && rhs.rs == 1 && takes_dot_products(whole) {
        // SAFETY: the caller's contract.
        unsafe { dot_products(kernels, (m, n, k), dst, dst_cs, lhs, rhs, accumulate) };
        return;
    }
    let (mr, nr) = (kernels.mr, kernels.nr);
    let size = std::mem::size_of::<T>();
    let kc = k.div_ceil(k.div_ceil(blocking.depth));
    // An operand with neither rows nor columns adjacent is packed for more than two panels
    // of rows; one with adjacent columns only for long depth blocks and many panels.
    let pack_rhs = if rhs.rs == 1 {
        m > RHS_PACKING_THRESHOLD * mr
    } else {
        let in_place =
            rhs.cs == 1 && (kc <= RHS_IN_PLACE_MAX_DEPTH || m < RHS_IN_PLACE_MIN_PANELS * mr);
        !in_place && m > 2 * mr
    };
    let pack_whole_lhs = lhs.rs != 1 || n > LHS_PACKING_THRESHOLD * nr;
    let mc = (blocking.lhs_bytes / (kc * size) / mr).max(1) * mr;
    let nc = if pack_rhs {
        (blocking.rhs_bytes / (kc * size) / nr).max(1) * nr
    } else {
        n
    };
    let lhs_len = m.min(mc).next_multiple_of(mr) * kc;
    let rhs_len = if pack_rhs {
        n.min(nc).next_multiple_of(nr) * kc
    } else {
        0
    };
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let lines = (lhs_len + rhs_len) * size / PANEL_ALIGN + 2;
        if scratch.len() < lines {
            scratch.resize(lines, CacheLine([0; PANEL_ALIGN]));
        }
        let base = scratch.as_mut_ptr().cast::<T>();
        let lhs_pack = base;
        // SAFETY: `lines` covers both regions, the second starting on a cache line.
        let rhs_pack = unsafe { base.add((lhs_len * size).next_multiple_of(PANEL_ALIGN) / size) };
        for col in (0..n).step_by(nc) {
            let cols = nc.min(n - col);
            for depth in (0..k).step_by(kc) {
                let depths = kc.min(k - depth);
                // The first depth block of an overwriting product writes `dst`; every
                // later block adds to it.
                let adds = accumulate || depth > 0;
                let rhs_block = if pack_rhs {
                    // SAFETY: the block lies in `rhs`, the packed copy in `rhs_pack`.
                    unsafe { pack_rhs_block(rhs.at(depth, col), rhs, depths, cols, nr, rhs_pack) };
                    Operand {
                        ptr: rhs_pack.cast_const(),
                        rs: nr as isize,
                        cs: 1,
                    }
                } else {
                    Operand {
                        ptr: rhs.at(depth, col),
                        ..rhs
                    }
                };
                for row in (0..m).step_by(mc) {
                    let rows = mc.min(m - row);
                    let panels = rows.div_ceil(mr);
                    // Pack the panels the micro-kernels cannot read in place: all of them
                    // when the rows are not adjacent or many tiles reuse them, else only
                    // a last panel of fewer rows than whole registers.
                    let packed = |panel_rows: usize| {
                        pack_whole_lhs || !panel_rows.is_multiple_of(kernels.lanes)
                    };
                    for p in 0..panels {
                        let panel_rows = mr.min(rows - p * mr);
                        if packed(panel_rows) {
                            // SAFETY: the panel lies in `lhs`; its packed copy, `mr · kc`
                            // elements at `p · mr · kc`, in `lhs_pack`.
                            unsafe {
                                pack_lhs_panel(
                                    lhs.at(row + p * mr, depth),
                                    lhs,
                                    panel_rows,
                                    depths,
                                    mr,
                                    lhs_pack.add(p * mr * kc),
                                )
                            };
                        }
                    }
                    for tile_col in (0..cols).step_by(nr) {
                        let tile_cols = nr.min(cols - tile_col);
                        let (rhs_ptr, rhs_rs, rhs_cs) = if pack_rhs {
                            (
                                rhs_block.ptr.wrapping_add(tile_col * depths),
                                rhs_block.rs,
                                rhs_block.cs,
                            )
                        } else {
                            (rhs_block.at(0, tile_col), rhs.rs, rhs.cs)
                        };
                        for p in 0..panels {
                            let tile_row = p * mr;
                            let tile_rows = mr.min(rows - tile_row);
                            let (lhs_ptr, lhs_cs) = if packed(tile_rows) {
                                (lhs_pack.add(p * mr * kc).cast_const(), mr as isize)
                            } else {
                                (lhs.at(row + tile_row, depth), lhs.cs)
                            };
                            let out = dst.wrapping_offset(
                                (row + tile_row) as isize + (col + tile_col) as isize * dst_cs,
                            );
                            // SAFETY: the tile lies in `dst`; the kernel reads
                            // `tile_rows` rounded up to whole registers of the panel
                            // (packed panels are padded with zeros, and a panel read in
                            // place has whole registers of rows) and `tile_cols`
                            // columns of the right operand, over `depths` steps.
                            unsafe {
                                kernels.for_tile(tile_rows, tile_cols)(
                                    tile_rows,
                                    tile_cols,
                                    depths,
                                    out,
                                    lhs_ptr,
                                    rhs_ptr,
                                    dst_cs,
                                    1,
                                    lhs_cs,
                                    rhs_rs,
                                    rhs_cs,
                                    T::one(),
                                    T::one(),
                                    u8::from(adds),
                                    false,
                                    false,
                                    false,
                                    std::ptr::null(),
                                )
                            };
                        }
                    }
                }
            }
        }
    });
}

/// Whether a product whose operands both run along the sum, and whose whole output is
/// `rows × cols`, takes the dot-product kernels (see [`DOT_MAX_OUTPUTS`]).
fn takes_dot_products((rows, cols): (usize, usize)) -> bool {
    rows * cols <= DOT_MAX_OUTPUTS || rows <= DOT_MAX_ROWS || cols <= DOT_MAX_COLS
}

/// [`product`] for few outputs, rows or columns (see [`takes_dot_products`]) whose
/// operands both run along the sum: each output is a dot product of a row of `lhs` and a
/// column of `rhs`, read in place by `gemm`'s dot-product kernels, in depth blocks of
/// [`DOT_DEPTH`].
///
/// # Safety
///
/// As for [`product`]; `lhs.cs` and `rhs.rs` must be 1 and `kernels.h_mr` not 0.
unsafe fn dot_products<T: Float>(
    kernels: &MicroKernels<T>,
    (m, n, k): (usize, usize, usize),
    dst: *mut T,
    dst_cs: isize,
    lhs: Operand<T>,
    rhs: Operand<T>,
    accumulate: bool,
) {
    for depth in (0..k).step_by(DOT_DEPTH) {
        let depths = DOT_DEPTH.min(k - depth);
        let adds = accumulate || depth > 0;
        for col in (0..n).step_by(kernels.h_nr) {
            let cols = kernels.h_nr.min(n - col);
            for row in (0..m).step_by(kernels.h_mr) {
                let rows = kernels.h_mr.min(m - row);
                // SAFETY: the tile lies in `dst`; the kernel reads `depths` adjacent
                // elements of each of its rows of `lhs` and columns of `rhs`.
                unsafe {
                    kernels.dot_for_tile(rows, cols)(
                        depths,
                        dst.wrapping_offset(row as isize + col as isize * dst_cs),
                        lhs.at(row, depth),
                        rhs.at(depth, col),
                        dst_cs,
                        1,
                        lhs.rs,
                        rhs.cs,
                        T::one(),
                        T::one(),
                        u8::from(adds),
                        false,
                        false,
                        false,
                    )
                };
            }
        }
    }
}

/// Packs `rows × depths` of the left operand starting at `src` into `dst` as `depths`
/// columns of `mr` adjacent elements, the rows past `rows` zero.
///
/// # Safety
///
/// `src` must address `rows × depths` readable elements through `lhs`'s strides, `dst`
/// `mr · depths` writable ones.
unsafe fn pack_lhs_panel<T: Float>(
    src: *const T,
    lhs: Operand<T>,
    rows: usize,
    depths: usize,
    mr: usize,
    dst: *mut T,
) {
    let src = Operand { ptr: src, ..lhs };
    if rows == mr && lhs.cs == 1 {
        // Rows of adjacent depths (a row-major weight read as `Wᵀ`): a tile transpose.
        let len = (rows - 1) * lhs.rs as usize + depths;
        // SAFETY: the caller's contract; `MaybeUninit<T>` has `T`'s layout.
        let (from, to) = unsafe {
            (
                std::slice::from_raw_parts(src.ptr, len),
                std::slice::from_raw_parts_mut(dst.cast(), mr * depths),
            )
        };
        crate::transpose::transposed_into(from, lhs.rs as usize, depths, mr, to);
        return;
    }
    for d in 0..depths {
        // SAFETY: the caller's contract.
        let column = unsafe { std::slice::from_raw_parts_mut(dst.add(d * mr), mr) };
        if lhs.rs == 1 {
            // SAFETY: the caller's contract: `rows` adjacent elements.
            column[..rows]
                .copy_from_slice(unsafe { std::slice::from_raw_parts(src.at(0, d), rows) });
        } else if lhs.cs != 1 {
            for (i, value) in column[..rows].iter_mut().enumerate() {
                // SAFETY: the caller's contract.
                *value = unsafe { *src.at(i, d) };
            }
        }
        column[rows..].fill(T::zero());
    }
    if lhs.cs == 1 && lhs.rs != 1 {
        // A part panel of rows of adjacent depths (a convolution's `colsᵀ`): row by row,
        // so that the reads run along memory; the writes stay in the panel (in L2).
        for i in 0..rows {
            // SAFETY: the caller's contract: row `i` has `depths` adjacent elements.
            let row = unsafe { std::slice::from_raw_parts(src.at(i, 0), depths) };
            for (d, &value) in row.iter().enumerate() {
                // SAFETY: the caller's contract.
                unsafe { dst.add(d * mr + i).write(value) };
            }
        }
    }
}

/// Packs `depths × cols` of the right operand starting at `src` into `dst` as panels of
/// `nr` columns, each `depths` rows of `nr` adjacent elements (the last panel's rows as
/// long as its columns).
///
/// # Safety
///
/// `src` must address `depths × cols` readable elements through `rhs`'s strides, `dst`
/// `cols` rounded up to `nr`, times `depths`, writable ones.
unsafe fn pack_rhs_block<T: Float>(
    src: *const T,
    rhs: Operand<T>,
    depths: usize,
    cols: usize,
    nr: usize,
    dst: *mut T,
) {
    let src = Operand { ptr: src, ..rhs };
    for panel_col in (0..cols).step_by(nr) {
        let width = nr.min(cols - panel_col);
        // SAFETY: the caller's contract: panel `panel_col / nr` starts `panel_col · depths`
        // elements in.
        let panel = unsafe { dst.add(panel_col * depths) };
        for d in 0..depths {
            // SAFETY: the caller's contract.
            let row = unsafe { std::slice::from_raw_parts_mut(panel.add(d * nr), width) };
            if rhs.cs == 1 {
                // SAFETY: the caller's contract: `width` adjacent elements.
                row.copy_from_slice(unsafe {
                    std::slice::from_raw_parts(src.at(d, panel_col), width)
                });
            } else {
                for (j, value) in row.iter_mut().enumerate() {
                    // SAFETY: the caller's contract.
                    *value = unsafe { *src.at(d, panel_col + j) };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmath::levels;
    use rand::{Rng, SeedableRng};

    /// A column-major `rows × cols` matrix stored with the given strides in a buffer of
    /// random values, and its values by index.
    struct Strided<T> {
        data: Vec<T>,
        rs: usize,
        cs: usize,
    }

    impl<T: Float> Strided<T> {
        fn random(rows: usize, cols: usize, row_major: bool, rng: &mut impl Rng) -> Self {
            // A gap of 3 beyond each line, so that strides are not the matrix's sides.
            let (rs, cs) = if row_major {
                (cols + 3, 1)
            } else {
                (1, rows + 3)
            };
            let len = rows.max(1) * cols.max(1) + 3 * (rows + cols) + 4;
            let data = (0..len).map(|_| T::of(rng.gen_range(-1.0..1.0))).collect();
            Strided { data, rs, cs }
        }

        fn get(&self, i: usize, j: usize) -> T {
            self.data[i * self.rs + j * self.cs]
        }

        fn operand(&self) -> Operand<T> {
            Operand {
                ptr: self.data.as_ptr(),
                rs: self.rs as isize,
                cs: self.cs as isize,
            }
        }
    }

    /// The product through each instruction set, against a sum in f64, for every layout
    /// of the two operands, overwriting and accumulating.
    fn check<T: Float>(m: usize, n: usize, k: usize, tolerance: f64) {
        // The product's own blocking, and one so small that every loop takes several
        // blocks.
        let tiny = Blocking {
            depth: 16,
            lhs_bytes: 1 << 10,
            rhs_bytes: 1 << 10,
        };
        for blocking in [BLOCKING, tiny] {
            check_blocked::<T>(blocking, m, n, k, tolerance);
        }
    }

    fn check_blocked<T: Float>(blocking: Blocking, m: usize, n: usize, k: usize, tolerance: f64) {
        let mut rng = rand::rngs::StdRng::seed_from_u64((m * 1_000_003 + n * 1009 + k) as u64);
        for level in levels() {
            let kernels = kernels::<T>(level);
            for (lhs_rows, rhs_rows) in [(false, false), (true, false), (false, true), (true, true)]
            {
                let lhs = Strided::<T>::random(m, k, lhs_rows, &mut rng);
                let rhs = Strided::<T>::random(k, n, rhs_rows, &mut rng);
                for accumulate in [false, true] {
                    let dst_cs = m + 2;
                    let start: Vec<T> = (0..dst_cs * n)
                        .map(|_| T::of(rng.gen_range(-1.0..1.0)))
                        .collect();
                    let mut dst = start.clone();
                    // SAFETY: every matrix lies in its buffer through its strides.
                    unsafe {
                        product_with(
                            kernels,
                            blocking,
                            (m, n, k),
                            dst.as_mut_ptr(),
                            dst_cs as isize,
                            lhs.operand(),
                            rhs.operand(),
                            accumulate,
                            (m, n),
                        )
                    };
                    for j in 0..n {
                        for i in 0..m {
                            let mut want: f64 = (0..k)
                                .map(|d| lhs.get(i, d).as_f64() * rhs.get(d, j).as_f64())
                                .sum();
                            if accumulate {
                                want += start[i + j * dst_cs].as_f64();
                            }
                            let got = dst[i + j * dst_cs].as_f64();
                            assert!(
                                (got - want).abs() <= tolerance * (1.0 + want.abs()),
                                "{level:?} {m}x{n}x{k} lhs rows {lhs_rows} rhs rows {rhs_rows} \
                                 accumulate {accumulate}: [{i}, {j}] {got} vs {want}"
                            );
                        }
                        // The gap between columns is never written.
                        for i in m..dst_cs {
                            assert_eq!(dst[i + j * dst_cs], start[i + j * dst_cs]);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn products_match_a_sum_in_f64_for_every_layout_and_instruction_set() {
        // Whole tiles, ragged edges, vectors, more than one depth block (k > 512), enough
        // rows that the right operand is packed (m > 2 · mr), and (with both operands
        // along the sum) the dot-product kernels.
        for (m, n, k) in [
            (1, 1, 1),
            (7, 5, 3),
            (16, 6, 8),
            (64, 6, 33),
            (67, 13, 9),
            (1, 40, 17),
            (40, 1, 17),
            (150, 20, 600),
            (200, 130, 70),
            // Enough rows and depth that a right operand with adjacent columns is packed
            // too (8 panels of f32 rows, 16 of f64, and depth blocks over 128).
            (520, 7, 300),
            // Few outputs over a long sum: the dot-product kernels, in several blocks.
            (9, 7, 2100),
            // Few rows, or few columns, of many outputs: the dot-product kernels too.
            (10, 100, 300),
            (300, 5, 200),
        ] {
            check::<f64>(m, n, k, 1e-12);
            check::<f32>(m, n, k, 1e-4);
        }
    }

    #[test]
    fn an_empty_sum_zeroes_or_keeps_the_destination() {
        let mut dst = vec![5.0f64; 6];
        let none = Operand {
            ptr: std::ptr::null(),
            rs: 1,
            cs: 1,
        };
        // SAFETY: with `k == 0` no operand is read.
        unsafe { product((2, 3, 0), dst.as_mut_ptr(), 2, none, none, true, (2, 3)) };
        assert_eq!(dst, [5.0; 6]);
        // SAFETY: as above.
        unsafe { product((2, 3, 0), dst.as_mut_ptr(), 2, none, none, false, (2, 3)) };
        assert_eq!(dst, [0.0; 6]);
    }

    #[test]
    fn bands_of_a_product_give_the_whole_products_bits() {
        // Operands that both run along the sum, so that a band of few outputs (the first,
        // 2 × 90) would take the dot-product kernels if the path were chosen per band.
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let (m, n, k) = (300, 90, 1100);
        let lhs = Strided::<f32>::random(m, k, true, &mut rng);
        let rhs = Strided::<f32>::random(k, n, false, &mut rng);
        let mut whole = vec![0.0f32; m * n];
        let mut banded = vec![0.0f32; m * n];
        // SAFETY: every matrix lies in its buffer; the bands tile `banded`.
        unsafe {
            product(
                (m, n, k),
                whole.as_mut_ptr(),
                m as isize,
                lhs.operand(),
                rhs.operand(),
                false,
                (m, n),
            );
            for (start, rows) in [(0, 2), (2, 110), (112, 37), (149, 151)] {
                let band_lhs = Operand {
                    ptr: lhs.operand().at(start, 0),
                    ..lhs.operand()
                };
                product(
                    (rows, n, k),
                    banded.as_mut_ptr().add(start),
                    m as isize,
                    band_lhs,
                    rhs.operand(),
                    false,
                    (m, n),
                );
            }
        }
        assert_eq!(whole, banded);
    }
}
