//! Path units (systemd.path(5)): inotify watches that start a unit when a
//! path appears, changes or a directory fills.
//!
//! Each started path unit has one inotify instance (dropping it removes every
//! watch at once) and one task that reads it and hands the events to the
//! owner. As systemd does, a spec watches its path and each existing parent
//! directory, so a path that does not exist yet is seen when it is created;
//! after any event the watches are set again (a directory may have appeared).
//! What an event means is decided by pure functions ([`triggers`], [`holds`]).
//!
//! Unlike systemd before 254 (systemd #5770), a change seen while the unit
//! runs is not lost: it starts the unit again once that run is over.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use daimon_unit::PathSection;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

/// systemd's default trigger limit for path units: 200 in 2 seconds.
const TRIGGER_LIMIT_INTERVAL: Duration = Duration::from_secs(2);
const TRIGGER_LIMIT_BURST: usize = 200;

/// One kind of `Path*=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Exists,
    ExistsGlob,
    Changed,
    Modified,
    DirectoryNotEmpty,
}

/// One `Path*=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub kind: Kind,
    pub path: PathBuf,
}

/// Every spec of a `[Path]` section, in a fixed order.
pub fn specs(s: &PathSection) -> Vec<Spec> {
    let mut out = Vec::new();
    let mut add = |kind: Kind, paths: &[PathBuf]| {
        out.extend(paths.iter().map(|p| Spec {
            kind,
            path: p.clone(),
        }))
    };
    add(Kind::Exists, &s.path_exists);
    let globs: Vec<PathBuf> = s.path_exists_glob.iter().map(PathBuf::from).collect();
    add(Kind::ExistsGlob, &globs);
    add(Kind::Changed, &s.path_changed);
    add(Kind::Modified, &s.path_modified);
    add(Kind::DirectoryNotEmpty, &s.directory_not_empty);
    out
}

/// An event as the owner gets it.
#[derive(Debug, Clone)]
pub struct Event {
    pub wd: i32,
    pub mask: AddWatchFlags,
    pub name: Option<OsString>,
}

/// What a watch descriptor watches for a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The spec's path itself.
    Primary,
    /// A parent directory, for the path (or one of its parents) to appear.
    Parent,
}

/// The mask on a spec's own path (systemd's path_spec_watch()).
fn primary_mask(kind: Kind) -> AddWatchFlags {
    let self_gone = AddWatchFlags::IN_DELETE_SELF | AddWatchFlags::IN_MOVE_SELF;
    match kind {
        Kind::Changed => self_gone | AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_ATTRIB,
        Kind::Modified => {
            self_gone
                | AddWatchFlags::IN_CLOSE_WRITE
                | AddWatchFlags::IN_ATTRIB
                | AddWatchFlags::IN_MODIFY
        }
        Kind::DirectoryNotEmpty => {
            self_gone | AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO
        }
        Kind::Exists | Kind::ExistsGlob => self_gone | AddWatchFlags::IN_ATTRIB,
    }
}

/// The mask on a parent directory: entries appearing or going.
fn parent_mask() -> AddWatchFlags {
    AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
        | AddWatchFlags::IN_ATTRIB
}

/// Whether the condition of an "exists" kind holds now.
pub fn holds(spec: &Spec) -> bool {
    match spec.kind {
        Kind::Exists => spec.path.symlink_metadata().is_ok(),
        Kind::ExistsGlob => glob_matches(&spec.path),
        Kind::DirectoryNotEmpty => {
            std::fs::read_dir(&spec.path).is_ok_and(|mut d| d.next().is_some())
        }
        Kind::Changed | Kind::Modified => false,
    }
}

/// Whether `events` mean a change of a `PathChanged=`/`PathModified=` spec:
/// an event on the path itself, or the path appearing or going in its directory.
pub fn triggers(
    spec: &Spec,
    watches: &HashMap<i32, Vec<(usize, Role)>>,
    index: usize,
    events: &[Event],
) -> bool {
    if !matches!(spec.kind, Kind::Changed | Kind::Modified) {
        return false;
    }
    let base = spec.path.file_name();
    let entry = AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_DELETE;
    events.iter().any(|e| {
        let Some(roles) = watches.get(&e.wd) else {
            return false;
        };
        roles.iter().any(|&(i, role)| {
            i == index
                && match role {
                    Role::Primary => e.mask.intersects(primary_mask(spec.kind)),
                    Role::Parent => {
                        e.mask.intersects(entry)
                            && e.name.as_deref() == base
                            && spec.path.parent().is_some()
                    }
                }
        })
    })
}

/// `PathExistsGlob=`: wildcards (`*`, `?`) in the last component only.
fn glob_matches(pattern: &Path) -> bool {
    let (Some(dir), Some(pat)) = (pattern.parent(), pattern.file_name()) else {
        return false;
    };
    let pat = pat.to_string_lossy();
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| wildcard(pat.as_bytes(), e.file_name().to_string_lossy().as_bytes()))
    })
}

/// fnmatch(3) with `*` and `?` only.
fn wildcard(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => wildcard(&p[1..], s) || (!s.is_empty() && wildcard(p, &s[1..])),
        (Some(b'?'), Some(_)) => wildcard(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => wildcard(&p[1..], &s[1..]),
        _ => false,
    }
}

/// The path to watch for a glob is its directory, for the others the path.
fn watched_path(spec: &Spec) -> PathBuf {
    match spec.kind {
        Kind::ExistsGlob => spec
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        _ => spec.path.clone(),
    }
}

/// A started path unit's state, as systemd names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathState {
    Waiting,
    Running,
    Failed,
}

impl PathState {
    pub fn as_str(self) -> &'static str {
        match self {
            PathState::Waiting => "waiting",
            PathState::Running => "running",
            PathState::Failed => "failed",
        }
    }
}

/// One started path unit.
pub struct PathRun {
    pub state: PathState,
    pub specs: Vec<Spec>,
    pub unit: String,
    /// A change seen while the unit ran: start it again when the run is over.
    pub pending: bool,
    /// What triggered the last run, for `status`.
    pub last_trigger: Option<String>,
    pub since: Option<jiff::Timestamp>,
    pub result: &'static str,
    inotify: Option<Rc<Inotify>>,
    /// Watch descriptor -> (spec index, role).
    pub watches: HashMap<i32, Vec<(usize, Role)>>,
    reader: Option<tokio::task::AbortHandle>,
    triggers: VecDeque<Instant>,
}

impl PathRun {
    /// Creates the inotify instance and its reader; events go to `tx` tagged
    /// with `name`.
    pub fn start(
        name: &str,
        unit: String,
        specs: Vec<Spec>,
        tx: &mpsc::UnboundedSender<(String, Vec<Event>)>,
    ) -> Result<PathRun, String> {
        let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(|e| inotify_error("cannot create an inotify instance", e))?;
        let ino = Rc::new(ino);
        let raw = ino.as_fd().as_raw_fd();
        // SAFETY: the descriptor is owned by the `Inotify` the task keeps
        // (an Rc clone) for as long as the `AsyncFd` exists.
        let afd = unsafe { AsyncFd::register_with_interest(raw, Interest::READABLE) }
            .map_err(|e| format!("cannot watch the inotify instance: {e}"))?;
        let reader_ino = ino.clone();
        let tx = tx.clone();
        let name = name.to_string();
        let task = tokio::task::spawn_local(async move {
            let _keep = &reader_ino;
            loop {
                let Ok(mut guard) = afd.readable().await else {
                    return;
                };
                match reader_ino.read_events() {
                    Ok(evs) => {
                        let evs = evs
                            .into_iter()
                            .map(|e| Event {
                                wd: e.wd.as_raw(),
                                mask: e.mask,
                                name: e.name,
                            })
                            .collect();
                        if tx.send((name.clone(), evs)).is_err() {
                            return;
                        }
                    }
                    Err(nix::errno::Errno::EAGAIN) => guard.clear_ready(),
                    Err(_) => return,
                }
            }
        });
        let mut run = PathRun {
            state: PathState::Waiting,
            specs,
            unit,
            pending: false,
            last_trigger: None,
            since: Some(jiff::Timestamp::now()),
            result: "success",
            inotify: Some(ino),
            watches: HashMap::new(),
            reader: Some(task.abort_handle()),
            triggers: VecDeque::new(),
        };
        run.rewatch()?;
        Ok(run)
    }

    /// Sets every watch again: the path and each existing parent directory.
    /// Nothing is removed (that would queue IN_IGNORED events, and setting
    /// the watches again for them would never end): a watch on an inode
    /// already watched comes back with its number, a deleted file's watch
    /// is gone by itself, and the map is rebuilt from what is watched now.
    pub fn rewatch(&mut self) -> Result<(), String> {
        let Some(ino) = &self.inotify else {
            return Ok(());
        };
        self.watches.clear();
        for (i, spec) in self.specs.iter().enumerate() {
            let target = watched_path(spec);
            // IN_MASK_ADD: one directory may be watched for two specs.
            let add = AddWatchFlags::from_bits_retain(libc::IN_MASK_ADD);
            match ino.add_watch(&target, primary_mask(spec.kind) | add) {
                Ok(wd) => self
                    .watches
                    .entry(wd.as_raw())
                    .or_default()
                    .push((i, Role::Primary)),
                Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => {}
                Err(e) => {
                    return Err(inotify_error(
                        &format!("cannot watch {}", target.display()),
                        e,
                    ));
                }
            }
            let mut dir = target.parent();
            while let Some(d) = dir {
                if d.is_dir() {
                    match ino.add_watch(d, parent_mask() | add) {
                        Ok(wd) => self
                            .watches
                            .entry(wd.as_raw())
                            .or_default()
                            .push((i, Role::Parent)),
                        Err(nix::errno::Errno::EACCES) => {}
                        Err(e) => {
                            return Err(inotify_error(&format!("cannot watch {}", d.display()), e));
                        }
                    }
                    // The nearest existing directory is enough to see the
                    // next level appear; a new level sets the watches again.
                    break;
                }
                dir = d.parent();
            }
        }
        Ok(())
    }

    /// Counts a trigger; false once the limit is hit (the unit then fails).
    pub fn count_trigger(&mut self, now: Instant) -> bool {
        while self
            .triggers
            .front()
            .is_some_and(|t| now.duration_since(*t) >= TRIGGER_LIMIT_INTERVAL)
        {
            self.triggers.pop_front();
        }
        if self.triggers.len() >= TRIGGER_LIMIT_BURST {
            return false;
        }
        self.triggers.push_back(now);
        true
    }

    pub fn close(&mut self) {
        if let Some(r) = self.reader.take() {
            r.abort();
        }
        self.inotify = None;
        self.watches.clear();
    }
}

impl Drop for PathRun {
    fn drop(&mut self) {
        self.close();
    }
}

/// Inotify's resource errors name the limit to raise (inotify(7)); `run
/// --watch` says them the same way.
pub(in crate::supervisor) fn inotify_error(what: &str, e: nix::errno::Errno) -> String {
    match e {
        nix::errno::Errno::ENOSPC => format!(
            "{what}: the inotify watch limit is reached; raise it with sysctl fs.inotify.max_user_watches=524288"
        ),
        nix::errno::Errno::EMFILE => format!(
            "{what}: the inotify instance limit is reached; raise it with sysctl fs.inotify.max_user_instances=1024"
        ),
        e => format!("{what}: {}", e.desc()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_fnmatch_does() {
        assert!(wildcard(b"*.txt", b"a.txt"));
        assert!(wildcard(b"a?c", b"abc"));
        assert!(!wildcard(b"*.txt", b"a.txd"));
        assert!(wildcard(b"*", b""));
        assert!(!wildcard(b"?", b""));
    }

    #[test]
    fn a_change_is_an_event_on_the_path_or_its_name_in_the_directory() {
        let spec = Spec {
            kind: Kind::Changed,
            path: PathBuf::from("/d/f"),
        };
        let watches = HashMap::from([(1, vec![(0, Role::Primary)]), (2, vec![(0, Role::Parent)])]);
        let ev = |wd, mask, name: Option<&str>| Event {
            wd,
            mask,
            name: name.map(OsString::from),
        };
        let yes = [
            ev(1, AddWatchFlags::IN_CLOSE_WRITE, None),
            ev(2, AddWatchFlags::IN_CREATE, Some("f")),
            ev(2, AddWatchFlags::IN_MOVED_TO, Some("f")),
        ];
        for e in yes {
            assert!(
                triggers(&spec, &watches, 0, std::slice::from_ref(&e)),
                "{e:?}"
            );
        }
        let no = [
            ev(1, AddWatchFlags::IN_MODIFY, None),
            ev(2, AddWatchFlags::IN_CREATE, Some("g")),
            ev(3, AddWatchFlags::IN_CLOSE_WRITE, None),
        ];
        for e in no {
            assert!(
                !triggers(&spec, &watches, 0, std::slice::from_ref(&e)),
                "{e:?}"
            );
        }
        let modified = Spec {
            kind: Kind::Modified,
            ..spec
        };
        assert!(triggers(
            &modified,
            &watches,
            0,
            &[ev(1, AddWatchFlags::IN_MODIFY, None)]
        ));
    }

    #[test]
    fn exists_kinds_check_the_file_system() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = |kind, p: &Path| Spec {
            kind,
            path: p.to_path_buf(),
        };
        let f = dir.path().join("job.txt");
        assert!(!holds(&spec(Kind::Exists, &f)));
        assert!(!holds(&spec(Kind::DirectoryNotEmpty, dir.path())));
        assert!(!holds(&spec(Kind::ExistsGlob, &dir.path().join("*.txt"))));
        std::fs::write(&f, "x").expect("write");
        assert!(holds(&spec(Kind::Exists, &f)));
        assert!(holds(&spec(Kind::DirectoryNotEmpty, dir.path())));
        assert!(holds(&spec(Kind::ExistsGlob, &dir.path().join("*.txt"))));
    }
}

/// The owner's path units: every started one, and where their events go.
#[derive(Default)]
pub struct PathUnits {
    pub(super) runs: std::collections::BTreeMap<String, PathRun>,
    pub(super) events_tx: Option<mpsc::UnboundedSender<(String, Vec<Event>)>>,
}
