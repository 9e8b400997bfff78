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
        Request::Start { units }
        | Request::Stop { units }
        | Request::Restart { units }
        | Request::Reload { units }
        | Request::Enable { units }
        | Request::Disable { units }
        | Request::Status { units, .. } => units,
        Request::Logs(l) => &l.units,
        Request::Cat { unit } => std::slice::from_ref(unit),
        Request::Run(r) => {
            return std::iter::once(&r.name)
                .chain(r.timer.as_ref().map(|t| &t.name))
                .try_for_each(|n| daimon_unit::check_requested(n).map(drop));
        }
        Request::List | Request::DaemonReload | Request::Timers | Request::Shutdown => &[],
    };
    names
        .iter()
        .try_for_each(|n| daimon_unit::check_requested(n).map(drop))
}

#[cfg(test)]
mod tests {
    use super::*;
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
                invocation: None,
                since: None,
                until: None,
                priority: None,
                grep: None,
                lines: None,
                follow: false,
                output: "short".into(),
                raw: false,
                color: false,
                matches: vec![],
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
