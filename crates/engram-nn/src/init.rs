//! Parameter initialisation, as `torch.nn.init`: every function takes the shape and a
//! generator the caller seeded, and returns a fresh tensor, so a seed reproduces a model.
//! Fans are computed as PyTorch's `_calculate_fan_in_and_fan_out` (a convolution kernel
//! `[out, in/groups, k..]` has `fan_in = in/groups · Πk`), and gains as `calculate_gain`.
//!
//! Use a named generator such as `rand_chacha::ChaCha8Rng`, whose stream is fixed across
//! platforms and versions (rand's `StdRng` does not promise that).
//!
//! ```
//! use engram_nn::init::{self, FanMode, Nonlinearity};
//! use engram_nn::Parameter;
//! use rand::SeedableRng;
//! use rand_chacha::ChaCha8Rng;
//!
//! let mut rng = ChaCha8Rng::seed_from_u64(0);
//! // He initialisation for a ReLU layer with 256 inputs: std = √2 / √256.
//! let w = init::kaiming_normal::<f32>(&[128, 256], FanMode::FanIn, Nonlinearity::Relu, &mut rng);
//! let mut p = Parameter::new(w);
//! // Re-initialise an existing parameter in place of its values.
//! p.set(init::xavier_uniform(p.shape(), init::calculate_gain(Nonlinearity::Tanh), &mut rng));
//! assert_eq!(p.shape(), &[128, 256]);
//! ```

use engram_tensor::{Float, Tensor};
use rand::Rng;

/// The nonlinearity that follows a layer, which sets the gain that keeps activations'
/// variance steady (PyTorch's `nonlinearity` strings).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nonlinearity {
    /// No nonlinearity (also `conv1d`, `conv2d`, `sigmoid` in PyTorch's table): gain 1.
    Linear,
    /// Logistic sigmoid: gain 1.
    Sigmoid,
    /// tanh: gain 5/3.
    Tanh,
    /// ReLU: gain √2.
    Relu,
    /// Leaky ReLU with this negative slope (PyTorch's default is 0.01): gain √(2 / (1 + slope²)).
    LeakyRelu(f64),
    /// SELU: gain 3/4.
    Selu,
}

/// The recommended gain for `nonlinearity`, as `torch.nn.init.calculate_gain`.
///
/// ```
/// use engram_nn::init::{calculate_gain, Nonlinearity};
/// assert_eq!(calculate_gain(Nonlinearity::Relu), 2f64.sqrt());
/// assert_eq!(calculate_gain(Nonlinearity::Tanh), 5.0 / 3.0);
/// ```
pub fn calculate_gain(nonlinearity: Nonlinearity) -> f64 {
    match nonlinearity {
        Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => 2f64.sqrt(),
        Nonlinearity::LeakyRelu(slope) => (2.0 / (1.0 + slope * slope)).sqrt(),
        Nonlinearity::Selu => 0.75,
    }
}

/// Which fan the variance is scaled by in the Kaiming initialisers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanMode {
    /// Preserve the variance of activations in the forward pass (PyTorch's default).
    FanIn,
    /// Preserve the variance of gradients in the backward pass.
    FanOut,
}

/// `(fan_in, fan_out)` of a weight of this shape: `[out, in]` for a linear layer,
/// `[out, in/groups, k..]` for a convolution (each multiplied by the receptive field).
///
/// Panics for fewer than two dimensions, as PyTorch does: a vector has no fans.
///
/// ```
/// use engram_nn::init::fan_in_and_fan_out;
/// assert_eq!(fan_in_and_fan_out(&[10, 20]), (20, 10));
/// assert_eq!(fan_in_and_fan_out(&[16, 3, 5, 5]), (75, 400));
/// ```
#[track_caller]
pub fn fan_in_and_fan_out(shape: &[usize]) -> (usize, usize) {
    if shape.len() < 2 {
        panic!(
            "engram: `init`: fan in and fan out need a weight of at least 2 dimensions \
             ([out, in] or [out, in, k..]), got shape {shape:?}"
        );
    }
    let receptive: usize = shape[2..].iter().product();
    (shape[1] * receptive, shape[0] * receptive)
}

fn fan(shape: &[usize], mode: FanMode) -> usize {
    let (fan_in, fan_out) = fan_in_and_fan_out(shape);
    match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    }
}

/// Samples from `U(low, high)`.
pub fn uniform<T: Float>(shape: &[usize], low: f64, high: f64, rng: &mut impl Rng) -> Tensor<T> {
    Tensor::rand_uniform(shape, T::of(low), T::of(high), rng)
}

/// Samples from `N(mean, std²)`.
pub fn normal<T: Float>(shape: &[usize], mean: f64, std: f64, rng: &mut impl Rng) -> Tensor<T> {
    Tensor::rand_normal(shape, T::of(mean), T::of(std), rng)
}

/// Every element `value`.
pub fn constant<T: Float>(shape: &[usize], value: f64) -> Tensor<T> {
    Tensor::full(shape, T::of(value))
}

/// Every element 0.
pub fn zeros<T: Float>(shape: &[usize]) -> Tensor<T> {
    Tensor::zeros(shape)
}

/// Every element 1.
pub fn ones<T: Float>(shape: &[usize]) -> Tensor<T> {
    Tensor::ones(shape)
}

/// Glorot uniform: `U(-b, b)` with `b = gain · √(6 / (fan_in + fan_out))`.
#[track_caller]
pub fn xavier_uniform<T: Float>(shape: &[usize], gain: f64, rng: &mut impl Rng) -> Tensor<T> {
    let (fan_in, fan_out) = fan_in_and_fan_out(shape);
    let bound = gain * (6.0 / (fan_in + fan_out) as f64).sqrt();
    uniform(shape, -bound, bound, rng)
}

/// Glorot normal: `N(0, σ²)` with `σ = gain · √(2 / (fan_in + fan_out))`.
#[track_caller]
pub fn xavier_normal<T: Float>(shape: &[usize], gain: f64, rng: &mut impl Rng) -> Tensor<T> {
    let (fan_in, fan_out) = fan_in_and_fan_out(shape);
    let std = gain * (2.0 / (fan_in + fan_out) as f64).sqrt();
    normal(shape, 0.0, std, rng)
}

/// He uniform: `U(-b, b)` with `b = gain · √(3 / fan)`. PyTorch's default arguments
/// (`a=0, nonlinearity='leaky_relu'`) are `Nonlinearity::LeakyRelu(0.0)`, gain √2.
#[track_caller]
pub fn kaiming_uniform<T: Float>(
    shape: &[usize],
    mode: FanMode,
    nonlinearity: Nonlinearity,
    rng: &mut impl Rng,
) -> Tensor<T> {
    let bound = calculate_gain(nonlinearity) * (3.0 / fan(shape, mode) as f64).sqrt();
    uniform(shape, -bound, bound, rng)
}

/// He normal: `N(0, σ²)` with `σ = gain / √fan`.
#[track_caller]
pub fn kaiming_normal<T: Float>(
    shape: &[usize],
    mode: FanMode,
    nonlinearity: Nonlinearity,
    rng: &mut impl Rng,
) -> Tensor<T> {
    let std = calculate_gain(nonlinearity) / (fan(shape, mode) as f64).sqrt();
    normal(shape, 0.0, std, rng)
}

/// A (semi-)orthogonal matrix times `gain`, as `torch.nn.init.orthogonal_`: the weight is
/// viewed as `[shape[0], rest]`, a standard normal matrix is drawn and replaced by the `Q`
/// of its QR decomposition with `R`'s diagonal made positive (so `Q` is uniformly
/// distributed). Rows are orthonormal when there are fewer rows than columns, columns
/// otherwise.
///
/// ```
/// use engram_nn::init::orthogonal;
/// use rand::SeedableRng;
/// let w = orthogonal::<f64>(&[4, 4], 1.0, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
/// let identity = w.matmul(&w.t());
/// for i in 0..4 {
///     for j in 0..4 {
///         let expected = if i == j { 1.0 } else { 0.0 };
///         assert!((identity.get(&[i, j]) - expected).abs() < 1e-12);
///     }
/// }
/// ```
#[track_caller]
pub fn orthogonal<T: Float>(shape: &[usize], gain: f64, rng: &mut impl Rng) -> Tensor<T> {
    if shape.len() < 2 {
        panic!(
            "engram: `init::orthogonal` needs a weight of at least 2 dimensions, got shape {shape:?}"
        );
    }
    let rows = shape[0];
    let cols: usize = shape[1..].iter().product();
    let drawn = Tensor::<f64>::randn(&[rows, cols], rng);
    // Orthonormalise the columns of the taller orientation, as PyTorch transposes a wide
    // matrix before its QR and back after.
    let tall = if rows < cols { drawn.t() } else { drawn };
    let q = orthonormal_columns(&tall).mul_scalar(gain);
    let q = if rows < cols { q.t() } else { q };
    q.contiguous().cast::<T>().reshape(shape)
}

/// The `Q` of `a = QR` (`a` is `[m, n]` with `m ≥ n`) with `R`'s diagonal positive: modified
/// Gram–Schmidt, run twice per column so orthogonality holds to rounding error ("twice is
/// enough", Giraud et al. 2005). Positive `R` diagonal is what Gram–Schmidt gives by
/// construction, and what PyTorch's sign correction after Householder QR yields.
fn orthonormal_columns(a: &Tensor<f64>) -> Tensor<f64> {
    let (m, n) = (a.shape()[0], a.shape()[1]);
    let mut cols: Vec<Vec<f64>> = (0..n)
        .map(|j| (0..m).map(|i| a.get(&[i, j])).collect())
        .collect();
    for j in 0..n {
        let (done, rest) = cols.split_at_mut(j);
        let col = &mut rest[0];
        for _ in 0..2 {
            for q in done.iter() {
                let dot: f64 = q.iter().zip(col.iter()).map(|(a, b)| a * b).sum();
                col.iter_mut().zip(q).for_each(|(c, qi)| *c -= dot * qi);
            }
        }
        let norm = col.iter().map(|v| v * v).sum::<f64>().sqrt();
        col.iter_mut().for_each(|v| *v /= norm);
    }
    let data = (0..m)
        .flat_map(|i| cols.iter().map(move |c| c[i]))
        .collect();
    Tensor::from_vec(data, &[m, n])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(42)
    }

    fn std_of(t: &Tensor<f64>) -> f64 {
        t.flatten().var(1).item().sqrt()
    }

    #[test]
    fn kaiming_uniform_stays_within_pytorch_bound() {
        // PyTorch: bound = gain · √(3 / fan_in) = √2 · √(3 / 75) for a [16, 3, 5, 5] kernel.
        let w = kaiming_uniform::<f64>(
            &[16, 3, 5, 5],
            FanMode::FanIn,
            Nonlinearity::Relu,
            &mut rng(),
        );
        let bound = 2f64.sqrt() * (3.0f64 / 75.0).sqrt();
        assert!(w.max().item() <= bound && w.min().item() >= -bound);
        assert!(w.max().item() > 0.95 * bound && w.min().item() < -0.95 * bound);
        // A uniform on (-b, b) has standard deviation b / √3.
        assert!((std_of(&w) / (bound / 3f64.sqrt()) - 1.0).abs() < 0.05);
    }

    #[test]
    fn kaiming_normal_fan_out_has_pytorch_std() {
        let w = kaiming_normal::<f64>(&[200, 100], FanMode::FanOut, Nonlinearity::Relu, &mut rng());
        let expected = 2f64.sqrt() / 200f64.sqrt();
        assert!((std_of(&w) / expected - 1.0).abs() < 0.02);
        assert!(w.mean().item().abs() < 0.01 * expected * 10.0);
    }

    #[test]
    fn xavier_uniform_and_normal_have_pytorch_spread() {
        let (fan_in, fan_out) = (300.0, 100.0);
        let u = xavier_uniform::<f64>(&[100, 300], 1.0, &mut rng());
        let bound = (6.0f64 / (fan_in + fan_out)).sqrt();
        assert!(u.max().item() <= bound && u.min().item() >= -bound);
        assert!((std_of(&u) / (bound / 3f64.sqrt()) - 1.0).abs() < 0.03);
        let n = xavier_normal::<f64>(&[100, 300], 5.0 / 3.0, &mut rng());
        let expected = 5.0 / 3.0 * (2.0f64 / (fan_in + fan_out)).sqrt();
        assert!((std_of(&n) / expected - 1.0).abs() < 0.02);
    }

    #[test]
    fn leaky_relu_gain_follows_the_slope() {
        assert_eq!(calculate_gain(Nonlinearity::LeakyRelu(0.0)), 2f64.sqrt());
        let a = 5f64.sqrt();
        assert!((calculate_gain(Nonlinearity::LeakyRelu(a)) - (1.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(calculate_gain(Nonlinearity::Selu), 0.75);
    }

    fn assert_scaled_identity(gram: &Tensor<f64>, diagonal: f64) {
        let n = gram.shape()[0];
        for i in 0..n {
            for j in 0..n {
                let expected = if i == j { diagonal } else { 0.0 };
                assert!((gram.get(&[i, j]) - expected).abs() < 1e-12, "{gram}");
            }
        }
    }

    #[test]
    fn orthogonal_wide_matrix_has_orthonormal_rows() {
        let w = orthogonal::<f64>(&[3, 2, 4], 2.0, &mut rng());
        assert_eq!(w.shape(), &[3, 2, 4]);
        let flat = w.reshape(&[3, 8]);
        assert_scaled_identity(&flat.matmul(&flat.t()), 4.0);
    }

    #[test]
    fn orthogonal_tall_matrix_has_orthonormal_columns() {
        let w = orthogonal::<f64>(&[6, 3], 1.0, &mut rng());
        assert_scaled_identity(&w.t().matmul(&w), 1.0);
    }

    #[test]
    fn same_seed_same_weights() {
        let a = xavier_normal::<f32>(&[5, 7], 1.0, &mut rng());
        let b = xavier_normal::<f32>(&[5, 7], 1.0, &mut rng());
        assert_eq!(a.to_vec(), b.to_vec());
    }

    #[test]
    fn zeros_ones_and_constant_fill_every_element() {
        let shape = [3, 1, 4];
        for (t, value) in [
            (zeros::<f64>(&shape), 0.0),
            (ones::<f64>(&shape), 1.0),
            (constant::<f64>(&shape, -2.5), -2.5),
        ] {
            assert_eq!(t.shape(), &shape);
            assert_eq!(t.to_vec(), vec![value; 12]);
        }
        assert_eq!(constant::<f32>(&[2], 0.1).to_vec(), vec![0.1f32; 2]);
        assert_eq!(zeros::<f32>(&[0, 3]).numel(), 0);
    }

    /// Mean and (unbiased) standard deviation of every element, by scalar sums.
    fn moments(t: &Tensor<f64>) -> (f64, f64) {
        let v = t.to_vec();
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt())
    }

    #[test]
    fn uniform_stays_in_its_interval_with_uniform_moments() {
        let (low, high) = (-0.5, 1.5);
        let u = uniform::<f64>(&[200, 300], low, high, &mut rng());
        assert_eq!(u.shape(), &[200, 300]);
        assert!(u.min().item() >= low && u.max().item() < high);
        assert!(u.min().item() < low + 0.01 && u.max().item() > high - 0.01);
        let (mean, std) = moments(&u);
        let expected_std = (high - low) / 12f64.sqrt();
        // Five standard errors of the mean of 60 000 draws, and 2% of the spread.
        assert!(
            (mean - 0.5).abs() < 5.0 * expected_std / 60_000f64.sqrt(),
            "mean {mean}"
        );
        assert!((std / expected_std - 1.0).abs() < 0.02, "std {std}");
    }

    #[test]
    fn normal_has_the_requested_mean_and_std() {
        let (m, s) = (3.0, 0.25);
        let n = normal::<f64>(&[200, 300], m, s, &mut rng());
        assert_eq!(n.shape(), &[200, 300]);
        let (mean, std) = moments(&n);
        assert!((mean - m).abs() < 5.0 * s / 60_000f64.sqrt(), "mean {mean}");
        assert!((std / s - 1.0).abs() < 0.02, "std {std}");
        // About 0.27% of normal draws lie beyond three standard deviations.
        let beyond = n
            .to_vec()
            .iter()
            .filter(|v| (*v - m).abs() > 3.0 * s)
            .count();
        assert!((60..=270).contains(&beyond), "{beyond} draws beyond 3 sd");
    }

    #[test]
    #[should_panic(expected = "at least 2 dimensions")]
    fn fans_of_a_vector_are_refused() {
        fan_in_and_fan_out(&[5]);
    }
}
