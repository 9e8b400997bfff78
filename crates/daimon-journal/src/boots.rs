//! Owns the store's boots: which range of records each boot of the machine
//! wrote, for journalctl's `-b` and `--list-boots`.
//!
//! A boot starts with the first writer opened under a new kernel boot id
//! (`/proc/sys/kernel/random/boot_id`, passed in by the daemon): restarts of
//! the daemon within one boot stay one boot. The list lives in a small text
//! file beside the segments, `boots`, one line per boot (`ID FIRST_SEQ
//! FIRST_REALTIME_USEC`), appended once per boot: it survives an index
//! rebuild, which re-derives only what the segments hold. Boot `i` holds
//! the records from its first sequence number up to the next boot's.

use std::io::Write;
use std::path::Path;

use crate::filter::Query;
use crate::reader::JournalReader;
use crate::record::Cursor;
use crate::writer::JournalWriter;
use crate::{Journal, clock};

const FILE: &str = "boots";

/// One boot of the machine, as the store saw it begin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boot {
    /// The kernel's boot id, 32 lowercase hex digits.
    pub id: String,
    /// Its first record (or the first it would have had).
    pub first_seq: u64,
}

/// A boot with records in the store: its place in the list (`0` the newest,
/// `-1` the one before, as journalctl numbers them) and its first and last
/// record times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootSummary {
    pub offset: i64,
    pub id: String,
    pub first_usec: u64,
    pub last_usec: u64,
}

fn read(dir: &Path) -> Vec<Boot> {
    let Ok(text) = std::fs::read_to_string(dir.join(FILE)) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let id = w.next()?;
            let first_seq = w.next()?.parse().ok()?;
            Some(Boot {
                id: id.to_string(),
                first_seq,
            })
        })
        .collect()
}

/// The kernel boot id in journald's form (32 hex digits, no dashes), from
/// the text of `/proc/sys/kernel/random/boot_id`.
pub fn normalize_boot_id(text: &str) -> Option<String> {
    let id: String = text.trim().chars().filter(|c| *c != '-').collect();
    (id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

impl JournalWriter {
    /// Records that the machine's boot `id` is writing from now on, unless
    /// the newest boot already is that one. A failure to write it is
    /// returned: the records are kept all the same, under the previous boot.
    pub fn mark_boot(&mut self, id: &str) -> std::io::Result<()> {
        let dir = self.shared.dir.clone();
        if read(&dir).last().is_some_and(|b| b.id == id) {
            return Ok(());
        }
        let mut f = std::fs::File::options()
            .create(true)
            .append(true)
            .open(dir.join(FILE))?;
        writeln!(f, "{id} {} {}", self.next_seq, clock::realtime_usec())?;
        f.sync_data()
    }
}

impl Journal {
    /// Every boot the store recorded, oldest first.
    pub fn boots(&self) -> Vec<Boot> {
        read(self.dir())
    }
}

/// The bounds of `boots[i]` as a query's `after` and `before`.
fn bounds(boots: &[Boot], i: usize) -> (Option<Cursor>, Option<Cursor>) {
    let after = boots[i].first_seq.checked_sub(1).map(Cursor);
    let before = boots.get(i + 1).map(|b| Cursor(b.first_seq));
    (after, before)
}

/// Limits `q` to the records of `boots[i]`.
pub fn limit_to_boot(q: &mut Query, boots: &[Boot], i: usize) {
    let (after, before) = bounds(boots, i);
    if after > q.after {
        q.after = after;
    }
    q.before = match (q.before, before) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
}

/// The boots that still have records, numbered as journalctl numbers them.
pub fn summaries(
    reader: &mut JournalReader,
    boots: &[Boot],
) -> Result<Vec<BootSummary>, crate::JournalError> {
    let mut found = Vec::new();
    for i in 0..boots.len() {
        let mut q = Query::default();
        limit_to_boot(&mut q, boots, i);
        let mut first = None;
        reader.query(&q, &mut |r| {
            first = Some(r.realtime_usec);
            false
        })?;
        let Some(first_usec) = first else { continue };
        q.lines = Some(1);
        let mut last = first_usec;
        reader.query(&q, &mut |r| {
            last = r.realtime_usec;
            true
        })?;
        found.push((boots[i].id.clone(), first_usec, last));
    }
    let n = found.len() as i64;
    Ok(found
        .into_iter()
        .enumerate()
        .map(|(i, (id, first_usec, last_usec))| BootSummary {
            offset: i as i64 - (n - 1),
            id,
            first_usec,
            last_usec,
        })
        .collect())
}

/// Which boot `-b ARG` names, as an index into `boots`: empty or `0` the
/// newest, `-N` the Nth before it, a positive `N` the Nth from the oldest,
/// or a boot id. Only boots with records count, as in journalctl.
pub fn resolve(arg: &str, with_records: &[BootSummary], boots: &[Boot]) -> Result<usize, String> {
    let arg = arg.trim();
    let id = if let Some(id) = normalize_boot_id(arg) {
        id
    } else {
        let n: i64 = if arg.is_empty() {
            0
        } else {
            arg.parse()
                .map_err(|_| format!("invalid --boot \"{arg}\": expected a boot id, 0, -N or N"))?
        };
        let count = with_records.len() as i64;
        let pos = if n <= 0 { count - 1 + n } else { n - 1 };
        let s = usize::try_from(pos)
            .ok()
            .and_then(|p| with_records.get(p))
            .ok_or_else(|| {
                format!(
                    "no boot {arg}: the log store has {count} boot{} with lines (daimon logs --list-boots)",
                    if count == 1 { "" } else { "s" }
                )
            })?;
        s.id.clone()
    };
    // The newest boot of that id (an id never repeats, but a hand-edited file may).
    boots
        .iter()
        .rposition(|b| b.id == id)
        .ok_or_else(|| format!("no boot {arg} in the log store (daimon logs --list-boots)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_ids_in_journald_form() {
        assert_eq!(
            normalize_boot_id("0f5d2c3a-8b1e-4c9a-9d7e-123456789abc\n").as_deref(),
            Some("0f5d2c3a8b1e4c9a9d7e123456789abc")
        );
        assert_eq!(normalize_boot_id("-1"), None);
        assert_eq!(normalize_boot_id(""), None);
    }

    #[test]
    fn bounds_of_boots() {
        let boots = [
            Boot {
                id: "a".into(),
                first_seq: 1,
            },
            Boot {
                id: "b".into(),
                first_seq: 10,
            },
        ];
        assert_eq!(bounds(&boots, 0), (Some(Cursor(0)), Some(Cursor(10))));
        assert_eq!(bounds(&boots, 1), (Some(Cursor(9)), None));
    }
}
