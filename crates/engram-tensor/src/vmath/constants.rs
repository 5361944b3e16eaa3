//! The constants the kernels need, per precision, and the libm routines they fall back
//! to. Taylor coefficients are computed at compile time, so each of those tables is its
//! formula; the fitted ones are the output of `tools/vmath/fit_polynomials.py`.

use super::erf_tables;

/// Per-precision constants for the kernels in `kernels` and `trig`.
pub(crate) trait Constants: Copy + PartialEq + 'static {
    /// 0.
    const ZERO: Self;
    /// ½.
    const HALF: Self;
    /// -½.
    const NEG_HALF: Self;
    /// 1.
    const ONE: Self;
    /// -1.
    const NEG_ONE: Self;
    /// 2.
    const TWO: Self;
    /// √2.
    const SQRT_2: Self;
    /// +∞.
    const INFINITY: Self;
    /// -∞.
    const NEG_INFINITY: Self;
    /// A quiet NaN.
    const NAN: Self;
    /// The smallest positive normal number.
    const MIN_POSITIVE: Self;
    /// `2^SUBNORMAL_SHIFT`: lifts any subnormal into the normal range.
    const SUBNORMAL_SCALE: Self;
    /// `-SUBNORMAL_SHIFT`, the exponent to add back after that scaling.
    const NEG_SUBNORMAL_SHIFT: Self;
    /// The exponent bias (1023 or 127).
    const EXPONENT_BIAS: Self;
    /// `1.5 · 2^52` (`1.5 · 2^23`): `x + ROUND_TO_INTEGER` rounds `|x| < 2^51` (`2^22`) to
    /// the nearest integer, ties to even, held in the low bits of the sum's significand;
    /// subtracting it again gives that integer exactly.
    const ROUND_TO_INTEGER: Self;
    /// `log2 e`.
    const LOG2E: Self;
    /// `ln 2` rounded to few enough bits that `n · LN2_HI` is exact for every `n` used.
    const LN2_HI: Self;
    /// `ln 2 - LN2_HI`.
    const LN2_LO: Self;
    /// `-LN2_HI`.
    const NEG_LN2_HI: Self;
    /// `-LN2_LO`.
    const NEG_LN2_LO: Self;
    /// Below this `e^x` rounds to 0 (clamping keeps `2^n` in range).
    const EXP_MIN: Self;
    /// Above this `e^x` overflows to ∞.
    const EXP_MAX: Self;
    /// The largest `|n|` for which `2^n` and `2^-n` are both normal (1022, 126): `e^x`
    /// scales by `2^n` in one multiplication when every lane's `n` is within it.
    const POW2_ONE_STEP: Self;
    /// Below this `e^x - 1` rounds to -1.
    const EXPM1_MIN: Self;
    /// `1/k!` from the highest `k` the precision needs down to `k = 0` (on `|r| <= ln 2 / 2`
    /// the first term left out is below 2^-60 relative in f64, 2^-27 in f32).
    const EXP_TAYLOR: &'static [Self];
    /// `Q` in `e^r - 1 = r + r² Q(r)` on `|r| <= ln 2 / 2`, highest degree first: fitted by
    /// `tools/vmath/fit_polynomials.py` to 2^-57 (f64), 2^-28 (f32) relative to `e^r - 1`.
    const EXPM1_Q: &'static [Self];
    /// `tanh`'s form of the reduction, on `w = y / 2` (see `kernels::tanh`): `2 log2 e`,
    /// `-LN2_HI / 2`, `-LN2_LO / 2`, `EXPM1_MIN / 2`, and `EXPM1_Q` with each coefficient
    /// times `2^(degree + 1)` (all exact scalings, so every step gives half its value on
    /// `y`, bit for bit).
    const HALVED_EXPM1: HalvedExpm1<Self>;
    /// `1 / w`, where `w` is the width of `erf`'s intervals: `k = round(|x| / w)` numbers
    /// the interval, centred on `k w` (interval 0 is `[0, w / 2]`).
    const ERF_INDEX_SCALE: Self;
    /// `-w`: `t = |x| - k w` in one exact fused multiply-add.
    const ERF_NEG_WIDTH: Self;
    /// Past the point where `erf` rounds to ±1 (the polynomial at `ERFC_MAX` does too, and
    /// larger `|x|` are clamped to it), and just below `15.5 w`, the end of the last
    /// interval, so that `|x| / w` rounds to at most 15 without a clamp of its own.
    const ERFC_MAX: Self;
    /// Intervals `k` below this take the product form `erf a = a (H + R(t))`, which keeps
    /// full relative precision as `a` goes to 0; the others `erf a = c0 + t (H + R(t))`,
    /// where `c0 + t H` would cancel in the first intervals.
    const ERF_PRODUCT_FORM_BELOW: Self;
    /// `c0 = erf(k w)` per interval, rounded (0 in the product form) …
    const ERF_BASE: &'static [Self; 16];
    /// … and what the rounding left out, added before `c0` so that `c0` costs no rounding.
    const ERF_BASE_LO: &'static [Self; 16];
    /// `H` per interval, rounded: `erf(k w) / (k w)` (`2/√π` for `k = 0`) in the product
    /// form, `erf'(k w)` in the other; its rounding error is part of `R`.
    const ERF_SLOPE: &'static [Self; 16];
    /// `R` per interval, a polynomial in `t`, one row per coefficient, highest degree first:
    /// fitted by `tools/vmath/fit_polynomials.py` to 2^-54 (f64: 2^-57 would take one more
    /// degree, for interval 1 alone), 2^-28 (f32) relative to `erf`.
    const ERF_POLY: &'static [[Self; 16]];
    /// `T` in `2 atanh(s) = 2s + s³ T(s²)` on `|s| <= 0.1716`, highest degree first:
    /// fitted by `tools/vmath/fit_polynomials.py` to 2^-57 (f64), 2^-28 (f32) relative to
    /// `ln` (the Taylor coefficients are `2 / (2j + 1)`).
    const LN_ATANH: &'static [Self];
    /// ¼.
    const QUARTER: Self;
    /// `2/π`.
    const FRAC_2_PI: Self;
    /// `-P1`, where `P1` is `π/2` rounded: `x - j·P1` is exact in one fused multiply-add
    /// (it shares `x`'s leading bits and needs no bit below `x`'s or `P1`'s last one).
    const NEG_PIO2_1: Self;
    /// `P2`, `π/2 - P1` rounded.
    const PIO2_2: Self;
    /// `-P2`.
    const NEG_PIO2_2: Self;
    /// `-P3`, where `P3` is `π/2 - P1 - P2` rounded: `P1 + P2 + P3` is `π/2` to about three
    /// times the working precision.
    const NEG_PIO2_3: Self;
    /// Above this `|x|` (and for non-finite `x`) `sin` and `cos` are libm's: the reduction
    /// by `P1 + P2 + P3` is accurate below it.
    const TRIG_MAX: Self;
    /// `(-1)^k / (2k+1)!` from the highest `k` down to 1: `sin r = r + r³ S(r²)`; on
    /// `|r| <= π/4` the first term left out is below 2^-62 (f64), 2^-28 (f32) relative.
    const SIN_TAYLOR: &'static [Self];
    /// `(-1)^k / (2k)!` from the highest `k` down to 2: `cos r = 1 - r²/2 + r⁴ C(r²)`; on
    /// `|r| <= π/4` the first term left out is below 2^-58 (f64), 2^-32 (f32) relative.
    const COS_TAYLOR: &'static [Self];
    /// `sin x` by the platform's libm: the fallback for lanes outside the reduction's range.
    fn libm_sin(self) -> Self;
    /// `cos x` by the platform's libm, likewise.
    fn libm_cos(self) -> Self;
}

/// `1/k!` for `k = N-1, …, 0`.
const fn inverse_factorials<const N: usize>() -> [f64; N] {
    let mut out = [0.0; N];
    let mut k = 0;
    let mut factorial = 1.0;
    while k < N {
        if k > 0 {
            factorial *= k as f64;
        }
        out[N - 1 - k] = 1.0 / factorial;
        k += 1;
    }
    out
}

/// `(-1)^k / (2k + odd)!` for `k = first + N - 1, …, first`: the Taylor coefficients of
/// `sin` (`odd = 1`) or `cos` (`odd = 0`). Every factorial used is below 2^53, so exact.
const fn trig_coefficients<const N: usize>(first: usize, odd: usize) -> [f64; N] {
    let mut out = [0.0; N];
    let mut i = 0;
    while i < N {
        let k = first + i;
        let mut factorial = 1.0;
        let mut m = 2;
        while m <= 2 * k + odd {
            factorial *= m as f64;
            m += 1;
        }
        let sign = if k.is_multiple_of(2) { 1.0 } else { -1.0 };
        out[N - 1 - i] = sign / factorial;
        i += 1;
    }
    out
}

/// The constants of `tanh`'s halved reduction (see [`Constants::HALVED_EXPM1`]).
pub(crate) struct HalvedExpm1<E: 'static> {
    /// `2 log2 e`.
    pub(crate) two_log2e: E,
    /// `-LN2_HI / 2`.
    pub(crate) neg_ln2_hi: E,
    /// `-LN2_LO / 2`.
    pub(crate) neg_ln2_lo: E,
    /// `EXPM1_MIN / 2`.
    pub(crate) min: E,
    /// `EXPM1_Q` scaled by `2^(degree + 1)`, highest degree first.
    pub(crate) q: &'static [E],
}

/// Defines `$name`: the coefficients `c` (highest degree first), each times
/// `2^(degree + 1)`, in `$float` (a `const fn` cannot be generic over float arithmetic).
macro_rules! scaled_by_degree {
    ($name:ident, $float:ty) => {
        const fn $name<const N: usize>(c: [$float; N]) -> [$float; N] {
            let mut out = c;
            let mut scale = 2.0;
            let mut i = N;
            while i > 0 {
                i -= 1;
                out[i] *= scale;
                scale *= 2.0;
            }
            out
        }
    };
}
scaled_by_degree!(scaled_by_degree_f64, f64);
scaled_by_degree!(scaled_by_degree_f32, f32);

/// Rounds each coefficient to f32.
const fn narrow<const N: usize>(c: [f64; N]) -> [f32; N] {
    let mut out = [0.0; N];
    let mut i = 0;
    while i < N {
        out[i] = c[i] as f32;
        i += 1;
    }
    out
}

const EXP_TAYLOR_F64: [f64; 14] = inverse_factorials::<14>();
// The output of tools/vmath/fit_polynomials.py.
// degree 6 on [1e-30, 0.029437251522859413], weighted error 1.47e-18, sum of |coefficients| 2.06
const LN_ATANH_F64: [f64; 7] = [
    0.1479695896056556,
    0.15313936541474302,
    0.181835694518003,
    0.22222198457093684,
    0.285714287437626,
    0.39999999999406793,
    0.6666666666666736,
];
// degree 10 on [-0.34657359028028784, 0.34657359028028784], weighted error 7.76e-19, sum of |coefficients| 0.718
const EXPM1_Q_F64: [f64; 11] = [
    2.0864722005837252e-09,
    2.5109078377222078e-08,
    2.755743958449969e-07,
    2.755724405720919e-06,
    2.4801587124873952e-05,
    0.00019841269886321925,
    0.001388888888899012,
    0.008333333333321528,
    0.04166666666666644,
    0.16666666666666677,
    0.5,
];
// degree 2 on [1e-30, 0.029437251522859413], weighted error 1.12e-09, sum of |coefficients| 1.37
const LN_ATANH_F32: [f32; 3] = [0.29875302, 0.39977378, 0.66666776];
// degree 5 on [-0.34657359028028784, 0.34657359028028784], weighted error 3.19e-09, sum of |coefficients| 0.718
const EXPM1_Q_F32: [f32; 6] = [
    0.0001985159,
    0.0013940979,
    0.0083333785,
    0.041666355,
    0.16666667,
    0.5,
];
const SIN_TAYLOR_F64: [f64; 8] = trig_coefficients::<8>(1, 1);
const COS_TAYLOR_F64: [f64; 7] = trig_coefficients::<7>(2, 0);
const SIN_TAYLOR_F32: [f32; 4] = narrow(trig_coefficients::<4>(1, 1));
const COS_TAYLOR_F32: [f32; 4] = narrow(trig_coefficients::<4>(2, 0));
const EXP_TAYLOR_F32: [f32; 8] = narrow(inverse_factorials::<8>());

impl Constants for f64 {
    const ZERO: f64 = 0.0;
    const HALF: f64 = 0.5;
    const NEG_HALF: f64 = -0.5;
    const ONE: f64 = 1.0;
    const NEG_ONE: f64 = -1.0;
    const TWO: f64 = 2.0;
    const SQRT_2: f64 = std::f64::consts::SQRT_2;
    const INFINITY: f64 = f64::INFINITY;
    const NEG_INFINITY: f64 = f64::NEG_INFINITY;
    const NAN: f64 = f64::NAN;
    const MIN_POSITIVE: f64 = f64::MIN_POSITIVE;
    const SUBNORMAL_SCALE: f64 = 18014398509481984.0; // 2^54
    const NEG_SUBNORMAL_SHIFT: f64 = -54.0;
    const EXPONENT_BIAS: f64 = 1023.0;
    const ROUND_TO_INTEGER: f64 = 6755399441055744.0;
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // ln 2 with its low 21 bits cleared (n · LN2_HI exact for |n| < 2^21).
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const NEG_LN2_HI: f64 = -Self::LN2_HI;
    const NEG_LN2_LO: f64 = -Self::LN2_LO;
    // e^-746 is below half the smallest subnormal; e^710 above f64::MAX.
    const EXP_MIN: f64 = -746.0;
    const EXP_MAX: f64 = 710.0;
    const POW2_ONE_STEP: f64 = 1022.0;
    // e^-40 < 2^-54, half an ulp of 1.
    const EXPM1_MIN: f64 = -40.0;
    const EXP_TAYLOR: &'static [f64] = &EXP_TAYLOR_F64;
    const LN_ATANH: &'static [f64] = &LN_ATANH_F64;
    const ERF_INDEX_SCALE: f64 = 1.0 / erf_tables::ERF_WIDTH_F64;
    const ERF_NEG_WIDTH: f64 = -erf_tables::ERF_WIDTH_F64;
    // erfc(5.9216) = 2^-54, half an ulp below 1.
    const ERFC_MAX: f64 = erf_tables::ERFC_MAX_F64;
    const ERF_PRODUCT_FORM_BELOW: f64 = 1.5;
    const ERF_BASE: &'static [f64; 16] = &erf_tables::ERF_BASE_F64;
    const ERF_BASE_LO: &'static [f64; 16] = &erf_tables::ERF_BASE_LO_F64;
    const ERF_SLOPE: &'static [f64; 16] = &erf_tables::ERF_SLOPE_F64;
    const ERF_POLY: &'static [[f64; 16]] = &erf_tables::ERF_POLY_F64;
    const EXPM1_Q: &'static [f64] = &EXPM1_Q_F64;
    const HALVED_EXPM1: HalvedExpm1<f64> = HalvedExpm1 {
        two_log2e: 2.0 * Self::LOG2E,
        neg_ln2_hi: Self::NEG_LN2_HI / 2.0,
        neg_ln2_lo: Self::NEG_LN2_LO / 2.0,
        min: Self::EXPM1_MIN / 2.0,
        q: &scaled_by_degree_f64(EXPM1_Q_F64),
    };
    const QUARTER: f64 = 0.25;
    const FRAC_2_PI: f64 = std::f64::consts::FRAC_2_PI;
    // π/2 split in three by rounding what is left, each to f64 (computed to 300 bits).
    const NEG_PIO2_1: f64 = -std::f64::consts::FRAC_PI_2;
    const PIO2_2: f64 = 6.123_233_995_736_766e-17;
    const NEG_PIO2_2: f64 = -Self::PIO2_2;
    const NEG_PIO2_3: f64 = 1.497_384_904_859_169_8e-33;
    // 2^40, well inside the range measured within 1 ulp of libm (up to 2^50; 2 ulps in
    // [2^50, 2^51), 93 in [2^51, 2^52)).
    const TRIG_MAX: f64 = 1099511627776.0;
    const SIN_TAYLOR: &'static [f64] = &SIN_TAYLOR_F64;
    const COS_TAYLOR: &'static [f64] = &COS_TAYLOR_F64;
    fn libm_sin(self) -> f64 {
        self.sin()
    }
    fn libm_cos(self) -> f64 {
        self.cos()
    }
}

impl Constants for f32 {
    const ZERO: f32 = 0.0;
    const HALF: f32 = 0.5;
    const NEG_HALF: f32 = -0.5;
    const ONE: f32 = 1.0;
    const NEG_ONE: f32 = -1.0;
    const TWO: f32 = 2.0;
    const SQRT_2: f32 = std::f32::consts::SQRT_2;
    const INFINITY: f32 = f32::INFINITY;
    const NEG_INFINITY: f32 = f32::NEG_INFINITY;
    const NAN: f32 = f32::NAN;
    const MIN_POSITIVE: f32 = f32::MIN_POSITIVE;
    const SUBNORMAL_SCALE: f32 = 33554432.0; // 2^25
    const NEG_SUBNORMAL_SHIFT: f32 = -25.0;
    const EXPONENT_BIAS: f32 = 127.0;
    const ROUND_TO_INTEGER: f32 = 12582912.0;
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 to 9 significant bits, exact times any n below 2^15.
    const LN2_HI: f32 = 0.693_359_4; // exactly 0.693359375
    const LN2_LO: f32 = -2.121_944_4e-4;
    const NEG_LN2_HI: f32 = -Self::LN2_HI;
    const NEG_LN2_LO: f32 = -Self::LN2_LO;
    // e^-104 is below half the smallest subnormal; e^89 above f32::MAX.
    const EXP_MIN: f32 = -104.0;
    const EXP_MAX: f32 = 89.0;
    const POW2_ONE_STEP: f32 = 126.0;
    // e^-20 < 2^-25, half an ulp of 1.
    const EXPM1_MIN: f32 = -20.0;
    const EXP_TAYLOR: &'static [f32] = &EXP_TAYLOR_F32;
    const LN_ATANH: &'static [f32] = &LN_ATANH_F32;
    const ERF_INDEX_SCALE: f32 = 1.0 / erf_tables::ERF_WIDTH_F32;
    const ERF_NEG_WIDTH: f32 = -erf_tables::ERF_WIDTH_F32;
    // erfc(3.9192) = 2^-25, half an ulp below 1.
    const ERFC_MAX: f32 = erf_tables::ERFC_MAX_F32;
    const ERF_PRODUCT_FORM_BELOW: f32 = 1.5;
    const ERF_BASE: &'static [f32; 16] = &erf_tables::ERF_BASE_F32;
    const ERF_BASE_LO: &'static [f32; 16] = &erf_tables::ERF_BASE_LO_F32;
    const ERF_SLOPE: &'static [f32; 16] = &erf_tables::ERF_SLOPE_F32;
    const ERF_POLY: &'static [[f32; 16]] = &erf_tables::ERF_POLY_F32;
    const EXPM1_Q: &'static [f32] = &EXPM1_Q_F32;
    const HALVED_EXPM1: HalvedExpm1<f32> = HalvedExpm1 {
        two_log2e: 2.0 * Self::LOG2E,
        neg_ln2_hi: Self::NEG_LN2_HI / 2.0,
        neg_ln2_lo: Self::NEG_LN2_LO / 2.0,
        min: Self::EXPM1_MIN / 2.0,
        q: &scaled_by_degree_f32(EXPM1_Q_F32),
    };
    const QUARTER: f32 = 0.25;
    const FRAC_2_PI: f32 = std::f32::consts::FRAC_2_PI;
    // π/2 split in three by rounding what is left, each to f32 (computed to 300 bits).
    const NEG_PIO2_1: f32 = -std::f32::consts::FRAC_PI_2;
    const PIO2_2: f32 = -4.371_139e-8;
    const NEG_PIO2_2: f32 = -Self::PIO2_2;
    const NEG_PIO2_3: f32 = 1.715_124_5e-15;
    // 2^20: every f32 below is within 0.77 ulps; 1.01 ulps in [2^20, 2^21), 2.7 in
    // [2^21, 2^22) and 41 above.
    const TRIG_MAX: f32 = 1048576.0;
    const SIN_TAYLOR: &'static [f32] = &SIN_TAYLOR_F32;
    const COS_TAYLOR: &'static [f32] = &COS_TAYLOR_F32;
    fn libm_sin(self) -> f32 {
        self.sin()
    }
    fn libm_cos(self) -> f32 {
        self.cos()
    }
}
