//! The `Tensor` type: shared storage described by shape, strides and offset.

use crate::buffer_pool::{self, Buffer, PoolVec};
use crate::element::{Element, Float};
use crate::shape::{
    checked_numel, contiguous_strides, numel, shape_error, shape_of, try_numel, Shape,
};
use crate::strided::Walk;
use std::sync::Arc;

/// An n-dimensional array of `T` (f32 by default).
///
/// Cloning is cheap: clones share storage. Views (transpose, narrow, broadcast, ...) share
/// it too, and a write through [`Tensor::as_mut_slice`] copies only when it is shared.
///
/// ```
/// use engram_tensor::Tensor;
/// let a = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
/// let b = a.transpose(0, 1);
/// assert_eq!(b.to_vec(), vec![1.0, 3.0, 2.0, 4.0]);
/// ```
pub struct Tensor<T = f32> {
    pub(crate) storage: Storage<T>,
    pub(crate) shape: Shape,
    pub(crate) strides: Shape,
    pub(crate) offset: usize,
}

impl<T: Clone> Clone for Tensor<T> {
    /// Not derived: `SmallVec`'s own `clone` copies dimension by dimension through
    /// `extend`, which made a clone cost several times a scalar op's arithmetic (the tape
    /// clones each value it records and reads back).
    fn clone(&self) -> Self {
        Tensor {
            storage: self.storage.clone(),
            shape: shape_of(&self.shape),
            strides: shape_of(&self.strides),
            offset: self.offset,
        }
    }
}

/// Where the elements live. A single element is kept inline: scalar-heavy programs
/// (the tape's scalar chains, GradBench's `det`) then allocate nothing per op. A large
/// buffer that a kernel took from the [`buffer_pool`] goes back to it when its last tensor
/// drops.
#[derive(Clone)]
pub(crate) enum Storage<T> {
    Inline(T),
    Shared(Arc<Buffer<T>>),
}

impl<T> Storage<T> {
    /// Storage of `data`, a user's vector or the pool's (see [`Buffer`]).
    fn new<V: Into<Buffer<T>> + AsMut<Vec<T>>>(mut data: V) -> Self {
        if data.as_mut().len() == 1 {
            Storage::Inline(data.as_mut().pop().expect("length is 1"))
        } else {
            Storage::Shared(Arc::new(data.into()))
        }
    }

    fn as_slice(&self) -> &[T] {
        match self {
            Storage::Inline(v) => std::slice::from_ref(v),
            Storage::Shared(a) => a,
        }
    }

    /// Mutable access when nothing else shares the buffer.
    fn unique_mut(&mut self) -> Option<&mut [T]> {
        match self {
            Storage::Inline(v) => Some(std::slice::from_mut(v)),
            Storage::Shared(a) => Arc::get_mut(a).map(|v| &mut v[..]),
        }
    }
}

/// What can go wrong building a tensor from outside data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TensorError {
    /// The number of values does not match the product of the shape.
    LengthMismatch {
        /// The shape asked for.
        shape: Vec<usize>,
        /// The number of values given.
        len: usize,
    },
    /// The product of the shape's dimensions does not fit in `usize`.
    TooManyElements {
        /// The shape asked for.
        shape: Vec<usize>,
    },
}

impl std::fmt::Display for TensorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TensorError::LengthMismatch { shape, len } => write!(
                f,
                "{len} values cannot fill shape {shape:?}, which holds {}",
                numel(shape)
            ),
            TensorError::TooManyElements { shape } => write!(
                f,
                "shape {shape:?} has more elements than fit in memory (the product of its \
                 dimensions overflows usize)"
            ),
        }
    }
}

impl std::error::Error for TensorError {}

impl<T: Element> Tensor<T> {
    /// Wraps a contiguous buffer; panics if its length does not match the shape.
    #[track_caller]
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Self {
        Self::from_buffer(data, shape)
    }

    /// Wraps a contiguous buffer, or says why the length does not fit the shape.
    pub fn try_from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self, TensorError> {
        Self::try_from_buffer(data, shape)
    }

    /// [`Tensor::from_vec`] for a kernel's output, whose buffer returns to the
    /// [`buffer_pool`] when the tensor drops.
    #[track_caller]
    pub(crate) fn from_pooled(data: PoolVec<T>, shape: &[usize]) -> Self {
        Self::from_buffer(data, shape)
    }

    /// [`Tensor::from_vec`] for a user's vector or the pool's.
    #[track_caller]
    fn from_buffer<V: Into<Buffer<T>> + AsMut<Vec<T>>>(data: V, shape: &[usize]) -> Self {
        match Self::try_from_buffer(data, shape) {
            Ok(t) => t,
            Err(e) => shape_error("from_vec", e),
        }
    }

    /// [`Tensor::try_from_vec`] for a user's vector or the pool's.
    fn try_from_buffer<V: Into<Buffer<T>> + AsMut<Vec<T>>>(
        mut data: V,
        shape: &[usize],
    ) -> Result<Self, TensorError> {
        let Some(n) = try_numel(shape) else {
            return Err(TensorError::TooManyElements {
                shape: shape.to_vec(),
            });
        };
        let len = data.as_mut().len();
        if len != n {
            return Err(TensorError::LengthMismatch {
                shape: shape.to_vec(),
                len,
            });
        }
        Ok(Tensor {
            storage: Storage::new(data),
            strides: contiguous_strides(shape),
            shape: shape_of(shape),
            offset: 0,
        })
    }

    /// A tensor of the given shape with every element `value`.
    #[track_caller]
    pub fn full(shape: &[usize], value: T) -> Self {
        Self::filled_with("full", shape, value)
    }

    /// [`Tensor::full`] for `op`, which a panic on an impossibly large shape names.
    #[track_caller]
    pub(crate) fn filled_with(op: &str, shape: &[usize], value: T) -> Self {
        Self::from_pooled(buffer_pool::full(checked_numel(op, shape), value), shape)
    }

    /// A 0-dimensional tensor holding one value.
    pub fn scalar(value: T) -> Self {
        Self::from_vec(vec![value], &[])
    }

    /// The dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The strides, in elements, of each dimension.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// The size of one dimension (negative counts from the end).
    #[track_caller]
    pub fn dim(&self, axis: isize) -> usize {
        self.shape[crate::shape::normalize_axis("dim", axis, self.rank())]
    }

    /// True when the elements lie in row-major order without gaps.
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for i in (0..self.rank()).rev() {
            if self.shape[i] != 1 && self.strides[i] != expected {
                return false;
            }
            expected *= self.shape[i];
        }
        true
    }

    /// True when two tensors view the same storage buffer.
    pub fn shares_storage_with(&self, other: &Tensor<T>) -> bool {
        match (&self.storage, &other.storage) {
            (Storage::Shared(a), Storage::Shared(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// The elements in row-major order, borrowed when the tensor is contiguous.
    pub fn as_slice(&self) -> Option<&[T]> {
        if self.numel() == 0 {
            // A view of nothing may carry an offset past the end of empty storage (a
            // select or narrow along a non-empty axis of an empty tensor).
            return Some(&[]);
        }
        self.is_contiguous()
            .then(|| &self.data()[self.offset..self.offset + self.numel()])
    }

    /// The elements in row-major order, borrowed if contiguous, gathered otherwise.
    pub fn contiguous_data(&self) -> std::borrow::Cow<'_, [T]> {
        match self.as_slice() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(self.to_vec()),
        }
    }

    /// Copies the elements out in row-major order.
    pub fn to_vec(&self) -> Vec<T> {
        match self.as_slice() {
            // A plain allocation: the caller's vector never comes back to the pool.
            Some(s) => s.to_vec(),
            None => self.walk().gather(self.data()).into_vec(),
        }
    }

    /// [`Tensor::to_vec`] into a buffer of the pool, for a kernel's output.
    pub(crate) fn pooled_copy(&self) -> PoolVec<T> {
        match self.as_slice() {
            Some(s) => buffer_pool::copy_of(s),
            None => crate::transpose::transposed_copy(self)
                .unwrap_or_else(|| self.walk().gather(self.data())),
        }
    }

    /// This tensor itself if contiguous, else a contiguous copy.
    pub fn contiguous(&self) -> Self {
        if self.is_contiguous() {
            self.clone()
        } else {
            Self::from_pooled(self.pooled_copy(), &self.shape)
        }
    }

    /// The element at a multi-index; panics when the index is out of bounds.
    #[track_caller]
    pub fn get(&self, index: &[usize]) -> T {
        self.data()[self.offset_of("get", index)]
    }

    /// The single value of a tensor with one element.
    #[track_caller]
    pub fn item(&self) -> T {
        if self.numel() != 1 {
            shape_error(
                "item",
                format!(
                    "needs exactly one element, the tensor has shape {:?}",
                    self.shape
                ),
            );
        }
        self.data()[self.offset]
    }

    /// Mutable row-major access. Copies first if the storage is shared or the layout is
    /// not contiguous from offset 0; otherwise writes in place.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        if self.try_as_mut_slice().is_none() {
            *self = Self::from_pooled(self.pooled_copy(), &self.shape);
        }
        self.storage
            .unique_mut()
            .expect("storage was just made unique")
    }

    /// Mutable row-major access that never copies: `None` when another tensor (a clone
    /// or a view) shares the storage, or this tensor is not all of it laid out from
    /// offset 0. For a buffer refilled every step, where copying the old contents (as
    /// [`Tensor::as_mut_slice`] would) is wasted work when it is about to be overwritten.
    pub fn try_as_mut_slice(&mut self) -> Option<&mut [T]> {
        let whole = self.is_contiguous() && self.offset == 0 && self.data().len() == self.numel();
        if whole {
            self.storage.unique_mut()
        } else {
            None
        }
    }

    /// Sets one element, copying the storage first if it is shared.
    #[track_caller]
    pub fn set(&mut self, index: &[usize], value: T) {
        let _ = self.offset_of("set", index);
        let linear = index
            .iter()
            .zip(contiguous_strides(&self.shape))
            .map(|(i, s)| i * s)
            .sum::<usize>();
        self.as_mut_slice()[linear] = value;
    }

    /// Applies `f` to every element, giving a new contiguous tensor.
    pub fn map<U: Element>(&self, f: impl Fn(T) -> U + Sync) -> Tensor<U> {
        let n = self.numel();
        if n == 1 {
            return Tensor::inline(f(self.data()[self.offset]), &self.shape);
        }
        let data = self.data();
        // SAFETY: both branches write every slot of the chunk: the contiguous one zips the
        // whole chunk with as many source elements (the source has `n`, the chunks cover
        // `0..n`), and the strided one's runs tile `start..start + chunk.len()` exactly.
        let out = unsafe {
            crate::parallel::filled(n, |start, chunk| {
                if let Some(src) = self.as_slice() {
                    for (o, &x) in chunk.iter_mut().zip(&src[start..]) {
                        o.write(f(x));
                    }
                } else {
                    let walk = self.walk();
                    let [step] = walk.inner_strides();
                    walk.for_each_run(start, chunk.len(), |[o], pos, run| {
                        for (i, slot) in
                            chunk[pos - start..pos - start + run].iter_mut().enumerate()
                        {
                            slot.write(f(data[o + i * step]));
                        }
                    });
                }
            })
        };
        Tensor::from_pooled(out, &self.shape)
    }

    pub(crate) fn walk(&self) -> Walk<1> {
        Walk::new(&self.shape, [&self.strides], [self.offset])
    }

    pub(crate) fn data(&self) -> &[T] {
        self.storage.as_slice()
    }

    /// A one-element tensor of the given shape (all dimensions 1), with no allocation.
    pub(crate) fn inline(value: T, shape: &[usize]) -> Self {
        debug_assert!(shape.iter().all(|&d| d == 1), "inline of shape {shape:?}");
        Tensor {
            storage: Storage::Inline(value),
            // The contiguous strides of an all-ones shape are all ones: the shape itself.
            strides: shape_of(shape),
            shape: shape_of(shape),
            offset: 0,
        }
    }

    #[track_caller]
    fn offset_of(&self, op: &str, index: &[usize]) -> usize {
        if index.len() != self.rank() || index.iter().zip(&self.shape).any(|(i, d)| i >= d) {
            shape_error(
                op,
                format!(
                    "index {index:?} is out of bounds for shape {:?}",
                    self.shape
                ),
            );
        }
        self.offset
            + index
                .iter()
                .zip(&self.strides)
                .map(|(i, s)| i * s)
                .sum::<usize>()
    }

    pub(crate) fn from_parts(
        storage: Storage<T>,
        shape: Shape,
        strides: Shape,
        offset: usize,
    ) -> Self {
        Tensor {
            storage,
            shape,
            strides,
            offset,
        }
    }
}

impl<T: Float> Tensor<T> {
    /// All zeros.
    #[track_caller]
    pub fn zeros(shape: &[usize]) -> Self {
        Self::filled_with("zeros", shape, T::zero())
    }

    /// All ones.
    #[track_caller]
    pub fn ones(shape: &[usize]) -> Self {
        Self::filled_with("ones", shape, T::one())
    }

    /// Zeros with the shape of `self`.
    pub fn zeros_like(&self) -> Self {
        Self::zeros(&self.shape)
    }

    /// Ones with the shape of `self`.
    pub fn ones_like(&self) -> Self {
        Self::ones(&self.shape)
    }

    /// `start, start + step, ...` while below `end` (as NumPy's `arange`; empty when `end`
    /// lies before `start` in the step's direction). Panics on a zero or non-finite
    /// argument, and on a count that could never be allocated, rather than returning an
    /// empty tensor.
    #[track_caller]
    pub fn arange(start: T, end: T, step: T) -> Self {
        if !(start.is_finite() && end.is_finite() && step.is_finite()) || step == T::zero() {
            shape_error(
                "arange",
                format!(
                    "start {start}, end {end} and step {step} must be finite, and step not zero"
                ),
            );
        }
        let count = ((end - start) / step).ceil();
        let limit = (isize::MAX as usize / std::mem::size_of::<T>()) as f64;
        if count.as_f64() > limit {
            shape_error(
                "arange",
                format!(
                    "from {start} to {end} by {step} would have {count:e} elements, more than fit in memory"
                ),
            );
        }
        let count = count.to_usize().unwrap_or(0);
        let data: Vec<T> = (0..count).map(|i| start + step * T::of(i as f64)).collect();
        Self::from_vec(data, &[count])
    }

    /// `count` evenly spaced values from `start` to `end`, both included.
    pub fn linspace(start: T, end: T, count: usize) -> Self {
        let data: Vec<T> = match count {
            0 => vec![],
            1 => vec![start],
            _ => {
                let step = (end - start) / T::of((count - 1) as f64);
                (0..count)
                    .map(|i| {
                        if i == count - 1 {
                            end
                        } else {
                            start + step * T::of(i as f64)
                        }
                    })
                    .collect()
            }
        };
        Self::from_vec(data, &[count])
    }

    /// The `n × n` identity matrix.
    #[track_caller]
    pub fn eye(n: usize) -> Self {
        let mut data = vec![T::zero(); checked_numel("eye", &[n, n])];
        for i in 0..n {
            data[i * n + i] = T::one();
        }
        Self::from_vec(data, &[n, n])
    }

    /// Converts every element to another float type.
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        self.map(|x| U::of(x.as_f64()))
    }
}

impl<T: Element> std::fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_vec_rejects_wrong_length_with_typed_error() {
        let err = Tensor::<f32>::try_from_vec(vec![1.0; 5], &[2, 3]).unwrap_err();
        assert_eq!(
            err,
            TensorError::LengthMismatch {
                shape: vec![2, 3],
                len: 5
            }
        );
        assert_eq!(
            err.to_string(),
            "5 values cannot fill shape [2, 3], which holds 6"
        );
    }

    #[test]
    #[should_panic(expected = "`from_vec`: 5 values cannot fill shape [2, 3]")]
    fn from_vec_panics_on_wrong_length() {
        Tensor::<f32>::from_vec(vec![1.0; 5], &[2, 3]);
    }

    #[test]
    fn creation_functions_give_expected_values() {
        assert_eq!(
            Tensor::<f64>::arange(0.0, 1.0, 0.25).to_vec(),
            vec![0.0, 0.25, 0.5, 0.75]
        );
        assert_eq!(
            Tensor::<f64>::arange(5.0, 0.0, -2.0).to_vec(),
            vec![5.0, 3.0, 1.0]
        );
        assert_eq!(
            Tensor::<f32>::linspace(0.0, 1.0, 5).to_vec(),
            vec![0.0, 0.25, 0.5, 0.75, 1.0]
        );
        assert_eq!(Tensor::<f32>::eye(2).to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
        assert_eq!(Tensor::<f64>::full(&[2], 7.0).to_vec(), vec![7.0, 7.0]);
        assert_eq!(Tensor::<f32>::scalar(3.0).shape(), &[] as &[usize]);
        assert_eq!(Tensor::<f32>::zeros(&[0, 3]).numel(), 0);
    }

    #[test]
    #[should_panic(
        expected = "`zeros`: shape [8589934592, 2147483648] has more elements than fit in memory"
    )]
    fn zeros_of_an_overflowing_shape_panics() {
        Tensor::<f32>::zeros(&[1 << 33, 1 << 31]);
    }

    #[test]
    fn try_from_vec_rejects_an_overflowing_shape_with_typed_error() {
        let err = Tensor::<f32>::try_from_vec(vec![], &[1 << 33, 1 << 31]).unwrap_err();
        assert_eq!(
            err,
            TensorError::TooManyElements {
                shape: vec![1 << 33, 1 << 31]
            }
        );
    }

    #[test]
    fn arange_rejects_non_finite_and_absurd_ranges() {
        for (end, expected) in [
            (1e30, "would have 1e30 elements"),
            (f64::INFINITY, "must be finite"),
            (f64::NAN, "must be finite"),
        ] {
            let message = std::panic::catch_unwind(|| Tensor::<f64>::arange(0.0, end, 1.0))
                .expect_err("arange must panic")
                .downcast::<String>()
                .expect("a formatted message");
            assert!(message.contains("`arange`"), "{message}");
            assert!(message.contains(expected), "{message}");
        }
        assert_eq!(Tensor::<f64>::arange(3.0, 0.0, 1.0).numel(), 0);
    }

    #[test]
    fn write_to_shared_storage_copies_and_leaves_original_alone() {
        let a = Tensor::<f32>::zeros(&[2, 2]);
        let mut b = a.clone();
        b.set(&[1, 0], 5.0);
        assert_eq!(a.to_vec(), vec![0.0; 4]);
        assert_eq!(b.to_vec(), vec![0.0, 0.0, 5.0, 0.0]);
        assert!(!a.shares_storage_with(&b));
    }

    #[test]
    fn write_to_unshared_storage_is_in_place() {
        let mut a = Tensor::<f32>::zeros(&[4]);
        let before = a.as_mut_slice().as_ptr();
        a.set(&[3], 1.0);
        assert_eq!(a.as_mut_slice().as_ptr(), before);
    }

    #[test]
    fn try_as_mut_slice_refuses_shared_or_partial_storage_instead_of_copying() {
        let mut a = Tensor::<f32>::zeros(&[4]);
        let before = a.try_as_mut_slice().map(|s| s.as_ptr());
        assert!(before.is_some());
        let view = a.narrow(0, 1, 2);
        assert!(a.try_as_mut_slice().is_none(), "a view shares the storage");
        assert!(view.clone().try_as_mut_slice().is_none());
        drop(view);
        assert_eq!(a.try_as_mut_slice().map(|s| s.as_ptr()), before);
        let mut part = Tensor::<f32>::zeros(&[4]).narrow(0, 1, 2);
        assert!(part.try_as_mut_slice().is_none(), "part of its storage");
    }

    #[test]
    #[should_panic(expected = "`get`: index [2, 0] is out of bounds for shape [2, 2]")]
    fn get_out_of_bounds_panics() {
        Tensor::<f32>::zeros(&[2, 2]).get(&[2, 0]);
    }
}
