//! `daimon logs -b` and `--list-boots`: boots of the machine as the log
//! store recorded them (see `daimon_journal::boots`), read on a blocking
//! thread like every query.

use daimon_journal::Query;
use daimon_journal::boots::{self, BootSummary};
use jiff::tz::TimeZone;

use super::LogService;

/// `q` limited to the boot `arg` names; an error says which boots exist.
pub async fn limit(svc: &LogService, arg: String, q: Query) -> Result<Query, String> {
    let svc = svc.clone();
    let task = tokio::task::spawn_blocking(move || {
        let all = svc.journal.boots();
        let with_records = summaries(&svc, &all)?;
        let i = boots::resolve(&arg, &with_records, &all)?;
        let mut q = q;
        boots::limit_to_boot(&mut q, &all, i);
        Ok(q)
    });
    task.await
        .unwrap_or_else(|e| Err(format!("the log store cannot be read: {e}")))
}

/// The table of `--list-boots` (or a JSON array), oldest first.
pub async fn list(svc: &LogService, json: bool) -> Result<String, String> {
    let svc = svc.clone();
    let task = tokio::task::spawn_blocking(move || {
        let all = svc.journal.boots();
        Ok(render(&summaries(&svc, &all)?, json))
    });
    task.await
        .unwrap_or_else(|e| Err(format!("the log store cannot be read: {e}")))
}

fn summaries(svc: &LogService, all: &[boots::Boot]) -> Result<Vec<BootSummary>, String> {
    let mut reader = svc
        .take_reader()
        .map_err(|e| format!("the log store cannot be read: {e}"))?;
    let found = boots::summaries(&mut reader, all)
        .map_err(|e| format!("the log store cannot be read: {e}"));
    svc.give_back(reader);
    found
}

fn render(list: &[BootSummary], json: bool) -> String {
    if json {
        let v: Vec<serde_json::Value> = list
            .iter()
            .map(|b| {
                serde_json::json!({
                    "index": b.offset,
                    "boot_id": b.id,
                    "first_entry": b.first_usec,
                    "last_entry": b.last_usec,
                })
            })
            .collect();
        return format!("{}\n", serde_json::Value::Array(v));
    }
    let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
    let when = |usec: u64| {
        jiff::Timestamp::from_microsecond(usec as i64)
            .map(|t| {
                t.to_zoned(tz.clone())
                    .strftime("%a %Y-%m-%d %H:%M:%S %Z")
                    .to_string()
            })
            .unwrap_or_else(|_| usec.to_string())
    };
    let mut out = format!(
        "{:>3} {:<32} {:<27} {}\n",
        "IDX", "BOOT ID", "FIRST ENTRY", "LAST ENTRY"
    );
    for b in list {
        out.push_str(&format!(
            "{:>3} {:<32} {:<27} {}\n",
            b.offset,
            b.id,
            when(b.first_usec),
            when(b.last_usec)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_json() {
        let list = [
            BootSummary {
                offset: -1,
                id: "a".repeat(32),
                first_usec: 1_000_000,
                last_usec: 2_000_000,
            },
            BootSummary {
                offset: 0,
                id: "b".repeat(32),
                first_usec: 3_000_000,
                last_usec: 4_000_000,
            },
        ];
        let t = render(&list, false);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("IDX BOOT ID"), "{t}");
        assert!(lines[1].starts_with(" -1 aaaa"), "{t}");
        assert!(lines[2].starts_with("  0 bbbb"), "{t}");
        let v: serde_json::Value = serde_json::from_str(&render(&list, true)).expect("json");
        assert_eq!(v[1]["index"], 0);
        assert_eq!(v[0]["first_entry"], 1_000_000);
    }
}
