//! `daimon logs --disk-usage`, `--rotate`, `--vacuum-size=`, `--vacuum-time=`:
//! journalctl's maintenance verbs. Reading the size is a reader's job; rotating
//! and deleting segments is the writer thread's, asked through its queue.

use std::time::Duration;

use daimon_proto::LogsRequest;
use daimon_unit::value::size::parse_bytes;
use daimon_unit::value::timespan::{TimeSpan, parse_timespan};
use tokio::sync::oneshot;

use super::LogService;
use crate::log_writer::LogMsg;

/// What was asked, checked.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Maintenance {
    disk_usage: bool,
    rotate: bool,
    max_bytes: Option<u64>,
    max_age: Option<Duration>,
}

/// `None` when the request asks for none of these verbs.
pub fn requested(req: &LogsRequest) -> Option<Result<Maintenance, String>> {
    if !(req.disk_usage || req.rotate || req.vacuum_size.is_some() || req.vacuum_time.is_some()) {
        return None;
    }
    Some((|| {
        let max_bytes = match &req.vacuum_size {
            None => None,
            Some(s) => Some(parse_bytes(s).map_err(|_| {
                format!("invalid --vacuum-size \"{s}\": expected a size such as 500M or 1G")
            })?),
        };
        let max_age = match &req.vacuum_time {
            None => None,
            Some(s) => match parse_timespan(s) {
                Ok(TimeSpan::Finite(d)) => Some(d),
                _ => {
                    return Err(format!(
                        "invalid --vacuum-time \"{s}\": expected a time span such as 2weeks, 10d or 1h"
                    ));
                }
            },
        };
        Ok(Maintenance {
            disk_usage: req.disk_usage,
            rotate: req.rotate,
            max_bytes,
            max_age,
        })
    })())
}

/// `1.2G`, `34.5M`, `512.0K`, `100B`: journalctl's sizes.
fn human(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("T", 1 << 40),
        ("G", 1 << 30),
        ("M", 1 << 20),
        ("K", 1 << 10),
    ];
    for (u, n) in UNITS {
        if bytes >= n {
            return format!("{:.1}{u}", bytes as f64 / n as f64);
        }
    }
    format!("{bytes}B")
}

/// Does what was asked, in journalctl's order (rotate, vacuum, usage), and
/// says what was done.
pub async fn run(svc: &LogService, m: Maintenance) -> Result<String, String> {
    let mut out = String::new();
    let dir = svc.journal.dir().display().to_string();
    if m.rotate || m.max_bytes.is_some() || m.max_age.is_some() {
        let tx = svc
            .writer
            .clone()
            .ok_or("the log store's writer is not running")?;
        let (reply, answer) = oneshot::channel();
        tx.send(LogMsg::Maintain {
            rotate: m.rotate,
            max_bytes: m.max_bytes,
            max_age: m.max_age,
            reply,
        })
        .await
        .map_err(|_| "the log store's writer is not running".to_string())?;
        let v = answer
            .await
            .map_err(|_| "the log store's writer stopped".to_string())??;
        if m.max_bytes.is_some() || m.max_age.is_some() {
            out.push_str(&format!(
                "Vacuuming done, deleted {} segment{} and freed {} from {dir}.\n",
                v.segments,
                if v.segments == 1 { "" } else { "s" },
                human(v.bytes)
            ));
        }
    }
    if m.disk_usage {
        let svc2 = svc.clone();
        let usage = tokio::task::spawn_blocking(move || -> Result<u64, String> {
            let mut r = svc2
                .take_reader()
                .map_err(|e| format!("the log store cannot be read: {e}"))?;
            let s = r.stats();
            svc2.give_back(r);
            Ok(s.disk_usage)
        })
        .await
        .map_err(|e| format!("the log store cannot be read: {e}"))??;
        out.push_str(&format!(
            "The log store takes up {} in the file system ({dir}).\n",
            human(usage)
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked() {
        let req = |f: fn(&mut LogsRequest)| {
            let mut r = LogsRequest::default();
            f(&mut r);
            requested(&r)
        };
        assert_eq!(req(|_| {}), None);
        assert_eq!(
            req(|r| r.vacuum_size = Some("1G".into())),
            Some(Ok(Maintenance {
                max_bytes: Some(1 << 30),
                ..Maintenance::default()
            }))
        );
        let e = req(|r| r.vacuum_time = Some("soon".into()))
            .and_then(Result::err)
            .unwrap_or_default();
        assert!(e.starts_with("invalid --vacuum-time \"soon\""), "{e}");
        let e = req(|r| r.vacuum_size = Some("lots".into()))
            .and_then(Result::err)
            .unwrap_or_default();
        assert!(e.starts_with("invalid --vacuum-size \"lots\""), "{e}");
    }

    #[test]
    fn sizes_as_journalctl_prints_them() {
        assert_eq!(human(100), "100B");
        assert_eq!(human(1536), "1.5K");
        assert_eq!(human(8 << 20), "8.0M");
        assert_eq!(human(3 << 30), "3.0G");
    }
}
