//! `daimon run --watch` (`X-DaimonWatch=`): restart a service when files
//! under its watched paths change, the way developers use pm2 `--watch` or
//! watchexec, without their known faults.
//!
//! - inotify on every directory of the tree (recursive; new directories are
//!   added as they appear), nothing polls (pm2 #4185: CPU burn).
//! - Debounced: the restart comes [`DEBOUNCE`] after the last change, at the
//!   latest [`MAX_WAIT`] after the first, so a save storm (an editor, a
//!   `git checkout`, a build) gives one restart, not many (pm2 #2629, #1288).
//! - What is not source is ignored: version-control and build directories
//!   (`.git`, `target`, `node_modules`, ...), editors' temporary files
//!   (`.x.swp`, `x~`, `.#x`, `#x#`, vim's `4913`), logs (pm2 #1759: a service
//!   writing its own log must not restart itself) and daimon's own store.
//! - Inotify's limits give an error naming the sysctl to raise (pm2 #1275).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

/// Quiet time after the last change before the restart.
pub const DEBOUNCE: Duration = Duration::from_millis(300);
/// A steady stream of changes still restarts this long after the first.
pub const MAX_WAIT: Duration = Duration::from_secs(3);
/// At most this many directories are watched per service.
const MAX_DIRS: usize = 8192;

/// Directories never watched.
const IGNORED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "target",
    "node_modules",
    "__pycache__",
    ".venv",
    "venv",
    ".mypy_cache",
    ".pytest_cache",
    ".idea",
    ".vscode",
];

/// Whether a changed file (its name) is noise rather than a change of source.
pub fn ignored_file(name: &OsStr) -> bool {
    let n = name.to_string_lossy();
    n.ends_with(".swp")
        || n.ends_with(".swx")
        || n.ends_with(".swo")
        || n.ends_with('~')
        || n.starts_with(".#")
        || (n.starts_with('#') && n.ends_with('#'))
        || n == "4913"
        || n.ends_with(".tmp")
        || n.ends_with(".log")
        || n.ends_with(".pyc")
        || IGNORED_DIRS.contains(&n.as_ref())
}

fn ignored_dir(name: &OsStr) -> bool {
    IGNORED_DIRS.iter().any(|d| OsStr::new(d) == name)
}

/// The trailing debounce: when a restart is due, given the first and the
/// last change of the current burst.
pub fn due(first: Instant, last: Instant) -> Instant {
    (last + DEBOUNCE).min(first + MAX_WAIT)
}

/// One service's recursive watch.
pub struct TreeWatch {
    inotify: Rc<Inotify>,
    /// Watch descriptor -> directory.
    dirs: HashMap<i32, PathBuf>,
    reader: tokio::task::AbortHandle,
    /// Paths never to watch (daimon's own store).
    skip: Vec<PathBuf>,
    /// The first and last change of the burst not yet acted on, and the
    /// first changed path (what `status` and the log name).
    pub burst: Option<(Instant, Instant, PathBuf)>,
}

impl TreeWatch {
    pub fn start(
        service: &str,
        roots: &[PathBuf],
        skip: Vec<PathBuf>,
        tx: &mpsc::UnboundedSender<(String, Vec<nix::sys::inotify::InotifyEvent>)>,
    ) -> Result<TreeWatch, String> {
        let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).map_err(|e| {
            crate::supervisor::path::inotify_error("cannot create an inotify instance", e)
        })?;
        let ino = Rc::new(ino);
        let raw = ino.as_fd().as_raw_fd();
        // SAFETY: the descriptor is owned by the `Inotify` the task keeps
        // (an Rc clone) for as long as the `AsyncFd` exists.
        let afd = unsafe { AsyncFd::register_with_interest(raw, Interest::READABLE) }
            .map_err(|e| format!("cannot watch the inotify instance: {e}"))?;
        let reader_ino = ino.clone();
        let tx = tx.clone();
        let name = service.to_string();
        let task = tokio::task::spawn_local(async move {
            loop {
                let Ok(mut guard) = afd.readable().await else {
                    return;
                };
                match reader_ino.read_events() {
                    Ok(evs) => {
                        if tx.send((name.clone(), evs)).is_err() {
                            return;
                        }
                    }
                    Err(nix::errno::Errno::EAGAIN) => guard.clear_ready(),
                    Err(_) => return,
                }
            }
        });
        let mut w = TreeWatch {
            inotify: ino,
            dirs: HashMap::new(),
            reader: task.abort_handle(),
            skip,
            burst: None,
        };
        for r in roots {
            if r.is_dir() {
                w.add_tree(r)?;
            } else {
                // A single file: its directory, filtered to its name later
                // would be finer; the directory's changes are close enough.
                let dir = r.parent().unwrap_or(Path::new("/"));
                w.add_tree_shallow(dir)?;
            }
        }
        Ok(w)
    }

    fn mask() -> AddWatchFlags {
        AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
    }

    fn add_tree_shallow(&mut self, dir: &Path) -> Result<(), String> {
        let wd = self.inotify.add_watch(dir, Self::mask()).map_err(|e| {
            crate::supervisor::path::inotify_error(&format!("cannot watch {}", dir.display()), e)
        })?;
        self.dirs.insert(wd.as_raw(), dir.to_path_buf());
        Ok(())
    }

    /// Watches `dir` and every directory below it that is not ignored.
    fn add_tree(&mut self, dir: &Path) -> Result<(), String> {
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            if self.skip.iter().any(|s| d.starts_with(s)) {
                continue;
            }
            if self.dirs.len() >= MAX_DIRS {
                return Err(format!(
                    "more than {MAX_DIRS} directories under {}; watch a narrower path",
                    dir.display()
                ));
            }
            match self.inotify.add_watch(&d, Self::mask()) {
                Ok(wd) => {
                    self.dirs.insert(wd.as_raw(), d.clone());
                }
                // Gone or unreadable meanwhile: nothing to watch there.
                Err(nix::errno::Errno::ENOENT | nix::errno::Errno::EACCES) => continue,
                Err(e) => {
                    return Err(crate::supervisor::path::inotify_error(
                        &format!("cannot watch {}", d.display()),
                        e,
                    ));
                }
            }
            if let Ok(rd) = std::fs::read_dir(&d) {
                for e in rd.flatten() {
                    let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                    if is_dir && !ignored_dir(&e.file_name()) {
                        todo.push(e.path());
                    }
                }
            }
        }
        Ok(())
    }

    /// The changes `events` hold (ignored names left out); new directories
    /// are watched from now on.
    pub fn changes(&mut self, events: &[nix::sys::inotify::InotifyEvent]) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in events {
            let (Some(dir), Some(name)) = (self.dirs.get(&e.wd.as_raw()), e.name.as_ref()) else {
                continue;
            };
            if ignored_file(name) {
                continue;
            }
            let path = dir.join(name);
            if self.skip.iter().any(|s| path.starts_with(s)) {
                continue;
            }
            if e.mask.contains(AddWatchFlags::IN_ISDIR) {
                if e.mask
                    .intersects(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO)
                {
                    // Best effort: a failure here shows at the next start.
                    let _ = self.add_tree(&path);
                }
                continue;
            }
            out.push(path);
        }
        out
    }

    pub fn stop(&self) {
        self.reader.abort();
    }
}

impl Drop for TreeWatch {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_and_build_noise_is_ignored() {
        for n in [
            ".app.py.swp",
            "app.py~",
            ".#app.py",
            "#app.py#",
            "4913",
            "out.log",
            "x.pyc",
            ".git",
            "node_modules",
        ] {
            assert!(ignored_file(OsStr::new(n)), "{n}");
        }
        for n in ["app.py", "main.rs", "index.js", "config.toml", "Makefile"] {
            assert!(!ignored_file(OsStr::new(n)), "{n}");
        }
    }

    #[test]
    fn a_burst_restarts_after_the_quiet_time_or_the_longest_wait() {
        let t = Instant::now();
        assert_eq!(due(t, t), t + DEBOUNCE);
        let later = t + Duration::from_millis(200);
        assert_eq!(due(t, later), later + DEBOUNCE);
        // A change every 100 ms for ever still restarts.
        assert_eq!(due(t, t + Duration::from_secs(10)), t + MAX_WAIT);
    }
}

/// The owner's watched services.
#[derive(Default)]
pub struct Watches {
    pub(super) by_service: std::collections::BTreeMap<String, TreeWatch>,
    pub(super) tx: Option<mpsc::UnboundedSender<(String, Vec<nix::sys::inotify::InotifyEvent>)>>,
}
