//! From a service's resource-control directives to the cgroup files that
//! enforce them (systemd.resource-control(5)), for cgroup v2 or v1.
//!
//! Pure: what to write where, and which directive cannot be enforced here
//! and why. The host's totals (memory, task maximum) are passed in.

use daimon_unit::{ByteLimit, ServiceSection, TasksMax};

use super::layout::{Controller, Layout};

/// The period CPUQuota= is expressed in (systemd's default, 100 ms).
pub const CFS_PERIOD_US: u64 = 100_000;

/// One file to write in the unit's cgroup of `controller`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub controller: Controller,
    /// The directive it enforces, for the warning when it fails.
    pub directive: &'static str,
    pub file: &'static str,
    pub value: String,
    /// Best effort: a failure is no warning (e.g. v1's swap limit, which
    /// exists only where the kernel accounts swap).
    pub optional: bool,
}

/// What the host has, for percentages.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostTotals {
    pub memory_bytes: Option<u64>,
    /// The smaller of kernel.pid_max and kernel.threads-max (what systemd's
    /// `TasksMax=N%` is a share of).
    pub tasks: Option<u64>,
}

impl HostTotals {
    pub fn read() -> HostTotals {
        let memory_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            })
            .map(|kib| kib * 1024);
        let num = |f: &str| {
            std::fs::read_to_string(f)
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
        };
        let tasks = match (
            num("/proc/sys/kernel/pid_max"),
            num("/proc/sys/kernel/threads-max"),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        HostTotals {
            memory_bytes,
            tasks,
        }
    }
}

/// Whether the service asks for anything a cgroup enforces.
pub fn has_limits(svc: &ServiceSection) -> bool {
    svc.memory_max.is_some()
        || svc.memory_high.is_some()
        || svc.cpu_quota.is_some()
        || svc.cpu_weight.is_some()
        || svc.tasks_max.is_some()
}

/// `CPUQuota=` (hundredths of a percent) as microseconds per period.
pub fn cpu_quota_us(hundredths: u32) -> u64 {
    u64::from(hundredths) * CFS_PERIOD_US / 10_000
}

/// A memory limit in bytes; `None` for infinity.
pub fn memory_bytes(limit: ByteLimit, host: &HostTotals) -> Option<u64> {
    match limit {
        ByteLimit::Bytes(b) => Some(b),
        ByteLimit::Percent(p) => host.memory_bytes.map(|total| total / 10_000 * u64::from(p)),
        ByteLimit::Infinity => None,
    }
}

/// `TasksMax=` as a count; `None` for infinity.
pub fn tasks_count(limit: TasksMax, host: &HostTotals) -> Option<u64> {
    match limit {
        TasksMax::Count(n) => Some(n),
        TasksMax::Percent(p) => host
            .tasks
            .map(|total| (total * u64::from(p) / 10_000).max(1)),
        TasksMax::Infinity => None,
    }
}

/// systemd's `cgroup_cpu_weight_to_shares()`: v1's `cpu.shares` for a
/// `CPUWeight=` (100 is 1024), clamped to what the kernel takes.
pub fn cpu_shares(weight: u64) -> u64 {
    (weight * 1024 / 100).clamp(2, 262_144)
}

/// The settings for `svc` on `layout`, and the directives that cannot be
/// enforced here, each with its reason.
pub fn plan(
    svc: &ServiceSection,
    layout: &Layout,
    host: &HostTotals,
) -> (Vec<Setting>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut set = |controller, directive, file, value: String, optional| {
        out.push(Setting {
            controller,
            directive,
            file,
            value,
            optional,
        })
    };
    let v2 = |c: Controller| layout.get(c).map(|h| h.v2);
    if let Some(bytes) = svc.memory_max.and_then(|l| memory_bytes(l, host)) {
        match v2(Controller::Memory) {
            None => problems.push("MemoryMax=: no memory cgroup controller here".into()),
            Some(true) => set(
                Controller::Memory,
                "MemoryMax=",
                "memory.max",
                bytes.to_string(),
                false,
            ),
            Some(false) => {
                let b = bytes.to_string();
                set(
                    Controller::Memory,
                    "MemoryMax=",
                    "memory.limit_in_bytes",
                    b.clone(),
                    false,
                );
                // Swap counts too where the kernel accounts it: v1 has no
                // other way to keep a limited service from swapping past it.
                set(
                    Controller::Memory,
                    "MemoryMax=",
                    "memory.memsw.limit_in_bytes",
                    b,
                    true,
                );
            }
        }
    }
    if let Some(bytes) = svc.memory_high.and_then(|l| memory_bytes(l, host)) {
        match v2(Controller::Memory) {
            None => problems.push("MemoryHigh=: no memory cgroup controller here".into()),
            Some(true) => set(
                Controller::Memory,
                "MemoryHigh=",
                "memory.high",
                bytes.to_string(),
                false,
            ),
            // systemd applies MemoryHigh= on the unified hierarchy only.
            Some(false) => problems.push(
                "MemoryHigh=: cgroup v1 has no memory.high (systemd applies it on cgroup v2 only)"
                    .into(),
            ),
        }
    }
    if let Some(q) = svc.cpu_quota {
        let quota = cpu_quota_us(q);
        match v2(Controller::Cpu) {
            None => problems.push("CPUQuota=: no cpu cgroup controller here".into()),
            Some(true) => set(
                Controller::Cpu,
                "CPUQuota=",
                "cpu.max",
                format!("{quota} {CFS_PERIOD_US}"),
                false,
            ),
            Some(false) => {
                set(
                    Controller::Cpu,
                    "CPUQuota=",
                    "cpu.cfs_period_us",
                    CFS_PERIOD_US.to_string(),
                    false,
                );
                set(
                    Controller::Cpu,
                    "CPUQuota=",
                    "cpu.cfs_quota_us",
                    quota.to_string(),
                    false,
                );
            }
        }
    }
    if let Some(w) = svc.cpu_weight {
        match v2(Controller::Cpu) {
            None => problems.push("CPUWeight=: no cpu cgroup controller here".into()),
            Some(true) => set(
                Controller::Cpu,
                "CPUWeight=",
                "cpu.weight",
                w.to_string(),
                false,
            ),
            Some(false) => set(
                Controller::Cpu,
                "CPUWeight=",
                "cpu.shares",
                cpu_shares(w).to_string(),
                false,
            ),
        }
    }
    if let Some(t) = svc.tasks_max {
        let value = tasks_count(t, host).map_or("max".to_string(), |n| n.to_string());
        match v2(Controller::Pids) {
            None => problems.push("TasksMax=: no pids cgroup controller here".into()),
            Some(_) => set(Controller::Pids, "TasksMax=", "pids.max", value, false),
        }
    }
    (out, problems)
}

#[cfg(test)]
mod tests {
    use super::super::layout::Hierarchy;
    use super::*;

    fn layout(v2: bool) -> Layout {
        let h = Some(Hierarchy {
            own: "/cg".into(),
            v2,
        });
        Layout {
            memory: h.clone(),
            cpu: h.clone(),
            cpuacct: h.clone(),
            pids: h,
        }
    }

    fn svc() -> ServiceSection {
        ServiceSection {
            memory_max: Some(ByteLimit::Bytes(50 << 20)),
            memory_high: Some(ByteLimit::Bytes(40 << 20)),
            cpu_quota: Some(2000),
            cpu_weight: Some(50),
            tasks_max: Some(TasksMax::Percent(1000)),
            ..Default::default()
        }
    }

    fn files(s: &[Setting]) -> Vec<(&str, &str)> {
        s.iter().map(|s| (s.file, s.value.as_str())).collect()
    }

    const HOST: HostTotals = HostTotals {
        memory_bytes: Some(8 << 30),
        tasks: Some(4_194_304),
    };

    #[test]
    fn cgroup_v2_files() {
        let (s, problems) = plan(&svc(), &layout(true), &HOST);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            files(&s),
            [
                ("memory.max", "52428800"),
                ("memory.high", "41943040"),
                ("cpu.max", "20000 100000"),
                ("cpu.weight", "50"),
                ("pids.max", "419430"),
            ]
        );
    }

    #[test]
    fn cgroup_v1_files_and_what_v1_cannot_do() {
        let (s, problems) = plan(&svc(), &layout(false), &HOST);
        assert_eq!(
            files(&s),
            [
                ("memory.limit_in_bytes", "52428800"),
                ("memory.memsw.limit_in_bytes", "52428800"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "20000"),
                ("cpu.shares", "512"),
                ("pids.max", "419430"),
            ]
        );
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("MemoryHigh=: cgroup v1"),
            "{problems:?}"
        );
    }

    #[test]
    fn no_controller_is_a_reason_per_directive() {
        let (s, problems) = plan(&svc(), &Layout::default(), &HOST);
        assert!(s.is_empty());
        assert_eq!(problems.len(), 5, "{problems:?}");
    }

    #[test]
    fn conversions() {
        assert_eq!(cpu_quota_us(20000), 200_000); // 200%: two CPUs
        assert_eq!(cpu_shares(100), 1024);
        assert_eq!(cpu_shares(1), 10);
        assert_eq!(cpu_shares(10_000), 102_400);
        assert_eq!(memory_bytes(ByteLimit::Infinity, &HOST), None);
        assert_eq!(tasks_count(TasksMax::Infinity, &HOST), None);
        assert_eq!(tasks_count(TasksMax::Count(7), &HOST), Some(7));
    }
}
