//! Which unit names `daimon logs` accepts.
//!
//! Owns the rule that a unit name given to `logs` must be known, so that a typo
//! exits 4 as `status` does instead of printing "-- No entries --": a unit is
//! known when the supervisor has it (loaded, or loadable from the units
//! directory, or transient) or when the log store has lines under its name (a
//! transient unit that is gone, daimond's own messages). A known unit without
//! lines still answers "-- No entries --".

use daimon_proto::{ErrorKind, Request, Response, unit_name};

use super::LogService;
use crate::supervisor::SupervisorHandle;

/// The names to look up in the store for what a user typed: as typed, and as
/// the unit name systemctl would make of it (`bot.sh` -> `bot.sh.service`).
pub fn store_names(typed: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(typed.len() * 2);
    for t in typed {
        for n in [t.clone(), unit_name(t)] {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// The supervisor's "not found" message for the first unit neither it nor the
/// store knows; None when every name is known.
pub async fn unknown_unit(
    typed: &[String],
    supervisor: &SupervisorHandle,
    svc: &LogService,
) -> Option<String> {
    let mut unknown: Vec<(String, String)> = Vec::new();
    for t in typed {
        if loaded(supervisor, t).await {
            continue;
        }
        // For the message (with its "did you mean"): what `status` says.
        let req = Request::Status {
            units: vec![unit_name(t)],
            log_lines: 0,
            brief: true,
        };
        if let Response::Error(e) = supervisor.request(req).await
            && e.kind == ErrorKind::NotFound
        {
            unknown.push((t.clone(), e.message));
        }
    }
    if unknown.is_empty() {
        return None;
    }
    let svc = svc.clone();
    let check = tokio::task::spawn_blocking(move || {
        // A store that cannot be read does not make a name unknown.
        let Ok(mut reader) = svc.take_reader() else {
            return None;
        };
        let missing = unknown
            .into_iter()
            .find(|(t, _)| {
                !store_names(std::slice::from_ref(t))
                    .iter()
                    .any(|n| reader.has_unit(n))
            })
            .map(|(_, msg)| msg);
        svc.give_back(reader);
        missing
    });
    check.await.ok().flatten()
}

/// Whether the supervisor has the unit loaded: its state alone, without the
/// process walk a `status` makes (a `logs -n 1` polled in a loop asked for
/// one each time, a third of daimond's work for such a poll).
async fn loaded(supervisor: &SupervisorHandle, typed: &str) -> bool {
    let req = Request::UnitStates {
        units: vec![unit_name(typed)],
    };
    matches!(
        supervisor.request(req).await,
        Response::UnitStates(s) if s.len() == 1 && s[0].load_state != "not-found"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_names_are_also_looked_up_as_services() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            store_names(&v(&["bot.sh", "web", "web.service", "daimond"])),
            v(&[
                "bot.sh",
                "bot.sh.service",
                "web",
                "web.service",
                "daimond",
                "daimond.service"
            ])
        );
    }
}
