//! Admission: the one place a request's unit names are checked.
//!
//! Every unit name a request carries is checked by systemd's rules
//! (`unit_name_is_valid()`: `[A-Za-z0-9:_.\-@]`, at most 255 bytes, a non-empty
//! prefix before any `@`, a known type suffix) as it enters, before anything
//! reaches the supervisor or the log store. A name that fails never becomes a
//! unit, never reaches a job and never becomes part of a path (`Enable` of
//! `../../../tmp/evil.service` would otherwise be written into the enabled set).
//! The CLI checks the same way before sending, for its message; this check is
//! the one that holds against any client.

use daimon_proto::Request;

/// The first invalid unit name in `req`, as a message saying what a valid one
/// looks like.
pub fn check(req: &Request) -> Result<(), String> {
    let names: &[String] = match req {
        // Verbs that take patterns (`daimon stop 'web@*'`), matched against
        // loaded units only: a pattern never becomes a unit or a path.
        Request::Start { units }
        | Request::Stop { units }
        | Request::Restart { units }
        | Request::Reload { units }
        | Request::Status { units, .. }
        | Request::UnitStates { units }
        | Request::Kill { units, .. }
        | Request::ResetFailed { units }
        | Request::Show { units }
        | Request::Remove { units } => {
            return units.iter().try_for_each(|n| name_or_pattern(n));
        }
        Request::ListUnits { patterns, .. } | Request::ListUnitFiles { patterns } => {
            return patterns.iter().try_for_each(|n| pattern(n));
        }
        Request::Enable { units } | Request::Disable { units } => units,
        Request::Logs(l) => &l.units,
        Request::Cat { unit } | Request::Save { unit } | Request::Attach { unit, .. } => {
            std::slice::from_ref(unit)
        }
        Request::Run(r) => {
            return std::iter::once(&r.name)
                .chain(r.timer.as_ref().map(|t| &t.name))
                .chain(r.socket.as_ref().map(|t| &t.name))
                .try_for_each(|n| daimon_unit::check_requested(n).map(drop));
        }
        Request::List
        | Request::DaemonReload
        | Request::Timers
        | Request::Shutdown
        | Request::DaemonReexec
        | Request::Events => &[],
    };
    names
        .iter()
        .try_for_each(|n| daimon_unit::check_requested(n).map(drop))
}

/// A unit name, or a shell-style pattern of one.
fn name_or_pattern(n: &str) -> Result<(), String> {
    if daimon_proto::is_glob(n) {
        pattern(n)
    } else {
        daimon_unit::check_requested(n).map(drop)
    }
}

/// A pattern: the characters of unit names and `*?[]!^`, as long as a name.
fn pattern(p: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || ":_.-@\\*?[]!^".contains(c);
    if p.is_empty() || p.len() > 255 || !p.chars().all(ok_char) {
        let shown: String = p.chars().take(64).collect();
        return Err(format!(
            "invalid unit name pattern {shown:?}: a pattern uses the characters of unit names (a-z A-Z 0-9 : _ . - @ \\) and * ? [ ] !, at most 255 bytes, e.g. 'web@*'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_enter_only_where_they_are_matched() {
        let units = |u: &str| vec![u.to_string()];
        assert!(
            check(&Request::Stop {
                units: units("web@*")
            })
            .is_ok()
        );
        assert!(
            check(&Request::Show {
                units: units("w?b.service")
            })
            .is_ok()
        );
        assert!(
            check(&Request::ListUnits {
                all: true,
                states: vec![],
                patterns: units("[a-c]*"),
            })
            .is_ok()
        );
        assert!(
            check(&Request::Enable {
                units: units("web@*")
            })
            .is_err()
        );
        assert!(
            check(&Request::Stop {
                units: units("../*")
            })
            .is_err()
        );
        assert!(
            check(&Request::Stop {
                units: units("a b*")
            })
            .is_err()
        );
        assert!(
            check(&Request::Stop {
                units: units(&"x*".repeat(200))
            })
            .is_err()
        );
    }
    use daimon_proto::{LogsRequest, RunRequest, RunTimer};

    fn run(name: &str, timer: Option<&str>) -> Request {
        Request::Run(RunRequest {
            name: name.into(),
            unit_text: String::new(),
            save: false,
            enable: false,
            timer: timer.map(|t| RunTimer {
                name: t.into(),
                unit_text: String::new(),
            }),
            socket: None,
        })
    }

    #[test]
    fn every_name_of_every_request_is_checked() {
        let bad = || vec!["ok.service".to_string(), "a b".to_string()];
        let requests = [
            Request::Start { units: bad() },
            Request::Stop { units: bad() },
            Request::Restart { units: bad() },
            Request::Reload { units: bad() },
            Request::Enable {
                units: vec!["../../../tmp/evil.service".into()],
            },
            Request::Disable { units: bad() },
            Request::Status {
                units: bad(),
                log_lines: 0,
                brief: false,
            },
            Request::Cat {
                unit: "\u{fc}".into(),
            },
            Request::Logs(LogsRequest {
                units: bad(),
                ..Default::default()
            }),
            run("a b.service", None),
            run("ok.service", Some("x".repeat(100_000).as_str())),
        ];
        for r in &requests {
            let e = check(r).expect_err(&format!("{r:?}"));
            assert!(e.contains("is not a valid unit name"), "{e}");
        }
        assert!(check(&run("bot.service", Some("bot.timer"))).is_ok());
        assert!(
            check(&Request::Start {
                units: vec!["bot".into(), "getty@tty1.service".into()]
            })
            .is_ok()
        );
        assert!(check(&Request::List).is_ok());
    }
}
