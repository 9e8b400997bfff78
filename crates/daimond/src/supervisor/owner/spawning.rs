//! Main processes being started, written down before the fork.
//!
//! The snapshot (`persistence.rs`) is written once per pass of the owner's
//! loop, and a main process's pipes reach the fd store just after the fork: a
//! daimond killed between the fork and either of them leaves a process that
//! nothing names. The next daimond would count the unit as dead and, with
//! Restart= or the next `start`, run it a second time. So the owner appends
//! `unit<TAB>invocation` to `spawning` in the state directory before each main
//! spawn (a plain `write`, no fsync: it serves a daimond killed on a running
//! machine, and after a power loss nothing survives to be found), and empties
//! it once a snapshot naming the new main process is saved. A new daimond
//! looks for the oldest live process carrying each listed `INVOCATION_ID=` (a
//! main process is older than its children) and adopts it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::persist::UnitRecord;
use crate::process::tree;

fn path(state: &Path) -> PathBuf {
    state.join("spawning")
}

/// The list's writer: opened on the first note, emptied after each saved
/// snapshot that follows a note.
#[derive(Default)]
pub(super) struct Spawning {
    file: Option<File>,
    noted: bool,
}

impl Spawning {
    /// A main process of `unit` is about to be forked with `invocation`.
    pub(super) fn note(&mut self, state: &Path, unit: &str, invocation: &str) -> io::Result<()> {
        if self.file.is_none() {
            fs::create_dir_all(state)?;
            self.file = Some(
                OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o600)
                    .open(path(state))?,
            );
        }
        self.noted = true;
        let line = format!("{unit}\t{invocation}\n");
        match self.file.as_mut() {
            Some(f) => f.write_all(line.as_bytes()),
            None => Ok(()),
        }
    }

    /// A snapshot naming every process noted so far is saved: forget them.
    /// (Also after a re-adoption, so the list is marked as needing it.)
    pub(super) fn saved(&mut self, state: &Path) {
        if !std::mem::take(&mut self.noted) {
            return;
        }
        let emptied = match self.file.as_ref() {
            Some(f) => f.set_len(0),
            None => File::options()
                .write(true)
                .open(path(state))
                .and_then(|f| f.set_len(0))
                .or_else(|e| match e.kind() {
                    io::ErrorKind::NotFound => Ok(()),
                    _ => Err(e),
                }),
        };
        if let Err(e) = emptied {
            tracing::warn!("cannot empty {}: {e}", path(state).display());
            self.noted = true;
        }
    }

    /// After loading a list left by an earlier daimond: empty it with the next
    /// saved snapshot.
    pub(super) fn mark_loaded(&mut self) {
        self.noted = true;
    }
}

/// The list an earlier daimond left: (unit, invocation), the last per unit.
pub(super) fn load(state: &Path) -> Vec<(String, String)> {
    let text = fs::read_to_string(path(state)).unwrap_or_default();
    let mut last: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let Some((unit, inv)) = line.split_once('\t') else {
            continue;
        };
        last.retain(|(u, _)| u != unit);
        last.push((unit.to_string(), inv.to_string()));
    }
    last
}

/// A new boot: nothing listed runs any more.
pub(super) fn forget(state: &Path) {
    let _ = fs::remove_file(path(state));
}

/// Puts into `records` the main processes the list names that still run and
/// that the snapshot missed: the oldest live process of that invocation, not
/// already a record's main process.
pub(super) fn complete(records: &mut Vec<UnitRecord>, listed: &[(String, String)]) {
    if listed.is_empty() {
        return;
    }
    let alive =
        |pid: u32, t: u64| tree::stat(pid).is_some_and(|s| s.start_time == t && s.state != 'Z');
    let pids = tree::all_pids();
    for (unit, inv) in listed {
        let i = records.iter().position(|r| &r.name == unit);
        let known_alive = i.and_then(|i| {
            let r = &records[i];
            r.main_pid
                .zip(r.main_start_time)
                .filter(|&(p, t)| alive(p, t))
        });
        if known_alive.is_some() {
            continue;
        }
        let oldest = pids
            .iter()
            .filter(|&&p| p != std::process::id())
            .filter(|&&p| !records.iter().any(|r| r.main_pid == Some(p)))
            .filter(|&&p| tree::has_invocation(p, inv))
            .filter_map(|&p| {
                tree::stat(p)
                    .filter(|s| s.state != 'Z')
                    .map(|s| (s.start_time, p))
            })
            .min();
        let Some((t, pid)) = oldest else {
            continue;
        };
        tracing::info!(
            "{unit}: PID {pid} was being started when the previous daimond ended; it is adopted"
        );
        match i {
            Some(i) => {
                let r = &mut records[i];
                r.state = "running".into();
                r.result = "success".into();
                r.main_pid = Some(pid);
                r.main_start_time = Some(t);
                r.invocation = inv.clone();
            }
            None => records.push(UnitRecord {
                name: unit.clone(),
                state: "running".into(),
                result: "success".into(),
                main_pid: Some(pid),
                main_start_time: Some(t),
                invocation: inv.clone(),
                restarts: 0,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_per_unit_counts_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Spawning::default();
        s.note(dir.path(), "a.service", "1111").expect("note");
        s.note(dir.path(), "b.service", "2222").expect("note");
        s.note(dir.path(), "a.service", "3333").expect("note");
        let mut f = OpenOptions::new()
            .append(true)
            .open(path(dir.path()))
            .expect("open");
        f.write_all(b"torn-without-tab").expect("write");
        let listed = load(dir.path());
        assert_eq!(
            listed,
            [
                ("b.service".to_string(), "2222".to_string()),
                ("a.service".to_string(), "3333".to_string())
            ]
        );
        s.saved(dir.path());
        assert!(load(dir.path()).is_empty());
        // Appends after the emptying start at the beginning again.
        s.note(dir.path(), "c.service", "4444").expect("note");
        assert_eq!(load(dir.path()).len(), 1);
    }

    #[test]
    fn a_live_process_of_a_listed_invocation_becomes_the_main_process() {
        let inv = format!("{:032x}", std::process::id() as u128 * 7919 + 17);
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env("INVOCATION_ID", &inv)
            .spawn()
            .expect("spawn sleep");
        let pid = child.id();
        // The environment reads empty until its execve() is done.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !tree::has_invocation(pid, &inv) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let mut records = vec![UnitRecord {
            name: "a.service".into(),
            state: "running".into(),
            result: "success".into(),
            main_pid: Some(u32::MAX - 1),
            main_start_time: Some(1),
            invocation: "older".into(),
            restarts: 2,
        }];
        complete(
            &mut records,
            &[
                ("a.service".into(), inv.clone()),
                ("gone.service".into(), "ffff".into()),
            ],
        );
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0].main_pid, Some(pid));
        assert_eq!(records[0].invocation, inv);
        assert_eq!(records[0].restarts, 2);
    }
}
