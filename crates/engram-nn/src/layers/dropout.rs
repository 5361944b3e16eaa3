//! The dropout layer.

use crate::context::Context;
use crate::functional;
use crate::module::Forward;
use engram_autograd::Var;
use engram_derive::Module;
use engram_tensor::Float;

/// Inverted dropout with probability `p`, as `torch.nn.Dropout`: active when the context
/// is training, the identity otherwise.
///
/// ```
/// use engram_nn::{Context, Dropout, Forward};
/// use engram_tensor::Tensor;
/// let drop = Dropout::new(0.5);
/// let x = Tensor::<f32>::ones(&[4, 4]);
/// let eval = Context::eval();
/// assert_eq!(drop.forward(&eval, &eval.input(x.clone())).value().to_vec(), x.to_vec());
/// let train = Context::train(7);
/// assert_ne!(drop.forward(&train, &train.input(x.clone())).value().to_vec(), x.to_vec());
/// ```
#[derive(Module, Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    /// The probability of zeroing an element.
    pub p: f64,
}

impl Dropout {
    /// Dropout with probability `p` in `[0, 1]`.
    #[track_caller]
    pub fn new(p: f64) -> Dropout {
        if !(0.0..=1.0).contains(&p) {
            panic!("engram: `Dropout`: the probability p must be in [0, 1], got {p}");
        }
        Dropout { p }
    }
}

impl<T: Float> Forward<T> for Dropout {
    #[track_caller]
    fn forward(&self, cx: &Context<T>, input: &Var<T>) -> Var<T> {
        functional::dropout(cx, input, self.p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_tensor::Tensor;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const N: usize = 100_000;

    fn input() -> Tensor<f64> {
        Tensor::randn(&[100, N / 100], &mut ChaCha8Rng::seed_from_u64(11))
    }

    fn run(p: f64, cx: &Context<f64>) -> Vec<f64> {
        Dropout::new(p)
            .forward(cx, &cx.input(input()))
            .value()
            .to_vec()
    }

    #[test]
    fn kept_elements_are_scaled_by_one_over_one_minus_p() {
        let x = input().to_vec();
        for p in [0.1, 0.5, 0.9] {
            let y = run(p, &Context::train(3));
            for (&xi, &yi) in x.iter().zip(&y) {
                let kept = xi / (1.0 - p);
                assert!(
                    yi == 0.0 || (yi - kept).abs() <= 1e-15 * kept.abs(),
                    "p = {p}: x = {xi} gave {yi}, neither 0 nor {kept}"
                );
            }
        }
    }

    #[test]
    fn dropped_fraction_is_p_within_five_standard_deviations() {
        for p in [0.1, 0.5, 0.9] {
            let dropped = run(p, &Context::train(4))
                .iter()
                .filter(|&&v| v == 0.0)
                .count();
            let fraction = dropped as f64 / N as f64;
            let sd = (p * (1.0 - p) / N as f64).sqrt();
            assert!(
                (fraction - p).abs() < 5.0 * sd,
                "p = {p}: dropped {fraction}, more than 5 sd ({sd}) away"
            );
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_mask() {
        assert_eq!(run(0.3, &Context::train(5)), run(0.3, &Context::train(5)));
        assert_ne!(run(0.3, &Context::train(5)), run(0.3, &Context::train(6)));
        // Consecutive calls on one context draw fresh masks.
        let cx = Context::train(5);
        assert_ne!(run(0.3, &cx), run(0.3, &cx));
    }

    #[test]
    fn evaluation_is_the_identity() {
        let x = input().to_vec();
        assert_eq!(run(0.5, &Context::eval()), x);
        assert_eq!(run(0.5, &Context::train(7).with_training(false)), x);
    }
}
