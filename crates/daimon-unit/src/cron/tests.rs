//! Cron translation: fixed examples, error messages, and the equivalence of
//! random schedules with their calendar expressions against a brute-force
//! cron matcher written independently of the parser.

use super::*;
use crate::calendar::CalendarSpec;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

fn calendar(expr: &str) -> Vec<String> {
    match CronSchedule::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}")) {
        CronSchedule::Times(t) => t.on_calendar(),
        CronSchedule::Reboot => panic!("{expr}: not a calendar schedule"),
    }
}

const TRANSLATIONS: &[(&str, &[&str])] = &[
    ("30 2 * * *", &["*-*-* 02:30:00"]),
    ("*/15 * * * 1-5", &["Mon..Fri *-*-* *:00/15:00"]),
    ("10-40/5 8-18 * * *", &["*-*-* 08..18:10..40/5:00"]),
    ("23 0-23/2 * * *", &["*-*-* 00/2:23:00"]),
    ("5/20 * * * *", &["*-*-* *:05/20:00"]),
    ("0 0 1 */3 *", &["*-01/3-01 00:00:00"]),
    ("*/7 * * * *", &["*-*-* *:00..56/7:00"]),
    ("5 */5 * * *", &["*-*-* 00..20/5:05:00"]),
    ("0 0 */12 * *", &["*-*-01..25/12 00:00:00"]),
    ("0,30 * * * *", &["*-*-* *:00,30:00"]),
    ("1,2,3,10,20 * * * *", &["*-*-* *:01..03,10,20:00"]),
    ("0-10/5,30 * * * *", &["*-*-* *:00,05,10,30:00"]),
    ("5 4 * * sun", &["Sun *-*-* 04:05:00"]),
    ("0 12 * * 5-7", &["Fri..Sun *-*-* 12:00:00"]),
    ("0 12 * * 0,6", &["Sat,Sun *-*-* 12:00:00"]),
    ("0 12 * * 1-7/2", &["Mon,Wed,Fri,Sun *-*-* 12:00:00"]),
    ("0 0 * JAN-Mar,dec Sun,7", &["Sun *-01..03,12-* 00:00:00"]),
    ("0 4 8-14 * *", &["*-*-08..14 04:00:00"]),
    ("0 0 */3 */2 *", &["*-01/2-01..31/3 00:00:00"]),
    // Both day fields restricted: either one matches (crontab(5)).
    (
        "0 0 1-7 * 1",
        &["Mon *-*-* 00:00:00", "*-*-01..07 00:00:00"],
    ),
    (
        "0 9 1,15 6 mon",
        &["Mon *-06-* 09:00:00", "*-06-01,15 09:00:00"],
    ),
    // A field starting with `*` is unrestricted for that rule: both must match.
    ("0 9 */2 * mon", &["Mon *-*-01..31/2 09:00:00"]),
    ("0 9 15 * */2", &["Tue,Thu,Sat,Sun *-*-15 09:00:00"]),
    // Restricted but matching every day: one expression is enough.
    ("0 0 13 * 0-7", &["*-*-* 00:00:00"]),
    ("0 0 1-31 * 5", &["*-*-* 00:00:00"]),
    ("@yearly", &["*-01-01 00:00:00"]),
    ("@annually", &["*-01-01 00:00:00"]),
    ("@monthly", &["*-*-01 00:00:00"]),
    ("@weekly", &["Sun *-*-* 00:00:00"]),
    ("@daily", &["*-*-* 00:00:00"]),
    ("@MIDNIGHT", &["*-*-* 00:00:00"]),
    ("@hourly", &["*-*-* *:00:00"]),
    ("* * * * *", &["*-*-* *:*:00"]),
];

#[test]
fn translations() {
    for &(cron, expected) in TRANSLATIONS {
        assert_eq!(calendar(cron), expected, "{cron}");
    }
}

/// What we produce is exactly what `systemd-analyze calendar` would call the
/// normalized form, so users see the same text in `daimon cat` and `timers`.
#[test]
fn every_expression_is_a_normalized_calendar_event() {
    for &(cron, _) in TRANSLATIONS {
        for expr in calendar(cron) {
            let spec = CalendarSpec::parse(&expr).unwrap_or_else(|e| panic!("{cron}: {e}"));
            assert_eq!(spec.to_string(), expr, "{cron}");
        }
    }
}

#[test]
fn reboot_and_time_zones() {
    let reboot = CronSchedule::parse("@reboot").expect("valid");
    assert_eq!(reboot, CronSchedule::Reboot);
    assert_eq!(reboot.trigger(None).directives(), ["OnStartupSec=0"]);
    let s = CronSchedule::parse("0 9 1 * mon").expect("valid");
    assert_eq!(
        s.trigger(Some("Europe/Berlin")).directives(),
        [
            "OnCalendar=Mon *-*-* 09:00:00 Europe/Berlin",
            "OnCalendar=*-*-01 09:00:00 Europe/Berlin"
        ]
    );
    for d in s.trigger(Some("Europe/Berlin")).directives() {
        let expr = d.strip_prefix("OnCalendar=").expect("calendar");
        CalendarSpec::parse(expr).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn error_messages() {
    const FIVE: &str = "expected 5 fields (minute hour day-of-month month day-of-week) or one of @yearly @annually @monthly @weekly @daily @midnight @hourly @reboot";
    let cases: &[(&str, String)] = &[
        (
            "30 25 * * *",
            "cron field 2 (hour) \"25\": expected 0-23".into(),
        ),
        (
            "60 * * * *",
            "cron field 1 (minute) \"60\": expected 0-59".into(),
        ),
        (
            "* * 0 * *",
            "cron field 3 (day-of-month) \"0\": expected 1-31".into(),
        ),
        (
            "* * * 13 *",
            "cron field 4 (month) \"13\": expected 1-12 or jan-dec".into(),
        ),
        (
            "* * * * 8",
            "cron field 5 (day-of-week) \"8\": expected 0-7 or sun-sat".into(),
        ),
        (
            "* * * * 1,monday",
            "cron field 5 (day-of-week) \"monday\": expected 0-7 or sun-sat".into(),
        ),
        (
            "* * * * jan",
            "cron field 5 (day-of-week) \"jan\": expected 0-7 or sun-sat".into(),
        ),
        (
            "*/0 * * * *",
            "cron field 1 (minute) \"*/0\": expected a step of 1-59".into(),
        ),
        (
            "* */24 * * *",
            "cron field 2 (hour) \"*/24\": expected a step of 1-23".into(),
        ),
        (
            "40-10 * * * *",
            "cron field 1 (minute) \"40-10\": expected a range low-high (40 is greater than 10)"
                .into(),
        ),
        (
            "1,,2 * * * *",
            "cron field 1 (minute) \"1,,2\": empty list item; expected 0-59".into(),
        ),
        (
            "*-5 * * * *",
            "cron field 1 (minute) \"*-5\": expected 0-59".into(),
        ),
        (
            "0 0 L * *",
            "cron field 3 (day-of-month) \"L\": expected 1-31".into(),
        ),
        ("* * * *", format!("cron schedule \"* * * *\": {FIVE}")),
        (
            "* * * * * *",
            format!("cron schedule \"* * * * * *\": {FIVE}"),
        ),
        ("@often", format!("cron schedule \"@often\": {FIVE}")),
        ("", format!("cron schedule \"\": {FIVE}")),
    ];
    for (expr, message) in cases {
        let e = CronSchedule::parse(expr).expect_err(expr);
        assert_eq!(&e.to_string(), message, "{expr:?}");
    }
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as u32 % n
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "FEB", "mar", "Apr", "may", "JUN", "jul", "Aug", "sep", "Oct", "NOV", "dec",
];
const DAYS: [&str; 7] = ["sun", "Mon", "TUE", "wed", "Thu", "fri", "SAT"];

fn random_value(rng: &mut Rng, v: u32, min: u32, names: &[&str]) -> String {
    let i = (v - min) as usize;
    if i < names.len() && rng.below(3) == 0 {
        names[i].to_owned()
    } else {
        v.to_string()
    }
}

fn random_field(rng: &mut Rng, min: u32, max: u32, names: &[&str]) -> String {
    match rng.below(12) {
        0..=3 => "*".to_owned(),
        4 => format!("*/{}", 1 + rng.below(max.min(13))),
        _ => {
            let n = 1 + rng.below(3);
            let items: Vec<String> = (0..n)
                .map(|_| {
                    let a = min + rng.below(max - min + 1);
                    let b = a + rng.below(max - a + 1);
                    let step = 1 + rng.below(7);
                    let (sa, sb) = (
                        random_value(rng, a, min, names),
                        random_value(rng, b, min, names),
                    );
                    match rng.below(4) {
                        0 => format!("{sa}-{sb}"),
                        1 => format!("{sa}-{sb}/{step}"),
                        2 if names.is_empty() => format!("{a}/{step}"),
                        _ => sa,
                    }
                })
                .collect();
            items.join(",")
        }
    }
}

fn random_cron(rng: &mut Rng) -> String {
    [
        random_field(rng, 0, 59, &[]),
        random_field(rng, 0, 23, &[]),
        random_field(rng, 1, 31, &[]),
        random_field(rng, 1, 12, &MONTHS),
        random_field(rng, 0, 7, &DAYS),
    ]
    .join(" ")
}

/// crontab(5) read literally, one value at a time: does `v` match `field`?
fn field_matches(field: &str, v: u32, min: u32, max: u32, names: &[&str]) -> bool {
    let num = |s: &str| -> u32 {
        s.parse().unwrap_or_else(|_| {
            let i = names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(s))
                .expect("a name");
            i as u32 + min
        })
    };
    field.split(',').any(|item| {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().expect("step")),
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (num(a), num(b))
        } else if item.contains('/') {
            (num(range), max)
        } else {
            (num(range), num(range))
        };
        (lo..=hi).contains(&v) && (v - lo).is_multiple_of(step)
    })
}

fn cron_day_matches(f: &[&str], date: Date) -> bool {
    let dom = field_matches(f[2], date.day() as u32, 1, 31, &[]);
    let wd = date.weekday().to_sunday_zero_offset() as u32;
    let dow =
        field_matches(f[4], wd, 0, 7, &DAYS) || (wd == 0 && field_matches(f[4], 7, 0, 7, &DAYS));
    let month = field_matches(f[3], date.month() as u32, 1, 12, &MONTHS);
    let day = if f[2].starts_with('*') || f[4].starts_with('*') {
        dom && dow
    } else {
        dom || dow
    };
    month && day
}

/// The first minute strictly after `after` (UTC) that cron would run `expr`
/// in, searching up to the calendar module's last year.
fn cron_next(expr: &str, after: Timestamp) -> Option<Timestamp> {
    let f: Vec<&str> = expr.split(' ').collect();
    let mut date = after.to_zoned(TimeZone::UTC).date();
    while date.year() < 2200 {
        if cron_day_matches(&f, date) {
            for h in 0..24 {
                if !field_matches(f[1], h, 0, 23, &[]) {
                    continue;
                }
                for m in 0..60 {
                    if !field_matches(f[0], m, 0, 59, &[]) {
                        continue;
                    }
                    let t = date
                        .at(h as i8, m as i8, 0, 0)
                        .to_zoned(TimeZone::UTC)
                        .expect("UTC")
                        .timestamp();
                    if t > after {
                        return Some(t);
                    }
                }
            }
        }
        date = date.tomorrow().ok()?;
    }
    None
}

fn calendar_next(exprs: &[String], after: Timestamp) -> Option<Timestamp> {
    exprs
        .iter()
        .filter_map(|e| {
            let spec = CalendarSpec::parse(e).unwrap_or_else(|err| panic!("{e}: {err}"));
            spec.next_elapse_in(after, &TimeZone::UTC)
        })
        .min()
}

#[test]
fn random_schedules_elapse_when_cron_would_run_them() {
    let bases: Vec<Timestamp> = [
        "2026-11-21T07:03:05Z",
        "2027-12-31T23:59:00Z",
        "2028-02-28T12:00:00Z",
        "2027-02-28T23:59:30Z",
        "2028-04-30T23:00:00Z",
    ]
    .iter()
    .map(|s| s.parse().expect("timestamp"))
    .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut exprs: Vec<String> = (0..200).map(|_| random_cron(&mut rng)).collect();
    exprs.extend(
        TRANSLATIONS
            .iter()
            .filter(|(e, _)| !e.starts_with('@'))
            .map(|(e, _)| e.to_string()),
    );
    for expr in &exprs {
        let on_calendar = calendar(expr);
        let mut after = bases.clone();
        // Also a few elapses in a row, from the first one on.
        let mut t = bases[0];
        for _ in 0..3 {
            match cron_next(expr, t) {
                Some(next) => {
                    after.push(next);
                    t = next;
                }
                None => break,
            }
        }
        for base in after {
            assert_eq!(
                calendar_next(&on_calendar, base),
                cron_next(expr, base),
                "{expr:?} -> {on_calendar:?} after {base}"
            );
        }
    }
}

// Crontab files.

const CRONTAB: &str = "\
# m h dom mon dow command
SHELL=/bin/bash
PATH = /usr/local/bin:/usr/bin:/bin
MAILTO=me@example.com
GREETING=\"hello  world\"

30 2 * * *   /home/u/backup.sh --full >> /tmp/b.log 2>&1
@reboot ~/start.sh
  */5 * * * * date +\\%s \\\\n
0 * * * * echo 50% done
61 * * * * oops
this is nonsense
GREETING='bye'
@daily\tcmd  arg
CRON_TZ=Europe/Berlin
0 9 * * 1-5 tzjob
CRON_TZ=Mars/Olympus
FOO-BAR=1
X=\"unclosed
0 0 * * *
MAILTO=\"\"
0 0 * * * root /usr/sbin/logrotate
";

#[test]
fn crontab_jobs_keep_the_environment_of_their_line() {
    let tab = parse_crontab(CRONTAB, CrontabFormat::User);
    let summary: Vec<(usize, &str, &str)> = tab
        .jobs
        .iter()
        .map(|j| (j.line, j.schedule_text.as_str(), j.command.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                7,
                "30 2 * * *",
                "/home/u/backup.sh --full >> /tmp/b.log 2>&1"
            ),
            (8, "@reboot", "~/start.sh"),
            (9, "*/5 * * * *", "date +%s \\\\n"),
            (14, "@daily", "cmd  arg"),
            (16, "0 9 * * 1-5", "tzjob"),
            (22, "0 0 * * *", "root /usr/sbin/logrotate"),
        ]
    );
    let first = &tab.jobs[0];
    assert_eq!(first.shell, "/bin/bash");
    assert_eq!(first.user, None);
    assert_eq!(first.time_zone, None);
    let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        first.env,
        env(&[
            ("SHELL", "/bin/bash"),
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ("GREETING", "hello  world"),
        ])
    );
    assert_eq!(tab.jobs[3].env[2], ("GREETING".into(), "bye".into()));
    assert_eq!(tab.jobs[4].time_zone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(
        tab.jobs[4].trigger().directives(),
        ["OnCalendar=Mon..Fri *-*-* 09:00:00 Europe/Berlin"]
    );
    assert_eq!(tab.jobs[1].trigger(), Trigger::Startup);
}

#[test]
fn crontab_problems_name_their_line() {
    let tab = parse_crontab(CRONTAB, CrontabFormat::User);
    let problems: Vec<(String, bool)> = tab
        .problems
        .iter()
        .map(|p| (p.to_string(), p.skipped))
        .collect();
    let expected: Vec<(String, bool)> = [
        ("line 4: MAILTO=me@example.com: no mail is sent; each job's output is kept in its logs (daimon logs UNIT)", false),
        ("line 10: unescaped \"%\" in the command: cron ends the command there and passes the rest as standard input, which daimon cannot do; write \\% for a literal %, or move the input into a script", true),
        ("line 11: cron field 1 (minute) \"61\": expected 0-59", true),
        ("line 12: not a job or a NAME=value line: \"this is nonsense\"", true),
        ("line 17: CRON_TZ=Mars/Olympus: unknown time zone (expected a name such as Europe/Berlin); jobs below run in local time", true),
        ("line 18: \"FOO-BAR\" cannot be a service's environment variable (letters, digits and _ only); jobs below run without it", true),
        ("line 19: X=: the quote is not closed; jobs below run without it", true),
        ("line 20: expected 5 time fields and a command: \"0 0 * * *\"", true),
        ("line 22: the command starts with \"root\": if this is a system crontab (/etc/crontab, /etc/cron.d), import it with --system", false),
    ]
    .iter()
    .map(|(m, s)| (m.to_string(), *s))
    .collect();
    assert_eq!(problems, expected);
    assert!(tab.has_skipped_lines());
}

#[test]
fn system_crontabs_have_a_user_column() {
    let tab = parse_crontab(
        "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n@reboot www-data /srv/warm\n0 0 * * * nobody\n",
        CrontabFormat::System,
    );
    assert_eq!(tab.jobs.len(), 2);
    assert_eq!(tab.jobs[0].user.as_deref(), Some("root"));
    assert_eq!(
        tab.jobs[0].command,
        "cd / && run-parts --report /etc/cron.hourly"
    );
    assert_eq!(tab.jobs[1].user.as_deref(), Some("www-data"));
    assert_eq!(
        tab.problems[0].to_string(),
        "line 3: expected 5 time fields, a user and a command: \"0 0 * * * nobody\""
    );
}

#[test]
fn crontab_without_problems() {
    let tab = parse_crontab(
        "\r\n# nightly\r\n0 3 * * * /usr/bin/true\r\n",
        CrontabFormat::User,
    );
    assert!(tab.problems.is_empty(), "{:?}", tab.problems);
    assert_eq!(tab.jobs[0].command, "/usr/bin/true");
    assert_eq!(tab.jobs[0].shell, "/bin/sh");
    assert!(!tab.has_skipped_lines());
}
