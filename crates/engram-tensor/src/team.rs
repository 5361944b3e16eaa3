//! Parallel loops in which the calling thread takes part, as the master thread of an
//! OpenMP team does.
//!
//! A parallel iterator of `rayon` started from a thread outside its pool (a user's
//! training loop) hands the whole loop to the pool and puts the calling thread to sleep
//! until the pool wakes it: two wake-ups across cores per op. A training step runs dozens
//! of parallel ops, and in the MLP step on two threads those hand-offs were a fifth of the
//! step (2.25 ms against 1.81 ms for the same step run from inside the pool, on a
//! two-core virtual machine).
//!
//! Here the calling thread works through the loop itself, claiming units from a shared
//! counter, while up to `threads - 1` helpers spawned on the pool claim from the same
//! counter as they come free. A helper that wakes late finds nothing left and returns;
//! the caller never sleeps, and waits (spinning, then yielding) only for units a helper
//! has claimed and is running. On one thread nothing is handed anywhere.
//!
//! Which thread runs a unit never changes what the unit computes, so kernels that cut
//! their work into fixed units give the same bits on any number of threads. A custom
//! kernel gets the same behaviour:
//!
//! ```
//! use engram_tensor::team::for_each_chunk_mut;
//! let input: Vec<f32> = (0..100_000).map(|i| i as f32).collect();
//! let mut out = vec![0.0f32; input.len()];
//! // Fixed chunks of 16,384 elements, shared between this thread and the pool's.
//! for_each_chunk_mut(&mut out, 1 << 14, |i, chunk| {
//!     let start = i << 14;
//!     for (o, x) in chunk.iter_mut().zip(&input[start..]) {
//!         *o = x.sqrt();
//!     }
//! });
//! assert_eq!(out[99_999], 99_999f32.sqrt());
//! ```

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Spins of the waiting caller before it starts yielding its core: a few microseconds,
/// about as long as a helper's last unit usually takes to finish.
const SPINS_BEFORE_YIELDING: u32 = 1 << 12;

/// Units a claim takes at most, as a share of the loop: small enough that a late helper
/// still finds work, large enough that a loop of many tiny units does not contend on the
/// counter.
const CLAIMS_PER_THREAD: usize = 8;

/// Runs `task(i)` for every `i` in `0..count`, on the calling thread and on the pool's
/// threads (see the module's documentation). A panic in any unit is raised again on the
/// calling thread once every unit that started has finished.
pub fn for_each_index(count: usize, task: impl Fn(usize) + Sync) {
    for_each_index_with(count, || (), |_, i| task(i));
}

/// [`for_each_index`] where every thread that takes part makes one `S` with `init` before
/// its first unit and hands it to each of its units (a scratch buffer, say).
pub fn for_each_index_with<S: Send + 'static>(
    count: usize,
    init: impl Fn() -> S + Sync,
    task: impl Fn(&mut S, usize) + Sync,
) {
    let threads = rayon::current_num_threads().min(count);
    if threads <= 1 {
        let mut state = None;
        for i in 0..count {
            task(state.get_or_insert_with(&init), i);
        }
        return;
    }
    let grain = count.div_ceil(threads * CLAIMS_PER_THREAD);
    let claims = Arc::new(Claims::new(count, grain));
    let run_units = |state: &mut Option<S>, units: std::ops::Range<usize>| {
        for i in units {
            task(state.get_or_insert_with(&init), i);
        }
    };
    let body: &(dyn Fn(&mut Option<S>, std::ops::Range<usize>) + Sync) = &run_units;
    // SAFETY: only the lifetime is erased. A helper calls `body` only for units it has
    // claimed, and this function returns only once every claimed unit has finished
    // (`wait_for_all` below), so `body` and what it borrows outlive every call. A helper
    // that claims nothing never touches it.
    let body: Body<S> = Body(unsafe {
        std::mem::transmute::<
            *const (dyn Fn(&mut Option<S>, std::ops::Range<usize>) + Sync + '_),
            *const (dyn Fn(&mut Option<S>, std::ops::Range<usize>) + Sync + 'static),
        >(body)
    });
    // Declared after everything the helpers borrow, so dropped before it: should this
    // thread unwind before its own `work` (a failed spawn), the guard still settles
    // every unit and waits for the helpers' before the borrowed values go.
    let settle = SettleOnDrop(&claims);
    for _ in 1..threads {
        let claims = Arc::clone(&claims);
        rayon::spawn(move || {
            // SAFETY: see where `body` is made; it is called only with claimed units.
            claims.work(|state, units| unsafe { body.call(state, units) });
        });
    }
    claims.work(run_units);
    drop(settle);
    let panic = claims
        .panic
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    if let Some(payload) = panic {
        resume_unwind(payload);
    }
}

/// Runs `task(i, &mut items[i])` for every item, as [`for_each_index`].
pub fn for_each_mut<I: Send>(items: &mut [I], task: impl Fn(usize, &mut I) + Sync) {
    for_each_chunk_mut(items, 1, |i, chunk| task(i, &mut chunk[0]));
}

/// Runs `task(i, chunk)` for every chunk of `size` elements of `out` (the last may be
/// shorter), chunk `i` starting at element `i · size`, as [`for_each_index`].
pub fn for_each_chunk_mut<T: Send>(
    out: &mut [T],
    size: usize,
    task: impl Fn(usize, &mut [T]) + Sync,
) {
    for_each_chunk_mut_with(out, size, || (), |_, i, chunk| task(i, chunk));
}

/// [`for_each_chunk_mut`] with a state per thread, as [`for_each_index_with`].
pub fn for_each_chunk_mut_with<T: Send, S: Send + 'static>(
    out: &mut [T],
    size: usize,
    init: impl Fn() -> S + Sync,
    task: impl Fn(&mut S, usize, &mut [T]) + Sync,
) {
    let size = size.max(1);
    let len = out.len();
    let base = SendPtr(out.as_mut_ptr());
    for_each_index_with(len.div_ceil(size), init, |state, i| {
        let start = i * size;
        // SAFETY: chunks `i` are disjoint ranges of `out`, each handed to one unit once,
        // and `out` is borrowed mutably for the whole loop.
        let chunk =
            unsafe { std::slice::from_raw_parts_mut(base.get().add(start), size.min(len - start)) };
        run_chunk(&task, state, i, chunk);
    });
}

/// Calls `task` on one chunk. Not inlined, so that the chunk arrives as a parameter,
/// which the compiler knows aliases nothing else: made from a raw pointer inside the
/// loop, it would not, and kernels inlined there lost their vectorised and `memcpy`
/// forms (a copy ran 1.3× slower).
#[inline(never)]
fn run_chunk<T, S>(
    task: &impl Fn(&mut S, usize, &mut [T]),
    state: &mut S,
    i: usize,
    chunk: &mut [T],
) {
    task(state, i, chunk);
}

/// A pointer into a slice whose disjoint parts go to different threads.
struct SendPtr<T>(*mut T);

impl<T> SendPtr<T> {
    /// The pointer (a method, so that closures capture the whole `Sync` wrapper).
    fn get(&self) -> *mut T {
        self.0
    }
}

// SAFETY: each thread touches only its own disjoint elements, which are `Send`.
unsafe impl<T: Send> Sync for SendPtr<T> {}

/// A loop body with its lifetime erased, for the helpers (see `for_each_index_with`).
struct Body<S>(*const (dyn Fn(&mut Option<S>, std::ops::Range<usize>) + Sync + 'static));

impl<S> Body<S> {
    /// Runs `units` (a method, so that closures capture the whole `Send` wrapper).
    ///
    /// # Safety
    ///
    /// The loop that made this body must still be waiting for `units` to finish.
    unsafe fn call(&self, state: &mut Option<S>, units: std::ops::Range<usize>) {
        // SAFETY: the caller's promise keeps the pointee alive.
        unsafe { (*self.0)(state, units) }
    }
}

// SAFETY: the pointee is `Sync`, so calling it from several threads at once is allowed;
// its lifetime is what `for_each_index_with` guarantees.
unsafe impl<S> Send for Body<S> {}
impl<S> Clone for Body<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for Body<S> {}

/// Settles a loop when dropped: claims every unit no one has (running none of them if
/// the thread is unwinding) and waits until every unit has finished.
struct SettleOnDrop<'a>(&'a Claims);

impl Drop for SettleOnDrop<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.panicked.store(true, Ordering::Relaxed);
        }
        // Units left unclaimed are only skipped: `panicked` is set when unwinding, and
        // otherwise this thread's own `work` has claimed them all already.
        self.0.work::<()>(|_, _| {});
        self.0.wait_for_all();
    }
}

/// The shared counters of one loop.
struct Claims {
    /// The next unit no one has claimed (may run past `count`).
    next: AtomicUsize,
    /// Units finished (run, or skipped after a panic).
    finished: AtomicUsize,
    /// Units in the loop.
    count: usize,
    /// Units per claim.
    grain: usize,
    /// Whether a unit panicked: the rest are then skipped.
    panicked: AtomicBool,
    /// The first panic's payload, raised again on the calling thread.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Claims {
    fn new(count: usize, grain: usize) -> Claims {
        Claims {
            next: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            count,
            grain,
            panicked: AtomicBool::new(false),
            panic: Mutex::new(None),
        }
    }

    /// Claims and runs units with `body` until none are left; a thread's state lives
    /// across its claims and drops when it has no more.
    fn work<S>(&self, body: impl Fn(&mut Option<S>, std::ops::Range<usize>)) {
        let mut state = None;
        loop {
            let start = self.next.fetch_add(self.grain, Ordering::Relaxed);
            if start >= self.count {
                break;
            }
            let units = start..(start + self.grain).min(self.count);
            let done = units.len();
            if !self.panicked.load(Ordering::Relaxed) {
                let result = catch_unwind(AssertUnwindSafe(|| body(&mut state, units)));
                if let Err(payload) = result {
                    self.panicked.store(true, Ordering::Relaxed);
                    let mut first = self.panic.lock().unwrap_or_else(|p| p.into_inner());
                    first.get_or_insert(payload);
                }
            }
            // Release: what the units wrote is visible to the caller that sees the count.
            self.finished.fetch_add(done, Ordering::Release);
        }
    }

    /// Returns once every unit has finished.
    fn wait_for_all(&self) {
        let mut spins = 0u32;
        while self.finished.load(Ordering::Acquire) < self.count {
            if spins < SPINS_BEFORE_YIELDING {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on a thread of a pool of `threads` threads, so that loops in it share
    /// their units with that pool's other threads.
    fn on_pool_of<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool")
            .install(f)
    }

    #[test]
    fn a_loop_from_a_thread_outside_the_pool_runs_every_unit() {
        // The test's own thread is not one of the global pool's.
        assert!(rayon::current_thread_index().is_none());
        let hits: Vec<AtomicUsize> = (0..500).map(|_| AtomicUsize::new(0)).collect();
        for_each_index(hits.len(), |i| {
            hits[i].fetch_add(1, Ordering::Relaxed);
        });
        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn every_unit_runs_exactly_once() {
        for threads in [1, 2, 4] {
            for count in [0, 1, 2, 3, 17, 1000] {
                let hits: Vec<AtomicUsize> = (0..count).map(|_| AtomicUsize::new(0)).collect();
                on_pool_of(threads, || {
                    for_each_index(count, |i| {
                        hits[i].fetch_add(1, Ordering::Relaxed);
                    })
                });
                assert!(
                    hits.iter().all(|h| h.load(Ordering::Relaxed) == 1),
                    "{count} units on {threads} threads"
                );
            }
        }
    }

    #[test]
    fn chunks_cover_the_slice_in_order() {
        let mut out = vec![0usize; 1001];
        on_pool_of(3, || {
            for_each_chunk_mut(&mut out, 10, |i, chunk| {
                assert!(chunk.len() == 10 || (i == 100 && chunk.len() == 1));
                for (j, x) in chunk.iter_mut().enumerate() {
                    *x = i * 10 + j;
                }
            })
        });
        assert_eq!(out, (0..1001).collect::<Vec<_>>());
    }

    #[test]
    fn each_thread_makes_one_state_at_most() {
        let made = AtomicUsize::new(0);
        let mut out = vec![0u32; 64];
        on_pool_of(2, || {
            for_each_chunk_mut_with(
                &mut out,
                1,
                || {
                    made.fetch_add(1, Ordering::Relaxed);
                    7u32
                },
                |state, _, chunk| chunk[0] = *state,
            )
        });
        assert!(out.iter().all(|&x| x == 7));
        assert!((1..=2).contains(&made.load(Ordering::Relaxed)));
    }

    #[test]
    fn a_panic_in_a_unit_reaches_the_caller_after_every_started_unit_finished() {
        for threads in [1, 2, 4] {
            let finished = AtomicUsize::new(0);
            let result = catch_unwind(AssertUnwindSafe(|| {
                on_pool_of(threads, || {
                    for_each_index(64, |i| {
                        if i == 5 {
                            panic!("unit five");
                        }
                        finished.fetch_add(1, Ordering::Relaxed);
                    })
                })
            }));
            let payload = result.expect_err("the panic comes back");
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"unit five"));
            assert!(finished.load(Ordering::Relaxed) < 64);
        }
    }

    #[test]
    fn loops_nest_inside_units_and_inside_the_pool() {
        let total = AtomicUsize::new(0);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .expect("a pool");
        // From a pool thread (`install`), with a loop inside every unit.
        pool.install(|| {
            for_each_index(8, |_| {
                for_each_index(8, |_| {
                    total.fetch_add(1, Ordering::Relaxed);
                })
            })
        });
        assert_eq!(total.load(Ordering::Relaxed), 64);
    }
}
