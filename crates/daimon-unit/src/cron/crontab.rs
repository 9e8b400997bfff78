//! Crontab files, as crontab(5) describes them: comments, blank lines,
//! `NAME=value` environment lines and job lines; each job keeps the
//! environment in effect at its line. What has no equivalent in a service and
//! a timer is reported per line instead of being dropped silently.

use std::fmt;

use super::{CronSchedule, Trigger};
use crate::value::exec::is_env_name;

/// Which crontab layout a file has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrontabFormat {
    /// A user's crontab (`crontab -l`): schedule, then the command.
    User,
    /// The system crontab (`/etc/crontab`, `/etc/cron.d/*`): schedule, the
    /// user to run as, then the command.
    System,
}

/// One job line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronJob {
    /// 1-based line number in the file.
    pub line: usize,
    pub schedule: CronSchedule,
    /// The schedule as written (`30 2 * * *`, `@daily`), words joined by one space.
    pub schedule_text: String,
    /// The user column of a system crontab.
    pub user: Option<String>,
    /// The command for the shell, with cron's `\%` turned into `%`.
    pub command: String,
    /// `SHELL=` in effect (cron's default: `/bin/sh`).
    pub shell: String,
    /// The environment lines in effect, in the order first set (`SHELL` and
    /// `PATH` included; cron's own `MAILTO`, `MAILFROM`, `CRON_TZ` left out).
    pub env: Vec<(String, String)>,
    /// cronie's `CRON_TZ=` in effect: the zone the schedule is read in.
    pub time_zone: Option<String>,
}

impl CronJob {
    /// The timer trigger for this job (in `CRON_TZ` if one was set).
    pub fn trigger(&self) -> Trigger {
        self.schedule.trigger(self.time_zone.as_deref())
    }
}

/// A line, or part of one, that cannot be carried over as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrontabProblem {
    /// 1-based line number.
    pub line: usize,
    /// One line: what is wrong and what to do.
    pub message: String,
    /// The line was left out (a job not imported, a setting not applied);
    /// false for a note about behaviour that differs.
    pub skipped: bool,
}

impl fmt::Display for CrontabProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A parsed crontab: its jobs and what could not be expressed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Crontab {
    pub jobs: Vec<CronJob>,
    pub problems: Vec<CrontabProblem>,
}

impl Crontab {
    /// Whether some line was left out.
    pub fn has_skipped_lines(&self) -> bool {
        self.problems.iter().any(|p| p.skipped)
    }
}

/// cron's shell when the crontab sets no `SHELL=`.
pub const DEFAULT_SHELL: &str = "/bin/sh";

/// Reads a crontab. Never fails: every line that is not understood becomes a
/// [`CrontabProblem`] and the other lines are still read.
pub fn parse_crontab(text: &str, format: CrontabFormat) -> Crontab {
    let mut out = Crontab::default();
    let mut env: Vec<(String, String)> = Vec::new();
    let mut shell = DEFAULT_SHELL.to_owned();
    let mut time_zone: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.trim_end_matches('\r').trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let mut problem = |message: String, skipped: bool| {
            out.problems.push(CrontabProblem {
                line,
                message,
                skipped,
            })
        };
        let first = content.as_bytes()[0];
        if !(first.is_ascii_digit() || first == b'*' || first == b'@') {
            let Some((name, value)) = env_line(content) else {
                problem(
                    format!("not a job or a NAME=value line: \"{content}\""),
                    true,
                );
                continue;
            };
            let value = match value {
                Ok(v) => v,
                Err(e) => {
                    problem(format!("{name}=: {e}; jobs below run without it"), true);
                    continue;
                }
            };
            match name.as_str() {
                "MAILTO" | "MAILFROM" => {
                    if !value.is_empty() {
                        problem(
                            format!(
                                "{name}={value}: no mail is sent; each job's output is kept in its logs (daimon logs UNIT)"
                            ),
                            false,
                        );
                    }
                    continue;
                }
                "CRON_TZ" => {
                    if value.is_empty() {
                        time_zone = None;
                    } else if jiff::tz::db().get(&value).is_ok() {
                        time_zone = Some(value);
                    } else {
                        problem(
                            format!(
                                "CRON_TZ={value}: unknown time zone (expected a name such as Europe/Berlin); jobs below run in local time"
                            ),
                            true,
                        );
                    }
                    continue;
                }
                _ => {}
            }
            if !is_env_name(&name) {
                problem(
                    format!(
                        "\"{name}\" cannot be a service's environment variable (letters, digits and _ only); jobs below run without it"
                    ),
                    true,
                );
                continue;
            }
            if name == "SHELL" {
                if value.is_empty() {
                    problem(format!("SHELL= is empty; jobs below keep {shell}"), true);
                    continue;
                }
                shell = value.clone();
            }
            match env.iter_mut().find(|(k, _)| *k == name) {
                Some(slot) => slot.1 = value,
                None => env.push((name, value)),
            }
            continue;
        }

        let schedule_words = if first == b'@' { 1 } else { 5 };
        let user_words = usize::from(format == CrontabFormat::System);
        let Some((words, command)) = split_words(content, schedule_words + user_words) else {
            let what = match (schedule_words, user_words) {
                (1, 0) => "an @ schedule and a command",
                (1, _) => "an @ schedule, a user and a command",
                (_, 0) => "5 time fields and a command",
                _ => "5 time fields, a user and a command",
            };
            problem(format!("expected {what}: \"{content}\""), true);
            continue;
        };
        let schedule_text = words[..schedule_words].join(" ");
        let schedule = match CronSchedule::parse(&schedule_text) {
            Ok(s) => s,
            Err(e) => {
                problem(e.to_string(), true);
                continue;
            }
        };
        let Some(command) = unescape_percent(command) else {
            problem(
                "unescaped \"%\" in the command: cron ends the command there and passes the rest as standard input, which daimon cannot do; write \\% for a literal %, or move the input into a script".to_owned(),
                true,
            );
            continue;
        };
        if format == CrontabFormat::User && command.split_ascii_whitespace().next() == Some("root")
        {
            problem(
                "the command starts with \"root\": if this is a system crontab (/etc/crontab, /etc/cron.d), import it with --system".to_owned(),
                false,
            );
        }
        out.jobs.push(CronJob {
            line,
            schedule,
            schedule_text,
            user: (user_words == 1).then(|| words[schedule_words].to_owned()),
            command,
            shell: shell.clone(),
            env: env.clone(),
            time_zone: time_zone.clone(),
        });
    }
    out
}

/// `NAME = value` with optional spaces around `=`, and the value optionally
/// in single or double quotes (which are removed), as Vixie cron's
/// `load_env()` reads it. None: not an environment line.
fn env_line(line: &str) -> Option<(String, Result<String, &'static str>)> {
    let (name, rest) = match line.as_bytes()[0] {
        q @ (b'"' | b'\'') => {
            let end = line[1..].find(q as char)? + 1;
            (&line[1..end], &line[end + 1..])
        }
        _ => {
            let end = line.find(|c: char| c == '=' || c.is_ascii_whitespace())?;
            (&line[..end], &line[end..])
        }
    };
    let rest = rest.trim_start().strip_prefix('=')?.trim();
    if name.is_empty() {
        return None;
    }
    let value = match rest.as_bytes().first() {
        Some(&q @ (b'"' | b'\'')) => match rest[1..].find(q as char) {
            Some(end) if rest[end + 2..].trim().is_empty() => Ok(rest[1..end + 1].to_owned()),
            Some(_) => Err("text after the closing quote"),
            None => Err("the quote is not closed"),
        },
        _ => Ok(rest.to_owned()),
    };
    Some((name.to_owned(), value))
}

/// The first `n` blank-separated words and the rest of the line (not empty).
fn split_words(s: &str, n: usize) -> Option<(Vec<&str>, &str)> {
    let mut words = Vec::with_capacity(n);
    let mut rest = s;
    for _ in 0..n {
        rest = rest.trim_start_matches([' ', '\t']);
        let end = rest.find([' ', '\t'])?;
        words.push(&rest[..end]);
        rest = &rest[end..];
    }
    let rest = rest.trim_start_matches([' ', '\t']);
    (!rest.is_empty()).then_some((words, rest))
}

/// cron's `%` rule (Vixie cron's `do_command()`): a backslash keeps the next
/// character, and `\%` is a literal `%`; an unescaped `%` ends the command
/// (None here, since what follows would be standard input).
fn unescape_percent(cmd: &str) -> Option<String> {
    let mut out = String::with_capacity(cmd.len());
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('%') => out.push('%'),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '%' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}
