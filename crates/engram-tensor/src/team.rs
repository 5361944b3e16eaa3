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
//! counter, while up to `threads - 1` helpers claim from the same counter. The helpers are
//! threads of this module's own (the team), started when a loop first needs them; the
//! number of threads a loop uses is `rayon`'s (`RAYON_NUM_THREADS`, or the pool a caller
//! `install`s), but never more than the machine's cores. Between loops an idle helper
//! watches for the next one for a moment (200 µs) before it sleeps: a step starts a loop
//! every few microseconds, and a helper woken from sleep for each arrived so late that the
//! caller of a product split in two waited for it for 7% of the MLP step (scaling 1.64× on
//! two threads, 1.74× with the helpers watching). A helper that comes late finds nothing
//! left; the caller never sleeps, and waits (spinning, then yielding) only for units a
//! helper is running. On one thread nothing is handed anywhere.
//!
//! One loop has the team at a time: a loop started inside a unit, or on another thread
//! while a loop has the team, runs its units on its own thread.
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
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Spins of the waiting caller before it starts yielding its core: a few microseconds,
/// about as long as a helper's last unit usually takes to finish.
const SPINS_BEFORE_YIELDING: u32 = 1 << 12;

/// How long an idle helper watches for the next loop before it sleeps. A training step
/// starts a parallel loop every few microseconds to a millisecond; a helper that slept
/// between them would wake tens of microseconds late, and the caller would wait for it
/// or run the loop alone.
const HELPER_SPIN: Duration = Duration::from_micros(200);

/// Units a claim takes at most, as a share of the loop: small enough that a late helper
/// still finds work, large enough that a loop of many tiny units does not contend on the
/// counter.
const CLAIMS_PER_THREAD: usize = 8;

/// Runs `task(i)` for every `i` in `0..count`, each once, on the calling thread and on the
/// team's helpers (see the module's documentation). A panic in any unit is raised again on
/// the calling thread once every unit that started has finished.
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
    let run_units = |state: &mut Option<S>, units: std::ops::Range<usize>| {
        for i in units {
            task(state.get_or_insert_with(&init), i);
        }
    };
    // Never more threads than cores: a process asking for more (4 or 8 threads on 2
    // cores) ran the MLP step 1.6× and 1.9× slower with a helper per thread, the
    // helpers spinning and waking on cores the caller needed.
    let threads = rayon::current_num_threads().min(cores()).min(count);
    // A loop started inside another loop's unit, or while another thread's loop has the
    // team, runs on its own thread: the units are the same, so the results are too.
    let team = match (threads > 1).then(Team::claim).flatten() {
        Some(team) => team,
        None => {
            run_units(&mut None, 0..count);
            return;
        }
    };
    let seats = team.helpers_for(threads - 1);
    let claims = Claims::new(count, count.div_ceil((seats + 1) * CLAIMS_PER_THREAD));
    let join = || claims.work(run_units);
    let job = Job::new(&join, seats);
    // Declared after everything the helpers borrow, so dropped before it: it withdraws the
    // job and waits until no helper is inside it, also when this thread unwinds.
    let release = ReleaseOnDrop {
        team,
        claims: &claims,
    };
    team.publish(&job);
    claims.work(run_units);
    drop(release);
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

/// The threads that help callers with their loops, started when a loop first needs them
/// and kept for the life of the process. One loop has the team at a time.
struct Team {
    /// Whether a loop has the team.
    busy: AtomicBool,
    /// The loop helpers join now, or null. It lives on the stack of the caller that
    /// published it, which waits for `inside` to reach zero after withdrawing it.
    job: AtomicPtr<Job>,
    /// Bumped each time a loop is published, so that a helper knows to look again.
    epoch: AtomicU64,
    /// Helpers that may be looking at or running `job`.
    inside: AtomicUsize,
    /// Helpers started.
    started: Mutex<usize>,
    /// Helpers asleep on `wake`, which a publisher must then notify.
    sleepers: AtomicUsize,
    /// The lock `wake` sleeps with.
    sleep_lock: Mutex<()>,
    /// Where helpers sleep once they have watched `epoch` for [`HELPER_SPIN`].
    wake: Condvar,
}

/// The process's team.
static TEAM: Team = Team {
    busy: AtomicBool::new(false),
    job: AtomicPtr::new(std::ptr::null_mut()),
    epoch: AtomicU64::new(0),
    inside: AtomicUsize::new(0),
    started: Mutex::new(0),
    sleepers: AtomicUsize::new(0),
    sleep_lock: Mutex::new(()),
    wake: Condvar::new(),
};

impl Team {
    /// The team, if no other loop has it.
    fn claim() -> Option<&'static Team> {
        TEAM.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            .then_some(&TEAM)
    }

    /// Starts helpers until there are `wanted` (or the system refuses a thread) and
    /// returns how many of them the loop may use.
    fn helpers_for(&'static self, wanted: usize) -> usize {
        let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        while *started < wanted {
            let spawned = std::thread::Builder::new()
                .name(format!("engram-team-{}", *started + 1))
                .spawn(move || self.help());
            if spawned.is_err() {
                break;
            }
            *started += 1;
        }
        wanted.min(*started)
    }

    /// Hands `job` to the helpers, waking those asleep.
    fn publish(&self, job: &Job) {
        self.job
            .store(job as *const Job as *mut Job, Ordering::SeqCst);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        // A helper counts itself asleep (under the lock) before its last look at `epoch`,
        // so either it sees the new epoch or this sees it asleep and wakes it.
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _lock = self.sleep_lock.lock().unwrap_or_else(|p| p.into_inner());
            self.wake.notify_all();
        }
    }

    /// A helper's life: join the loop published now, if any, then watch for the next one.
    fn help(&self) {
        loop {
            let epoch = self.epoch.load(Ordering::SeqCst);
            self.inside.fetch_add(1, Ordering::SeqCst);
            // SAFETY: counted in `inside` before loading, so a job seen here stays alive
            // until the `fetch_sub` below: its caller withdraws it, then waits for `inside`
            // to reach zero before its stack frame goes.
            if let Some(job) = unsafe { self.job.load(Ordering::SeqCst).as_ref() } {
                if job.take_seat() {
                    // SAFETY: as above.
                    unsafe { job.join() };
                }
            }
            self.inside.fetch_sub(1, Ordering::Release);
            self.await_epoch_after(epoch);
        }
    }

    /// Returns once `epoch` has moved past `seen`: spinning for [`HELPER_SPIN`], then
    /// asleep.
    fn await_epoch_after(&self, seen: u64) {
        let start = Instant::now();
        let mut spins = 0u32;
        while self.epoch.load(Ordering::Acquire) == seen {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && start.elapsed() > HELPER_SPIN {
                let mut lock = self.sleep_lock.lock().unwrap_or_else(|p| p.into_inner());
                self.sleepers.fetch_add(1, Ordering::SeqCst);
                while self.epoch.load(Ordering::SeqCst) == seen {
                    lock = self.wake.wait(lock).unwrap_or_else(|p| p.into_inner());
                }
                self.sleepers.fetch_sub(1, Ordering::SeqCst);
                return;
            }
        }
    }
}

/// The machine's cores (as `std` reports them, which counts a container's CPU quota; 1 if
/// it cannot tell), read once.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// What a helper needs of a loop: how to take part, and how many may.
struct Job {
    /// Claims and runs units until none are left; borrowed from the caller's frame, its
    /// lifetime erased (see `for_each_index_with`).
    join: *const (dyn Fn() + Sync + 'static),
    /// Helpers that may still join.
    seats: AtomicUsize,
}

impl Job {
    fn new<'a>(join: &'a (dyn Fn() + Sync + 'a), seats: usize) -> Job {
        Job {
            // SAFETY: only the lifetime is erased. Helpers call `join` only while counted
            // in `Team::inside` with the job published, and the caller that made it waits
            // (`ReleaseOnDrop`) until the job is withdrawn and `inside` is zero before
            // `join` and what it borrows go.
            join: unsafe {
                std::mem::transmute::<
                    *const (dyn Fn() + Sync + 'a),
                    *const (dyn Fn() + Sync + 'static),
                >(join)
            },
            seats: AtomicUsize::new(seats),
        }
    }

    /// Takes one of the seats left, if any.
    fn take_seat(&self) -> bool {
        self.seats
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| s.checked_sub(1))
            .is_ok()
    }

    /// Takes part in the loop.
    ///
    /// # Safety
    ///
    /// The caller must be counted in `Team::inside` and have loaded this job while it was
    /// published.
    unsafe fn join(&self) {
        // SAFETY: the caller's promise keeps the pointee alive.
        unsafe { (*self.join)() }
    }
}

// SAFETY: `join` points to a `Sync` closure, which any thread may call; for how long, see
// `Job::new`.
unsafe impl Sync for Job {}

/// Ends a loop's use of the team when dropped: settles every unit (skipping those no one
/// has claimed if this thread is unwinding), withdraws the job, waits until no helper is
/// inside it, and frees the team.
struct ReleaseOnDrop<'a> {
    team: &'static Team,
    claims: &'a Claims,
}

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.claims.panicked.store(true, Ordering::Relaxed);
        }
        // Units left unclaimed are only skipped: `panicked` is set when unwinding, and
        // otherwise this thread's own `work` has claimed them all already.
        self.claims.work::<()>(|_, _| {});
        self.claims.wait_for_all();
        self.team.job.store(std::ptr::null_mut(), Ordering::SeqCst);
        wait_until(|| self.team.inside.load(Ordering::SeqCst) == 0);
        self.team.busy.store(false, Ordering::Release);
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
        wait_until(|| self.finished.load(Ordering::Acquire) >= self.count);
    }
}

/// Returns once `done()` holds, spinning a while, then yielding the core between looks.
fn wait_until(done: impl Fn() -> bool) {
    let mut spins = 0u32;
    while !done() {
        if spins < SPINS_BEFORE_YIELDING {
            spins += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
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
    fn loops_on_several_threads_at_once_each_run_every_unit() {
        let hits: Vec<Vec<AtomicUsize>> = (0..4)
            .map(|_| (0..2000).map(|_| AtomicUsize::new(0)).collect())
            .collect();
        std::thread::scope(|scope| {
            for mine in &hits {
                scope.spawn(|| {
                    for _ in 0..50 {
                        on_pool_of(2, || {
                            for_each_index(mine.len(), |i| {
                                mine[i].fetch_add(1, Ordering::Relaxed);
                            })
                        });
                    }
                });
            }
        });
        for mine in &hits {
            assert!(mine.iter().all(|h| h.load(Ordering::Relaxed) == 50));
        }
    }

    #[test]
    fn a_helper_asleep_after_a_pause_wakes_for_the_next_loop() {
        if cores() < 2 {
            return; // no helpers on one core
        }
        // Other tests may hold the team when a loop starts (it then runs on its own
        // thread), so try until a loop after a pause has been shared.
        let shared = (0..100).any(|_| {
            std::thread::sleep(HELPER_SPIN * 10);
            let threads = Mutex::new(std::collections::HashSet::new());
            on_pool_of(2, || {
                for_each_index(16, |_| {
                    std::thread::sleep(Duration::from_millis(2));
                    let id = std::thread::current().id();
                    threads.lock().expect("not poisoned").insert(id);
                })
            });
            let used = threads.lock().expect("not poisoned").len();
            used == 2
        });
        assert!(shared, "no loop after a pause ran on a helper");
    }

    #[test]
    fn a_loop_asking_for_more_threads_than_cores_uses_at_most_one_per_core() {
        let threads = Mutex::new(std::collections::HashSet::new());
        on_pool_of(cores() + 3, || {
            for_each_index(64, |_| {
                std::thread::sleep(Duration::from_micros(200));
                let id = std::thread::current().id();
                threads.lock().expect("not poisoned").insert(id);
            })
        });
        assert!(threads.lock().expect("not poisoned").len() <= cores());
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
