//! `[Service]` directives, per systemd.service(5), systemd.exec(5) and systemd.kill(5).

use super::policy::warn_unsupported;
use super::{Cx, Outcome, assign_list};
use crate::model::{
    KillMode, NotifyAccess, RestartPolicy, RuntimeDirectoryPreserve, ServiceSection, ServiceType,
    StdInput, StdOutput, WorkingDirectory,
};
use crate::syntax::Entry;
use crate::value::ValueError;
use crate::value::boolean::parse_bool;
use crate::value::env::parse_environment;
use crate::value::exec::{ExecCommand, is_env_name, parse_exec};
use crate::value::number::{parse_mode, parse_nice, parse_unsigned};
use crate::value::rlimit::{Resource, parse_rlimit};
use crate::value::signal::parse_signal;
use crate::value::timespan::{TimeSpan, parse_timespan};
use crate::value::words::split_words;
use std::path::PathBuf;
use std::time::Duration;

/// Pick one of `choices` (name, value) or report what was expected.
fn choice<T: Copy>(cx: &mut Cx<'_, '_>, e: &Entry, choices: &[(&str, T)]) -> Option<T> {
    let v = e.value.as_str();
    if let Some(&(_, t)) = choices.iter().find(|(n, _)| *n == v) {
        return Some(t);
    }
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    cx.error(
        e,
        ValueError::new(v, "a valid choice", &format!("one of {}", names.join(", "))),
    );
    None
}

/// Timeouts: `0` means "no timeout" (systemd.service(5) TimeoutStartSec=).
fn timeout(cx: &mut Cx<'_, '_>, e: &Entry) -> Option<TimeSpan> {
    cx.parse(e, parse_timespan).map(|t| match t {
        TimeSpan::Finite(d) if d.is_zero() => TimeSpan::Infinity,
        t => t,
    })
}

fn exec_list<'s>(s: &'s mut ServiceSection, key: &str) -> Option<&'s mut Vec<ExecCommand>> {
    Some(match key {
        "ExecCondition" => &mut s.exec_condition,
        "ExecStartPre" => &mut s.exec_start_pre,
        "ExecStart" => &mut s.exec_start,
        "ExecStartPost" => &mut s.exec_start_post,
        "ExecReload" => &mut s.exec_reload,
        "ExecStop" => &mut s.exec_stop,
        "ExecStopPost" => &mut s.exec_stop_post,
        _ => return None,
    })
}

/// An absolute path after specifier expansion.
fn abs_path(cx: &mut Cx<'_, '_>, e: &Entry, v: &str) -> Option<PathBuf> {
    if v.starts_with('/') {
        Some(PathBuf::from(v))
    } else {
        cx.error(
            e,
            ValueError::new(v, "an absolute path", "e.g. /var/lib/app"),
        );
        None
    }
}

fn std_output(cx: &mut Cx<'_, '_>, e: &Entry) -> Option<StdOutput> {
    let v = cx.expanded(e)?;
    let path = |cx: &mut Cx<'_, '_>, p: &str| abs_path(cx, e, p);
    Some(match v.as_str() {
        "inherit" => StdOutput::Inherit,
        "null" => StdOutput::Null,
        "tty" => StdOutput::Tty,
        "journal" | "syslog" | "journal+console" | "syslog+console" => StdOutput::Journal,
        "kmsg" | "kmsg+console" => StdOutput::Kmsg,
        "socket" => StdOutput::Socket,
        s => {
            if let Some(p) = s.strip_prefix("file:") {
                StdOutput::File(path(cx, p)?)
            } else if let Some(p) = s.strip_prefix("append:") {
                StdOutput::Append(path(cx, p)?)
            } else if let Some(p) = s.strip_prefix("truncate:") {
                StdOutput::Truncate(path(cx, p)?)
            } else if let Some(n) = s.strip_prefix("fd:") {
                StdOutput::Fd(n.to_string())
            } else {
                cx.error(
                    e,
                    ValueError::new(
                        s,
                        "an output",
                        "one of journal, null, inherit, tty, kmsg, socket, file:PATH, append:PATH, truncate:PATH",
                    ),
                );
                return None;
            }
        }
    })
}

fn std_input(cx: &mut Cx<'_, '_>, e: &Entry) -> Option<StdInput> {
    let v = cx.expanded(e)?;
    Some(match v.as_str() {
        "null" => StdInput::Null,
        "tty" => StdInput::Tty,
        "tty-force" => StdInput::TtyForce,
        "tty-fail" => StdInput::TtyFail,
        "data" => StdInput::Data,
        "socket" => StdInput::Socket,
        s => {
            if let Some(p) = s.strip_prefix("file:") {
                StdInput::File(abs_path(cx, e, p)?)
            } else if let Some(n) = s.strip_prefix("fd:") {
                StdInput::Fd(n.to_string())
            } else {
                cx.error(
                    e,
                    ValueError::new(
                        s,
                        "an input",
                        "one of null, tty, tty-force, tty-fail, data, socket, file:PATH",
                    ),
                );
                return None;
            }
        }
    })
}

/// Relative directory names for RuntimeDirectory= and friends (systemd.exec(5): "must be
/// relative", no `..`).
fn dir_names(cx: &mut Cx<'_, '_>, e: &Entry) -> Option<Vec<String>> {
    let v = cx.expanded(e)?;
    let words = cx.ok(e, split_words(&v))?;
    for w in &words {
        // `name:symlink` (systemd >= 250) names a symlink too; check the first part.
        let dir = w.split(':').next().unwrap_or(w);
        if dir.is_empty() || dir.starts_with('/') || dir.split('/').any(|c| c == "..") {
            cx.error(
                e,
                ValueError::new(w, "a relative directory name", "e.g. app or app/sub"),
            );
            return None;
        }
    }
    Some(words)
}

pub(crate) fn apply(s: &mut ServiceSection, cx: &mut Cx<'_, '_>, e: &Entry) -> Outcome {
    let key = e.key.as_str();
    if key == "X-DaimonWatchIgnore" {
        if let Some(v) = cx.expanded(e) {
            assign_list(&mut s.watch_ignore, &v, [v.clone()]);
        }
        return Outcome::Done;
    }
    if key == "X-DaimonWatch" {
        if let Some(v) = cx.expanded(e) {
            if v.is_empty() {
                s.watch.clear();
            } else if v.starts_with('/') {
                s.watch.push(std::path::PathBuf::from(v));
            } else {
                cx.error(
                    e,
                    crate::value::ValueError::new(&v, "an absolute path", "e.g. /srv/app"),
                );
            }
        }
        return Outcome::Done;
    }
    if let Some(list) = exec_list(s, key) {
        if e.value.is_empty() {
            list.clear();
            return Outcome::Done;
        }
        let resolver = cx.resolver;
        let r = parse_exec(&e.value, &mut |w| {
            resolver.expand(w).map_err(|err| ValueError(err.0))
        });
        if let Some(cmd) = cx.ok(e, r) {
            list.push(cmd);
        }
        return Outcome::Done;
    }
    if let Some(res) = Resource::from_directive(key) {
        if let Some(lim) = cx.parse(e, |v| parse_rlimit(res, v)) {
            s.limits.retain(|(r, _)| *r != res);
            s.limits.push((res, lim));
        }
        return Outcome::Done;
    }
    match key {
        "Type" => {
            use ServiceType::*;
            if e.value == "dbus" {
                cx.warn(
                    e,
                    "Type=dbus is not supported by daimon; the service runs as Type=simple",
                );
                s.service_type = Simple;
            } else if let Some(t) = choice(
                cx,
                e,
                &[
                    ("simple", Simple),
                    ("exec", Exec),
                    ("forking", Forking),
                    ("oneshot", Oneshot),
                    ("notify", Notify),
                    ("notify-reload", NotifyReload),
                    ("idle", Idle),
                ],
            ) {
                s.service_type = t;
            }
        }
        "Restart" => {
            if let Some(r) = choice(cx, e, &RestartPolicy::NAMED) {
                s.restart = r;
            }
        }
        "RestartSec" => {
            // systemd accepts "infinity" (config_parse_sec): never restart in practice.
            if let Some(t) = cx.parse(e, parse_timespan) {
                s.restart_sec = t.as_duration().unwrap_or(Duration::MAX);
            }
        }
        "RestartSteps" => {
            if let Some(n) = cx.parse(e, parse_unsigned) {
                s.restart_steps = n;
            }
        }
        "RestartMaxDelaySec" => {
            if let Some(t) = cx.parse(e, parse_timespan) {
                s.restart_max_delay = t;
            }
        }
        "RestartPreventExitStatus" | "RestartForceExitStatus" | "SuccessExitStatus" => {
            let set = match key {
                "RestartPreventExitStatus" => &mut s.restart_prevent_exit_status,
                "RestartForceExitStatus" => &mut s.restart_force_exit_status,
                _ => &mut s.success_exit_status,
            };
            if e.value.is_empty() {
                *set = Default::default();
            } else {
                let mut next = set.clone();
                if cx.parse(e, |v| next.extend_from(v)).is_some() {
                    *set = next;
                }
            }
        }
        "TimeoutStartSec" => {
            if let Some(t) = timeout(cx, e) {
                s.timeout_start = t;
            }
        }
        "TimeoutStopSec" => {
            if let Some(t) = timeout(cx, e) {
                s.timeout_stop = t;
            }
        }
        "TimeoutSec" => {
            if let Some(t) = timeout(cx, e) {
                s.timeout_start = t;
                s.timeout_stop = t;
            }
        }
        "RuntimeMaxSec" => {
            if let Some(t) = timeout(cx, e) {
                s.runtime_max = t;
            }
        }
        "WatchdogSec" => {
            if let Some(t) = cx.parse(e, parse_timespan) {
                s.watchdog = t.as_duration().filter(|d| !d.is_zero());
            }
        }
        "RemainAfterExit" | "GuessMainPID" | "NoNewPrivileges" | "SendSIGKILL" | "SendSIGHUP"
        | "SyslogLevelPrefix" => {
            if let Some(b) = cx.parse(e, parse_bool) {
                *match key {
                    "RemainAfterExit" => &mut s.remain_after_exit,
                    "GuessMainPID" => &mut s.guess_main_pid,
                    "NoNewPrivileges" => &mut s.no_new_privileges,
                    "SendSIGKILL" => &mut s.send_sigkill,
                    "SendSIGHUP" => &mut s.send_sighup,
                    _ => &mut s.syslog_level_prefix,
                } = b;
            }
        }
        "PIDFile" => {
            if let Some(v) = cx.expanded(e) {
                // systemd.service(5): a relative PIDFile= is relative to /run (%t).
                s.pid_file = if v.is_empty() {
                    None
                } else if v.starts_with('/') {
                    Some(PathBuf::from(v))
                } else {
                    Some(PathBuf::from(&cx.resolver.ctx.runtime_dir).join(v))
                };
            }
        }
        "NotifyAccess" => {
            use NotifyAccess::*;
            if let Some(n) = choice(
                cx,
                e,
                &[("none", None), ("main", Main), ("exec", Exec), ("all", All)],
            ) {
                s.notify_access = Some(n);
            }
        }
        "User" | "Group" => {
            if let Some(v) = cx.expanded(e) {
                if v.contains(char::is_whitespace) {
                    cx.error(
                        e,
                        ValueError::new(
                            &v,
                            "a user or group name",
                            "a name like www-data or a numeric id",
                        ),
                    );
                } else {
                    let v = (!v.is_empty()).then_some(v);
                    if key == "User" {
                        s.user = v
                    } else {
                        s.group = v
                    }
                }
            }
        }
        "SupplementaryGroups" => {
            if let Some(words) = cx.parse(e, split_words) {
                assign_list(&mut s.supplementary_groups, &e.value, words);
            }
        }
        "WorkingDirectory" => {
            let Some(v) = cx.expanded(e) else {
                return Outcome::Done;
            };
            if v.is_empty() {
                s.working_directory = None;
                s.working_directory_missing_ok = false;
                return Outcome::Done;
            }
            let (missing_ok, p) = match v.strip_prefix('-') {
                Some(p) => (true, p),
                None => (false, v.as_str()),
            };
            let wd = if p == "~" {
                Some(WorkingDirectory::Home)
            } else {
                abs_path(cx, e, p).map(WorkingDirectory::Path)
            };
            if let Some(wd) = wd {
                s.working_directory = Some(wd);
                s.working_directory_missing_ok = missing_ok;
            }
        }
        "RootDirectory" => {
            if let Some(v) = cx.expanded(e) {
                if v.is_empty() {
                    s.root_directory = None;
                } else if let Some(p) = abs_path(cx, e, &v) {
                    s.root_directory = Some(p);
                    warn_unsupported(cx, e);
                }
            }
        }
        "Environment" => {
            if let Some(vars) = cx.parse(e, parse_environment) {
                assign_list(&mut s.environment, &e.value, vars);
            }
        }
        "EnvironmentFile" => {
            let Some(v) = cx.expanded(e) else {
                return Outcome::Done;
            };
            if v.is_empty() {
                s.environment_files.clear();
            } else {
                let (optional, p) = match v.strip_prefix('-') {
                    Some(p) => (true, p),
                    None => (false, v.as_str()),
                };
                if let Some(p) = abs_path(cx, e, p) {
                    s.environment_files.push((p, optional));
                }
            }
        }
        "UnsetEnvironment" | "PassEnvironment" => {
            let Some(words) = cx.parse(e, split_words) else {
                return Outcome::Done;
            };
            let valid = |w: &String| {
                let name = if key == "UnsetEnvironment" {
                    w.split('=').next().unwrap_or(w)
                } else {
                    w.as_str()
                };
                is_env_name(name)
            };
            if let Some(bad) = words.iter().find(|w| !valid(w)) {
                cx.error(
                    e,
                    ValueError::new(bad, "an environment variable name", "e.g. LANG or LC_ALL"),
                );
                return Outcome::Done;
            }
            let list = if key == "UnsetEnvironment" {
                &mut s.unset_environment
            } else {
                &mut s.pass_environment
            };
            assign_list(list, &e.value, words);
        }
        "UMask" => {
            if let Some(m) = cx.parse(e, parse_mode) {
                s.umask = m;
            }
        }
        // systemd accepts an empty Nice= or KillMode= as "back to the default".
        "Nice" | "KillMode" if e.value.is_empty() => {
            let d = ServiceSection::default();
            match key {
                "Nice" => s.nice = d.nice,
                _ => s.kill_mode = d.kill_mode,
            }
        }
        "Nice" => {
            if let Some(n) = cx.parse(e, parse_nice) {
                s.nice = Some(n);
            }
        }
        "KillMode" => {
            use KillMode::*;
            if let Some(k) = choice(
                cx,
                e,
                &[
                    ("control-group", ControlGroup),
                    ("mixed", Mixed),
                    ("process", Process),
                    ("none", None),
                ],
            ) {
                s.kill_mode = k;
            }
        }
        "KillSignal" | "FinalKillSignal" | "WatchdogSignal" | "ReloadSignal" => {
            if let Some(sig) = cx.parse(e, parse_signal) {
                *match key {
                    "KillSignal" => &mut s.kill_signal,
                    "FinalKillSignal" => &mut s.final_kill_signal,
                    "ReloadSignal" => &mut s.reload_signal,
                    _ => &mut s.watchdog_signal,
                } = sig;
            }
        }
        "RestartKillSignal" => {
            if let Some(sig) = cx.parse(e, parse_signal) {
                s.restart_kill_signal = Some(sig);
            }
        }
        "StandardInput" => {
            if let Some(i) = std_input(cx, e) {
                s.standard_input = i;
            }
        }
        "StandardOutput" => {
            if let Some(o) = std_output(cx, e) {
                s.standard_output = o;
            }
        }
        "StandardError" => {
            if let Some(o) = std_output(cx, e) {
                s.standard_error = o;
            }
        }
        "SyslogIdentifier" => {
            if let Some(v) = cx.expanded(e) {
                s.syslog_identifier = (!v.is_empty()).then_some(v);
            }
        }
        "RuntimeDirectory"
        | "StateDirectory"
        | "LogsDirectory"
        | "CacheDirectory"
        | "ConfigurationDirectory" => {
            if let Some(names) = dir_names(cx, e) {
                let d = &mut s.directories;
                let list = match key {
                    "RuntimeDirectory" => &mut d.runtime,
                    "StateDirectory" => &mut d.state,
                    "LogsDirectory" => &mut d.logs,
                    "CacheDirectory" => &mut d.cache,
                    _ => &mut d.configuration,
                };
                assign_list(list, &e.value, names);
            }
        }
        "RuntimeDirectoryMode"
        | "StateDirectoryMode"
        | "LogsDirectoryMode"
        | "CacheDirectoryMode"
        | "ConfigurationDirectoryMode" => {
            if let Some(m) = cx.parse(e, parse_mode) {
                let d = &mut s.directories;
                *match key {
                    "RuntimeDirectoryMode" => &mut d.runtime_mode,
                    "StateDirectoryMode" => &mut d.state_mode,
                    "LogsDirectoryMode" => &mut d.logs_mode,
                    "CacheDirectoryMode" => &mut d.cache_mode,
                    _ => &mut d.configuration_mode,
                } = m;
            }
        }
        "RuntimeDirectoryPreserve" => {
            use RuntimeDirectoryPreserve::*;
            let v = match e.value.as_str() {
                "restart" => Some(Restart),
                other => cx
                    .ok(
                        e,
                        parse_bool(other).map_err(|_| {
                            ValueError::new(other, "a valid choice", "yes, no or restart")
                        }),
                    )
                    .map(|b| if b { Yes } else { No }),
            };
            if let Some(v) = v {
                s.directories.runtime_preserve = v;
            }
        }
        _ => return Outcome::Unhandled,
    }
    Outcome::Done
}
