//! Checks calendar events against systemd itself: `systemd-analyze calendar`
//! decides which expressions are valid, what their normalized form is and
//! when they elapse. Every expression is evaluated in several time zones
//! (`TZ=` is always set explicitly) from several base times, including base
//! times just before, inside and after daylight-saving transitions.
//!
//! If `systemd-analyze` is not installed (package `systemd`), the tests print
//! a note and pass.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Mutex;

use daimon_unit::calendar::CalendarSpec;
use jiff::Timestamp;
use jiff::tz::TimeZone;

const ANALYZE: &str = "systemd-analyze";
/// Elapses compared per expression and base time.
const ITERATIONS: usize = 8;

/// The examples from systemd.time(7), "Calendar Events", and more.
const EXPRESSIONS: &[&str] = &[
    "Sat,Thu,Mon..Wed,Sat..Sun",
    "Mon,Sun 12-*-* 2,1:23",
    "Wed *-1",
    "Wed..Wed,Wed *-1",
    "Wed, 17:48",
    "Wed..Sat,Tue 12-10-15 1:2:3",
    "*-*-7 0:0:0",
    "10-15",
    "monday *-12-* 17:00",
    "Mon,Fri *-*-3,1,2 *:30:45",
    "12,14,13,12:20,10,30",
    "12..14:10,20,30",
    "mon,fri *-1/2-1,3 *:30:45",
    "03-05 08:05:40",
    "08:05:40",
    "05:40",
    "Sat,Sun 12-05 08:05:40",
    "Sat,Sun 08:05:40",
    "2003-03-05 05:40",
    "05:40:23.4200004/3.1700005",
    "2003-02..04-05",
    "2003-03-05 05:40 UTC",
    "2003-03-05",
    "03-05",
    "hourly",
    "monthly",
    "weekly",
    "yearly",
    "annually",
    "*:2/3",
    "*-02~03",
    "Mon *-05~07/1",
    "*-*-* 02:30:00 Europe/Berlin",
    "*-*-* 02:30:00",
    "*-*-* 01:30:00",
    "*-*-* 02:00:00",
    "*-*-* 03:00:00",
    "Mon..Fri 09:00",
    "*:0/15",
    "minutely",
    "daily",
    "quarterly",
    "semiannually",
    "semi-annually",
    "biannually",
    "bi-annually",
    "anually",
    "Sun *-*-* 03:10:00",
    "00:07:00",
    "*:00/10",
    "*-*-* 06:25:00",
    "*-*-* 00,12:00:00",
    "*-*-* *:00:00",
    "*:*:0/7",
    "*:*:*",
    "*:*:0/0.5",
    "*:*:1.5..3",
    "*:0..59/7",
    "*-*-* 0/5:0/20:0/20",
    "*-*-31",
    "*-*-29,30,31 23:59:59",
    "*-02-29",
    "*-02-30",
    "2026..2030/2-*-*",
    "2026..2030/2-01-01",
    "*-*~01..07",
    "*-*~07/2",
    "*-*~1",
    "*~2",
    "Fri *-*-13",
    "Fri *-*~1..7 18:00",
    "*-*-1/2",
    "Mon-Wed",
    "Monday-Wednesday",
    "Mon,",
    "Mon..Sun",
    "daily UTC",
    "DAILY utc",
    "daily Etc/UTC",
    "daily America/New_York",
    "*:0/15 Europe/Berlin",
    "9:00 Asia/Kolkata",
    "*-*-* 02:30 Australia/Lord_Howe",
    "@1700000000",
    "@1800000000",
    "Mon @1800000000",
    "2199-12-31",
    "69-01-01",
    "70-01-01",
    "*:10..10",
    "*-*-* *:05..06/3",
    "*:*:0/1,5",
    "00:00:23.9999995",
    "*-*-* 1:2:3.0000001",
    "8..18/2:00",
    "*:*:10..11",
    "1~2",
    "*-*-*  12:00",
    "Mon  12:00",
    "*-*-* ",
    "*:0/1",
    "0..23/23:0",
    "*-1..12/11-1..31/30",
    "*-2~28",
    "*-*~28",
    "*~20,7",
    "*~3,2",
    "*:0/50",
    "10/12:04..52",
    "@+5",
    "@ 5",
    "@  7",
    "@\t5",
    "@ +5",
    "@-0",
    "@0",
    "@00012",
    "@7258118399",
    "@5 Europe/Berlin",
    "Mon,Tue @5",
    "1..3-*-*",
    "MONDAY",
    "*:*:5.000000001",
    "*:*:05..06.5",
    "*:*:0.5/0.5",
    "*:*:59.999999",
    "12:00:00 utc",
    "Mon UTC",
    "9:00 CET",
    "9:00 cest",
    "*:0/15 CEST",
    "02:30 CET",
    "02:30 EST",
    "*:0/30 EDT",
    "02:30 IST",
    "12:00 +1030",
    "Mon *-*-* 01:30:00 EDT",
    "9:00 EST5EDT",
    "*:0/20 posix/Europe/Berlin",
    "daily US/Eastern",
    "daily Etc/GMT+5",
    "02:30 Europe/Dublin",
];

/// Expressions systemd rejects; we must reject them too.
const INVALID: &[&str] = &[
    "",
    " ",
    "Mon..Fry",
    "Mon..Fry 09:00",
    "Fry",
    "25:00",
    "*-13-01",
    "*-00-01",
    "*-01-00",
    "*-01-32",
    "*:60",
    "*:*:60",
    "*:0/0",
    "*:*:0/0",
    "*-*/2",
    "*/2",
    "*:*/2",
    "*:59/1",
    "Fri..Mon",
    "Mon..",
    "Mon.Tue",
    "Mon,,Tue",
    "Mond",
    "Mon..Wed..Fri",
    "Mon-Wed-Fri",
    "2200-01-01",
    "1969-01-01",
    "*-02~30",
    "*-02~29",
    "1-2~3-4",
    "*-~2",
    "5-3-1-2",
    "1,2",
    "*-*-* 12",
    "1:2:3:4",
    "12:00 europe/berlin",
    "daily Z",
    "daily ",
    " daily",
    "today",
    "tomorrow",
    "now",
    "@",
    "@0x10",
    "@9999999999999",
    "00:00:23.",
    "00:00:59.9999995",
    "*:*:10..10",
    "10..5:00",
    "*,5:00",
    "5,*:00",
    "0/24:00",
    "UTC",
    " UTC",
    "Europe/Berlin",
    "12:00:00 UTC UTC",
    "99999999999:00",
    "12:00:00.1.2",
    "Mon\t12:00",
    "12:00 Europe/Nowhere",
    "@-1",
    "@+-5",
    "@+ 5",
    "@7258118400",
    "Sunday..Monday",
    "Sun-Mon",
    "*-*-* *:*:*.5",
    "*:*:5.",
    "*:*:5./2",
    "12:00:00  UTC",
    "12:00:00 UTC UTC",
    "UTC UTC",
    "*~6,26",
    "*~26,7",
    "daily GMT+5",
    "daily Europe",
    "daily zone.tab",
];

fn analyze_available() -> bool {
    match Command::new(ANALYZE).arg("--version").output() {
        Ok(out) if out.status.success() => true,
        _ => {
            println!(
                "note: {ANALYZE} not found; calendar oracle skipped (install the systemd package)"
            );
            false
        }
    }
}

/// What systemd says about an expression.
#[derive(Debug)]
struct Verdict {
    normalized: String,
    elapses: Vec<Timestamp>,
}

fn parse_utc_line(line: &str) -> Option<Timestamp> {
    // "Wed 2023-11-15 01:30:00 UTC"
    let rest = line.trim().get(4..)?.strip_suffix(" UTC")?;
    let dt: jiff::civil::DateTime = rest.replacen(' ', "T", 1).parse().ok()?;
    Some(dt.to_zoned(TimeZone::UTC).ok()?.timestamp())
}

/// What one run of `systemd-analyze calendar` said.
enum Run {
    Rejected,
    /// The expression is valid but computing an elapse failed (systemd's
    /// search gave up, e.g. after 1000 steps); nothing else is printed.
    Failed,
    Done(Verdict),
}

fn run(expr: &str, tz: &str, base: i64, iterations: usize) -> Run {
    let out = Command::new(ANALYZE)
        .env("TZ", tz)
        .env("LC_ALL", "C")
        .arg("calendar")
        .arg(format!("--base-time=@{base}"))
        .arg(format!("--iterations={iterations}"))
        .arg("--")
        .arg(expr)
        .output()
        .expect("run systemd-analyze");
    let text = String::from_utf8_lossy(&out.stdout);
    let errors = String::from_utf8_lossy(&out.stderr);
    if errors.contains("Failed to parse calendar specification") {
        return Run::Rejected;
    }
    if !out.status.success() {
        assert!(
            errors.contains("Failed to determine next elapse"),
            "unexpected systemd-analyze failure for {expr:?}: {errors}"
        );
        return Run::Failed;
    }
    let mut normalized = None;
    let mut elapses = Vec::new();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        if let Some(v) = line.strip_prefix("Normalized form: ") {
            normalized = Some(v.to_owned());
            continue;
        }
        let value = match line.split_once(": ") {
            Some((key, value)) if key == "Next elapse" || key.starts_with("Iter. #") => value,
            _ => continue,
        };
        if value == "never" {
            break;
        }
        let utc = match lines.get(i + 1).and_then(|l| l.strip_prefix("(in UTC): ")) {
            Some(u) => u,
            None => value,
        };
        match parse_utc_line(utc) {
            Some(t) => elapses.push(t),
            None => panic!("cannot read systemd-analyze output line {line:?} / {utc:?}:\n{text}"),
        }
    }
    Run::Done(Verdict {
        normalized: normalized.unwrap_or_else(|| panic!("no normalized form in:\n{text}")),
        elapses,
    })
}

/// What systemd says about an expression; `None` if it rejects it. When
/// computing an elapse fails, the elapses before it are what counts (we
/// must answer `None` there).
fn oracle(expr: &str, tz: &str, base: i64, iterations: usize) -> Option<Verdict> {
    let mut n = iterations;
    loop {
        match run(expr, tz, base, n) {
            Run::Rejected => return None,
            Run::Done(v) => return Some(v),
            Run::Failed if n > 0 => n -= 1,
            Run::Failed => panic!("systemd-analyze fails on {expr:?} without iterations"),
        }
    }
}

fn ours(spec: &CalendarSpec, tz: &TimeZone, base: i64, iterations: usize) -> Vec<Timestamp> {
    let mut out = Vec::new();
    let mut t = Timestamp::from_second(base).expect("base time");
    while out.len() < iterations {
        match spec.next_elapse_in(t, tz) {
            Some(n) => {
                assert!(n > t, "{spec}: elapse {n} is not after {t}");
                out.push(n);
                t = n;
            }
            None => break,
        }
    }
    out
}

/// Whether systemd's elapses fail to increase from `base`.
fn goes_back(base: i64, elapses: &[Timestamp]) -> bool {
    let mut last = base;
    elapses.iter().any(|t| {
        let back = t.as_second() < last;
        last = t.as_second();
        back
    })
}

/// Seconds precision, as systemd-analyze prints.
fn seconds(ts: &[Timestamp]) -> Vec<i64> {
    ts.iter().map(|t| t.as_second()).collect()
}

/// Base times: fixed ones, one derived from the expression (anywhere in
/// 2000..2100), and some around the zone's transitions: by default the next
/// two after 2024-01-01; CALENDAR_ORACLE_TRANSITIONS=<count>[,<unix seconds>]
/// takes others.
fn base_times(tz: &TimeZone, expr: &str) -> Vec<i64> {
    let mut bases = vec![1_700_000_000, 1_234_567_890, 1_735_689_599, 1_709_164_800];
    let hash = expr.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    bases.push(946_684_800 + (hash % 3_155_760_000) as i64);
    let knob = std::env::var("CALENDAR_ORACLE_TRANSITIONS").unwrap_or_default();
    let mut knob = knob.split(',').map(|v| v.trim().parse::<i64>().ok());
    let count = knob.next().flatten().unwrap_or(2) as usize;
    let since = knob.next().flatten().unwrap_or(1_704_067_200);
    let start = Timestamp::from_second(since).expect("transition search start");
    for transition in tz.following(start).take(count) {
        let t = transition.timestamp().as_second();
        bases.extend([t - 3 * 3600, t - 1200, t - 1, t + 600, t + 3000]);
    }
    bases
}

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
];

/// The zones to evaluate in: CALENDAR_ORACLE_ZONES=<zone>,<zone>... or
/// `default`.
fn zones(default: &[&str]) -> Vec<String> {
    let listed = std::env::var("CALENDAR_ORACLE_ZONES").unwrap_or_default();
    let zones: Vec<String> = listed
        .split(',')
        .filter(|z| !z.is_empty())
        .map(str::to_owned)
        .collect();
    if zones.is_empty() {
        default.iter().map(|z| z.to_string()).collect()
    } else {
        zones
    }
}

/// Whether the last word is an abbreviation of `tz` (`9:00 CET` with
/// `Europe/Berlin`): then `parse` and `parse_in` may differ.
fn ends_with_local_abbreviation(expr: &str, tz: &TimeZone) -> bool {
    let Some((_, word)) = expr.rsplit_once(' ') else {
        return false;
    };
    [1_704_067_200, 1_719_792_000].iter().any(|&t| {
        let ts = Timestamp::from_second(t).expect("timestamp");
        let info = tz.to_offset_info(ts);
        info.abbreviation().eq_ignore_ascii_case(word) && !word.eq_ignore_ascii_case("UTC")
    })
}

/// Compares everything for one expression; returns mismatches and the number
/// of (zone, base time) pairs compared.
fn compare(expr: &str, zones: &[String], iterations: usize) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let mut compared = 0;
    let plain = CalendarSpec::parse(expr);
    for zone in zones {
        let zone = zone.as_str();
        let tz = jiff::tz::db().get(zone).expect("time zone");
        // systemd-analyze runs with TZ=zone: parse as on such a machine.
        let mine = CalendarSpec::parse_in(expr, &tz);
        if mine.as_ref().ok() != plain.as_ref().ok() && !ends_with_local_abbreviation(expr, &tz) {
            problems.push(format!(
                "{expr:?}: parse and parse_in({zone}) differ: {plain:?} / {mine:?}"
            ));
        }
        for base in base_times(&tz, expr) {
            let verdict = oracle(expr, zone, base, iterations);
            match (&verdict, &mine) {
                (None, Err(_)) => {
                    compared += 1;
                    break;
                }
                (None, Ok(spec)) => {
                    problems.push(format!(
                        "{expr:?} TZ={zone}: systemd rejects it, we accept it as {spec}"
                    ));
                    break;
                }
                (Some(v), Err(e)) => {
                    problems.push(format!(
                        "{expr:?} TZ={zone}: systemd accepts it as {}, we say: {e}",
                        v.normalized
                    ));
                    break;
                }
                (Some(v), Ok(_)) if goes_back(base, &v.elapses) => {
                    // systemd answers times before the base time here (a
                    // forced DST flag inside a fold); we promise later ones.
                    if !ends_with_local_abbreviation(expr, &tz) {
                        problems.push(format!(
                            "{expr:?} TZ={zone} base=@{base}: systemd goes back: {:?}",
                            seconds(&v.elapses)
                        ));
                    }
                }
                (Some(v), Ok(spec)) => {
                    if v.normalized != spec.to_string() {
                        problems.push(format!(
                            "{expr:?}: normalized form: systemd {:?}, ours {:?}",
                            v.normalized,
                            spec.to_string()
                        ));
                    }
                    let reparsed = CalendarSpec::parse_in(&spec.to_string(), &tz);
                    if reparsed.as_ref() != Ok(spec) {
                        problems.push(format!(
                            "{expr:?}: normalized form does not round-trip: {reparsed:?}"
                        ));
                    }
                    let got = seconds(&ours(spec, &tz, base, iterations));
                    let want = seconds(&v.elapses);
                    if got != want {
                        problems.push(format!(
                            "{expr:?} TZ={zone} base=@{base}: systemd {want:?}, ours {got:?}"
                        ));
                    }
                    compared += 1;
                }
            }
        }
    }
    (problems, compared)
}

/// Runs `compare` over `exprs` on two threads; panics listing all mismatches.
fn compare_all(label: &str, exprs: &[String], zones: &[String], iterations: usize) {
    let problems = Mutex::new(Vec::new());
    let compared = Mutex::new(0usize);
    let next = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().expect("lock");
                        *n += 1;
                        *n - 1
                    };
                    let Some(expr) = exprs.get(i) else { break };
                    let (p, c) = compare(expr, zones, iterations);
                    problems.lock().expect("lock").extend(p);
                    *compared.lock().expect("lock") += c;
                }
            });
        }
    });
    let problems = problems.into_inner().expect("lock");
    let compared = compared.into_inner().expect("lock");
    println!(
        "{label}: {} expressions, {compared} (expression, zone, base time) cases compared, {} mismatches",
        exprs.len(),
        problems.len()
    );
    assert!(
        problems.is_empty(),
        "{} mismatches with systemd-analyze:\n{}",
        problems.len(),
        problems
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn corpus_expressions() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/unit-corpus");
    let mut found = BTreeSet::new();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(path) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(text) = std::fs::read_to_string(&p) {
                for line in text.lines() {
                    if let Some(v) = line.trim().strip_prefix("OnCalendar=") {
                        found.insert(v.trim().to_owned());
                    }
                }
            }
        }
    }
    if found.is_empty() {
        println!("note: no OnCalendar= values found under {dir}");
    }
    found.into_iter().collect()
}

#[test]
fn calendar_corpus_and_manual_examples_match_systemd() {
    if !analyze_available() {
        return;
    }
    let mut exprs: Vec<String> = EXPRESSIONS.iter().map(|s| s.to_string()).collect();
    for e in corpus_expressions() {
        if !exprs.contains(&e) {
            exprs.push(e);
        }
    }
    compare_all("examples", &exprs, &zones(ZONES), ITERATIONS);
}

#[test]
fn calendar_invalid_expressions_are_rejected_like_systemd() {
    if !analyze_available() {
        return;
    }
    let mut problems = Vec::new();
    for expr in INVALID {
        let verdict = oracle(expr, "UTC", 1_700_000_000, 1);
        if let Some(v) = verdict {
            problems.push(format!(
                "{expr:?}: systemd accepts it ({}), fix the list",
                v.normalized
            ));
        }
        if let Ok(spec) = CalendarSpec::parse(expr) {
            problems.push(format!("{expr:?}: we accept it as {spec}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn random_item(rng: &mut Rng, max: u64, usec: bool) -> String {
    let num = |rng: &mut Rng| {
        let v = rng.below(max + 2);
        if usec && rng.below(4) == 0 {
            format!("{v}.{}", rng.below(1000))
        } else if rng.below(3) == 0 {
            format!("{v:02}")
        } else {
            v.to_string()
        }
    };
    let mut s = num(rng);
    if rng.below(3) == 0 {
        s = format!("{s}..{}", num(rng));
    }
    if rng.below(3) == 0 {
        s = format!("{s}/{}", rng.below(max / 2 + 2));
    }
    s
}

fn random_field(rng: &mut Rng, max: u64, usec: bool) -> String {
    if rng.below(3) == 0 {
        return "*".to_owned();
    }
    let n = 1 + rng.below(3);
    (0..n)
        .map(|_| random_item(rng, max, usec))
        .collect::<Vec<_>>()
        .join(",")
}

fn random_expression(rng: &mut Rng) -> String {
    const DAYS: &[&str] = &[
        "Mon",
        "tue",
        "Wednesday",
        "Thu",
        "fri",
        "Sat",
        "sun",
        "Sunday",
    ];
    let mut parts = Vec::new();
    if rng.below(3) == 0 {
        let mut w = rng.pick(DAYS).to_owned();
        for _ in 0..rng.below(3) {
            w = format!("{w}{}{}", rng.pick(&["..", ",", "-"]), rng.pick(DAYS));
        }
        if rng.below(8) == 0 {
            w.push(',');
        }
        parts.push(w);
    }
    if rng.below(12) == 0 {
        parts.push(format!("@{}", rng.below(8_000_000_000)));
        return parts.join(" ");
    }
    match rng.below(4) {
        0 => {}
        1 => parts.push(format!(
            "{}{}{}",
            random_field(rng, 12, false),
            rng.pick(&["-", "-", "~"]),
            random_field(rng, 31, false)
        )),
        _ => {
            let year = match rng.below(4) {
                0 => "*".to_owned(),
                1 => format!("{}", 2024 + rng.below(8)),
                2 => format!("2025..{}/{}", 2026 + rng.below(6), 1 + rng.below(3)),
                _ => format!("{}", rng.below(100)),
            };
            parts.push(format!(
                "{year}-{}{}{}",
                random_field(rng, 12, false),
                rng.pick(&["-", "-", "-", "~"]),
                random_field(rng, 31, false)
            ));
        }
    }
    match rng.below(4) {
        0 => {}
        1 => parts.push(format!(
            "{}:{}",
            random_field(rng, 23, false),
            random_field(rng, 59, false)
        )),
        _ => parts.push(format!(
            "{}:{}:{}",
            random_field(rng, 23, false),
            random_field(rng, 59, false),
            random_field(rng, 59, true)
        )),
    }
    if rng.below(5) == 0 {
        parts.push(
            rng.pick(&[
                "UTC",
                "Europe/Berlin",
                "America/New_York",
                "CET",
                "CEST",
                "EDT",
                "est",
            ])
            .to_owned(),
        );
    }
    parts.join(" ")
}

#[test]
fn calendar_random_expressions_match_systemd() {
    if !analyze_available() {
        return;
    }
    // CALENDAR_ORACLE_RANDOM=<count>[,<seed>] runs a bigger sweep.
    let knob = std::env::var("CALENDAR_ORACLE_RANDOM").unwrap_or_default();
    let mut knob = knob.split(',').map(|v| v.trim().parse::<u64>().ok());
    let count = knob.next().flatten().unwrap_or(150);
    let seed = knob.next().flatten().unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut rng = Rng(seed | 1);
    let exprs: Vec<String> = (0..count).map(|_| random_expression(&mut rng)).collect();
    compare_all("random", &exprs, &zones(&["UTC", "Europe/Berlin"]), 4);
}
