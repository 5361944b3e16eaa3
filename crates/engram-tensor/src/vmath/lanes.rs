//! The handful of lane-wise operations the polynomial kernels are written in, for one
//! plain scalar (any CPU) and for AVX2+FMA and AVX-512F registers. Every implementation
//! rounds exactly alike (IEEE operations, a fused multiply-add, ties-to-even rounding), so
//! a kernel gives bitwise the same result whichever one the CPU runs.
//!
//! The x86 implementations execute AVX2/FMA or AVX-512F instructions from safe methods:
//! this module is private, and its vector types are only used inside the
//! `#[target_feature]` entry points of `dispatch`, which run only after the CPU was
//! checked to have those features.

/// A register of `N` lanes of one float type, and the operations the kernels need.
pub(crate) trait Lanes: Copy {
    /// The element type (f32 or f64).
    type E: Copy;
    /// A lane-wise comparison result.
    type Mask: Copy;
    /// Per-lane positions in a 16-entry table (from [`Lanes::index`]), in whatever form
    /// [`Lanes::lookup`] reads fastest, so that one conversion serves every table of a
    /// kernel.
    type Index: Copy;
    /// How many elements one register holds.
    const N: usize;
    /// Loads `N` elements from `p`.
    ///
    /// # Safety
    /// `p` must be valid for reading `N` elements.
    unsafe fn load(p: *const Self::E) -> Self;
    /// Stores `N` elements to `p`.
    ///
    /// # Safety
    /// `p` must be valid for writing `N` elements.
    unsafe fn store(self, p: *mut Self::E);
    /// Every lane `v`.
    fn splat(v: Self::E) -> Self;
    /// `self + o`.
    fn add(self, o: Self) -> Self;
    /// `self - o`.
    fn sub(self, o: Self) -> Self;
    /// `self · o`.
    fn mul(self, o: Self) -> Self;
    /// `self / o`.
    fn div(self, o: Self) -> Self;
    /// `self · b + c` with one rounding.
    fn mul_add(self, b: Self, c: Self) -> Self;
    /// `c - self · b` with one rounding (bitwise `(-self).mul_add(b, c)`).
    fn neg_mul_add(self, b: Self, c: Self) -> Self;
    /// The larger of the two; `o` where either is NaN (the x86 `max` rule).
    fn max(self, o: Self) -> Self;
    /// The smaller of the two; `o` where either is NaN (the x86 `min` rule).
    fn min(self, o: Self) -> Self;
    /// Rounds to the nearest integer, ties to even.
    fn round(self) -> Self;
    /// `|self|`.
    fn abs(self) -> Self;
    /// `self` with the sign bit of `sign` set where `sign`'s is (for `self >= 0`: copysign).
    fn with_sign_of(self, sign: Self) -> Self;
    /// `self < o` (false for NaN).
    fn lt(self, o: Self) -> Self::Mask;
    /// `self == o` (false for NaN).
    fn eq(self, o: Self) -> Self::Mask;
    /// `!(self >= o)`: true for NaN.
    fn not_ge(self, o: Self) -> Self::Mask;
    /// `on_true` where `m`, else `on_false`.
    fn select(m: Self::Mask, on_true: Self, on_false: Self) -> Self;
    /// Whether `m` holds in any lane.
    fn any(m: Self::Mask) -> bool;
    /// `2^n` for integer-valued `n` within the normal exponent range.
    fn pow2(n: Self) -> Self;
    /// For positive normal `self = 2^(e - bias) · m`: the biased exponent `e` as a float
    /// and the significand `m ∈ [1, 2)`.
    fn exponent_significand(self) -> (Self, Self);
    /// The table positions held in `self`, whose lanes must be `k + ROUND_TO_INTEGER` for
    /// integers `k` in `0..=15` (NaN lanes give some position): `k` is then the low four
    /// bits of the significand, so the addition that rounds a kernel's index also converts
    /// it, with no float-to-integer conversion.
    fn index(self) -> Self::Index;
    /// `table[i]` in every lane: a per-lane coefficient, for kernels that pick one of 16
    /// polynomials by the argument's interval.
    fn lookup(table: &[Self::E; 16], i: Self::Index) -> Self;
}

/// Scalar lanes: the fallback on CPUs without AVX2+FMA, and for non-x86 targets.
macro_rules! scalar_lanes {
    ($t:ty, $bits:ty, $mant:expr, $bias:expr, $sign:expr) => {
        impl Lanes for $t {
            type E = $t;
            type Mask = bool;
            type Index = usize;
            const N: usize = 1;
            #[inline(always)]
            unsafe fn load(p: *const $t) -> Self {
                // SAFETY: the caller guarantees `p` is readable for one element.
                unsafe { p.read() }
            }
            #[inline(always)]
            unsafe fn store(self, p: *mut $t) {
                // SAFETY: the caller guarantees `p` is writable for one element.
                unsafe { p.write(self) }
            }
            #[inline(always)]
            fn splat(v: $t) -> Self {
                v
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self + o
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self - o
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self * o
            }
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                self / o
            }
            #[inline(always)]
            fn mul_add(self, b: Self, c: Self) -> Self {
                <$t>::mul_add(self, b, c)
            }
            #[inline(always)]
            fn neg_mul_add(self, b: Self, c: Self) -> Self {
                <$t>::mul_add(-self, b, c)
            }
            #[inline(always)]
            fn max(self, o: Self) -> Self {
                if self > o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn min(self, o: Self) -> Self {
                if self < o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn round(self) -> Self {
                self.round_ties_even()
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn with_sign_of(self, sign: Self) -> Self {
                let s = sign.to_bits() & (1 << $sign);
                <$t>::from_bits(self.to_bits() | s)
            }
            #[inline(always)]
            fn lt(self, o: Self) -> bool {
                self < o
            }
            #[inline(always)]
            fn eq(self, o: Self) -> bool {
                self == o
            }
            #[inline(always)]
            fn not_ge(self, o: Self) -> bool {
                self < o || self.is_nan() || o.is_nan()
            }
            #[inline(always)]
            fn select(m: bool, on_true: Self, on_false: Self) -> Self {
                if m {
                    on_true
                } else {
                    on_false
                }
            }
            #[inline(always)]
            fn any(m: bool) -> bool {
                m
            }
            #[inline(always)]
            fn pow2(n: Self) -> Self {
                <$t>::from_bits(((n as i32 + $bias) as $bits) << $mant)
            }
            #[inline(always)]
            fn exponent_significand(self) -> (Self, Self) {
                let bits = self.to_bits();
                let one = (1.0 as $t).to_bits();
                let e = (bits >> $mant) as $t;
                let m = <$t>::from_bits((bits & ((1 << $mant) - 1)) | one);
                (e, m)
            }
            #[inline(always)]
            fn index(self) -> usize {
                (self.to_bits() & 15) as usize
            }
            #[inline(always)]
            fn lookup(table: &[$t; 16], i: usize) -> Self {
                // The mask keeps the access in bounds without a check, as the permutes'
                // low index bits do.
                table[i & 15]
            }
        }
    };
}

scalar_lanes!(f64, u64, 52, 1023, 63);
scalar_lanes!(f32, u32, 23, 127, 31);

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{F32x16, F32x8, F64x4, F64x8};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Lanes;
    use std::arch::x86_64::*;

    /// Four f64 lanes in an AVX2 register.
    #[derive(Clone, Copy)]
    pub(crate) struct F64x4(__m256d);
    /// Eight f32 lanes in an AVX2 register.
    #[derive(Clone, Copy)]
    pub(crate) struct F32x8(__m256);
    /// Eight f64 lanes in an AVX-512 register.
    #[derive(Clone, Copy)]
    pub(crate) struct F64x8(__m512d);
    /// Sixteen f32 lanes in an AVX-512 register.
    #[derive(Clone, Copy)]
    pub(crate) struct F32x16(__m512);

    const NEAREST: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

    // SAFETY (every `unsafe` block below): the intrinsics need AVX2 and FMA (the x4/x8
    // AVX2 types) or AVX-512F (the x8/x16 AVX-512 types), which the dispatcher checked
    // before entering the only code that uses these types; the loads and stores are
    // unaligned ones on pointers the caller vouches for, or on a `&[_; 16]` table, which
    // holds the 16 elements read.
    /// Defines a bitwise operation on AVX-512 float registers through its integer form:
    /// the float forms (`_mm512_and_pd` and the like) need AVX-512DQ, which the
    /// dispatcher does not check for.
    macro_rules! bitwise512 {
        ($($name:ident = $int:ident on $t:ident via $to:ident, $from:ident;)*) => {$(
            #[inline(always)]
            unsafe fn $name(a: $t, b: $t) -> $t {
                unsafe { $from($int($to(a), $to(b))) }
            }
        )*};
    }

    bitwise512! {
        and_pd512 = _mm512_and_si512 on __m512d via _mm512_castpd_si512, _mm512_castsi512_pd;
        or_pd512 = _mm512_or_si512 on __m512d via _mm512_castpd_si512, _mm512_castsi512_pd;
        andnot_pd512 = _mm512_andnot_si512 on __m512d via _mm512_castpd_si512, _mm512_castsi512_pd;
        and_ps512 = _mm512_and_si512 on __m512 via _mm512_castps_si512, _mm512_castsi512_ps;
        or_ps512 = _mm512_or_si512 on __m512 via _mm512_castps_si512, _mm512_castsi512_ps;
        andnot_ps512 = _mm512_andnot_si512 on __m512 via _mm512_castps_si512, _mm512_castsi512_ps;
    }

    macro_rules! avx_lanes {
        (
            $ty:ident, $e:ty, $n:expr, mask $mask:ty, index $index:ty,
            $load:ident, $store:ident, $set1:ident, $add:ident, $sub:ident, $mul:ident,
            $div:ident, $fma:ident, $fnma:ident, $max:ident, $min:ident, $and:ident,
            $or:ident,
            $andnot:ident, cmp $cmp:ident,
            blend |$bm:ident, $bt:ident, $bf:ident| $blend:expr,
            any |$am:ident| $any:expr,
            round |$rx:ident| $round:expr,
            pow2 |$pn:ident| $pow2:expr,
            expsig |$ex:ident| $expsig:expr,
            index |$ix:ident| $to_index:expr,
            lookup |$lt:ident, $li:ident| $lookup:expr
        ) => {
            impl Lanes for $ty {
                type E = $e;
                type Mask = $mask;
                type Index = $index;
                const N: usize = $n;
                #[inline(always)]
                unsafe fn load(p: *const $e) -> Self {
                    unsafe { $ty($load(p)) }
                }
                #[inline(always)]
                unsafe fn store(self, p: *mut $e) {
                    unsafe { $store(p, self.0) }
                }
                #[inline(always)]
                fn splat(v: $e) -> Self {
                    unsafe { $ty($set1(v)) }
                }
                #[inline(always)]
                fn add(self, o: Self) -> Self {
                    unsafe { $ty($add(self.0, o.0)) }
                }
                #[inline(always)]
                fn sub(self, o: Self) -> Self {
                    unsafe { $ty($sub(self.0, o.0)) }
                }
                #[inline(always)]
                fn mul(self, o: Self) -> Self {
                    unsafe { $ty($mul(self.0, o.0)) }
                }
                #[inline(always)]
                fn div(self, o: Self) -> Self {
                    unsafe { $ty($div(self.0, o.0)) }
                }
                #[inline(always)]
                fn mul_add(self, b: Self, c: Self) -> Self {
                    unsafe { $ty($fma(self.0, b.0, c.0)) }
                }
                #[inline(always)]
                fn neg_mul_add(self, b: Self, c: Self) -> Self {
                    unsafe { $ty($fnma(self.0, b.0, c.0)) }
                }
                #[inline(always)]
                fn max(self, o: Self) -> Self {
                    unsafe { $ty($max(self.0, o.0)) }
                }
                #[inline(always)]
                fn min(self, o: Self) -> Self {
                    unsafe { $ty($min(self.0, o.0)) }
                }
                #[inline(always)]
                fn round(self) -> Self {
                    let $rx = self.0;
                    $ty($round)
                }
                #[inline(always)]
                fn abs(self) -> Self {
                    unsafe { $ty($andnot($set1(-0.0), self.0)) }
                }
                #[inline(always)]
                fn with_sign_of(self, sign: Self) -> Self {
                    unsafe { $ty($or(self.0, $and(sign.0, $set1(-0.0)))) }
                }
                #[inline(always)]
                fn lt(self, o: Self) -> $mask {
                    unsafe { $cmp::<_CMP_LT_OQ>(self.0, o.0) }
                }
                #[inline(always)]
                fn eq(self, o: Self) -> $mask {
                    unsafe { $cmp::<_CMP_EQ_OQ>(self.0, o.0) }
                }
                #[inline(always)]
                fn not_ge(self, o: Self) -> $mask {
                    unsafe { $cmp::<_CMP_NGE_UQ>(self.0, o.0) }
                }
                #[inline(always)]
                fn select(m: $mask, on_true: Self, on_false: Self) -> Self {
                    let ($bm, $bt, $bf) = (m, on_true.0, on_false.0);
                    $ty($blend)
                }
                #[inline(always)]
                fn any($am: $mask) -> bool {
                    $any
                }
                #[inline(always)]
                fn pow2(n: Self) -> Self {
                    let $pn = n.0;
                    $ty($pow2)
                }
                #[inline(always)]
                fn exponent_significand(self) -> (Self, Self) {
                    let $ex = self.0;
                    let (e, m) = $expsig;
                    ($ty(e), $ty(m))
                }
                #[inline(always)]
                fn index(self) -> $index {
                    let $ix = self.0;
                    $to_index
                }
                #[inline(always)]
                fn lookup($lt: &[$e; 16], $li: $index) -> Self {
                    $ty($lookup)
                }
            }
        };
    }

    avx_lanes!(
        F64x4, f64, 4, mask __m256d, index [usize; 4],
        _mm256_loadu_pd, _mm256_storeu_pd, _mm256_set1_pd, _mm256_add_pd, _mm256_sub_pd,
        _mm256_mul_pd, _mm256_div_pd, _mm256_fmadd_pd, _mm256_fnmadd_pd,
        _mm256_max_pd, _mm256_min_pd,
        _mm256_and_pd, _mm256_or_pd, _mm256_andnot_pd, cmp _mm256_cmp_pd,
        blend |m, t, f| unsafe { _mm256_blendv_pd(f, t, m) },
        any |m| unsafe { _mm256_movemask_pd(m) != 0 },
        round |x| unsafe { _mm256_round_pd::<NEAREST>(x) },
        // n + 1.5·2^52 holds n in its low bits; adding the bias and shifting it into the
        // exponent field gives 2^n.
        pow2 |n| unsafe {
            let magic = _mm256_set1_pd(6755399441055744.0);
            let i = _mm256_castpd_si256(_mm256_add_pd(n, magic));
            let biased = _mm256_sub_epi64(i, _mm256_set1_epi64x(0x4338_0000_0000_0000 - 1023));
            _mm256_castsi256_pd(_mm256_slli_epi64::<52>(biased))
        },
        // The exponent field, or-ed into 2^52's significand, is that integer plus 2^52.
        expsig |x| unsafe {
            let bits = _mm256_castpd_si256(x);
            let two52 = _mm256_set1_epi64x(0x4330_0000_0000_0000);
            let e = _mm256_or_si256(_mm256_srli_epi64::<52>(bits), two52);
            let e = _mm256_sub_pd(_mm256_castsi256_pd(e), _mm256_set1_pd(4503599627370496.0));
            let sig = _mm256_and_si256(bits, _mm256_set1_epi64x(0x000F_FFFF_FFFF_FFFF));
            let m = _mm256_or_si256(sig, _mm256_set1_epi64x(0x3FF0_0000_0000_0000));
            (e, _mm256_castsi256_pd(m))
        },
        // A 16-entry f64 table spans four registers, too many to permute, so each lane
        // reads its entry with a scalar load: a gather's speed varies widely across AVX2
        // CPUs (slow on AMD's Zen 2, for one).
        index |k| unsafe {
            let mut out = [0u64; 4];
            _mm256_storeu_si256(out.as_mut_ptr().cast(), _mm256_castpd_si256(k));
            out.map(|b| (b & 15) as usize)
        },
        lookup |t, i| unsafe { _mm256_setr_pd(t[i[0] & 15], t[i[1] & 15], t[i[2] & 15], t[i[3] & 15]) }
    );

    avx_lanes!(
        F32x8, f32, 8, mask __m256, index (__m256i, __m256),
        _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_add_ps, _mm256_sub_ps,
        _mm256_mul_ps, _mm256_div_ps, _mm256_fmadd_ps, _mm256_fnmadd_ps,
        _mm256_max_ps, _mm256_min_ps,
        _mm256_and_ps, _mm256_or_ps, _mm256_andnot_ps, cmp _mm256_cmp_ps,
        blend |m, t, f| unsafe { _mm256_blendv_ps(f, t, m) },
        any |m| unsafe { _mm256_movemask_ps(m) != 0 },
        round |x| unsafe { _mm256_round_ps::<NEAREST>(x) },
        pow2 |n| unsafe {
            let biased = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
            _mm256_castsi256_ps(_mm256_slli_epi32::<23>(biased))
        },
        expsig |x| unsafe {
            let bits = _mm256_castps_si256(x);
            let e = _mm256_cvtepi32_ps(_mm256_srli_epi32::<23>(bits));
            let sig = _mm256_and_si256(bits, _mm256_set1_epi32(0x007F_FFFF));
            let m = _mm256_or_si256(sig, _mm256_set1_epi32(0x3F80_0000));
            (e, _mm256_castsi256_ps(m))
        },
        // The table is two registers: each is permuted by the index's low three bits and
        // bit 3 (shifted into the sign bit, which `blendv` reads) picks between them.
        index |k| unsafe {
            let i = _mm256_castps_si256(k);
            (i, _mm256_castsi256_ps(_mm256_slli_epi32::<28>(i)))
        },
        lookup |t, i| unsafe {
            let low = _mm256_permutevar8x32_ps(_mm256_loadu_ps(t.as_ptr()), i.0);
            let high = _mm256_permutevar8x32_ps(_mm256_loadu_ps(t.as_ptr().add(8)), i.0);
            _mm256_blendv_ps(low, high, i.1)
        }
    );

    avx_lanes!(
        F64x8, f64, 8, mask __mmask8, index __m512i,
        _mm512_loadu_pd, _mm512_storeu_pd, _mm512_set1_pd, _mm512_add_pd, _mm512_sub_pd,
        _mm512_mul_pd, _mm512_div_pd, _mm512_fmadd_pd, _mm512_fnmadd_pd,
        _mm512_max_pd, _mm512_min_pd,
        and_pd512, or_pd512, andnot_pd512, cmp _mm512_cmp_pd_mask,
        blend |m, t, f| unsafe { _mm512_mask_blend_pd(m, f, t) },
        any |m| m != 0,
        round |x| unsafe { _mm512_roundscale_pd::<NEAREST>(x) },
        // `scalef(1, n) = 2^n` in one instruction (the bit trick of the other levels takes
        // three); the same value for every `n` the contract allows.
        pow2 |n| unsafe { _mm512_scalef_pd(_mm512_set1_pd(1.0), n) },
        expsig |x| unsafe {
            let bits = _mm512_castpd_si512(x);
            let two52 = _mm512_set1_epi64(0x4330_0000_0000_0000);
            let e = _mm512_or_si512(_mm512_srli_epi64::<52>(bits), two52);
            let e = _mm512_sub_pd(_mm512_castsi512_pd(e), _mm512_set1_pd(4503599627370496.0));
            let sig = _mm512_and_si512(bits, _mm512_set1_epi64(0x000F_FFFF_FFFF_FFFF));
            let m = _mm512_or_si512(sig, _mm512_set1_epi64(0x3FF0_0000_0000_0000));
            (e, _mm512_castsi512_pd(m))
        },
        // The permute reads only the low four bits; the table is two registers, bit 3
        // picking one.
        index |k| unsafe { _mm512_castpd_si512(k) },
        lookup |t, i| unsafe {
            _mm512_permutex2var_pd(_mm512_loadu_pd(t.as_ptr()), i, _mm512_loadu_pd(t.as_ptr().add(8)))
        }
    );

    avx_lanes!(
        F32x16, f32, 16, mask __mmask16, index __m512i,
        _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_add_ps, _mm512_sub_ps,
        _mm512_mul_ps, _mm512_div_ps, _mm512_fmadd_ps, _mm512_fnmadd_ps,
        _mm512_max_ps, _mm512_min_ps,
        and_ps512, or_ps512, andnot_ps512, cmp _mm512_cmp_ps_mask,
        blend |m, t, f| unsafe { _mm512_mask_blend_ps(m, f, t) },
        any |m| m != 0,
        round |x| unsafe { _mm512_roundscale_ps::<NEAREST>(x) },
        // `scalef(1, n) = 2^n` in one instruction (the bit trick of the other levels takes
        // three); the same value for every `n` the contract allows.
        pow2 |n| unsafe { _mm512_scalef_ps(_mm512_set1_ps(1.0), n) },
        expsig |x| unsafe {
            let bits = _mm512_castps_si512(x);
            let e = _mm512_cvtepi32_ps(_mm512_srli_epi32::<23>(bits));
            let sig = _mm512_and_si512(bits, _mm512_set1_epi32(0x007F_FFFF));
            let m = _mm512_or_si512(sig, _mm512_set1_epi32(0x3F80_0000));
            (e, _mm512_castsi512_ps(m))
        },
        // The whole table is one register.
        index |k| unsafe { _mm512_castps_si512(k) },
        lookup |t, i| unsafe { _mm512_permutexvar_ps(i, _mm512_loadu_ps(t.as_ptr())) }
    );
}
