//! Resource limits with cgroups, where daimond may write them:
//! `MemoryMax=`, `MemoryHigh=`, `CPUQuota=`, `CPUWeight=`, `TasksMax=`.
//!
//! A unit with a limit gets its own cgroup below daimond's own (so daimond
//! never writes outside what it was given: as root on a plain host, inside a
//! `Delegate=yes` unit, or a delegated user tree): `daimon-HOME/UNIT`, where
//! HOME is a short hash of daimond's state directory, so two daimonds in one
//! cgroup never share a unit's cgroup, and a restarted daimond finds its
//! units' cgroups again. The unit's cgroup is made in every hierarchy that
//! has a controller daimon uses: cgroup v1's `memory`, `cpu`, `cpuacct` and
//! `pids` (hybrid hosts, where the unified tree has no controllers), or the
//! one v2 tree ([`v2`] enables the controllers there). Every process of the
//! unit joins it in the child, before exec, so no code of the service runs
//! outside its limits. What cannot be enforced here is a warning at start,
//! naming the directive: never silence. An OOM kill is read from the
//! cgroup's own counter (`oom_kill` in `memory.oom_control` or
//! `memory.events`) and reported as systemd does, with the result
//! `oom-kill`. [`UnitCgroup::usage`] is what `status` shows.

pub mod layout;
pub mod limits;
pub mod v2;

use std::path::{Path, PathBuf};

use daimon_proto::CgroupStatus;
use daimon_unit::ServiceSection;

pub use layout::{Controller, Layout};
use limits::HostTotals;
pub use limits::has_limits;

/// The name of the cgroup that holds the unit cgroups of the daimond whose
/// state directory is `state` (FNV-1a: stable across restarts and builds).
pub fn group_name(state: &Path) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in state.as_os_str().as_encoded_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("daimon-{:08x}", h as u32)
}

/// One unit's cgroups (one per hierarchy used).
#[derive(Debug, Clone, Default)]
pub struct UnitCgroup {
    /// The unit's directories, without duplicates (one on v2).
    pub dirs: Vec<PathBuf>,
    /// The directory of each controller, where it could be made.
    by_controller: Vec<(Controller, PathBuf, bool)>,
    /// The limits written, for `status`.
    memory_max: Option<u64>,
    memory_high: Option<u64>,
    tasks_max: Option<u64>,
    /// OOM kills counted before the current main process started.
    pub oom_before: u64,
}

impl UnitCgroup {
    /// Creates the unit's cgroups under `group` and writes its limits; the
    /// second value lists what could not be enforced and why, for the
    /// start's warning.
    pub fn create(
        layout: &Layout,
        group: &str,
        unit: &str,
        svc: &ServiceSection,
    ) -> (UnitCgroup, Vec<String>) {
        let (settings, mut problems) = limits::plan(svc, layout, &HostTotals::read());
        let mut cg = UnitCgroup::default();
        let mut failed: Vec<(Controller, String)> = Vec::new();
        // Each hierarchy once: controllers sharing one (v2, or v1's
        // cpu,cpuacct) share the unit's directory.
        let mut made: Vec<(PathBuf, Result<PathBuf, String>)> = Vec::new();
        for c in Controller::ALL {
            let Some(h) = layout.get(c) else { continue };
            let dir = match made.iter().find(|(own, _)| *own == h.own) {
                Some((_, r)) => r.clone(),
                None => {
                    let parent = if h.v2 {
                        v2::prepare(&h.own, group, &layout.v2_controllers())
                    } else {
                        let p = h.own.join(group);
                        make(&p).map(|()| p)
                    };
                    let r = parent.and_then(|p| {
                        let dir = p.join(unit);
                        make(&dir).map(|()| dir)
                    });
                    if let Ok(d) = &r {
                        cg.dirs.push(d.clone());
                    }
                    made.push((h.own.clone(), r.clone()));
                    r
                }
            };
            match dir {
                Ok(dir) => cg.by_controller.push((c, dir, h.v2)),
                Err(e) => failed.push((c, e)),
            }
        }
        for s in &settings {
            let written = match cg.dir(s.controller) {
                Some(dir) => write(&dir.join(s.file), &s.value),
                None => Err(failed
                    .iter()
                    .find(|(c, _)| *c == s.controller)
                    .map_or_else(|| "no cgroup".to_string(), |(_, e)| e.clone())),
            };
            match written {
                Ok(()) => {
                    let n = s.value.parse().ok();
                    match s.file {
                        "memory.max" | "memory.limit_in_bytes" => cg.memory_max = n,
                        "memory.high" => cg.memory_high = n,
                        "pids.max" => cg.tasks_max = n,
                        _ => {}
                    }
                }
                Err(e) if !s.optional => {
                    let p = format!("{}: {e}", s.directive);
                    if !problems.contains(&p) {
                        problems.push(p);
                    }
                }
                Err(_) => {}
            }
        }
        cg.oom_before = cg.oom_kills();
        (cg, problems)
    }

    fn dir(&self, c: Controller) -> Option<&Path> {
        self.by_controller
            .iter()
            .find(|(x, _, _)| *x == c)
            .map(|(_, d, _)| d.as_path())
    }

    fn v2(&self, c: Controller) -> bool {
        self.by_controller.iter().any(|(x, _, v2)| *x == c && *v2)
    }

    /// The `cgroup.procs` files a new process of the unit writes itself to.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// The processes in the unit's cgroup (every hierarchy holds them all).
    pub fn pids(&self) -> Vec<u32> {
        self.dirs
            .first()
            .and_then(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
            .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    fn read_number(&self, c: Controller, file: &str) -> Option<u64> {
        let t = std::fs::read_to_string(self.dir(c)?.join(file)).ok()?;
        t.trim().parse().ok()
    }

    /// A `key value` line of a flat-keyed file (`memory.events`, `cpu.stat`).
    fn read_key(&self, c: Controller, file: &str, key: &str) -> Option<u64> {
        let t = std::fs::read_to_string(self.dir(c)?.join(file)).ok()?;
        t.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
            .and_then(|n| n.trim().parse().ok())
    }

    /// The kernel's count of OOM kills in the memory cgroup.
    pub fn oom_kills(&self) -> u64 {
        let file = if self.v2(Controller::Memory) {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        self.read_key(Controller::Memory, file, "oom_kill")
            .unwrap_or(0)
    }

    /// What the kernel accounts for the unit now.
    pub fn usage(&self) -> CgroupStatus {
        use Controller::*;
        let (current, peak) = if self.v2(Memory) {
            ("memory.current", "memory.peak")
        } else {
            ("memory.usage_in_bytes", "memory.max_usage_in_bytes")
        };
        let cpu_usec = if self.v2(CpuAcct) {
            self.read_key(CpuAcct, "cpu.stat", "usage_usec")
        } else {
            // cpuacct.usage is in nanoseconds.
            self.read_number(CpuAcct, "cpuacct.usage")
                .map(|ns| ns / 1000)
        };
        CgroupStatus {
            paths: self.dirs.iter().map(|d| d.display().to_string()).collect(),
            memory_current: self.read_number(Memory, current),
            memory_peak: self.read_number(Memory, peak),
            memory_max: self.memory_max,
            memory_high: self.memory_high,
            tasks_current: self.read_number(Pids, "pids.current"),
            tasks_max: self.tasks_max,
            cpu_usec,
        }
    }

    /// Removes the cgroups, and the group once no unit is left in it; false
    /// while one is still busy (only an empty cgroup can go, and a process
    /// counts until it is reaped).
    pub fn remove(&self) -> bool {
        let mut all = true;
        for d in &self.dirs {
            match std::fs::remove_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => all = false,
            }
            if let Some(group) = d.parent() {
                let _ = std::fs::remove_dir(group);
            }
        }
        all
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
    use super::layout::Hierarchy;
    use super::*;
    use daimon_unit::{ByteLimit, TasksMax};

    #[test]
    fn the_group_is_stable_per_home() {
        let a = group_name(Path::new("/home/a/.local/state/daimon"));
        assert_eq!(a, group_name(Path::new("/home/a/.local/state/daimon")));
        assert_ne!(a, group_name(Path::new("/home/b/.local/state/daimon")));
        assert!(a.starts_with("daimon-") && a.len() == 15, "{a}");
    }

    /// A v2 tree in a temporary directory: the files a limited unit gets,
    /// and what `status` reads back.
    #[test]
    fn a_unit_cgroup_on_a_v2_tree() {
        let root = tempfile::tempdir().expect("tempdir");
        let own = root.path().to_path_buf();
        std::fs::write(own.join("cgroup.controllers"), "memory cpu pids").expect("write");
        let h = Some(Hierarchy {
            own: own.clone(),
            v2: true,
        });
        let layout = Layout {
            memory: h.clone(),
            cpu: h.clone(),
            cpuacct: h.clone(),
            pids: h,
        };
        let svc = ServiceSection {
            memory_max: Some(ByteLimit::Bytes(64 << 20)),
            memory_high: Some(ByteLimit::Bytes(48 << 20)),
            cpu_weight: Some(20),
            tasks_max: Some(TasksMax::Count(16)),
            ..Default::default()
        };
        let (cg, problems) = UnitCgroup::create(&layout, "daimon-t", "a.service", &svc);
        assert!(problems.is_empty(), "{problems:?}");
        let dir = own.join("daimon-t/a.service");
        assert_eq!(cg.dirs, std::slice::from_ref(&dir));
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("read");
        assert_eq!(read("memory.max"), "67108864");
        assert_eq!(read("memory.high"), "50331648");
        assert_eq!(read("cpu.weight"), "20");
        assert_eq!(read("pids.max"), "16");
        for (f, v) in [
            ("memory.current", "1234\n"),
            ("memory.peak", "5678\n"),
            ("pids.current", "3\n"),
            ("cpu.stat", "usage_usec 4200\nuser_usec 4000\n"),
            ("memory.events", "low 0\noom 1\noom_kill 2\n"),
        ] {
            std::fs::write(dir.join(f), v).expect("write");
        }
        let u = cg.usage();
        assert_eq!(u.memory_current, Some(1234));
        assert_eq!(u.memory_peak, Some(5678));
        assert_eq!(u.memory_max, Some(64 << 20));
        assert_eq!(u.memory_high, Some(48 << 20));
        assert_eq!(u.tasks_current, Some(3));
        assert_eq!(u.tasks_max, Some(16));
        assert_eq!(u.cpu_usec, Some(4200));
        assert_eq!(cg.oom_kills(), 2);
        assert_eq!(cg.procs_files(), [dir.join("cgroup.procs")]);
    }
}
