//! The `cgroup` scenario: what joining a unit's cgroups costs a spawn. One
//! service restarted by `kill -9` (Restart=always, RestartSec=0) as in the
//! `restart` scenario, first plain, then with `TasksMax=`, `CPUWeight=` and
//! `MemoryMax=` set so high they never bind: its child writes itself into
//! the unit's cgroup of every hierarchy (four on a cgroup v1 host, one on
//! v2) before exec. Where daimond can make no cgroup, the second run says
//! so instead of passing a plain spawn off as one in a cgroup.

use std::fs;

use crate::{BinDir, Home, kill_to_exec, ms, pct};

const LIMITS: &str = "TasksMax=100000\nCPUWeight=100\nMemoryMax=64G\n";

pub fn bench_cgroup(bins: &BinDir, reps: usize) {
    for (label, limits) in [("no cgroup", ""), ("in its cgroups", LIMITS)] {
        let mut home = Home::new(bins, 1);
        let unit = home.dir.path().join("units/b0.service");
        let text = fs::read_to_string(&unit).unwrap_or_default();
        if fs::write(
            &unit,
            text.replace("[Service]\n", &format!("[Service]\n{limits}")),
        )
        .is_err()
        {
            println!("| spawn, {label} | 1 | cannot write {} |", unit.display());
            return;
        }
        if !home.start_all(1).success() || !home.wait_services(1) {
            println!("| spawn, {label} | 1 | the service did not start |");
            return;
        }
        let joined = home
            .services()
            .first()
            .and_then(|p| fs::read_to_string(format!("/proc/{p}/cgroup")).ok())
            .map(|t| t.lines().filter(|l| l.contains("/daimon-")).count())
            .unwrap_or(0);
        if !limits.is_empty() && joined == 0 {
            println!(
                "| spawn, {label} | 1 | daimond could make no cgroup here (run as root, or in a delegated cgroup) |"
            );
            return;
        }
        match kill_to_exec(&mut home, reps) {
            Ok((lat, how)) => println!(
                "| kill -9 to new PID, {label} ({joined} hierarchies) | 1 | median {:.3} ms, p90 {:.3} ms over {} kills ({how}) |",
                ms(pct(&lat, 50)),
                ms(pct(&lat, 90)),
                lat.len()
            ),
            Err(e) => println!("| spawn, {label} | 1 | {e} |"),
        }
    }
}
