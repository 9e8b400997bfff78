//! What timers remember on disk: the last trigger of each `Persistent=` timer
//! (systemd's stamp files) and which timers were started, so a restarted
//! daimond resumes them.
//!
//! Layout under the state directory: `timers/stamp-NAME.timer` holds the last
//! trigger as an RFC 3339 time; `timers/active` lists started timers, one per
//! line. Writes go through temp file, fsync and rename.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::persist;

fn dir(state: &Path) -> PathBuf {
    state.join("timers")
}

fn stamp_path(state: &Path, timer: &str) -> PathBuf {
    dir(state).join(format!("stamp-{timer}"))
}

/// The last trigger of `timer`, if one was recorded (an unreadable stamp
/// counts as none: the timer then waits for its next elapse).
pub fn last_trigger(state: &Path, timer: &str) -> Option<Timestamp> {
    let text = std::fs::read_to_string(stamp_path(state, timer)).ok()?;
    text.trim().parse().ok()
}

pub fn save_trigger(state: &Path, timer: &str, at: Timestamp) -> io::Result<()> {
    persist::write_atomic(
        &stamp_path(state, timer),
        format!("{at}\n").as_bytes(),
        true,
    )
}

/// The timers that were started when daimond last ran.
pub fn load_active(state: &Path) -> BTreeSet<String> {
    persist::load_names(&dir(state).join("active"))
}

pub fn save_active<'a>(state: &Path, names: impl Iterator<Item = &'a String>) -> io::Result<()> {
    persist::save_names(&dir(state).join("active"), names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_and_the_active_set_round_trip() {
        let d = tempfile::tempdir().expect("tempdir");
        assert_eq!(last_trigger(d.path(), "a.timer"), None);
        let t: Timestamp = "2026-11-21T02:30:00.123456Z".parse().expect("ts");
        save_trigger(d.path(), "a.timer", t).expect("save");
        assert_eq!(last_trigger(d.path(), "a.timer"), Some(t));
        let names = ["a.timer".to_string(), "b.timer".to_string()];
        save_active(d.path(), names.iter()).expect("save");
        assert_eq!(load_active(d.path()), names.into_iter().collect());
    }
}
