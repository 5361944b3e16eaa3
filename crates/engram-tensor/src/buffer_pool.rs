//! A pool of large element buffers, reused across the ops of a training loop.
//!
//! A training step makes every activation and gradient afresh and drops them all by the
//! next step. Buffers of more than a few hundred KiB are above glibc's mmap threshold, so
//! the system allocator maps each one, the kernel zero-fills its pages on first touch and
//! unmaps them on free: thousands of page faults per step, which profiles of the MLP and
//! CNN steps put at 10–20% of their time (BENCHMARKS.md). A tensor's storage therefore
//! returns its buffer here when the last handle drops, if it is at least
//! [`MIN_POOLED_BYTES`], and the kernels take their output buffers from here first. Every
//! program that links engram-tensor gets the reuse, whatever global allocator it chose.
//!
//! Buffers are grouped by element size and alignment (a buffer comes back as a vector of
//! the type it left as, or of one with the same layout) and by size class: eight classes
//! per doubling, so a buffer fits every request of its class and wastes at most an eighth.
//!
//! Only buffers the pool sized itself come back to it: a kernel's output is a [`PoolVec`],
//! and the tensor made of it returns its buffer here; a user's `Vec` given to
//! `Tensor::from_vec` goes back to the allocator when its tensor drops. A class therefore
//! never holds more free buffers than were ever out of it at once (each one was made when
//! the class had none free), and memory stays at the program's peak of pooled tensors.
//! Pooling users' vectors broke that bound: GradBench's `ba` gathers each batch of
//! cameras into a fresh `Vec` of a class no kernel asks for, so every evaluation added
//! megabytes the pool kept and never handed out, and the allocator mapped and zeroed fresh
//! (huge) pages to replace them, several times slower in some processes.
//!
//! The pool also holds at most [`limit`] bytes (a buffer dropped when it is full goes
//! back to the allocator); [`release_all`] hands everything back, for a program that is
//! done with its large tensors.
//!
//! ```
//! use engram_tensor::{buffer_pool, Tensor};
//! let activations = Tensor::<f32>::zeros(&[512, 784]);
//! drop(activations);
//! assert!(buffer_pool::held_bytes() > 0);
//! buffer_pool::release_all();
//! ```

use crate::parallel::fill_chunked;
use std::alloc::Layout;
use std::collections::BTreeMap;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard};

/// Buffers below this many bytes stay with the allocator: glibc serves them from its heap
/// without mapping pages, and pooling them would only add a lock per tensor.
pub const MIN_POOLED_BYTES: usize = 64 << 10;

/// The default of [`limit`]: enough for the activations and gradients of a few steps of
/// the benchmark models (the CNN step's largest buffers are 3 MB, its whole step tens of
/// MB), small beside the memory of a machine that trains.
pub const DEFAULT_LIMIT_BYTES: usize = 512 << 20;

/// Size classes per doubling of the byte size.
const CLASSES_PER_DOUBLING: u32 = 8;

/// A vector the pool sized (taken from it, or allocated to a whole size class when it had
/// none), on its way to becoming a tensor's storage, which then returns it to the pool; a
/// kernel's scratch vector returns when dropped. It derefs to the `Vec`, so a kernel fills
/// it as it would a plain vector.
pub(crate) struct PoolVec<T>(Vec<T>);

impl<T> PoolVec<T> {
    /// The plain vector, for a caller that hands it out of the crate: it then goes back
    /// to the allocator, not the pool, when dropped.
    pub(crate) fn into_vec(mut self) -> Vec<T> {
        std::mem::take(&mut self.0)
    }
}

impl<T> Drop for PoolVec<T> {
    #[inline]
    fn drop(&mut self) {
        if !too_small::<T>(self.0.capacity()) {
            GLOBAL.put(std::mem::take(&mut self.0));
        }
    }
}

impl<T> Deref for PoolVec<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> DerefMut for PoolVec<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T> AsMut<Vec<T>> for PoolVec<T> {
    fn as_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

/// A tensor's heap storage: a vector that, when dropped, goes back to the pool if the pool
/// made it (see the module's docs) and it is large.
pub(crate) struct Buffer<T> {
    data: Vec<T>,
    pooled: bool,
}

/// A user's vector: the allocator's again when its tensor drops.
impl<T> From<Vec<T>> for Buffer<T> {
    fn from(data: Vec<T>) -> Self {
        Buffer {
            data,
            pooled: false,
        }
    }
}

/// A kernel's output: the pool's again when its tensor drops, if large.
impl<T> From<PoolVec<T>> for Buffer<T> {
    fn from(data: PoolVec<T>) -> Self {
        let data = data.into_vec();
        Buffer {
            pooled: !too_small::<T>(data.capacity()),
            data,
        }
    }
}

impl<T> Deref for Buffer<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.data
    }
}

impl<T> DerefMut for Buffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.data
    }
}

impl<T> Drop for Buffer<T> {
    fn drop(&mut self) {
        if self.pooled {
            GLOBAL.put(std::mem::take(&mut self.data));
        }
    }
}

/// An empty vector with room for at least `n` elements: a pooled buffer when one of the
/// right class is free, else a fresh allocation rounded up to its class (so that it fits
/// the same requests when it comes back). Its spare capacity may hold stale values of an
/// earlier tensor, which `Vec` treats as uninitialised: the caller writes before it reads.
#[inline]
pub(crate) fn with_capacity<T>(n: usize) -> PoolVec<T> {
    if too_small::<T>(n) {
        return PoolVec(Vec::with_capacity(n));
    }
    PoolVec(GLOBAL.with_capacity(n))
}

/// `n` copies of `value`, in a pooled buffer when large (its stale values all
/// overwritten, on every core when there are many: a serial fill of a convolution's
/// output was a fifth of the calling thread's time in the two-thread CNN step, time in
/// which the other cores waited).
#[inline]
pub(crate) fn full<T: Copy + Send + Sync>(n: usize, value: T) -> PoolVec<T> {
    if too_small::<T>(n) {
        return PoolVec(vec![value; n]);
    }
    PoolVec(GLOBAL.full(n, value))
}

/// Whether `n` elements of `T` are below [`MIN_POOLED_BYTES`]. Checked inline before any
/// call into the pool: most tensors of a scalar-heavy program (GradBench's `lstm`, whose
/// vectors hold 14 numbers) are small, and each op then pays one comparison for the pool.
#[inline]
fn too_small<T>(n: usize) -> bool {
    n.saturating_mul(std::mem::size_of::<T>()) < MIN_POOLED_BYTES
}

/// A copy of `src`, in a pooled buffer when large.
pub(crate) fn copy_of<T: Copy>(src: &[T]) -> PoolVec<T> {
    let mut out = with_capacity(src.len());
    out.extend_from_slice(src);
    out
}

/// The items of `items`, in a pooled buffer when large.
pub(crate) fn collect<T>(items: impl ExactSizeIterator<Item = T>) -> PoolVec<T> {
    let mut out = with_capacity(items.len());
    out.extend(items);
    out
}

/// Bytes the pool holds now, in buffers that no tensor uses.
pub fn held_bytes() -> usize {
    GLOBAL.lock().held
}

/// The most bytes the pool holds; a buffer dropped when it would go past this goes back
/// to the allocator. [`DEFAULT_LIMIT_BYTES`] until [`set_limit`] changes it.
pub fn limit() -> usize {
    GLOBAL.lock().limit
}

/// Sets [`limit`]. Lowering it frees nothing at once (call [`release_all`] for that); the
/// pool takes no new buffers until what it holds is below the new limit. A limit of 0
/// turns pooling off.
pub fn set_limit(bytes: usize) {
    GLOBAL.lock().limit = bytes;
}

/// Hands every pooled buffer back to the allocator, for a program done with its large
/// tensors (after training, before a long phase that needs the memory elsewhere).
pub fn release_all() {
    GLOBAL.release_all();
}

/// The process's pool, shared by every thread: a tensor may be dropped on any thread.
static GLOBAL: Pool = Pool::new(DEFAULT_LIMIT_BYTES);

/// Free buffers of one element layout and size class are keyed by
/// `(element size, element alignment, class bytes)`.
type Key = (usize, usize, usize);

/// Free buffers grouped by [`Key`], and the bytes they hold.
struct Pool {
    lists: Mutex<Lists>,
}

struct Lists {
    held: usize,
    limit: usize,
    free: BTreeMap<Key, Vec<Free>>,
}

/// One free allocation: `bytes` long, aligned for the element type of its key.
struct Free {
    ptr: NonNull<u8>,
    bytes: usize,
}

// SAFETY: a `Free` is the sole owner of an allocation no tensor can reach any more (its
// vector was forgotten when it entered the pool); moving that ownership between threads
// is what `Vec<T>: Send` allows for the `Send` element types tensors hold.
unsafe impl Send for Free {}

impl Pool {
    const fn new(limit: usize) -> Self {
        Pool {
            lists: Mutex::new(Lists {
                held: 0,
                limit,
                free: BTreeMap::new(),
            }),
        }
    }

    /// The lists, even after a panic elsewhere while they were locked: every update
    /// under the lock leaves them consistent before anything that could panic.
    fn lock(&self) -> MutexGuard<'_, Lists> {
        self.lists
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// See [`with_capacity`].
    fn with_capacity<T>(&self, n: usize) -> Vec<T> {
        self.take(n)
            .unwrap_or_else(|| Vec::with_capacity(capacity_for::<T>(n)))
    }

    /// See [`full`].
    fn full<T: Copy + Send + Sync>(&self, n: usize, value: T) -> Vec<T> {
        let capacity = capacity_for::<T>(n);
        let mut out = match self.take(n) {
            Some(pooled) => pooled,
            // Exactly what `vec!` would make; for zeros it asks the allocator for zeroed
            // memory instead of writing them.
            None if capacity == n => return vec![value; n],
            None => Vec::with_capacity(capacity),
        };
        fill_chunked(&mut out.spare_capacity_mut()[..n], |_, chunk| {
            for slot in chunk {
                slot.write(value);
            }
        });
        // SAFETY: `fill_chunked` hands every index of `0..n` to the closure, which writes
        // each; the capacity is at least `n` (`take` and `capacity_for` round up).
        unsafe { out.set_len(n) };
        out
    }

    /// A free buffer with room for `n` elements of `T`, if the pool has one; `None` for
    /// a request below [`MIN_POOLED_BYTES`].
    fn take<T>(&self, n: usize) -> Option<Vec<T>> {
        let class = pooled_class::<T>(n)?;
        let size = std::mem::size_of::<T>();
        let key = (size, std::mem::align_of::<T>(), class);
        let free = {
            let mut lists = self.lock();
            let free = lists.free.get_mut(&key).and_then(Vec::pop)?;
            lists.held -= free.bytes;
            free
        };
        // SAFETY: the buffer entered the pool as a `Vec` of a type with `T`'s size and
        // alignment (its key says so) and `free.bytes / size` capacity, allocated by the
        // global allocator with layout `(free.bytes, align_of::<T>())`; nothing else owns
        // it now. Length 0: no element is claimed to be initialised.
        Some(unsafe { Vec::from_raw_parts(free.ptr.as_ptr().cast::<T>(), 0, free.bytes / size) })
    }

    /// Keeps `data`'s allocation for reuse if it is large, still exactly a size class (a
    /// kernel that grew its vector past the capacity the pool gave got another allocation,
    /// which would sit in a class it was never taken from) and the pool has room; else
    /// frees it.
    fn put<T>(&self, mut data: Vec<T>) {
        let size = std::mem::size_of::<T>();
        let bytes = data.capacity() * size;
        if bytes < MIN_POOLED_BYTES || class_floor(bytes) != bytes {
            return;
        }
        let key = (size, std::mem::align_of::<T>(), bytes);
        {
            let mut lists = self.lock();
            if lists.held + bytes > lists.limit {
                return;
            }
            lists.held += bytes;
            // Elements with drop glue are dropped before the memory is kept (tensors hold
            // `Copy` elements, for which this does nothing).
            data.clear();
            let ptr = NonNull::new(ManuallyDrop::new(data).as_mut_ptr().cast::<u8>())
                .expect("a vector's buffer is never at address 0");
            lists.free.entry(key).or_default().push(Free { ptr, bytes });
        }
    }

    /// Frees every pooled buffer.
    fn release_all(&self) {
        let free = {
            let mut lists = self.lock();
            lists.held = 0;
            std::mem::take(&mut lists.free)
        };
        for ((_, align, _), list) in free {
            for f in list {
                let layout = Layout::from_size_align(f.bytes, align)
                    .expect("the layout of a vector that was allocated");
                // SAFETY: `f` owns an allocation of exactly this layout, made by the
                // global allocator for a `Vec` (see `take`), which nothing else frees.
                unsafe { std::alloc::dealloc(f.ptr.as_ptr(), layout) };
            }
        }
    }
}

/// The size class of a request for `n` elements of `T`, or `None` when it is too small to
/// pool (or too large to exist, which `Vec::with_capacity` then reports).
fn pooled_class<T>(n: usize) -> Option<usize> {
    n.checked_mul(std::mem::size_of::<T>())
        .filter(|&bytes| bytes >= MIN_POOLED_BYTES)
        .and_then(class_ceil)
}

/// The capacity to allocate for `n` elements of `T` when the pool has none: all of its
/// size class, so that the buffer serves the same requests when it comes back.
fn capacity_for<T>(n: usize) -> usize {
    match pooled_class::<T>(n) {
        Some(class) => class.div_ceil(std::mem::size_of::<T>()).max(n),
        None => n,
    }
}

/// The granule of size classes around `bytes`: an eighth of its power of two.
fn granule(bytes: usize) -> usize {
    1 << bytes.ilog2().saturating_sub(CLASSES_PER_DOUBLING.ilog2())
}

/// The smallest class that holds `bytes` (`None` past `usize::MAX`).
fn class_ceil(bytes: usize) -> Option<usize> {
    let g = granule(bytes);
    bytes.div_ceil(g).checked_mul(g)
}

/// The largest class that a buffer of `bytes` holds entirely.
fn class_floor(bytes: usize) -> usize {
    let g = granule(bytes);
    bytes / g * g
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;
    use std::sync::Arc;

    /// Elements of `f32` in a buffer of a size class well above the pooling threshold.
    const LARGE: usize = 300_000;

    #[test]
    fn a_returned_buffer_serves_the_next_request_of_its_class() {
        let pool = Pool::new(DEFAULT_LIMIT_BYTES);
        let first = pool.with_capacity::<f32>(LARGE);
        let ptr = first.as_ptr();
        pool.put(first);
        assert_eq!(pool.lock().held, capacity_for::<f32>(LARGE) * 4);
        // A slightly smaller request is in the same class: an eighth of a doubling.
        let again = pool.with_capacity::<f32>(LARGE - 1000);
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.capacity() >= LARGE);
        assert_eq!(pool.lock().held, 0);
        pool.put(again);
        pool.release_all();
    }

    #[test]
    fn buffers_are_reused_only_by_types_of_the_same_layout() {
        let pool = Pool::new(DEFAULT_LIMIT_BYTES);
        let floats = pool.with_capacity::<f32>(2 * LARGE);
        let ptr = floats.as_ptr() as usize;
        pool.put(floats);
        assert!(pool.take::<f64>(LARGE).is_none(), "f64 has another layout");
        let indices = pool.take::<u32>(2 * LARGE).expect("u32 has f32's layout");
        assert_eq!(indices.as_ptr() as usize, ptr);
        pool.put(indices);
        pool.release_all();
    }

    #[test]
    fn only_buffers_of_exactly_a_class_are_kept() {
        let pool = Pool::new(DEFAULT_LIMIT_BYTES);
        // A vector of any other capacity would sit in a class it was not taken from.
        pool.put(Vec::<f64>::with_capacity(LARGE + 7));
        assert_eq!(pool.lock().held, 0);
        let class = class_ceil((LARGE + 7) * 8).expect("fits") / 8;
        let exact = Vec::<f64>::with_capacity(class);
        let ptr = exact.as_ptr();
        pool.put(exact);
        let reused = pool.take::<f64>(LARGE + 7).expect("its own class");
        assert_eq!(reused.as_ptr(), ptr);
        pool.put(reused);
        pool.release_all();
    }

    /// Free buffers of `T` in the shared pool's class for `n` elements.
    fn free_in_class_of<T>(n: usize) -> usize {
        let size = std::mem::size_of::<T>();
        let key = (
            size,
            std::mem::align_of::<T>(),
            class_ceil(n * size).expect("fits"),
        );
        GLOBAL.lock().free.get(&key).map_or(0, Vec::len)
    }

    #[test]
    fn a_users_vector_goes_back_to_the_allocator_and_a_kernels_to_the_pool() {
        // An odd size, so that no other test's buffers share its class, and a user's
        // vector of exactly that class, which only its origin tells from one the pool made.
        let n = class_ceil(654_321 * 8).expect("fits") / 8;
        drop(Tensor::<f64>::from_vec(vec![1.0; n], &[n]));
        assert_eq!(free_in_class_of::<f64>(n), 0);
        let ones = Tensor::<f64>::ones(&[n]);
        let sum = &ones + &ones;
        let ptr = sum.as_slice().expect("contiguous").as_ptr() as usize;
        drop(sum);
        assert_eq!(free_in_class_of::<f64>(n), 1);
        let next = ones.map(|x| x + 1.0);
        assert_eq!(next.as_slice().expect("contiguous").as_ptr() as usize, ptr);
    }

    #[test]
    fn a_kernels_scratch_vector_comes_back_and_one_handed_out_does_not() {
        let n = 432_109;
        let scratch = with_capacity::<f64>(n);
        let ptr = scratch.as_ptr() as usize;
        drop(scratch);
        assert_eq!(free_in_class_of::<f64>(n), 1);
        let handed_out = full(n, 0f64).into_vec();
        assert_eq!(handed_out.as_ptr() as usize, ptr);
        drop(handed_out);
        assert_eq!(free_in_class_of::<f64>(n), 0);
    }

    #[test]
    fn a_class_never_holds_more_free_buffers_than_were_out_at_once() {
        // A program that keeps handing the pool users' vectors of a pooled class (as
        // GradBench's `ba` gathers its batches into fresh ones) while its kernels' two
        // outputs per round are reused.
        let n = class_ceil(543_210 * 4).expect("fits") / 4;
        for _ in 0..50 {
            let input = Tensor::<f32>::from_vec(vec![2.0; n], &[n]);
            let a = input.map(|x| x * 3.0);
            let b = a.map(|x| x - 1.0);
            assert_eq!(b.as_slice().expect("contiguous")[0], 5.0);
        }
        let free = free_in_class_of::<f32>(n);
        assert!(
            free <= 2,
            "{free} free buffers where at most 2 were ever out"
        );
    }

    #[test]
    fn small_buffers_stay_with_the_allocator() {
        let pool = Pool::new(DEFAULT_LIMIT_BYTES);
        pool.put(vec![0f32; MIN_POOLED_BYTES / 4 - 1]);
        assert_eq!(pool.lock().held, 0);
        assert!(pool.take::<f32>(10).is_none());
        assert_eq!(pool.with_capacity::<f32>(10).capacity(), 10);
    }

    #[test]
    fn the_pool_never_holds_more_than_its_limit() {
        let bytes = capacity_for::<f32>(LARGE) * 4;
        let pool = Pool::new(2 * bytes + bytes / 2);
        let buffers: Vec<Vec<f32>> = (0..3).map(|_| pool.with_capacity(LARGE)).collect();
        for b in buffers {
            pool.put(b);
        }
        assert_eq!(
            pool.lock().held,
            2 * bytes,
            "the third went back to the allocator"
        );
        pool.release_all();
        assert_eq!(pool.lock().held, 0);
        assert!(pool.take::<f32>(LARGE).is_none());
    }

    #[test]
    fn a_filled_request_overwrites_stale_values() {
        let pool = Pool::new(DEFAULT_LIMIT_BYTES);
        let mut dirty = pool.with_capacity::<f32>(LARGE);
        dirty.resize(LARGE, f32::NAN);
        let ptr = dirty.as_ptr();
        pool.put(dirty);
        let zeros = pool.full(LARGE, 0f32);
        assert_eq!(zeros.as_ptr(), ptr, "the dirty buffer was reused");
        assert_eq!(zeros.len(), LARGE);
        assert!(zeros.iter().all(|&x| x == 0.0));
        pool.put(zeros);
        pool.release_all();
    }

    #[test]
    fn buffers_put_back_on_other_threads_come_back() {
        let pool = Arc::new(Pool::new(DEFAULT_LIMIT_BYTES));
        let buffers: Vec<Vec<f64>> = (0..4).map(|_| pool.with_capacity(LARGE)).collect();
        let mut given: Vec<usize> = buffers.iter().map(|b| b.as_ptr() as usize).collect();
        let threads: Vec<_> = buffers
            .into_iter()
            .map(|buffer| {
                let pool = Arc::clone(&pool);
                std::thread::spawn(move || pool.put(buffer))
            })
            .collect();
        for t in threads {
            t.join().expect("put on another thread");
        }
        let taken: Vec<Vec<f64>> = (0..4).map(|_| pool.take(LARGE).expect("pooled")).collect();
        let mut back: Vec<usize> = taken.iter().map(|b| b.as_ptr() as usize).collect();
        given.sort_unstable();
        back.sort_unstable();
        assert_eq!(back, given);
        for b in taken {
            pool.put(b);
        }
        pool.release_all();
    }

    #[test]
    fn size_classes_round_up_by_at_most_an_eighth() {
        for bytes in [
            MIN_POOLED_BYTES,
            100_000,
            1_605_632,
            3_211_264,
            (1 << 30) + 1,
        ] {
            let class = class_ceil(bytes).expect("fits");
            assert!(
                class >= bytes && class - bytes <= bytes / 8,
                "{bytes} -> {class}"
            );
            assert_eq!(class_floor(class), class, "a class is its own floor");
            assert!(class_floor(bytes) <= bytes);
        }
        assert_eq!(class_ceil(usize::MAX), None);
    }

    #[test]
    fn a_dropped_tensor_feeds_the_next_kernel_output_across_threads() {
        // An odd size, so that no other test's buffers share its class.
        let n = 777_777;
        let tensor = Tensor::<f64>::full(&[n], f64::NAN);
        let ptr = tensor.as_slice().expect("contiguous").as_ptr() as usize;
        std::thread::spawn(move || drop(tensor))
            .join()
            .expect("dropped on another thread");
        let zeros = Tensor::<f64>::zeros(&[n]);
        assert_eq!(zeros.as_slice().expect("contiguous").as_ptr() as usize, ptr);
        assert!(zeros.to_vec().iter().all(|&x| x == 0.0));
    }
}
