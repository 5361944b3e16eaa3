//! Vectorised `exp`, `expm1`, `ln`, `log1p`, `tanh`, `softplus`, `sigmoid`, `erf`, `sin`
//! and `cos` over slices, in f32 and f64.
//!
//! One polynomial kernel per function (`kernels`, and `trig` for `sin` and `cos`), written
//! over a small lane abstraction (`lanes`) and compiled three times: for AVX-512F, for
//! AVX2+FMA and for a plain scalar.
//! The CPU is checked once, at the first call, and the widest version it supports runs.
//! `std::arch` rather than `pulp`: the kernels need integer shifts on 64-bit lanes and
//! float-to-int conversion (to build `2^n` and split exponents), which `pulp`'s portable
//! `Simd` trait does not offer, and a hand-written lane trait keeps every version rounding
//! alike — the three give bitwise identical results (asserted in `tests`).

mod constants;
mod erf_tables;
mod kernels;
mod lanes;
#[cfg(test)]
mod tests;
mod trig;

use constants::Constants;
use lanes::Lanes;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

/// The elementwise functions that have vectorised kernels. More may come, so a match on
/// it needs a wildcard arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transcendental {
    /// `e^x`.
    Exp,
    /// `e^x - 1`, accurate near 0.
    Expm1,
    /// `ln x`.
    Ln,
    /// `ln(1 + x)`, accurate near 0.
    Log1p,
    /// `tanh x`.
    Tanh,
    /// `ln(1 + e^x)`.
    Softplus,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// The error function `(2/√π) ∫₀ˣ e^(-t²) dt`.
    Erf,
    /// `sin x`.
    Sin,
    /// `cos x`.
    Cos,
}

/// The widest instruction set the kernels can use on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// One element at a time.
    Scalar,
    /// 256-bit registers with fused multiply-add.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// 512-bit registers.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

/// The level this CPU supports, detected once.
pub(crate) fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") {
                return Level::Avx512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Level::Avx2;
            }
        }
        Level::Scalar
    })
}

/// Every level this CPU can run, for tests that hold each one to the same results.
#[cfg(test)]
pub(crate) fn levels() -> Vec<Level> {
    let mut out = vec![Level::Scalar];
    #[cfg(target_arch = "x86_64")]
    out.extend(
        [Level::Avx2, Level::Avx512]
            .into_iter()
            .filter(|&l| l <= level()),
    );
    out
}

/// One kernel, named by a type. `drive` calls it as `K::apply` so that it inlines straight
/// into the `#[target_feature]` entry points: a function item passed as `impl Fn` is called
/// through its `Fn::call` shim, which is compiled without the target features and so keeps
/// every intrinsic an out-of-line call (5-10× slower than scalar code).
trait Kernel {
    /// The kernel on one register.
    fn apply<V: Lanes>(x: V) -> V
    where
        V::E: Constants;
}

macro_rules! kernel_types {
    ($($(#[$doc:meta])* $name:ident => $f:path;)*) => {$(
        $(#[$doc])*
        struct $name;
        impl Kernel for $name {
            #[inline(always)]
            fn apply<V: Lanes>(x: V) -> V
            where
                V::E: Constants,
            {
                $f(x)
            }
        }
    )*};
}

kernel_types! {
    /// [`kernels::exp`].
    ExpKernel => kernels::exp;
    /// [`kernels::expm1`].
    Expm1Kernel => kernels::expm1;
    /// [`kernels::ln`].
    LnKernel => kernels::ln;
    /// [`kernels::log1p`].
    Log1pKernel => kernels::log1p;
    /// [`kernels::tanh`].
    TanhKernel => kernels::tanh;
    /// [`kernels::softplus`].
    SoftplusKernel => kernels::softplus;
    /// [`kernels::sigmoid`].
    SigmoidKernel => kernels::sigmoid;
    /// [`kernels::erf`].
    ErfKernel => kernels::erf;
    /// [`trig::sin`].
    SinKernel => trig::sin;
    /// [`trig::cos`].
    CosKernel => trig::cos;
}

/// How far ahead of the kernel its input and output are fetched into cache, in bytes.
/// A transcendental spends long enough on each cache line that the hardware prefetchers
/// do not run far enough ahead on their own: on 16M elements (2 threads, Intel Xeon) the
/// time was the copy's plus the arithmetic's, 1.5–2.8× a copy; with 4 KiB of software
/// prefetch (input, and output with intent to write) memory and arithmetic overlap and
/// exp runs at 1.06× a copy. 2 and 8 KiB measured the same within noise.
const PREFETCH_BYTES: usize = 4096;

/// Bytes in a cache line: one prefetch each.
const CACHE_LINE_BYTES: usize = 64;

/// Asks for the cache lines [`PREFETCH_BYTES`] ahead of `src` and `dst`: to read, and to
/// write. A prefetch never faults, so the addresses may lie past the slices' ends.
#[inline(always)]
fn prefetch_ahead<E>(src: *const E, dst: *mut E) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_ET0, _MM_HINT_T0};
        let ahead = PREFETCH_BYTES / std::mem::size_of::<E>();
        // SAFETY: prefetches only hint the cache; they read and write nothing.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(src.wrapping_add(ahead).cast::<i8>());
            _mm_prefetch::<_MM_HINT_ET0>(dst.wrapping_add(ahead).cast::<i8>().cast_const());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (src, dst);
}

/// Applies kernel `K` to `src` register by register; the last partial register goes
/// through a padded copy, so every element gets exactly the same arithmetic.
#[inline(always)]
fn drive<V: Lanes, K: Kernel>(src: &[V::E], dst: &mut [MaybeUninit<V::E>])
where
    V::E: Constants,
{
    assert_eq!(
        src.len(),
        dst.len(),
        "vmath: source and destination lengths"
    );
    let full = src.len() - src.len() % V::N;
    // Elements per cache line: a whole number of registers for every lane type.
    let per_line = (CACHE_LINE_BYTES / std::mem::size_of::<V::E>()).max(V::N);
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr().cast::<V::E>());
    let mut i = 0;
    while i < full {
        prefetch_ahead(s.wrapping_add(i), d.wrapping_add(i));
        let line_end = (i + per_line).min(full);
        while i < line_end {
            // SAFETY: `i + N <= full <= len` for both slices, which have the same length.
            unsafe { K::apply(V::load(s.add(i))).store(d.add(i)) };
            i += V::N;
        }
    }
    if full < src.len() {
        let mut buf = [V::E::ZERO; 16];
        let rest = src.len() - full;
        buf[..rest].copy_from_slice(&src[full..]);
        // SAFETY: `buf` holds 16 elements, at least `N` for every lane type.
        unsafe { K::apply(V::load(buf.as_ptr())).store(buf.as_mut_ptr()) };
        for (o, &v) in dst[full..].iter_mut().zip(&buf) {
            o.write(v);
        }
    }
}

/// Runs `f` with lanes `V`.
#[inline(always)]
fn run<V: Lanes>(f: Transcendental, src: &[V::E], dst: &mut [MaybeUninit<V::E>])
where
    V::E: Constants,
{
    match f {
        Transcendental::Exp => drive::<V, ExpKernel>(src, dst),
        Transcendental::Expm1 => drive::<V, Expm1Kernel>(src, dst),
        Transcendental::Ln => drive::<V, LnKernel>(src, dst),
        Transcendental::Log1p => drive::<V, Log1pKernel>(src, dst),
        Transcendental::Tanh => drive::<V, TanhKernel>(src, dst),
        Transcendental::Softplus => drive::<V, SoftplusKernel>(src, dst),
        Transcendental::Sigmoid => drive::<V, SigmoidKernel>(src, dst),
        Transcendental::Erf => drive::<V, ErfKernel>(src, dst),
        Transcendental::Sin => drive::<V, SinKernel>(src, dst),
        Transcendental::Cos => drive::<V, CosKernel>(src, dst),
    }
}

/// [`run`] compiled for AVX2+FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<V: Lanes>(f: Transcendental, src: &[V::E], dst: &mut [MaybeUninit<V::E>])
where
    V::E: Constants,
{
    run::<V>(f, src, dst)
}

/// [`run`] compiled for AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn run_avx512<V: Lanes>(f: Transcendental, src: &[V::E], dst: &mut [MaybeUninit<V::E>])
where
    V::E: Constants,
{
    run::<V>(f, src, dst)
}

macro_rules! apply_for {
    ($(#[$doc:meta])* $name:ident, $e:ty, $avx2:ident, $avx512:ident) => {
        $(#[$doc])*
        ///
        /// `level` must not exceed [`level()`].
        #[track_caller]
        pub(crate) fn $name(
            level: Level,
            f: Transcendental,
            src: &[$e],
            dst: &mut [MaybeUninit<$e>],
        ) {
            assert!(level <= self::level(), "vmath: {level:?} is not supported by this CPU");
            if src.len() != dst.len() {
                crate::shape::shape_error(
                    "transcendental",
                    format!(
                        "{f:?}: the destination has {} elements, the source {}",
                        dst.len(),
                        src.len()
                    ),
                );
            }
            match level {
                Level::Scalar => run::<$e>(f, src, dst),
                // SAFETY: the assertion above checked that the CPU supports the level.
                #[cfg(target_arch = "x86_64")]
                Level::Avx2 => unsafe { run_avx2::<lanes::$avx2>(f, src, dst) },
                #[cfg(target_arch = "x86_64")]
                Level::Avx512 => unsafe { run_avx512::<lanes::$avx512>(f, src, dst) },
            }
        }
    };
}

apply_for!(
    /// `f` of every f64 of `src` into `dst` (same length), at the given level.
    apply_f64, f64, F64x4, F64x8
);
apply_for!(
    /// `f` of every f32 of `src` into `dst` (same length), at the given level.
    apply_f32, f32, F32x8, F32x16
);
