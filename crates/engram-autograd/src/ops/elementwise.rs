//! Elementwise ops: unary maps and binary ops with broadcasting.
//!
//! Broadcasting in the forward pass is undone in the backward pass: each input's gradient
//! is summed back to that input's shape (`sum_to_shape`).

use crate::operand::Operand;
use crate::ops::{op_names, InputGrads, Op};
use crate::tape::record;
use crate::var::Var;
use engram_tensor::{gelu_tanh_coefficient, Float, Tensor, GELU_CUBIC};
use smallvec::smallvec;

/// A unary elementwise op, with any constant it carries.
#[derive(Clone, Copy, Debug)]
pub(crate) enum UnaryOp<T> {
    Neg,
    Exp,
    Ln,
    Log1p,
    Expm1,
    Sqrt,
    Recip,
    Square,
    Abs,
    Sign,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
    Relu,
    LeakyRelu(T),
    Elu(T),
    Gelu,
    GeluTanh,
    Silu,
    Softplus,
    Erf,
    Powf(T),
    Powi(i32),
    Clamp(T, T),
    AddScalar(T),
    MulScalar(T),
    /// `x / c`.
    DivScalar(T),
    /// `c / x`.
    RdivScalar(T),
}

impl<T: Float> UnaryOp<T> {
    op_names! {
        UnaryOp::Neg => "neg",
        UnaryOp::Exp => "exp",
        UnaryOp::Ln => "ln",
        UnaryOp::Log1p => "log1p",
        UnaryOp::Expm1 => "expm1",
        UnaryOp::Sqrt => "sqrt",
        UnaryOp::Recip => "recip",
        UnaryOp::Square => "square",
        UnaryOp::Abs => "abs",
        UnaryOp::Sign => "sign",
        UnaryOp::Sin => "sin",
        UnaryOp::Cos => "cos",
        UnaryOp::Tanh => "tanh",
        UnaryOp::Sigmoid => "sigmoid",
        UnaryOp::Relu => "relu",
        UnaryOp::LeakyRelu(_) => "leaky_relu",
        UnaryOp::Elu(_) => "elu",
        UnaryOp::Gelu => "gelu",
        UnaryOp::GeluTanh => "gelu_tanh",
        UnaryOp::Silu => "silu",
        UnaryOp::Softplus => "softplus",
        UnaryOp::Erf => "erf",
        UnaryOp::Powf(_) => "powf",
        UnaryOp::Powi(_) => "powi",
        UnaryOp::Clamp(..) => "clamp",
        UnaryOp::AddScalar(_) => "add_scalar",
        UnaryOp::MulScalar(_) => "mul_scalar",
        UnaryOp::DivScalar(_) => "div_scalar",
        UnaryOp::RdivScalar(_) => "rdiv_scalar",
    }

    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        use UnaryOp::*;
        match *self {
            Neg => x.neg(),
            Exp => x.exp(),
            Ln => x.ln(),
            Log1p => x.log1p(),
            Expm1 => x.expm1(),
            Sqrt => x.sqrt(),
            Recip => x.recip(),
            Square => x.square(),
            Abs => x.abs(),
            Sign => x.sign(),
            Sin => x.sin(),
            Cos => x.cos(),
            Tanh => x.tanh(),
            Sigmoid => x.sigmoid(),
            Relu => x.relu(),
            LeakyRelu(s) => x.leaky_relu(s),
            Elu(a) => x.elu(a),
            Gelu => x.gelu(),
            GeluTanh => x.gelu_tanh(),
            Silu => x.silu(),
            Softplus => x.softplus(),
            Erf => x.erf(),
            Powf(p) => x.powf(p),
            Powi(n) => x.powi(n),
            Clamp(lo, hi) => x.clamp(lo, hi),
            AddScalar(c) => x.add_scalar(c),
            MulScalar(c) => x.mul_scalar(c),
            DivScalar(c) => x.div_scalar(c),
            RdivScalar(c) => x.map(|v| c / v),
        }
    }

    /// `dx = g · f'(x)`, with `f'` in terms of `x` and `y = f(x)`; `None` where the
    /// derivative is zero everywhere. One gradient rather than a list of them, and `g` by
    /// value (`add_scalar` passes it on without a copy): the sweep runs unary nodes
    /// without building per-input lists (see `backward::sweep`).
    pub(crate) fn vjp<V: Operand<T>>(&self, x: &V, y: &V, g: V) -> Option<V> {
        use UnaryOp::*;
        let one = T::one();
        let xv = x.value();
        let dx = match *self {
            Neg => g.neg(),
            Exp => g.mul(y),
            Ln => g.div(x),
            Log1p => g.div(&x.add_scalar(one)),
            Expm1 => g.mul(&y.add_scalar(one)),
            Sqrt => g.div(&y.mul_scalar(T::of(2.0))),
            Recip => g.mul(&y.mul(y)).neg(),
            Square => g.mul(&x.mul_scalar(T::of(2.0))),
            Abs => g.mul_const(xv.sign()),
            Sign => return None,
            Sin => g.mul(&x.cos()),
            Cos => g.mul(&x.sin()).neg(),
            Tanh => g.mul_tanh_grad(y),
            Sigmoid => g.mul_sigmoid_grad(y),
            Relu => g.mul_relu_grad(xv),
            LeakyRelu(s) => g.mul_const(xv.map(|v| if v > T::zero() { T::one() } else { s })),
            Elu(a) => {
                let slope = y
                    .add_scalar(a)
                    .mul_const(indicator(xv, |v| v <= T::zero()))
                    .add(&g.lift(indicator(xv, |v| v > T::zero())));
                g.mul(&slope)
            }
            Gelu => {
                // Φ(x) + x φ(x)
                let cdf = x
                    .mul_scalar(T::FRAC_1_SQRT_2())
                    .erf()
                    .add_scalar(one)
                    .mul_scalar(T::of(0.5));
                let pdf = x
                    .mul(x)
                    .mul_scalar(T::of(-0.5))
                    .exp()
                    .mul_scalar(T::of(1.0 / (2.0 * std::f64::consts::PI).sqrt()));
                g.mul(&cdf.add(&x.mul(&pdf)))
            }
            GeluTanh => {
                // ½(1 + t) + ½x(1 - t²)·c(1 + 3k x²), t = tanh(c(x + k x³))
                let (c, k) = (gelu_tanh_coefficient::<T>(), T::of(GELU_CUBIC));
                let x2 = x.mul(x);
                let t = x.add(&x2.mul(x).mul_scalar(k)).mul_scalar(c).tanh();
                let left = t.add_scalar(one).mul_scalar(T::of(0.5));
                let inner = x2.mul_scalar(T::of(3.0) * k).add_scalar(one).mul_scalar(c);
                let right = x
                    .mul(&t.mul(&t).neg().add_scalar(one))
                    .mul(&inner)
                    .mul_scalar(T::of(0.5));
                g.mul(&left.add(&right))
            }
            Silu => {
                let s = x.sigmoid();
                g.mul(&s.mul(&x.mul(&s.neg().add_scalar(one)).add_scalar(one)))
            }
            Softplus => g.mul(&x.sigmoid()),
            Erf => g.mul(
                &x.mul(x)
                    .neg()
                    .exp()
                    .mul_scalar(T::of(2.0 / std::f64::consts::PI.sqrt())),
            ),
            // p·x^(p-1) is 0·(1/0) = NaN at x = 0 for p = 0, where the derivative is 0.
            Powf(p) if p == T::zero() => return None,
            Powf(p) => g.mul(&x.powf(p - one).mul_scalar(p)),
            Powi(0) => return None,
            Powi(n) => g.mul(&x.powi(n - 1).mul_scalar(T::of(n as f64))),
            Clamp(lo, hi) => g.mul_const(xv.map(|v| {
                if v >= lo && v <= hi {
                    T::one()
                } else {
                    T::zero()
                }
            })),
            AddScalar(_) => g,
            MulScalar(c) => g.mul_scalar(c),
            DivScalar(c) => g.div_scalar(c),
            // d(c/x)/dx = -c/x² = -y/x
            RdivScalar(_) => g.mul(y).div(x).neg(),
        };
        Some(dx)
    }
}

/// 1 where `keep` holds for `x`, else 0: a derivative that is a mask. `keep` is a
/// generic closure rather than a function pointer so the loop inlines and vectorises (a
/// call per element made ReLU's mask 9% of the CNN step).
fn indicator<T: Float>(x: &Tensor<T>, keep: impl Fn(T) -> bool + Sync) -> Tensor<T> {
    x.map(|v| if keep(v) { T::one() } else { T::zero() })
}

/// A binary elementwise op with broadcasting.
#[derive(Clone, Copy, Debug)]
pub(crate) enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Maximum,
    Minimum,
}

impl BinaryOp {
    op_names! {
        BinaryOp::Add => "add",
        BinaryOp::Sub => "sub",
        BinaryOp::Mul => "mul",
        BinaryOp::Div => "div",
        BinaryOp::Pow => "pow",
        BinaryOp::Maximum => "maximum",
        BinaryOp::Minimum => "minimum",
    }

    #[track_caller]
    fn forward<T: Float>(&self, a: &Tensor<T>, b: &Tensor<T>) -> Tensor<T> {
        match self {
            BinaryOp::Add => a.add(b),
            BinaryOp::Sub => a.sub(b),
            BinaryOp::Mul => a.mul(b),
            BinaryOp::Div => a.div(b),
            BinaryOp::Pow => a.pow(b),
            BinaryOp::Maximum => a.maximum(b),
            BinaryOp::Minimum => a.minimum(b),
        }
    }

    /// `(g · ∂y/∂a, g · ∂y/∂b)`, each summed back to its input's shape. Ties of
    /// maximum/minimum share the gradient equally, as JAX does.
    pub(crate) fn vjp<T: Float, V: Operand<T>>(
        &self,
        a: &V,
        b: &V,
        y: &V,
        g: &V,
        needs: &[bool],
    ) -> InputGrads<V> {
        let (ga, gb) = match self {
            BinaryOp::Add => (g.clone(), g.clone()),
            BinaryOp::Sub => (g.clone(), g.neg()),
            BinaryOp::Mul => (g.mul(b), g.mul(a)),
            BinaryOp::Div => (g.div(b), g.mul(y).div(b).neg()),
            BinaryOp::Pow => {
                // As JAX: ∂y/∂a = b·a^(b-1), which never divides by a, so it holds at
                // a = 0, and is 0 where b = 0 (b - 1 is taken from 1 there, and the
                // product has the factor b = 0), as JAX's rule for integer exponents
                // (its float rule gives 0·0^-1 = NaN). ∂y/∂b = y·ln a with ln 0 read as
                // ln 1 = 0, the limit for b > 0, as JAX.
                let where_zero =
                    |v: &Tensor<T>| v.map(|e| if e == T::zero() { T::one() } else { T::zero() });
                let b_nonzero = b.add(&b.lift(where_zero(b.value())));
                let a_nonzero = a.add(&a.lift(where_zero(a.value())));
                let da = b.mul(&a.pow(&b_nonzero.add_scalar(-T::one())));
                (g.mul(&da), g.mul(y).mul(&a_nonzero.ln()))
            }
            BinaryOp::Maximum | BinaryOp::Minimum => {
                let wins = |p: T, q: T| {
                    if matches!(self, BinaryOp::Maximum) {
                        p > q
                    } else {
                        p < q
                    }
                };
                let share = engram_tensor::zip_map(self.name(), a.value(), b.value(), |p, q| {
                    if p == q {
                        T::of(0.5)
                    } else if wins(p, q) {
                        T::one()
                    } else {
                        T::zero()
                    }
                });
                let rest = share.map(|s| T::one() - s);
                (g.mul_const(share), g.mul_const(rest))
            }
        };
        smallvec![
            needs[0].then(|| ga.sum_to_shape(a.value().shape())),
            needs[1].then(|| gb.sum_to_shape(b.value().shape()))
        ]
    }
}

impl<T: Float> Var<T> {
    #[track_caller]
    fn unary(&self, op: UnaryOp<T>) -> Var<T> {
        let value = op.forward(self.value());
        record(Op::Unary(op), &[self], value)
    }

    #[track_caller]
    fn binary(&self, op: BinaryOp, other: &Var<T>) -> Var<T> {
        let value = op.forward(self.value(), other.value());
        record(Op::Binary(op), &[self, other], value)
    }

    /// Elementwise sum, broadcasting as NumPy.
    #[track_caller]
    pub fn add(&self, other: &Var<T>) -> Var<T> {
        self.binary(BinaryOp::Add, other)
    }
    /// Elementwise difference, broadcasting.
    #[track_caller]
    pub fn sub(&self, other: &Var<T>) -> Var<T> {
        self.binary(BinaryOp::Sub, other)
    }
    /// Elementwise product, broadcasting.
    #[track_caller]
    pub fn mul(&self, other: &Var<T>) -> Var<T> {
        self.binary(BinaryOp::Mul, other)
    }
    /// Elementwise quotient, broadcasting.
    #[track_caller]
    pub fn div(&self, other: &Var<T>) -> Var<T> {
        self.binary(BinaryOp::Div, other)
    }
    /// Elementwise `self ^ exponent`, broadcasting (base must be positive for the
    /// exponent's gradient, which involves `ln self`).
    #[track_caller]
    pub fn pow(&self, exponent: &Var<T>) -> Var<T> {
        self.binary(BinaryOp::Pow, exponent)
    }
    /// Elementwise maximum; on ties each side gets half the gradient.
    #[track_caller]
    pub fn maximum(&self, other: &Var<T>) -> Var<T> {
        self.binary(BinaryOp::Maximum, other)
    }
    /// Elementwise minimum; on ties each side gets half the gradient.
    #[track_caller]
    pub fn minimum(&self, other: &Var<T>) -> Var<T> {
        self.binary(BinaryOp::Minimum, other)
    }

    /// `-x`.
    #[track_caller]
    pub fn neg(&self) -> Var<T> {
        self.unary(UnaryOp::Neg)
    }
    /// `e^x`.
    #[track_caller]
    pub fn exp(&self) -> Var<T> {
        self.unary(UnaryOp::Exp)
    }
    /// Natural logarithm.
    #[track_caller]
    pub fn ln(&self) -> Var<T> {
        self.unary(UnaryOp::Ln)
    }
    /// `ln(1 + x)`.
    #[track_caller]
    pub fn log1p(&self) -> Var<T> {
        self.unary(UnaryOp::Log1p)
    }
    /// `e^x - 1`.
    #[track_caller]
    pub fn expm1(&self) -> Var<T> {
        self.unary(UnaryOp::Expm1)
    }
    /// Square root.
    #[track_caller]
    pub fn sqrt(&self) -> Var<T> {
        self.unary(UnaryOp::Sqrt)
    }
    /// `1 / x`.
    #[track_caller]
    pub fn recip(&self) -> Var<T> {
        self.unary(UnaryOp::Recip)
    }
    /// `x²`.
    #[track_caller]
    pub fn square(&self) -> Var<T> {
        self.unary(UnaryOp::Square)
    }
    /// `|x|`; its gradient at 0 is 0 (the sign), as PyTorch.
    #[track_caller]
    pub fn abs(&self) -> Var<T> {
        self.unary(UnaryOp::Abs)
    }
    /// -1, 0 or 1; its gradient is zero everywhere.
    #[track_caller]
    pub fn sign(&self) -> Var<T> {
        self.unary(UnaryOp::Sign)
    }
    /// Sine.
    #[track_caller]
    pub fn sin(&self) -> Var<T> {
        self.unary(UnaryOp::Sin)
    }
    /// Cosine.
    #[track_caller]
    pub fn cos(&self) -> Var<T> {
        self.unary(UnaryOp::Cos)
    }
    /// Hyperbolic tangent.
    #[track_caller]
    pub fn tanh(&self) -> Var<T> {
        self.unary(UnaryOp::Tanh)
    }
    /// Logistic sigmoid.
    #[track_caller]
    pub fn sigmoid(&self) -> Var<T> {
        self.unary(UnaryOp::Sigmoid)
    }
    /// `max(x, 0)`; gradient 0 at 0, as PyTorch.
    #[track_caller]
    pub fn relu(&self) -> Var<T> {
        self.unary(UnaryOp::Relu)
    }
    /// `x` if positive, else `slope · x`.
    #[track_caller]
    pub fn leaky_relu(&self, slope: T) -> Var<T> {
        self.unary(UnaryOp::LeakyRelu(slope))
    }
    /// `x` if positive, else `alpha (e^x - 1)`.
    #[track_caller]
    pub fn elu(&self, alpha: T) -> Var<T> {
        self.unary(UnaryOp::Elu(alpha))
    }
    /// GELU, exact (erf) form.
    #[track_caller]
    pub fn gelu(&self) -> Var<T> {
        self.unary(UnaryOp::Gelu)
    }
    /// GELU, tanh approximation.
    #[track_caller]
    pub fn gelu_tanh(&self) -> Var<T> {
        self.unary(UnaryOp::GeluTanh)
    }
    /// SiLU (swish), `x σ(x)`.
    #[track_caller]
    pub fn silu(&self) -> Var<T> {
        self.unary(UnaryOp::Silu)
    }
    /// `ln(1 + e^x)`.
    #[track_caller]
    pub fn softplus(&self) -> Var<T> {
        self.unary(UnaryOp::Softplus)
    }
    /// The error function.
    #[track_caller]
    pub fn erf(&self) -> Var<T> {
        self.unary(UnaryOp::Erf)
    }
    /// `x^p`.
    #[track_caller]
    pub fn powf(&self, p: T) -> Var<T> {
        self.unary(UnaryOp::Powf(p))
    }
    /// `x^n`.
    #[track_caller]
    pub fn powi(&self, n: i32) -> Var<T> {
        self.unary(UnaryOp::Powi(n))
    }
    /// Limits to `[min, max]`; the gradient passes where `min <= x <= max`, as PyTorch.
    #[track_caller]
    pub fn clamp(&self, min: T, max: T) -> Var<T> {
        self.unary(UnaryOp::Clamp(min, max))
    }
    /// `x + c`.
    #[track_caller]
    pub fn add_scalar(&self, c: T) -> Var<T> {
        self.unary(UnaryOp::AddScalar(c))
    }
    /// `x · c`.
    #[track_caller]
    pub fn mul_scalar(&self, c: T) -> Var<T> {
        self.unary(UnaryOp::MulScalar(c))
    }
    /// `x / c`, a true division (as the `/` operator): not `x · (1/c)`, which is an ulp off
    /// in about a third of elements.
    pub fn div_scalar(&self, c: T) -> Var<T> {
        self.unary(UnaryOp::DivScalar(c))
    }
    /// `c / x`, one exact division (what `c / x` with a scalar `c` records).
    pub(crate) fn rdiv_scalar(&self, c: T) -> Var<T> {
        self.unary(UnaryOp::RdivScalar(c))
    }
}

#[cfg(feature = "registry")]
macro_rules! unary_cases {
    ($cases:ident; $($name:literal, $dom:ident, $second:expr, |$x:ident| $body:expr;)*) => {
        $(
            $cases.push(case!($name, "matrix", [$dom(&[3, 4])], second: $second, |$x| $body));
            $cases.push(case!($name, "size1", [$dom(&[1, 5])], second: $second, |$x| $body));
            $cases.push(case!($name, "transposed", [$dom(&[4, 3]).transposed()], second: $second, |$x| $body));
            $cases.push(case!($name, "empty", [$dom(&[0, 3])], second: $second, |$x| $body));
        )*
    };
}

#[cfg(feature = "registry")]
macro_rules! binary_cases {
    ($cases:ident; $($name:literal, $da:ident, $db:ident, $second:expr, |$x:ident| $body:expr;)*) => {
        $(
            $cases.push(case!($name, "same", [$da(&[3, 4]), $db(&[3, 4])], second: $second, |$x| $body));
            $cases.push(case!($name, "broadcast", [$da(&[3, 1]), $db(&[2, 1, 4])], second: $second, |$x| $body));
            $cases.push(case!($name, "scalar", [$da(&[2, 3]), $db(&[])], second: $second, |$x| $body));
            $cases.push(case!($name, "transposed", [$da(&[4, 3]).transposed(), $db(&[1, 3])], second: $second, |$x| $body));
            $cases.push(case!($name, "empty", [$da(&[0, 3]), $db(&[3])], second: $second, |$x| $body));
        )*
    };
}

/// Gradcheck entries for this family.
#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<crate::registry::GradcheckCase> {
    use crate::case;
    use crate::registry::{apart, positive, real, unit, with_zeros};
    let mut v = Vec::new();
    unary_cases! { v;
        "neg", real, false, |x| x[0].neg();
        "exp", real, true, |x| x[0].exp();
        "ln", positive, true, |x| x[0].ln();
        "log1p", positive, true, |x| x[0].log1p();
        "expm1", real, true, |x| x[0].expm1();
        "sqrt", positive, true, |x| x[0].sqrt();
        "recip", positive, true, |x| x[0].recip();
        "square", real, true, |x| x[0].square();
        "abs", apart, false, |x| x[0].abs();
        "sign", apart, false, |x| x[0].sign();
        "sin", real, true, |x| x[0].sin();
        "cos", real, true, |x| x[0].cos();
        "tanh", real, true, |x| x[0].tanh();
        "sigmoid", real, true, |x| x[0].sigmoid();
        "relu", apart, false, |x| x[0].relu();
        "leaky_relu", apart, false, |x| x[0].leaky_relu(0.1);
        "elu", apart, true, |x| x[0].elu(1.3);
        "gelu", real, true, |x| x[0].gelu();
        "gelu_tanh", real, true, |x| x[0].gelu_tanh();
        "silu", real, true, |x| x[0].silu();
        "softplus", real, true, |x| x[0].softplus();
        "erf", real, true, |x| x[0].erf();
        "powf", positive, true, |x| x[0].powf(2.5);
        "powi", real, true, |x| x[0].powi(3);
        "clamp", apart, false, |x| x[0].clamp(-1.0, 1.0);
        "add_scalar", real, false, |x| x[0].add_scalar(2.0);
        "mul_scalar", real, false, |x| x[0].mul_scalar(-3.0);
        "div_scalar", real, false, |x| &x[0] / 3.0;
        "rdiv_scalar", positive, true, |x| 2.0 / &x[0];
        "sign_times_x", apart, false, |x| x[0].sign().mul(&x[0]);
    }
    v.push(case!("tanh", "rank0", [real(&[])], second: true, |x| x[0].tanh()));
    v.push(case!("clamp", "inside", [unit(&[2, 3])], second: false, |x| x[0].clamp(-1.0, 1.0)));
    // At x = 0, where p·x^(p-1) is 0·∞ for p = 0; integral powers keep x ± ε defined.
    v.push(case!("powf", "zero_exponent_at_zero", [with_zeros(&[2, 3])], second: true, |x| x[0].powf(0.0)));
    v.push(case!("powf", "at_zero", [with_zeros(&[2, 3])], second: true, |x| x[0].powf(3.0)));
    binary_cases! { v;
        "add", real, real, false, |x| x[0].add(&x[1]);
        "sub", real, real, false, |x| x[0].sub(&x[1]);
        "mul", real, real, true, |x| x[0].mul(&x[1]);
        "div", real, positive, true, |x| x[0].div(&x[1]);
        "pow", positive, real, true, |x| x[0].pow(&x[1]);
        "maximum", real, real, false, |x| x[0].maximum(&x[1]);
        "minimum", real, real, false, |x| x[0].minimum(&x[1]);
    }
    // At a base of 0, where the rule used to divide by it (integral exponents, so that
    // a - ε < 0 is defined), and the exponent's gradient beside a base of 0. Exponents 0
    // and 1 have their own case: there JAX's float rule is 0·∞ = NaN (this one is 0, as
    // JAX's rule for integer exponents), so the oracle checks only the first.
    v.push(
        case!("pow", "zero_base", [with_zeros(&[2, 4])], second: true, |x| {
            x[0].pow(&Var::constant(Tensor::from_vec(vec![2.0, 3.0, 4.0, 2.0], &[4])))
        }),
    );
    v.push(
        case!("pow", "zero_base_exponents_0_1", [with_zeros(&[3, 2])], second: true, |x| {
            x[0].pow(&Var::constant(Tensor::from_vec(vec![0.0, 1.0], &[2])))
        }),
    );
    v.push(
        case!("pow", "zero_base_exponent", [positive(&[2, 3])], second: true, |x| {
            Var::constant(Tensor::from_vec(vec![0.0, 1.5, 0.0, 0.7, 0.0, 2.0], &[2, 3])).pow(&x[0])
        }),
    );
    v.push(
        case!("where_cond", "empty", [real(&[0, 3]), real(&[3])], second: false, |x| {
            Var::where_cond(&Tensor::from_vec(vec![], &[0, 3]), &x[0], &x[1])
        }),
    );
    v.push(
        case!("operators", "chain", [real(&[2, 3]), positive(&[3])], second: true, |x| {
            let a = &x[0] * &x[1] + &x[0] / &x[1] - x[1].clone() * 2.0;
            (-(a - 1.0)) / 3.0
        }),
    );
    v.push(
        case!("operators", "scalar_left_owned", [positive(&[2, 3])], second: true, |x| {
            2.0 * x[0].sin() + (1.0 - x[0].cos()) - 1.0 / x[0].clone() + 3.0 / x[0].exp()
        }),
    );
    v.push(case!("operators", "tensor_constants", [real(&[2, 3]), real(&[3])], second: true, |x| {
        let c = Tensor::from_vec(vec![0.5, -1.5, 2.0], &[3]);
        let scale = Tensor::from_vec(vec![1.5, 2.5], &[2, 1]);
        (&x[0] * &c + x[1].clone() - &scale) / &c + &scale * x[0].tanh() - c.clone() / x[1].exp()
    }));
    v
}
