//! Accuracy sweeps against the platform's libm, special values, and agreement of the
//! scalar, AVX2 and AVX-512 versions bit for bit.

use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ALL: [Transcendental; 10] = [
    Transcendental::Exp,
    Transcendental::Expm1,
    Transcendental::Ln,
    Transcendental::Log1p,
    Transcendental::Tanh,
    Transcendental::Softplus,
    Transcendental::Sigmoid,
    Transcendental::Erf,
    Transcendental::Sin,
    Transcendental::Cos,
];

fn run64(level: Level, f: Transcendental, x: &[f64]) -> Vec<f64> {
    let mut out = vec![MaybeUninit::uninit(); x.len()];
    apply_f64(level, f, x, &mut out);
    // SAFETY: `apply_f64` wrote every element.
    out.into_iter()
        .map(|v| unsafe { v.assume_init() })
        .collect()
}

fn run32(level: Level, f: Transcendental, x: &[f32]) -> Vec<f32> {
    let mut out = vec![MaybeUninit::uninit(); x.len()];
    apply_f32(level, f, x, &mut out);
    // SAFETY: `apply_f32` wrote every element.
    out.into_iter()
        .map(|v| unsafe { v.assume_init() })
        .collect()
}

fn reference(f: Transcendental, x: f64) -> f64 {
    match f {
        Transcendental::Exp => x.exp(),
        Transcendental::Expm1 => x.exp_m1(),
        Transcendental::Ln => x.ln(),
        Transcendental::Log1p => x.ln_1p(),
        Transcendental::Tanh => x.tanh(),
        Transcendental::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
        Transcendental::Sigmoid => {
            if x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                x.exp() / (1.0 + x.exp())
            }
        }
        Transcendental::Erf => libm::erf(x),
        Transcendental::Sin => x.sin(),
        Transcendental::Cos => x.cos(),
    }
}

/// Distance in representable f64 values (0 when equal, ±0 equal, both NaN equal).
fn ulps64(a: f64, b: f64) -> u64 {
    if a.is_nan() && b.is_nan() {
        return 0;
    }
    if a.is_nan() || b.is_nan() {
        return u64::MAX;
    }
    let ordered = |x: f64| {
        let i = x.to_bits() as i64;
        if i < 0 {
            i64::MIN - i
        } else {
            i
        }
    };
    ordered(a).abs_diff(ordered(b))
}

/// The error of an f32 result in f32 ulps of the (f64) exact value, fractional.
fn ulps32(y: f32, exact: f64) -> f64 {
    if exact.is_nan() {
        return if y.is_nan() { 0.0 } else { f64::INFINITY };
    }
    if (exact as f32).is_infinite() || y.is_infinite() {
        return if y == exact as f32 {
            0.0
        } else {
            f64::INFINITY
        };
    }
    let a = exact.abs();
    let ulp = if a < f32::MIN_POSITIVE as f64 {
        2f64.powi(-149)
    } else {
        let e = ((a.to_bits() >> 52) as i32) - 1023;
        2f64.powi(e - 23)
    };
    (y as f64 - exact).abs() / ulp
}

#[test]
fn every_level_gives_bitwise_the_same_results() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut x64: Vec<f64> = (0..4099).map(|_| rng.gen_range(-800.0..800.0)).collect();
    x64.extend((0..4099).map(|_| f64::from_bits(rng.gen())));
    x64.extend([
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        1e-310,
        -1e-310,
    ]);
    let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
    for f in ALL {
        let (want64, want32) = (run64(Level::Scalar, f, &x64), run32(Level::Scalar, f, &x32));
        for level in levels() {
            let (got64, got32) = (run64(level, f, &x64), run32(level, f, &x32));
            for (i, (a, b)) in got64.iter().zip(&want64).enumerate() {
                assert!(
                    ulps64(*a, *b) == 0,
                    "{f:?} f64 {level:?} at {}: {a} vs {b}",
                    x64[i]
                );
            }
            for (i, (a, b)) in got32.iter().zip(&want32).enumerate() {
                assert!(
                    ulps64(*a as f64, *b as f64) == 0,
                    "{f:?} f32 {level:?} at {}: {a} vs {b}",
                    x32[i]
                );
            }
        }
    }
}

#[test]
fn a_result_does_not_depend_on_its_position_or_the_slice_length() {
    let x: Vec<f64> = (0..37).map(|i| i as f64 * 0.37 - 5.0).collect();
    for f in ALL {
        let whole = run64(level(), f, &x);
        for (i, &v) in x.iter().enumerate() {
            assert_eq!(run64(level(), f, &[v])[0].to_bits(), whole[i].to_bits());
        }
    }
}

/// Largest f32 error, in ulps, over every `stride`-th f32 bit pattern (both signs, every
/// exponent), against the f64 libm value.
fn f32_sweep_max_ulps(f: Transcendental, stride: usize) -> (f64, f32) {
    let xs: Vec<f32> = (0..=u32::MAX as usize)
        .step_by(stride)
        .map(|b| f32::from_bits(b as u32))
        .collect();
    let mut worst = (0.0, 0.0);
    for chunk in xs.chunks(1 << 16) {
        let ys = run32(level(), f, chunk);
        for (&x, &y) in chunk.iter().zip(&ys) {
            let e = ulps32(y, reference(f, x as f64));
            if e > worst.0 {
                worst = (e, x);
            }
        }
    }
    worst
}

#[test]
fn f32_kernels_are_within_2_ulps_over_a_sweep_of_all_floats() {
    // 2^32 / 251: about 17 million inputs per function, every exponent and both signs.
    for f in ALL {
        let (worst, at) = f32_sweep_max_ulps(f, 251);
        assert!(worst <= 2.0, "{f:?} f32: {worst} ulps at {at:e}");
    }
}

/// Largest distance, in f64 values, from the libm result over `xs`.
fn f64_max_ulps(f: Transcendental, xs: &[f64]) -> (u64, f64) {
    let ys = run64(level(), f, xs);
    xs.iter()
        .zip(&ys)
        .map(|(&x, &y)| (ulps64(y, reference(f, x)), x))
        .fold((0, 0.0), |w, e| if e.0 > w.0 { e } else { w })
}

fn uniform(lo: f64, hi: f64, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(lo..hi)).collect()
}

/// Positive floats spread evenly over every exponent, subnormals included.
fn every_exponent(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| f64::from_bits(rng.gen_range(1..f64::INFINITY.to_bits())))
        .collect()
}

#[test]
fn f64_exp_and_ln_are_within_1_ulp_of_libm() {
    let cases = [
        (Transcendental::Exp, uniform(-746.0, 710.0, 1 << 21, 1)),
        (Transcendental::Exp, uniform(-1.0, 1.0, 1 << 20, 2)),
        (Transcendental::Ln, every_exponent(1 << 21, 3)),
        (Transcendental::Ln, uniform(0.5, 2.0, 1 << 20, 4)),
    ];
    for (f, xs) in cases {
        let (worst, at) = f64_max_ulps(f, &xs);
        assert!(worst <= 1, "{f:?} f64: {worst} ulps from libm at {at:e}");
    }
}

#[test]
fn f64_tanh_is_within_2_ulps_of_libm() {
    for xs in [
        uniform(-20.0, 20.0, 1 << 21, 5),
        uniform(-1e-3, 1e-3, 1 << 18, 6),
    ] {
        let (worst, at) = f64_max_ulps(Transcendental::Tanh, &xs);
        assert!(worst <= 2, "tanh f64: {worst} ulps from libm at {at:e}");
    }
}

/// libm's `erf` is not correctly rounded either (about 1 ulp); the f32 sweep, against an
/// exact reference, measures the same kernel's own error.
#[test]
fn f64_erf_is_within_2_ulps_of_libm() {
    for xs in [
        uniform(-7.0, 7.0, 1 << 21, 9),
        uniform(-1.5, 1.5, 1 << 20, 10),
    ] {
        let (worst, at) = f64_max_ulps(Transcendental::Erf, &xs);
        assert!(worst <= 2, "erf f64: {worst} ulps from libm at {at:e}");
    }
}

/// `erf` switches polynomial at every `(k + ½) w` (between the product and the difference
/// form at `1.5 w`) and to ±1 at `ERFC_MAX`: the floats on both sides of each are accurate,
/// and the same at every level.
#[test]
fn erf_is_accurate_on_both_sides_of_every_interval_boundary() {
    let w64 = -<f64 as Constants>::ERF_NEG_WIDTH;
    let w32 = -<f32 as Constants>::ERF_NEG_WIDTH;
    let x64: Vec<f64> = (0..15)
        .map(|k| (k as f64 + 0.5) * w64)
        .chain([<f64 as Constants>::ERFC_MAX])
        .flat_map(|b| (-4i64..=4).map(move |d| f64::from_bits((b.to_bits() as i64 + d) as u64)))
        .flat_map(|x| [x, -x])
        .collect();
    let x32: Vec<f32> = (0..15)
        .map(|k| (k as f32 + 0.5) * w32)
        .chain([<f32 as Constants>::ERFC_MAX])
        .flat_map(|b| (-4i32..=4).map(move |d| f32::from_bits((b.to_bits() as i32 + d) as u32)))
        .flat_map(|x| [x, -x])
        .collect();
    let (want64, want32) = (
        run64(Level::Scalar, Transcendental::Erf, &x64),
        run32(Level::Scalar, Transcendental::Erf, &x32),
    );
    for (&x, &y) in x64.iter().zip(&want64) {
        let e = ulps64(y, libm::erf(x));
        assert!(e <= 2, "erf({x:e}) f64 = {y:e}: {e} ulps from libm");
    }
    for (&x, &y) in x32.iter().zip(&want32) {
        let e = ulps32(y, libm::erf(x as f64));
        assert!(e <= 2.0, "erf({x:e}) f32 = {y:e}: {e} ulps");
    }
    for level in levels() {
        let got64 = run64(level, Transcendental::Erf, &x64);
        let got32 = run32(level, Transcendental::Erf, &x32);
        for (i, (a, b)) in got64.iter().zip(&want64).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "erf({:e}) f64 {level:?}", x64[i]);
        }
        for (i, (a, b)) in got32.iter().zip(&want32).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "erf({:e}) f32 {level:?}", x32[i]);
        }
    }
}

/// Near 0 `erf x ≈ 2x/√π`: the product form keeps that to the last bit, down to subnormals.
#[test]
fn erf_keeps_full_relative_precision_for_tiny_inputs() {
    let x64 = [1e-8, 1e-20, 1e-300, 2.2e-308, 1e-310, 5e-324];
    let x32 = [1e-4f32, 1e-20, 1.2e-38, 1e-40, 1e-45];
    for level in levels() {
        for (&x, y) in x64.iter().zip(run64(level, Transcendental::Erf, &x64)) {
            let e = ulps64(y, libm::erf(x));
            assert!(
                e <= 1,
                "erf({x:e}) f64 {level:?} = {y:e}: {e} ulps from libm"
            );
        }
        for (&x, y) in x32.iter().zip(run32(level, Transcendental::Erf, &x32)) {
            let e = ulps32(y, libm::erf(x as f64));
            assert!(e <= 1.0, "erf({x:e}) f32 {level:?} = {y:e}: {e} ulps");
        }
    }
}

/// `expm1` near 0 (where it must not lose `x`), where its result switches to `exp`'s, near
/// overflow and for tiny inputs of both signs.
#[test]
fn f64_expm1_is_within_2_ulps_of_libm() {
    let tiny: Vec<f64> = every_exponent(1 << 19, 11)
        .into_iter()
        .filter(|x| *x < 1.0)
        .flat_map(|x| [x, -x])
        .collect();
    for (xs, what) in [
        (uniform(-1.0, 1.0, 1 << 20, 12), "[-1, 1]"),
        (uniform(-50.0, 50.0, 1 << 20, 13), "[-50, 50]"),
        (uniform(36.0, 45.0, 1 << 18, 14), "where exp takes over"),
        (uniform(700.0, 709.7, 1 << 18, 15), "near overflow"),
        (tiny, "tiny, both signs"),
    ] {
        let (worst, at) = f64_max_ulps(Transcendental::Expm1, &xs);
        assert!(worst <= 2, "expm1 on {what}: {worst} ulps at {at:e}");
    }
}

/// `log1p` near 0 (both signs), down to -1, and over every exponent up to overflow.
#[test]
fn f64_log1p_is_within_2_ulps_of_libm() {
    let tiny: Vec<f64> = every_exponent(1 << 19, 31)
        .into_iter()
        .filter(|x| *x < 1.0)
        .flat_map(|x| [x, -x])
        .collect();
    for (xs, what) in [
        (uniform(-0.5, 1.0, 1 << 20, 32), "[-0.5, 1]"),
        (uniform(-1.0, -0.5, 1 << 18, 33), "[-1, -0.5]"),
        (uniform(1.0, 1e6, 1 << 18, 34), "[1, 1e6]"),
        (every_exponent(1 << 19, 35), "every positive exponent"),
        (tiny, "tiny, both signs"),
    ] {
        let (worst, at) = f64_max_ulps(Transcendental::Log1p, &xs);
        assert!(worst <= 2, "log1p on {what}: {worst} ulps at {at:e}");
    }
}

/// The reference is libm's `max(x, 0) + log1p(e^-|x|)`, itself about an ulp off.
#[test]
fn f64_softplus_is_within_3_ulps_of_the_libm_formula() {
    for (xs, what) in [
        (uniform(-1.0, 1.0, 1 << 20, 21), "[-1, 1]"),
        (uniform(-60.0, 60.0, 1 << 20, 22), "[-60, 60]"),
        (uniform(-745.0, -600.0, 1 << 18, 23), "tiny results"),
    ] {
        let (worst, at) = f64_max_ulps(Transcendental::Softplus, &xs);
        assert!(worst <= 3, "softplus on {what}: {worst} ulps at {at:e}");
    }
}

/// The reference here is itself `e / (1 + e)` on libm's `exp`, up to about 1.5 ulps off;
/// the f32 sweep, against an exact reference, bounds the same kernel's error at 2 ulps.
#[test]
fn f64_sigmoid_is_within_3_ulps_of_the_libm_formula() {
    for xs in [
        uniform(-745.0, 40.0, 1 << 21, 7),
        uniform(-2.0, 2.0, 1 << 20, 8),
    ] {
        let (worst, at) = f64_max_ulps(Transcendental::Sigmoid, &xs);
        assert!(worst <= 3, "sigmoid f64: {worst} ulps from libm at {at:e}");
    }
}

/// The doubles nearest `m · π/2` for `n` random integers `m` up to `max / (π/2)`, with
/// their two neighbours on each side: where the reduced argument keeps fewest bits.
fn near_multiples_of_half_pi(max: f64, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let top = (max / std::f64::consts::FRAC_PI_2).floor();
    let mut out = Vec::with_capacity(5 * n);
    for _ in 0..n {
        let m = rng.gen_range(1.0..=top).round();
        let c = m * std::f64::consts::FRAC_PI_2;
        out.extend((-2i64..=2).map(|d| f64::from_bits((c.to_bits() as i64 + d) as u64)));
    }
    out
}

#[test]
fn f64_sin_and_cos_are_within_1_ulp_of_libm() {
    let max = <f64 as Constants>::TRIG_MAX;
    let sets = [
        uniform(-10.0, 10.0, 1 << 20, 12),
        uniform(-1e-3, 1e-3, 1 << 16, 13),
        every_exponent(1 << 18, 14)
            .into_iter()
            .filter(|x| *x <= max)
            .collect(),
        near_multiples_of_half_pi(64.0, 1 << 12, 15),
        near_multiples_of_half_pi(max, 1 << 16, 16),
        uniform(max / 2.0, max, 1 << 16, 17),
    ];
    for f in [Transcendental::Sin, Transcendental::Cos] {
        for xs in &sets {
            let negated: Vec<f64> = xs.iter().map(|x| -x).collect();
            for xs in [xs, &negated] {
                let (worst, at) = f64_max_ulps(f, xs);
                assert!(worst <= 1, "{f:?} f64: {worst} ulps from libm at {at:e}");
            }
        }
    }
}

#[test]
fn f32_sin_and_cos_are_within_1_ulp_near_every_multiple_of_half_pi() {
    let max = <f32 as Constants>::TRIG_MAX as f64;
    let top = (max / std::f64::consts::FRAC_PI_2) as u32;
    let xs: Vec<f32> = (1..=top)
        .flat_map(|m| {
            let c = (m as f64 * std::f64::consts::FRAC_PI_2) as f32;
            (-2i32..=2).map(move |d| f32::from_bits((c.to_bits() as i32 + d) as u32))
        })
        .collect();
    for f in [Transcendental::Sin, Transcendental::Cos] {
        let ys = run32(level(), f, &xs);
        for (&x, &y) in xs.iter().zip(&ys) {
            let e = ulps32(y, reference(f, x as f64));
            assert!(e <= 1.0, "{f:?}({x:e}) f32 = {y:e}: {e} ulps");
        }
    }
}

#[test]
fn sin_and_cos_beyond_the_reduction_range_are_libms() {
    let max64 = <f64 as Constants>::TRIG_MAX;
    let max32 = <f32 as Constants>::TRIG_MAX;
    let mut x64 = uniform(max64, 1e300, 1000, 18);
    x64.extend([
        f64::from_bits(max64.to_bits() + 1),
        1.5,
        f64::MAX,
        -3e20,
        0.25,
    ]);
    let x32: Vec<f32> = [
        f32::from_bits(max32.to_bits() + 1),
        2.5,
        f32::MAX,
        -3e20,
        1e7,
    ]
    .into_iter()
    .chain((0..1000).map(|i| max32 * (1.0 + i as f32)))
    .collect();
    for level in levels() {
        for (f, libm64, libm32) in [
            (
                Transcendental::Sin,
                f64::sin as fn(f64) -> f64,
                f32::sin as fn(f32) -> f32,
            ),
            (Transcendental::Cos, f64::cos, f32::cos),
        ] {
            for (&x, y) in x64.iter().zip(run64(level, f, &x64)) {
                if x.abs() > max64 {
                    assert_eq!(
                        y.to_bits(),
                        libm64(x).to_bits(),
                        "{f:?}({x:e}) f64 {level:?}"
                    );
                }
            }
            for (&x, y) in x32.iter().zip(run32(level, f, &x32)) {
                if x.abs() > max32 {
                    assert_eq!(
                        y.to_bits(),
                        libm32(x).to_bits(),
                        "{f:?}({x:e}) f32 {level:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn special_values_are_exact() {
    let inf = f64::INFINITY;
    let cases: [(Transcendental, f64, f64); 55] = [
        (Transcendental::Exp, 0.0, 1.0),
        (Transcendental::Exp, -0.0, 1.0),
        (Transcendental::Exp, inf, inf),
        (Transcendental::Exp, -inf, 0.0),
        (Transcendental::Exp, 1000.0, inf),
        (Transcendental::Exp, -1000.0, 0.0),
        (Transcendental::Expm1, 0.0, 0.0),
        (Transcendental::Expm1, -0.0, -0.0),
        (Transcendental::Expm1, inf, inf),
        (Transcendental::Expm1, -inf, -1.0),
        (Transcendental::Expm1, 1000.0, inf),
        (Transcendental::Expm1, -1000.0, -1.0),
        (Transcendental::Expm1, 1e-300, 1e-300),
        (Transcendental::Expm1, -1e-300, -1e-300),
        (Transcendental::Ln, 1.0, 0.0),
        (Transcendental::Ln, 0.0, -inf),
        (Transcendental::Ln, -0.0, -inf),
        (Transcendental::Ln, inf, inf),
        (Transcendental::Ln, -1.0, f64::NAN),
        (Transcendental::Ln, -inf, f64::NAN),
        (Transcendental::Log1p, 0.0, 0.0),
        (Transcendental::Log1p, -0.0, -0.0),
        (Transcendental::Log1p, -1.0, -inf),
        (Transcendental::Log1p, -2.0, f64::NAN),
        (Transcendental::Log1p, inf, inf),
        (Transcendental::Log1p, -inf, f64::NAN),
        (Transcendental::Log1p, 1e-300, 1e-300),
        (Transcendental::Log1p, -1e-300, -1e-300),
        (Transcendental::Log1p, 1.0, std::f64::consts::LN_2),
        (Transcendental::Tanh, 0.0, 0.0),
        (Transcendental::Tanh, -0.0, -0.0),
        (Transcendental::Tanh, inf, 1.0),
        (Transcendental::Tanh, -inf, -1.0),
        (Transcendental::Tanh, 50.0, 1.0),
        (Transcendental::Softplus, 0.0, std::f64::consts::LN_2),
        (Transcendental::Softplus, inf, inf),
        (Transcendental::Softplus, -inf, 0.0),
        (Transcendental::Softplus, 1000.0, 1000.0),
        (Transcendental::Sigmoid, 0.0, 0.5),
        (Transcendental::Sigmoid, inf, 1.0),
        (Transcendental::Sigmoid, -inf, 0.0),
        (Transcendental::Sigmoid, 100.0, 1.0),
        (Transcendental::Sigmoid, -1000.0, 0.0),
        (Transcendental::Erf, 0.0, 0.0),
        (Transcendental::Erf, -0.0, -0.0),
        (Transcendental::Erf, inf, 1.0),
        (Transcendental::Erf, -inf, -1.0),
        (Transcendental::Erf, 10.0, 1.0),
        (Transcendental::Sin, 0.0, 0.0),
        (Transcendental::Sin, -0.0, -0.0),
        (Transcendental::Sin, inf, f64::NAN),
        (Transcendental::Sin, -inf, f64::NAN),
        (Transcendental::Cos, 0.0, 1.0),
        (Transcendental::Cos, -0.0, 1.0),
        (Transcendental::Cos, inf, f64::NAN),
    ];
    for level in levels() {
        for (f, x, want) in cases {
            let got = run64(level, f, &[x])[0];
            assert!(
                ulps64(got, want) == 0 && got.is_sign_negative() == want.is_sign_negative()
                    || got.is_nan() && want.is_nan(),
                "{f:?}({x}) f64 {level:?} = {got}, want {want}"
            );
            let got = run32(level, f, &[x as f32])[0];
            let want = want as f32;
            assert!(
                got.to_bits() == want.to_bits() || got.is_nan() && want.is_nan(),
                "{f:?}({x}) f32 {level:?} = {got}, want {want}"
            );
        }
        for f in ALL {
            assert!(run64(level, f, &[f64::NAN])[0].is_nan(), "{f:?}(NaN) f64");
            assert!(run32(level, f, &[f32::NAN])[0].is_nan(), "{f:?}(NaN) f32");
        }
    }
}

#[test]
fn exp_rounds_into_the_subnormal_range_and_ln_reads_subnormals() {
    for x in [-708.5, -720.0, -740.0, -744.4, -745.1] {
        let got = run64(level(), Transcendental::Exp, &[x])[0];
        assert!(
            ulps64(got, x.exp()) <= 1,
            "exp({x}) = {got:e}, libm {:e}",
            x.exp()
        );
    }
    for x in [-88.0f32, -95.0, -100.0, -103.0] {
        let got = run32(level(), Transcendental::Exp, &[x])[0];
        assert!(
            ulps32(got, (x as f64).exp()) <= 1.0,
            "exp({x}) f32 = {got:e}"
        );
    }
    for x in [5e-324, 1e-310, 2.2e-308] {
        let got = run64(level(), Transcendental::Ln, &[x])[0];
        assert!(
            ulps64(got, x.ln()) <= 1,
            "ln({x:e}) = {got}, libm {}",
            x.ln()
        );
    }
    for x in [1e-45f32, 1e-40, 1.1e-38] {
        let got = run32(level(), Transcendental::Ln, &[x])[0];
        assert!(ulps32(got, (x as f64).ln()) <= 1.0, "ln({x:e}) f32 = {got}");
    }
}

/// `exp` scales by `2^n` in one step unless some lane of the register needs two: a value's
/// result must not depend on which its neighbours took.
#[test]
fn exp_gives_the_same_bits_whatever_scaling_its_neighbours_need() {
    // Every fourth element near the subnormal range or overflow forces the two-step scaling
    // in every register (of 4, 8 or 16 lanes) that holds one.
    let with_edges = |x: &[f64], low: f64, high: f64| -> Vec<f64> {
        let edge = |i: usize, v: f64| match i % 8 {
            0 => low,
            4 => high,
            _ => v,
        };
        x.iter().enumerate().map(|(i, &v)| edge(i, v)).collect()
    };
    let x64 = uniform(-700.0, 700.0, 4096, 19);
    let mixed64 = with_edges(&x64, -745.0, 709.7);
    let x32: Vec<f32> = uniform(-85.0, 85.0, 4096, 20)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let wide32: Vec<f64> = x32.iter().map(|&v| v as f64).collect();
    let mixed32: Vec<f32> = with_edges(&wide32, -100.0, 88.5)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    for level in levels() {
        let bits64 = |x: &[f64]| -> Vec<u64> {
            let y = run64(level, Transcendental::Exp, x);
            y.iter().map(|v| v.to_bits()).collect()
        };
        let bits32 = |x: &[f32]| -> Vec<u64> {
            let y = run32(level, Transcendental::Exp, x);
            y.iter().map(|v| v.to_bits() as u64).collect()
        };
        for (precision, alone, beside) in [
            ("f64", bits64(&x64), bits64(&mixed64)),
            ("f32", bits32(&x32), bits32(&mixed32)),
        ] {
            for i in (0..alone.len()).filter(|i| i % 4 != 0) {
                assert_eq!(
                    alone[i], beside[i],
                    "exp {precision} {level:?}, element {i}"
                );
            }
        }
    }
}

#[test]
#[should_panic(expected = "`transcendental`: Exp: the destination has 2 elements, the source 3")]
fn mismatched_lengths_name_the_function_and_both_lengths() {
    let mut out = [MaybeUninit::uninit(); 2];
    apply_f64(level(), Transcendental::Exp, &[1.0, 2.0, 3.0], &mut out);
}
