//! Normalisation layers: `LayerNorm`, and `BatchNorm1d`/`BatchNorm2d` with running
//! statistics.

use crate::context::Context;
use crate::functional;
use crate::module::Forward;
use crate::parameter::{Buffer, Parameter};
use engram_autograd::Var;
use engram_derive::Module;
use engram_tensor::{Float, Tensor};

/// Layer normalisation over the trailing `normalized_shape` dimensions, as
/// `torch.nn.LayerNorm`: `weight` starts at ones, `bias` at zeros, `eps` is 1e-5.
///
/// ```
/// use engram_nn::{Context, Forward, LayerNorm, Module};
/// use engram_tensor::Tensor;
/// let norm = LayerNorm::<f64>::new(&[4]);
/// assert_eq!(norm.num_parameters(), 8);
/// let cx = Context::eval();
/// let y = norm.forward(&cx, &cx.input(Tensor::arange(0.0, 8.0, 1.0).reshape(&[2, 4])));
/// assert!(y.value().mean().item().abs() < 1e-12);
/// ```
#[derive(Module, Debug, Clone)]
pub struct LayerNorm<T: Float = f32> {
    /// Scale, shaped `normalized_shape`; absent without elementwise affine.
    pub weight: Option<Parameter<T>>,
    /// Shift, shaped `normalized_shape`; absent without elementwise affine.
    pub bias: Option<Parameter<T>>,
    normalized_shape: Vec<usize>,
    eps: f64,
}

impl<T: Float> LayerNorm<T> {
    /// Normalisation over trailing dimensions `normalized_shape`, with a learned scale and
    /// shift.
    pub fn new(normalized_shape: &[usize]) -> LayerNorm<T> {
        LayerNorm {
            weight: Some(Parameter::new(Tensor::ones(normalized_shape))),
            bias: Some(Parameter::new(Tensor::zeros(normalized_shape))),
            normalized_shape: normalized_shape.to_vec(),
            eps: 1e-5,
        }
    }

    /// The same, with `eps` added to the variance.
    pub fn eps(mut self, eps: f64) -> LayerNorm<T> {
        self.eps = eps;
        self
    }

    /// Without the learned scale and shift (`elementwise_affine=False`).
    pub fn without_affine(mut self) -> LayerNorm<T> {
        self.weight = None;
        self.bias = None;
        self
    }
}

impl<T: Float> Forward<T> for LayerNorm<T> {
    #[track_caller]
    fn forward(&self, cx: &Context<T>, input: &Var<T>) -> Var<T> {
        let weight = self.weight.as_ref().map(|w| cx.param(w));
        let bias = self.bias.as_ref().map(|b| cx.param(b));
        functional::layer_norm(
            input,
            &self.normalized_shape,
            weight.as_ref(),
            bias.as_ref(),
            self.eps,
        )
    }
}

/// Batch normalisation per channel, as PyTorch's `BatchNorm1d` (`D = 1`: input `[N, C]` or
/// `[N, C, L]`) and `BatchNorm2d` (`D = 2`: input `[N, C, H, W]`). Use the aliases
/// [`BatchNorm1d`] and [`BatchNorm2d`].
///
/// In a training context it normalises with batch statistics and updates `running_mean`
/// and `running_var` (momentum 0.1, unbiased variance, as PyTorch); in evaluation it
/// normalises with them. `eps` is 1e-5; `weight` starts at ones and `bias` at zeros.
///
/// Differences from PyTorch: no `num_batches_tracked` buffer (it only matters for
/// `momentum=None`, the cumulative average, which is not offered), and running statistics
/// are always tracked. Loading a PyTorch `state_dict` should skip `num_batches_tracked`.
///
/// ```
/// use engram_nn::{BatchNorm2d, Context, Forward, Module};
/// use engram_tensor::Tensor;
/// let bn = BatchNorm2d::<f32>::new(3);
/// let names: Vec<String> = bn.state_dict().keys().cloned().collect();
/// assert_eq!(names, ["weight", "bias", "running_mean", "running_var"]);
/// let cx = Context::train(0);
/// let x = cx.input(Tensor::ones(&[2, 3, 4, 4]).mul_scalar(5.0));
/// bn.forward(&cx, &x); // a training step moves the running mean toward 5
/// assert_eq!(bn.running_mean.get().to_vec(), vec![0.5; 3]);
/// ```
#[derive(Module, Debug, Clone)]
pub struct BatchNorm<T: Float, const D: usize> {
    /// Scale per channel `[C]`; absent without affine.
    pub weight: Option<Parameter<T>>,
    /// Shift per channel `[C]`; absent without affine.
    pub bias: Option<Parameter<T>>,
    /// The running mean per channel `[C]`, used in evaluation.
    pub running_mean: Buffer<T>,
    /// The running (unbiased) variance per channel `[C]`, used in evaluation.
    pub running_var: Buffer<T>,
    momentum: f64,
    eps: f64,
}

/// Batch normalisation of `[N, C]` or `[N, C, L]` (see [`BatchNorm`]).
pub type BatchNorm1d<T = f32> = BatchNorm<T, 1>;
/// Batch normalisation of `[N, C, H, W]` (see [`BatchNorm`]).
pub type BatchNorm2d<T = f32> = BatchNorm<T, 2>;

impl<T: Float, const D: usize> BatchNorm<T, D> {
    /// Batch normalisation of `num_features` channels, affine, momentum 0.1, eps 1e-5.
    pub fn new(num_features: usize) -> BatchNorm<T, D> {
        let c = [num_features];
        BatchNorm {
            weight: Some(Parameter::new(Tensor::ones(&c))),
            bias: Some(Parameter::new(Tensor::zeros(&c))),
            running_mean: Buffer::new(Tensor::zeros(&c)),
            running_var: Buffer::new(Tensor::ones(&c)),
            momentum: 0.1,
            eps: 1e-5,
        }
    }

    /// The weight of the newest batch in the running statistics.
    pub fn momentum(mut self, momentum: f64) -> BatchNorm<T, D> {
        self.momentum = momentum;
        self
    }

    /// The value added to the variance.
    pub fn eps(mut self, eps: f64) -> BatchNorm<T, D> {
        self.eps = eps;
        self
    }

    /// Without the learned scale and shift (`affine=False`).
    pub fn without_affine(mut self) -> BatchNorm<T, D> {
        self.weight = None;
        self.bias = None;
        self
    }
}

impl<T: Float, const D: usize> Forward<T> for BatchNorm<T, D> {
    #[track_caller]
    fn forward(&self, cx: &Context<T>, input: &Var<T>) -> Var<T> {
        let rank = input.rank();
        let fits = if D == 1 {
            rank == 2 || rank == 3
        } else {
            rank == D + 2
        };
        if !fits {
            let expected = if D == 1 {
                "[N, C] or [N, C, L]"
            } else {
                "[N, C, H, W]"
            };
            engram_tensor::shape_error(
                &format!("BatchNorm{D}d"),
                format!("expected input {expected}, got {:?}", input.shape()),
            );
        }
        let weight = self.weight.as_ref().map(|w| cx.param(w));
        let bias = self.bias.as_ref().map(|b| cx.param(b));
        functional::batch_norm(
            input,
            Some(&self.running_mean),
            Some(&self.running_var),
            weight.as_ref(),
            bias.as_ref(),
            cx.is_training(),
            self.momentum,
            self.eps,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Per-channel `(mean, unbiased variance)` of `x` shaped `[N, C, rest..]`, by scalar
    /// loops over the raw data.
    fn channel_stats(x: &Tensor<f64>) -> Vec<(f64, f64)> {
        let shape = x.shape();
        let (n, c) = (shape[0], shape[1]);
        let rest: usize = shape[2..].iter().product();
        let data = x.to_vec();
        (0..c)
            .map(|ch| {
                let values: Vec<f64> = (0..n)
                    .flat_map(|i| (0..rest).map(move |r| (i * c + ch) * rest + r))
                    .map(|k| data[k])
                    .collect();
                let count = values.len() as f64;
                let mean = values.iter().sum::<f64>() / count;
                let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1.0);
                (mean, var)
            })
            .collect()
    }

    /// Two training calls on `bn` with inputs shaped `shape`; the running statistics must
    /// follow `running = (1 - m) · running + m · batch_stat` from mean 0 and variance 1.
    fn check_running_statistics<const D: usize>(bn: BatchNorm<f64, D>, m: f64, shape: &[usize]) {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let c = shape[1];
        let (mut mean, mut var) = (vec![0.0; c], vec![1.0; c]);
        let cx = Context::train(0);
        for shift in [3.0, -1.5] {
            let x = Tensor::<f64>::randn(shape, &mut rng)
                .mul_scalar(2.0)
                .add_scalar(shift);
            bn.forward(&cx, &cx.input(x.clone()));
            cx.reset();
            for (ch, (batch_mean, batch_var)) in channel_stats(&x).into_iter().enumerate() {
                mean[ch] = (1.0 - m) * mean[ch] + m * batch_mean;
                var[ch] = (1.0 - m) * var[ch] + m * batch_var;
            }
        }
        for (what, got, expected) in [
            ("running_mean", bn.running_mean.get().to_vec(), mean),
            ("running_var", bn.running_var.get().to_vec(), var),
        ] {
            for (a, b) in got.iter().zip(&expected) {
                assert!((a - b).abs() < 1e-12, "{what}: {got:?} vs {expected:?}");
            }
        }
    }

    #[test]
    fn running_statistics_follow_a_non_default_momentum() {
        check_running_statistics(BatchNorm2d::new(3).momentum(0.35), 0.35, &[4, 3, 2, 5]);
        check_running_statistics(BatchNorm1d::new(2).momentum(0.8), 0.8, &[5, 2, 3]);
        check_running_statistics(BatchNorm1d::new(4).momentum(0.01), 0.01, &[6, 4]);
    }

    #[test]
    fn norms_start_at_unit_scale_zero_shift_and_unit_running_variance() {
        let ln = LayerNorm::<f64>::new(&[3, 4]);
        assert_eq!(ln.weight.as_ref().unwrap().value().to_vec(), vec![1.0; 12]);
        assert_eq!(ln.bias.as_ref().unwrap().value().to_vec(), vec![0.0; 12]);
        assert_eq!(ln.weight.as_ref().unwrap().shape(), &[3, 4]);
        let bn = BatchNorm2d::<f64>::new(5);
        assert_eq!(bn.weight.as_ref().unwrap().value().to_vec(), vec![1.0; 5]);
        assert_eq!(bn.bias.as_ref().unwrap().value().to_vec(), vec![0.0; 5]);
        assert_eq!(bn.running_mean.get().to_vec(), vec![0.0; 5]);
        assert_eq!(bn.running_var.get().to_vec(), vec![1.0; 5]);
    }
}
