//! Turning a `LogsRequest` into a journal `Query` and a renderer, with one-line
//! `Invalid` complaints naming the bad argument (`--since: ...`, `invalid match
//! "PRIORITY=9"`): the same checks for the socket and the HTTP API.

use daimon_journal::format::{OutputFormat, Renderer};
use daimon_journal::timeexpr::parse_time;
use daimon_journal::{Query, Stream};
use daimon_proto::LogsRequest;
use jiff::tz::TimeZone;

use super::known;

/// The query a request asks for and how to render it, or the one-line complaint
/// about its arguments.
pub fn build_query(req: &LogsRequest) -> Result<(Query, Renderer), String> {
    let format: OutputFormat = req.output.parse().map_err(|e| format!("--output: {e}"))?;
    if req.reverse && req.follow {
        // journalctl refuses the pair too: a follow has no newest end.
        return Err("--reverse and --follow cannot be combined".into());
    }
    let now = jiff::Timestamp::now();
    let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
    let time = |flag: &str, v: &Option<String>| -> Result<Option<jiff::Timestamp>, String> {
        match v {
            None => Ok(None),
            Some(expr) => parse_time(expr, now, &tz)
                .map(Some)
                .map_err(|e| format!("--{flag}: {e}")),
        }
    };
    let since = time("since", &req.since)?;
    let until = time("until", &req.until)?;
    let max_priority = match &req.priority {
        None => None,
        Some(p) => Some(daimon_journal::priority::parse(p).ok_or_else(|| {
            format!(
                "invalid --priority \"{p}\": expected 0-7 or one of emerg, alert, crit, err, \
                 warning, notice, info, debug"
            )
        })?),
    };
    let mut query = Query {
        // As typed and as a unit name: `bot` is `bot.service`, `bot.sh` (from
        // `daimon run -- ./bot.sh`) is `bot.sh.service`, `daimond` is daimond's
        // own messages.
        units: known::store_names(&req.units),
        invocation: req.invocation.clone(),
        since,
        until,
        max_priority,
        grep: req.grep.clone(),
        lines: req.lines,
        reverse: req.reverse,
        after: None,
        ..Query::default()
    };
    for m in &req.matches {
        apply_match(m, &mut query)?;
    }
    Ok((query, renderer(format)))
}

/// One journalctl-style `FIELD=VALUE` match, for the fields the store indexes.
/// Several values of one field are alternatives, as in journalctl.
fn apply_match(m: &str, q: &mut Query) -> Result<(), String> {
    let (field, value) = m.split_once('=').unwrap_or((m, ""));
    match field {
        "_TRANSPORT" => q.streams.push(match value {
            "stdout" => Stream::Stdout,
            "stderr" => Stream::Stderr,
            "daemon" => Stream::Daemon,
            // Any facility: a transport match compares the kind only.
            "syslog" => Stream::Syslog(0),
            _ => {
                return Err(format!(
                    "invalid match \"{m}\": _TRANSPORT is stdout, stderr, daemon or syslog"
                ));
            }
        }),
        // The store keeps one unit name per line, whether the service wrote it
        // or daimond wrote it about the service.
        "_SYSTEMD_UNIT" | "UNIT" if !value.is_empty() => q.units.push(value.to_string()),
        // Exactly this priority, as journalctl's match (where `-p` is "this
        // or more important"); a number, as journald stores it.
        "PRIORITY" => match value.parse::<u8>() {
            Ok(p) if p <= 7 && value.len() == 1 => q.priorities.push(p),
            _ => {
                return Err(format!(
                    "invalid match \"{m}\": PRIORITY is a number from 0 (emerg) to 7 (debug); \
                     -p NAME takes names"
                ));
            }
        },
        "SYSLOG_IDENTIFIER" if !value.is_empty() => q.identifiers.push(value.to_string()),
        "_SYSTEMD_INVOCATION_ID" if !value.is_empty() => match &q.invocation {
            Some(other) if other != value => {
                return Err(format!(
                    "invalid match \"{m}\": only one invocation at a time (already {other})"
                ));
            }
            _ => q.invocation = Some(value.to_string()),
        },
        _ => {
            return Err(format!(
                "unsupported match \"{m}\": daimon matches _TRANSPORT=, _SYSTEMD_UNIT=, \
                 UNIT=, _SYSTEMD_INVOCATION_ID=, PRIORITY= and SYSLOG_IDENTIFIER="
            ));
        }
    }
    Ok(())
}

pub(super) fn renderer(format: OutputFormat) -> Renderer {
    let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
    Renderer::new(format, daimon_journal::hostname(), tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> LogsRequest {
        LogsRequest {
            ..Default::default()
        }
    }

    #[test]
    fn field_matches_narrow_the_query_like_journalctl() {
        let mut r = req();
        r.matches = vec![
            "_TRANSPORT=stdout".into(),
            "_SYSTEMD_UNIT=bot.service".into(),
        ];
        let (q, _) = build_query(&r).expect("valid matches");
        assert_eq!(q.streams, vec![Stream::Stdout]);
        assert_eq!(q.units, vec!["bot.service".to_string()]);
        let mut r = req();
        r.matches = vec!["_TRANSPORT=carrier-pigeon".into()];
        let err = build_query(&r).err().unwrap_or_default();
        assert!(
            err.starts_with("invalid match \"_TRANSPORT=carrier-pigeon\""),
            "{err}"
        );
        let mut r = req();
        r.matches = vec![
            "PRIORITY=3".into(),
            "PRIORITY=4".into(),
            "SYSLOG_IDENTIFIER=cron".into(),
        ];
        let (q, _) = build_query(&r).expect("valid matches");
        assert_eq!(q.priorities, [3, 4]);
        assert_eq!(q.identifiers, ["cron"]);
        for bad in ["PRIORITY=err", "PRIORITY=8", "PRIORITY=03", "PRIORITY="] {
            let mut r = req();
            r.matches = vec![bad.into()];
            let err = build_query(&r).err().unwrap_or_default();
            assert!(
                err.starts_with(&format!("invalid match \"{bad}\"")),
                "{err}"
            );
        }
        let mut r = req();
        r.matches = vec!["_COMM=python3".into()];
        let err = build_query(&r).err().unwrap_or_default();
        assert!(
            err.starts_with("unsupported match \"_COMM=python3\""),
            "{err}"
        );
    }

    #[test]
    fn bad_arguments_are_one_line_naming_the_flag() {
        let err = |r: LogsRequest| build_query(&r).err().unwrap_or_default();
        let mut r = req();
        r.output = "xml".into();
        assert!(err(r).starts_with("--output: "));
        let mut r = req();
        r.since = Some("soon".into());
        assert!(err(r).starts_with("--since: invalid time \"soon\""));
        let mut r = req();
        r.priority = Some("loud".into());
        assert!(err(r).starts_with("invalid --priority \"loud\""));
        let mut r = req();
        r.priority = Some("warning".into());
        r.units = vec!["bot".into()];
        let (q, _) = build_query(&r).expect("valid");
        assert_eq!(q.max_priority, Some(4));
        assert_eq!(q.units, ["bot", "bot.service"]);
        let mut r = req();
        r.reverse = true;
        r.follow = true;
        assert_eq!(err(r), "--reverse and --follow cannot be combined");
    }
}
