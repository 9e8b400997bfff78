use super::*;
use proptest::prelude::*;

fn at(s: &str) -> Timestamp {
    s.parse().expect("timestamp literal")
}

fn zone(name: &str) -> TimeZone {
    jiff::tz::db().get(name).expect("time zone in the database")
}

fn elapses(expr: &str, tz: &str, after: &str, n: usize) -> Vec<String> {
    let spec = CalendarSpec::parse(expr).expect("valid expression");
    let tz = zone(tz);
    let mut t = at(after);
    let mut out = Vec::new();
    for _ in 0..n {
        match spec.next_elapse_in(t, &tz) {
            Some(next) => {
                out.push(next.to_string());
                t = next;
            }
            None => break,
        }
    }
    out
}

/// Value, column, reason. The message is always
/// `"<value>" is not a calendar event: <reason>; expected e.g. ...`.
const ERRORS: &[(&str, usize, &str)] = &[
    ("", 0, "empty value"),
    (" ", 0, "expected a number or \"*\", found \" \""),
    ("Mon..Fry 09:00", 5, "unknown weekday \"Fry\""),
    ("Fry", 0, "unknown weekday or keyword \"Fry\""),
    ("Mond", 0, "unknown weekday \"Mond\""),
    (
        "today",
        0,
        "\"today\" is a timestamp, not a recurring event",
    ),
    ("Fri..Mon", 0, "weekday range \"Fri..Mon\" goes backwards"),
    ("Mon..", 0, "weekday range \"Mon..\" has no end"),
    (
        "Mon.Tue",
        3,
        "expected \"..\" in a weekday range, found \".\"",
    ),
    ("Mon,,Tue", 4, "expected a weekday, found \",\""),
    (
        "Mon..Wed..Fri",
        8,
        "a weekday range cannot continue another",
    ),
    ("Mon\t12:00", 3, "unexpected \"\\t\" after weekday \"Mon\""),
    ("25:00", 0, "hour 25 is out of range 0..23"),
    ("*-13-01", 2, "month 13 is out of range 1..12"),
    ("*-01-32", 5, "day 32 is out of range 1..31"),
    ("*:60", 2, "minute 60 is out of range 0..59"),
    (
        "00:00:59.9999995",
        6,
        "second 60 is out of range 0..59.999999",
    ),
    ("2200-01-01", 0, "year 2200 is out of range 1970..2199"),
    ("*-02~30", 5, "day ~30 is out of range ~1..~28"),
    ("*~6,26", 4, "day ~26 is out of range ~1..~25"),
    ("*:0/0", 4, "repetition \"/0\" must be greater than zero"),
    ("0/24:00", 0, "repetition /24 is too large for the hour"),
    ("*:59/1", 2, "minute 59/1 repeats beyond 59"),
    ("10..5:00", 0, "hour range 10..5 goes backwards"),
    (
        "*:*:10..10",
        4,
        "seconds range \"10..10\" is shorter than one second",
    ),
    (
        "*/2",
        1,
        "expected \"-\" or \"~\" (date) or \":\" (time), found \"/\"",
    ),
    (
        "*:*/2",
        3,
        "expected \":\" or end of value after the minute, found \"/\"",
    ),
    (
        "*-*-* 12",
        8,
        "expected \":\" after the hour, found end of value",
    ),
    ("1:2:3:4", 5, "expected end of value, found \":\""),
    ("5-3-1-2", 5, "expected a space after the date, found \"-\""),
    ("*-~2", 2, "expected a number or \"*\", found \"~\""),
    (
        "00:00:23.",
        9,
        "expected digits after the decimal point, found end of value",
    ),
    (
        "12:00:00.1.2",
        10,
        "expected \",\", \"..\", \"/\" or a separator, found \".\"",
    ),
    ("99999999999:00", 0, "number \"99999999999\" is too large"),
    (
        "@",
        1,
        "expected seconds since the epoch after \"@\", found end of value",
    ),
    ("@9999999999999", 0, "timestamp is too large"),
    (" UTC", 0, "time zone \"UTC\" without a date or time"),
    ("daily Z", 6, "unknown time zone \"Z\""),
    ("daily ", 6, "unexpected space at the end"),
    (
        "12:00 europe/berlin",
        6,
        "unknown time zone \"europe/berlin\" (time zone names are case-sensitive: \"Europe/Berlin\")",
    ),
];

#[test]
fn error_messages() {
    for &(value, column, reason) in ERRORS {
        let err = CalendarSpec::parse(value).expect_err(value);
        assert_eq!(err.reason(), reason, "reason for {value:?}");
        assert_eq!(err.column(), column, "column for {value:?}");
        assert_eq!(err.input(), value);
        assert_eq!(
            err.to_string(),
            format!("\"{value}\" is not a calendar event: {reason}; {EXPECTED}")
        );
    }
}

#[test]
fn error_display_example() {
    let err = CalendarSpec::parse("Mon..Fry 09:00").expect_err("invalid");
    assert_eq!(
        err.to_string(),
        "\"Mon..Fry 09:00\" is not a calendar event: unknown weekday \"Fry\"; \
         expected e.g. daily, Mon..Fri 09:00, *-*-* 02:30:00, *:0/15"
    );
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert!(boxed.to_string().contains("Fry"));
}

/// Normalized forms as printed by `systemd-analyze calendar` (252).
const NORMALIZED: &[(&str, &str)] = &[
    ("daily", "*-*-* 00:00:00"),
    ("DAILY utc", "*-*-* 00:00:00 UTC"),
    ("minutely", "*-*-* *:*:00"),
    ("hourly", "*-*-* *:00:00"),
    ("weekly", "Mon *-*-* 00:00:00"),
    ("monthly", "*-*-01 00:00:00"),
    ("yearly", "*-01-01 00:00:00"),
    ("anually", "*-01-01 00:00:00"),
    ("quarterly", "*-01,04,07,10-01 00:00:00"),
    ("semi-annually", "*-01,07-01 00:00:00"),
    (
        "Sat,Thu,Mon..Wed,Sat..Sun",
        "Mon..Thu,Sat,Sun *-*-* 00:00:00",
    ),
    ("Mon,Tue,Wed,Fri,Sat", "Mon..Wed,Fri,Sat *-*-* 00:00:00"),
    ("Mon..Sun", "*-*-* 00:00:00"),
    ("Monday-Wednesday", "Mon..Wed *-*-* 00:00:00"),
    ("Mon,", "Mon *-*-* 00:00:00"),
    ("Mon,Sun 12-*-* 2,1:23", "Mon,Sun 2012-*-* 01,02:23:00"),
    ("Wed *-1", "Wed *-*-01 00:00:00"),
    ("Wed..Wed,Wed *-1", "Wed *-*-01 00:00:00"),
    ("Wed, 17:48", "Wed *-*-* 17:48:00"),
    (
        "Wed..Sat,Tue 12-10-15 1:2:3",
        "Tue..Sat 2012-10-15 01:02:03",
    ),
    ("12,14,13,12:20,10,30", "*-*-* 12,13,14:10,20,30:00"),
    ("12..14:10,20,30", "*-*-* 12..14:10,20,30:00"),
    ("mon,fri *-1/2-1,3 *:30:45", "Mon,Fri *-01/2-01,03 *:30:45"),
    (
        "05:40:23.4200004/3.1700005",
        "*-*-* 05:40:23.420000/3.170001",
    ),
    ("00:00:23.9999995", "*-*-* 00:00:24"),
    ("2003-02..04-05", "2003-02..04-05 00:00:00"),
    ("2003-03-05 05:40 UTC", "2003-03-05 05:40:00 UTC"),
    ("*:2/3", "*-*-* *:02/3:00"),
    ("*-02~03", "*-02~03 00:00:00"),
    ("Mon *-05~07/1", "Mon *-05~07/1 00:00:00"),
    ("*-*~1..7", "*-*~01..07 00:00:00"),
    ("*~2", "*-*~02 00:00:00"),
    ("*:*:0/1,5", "*-*-* *:*:*"),
    ("*:*:1.5..3", "*-*-* *:*:01.500000..02.500000"),
    ("*:*:0/0.5", "*-*-* *:*:00/0.500000"),
    ("*:10..10", "*-*-* *:10:00"),
    ("*-*-* *:05..06/3", "*-*-* *:05:00"),
    ("69-01-01", "2069-01-01 00:00:00"),
    ("70-01-01", "1970-01-01 00:00:00"),
    ("*-*-*  12:00", "*-*-* 12:00:00"),
    ("*-*-* ", "*-*-* 00:00:00"),
    ("@1700000000", "2023-11-14 22:13:20 UTC"),
    ("@1700000000 Europe/Berlin", "2023-11-14 22:13:20 UTC"),
    (
        "*-*-* 02:30:00 Europe/Berlin",
        "*-*-* 02:30:00 Europe/Berlin",
    ),
    ("daily Etc/UTC", "*-*-* 00:00:00 Etc/UTC"),
];

#[test]
fn normalized_forms() {
    for &(value, normalized) in NORMALIZED {
        let spec = CalendarSpec::parse(value).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.to_string(), normalized, "normalized form of {value:?}");
        assert_eq!(
            CalendarSpec::parse(normalized).as_ref(),
            Ok(&spec),
            "{value:?}"
        );
    }
}

#[test]
fn time_zone_name() {
    let name = |v: &str| CalendarSpec::parse(v).map(|s| s.time_zone_name().map(str::to_owned));
    assert_eq!(name("daily"), Ok(None));
    assert_eq!(name("daily UTC"), Ok(Some("UTC".to_owned())));
    assert_eq!(
        name("9:00 America/New_York"),
        Ok(Some("America/New_York".to_owned()))
    );
}

#[test]
fn local_zone_abbreviations() {
    let berlin = zone("Europe/Berlin");
    let err = CalendarSpec::parse("9:00 CEST").expect_err("not a database name");
    assert_eq!(err.reason(), "unknown time zone \"CEST\"");
    let cet = CalendarSpec::parse_in("9:00 cet", &berlin).expect("local abbreviation");
    assert_eq!(cet.to_string(), "*-*-* 09:00:00 CET");
    assert_eq!(cet.time_zone_name(), Some("CET"));
    assert_eq!(
        CalendarSpec::parse_in(&cet.to_string(), &berlin),
        Ok(cet.clone())
    );
    assert_ne!(CalendarSpec::parse("9:00 cet").ok(), Some(cet.clone()));
    assert_eq!(
        cet.next_elapse_in(at("2024-01-10T00:00:00Z"), &berlin),
        Some(at("2024-01-10T08:00:00Z"))
    );
    let cest = CalendarSpec::parse_in("9:00 CEST", &berlin).expect("local abbreviation");
    assert_eq!(
        cest.next_elapse_in(at("2024-06-01T00:00:00Z"), &berlin),
        Some(at("2024-06-01T07:00:00Z"))
    );
    // Summer time forced in winter: systemd's search gives up.
    assert_eq!(
        cest.next_elapse_in(at("2024-01-10T00:00:00Z"), &berlin),
        None
    );
    // Elsewhere these are plain database names, or nothing.
    let utc = TimeZone::UTC;
    assert_eq!(
        CalendarSpec::parse_in("9:00 CET", &utc),
        CalendarSpec::parse("9:00 CET")
    );
    assert!(CalendarSpec::parse_in("9:00 CEST", &utc).is_err());
}

#[test]
fn plain_elapses() {
    assert_eq!(
        elapses("Mon..Fri 09:00", "UTC", "2024-05-31T10:00:00Z", 3),
        [
            "2024-06-03T09:00:00Z",
            "2024-06-04T09:00:00Z",
            "2024-06-05T09:00:00Z"
        ]
    );
    assert_eq!(
        elapses("*:0/15", "UTC", "2024-05-31T10:00:00Z", 2),
        ["2024-05-31T10:15:00Z", "2024-05-31T10:30:00Z"]
    );
    assert_eq!(
        elapses("*-02-29 12:00", "UTC", "2024-03-01T00:00:00Z", 1),
        ["2028-02-29T12:00:00Z"]
    );
    assert_eq!(
        elapses("Mon *-05~07/1", "UTC", "2024-01-01T00:00:00Z", 2),
        ["2024-05-27T00:00:00Z", "2025-05-26T00:00:00Z"]
    );
    assert_eq!(
        elapses("*:*:0/0.5", "UTC", "2024-01-01T00:00:00Z", 2),
        ["2024-01-01T00:00:00.5Z", "2024-01-01T00:00:01Z"]
    );
    // A zone in the expression wins over the local one.
    assert_eq!(
        elapses(
            "9:00 America/New_York",
            "Europe/Berlin",
            "2024-06-01T00:00:00Z",
            1
        ),
        ["2024-06-01T13:00:00Z"]
    );
    assert_eq!(
        elapses("9:00 UTC", "Europe/Berlin", "2024-06-01T00:00:00Z", 1),
        ["2024-06-01T09:00:00Z"]
    );
}

#[test]
fn never_elapsing() {
    assert!(elapses("*-02-30", "UTC", "2024-01-01T00:00:00Z", 1).is_empty());
    assert!(elapses("2003-03-05", "UTC", "2024-01-01T00:00:00Z", 1).is_empty());
    assert!(elapses("@1700000000", "UTC", "2023-11-14T22:13:20Z", 1).is_empty());
    assert_eq!(
        elapses("@1700000000", "UTC", "2023-11-14T22:13:19Z", 2),
        ["2023-11-14T22:13:20Z"]
    );
    assert_eq!(
        elapses("2199-12-31 23:59:59", "UTC", "2024-01-01T00:00:00Z", 2),
        ["2199-12-31T23:59:59Z"]
    );
    let spec = CalendarSpec::parse("*:*:*").expect("valid");
    for t in [Timestamp::MIN, Timestamp::MAX, at("2200-01-01T00:00:00Z")] {
        let next = spec.next_elapse_in(t, &TimeZone::UTC);
        assert!(next.is_none_or(|n| n > t), "{t}: {next:?}");
    }
}

#[test]
fn skipped_local_times_do_not_elapse() {
    // 2024-03-31 in Berlin has no 02:00..02:59.
    assert_eq!(
        elapses("*-*-* 02:30:00", "Europe/Berlin", "2024-03-30T12:00:00Z", 2),
        ["2024-04-01T00:30:00Z", "2024-04-02T00:30:00Z"]
    );
    assert_eq!(
        elapses("*:0/15", "Europe/Berlin", "2024-03-31T00:40:00Z", 3),
        [
            "2024-03-31T00:45:00Z",
            "2024-03-31T01:00:00Z",
            "2024-03-31T01:15:00Z"
        ]
    );
    // Lord Howe skips only half an hour (02:00..02:29).
    assert_eq!(
        elapses("*:0/15", "Australia/Lord_Howe", "2024-10-05T15:00:00Z", 3),
        [
            "2024-10-05T15:15:00Z",
            "2024-10-05T15:30:00Z",
            "2024-10-05T15:45:00Z"
        ]
    );
}

#[test]
fn repeated_local_times_elapse_once() {
    // 2024-10-27 in Berlin has 02:00..02:59 twice: only the first counts.
    assert_eq!(
        elapses("*-*-* 02:30:00", "Europe/Berlin", "2024-10-26T12:00:00Z", 2),
        ["2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"]
    );
    assert_eq!(
        elapses("*:0/30", "Europe/Berlin", "2024-10-26T23:50:00Z", 4),
        [
            "2024-10-27T00:00:00Z",
            "2024-10-27T00:30:00Z",
            "2024-10-27T02:00:00Z",
            "2024-10-27T02:30:00Z"
        ]
    );
    assert_eq!(
        elapses("hourly", "America/New_York", "2024-11-03T04:30:00Z", 3),
        [
            "2024-11-03T05:00:00Z",
            "2024-11-03T07:00:00Z",
            "2024-11-03T08:00:00Z"
        ]
    );
}

#[test]
fn gives_up_where_systemd_does() {
    // systemd's search loops around the Berlin spring-forward night for
    // this one and gives up (1000 steps); so do we.
    let spec = CalendarSpec::parse("10/12:04..52").expect("valid");
    let berlin = zone("Europe/Berlin");
    assert_eq!(
        spec.next_elapse_in(at("2024-03-30T22:00:00Z"), &berlin),
        None
    );
    assert_eq!(
        spec.next_elapse_in(at("2024-03-29T22:00:00Z"), &berlin),
        Some(at("2024-03-30T09:04:00Z"))
    );
}

fn field(max: u32, usec: bool) -> impl Strategy<Value = String> {
    let number = (0..=max + 1, proptest::bool::ANY, 0..1000u32).prop_map(move |(v, frac, f)| {
        if usec && frac {
            format!("{v}.{f:03}")
        } else {
            v.to_string()
        }
    });
    let item = (
        number.clone(),
        proptest::option::of(number),
        proptest::option::of(1..=max / 2 + 1),
    )
        .prop_map(|(a, b, r)| {
            let mut s = a;
            if let Some(b) = b {
                s = format!("{s}..{b}");
            }
            if let Some(r) = r {
                s = format!("{s}/{r}");
            }
            s
        });
    prop_oneof![
        1 => Just("*".to_owned()),
        3 => proptest::collection::vec(item, 1..4).prop_map(|v| v.join(",")),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    let weekdays = proptest::option::of(proptest::sample::select(vec![
        "Mon",
        "tue",
        "Wed..Fri",
        "Sat,Sun",
        "Monday-Wednesday",
        "Fri,",
    ]));
    let date = proptest::option::of((
        field(2199, false),
        field(12, false),
        "[-~]",
        field(31, false),
    ));
    let time = proptest::option::of((
        field(23, false),
        field(59, false),
        proptest::option::of(field(59, true)),
    ));
    let tz = proptest::option::of(proptest::sample::select(vec![
        "UTC",
        "Europe/Berlin",
        "Asia/Kolkata",
        "CET",
        "CEST",
        "cest",
    ]));
    (weekdays, date, time, tz).prop_map(|(w, d, t, z)| {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(w.map(str::to_owned));
        if let Some((y, m, sep, d)) = d {
            parts.push(format!("{y}-{m}{sep}{d}"));
        }
        if let Some((h, m, s)) = t {
            parts.push(match s {
                Some(s) => format!("{h}:{m}:{s}"),
                None => format!("{h}:{m}"),
            });
        }
        parts.extend(z.map(str::to_owned));
        parts.join(" ")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        if let Ok(spec) = CalendarSpec::parse(&s) {
            let _ = spec.next_elapse_in(Timestamp::UNIX_EPOCH, &TimeZone::UTC);
        }
        let _ = CalendarSpec::parse_in(&s, &zone("Europe/Berlin"));
    }

    #[test]
    fn calendar_like_strings_never_panic(s in "[0-9*,./~:@ a-zA-Z-]{0,24}") {
        if let Ok(spec) = CalendarSpec::parse(&s) {
            let _ = spec.to_string();
        }
    }

    #[test]
    fn normalized_form_round_trips(s in expression(), secs in 0i64..7_000_000_000) {
        if let Ok(spec) = CalendarSpec::parse(&s) {
            let shown = spec.to_string();
            let again = CalendarSpec::parse(&shown);
            prop_assert_eq!(again.as_ref(), Ok(&spec), "{} -> {}", s, shown);
            let after = Timestamp::from_second(secs).expect("in range");
            let tz = zone("America/New_York");
            if let Some(next) = spec.next_elapse_in(after, &tz) {
                prop_assert!(next > after, "{} after {}: {}", s, after, next);
            }
        }
        let berlin = zone("Europe/Berlin");
        if let Ok(spec) = CalendarSpec::parse_in(&s, &berlin) {
            let shown = spec.to_string();
            let again = CalendarSpec::parse_in(&shown, &berlin);
            prop_assert_eq!(again.as_ref(), Ok(&spec), "{} -> {}", s, shown);
            let after = Timestamp::from_second(secs).expect("in range");
            if let Some(next) = spec.next_elapse_in(after, &berlin) {
                prop_assert!(next > after, "{} after {}: {}", s, after, next);
            }
        }
    }
}
