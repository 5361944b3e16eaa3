//! `sin` and `cos`: Cody–Waite reduction by `π/2` to a reduced argument carried in two
//! parts, both Taylor polynomials on `[-π/4, π/4]`, and the quadrant's choice and sign.
//! Lanes with `|x|` above `TRIG_MAX` (and non-finite ones) take libm's value instead, so
//! every lane has the same result at every level.
//!
//! Measured against libm's f64 `sin`/`cos` (within an ulp of exact themselves): every
//! positive f32 from 2^-30 up to 2^20, the f32 `TRIG_MAX` (1.1 billion inputs), is within
//! 0.77 f32 ulps of the exact value. f64 is within 1 ulp of libm on 200,000 random inputs
//! per binade from 2^-30 to 2^50, plus the five doubles nearest each of up to 100,000
//! multiples of `π/2` per binade (where the reduced argument keeps fewest bits); the f64
//! `TRIG_MAX` is 2^40. The sweeps in `tests` assert these bounds on subsets, both signs.

use super::constants::Constants;
use super::kernels::horner;
use super::lanes::Lanes;

/// `x = j·π/2 + hi + lo` with `j` an integer and `|hi| <= π/4` (slightly more where
/// `x·2/π` rounds across a half) and `|lo|` tiny beside it: `hi + lo` is the reduced
/// argument to about twice the working precision, even where `x` is close to a multiple
/// of `π/2` and `hi` keeps only its last few bits.
#[inline(always)]
fn reduce_half_pi<V: Lanes>(x: V) -> (V, V, V)
where
    V::E: Constants,
{
    let j = x.mul(V::splat(V::E::FRAC_2_PI)).round();
    let r = j.mul_add(V::splat(V::E::NEG_PIO2_1), x);
    // `j·P2 = p - q` exactly.
    let p = j.mul(V::splat(V::E::PIO2_2));
    let q = j.mul_add(V::splat(V::E::NEG_PIO2_2), p);
    // `r - p = hi + e` exactly (Knuth's two-sum: either term may be the larger).
    let hi = r.sub(p);
    let b = hi.sub(r);
    let e = r.sub(hi.sub(b)).sub(p.add(b));
    let lo = j.mul_add(V::splat(V::E::NEG_PIO2_3), e.add(q));
    (j, hi, lo)
}

/// `sin(hi + lo)` for a reduced argument: `hi + (lo cos hi + hi³ S(hi²))`, with the large
/// term added last and `cos hi ≈ 1 - hi²/2` enough for so small a `lo`.
#[inline(always)]
fn sin_reduced<V: Lanes>(hi: V, lo: V, z: V) -> V
where
    V::E: Constants,
{
    let half_z = z.mul(V::splat(V::E::HALF));
    let lo_cos = lo.mul(half_z).mul_add(V::splat(V::E::NEG_ONE), lo);
    hi.mul(z)
        .mul_add(horner(z, V::E::SIN_TAYLOR), lo_cos)
        .add(hi)
}

/// `cos(hi + lo)` for a reduced argument: `w = 1 - h` with `h = hi²/2` rounded, and the
/// rest — the rounding errors of `hi²` and of `1 - h`, `-lo sin hi ≈ -lo·hi` and
/// `hi⁴ C(hi²)` — summed first and added to `w` last.
#[inline(always)]
fn cos_reduced<V: Lanes>(hi: V, lo: V, z: V) -> V
where
    V::E: Constants,
{
    let one = V::splat(V::E::ONE);
    let half = V::splat(V::E::HALF);
    let h = z.mul(half);
    let h_err = hi.mul_add(hi, V::splat(V::E::ZERO).sub(z)).mul(half);
    let w = one.sub(h);
    let w_err = one.sub(w).sub(h);
    let small = w_err.sub(lo.mul_add(hi, h_err));
    z.mul(z).mul_add(horner(z, V::E::COS_TAYLOR), small).add(w)
}

/// `sin` (`offset = 0`) or `cos` (`offset = 1`) of `x`: `sin x = sin(r + (j + offset)·π/2)`
/// for `cos`, so quadrant `k = j + offset` picks `±sin r` or `±cos r`. `k mod 4` is read
/// from `f = k/4 - round(k/4)`, which is 0, ¼, ±½ or -¼ for `k mod 4` = 0, 1, 2, 3.
#[inline(always)]
fn sin_quadrant<V: Lanes>(x: V, offset: V::E) -> V
where
    V::E: Constants,
{
    let (j, hi, lo) = reduce_half_pi(x);
    let z = hi.mul(hi);
    let (s, c) = (sin_reduced(hi, lo, z), cos_reduced(hi, lo, z));
    let quarter = V::splat(V::E::QUARTER);
    let k = j.add(V::splat(offset)).mul(quarter);
    let f = k.sub(k.round());
    let y = V::select(f.abs().eq(quarter), c, s);
    let neg_one = V::splat(V::E::NEG_ONE);
    let sign = V::select(f.lt(V::splat(V::E::ZERO)), neg_one, V::splat(V::E::ONE));
    let sign = V::select(f.eq(V::splat(V::E::HALF)), neg_one, sign);
    y.mul(sign)
}

/// `libm(x)` in the lanes where `|x| > TRIG_MAX` or `x` is NaN, `y` elsewhere. Rare: one
/// test per register unless such a lane is present.
#[inline(always)]
fn outside_range_from_libm<V: Lanes>(x: V, y: V, libm: fn(V::E) -> V::E) -> V
where
    V::E: Constants,
{
    let outside = V::splat(V::E::TRIG_MAX).not_ge(x.abs());
    if !V::any(outside) {
        return y;
    }
    let flag = V::select(outside, V::splat(V::E::ONE), V::splat(V::E::ZERO));
    let (mut xs, mut ys, mut flags) = ([V::E::ZERO; 16], [V::E::ZERO; 16], [V::E::ZERO; 16]);
    // SAFETY: each buffer holds 16 elements, at least `N` for every lane type.
    unsafe {
        x.store(xs.as_mut_ptr());
        y.store(ys.as_mut_ptr());
        flag.store(flags.as_mut_ptr());
    }
    for i in 0..V::N {
        if flags[i] == V::E::ONE {
            ys[i] = libm(xs[i]);
        }
    }
    // SAFETY: as above.
    unsafe { V::load(ys.as_ptr()) }
}

/// Sine. `±0` maps to itself (the reduction would lose the sign of `-0`).
#[inline(always)]
pub(crate) fn sin<V: Lanes>(x: V) -> V
where
    V::E: Constants,
{
    let y = sin_quadrant(x, V::E::ZERO);
    let y = V::select(x.eq(V::splat(V::E::ZERO)), x, y);
    outside_range_from_libm(x, y, V::E::libm_sin)
}

/// Cosine.
#[inline(always)]
pub(crate) fn cos<V: Lanes>(x: V) -> V
where
    V::E: Constants,
{
    let y = sin_quadrant(x, V::E::ONE);
    outside_range_from_libm(x, y, V::E::libm_cos)
}
