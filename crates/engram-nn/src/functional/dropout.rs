//! Inverted dropout.

use crate::context::Context;
#[cfg(feature = "registry")]
use engram_autograd::case;
#[cfg(feature = "registry")]
use engram_autograd::registry::{real, GradcheckCase};
use engram_autograd::Var;
use engram_tensor::{Float, Tensor};
use rand::Rng;

/// Zeroes each element with probability `p` and scales the rest by `1 / (1 - p)`, so the
/// expected value is unchanged and evaluation needs no rescaling (inverted dropout, as
/// PyTorch). The identity when `cx` is not training or `p` is 0. The mask is drawn from
/// `cx.rng()`, so a seeded context reproduces it.
///
/// ```
/// use engram_nn::{functional::dropout, Context};
/// use engram_tensor::Tensor;
/// let cx = Context::<f32>::train(0);
/// let x = cx.input(Tensor::ones(&[1000]));
/// let y = dropout(&cx, &x, 0.25).value().to_vec();
/// assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
/// let dropped = y.iter().filter(|&&v| v == 0.0).count();
/// assert!((200..300).contains(&dropped));
/// let eval = Context::<f32>::eval();
/// assert_eq!(dropout(&eval, &x, 0.25).value().to_vec(), vec![1.0; 1000]);
/// ```
#[track_caller]
pub fn dropout<T: Float>(cx: &Context<T>, input: &Var<T>, p: f64) -> Var<T> {
    if !(0.0..=1.0).contains(&p) {
        panic!("engram: `dropout`: the probability p must be in [0, 1], got {p}");
    }
    if !cx.is_training() || p == 0.0 {
        return input.clone();
    }
    let scale = if p < 1.0 {
        T::of(1.0 / (1.0 - p))
    } else {
        T::zero()
    };
    let mut rng = cx.rng();
    let mask: Vec<T> = (0..input.value().numel())
        .map(|_| {
            if rng.gen::<f64>() < p {
                T::zero()
            } else {
                scale
            }
        })
        .collect();
    input * Var::constant(Tensor::from_vec(mask, input.shape()))
}

#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<GradcheckCase> {
    // A fresh context with a fixed seed per evaluation draws the same mask each time, as
    // the finite differences need.
    vec![
        case!("nn.dropout", "half", [real(&[4, 5])], second: false, |x| dropout(&Context::train(3), &x[0], 0.5)),
        case!("nn.dropout", "transposed", [real(&[3, 4]).transposed()], second: false, |x| dropout(&Context::train(5), &x[0], 0.2)),
        case!("nn.dropout", "eval_identity", [real(&[2, 3])], second: false, |x| dropout(&Context::train(1).with_training(false), &x[0], 0.5)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_one_drops_everything_and_p_zero_nothing() {
        let cx = Context::<f64>::train(0);
        let x = cx.input(Tensor::ones(&[10]));
        assert_eq!(dropout(&cx, &x, 1.0).value().to_vec(), vec![0.0; 10]);
        assert_eq!(dropout(&cx, &x, 0.0).value().to_vec(), vec![1.0; 10]);
    }

    #[test]
    #[should_panic(expected = "must be in [0, 1]")]
    fn p_above_one_is_refused() {
        let cx = Context::<f64>::train(0);
        dropout(&cx, &cx.input(Tensor::ones(&[2])), 1.5);
    }
}
