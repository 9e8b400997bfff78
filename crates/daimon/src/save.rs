//! `daimon save UNIT`, and what `daimon run --save/--enable` prints when its
//! unit already runs.
//!
//! Owns the words of the switch from a transient unit to a saved one: the
//! daemon writes the file and keeps the process (see daimond's
//! `supervisor::save`); here we look at the unit before and after, so that what
//! we print is what happened (the PID that kept running, the file written,
//! whether the new settings wait for the next start).

use daimon_proto::{ActiveState, Paths, Request, Response, UnitStatus, unit_name};

use crate::client::{QUICK, unexpected};
use crate::commands::connect;
use crate::error::CliResult;

/// A unit that runs before `run --save/--enable` is sent.
pub struct Before {
    /// None while a restart is pending.
    pub pid: Option<u32>,
    pub transient: bool,
    /// Its unit text (transient units), to tell whether settings change.
    pub text: Option<String>,
}

fn status_of(paths: &Paths, name: &str) -> Option<UnitStatus> {
    let req = Request::Status {
        units: vec![name.to_string()],
        log_lines: 0,
        brief: false,
    };
    match connect(paths).ok()?.call(&req, QUICK) {
        Ok(Response::Status(mut list)) if !list.is_empty() => Some(list.remove(0)),
        _ => None,
    }
}

/// What runs as `name` now, if anything (errors count as nothing: the run
/// request that follows reports them).
pub fn before(paths: &Paths, name: &str) -> Option<Before> {
    let st = status_of(paths, name)?;
    let pid = st.pid;
    if matches!(st.state, ActiveState::Inactive | ActiveState::Failed) {
        return None;
    }
    let transient = st.load_state == "transient";
    let text = if transient {
        let req = Request::Cat {
            unit: name.to_string(),
        };
        match connect(paths).ok()?.call(&req, QUICK) {
            Ok(Response::Cat(files)) => files.into_iter().next().map(|f| f.text),
            _ => None,
        }
    } else {
        None
    };
    Some(Before {
        pid,
        transient,
        text,
    })
}

/// The lines `run --save/--enable` prints when the unit ran already and the
/// daemon kept it.
pub fn kept_lines(b: &Before, after: Option<&UnitStatus>, name: &str, new_text: &str) -> String {
    let short = name.strip_suffix(".service").unwrap_or(name);
    let file = after
        .and_then(|s| s.fragment_path.clone())
        .unwrap_or_else(|| name.to_string());
    let pid = b.pid.filter(|p| after.and_then(|s| s.pid) == Some(*p));
    let mut out = match (b.transient, pid) {
        (false, Some(p)) => format!("{name} is already running (pid {p}) from {file}.\n"),
        (false, None) => format!("{name} is already running from {file}.\n"),
        (true, Some(p)) => {
            format!("Saved {name} as {file}; it keeps running, not restarted (pid {p}).\n")
        }
        (true, None) => format!("Saved {name} as {file}.\n"),
    };
    if b.transient && b.text.as_deref().is_some_and(|t| t != new_text) {
        out.push_str(&format!(
            "Its new settings apply when it next starts: daimon restart {short}\n"
        ));
    }
    out
}

/// After a successful `run --save/--enable` of a unit that ran already.
pub fn report_kept(paths: &Paths, b: &Before, name: &str, new_text: &str) {
    let after = status_of(paths, name);
    print!("{}", kept_lines(b, after.as_ref(), name, new_text));
}

/// `daimon save UNIT`.
pub fn save(paths: &Paths, unit: &str) -> CliResult {
    let name = unit_name(unit);
    let before = status_of(paths, &name);
    let resp = connect(paths)?.call(&Request::Save { unit: name.clone() }, QUICK)?;
    let Response::Cat(files) = resp else {
        return Err(unexpected(resp));
    };
    let file = files
        .first()
        .map(|f| f.path.clone())
        .unwrap_or_else(|| name.clone());
    let short = name.strip_suffix(".service").unwrap_or(&name);
    match before.and_then(|s| s.pid) {
        Some(pid) => {
            println!("Saved {name} as {file}; it keeps running, not restarted (pid {pid}).")
        }
        None => println!("Saved {name} as {file}."),
    }
    println!("Start it with the daemon: daimon enable {short}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(pid: u32) -> UnitStatus {
        UnitStatus {
            enabled: "enabled".into(),
            pid: Some(pid),
            fragment_path: Some("/u/bot.service".into()),
            ..UnitStatus::loaded("bot.service", ActiveState::Active, "running")
        }
    }

    #[test]
    fn says_what_happened() {
        let b = Before {
            pid: Some(7),
            transient: true,
            text: Some("A".into()),
        };
        assert_eq!(
            kept_lines(&b, Some(&st(7)), "bot.service", "A"),
            "Saved bot.service as /u/bot.service; it keeps running, not restarted (pid 7).\n"
        );
        assert_eq!(
            kept_lines(&b, Some(&st(7)), "bot.service", "B"),
            "Saved bot.service as /u/bot.service; it keeps running, not restarted (pid 7).\n\
             Its new settings apply when it next starts: daimon restart bot\n"
        );
        let saved = Before {
            pid: Some(7),
            transient: false,
            text: None,
        };
        assert_eq!(
            kept_lines(&saved, Some(&st(7)), "bot.service", "A"),
            "bot.service is already running (pid 7) from /u/bot.service.\n"
        );
        // Saved while a restart was pending: no PID to speak of.
        let pending = Before {
            pid: None,
            transient: true,
            text: Some("A".into()),
        };
        assert_eq!(
            kept_lines(&pending, Some(&st(9)), "bot.service", "A"),
            "Saved bot.service as /u/bot.service.\n"
        );
    }
}
