"""Chebyshev coefficients of R(a) = erfc(a) · e^(a²), used by the vectorised `erf` kernel
(crates/engram-tensor/src/vmath) for |x| >= 1: erf(a) = 1 - e^(-a²) R(a).

R is interpolated at Chebyshev nodes on [1, hi] in 50-digit arithmetic (mpmath) and the
series is cut where every later coefficient is below `tol` relative to the first; the
kernel sums it with Clenshaw's recurrence in t = (2a - (hi + 1)) / (hi - 1). Prints Rust
arrays, highest degree first.

    python3 tools/vmath/erfc_chebyshev.py
"""

import mpmath as mp
import numpy as np

mp.mp.dps = 50


def r(a):
    return mp.erfc(a) * mp.exp(a * a)


def chebyshev(lo, hi, n):
    nodes = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / n) for k in range(n)]
    values = [r((hi - lo) / 2 * t + (hi + lo) / 2) for t in nodes]
    coeffs = []
    for j in range(n):
        s = mp.fsum(values[k] * mp.cos(mp.pi * j * (k + mp.mpf(1) / 2) / n) for k in range(n))
        coeffs.append(2 * s / n)
    coeffs[0] /= 2
    return coeffs


def cut(coeffs, tol):
    for d in range(len(coeffs)):
        if all(abs(c) < tol * abs(coeffs[0]) for c in coeffs[d:]):
            return coeffs[:d]
    raise ValueError("not converged: raise n")


def check(coeffs, lo, hi, dtype):
    """Largest relative error of the cut series, summed in `dtype`, over a fine grid."""
    worst = 0.0
    for a in np.linspace(lo, hi, 2001):
        t = dtype((2 * a - (hi + lo)) / (hi - lo))
        b1, b2 = dtype(0), dtype(0)
        for c in reversed(coeffs[1:]):
            b1, b2 = dtype(c) + dtype(2) * t * b1 - b2, b1
        value = dtype(coeffs[0]) + t * b1 - b2
        worst = max(worst, abs(float(value) / float(r(mp.mpf(a))) - 1))
    return worst


for name, dtype, hi, tol in [("F64", np.float64, 6, 2e-17), ("F32", np.float32, 4, 1e-8)]:
    c = cut(chebyshev(mp.mpf(1), mp.mpf(hi), 60), tol)
    print(f"// degree {len(c) - 1} on [1, {hi}], measured relative error "
          f"{check(c, 1.0, float(hi), dtype):.2e} summed in {dtype.__name__}")
    body = ", ".join(repr(float(x)) if dtype is np.float64 else str(np.float32(x))
                     for x in reversed(c))
    print(f"const ERFC_CHEBYSHEV_{name}: [{name.lower()}; {len(c)}] = [{body}];")
