//! Signal names and numbers, as systemd's `signal_from_string()`: `SIGTERM`, `TERM`, `15`,
//! and `SIGRTMIN+n` / `RTMAX-n`. Numbers are the host's (Linux numbering on Linux).

use super::ValueError;

#[cfg(not(target_os = "macos"))]
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];
#[cfg(not(target_os = "macos"))]
const RT_RANGE: Option<(i32, i32)> = Some((34, 64));

#[cfg(target_os = "macos")]
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("EMT", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("BUS", 10),
    ("SEGV", 11),
    ("SYS", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("URG", 16),
    ("STOP", 17),
    ("TSTP", 18),
    ("CONT", 19),
    ("CHLD", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("IO", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("INFO", 29),
    ("USR1", 30),
    ("USR2", 31),
];
#[cfg(target_os = "macos")]
const RT_RANGE: Option<(i32, i32)> = None;

const EXPECTED: &str = "a signal name or number, e.g. SIGTERM, TERM or 15";

/// The largest valid signal number on this host.
pub fn max_signal() -> i32 {
    RT_RANGE.map_or(31, |(_, max)| max)
}

/// Parse a signal name or number.
pub fn parse_signal(s: &str) -> Result<i32, ValueError> {
    let err = || ValueError::new(s, "a signal", EXPECTED);
    let t = s.trim();
    if let Ok(n) = t.parse::<i32>() {
        return if (1..=max_signal()).contains(&n) {
            Ok(n)
        } else {
            Err(err())
        };
    }
    let name = t.strip_prefix("SIG").unwrap_or(t);
    if let Some(&(_, n)) = SIGNALS.iter().find(|(k, _)| *k == name) {
        return Ok(n);
    }
    if let Some((min, max)) = RT_RANGE {
        let rt = |rest: &str, base: i32, sign: i32| -> Option<i32> {
            if rest.is_empty() {
                return Some(base);
            }
            let off: i32 = rest.get(1..)?.parse().ok()?;
            let ok_sign = if sign > 0 {
                rest.starts_with('+')
            } else {
                rest.starts_with('-')
            };
            let n = base + sign * off;
            (ok_sign && (min..=max).contains(&n)).then_some(n)
        };
        if let Some(rest) = name.strip_prefix("RTMIN") {
            return rt(rest, min, 1).ok_or_else(err);
        }
        if let Some(rest) = name.strip_prefix("RTMAX") {
            return rt(rest, max, -1).ok_or_else(err);
        }
    }
    Err(err())
}

/// The conventional name of a signal number (`15` -> `SIGTERM`), if it has one.
pub fn signal_name(n: i32) -> Option<&'static str> {
    const NAMES: &[&str] = &[
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGIOT",
        "SIGBUS",
        "SIGEMT",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPOLL",
        "SIGPWR",
        "SIGSYS",
        "SIGINFO",
    ];
    SIGNALS
        .iter()
        .find(|&&(_, v)| v == n)
        .and_then(|(k, _)| NAMES.iter().copied().find(|full| &full[3..] == *k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse_signal("SIGTERM"), Ok(15));
        assert_eq!(parse_signal("TERM"), Ok(15));
        assert_eq!(parse_signal("15"), Ok(15));
        assert_eq!(parse_signal("SIGKILL"), Ok(9));
        assert_eq!(signal_name(15), Some("SIGTERM"));
        #[cfg(target_os = "linux")]
        {
            assert_eq!(parse_signal("SIGRTMIN+2"), Ok(36));
            assert_eq!(parse_signal("RTMAX-1"), Ok(63));
            assert_eq!(parse_signal("SIGRTMIN"), Ok(34));
        }
    }

    #[test]
    fn failures() {
        assert_eq!(
            parse_signal("SIGFOO").unwrap_err().to_string(),
            "\"SIGFOO\" is not a signal; expected a signal name or number, e.g. SIGTERM, TERM or 15"
        );
        for bad in ["0", "65", "-1", "", "RTMIN+99", "RTMAX+1", "sigterm"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }
}
