//! The binary's allocator: mimalloc, told to keep freed memory mapped while work goes on.
//!
//! A training step or a GradBench evaluation frees its temporaries and allocates the same
//! sizes again a moment later. glibc's malloc hands large blocks back to the OS, and so,
//! after 10 ms, does mimalloc by default ("purging"); each new tensor then page-faults
//! its memory in again, and the kernel zeroes every page. On GradBench's `ba` jacobian
//! that zeroing was 74% of the profile (`perf`: `clear_page_erms`). With purging delayed,
//! freed pages are reused as they are.

/// mimalloc rather than glibc's malloc: it reuses freed large blocks (measured on `lse`
/// n=640,000 gradient when it was added).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (the same in its v2 and v3 series): how many
/// milliseconds freed memory stays mapped before mimalloc returns it to the OS. The Rust
/// bindings name the options around it but not this one.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays mapped: longer than one evaluation or training step's
/// reuse distance, short enough that an idle tool gives its peak back within seconds
/// (mimalloc multiplies it by 10 for whole arenas).
const PURGE_DELAY_MS: std::ffi::c_long = 1000;

/// Delays mimalloc's purging of freed memory to [`PURGE_DELAY_MS`]. Call first in `main`.
pub fn keep_freed_memory_mapped() {
    // SAFETY: `mi_option_set` only stores an integer option; mimalloc reads options
    // atomically, so setting one while other threads allocate is allowed.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_set_is_the_purge_delay() {
        // SAFETY: reading an option has no preconditions.
        let read = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        // Before it is set, the option holds mimalloc's documented default purge delay
        // (10 ms), which most other options do not (one, the arena purge multiplier, does).
        let before = read();
        assert!(
            before == 10 || before == PURGE_DELAY_MS,
            "option 15 held {before}"
        );
        keep_freed_memory_mapped();
        assert_eq!(read(), PURGE_DELAY_MS);
    }
}
