//! Where things live (PRODUCT.md, "Where things live").
//!
//! `DAIMON_HOME=DIR` relocates everything to `DIR/units`, `DIR/run`, `DIR/state`.
//! Without it: XDG directories in user mode, `/etc`, `/run`, `/var/lib` as root.

use std::env;
use std::fmt;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// Unit files, drop-ins.
    pub units: PathBuf,
    /// `daimond.pid`, `daimond.sock`, `api.json`; a 0700 directory.
    pub runtime: PathBuf,
    /// Log store, enabled set, saved state.
    pub state: PathBuf,
    /// True when running as root without `DAIMON_HOME`.
    pub system_mode: bool,
}

impl Paths {
    /// Resolves the paths from the environment of this process.
    pub fn from_env() -> Paths {
        let uid = current_uid();
        Self::resolve(
            |k| {
                let v = PathBuf::from(env::var_os(k)?);
                // A relative DAIMON_HOME is relative to the current directory; the
                // daemon changes directory to "/", so make it absolute here.
                if k == "DAIMON_HOME" && v.is_relative() && !v.as_os_str().is_empty() {
                    return env::current_dir().ok().map(|d| d.join(&v)).or(Some(v));
                }
                Some(v)
            },
            uid,
        )
    }

    /// Resolves the paths given an environment lookup and the effective uid.
    pub fn resolve(var: impl Fn(&str) -> Option<PathBuf>, uid: u32) -> Paths {
        let non_empty = |k: &str| var(k).filter(|p| !p.as_os_str().is_empty());
        if let Some(home) = non_empty("DAIMON_HOME") {
            return Paths::under(&home);
        }
        if uid == 0 {
            return Paths {
                units: PathBuf::from("/etc/daimon/units"),
                runtime: PathBuf::from("/run/daimon"),
                state: PathBuf::from("/var/lib/daimon"),
                system_mode: true,
            };
        }
        let home = non_empty("HOME").unwrap_or_else(|| PathBuf::from("/"));
        let config = non_empty("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"));
        let state = non_empty("XDG_STATE_HOME").unwrap_or_else(|| home.join(".local/state"));
        let runtime = non_empty("XDG_RUNTIME_DIR")
            .map(|d| d.join("daimon"))
            .unwrap_or_else(|| PathBuf::from(format!("/tmp/daimon-{uid}")));
        Paths {
            units: config.join("daimon/units"),
            runtime,
            state: state.join("daimon"),
            system_mode: false,
        }
    }

    /// Everything under one directory (`DAIMON_HOME`).
    pub fn under(home: &Path) -> Paths {
        Paths {
            units: home.join("units"),
            runtime: home.join("run"),
            state: home.join("state"),
            system_mode: false,
        }
    }

    pub fn pid_file(&self) -> PathBuf {
        self.runtime.join("daimond.pid")
    }

    pub fn socket(&self) -> PathBuf {
        self.runtime.join("daimond.sock")
    }

    pub fn api_file(&self) -> PathBuf {
        self.runtime.join("api.json")
    }

    /// The log store's directory.
    pub fn journal(&self) -> PathBuf {
        self.state.join("journal")
    }
}

/// Why a runtime directory, or the socket in it, is not to be trusted: another
/// user could have made it and listen there (a predictable `/tmp/daimon-$UID`
/// can be created by anyone first).
#[derive(Debug)]
pub enum Untrusted {
    /// It cannot be examined (`NotFound` when it does not exist yet).
    Io(PathBuf, io::Error),
    Symlink(PathBuf),
    /// Not the kind of file expected (a directory, a socket).
    Kind(PathBuf, &'static str),
    Owner {
        path: PathBuf,
        uid: u32,
        me: u32,
    },
    /// Group or others may create files in it (mode shown in octal).
    Writable {
        path: PathBuf,
        mode: u32,
    },
}

impl Untrusted {
    /// Whether it merely does not exist (yet).
    pub fn is_missing(&self) -> bool {
        matches!(self, Untrusted::Io(_, e) if e.kind() == io::ErrorKind::NotFound)
    }
}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fix = "remove it, or set XDG_RUNTIME_DIR or DAIMON_HOME to a directory of your own";
        match self {
            Untrusted::Io(p, e) => write!(f, "{}: {e}", p.display()),
            Untrusted::Symlink(p) => write!(
                f,
                "{} is a symbolic link, which another user may have planted; {fix}",
                p.display()
            ),
            Untrusted::Kind(p, want) => write!(f, "{} is not a {want}; {fix}", p.display()),
            Untrusted::Owner { path, uid, me } => write!(
                f,
                "{} belongs to uid {uid}, not to you (uid {me}), so another user may be listening there; {fix}",
                path.display()
            ),
            Untrusted::Writable { path, mode } => write!(
                f,
                "{} is writable by other users (mode {mode:04o}); run \"chmod 700 {}\" or {fix}",
                path.display(),
                path.display()
            ),
        }
    }
}

/// Checks that `dir` can hold daimond's socket safely: a real directory (not a
/// symbolic link, which is not followed), owned by one of `owners`, and that
/// neither group nor others may create files in it. The same rule serves
/// daimond before it binds and the CLI before it connects (sshd's
/// StrictModes and systemd's runtime-directory checks do the same).
pub fn check_runtime_dir(dir: &Path, owners: &[u32]) -> Result<(), Untrusted> {
    let meta = check_owned(dir, owners)?;
    if !meta.is_dir() {
        return Err(Untrusted::Kind(dir.to_path_buf(), "directory"));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Untrusted::Writable {
            path: dir.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Checks that `socket` is a socket (not a symbolic link) owned by one of `owners`.
pub fn check_socket(socket: &Path, owners: &[u32]) -> Result<(), Untrusted> {
    let meta = check_owned(socket, owners)?;
    if !meta.file_type().is_socket() {
        return Err(Untrusted::Kind(socket.to_path_buf(), "socket"));
    }
    Ok(())
}

/// `lstat`: a symbolic link is refused, never followed.
fn check_owned(path: &Path, owners: &[u32]) -> Result<std::fs::Metadata, Untrusted> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| Untrusted::Io(path.to_path_buf(), e))?;
    if meta.file_type().is_symlink() {
        return Err(Untrusted::Symlink(path.to_path_buf()));
    }
    if !owners.contains(&meta.uid()) {
        return Err(Untrusted::Owner {
            path: path.to_path_buf(),
            uid: meta.uid(),
            me: owners.first().copied().unwrap_or(u32::MAX),
        });
    }
    Ok(meta)
}

/// The effective uid of this process.
pub fn effective_uid() -> u32 {
    current_uid()
}

/// Read once per process: the CLI asks three times per command (paths, the
/// runtime directory's owner, the socket's), and neither it nor daimond
/// changes its own uid (services change theirs after `fork`, then `exec`).
fn current_uid() -> u32 {
    static UID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UID.get_or_init(read_current_uid)
}

fn read_current_uid() -> u32 {
    use std::io::Read;
    // Read from /proc rather than linking libc into this crate: the effective uid is
    // the second field of the `Uid:` line. Every CLI command starts here, so the
    // file is read into one buffer in a read or two (`read_to_string` sizes it
    // with a stat and then reads in doubling steps from 32 bytes: ten calls).
    let mut buf = [0u8; 4096];
    let mut got = 0;
    if let Ok(mut f) = std::fs::File::open("/proc/self/status") {
        while got < buf.len() {
            match f.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
    uid_in_status(&buf[..got]).unwrap_or(u32::MAX)
}

/// The effective uid in the text of `/proc/PID/status`.
fn uid_in_status(text: &[u8]) -> Option<u32> {
    // A cut at the buffer's end may split a character; the Uid: line is near
    // the top anyway.
    let text = match std::str::from_utf8(text) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&text[..e.valid_up_to()]).ok()?,
    };
    text.lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_uid_is_the_second_field() {
        let text = b"Name:\tdaimon\nUid:\t1000\t1001\t1001\t1001\nGid:\t100\t100\t100\t100\n";
        assert_eq!(uid_in_status(text), Some(1001));
        assert_eq!(uid_in_status(b"Name:\tx\n"), None);
        assert_ne!(current_uid(), u32::MAX);
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<PathBuf> {
        let pairs: Vec<(String, PathBuf)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), PathBuf::from(v)))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn daimon_home_relocates_everything() {
        let p = Paths::resolve(env_of(&[("DAIMON_HOME", "/h"), ("HOME", "/home/u")]), 1000);
        assert_eq!(p.units, PathBuf::from("/h/units"));
        assert_eq!(p.socket(), PathBuf::from("/h/run/daimond.sock"));
        assert_eq!(p.state, PathBuf::from("/h/state"));
    }

    #[test]
    fn user_mode_follows_xdg_with_fallbacks() {
        let p = Paths::resolve(env_of(&[("HOME", "/home/u")]), 1000);
        assert_eq!(p.units, PathBuf::from("/home/u/.config/daimon/units"));
        assert_eq!(p.runtime, PathBuf::from("/tmp/daimon-1000"));
        assert_eq!(p.state, PathBuf::from("/home/u/.local/state/daimon"));
        let p = Paths::resolve(env_of(&[("XDG_RUNTIME_DIR", "/run/user/1000")]), 1000);
        assert_eq!(
            p.pid_file(),
            PathBuf::from("/run/user/1000/daimon/daimond.pid")
        );
    }

    #[test]
    fn runtime_dir_checks_owner_mode_kind_and_links() {
        use std::os::unix::fs::PermissionsExt;
        let me = current_uid();
        let tmp = std::env::temp_dir().join(format!("daimon-proto-trust-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let dir = tmp.join("run");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        assert!(check_runtime_dir(&dir, &[me]).is_ok());
        // Someone else's.
        let e = check_runtime_dir(&dir, &[me.wrapping_add(1)]).expect_err("not ours");
        assert!(matches!(e, Untrusted::Owner { .. }), "{e}");
        assert!(
            e.to_string().contains("another user may be listening"),
            "{e}"
        );
        // Writable by others.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let e = check_runtime_dir(&dir, &[me]).expect_err("world-writable");
        assert!(e.to_string().contains("mode 0777"), "{e}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).expect("chmod");
        assert!(check_runtime_dir(&dir, &[me]).is_ok(), "group may enter");
        // A link to a good directory is still refused.
        let link = tmp.join("link");
        std::os::unix::fs::symlink(&dir, &link).expect("symlink");
        assert!(matches!(
            check_runtime_dir(&link, &[me]),
            Err(Untrusted::Symlink(_))
        ));
        // A file is neither a directory nor a socket.
        let file = dir.join("f");
        std::fs::write(&file, b"").expect("write");
        assert!(matches!(
            check_runtime_dir(&file, &[me]),
            Err(Untrusted::Kind(..))
        ));
        assert!(matches!(
            check_socket(&file, &[me]),
            Err(Untrusted::Kind(..))
        ));
        let sock = dir.join("s.sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
        assert!(check_socket(&sock, &[me]).is_ok());
        assert!(
            check_runtime_dir(&tmp.join("absent"), &[me])
                .expect_err("absent")
                .is_missing()
        );
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn root_uses_system_paths() {
        let p = Paths::resolve(env_of(&[("HOME", "/root")]), 0);
        assert!(p.system_mode);
        assert_eq!(p.units, PathBuf::from("/etc/daimon/units"));
        assert_eq!(p.runtime, PathBuf::from("/run/daimon"));
    }
}
