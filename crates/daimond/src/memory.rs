//! Giving freed heap memory back to the system.
//!
//! glibc keeps what a program frees in its arenas for reuse. For a daemon that
//! just streamed a million log lines to a client, or ingested a burst of output,
//! that is tens of MiB it will not need again soon, held for its whole life. So:
//! few arenas (threads of the blocking pool would otherwise each get one), and a
//! trim when a burst of work ends — at most once a second, so a client polling
//! `logs -n 1` in a loop costs nothing measurable.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const MIN_INTERVAL_MS: u64 = 1000;

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Call once, early in `main`, before threads start.
pub fn configure() {
    epoch();
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only adjusts allocator parameters; called before any thread
    // exists, so no allocation races with it.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        // A log query reads blocks of up to 1 MiB. Above glibc's default
        // threshold each came from a fresh mmap, and a trimmed arena gave
        // its pages back after each query: every query faulted in and
        // zeroed a MiB again (half of a `logs -n 1`'s CPU while a service
        // floods). From the arenas, and trimmed only by `release_free_memory`
        // when a burst ends: 650 -> 400 µs per such query.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 16 << 20);
    }
}

/// Returns free heap pages to the system, unless that was done less than a
/// second ago.
pub fn release_free_memory() {
    static LAST_MS: AtomicU64 = AtomicU64::new(0);
    let now = epoch().elapsed().as_millis() as u64 + MIN_INTERVAL_MS;
    let last = LAST_MS.load(Ordering::Relaxed);
    if now < last + MIN_INTERVAL_MS
        || LAST_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim is thread-safe and has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
