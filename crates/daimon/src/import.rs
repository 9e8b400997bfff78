//! `daimon import crontab [FILE]`: each crontab job becomes a service and a
//! timer, saved and enabled, exactly as `daimon run --cron ... --enable` makes
//! them (the same rendering code).
//!
//! Owns: reading the crontab (`crontab -l` by default), naming the jobs
//! (`cron-<program>`), what a job's service says to run it as cron did (the
//! crontab's SHELL with `-c`, the user's home as working directory, the
//! crontab's variables, cron's default PATH), and the report of what could not
//! be carried over. The crontab itself is never changed.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use daimon_proto::{Paths, Request, Response, RunRequest};
use daimon_unit::cron::{CronJob, Crontab, CrontabFormat, CrontabProblem, Trigger, parse_crontab};
use daimon_unit::value::exec::is_env_name;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::cli::{CrontabArgs, RestartPolicy};
use crate::client::{JOBS, unexpected};
use crate::commands::{connect, report_jobs};
use crate::error::{CliError, CliResult};
use crate::run::{self, ServiceDraft};
use crate::run_policy::RestartPlan;
use crate::schedule::{self, Schedule};

/// cron's PATH when the crontab sets none (Vixie cron's `_PATH_DEFPATH`).
const CRON_PATH: &str = "/usr/bin:/bin";

/// Words that start a command but do not name the job (`cd /srv && ./run`).
const NOT_THE_JOB: &[&str] = &[
    "cd", "test", "[", "[[", "true", ":", "export", "set", "source", ".", "umask", "sleep",
];
/// Programs that run another one (`nice -n 10 ./x`, `flock -n /tmp/l ./x`);
/// those marked take one argument that is not an option.
const WRAPPERS: &[(&str, bool)] = &[
    ("nice", false),
    ("ionice", false),
    ("nohup", false),
    ("env", false),
    ("exec", false),
    ("sudo", false),
    ("chronic", false),
    ("cronic", false),
    ("time", false),
    ("setsid", false),
    ("run-one", false),
    ("timeout", true),
    ("flock", true),
];
/// Script extensions left out of a job's name (`backup.sh` -> `cron-backup`).
const SCRIPT_EXTENSIONS: &[&str] = &["sh", "bash", "zsh", "py", "pl", "rb", "php", "js", "ts"];

/// The program a shell command line runs, for naming it: `cron-` and the
/// program's (or the interpreted script's) name.
pub fn job_name(command: &str) -> String {
    for segment in command.split([';', '&', '|', '(', ')', '{', '}']) {
        let words: Vec<String> = segment
            .split_ascii_whitespace()
            .map(|w| w.trim_matches(['"', '\'']).to_string())
            .collect();
        let mut i = 0;
        while i < words.len() {
            let w = &words[i];
            let base = w.rsplit('/').next().unwrap_or(w);
            if w.split_once('=').is_some_and(|(k, _)| is_env_name(k)) {
                i += 1;
            } else if let Some((_, takes_arg)) = WRAPPERS.iter().find(|(n, _)| *n == base) {
                i += 1;
                while i < words.len()
                    && (words[i].starts_with('-') || words[i].bytes().all(|b| b.is_ascii_digit()))
                {
                    i += 1;
                }
                if *takes_arg {
                    i += 1;
                }
            } else {
                break;
            }
        }
        let Some(first) = words.get(i) else { continue };
        let base = first.rsplit('/').next().unwrap_or(first);
        if base.is_empty() || NOT_THE_JOB.contains(&base) || base.starts_with(['>', '<', '$']) {
            continue;
        }
        let mut name = run::default_name(&words[i..]);
        if let Some((stem, ext)) = name.rsplit_once('.')
            && !stem.is_empty()
            && SCRIPT_EXTENSIONS.contains(&ext)
        {
            name = stem.to_string();
        }
        let name = name.trim_matches(['-', '.']);
        if !name.is_empty() {
            return format!("cron-{name}");
        }
    }
    "cron-job".to_string()
}

/// One job, ready to send.
pub struct Planned {
    pub name: String,
    pub line: usize,
    pub schedule: Schedule,
    pub request: RunRequest,
}

/// The service that runs `job` as cron ran it.
fn service_draft(job: &CronJob) -> ServiceDraft {
    let mut env: Vec<String> = Vec::new();
    if !job.env.iter().any(|(k, _)| k == "PATH") {
        env.push(format!("PATH={CRON_PATH}"));
    }
    env.extend(job.env.iter().map(|(k, v)| format!("{k}={v}")));
    ServiceDraft {
        description: job.command.clone(),
        exec: vec![job.shell.clone(), "-c".into(), job.command.clone()],
        workdir: "~".into(),
        env,
        user: job.user.clone(),
        restart: RestartPlan::new(RestartPolicy::No, None, None),
        scheduled: true,
    }
}

/// Every job of the crontab as a request (saved and enabled), names made
/// unique in line order; jobs that would never run are reported instead.
pub fn plan(tab: &Crontab, now: Timestamp, tz: &TimeZone) -> (Vec<Planned>, Vec<CrontabProblem>) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut planned = Vec::new();
    let mut problems = tab.problems.clone();
    for job in &tab.jobs {
        let schedule =
            Schedule::from_cron(&job.schedule, &job.schedule_text, job.time_zone.as_deref());
        if matches!(schedule.trigger, Trigger::Calendar(_))
            && schedule::next_run(&schedule.trigger, now, tz).is_none()
        {
            problems.push(CrontabProblem {
                line: job.line,
                message: format!(
                    "\"{}\" never runs: no future time matches it",
                    job.schedule_text
                ),
                skipped: true,
            });
            continue;
        }
        let base = job_name(&job.command);
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        let name = if *n == 1 { base } else { format!("{base}-{n}") };
        let text = run::service_text(&service_draft(job));
        let request = run::request(&name, text, Some(&schedule), true, true);
        planned.push(Planned {
            name,
            line: job.line,
            schedule,
            request,
        });
    }
    problems.sort_by_key(|p| p.line);
    (planned, problems)
}

/// `FILE:LINE: skipped: ...` or `FILE:LINE: note: ...`, as `verify` reports.
pub fn problem_line(source: &str, p: &CrontabProblem) -> String {
    let kind = if p.skipped { "skipped" } else { "note" };
    format!("{source}:{}: {kind}: {}", p.line, p.message)
}

/// The unit files `--dry-run` shows.
pub fn dry_run_text(planned: &[Planned]) -> String {
    let mut out = String::new();
    for p in planned {
        out.push_str(&format!("# {} (crontab line {})\n", p.request.name, p.line));
        out.push_str(&p.request.unit_text);
        if let Some(t) = &p.request.timer {
            out.push_str(&format!("\n# {}\n", t.name));
            out.push_str(&t.unit_text);
        }
        out.push('\n');
    }
    out
}

/// The crontab's text and the name to report lines with.
fn read_crontab(file: Option<&Path>) -> CliResult<(String, String)> {
    match file {
        Some(p) if p == Path::new("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::fail(format!("reading the crontab from stdin: {e}")))?;
            Ok((text, "stdin".into()))
        }
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                CliError::fail(format!("cannot read crontab \"{}\": {e}", p.display()))
            })?;
            Ok((text, p.display().to_string()))
        }
        None => {
            let out = std::process::Command::new("crontab")
                .arg("-l")
                .output()
                .map_err(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        CliError::fail(
                            "no crontab command found; pass the file: daimon import crontab FILE",
                        )
                    } else {
                        CliError::fail(format!("cannot run crontab -l: {e}"))
                    }
                })?;
            if !out.status.success() {
                let why = String::from_utf8_lossy(&out.stderr);
                let why = why.lines().next().unwrap_or("").trim();
                if why.to_ascii_lowercase().contains("no crontab") {
                    return Err(CliError::fail(format!(
                        "you have no crontab ({why}); nothing to import"
                    )));
                }
                return Err(CliError::fail(format!(
                    "crontab -l failed ({why}); pass the file instead: daimon import crontab FILE"
                )));
            }
            Ok((
                String::from_utf8_lossy(&out.stdout).into_owned(),
                "crontab".into(),
            ))
        }
    }
}

/// `daimon import crontab`.
pub fn crontab(paths: &Paths, args: &CrontabArgs) -> CliResult {
    let (text, source) = read_crontab(args.file.as_deref())?;
    let format = if args.system {
        CrontabFormat::System
    } else {
        CrontabFormat::User
    };
    let tab = parse_crontab(&text, format);
    let tz = schedule::local_zone();
    let now = Timestamp::now();
    let (planned, problems) = plan(&tab, now, &tz);
    let skipped = problems.iter().filter(|p| p.skipped).count();
    let lines = |n: usize| if n == 1 { "line" } else { "lines" };
    let jobs = |n: usize| if n == 1 { "job" } else { "jobs" };

    if args.dry_run {
        print!("{}", dry_run_text(&planned));
        for p in &problems {
            eprintln!("{}", problem_line(&source, p));
        }
        println!(
            "Dry run: {} {} would be imported, {skipped} {} skipped; nothing was installed.",
            planned.len(),
            jobs(planned.len()),
            lines(skipped)
        );
        return Ok(if skipped > 0 { 1 } else { 0 });
    }

    let mut failed = 0;
    for p in &planned {
        let sent = connect(paths).and_then(|c| c.call(&Request::Run(p.request.clone()), JOBS));
        let code = match sent {
            Ok(Response::Jobs(results)) => report_jobs(&results),
            Ok(Response::Done) => 0,
            Ok(other) => {
                eprintln!("daimon: {}: {}", p.name, unexpected(other).message);
                1
            }
            Err(e) => {
                eprintln!(
                    "daimon: {} (crontab line {}): {}",
                    p.name, p.line, e.message
                );
                1
            }
        };
        if code == 0 {
            println!(
                "{}",
                schedule::next_run_line(&p.name, &p.schedule.trigger, Timestamp::now(), &tz)
            );
        } else {
            failed += 1;
        }
    }
    for p in &problems {
        eprintln!("{}", problem_line(&source, p));
    }
    let imported = planned.len() - failed;
    let mut summary = format!(
        "Imported {imported} {} from {source} as saved, enabled timers",
        jobs(imported)
    );
    if skipped > 0 {
        summary.push_str(&format!("; {skipped} {} skipped", lines(skipped)));
    }
    if failed > 0 {
        summary.push_str(&format!("; {failed} {} failed", jobs(failed)));
    }
    println!("{summary}.");
    if imported > 0 {
        println!(
            "See them with: daimon timers. Remove them from your crontab (crontab -e) so that they do not run twice."
        );
    }
    Ok(if skipped > 0 || failed > 0 { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_come_from_the_program() {
        let cases = [
            ("/home/u/backup.sh --full >> /tmp/b.log 2>&1", "cron-backup"),
            ("cd /srv/app && ./manage.py cleanup", "cron-manage"),
            ("python3 /srv/app/report.py --daily", "cron-report"),
            (
                "nice -n 10 flock -n /tmp/lock rsync -a /src /dst",
                "cron-rsync",
            ),
            (
                "LANG=C timeout 5m /usr/local/bin/sync-mail",
                "cron-sync-mail",
            ),
            ("[ -x /usr/bin/foo ] && /usr/bin/foo", "cron-foo"),
            ("(cd /x; make all)", "cron-make"),
            ("date +%s > /tmp/now", "cron-date"),
            ("\"/opt/my tool/run it\"", "cron-my"),
            ("cd /tmp", "cron-job"),
        ];
        for (command, name) in cases {
            assert_eq!(job_name(command), name, "{command}");
            assert!(daimon_unit::is_valid_unit_name(&format!("{name}.service")));
        }
    }

    const CRONTAB: &str = "\
SHELL=/bin/bash
MAILTO=me@example.com
GREETING=\"50% $HOME\"
30 2 * * * /home/u/backup.sh --full
0 * * * * /home/u/backup.sh --quick
@reboot ~/start.sh
0 0 31 2 * /never
*/5 * * * * echo 100% done
";

    fn planned() -> (Vec<Planned>, Vec<CrontabProblem>) {
        let tab = parse_crontab(CRONTAB, CrontabFormat::User);
        let now: Timestamp = "2026-11-21T13:25:00Z".parse().expect("time");
        plan(&tab, now, &TimeZone::UTC)
    }

    #[test]
    fn names_are_unique_and_requests_save_and_enable() {
        let (planned, _) = planned();
        let names: Vec<&str> = planned.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["cron-backup", "cron-backup-2", "cron-start"]);
        for p in &planned {
            assert!(p.request.save && p.request.enable);
            assert_eq!(p.request.name, format!("{}.service", p.name));
            assert_eq!(
                p.request.timer.as_ref().map(|t| t.name.clone()),
                Some(format!("{}.timer", p.name))
            );
        }
    }

    #[test]
    fn units_run_the_command_as_cron_did() {
        let (planned, _) = planned();
        assert_eq!(
            planned[0].request.unit_text,
            "[Unit]\nDescription=/home/u/backup.sh --full\n\n[Service]\nType=oneshot\n\
             ExecStart=/bin/bash -c \"/home/u/backup.sh --full\"\nWorkingDirectory=~\n\
             Environment=\"PATH=/usr/bin:/bin\"\nEnvironment=\"SHELL=/bin/bash\"\n\
             Environment=\"GREETING=50%% $HOME\"\nRestart=no\n"
        );
        let timer = planned[0].request.timer.as_ref().expect("timer");
        assert_eq!(
            timer.unit_text,
            "[Unit]\nDescription=Schedule of cron-backup.service: cron 30 2 * * *\n\n\
             [Timer]\nOnCalendar=*-*-* 02:30:00\nPersistent=true\nAccuracySec=1s\n\
             Unit=cron-backup.service\n\n[Install]\nWantedBy=timers.target\n"
        );
        assert!(
            planned[2]
                .request
                .timer
                .as_ref()
                .expect("timer")
                .unit_text
                .contains("\nOnStartupSec=0\n")
        );
    }

    /// What the unit-file parser reads back is what cron would have run.
    #[test]
    fn units_parse_back_to_the_crontab_command() {
        let (planned, _) = planned();
        let tab = parse_crontab(CRONTAB, CrontabFormat::User);
        let spec = daimon_unit::SpecifierContext::example();
        for p in &planned {
            let job = tab.jobs.iter().find(|j| j.line == p.line).expect("job");
            let loaded = daimon_unit::parse_unit(
                &p.request.name,
                Path::new("/units/x.service"),
                p.request.unit_text.as_bytes(),
                &[],
                &spec,
            );
            assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
            let unit = loaded.unit.expect("unit");
            let daimon_unit::UnitBody::Service(svc) = &unit.body else {
                panic!("a service");
            };
            let words = svc.exec_start[0].expand(&|_: &str| None);
            assert_eq!(words, ["/bin/bash", "-c", job.command.as_str()]);
            assert!(
                svc.environment
                    .contains(&("GREETING".into(), "50% $HOME".into()))
            );
        }
    }

    #[test]
    fn what_cannot_be_imported_is_reported_by_line() {
        let (_, problems) = planned();
        let lines: Vec<String> = problems
            .iter()
            .map(|p| problem_line("jobs.txt", p))
            .collect();
        assert_eq!(
            lines,
            [
                "jobs.txt:2: note: MAILTO=me@example.com: no mail is sent; each job's output is kept in its logs (daimon logs UNIT)",
                "jobs.txt:7: skipped: \"0 0 31 2 *\" never runs: no future time matches it",
                "jobs.txt:8: skipped: unescaped \"%\" in the command: cron ends the command there and passes the rest as standard input, which daimon cannot do; write \\% for a literal %, or move the input into a script",
            ]
        );
    }

    #[test]
    fn dry_run_shows_both_files_of_each_job() {
        let (planned, _) = planned();
        let text = dry_run_text(&planned[..1]);
        assert!(
            text.starts_with("# cron-backup.service (crontab line 4)\n[Unit]\n"),
            "{text}"
        );
        assert!(
            text.contains("Restart=no\n\n# cron-backup.timer\n[Unit]\n"),
            "{text}"
        );
        assert!(text.ends_with("WantedBy=timers.target\n\n"), "{text}");
    }
}
