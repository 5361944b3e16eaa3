//! Gradient checks by central differences: `gradcheck` compares every first derivative an
//! op reports with `(f(x + ε) - f(x - ε)) / 2ε`; `gradgradcheck` does the same for the
//! derivative of the (recorded) gradient. The report names, per input, the largest
//! absolute and relative error and the element where it occurred.

use crate::backward::{grad, grad_graph, vjp};
use crate::tape::Tape;
use crate::var::Var;
use engram_tensor::{seeded_rng, Float, Tensor};
use std::fmt;

/// Step and tolerances; an element passes when `|analytic - numeric| <= atol + rtol·|numeric|`.
#[derive(Clone, Copy, Debug)]
pub struct GradcheckOptions {
    /// Finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Seed of the random cotangents that project a non-scalar output to a scalar.
    pub seed: u64,
}

impl Default for GradcheckOptions {
    /// PyTorch's defaults for f64: eps 1e-6, atol 1e-5, rtol 1e-3.
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
            seed: 0,
        }
    }
}

impl GradcheckOptions {
    /// Looser settings for f32, whose rounding swamps a 1e-6 step: eps 1e-3, atol 1e-2, rtol 1e-2.
    pub fn f32() -> Self {
        GradcheckOptions {
            eps: 1e-3,
            atol: 1e-2,
            rtol: 1e-2,
            seed: 0,
        }
    }
}

/// How one input's derivatives compared.
#[derive(Clone, Debug)]
pub struct InputReport {
    /// The input's shape.
    pub shape: Vec<usize>,
    /// Largest `|analytic - numeric|`.
    pub max_abs_error: f64,
    /// Largest `|analytic - numeric| / |numeric|` (over elements with `|numeric| > 0`).
    pub max_rel_error: f64,
    /// Multi-index of the element that failed worst (or had the largest error).
    pub worst_index: Option<Vec<usize>>,
    /// Analytic and numeric derivative at that element.
    pub worst_values: Option<(f64, f64)>,
    /// Number of elements outside tolerance.
    pub failures: usize,
}

/// The outcome of a check, printable as a short table.
#[derive(Clone, Debug)]
pub struct GradcheckReport {
    /// One entry per input.
    pub inputs: Vec<InputReport>,
    /// The settings used.
    pub options: GradcheckOptions,
}

impl GradcheckReport {
    /// True when every element of every input is within tolerance.
    pub fn passed(&self) -> bool {
        self.inputs.iter().all(|r| r.failures == 0)
    }
    /// Largest absolute error over all inputs.
    pub fn max_abs_error(&self) -> f64 {
        self.inputs
            .iter()
            .map(|r| r.max_abs_error)
            .fold(0.0, f64::max)
    }
    /// Largest relative error over all inputs.
    pub fn max_rel_error(&self) -> f64 {
        self.inputs
            .iter()
            .map(|r| r.max_rel_error)
            .fold(0.0, f64::max)
    }
}

impl fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        writeln!(
            f,
            "gradcheck {} (eps {:e}, atol {:e}, rtol {:e})",
            if self.passed() { "passed" } else { "FAILED" },
            o.eps,
            o.atol,
            o.rtol
        )?;
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
            writeln!(f)?;
        }
        Ok(())
    }
}

fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = flat % shape[d];
        flat /= shape[d];
    }
    idx
}

/// Compares analytic derivatives with central differences of the scalar `eval`.
fn compare<T: Float>(
    analytic: &[Tensor<T>],
    inputs: &[Tensor<T>],
    eval: impl Fn(&[Tensor<T>]) -> f64,
    o: &GradcheckOptions,
) -> GradcheckReport {
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
        };
        let mut worst_score = f64::NEG_INFINITY;
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
            // A NaN on either side counts as a failure.
            let within = abs <= o.atol + o.rtol * numeric.abs();
            let bad = !within;
            r.max_abs_error = r.max_abs_error.max(abs);
            if numeric != 0.0 {
                r.max_rel_error = r.max_rel_error.max(abs / numeric.abs());
            }
            if bad {
                r.failures += 1;
            }
            // Prefer reporting a failing element; among those, the one furthest out.
            let score = abs / (o.atol + o.rtol * numeric.abs()) + if bad { 1e300 } else { 0.0 };
            if score > worst_score || score.is_nan() {
                worst_score = score;
                r.worst_index = Some(unravel(j, x.shape()));
                r.worst_values = Some((analytic, numeric));
            }
        }
        reports.push(r);
    }
    GradcheckReport {
        inputs: reports,
        options: *o,
    }
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
    let tape = Tape::<T>::new();
    let leaves: Vec<Var<T>> = inputs.iter().map(|x| tape.leaf(x.clone())).collect();
    let y = f(&leaves);
    let r = cotangent::<T>(y.shape(), options.seed);
    let analytic = vjp(&y, &r, &leaves.iter().collect::<Vec<_>>());
    compare(&analytic, inputs, |args| projected(&f, args, &r), options)
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
    let first = grad_graph(&y, Some(&Var::constant(r.clone())), &refs);
    let s = first
        .iter()
        .zip(&vs)
        .map(|(g, v)| g.mul(&Var::constant(v.clone())).sum())
        .reduce(|a, b| a.add(&b))
        .expect("at least one input");
    let analytic = grad(&s, &refs);
    let eval = |args: &[Tensor<T>]| {
        let tape = Tape::<T>::new();
        let leaves: Vec<Var<T>> = args.iter().map(|x| tape.leaf(x.clone())).collect();
        let y = f(&leaves);
        let g = vjp(&y, &r, &leaves.iter().collect::<Vec<_>>());
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
    compare(&analytic, inputs, eval, options)
}
