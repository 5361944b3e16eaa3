//! The polynomial kernels, written once over [`Lanes`] for both precisions; the constants
//! that differ between f32 and f64 come from [`Constants`].
//!
//! Each kernel reduces its argument to a small interval where a polynomial (a truncated
//! Taylor series, or one fitted by `tools/vmath/fit_polynomials.py` where that needs fewer
//! terms) is accurate to well below half an ulp, so the error left is the few roundings of
//! the reconstruction; the measured bounds are asserted in `tests`.

use super::constants::Constants;
use super::lanes::Lanes;

/// Evaluates the polynomial with coefficients `c` (highest degree first) at `x` (Horner).
#[inline(always)]
pub(super) fn horner<V: Lanes>(x: V, c: &[V::E]) -> V {
    let mut acc = V::splat(c[0]);
    for &k in &c[1..] {
        acc = acc.mul_add(x, V::splat(k));
    }
    acc
}

/// `x = n ln 2 + r` with `n` an integer and `|r| <= ln 2 / 2` (Cody–Waite: `ln 2` split in
/// two so that `n · LN2_HI` is exact).
#[inline(always)]
fn reduce_ln2<V: Lanes>(x: V) -> (V, V)
where
    V::E: Constants,
{
    let n = x.mul(V::splat(V::E::LOG2E)).round();
    let r = n.mul_add(V::splat(V::E::NEG_LN2_HI), x);
    let r = n.mul_add(V::splat(V::E::NEG_LN2_LO), r);
    (n, r)
}

/// `e^x = 2^n p` for `x` within the clamps of [`exp`] (or NaN): `n` and `p = e^r`.
#[inline(always)]
fn exp_split<V: Lanes>(x: V) -> (V, V)
where
    V::E: Constants,
{
    let (n, r) = reduce_ln2(x);
    (n, horner(r, V::E::EXP_TAYLOR))
}

/// `e^x`. Beyond the clamps the result is ∞ or 0 anyway, and clamping keeps `2^n` in
/// range. Where some lane's `2^n` is not a normal number, `2^n` is applied as two halves,
/// so that results near overflow are not lost and results in the subnormal range are
/// rounded once, from the full-precision product; elsewhere one multiplication gives the
/// same bits (both are exact up to that one rounding), for less work.
#[inline(always)]
pub(crate) fn exp<V: Lanes>(x: V) -> V
where
    V::E: Constants,
{
    // `max`/`min` return their second operand for NaN, so NaN passes through.
    let x = V::splat(V::E::EXP_MIN).max(x);
    let x = V::splat(V::E::EXP_MAX).min(x);
    let (n, p) = exp_split(x);
    if !V::any(V::splat(V::E::POW2_ONE_STEP).lt(n.abs())) {
        return p.mul(V::pow2(n));
    }
    let half = n.mul(V::splat(V::E::HALF)).round();
    p.mul(V::pow2(half)).mul(V::pow2(n.sub(half)))
}

/// For `w <= 0` (or NaN), halves of the parts of `e^(2w) - 1`: with `2w = n ln 2 + r`
/// (`2w` clamped at `EXPM1_MIN`), `s = 2^n` and `p / 2`, where `p = e^r - 1 = r + r² Q(r)`;
/// `e^(2w) = s (1 + p)`. Each step runs on `w` with its constants scaled by powers of 2
/// ([`Constants::HALVED_EXPM1`]), so it gives exactly half of what the same step gives on
/// `2w` (`r / 2`, `p / 2`), bit for bit, and `2w` itself is never formed: one operation
/// fewer for `tanh`, which is bound by its count of them.
#[inline(always)]
fn halved_expm1_parts_nonpositive<V: Lanes>(w: V) -> (V, V)
where
    V::E: Constants,
{
    let h = V::E::HALVED_EXPM1;
    let w = V::splat(h.min).max(w);
    let n = w.mul(V::splat(h.two_log2e)).round();
    let r_half = n.mul_add(V::splat(h.neg_ln2_hi), w);
    let r_half = n.mul_add(V::splat(h.neg_ln2_lo), r_half);
    // `r² = 4 (r/2)²`, and `Q` from the scaled coefficients is `2 Q(r)`.
    let p_half = r_half.mul(r_half).mul_add(horner(r_half, h.q), r_half);
    (V::pow2(n), p_half)
}

/// `e^x - 1`, accurate near 0: with `x = n ln 2 + r`, `p = e^r - 1` as in
/// [`expm1_parts_nonpositive`] (any sign of `r`), and `s = 2^n`, `e^x - 1 = (s - 1) + s p`:
/// `s - 1` is exact for the `n` the clamps allow, so one fused multiply-add rounds once,
/// and at `n = 0` the result is `p` itself (tiny `x` come back unchanged). Above
/// `-EXPM1_MIN` the `- 1` is below half an ulp of `e^x` and the result is [`exp`]'s, which
/// also handles overflow; below `EXPM1_MIN` it rounds to -1. Zero keeps its sign.
#[inline(always)]
pub(crate) fn expm1<V: Lanes>(x: V) -> V
where
    V::E: Constants,
{
    let large = V::splat(V::E::ZERO).sub(V::splat(V::E::EXPM1_MIN));
    // `max`/`min` return their second operand for NaN, so NaN passes through.
    let clamped = large.min(V::splat(V::E::EXPM1_MIN).max(x));
    let (n, r) = reduce_ln2(clamped);
    let s = V::pow2(n);
    let p = r.mul(r).mul_add(horner(r, V::E::EXPM1_Q), r);
    let y = s.mul_add(p, s.sub(V::splat(V::E::ONE)));
    let y = V::select(x.eq(V::splat(V::E::ZERO)), x, y);
    let above = large.lt(x);
    if V::any(above) {
        V::select(above, exp(x), y)
    } else {
        y
    }
}

/// Natural logarithm: `x = 2^k m` with `m ∈ [√½, √2)`, `f = m - 1`, `s = f / (2 + f)`,
/// `ln(1 + f) = 2 atanh(s) = f - (f²/2 - s (f²/2 + T(s²)))`, summed so that the large
/// terms are added last.
#[inline(always)]
pub(crate) fn ln<V: Lanes>(x: V) -> V
where
    V::E: Constants,
{
    let zero = V::splat(V::E::ZERO);
    let one = V::splat(V::E::ONE);
    // Subnormals are scaled into the normal range first.
    let tiny = x.lt(V::splat(V::E::MIN_POSITIVE));
    let xs = V::select(tiny, x.mul(V::splat(V::E::SUBNORMAL_SCALE)), x);
    let k_adjust = V::select(tiny, V::splat(V::E::NEG_SUBNORMAL_SHIFT), zero);
    let (e, m) = xs.exponent_significand();
    let big = V::splat(V::E::SQRT_2).lt(m);
    let m = V::select(big, m.mul(V::splat(V::E::HALF)), m);
    let k = V::select(big, e.add(one), e)
        .sub(V::splat(V::E::EXPONENT_BIAS))
        .add(k_adjust);
    let f = m.sub(one);
    let s = f.div(f.add(V::splat(V::E::TWO)));
    let z = s.mul(s);
    let t = z.mul(horner(z, V::E::LN_ATANH));
    let hfsq = V::splat(V::E::HALF).mul(f).mul(f);
    let low = s.mul(hfsq.add(t)).add(k.mul(V::splat(V::E::LN2_LO)));
    let y = k.mul_add(V::splat(V::E::LN2_HI), f.sub(hfsq.sub(low)));
    let inf = V::splat(V::E::INFINITY);
    let y = V::select(x.eq(inf), inf, y);
    let y = V::select(x.eq(zero), V::splat(V::E::NEG_INFINITY), y);
    V::select(x.not_ge(zero), V::splat(V::E::NAN), y)
}

/// `ln(1 + x)` as `ln u + c / u` (see [`log1p`]) with none of its special cases, and `u`;
/// softplus's `ln(1 + e)`, with `e ∈ [0, 1]`, needs none.
#[inline(always)]
fn log1p_finite<V: Lanes>(x: V) -> (V, V)
where
    V::E: Constants,
{
    let one = V::splat(V::E::ONE);
    let u = one.add(x);
    let c = x.sub(u.sub(one));
    (ln(u).add(c.div(u)), u)
}

/// `ln(1 + x)`, accurate near 0: `ln u + c / u` for `u = 1 + x` rounded and its rounding
/// error `c = x - (u - 1)` (exact for `|x| <= 1`; beyond, `c / u` is below an ulp of
/// `ln u >= ln 2` anyway). The correction restores what the rounding of `u` lost, so a
/// tiny `x` comes back as itself. `-1` gives -∞ (where `c / u` would be `0 / 0`), below
/// it NaN (from `ln`), and ±0 keep their sign.
#[inline(always)]
pub(crate) fn log1p<V: Lanes>(x: V) -> V
where
    V::E: Constants,
{
    let zero = V::splat(V::E::ZERO);
    let inf = V::splat(V::E::INFINITY);
    let (y, u) = log1p_finite(x);
    let y = V::select(u.eq(zero), V::splat(V::E::NEG_INFINITY), y);
    // At +∞, `c = ∞ - ∞` is NaN.
    let y = V::select(x.eq(inf), inf, y);
    V::select(x.eq(zero), x, y)
}

/// Softplus `ln(1 + e^x)`, as `max(x, 0) + ln(1 + e)` with `e = e^(-|x|) ∈ (0, 1]`, so
/// nothing overflows. `ln(1 + e)` is `ln u + c / u` for `u = 1 + e` rounded and its exact
/// error `c = e - (u - 1)` (`u - 1` is exact): the correction restores what the rounding of
/// `u` lost, so a tiny `e` comes back as itself and very negative `x` keep their relative
/// precision.
#[inline(always)]
pub(crate) fn softplus<V: Lanes>(x: V) -> V
where
    V::E: Constants,
{
    let zero = V::splat(V::E::ZERO);
    let e = exp(zero.sub(x.abs()));
    // `max` returns its second operand for NaN, so NaN passes through.
    zero.max(x).add(log1p_finite(e).0)
}

/// Hyperbolic tangent, odd: `tanh a = -u / (2 + u)` with `u = e^(-2a) - 1`, one formula
/// over the whole range. From `e^(-2a) = s (1 + p)` (`s = 2^n`), `u = (s - 1) + s p` is
/// carried in two parts (the rounding error of one fused multiply-add is exact), so it
/// keeps its precision where it is small and nothing cancels. The roundings of `d = 2 + u`
/// (its error `δ`) and of `q = u / -d` (the exact remainder `m = u + q d`) are undone too:
/// with `c = δ + u_lo`, `tanh a ≈ q - (m + u_lo + q c) / d`, where `1 / d = (1 + q) / 2`
/// exactly. What is left is one final rounding and `p`'s error (the roundings of `r` and
/// of `p` itself): 1.27 ulps at worst against mpmath over 131072 points in [-4, 4], where
/// libm's `tanh` reaches 1.99. Carrying `p` in two parts as well measured 0.99 ulps (and
/// `r` too, 0.66), for 3 (6) more operations: about 6% (11%) of the kernel's time. Large `a`
/// saturates to 1 exactly (`e^(-2a)` is clamped at `e^-40`, whose `u` rounds to -1).
#[inline(always)]
pub(crate) fn tanh<V: Lanes>(x: V) -> V
where
    V::E: Constants,
{
    let one = V::splat(V::E::ONE);
    let half = V::splat(V::E::HALF);
    // From here on every quantity is half of the formula's (`u / 2`, `d / 2`, ...), which
    // the halved reduction gives for free: each step is the formula's step on halves, so
    // it gives exactly half the formula's bits, and the quotient is the formula's own.
    let neg_abs = x.with_sign_of(V::splat(V::E::NEG_ONE));
    let (s, p_half) = halved_expm1_parts_nonpositive(neg_abs);
    // `(s - 1) / 2` is exact, and so is its difference with `u / 2` (Sterbenz: `u` is
    // within 2× of `s - 1`).
    let s_minus_1 = s.mul_add(half, V::splat(V::E::NEG_HALF));
    let u = s.mul_add(p_half, s_minus_1);
    let u_lo = s.mul_add(p_half, s_minus_1.sub(u));
    let d = one.add(u);
    // `δ / 2 = (1 - d / 2) + u / 2` is exact since `|u| <= 2`.
    let c = one.sub(d).add(u).add(u_lo);
    // `neg_q = u / d` is `-q` for the quotient `q = u / (-2 - u)` of the formula (`-2 - u`
    // rounds to `-d`), and the negated multiply-adds below take `-q` as it is.
    let neg_q = u.div(d);
    let m = neg_q.neg_mul_add(d, u);
    let e = neg_q.neg_mul_add(c, m.add(u_lo));
    // The formula's `e (-(q + 1) / 2) + q`, negated and with `e` halved: `-q - (e / 2)
    // (-q - 1)`. `abs` takes off that sign (and the one of `0 / 2 = -0` at `a = 0`); with
    // `with_sign_of`, one select.
    e.neg_mul_add(neg_q.sub(one), neg_q).abs().with_sign_of(x)
}

/// Logistic sigmoid with `e = e^(-|x|) ∈ (0, 1]`: `1 / (1 + e)` for `x >= 0` and
/// `e / (1 + e)` below, so nothing overflows and small results keep their precision. The
/// rounding of `d = 1 + e` (half an ulp of 1, up to a whole ulp of the result) is undone
/// with its exact error `c = e - (d - 1)`: `num / (d + c) ≈ (num / d)(1 - c / d)`. One
/// division: `1 / d` in the correction is `q` itself for `x >= 0` and `1 - q` below (where
/// `q = e / d = 1 - 1 / d`), close enough for a term that small.
#[inline(always)]
pub(crate) fn sigmoid<V: Lanes>(x: V) -> V
where
    V::E: Constants,
{
    let one = V::splat(V::E::ONE);
    let e = exp(V::splat(V::E::ZERO).sub(x.abs()));
    let negative = x.lt(V::splat(V::E::ZERO));
    let numerator = V::select(negative, e, one);
    let d = one.add(e);
    let c = e.sub(d.sub(one));
    let q = numerator.div(d);
    let reciprocal = V::select(negative, one.sub(q), q);
    q.mul(c.mul(reciprocal)).mul_add(V::splat(V::E::NEG_ONE), q)
}

/// The error function, odd: one polynomial per interval of `a = |x|`, no `exp` and no
/// second branch. `[0, ERFC_MAX]` is cut into 16 intervals of width `w` centred on `k w`,
/// `k = round(a / w)` (interval 0 is `[0, w / 2]`), and with `t = a - k w` (exact) each is
/// `c0 + s (H + R(t))`, its coefficients looked up per lane from 16-entry tables. The first
/// two intervals take the product form `s = a`, `c0 = 0`: `a (H + R)` is the odd series
/// `erf a / a` times `a`, so tiny inputs keep full relative precision. The others take
/// `s = t`, `c0 = erf(k w)`, with `c0` in two parts. Either way the large term (`a H` or
/// `c0`) is added last, to a small one that carries everything else. Larger `a` are clamped
/// to `ERFC_MAX`, where the result rounds to ±1 as `erf` does. Measured against mpmath:
/// f64 0.74 ulps at worst over 305,656 points in `[0, 6]` (libm's `erf` 0.90 on the same
/// points), f32 0.65 ulps over every float in `[1e-30, 4.5]` (1.00 at the smallest normal
/// results, where the small term is rounded as a subnormal). The series and `e^(-a²)` tail
/// this replaced measured 1.06 and 1.30 ulps, and took 2.0× (f64) and 1.9× (f32) the time
/// with AVX-512, in cache.
#[inline(always)]
pub(crate) fn erf<V: Lanes>(x: V) -> V
where
    V::E: Constants,
{
    // Beyond `ERFC_MAX` the result is `erf(ERFC_MAX)` rounded, 1. `min` returns its second
    // operand for NaN, which so passes through (its index is some position in the tables).
    let a = V::splat(V::E::ERFC_MAX).min(x.abs());
    // `k = round(a / w)`, at most 15 for `a <= ERFC_MAX`, in the low bits of `rounded`.
    let magic = V::splat(V::E::ROUND_TO_INTEGER);
    let rounded = a.mul_add(V::splat(V::E::ERF_INDEX_SCALE), magic);
    let i = rounded.index();
    let k = rounded.sub(magic);
    // Exact: `k w` has few bits, and `a` is within a factor of 2 of it (Sterbenz).
    let t = k.mul_add(V::splat(V::E::ERF_NEG_WIDTH), a);
    let s = V::select(k.lt(V::splat(V::E::ERF_PRODUCT_FORM_BELOW)), a, t);
    let rows = V::E::ERF_POLY;
    let mut r = V::lookup(&rows[0], i);
    for row in &rows[1..] {
        r = r.mul_add(t, V::lookup(row, i));
    }
    let small = s.mul_add(r, V::lookup(V::E::ERF_BASE_LO, i));
    s.mul_add(V::lookup(V::E::ERF_SLOPE, i), small)
        .add(V::lookup(V::E::ERF_BASE, i))
        .with_sign_of(x)
}
