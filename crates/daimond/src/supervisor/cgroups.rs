//! The owner's side of resource limits: each unit with a resource-control
//! limit (`MemoryMax=`, `MemoryHigh=`, `CPUQuota=`, `CPUWeight=`,
//! `TasksMax=`) gets its cgroups before its first process, keeps them while
//! it runs, and loses them once it is inactive; an OOM kill becomes the
//! result `oom-kill`; `status` reads what the cgroup accounts.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use daimon_unit::ServiceSection;

use daimon_proto::CgroupStatus;

use super::cgroup::{Layout, UnitCgroup, group_name, has_limits};
use super::machine::Role;
use super::owner::Owner;
use super::policy::ServiceResult;
use crate::process::spawn::SpawnSpec;

/// The cgroup layout (read once) and each limited unit's cgroups.
#[derive(Default)]
pub struct Cgroups {
    layout: Option<Layout>,
    units: BTreeMap<String, UnitCgroup>,
    /// Cgroups of stopped units that were still busy when removed (a
    /// process not yet reaped still counts): tried again after each event.
    leftover: Vec<UnitCgroup>,
}

impl Owner {
    /// A process of `unit` joins the unit's cgroups (made now if needed).
    pub(super) fn cgroup_join(
        &mut self,
        unit: &str,
        svc: &ServiceSection,
        role: Role,
        spec: &mut SpawnSpec,
    ) {
        if !has_limits(svc) {
            return;
        }
        if !self.cgroups.units.contains_key(unit) {
            let group = group_name(&self.paths().state);
            let layout = self.cgroups.layout.get_or_insert_with(Layout::detect);
            let (cg, problems) = UnitCgroup::create(layout, &group, unit, svc);
            self.cgroups.leftover.retain(|l| l.dirs != cg.dirs);
            for p in problems {
                self.message(unit, 4, format!("{unit}: {p}; this limit is not enforced"));
            }
            self.cgroups.units.insert(unit.to_string(), cg);
        }
        let Some(cg) = self.cgroups.units.get_mut(unit) else {
            return;
        };
        if role == Role::Main {
            cg.oom_before = cg.oom_kills();
        }
        spec.join_cgroups = cg
            .procs_files()
            .iter()
            .filter_map(|p| CString::new(p.as_os_str().as_bytes()).ok())
            .collect();
    }

    /// What the unit's cgroup accounts, where it has one.
    pub(super) fn cgroup_usage(&self, unit: &str) -> Option<CgroupStatus> {
        self.cgroups.units.get(unit).map(UnitCgroup::usage)
    }

    /// The live processes in the unit's cgroup, with their start times.
    pub(super) fn cgroup_members(&self, unit: &str) -> Vec<(u32, u64)> {
        let Some(cg) = self.cgroups.units.get(unit) else {
            return Vec::new();
        };
        cg.pids()
            .into_iter()
            .filter_map(|pid| {
                crate::process::tree::stat(pid)
                    .filter(|s| s.state != 'Z' && s.state != 'X')
                    .map(|s| (pid, s.start_time))
            })
            .collect()
    }

    /// Whether the kernel OOM-killed a process of `unit` since its main
    /// process started.
    pub(super) fn oom_killed(&self, unit: &str) -> bool {
        self.cgroups
            .units
            .get(unit)
            .is_some_and(|c| c.oom_kills() > c.oom_before)
    }

    /// The main process ended by the OOM killer: systemd's result for it.
    pub(super) fn mark_oom(&mut self, unit: &str) {
        if let Some(e) = self.units.get_mut(unit) {
            if e.machine.result == ServiceResult::Signal {
                e.machine.result = ServiceResult::OomKill;
            }
            // The run just recorded ended the same way.
            if let Some(r) = e
                .last_run
                .as_mut()
                .filter(|r| r.result.as_deref() == Some("signal"))
            {
                r.result = Some(ServiceResult::OomKill.as_str().to_string());
            }
        }
        self.message(
            unit,
            3,
            format!("{unit}: a process of this unit was killed by the OOM killer (MemoryMax=)"),
        );
    }

    /// Cgroups of units that are inactive again are removed.
    pub fn cgroups_after_events(&mut self) {
        self.cgroups.leftover.retain(|cg| !cg.remove());
        if self.cgroups.units.is_empty() {
            return;
        }
        let idle: Vec<String> = self
            .cgroups
            .units
            .keys()
            .filter(|n| self.units.get(*n).is_none_or(|e| e.is_idle()) && !self.unit_busy(n))
            .cloned()
            .collect();
        for n in idle {
            if let Some(cg) = self.cgroups.units.remove(&n)
                && !cg.remove()
            {
                self.cgroups.leftover.push(cg);
            }
        }
    }
}
