//! `show`: a unit's state and settings as systemd's properties (`Key=value`,
//! the names of `systemctl show`), for scripts.
//!
//! The values come from what `status` already knows (one process walk for
//! memory, CPU and tasks) plus the unit's definition. Formats follow systemctl:
//! PIDs `0` when there is none, timestamps `Mon 2026-12-07 10:50:38 UTC` (empty
//! when the event never happened), time spans `1min 30s`/`infinity`, booleans
//! `yes`/`no`, lists space-separated, and `[not set]` for figures not known.
//! `ExecMainCode` is the `si_code` of the last main process's end
//! (1 exited, 2 killed, 3 dumped; 0 none) and `ExecMainStatus` its exit
//! status or signal number.

use daimon_proto::{Property, Response, UnitProperties, UnitStatus};
use daimon_unit::{KillMode, ServiceType, TimeSpan, Unit};

use super::Owner;
use crate::exit_status::ExitStatus;
use crate::supervisor::policy::format_span;
use crate::supervisor::stamps::Stamps;

/// What `show` knows of a unit beyond its [`UnitStatus`].
#[derive(Default)]
struct Facts<'a> {
    unit: Option<&'a Unit>,
    unit_file_state: &'a str,
    invocation: &'a str,
    control_pid: Option<u32>,
    /// The last main process, running or not (systemd's ExecMainPID).
    exec_main_pid: Option<u32>,
    last_exit: Option<ExitStatus>,
    stamps: Stamps,
}

impl Owner {
    pub(in crate::supervisor) fn show(&mut self, typed: &[String]) -> Response {
        let names = self.query_names(typed);
        let mut out = Vec::with_capacity(names.len());
        for t in &names {
            let Ok(name) = self.resolve(t) else {
                out.push(not_found(&daimon_unit::with_default_suffix(t)));
                continue;
            };
            let st = match self.status(std::slice::from_ref(&name), false) {
                Response::Status(mut list) if !list.is_empty() => list.remove(0),
                Response::Status(_) => continue,
                other => return other,
            };
            let Some(e) = self.units.get(&name) else {
                continue;
            };
            let facts = Facts {
                // The file as last read, as systemctl shows after a
                // daemon-reload, even while the run uses older settings.
                unit: e.loaded().or(e.def_unit()).map(|u| u.as_ref()),
                unit_file_state: self.unit_file_state(e),
                invocation: &e.invocation,
                control_pid: e.machine.control_pid,
                exec_main_pid: e.machine.main_pid.or(e.sessions.last().copied()),
                last_exit: e.machine.last_exit,
                stamps: e.stamps,
            };
            let tz = jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC);
            out.push(UnitProperties {
                unit: name.clone(),
                properties: properties(&st, &facts, &tz),
            });
        }
        Response::Properties(out)
    }
}

/// systemctl show of a unit that is not loaded: its name and `not-found`.
fn not_found(name: &str) -> UnitProperties {
    let p = |k: &str, v: &str| Property {
        name: k.into(),
        value: v.into(),
    };
    UnitProperties {
        unit: name.to_string(),
        properties: vec![
            p("Id", name),
            p("Names", name),
            p("LoadState", "not-found"),
            p("ActiveState", "inactive"),
            p("SubState", "dead"),
            p("UnitFileState", ""),
        ],
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn span(t: TimeSpan) -> String {
    match t.as_duration() {
        Some(d) => format_span(d),
        None => "infinity".into(),
    }
}

fn stamp(t: Option<jiff::Timestamp>, tz: &jiff::tz::TimeZone) -> String {
    t.map(|t| {
        t.to_zoned(tz.clone())
            .strftime("%a %Y-%m-%d %H:%M:%S %Z")
            .to_string()
    })
    .unwrap_or_default()
}

fn or_not_set(v: Option<u64>) -> String {
    v.map(|v| v.to_string())
        .unwrap_or_else(|| "[not set]".into())
}

fn service_type(t: ServiceType) -> &'static str {
    match t {
        ServiceType::Simple => "simple",
        ServiceType::Exec => "exec",
        ServiceType::Forking => "forking",
        ServiceType::Oneshot => "oneshot",
        ServiceType::Notify => "notify",
        ServiceType::NotifyReload => "notify-reload",
        ServiceType::Idle => "idle",
    }
}

fn kill_mode(k: KillMode) -> &'static str {
    match k {
        KillMode::ControlGroup => "control-group",
        KillMode::Mixed => "mixed",
        KillMode::Process => "process",
        KillMode::None => "none",
    }
}

/// `ExecStart=` as systemctl shows an exec command.
fn exec_line(c: &daimon_unit::ExecCommand) -> String {
    format!(
        "{{ path={} ; argv[]={} ; ignore_errors={} }}",
        c.path,
        c.argv.join(" "),
        yes_no(c.ignore_failure)
    )
}

fn properties(st: &UnitStatus, f: &Facts<'_>, tz: &jiff::tz::TimeZone) -> Vec<Property> {
    let mut v: Vec<(&str, String)> = Vec::new();
    let pid = |p: Option<u32>| p.unwrap_or(0).to_string();
    let svc = f.unit.and_then(|u| u.service());
    if let Some(s) = svc {
        v.push(("Type", service_type(s.service_type).into()));
        v.push(("Restart", s.restart.as_str().into()));
        v.push(("RestartUSec", format_span(s.restart_sec)));
        v.push(("TimeoutStartUSec", span(s.timeout_start)));
        v.push(("TimeoutStopUSec", span(s.timeout_stop)));
        v.push(("RemainAfterExit", yes_no(s.remain_after_exit)));
        let pid_file = s.pid_file.as_ref().map(|p| p.display().to_string());
        v.push(("PIDFile", pid_file.unwrap_or_default()));
    }
    v.push(("MainPID", pid(st.pid)));
    v.push(("ControlPID", pid(f.control_pid)));
    v.push(("StatusText", st.status_text.clone().unwrap_or_default()));
    v.push(("StatusErrno", st.errno.unwrap_or(0).to_string()));
    v.push(("Result", st.result.clone()));
    v.push(("NRestarts", st.restarts.to_string()));
    if let Some(s) = svc {
        let start: Vec<String> = s.exec_start.iter().map(exec_line).collect();
        v.push(("ExecStart", start.join(" ")));
    }
    v.push(("ExecMainPID", pid(f.exec_main_pid)));
    let (code, status) = match f.last_exit {
        Some(ExitStatus::Exited(c)) => (1, c),
        Some(ExitStatus::Killed {
            signal,
            core_dumped,
        }) => (if core_dumped { 3 } else { 2 }, signal),
        Some(ExitStatus::Unknown) | None => (0, 0),
    };
    v.push(("ExecMainCode", code.to_string()));
    v.push(("ExecMainStatus", status.to_string()));
    if let Some(s) = svc {
        let wd = match &s.working_directory {
            Some(daimon_unit::WorkingDirectory::Home) => "~".into(),
            Some(daimon_unit::WorkingDirectory::Path(p)) => p.display().to_string(),
            None => String::new(),
        };
        v.push(("WorkingDirectory", wd));
        v.push(("User", s.user.clone().unwrap_or_default()));
        v.push(("Group", s.group.clone().unwrap_or_default()));
        let env: Vec<String> = s
            .environment
            .iter()
            .map(|(k, x)| format!("{k}={x}"))
            .collect();
        v.push(("Environment", env.join(" ")));
        v.push(("KillMode", kill_mode(s.kill_mode).into()));
        v.push(("KillSignal", s.kill_signal.to_string()));
    }
    v.push(("MemoryCurrent", or_not_set(st.memory_bytes)));
    v.push((
        "CPUUsageNSec",
        or_not_set(st.cpu_usec.map(|u| u.saturating_mul(1000))),
    ));
    let cg = st.cgroup.clone().unwrap_or_default();
    v.push(("MemoryPeak", or_not_set(cg.memory_peak)));
    let tasks = (!st.tasks.is_empty()).then_some(st.tasks.len() as u64);
    v.push(("TasksCurrent", or_not_set(cg.tasks_current.or(tasks))));
    // systemctl show's names; `infinity` where no limit is written.
    let limit = |x: Option<u64>| x.map_or("infinity".to_string(), |n| n.to_string());
    v.push(("MemoryHigh", limit(cg.memory_high)));
    v.push(("MemoryMax", limit(cg.memory_max)));
    v.push(("TasksMax", limit(cg.tasks_max)));
    v.push((
        "ControlGroup",
        cg.paths.first().cloned().unwrap_or_default(),
    ));
    v.push(("Id", st.name.clone()));
    v.push(("Names", st.name.clone()));
    if let Some(u) = f.unit {
        let d = &u.unit;
        v.push(("Requires", d.requires.join(" ")));
        v.push(("Wants", d.wants.join(" ")));
        v.push(("BindsTo", d.binds_to.join(" ")));
        v.push(("Conflicts", d.conflicts.join(" ")));
        v.push(("Before", d.before.join(" ")));
        v.push(("After", d.after.join(" ")));
    }
    let description = f.unit.and_then(|u| u.unit.description.clone());
    v.push((
        "Description",
        description.or(st.description.clone()).unwrap_or_default(),
    ));
    v.push(("LoadState", st.load_state.clone()));
    v.push(("ActiveState", st.state.as_str().into()));
    v.push(("SubState", st.sub_state.clone()));
    v.push(("FragmentPath", st.fragment_path.clone().unwrap_or_default()));
    let dropins: Vec<String> = f
        .unit
        .map(|u| {
            u.dropin_paths
                .iter()
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.push(("DropInPaths", dropins.join(" ")));
    v.push(("UnitFileState", f.unit_file_state.into()));
    let s = &f.stamps;
    v.push(("StateChangeTimestamp", stamp(s.state_change, tz)));
    v.push(("InactiveExitTimestamp", stamp(s.inactive_exit, tz)));
    v.push(("ActiveEnterTimestamp", stamp(s.active_enter, tz)));
    v.push(("ActiveExitTimestamp", stamp(s.active_exit, tz)));
    v.push(("InactiveEnterTimestamp", stamp(s.inactive_enter, tz)));
    if let Some(u) = f.unit {
        v.push((
            "StartLimitIntervalUSec",
            format_span(u.unit.start_limit_interval),
        ));
        v.push(("StartLimitBurst", u.unit.start_limit_burst.to_string()));
    }
    v.push(("InvocationID", f.invocation.to_string()));
    v.into_iter()
        .map(|(k, value)| Property {
            name: k.to_string(),
            value,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> UnitStatus {
        UnitStatus {
            description: Some("Web".into()),
            restarts: 2,
            result: "exit-code".into(),
            fragment_path: Some("/u/web.service".into()),
            ..UnitStatus::loaded("web.service", daimon_proto::ActiveState::Failed, "failed")
        }
    }

    fn get<'a>(props: &'a [Property], k: &str) -> &'a str {
        props
            .iter()
            .find(|p| p.name == k)
            .map(|p| p.value.as_str())
            .unwrap_or("<absent>")
    }

    #[test]
    fn a_failed_unit_shows_systemd_values() {
        let text = "[Unit]\nDescription=Web\nAfter=db.service\n[Service]\nExecStart=/bin/false\nRestart=on-failure\nRestartSec=5\n";
        let ctx = daimon_unit::SpecifierContext::from_env(false);
        let loaded = daimon_unit::parse_unit(
            "web.service",
            std::path::Path::new("/u/web.service"),
            text.as_bytes(),
            &[],
            &ctx,
        );
        let unit = loaded.unit.expect("unit");
        let f = Facts {
            unit: Some(&unit),
            unit_file_state: "disabled",
            exec_main_pid: Some(42),
            last_exit: Some(ExitStatus::Exited(1)),
            ..Facts::default()
        };
        let p = properties(&status(), &f, &jiff::tz::TimeZone::UTC);
        assert_eq!(get(&p, "Type"), "simple");
        assert_eq!(get(&p, "Restart"), "on-failure");
        assert_eq!(get(&p, "RestartUSec"), "5s");
        assert_eq!(get(&p, "MainPID"), "0");
        assert_eq!(get(&p, "ExecMainPID"), "42");
        assert_eq!(get(&p, "ExecMainCode"), "1");
        assert_eq!(get(&p, "ExecMainStatus"), "1");
        assert_eq!(get(&p, "NRestarts"), "2");
        assert_eq!(get(&p, "ActiveState"), "failed");
        assert_eq!(get(&p, "MemoryCurrent"), "[not set]");
        assert_eq!(get(&p, "After"), "db.service");
        assert_eq!(get(&p, "ActiveEnterTimestamp"), "");
        assert_eq!(
            get(&p, "ExecStart"),
            "{ path=/bin/false ; argv[]=/bin/false ; ignore_errors=no }"
        );
    }

    #[test]
    fn timestamps_read_as_systemctl_prints_them() {
        let t = jiff::Timestamp::from_second(1_796_640_638).expect("timestamp");
        assert_eq!(
            stamp(Some(t), &jiff::tz::TimeZone::UTC),
            "Mon 2026-12-07 10:50:38 UTC"
        );
    }
}
