//! README's "A five-minute tour", typed literally: every `$ ` line of the tour's
//! console blocks is read from README.md and run with `sh -c` in a fresh home,
//! in order, and what it prints is held against what README shows (PIDs, times
//! and sizes aside). A README edit that changes the tour's commands fails here
//! until this test follows, so the two stay in step.
//!
//! The home: `DAIMON_HOME` is the test's home, and `HOME/.config/daimon` links
//! to it, so that README's `~/.config/daimon/units` is the units directory the
//! daemon reads. The first command starts daimond, as it does for a user.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;

/// The tour's commands, in README's order.
const TOUR: &[&str] = &[
    "daimon run --restart always -- python3 bot.py",
    "exit",
    "daimon status bot",
    "daimon logs bot -p warning --since \"1 hour ago\"",
    "daimon logs bot -f",
    "daimon status",
    "daimon run --name bot --restart always --enable -- python3 bot.py",
    "daimon cat bot",
    "cd ~/.config/daimon/units && daimon verify web.service",
    "daimon daemon-reload",
    "daimon start web && daimon enable web",
    "daimon cat web",
    "daimon logs web -n 50 -o json",
];

/// Crashes on its first two runs (after a second, so that `run` sees it
/// start), then stays up, like a bot whose chat server comes back.
const BOT_PY: &str = r#"import os, sys, time
n = int(open("runs").read()) if os.path.exists("runs") else 0
open("runs", "w").write(str(n + 1))
if n < 2:
    time.sleep(1)
    print("lost connection to the chat server", file=sys.stderr, flush=True)
    sys.exit(1)
print("bot online", flush=True)
while True:
    time.sleep(60)
"#;

/// The unit file of the tour's `verify`: two errors and a warning on the
/// lines README shows.
const WEB_BAD: &str = "[Unit]\nDescription=Web app\n\n[Service]\n\
ExecStart=/bin/sh -c \"echo web listening; exec sleep 1000\"\nWorkingDirectory=/\n\
Restart=sometimes\nRestartSec=ten\nProtectSystem=full\n\n[Install]\nWantedBy=default.target\n";

/// One `$ ` line of README and the lines it shows after it.
struct Step {
    command: String,
    output: Vec<String>,
}

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(&path).expect("README.md")
}

/// The tour's steps: its section's console blocks, comments after two spaces
/// and a `#` dropped.
fn tour_steps(readme: &str) -> Vec<Step> {
    let start = readme
        .find("## A five-minute tour")
        .expect("README has the tour");
    let rest = &readme[start + 3..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut steps: Vec<Step> = Vec::new();
    let mut in_console = false;
    for line in section.lines() {
        if line.starts_with("```") {
            in_console = line == "```console";
            continue;
        }
        if !in_console {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            let cmd = cmd.split("  #").next().unwrap_or(cmd).trim_end();
            steps.push(Step {
                command: cmd.to_string(),
                output: Vec::new(),
            });
        } else if let Some(s) = steps.last_mut() {
            s.output.push(line.to_string());
        }
    }
    steps
}

/// What stays the same from one run to another: the home shown as README's,
/// every number as `N` with the unit that follows it (PIDs, times, sizes:
/// `13M`, `9.5M`, `30ms` and `1.2s` alike), runs of spaces as one (table columns
/// follow the numbers' widths).
fn norm(text: &str, home: &Path) -> String {
    let text = text.replace(&home.display().to_string(), "/home/you/.config/daimon");
    let mut out = String::new();
    for line in text.lines() {
        let mut l = String::new();
        let mut chars = line.chars().peekable();
        let mut prev = ' ';
        while let Some(c) = chars.next() {
            if c.is_ascii_digit() {
                while chars
                    .peek()
                    .is_some_and(|d| d.is_ascii_digit() || *d == '.')
                {
                    chars.next();
                }
                // A quantity starts a word (`python3` keeps its letters).
                if !prev.is_ascii_alphanumeric() {
                    while chars.peek().is_some_and(|d| d.is_ascii_alphabetic()) {
                        chars.next();
                    }
                }
                prev = '0';
                l.push('N');
            } else if c == ' ' {
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
                prev = ' ';
                l.push(' ');
            } else {
                prev = c;
                l.push(c);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    }
    out
}

/// The message of a log line in the short format (after `unit[pid]: `).
fn message(line: &str) -> &str {
    line.split_once("]: ").map_or(line, |(_, m)| m)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct Tour {
    d: Daemon,
    user_home: PathBuf,
    project: PathBuf,
    path_var: String,
}

impl Tour {
    fn new() -> Tour {
        let d = Daemon::home_only();
        let user_home = d.path().join("you");
        std::fs::create_dir_all(user_home.join(".config")).expect("home");
        std::os::unix::fs::symlink(d.path(), user_home.join(".config/daimon")).expect("link");
        let project = d.path().join("project");
        std::fs::create_dir_all(&project).expect("project dir");
        std::fs::write(project.join("bot.py"), BOT_PY).expect("bot.py");
        let daimon = bin("daimon");
        let bin_dir = daimon.parent().expect("bin dir").display().to_string();
        let path_var = match std::env::var("PATH") {
            Ok(p) => format!("{bin_dir}:{p}"),
            Err(_) => bin_dir,
        };
        Tour {
            d,
            user_home,
            project,
            path_var,
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.project)
            .env("DAIMON_HOME", self.d.path())
            .env("HOME", &self.user_home)
            .env("PATH", &self.path_var)
            .env_remove("NO_COLOR");
        c
    }

    /// `sh -c LINE`, as typed at a prompt.
    fn type_line(&mut self, line: &str) -> Output {
        let out = run_bounded(
            self.command("sh").arg("-c").arg(line),
            Duration::from_secs(30),
        );
        self.d.record_descendants();
        out
    }

    /// `daimon logs ... -f`: its first line, then it is ended by PID.
    fn follow_first_line(&mut self, line: &str) -> String {
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();
        let mut child = self
            .command(&bin("daimon").display().to_string())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the follower");
        self.d.extra.push(child.id());
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = std::io::BufReader::new(out).read_line(&mut first);
            let _ = tx.send(first);
        });
        let first = rx.recv_timeout(DEADLINE).expect("the follower prints");
        kill(child.id(), libc::SIGTERM);
        let _ = child.wait();
        first
    }
}

fn assert_ok(out: &Output, line: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "$ {line}\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn the_readme_tour_works_when_typed_literally() {
    let readme = readme();
    let steps = tour_steps(&readme);
    let commands: Vec<&str> = steps.iter().map(|s| s.command.as_str()).collect();
    assert_eq!(
        commands, TOUR,
        "README's tour changed: make this test follow it"
    );
    let mut t = Tour::new();
    let home = t.d.path().to_path_buf();
    let shown = |i: usize| norm(&steps[i].output.join("\n"), &home);
    let mut bot_pid = 0;
    let mut transient_text = String::new();

    for (i, step) in steps.iter().enumerate() {
        let line = step.command.as_str();
        match i {
            // run: the Started line README shows, nothing on stderr.
            0 => {
                let out = t.type_line(line);
                assert_ok(&out, line);
                assert_eq!(norm(&text(&out.stdout), &home), shown(i));
                assert_eq!(text(&out.stderr), "");
            }
            // Logging out: the bot keeps running, crashes twice, comes back.
            1 => {
                wait_until("the bot online after two crashes", DEADLINE, || {
                    let st = t.d.status_json("bot");
                    st["restarts"] == 2 && st["sub_state"] == "running"
                });
                wait_until("\"bot online\" in the logs", DEADLINE, || {
                    text(&t.d.cli(&["logs", "bot", "-o", "cat"]).stdout).contains("bot online")
                });
                bot_pid = t.d.wait_main_pid("bot");
                transient_text = text(&t.d.cli(&["cat", "bot"]).stdout);
            }
            2 => {
                let out = t.type_line(line);
                assert_ok(&out, line);
                let got = norm(&text(&out.stdout), &home);
                let want = shown(i);
                let (got_head, got_logs) = got.split_once("\n\n").expect("logs after a blank line");
                let (want_head, want_logs) = want.split_once("\n\n").expect("README's too");
                // The head, line by line; times and sizes vary in their form.
                let heads: Vec<(&str, &str)> = got_head.lines().zip(want_head.lines()).collect();
                assert_eq!(got_head.lines().count(), want_head.lines().count(), "{got}");
                for (g, w) in heads {
                    let label = |s: &str| s.split(':').next().unwrap_or(s).to_string();
                    match label(w).trim() {
                        "Active" => {
                            assert_eq!(g.split(" since").next(), w.split(" since").next(), "{got}")
                        }
                        "Memory" | "CPU" => assert_eq!(label(g), label(w)),
                        _ => assert_eq!(g, w, "{got}"),
                    }
                }
                // The last ten lines: README's kinds of line, ending with the bot's.
                let got_msgs: Vec<&str> = got_logs.lines().map(message).collect();
                let want_msgs: Vec<&str> = want_logs.lines().map(message).collect();
                assert_eq!(got_msgs.len(), 10, "{got}");
                assert!(got_msgs.iter().all(|m| want_msgs.contains(m)), "{got}");
                assert_eq!(got_msgs.last(), Some(&"bot online"), "{got}");
            }
            // What went wrong: daimond's lines about the two crashes, in order.
            3 => {
                let out = t.type_line(line);
                assert_ok(&out, line);
                let got: Vec<String> = norm(&text(&out.stdout), &home)
                    .lines()
                    .map(|l| message(l).to_string())
                    .collect();
                let want: Vec<String> = shown(i).lines().map(|l| message(l).to_string()).collect();
                assert_eq!(got, want);
            }
            4 => {
                let first = t.follow_first_line(line);
                assert!(first.contains(" bot["), "{first}");
            }
            5 => {
                let out = t.type_line(line);
                assert_ok(&out, line);
                assert_eq!(norm(&text(&out.stdout), &home), shown(i));
            }
            // Saved and enabled without a restart.
            6 => {
                let out = t.type_line(line);
                assert_ok(&out, line);
                assert_eq!(norm(&text(&out.stdout), &home), shown(i));
                assert!(text(&out.stdout).contains(&format!("(pid {bot_pid})")));
                let file = t.d.units_dir().join("bot.service");
                let saved = std::fs::read_to_string(&file).expect("bot.service written");
                assert!(transient_text.ends_with(&saved), "{saved}");
                let st = t.d.status_json("bot");
                assert_eq!(st["pid"], bot_pid, "{st}");
                assert_eq!(st["enabled"], "enabled", "{st}");
                assert_eq!(st["load_state"], "loaded", "{st}");
                assert_eq!(st["restarts"], 2, "{st}");
            }
            7 => {
                let out = t.type_line(line);
                assert_ok(&out, line);
                let cat = text(&out.stdout);
                let file = t.d.units_dir().join("bot.service");
                assert!(cat.starts_with(&format!("# {}\n", file.display())), "{cat}");
                assert!(cat.contains("\nRestart=always\n"), "{cat}");
            }
            // A unit file with errors: exactly README's diagnostics, exit 1.
            8 => {
                t.d.write_unit("web.service", WEB_BAD);
                let out = t.type_line(line);
                assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
                assert_eq!(text(&out.stdout), steps[i].output.join("\n") + "\n");
            }
            // Fixed, then read again.
            9 => {
                let fixed = WEB_BAD
                    .replace("Restart=sometimes", "Restart=on-failure")
                    .replace("RestartSec=ten", "RestartSec=10s");
                t.d.write_unit("web.service", &fixed);
                let out = t.type_line(line);
                assert_ok(&out, line);
            }
            10 => {
                let out = t.type_line(line);
                assert_ok(&out, line);
                let st = t.d.status_json("web");
                assert_eq!(st["state"], "active", "{st}");
                assert_eq!(st["enabled"], "enabled", "{st}");
            }
            11 => {
                let out = t.type_line(line);
                assert_ok(&out, line);
                assert!(
                    text(&out.stdout).contains("\nRestart=on-failure\n"),
                    "{}",
                    text(&out.stdout)
                );
            }
            12 => {
                wait_until("web's line", DEADLINE, || {
                    text(&t.d.cli(&["logs", "web", "-o", "cat"]).stdout).contains("web listening")
                });
                let out = t.type_line(line);
                assert_ok(&out, line);
                let lines = text(&out.stdout);
                let mut seen = false;
                for l in lines.lines() {
                    let v: serde_json::Value =
                        serde_json::from_str(l).expect("one JSON object a line");
                    seen |= v["MESSAGE"] == "web listening";
                }
                assert!(seen, "{lines}");
            }
            _ => unreachable!("TOUR has {} commands", TOUR.len()),
        }
    }
}
