//! `daimon run --tty` and `daimon attach`, driven through tmux as a person
//! would: a Python REPL run with a terminal, typed to and read back, detached
//! from and attached to again (the earlier output redrawn), resized, watched
//! by a second read-only client, kept across a `kill -9` of daimond, and its
//! output found by `daimon logs`. Each attach runs in a shell that records
//! the terminal settings before and after (`stty -g`) and the exit code.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{DEADLINE, Daemon, bin, pid_alive, run_bounded, wait_until};

/// One tmux server per test (its socket in the test's home).
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn new(d: &Daemon) -> Tmux {
        Tmux {
            socket: d.path().join("tmux.sock"),
        }
    }

    fn cmd(&self, args: &[&str]) -> std::process::Output {
        run_bounded(
            Command::new("tmux").arg("-S").arg(&self.socket).args(args),
            Duration::from_secs(10),
        )
    }

    /// Starts `daimon attach ARGS` in a new session `name` (COLSxROWS), in a
    /// shell that records `stty -g` before and after it and its exit code.
    fn attach(&self, d: &mut Daemon, name: &str, size: (u16, u16), args: &str) {
        self.attach_env(d, name, size, "", args);
    }

    /// [`Tmux::attach`] with environment assignments (`K=V ...`) for attach.
    fn attach_env(&self, d: &mut Daemon, name: &str, size: (u16, u16), env: &str, args: &str) {
        let h = d.path().display().to_string();
        let script = format!(
            "stty -g > {h}/{name}.before; {env} DAIMON_HOME={h} {cli} attach {args}; \
             echo attach-exit=$?; stty -g > {h}/{name}.after; exec cat",
            cli = bin("daimon").display(),
        );
        let (cols, rows) = (size.0.to_string(), size.1.to_string());
        let out = self.cmd(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            &cols,
            "-y",
            &rows,
            "sh",
            "-c",
            &script,
        ]);
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Ok(pid) =
            String::from_utf8_lossy(&self.cmd(&["display-message", "-p", "#{pid}"]).stdout)
                .trim()
                .parse::<u32>()
        {
            d.extra.push(pid);
        }
    }

    fn screen(&self, name: &str) -> String {
        let target = format!("{name}:");
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", &target]).stdout)
            .into_owned()
    }

    fn keys(&self, name: &str, keys: &[&str]) {
        let target = format!("{name}:");
        let mut args = vec!["send-keys", "-t", &target];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status.success(), "tmux send-keys {keys:?}");
    }

    /// Types `line` literally, then Enter.
    fn line(&self, name: &str, line: &str) {
        self.keys(name, &["-l", line]);
        self.keys(name, &["Enter"]);
    }

    fn wait_screen(&self, name: &str, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_until(what, DEADLINE, || {
                last = self.screen(name);
                cond(&last)
            })
        }));
        assert!(found.is_ok(), "{what}; the screen of {name} was:\n{last}");
        last
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// The terminal tests need tmux; they never pass without running.
fn need_tmux() {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tmux is not installed: apt-get install tmux (or run `bash .ci/run`, which installs every test dependency)"
    );
}

/// The terminal settings of session `name` are what they were before attach
/// (the shell writes them just after attach returned: waited for).
fn restored(home: &Path, name: &str) -> bool {
    let read = |f: String| std::fs::read_to_string(home.join(f)).unwrap_or_default();
    let after = home.join(format!("{name}.after"));
    wait_until("stty -g after attach", DEADLINE, || {
        std::fs::metadata(&after).is_ok_and(|m| m.len() > 0)
    });
    read(format!("{name}.before")) == read(format!("{name}.after"))
}

/// A line of the screen that is exactly `text` (the REPL's answers).
fn has_line(screen: &str, text: &str) -> bool {
    screen.lines().any(|l| l.trim_end() == text)
}

/// `python3 -q -i` as `repl.service` with a terminal; its main PID.
fn start_repl(d: &mut Daemon, restart: &str) -> u32 {
    d.ok(&[
        "run",
        "--tty",
        "--name",
        "repl",
        "--restart",
        restart,
        "--",
        "python3",
        "-q",
        "-i",
    ]);
    d.wait_main_pid("repl")
}

#[test]
fn a_repl_is_typed_to_detached_from_redrawn_resized_and_logged() {
    need_tmux();
    let mut d = Daemon::start();
    let pid = start_repl(&mut d, "no");
    let tmux = Tmux::new(&d);

    tmux.attach(&mut d, "one", (100, 30), "repl");
    tmux.wait_screen("one", "the prompt", |s| s.contains(">>>"));
    tmux.line("one", "6*7");
    tmux.wait_screen("one", "the answer", |s| has_line(s, "42"));
    // Ctrl-C is the program's (its controlling terminal makes it a SIGINT).
    tmux.line("one", "import time; time.sleep(60)");
    tmux.keys("one", &["C-c"]);
    tmux.wait_screen("one", "the REPL interrupted", |s| {
        s.contains("KeyboardInterrupt")
    });
    assert!(pid_alive(pid), "the REPL survived its Ctrl-C");

    // Ctrl-] detaches: the REPL never sees it and keeps running.
    tmux.keys("one", &["C-]"]);
    let screen = tmux.wait_screen("one", "attach to return", |s| s.contains("attach-exit=0"));
    assert!(screen.contains("detached from repl.service"), "{screen}");
    assert!(
        restored(d.path(), "one"),
        "stty settings differ after detaching"
    );
    assert!(pid_alive(pid), "the REPL still runs");
    assert_eq!(d.status_json("repl")["pid"].as_u64(), Some(pid as u64));

    // Attach again: the earlier exchange is redrawn from the replay buffer.
    tmux.attach(&mut d, "two", (100, 30), "repl");
    tmux.wait_screen("two", "the earlier output redrawn", |s| {
        s.contains("6*7") && has_line(s, "42")
    });

    // The window size follows the client: SIGWINCH, then TIOCSWINSZ.
    assert!(
        tmux.cmd(&["resize-window", "-t", "two:", "-x", "91", "-y", "33"])
            .status
            .success()
    );
    // Asked until the answer is the new size (the resize travels
    // asynchronously from tmux to attach to daimond).
    wait_until("stty size to say 33 91", DEADLINE, || {
        tmux.line("two", "import os; os.system('stty size')");
        wait_screen_quiet(&tmux, "two", |s| has_line(s, "33 91"))
    });

    // What it printed is in the log store, escape sequences removable.
    let out = d.ok(&["logs", "repl", "-o", "cat", "--strip-escapes"]);
    assert!(out.lines().any(|l| l == ">>> 6*7"), "{out}");
    assert!(out.lines().any(|l| l == "42"), "{out}");

    // When the service exits, attach says how and returns.
    tmux.line("two", "exit(3)");
    let screen = tmux.wait_screen("two", "attach to return", |s| s.contains("attach-exit=0"));
    assert!(
        screen.contains("repl.service: main process exited, status=3"),
        "{screen}"
    );
    assert!(
        restored(d.path(), "two"),
        "stty settings differ after the exit"
    );
}

/// Like `Tmux::wait_screen`, without failing: whether `cond` came true
/// within a second.
fn wait_screen_quiet(tmux: &Tmux, name: &str, cond: impl Fn(&str) -> bool) -> bool {
    let until = std::time::Instant::now() + Duration::from_secs(1);
    while std::time::Instant::now() < until {
        if cond(&tmux.screen(name)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn two_clients_see_the_same_output_and_a_read_only_one_never_types() {
    need_tmux();
    let mut d = Daemon::start();
    start_repl(&mut d, "no");
    let tmux = Tmux::new(&d);
    tmux.attach(&mut d, "rw", (100, 30), "repl");
    tmux.wait_screen("rw", "the prompt", |s| s.contains(">>>"));
    // The detach key from the environment.
    let key = "DAIMON_DETACH_KEY=ctrl-q";
    tmux.attach_env(&mut d, "ro", (60, 20), key, "--read-only repl");
    tmux.wait_screen("ro", "the watcher attached", |s| {
        s.contains("watching repl.service; detach with Ctrl-Q") && s.contains(">>>")
    });

    // Typed in the watcher: never sent. Then typed in the other: seen by both.
    tmux.line("ro", "print('from-' + 'ro')");
    tmux.line("rw", "print('from-' + 'rw')");
    tmux.wait_screen("ro", "the other client's output", |s| {
        has_line(s, "from-rw")
    });
    let screen = tmux.wait_screen("rw", "its own output", |s| has_line(s, "from-rw"));
    assert!(!screen.contains("from-ro"), "{screen}");

    // The read-only client did not set the size: the other one's holds.
    tmux.line("rw", "import os; os.system('stty size')");
    tmux.wait_screen("rw", "the writer's size", |s| has_line(s, "30 100"));

    // Its detach key works; the other client stays attached.
    tmux.keys("ro", &["C-q"]);
    tmux.wait_screen("ro", "the watcher to return", |s| {
        s.contains("attach-exit=0")
    });
    tmux.line("rw", "print(6*7)");
    tmux.wait_screen("rw", "still attached", |s| has_line(s, "42"));
}

#[test]
fn the_terminal_survives_a_kill_9_of_daimond_and_attach_works_again() {
    need_tmux();
    let mut d = Daemon::start();
    let pid = start_repl(&mut d, "no");
    let tty = std::fs::read_link(format!("/proc/{pid}/fd/0")).expect("the REPL's stdin");
    let tmux = Tmux::new(&d);
    tmux.attach(&mut d, "before", (100, 30), "repl");
    tmux.wait_screen("before", "the prompt", |s| s.contains(">>>"));

    d.kill_daemon();
    let screen = tmux.wait_screen("before", "attach to return", |s| {
        s.contains("attach-exit=1")
    });
    assert!(screen.contains("daimond closed the connection"), "{screen}");
    assert!(
        restored(d.path(), "before"),
        "stty settings differ after daimond died"
    );
    assert!(pid_alive(pid), "the REPL outlived daimond");
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/fd/0")).ok(),
        Some(tty),
        "the same terminal"
    );

    d.spawn_daemon();
    tmux.attach(&mut d, "after", (100, 30), "repl");
    tmux.wait_screen("after", "attached again", |s| {
        s.contains("attached to repl.service")
    });
    tmux.line("after", "6*7");
    tmux.wait_screen("after", "the answer through the new daimond", |s| {
        has_line(s, "42")
    });
    assert_eq!(d.status_json("repl")["pid"].as_u64(), Some(pid as u64));
    let out = d.ok(&["logs", "repl", "-o", "cat", "--strip-escapes"]);
    assert!(out.lines().any(|l| l == "42"), "{out}");

    // daemon-reexec keeps it too.
    d.ok(&["daemon-reexec"]);
    let screen = tmux.wait_screen("after", "attach to return", |s| s.contains("attach-exit="));
    assert!(screen.contains("attach-exit=1"), "{screen}");
    tmux.attach(&mut d, "reexec", (100, 30), "repl");
    tmux.wait_screen("reexec", "attached again", |s| {
        s.contains("attached to repl.service")
    });
    tmux.line("reexec", "6*8");
    tmux.wait_screen("reexec", "the answer after reexec", |s| has_line(s, "48"));
}

#[test]
fn attach_says_what_to_do_for_a_unit_without_a_terminal_or_stopped() {
    let mut d = Daemon::start();
    d.ok(&["run", "--name", "plain", "--", "sleep", "10000"]);
    d.wait_main_pid("plain");
    let out = d.cli(&["attach", "plain"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("plain.service has no terminal") && err.contains("daimon run --tty"),
        "{err}"
    );

    start_repl(&mut d, "no");
    d.ok(&["stop", "repl"]);
    let out = d.cli(&["attach", "repl"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("repl.service is not running") && err.contains("daimon start repl.service"),
        "{err}"
    );

    let out = d.cli(&["attach", "nosuch"]);
    assert_eq!(out.status.code(), Some(4));

    let out = d.cli(&["attach", "--detach-key", "alt-x", "repl"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid detach key"));
}

#[test]
fn a_unit_file_with_standard_input_tty_gets_a_terminal_and_never_waits_for_a_client() {
    let mut d = Daemon::start();
    // 400 KB of output with nobody attached (a pty holds a few KiB): the
    // service must run to its end anyway. StandardOutput= is not set: it
    // follows the input, as systemd's default does for a tty.
    d.write_unit(
        "console.service",
        "[Service]\nStandardInput=tty\nStandardError=tty\nTTYPath=/dev/tty1\n\
         ExecStart=/bin/sh -c 'echo term=$TERM; tty; echo out=$(readlink /proc/$$/fd/1) \
         err=$(readlink /proc/$$/fd/2); head -c 400000 /dev/zero | tr \"\\\\0\" x | fold -w 100; \
         echo done-writing; exec sleep 10000'\n",
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "console"]);
    let mut out = String::new();
    // Bounded by more than the usual deadline: it is throughput on a busy machine.
    wait_until("the whole output in the log store", DEADLINE * 3, || {
        out = d.ok(&[
            "logs",
            "console",
            "-o",
            "cat",
            "-g",
            "term=|/dev/pts/|done-writing",
        ]);
        out.contains("done-writing")
    });
    assert!(out.lines().any(|l| l == "term=xterm-256color"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("/dev/pts/")), "{out}");
}
