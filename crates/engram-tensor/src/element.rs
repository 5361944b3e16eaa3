//! The element types a tensor can hold: `Element` for any of them, `Float` for the two
//! that kernels compute with (f32 for training, f64 for gradient checks).

use crate::vmath::{self, Transcendental};
use std::fmt::{Debug, Display, LowerExp};
use std::iter::Sum;
use std::mem::MaybeUninit;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// A value a tensor can store: floats for data, `usize` for indices, `bool` for masks.
pub trait Element: Copy + Send + Sync + Debug + Display + PartialEq + Default + 'static {
    /// The NumPy-style name of the type, as shown by `Display` (`float32`, `int64`, `bool`).
    const DTYPE: &'static str;
}

impl Element for f32 {
    const DTYPE: &'static str = "float32";
}
impl Element for f64 {
    const DTYPE: &'static str = "float64";
}
impl Element for usize {
    const DTYPE: &'static str = "index";
}
impl Element for bool {
    const DTYPE: &'static str = "bool";
}

/// A floating-point element: every numeric kernel is generic over it.
pub trait Float:
    Element
    + num_traits::Float
    + num_traits::FloatConst
    + num_traits::FromPrimitive
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + LowerExp
{
    /// Converts from f64, rounding to nearest for f32.
    fn of(x: f64) -> Self;
    /// Widens to f64.
    fn as_f64(self) -> f64;
    /// The error function.
    fn erf(self) -> Self;
    /// Writes `f` of every element of `src` to `dst` (of the same length) with the
    /// vectorised kernel for this type, chosen for the CPU at run time. Element `i` of
    /// the result depends only on element `i` of `src`, never on its position or the
    /// slice's length.
    ///
    /// ```
    /// use engram_tensor::{Float, Transcendental};
    /// use std::mem::MaybeUninit;
    /// let mut out = [MaybeUninit::uninit(); 3];
    /// f64::transcendental(Transcendental::Exp, &[0.0, 1.0, f64::NEG_INFINITY], &mut out);
    /// // SAFETY: `transcendental` wrote every element.
    /// let out = out.map(|v| unsafe { v.assume_init() });
    /// assert_eq!(out[0], 1.0);
    /// assert!((out[1] - std::f64::consts::E).abs() <= f64::EPSILON * 2.0);
    /// assert_eq!(out[2], 0.0);
    /// ```
    fn transcendental(f: Transcendental, src: &[Self], dst: &mut [MaybeUninit<Self>]);
}

impl Float for f32 {
    #[inline]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn erf(self) -> Self {
        libm::erff(self)
    }
    #[track_caller]
    fn transcendental(f: Transcendental, src: &[Self], dst: &mut [MaybeUninit<Self>]) {
        vmath::apply_f32(vmath::level(), f, src, dst)
    }
}

impl Float for f64 {
    #[inline]
    fn of(x: f64) -> Self {
        x
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline]
    fn erf(self) -> Self {
        libm::erf(self)
    }
    #[track_caller]
    fn transcendental(f: Transcendental, src: &[Self], dst: &mut [MaybeUninit<Self>]) {
        vmath::apply_f64(vmath::level(), f, src, dst)
    }
}
