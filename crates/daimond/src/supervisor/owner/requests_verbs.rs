//! systemctl's small verbs, applied by the owner: the states behind
//! `is-active`/`is-enabled`/`is-failed`, `kill`, `reset-failed`, and the unit
//! name patterns (`web@*`) that start/stop/restart/kill accept.
//!
//! Patterns follow systemctl(1): a name with `*`, `?` or `[` is matched
//! (fnmatch) against the units in memory, templates excluded, and a pattern
//! that matches nothing is an error naming it.

use daimon_proto::{
    ActiveState, ErrorKind, ErrorReply, JobResult, KillWhom, Response, UnitState, glob_match,
    is_glob,
};

use super::Owner;
use crate::process::signal::signal_verified;
use crate::process::tree;
use crate::supervisor::machine::Event;
use crate::supervisor::registry::{Entry, Load};

fn reply(kind: ErrorKind, message: impl Into<String>) -> ErrorReply {
    ErrorReply {
        kind,
        message: message.into(),
    }
}

/// A signal as systemctl's `--signal` takes it: `TERM`, `SIGTERM`, `term`,
/// `RTMIN+3`, or a number from 0 (no signal: only checks) to SIGRTMAX.
pub fn parse_signal(s: &str) -> Result<i32, ErrorReply> {
    let bad = || {
        reply(
            ErrorKind::Invalid,
            format!(
                "unknown signal \"{s}\"; use a name such as TERM, HUP, INT, KILL, USR1, \
                 or a number from 1 to {}",
                libc::SIGRTMAX()
            ),
        )
    };
    if let Ok(n) = s.parse::<i32>() {
        return if (0..=libc::SIGRTMAX()).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = s.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rest) = bare.strip_prefix("RTMIN") {
        let off: i32 = match rest {
            "" => 0,
            r => r
                .strip_prefix('+')
                .and_then(|n| n.parse().ok())
                .ok_or_else(bad)?,
        };
        let n = libc::SIGRTMIN() + off;
        return if n <= libc::SIGRTMAX() {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    format!("SIG{bare}")
        .parse::<nix::sys::signal::Signal>()
        .map(|sig| sig as i32)
        .map_err(|_| bad())
}

/// A template (`web@.service`) is no unit that runs; patterns skip it.
fn is_template(name: &str) -> bool {
    name.contains("@.")
}

impl Owner {
    /// What the user typed, names and patterns, as loaded unit names in the
    /// order given (each once). The error names an unknown unit or a pattern
    /// that matches nothing.
    pub fn resolve_patterns(&mut self, typed: &[String]) -> Result<Vec<String>, Response> {
        let mut names: Vec<String> = Vec::new();
        for t in typed {
            if !is_glob(t) {
                let n = self.resolve(t)?;
                if !names.contains(&n) {
                    names.push(n);
                }
                continue;
            }
            let pattern = daimon_unit::with_default_suffix(t);
            let matched: Vec<String> = self
                .units
                .keys()
                .filter(|n| !is_template(n) && glob_match(&pattern, n))
                .cloned()
                .collect();
            if matched.is_empty() {
                return Err(Response::Error(reply(
                    ErrorKind::NotFound,
                    format!("no loaded unit matches the pattern \"{pattern}\""),
                )));
            }
            for n in matched {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        Ok(names)
    }

    /// For queries (`is-*`, `show`): a pattern stands for the loaded units it
    /// matches, possibly none; a name for itself, known or not.
    pub(in crate::supervisor) fn query_names(&self, typed: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in typed {
            if !is_glob(t) {
                out.push(t.clone());
                continue;
            }
            let pattern = daimon_unit::with_default_suffix(t);
            out.extend(
                self.units
                    .keys()
                    .filter(|n| !is_template(n) && glob_match(&pattern, n))
                    .filter(|n| !out.contains(n))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
        }
        out
    }

    /// `is-active`/`is-enabled`/`is-failed`: states of each unit; an unknown
    /// one is `not-found`, `inactive` (systemctl prints a state for it too).
    pub(in crate::supervisor) fn unit_states(&mut self, typed: &[String]) -> Response {
        let names = self.query_names(typed);
        let mut out = Vec::with_capacity(names.len());
        for t in &names {
            let known = self.resolve(t).ok();
            let Some(e) = known.as_ref().and_then(|n| self.units.get(n)) else {
                out.push(UnitState {
                    name: daimon_unit::with_default_suffix(t),
                    load_state: "not-found".into(),
                    state: ActiveState::Inactive,
                    sub_state: "dead".into(),
                    enabled: "not-found".into(),
                });
                continue;
            };
            let (state, sub_state) = self.active_state(e);
            out.push(UnitState {
                name: e.name.clone(),
                load_state: e.load_state().to_string(),
                state,
                sub_state: sub_state.to_string(),
                enabled: self.unit_file_state(e).to_string(),
            });
        }
        Response::UnitStates(out)
    }

    /// systemd's `UnitFileState`: `enabled`, `disabled`, `static`, `transient`,
    /// and `masked`/`bad` for files that cannot run; `not-found` without a file.
    pub(in crate::supervisor) fn unit_file_state(&self, e: &Entry) -> &'static str {
        if e.transient.is_some() {
            return "transient";
        }
        match &e.load {
            Load::Masked(_) => "masked",
            Load::Bad { .. } => "bad",
            Load::NotFound => "not-found",
            Load::Loaded(_) => self.enabled_state(e),
        }
    }

    /// `reset-failed`: every named unit (patterns allowed), or every unit.
    pub(in crate::supervisor) fn reset_failed(&mut self, typed: &[String]) -> Response {
        let names = if typed.is_empty() {
            self.units.keys().cloned().collect()
        } else {
            match self.resolve_patterns(typed) {
                Ok(n) => n,
                Err(r) => return r,
            }
        };
        for n in &names {
            // A timer's state comes from its schedule: nothing to reset.
            if self.is_socket(n) {
                self.reset_failed_socket(n);
            } else if self.is_path_unit(n) {
                self.reset_failed_path(n);
            } else if self.units.get(n).is_some_and(|e| !e.is_timer()) {
                self.feed(n, Event::ResetFailed);
            }
        }
        let results = if typed.is_empty() {
            Vec::new()
        } else {
            names
                .into_iter()
                .map(|unit| JobResult { unit, error: None })
                .collect()
        };
        Response::Jobs(results)
    }

    /// `kill`: `signal` to the main process, or to every process of each unit
    /// (systemctl's default `--kill-whom=all`). What happens next is the
    /// unit's own business: a main process that dies is handled as any exit
    /// (Restart= applies), as in systemd.
    pub(in crate::supervisor) fn kill_units(
        &mut self,
        typed: &[String],
        signal: &str,
        whom: KillWhom,
    ) -> Response {
        let signal = match parse_signal(signal) {
            Ok(n) => n,
            Err(e) => return Response::Error(e),
        };
        let names = match self.resolve_patterns(typed) {
            Ok(n) => n,
            Err(r) => return r,
        };
        let results = names
            .into_iter()
            .map(|unit| {
                let error = self.kill_unit(&unit, signal, whom);
                JobResult { unit, error }
            })
            .collect();
        Response::Jobs(results)
    }

    fn kill_unit(&mut self, name: &str, signal: i32, whom: KillWhom) -> Option<ErrorReply> {
        let orphans = match whom {
            KillWhom::All => self.escape_candidates(name),
            KillWhom::Main => Vec::new(),
        };
        let e = self.units.get(name)?;
        if e.is_idle() || e.invocation.is_empty() {
            return Some(reply(
                ErrorKind::Failed,
                format!("{name} is not running; there is no process to signal"),
            ));
        }
        let mut signalled = 0;
        let mut roots = Vec::new();
        let handles = match whom {
            KillWhom::Main => [e.main.as_ref(), None],
            KillWhom::All => [e.main.as_ref(), e.control.as_ref()],
        };
        for h in handles.into_iter().flatten() {
            if h.signal(signal).unwrap_or(false) {
                signalled += 1;
            }
            roots.push(h.pid);
        }
        if whom == KillWhom::All {
            for (pid, st) in tree::service_tree(&roots, &e.invocation, &orphans, &e.sessions) {
                if !roots.contains(&pid)
                    && signal_verified(pid, st.start_time, signal).unwrap_or(false)
                {
                    signalled += 1;
                }
            }
        }
        if signalled > 0 {
            return None;
        }
        let what = match whom {
            KillWhom::Main => "no main process",
            KillWhom::All => "no process",
        };
        Some(reply(
            ErrorKind::Failed,
            format!("{name} has {what} to signal"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_as_systemctl_takes_them() {
        assert_eq!(parse_signal("TERM"), Ok(libc::SIGTERM));
        assert_eq!(parse_signal("SIGTERM"), Ok(libc::SIGTERM));
        assert_eq!(parse_signal("hup"), Ok(libc::SIGHUP));
        assert_eq!(parse_signal("9"), Ok(9));
        assert_eq!(parse_signal("USR1"), Ok(libc::SIGUSR1));
        assert_eq!(parse_signal("RTMIN+2"), Ok(libc::SIGRTMIN() + 2));
        for bad in ["FOO", "-1", "99", "RTMIN+99", "RTMIN2"] {
            let e = parse_signal(bad).expect_err(bad);
            assert!(
                e.message.starts_with(&format!("unknown signal \"{bad}\"")),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn templates_are_no_units_for_patterns() {
        assert!(is_template("web@.service"));
        assert!(!is_template("web@a.service"));
    }
}
