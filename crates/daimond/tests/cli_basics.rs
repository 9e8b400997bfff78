//! CLI behaviour that needs no running service: exit codes of bad arguments,
//! `verify`, `completions`, `man`, `--help`.

mod common;

use common::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn bad_arguments_exit_1_with_one_line() {
    let mut d = Daemon::start();
    for (args, expect) in [
        (
            &["logs", "-p", "loud"][..],
            "daimon: invalid --priority \"loud\": expected 0-7 or one of emerg, alert, crit, err, warning, notice, info, debug",
        ),
        (
            &["logs", "--since", "whenever"][..],
            "daimon: --since: invalid time \"whenever\"",
        ),
        (
            &["logs", "-g", "(unclosed"][..],
            "daimon: invalid --grep \"(unclosed\"",
        ),
        (
            &["run", "--", "pyhton3", "bot.py"][..],
            "daimon: command \"pyhton3\" not found in PATH",
        ),
        (
            &["run", "-e", "1X=2", "--", "sleep", "1"][..],
            "daimon: invalid -e \"1X=2\"",
        ),
    ] {
        let out = d.cli(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "daimon {args:?}: {}",
            stderr(&out)
        );
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "one line for {args:?}: {err}");
        assert!(err.starts_with(expect), "daimon {args:?}: {err}");
    }
    // Usage errors from the parser are exit 1 too (not clap's 2).
    let out = d.cli(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(1));
    let out = d.cli(&["logs", "-o", "xml"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn verify_reports_file_line_column_and_fails_only_on_errors() {
    let mut d = Daemon::home_only();
    let good = d.write_unit(
        "good.service",
        "[Unit]\nDescription=Good\n\n[Service]\nExecStart=/bin/sleep 100\nRestart=always\n",
    );
    let warn = d.write_unit(
        "warn.service",
        "[Unit]\nDescription=Meh\nFrobnicate=yes\n\n[Service]\nExecStart=/bin/sleep 100\n",
    );
    let bad = d.write_unit(
        "bad.service",
        "[Service]\nExecStart=/bin/sleep 100\nRestart=sometimes\n",
    );
    let p = |p: &std::path::Path| p.to_str().expect("utf-8").to_string();

    let out = d.cli(&["verify", &p(&good)]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");

    let out = d.cli(&["verify", &p(&warn)]);
    assert_eq!(out.status.code(), Some(0), "warnings only: exit 0");
    assert_eq!(
        stdout(&out),
        format!(
            "{}:3: warning: unknown directive Frobnicate= in [Unit]; ignored\n",
            warn.display()
        )
    );

    let out = d.cli(&["verify", &p(&good), &p(&bad)]);
    assert_eq!(out.status.code(), Some(1), "an error: exit 1");
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "{}:3:9: error: Restart: \"sometimes\"",
            bad.display()
        )),
        "{text}"
    );

    let out = d.cli(&["verify", "/nonexistent/x.service"]);
    assert_eq!(out.status.code(), Some(1));
    // verify needs no daemon and starts none.
    assert!(!d.socket().exists());
}

/// Each thing that is not a unit file gets its own one-line error, and a
/// named pipe is never opened (which would wait for a writer forever).
#[test]
fn verify_names_what_a_path_is_when_it_is_no_unit_file() {
    let mut d = Daemon::home_only();
    let fifo = d.path().join("fifo.service");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let looped = d.path().join("loop.service");
    std::os::unix::fs::symlink(&looped, &looped).expect("symlink loop");
    let dir = d.path().join("dir.service");
    std::fs::create_dir(&dir).expect("mkdir");
    let cases = [
        (fifo, "is a named pipe (FIFO), not a unit file"),
        (
            looped,
            "is a symbolic link loop (too many levels of symbolic links)",
        ),
        (
            dir,
            "is a directory, not a unit file (name the files in it, e.g. DIR/*.service)",
        ),
        (
            std::path::PathBuf::from("/dev/null"),
            "is a character device, not a unit file",
        ),
        (
            std::path::PathBuf::from("/nonexistent/x.service"),
            "no such file",
        ),
    ];
    for (path, what) in cases {
        let out = d.cli(&["verify", &path.display().to_string()]);
        assert_eq!(out.status.code(), Some(1), "{}", path.display());
        assert_eq!(
            stderr(&out).trim(),
            format!("daimon: cannot verify \"{}\": {what}", path.display())
        );
    }
}

#[test]
fn help_completions_and_man_work_without_a_daemon() {
    let mut d = Daemon::home_only();
    let help = d.ok(&["--help"]);
    assert!(help.contains("daimon run -- python3 bot.py"), "{help}");
    let run_help = d.ok(&["run", "--help"]);
    assert!(run_help.contains("--restart <POLICY>"), "{run_help}");
    let logs_help = d.ok(&["logs", "--help"]);
    assert!(logs_help.contains("--since <TIME>"), "{logs_help}");
    let bash = d.ok(&["completions", "bash"]);
    assert!(bash.contains("_daimon()"), "bash completion function");
    let man = d.ok(&["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH daimon"),
        "roff output"
    );
    let version = d.ok(&["--version"]);
    assert!(version.starts_with("daimon "));
    assert!(!d.socket().exists(), "none of these starts the daemon");
}
