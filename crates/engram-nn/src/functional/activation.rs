//! Activations, as `torch.nn.functional` names them. Each is the `Var` method of the same
//! name (gradchecked with the autograd ops); these free functions let model code read as
//! PyTorch's `F.relu(x)`.

use engram_autograd::Var;
use engram_tensor::Float;

/// `max(x, 0)`.
pub fn relu<T: Float>(x: &Var<T>) -> Var<T> {
    x.relu()
}

/// `x` where positive, `negative_slope · x` elsewhere (PyTorch's default slope is 0.01).
pub fn leaky_relu<T: Float>(x: &Var<T>, negative_slope: f64) -> Var<T> {
    x.leaky_relu(T::of(negative_slope))
}

/// `x` where positive, `alpha · (eˣ - 1)` elsewhere (PyTorch's default alpha is 1).
pub fn elu<T: Float>(x: &Var<T>, alpha: f64) -> Var<T> {
    x.elu(T::of(alpha))
}

/// The exact GELU, `x · Φ(x)` (PyTorch's `approximate='none'`).
pub fn gelu<T: Float>(x: &Var<T>) -> Var<T> {
    x.gelu()
}

/// GELU's tanh approximation (PyTorch's `approximate='tanh'`).
pub fn gelu_tanh<T: Float>(x: &Var<T>) -> Var<T> {
    x.gelu_tanh()
}

/// `x · σ(x)`, also called swish.
pub fn silu<T: Float>(x: &Var<T>) -> Var<T> {
    x.silu()
}

/// `1 / (1 + e⁻ˣ)`.
pub fn sigmoid<T: Float>(x: &Var<T>) -> Var<T> {
    x.sigmoid()
}

/// The hyperbolic tangent.
pub fn tanh<T: Float>(x: &Var<T>) -> Var<T> {
    x.tanh()
}

/// `ln(1 + eˣ)`, computed stably (PyTorch's `beta=1`).
pub fn softplus<T: Float>(x: &Var<T>) -> Var<T> {
    x.softplus()
}

/// `eˣ / Σ eˣ` along `dim`, computed stably.
pub fn softmax<T: Float>(x: &Var<T>, dim: isize) -> Var<T> {
    x.softmax(dim)
}

/// `x - logsumexp(x)` along `dim`, computed stably.
pub fn log_softmax<T: Float>(x: &Var<T>, dim: isize) -> Var<T> {
    x.log_softmax(dim)
}
