//! What a unit's cgroup accounts, for `status` (systemctl's `Memory:`,
//! `Tasks:` and `CPU:` lines).

use serde::{Deserialize, Serialize};

/// A unit's cgroup and what the kernel counts in it (field names are part of
/// the JSON contract of `status -o json`). A value is absent where the
/// host's hierarchy does not count it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupStatus {
    /// The unit's cgroup directories, one per hierarchy (one on cgroup v2).
    pub paths: Vec<String>,
    pub memory_current: Option<u64>,
    /// The highest memory use since the cgroup was made.
    pub memory_peak: Option<u64>,
    /// `MemoryMax=` as written to the cgroup, bytes.
    pub memory_max: Option<u64>,
    /// `MemoryHigh=` as written to the cgroup, bytes.
    pub memory_high: Option<u64>,
    pub tasks_current: Option<u64>,
    /// `TasksMax=` as written to the cgroup.
    pub tasks_max: Option<u64>,
    /// CPU time (user+system), microseconds.
    pub cpu_usec: Option<u64>,
}
