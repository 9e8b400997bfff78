//! What the supervisor keeps on disk.
//!
//! Owns: atomic file replacement (temp file, fsync, rename, fsync of the directory),
//! the enabled set (`state/enabled`, one unit name per line) and the snapshot that
//! a restarted daimond needs to re-adopt its services (`state/supervisor.json`: per
//! unit the state, main PID with its start time from /proc, invocation id and
//! restart counter), plus the text of transient units (`state/transient/NAME`,
//! from `daimon run` without `--save`) so that a restarted daimond can adopt
//! them too.

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

fn snapshot_path(state: &Path) -> PathBuf {
    state.join("supervisor.json")
}

/// Writes the snapshot. Not fsynced: it serves a daimond killed and restarted on a
/// running system; after a power loss no service survives to be re-adopted.
pub fn save_snapshot(state: &Path, records: &[UnitRecord]) -> io::Result<()> {
    let units: Vec<serde_json::Value> = records.iter().map(UnitRecord::to_json).collect();
    let doc = serde_json::json!({ "version": 1, "daemon_pid": std::process::id(), "units": units });
    let bytes = serde_json::to_vec(&doc).map_err(io::Error::other)?;
    write_atomic(&snapshot_path(state), &bytes, false)
}

pub fn load_snapshot(state: &Path) -> Vec<UnitRecord> {
    let Ok(bytes) = fs::read(snapshot_path(state)) else {
        return Vec::new();
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
        save_snapshot(dir.path(), std::slice::from_ref(&r)).expect("save");
        assert_eq!(load_snapshot(dir.path()), vec![r]);
    }
}
