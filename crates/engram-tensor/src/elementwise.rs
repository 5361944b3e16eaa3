//! Elementwise kernels: unary maps and binary ops with NumPy broadcasting.

use crate::element::{Element, Float};
use crate::parallel::{fill_chunked, filled};
use crate::shape::{broadcast_shapes, shape_error};
use crate::strided::Walk;
use crate::tensor::Tensor;

/// Applies `f` pairwise after broadcasting `a` and `b` to a common shape.
#[track_caller]
pub fn zip_map<A: Element, B: Element, R: Element>(
    op: &str,
    a: &Tensor<A>,
    b: &Tensor<B>,
    f: impl Fn(A, B) -> R + Sync,
) -> Tensor<R> {
    if a.numel() == 1 && b.numel() == 1 {
        // Two scalars (of any rank): no broadcast to compute when the shapes agree.
        let value = f(a.data()[a.offset], b.data()[b.offset]);
        if a.shape() == b.shape() {
            return Tensor::inline(value, a.shape());
        }
        return Tensor::inline(value, &broadcast_shapes(op, a.shape(), b.shape()));
    }
    if let Some(out) = zip_contiguous_same_shape(a, b, &f) {
        return out;
    }
    let shape = broadcast_shapes(op, a.shape(), b.shape());
    let (a, b) = (a.broadcast_to(&shape), b.broadcast_to(&shape));
    let walk = Walk::new(&shape, [a.strides(), b.strides()], [a.offset, b.offset]);
    let [sa, sb] = walk.inner_strides();
    let (da, db) = (a.data(), b.data());
    // SAFETY: the runs of `for_each_run(start, chunk.len())` tile the chunk exactly, and
    // each of the four loops below writes every slot of its run (`dst` is the run's slice
    // and is zipped with, or indexed over, exactly `run` elements).
    let out = unsafe {
        filled(walk.len(), |start, chunk| {
            walk.for_each_run(start, chunk.len(), |[oa, ob], pos, run| {
                let dst = &mut chunk[pos - start..pos - start + run];
                match (sa, sb) {
                    (1, 1) => {
                        for ((d, &x), &y) in
                            dst.iter_mut().zip(&da[oa..oa + run]).zip(&db[ob..ob + run])
                        {
                            d.write(f(x, y));
                        }
                    }
                    (1, 0) => {
                        let y = db[ob];
                        for (d, &x) in dst.iter_mut().zip(&da[oa..oa + run]) {
                            d.write(f(x, y));
                        }
                    }
                    (0, 1) => {
                        let x = da[oa];
                        for (d, &y) in dst.iter_mut().zip(&db[ob..ob + run]) {
                            d.write(f(x, y));
                        }
                    }
                    _ => {
                        for (i, d) in dst.iter_mut().enumerate() {
                            d.write(f(da[oa + i * sa], db[ob + i * sb]));
                        }
                    }
                }
            });
        })
    };
    Tensor::from_pooled(out, &shape)
}

/// `f` pairwise over two contiguous operands of one shape, the most common case, without the broadcasting and stride walk of the general path: a
/// small tensor's op is then little more than its loop. `None` for any other operands.
fn zip_contiguous_same_shape<A: Element, B: Element, R: Element>(
    a: &Tensor<A>,
    b: &Tensor<B>,
    f: &(impl Fn(A, B) -> R + Sync),
) -> Option<Tensor<R>> {
    if a.shape() != b.shape() {
        return None;
    }
    let (xs, ys) = (a.as_slice()?, b.as_slice()?);
    // SAFETY: every slot of each chunk is zipped with one element of each operand (the
    // three have the same length from `start`), and written once.
    let out = unsafe {
        filled(xs.len(), |start, chunk| {
            for ((d, &x), &y) in chunk.iter_mut().zip(&xs[start..]).zip(&ys[start..]) {
                d.write(f(x, y));
            }
        })
    };
    Some(Tensor::from_pooled(out, a.shape()))
}

/// The cubic coefficient `0.044715` in the tanh form of GELU,
/// `½x(1 + tanh(√(2/π)(x + 0.044715x³)))`; the kernel and its gradient rule share it.
pub const GELU_CUBIC: f64 = 0.044715;

/// The coefficient `√(2/π)` in the tanh form of GELU.
pub fn gelu_tanh_coefficient<T: Float>() -> T {
    T::of((2.0 / std::f64::consts::PI).sqrt())
}

macro_rules! unary_ops {
    ($($(#[$doc:meta])* $name:ident => |$x:ident| $body:expr;)*) => {
        impl<T: Float> Tensor<T> {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Tensor<T> {
                    self.map(|$x: T| $body)
                }
            )*
        }
    };
}

unary_ops! {
    /// `-x`.
    neg => |x| -x;
    /// Square root.
    sqrt => |x| x.sqrt();
    /// `1 / x`.
    recip => |x| x.recip();
    /// `x²`.
    square => |x| x * x;
    /// Absolute value.
    abs => |x| x.abs();
    /// -1, 0 or 1 by the sign of x (0 at ±0; NaN stays NaN).
    sign => |x| if x > T::zero() { T::one() } else if x < T::zero() { -T::one() } else { x };
    /// `max(x, 0)`.
    relu => |x| if x > T::zero() { x } else { T::zero() };
}

impl<T: Float> Tensor<T> {
    /// `x` for positive x, `slope · x` otherwise.
    pub fn leaky_relu(&self, slope: T) -> Tensor<T> {
        self.map(|x| if x > T::zero() { x } else { slope * x })
    }

    /// `x^p` for a float exponent, with libm's `pow` special values. The exponents 1, 2,
    /// -1 and ½ (a square, a reciprocal, a root: a loss's or a norm's, and the first
    /// derivative of a square or a cube) skip `pow`, which runs per element and took 20–60×
    /// as long: they are one correctly rounded operation, so no less accurate.
    pub fn powf(&self, p: T) -> Tensor<T> {
        if p == T::one() {
            self.map(|x| x)
        } else if p == T::of(2.0) {
            self.map(|x| x * x)
        } else if p == -T::one() {
            self.map(|x| T::one() / x)
        } else if p == T::of(0.5) {
            // `pow` gives +0 at -0 (`+ 0` turns a -0 root into +0) and +∞ at -∞.
            self.map(|x| {
                if x == T::neg_infinity() {
                    T::infinity()
                } else {
                    x.sqrt() + T::zero()
                }
            })
        } else {
            self.map(|x| x.powf(p))
        }
    }

    /// `x^n` for an integer exponent.
    pub fn powi(&self, n: i32) -> Tensor<T> {
        self.map(|x| x.powi(n))
    }

    /// Limits every element to `[min, max]`.
    #[track_caller]
    pub fn clamp(&self, min: T, max: T) -> Tensor<T> {
        if min.is_nan() || max.is_nan() || min > max {
            shape_error(
                "clamp",
                format!("min {min} must not be greater than max {max} (nor either be NaN)"),
            );
        }
        self.map(|x| x.max(min).min(max))
    }

    /// `x + c` for a scalar.
    pub fn add_scalar(&self, c: T) -> Tensor<T> {
        self.map(|x| x + c)
    }

    /// `x · c` for a scalar.
    pub fn mul_scalar(&self, c: T) -> Tensor<T> {
        self.map(|x| x * c)
    }

    /// `x / c` for a scalar: a true division, not a product with `1 / c` (which is off by
    /// an ulp in about a third of elements).
    pub fn div_scalar(&self, c: T) -> Tensor<T> {
        self.map(|x| x / c)
    }

    /// In place `self += alpha · other` (same shapes), as an optimizer's update step.
    /// Writes through when this tensor's storage is unshared, else copies first.
    #[track_caller]
    pub fn add_scaled_(&mut self, other: &Tensor<T>, alpha: T) {
        self.assign_zip("add_scaled_", other, |d, s| d + alpha * s);
    }

    /// In place `self = f(self, other)`, element by element (same shapes), in parallel
    /// when large. Writes through when this tensor's storage is unshared, else copies
    /// first. For a gradient rule that owns its incoming gradient: the result takes that
    /// buffer instead of a fresh one (ReLU's rule masks the gradient it was handed).
    #[track_caller]
    pub fn zip_assign_(&mut self, other: &Tensor<T>, f: impl Fn(T, T) -> T + Sync) {
        self.assign_zip("zip_assign_", other, f);
    }

    /// [`Tensor::zip_assign_`], with `op` named in the shape error.
    #[track_caller]
    fn assign_zip(&mut self, op: &str, other: &Tensor<T>, f: impl Fn(T, T) -> T + Sync) {
        if self.shape() != other.shape() {
            shape_error(
                op,
                format!(
                    "shapes {:?} and {:?} must be equal",
                    self.shape(),
                    other.shape()
                ),
            );
        }
        let src = other.contiguous_data();
        fill_chunked(self.as_mut_slice(), |start, chunk| {
            let n = chunk.len();
            for (d, &s) in chunk.iter_mut().zip(&src[start..start + n]) {
                *d = f(*d, s);
            }
        });
    }

    /// Elementwise sum with broadcasting.
    #[track_caller]
    pub fn add(&self, other: &Tensor<T>) -> Tensor<T> {
        zip_map("add", self, other, |a, b| a + b)
    }

    /// Elementwise difference with broadcasting.
    #[track_caller]
    pub fn sub(&self, other: &Tensor<T>) -> Tensor<T> {
        zip_map("sub", self, other, |a, b| a - b)
    }

    /// Elementwise product with broadcasting.
    #[track_caller]
    pub fn mul(&self, other: &Tensor<T>) -> Tensor<T> {
        zip_map("mul", self, other, |a, b| a * b)
    }

    /// Elementwise quotient with broadcasting.
    #[track_caller]
    pub fn div(&self, other: &Tensor<T>) -> Tensor<T> {
        zip_map("div", self, other, |a, b| a / b)
    }

    /// Elementwise `self ^ exponent` with broadcasting.
    #[track_caller]
    pub fn pow(&self, exponent: &Tensor<T>) -> Tensor<T> {
        zip_map("pow", self, exponent, |a, b| a.powf(b))
    }

    /// Elementwise larger of the two (NaN if either is NaN), with broadcasting.
    #[track_caller]
    pub fn maximum(&self, other: &Tensor<T>) -> Tensor<T> {
        zip_map("maximum", self, other, |a, b| {
            if a.is_nan() || b.is_nan() {
                T::nan()
            } else {
                a.max(b)
            }
        })
    }

    /// Elementwise smaller of the two (NaN if either is NaN), with broadcasting.
    #[track_caller]
    pub fn minimum(&self, other: &Tensor<T>) -> Tensor<T> {
        zip_map("minimum", self, other, |a, b| {
            if a.is_nan() || b.is_nan() {
                T::nan()
            } else {
                a.min(b)
            }
        })
    }
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $fun:ident) => {
        impl<T: Float> std::ops::$trait<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                Tensor::$fun(self, rhs)
            }
        }
        impl<T: Float> std::ops::$trait<Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                Tensor::$fun(&self, &rhs)
            }
        }
        impl<T: Float> std::ops::$trait<&Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                Tensor::$fun(&self, rhs)
            }
        }
        impl<T: Float> std::ops::$trait<Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                Tensor::$fun(self, &rhs)
            }
        }
        impl<T: Float> std::ops::$trait<T> for &Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: T) -> Tensor<T> {
                self.map(|x| std::ops::$trait::$method(x, rhs))
            }
        }
        impl<T: Float> std::ops::$trait<T> for Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: T) -> Tensor<T> {
                self.map(|x| std::ops::$trait::$method(x, rhs))
            }
        }
        impl std::ops::$trait<&Tensor<f32>> for f32 {
            type Output = Tensor<f32>;
            fn $method(self, rhs: &Tensor<f32>) -> Tensor<f32> {
                rhs.map(|x| std::ops::$trait::$method(self, x))
            }
        }
        impl std::ops::$trait<&Tensor<f64>> for f64 {
            type Output = Tensor<f64>;
            fn $method(self, rhs: &Tensor<f64>) -> Tensor<f64> {
                rhs.map(|x| std::ops::$trait::$method(self, x))
            }
        }
    };
}

binary_operator!(Add, add, add);
binary_operator!(Sub, sub, sub);
binary_operator!(Mul, mul, mul);
binary_operator!(Div, div, div);

impl<T: Float> std::ops::Neg for &Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(self)
    }
}

impl<T: Float> std::ops::Neg for Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(data.to_vec(), shape)
    }

    #[test]
    fn add_broadcasts_row_and_column() {
        let col = t(&[1.0, 2.0], &[2, 1]);
        let row = t(&[10.0, 20.0, 30.0], &[3]);
        assert_eq!(
            (&col + &row).to_vec(),
            vec![11.0, 21.0, 31.0, 12.0, 22.0, 32.0]
        );
    }

    #[test]
    fn binary_op_on_transposed_operand() {
        let a = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let b = t(&[1.0, 1.0, 1.0, 2.0, 2.0, 2.0], &[3, 2]).t();
        // b = [[1, 1, 2], [1, 2, 2]]
        assert_eq!((&a * &b).to_vec(), vec![1.0, 2.0, 6.0, 4.0, 10.0, 12.0]);
    }

    #[test]
    fn scalar_operators_work_both_sides() {
        let a = t(&[1.0, 2.0], &[2]);
        assert_eq!((&a * 3.0).to_vec(), vec![3.0, 6.0]);
        assert_eq!((1.0 - &a).to_vec(), vec![0.0, -1.0]);
        assert_eq!((2.0 / &a).to_vec(), vec![2.0, 1.0]);
        assert_eq!((-&a).to_vec(), vec![-1.0, -2.0]);
    }

    #[test]
    fn activations_match_hand_values() {
        let x = t(&[-2.0, 0.0, 3.0], &[3]);
        assert_eq!(x.relu().to_vec(), vec![0.0, 0.0, 3.0]);
        assert_eq!(x.leaky_relu(0.1).to_vec(), vec![-0.2, 0.0, 3.0]);
        assert_eq!(x.sign().to_vec(), vec![-1.0, 0.0, 1.0]);
        assert_relative_eq!(
            x.sigmoid().get(&[0]),
            1.0 / (1.0 + 2f64.exp()),
            epsilon = 1e-15
        );
        assert_relative_eq!(x.elu(1.0).get(&[0]), (-2f64).exp() - 1.0, epsilon = 1e-15);
        assert_relative_eq!(
            x.softplus().get(&[2]),
            (1.0 + 3f64.exp()).ln(),
            epsilon = 1e-15
        );
        // Φ(1) = 0.8413447460685429
        assert_relative_eq!(
            t(&[1.0], &[1]).gelu().item(),
            0.8413447460685429,
            epsilon = 1e-15
        );
        assert_relative_eq!(
            t(&[1.0], &[1]).gelu_tanh().item(),
            0.8411919906082768,
            epsilon = 1e-12
        );
        assert_relative_eq!(
            x.silu().get(&[2]),
            3.0 / (1.0 + (-3f64).exp()),
            epsilon = 1e-15
        );
    }

    #[test]
    fn powf_fast_exponents_agree_with_libm_and_keep_its_special_values() {
        let specials = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let mut xs: Vec<f64> = (0..2000).map(|i| (i as f64 - 1000.0) * 0.0137).collect();
        xs.extend(specials);
        xs.extend([1e-300, 3e200, -7e-310]);
        let x = Tensor::from_vec(xs.clone(), &[xs.len()]);
        for p in [1.0, 2.0, -1.0, 0.5] {
            let got = x.powf(p).to_vec();
            for (&xi, &g) in xs.iter().zip(&got) {
                let want = xi.powf(p);
                let same = g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan());
                // Off by at most one ulp where libm's `pow` is not correctly rounded.
                let close = (g - want).abs() <= want.abs() * f64::EPSILON;
                assert!(same || close, "{xi}^{p}: {g} vs libm {want}");
                if xi == 0.0 || xi.is_infinite() || xi.is_nan() {
                    assert!(
                        same,
                        "{xi}^{p}: {g} vs libm {want} (sign and specials exact)"
                    );
                }
            }
        }
    }

    #[test]
    fn sigmoid_and_softplus_are_stable_at_extremes() {
        let x = t(&[-1000.0, 1000.0], &[2]);
        assert_eq!(x.sigmoid().to_vec(), vec![0.0, 1.0]);
        assert_eq!(x.softplus().to_vec(), vec![0.0, 1000.0]);
    }

    #[test]
    fn maximum_minimum_and_clamp() {
        let a = t(&[1.0, 5.0, 3.0], &[3]);
        let b = t(&[2.0, 2.0, 3.0], &[3]);
        assert_eq!(a.maximum(&b).to_vec(), vec![2.0, 5.0, 3.0]);
        assert_eq!(a.minimum(&b).to_vec(), vec![1.0, 2.0, 3.0]);
        assert_eq!(a.clamp(2.0, 4.0).to_vec(), vec![2.0, 4.0, 3.0]);
    }

    #[test]
    fn add_scaled_updates_in_place() {
        let mut a = t(&[1.0, 2.0], &[2]);
        let before = a.as_mut_slice().as_ptr();
        a.add_scaled_(&t(&[10.0, 20.0], &[2]), -0.5);
        assert_eq!(a.to_vec(), vec![-4.0, -8.0]);
        assert_eq!(a.as_mut_slice().as_ptr(), before);
    }

    #[test]
    fn zero_size_broadcast_gives_empty() {
        let a = Tensor::<f32>::zeros(&[0, 3]);
        let b = Tensor::<f32>::ones(&[1, 3]);
        assert_eq!((&a + &b).shape(), &[0, 3]);
    }

    #[test]
    #[should_panic(expected = "`mul`: shapes [2, 3] and [2] cannot be broadcast together")]
    fn mismatched_shapes_panic_with_op_name() {
        let _ = Tensor::<f32>::zeros(&[2, 3]).mul(&Tensor::zeros(&[2]));
    }
}
