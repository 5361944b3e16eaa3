//! The gradient-check benchmark: every case of the autograd registry (and, as they arrive,
//! every layer) checked against central differences, with a machine-readable report.
//!
//! # JSON report schema (`engram gradcheck --json PATH`)
//!
//! ```text
//! {
//!   "engram_version": "0.1.0",
//!   "order": 1 | 2,            // 2: second derivatives (gradgradcheck) of ops with curvature
//!   "dtype": "f64" | "f32",    // f32 runs with loose tolerances
//!   "seed": u64,
//!   "filter": string | null,
//!   "tolerances": {"eps": f64, "atol": f64, "rtol": f64},
//!   "passed": usize, "failed": usize,
//!   "max_abs_error": f64, "max_rel_error": f64,
//!   "cases": [{
//!     "name": "exp/matrix", "op": "exp", "label": "matrix",
//!     "shapes": [[3, 4]], "max_abs_error": f64, "max_rel_error": f64,
//!     "passed": bool, "seconds": f64,
//!     "worst": {"input": usize, "index": [usize], "analytic": f64, "numeric": f64} | null
//!   }]
//! }
//! ```

use engram_autograd::registry::{all_cases, GradcheckCase};
use engram_autograd::{gradcheck, gradgradcheck, GradcheckOptions, GradcheckReport};
use engram_tensor::{seeded_rng, Float, Tensor};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// Which derivatives to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Order {
    /// First derivatives of every case.
    First,
    /// Second derivatives of the cases whose op has a non-trivial one.
    Second,
}

/// The element type the sweep runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// Double precision, default tolerances.
    F64,
    /// Single precision, loose tolerances ([`engram_autograd::Tolerances::for_dtype`]).
    F32,
}

/// What to sweep.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    /// Keep only cases whose name (`op/label`) contains this text.
    pub filter: Option<String>,
    /// Seed of the random inputs and projections.
    pub seed: u64,
    /// First or second derivatives.
    pub order: Order,
    /// f64 or f32.
    pub dtype: Dtype,
}

impl SweepConfig {
    /// The options this configuration checks with: the dtype's default tolerances.
    pub fn options(&self) -> GradcheckOptions {
        GradcheckOptions {
            seed: self.seed,
            ..GradcheckOptions::default()
        }
    }

    /// The step and tolerances those options give for this configuration's dtype.
    pub fn tolerances(&self) -> engram_autograd::Tolerances {
        match self.dtype {
            Dtype::F64 => self.options().tolerances::<f64>(),
            Dtype::F32 => self.options().tolerances::<f32>(),
        }
    }

    /// The registry cases this configuration runs, in order.
    pub fn cases(&self) -> Vec<GradcheckCase> {
        all_cases()
            .into_iter()
            .chain(engram_nn::gradcheck_cases())
            .filter(|c| self.order == Order::First || c.second_order)
            .filter(|c| {
                self.filter
                    .as_ref()
                    .is_none_or(|f| c.name().contains(f.as_str()))
            })
            .collect()
    }
}

/// Where a case failed worst.
#[derive(Clone, Debug, Serialize)]
pub struct Worst {
    /// Which input.
    pub input: usize,
    /// The element's multi-index.
    pub index: Vec<usize>,
    /// Derivative from the tape.
    pub analytic: f64,
    /// Derivative from central differences.
    pub numeric: f64,
}

/// The outcome of one case.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    /// `op/label`.
    pub name: String,
    /// The op under test.
    pub op: String,
    /// The shape case.
    pub label: String,
    /// Input shapes.
    pub shapes: Vec<Vec<usize>>,
    /// Largest absolute error over all inputs.
    pub max_abs_error: f64,
    /// Largest relative error over all inputs.
    pub max_rel_error: f64,
    /// Every element within tolerance.
    pub passed: bool,
    /// Wall time of the check.
    pub seconds: f64,
    /// The worst element, by input.
    pub worst: Option<Worst>,
}

fn result_of(case: &GradcheckCase, report: &GradcheckReport, seconds: f64) -> CaseResult {
    let worst = report
        .inputs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.worst_index.is_some())
        .max_by(|(_, a), (_, b)| {
            (a.failures, a.max_abs_error)
                .partial_cmp(&(b.failures, b.max_abs_error))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map(|(i, r)| {
            let (analytic, numeric) = r.worst_values.unwrap_or((0.0, 0.0));
            Worst {
                input: i,
                index: r.worst_index.clone().unwrap_or_default(),
                analytic,
                numeric,
            }
        });
    CaseResult {
        name: case.name(),
        op: case.op.to_string(),
        label: case.label.to_string(),
        shapes: case.inputs.iter().map(|s| s.shape.clone()).collect(),
        max_abs_error: report.max_abs_error(),
        max_rel_error: report.max_rel_error(),
        passed: report.passed(),
        seconds,
        worst,
    }
}

fn check_case<T: Float>(
    case: &GradcheckCase,
    f: fn(&[engram_autograd::Var<T>]) -> engram_autograd::Var<T>,
    config: &SweepConfig,
    index: usize,
) -> GradcheckReport {
    let mut rng = seeded_rng(
        config
            .seed
            .wrapping_mul(0x100_0193)
            .wrapping_add(index as u64),
    );
    let inputs: Vec<Tensor<T>> = case.inputs.iter().map(|s| s.sample(&mut rng)).collect();
    let options = config.options();
    match config.order {
        Order::First => gradcheck(f, &inputs, &options),
        Order::Second => gradgradcheck(f, &inputs, &options),
    }
}

/// Runs the sweep, calling `progress(done, total, result)` after each case.
pub fn run_sweep(
    config: &SweepConfig,
    mut progress: impl FnMut(usize, usize, &CaseResult),
) -> Vec<CaseResult> {
    let cases = config.cases();
    let total = cases.len();
    cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let start = Instant::now();
            let report = match config.dtype {
                Dtype::F64 => check_case(case, case.f64, config, i),
                Dtype::F32 => check_case(case, case.f32, config, i),
            };
            let result = result_of(case, &report, start.elapsed().as_secs_f64());
            progress(i + 1, total, &result);
            result
        })
        .collect()
}

/// The whole report, as written to JSON.
#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    /// Engram's version.
    pub engram_version: &'static str,
    /// 1 or 2.
    pub order: u8,
    /// f64 or f32.
    pub dtype: Dtype,
    /// Seed used.
    pub seed: u64,
    /// The filter, if any.
    pub filter: Option<String>,
    /// eps, atol, rtol.
    pub tolerances: Tolerances,
    /// Cases within tolerance.
    pub passed: usize,
    /// Cases outside tolerance.
    pub failed: usize,
    /// Largest absolute error seen.
    pub max_abs_error: f64,
    /// Largest relative error seen.
    pub max_rel_error: f64,
    /// Every case.
    pub cases: Vec<CaseResult>,
}

/// The tolerances of a sweep.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Tolerances {
    /// Finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
}

impl SweepReport {
    /// Summarises the results of a sweep.
    pub fn new(config: &SweepConfig, cases: Vec<CaseResult>) -> Self {
        let o = config.tolerances();
        let passed = cases.iter().filter(|c| c.passed).count();
        // NaN counts as the largest error: `f64::max` would drop it.
        let largest = |e: fn(&CaseResult) -> f64| {
            cases.iter().map(e).fold(0.0, |m: f64, x| {
                if m.is_nan() || x.is_nan() {
                    f64::NAN
                } else {
                    m.max(x)
                }
            })
        };
        SweepReport {
            engram_version: env!("CARGO_PKG_VERSION"),
            order: if config.order == Order::First { 1 } else { 2 },
            dtype: config.dtype,
            seed: config.seed,
            filter: config.filter.clone(),
            tolerances: Tolerances {
                eps: o.eps,
                atol: o.atol,
                rtol: o.rtol,
            },
            failed: cases.len() - passed,
            passed,
            max_abs_error: largest(|c| c.max_abs_error),
            max_rel_error: largest(|c| c.max_rel_error),
            cases,
        }
    }

    /// Writes the report as JSON through the one safe writer every Engram file goes
    /// through (`engram::nn::files::write_atomically`): a temporary file beside `path`,
    /// fsynced and renamed, and never over a link, a FIFO or a device.
    pub fn write_json(&self, path: &Path) -> Result<(), ReportError> {
        let text = serde_json::to_string_pretty(self).map_err(ReportError::Encode)?;
        engram::nn::files::write_atomically(path, text.as_bytes())?;
        Ok(())
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The file could not be written (or `path` names something that is not replaced).
    #[error("cannot write the report: {0}")]
    Write(#[from] engram::nn::files::WriteError),
    /// The report could not be encoded (a bug).
    #[error("cannot encode the report: {0}")]
    Encode(serde_json::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_selects_by_name_and_order_two_keeps_curved_ops() {
        let config = SweepConfig {
            filter: Some("matmul/".into()),
            seed: 0,
            order: Order::First,
            dtype: Dtype::F64,
        };
        let cases = config.cases();
        assert!(!cases.is_empty() && cases.iter().all(|c| c.op == "matmul"));
        let second = SweepConfig {
            filter: None,
            order: Order::Second,
            ..config
        };
        assert!(second.cases().iter().all(|c| c.second_order));
        assert!(second.cases().iter().all(|c| c.op != "relu"));
    }

    #[test]
    fn report_counts_and_writes_atomically() {
        let config = SweepConfig {
            filter: Some("softmax/".into()),
            seed: 3,
            order: Order::First,
            dtype: Dtype::F64,
        };
        let results = run_sweep(&config, |_, _, _| {});
        let report = SweepReport::new(&config, results);
        assert_eq!(report.failed, 0);
        assert!(report.passed >= 3);
        let dir = std::env::temp_dir().join(format!("engram-sweep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.json");
        report.write_json(&path).unwrap();
        let back: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back["passed"], report.passed);
        assert_eq!(back["cases"][0]["op"], "softmax");
        let leftovers = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0, "a temporary file was left beside the report");
        let err = report
            .write_json(&dir.join("missing").join("r.json"))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot write the report: cannot write")
                && err.to_string().contains("missing"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
