//! Activations as layers, for [`crate::Sequential`]: each calls the function of the same
//! name in [`crate::functional`].

use crate::context::Context;
use crate::functional;
use crate::module::Forward;
use engram_autograd::Var;
use engram_derive::Module;
use engram_tensor::Float;

macro_rules! unit_activation {
    ($(#[$doc:meta])* $name:ident, $f:ident) => {
        $(#[$doc])*
        #[derive(Module, Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;

        impl<T: Float> Forward<T> for $name {
            fn forward(&self, _: &Context<T>, input: &Var<T>) -> Var<T> {
                functional::$f(input)
            }
        }
    };
}

unit_activation!(
    /// `max(x, 0)`, as `torch.nn.ReLU`.
    ReLU,
    relu
);
unit_activation!(
    /// `x · σ(x)`, as `torch.nn.SiLU`.
    SiLU,
    silu
);
unit_activation!(
    /// The logistic function, as `torch.nn.Sigmoid`.
    Sigmoid,
    sigmoid
);
unit_activation!(
    /// The hyperbolic tangent, as `torch.nn.Tanh`.
    Tanh,
    tanh
);
unit_activation!(
    /// `ln(1 + eˣ)`, as `torch.nn.Softplus` with `beta=1`.
    Softplus,
    softplus
);

/// GELU, as `torch.nn.GELU`: exact by default, the tanh approximation with
/// [`GELU::tanh`].
// PyTorch's spelling, which users search for.
#[allow(clippy::upper_case_acronyms)]
#[derive(Module, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GELU {
    /// Use the tanh approximation (`approximate='tanh'`).
    pub approximate_tanh: bool,
}

impl GELU {
    /// The exact GELU, `x · Φ(x)`.
    pub fn new() -> GELU {
        GELU {
            approximate_tanh: false,
        }
    }

    /// The tanh approximation.
    pub fn tanh() -> GELU {
        GELU {
            approximate_tanh: true,
        }
    }
}

impl<T: Float> Forward<T> for GELU {
    fn forward(&self, _: &Context<T>, input: &Var<T>) -> Var<T> {
        if self.approximate_tanh {
            functional::gelu_tanh(input)
        } else {
            functional::gelu(input)
        }
    }
}

/// Leaky ReLU, as `torch.nn.LeakyReLU` (default slope 0.01).
///
/// ```
/// use engram_nn::{Context, Forward, LeakyReLU, ReLU, Softmax, GELU};
/// use engram_tensor::Tensor;
/// let cx = Context::<f64>::eval();
/// let x = cx.input(Tensor::from_vec(vec![-2.0, 0.5], &[2]));
/// assert_eq!(ReLU.forward(&cx, &x).value().to_vec(), vec![0.0, 0.5]);
/// assert_eq!(LeakyReLU::default().forward(&cx, &x).value().to_vec(), vec![-0.02, 0.5]);
/// assert!(GELU::new().forward(&cx, &x).value().get(&[1]) > 0.3);
/// let p = Softmax::new(-1).forward(&cx, &x).value().sum().item();
/// assert!((p - 1.0).abs() < 1e-12);
/// ```
#[derive(Module, Clone, Copy, Debug, PartialEq)]
pub struct LeakyReLU {
    /// The slope for negative inputs.
    pub negative_slope: f64,
}

impl LeakyReLU {
    /// Leaky ReLU with `negative_slope`.
    pub fn new(negative_slope: f64) -> LeakyReLU {
        LeakyReLU { negative_slope }
    }
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new(0.01)
    }
}

impl<T: Float> Forward<T> for LeakyReLU {
    fn forward(&self, _: &Context<T>, input: &Var<T>) -> Var<T> {
        functional::leaky_relu(input, self.negative_slope)
    }
}

/// ELU, as `torch.nn.ELU` (default alpha 1).
// PyTorch's spelling, which users search for.
#[allow(clippy::upper_case_acronyms)]
#[derive(Module, Clone, Copy, Debug, PartialEq)]
pub struct ELU {
    /// The scale of the negative part.
    pub alpha: f64,
}

impl ELU {
    /// ELU with `alpha`.
    pub fn new(alpha: f64) -> ELU {
        ELU { alpha }
    }
}

impl Default for ELU {
    fn default() -> Self {
        ELU::new(1.0)
    }
}

impl<T: Float> Forward<T> for ELU {
    fn forward(&self, _: &Context<T>, input: &Var<T>) -> Var<T> {
        functional::elu(input, self.alpha)
    }
}

/// Softmax along `dim`, as `torch.nn.Softmax`.
#[derive(Module, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Softmax {
    /// The axis that sums to one.
    pub dim: isize,
}

impl Softmax {
    /// Softmax along `dim` (negative counts from the end).
    pub fn new(dim: isize) -> Softmax {
        Softmax { dim }
    }
}

impl<T: Float> Forward<T> for Softmax {
    #[track_caller]
    fn forward(&self, _: &Context<T>, input: &Var<T>) -> Var<T> {
        functional::softmax(input, self.dim)
    }
}

/// Log-softmax along `dim`, as `torch.nn.LogSoftmax`.
#[derive(Module, Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogSoftmax {
    /// The axis normalised over.
    pub dim: isize,
}

impl LogSoftmax {
    /// Log-softmax along `dim` (negative counts from the end).
    pub fn new(dim: isize) -> LogSoftmax {
        LogSoftmax { dim }
    }
}

impl<T: Float> Forward<T> for LogSoftmax {
    #[track_caller]
    fn forward(&self, _: &Context<T>, input: &Var<T>) -> Var<T> {
        functional::log_softmax(input, self.dim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_tensor::Tensor;

    /// Inputs on both sides of zero, zero itself, and a few far out where a naive formula
    /// overflows or cancels.
    fn inputs() -> Vec<f64> {
        let mut xs: Vec<f64> = (-12..=12).map(|k| k as f64 * 0.25).collect();
        xs.extend([-12.0, -7.5, 7.5, 12.0]);
        xs
    }

    /// `erf` by its Maclaurin series, exact to ~1e-13 for `|z| ≤ 2.2`, which covers
    /// `x / √2` for `|x| ≤ 3`.
    fn erf(z: f64) -> f64 {
        let (mut term, mut sum) = (z, z);
        for n in 1..80 {
            term *= -z * z / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        2.0 / std::f64::consts::PI.sqrt() * sum
    }

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// Runs `layer` on `xs` (shape `[len]`) and checks it against `op` (the function it
    /// wraps, bit for bit) and `formula` (f64 scalar math, to 1e-12).
    #[track_caller]
    fn check(
        layer: impl Forward<f64>,
        op: impl Fn(&Var<f64>) -> Var<f64>,
        formula: impl Fn(f64) -> f64,
        xs: &[f64],
    ) {
        let cx = Context::<f64>::eval();
        let x = cx.input(Tensor::from_vec(xs.to_vec(), &[xs.len()]));
        let got = layer.forward(&cx, &x).value().to_vec();
        assert_eq!(got, op(&x).value().to_vec(), "layer and function differ");
        for (&xi, &yi) in xs.iter().zip(&got) {
            let expected = formula(xi);
            assert!(
                (yi - expected).abs() <= 1e-12 * expected.abs().max(1.0),
                "at x = {xi}: got {yi}, formula {expected}"
            );
        }
    }

    #[test]
    fn relu_is_max_of_x_and_zero() {
        check(ReLU, functional::relu, |x| x.max(0.0), &inputs());
    }

    #[test]
    fn silu_is_x_times_sigmoid() {
        check(SiLU, functional::silu, |x| x * sigmoid(x), &inputs());
    }

    #[test]
    fn sigmoid_is_the_logistic_function() {
        check(Sigmoid, functional::sigmoid, sigmoid, &inputs());
    }

    #[test]
    fn tanh_is_the_hyperbolic_tangent() {
        let tanh = |x: f64| (1.0 - (-2.0 * x).exp()) / (1.0 + (-2.0 * x).exp());
        check(Tanh, functional::tanh, tanh, &inputs());
    }

    #[test]
    fn softplus_is_log_of_one_plus_exp() {
        check(
            Softplus,
            functional::softplus,
            |x| x.exp().ln_1p(),
            &inputs(),
        );
    }

    #[test]
    fn gelu_is_x_times_the_normal_cdf() {
        let xs: Vec<f64> = inputs().into_iter().filter(|x| x.abs() <= 3.0).collect();
        let gelu = |x: f64| x * 0.5 * (1.0 + erf(x / 2f64.sqrt()));
        check(GELU::new(), functional::gelu, gelu, &xs);
        check(GELU::default(), functional::gelu, gelu, &xs);
    }

    #[test]
    fn gelu_tanh_is_the_tanh_approximation() {
        let c = (2.0 / std::f64::consts::PI).sqrt();
        let gelu_tanh = |x: f64| 0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh());
        check(GELU::tanh(), functional::gelu_tanh, gelu_tanh, &inputs());
    }

    #[test]
    fn leaky_relu_scales_negatives_by_its_slope() {
        for slope in [0.01, 0.2] {
            let layer = if slope == 0.01 {
                LeakyReLU::default()
            } else {
                LeakyReLU::new(slope)
            };
            let op = move |x: &Var<f64>| functional::leaky_relu(x, slope);
            check(
                layer,
                op,
                |x| if x > 0.0 { x } else { slope * x },
                &inputs(),
            );
        }
    }

    #[test]
    fn elu_is_alpha_times_expm1_below_zero() {
        for alpha in [1.0, 0.7] {
            let layer = if alpha == 1.0 {
                ELU::default()
            } else {
                ELU::new(alpha)
            };
            let op = move |x: &Var<f64>| functional::elu(x, alpha);
            let elu = |x: f64| if x > 0.0 { x } else { alpha * (x.exp() - 1.0) };
            check(layer, op, elu, &inputs());
        }
    }

    /// `[2, 3]` logits, with one row large enough that a naive `exp` overflows.
    fn logits() -> Tensor<f64> {
        Tensor::from_vec(vec![0.5, -1.0, 2.0, 800.0, 799.0, 797.5], &[2, 3])
    }

    /// `log softmax` of `logits()` along `dim` (0 or 1), by max-shifted scalar math.
    fn log_softmax_by_hand(dim: usize) -> Vec<f64> {
        let x = logits().to_vec();
        let at = |i: usize, j: usize| x[i * 3 + j];
        let mut out = vec![0.0; 6];
        let (outer, inner) = if dim == 1 { (2, 3) } else { (3, 2) };
        for o in 0..outer {
            let idx = |k: usize| if dim == 1 { (o, k) } else { (k, o) };
            let m = (0..inner)
                .map(|k| at(idx(k).0, idx(k).1))
                .fold(f64::MIN, f64::max);
            let lse = m
                + (0..inner)
                    .map(|k| (at(idx(k).0, idx(k).1) - m).exp())
                    .sum::<f64>()
                    .ln();
            for k in 0..inner {
                let (i, j) = idx(k);
                out[i * 3 + j] = at(i, j) - lse;
            }
        }
        out
    }

    #[track_caller]
    fn assert_close(got: &[f64], expected: &[f64]) {
        for (a, b) in got.iter().zip(expected) {
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                "{got:?} vs {expected:?}"
            );
        }
    }

    #[test]
    fn softmax_normalises_exp_along_its_dim() {
        let cx = Context::<f64>::eval();
        let x = cx.input(logits());
        for (dim, axis) in [(-1, 1), (1, 1), (0, 0), (-2, 0)] {
            let got = Softmax::new(dim).forward(&cx, &x).value().to_vec();
            assert_eq!(got, functional::softmax(&x, dim).value().to_vec());
            let expected: Vec<f64> = log_softmax_by_hand(axis).iter().map(|v| v.exp()).collect();
            assert_close(&got, &expected);
        }
    }

    #[test]
    fn log_softmax_subtracts_logsumexp_along_its_dim() {
        let cx = Context::<f64>::eval();
        let x = cx.input(logits());
        for (dim, axis) in [(-1, 1), (1, 1), (0, 0), (-2, 0)] {
            let got = LogSoftmax::new(dim).forward(&cx, &x).value().to_vec();
            assert_eq!(got, functional::log_softmax(&x, dim).value().to_vec());
            assert_close(&got, &log_softmax_by_hand(axis));
        }
    }
}
