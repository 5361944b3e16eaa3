//! The constants the kernels need, per precision, and the libm routines they fall back
//! to. The polynomial coefficients are Taylor coefficients computed at compile time, so
//! each table is its formula.

/// Per-precision constants for the kernels in `kernels` and `trig`.
pub(crate) trait Constants: Copy + PartialEq + 'static {
    /// 0.
    const ZERO: Self;
    /// ½.
    const HALF: Self;
    /// 1.
    const ONE: Self;
    /// -1.
    const NEG_ONE: Self;
    /// 2.
    const TWO: Self;
    /// -2.
    const NEG_TWO: Self;
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
    /// Below this `e^x - 1` rounds to -1.
    const EXPM1_MIN: Self;
    /// `1/k!` from the highest `k` the precision needs down to `k = 0` (on `|r| <= ln 2 / 2`
    /// the first term left out is below 2^-60 relative in f64, 2^-27 in f32).
    const EXP_TAYLOR: &'static [Self];
    /// Below this `tanh` is its Taylor series; above, it is computed from `e^(-2|x|)`.
    const TANH_SERIES_MAX: Self;
    /// The Taylor coefficients of `tanh x` from `x^(2N+1)` down to `x³` (`-1/3`), on
    /// `|x| < 0.625` where the first term left out is below 2^-55 (f64), 2^-26 (f32).
    const TANH_TAYLOR: &'static [Self];
    /// Below this `erf` is its Taylor series; above, `1 - e^(-x²) R(x)`.
    const ERF_SERIES_MAX: Self;
    /// The Taylor coefficients of `erf x / x` in `x²`, `(2/√π)(-1)^n / (n! (2n + 1))`, from
    /// the highest `n` down to 1; on `|x| < 1` the first left out is below 2^-56 (f64),
    /// 2^-29 (f32).
    const ERF_TAYLOR: &'static [Self];
    /// `2/√π` rounded (the `n = 0` coefficient) …
    const ERF_C0_HI: Self;
    /// … and what the rounding left out.
    const ERF_C0_LO: Self;
    /// Where `erf` rounds to ±1: `R` is fitted on `[1, ERFC_MAX]`.
    const ERFC_MAX: Self;
    /// `2 / (ERFC_MAX - 1)` and `-(ERFC_MAX + 1) / (ERFC_MAX - 1)`: map `[1, ERFC_MAX]` to
    /// the Chebyshev interval `[-1, 1]`.
    const ERFC_SCALE: Self;
    /// See `ERFC_SCALE`.
    const ERFC_SHIFT: Self;
    /// Chebyshev coefficients (highest degree first) of `R(a) = erfc(a) e^(a²)` on
    /// `[1, ERFC_MAX]`, fitted by `tools/vmath/erfc_chebyshev.py`.
    const ERFC_CHEBYSHEV: &'static [Self];
    /// `2 / (2j + 1)` from the highest `j` down to `j = 1`: `2 atanh(s) - 2s = s Σ_j
    /// (2 / (2j + 1)) s^(2j)`, on `|s| <= 0.1716`.
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

/// The Taylor coefficients `t_n` of `tanh x = Σ t_n x^(2n+1)` for `n = N, …, 1`, from
/// `tanh' = 1 - tanh²`: `t_0 = 1` and `(2n + 1) t_n = -Σ_{i+j=n-1} t_i t_j`.
const fn tanh_coefficients<const N: usize>() -> [f64; N] {
    let mut t = [0.0; 64];
    t[0] = 1.0;
    let mut n = 1;
    while n <= N {
        let mut sum = 0.0;
        let mut i = 0;
        while i < n {
            sum += t[i] * t[n - 1 - i];
            i += 1;
        }
        t[n] = -sum / (2 * n + 1) as f64;
        n += 1;
    }
    let mut out = [0.0; N];
    let mut k = 0;
    while k < N {
        out[k] = t[N - k];
        k += 1;
    }
    out
}

/// `(2/√π)(-1)^n / (n! (2n + 1))` for `n = N, …, 1`.
const fn erf_coefficients<const N: usize>() -> [f64; N] {
    let mut out = [0.0; N];
    let mut term = std::f64::consts::FRAC_2_SQRT_PI; // (2/√π)(-1)^n / n!
    let mut n = 1;
    while n <= N {
        term = -term / n as f64;
        out[N - n] = term / (2 * n + 1) as f64;
        n += 1;
    }
    out
}

/// `2 / (2j + 1)` for `j = N, …, 1`.
const fn atanh_coefficients<const N: usize>() -> [f64; N] {
    let mut out = [0.0; N];
    let mut j = 1;
    while j <= N {
        out[N - j] = 2.0 / (2 * j + 1) as f64;
        j += 1;
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
const LN_ATANH_F64: [f64; 12] = atanh_coefficients::<12>();
const TANH_TAYLOR_F64: [f64; 22] = tanh_coefficients::<22>();
const TANH_TAYLOR_F32: [f32; 11] = narrow(tanh_coefficients::<11>());
const ERF_TAYLOR_F64: [f64; 18] = erf_coefficients::<18>();
const ERF_TAYLOR_F32: [f32; 11] = narrow(erf_coefficients::<11>());
// The output of tools/vmath/erfc_chebyshev.py.
// degree 29 on [1, 6], measured relative error 4.44e-16 summed in float64
const ERFC_CHEBYSHEV_F64: [f64; 30] = [
    -5.641103352342304e-18,
    2.65449529106721e-17,
    -1.2360008955300707e-16,
    5.693144752523706e-16,
    -2.593300539647079e-15,
    1.1678402647273797e-14,
    -5.197545128838963e-14,
    2.285294689027943e-13,
    -9.92315607537652e-13,
    4.25347830122088e-12,
    -1.7990193064432053e-11,
    7.504484747602075e-11,
    -3.0858852312872416e-10,
    1.2501871239431183e-09,
    -4.987110132992565e-09,
    1.957586342968354e-08,
    -7.555861081756622e-08,
    2.865502572057316e-07,
    -1.0668392337070025e-06,
    3.895514595190115e-06,
    -1.3935932859822488e-05,
    4.878565911493746e-05,
    -0.00016689473052528832,
    0.0005570714353927344,
    -0.0018109803028142997,
    0.005721802417478219,
    -0.017525709964867527,
    0.05188222158351389,
    -0.147884835533987,
    0.20196598791223083,
];
// degree 12 on [1, 4], measured relative error 1.62e-07 summed in float32
const ERFC_CHEBYSHEV_F32: [f32; 13] = [
    6.747602e-09,
    -3.6063206e-08,
    1.8829007e-07,
    -9.589945e-07,
    4.7568747e-06,
    -2.2936634e-05,
    0.00010727376,
    -0.00048539878,
    0.002118424,
    -0.008884098,
    0.035635114,
    -0.13589863,
    0.24442576,
];
const SIN_TAYLOR_F64: [f64; 8] = trig_coefficients::<8>(1, 1);
const COS_TAYLOR_F64: [f64; 7] = trig_coefficients::<7>(2, 0);
const SIN_TAYLOR_F32: [f32; 4] = narrow(trig_coefficients::<4>(1, 1));
const COS_TAYLOR_F32: [f32; 4] = narrow(trig_coefficients::<4>(2, 0));
const EXP_TAYLOR_F32: [f32; 8] = narrow(inverse_factorials::<8>());
const LN_ATANH_F32: [f32; 5] = narrow(atanh_coefficients::<5>());

impl Constants for f64 {
    const ZERO: f64 = 0.0;
    const HALF: f64 = 0.5;
    const ONE: f64 = 1.0;
    const NEG_ONE: f64 = -1.0;
    const TWO: f64 = 2.0;
    const NEG_TWO: f64 = -2.0;
    const SQRT_2: f64 = std::f64::consts::SQRT_2;
    const INFINITY: f64 = f64::INFINITY;
    const NEG_INFINITY: f64 = f64::NEG_INFINITY;
    const NAN: f64 = f64::NAN;
    const MIN_POSITIVE: f64 = f64::MIN_POSITIVE;
    const SUBNORMAL_SCALE: f64 = 18014398509481984.0; // 2^54
    const NEG_SUBNORMAL_SHIFT: f64 = -54.0;
    const EXPONENT_BIAS: f64 = 1023.0;
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // ln 2 with its low 21 bits cleared (n · LN2_HI exact for |n| < 2^21).
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const NEG_LN2_HI: f64 = -Self::LN2_HI;
    const NEG_LN2_LO: f64 = -Self::LN2_LO;
    // e^-746 is below half the smallest subnormal; e^710 above f64::MAX.
    const EXP_MIN: f64 = -746.0;
    const EXP_MAX: f64 = 710.0;
    // e^-40 < 2^-54, half an ulp of 1.
    const EXPM1_MIN: f64 = -40.0;
    const EXP_TAYLOR: &'static [f64] = &EXP_TAYLOR_F64;
    const LN_ATANH: &'static [f64] = &LN_ATANH_F64;
    const TANH_SERIES_MAX: f64 = 0.625;
    const ERF_SERIES_MAX: f64 = 1.0;
    const ERF_TAYLOR: &'static [f64] = &ERF_TAYLOR_F64;
    const ERF_C0_HI: f64 = std::f64::consts::FRAC_2_SQRT_PI;
    const ERF_C0_LO: f64 = 1.533_545_961_316_588e-17;
    // erfc(6) = 2.2e-17, below half an ulp of 1.
    const ERFC_MAX: f64 = 6.0;
    const ERFC_SCALE: f64 = 2.0 / 5.0;
    const ERFC_SHIFT: f64 = -7.0 / 5.0;
    const ERFC_CHEBYSHEV: &'static [f64] = &ERFC_CHEBYSHEV_F64;
    const TANH_TAYLOR: &'static [f64] = &TANH_TAYLOR_F64;
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
    const ONE: f32 = 1.0;
    const NEG_ONE: f32 = -1.0;
    const TWO: f32 = 2.0;
    const NEG_TWO: f32 = -2.0;
    const SQRT_2: f32 = std::f32::consts::SQRT_2;
    const INFINITY: f32 = f32::INFINITY;
    const NEG_INFINITY: f32 = f32::NEG_INFINITY;
    const NAN: f32 = f32::NAN;
    const MIN_POSITIVE: f32 = f32::MIN_POSITIVE;
    const SUBNORMAL_SCALE: f32 = 33554432.0; // 2^25
    const NEG_SUBNORMAL_SHIFT: f32 = -25.0;
    const EXPONENT_BIAS: f32 = 127.0;
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 to 9 significant bits, exact times any n below 2^15.
    const LN2_HI: f32 = 0.693_359_4; // exactly 0.693359375
    const LN2_LO: f32 = -2.121_944_4e-4;
    const NEG_LN2_HI: f32 = -Self::LN2_HI;
    const NEG_LN2_LO: f32 = -Self::LN2_LO;
    // e^-104 is below half the smallest subnormal; e^89 above f32::MAX.
    const EXP_MIN: f32 = -104.0;
    const EXP_MAX: f32 = 89.0;
    // e^-20 < 2^-25, half an ulp of 1.
    const EXPM1_MIN: f32 = -20.0;
    const EXP_TAYLOR: &'static [f32] = &EXP_TAYLOR_F32;
    const LN_ATANH: &'static [f32] = &LN_ATANH_F32;
    const TANH_SERIES_MAX: f32 = 0.625;
    const ERF_SERIES_MAX: f32 = 1.0;
    const ERF_TAYLOR: &'static [f32] = &ERF_TAYLOR_F32;
    const ERF_C0_HI: f32 = std::f32::consts::FRAC_2_SQRT_PI;
    const ERF_C0_LO: f32 = -5.863_538_3e-8;
    // erfc(4) = 1.5e-8, below half an ulp of 1.
    const ERFC_MAX: f32 = 4.0;
    const ERFC_SCALE: f32 = 2.0 / 3.0;
    const ERFC_SHIFT: f32 = -5.0 / 3.0;
    const ERFC_CHEBYSHEV: &'static [f32] = &ERFC_CHEBYSHEV_F32;
    const TANH_TAYLOR: &'static [f32] = &TANH_TAYLOR_F32;
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
