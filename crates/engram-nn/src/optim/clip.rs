//! Gradient clipping: by global norm and by value, on a step's [`Grads`].

use crate::context::Grads;
use engram_tensor::Float;

/// Scales every gradient by `max_norm / (total_norm + 1e-6)` when that is below one, where
/// `total_norm` is the L2 norm of all gradients together (as if concatenated into one
/// vector), and returns `total_norm` — as `torch.nn.utils.clip_grad_norm_`. A non-finite
/// norm (an overflowed gradient) is returned as it is, the gradients then being NaN, as in
/// PyTorch; check it to skip such a step.
///
/// ```
/// use engram_nn::optim::clip_grad_norm;
/// use engram_nn::{Context, Parameter};
/// use engram_tensor::Tensor;
///
/// let w = Parameter::new(Tensor::<f64>::from_vec(vec![3.0, 4.0], &[2]));
/// let cx = Context::train(0);
/// let mut grads = cx.backward((cx.param(&w) * cx.param(&w)).sum().mul_scalar(0.5)); // ∇ = w
/// let norm = clip_grad_norm(&mut grads, 1.0);
/// assert_eq!(norm, 5.0);
/// let g = grads[&w].to_vec();
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// ```
pub fn clip_grad_norm<T: Float>(grads: &mut Grads<T>, max_norm: f64) -> T {
    let mut all: Vec<_> = grads.iter_mut().collect();
    // A fixed summation order, so the norm is the same bits on every run.
    all.sort_by_key(|(id, _)| *id);
    // Squares summed in f64, so that a large gradient's norm does not lose digits to a long
    // f32 sum; PyTorch's reductions are similarly accurate (pairwise).
    let squares: f64 = all
        .iter()
        .map(|(_, g)| {
            g.contiguous_data()
                .iter()
                .map(|&x| x.as_f64() * x.as_f64())
                .sum::<f64>()
        })
        .sum();
    let total = T::of(squares.sqrt());
    let coefficient = T::of(max_norm) / (total + T::of(1e-6));
    // Clamped to one as PyTorch's `clamp(max=1.0)`, which keeps a NaN: the gradients then
    // turn NaN, as in PyTorch, instead of passing through unclipped.
    if coefficient.is_nan() || coefficient < T::one() {
        for (_, g) in all {
            *g = g.mul_scalar(coefficient);
        }
    }
    total
}

/// Clamps every gradient element into `[-clip, clip]`, as
/// `torch.nn.utils.clip_grad_value_`.
///
/// ```
/// use engram_nn::optim::clip_grad_value;
/// use engram_nn::{Context, Parameter};
/// use engram_tensor::Tensor;
///
/// let w = Parameter::new(Tensor::<f32>::from_vec(vec![-3.0, 0.5, 4.0], &[3]));
/// let cx = Context::train(0);
/// let mut grads = cx.backward((cx.param(&w) * cx.param(&w)).sum().mul_scalar(0.5));
/// clip_grad_value(&mut grads, 1.0);
/// assert_eq!(grads[&w].to_vec(), vec![-1.0, 0.5, 1.0]);
/// ```
#[track_caller]
pub fn clip_grad_value<T: Float>(grads: &mut Grads<T>, clip: f64) {
    if clip.is_nan() || clip < 0.0 {
        panic!("engram: `clip_grad_value`: clip must be non-negative, got {clip}");
    }
    let clip = T::of(clip);
    for (_, g) in grads.iter_mut() {
        *g = g.clamp(-clip, clip);
    }
}
