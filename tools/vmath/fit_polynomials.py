"""Fitted polynomial coefficients for the vectorised `ln`, `tanh` and `erf` kernels
(crates/engram-tensor/src/vmath/constants.rs), printed as Rust arrays, highest degree first.

Each polynomial is a weighted least-squares fit in the Chebyshev basis on a dense Chebyshev
grid, in 60-digit arithmetic (mpmath), then rewritten in monomials so that the kernel sums
it by Horner's rule (one fused multiply-add per coefficient, where Clenshaw's recurrence
costs two operations and a Taylor series needs more terms for the same error). The weight
turns an error of the polynomial into the relative error it causes in the kernel's
result, so a part that the result scales down (the tail of `erf`, multiplied by
`e^(-a^2)`) gets only the accuracy it needs. The degree is the lowest whose coefficients,
rounded to the target precision, keep that error below `tol` on a 4001-point grid.

    python3 tools/vmath/fit_polynomials.py

- `ln`: `ln(1 + f) = 2 atanh(s) = 2s + s z T(z)`, `s = f / (2 + f)`, `z = s^2 <= (3 - 2 sqrt 2)^2`
  (`f` in `[sqrt(1/2) - 1, sqrt 2 - 1]`), fitted: `T`, weighted for `k = 0` (no `k ln 2`
  term in the result, where its relative error is largest).
- `tanh`: `e^r - 1 = r + r^2 Q(r)` on `|r| <= ln 2 / 2` (the `e^(-2a)` of `tanh a = -u / (2 + u)`,
  `u = e^(-2a) - 1`), fitted: `Q`, weighted relative to `e^r - 1`.
- `erf` below 1: `erf a = a (2/sqrt(pi) + z Q(z))`, `z = a^2 <= 1`, fitted: `Q`.
- `erf` from 1 to `hi`: `erf a = 1 - e^(-a^2) R(a)` with `R = erfc(a) e^(a^2)`, fitted in
  `t = (2a - (hi + 1)) / (hi - 1)`.
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


def best(name, f, weight, lo, hi, in_t, dtype, tol):
    """The lowest degree whose rounded monomial coefficients meet tol; prints the array."""
    scale, shift = 2 / (hi - lo), -(hi + lo) / (hi - lo)
    for n in range(2, 40):
        cheb = fit(f, weight, lo, hi, n)
        mono = monomials(cheb, 1, 0) if in_t else monomials(cheb, scale, shift)
        rounded = [mp.mpf(float(dtype(c))) for c in mono]
        worst = 0
        for v in mp.linspace(lo, hi, 4001):
            u = scale * v + shift if in_t else v
            worst = max(worst, abs(weight(v) * (horner(rounded, u) - f(v))))
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


def erf_q(z):
    a = mp.sqrt(z)
    return (mp.erf(a) / a - C0) / z


def erf_weight(z):
    a = mp.sqrt(z)
    return a * z / mp.erf(a)


def erfc_r(a):
    return mp.erfc(a) * mp.exp(a * a)


def erfc_weight(a):
    return mp.exp(-a * a) / mp.erf(a)


# A node at exactly z = 0 never occurs (Chebyshev nodes are interior); tiny lo avoids 0/0
# on the check grid.
TINY = mp.mpf("1e-30")
for kind, dtype, tol in [("F64", np.float64, mp.mpf(2) ** -57), ("F32", np.float32, mp.mpf(2) ** -28)]:
    best(f"LN_ATANH_{kind}", ln_t, ln_weight, TINY, (3 - 2 * mp.sqrt(2)) ** 2, False, dtype, tol)
    best(f"EXPM1_Q_{kind}", expm1_q, expm1_weight, -EXPM1_R, EXPM1_R, False, dtype, tol)
    best(f"ERF_SERIES_{kind}", erf_q, erf_weight, TINY, mp.mpf(1), False, dtype, tol)
    hi = mp.mpf(6 if kind == "F64" else 4)
    best(f"ERFC_TAIL_{kind}", erfc_r, erfc_weight, mp.mpf(1), hi, True, dtype, tol)
