//! What the supervisor keeps on disk.
//!
//! Owns: atomic file replacement (temp file, fsync, rename, fsync of the directory),
//! the enabled set (`state/enabled`, one unit name per line) and the snapshot that
//! a restarted daimond needs to re-adopt its services
//! (`state/supervisor.*.snapshot`, see [`SnapshotWriter`]: per unit the state,
//! main PID with its start time from /proc, invocation id and restart counter),
//! plus the text of transient units (`state/transient/NAME`, from `daimon run`
//! without `--save`) so that a restarted daimond can adopt them too.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes` so that a reader sees the old or the new content,
/// never a mix. With `durable`, the data and the rename reach the disk before this
/// returns (needed for what must survive a power loss).
pub fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_all()?;
        }
        drop(f);
        fs::rename(&tmp, path)?;
        if durable {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn enabled_path(state: &Path) -> PathBuf {
    state.join("enabled")
}

/// Units enabled to start when the daemon starts.
pub fn load_enabled(state: &Path) -> BTreeSet<String> {
    load_names(&enabled_path(state))
}

pub fn save_enabled(state: &Path, set: &BTreeSet<String>) -> io::Result<()> {
    save_names(&enabled_path(state), set.iter())
}

/// A file of unit names, one per line (none when it is missing).
pub fn load_names(path: &Path) -> BTreeSet<String> {
    fs::read_to_string(path)
        .map(|s| {
            s.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

pub fn save_names<'a>(path: &Path, names: impl Iterator<Item = &'a String>) -> io::Result<()> {
    let mut text = String::new();
    for n in names {
        text.push_str(n);
        text.push('\n');
    }
    write_atomic(path, text.as_bytes(), true)
}

fn transient_dir(state: &Path) -> PathBuf {
    state.join("transient")
}

/// Keeps a transient unit's text for a daimond started after this one is killed.
pub fn save_transient(state: &Path, name: &str, text: &str) -> io::Result<()> {
    write_atomic(&transient_dir(state).join(name), text.as_bytes(), false)
}

pub fn remove_transient(state: &Path, name: &str) {
    let _ = fs::remove_file(transient_dir(state).join(name));
}

/// Every kept transient unit: (name, text).
pub fn load_transient(state: &Path) -> Vec<(String, String)> {
    let Ok(dir) = fs::read_dir(transient_dir(state)) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            if name.starts_with('.') {
                return None;
            }
            Some((name, fs::read_to_string(e.path()).ok()?))
        })
        .collect()
}

/// One unit's entry in the re-adoption snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRecord {
    pub name: String,
    pub state: String,
    pub result: String,
    pub main_pid: Option<u32>,
    /// Field 22 of /proc/PID/stat: with the PID it names the process uniquely.
    pub main_start_time: Option<u64>,
    pub invocation: String,
    pub restarts: u32,
}

impl UnitRecord {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "state": self.state,
            "result": self.result,
            "main_pid": self.main_pid,
            "main_start_time": self.main_start_time,
            "invocation": self.invocation,
            "restarts": self.restarts,
        })
    }

    fn from_json(v: &serde_json::Value) -> Option<UnitRecord> {
        Some(UnitRecord {
            name: v.get("name")?.as_str()?.to_string(),
            state: v.get("state")?.as_str()?.to_string(),
            result: v.get("result")?.as_str()?.to_string(),
            main_pid: v.get("main_pid").and_then(|p| p.as_u64()).map(|p| p as u32),
            main_start_time: v.get("main_start_time").and_then(|p| p.as_u64()),
            invocation: v.get("invocation")?.as_str()?.to_string(),
            restarts: v.get("restarts").and_then(|p| p.as_u64()).unwrap_or(0) as u32,
        })
    }
}

/// Where a daimond before this format kept its snapshot (read if no slot is valid).
fn legacy_snapshot_path(state: &Path) -> PathBuf {
    state.join("supervisor.json")
}

/// Removes the snapshot (a new boot: nothing it names runs). Call before the
/// first [`SnapshotWriter::save`], which opens the slots afresh.
pub fn forget_snapshot(state: &Path) {
    for p in [
        slot_path(state, 0),
        slot_path(state, 1),
        legacy_snapshot_path(state),
    ] {
        let _ = fs::remove_file(p);
    }
}

/// The two files the snapshot is written to in turn.
fn slot_path(state: &Path, slot: u64) -> PathBuf {
    state.join(format!("supervisor.{}.snapshot", slot % 2))
}

/// First line of a slot: magic, sequence number, length and FNV-1a hash of the
/// JSON that follows. Anything after those bytes is left over from a longer
/// snapshot and ignored.
const SLOT_MAGIC: &str = "daimon-snapshot-1";

/// FNV-1a, 64 bits: enough to tell a complete slot from a torn one.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The sequence number and JSON of a slot's content, if complete.
fn parse_slot(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let nl = bytes.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&bytes[..nl]).ok()?;
    let mut f = header.split(' ');
    if f.next()? != SLOT_MAGIC {
        return None;
    }
    let seq: u64 = f.next()?.parse().ok()?;
    let len: usize = f.next()?.parse().ok()?;
    let hash = u64::from_str_radix(f.next()?, 16).ok()?;
    let json = bytes.get(nl + 1..nl + 1 + len)?;
    (fnv1a(json) == hash).then_some((seq, json))
}

/// The newest complete slot of `state`: (sequence number, JSON).
fn newest_slot(state: &Path) -> Option<(u64, Vec<u8>)> {
    (0..2)
        .filter_map(|i| {
            let bytes = fs::read(slot_path(state, i)).ok()?;
            let (seq, json) = parse_slot(&bytes)?;
            Some((seq, json.to_vec()))
        })
        .max_by_key(|(seq, _)| *seq)
}

/// Writes the re-adoption snapshot, on every change, without creating,
/// renaming or deleting a file: the two slot files are overwritten in place in
/// turn, each one complete and hashed before the next is touched. A daimond
/// killed in the middle of a write leaves the other slot, the previous
/// snapshot, intact. (Replacing one file by rename cost an inode created and
/// one freed on each change: up to 0.5 ms of the owner's time in the middle of
/// a restart, on a disk that discards freed blocks synchronously.)
///
/// Not fsynced: the snapshot serves a daimond killed and restarted on a
/// running system; after a power loss no service survives to be re-adopted.
#[derive(Default)]
pub struct SnapshotWriter {
    /// The slot files, opened on the first save.
    files: Option<[File; 2]>,
    seq: u64,
}

impl SnapshotWriter {
    pub fn save(&mut self, state: &Path, records: &[UnitRecord]) -> io::Result<()> {
        use std::os::unix::fs::{FileExt, OpenOptionsExt};
        if self.files.is_none() {
            fs::create_dir_all(state)?;
            let open = |i| {
                fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .mode(0o600)
                    .open(slot_path(state, i))
            };
            self.files = Some([open(0)?, open(1)?]);
            self.seq = newest_slot(state).map_or(0, |(seq, _)| seq);
            let _ = fs::remove_file(legacy_snapshot_path(state));
        }
        let units: Vec<serde_json::Value> = records.iter().map(UnitRecord::to_json).collect();
        let doc =
            serde_json::json!({ "version": 1, "daemon_pid": std::process::id(), "units": units });
        let json = serde_json::to_vec(&doc).map_err(io::Error::other)?;
        let seq = self.seq + 1;
        let mut out =
            format!("{SLOT_MAGIC} {seq} {} {:016x}\n", json.len(), fnv1a(&json)).into_bytes();
        out.extend_from_slice(&json);
        let files = self.files.as_ref().expect("opened above");
        files[(seq % 2) as usize].write_all_at(&out, 0)?;
        self.seq = seq;
        Ok(())
    }
}

/// The units of the newest complete snapshot (none if there is none).
pub fn load_snapshot(state: &Path) -> Vec<UnitRecord> {
    let bytes = match newest_slot(state) {
        Some((_, json)) => json,
        None => match fs::read(legacy_snapshot_path(state)) {
            Ok(b) => b,
            Err(_) => return Vec::new(),
        },
    };
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    doc.get("units")
        .and_then(|u| u.as_array())
        .map(|a| a.iter().filter_map(UnitRecord::from_json).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabled_set_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut set = BTreeSet::new();
        set.insert("a.service".to_string());
        set.insert("b.service".to_string());
        save_enabled(dir.path(), &set).expect("save");
        assert_eq!(load_enabled(dir.path()), set);
    }

    #[test]
    fn transient_units_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        save_transient(dir.path(), "t.service", "[Service]\nExecStart=/bin/true\n").expect("save");
        let got = load_transient(dir.path());
        assert_eq!(
            got,
            vec![(
                "t.service".to_string(),
                "[Service]\nExecStart=/bin/true\n".to_string()
            )]
        );
        remove_transient(dir.path(), "t.service");
        assert!(load_transient(dir.path()).is_empty());
    }

    #[test]
    fn snapshot_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = UnitRecord {
            name: "bot.service".into(),
            state: "running".into(),
            result: "success".into(),
            main_pid: Some(42),
            main_start_time: Some(777),
            invocation: "ab".repeat(16),
            restarts: 3,
        };
        let mut w = SnapshotWriter::default();
        w.save(dir.path(), std::slice::from_ref(&r)).expect("save");
        assert_eq!(load_snapshot(dir.path()), vec![r.clone()]);
        // A longer snapshot, then a shorter one over the same slot's leftovers.
        let many: Vec<UnitRecord> = (0..50)
            .map(|i| UnitRecord {
                name: format!("u{i}.service"),
                ..r.clone()
            })
            .collect();
        w.save(dir.path(), &many).expect("save");
        w.save(dir.path(), &many[..2]).expect("save");
        w.save(dir.path(), &many[..1]).expect("save");
        assert_eq!(load_snapshot(dir.path()), many[..1].to_vec());
        // A new writer (a restarted daimond) goes on from the newest.
        let mut w2 = SnapshotWriter::default();
        w2.save(dir.path(), &many[..3]).expect("save");
        assert_eq!(load_snapshot(dir.path()), many[..3].to_vec());
    }

    #[test]
    fn a_torn_slot_leaves_the_previous_snapshot() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = |n: &str| UnitRecord {
            name: n.into(),
            state: "running".into(),
            result: "success".into(),
            main_pid: Some(42),
            main_start_time: Some(777),
            invocation: "ab".repeat(16),
            restarts: 0,
        };
        let mut w = SnapshotWriter::default();
        w.save(dir.path(), &[r("old.service")]).expect("save");
        w.save(dir.path(), &[r("new.service")]).expect("save");
        // The newest slot cut short, as by a SIGKILL in the middle of its write.
        let newest = slot_path(dir.path(), 2);
        let bytes = fs::read(&newest).expect("slot");
        fs::write(&newest, &bytes[..bytes.len() - 5]).expect("cut");
        assert_eq!(load_snapshot(dir.path()), vec![r("old.service")]);
    }

    #[test]
    fn a_snapshot_of_an_earlier_daimond_is_still_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(
            legacy_snapshot_path(dir.path()),
            r#"{"version":1,"daemon_pid":1,"units":[{"name":"a.service","state":"running","result":"success","main_pid":5,"main_start_time":9,"invocation":"x","restarts":1}]}"#,
        )
        .expect("write");
        let got = load_snapshot(dir.path());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].main_pid, Some(5));
    }
}
