//! `daimon daemon-reexec`, and telling the user when it is due.
//!
//! Owns asking daimond to replace itself with the binary on disk and waiting
//! (bounded) until the new image answers, and the note printed when the
//! running daimond is older than this CLI (after an upgrade).

use std::time::{Duration, Instant};

use daimon_proto::{Paths, Request, Response};

use crate::client::{Client, QUICK, unexpected};
use crate::error::{CliError, CliResult};

/// How long the new image may take to answer.
const BACK_DEADLINE: Duration = Duration::from_secs(15);

pub fn run(paths: &Paths) -> CliResult {
    let Some(client) = Client::connect(paths, false)? else {
        println!("daimond is not running; the next daimon command starts the binary on disk.");
        return Ok(0);
    };
    let mut client = client;
    client.send(&Request::DaemonReexec, Some(QUICK))?;
    let (pid, old) = (client.daemon_pid, client.daemon_version.clone());
    match client.next()? {
        Response::Done => {}
        other => return Err(unexpected(other)),
    }
    drop(client);
    let start = Instant::now();
    loop {
        // Not `connect(.., true)`: a daimond started now would fail on the lock
        // the re-executed one holds, and say so less clearly than this loop.
        if let Some(c) = Client::connect(paths, false)? {
            let mut c = c;
            if c.send(&Request::Timers, Some(QUICK)).is_ok() && c.next().is_ok() {
                if c.daemon_pid != pid {
                    return Err(CliError::fail(format!(
                        "daimond (PID {pid}) was replaced by another daimond (PID {}); its services are re-adopted",
                        c.daemon_pid
                    )));
                }
                println!(
                    "daimond (PID {pid}) re-executed: version {} (was {}); every service kept running.",
                    c.daemon_version,
                    if old.is_empty() { "unknown" } else { &old }
                );
                return Ok(0);
            }
        }
        if start.elapsed() > BACK_DEADLINE {
            return Err(CliError::fail(format!(
                "daimond (PID {pid}) did not answer within {}s of its re-exec; its services keep running, and \"daimon status\" starts a daimond that re-adopts them",
                BACK_DEADLINE.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether version `a` is older than `b` (dotted numbers; a missing version
/// is older than any).
fn older(a: &str, b: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> {
        v.split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty())
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    parse(a) < parse(b)
}

/// On stderr, once per command: the running daimond predates this daimon.
pub fn note_if_older(daemon_version: &str) {
    let mine = env!("CARGO_PKG_VERSION");
    if older(daemon_version, mine) {
        let theirs = if daemon_version.is_empty() {
            "an older version".to_string()
        } else {
            format!("version {daemon_version}")
        };
        eprintln!(
            "daimon: note: the running daimond is {theirs}, older than this daimon ({mine}); run \"daimon daemon-reexec\" to replace it without stopping any service"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_their_numbers() {
        assert!(older("0.1.0", "0.2.0"));
        assert!(older("0.9.9", "0.10.0"));
        assert!(older("", "0.1.0"));
        assert!(!older("0.1.0", "0.1.0"));
        assert!(!older("1.0.0", "0.9.0"));
    }
}
