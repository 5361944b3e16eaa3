//! The recurrence of one LSTM layer as one kernel, forward and backward.
//!
//! An LSTM layer projects its whole input sequence with one matrix product first; what
//! is left is the recurrence, the part that must run step by step. Composed of tensor
//! ops it is about fifteen ops and buffers per step (slices, three sigmoids, two tanhs,
//! products, sums); here each step is one small matrix product into a reused buffer and
//! one pass over the gates. The backward pass runs the steps in reverse with one small
//! product per step (the gradient flowing to the previous hidden state) and computes the
//! gradient of the hidden-to-hidden weights as one product over all steps, not one per
//! step: the same split PyTorch's and cuDNN's LSTMs make.
//!
//! Gates are in PyTorch's order `i, f, g, o`.

use crate::element::Float;
use crate::matmul::{gemm_into, MatrixRef, Write};
use crate::shape::shape_error;
use crate::tensor::Tensor;
use crate::vmath::Transcendental;
use std::mem::MaybeUninit;

/// What the forward pass of [`Tensor::lstm_recurrence`] keeps for its backward pass.
#[derive(Clone, Debug)]
pub struct LstmSaved<T: Float> {
    /// The activated gates `σ(i), σ(f), tanh(g), σ(o)` of every step, `[T, B, 4H]`.
    pub gates: Tensor<T>,
    /// `tanh(c_t)` of every step, `[T, B, H]`.
    pub tanh_cell: Tensor<T>,
}

/// The gradients of [`Tensor::lstm_recurrence`]'s four inputs.
#[derive(Clone, Debug)]
pub struct LstmGradients<T: Float> {
    /// Of the projected input `[T, B, 4H]`: the gradient of every step's pre-activations.
    pub input: Tensor<T>,
    /// Of the initial hidden state `[B, H]`.
    pub h0: Tensor<T>,
    /// Of the initial cell state `[B, H]`.
    pub c0: Tensor<T>,
    /// Of the hidden-to-hidden weights `[4H, H]`.
    pub weight_hh: Tensor<T>,
}

/// `f` of every element of `src` into `dst` (same length) through the vectorised kernels.
fn apply_into<T: Float>(f: Transcendental, src: &[T], dst: &mut [T]) {
    // SAFETY: `MaybeUninit<T>` has the layout of `T`, and `transcendental` writes an
    // initialised value into every element, so `dst` holds only valid values after.
    let out = unsafe { &mut *(dst as *mut [T] as *mut [MaybeUninit<T>]) };
    T::transcendental(f, src, out);
}

/// The strided matrix view of a 2-d tensor inside its storage.
fn matrix<T: Float>(t: &Tensor<T>) -> MatrixRef {
    MatrixRef {
        offset: t.offset,
        row_stride: t.strides()[0],
        col_stride: t.strides()[1],
    }
}

/// `(T, B, H)`, after checking that the shapes fit together.
#[track_caller]
fn sizes<T: Float>(
    input: &Tensor<T>,
    h0: &Tensor<T>,
    c0: &Tensor<T>,
    weight_hh: &Tensor<T>,
) -> (usize, usize, usize) {
    let fail = || -> ! {
        shape_error(
            "lstm_recurrence",
            format!(
                "expected the projected input [T, B, 4H] with T >= 1, h0 and c0 [B, H] and \
                 weight_hh [4H, H]; got input {:?}, h0 {:?}, c0 {:?}, weight_hh {:?}",
                input.shape(),
                h0.shape(),
                c0.shape(),
                weight_hh.shape()
            ),
        )
    };
    if input.rank() != 3 || weight_hh.rank() != 2 || input.shape()[0] == 0 {
        fail();
    }
    let (steps, batch, h) = (input.shape()[0], input.shape()[1], weight_hh.shape()[1]);
    if input.shape()[2] != 4 * h
        || weight_hh.shape()[0] != 4 * h
        || h0.shape() != [batch, h]
        || c0.shape() != [batch, h]
    {
        fail();
    }
    (steps, batch, h)
}

impl<T: Float> Tensor<T> {
    /// Runs the recurrence of one LSTM layer over a time-major sequence whose input
    /// projection is done: `self` is `x W_ihᵀ + b_ih + b_hh` for every step, `[T, B, 4H]`,
    /// with the gates in PyTorch's order `i, f, g, o`. With `z = self[t] + h_{t-1} W_hhᵀ`:
    /// `c_t = σ(z_f) c_{t-1} + σ(z_i) tanh(z_g)` and `h_t = σ(z_o) tanh(c_t)`.
    ///
    /// Returns every step's states stacked as `[2, T, B, H]` (`[0]` the hidden states,
    /// `[1]` the cell states), and what [`LstmSaved::backward`] needs.
    ///
    /// ```
    /// use engram_tensor::Tensor;
    /// // One step, one unit, all gates 0: c = σ(0)·0 + σ(0)·tanh(0) = 0, h = σ(0)·tanh(0) = 0.
    /// let input = Tensor::<f64>::zeros(&[1, 1, 4]);
    /// let zero = Tensor::<f64>::zeros(&[1, 1]);
    /// let (states, _) = input.lstm_recurrence(&zero, &zero, &Tensor::zeros(&[4, 1]));
    /// assert_eq!(states.shape(), &[2, 1, 1, 1]);
    /// assert_eq!(states.to_vec(), vec![0.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn lstm_recurrence(
        &self,
        h0: &Tensor<T>,
        c0: &Tensor<T>,
        weight_hh: &Tensor<T>,
    ) -> (Tensor<T>, LstmSaved<T>) {
        let (steps, batch, h) = sizes(self, h0, c0, weight_hh);
        let (bh, rows) = (batch * h, batch * 4 * h);
        let input = self.contiguous_data();
        let (h0, c0) = (h0.contiguous_data(), c0.contiguous_data());
        let w_t = matrix(weight_hh).t();
        let threads = rayon::current_num_threads();
        let mut pre = crate::buffer_pool::full(rows, T::zero());
        let mut gates = crate::buffer_pool::full(steps * rows, T::zero());
        let mut states = crate::buffer_pool::full(2 * steps * bh, T::zero());
        let mut tanh_cell = crate::buffer_pool::full(steps * bh, T::zero());
        let (hs, cs) = states.split_at_mut(steps * bh);
        for t in 0..steps {
            let (h_done, h_rest) = hs.split_at_mut(t * bh);
            let (c_done, c_rest) = cs.split_at_mut(t * bh);
            let (h_prev, c_prev) = if t == 0 {
                (&h0[..], &c0[..])
            } else {
                (&h_done[(t - 1) * bh..], &c_done[(t - 1) * bh..])
            };
            pre.copy_from_slice(&input[t * rows..(t + 1) * rows]);
            gemm_into(
                &mut pre,
                (batch, 4 * h, h),
                (h_prev, MatrixRef::rows(0, h)),
                (weight_hh.data(), w_t),
                Write::Accumulate,
                threads,
            );
            let step_gates = &mut gates[t * rows..(t + 1) * rows];
            let tc = &mut tanh_cell[t * bh..(t + 1) * bh];
            for b in 0..batch {
                let z = &pre[b * 4 * h..(b + 1) * 4 * h];
                let a = &mut step_gates[b * 4 * h..(b + 1) * 4 * h];
                apply_into(Transcendental::Sigmoid, &z[..2 * h], &mut a[..2 * h]);
                apply_into(Transcendental::Tanh, &z[2 * h..3 * h], &mut a[2 * h..3 * h]);
                apply_into(Transcendental::Sigmoid, &z[3 * h..], &mut a[3 * h..]);
                let row = b * h..(b + 1) * h;
                let c_out = &mut c_rest[row.clone()];
                let (i, f, g) = (&a[..h], &a[h..2 * h], &a[2 * h..3 * h]);
                for (j, c) in c_out.iter_mut().enumerate() {
                    *c = f[j] * c_prev[b * h + j] + i[j] * g[j];
                }
                apply_into(Transcendental::Tanh, c_out, &mut tc[row.clone()]);
                let o = &a[3 * h..];
                for ((out, &o), &tc) in h_rest[row.clone()].iter_mut().zip(o).zip(&tc[row]) {
                    *out = o * tc;
                }
            }
        }
        let saved = LstmSaved {
            gates: Tensor::from_pooled(gates, &[steps, batch, 4 * h]),
            tanh_cell: Tensor::from_pooled(tanh_cell, &[steps, batch, h]),
        };
        (Tensor::from_pooled(states, &[2, steps, batch, h]), saved)
    }
}

impl<T: Float> LstmSaved<T> {
    /// The backward pass of [`Tensor::lstm_recurrence`]: given `grad`, the gradient of its
    /// stacked states `[2, T, B, H]`, the states themselves, and the forward pass's other
    /// inputs, each input's gradient. Backpropagation through time, with the carried
    /// gradients `dh`, `dc` (zero after the last step):
    ///
    /// - `dh_t = grad_h[t] + dh`, `dc_t = grad_c[t] + dc + dh_t σ(z_o) (1 - tanh²(c_t))`;
    /// - `dz_i = dc_t tanh(z_g) σ'(z_i)`, `dz_f = dc_t c_{t-1} σ'(z_f)`,
    ///   `dz_g = dc_t σ(z_i) (1 - tanh²(z_g))`, `dz_o = dh_t tanh(c_t) σ'(z_o)`;
    /// - `dc = dc_t σ(z_f)`, `dh = dz W_hh`;
    ///
    /// and `dW_hh = Σ_t dz_tᵀ h_{t-1}`, one product over the `T·B` rows.
    #[track_caller]
    pub fn backward(
        &self,
        grad: &Tensor<T>,
        states: &Tensor<T>,
        (h0, c0): (&Tensor<T>, &Tensor<T>),
        weight_hh: &Tensor<T>,
    ) -> LstmGradients<T> {
        let (steps, batch, h) = sizes(&self.gates, h0, c0, weight_hh);
        let want = [2, steps, batch, h];
        if grad.shape() != want || states.shape() != want {
            shape_error(
                "lstm_recurrence backward",
                format!(
                    "the states and their gradient must be {want:?}; got states {:?}, gradient {:?}",
                    states.shape(),
                    grad.shape()
                ),
            );
        }
        let (bh, rows) = (batch * h, batch * 4 * h);
        let grad = grad.contiguous_data();
        let states = states.contiguous_data();
        let (grad_h, grad_c) = grad.split_at(steps * bh);
        let (hs, cs) = states.split_at(steps * bh);
        let gates = self.gates.contiguous_data();
        let tanh_cell = self.tanh_cell.contiguous_data();
        let (h0, c0) = (h0.contiguous_data(), c0.contiguous_data());
        let (w_data, w) = (weight_hh.data(), matrix(weight_hh));
        let threads = rayon::current_num_threads();
        let one = T::one();
        let mut dz = crate::buffer_pool::full(steps * rows, T::zero());
        let mut dh = crate::buffer_pool::full(bh, T::zero());
        let mut dc = crate::buffer_pool::full(bh, T::zero());
        for t in (0..steps).rev() {
            let c_prev = if t == 0 {
                &c0[..]
            } else {
                &cs[(t - 1) * bh..t * bh]
            };
            for b in 0..batch {
                let a = &gates[t * rows + b * 4 * h..t * rows + (b + 1) * 4 * h];
                let (i, f, g, o) = (&a[..h], &a[h..2 * h], &a[2 * h..3 * h], &a[3 * h..]);
                let d = &mut dz[t * rows + b * 4 * h..t * rows + (b + 1) * 4 * h];
                let (d_i, rest) = d.split_at_mut(h);
                let (d_f, rest) = rest.split_at_mut(h);
                let (d_g, d_o) = rest.split_at_mut(h);
                let row = b * h..(b + 1) * h;
                let at = t * bh + b * h..t * bh + (b + 1) * h;
                let (tc, gh, gc) = (&tanh_cell[at.clone()], &grad_h[at.clone()], &grad_c[at]);
                let (dh, dc, c_prev) = (&dh[row.clone()], &mut dc[row.clone()], &c_prev[row]);
                for j in 0..h {
                    let dh_t = gh[j] + dh[j];
                    let dc_t = gc[j] + dc[j] + dh_t * o[j] * (one - tc[j] * tc[j]);
                    d_i[j] = dc_t * g[j] * i[j] * (one - i[j]);
                    d_f[j] = dc_t * c_prev[j] * f[j] * (one - f[j]);
                    d_g[j] = dc_t * i[j] * (one - g[j] * g[j]);
                    d_o[j] = dh_t * tc[j] * o[j] * (one - o[j]);
                    dc[j] = dc_t * f[j];
                }
            }
            gemm_into(
                &mut dh,
                (batch, h, 4 * h),
                (&dz, MatrixRef::rows(t * rows, 4 * h)),
                (w_data, w),
                Write::Overwrite,
                threads,
            );
        }
        let mut dw = crate::buffer_pool::full(4 * h * h, T::zero());
        gemm_into(
            &mut dw,
            (4 * h, h, batch),
            (&dz, MatrixRef::rows(0, 4 * h).t()),
            (&h0, MatrixRef::rows(0, h)),
            Write::Overwrite,
            threads,
        );
        gemm_into(
            &mut dw,
            (4 * h, h, (steps - 1) * batch),
            (&dz, MatrixRef::rows(rows, 4 * h).t()),
            (hs, MatrixRef::rows(0, h)),
            Write::Accumulate,
            threads,
        );
        LstmGradients {
            input: Tensor::from_pooled(dz, &[steps, batch, 4 * h]),
            h0: Tensor::from_pooled(dh, &[batch, h]),
            c0: Tensor::from_pooled(dc, &[batch, h]),
            weight_hh: Tensor::from_pooled(dw, &[4 * h, h]),
        }
    }
}
