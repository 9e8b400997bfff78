//! `daimon run`: a command line becomes a unit file.
//!
//! Owns: finding the command in the user's PATH, the default unit name, the
//! defaults that make "it works in my shell" also work as a service (working
//! directory = where you are, your PATH), and writing the unit text with systemd's
//! quoting (systemd.service(5), "Command lines"; systemd.unit(5), "Specifiers").
//! The daemon parses the text like any unit file, so a transient unit and a saved
//! one behave the same.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use daimon_proto::RunRequest;
use daimon_unit::value::exec::is_env_name;

use crate::cli::{RestartPolicy, RunArgs};
use crate::error::{CliError, CliResult};
use crate::run_policy::{self, RestartPlan};
use crate::schedule;
use crate::{run_triggers, run_tty};

/// Interpreters whose first non-option argument names the program (`python3 bot.py`
/// is "bot").
const INTERPRETERS: &[&str] = &[
    "python", "python2", "python3", "node", "nodejs", "deno", "bun", "ruby", "perl", "php", "sh",
    "bash", "dash", "zsh", "fish", "lua", "luajit", "Rscript", "java", "uv", "pypy", "pypy3",
    "tsx", "ts-node",
];

/// Looks `cmd` up like a shell: a name with a slash is taken as a path (made
/// absolute against `cwd`), otherwise each PATH entry is tried for an executable file.
pub fn resolve_command(cmd: &str, path_var: Option<&OsStr>, cwd: &Path) -> CliResult<PathBuf> {
    if cmd.contains('/') {
        // `./bot` -> `/home/u/proj/bot` (no `.` components in the unit file).
        let p: PathBuf = cwd
            .join(cmd)
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect();
        return if is_executable(&p) {
            Ok(p)
        } else if p.exists() {
            Err(CliError::fail(format!(
                "command \"{cmd}\" is not executable; chmod +x it or run it through its interpreter"
            )))
        } else {
            Err(CliError::fail(format!("command \"{cmd}\" not found")))
        };
    }
    if let Some(path) = path_var {
        for dir in std::env::split_paths(path) {
            let dir = if dir.as_os_str().is_empty() {
                cwd.to_path_buf()
            } else {
                cwd.join(dir)
            };
            let p = dir.join(cmd);
            if is_executable(&p) {
                return Ok(p);
            }
        }
    }
    if is_executable(&cwd.join(cmd)) {
        // A shell would not run it either, but the user surely meant this file.
        return Err(CliError::fail(format!(
            "command \"{cmd}\" not found in PATH; did you mean ./{cmd}?"
        )));
    }
    Err(CliError::fail(format!(
        "command \"{cmd}\" not found in PATH"
    )))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The default name: the script's stem for interpreters, else the command's name.
pub fn default_name(command: &[String]) -> String {
    let Some(first) = command.first() else {
        return "run".into();
    };
    let base = Path::new(first)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| first.clone());
    let interp = INTERPRETERS.iter().any(|i| {
        base == *i
            || base
                .strip_prefix(i)
                .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
    });
    let stem = |s: &str| {
        Path::new(s)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
    };
    let name = if interp {
        // `python3 -u bot.py`, `node --inspect app.js`, `python3 -m http.server`.
        let mut args = command[1..].iter();
        let mut picked = None;
        while let Some(a) = args.next() {
            if matches!(a.as_str(), "-c" | "-e" | "-E" | "--eval" | "-r") {
                break; // inline code: no script to name it after
            }
            if a == "-m" {
                picked = args
                    .next()
                    .map(|m| m.rsplit('.').next().unwrap_or(m).to_string());
                break;
            }
            if a.starts_with('-') {
                continue;
            }
            picked = stem(a);
            break;
        }
        picked.unwrap_or(base)
    } else {
        base
    };
    sanitize(&name)
}

/// Unit names allow `[A-Za-z0-9:_.\-@]`; everything else becomes `-`.
pub fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ":_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() { "run".into() } else { s }
}

/// One word of a command line, quoted so systemd's parser gives it back unchanged:
/// `\` and `"` escaped inside double quotes, control characters as C escapes, `$`
/// doubled (no variable expansion) and `%` doubled (no specifier).
pub fn quote_exec_word(w: &str) -> String {
    let needs_quotes = w.is_empty()
        || w == ";"
        || w.chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '\\'));
    let mut out = String::with_capacity(w.len() + 2);
    if needs_quotes {
        out.push('"');
    }
    for c in w.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("$$"),
            '%' => out.push_str("%%"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    if needs_quotes {
        out.push('"');
    }
    out
}

/// A value for a key whose text is not split into words (`Description=`,
/// `WorkingDirectory=`): only specifiers need escaping; no newlines allowed.
pub fn plain_value(v: &str) -> String {
    v.replace('%', "%%").replace(['\n', '\r'], " ")
}

/// One `Environment=` assignment, quoted as one word.
pub fn env_assignment(kv: &str) -> String {
    let mut out = String::from("\"");
    for c in kv.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Everything `run` needs from the world, gathered once (so `build` is testable).
pub struct RunContext {
    pub cwd: PathBuf,
    pub path_var: Option<std::ffi::OsString>,
    /// The caller's TERM, for a service with `--tty`.
    pub term: Option<String>,
}

impl RunContext {
    pub fn from_env() -> CliResult<RunContext> {
        let cwd = std::env::current_dir()
            .map_err(|e| CliError::fail(format!("cannot read the current directory: {e}")))?;
        Ok(RunContext {
            cwd,
            path_var: std::env::var_os("PATH"),
            term: std::env::var("TERM").ok(),
        })
    }
}

/// What goes into a service's unit text; [`service_text`] writes it with
/// systemd's quoting. `daimon run` and `daimon import crontab` both use it.
pub struct ServiceDraft {
    pub description: String,
    /// ExecStart= words, unquoted (the program first).
    pub exec: Vec<String>,
    /// WorkingDirectory= (`~` for the user's home).
    pub workdir: String,
    /// Environment= assignments, `NAME=VALUE`, in order.
    pub env: Vec<String>,
    pub user: Option<String>,
    /// Restart=, RestartSec=, the backoff and the start limit.
    pub restart: RestartPlan,
    /// Run by a timer: `Type=oneshot` and no `[Install]` (the timer is what
    /// gets enabled).
    pub scheduled: bool,
}

pub fn service_text(d: &ServiceDraft) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "[Unit]\nDescription={}", plain_value(&d.description));
    text.push_str(&d.restart.unit_lines());
    text.push_str("\n[Service]\n");
    if d.scheduled {
        text.push_str("Type=oneshot\n");
    }
    let exec: Vec<String> = d.exec.iter().map(|w| quote_exec_word(w)).collect();
    let _ = writeln!(text, "ExecStart={}", exec.join(" "));
    let _ = writeln!(text, "WorkingDirectory={}", plain_value(&d.workdir));
    for kv in &d.env {
        let _ = writeln!(text, "Environment={}", env_assignment(kv));
    }
    if let Some(u) = &d.user {
        let _ = writeln!(text, "User={}", plain_value(u));
    }
    text.push_str(&d.restart.service_lines());
    if !d.scheduled {
        text.push_str("\n[Install]\nWantedBy=default.target\n");
    }
    text
}

pub use crate::run_triggers::request;

/// The request for `daimon run ARGS`.
pub fn build(args: &RunArgs, ctx: &RunContext) -> CliResult<RunRequest> {
    // The schedule first: `--cron 30 2 * * *` unquoted leaves "2" as the
    // command, and the schedule's error is the one that explains it.
    let schedule = schedule::from_run_args(&args.on_calendar, args.cron.as_deref())?;
    let restart = match (args.restart, &schedule) {
        (Some(r), _) => r,
        (None, Some(_)) => RestartPolicy::No,
        (None, None) => RestartPolicy::OnFailure,
    };
    if schedule.is_some() && matches!(restart, RestartPolicy::Always | RestartPolicy::OnSuccess) {
        return Err(CliError::fail(format!(
            "--restart {} cannot be used with a schedule: each trigger runs the command once (Type=oneshot); use --restart on-failure",
            restart.as_str()
        )));
    }
    let cmd = args
        .command
        .first()
        .ok_or_else(|| CliError::fail("no command given; usage: daimon run -- CMD ARGS..."))?;
    let exe = resolve_command(cmd, ctx.path_var.as_deref(), &ctx.cwd)?;
    let name = match &args.name {
        Some(n) => {
            let n = n.strip_suffix(".service").unwrap_or(n);
            if n.is_empty() || sanitize(n) != n {
                return Err(CliError::fail(format!(
                    "invalid --name \"{n}\": use letters, digits and : _ . - only"
                )));
            }
            n.to_string()
        }
        None => default_name(&args.command),
    };
    for kv in &args.env {
        match kv.split_once('=') {
            Some((k, _)) if is_env_name(k) => {}
            _ => {
                return Err(CliError::fail(format!(
                    "invalid -e \"{kv}\": expected NAME=VALUE with NAME made of letters, digits and _"
                )));
            }
        }
    }
    if let Some(sec) = &args.restart_sec {
        // systemd reads a bare number as seconds.
        daimon_unit::value::timespan::parse_timespan(sec)
            .map_err(|e| CliError::fail(format!("invalid --restart-sec \"{sec}\": {e}")))?;
    }
    let start_limit = args
        .start_limit
        .as_deref()
        .map(run_policy::parse_start_limit)
        .transpose()?;
    let workdir = match &args.workdir {
        Some(d) => ctx.cwd.join(d),
        None => ctx.cwd.clone(),
    };
    if !workdir.is_dir() {
        return Err(CliError::fail(format!(
            "invalid --workdir \"{}\": not a directory",
            workdir.display()
        )));
    }

    let typed: Vec<&str> = args.command.iter().map(String::as_str).collect();
    let mut exec: Vec<String> = vec![exe.to_string_lossy().into_owned()];
    exec.extend(args.command[1..].iter().cloned());
    let mut env: Vec<String> = Vec::new();
    if let Some(p) = &ctx.path_var {
        env.push(format!("PATH={}", p.to_string_lossy()));
    }
    env.extend(args.env.iter().cloned());
    let text = service_text(&ServiceDraft {
        description: crate::shell_words::shell_words(&typed),
        exec,
        workdir: workdir.to_string_lossy().into_owned(),
        env,
        user: None,
        restart: RestartPlan::new(restart, args.restart_sec.as_deref(), start_limit),
        scheduled: schedule.is_some(),
    });
    let text = run_triggers::with_watch(text, &args.watch, &ctx.cwd)?;
    let text = run_tty::with_tty(text, args.tty, ctx.term.as_deref());
    let mut req = request(&name, text, schedule.as_ref(), args.save, args.enable);
    req.socket = run_triggers::listen_socket(&name, &args.listen, &ctx.cwd);
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn default_names() {
        assert_eq!(default_name(&v(&["python3", "bot.py"])), "bot");
        assert_eq!(
            default_name(&v(&["/usr/bin/python3", "-u", "src/bot.py"])),
            "bot"
        );
        assert_eq!(
            default_name(&v(&["python3", "-m", "http.server"])),
            "server"
        );
        assert_eq!(
            default_name(&v(&["node", "server.js", "--port", "3"])),
            "server"
        );
        assert_eq!(default_name(&v(&["sleep", "100"])), "sleep");
        assert_eq!(default_name(&v(&["./my worker"])), "my-worker");
        assert_eq!(default_name(&v(&["python3.12", "app.py"])), "app");
        assert_eq!(default_name(&v(&["python3"])), "python3");
        assert_eq!(
            default_name(&v(&["bash", "-c", "while :; do date; done"])),
            "bash"
        );
    }

    #[test]
    fn exec_quoting_round_trips_through_systemd_rules() {
        assert_eq!(quote_exec_word("plain"), "plain");
        assert_eq!(quote_exec_word("a b"), "\"a b\"");
        assert_eq!(quote_exec_word(""), "\"\"");
        assert_eq!(quote_exec_word("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(quote_exec_word("C:\\dir"), "\"C:\\\\dir\"");
        assert_eq!(quote_exec_word("$HOME"), "$$HOME");
        assert_eq!(quote_exec_word("100%"), "100%%");
        assert_eq!(quote_exec_word("it's"), "\"it's\"");
        assert_eq!(quote_exec_word(";"), "\";\"");
        assert_eq!(quote_exec_word("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn unit_text() {
        let dir = std::env::temp_dir();
        let args = RunArgs {
            restart: Some(crate::cli::RestartPolicy::Always),
            restart_sec: Some("2".into()),
            env: v(&["GREETING=hello world"]),
            enable: true,
            ..base(&["sh", "-c", "echo 50% $HOME"])
        };
        let ctx = context(&dir, "/usr/local/bin:/usr/bin:/bin");
        let req = build(&args, &ctx).expect("build");
        assert_eq!(req.name, "sh.service");
        assert!(req.save && req.enable);
        let sh = resolve_command("sh", ctx.path_var.as_deref(), &dir).expect("sh");
        let expected = format!(
            "[Unit]\nDescription=sh -c 'echo 50%% $HOME'\nStartLimitIntervalSec=0\n\n[Service]\n\
             ExecStart={} -c \"echo 50%% $$HOME\"\nWorkingDirectory={}\n\
             Environment=\"PATH=/usr/local/bin:/usr/bin:/bin\"\n\
             Environment=\"GREETING=hello world\"\nRestart=always\nRestartSec=2\n\
             RestartSteps=8\nRestartMaxDelaySec=30s\n\n\
             [Install]\nWantedBy=default.target\n",
            sh.display(),
            dir.display()
        );
        assert_eq!(req.unit_text, expected);
    }

    fn base(command: &[&str]) -> RunArgs {
        RunArgs {
            name: None,
            restart: None,
            restart_sec: None,
            start_limit: None,
            env: vec![],
            workdir: None,
            save: false,
            enable: false,
            on_calendar: vec![],
            cron: None,
            listen: vec![],
            watch: vec![],
            tty: false,
            command: v(command),
        }
    }

    fn context(cwd: &Path, path: &str) -> RunContext {
        RunContext {
            cwd: cwd.to_path_buf(),
            path_var: Some(path.into()),
            term: None,
        }
    }

    fn scheduled(restart: Option<crate::cli::RestartPolicy>) -> RunArgs {
        RunArgs {
            name: Some("backup".into()),
            restart,
            enable: true,
            cron: Some("30 2 * * *".into()),
            ..base(&["sh", "backup.sh"])
        }
    }

    #[test]
    fn a_schedule_makes_a_oneshot_service_and_its_timer() {
        let dir = std::env::temp_dir();
        let ctx = context(&dir, "/usr/bin:/bin");
        let req = build(&scheduled(None), &ctx).expect("build");
        let sh = resolve_command("sh", ctx.path_var.as_deref(), &dir).expect("sh");
        assert_eq!(
            req.unit_text,
            format!(
                "[Unit]\nDescription=sh backup.sh\n\n[Service]\nType=oneshot\n\
                 ExecStart={} backup.sh\nWorkingDirectory={}\n\
                 Environment=\"PATH=/usr/bin:/bin\"\nRestart=no\n",
                sh.display(),
                dir.display()
            )
        );
        assert!(req.save && req.enable);
        let timer = req.timer.expect("a timer");
        assert_eq!(timer.name, "backup.timer");
        assert_eq!(
            timer.unit_text,
            "[Unit]\nDescription=Schedule of backup.service: cron 30 2 * * *\n\n\
             [Timer]\nOnCalendar=*-*-* 02:30:00\nPersistent=true\nAccuracySec=1s\n\
             Unit=backup.service\n\n[Install]\nWantedBy=timers.target\n"
        );
        // An explicit --restart is kept.
        let req =
            build(&scheduled(Some(crate::cli::RestartPolicy::OnFailure)), &ctx).expect("build");
        assert!(req.unit_text.contains("\nRestart=on-failure\n"));
        // No schedule: no timer, as before.
        let mut plain = scheduled(None);
        plain.cron = None;
        let req = build(&plain, &ctx).expect("build");
        assert!(req.timer.is_none());
        assert!(
            req.unit_text
                .contains("\nRestart=on-failure\n\n[Install]\n")
        );
    }

    /// Whatever the user typed comes back word for word from the unit-file parser
    /// (quotes, backslashes, `$`, `%`, newlines, empty words), and the environment too.
    #[test]
    fn rendered_units_round_trip_through_the_parser() {
        let dir = std::env::temp_dir();
        let nasty = v(&[
            "sh",
            "-c",
            "echo \"$HOME\" 'single' \\back 100% ${X} $$",
            "",
            "a\nb\tc",
            ";",
            "--opt=a b",
            "%n %%",
        ]);
        let args = RunArgs {
            name: Some("nasty".into()),
            restart: Some(crate::cli::RestartPolicy::OnFailure),
            env: v(&["A=x y \"z\" 50% \\", "EMPTY="]),
            command: nasty.clone(),
            ..base(&[])
        };
        let ctx = context(&dir, "/usr/bin:/bin");
        let req = build(&args, &ctx).expect("build");
        let spec = daimon_unit::SpecifierContext::example();
        let loaded = daimon_unit::parse_unit(
            &req.name,
            Path::new("/units/nasty.service"),
            req.unit_text.as_bytes(),
            &[],
            &spec,
        );
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let unit = loaded.unit.expect("unit");
        let words: Vec<&str> = nasty.iter().map(String::as_str).collect();
        let described = crate::shell_words::shell_words(&words).replace('\n', " ");
        assert_eq!(unit.unit.description.as_deref(), Some(described.as_str()));
        let daimon_unit::UnitBody::Service(svc) = &unit.body else {
            panic!("a service");
        };
        let exec = &svc.exec_start[0];
        let env = |k: &str| -> Option<String> { (k == "X").then(|| "expanded".into()) };
        assert_eq!(exec.expand(&env)[1..], nasty[1..], "no $ expansion");
        assert!(
            svc.environment
                .contains(&("A".into(), "x y \"z\" 50% \\".into()))
        );
        assert!(svc.environment.contains(&("EMPTY".into(), String::new())));
        assert!(
            svc.environment
                .contains(&("PATH".into(), "/usr/bin:/bin".into()))
        );
    }

    #[test]
    fn a_program_in_the_current_directory_gets_a_hint() {
        let dir = std::env::temp_dir().join(format!("daimon-run-hint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let prog = dir.join("tool");
        std::fs::write(&prog, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let e = resolve_command("tool", Some(OsStr::new("/nonexistent")), &dir).expect_err("hint");
        assert_eq!(
            e.message,
            "command \"tool\" not found in PATH; did you mean ./tool?"
        );
        assert_eq!(
            resolve_command("./tool", None, &dir).expect("path"),
            dir.join("./tool")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_command_is_one_clear_line() {
        let e = resolve_command("pyhton3", Some(OsStr::new("/usr/bin:/bin")), Path::new("/"))
            .expect_err("not found");
        assert_eq!(e.message, "command \"pyhton3\" not found in PATH");
        assert_eq!(e.code, 1);
    }
}
