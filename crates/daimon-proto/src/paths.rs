//! Where things live (PRODUCT.md, "Where things live").
//!
//! `DAIMON_HOME=DIR` relocates everything to `DIR/units`, `DIR/run`, `DIR/state`.
//! Without it: XDG directories in user mode, `/etc`, `/run`, `/var/lib` as root.

use std::env;
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

/// The effective uid of this process.
pub fn current_uid() -> u32 {
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
    fn root_uses_system_paths() {
        let p = Paths::resolve(env_of(&[("HOME", "/root")]), 0);
        assert!(p.system_mode);
        assert_eq!(p.units, PathBuf::from("/etc/daimon/units"));
        assert_eq!(p.runtime, PathBuf::from("/run/daimon"));
    }
}
