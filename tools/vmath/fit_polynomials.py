"""Fitted polynomial coefficients for the vectorised `ln`, `tanh` and `erf` kernels
(crates/engram-tensor/src/vmath/constants.rs, and erf_tables.rs beside it for `erf`),
printed as Rust arrays, highest degree first.

Each polynomial is a weighted least-squares fit in the Chebyshev basis on a dense Chebyshev
grid, in 60-digit arithmetic (mpmath), then rewritten in monomials so that the kernel sums
it by Horner's rule (one fused multiply-add per coefficient, where Clenshaw's recurrence
costs two operations and a Taylor series needs more terms for the same error). The weight
turns an error of the polynomial into the relative error it causes in the kernel's
result, so a part that the result scales down (`erf`'s `R`, multiplied by `s` and added to
`c0`) gets only the accuracy it needs. The degree is the lowest whose coefficients,
rounded to the target precision, keep that error below `tol` on a 4001-point grid (501
points per interval for `erf`).

    python3 tools/vmath/fit_polynomials.py

- `ln`: `ln(1 + f) = 2 atanh(s) = 2s + s z T(z)`, `s = f / (2 + f)`, `z = s^2 <= (3 - 2 sqrt 2)^2`
  (`f` in `[sqrt(1/2) - 1, sqrt 2 - 1]`), fitted: `T`, weighted for `k = 0` (no `k ln 2`
  term in the result, where its relative error is largest).
- `tanh`: `e^r - 1 = r + r^2 Q(r)` on `|r| <= ln 2 / 2` (the `e^(-2a)` of `tanh a = -u / (2 + u)`,
  `u = e^(-2a) - 1`), fitted: `Q`, weighted relative to `e^r - 1`.
- `erf`: `[0, 15.5 w]` cut into 16 intervals, `k = round(a / w)`, each a polynomial in
  `t = a - k w` (`|t| <= w / 2`) with coefficients in 16-entry tables that the kernel looks
  up per lane: `erf a = c0 + s (H + R(t))`, `H` the rounded value at `t = 0` of what
  `H + R` approximates, so that `R` is small. Intervals 0 and 1 take the product form
  `s = a`, `c0 = 0`, `H + R = erf(a) / a` (the odd series divided by `a`): small `a` keeps
  full relative precision. The others take `s = t`, `c0 = erf(k w)` (printed in two parts),
  `H + R = (erf(a) - c0) / t`; in the first intervals that form would cancel (`c0` near
  twice the result at `t = -w / 2`). Every interval gets the same degree (the kernel runs
  one Horner loop for every lane): the lowest whose worst interval meets `tol`. `w` is the
  lowest multiple of 2^-8 for which `ERFC_MAX = (15.5 - 2^-6) w` passes the point where
  `erf` rounds to 1.
"""

import mpmath as mp
import numpy as np

mp.mp.dps = 60


def chebyshev_rows(t, n):
    """T_0(t) ... T_n(t)."""
    row = [mp.mpf(1), t]
    while len(row) <= n:
        row.append(2 * t * row[-1] - row[-2])
    return row[: n + 1]


def fit(f, weight, lo, hi, n):
    """Chebyshev coefficients (in t = (2v - hi - lo) / (hi - lo)) of the weighted
    least-squares fit of degree n to f on [lo, hi]."""
    m = 4 * (n + 1)
    rows, rhs = [], []
    for k in range(m):
        t = mp.cos(mp.pi * (k + mp.mpf(1) / 2) / m)
        v = (hi - lo) / 2 * t + (hi + lo) / 2
        w = weight(v)
        rows.append([w * c for c in chebyshev_rows(t, n)])
        rhs.append(w * f(v))
    a = mp.matrix(rows)
    b = mp.matrix(rhs)
    return list(mp.lu_solve(a.T * a, a.T * b))


def monomials(cheb, scale, shift):
    """Monomial coefficients (lowest first) in u of sum c_j T_j(scale u + shift)."""
    t = [mp.mpf(shift), mp.mpf(scale)]
    basis = [[mp.mpf(1)], t]
    while len(basis) < len(cheb):
        two_t_prev = [mp.mpf(0)] * (len(basis[-1]) + 1)
        for i, x in enumerate(basis[-1]):
            two_t_prev[i] += 2 * shift * x
            two_t_prev[i + 1] += 2 * scale * x
        for i, x in enumerate(basis[-2]):
            two_t_prev[i] -= x
        basis.append(two_t_prev)
    out = [mp.mpf(0)] * len(cheb)
    for c, b in zip(cheb, basis):
        for i, x in enumerate(b):
            out[i] += c * x
    return out


def horner(coeffs, v):
    acc = mp.mpf(0)
    for c in reversed(coeffs):
        acc = acc * v + c
    return acc


def best(name, f, weight, lo, hi, dtype, tol):
    """The lowest degree whose rounded monomial coefficients meet tol; prints the array."""
    scale, shift = 2 / (hi - lo), -(hi + lo) / (hi - lo)
    for n in range(2, 40):
        cheb = fit(f, weight, lo, hi, n)
        mono = monomials(cheb, scale, shift)
        rounded = [mp.mpf(float(dtype(c))) for c in mono]
        worst = 0
        for v in mp.linspace(lo, hi, 4001):
            worst = max(worst, abs(weight(v) * (horner(rounded, v) - f(v))))
        if worst < tol:
            size = sum(abs(c) for c in rounded)
            print(f"// degree {n} on [{float(lo)}, {float(hi)}], weighted error {float(worst):.2e}, "
                  f"sum of |coefficients| {float(size):.3g}")
            kind = "f64" if dtype is np.float64 else "f32"
            body = ", ".join(repr(float(c)) if kind == "f64" else str(dtype(c))
                             for c in reversed(rounded))
            print(f"const {name}: [{kind}; {n + 1}] = [{body}];")
            return
    raise ValueError(f"{name}: no degree below 40 meets {tol}")


def ln_t(z):
    s = mp.sqrt(z)
    return (2 * mp.atanh(s) - 2 * s) / (s * z)


def ln_weight(z):
    s = mp.sqrt(z)
    return s * z / (2 * mp.atanh(s))


def expm1_q(r):
    if r == 0:
        return mp.mpf(1) / 2
    return (mp.expm1(r) - r) / (r * r)


def expm1_weight(r):
    # The error of Q times r^2, relative to e^r - 1.
    if r == 0:
        return mp.mpf(0)
    return r * r / abs(mp.expm1(r))


# |r| <= ln 2 / 2, and a little more for the rounding of n = round(x / ln 2).
EXPM1_R = mp.log(2) / 2 * (1 + mp.mpf(2) ** -40)


C0 = 2 / mp.sqrt(mp.pi)


def rust_array(values, dtype):
    """One row of a Rust array: shortest round-trip digits at the target precision, and
    `2/sqrt(pi)` rounded by its name in the standard library (clippy's approx_constant)."""
    ty = "f64" if dtype is np.float64 else "f32"

    def literal(c):
        if dtype(c) == dtype(C0):
            return f"std::{ty}::consts::FRAC_2_SQRT_PI"
        return repr(float(c)) if dtype is np.float64 else str(dtype(c))

    return ", ".join(literal(c) for c in values)


# Intervals 0 and 1 take erf's product form (`ERF_PRODUCT_FORM_BELOW` in constants.rs).
PRODUCT_FORM_BELOW = 2


def erf_intervals(kind, dtype, tol):
    """The 16 interval tables of `erf` (see the module doc), printed as Rust arrays."""
    # erf rounds to 1 beyond the point where erfc = half an ulp below 1.
    eps = mp.mpf(2) ** -(53 if dtype is np.float64 else 24)
    top = mp.findroot(lambda a: mp.log(mp.erfc(a) / (eps / 2)), 4)
    w = mp.ceil(top / mp.mpf("15.5") * 256) / 256
    # The index rounds `a / w` computed in floating point: a boundary can move by an ulp.
    h = w / 2 * (1 + mp.mpf(2) ** -40)

    def rounded(v):
        return mp.mpf(float(dtype(v)))

    def ratio(a):
        return mp.erf(a) / a if a != 0 else C0

    for d in range(3, 40):
        highs, lows, slopes, polys, errors = [], [], [], [], []
        for k in range(16):
            m = k * w
            start = TINY if k == 0 else -h
            product = k < PRODUCT_FORM_BELOW
            if product:
                # erf a = a (H + R(t)): R's error relative to erf(a) / a.
                c0, slope = mp.mpf(0), rounded(ratio(m))
                f = lambda t: ratio(m + t) - slope
                weight = lambda t: 1 / ratio(m + t)
            else:
                # erf a = c0 + t (H + R(t)): t R's error relative to erf(a).
                c0 = mp.erf(m)
                derivative = 2 / mp.sqrt(mp.pi) * mp.exp(-m * m)
                slope = rounded(derivative)
                f = lambda t: ((mp.erf(m + t) - c0) / t if t != 0 else derivative) - slope
                weight = lambda t: t / mp.erf(m + t)
            cheb = fit(f, weight, start, h, d - 1)
            r = [rounded(c) for c in monomials(cheb, 2 / (h - start), -(h + start) / (h - start))]
            high = rounded(c0)
            low = rounded(c0 - high)
            highs.append(high)
            lows.append(low)
            slopes.append(slope)
            polys.append(r)
            worst = 0
            for t in mp.linspace(start, h, 501):
                s = m + t if product else t
                exact = mp.erf(m + t)
                worst = max(worst, abs(high + low + s * (slope + horner(r, t)) - exact) / exact)
            errors.append(worst)
        if max(errors) < tol:
            break
    else:
        raise ValueError(f"ERF_{kind}: no degree below 40 meets {tol}")
    ty = "f64" if dtype is np.float64 else "f32"
    print(f"// 16 intervals of width {float(w)} on [0, {float(15.5 * w)}], degree {d}, worst weighted "
          f"error {float(max(errors)):.2e} (interval {errors.index(max(errors))})")
    # Just below the end of the last interval, 15.5 w, so that `a / w` rounds to 15 at most
    # for `a <= ERFC_MAX` and the index needs no clamp.
    erfc_max = (mp.mpf("15.5") - mp.mpf(2) ** -6) * w
    assert erfc_max > top
    print(f"pub(super) const ERF_WIDTH_{kind}: {ty} = {rust_array([w], dtype)};")
    print(f"pub(super) const ERFC_MAX_{kind}: {ty} = {rust_array([erfc_max], dtype)};")
    print(f"pub(super) const ERF_BASE_{kind}: [{ty}; 16] = [{rust_array(highs, dtype)}];")
    print(f"pub(super) const ERF_BASE_LO_{kind}: [{ty}; 16] = [{rust_array(lows, dtype)}];")
    print(f"pub(super) const ERF_SLOPE_{kind}: [{ty}; 16] = [{rust_array(slopes, dtype)}];")
    rows = [rust_array([p[j] for p in polys], dtype) for j in reversed(range(d))]
    print(f"pub(super) const ERF_POLY_{kind}: [[{ty}; 16]; {d}] = [{', '.join(f'[{r}]' for r in rows)}];")


# A node at exactly z = 0 never occurs (Chebyshev nodes are interior); tiny lo avoids 0/0
# on the check grid.
TINY = mp.mpf("1e-30")
# erf's f64 tolerance is looser: 2^-57 takes degree 13 for interval 1 alone, one more
# table lookup and multiply-add for every lane; degree 12 measured 0.74 ulps at worst
# against mpmath where 13 measured 0.65, and 11% less time in cache.
for kind, dtype, tol, erf_tol in [("F64", np.float64, mp.mpf(2) ** -57, mp.mpf(2) ** -54),
                                  ("F32", np.float32, mp.mpf(2) ** -28, mp.mpf(2) ** -28)]:
    best(f"LN_ATANH_{kind}", ln_t, ln_weight, TINY, (3 - 2 * mp.sqrt(2)) ** 2, dtype, tol)
    best(f"EXPM1_Q_{kind}", expm1_q, expm1_weight, -EXPM1_R, EXPM1_R, dtype, tol)
    erf_intervals(kind, dtype, erf_tol)
