//! Owns the store's space budget: its size bound, the free space it leaves to
//! others, and how much room it keeps for what grows between two retention
//! passes. The rules are journald's (journald.conf(5)):
//!
//! * `SystemMaxUse=`: at most 10 % of the file system, capped at 4 GiB.
//! * `SystemKeepFree=`: leave 15 % of the file system free, capped at 4 GiB.
//!   "systemd-journald will respect both limits and use the smaller of the
//!   two values": the store may hold at most
//!   `min(max_use, its usage + free space - keep_free)`.
//! * Like journald's per-file minimum, the store may always keep a small
//!   floor (`min_use`, 2 % of the file system within 1..16 MiB) even when
//!   others have eaten the keep-free space; a truly full disk then pauses
//!   writing (see `maint`).
//!
//! Every byte of the store counts: sealed and compressed segments, the open
//! segment, a compressed copy being written, the SQLite index, its WAL and
//! shared-memory file. Retention runs when a segment is sealed (every
//! `seg_limit` bytes, so a flood cannot outrun it) and makes room for the
//! growth that may come before the next pass ([`Budget::reserve`]).

use std::path::Path;

/// SystemMaxUse= and SystemKeepFree= defaults are capped at this.
const CAP: u64 = 4 << 30;
/// The smallest size bound honoured: room for a few segments and the index.
const MIN_MAX_USE: u64 = 1 << 20;
/// Smallest and largest segment.
const MIN_SEGMENT: u64 = 64 << 10;
/// journald's MIN_USE_LOW / MIN_USE_HIGH.
const MIN_USE_LOW: u64 = 1 << 20;
const MIN_USE_HIGH: u64 = 16 << 20;
/// Largest WAL between two checkpoints (SQLite's default is 4 MiB).
const MAX_WAL: u64 = 1 << 20;
const MIN_WAL: u64 = 64 << 10;
/// A paused writer resumes when at least this much is free.
pub(crate) const RESUME_FREE: u64 = 256 << 10;

/// The limits of one store on one file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    /// The size bound (SystemMaxUse=).
    pub max_use: u64,
    /// Space left to others (SystemKeepFree=).
    pub keep_free: u64,
    /// What the store may keep even when others took the keep-free space.
    pub min_use: u64,
    /// The open segment is sealed at this size.
    pub seg_limit: u64,
    /// The index's WAL is checkpointed (and truncated) at about this size.
    pub wal_cap: u64,
}

impl Budget {
    /// The budget from configured values (`None` = journald's default) and the
    /// size of the file system (`None` = unknown: the caps apply).
    pub fn new(
        max_use: Option<u64>,
        keep_free: Option<u64>,
        segment_size: u64,
        fs_total: Option<u64>,
    ) -> Budget {
        let share = |pct: u64| fs_total.map_or(CAP, |t| (t / 100 * pct).min(CAP));
        let max_use = max_use.unwrap_or_else(|| share(10)).max(MIN_MAX_USE);
        let keep_free = keep_free.unwrap_or_else(|| share(15));
        let min_use = fs_total
            .map_or(MIN_USE_HIGH, |t| t / 50)
            .clamp(MIN_USE_LOW, MIN_USE_HIGH)
            .min(max_use);
        // journald's SystemMaxFileSize= default: an eighth of the bound.
        let seg_limit = segment_size.min(max_use / 8).max(MIN_SEGMENT);
        let wal_cap = (max_use / 16).clamp(MIN_WAL, MAX_WAL);
        Budget {
            max_use,
            keep_free,
            min_use,
            seg_limit,
            wal_cap,
        }
    }

    /// The budget for a store in `dir`.
    pub fn for_dir(
        dir: &Path,
        max_use: Option<u64>,
        keep_free: Option<u64>,
        segment_size: u64,
    ) -> Budget {
        Budget::new(max_use, keep_free, segment_size, fs_stats(dir).map(|s| s.0))
    }

    /// Growth that may come before the next retention pass: a whole open
    /// segment, a compressed copy of a sealed one being written beside it
    /// (at worst as large), and a full WAL.
    pub fn reserve(&self) -> u64 {
        2 * self.seg_limit + self.wal_cap
    }

    /// Whether a store holding `usage` bytes, `closed` of them besides its
    /// open segment, fits with room for the growth until the next pass: within
    /// the size bound always, and within what leaves `keep_free` free on the
    /// file system (`avail` free now; `None` = unknown) unless it is down to
    /// its floor.
    pub fn fits(&self, closed: u64, usage: u64, avail: Option<u64>) -> bool {
        let need = closed + self.reserve();
        if need > self.max_use {
            return false;
        }
        let by_free = avail.map_or(u64::MAX, |a| (usage + a).saturating_sub(self.keep_free));
        need <= by_free || closed <= self.min_use
    }
}

/// (total, available to unprivileged users) bytes of the file system holding
/// `dir`.
pub(crate) fn fs_stats(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: zeroed statvfs is a valid value for this plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a valid out-pointer.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return None;
    }
    let fr = st.f_frsize as u64;
    Some((st.f_blocks as u64 * fr, st.f_bavail as u64 * fr))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const SEG: u64 = 64 * MIB;

    #[test]
    fn journald_defaults_on_a_small_file_system() {
        let b = Budget::new(None, None, SEG, Some(20 * MIB));
        assert_eq!(b.max_use, 20 * MIB / 100 * 10);
        assert_eq!(b.keep_free, 20 * MIB / 100 * 15);
        assert_eq!(b.seg_limit, b.max_use / 8);
        assert!(b.reserve() < b.max_use / 2, "{b:?}");
        assert_eq!(b.min_use, MIB);
    }

    #[test]
    fn defaults_are_capped_at_4_gib_on_a_large_one() {
        let b = Budget::new(None, None, SEG, Some(1 << 44));
        assert_eq!((b.max_use, b.keep_free), (4 << 30, 4 << 30));
        assert_eq!(b.seg_limit, SEG);
        assert_eq!(b.wal_cap, MAX_WAL);
        assert_eq!(b.min_use, MIN_USE_HIGH);
    }

    #[test]
    fn configured_values_win_and_tiny_bounds_are_raised() {
        let b = Budget::new(Some(200 * MIB), Some(MIB), SEG, Some(1 << 40));
        assert_eq!((b.max_use, b.keep_free), (200 * MIB, MIB));
        assert_eq!(b.seg_limit, 25 * MIB);
        let b = Budget::new(Some(1000), None, SEG, Some(1 << 40));
        assert_eq!(b.max_use, MIN_MAX_USE);
        assert_eq!(b.seg_limit, MIN_SEGMENT * 2);
    }

    #[test]
    fn the_smaller_of_max_use_and_keep_free_wins() {
        let b = Budget::new(Some(400 * MIB), Some(50 * MIB), 8 * MIB, Some(1 << 40));
        let r = b.reserve();
        // Plenty free: the size bound.
        assert!(b.fits(400 * MIB - r, 400 * MIB - r, Some(1 << 30)));
        assert!(!b.fits(400 * MIB - r + 1, 400 * MIB, Some(1 << 30)));
        // 100 MiB free, 50 must stay free: 50 more than now, reserve included.
        assert!(b.fits(50 * MIB, 50 * MIB, Some(100 * MIB)));
        assert!(!b.fits(100 * MIB, 100 * MIB, Some(50 * MIB + r - 1)));
        // Others took the keep-free space: down to the floor, not below.
        assert!(!b.fits(b.min_use + 1, b.min_use + 1, Some(0)));
        assert!(b.fits(b.min_use, b.min_use, Some(0)));
    }

    #[test]
    fn the_store_fits_within_its_bound_with_its_reserve() {
        for total in [20 * MIB, 100 * MIB, 1 << 30, 1 << 40] {
            let b = Budget::new(None, None, SEG, Some(total));
            let closed = b.max_use - b.reserve();
            assert!(b.fits(closed, closed, Some(total / 2)), "{total}: {b:?}");
            assert!(!b.fits(closed + 1, closed + 1, Some(total / 2)));
            assert!(
                closed + b.reserve() <= total - b.keep_free,
                "{total}: {b:?}"
            );
        }
    }
}
