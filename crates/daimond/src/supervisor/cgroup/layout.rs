//! Where daimond's own cgroup is in each hierarchy, from /proc/self/cgroup
//! (`ID:CONTROLLERS:PATH`, cgroups(7)) and where the hierarchies are mounted.

use std::path::{Path, PathBuf};

/// Where one controller's files for daimond's own cgroup are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// daimond's own cgroup directory in this hierarchy.
    pub own: PathBuf,
    pub v2: bool,
}

/// A controller daimon uses: `cpuacct` is v1's CPU accounting (v2 has
/// `cpu.stat` in every cgroup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    Memory,
    Cpu,
    CpuAcct,
    Pids,
}

impl Controller {
    pub const ALL: [Controller; 4] = [
        Controller::Memory,
        Controller::Cpu,
        Controller::CpuAcct,
        Controller::Pids,
    ];

    /// The name in `cgroup.controllers` / `cgroup.subtree_control` (v2) or
    /// in /proc/self/cgroup (v1).
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::CpuAcct => "cpuacct",
            Controller::Pids => "pids",
        }
    }
}

/// The hierarchy of each controller daimon uses, where there is one.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub memory: Option<Hierarchy>,
    pub cpu: Option<Hierarchy>,
    pub cpuacct: Option<Hierarchy>,
    pub pids: Option<Hierarchy>,
}

impl Layout {
    pub fn detect() -> Layout {
        let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        parse_layout(&text, Path::new("/sys/fs/cgroup"), |p| {
            std::fs::read_to_string(p).ok()
        })
    }

    pub fn get(&self, c: Controller) -> Option<&Hierarchy> {
        match c {
            Controller::Memory => self.memory.as_ref(),
            Controller::Cpu => self.cpu.as_ref(),
            Controller::CpuAcct => self.cpuacct.as_ref(),
            Controller::Pids => self.pids.as_ref(),
        }
    }

    fn slot(&mut self, c: Controller) -> &mut Option<Hierarchy> {
        match c {
            Controller::Memory => &mut self.memory,
            Controller::Cpu => &mut self.cpu,
            Controller::CpuAcct => &mut self.cpuacct,
            Controller::Pids => &mut self.pids,
        }
    }

    /// The v2 controllers daimon needs enabled below daimond's own cgroup.
    pub fn v2_controllers(&self) -> Vec<&'static str> {
        [Controller::Memory, Controller::Cpu, Controller::Pids]
            .into_iter()
            .filter(|c| self.get(*c).is_some_and(|h| h.v2))
            .map(Controller::name)
            .collect()
    }
}

/// `root` is where cgroup file systems are mounted; `read` returns a file's
/// text, or `None` where it does not exist (injected for tests). A v1
/// hierarchy is found by its mount directory, named after its controllers
/// (its `cgroup.procs` is readable).
pub fn parse_layout(
    proc_cgroup: &str,
    root: &Path,
    read: impl Fn(&Path) -> Option<String>,
) -> Layout {
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
                let Some(ctl) = read(&base.join("cgroup.controllers")) else {
                    continue;
                };
                // The leaf daimond moved itself into (see `v2::prepare`):
                // its parent is the cgroup daimond was given.
                let rel = rel
                    .strip_suffix(super::v2::LEAF)
                    .map_or(rel, |r| r.trim_end_matches('/'));
                let h = Hierarchy {
                    own: base.join(rel),
                    v2: true,
                };
                for c in [Controller::Memory, Controller::Cpu, Controller::Pids] {
                    if ctl.split_whitespace().any(|n| n == c.name()) {
                        l.slot(c).get_or_insert_with(|| h.clone());
                    }
                }
                // cpu.stat is in every v2 cgroup: CPU accounting needs no controller.
                l.cpuacct.get_or_insert(h);
                break;
            }
            continue;
        }
        let mount = root.join(ctrls);
        if read(&mount.join("cgroup.procs")).is_none() {
            continue;
        }
        for c in ctrls.split(',') {
            if let Some(ctrl) = Controller::ALL.into_iter().find(|x| x.name() == c) {
                // v1 lines come before the v2 one: a v1 controller wins.
                *l.slot(ctrl) = Some(Hierarchy {
                    own: mount.join(rel),
                    v2: false,
                });
            }
        }
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hybrid_host_uses_the_v1_controllers() {
        let text = "9:name=systemd:/\n8:pids:/\n4:memory:/job/1\n2:cpu,cpuacct:/\n0::/\n";
        let l = parse_layout(text, Path::new("/cg"), |p| {
            let s = p.to_str()?;
            match s {
                "/cg/memory/cgroup.procs"
                | "/cg/cpu,cpuacct/cgroup.procs"
                | "/cg/pids/cgroup.procs" => Some(String::new()),
                "/cg/unified/cgroup.controllers" => Some(String::new()),
                _ => None,
            }
        });
        let v1 = |own: &str| {
            Some(Hierarchy {
                own: own.into(),
                v2: false,
            })
        };
        assert_eq!(l.memory, v1("/cg/memory/job/1"));
        assert_eq!(l.cpu, v1("/cg/cpu,cpuacct/"));
        assert_eq!(l.cpuacct, v1("/cg/cpu,cpuacct/"));
        assert_eq!(l.pids, v1("/cg/pids/"));
        assert!(l.v2_controllers().is_empty());
    }

    #[test]
    fn a_pure_v2_host_uses_one_tree() {
        let text = "0::/user.slice/app.service\n";
        let l = parse_layout(text, Path::new("/cg"), |p| {
            (p == Path::new("/cg/cgroup.controllers")).then(|| "cpu io memory pids\n".into())
        });
        let h = Some(Hierarchy {
            own: "/cg/user.slice/app.service".into(),
            v2: true,
        });
        assert_eq!(l.memory, h);
        assert_eq!(l.cpu, h);
        assert_eq!(l.pids, h);
        assert_eq!(l.cpuacct, h);
        assert_eq!(l.v2_controllers(), ["memory", "cpu", "pids"]);
        // Restarted from the leaf it made for itself: the same cgroup.
        let again = parse_layout(
            "0::/user.slice/app.service/daimond\n",
            Path::new("/cg"),
            |p| (p == Path::new("/cg/cgroup.controllers")).then(|| "memory\n".into()),
        );
        assert_eq!(again.memory, h);
    }
}
