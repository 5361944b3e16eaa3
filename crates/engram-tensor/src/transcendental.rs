//! The tensor ops built on the vectorised kernels of `vmath`: `exp`, `expm1`, `ln`,
//! `log1p`, `tanh`, `softplus`, `sigmoid`, `erf`, `sin`, `cos`, and the activations made
//! of them (GELU in both forms, SiLU, ELU), each one pass over memory.

use crate::element::Float;
use crate::elementwise::{gelu_tanh_coefficient, GELU_CUBIC};
use crate::parallel::filled;
use crate::tensor::Tensor;
use crate::vmath::Transcendental;
use std::mem::MaybeUninit;

/// Elements per kernel call when a strided view is gathered or an input is transformed
/// first: small enough to stay in L1 beside the output.
const BLOCK: usize = 256;

impl<T: Float> Tensor<T> {
    /// `e^x`.
    pub fn exp(&self) -> Tensor<T> {
        self.map_blocks(|x, out| T::transcendental(Transcendental::Exp, x, out))
    }

    /// `e^x - 1`, accurate near 0 (within 2 ulps of libm's `expm1` in f64, and the result
    /// is `x` itself for tiny `x`).
    pub fn expm1(&self) -> Tensor<T> {
        self.map_blocks(|x, out| T::transcendental(Transcendental::Expm1, x, out))
    }

    /// Natural logarithm (NaN below 0, -∞ at 0).
    pub fn ln(&self) -> Tensor<T> {
        self.map_blocks(|x, out| T::transcendental(Transcendental::Ln, x, out))
    }

    /// `ln(1 + x)`, accurate near 0 (within 2 ulps of libm's `log1p` in f64; -∞ at -1,
    /// NaN below).
    pub fn log1p(&self) -> Tensor<T> {
        self.map_blocks(|x, out| T::transcendental(Transcendental::Log1p, x, out))
    }

    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Tensor<T> {
        self.map_blocks(|x, out| T::transcendental(Transcendental::Tanh, x, out))
    }

    /// Softplus `ln(1 + e^x)`, stable for large |x| (within 3 ulps of libm's
    /// `max(x, 0) + log1p(e^-|x|)` in f64).
    pub fn softplus(&self) -> Tensor<T> {
        self.map_blocks(|x, out| T::transcendental(Transcendental::Softplus, x, out))
    }

    /// Logistic sigmoid `1 / (1 + e^-x)`, stable for large |x|.
    pub fn sigmoid(&self) -> Tensor<T> {
        self.map_blocks(|x, out| T::transcendental(Transcendental::Sigmoid, x, out))
    }

    /// The error function `(2/√π) ∫₀ˣ e^(-t²) dt`.
    pub fn erf(&self) -> Tensor<T> {
        self.map_blocks(|x, out| T::transcendental(Transcendental::Erf, x, out))
    }

    /// Sine.
    pub fn sin(&self) -> Tensor<T> {
        self.map_blocks(|x, out| T::transcendental(Transcendental::Sin, x, out))
    }

    /// Cosine.
    pub fn cos(&self) -> Tensor<T> {
        self.map_blocks(|x, out| T::transcendental(Transcendental::Cos, x, out))
    }

    /// GELU, exact form `x Φ(x) = ½x(1 + erf(x/√2))`.
    pub fn gelu(&self) -> Tensor<T> {
        let half = T::of(0.5);
        self.map_composed(
            Transcendental::Erf,
            |x| x * T::FRAC_1_SQRT_2(),
            |x, e| half * x * (T::one() + e),
        )
    }

    /// GELU, tanh approximation `½x(1 + tanh(√(2/π)(x + 0.044715x³)))`.
    pub fn gelu_tanh(&self) -> Tensor<T> {
        let (c, k, half) = (gelu_tanh_coefficient::<T>(), T::of(GELU_CUBIC), T::of(0.5));
        self.map_composed(
            Transcendental::Tanh,
            |x| c * (x + k * x * x * x),
            |x, t| half * x * (T::one() + t),
        )
    }

    /// ELU: `x` for positive `x`, `alpha (e^x - 1)` otherwise.
    pub fn elu(&self, alpha: T) -> Tensor<T> {
        self.map_composed(
            Transcendental::Expm1,
            |x| x,
            |x, e| if x > T::zero() { x } else { alpha * e },
        )
    }

    /// SiLU (swish) `x σ(x)`.
    pub fn silu(&self) -> Tensor<T> {
        self.map_composed(Transcendental::Sigmoid, |x| x, |x, s| x * s)
    }

    /// `post(x, f(pre(x)))` for every element, in blocks that stay in cache, so the
    /// whole chain is one pass over memory.
    fn map_composed(
        &self,
        f: Transcendental,
        pre: impl Fn(T) -> T + Sync,
        post: impl Fn(T, T) -> T + Sync,
    ) -> Tensor<T> {
        self.map_blocks(|x, out| {
            let mut arg = [T::zero(); BLOCK];
            for (a, &v) in arg.iter_mut().zip(x) {
                *a = pre(v);
            }
            T::transcendental(f, &arg[..x.len()], out);
            for (o, &v) in out.iter_mut().zip(x) {
                // SAFETY: `transcendental` initialised every element of `out`.
                let y = unsafe { o.assume_init() };
                o.write(post(v, y));
            }
        })
    }

    /// A new tensor of this shape whose elements `block(x, out)` writes, for blocks of at
    /// most `BLOCK` consecutive (logical) elements `x`, on the fixed chunks (and threads)
    /// of [`Tensor::map`]. Unit-stride data is passed in place; a strided view is gathered
    /// first. `block` must initialise every element of `out`.
    fn map_blocks(&self, block: impl Fn(&[T], &mut [MaybeUninit<T>]) + Sync) -> Tensor<T> {
        let data = self.data();
        if self.numel() == 1 {
            let mut y = [MaybeUninit::uninit()];
            block(&data[self.offset..self.offset + 1], &mut y);
            // SAFETY: `block` initialised the one element.
            return Tensor::inline(unsafe { y[0].assume_init() }, self.shape());
        }
        let contiguous = self.as_slice();
        let walk = self.walk();
        let [step] = walk.inner_strides();
        // SAFETY: every element of each chunk is handed to `block` exactly once (the
        // contiguous branch cuts the chunk into blocks; the strided one cuts each run, and
        // the runs tile the chunk), and `block` initialises what it is handed.
        let out = unsafe {
            filled(self.numel(), |start, chunk| match contiguous {
                Some(src) => {
                    let src = &src[start..start + chunk.len()];
                    for (x, out) in src.chunks(BLOCK).zip(chunk.chunks_mut(BLOCK)) {
                        block(x, out);
                    }
                }
                None => walk.for_each_run(start, chunk.len(), |[o], pos, run| {
                    let dst = &mut chunk[pos - start..pos - start + run];
                    let mut buf = [T::zero(); BLOCK];
                    for (b, out) in dst.chunks_mut(BLOCK).enumerate() {
                        let first = o + b * BLOCK * step;
                        for (i, x) in buf[..out.len()].iter_mut().enumerate() {
                            *x = data[first + i * step];
                        }
                        block(&buf[..out.len()], out);
                    }
                }),
            })
        };
        Tensor::from_pooled(out, self.shape())
    }
}

/// `f(x)` for one value through the vectorised kernel, so that it agrees bitwise with
/// the same function applied to a tensor.
pub(crate) fn apply_one<T: Float>(f: Transcendental, x: T) -> T {
    let mut y = [MaybeUninit::uninit()];
    T::transcendental(f, &[x], &mut y);
    // SAFETY: `transcendental` wrote the one element.
    unsafe { y[0].assume_init() }
}

/// `ln Σ e^(x - m) + m` over the values `fold` visits in order (`fold(f)` calls `f` on each
/// element): the exponentials go through the vectorised kernel in blocks, the sum runs in
/// the visiting order.
pub(crate) fn logsumexp_shifted<T: Float>(m: T, fold: impl FnOnce(&mut dyn FnMut(T))) -> T {
    let mut shifted = [T::zero(); BLOCK];
    let mut exps = [MaybeUninit::uninit(); BLOCK];
    let (mut total, mut n) = (T::zero(), 0);
    let mut flush = |shifted: &[T], total: T| {
        let exps = &mut exps[..shifted.len()];
        T::transcendental(Transcendental::Exp, shifted, exps);
        // SAFETY: `transcendental` initialised every element of `exps`.
        exps.iter()
            .fold(total, |a, e| a + unsafe { e.assume_init() })
    };
    fold(&mut |x| {
        shifted[n] = x - m;
        n += 1;
        if n == BLOCK {
            total = flush(&shifted, total);
            n = 0;
        }
    });
    let total = flush(&shifted[..n], total);
    m + apply_one(Transcendental::Ln, total)
}

#[cfg(test)]
mod tests {
    use crate::tensor::Tensor;

    type Op = fn(&Tensor<f64>) -> Tensor<f64>;

    fn bits(t: &Tensor<f64>) -> Vec<u64> {
        t.to_vec().iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn strided_views_and_single_elements_match_the_contiguous_result_bitwise() {
        let x = Tensor::<f64>::from_vec(
            (0..600).map(|i| i as f64 * 0.013 - 3.9).collect(),
            &[20, 30],
        );
        let xt = x.transpose(0, 1);
        let unit = x.slice(1, 2, 29, 1);
        let ops: [Op; 10] = [
            |t| t.exp(),
            |t| t.abs().ln(),
            |t| t.tanh(),
            |t| t.sigmoid(),
            |t| t.erf(),
            |t| t.gelu(),
            |t| t.gelu_tanh(),
            |t| t.silu(),
            |t| t.sin(),
            |t| t.cos(),
        ];
        for op in ops {
            assert_eq!(bits(&op(&xt)), bits(&op(&xt.contiguous())));
            assert_eq!(bits(&op(&unit)), bits(&op(&unit.contiguous())));
            let one = x.slice(0, 3, 4, 1).slice(1, 7, 8, 1);
            assert_eq!(bits(&op(&one)), bits(&op(&one.contiguous())));
            assert_eq!(op(&one).item().to_bits(), op(&x).get(&[3, 7]).to_bits());
        }
    }

    #[test]
    fn activations_agree_with_their_scalar_formulas() {
        let x =
            Tensor::<f64>::from_vec((0..1000).map(|i| i as f64 * 0.017 - 8.5).collect(), &[1000]);
        let c = (2.0 / std::f64::consts::PI).sqrt();
        for (i, &v) in x.to_vec().iter().enumerate() {
            let gelu = 0.5 * v * (1.0 + libm::erf(v / 2f64.sqrt()));
            let gelu_tanh = 0.5 * v * (1.0 + (c * (v + 0.044715 * v * v * v)).tanh());
            let silu = v / (1.0 + (-v).exp());
            for (got, want) in [
                (x.gelu().get(&[i]), gelu),
                (x.gelu_tanh().get(&[i]), gelu_tanh),
                (x.silu().get(&[i]), silu),
            ] {
                // Absolute: where GELU is tiny, `1 + erf` cancels in both.
                assert!(
                    (got - want).abs() <= 1e-15 * v.abs().max(1.0),
                    "at {v}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn empty_tensors_stay_empty() {
        let x = Tensor::<f32>::zeros(&[0, 3]);
        assert_eq!(x.exp().shape(), &[0, 3]);
        assert_eq!(x.gelu().shape(), &[0, 3]);
    }
}
