//! Scheduled jobs without a daemon: argument errors of `run --on-calendar` and
//! `run --cron` (caught before anything is sent, so no daemon is started) and
//! `import crontab --dry-run`, which only prints what it would install.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn daimon(home: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_daimon"))
        .args(args)
        .env("DAIMON_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run daimon");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .expect("write stdin");
    drop(input);
    child.wait_with_output().expect("daimon output")
}

fn home() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("daimon-cli-")
        .tempdir()
        .expect("tempdir")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn no_daemon(home: &Path) {
    assert!(
        !home.join("run/daimond.pid").exists(),
        "no daemon may be started"
    );
}

#[test]
fn schedule_typos_are_one_line_naming_the_argument() {
    let h = home();
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "--cron", "30 25 * * *", "--", "true"],
            "daimon: invalid --cron \"30 25 * * *\": cron field 2 (hour) \"25\": expected 0-23\n",
        ),
        (
            &["run", "--name", "b", "--on-calendar", "dayly", "--", "true"],
            "daimon: invalid --on-calendar \"dayly\": unknown weekday or keyword \"dayly\"; expected e.g. daily, Mon..Fri 09:00, *-*-* 02:30:00, *:0/15\n",
        ),
        (
            &[
                "run",
                "--cron",
                "@daily",
                "--restart",
                "always",
                "--",
                "true",
            ],
            "daimon: --restart always cannot be used with a schedule: each trigger runs the command once (Type=oneshot); use --restart on-failure\n",
        ),
        (
            &["run", "--cron", "0 0 30 2 *", "--", "true"],
            "daimon: --cron \"0 0 30 2 *\" never runs: no future time matches it\n",
        ),
    ];
    for (args, message) in cases {
        let out = daimon(h.path(), args, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&out), *message, "{args:?}");
    }
    let out = daimon(
        h.path(),
        &[
            "run",
            "--cron",
            "@daily",
            "--on-calendar",
            "daily",
            "--",
            "true",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("'--cron <SCHEDULE>' cannot be used with '--on-calendar <WHEN>'"),
        "{}",
        stderr(&out)
    );
    no_daemon(h.path());
}

const CRONTAB: &str = "\
# nightly jobs
MAILTO=me@example.com
PATH=/usr/local/bin:/usr/bin:/bin
30 2 * * * $HOME/bin/backup.sh --full
*/15 8-18 * * mon-fri cd ~/site && ./check-links.py
0 0 * * * echo 50% done
";

#[test]
fn import_dry_run_prints_the_units_and_reports_by_line() {
    let h = home();
    let file = h.path().join("jobs.txt");
    std::fs::write(&file, CRONTAB).expect("write");
    let out = daimon(
        h.path(),
        &[
            "import",
            "crontab",
            "--dry-run",
            file.to_str().expect("utf-8"),
        ],
        None,
    );
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "# cron-backup.service (crontab line 4)\n[Unit]\nDescription=$HOME/bin/backup.sh --full\n\n\
             [Service]\nType=oneshot\nExecStart=/bin/sh -c \"$$HOME/bin/backup.sh --full\"\n\
             WorkingDirectory=~\nEnvironment=\"PATH=/usr/local/bin:/usr/bin:/bin\"\nRestart=no\n\n\
             # cron-backup.timer\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\nOnCalendar=Mon..Fri *-*-* 08..18:00/15:00\nPersistent=true\nAccuracySec=1s\nUnit=cron-check-links.service\n"),
        "{text}"
    );
    assert!(
        text.ends_with(
            "Dry run: 2 jobs would be imported, 1 line skipped; nothing was installed.\n"
        ),
        "{text}"
    );
    let path = file.display();
    assert_eq!(
        stderr(&out),
        format!(
            "{path}:2: note: MAILTO=me@example.com: no mail is sent; each job's output is kept in its logs (daimon logs UNIT)\n\
             {path}:6: skipped: unescaped \"%\" in the command: cron ends the command there and passes the rest as standard input, which daimon cannot do; write \\% for a literal %, or move the input into a script\n"
        )
    );
    assert_eq!(out.status.code(), Some(1), "a line was skipped");
    assert!(!h.path().join("units").exists(), "nothing installed");
    no_daemon(h.path());
}

#[test]
fn import_dry_run_from_stdin_exits_0_when_every_job_fits() {
    let h = home();
    let out = daimon(
        h.path(),
        &["import", "crontab", "--dry-run", "-"],
        Some("@reboot /usr/local/bin/warm-cache\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("# cron-warm-cache.timer\n[Unit]\nDescription=Schedule of cron-warm-cache.service: cron @reboot\n\n[Timer]\nOnStartupSec=0\n"));
    assert_eq!(stderr(&out), "");
    no_daemon(h.path());
}

#[test]
fn import_of_a_missing_file_is_one_line() {
    let h = home();
    let missing = h.path().join("nope");
    let out = daimon(
        h.path(),
        &["import", "crontab", missing.to_str().expect("utf-8")],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "daimon: cannot read crontab \"{}\": No such file or directory (os error 2)\n",
            missing.display()
        )
    );
    no_daemon(h.path());
}
