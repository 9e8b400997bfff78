//! The one harness every integration test uses: a private `DAIMON_HOME`, a real
//! `daimond --foreground`, the real `daimon` CLI, bounded waits, and cleanup by PID.
//!
//! On drop it asks the daemon to stop (SIGTERM), waits with a deadline, then
//! SIGKILLs the daemon and every process that descended from it, by PID — even when
//! the test failed. Nothing is ever killed by name.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const DEADLINE: Duration = Duration::from_secs(10);

/// Path of a binary built next to the test executable (`target/<profile>/NAME`).
pub fn bin(name: &str) -> PathBuf {
    if name == "daimond" {
        return PathBuf::from(env!("CARGO_BIN_EXE_daimond"));
    }
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not built: run the tests with `cargo test --workspace`",
        path.display()
    );
    path
}

/// Polls `cond` until it holds or `deadline` passes; panics naming `what`.
pub fn wait_until(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    while !cond() {
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

pub fn pid_alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; count it as dead for "is it running".
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

pub fn proc_state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// Start time of a process (field 22 of /proc/PID/stat, clock ticks since boot).
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let path = t.path().join("children");
            if let Ok(s) = fs::read_to_string(path) {
                out.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
            }
        }
    }
    out
}

pub fn descendants_of(pid: u32) -> BTreeSet<u32> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        for c in children_of(p) {
            if seen.insert(c) {
                stack.push(c);
            }
        }
    }
    seen
}

pub fn kill(pid: u32, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

pub struct Daemon {
    pub home: tempfile::TempDir,
    pub child: Option<Child>,
    /// Every process the test saw descend from the daemon (PID -> start time, so a
    /// recycled PID is never hit), ended on drop.
    pub seen: BTreeMap<u32, u64>,
    /// Extra PIDs the test started itself, ended on drop.
    pub extra: Vec<u32>,
}

impl Daemon {
    /// A fresh home with no daemon running yet (for tests of the CLI's auto-start).
    pub fn home_only() -> Daemon {
        Daemon::home_in(&std::env::temp_dir())
    }

    /// A fresh home inside `parent` (e.g. a small file system mounted for the
    /// test), with no daemon running yet.
    pub fn home_in(parent: &Path) -> Daemon {
        let home = tempfile::Builder::new()
            .prefix("daimon-test-")
            .tempdir_in(parent)
            .expect("tempdir");
        fs::create_dir_all(home.path().join("units")).expect("units dir");
        Daemon {
            home,
            child: None,
            seen: BTreeMap::new(),
            extra: Vec::new(),
        }
    }

    /// A fresh home and a `daimond --foreground` answering on its socket.
    pub fn start() -> Daemon {
        let mut d = Daemon::home_only();
        d.spawn_daemon();
        d
    }

    /// A `daimond --foreground` whose home is inside `parent`.
    pub fn start_in(parent: &Path) -> Daemon {
        let mut d = Daemon::home_in(parent);
        d.spawn_daemon();
        d
    }

    pub fn spawn_daemon(&mut self) {
        let child = Command::new(bin("daimond"))
            .arg("--foreground")
            .env("DAIMON_HOME", self.home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(self.stderr_file())
            .spawn()
            .expect("spawn daimond");
        self.child = Some(child);
        let sock = self.socket();
        // A socket that accepts, not one that exists: a test may leave a stale
        // socket file behind, and a CLI that found it dead would start a second
        // daimond of its own, racing this one.
        wait_until("daimond's socket to accept", DEADLINE, || {
            std::os::unix::net::UnixStream::connect(&sock).is_ok()
        });
        // The socket listens before the supervisor has read the unit files;
        // its first answer comes after. A test that writes a unit and then a
        // drop-in for it must not race that first read (which would load the
        // unit without the drop-in): wait for an answer.
        let out = self.cli(&["list"]);
        assert!(
            out.status.success(),
            "daimond answers `list` once started: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Where a foreground daimond's stderr goes (kept out of the test output; read
    /// it with [`Daemon::daemon_stderr`] when a test needs to).
    fn stderr_file(&self) -> Stdio {
        match fs::File::create(self.home.path().join("daimond.stderr")) {
            Ok(f) => Stdio::from(f),
            Err(_) => Stdio::inherit(),
        }
    }

    /// What the foreground daimond wrote to stderr so far.
    pub fn daemon_stderr(&self) -> String {
        fs::read_to_string(self.home.path().join("daimond.stderr")).unwrap_or_default()
    }

    pub fn path(&self) -> &Path {
        self.home.path()
    }

    pub fn units_dir(&self) -> PathBuf {
        self.home.path().join("units")
    }

    pub fn socket(&self) -> PathBuf {
        self.home.path().join("run/daimond.sock")
    }

    pub fn pid_file(&self) -> PathBuf {
        self.home.path().join("run/daimond.pid")
    }

    /// PID of the running daemon, from its child handle or its PID file.
    pub fn daemon_pid(&self) -> Option<u32> {
        if let Some(c) = &self.child {
            return Some(c.id());
        }
        fs::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Writes a unit file whole, as an editor saving it does (temp file, then
    /// rename): a daimond loading its directory at that moment sees the old
    /// file or the new one, never an empty one (which would read as masked).
    pub fn write_unit(&self, name: &str, text: &str) -> PathBuf {
        let path = self.units_dir().join(name);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).expect("unit dir");
        }
        let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("unit");
        let tmp = path.with_file_name(format!(".{file}.tmp"));
        fs::write(&tmp, text).expect("write unit");
        fs::rename(&tmp, &path).expect("rename unit into place");
        path
    }

    /// Writes an executable shell script into the home and returns its path.
    ///
    /// The executable is written by a child process (`install`), never opened for
    /// writing in this one: tests run on many threads, and a child another thread
    /// forks meanwhile would inherit a descriptor open for writing until its
    /// exec, so that daimond's `execve` of the script failed with ETXTBSY ("Text
    /// file busy").
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.home.path().join(name);
        let draft = self.home.path().join(format!(".{name}.draft"));
        fs::write(&draft, format!("#!/bin/sh\n{body}\n")).expect("write script");
        let status = Command::new("install")
            .arg("-m")
            .arg("0755")
            .arg(&draft)
            .arg(&path)
            .status()
            .expect("run install(1)");
        assert!(status.success(), "install {} failed", path.display());
        fs::remove_file(&draft).expect("remove the script's draft");
        path
    }

    /// Runs the `daimon` CLI against this home, with a deadline.
    pub fn cli(&mut self, args: &[&str]) -> Output {
        let cwd = std::env::current_dir().expect("current dir");
        self.cli_in(&cwd, args)
    }

    /// Runs the `daimon` CLI in directory `dir` (for `run` with relative paths).
    /// Output is read while it runs, so large outputs cannot block the child.
    pub fn cli_in(&mut self, dir: &Path, args: &[&str]) -> Output {
        let out = run_bounded(
            Command::new(bin("daimon"))
                .args(args)
                .current_dir(dir)
                .env("DAIMON_HOME", self.home.path())
                .env_remove("NO_COLOR"),
            Duration::from_secs(30),
        );
        self.record_descendants();
        out
    }

    /// Starts `daimon logs -f` and returns once it has printed a line: its stream
    /// from the daemon is then established (a fresh daemon has logged its start).
    /// Its output keeps being drained so it never blocks on a full pipe; it is
    /// ended by PID on drop.
    pub fn start_follower(&mut self) -> Child {
        let mut child = Command::new(bin("daimon"))
            .args(["logs", "-f"])
            .env("DAIMON_HOME", self.home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn follower");
        self.extra.push(child.id());
        let out = child.stdout.take().expect("follower stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut r = std::io::BufReader::new(out);
            let mut line = Vec::new();
            while r.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let _ = tx.send(());
                line.clear();
            }
        });
        rx.recv_timeout(DEADLINE)
            .expect("the follower printed its first line");
        child
    }

    /// Runs the CLI and asserts it exited 0; returns stdout.
    pub fn ok(&mut self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "daimon {args:?} failed ({:?}): {}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `status UNIT -o json` parsed, first element.
    pub fn status_json(&mut self, unit: &str) -> serde_json::Value {
        self.try_status_json(unit)
            .unwrap_or_else(|e| panic!("status -o json of {unit}: {e}"))
    }

    /// `status UNIT -o json` parsed, first element; the CLI's failure as text.
    pub fn try_status_json(&mut self, unit: &str) -> Result<serde_json::Value, String> {
        let out = self.cli(&["status", unit, "-o", "json"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{e}: exit {:?}, stdout {text:?}, stderr {:?}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        Ok(v.as_array()
            .and_then(|a| a.first())
            .cloned()
            .unwrap_or(serde_json::Value::Null))
    }

    /// Main PID of a unit once it is running (polled with a deadline).
    pub fn wait_main_pid(&mut self, unit: &str) -> u32 {
        let mut pid = 0;
        wait_until(&format!("a main PID for {unit}"), DEADLINE, || {
            let st = self.status_json(unit);
            match st["pid"].as_u64() {
                Some(p) if st["state"] == "active" => {
                    pid = p as u32;
                    true
                }
                _ => false,
            }
        });
        self.remember(pid);
        pid
    }

    /// Remembers a process to end on drop (with its start time).
    pub fn remember(&mut self, pid: u32) {
        if let Some(t) = start_time(pid) {
            self.seen.entry(pid).or_insert(t);
        }
    }

    /// SIGKILL to daimond (by PID); waits until it is gone. Its socket file
    /// stays behind, as after a real SIGKILL; it is removed here only so that
    /// [`Daemon::spawn_daemon`]'s wait for the socket waits for the new one.
    pub fn kill_daemon(&mut self) {
        self.record_descendants();
        let pid = self.daemon_pid().expect("daemon pid");
        kill(pid, libc::SIGKILL);
        if let Some(mut c) = self.child.take() {
            assert!(
                wait_child(&mut c, DEADLINE).is_some(),
                "daimond survived SIGKILL"
            );
        }
        wait_until("daimond gone", DEADLINE, || !pid_alive(pid));
        let _ = fs::remove_file(self.socket());
    }

    pub fn record_descendants(&mut self) {
        if let Some(pid) = self.daemon_pid() {
            for p in descendants_of(pid) {
                self.remember(p);
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.record_descendants();
        if let Some(pid) = self.daemon_pid() {
            kill(pid, libc::SIGTERM);
            let start = Instant::now();
            while pid_alive(pid) && start.elapsed() < DEADLINE {
                self.record_descendants();
                if let Some(c) = self.child.as_mut() {
                    let _ = c.try_wait();
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            kill(pid, libc::SIGKILL);
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for (pid, started) in &self.seen {
            if pid_alive(*pid) && start_time(*pid) == Some(*started) {
                kill(*pid, libc::SIGKILL);
            }
        }
        for pid in &self.extra {
            if pid_alive(*pid) {
                kill(*pid, libc::SIGKILL);
            }
        }
    }
}

/// Runs a command to completion with a deadline (stdin from /dev/null, output
/// captured); kills it by PID and panics when the deadline passes.
pub fn run_bounded(cmd: &mut Command, deadline: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    // Read the pipes on threads so a chatty child cannot block on a full pipe.
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut so, &mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut se, &mut v);
        v
    });
    let Some(status) = wait_child(&mut child, deadline) else {
        kill(pid, libc::SIGKILL);
        let _ = child.wait();
        panic!("{cmd:?} did not finish within {deadline:?}");
    };
    Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

/// Waits for a child with a deadline; `None` if it is still running.
pub fn wait_child(child: &mut Child, deadline: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Some(st),
            Ok(None) if start.elapsed() > deadline => return None,
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => return None,
        }
    }
}

/// Open descriptors of a process: (fd, what it points to).
pub fn fd_targets(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    if let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in dir.flatten() {
            let Some(n) = e.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Ok(t) = fs::read_link(e.path()) {
                out.push((n, t.display().to_string()));
            }
        }
    }
    out.sort();
    out
}

/// Session id of a process (0 = the caller).
pub fn getsid(pid: u32) -> i32 {
    // SAFETY: getsid has no memory-safety preconditions.
    unsafe { libc::getsid(pid as libc::pid_t) }
}

/// Parent PID from /proc/PID/stat.
pub fn ppid(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Replaces digits runs that look like PIDs and times, for snapshot comparisons.
pub fn redact_numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_num = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_num {
                out.push('N');
                in_num = true;
            }
        } else {
            in_num = false;
            out.push(c);
        }
    }
    out
}
