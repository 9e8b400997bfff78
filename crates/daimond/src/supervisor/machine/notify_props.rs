//! Property tests of the sd_notify(3) message parser: whatever bytes a
//! service sends, parsing never panics, and a datagram built from known
//! assignments reads back as the last assignment of each key (the rule of
//! [`super::notify::parse`]). Bounded for CI: 4,608 cases in a few seconds
//! of a debug build.

use std::time::Duration;

use proptest::prelude::*;

use super::notify::{WatchdogMsg, monotonic_usec, parse};

/// As the socket hands them over: a datagram of at most 8 KiB, not UTF-8
/// checked (`String::from_utf8_lossy`, as `notify_socket` does).
fn datagram_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const KEYS: &[&str] = &[
    "READY",
    "RELOADING",
    "STOPPING",
    "STATUS",
    "ERRNO",
    "MAINPID",
    "EXTEND_TIMEOUT_USEC",
    "WATCHDOG",
    "WATCHDOG_USEC",
    "MONOTONIC_USEC",
    "FDSTORE",
    "BUSERROR",
    "X_CUSTOM",
    "",
];

const VALUES: &[&str] = &[
    "1",
    "0",
    "trigger",
    "-1",
    "18446744073709551616",
    "4294967295",
    "2",
    "",
    "=",
    " 5",
    "\u{1b}[2J",
    "ü",
    "99999999999999999999999999",
];

fn assignment() -> impl Strategy<Value = (usize, usize, Option<String>)> {
    (
        0..KEYS.len(),
        0..VALUES.len(),
        proptest::option::of("[ -~]{0,12}"),
    )
}

/// `len` bytes from a seed (xorshift64*), a quarter of them `=` or `\n` so
/// that lines and assignments form. Building an 8 KiB vector byte by byte
/// through proptest costs milliseconds per case in a debug build; this keeps
/// full-size datagrams cheap (shrinking then works on the seed and length).
fn seeded_bytes(mut seed: u64, len: usize) -> Vec<u8> {
    seed |= 1;
    (0..len)
        .map(|_| {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            let r = seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
            match r % 8 {
                0 => b'=',
                1 => b'\n',
                _ => (r >> 8) as u8,
            }
        })
        .collect()
}

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let text = datagram_text(bytes);
    let n = parse(&text);
    let _ = monotonic_usec(&text);
    if let Some(e) = n.errno {
        prop_assert!(e >= 0);
    }
    if let Some(p) = n.main_pid {
        prop_assert!(p > 1);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes)?;
    }

    #[test]
    fn full_size_datagrams_never_panic(seed in any::<u64>(), len in 0usize..8192) {
        check(&seeded_bytes(seed, len))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lines_of_assignments_never_panic(lines in prop::collection::vec("[A-Z_=0-9a-z\\n\\x00-\\x1f]{0,40}", 0..20)) {
        check(lines.join("\n").as_bytes())?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn the_last_assignment_of_each_key_wins(parts in prop::collection::vec(assignment(), 0..24)) {
        let lines: Vec<String> = parts
            .iter()
            .map(|(k, v, free)| format!("{}={}", KEYS[*k], free.as_deref().unwrap_or(VALUES[*v])))
            .collect();
        let text = lines.join("\n");
        let n = parse(&text);
        let last = |key: &str| {
            lines
                .iter()
                .rev()
                .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        };
        prop_assert_eq!(n.status.as_deref(), last("STATUS"));
        prop_assert_eq!(n.ready, last("READY") == Some("1"));
        prop_assert_eq!(n.stopping, last("STOPPING") == Some("1"));
        prop_assert_eq!(
            n.main_pid,
            last("MAINPID").and_then(|v| v.parse::<u32>().ok()).filter(|p| *p > 1)
        );
        prop_assert_eq!(
            n.extend_timeout,
            last("EXTEND_TIMEOUT_USEC").and_then(|v| v.parse::<u64>().ok()).map(Duration::from_micros)
        );
        if let Some(e) = n.errno {
            prop_assert!(e >= 0);
        }
        // WATCHDOG= keeps the last value it understood.
        let wd = lines
            .iter()
            .rev()
            .filter_map(|l| l.strip_prefix("WATCHDOG="))
            .find_map(|v| match v {
                "1" => Some(WatchdogMsg::Ping),
                "trigger" => Some(WatchdogMsg::Trigger),
                _ => None,
            });
        prop_assert_eq!(n.watchdog, wd);
    }
}
