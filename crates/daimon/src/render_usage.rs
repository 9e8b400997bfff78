//! The `Tasks:`, `Memory:`, `CPU:` and `CGroup:` lines of `status UNIT`, as
//! systemctl prints them: with the cgroup's limits and peak where the unit
//! has a cgroup (`Memory: 31.2M (high: 48M max: 64M peak: 40M)`), else what
//! the process tree uses.

use std::fmt::Write as _;

use daimon_proto::UnitStatus;

use crate::render::{bytes, cpu};

pub fn usage_lines(st: &UnitStatus) -> String {
    let mut out = String::new();
    let cg = st.cgroup.as_ref();
    let pids: Vec<String> = st.tasks.iter().map(u32::to_string).collect();
    let tasks_now = cg.and_then(|c| c.tasks_current);
    let tasks_max = cg.and_then(|c| c.tasks_max);
    if tasks_now.is_some() || !pids.is_empty() {
        let n = tasks_now.unwrap_or(pids.len() as u64);
        let mut detail: Vec<String> = Vec::new();
        if let Some(max) = tasks_max {
            detail.push(format!("limit: {max}"));
        }
        if !pids.is_empty() {
            detail.push(pids.join(" "));
        }
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", detail.join("; "))
        };
        let _ = writeln!(out, "      Tasks: {n}{detail}");
    }
    if let Some(m) = st.memory_bytes {
        let mut extra: Vec<String> = Vec::new();
        if let Some(c) = cg {
            for (name, v) in [
                ("high", c.memory_high),
                ("max", c.memory_max),
                ("peak", c.memory_peak),
            ] {
                if let Some(v) = v {
                    extra.push(format!("{name}: {}", bytes(v)));
                }
            }
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join(" "))
        };
        let _ = writeln!(out, "     Memory: {}{extra}", bytes(m));
    }
    if let Some(c) = st.cpu_usec {
        let _ = writeln!(out, "        CPU: {}", cpu(c));
    }
    if let Some(p) = cg.and_then(|c| c.paths.first()) {
        let _ = writeln!(out, "     CGroup: {p}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use daimon_proto::CgroupStatus;

    #[test]
    fn lines_with_and_without_a_cgroup() {
        let mut st: UnitStatus = serde_json::from_value(serde_json::json!({
            "name": "a.service", "description": null, "load_state": "loaded",
            "state": "active", "sub_state": "running", "enabled": "disabled",
            "pid": 10, "restarts": 0, "since": null, "result": "success",
            "status_text": null, "memory_bytes": 2097152, "cpu_usec": 1500000,
            "tasks": [10, 11], "last_exit": null, "reason": null,
            "fragment_path": null, "logs_dropped": null, "recent_logs": []
        }))
        .expect("status");
        assert_eq!(
            usage_lines(&st),
            "      Tasks: 2 (10 11)\n     Memory: 2.0M\n        CPU: 1.500s\n"
        );
        st.cgroup = Some(CgroupStatus {
            paths: vec!["/sys/fs/cgroup/daimon-1/a.service".into()],
            memory_current: Some(2 << 20),
            memory_peak: Some(3 << 20),
            memory_max: Some(64 << 20),
            memory_high: None,
            tasks_current: Some(3),
            tasks_max: Some(16),
            cpu_usec: Some(1_500_000),
        });
        assert_eq!(
            usage_lines(&st),
            "      Tasks: 3 (limit: 16; 10 11)\n     Memory: 2.0M (max: 64M peak: 3.0M)\n        CPU: 1.500s\n     CGroup: /sys/fs/cgroup/daimon-1/a.service\n"
        );
    }
}
