//! `daimon logs -r` (newest first) and the pager on a terminal, as journalctl
//! does them: tmux runs the CLI in a real terminal, `capture-pane` reads the
//! screen and `send-keys` types. Without tmux the test fails with the command
//! that installs it (`bash .ci/run` does).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;

/// Lines the `lines` unit writes: more than the 20-row pane holds.
const N: usize = 200;

/// A daemon whose unit `lines.service` has written `line 1` .. `line N` (on
/// stdout: `_TRANSPORT=stdout` leaves out what daimond says about the unit).
fn with_lines() -> Daemon {
    let mut d = Daemon::start();
    let script = d.script("lines.sh", &format!("seq -f 'line %g' {N}"));
    d.write_unit(
        "lines.service",
        &format!("[Service]\nExecStart={}\n", script.display()),
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "lines"]);
    wait_until("the unit's last line in the store", DEADLINE, || {
        d.cli(&["logs", "lines", "_TRANSPORT=stdout", "-o", "cat", "-n", "1"])
            .stdout
            == format!("line {N}\n").as_bytes()
    });
    d
}

fn cat_lines(d: &mut Daemon, args: &[&str]) -> Vec<String> {
    let out = d.cli(args);
    assert!(
        out.status.success(),
        "daimon {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn reverse_prints_newest_first_and_refuses_follow() {
    let mut d = with_lines();
    let all: Vec<String> = (1..=N).rev().map(|i| format!("line {i}")).collect();
    assert_eq!(
        cat_lines(
            &mut d,
            &["logs", "lines", "_TRANSPORT=stdout", "-o", "cat", "-r"]
        ),
        all
    );
    assert_eq!(
        cat_lines(
            &mut d,
            &[
                "logs",
                "lines",
                "_TRANSPORT=stdout",
                "-o",
                "cat",
                "--reverse",
                "-n",
                "3"
            ]
        ),
        ["line 200", "line 199", "line 198"]
    );
    // The short format too: each line ends with its message, newest first.
    let short = cat_lines(
        &mut d,
        &["logs", "lines", "_TRANSPORT=stdout", "-r", "-n", "2"],
    );
    assert_eq!(short.len(), 2, "{short:?}");
    assert!(short[0].ends_with(": line 200"), "{short:?}");
    assert!(short[1].ends_with(": line 199"), "{short:?}");
    let out = d.cli(&["logs", "lines", "_TRANSPORT=stdout", "-r", "-f"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--follow"), "{err}");
}

/// A tmux server of this test's own (its socket in the daemon's home); one
/// session per command.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        run_bounded(
            Command::new("tmux").arg("-S").arg(&self.socket).args(args),
            Duration::from_secs(10),
        )
    }

    /// Runs `daimon ARGS` with `env` (after clearing the pager variables) in a
    /// new 80x20 session named `name`, then prints its exit code and keeps
    /// the pane open (the shell survives a Ctrl-C meant for daimon: a trap
    /// that does nothing, which unlike an ignored signal is not inherited).
    fn run(&self, d: &mut Daemon, name: &str, env: &str, args: &str) {
        let script = format!(
            "trap true INT; env -u LESS -u PAGER -u DAIMON_PAGER -u DAIMON_PAGERSECURE -u LESSSECURE {env} \
             DAIMON_HOME={h} {cli} {args}; echo {name}-exit=$?; exec cat",
            h = d.path().display(),
            cli = bin("daimon").display(),
        );
        let out = self.cmd(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "80",
            "-y",
            "20",
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
            && !d.extra.contains(&pid)
        {
            d.extra.push(pid);
        }
    }

    fn screen(&self, name: &str) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", name]).stdout).into_owned()
    }

    fn keys(&self, name: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", name];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status.success(), "tmux send-keys {keys:?}");
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

fn has_line(screen: &str, line: &str) -> bool {
    screen.lines().any(|l| l.trim_end() == line)
}

#[test]
fn a_terminal_gets_a_pager_unless_told_otherwise() {
    assert!(
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success()),
        "tmux is not installed: apt-get install tmux (or run `bash .ci/run`)"
    );
    let mut d = with_lines();
    let tmux = Tmux {
        socket: d.path().join("tmux.sock"),
    };

    // The default: less, on the first screen, waiting for the reader. As root
    // it runs with LESSSECURE=1: its shell escape is refused.
    tmux.run(&mut d, "less", "", "logs lines _TRANSPORT=stdout -o cat");
    let first = tmux.wait_screen("less", "less showing the first screen", |s| {
        has_line(s, "line 1") && has_line(s, "line 19")
    });
    assert!(!first.contains("line 200"), "{first}");
    assert!(!first.contains("less-exit="), "{first}");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        tmux.keys("less", &["!"]);
        tmux.wait_screen("less", "less's secure mode refusing `!`", |s| {
            s.contains("Command not available")
        });
        tmux.keys("less", &["Enter"]);
    }
    tmux.keys("less", &["G"]);
    tmux.wait_screen("less", "less at the last line", |s| has_line(s, "line 200"));
    tmux.keys("less", &["q"]);
    tmux.wait_screen("less", "daimon exiting 0 once less quits", |s| {
        s.contains("less-exit=0")
    });

    // --no-pager: straight to the terminal, the last lines on the screen.
    tmux.run(
        &mut d,
        "direct",
        "",
        "logs lines _TRANSPORT=stdout -o cat --no-pager",
    );
    let s = tmux.wait_screen("direct", "daimon exiting without a pager", |s| {
        s.contains("direct-exit=0")
    });
    assert!(has_line(&s, "line 200") && !has_line(&s, "line 1"), "{s}");

    // -f never pages: the newest lines at the bottom, still following.
    tmux.run(
        &mut d,
        "follow",
        "",
        &format!("logs lines _TRANSPORT=stdout -o cat -f -n {N}"),
    );
    let s = tmux.wait_screen("follow", "the followed lines on the terminal", |s| {
        has_line(s, "line 200")
    });
    assert!(!has_line(&s, "line 1"), "{s}");
    tmux.keys("follow", &["C-c"]);
    tmux.wait_screen("follow", "daimon logs -f ending on Ctrl-C", |s| {
        s.contains("follow-exit=")
    });

    // $DAIMON_PAGER, else $PAGER (outside secure mode: as root a chosen
    // pager is ignored unless DAIMON_PAGERSECURE=0, as systemd does).
    let insecure = "DAIMON_PAGERSECURE=0";
    tmux.run(
        &mut d,
        "mine",
        &format!("{insecure} PAGER='sed s/^/pager:/' DAIMON_PAGER='sed s/^/daimon-pager:/'"),
        "logs lines _TRANSPORT=stdout -o cat -n 1",
    );
    let s = tmux.wait_screen("mine", "$DAIMON_PAGER's output", |s| {
        s.contains("mine-exit=0")
    });
    assert!(has_line(&s, "daimon-pager:line 200"), "{s}");
    tmux.run(
        &mut d,
        "theirs",
        &format!("{insecure} PAGER='sed s/^/pager:/'"),
        "logs lines _TRANSPORT=stdout -o cat -n 1",
    );
    let s = tmux.wait_screen("theirs", "$PAGER's output", |s| s.contains("theirs-exit=0"));
    assert!(has_line(&s, "pager:line 200"), "{s}");

    // Not a terminal: no pager, whatever the environment says.
    tmux.run(
        &mut d,
        "piped",
        &format!("{insecure} DAIMON_PAGER='sed s/^/daimon-pager:/'"),
        "logs lines _TRANSPORT=stdout -o cat -n 1 | cat",
    );
    let s = tmux.wait_screen("piped", "the piped output", |s| s.contains("piped-exit=0"));
    assert!(has_line(&s, "line 200"), "{s}");
}
