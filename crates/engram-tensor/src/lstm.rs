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
//! The per-step products are too small to split across threads (`[32, 128] × [128, 512]`
//! in the LSTM step figure), but the batch's rows never meet: each row's recurrence reads
//! only its own row of the previous state. With enough work the batch is cut into shares
//! that run the whole sequence side by side, one thread each, with no synchronisation
//! between steps. `W_hhᵀ` is copied once into the layout `gemm` reads in place (when `4H`
//! is a multiple of its vector width), so the smaller per-share products do not pack it
//! again at every step.
//!
//! Gates are in PyTorch's order `i, f, g, o`.

use crate::element::Float;
use crate::matmul::{gemm_into, MatrixRef, Write};
use crate::shape::shape_error;
use crate::team::for_each_mut;
use crate::tensor::Tensor;
use crate::vmath::Transcendental;
use std::mem::MaybeUninit;
use std::ops::Range;

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

/// Batch rows per share of the recurrence, at least (see [`shares`]).
const SHARE_ROWS: usize = 16;

/// Multiply-adds of the per-step products a share must carry, at least: below this a
/// share's work is too short to pay for handing it to another thread.
const SHARE_WORK: usize = 1 << 20;

/// How the batch's rows are cut into shares. Each row's recurrence reads only its own
/// row of the previous state, so shares run on separate threads with no synchronisation
/// between steps: the per-step products, too small to split themselves, run side by side.
/// The cut depends on the sizes alone, never on the thread count, so results are bitwise
/// the same on any number of threads.
fn shares(steps: usize, batch: usize, h: usize) -> Vec<Range<usize>> {
    let work = steps.saturating_mul(batch).saturating_mul(4 * h * h);
    let count = (batch / SHARE_ROWS).min(work / SHARE_WORK).max(1);
    (0..count)
        .map(|k| k * batch / count..(k + 1) * batch / count)
        .collect()
}

/// Runs `run` on every share: side by side on the pool's threads when there are several
/// of both, each share's products then on one thread; a lone share may use every thread
/// in its products.
fn run_shares<S: Send>(mut shares: Vec<S>, run: impl Fn(S, usize) + Sync) {
    let threads = rayon::current_num_threads();
    if shares.len() == 1 {
        if let Some(share) = shares.pop() {
            run(share, threads);
        }
    } else if threads > 1 {
        let mut shares: Vec<Option<S>> = shares.into_iter().map(Some).collect();
        for_each_mut(&mut shares, |_, share| {
            if let Some(share) = share.take() {
                run(share, 1);
            }
        });
    } else {
        shares.into_iter().for_each(|share| run(share, 1));
    }
}

/// Cuts `buf`, laid out `[steps, batch, width]`, into each share's rows of every step:
/// `out[share][step]` is `[rows, width]`.
fn cut_by_rows<'a, T>(
    mut buf: &'a mut [T],
    steps: usize,
    width: usize,
    shares: &[Range<usize>],
) -> Vec<Vec<&'a mut [T]>> {
    let mut out: Vec<Vec<&'a mut [T]>> = shares.iter().map(|_| Vec::with_capacity(steps)).collect();
    for _ in 0..steps {
        for (pieces, rows) in out.iter_mut().zip(shares) {
            let (piece, rest) = std::mem::take(&mut buf).split_at_mut(rows.len() * width);
            pieces.push(piece);
            buf = rest;
        }
    }
    out
}

/// What every share of the forward pass reads: the projected input `[T, B, 4H]`, the
/// initial state `[B, H]` and `W_hhᵀ`.
struct Forward<'a, T: Float> {
    input: &'a [T],
    h0: &'a [T],
    c0: &'a [T],
    /// `W_hhᵀ` laid out contiguously, `[H, 4H]`.
    weight_hh_t: &'a [T],
    batch: usize,
    h: usize,
}

/// One share's rows of every step's outputs, each `[rows, width]`.
struct ForwardShare<'a, T> {
    rows: Range<usize>,
    gates: Vec<&'a mut [T]>,
    hidden: Vec<&'a mut [T]>,
    cell: Vec<&'a mut [T]>,
    tanh_cell: Vec<&'a mut [T]>,
}

impl<T: Float> Forward<'_, T> {
    /// The recurrence of one share's rows, its products on `threads` threads.
    fn run(&self, share: ForwardShare<'_, T>, threads: usize) {
        let ForwardShare {
            rows,
            mut gates,
            mut hidden,
            mut cell,
            mut tanh_cell,
        } = share;
        let (h, n) = (self.h, rows.len());
        let mut pre = crate::buffer_pool::full(n * 4 * h, T::zero());
        for t in 0..gates.len() {
            let (h_done, h_rest) = hidden.split_at_mut(t);
            let (c_done, c_rest) = cell.split_at_mut(t);
            let (h_prev, c_prev): (&[T], &[T]) = if t == 0 {
                (
                    &self.h0[rows.start * h..rows.end * h],
                    &self.c0[rows.start * h..rows.end * h],
                )
            } else {
                (&*h_done[t - 1], &*c_done[t - 1])
            };
            let first = (t * self.batch + rows.start) * 4 * h;
            pre.copy_from_slice(&self.input[first..first + n * 4 * h]);
            gemm_into(
                &mut pre,
                (n, 4 * h, h),
                (h_prev, MatrixRef::rows(0, h)),
                (self.weight_hh_t, MatrixRef::rows(0, 4 * h)),
                Write::Accumulate,
                threads,
            );
            let (step_gates, tc) = (&mut *gates[t], &mut *tanh_cell[t]);
            let (h_out, c_out) = (&mut *h_rest[0], &mut *c_rest[0]);
            for b in 0..n {
                let z = &pre[b * 4 * h..(b + 1) * 4 * h];
                let a = &mut step_gates[b * 4 * h..(b + 1) * 4 * h];
                apply_into(Transcendental::Sigmoid, &z[..2 * h], &mut a[..2 * h]);
                apply_into(Transcendental::Tanh, &z[2 * h..3 * h], &mut a[2 * h..3 * h]);
                apply_into(Transcendental::Sigmoid, &z[3 * h..], &mut a[3 * h..]);
                let row = b * h..(b + 1) * h;
                let c = &mut c_out[row.clone()];
                let (i, f, g) = (&a[..h], &a[h..2 * h], &a[2 * h..3 * h]);
                for (j, c) in c.iter_mut().enumerate() {
                    *c = f[j] * c_prev[b * h + j] + i[j] * g[j];
                }
                apply_into(
                    Transcendental::Tanh,
                    &c_out[row.clone()],
                    &mut tc[row.clone()],
                );
                let o = &a[3 * h..];
                for ((out, &o), &tc) in h_out[row.clone()].iter_mut().zip(o).zip(&tc[row]) {
                    *out = o * tc;
                }
            }
        }
    }
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
        let bh = batch * h;
        let (input, h0, c0) = (
            self.contiguous_data(),
            h0.contiguous_data(),
            c0.contiguous_data(),
        );
        let mut gates = crate::buffer_pool::full(steps * bh * 4, T::zero());
        let mut states = crate::buffer_pool::full(2 * steps * bh, T::zero());
        let mut tanh_cell = crate::buffer_pool::full(steps * bh, T::zero());
        let shares = shares(steps, batch, h);
        let (hs, cs) = states.split_at_mut(steps * bh);
        let work = cut_by_rows(&mut gates, steps, 4 * h, &shares)
            .into_iter()
            .zip(cut_by_rows(hs, steps, h, &shares))
            .zip(cut_by_rows(cs, steps, h, &shares))
            .zip(cut_by_rows(&mut tanh_cell, steps, h, &shares))
            .zip(&shares)
            .map(
                |((((gates, hidden), cell), tanh_cell), rows)| ForwardShare {
                    rows: rows.clone(),
                    gates,
                    hidden,
                    cell,
                    tanh_cell,
                },
            )
            .collect();
        // `W_hhᵀ` copied once into the layout `gemm`'s kernels read directly; as a
        // transposed view it would be packed again in each step's product (`T` times).
        let weight_hh_t = weight_hh.t().contiguous();
        let weight_hh_t = weight_hh_t.contiguous_data();
        let forward = Forward {
            input: &input,
            h0: &h0,
            c0: &c0,
            weight_hh_t: &weight_hh_t,
            batch,
            h,
        };
        run_shares(work, |share, threads| forward.run(share, threads));
        let saved = LstmSaved {
            gates: Tensor::from_pooled(gates, &[steps, batch, 4 * h]),
            tanh_cell: Tensor::from_pooled(tanh_cell, &[steps, batch, h]),
        };
        (Tensor::from_pooled(states, &[2, steps, batch, h]), saved)
    }
}

/// What every share of the backward pass reads: the forward pass's saved gates and
/// `tanh(c_t)`, the states' gradient and the cell states (all `[T, B, ·]`), `c0` and
/// `W_hh`.
struct Backward<'a, T: Float> {
    gates: &'a [T],
    tanh_cell: &'a [T],
    grad_h: &'a [T],
    grad_c: &'a [T],
    cells: &'a [T],
    c0: &'a [T],
    weight_hh: &'a Tensor<T>,
    batch: usize,
    h: usize,
}

/// One share's rows of every step's pre-activation gradient (`[rows, 4H]` each) and of
/// the carried gradients `dh`, `dc` (`[rows, H]`), which end as those of `h0` and `c0`.
struct BackwardShare<'a, T> {
    rows: Range<usize>,
    dz: Vec<&'a mut [T]>,
    dh: &'a mut [T],
    dc: &'a mut [T],
}

impl<T: Float> Backward<'_, T> {
    /// Backpropagation through time over one share's rows, its products on `threads`
    /// threads.
    fn run(&self, share: BackwardShare<'_, T>, threads: usize) {
        let BackwardShare {
            rows,
            mut dz,
            dh,
            dc,
        } = share;
        let (h, bh) = (self.h, self.batch * self.h);
        let one = T::one();
        let w = matrix(self.weight_hh);
        for t in (0..dz.len()).rev() {
            let c_prev = if t == 0 {
                self.c0
            } else {
                &self.cells[(t - 1) * bh..t * bh]
            };
            let step_dz = &mut *dz[t];
            for (local, b) in rows.clone().enumerate() {
                let at_gates = (t * self.batch + b) * 4 * h;
                let a = &self.gates[at_gates..at_gates + 4 * h];
                let (i, f, g, o) = (&a[..h], &a[h..2 * h], &a[2 * h..3 * h], &a[3 * h..]);
                let d = &mut step_dz[local * 4 * h..(local + 1) * 4 * h];
                let (d_i, rest) = d.split_at_mut(h);
                let (d_f, rest) = rest.split_at_mut(h);
                let (d_g, d_o) = rest.split_at_mut(h);
                let at = t * bh + b * h..t * bh + (b + 1) * h;
                let (tc, gh, gc) = (
                    &self.tanh_cell[at.clone()],
                    &self.grad_h[at.clone()],
                    &self.grad_c[at],
                );
                let mine = local * h..(local + 1) * h;
                let (dh, dc) = (&dh[mine.clone()], &mut dc[mine]);
                let c_prev = &c_prev[b * h..(b + 1) * h];
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
                dh,
                (rows.len(), h, 4 * h),
                (step_dz, MatrixRef::rows(0, 4 * h)),
                (self.weight_hh.data(), w),
                Write::Overwrite,
                threads,
            );
        }
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
        let mut dz = crate::buffer_pool::full(steps * rows, T::zero());
        let mut dh = crate::buffer_pool::full(bh, T::zero());
        let mut dc = crate::buffer_pool::full(bh, T::zero());
        let shares = shares(steps, batch, h);
        let (mut dh_rest, mut dc_rest) = (&mut dh[..], &mut dc[..]);
        let work = cut_by_rows(&mut dz, steps, 4 * h, &shares)
            .into_iter()
            .zip(&shares)
            .map(|(dz, rows)| {
                let (dh, rest) = std::mem::take(&mut dh_rest).split_at_mut(rows.len() * h);
                dh_rest = rest;
                let (dc, rest) = std::mem::take(&mut dc_rest).split_at_mut(rows.len() * h);
                dc_rest = rest;
                BackwardShare {
                    rows: rows.clone(),
                    dz,
                    dh,
                    dc,
                }
            })
            .collect();
        let backward = Backward {
            gates: &gates,
            tanh_cell: &tanh_cell,
            grad_h,
            grad_c,
            cells: cs,
            c0: &c0,
            weight_hh,
            batch,
            h,
        };
        run_shares(work, |share, threads| backward.run(share, threads));
        let threads = rayon::current_num_threads();
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

#[cfg(test)]
mod tests {
    use super::shares;

    #[test]
    fn the_batch_is_cut_by_size_alone_into_shares_of_enough_work() {
        // The LSTM step figure: 32 steps of 32 rows and 128 units, two shares of 16 rows.
        assert_eq!(shares(32, 32, 128), vec![0..16, 16..32]);
        // Uneven: 36 rows in two shares of 18.
        assert_eq!(shares(4, 36, 64), vec![0..18, 18..36]);
        // Too little work per share, or too few rows: the whole batch in one.
        assert_eq!(shares(3, 2, 8), vec![0..2]);
        assert_eq!(shares(1, 64, 64), vec![0..64]);
        assert_eq!(shares(32, 8, 512), vec![0..8]);
        assert_eq!(shares(2, 0, 8), vec![0..0]);
    }
}
