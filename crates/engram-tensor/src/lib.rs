//! Dense n-dimensional arrays of `f32` and `f64` and the kernels that compute on them.
//!
//! `Tensor` storage is shared and described by shape, strides and offset, so transposes,
//! slices, broadcasts and reshapes of contiguous tensors are views. Binary ops broadcast as
//! NumPy does. Large kernels run on all cores; their results are bitwise the same for any
//! thread count. This crate knows nothing of gradients: that is `engram-autograd`.
//!
//! ```
//! use engram_tensor::Tensor;
//! let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
//! let w = Tensor::<f32>::ones(&[3, 1]);
//! let y = x.matmul(&w).relu() + 1.0;
//! assert_eq!(y.to_vec(), vec![7.0, 16.0]);
//! ```

pub mod buffer_pool;
mod conv;
mod conv_gemm;
mod display;
mod element;
mod elementwise;
mod gemm_driver;
mod index;
mod join;
mod lstm;
mod mask;
mod matmul;
mod max_pool_2x2;
mod parallel;
mod pool;
mod random;
mod reduce;
mod shape;
mod slicing;
mod softmax;
mod strided;
pub mod team;
mod tensor;
#[cfg(test)]
mod test_util;
mod transcendental;
mod transpose;
mod view;
mod vmath;

pub use conv::{conv1d_as_conv2d, conv2d_geometry, Conv1dOptions, Conv2dOptions, Window};
pub use element::{Element, Float};
pub use elementwise::{gelu_tanh_coefficient, zip_map, GELU_CUBIC};
pub use index::Indices;
pub use join::{chunk_sizes, split_ranges, stack_axis};
pub use lstm::{LstmGradients, LstmSaved};
pub use mask::IntoTensor;
pub use pool::Pool2dOptions;
/// The random-number traits that tensor constructors take (`&mut impl Rng`), re-exported
/// so that code which names them needs no `rand` dependency of its own.
pub use rand::{Rng, SeedableRng};
pub use random::{seeded_rng, SeededRng};
pub use shape::{
    broadcast_shapes, contiguous_strides, normalize_axes, normalize_axis, numel, shape_error,
    sum_to_shape_axes, try_broadcast_shapes, Shape,
};
pub use slicing::{index_steps, select_position, AxisIndex, IndexStep};
pub use tensor::{Tensor, TensorError};
pub use vmath::Transcendental;
