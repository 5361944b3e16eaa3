//! The gradcheck registry: every differentiable op's test cases, in one list. Each family
//! file contributes its own entries (`cases()` beside its vjp rules); this file only
//! gathers them and says how to build their inputs.

use crate::var::Var;
use engram_tensor::{Float, Tensor};
use rand::Rng;

/// Where an input's random values are drawn from, so that the op is smooth around them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// Standard normal.
    Real,
    /// Uniform in [0.5, 2): for ln, sqrt, division, fractional powers.
    Positive,
    /// Magnitude in [0.2, 2) with a random sign: keeps clear of kinks at 0 (relu, abs).
    AwayFromZero,
    /// Uniform in (-0.9, 0.9).
    Unit,
    /// Standard normal, but every third element (0, 3, 6, ... in row-major order) exactly
    /// zero: for rules that must hold at 0 (the base of `pow`, a factor of `prod`).
    WithZeros,
}

/// One input of a case.
#[derive(Clone, Debug)]
pub struct InputSpec {
    /// The input's shape.
    pub shape: Vec<usize>,
    /// Where its values come from.
    pub domain: Domain,
    /// True to hand the op a non-contiguous view (the transpose of a contiguous tensor).
    pub transposed: bool,
}

impl InputSpec {
    /// Draws the input. A transposed input is built as the contiguous transpose and viewed
    /// back, so the op sees strides that are not row-major.
    pub fn sample<T: Float>(&self, rng: &mut impl Rng) -> Tensor<T> {
        let mut shape = self.shape.clone();
        let swap = self.transposed && shape.len() >= 2;
        if swap {
            let r = shape.len();
            shape.swap(r - 2, r - 1);
        }
        let n: usize = shape.iter().product();
        let data: Vec<T> = (0..n)
            .map(|i| {
                let v = match self.domain {
                    Domain::WithZeros if i % 3 == 0 => 0.0,
                    Domain::Real | Domain::WithZeros => {
                        let z: f64 =
                            rand_distr::Distribution::sample(&rand_distr::StandardNormal, rng);
                        z
                    }
                    Domain::Positive => rng.gen_range(0.5..2.0),
                    Domain::AwayFromZero => {
                        let m: f64 = rng.gen_range(0.2..2.0);
                        if rng.gen::<bool>() {
                            m
                        } else {
                            -m
                        }
                    }
                    Domain::Unit => rng.gen_range(-0.9..0.9),
                };
                T::of(v)
            })
            .collect();
        let t = Tensor::from_vec(data, &shape);
        if swap {
            t.transpose(-2, -1)
        } else {
            t
        }
    }
}

/// A standard-normal contiguous input.
pub fn real(shape: &[usize]) -> InputSpec {
    InputSpec {
        shape: shape.to_vec(),
        domain: Domain::Real,
        transposed: false,
    }
}

/// A positive contiguous input.
pub fn positive(shape: &[usize]) -> InputSpec {
    InputSpec {
        shape: shape.to_vec(),
        domain: Domain::Positive,
        transposed: false,
    }
}

/// A contiguous input kept away from zero.
pub fn apart(shape: &[usize]) -> InputSpec {
    InputSpec {
        shape: shape.to_vec(),
        domain: Domain::AwayFromZero,
        transposed: false,
    }
}

/// An input in (-0.9, 0.9).
pub fn unit(shape: &[usize]) -> InputSpec {
    InputSpec {
        shape: shape.to_vec(),
        domain: Domain::Unit,
        transposed: false,
    }
}

/// A standard-normal input with exact zeros at every third element.
pub fn with_zeros(shape: &[usize]) -> InputSpec {
    InputSpec {
        shape: shape.to_vec(),
        domain: Domain::WithZeros,
        transposed: false,
    }
}

impl InputSpec {
    /// The same input, handed over as a non-contiguous (transposed) view.
    pub fn transposed(mut self) -> InputSpec {
        self.transposed = true;
        self
    }
}

/// One gradient check: an op, a shape case, and the function under test for each dtype.
#[derive(Clone)]
pub struct GradcheckCase {
    /// The op under test (`exp`, `matmul`, ...).
    pub op: &'static str,
    /// The shape case (`broadcast`, `size1`, `transposed`, ...).
    pub label: &'static str,
    /// The inputs to draw.
    pub inputs: Vec<InputSpec>,
    /// Whether the op has a non-trivial second derivative worth a gradgradcheck.
    pub second_order: bool,
    /// The function in f64.
    pub f64: fn(&[Var<f64>]) -> Var<f64>,
    /// The same function in f32.
    pub f32: fn(&[Var<f32>]) -> Var<f32>,
}

impl GradcheckCase {
    /// `op/label`, the name the CLI's `--filter` matches.
    pub fn name(&self) -> String {
        format!("{}/{}", self.op, self.label)
    }
}

/// Builds a [`GradcheckCase`] from one function body, instantiated for f64 and f32.
///
/// `case!("exp", "broadcast", [real(&[2, 3])], second: true, |x| x[0].exp())`
#[macro_export]
macro_rules! case {
    ($op:expr, $label:expr, [$($spec:expr),* $(,)?], second: $second:expr, |$x:ident| $body:expr) => {
        $crate::registry::GradcheckCase {
            op: $op,
            label: $label,
            inputs: vec![$($spec),*],
            second_order: $second,
            f64: |$x: &[$crate::Var<f64>]| $body,
            f32: |$x: &[$crate::Var<f32>]| $body,
        }
    };
}

/// The name of every built-in op, from the `Op` enum's exhaustive matches: each must
/// have cases in the registry (`tests/gradcheck_ops.rs` checks), so an op added without
/// them fails a test rather than going unchecked.
pub fn all_op_names() -> Vec<&'static str> {
    crate::ops::Op::<f64>::all_names()
}

/// Every registered case, family by family.
pub fn all_cases() -> Vec<GradcheckCase> {
    let mut cases = Vec::new();
    cases.extend(crate::ops::elementwise::cases());
    cases.extend(crate::ops::mask::cases());
    cases.extend(crate::ops::reduce::cases());
    cases.extend(crate::ops::softmax::cases());
    cases.extend(crate::ops::shape::cases());
    cases.extend(crate::ops::matmul::cases());
    cases.extend(crate::ops::conv::cases());
    cases.extend(crate::ops::index::cases());
    cases.extend(crate::ops::lstm::cases());
    cases
}
