//! The daemon's descriptor limit and descriptor table, both settled before any
//! thread exists.
//!
//! Each service holds a few descriptors in daimond (pidfd, log pipes), so the
//! soft RLIMIT_NOFILE is raised to the hard one; the original pair is kept for
//! the services, which get what they would have had without daimond.
//!
//! The table is grown here too. The kernel grows a process's descriptor table
//! by doubling it, and when the table is shared by several threads each
//! doubling waits for an RCU grace period (`expand_fdtable` calls
//! `synchronize_rcu`). Traces of a start of 100 services showed the owner
//! blocked 15 to 34 ms at each of the doublings to 128 and 256 entries, half
//! the time of the whole start. Grown while daimond is still one thread, the
//! table costs no wait, and a few KiB of kernel memory.

use std::os::fd::AsRawFd;

/// The table size reserved at start: enough for about a thousand services.
const RESERVED_FDS: u64 = 4096;

/// The limits daimond started with, `(soft, hard)`, for the services.
pub type OriginalNofile = Option<(u64, u64)>;

/// Raises the soft descriptor limit to the hard one and grows the descriptor
/// table to what that allows, up to [`RESERVED_FDS`]. Must run before any
/// thread is started. Returns the original limits.
pub fn prepare() -> OriginalNofile {
    let original = nofile()?;
    let raised = libc::rlimit {
        rlim_cur: original.1,
        rlim_max: original.1,
    };
    // SAFETY: valid pointer to a limit no higher than the hard limit.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };
    let soft = nofile().map_or(original.0, |(soft, _)| soft);
    reserve_table(soft.min(RESERVED_FDS));
    Some(original)
}

/// The descriptor limits `(soft, hard)` now.
pub fn nofile() -> Option<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out-pointer.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0)
        .then_some((lim.rlim_cur, lim.rlim_max))
}

/// Makes the table hold `size` descriptors: a duplicate at `size - 1` grows
/// it, and closing that duplicate leaves the table as it is (tables never
/// shrink). Best effort: a failure only means later growth, as before.
fn reserve_table(size: u64) {
    let Ok(top) = libc::c_int::try_from(size.saturating_sub(1)) else {
        return;
    };
    if top < 64 {
        return; // the table every process starts with already holds these
    }
    let Ok(null) = std::fs::File::open("/dev/null") else {
        return;
    };
    // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor (the lowest free one at
    // or above `top`) for a file this function owns.
    let fd = unsafe { libc::fcntl(null.as_raw_fd(), libc::F_DUPFD_CLOEXEC, top) };
    if fd >= 0 {
        // SAFETY: fd was just created here and is closed once.
        unsafe { libc::close(fd) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_size() -> usize {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("FDSize:")).unwrap();
        line["FDSize:".len()..].trim().parse().unwrap()
    }

    #[test]
    fn the_table_grows_and_no_descriptor_is_left_open() {
        reserve_table(2048);
        assert!(table_size() >= 2048, "FDSize {}", table_size());
        // The duplicate that grew the table is closed again.
        // SAFETY: querying a descriptor number's flags.
        assert_eq!(unsafe { libc::fcntl(2047, libc::F_GETFD) }, -1);
    }
}
