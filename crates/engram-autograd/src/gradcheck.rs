//! Gradient checks by central differences: `gradcheck` compares every first derivative an
//! op reports with `(f(x + ε) - f(x - ε)) / 2ε`; `gradgradcheck` does the same for the
//! derivative of the (recorded) gradient. The report names, per input, the largest
//! absolute and relative error and the element where it occurred.

use crate::backward::{grad_graph_as, vjp_as, OfConstant};
use crate::tape::Tape;
use crate::var::Var;
use engram_tensor::{seeded_rng, Float, Tensor};
use std::fmt;

/// Step and tolerances, as numbers: an element passes when
/// `|analytic - numeric| <= atol + rtol·|numeric|`, both derivatives being finite.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerances {
    /// Finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
}

impl Tolerances {
    /// The defaults for element type `T`.
    ///
    /// f64: eps 1e-6, atol 1e-5, rtol 1e-3, PyTorch's `gradcheck` defaults.
    ///
    /// f32: eps 1e-3, atol 1e-2, rtol 1e-2. With 24-bit mantissas a 1e-6 step is lost in
    /// rounding (`f(x ± ε)` differ in their last bits only); a step near the cube root of
    /// f32's epsilon balances rounding against truncation error. These pass every case of
    /// the registry in f32 (`tests/gradcheck_ops.rs` runs them).
    pub fn for_dtype<T: Float>() -> Self {
        if T::DTYPE == <f32 as engram_tensor::Element>::DTYPE {
            Tolerances {
                eps: 1e-3,
                atol: 1e-2,
                rtol: 1e-2,
            }
        } else {
            Tolerances {
                eps: 1e-6,
                atol: 1e-5,
                rtol: 1e-3,
            }
        }
    }
}

/// How to check. Each of `eps`, `atol` and `rtol` left `None` (as in `Default`) takes the
/// value for the inputs' element type, as JAX's `check_grads` does, so default options
/// suit f32 as well as f64 (see [`Tolerances::for_dtype`]).
///
/// ```
/// use engram_autograd::GradcheckOptions;
/// let loose = GradcheckOptions { atol: Some(1e-4), ..GradcheckOptions::default() };
/// assert_eq!(loose.tolerances::<f64>().atol, 1e-4);
/// assert_eq!(loose.tolerances::<f64>().eps, 1e-6);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GradcheckOptions {
    /// Finite-difference step; `None`: the dtype's default.
    pub eps: Option<f64>,
    /// Absolute tolerance; `None`: the dtype's default.
    pub atol: Option<f64>,
    /// Relative tolerance; `None`: the dtype's default.
    pub rtol: Option<f64>,
    /// Seed of the random cotangents that project a non-scalar output to a scalar.
    pub seed: u64,
}

impl GradcheckOptions {
    /// The step and tolerances these options give for element type `T`.
    pub fn tolerances<T: Float>(&self) -> Tolerances {
        let d = Tolerances::for_dtype::<T>();
        Tolerances {
            eps: self.eps.unwrap_or(d.eps),
            atol: self.atol.unwrap_or(d.atol),
            rtol: self.rtol.unwrap_or(d.rtol),
        }
    }
}

/// How one input's derivatives compared.
#[derive(Clone, Debug)]
pub struct InputReport {
    /// The input's shape.
    pub shape: Vec<usize>,
    /// Largest `|analytic - numeric|`; NaN if either derivative was NaN anywhere.
    pub max_abs_error: f64,
    /// Largest `|analytic - numeric| / |numeric|` (over elements with `|numeric| > 0`).
    pub max_rel_error: f64,
    /// Multi-index of the element that failed worst: the first whose derivative is not
    /// finite, if any; else the one furthest out of tolerance (or, if none failed, with
    /// the largest error).
    pub worst_index: Option<Vec<usize>>,
    /// Analytic and numeric derivative at that element.
    pub worst_values: Option<(f64, f64)>,
    /// Number of elements outside tolerance, non-finite ones included.
    pub failures: usize,
    /// Number of elements whose analytic or numeric derivative is NaN or infinite.
    pub non_finite: usize,
}

/// The outcome of a check, printable as a short table.
#[derive(Clone, Debug)]
pub struct GradcheckReport {
    /// One entry per input.
    pub inputs: Vec<InputReport>,
    /// The first element of `f(x)` that is NaN or infinite, and its value: where `f`
    /// itself is undefined, no derivative can be checked.
    pub non_finite_output: Option<(Vec<usize>, f64)>,
    /// The step and tolerances used.
    pub tolerances: Tolerances,
    /// The options asked for.
    pub options: GradcheckOptions,
    /// Which derivatives were checked: 1 by [`gradcheck`], 2 by [`gradgradcheck`].
    pub order: usize,
}

/// The larger of two errors, where NaN counts as larger than anything (`f64::max` would
/// drop it, and report a NaN derivative as an error of 0).
fn max_error(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

impl GradcheckReport {
    /// True when `f(x)` is finite and every element of every input is within tolerance.
    pub fn passed(&self) -> bool {
        self.non_finite_output.is_none() && self.inputs.iter().all(|r| r.failures == 0)
    }
    /// Largest absolute error over all inputs (NaN if any derivative was NaN).
    pub fn max_abs_error(&self) -> f64 {
        self.inputs
            .iter()
            .map(|r| r.max_abs_error)
            .fold(0.0, max_error)
    }
    /// Largest relative error over all inputs (NaN if any derivative was NaN).
    pub fn max_rel_error(&self) -> f64 {
        self.inputs
            .iter()
            .map(|r| r.max_rel_error)
            .fold(0.0, max_error)
    }
}

impl fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.tolerances;
        writeln!(
            f,
            "{} {} (eps {:e}, atol {:e}, rtol {:e})",
            if self.order == 2 {
                "gradgradcheck"
            } else {
                "gradcheck"
            },
            if self.passed() { "passed" } else { "FAILED" },
            t.eps,
            t.atol,
            t.rtol
        )?;
        if let Some((idx, v)) = &self.non_finite_output {
            writeln!(
                f,
                "  the output is not finite: {v} at {idx:?}; no derivative can be checked there"
            )?;
        }
        for (i, r) in self.inputs.iter().enumerate() {
            write!(
                f,
                "  input {i} {:?}: max abs error {:.3e}, max rel error {:.3e}",
                r.shape, r.max_abs_error, r.max_rel_error
            )?;
            if let (Some(idx), Some((a, n))) = (&r.worst_index, r.worst_values) {
                write!(f, ", worst at {idx:?} (analytic {a:.6e}, numeric {n:.6e})")?;
            }
            if r.failures > 0 {
                write!(f, ", {} element(s) out of tolerance", r.failures)?;
            }
            if r.non_finite > 0 {
                write!(f, ", {} not finite", r.non_finite)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// The multi-index of the `flat`-th element in row-major order.
pub(crate) fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = flat % shape[d];
        flat /= shape[d];
    }
    idx
}

/// The first element of `y` that is NaN or infinite, and where it is.
fn first_non_finite<T: Float>(y: &Tensor<T>) -> Option<(Vec<usize>, f64)> {
    let values = y.to_vec();
    let at = values.iter().position(|v| !v.is_finite())?;
    Some((unravel(at, y.shape()), values[at].as_f64()))
}

/// How bad one element is, for picking the one to report: not finite beats out of
/// tolerance beats within it; within a class, the larger error relative to tolerance.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Badness {
    Within(f64),
    Outside(f64),
    NotFinite,
}

/// Compares analytic derivatives with central differences of the scalar `eval`.
fn compare<T: Float>(
    analytic: &[Tensor<T>],
    inputs: &[Tensor<T>],
    eval: impl Fn(&[Tensor<T>]) -> f64,
    o: &Tolerances,
) -> Vec<InputReport> {
    let mut reports = Vec::new();
    for (i, x) in inputs.iter().enumerate() {
        let a = analytic[i].to_vec();
        let mut r = InputReport {
            shape: x.shape().to_vec(),
            max_abs_error: 0.0,
            max_rel_error: 0.0,
            worst_index: None,
            worst_values: None,
            failures: 0,
            non_finite: 0,
        };
        let mut worst: Option<Badness> = None;
        for (j, &a_j) in a.iter().enumerate() {
            let shifted = |delta: f64| {
                let mut args: Vec<Tensor<T>> = inputs.to_vec();
                let slot = &mut args[i].as_mut_slice()[j];
                *slot = T::of(slot.as_f64() + delta);
                eval(&args)
            };
            let numeric = (shifted(o.eps) - shifted(-o.eps)) / (2.0 * o.eps);
            let analytic = a_j.as_f64();
            let abs = (analytic - numeric).abs();
            let tolerance = o.atol + o.rtol * numeric.abs();
            let badness = if !(analytic.is_finite() && numeric.is_finite()) {
                r.non_finite += 1;
                Badness::NotFinite
            } else if abs > tolerance {
                Badness::Outside(abs / tolerance)
            } else {
                Badness::Within(abs / tolerance)
            };
            if !matches!(badness, Badness::Within(_)) {
                r.failures += 1;
            }
            r.max_abs_error = max_error(r.max_abs_error, abs);
            if numeric != 0.0 {
                r.max_rel_error = max_error(r.max_rel_error, abs / numeric.abs());
            }
            // The first non-finite element is where the trouble starts; report it.
            let replace = match worst {
                None => true,
                Some(Badness::NotFinite) => false,
                Some(w) => badness > w,
            };
            if replace {
                worst = Some(badness);
                r.worst_index = Some(unravel(j, x.shape()));
                r.worst_values = Some((analytic, numeric));
            }
        }
        reports.push(r);
    }
    reports
}

/// A fixed random cotangent of the output's shape: checks `rᵀ J` for a random `r`, which
/// tests every column of the Jacobian at once.
fn cotangent<T: Float>(shape: &[usize], seed: u64) -> Tensor<T> {
    Tensor::randn(shape, &mut seeded_rng(seed ^ 0x9e37_79b9_7f4a_7c15))
}

/// Evaluates `f` on constants (nothing recorded) and projects onto `r`.
fn projected<T: Float>(f: &impl Fn(&[Var<T>]) -> Var<T>, args: &[Tensor<T>], r: &Tensor<T>) -> f64 {
    let vars: Vec<Var<T>> = args.iter().map(|a| Var::constant(a.clone())).collect();
    let y = f(&vars);
    y.value()
        .to_vec()
        .iter()
        .zip(r.to_vec())
        .map(|(a, b)| a.as_f64() * b.as_f64())
        .sum()
}

/// Checks the first derivatives of `f` at `inputs` against central differences.
///
/// ```
/// use engram_autograd::{gradcheck, GradcheckOptions, Var};
/// use engram_tensor::Tensor;
/// let x = Tensor::<f64>::from_vec(vec![0.3, -1.2, 2.0], &[3]);
/// let report = gradcheck(|v: &[Var<f64>]| v[0].tanh().mul(&v[0]), &[x], &GradcheckOptions::default());
/// assert!(report.passed(), "{report}");
/// ```
pub fn gradcheck<T: Float>(
    f: impl Fn(&[Var<T>]) -> Var<T>,
    inputs: &[Tensor<T>],
    options: &GradcheckOptions,
) -> GradcheckReport {
    let tolerances = options.tolerances::<T>();
    let tape = Tape::<T>::new();
    let leaves: Vec<Var<T>> = inputs.iter().map(|x| tape.leaf(x.clone())).collect();
    let y = f(&leaves);
    let r = cotangent::<T>(y.shape(), options.seed);
    let analytic = first_derivatives(&y, &r, &leaves);
    GradcheckReport {
        inputs: compare(
            &analytic,
            inputs,
            |args| projected(&f, args, &r),
            &tolerances,
        ),
        non_finite_output: first_non_finite(y.value()),
        tolerances,
        options: *options,
        order: 1,
    }
}

/// `rᵀ ∂y/∂leaves`; zeros (not a panic) for a `y` that is constant, so that the check
/// reports what finite differences find instead.
fn first_derivatives<T: Float>(y: &Var<T>, r: &Tensor<T>, leaves: &[Var<T>]) -> Vec<Tensor<T>> {
    let refs: Vec<&Var<T>> = leaves.iter().collect();
    vjp_as("gradcheck", y, r, &refs, OfConstant::Zeros)
}

/// Checks the second derivatives of `f`: the gradient of `S(x) = Σ_i ⟨∂⟨f(x), r⟩/∂x_i, v_i⟩`
/// taken through the recorded backward pass, against central differences of `S` computed
/// by the plain first-order pass. Random `r` and `v_i` make this test every entry of the
/// Hessian-like second derivative at once.
pub fn gradgradcheck<T: Float>(
    f: impl Fn(&[Var<T>]) -> Var<T>,
    inputs: &[Tensor<T>],
    options: &GradcheckOptions,
) -> GradcheckReport {
    let tolerances = options.tolerances::<T>();
    let tape = Tape::<T>::new();
    let leaves: Vec<Var<T>> = inputs.iter().map(|x| tape.leaf(x.clone())).collect();
    let refs: Vec<&Var<T>> = leaves.iter().collect();
    let y = f(&leaves);
    let r = cotangent::<T>(y.shape(), options.seed);
    let vs: Vec<Tensor<T>> = inputs
        .iter()
        .enumerate()
        .map(|(i, x)| cotangent(x.shape(), options.seed.wrapping_add(1 + i as u64)))
        .collect();
    let first = grad_graph_as(
        "gradgradcheck",
        &y,
        Some(&Var::constant(r.clone())),
        &refs,
        OfConstant::Zeros,
    );
    let s = first
        .iter()
        .zip(&vs)
        .map(|(g, v)| g.mul(&Var::constant(v.clone())).sum())
        .reduce(|a, b| a.add(&b))
        .expect("at least one input");
    let analytic = vjp_as(
        "gradgradcheck",
        &s,
        &Tensor::ones(&[]),
        &refs,
        OfConstant::Zeros,
    );
    let eval = |args: &[Tensor<T>]| {
        let tape = Tape::<T>::new();
        let leaves: Vec<Var<T>> = args.iter().map(|x| tape.leaf(x.clone())).collect();
        let y = f(&leaves);
        let g = first_derivatives(&y, &r, &leaves);
        g.iter()
            .zip(&vs)
            .map(|(gi, vi)| {
                gi.to_vec()
                    .iter()
                    .zip(vi.to_vec())
                    .map(|(a, b)| a.as_f64() * b.as_f64())
                    .sum::<f64>()
            })
            .sum()
    };
    GradcheckReport {
        inputs: compare(&analytic, inputs, eval, &tolerances),
        non_finite_output: first_non_finite(y.value()),
        tolerances,
        options: *options,
        order: 2,
    }
}
