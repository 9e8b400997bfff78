//! The tmux harness of the `daimon top` tests: a tmux server per test (its
//! socket in the test's home), `send-keys` to type, `capture-pane` to read.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::*;

/// A tmux server of this test's own (its socket in the daemon's home).
pub struct Tmux {
    pub socket: PathBuf,
}

impl Tmux {
    pub fn cmd(&self, args: &[&str]) -> std::process::Output {
        run_bounded(
            Command::new("tmux").arg("-S").arg(&self.socket).args(args),
            Duration::from_secs(10),
        )
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "top"]).stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "top"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status.success(), "tmux send-keys {keys:?}");
    }

    pub fn wait_screen(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_until(what, DEADLINE, || {
                last = self.screen();
                cond(&last)
            })
        }));
        assert!(found.is_ok(), "{what}; the screen was:\n{last}");
        last
    }

    pub fn pane_pid(&self) -> u32 {
        let out = self.cmd(&["display-message", "-p", "-t", "top", "#{pane_pid}"]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("tmux pane pid")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

pub fn tmux_present() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Starts `daimon top` in a 120x30 tmux pane, inside a shell that records
/// the terminal settings before and after it (`stty -g`) and its exit code.
pub fn top_in_tmux(d: &mut Daemon) -> Tmux {
    let home = d.path().to_path_buf();
    // A socket of its own per call: a server killed a moment ago may still
    // hold the last one while it exits.
    static SESSIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmux = Tmux {
        socket: home.join(format!("tmux-{n}.sock")),
    };
    let script = format!(
        // The settings are saved before the exit code shows, so a test that
        // saw `top-exit=` finds them written.
        "stty -g > {h}/stty.before; DAIMON_HOME={h} {top} top; e=$?; \
         stty -g > {h}/stty.after; echo top-exit=$e; exec cat",
        h = home.display(),
        top = bin("daimon").display(),
    );
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "top",
        "-x",
        "120",
        "-y",
        "30",
        "sh",
        "-c",
        &script,
    ]);
    assert!(
        out.status.success(),
        "tmux new-session: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if let Ok(pid) = String::from_utf8_lossy(&tmux.cmd(&["display-message", "-p", "#{pid}"]).stdout)
        .trim()
        .parse::<u32>()
    {
        d.extra.push(pid);
    }
    tmux
}

pub fn sleeper(d: &mut Daemon, name: &str) {
    d.write_unit(
        &format!("{name}.service"),
        "[Service]\nExecStart=/bin/sleep 10000\n",
    );
}

pub fn restored(home: &Path) -> bool {
    let read = |f: &str| std::fs::read_to_string(home.join(f)).unwrap_or_default();
    !read("stty.after").is_empty() && read("stty.before") == read("stty.after")
}

/// The terminal tests need tmux; they never pass without running.
pub fn need_tmux() {
    assert!(
        tmux_present(),
        "tmux is not installed: apt-get install tmux (or run `bash .ci/run`, which installs every test dependency)"
    );
}

/// Sends `sig` to the pane's one `daimon top`, waits for it to exit 0, and
/// checks the terminal settings are what they were before it started.
pub fn signal_top_and_expect_restored(home: &Path, tmux: &Tmux, sig: i32, name: &str) {
    let top = children_of(tmux.pane_pid());
    assert_eq!(
        top.len(),
        1,
        "one `daimon top` under the pane's shell: {top:?}"
    );
    kill(top[0], sig);
    tmux.wait_screen(&format!("top to exit on {name}"), |s| {
        s.contains("top-exit=0")
    });
    assert!(restored(home), "stty settings differ after {name}");
}
