//! A [`UnitStatus`] to build on, field by field.

use crate::message::{ActiveState, UnitStatus};

impl UnitStatus {
    /// A loaded, disabled unit in `state`/`sub_state`, its last result
    /// `success`, and nothing else known yet (no process, no usage, no logs).
    pub fn loaded(name: &str, state: ActiveState, sub_state: &str) -> UnitStatus {
        UnitStatus {
            name: name.to_string(),
            description: None,
            load_state: "loaded".into(),
            state,
            sub_state: sub_state.to_string(),
            enabled: "disabled".into(),
            pid: None,
            restarts: 0,
            since: None,
            result: "success".into(),
            status_text: None,
            errno: None,
            memory_bytes: None,
            cpu_usec: None,
            tasks: vec![],
            cgroup: None,
            last_exit: None,
            reason: None,
            fragment_path: None,
            logs_dropped: None,
            logs_dropped_lines: None,
            recent_logs: vec![],
            timer: None,
            last_run: None,
            earlier_runs: Vec::new(),
            restart_policy: None,
        }
    }
}
