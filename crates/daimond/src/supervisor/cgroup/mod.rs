//! `MemoryMax=` and `CPUQuota=` with cgroups, where daimond may write them.
//!
//! A unit with a limit gets its own cgroup below daimond's own (so daimond
//! never writes outside what it was given: as root on a plain host, inside a
//! `Delegate=yes` unit, or a delegated user tree), named `daimon-UNIT`, in
//! each hierarchy that has the controller: cgroup v1's `memory` and `cpu`
//! (`memory.limit_in_bytes`, `cpu.cfs_quota_us`; hybrid hosts, where the
//! unified tree has no controllers) or v2's (`memory.max`, `cpu.max`). Every
//! process of the unit joins it in the child, before exec, so no code of the
//! service runs outside its limits. Where no cgroup can be made the start
//! logs a warning naming the limit that is not enforced: never silence.
//! An OOM kill is read from the cgroup's own counter (`oom_kill` in
//! `memory.oom_control` or `memory.events`) and reported as systemd does,
//! with the result `oom-kill`.

use std::path::{Path, PathBuf};

use daimon_unit::{ByteLimit, ServiceSection};

/// The cgroup v1 period CPUQuota= is expressed in (systemd's default 100 ms).
const CFS_PERIOD_US: u64 = 100_000;

/// Where one controller's files for daimond's own cgroup are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// daimond's own cgroup directory in this hierarchy.
    pub own: PathBuf,
    pub v2: bool,
}

/// The hierarchies holding the memory and cpu controllers, from
/// /proc/self/cgroup (`ID:CONTROLLERS:PATH`) and where they are mounted.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub memory: Option<Hierarchy>,
    pub cpu: Option<Hierarchy>,
}

impl Layout {
    pub fn detect() -> Layout {
        let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        parse_layout(&text, Path::new("/sys/fs/cgroup"), |p| p.exists())
    }
}

/// `root` is where cgroup file systems are mounted; `exists` checks a path
/// (injected for tests).
pub fn parse_layout(proc_cgroup: &str, root: &Path, exists: impl Fn(&Path) -> bool) -> Layout {
    let mut l = Layout::default();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let rel = path.trim_start_matches('/');
        if ctrls.is_empty() {
            // v2: the unified tree, at the root (pure v2) or under unified/ (hybrid).
            for base in [root.to_path_buf(), root.join("unified")] {
                let own = base.join(rel);
                let file = base.join("cgroup.controllers");
                let ctl = std::fs::read_to_string(&file).unwrap_or_default();
                if !exists(&file) {
                    continue;
                }
                let h = Hierarchy { own, v2: true };
                if ctl.split_whitespace().any(|c| c == "memory") && l.memory.is_none() {
                    l.memory = Some(h.clone());
                }
                if ctl.split_whitespace().any(|c| c == "cpu") && l.cpu.is_none() {
                    l.cpu = Some(h);
                }
            }
            continue;
        }
        for c in ctrls.split(',') {
            let mount = root.join(ctrls);
            if !exists(&mount) {
                continue;
            }
            let h = Hierarchy {
                own: mount.join(rel),
                v2: false,
            };
            match c {
                "memory" => l.memory = Some(h),
                "cpu" => l.cpu = Some(h),
                _ => {}
            }
        }
    }
    l
}

/// `CPUQuota=` (hundredths of a percent) as microseconds per period.
pub fn cpu_quota_us(hundredths: u32) -> u64 {
    u64::from(hundredths) * CFS_PERIOD_US / 10_000
}

/// `MemoryMax=` in bytes; `None` for infinity.
pub fn memory_bytes(limit: ByteLimit) -> Option<u64> {
    match limit {
        ByteLimit::Bytes(b) => Some(b),
        ByteLimit::Percent(p) => {
            let total = std::fs::read_to_string("/proc/meminfo")
                .ok()?
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())?;
            Some(total * 1024 / 10_000 * u64::from(p))
        }
        ByteLimit::Infinity => None,
    }
}

/// One unit's cgroups (one per hierarchy used).
#[derive(Debug, Clone, Default)]
pub struct UnitCgroup {
    pub dirs: Vec<PathBuf>,
    /// The memory cgroup and whether it is v2, for the OOM counter.
    pub memory: Option<(PathBuf, bool)>,
    /// OOM kills counted before the current main process started.
    pub oom_before: u64,
}

impl UnitCgroup {
    /// Creates the unit's cgroups and writes its limits. `Err` lists what
    /// could not be enforced and why, for the start's warning.
    pub fn create(layout: &Layout, unit: &str, svc: &ServiceSection) -> (UnitCgroup, Vec<String>) {
        let mut cg = UnitCgroup::default();
        let mut problems = Vec::new();
        let name = format!("daimon-{unit}");
        if let Some(limit) = svc.memory_max {
            match (&layout.memory, memory_bytes(limit)) {
                (_, None) => {}
                (None, Some(_)) => {
                    problems.push("MemoryMax=: no memory cgroup controller here".into())
                }
                (Some(h), Some(bytes)) => {
                    let dir = h.own.join(&name);
                    let (file, value) = if h.v2 {
                        ("memory.max", bytes.to_string())
                    } else {
                        ("memory.limit_in_bytes", bytes.to_string())
                    };
                    match make(&dir).and_then(|()| write(&dir.join(file), &value)) {
                        Ok(()) => {
                            if !h.v2 {
                                // Swap counts too, where the kernel accounts it
                                // (systemd's MemorySwapMax= is separate; v1
                                // has no way to say "no swap" otherwise).
                                let _ = write(&dir.join("memory.memsw.limit_in_bytes"), &value);
                            }
                            cg.memory = Some((dir.clone(), h.v2));
                            cg.dirs.push(dir);
                        }
                        Err(e) => problems.push(format!("MemoryMax=: {e}")),
                    }
                }
            }
        }
        if let Some(q) = svc.cpu_quota {
            match &layout.cpu {
                None => problems.push("CPUQuota=: no cpu cgroup controller here".into()),
                Some(h) => {
                    let dir = h.own.join(&name);
                    let quota = cpu_quota_us(q);
                    let r = make(&dir).and_then(|()| {
                        if h.v2 {
                            write(&dir.join("cpu.max"), &format!("{quota} {CFS_PERIOD_US}"))
                        } else {
                            write(&dir.join("cpu.cfs_period_us"), &CFS_PERIOD_US.to_string())?;
                            write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())
                        }
                    });
                    match r {
                        Ok(()) => {
                            if !cg.dirs.contains(&dir) {
                                cg.dirs.push(dir);
                            }
                        }
                        Err(e) => problems.push(format!("CPUQuota=: {e}")),
                    }
                }
            }
        }
        cg.oom_before = cg.oom_kills();
        (cg, problems)
    }

    /// The `cgroup.procs` files a new process of the unit writes itself to.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// The kernel's count of OOM kills in the memory cgroup.
    pub fn oom_kills(&self) -> u64 {
        let Some((dir, v2)) = &self.memory else {
            return 0;
        };
        let file = if *v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        std::fs::read_to_string(dir.join(file))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("oom_kill "))
                    .and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// Removes the cgroups (only empty ones can go; a busy one stays).
    pub fn remove(&self) {
        for d in &self.dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn make(dir: &Path) -> Result<(), String> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("cannot create {}: {e}", dir.display())),
    }
}

fn write(file: &Path, value: &str) -> Result<(), String> {
    std::fs::write(file, value).map_err(|e| format!("cannot write {}: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hybrid_host_uses_the_v1_controllers() {
        let text = "9:name=systemd:/\n4:memory:/job/1\n2:cpu,cpuacct:/\n0::/\n";
        let l = parse_layout(text, Path::new("/cg"), |p| {
            p == Path::new("/cg/memory") || p == Path::new("/cg/cpu,cpuacct")
        });
        assert_eq!(
            l.memory,
            Some(Hierarchy {
                own: "/cg/memory/job/1".into(),
                v2: false
            })
        );
        assert_eq!(
            l.cpu,
            Some(Hierarchy {
                own: "/cg/cpu,cpuacct/".into(),
                v2: false
            })
        );
    }

    #[test]
    fn cpu_quota_is_a_share_of_the_period() {
        assert_eq!(cpu_quota_us(2000), 20_000); // 20%
        assert_eq!(cpu_quota_us(20000), 200_000); // 200%: two CPUs
        assert_eq!(memory_bytes(ByteLimit::Bytes(50 << 20)), Some(50 << 20));
        assert_eq!(memory_bytes(ByteLimit::Infinity), None);
    }
}
