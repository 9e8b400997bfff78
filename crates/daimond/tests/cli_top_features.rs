//! `daimon top` at scale and its views, in tmux: 200 units (scrolling, the
//! filter, a stop through the key, a log pane that follows), the log search,
//! the detail view, attach handing the terminal over and taking it back, a
//! window too small to draw in, and the terminal restored on Ctrl-C and SIGHUP.

mod common;
mod top_tmux;

use common::*;
use top_tmux::*;

/// A unit that writes `tick N` five times a second.
fn ticker(d: &mut Daemon, name: &str) {
    let script = d.script(
        &format!("{name}.sh"),
        "i=0\nwhile :; do echo tick $i; i=$((i+1)); sleep 0.2; done\n",
    );
    d.write_unit(
        &format!("{name}.service"),
        &format!("[Service]\nExecStart=/bin/sh {}\n", script.display()),
    );
}

/// The highest `tick N` on the screen.
fn last_tick(screen: &str) -> Option<u64> {
    screen
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "tick")
        .filter_map(|w| w[1].parse().ok())
        .max()
}

#[test]
fn top_with_200_units_scrolls_filters_stops_and_follows_a_log() {
    need_tmux();
    let mut d = Daemon::start();
    let names: Vec<String> = (0..199).map(|i| format!("u{i:03}")).collect();
    for n in &names {
        sleeper(&mut d, n);
    }
    ticker(&mut d, "u199");
    d.ok(&["daemon-reload"]);
    let mut start = vec!["start"];
    start.extend(names.iter().map(String::as_str));
    start.push("u199");
    d.ok(&start);
    let tmux = top_in_tmux(&mut d);
    // Only as many as fit: the last ones are below.
    tmux.wait_screen("200 units, the first ones on screen", |s| {
        s.contains("200 of 200 units") && s.contains("u000.service") && !s.contains("u150.service")
    });

    // End: the table scrolls to the last row.
    tmux.keys(&["End"]);
    tmux.wait_screen("the table scrolled to the end", |s| {
        s.contains("u199.service") && !s.contains("u000.service")
    });

    // `l`: the pane follows u199's lines as it writes them.
    tmux.keys(&["l"]);
    let screen = tmux.wait_screen("the log pane of u199", |s| {
        s.contains("logs: u199.service") && last_tick(s).is_some()
    });
    let first = last_tick(&screen).unwrap_or(0);
    tmux.wait_screen("newer lines in the pane", |s| {
        last_tick(s).is_some_and(|t| t >= first + 3)
    });
    tmux.keys(&["l"]);

    // `/u15`: ten rows are left (u150 to u159).
    tmux.keys(&["/", "u", "1", "5", "Enter"]);
    tmux.wait_screen("the filter to narrow the table", |s| {
        s.contains("10 of 200 units") && !s.contains("u199.service")
    });

    // The first of them selected, `S` then `y`: its row says inactive.
    let pid = d.wait_main_pid("u150");
    tmux.keys(&["Home", "S"]);
    tmux.wait_screen("the question", |s| {
        s.contains("stop u150.service? y confirms")
    });
    tmux.keys(&["y"]);
    tmux.wait_screen("u150's row to say inactive", |s| {
        s.lines()
            .any(|l| l.starts_with("u150.service") && l.contains("inactive"))
    });
    wait_until("u150's process to end", DEADLINE, || !pid_alive(pid));
    // Its neighbour still runs.
    tmux.wait_screen("u151 still active", |s| {
        s.lines()
            .any(|l| l.starts_with("u151.service") && l.contains(" active "))
    });
    tmux.keys(&["q"]);
    tmux.wait_screen("top to exit", |s| s.contains("top-exit=0"));
}

#[test]
fn the_log_search_and_the_detail_view() {
    need_tmux();
    let mut d = Daemon::start();
    let script = d.script(
        "fruit.sh",
        "echo apple one\necho banana two\necho Apple three\nexec sleep 10000\n",
    );
    d.write_unit(
        "fruit.service",
        &format!("[Service]\nExecStart=/bin/sh {}\n", script.display()),
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "fruit"]);
    let pid = d.wait_main_pid("fruit");
    let tmux = top_in_tmux(&mut d);
    tmux.wait_screen("the row", |s| s.contains(&pid.to_string()));

    // `?apple` in the pane: only the matching lines, in any case.
    tmux.keys(&["l"]);
    tmux.wait_screen("the pane", |s| s.contains("banana two"));
    tmux.keys(&["?", "a", "p", "p", "l", "e", "Enter"]);
    tmux.wait_screen("only the matching lines", |s| {
        s.contains("search: apple (2 of ")
            && s.contains("apple one")
            && s.contains("Apple three")
            && !s.contains("banana two")
    });
    // Esc in the prompt clears it.
    tmux.keys(&["?", "Escape"]);
    tmux.wait_screen("all lines again", |s| s.contains("banana two"));

    // Enter: the detail, as `daimon status` shows it; Esc: the table again.
    tmux.keys(&["Enter"]);
    let main_pid = format!("Main PID: {pid}");
    let wants = ["Esc returns", "Active: active (running)", &main_pid];
    tmux.wait_screen("the detail view", |s| {
        wants.iter().all(|w| s.contains(w))
            && ["Memory:", "CPU:", "apple one"]
                .iter()
                .all(|w| s.contains(w))
    });
    tmux.keys(&["Escape"]);
    tmux.wait_screen("the table again", |s| s.contains("1 of 1 units"));
    tmux.keys(&["q"]);
    tmux.wait_screen("top to exit", |s| s.contains("top-exit=0"));
}

/// `a` hands the terminal to `daimon attach UNIT`. This unit has no terminal
/// to attach to, so attach fails: its error stays on the normal screen until
/// Enter, then top takes the screen back with the status on its bottom line.
#[test]
fn a_failed_attach_shows_its_error_and_top_comes_back() {
    need_tmux();
    let mut d = Daemon::start();
    sleeper(&mut d, "alpha");
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "alpha"]);
    let tmux = top_in_tmux(&mut d);
    tmux.wait_screen("the table", |s| s.contains("alpha.service"));
    tmux.keys(&["a"]);
    let screen = tmux.wait_screen("attach's error and the way back", |s| {
        s.contains("press Enter to return to top")
    });
    assert!(
        screen.lines().any(|l| l.starts_with("daimon: ")),
        "attach's own error is not on screen:\n{screen}"
    );
    assert!(
        screen.contains("`daimon attach alpha.service` exited with status"),
        "{screen}"
    );
    tmux.keys(&["Enter"]);
    // The bottom line says how attach ended.
    tmux.wait_screen("top redrawn", |s| {
        s.contains("1 of 1 units")
            && s.contains("alpha.service")
            && s.lines()
                .rfind(|l| !l.trim().is_empty())
                .is_some_and(|l| l.contains("exited with status"))
    });
    // Keys work again: the help comes back after the next key.
    tmux.keys(&["j"]);
    tmux.wait_screen("the key help", |s| s.contains("a:attach"));
    tmux.keys(&["q"]);
    tmux.wait_screen("top to exit", |s| s.contains("top-exit=0"));
    assert!(
        restored(d.path()),
        "stty settings differ after attach and quit"
    );
}

#[test]
fn a_small_window_then_ctrl_c_and_sighup_restore_the_terminal() {
    need_tmux();
    let mut d = Daemon::start();
    sleeper(&mut d, "alpha");
    d.ok(&["daemon-reload"]);
    let tmux = top_in_tmux(&mut d);
    tmux.wait_screen("the table", |s| s.contains("alpha.service"));
    // Too small to draw in: a message, and the table again once it fits.
    let resize = |x: &str, y: &str| {
        let out = tmux.cmd(&["resize-window", "-t", "top", "-x", x, "-y", y]);
        assert!(out.status.success(), "tmux resize-window");
    };
    resize("40", "5");
    tmux.wait_screen("the too-small message", |s| {
        s.contains("terminal too small (40x5)")
    });
    resize("120", "30");
    tmux.wait_screen("the table again", |s| s.contains("alpha.service"));
    tmux.keys(&["C-c"]);
    tmux.wait_screen("top to exit on Ctrl-C", |s| s.contains("top-exit=0"));
    assert!(restored(d.path()), "stty settings differ after Ctrl-C");
    drop(tmux);

    let _ = std::fs::remove_file(d.path().join("stty.after"));
    let tmux = top_in_tmux(&mut d);
    tmux.wait_screen("the table", |s| s.contains("alpha.service"));
    signal_top_and_expect_restored(d.path(), &tmux, libc::SIGHUP, "SIGHUP");
}

/// daimond killed and started again under a running `top`: top reconnects to
/// the state events, so a unit started afterwards shows in its row.
#[test]
fn top_follows_a_daimond_started_again() {
    need_tmux();
    let mut d = Daemon::start();
    sleeper(&mut d, "alpha");
    d.ok(&["daemon-reload"]);
    let tmux = top_in_tmux(&mut d);
    tmux.wait_screen("alpha, inactive", |s| {
        s.lines()
            .any(|l| l.starts_with("alpha.service") && l.contains("inactive"))
    });
    d.kill_daemon();
    d.spawn_daemon();
    d.ok(&["start", "alpha"]);
    let pid = d.wait_main_pid("alpha");
    tmux.wait_screen("alpha active with its PID", |s| {
        s.lines().any(|l| {
            l.starts_with("alpha.service") && l.contains(" active ") && l.contains(&pid.to_string())
        })
    });
    tmux.keys(&["q"]);
    tmux.wait_screen("top to exit", |s| s.contains("top-exit=0"));
}

/// Units added or removed by daemon-reload show at once, without a key;
/// Ctrl-L still re-reads every row.
#[test]
fn units_added_or_removed_by_daemon_reload_show_at_once() {
    need_tmux();
    let mut d = Daemon::start();
    sleeper(&mut d, "alpha");
    d.ok(&["daemon-reload"]);
    let tmux = top_in_tmux(&mut d);
    tmux.wait_screen("alpha", |s| s.contains("1 of 1 units"));
    sleeper(&mut d, "beta");
    sleeper(&mut d, "gamma");
    d.ok(&["daemon-reload"]);
    tmux.wait_screen("the new units", |s| {
        s.contains("3 of 3 units") && s.contains("beta.service")
    });
    std::fs::remove_file(d.path().join("units/beta.service")).expect("remove beta");
    d.ok(&["daemon-reload"]);
    tmux.wait_screen("beta gone", |s| {
        s.contains("2 of 2 units") && !s.contains("beta.service")
    });
    tmux.keys(&["C-l"]);
    tmux.wait_screen("the same rows after Ctrl-L", |s| s.contains("2 of 2 units"));
    d.ok(&["start", "gamma"]);
    let pid = d.wait_main_pid("gamma");
    tmux.wait_screen("gamma's start", |s| s.contains(&pid.to_string()));
    tmux.keys(&["q"]);
    tmux.wait_screen("top to exit", |s| s.contains("top-exit=0"));
}

/// `a` on a unit with a terminal: attach takes the screen (the REPL's prompt
/// is redrawn from the replay buffer), the user types to the program, Ctrl-]
/// detaches, and top is back with the service still running.
#[test]
fn attach_from_top_types_to_the_program_and_ctrl_bracket_comes_back() {
    need_tmux();
    let mut d = Daemon::start();
    d.ok(&[
        "run", "--tty", "--name", "repl", "--", "python3", "-q", "-i",
    ]);
    let pid = d.wait_main_pid("repl");
    let tmux = top_in_tmux(&mut d);
    tmux.wait_screen("the repl's row", |s| s.contains(&pid.to_string()));
    tmux.keys(&["a"]);
    tmux.wait_screen("the REPL's prompt", |s| s.contains(">>>"));
    tmux.keys(&["6*7", "Enter"]);
    tmux.wait_screen("the answer", |s| s.lines().any(|l| l.trim_end() == "42"));
    tmux.keys(&["C-]"]);
    tmux.wait_screen("top again", |s| {
        s.contains("1 of 1 units") && s.contains("repl.service")
    });
    assert!(pid_alive(pid), "the REPL still runs after the detach");
    tmux.keys(&["q"]);
    tmux.wait_screen("top to exit", |s| s.contains("top-exit=0"));
    assert!(
        restored(d.path()),
        "stty settings differ after attach and quit"
    );
}
