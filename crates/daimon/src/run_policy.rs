//! `daimon run`'s restart policy: what `--restart`, `--restart-sec` and
//! `--start-limit` become in the unit text.
//!
//! Owns the one place where `daimon run` departs from systemd's defaults, and
//! only for `--restart always`: a user who says "always" (pm2's meaning) expects
//! the program to come back forever, not to stop for good after five fast crashes
//! (systemd's default start limit, `StartLimitIntervalSec=10s`/`StartLimitBurst=5`,
//! systemd.unit(5)). So `always` is written as a growing delay instead:
//! `RestartSec=100ms`, `RestartSteps=8`, `RestartMaxDelaySec=30s`
//! (systemd.service(5), systemd 254+: the delay grows exponentially from
//! RestartSec to RestartMaxDelaySec over RestartSteps restarts, here about
//! doubling each time) and `StartLimitIntervalSec=0` (no start limit). Every
//! other policy keeps systemd's defaults. Unit files written by hand are never
//! touched: the daemon reads these lines like any others.

use std::fmt::Write as _;
use std::time::Duration;

use daimon_unit::TimeSpan;
use daimon_unit::value::timespan::parse_timespan;

use crate::cli::RestartPolicy;
use crate::error::{CliError, CliResult};

/// The first delay of `--restart always` (systemd's default RestartSec= too).
pub const ALWAYS_FIRST_DELAY: &str = "100ms";
/// The longest delay of `--restart always`.
pub const ALWAYS_MAX_DELAY: &str = "30s";
const ALWAYS_MAX: Duration = Duration::from_secs(30);
/// 100 ms * (300 ^ (1/8)) per step: a factor of about 2.04, so "doubling".
pub const ALWAYS_STEPS: u32 = 8;

/// `--start-limit`: `off`, or at most `burst` starts within `interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLimit {
    Off,
    Limit { burst: u32, interval: String },
}

/// Parses `--start-limit N/SPAN` (e.g. `5/10s`) or `off`; the error names the
/// argument and shows the expected form.
pub fn parse_start_limit(s: &str) -> CliResult<StartLimit> {
    let bad = |why: &str| {
        CliError::fail(format!(
            "invalid --start-limit \"{s}\": {why}; expected N/SPAN (e.g. 5/10s: at most 5 starts in 10 seconds) or off"
        ))
    };
    let t = s.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(StartLimit::Off);
    }
    let Some((n, span)) = t.split_once('/') else {
        return Err(bad("no \"/\""));
    };
    let burst: u32 = n
        .trim()
        .parse()
        .map_err(|_| bad(&format!("\"{}\" is not a whole number", n.trim())))?;
    if burst == 0 {
        return Err(bad("the number of starts must be at least 1"));
    }
    let span = span.trim();
    match parse_timespan(span) {
        Ok(TimeSpan::Finite(d)) if !d.is_zero() => {}
        Ok(_) => return Err(bad("the span must be finite and more than 0")),
        Err(e) => return Err(bad(&e.to_string())),
    }
    Ok(StartLimit::Limit {
        burst,
        interval: span.to_string(),
    })
}

/// The restart lines of a `daimon run` unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPlan {
    pub restart: RestartPolicy,
    pub restart_sec: Option<String>,
    /// RestartSteps= and RestartMaxDelaySec=.
    pub backoff: Option<(u32, &'static str)>,
    pub start_limit: Option<StartLimit>,
}

impl RestartPlan {
    /// systemd's defaults for `restart`, except for `always` (see the module
    /// comment). `restart_sec` was validated by the caller.
    pub fn new(
        restart: RestartPolicy,
        restart_sec: Option<&str>,
        start_limit: Option<StartLimit>,
    ) -> RestartPlan {
        if restart != RestartPolicy::Always {
            return RestartPlan {
                restart,
                restart_sec: restart_sec.map(str::to_string),
                backoff: None,
                start_limit,
            };
        }
        // A first delay of 30s or more leaves nothing to grow: systemd would use
        // RestartSec= alone (and warn when RestartMaxDelaySec= is smaller).
        let grows = restart_sec
            .and_then(|s| parse_timespan(s).ok())
            .is_none_or(|t| t.as_duration().is_some_and(|d| d < ALWAYS_MAX));
        RestartPlan {
            restart,
            restart_sec: Some(restart_sec.unwrap_or(ALWAYS_FIRST_DELAY).to_string()),
            backoff: grows.then_some((ALWAYS_STEPS, ALWAYS_MAX_DELAY)),
            start_limit: Some(start_limit.unwrap_or(StartLimit::Off)),
        }
    }

    /// Lines for `[Unit]` (the start limit is a unit setting in systemd).
    pub fn unit_lines(&self) -> String {
        match &self.start_limit {
            None => String::new(),
            Some(StartLimit::Off) => "StartLimitIntervalSec=0\n".to_string(),
            Some(StartLimit::Limit { burst, interval }) => format!(
                "StartLimitIntervalSec={}\nStartLimitBurst={burst}\n",
                crate::run::plain_value(interval)
            ),
        }
    }

    /// Lines for `[Service]`.
    pub fn service_lines(&self) -> String {
        let mut text = format!("Restart={}\n", self.restart.as_str());
        if let Some(s) = &self.restart_sec {
            let _ = writeln!(text, "RestartSec={}", crate::run::plain_value(s));
        }
        if let Some((steps, max)) = self.backoff {
            let _ = writeln!(text, "RestartSteps={steps}\nRestartMaxDelaySec={max}");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_limit_forms() {
        assert_eq!(parse_start_limit("off").ok(), Some(StartLimit::Off));
        assert_eq!(
            parse_start_limit("5/10s").ok(),
            Some(StartLimit::Limit {
                burst: 5,
                interval: "10s".into()
            })
        );
        assert_eq!(
            parse_start_limit("3/2min").ok(),
            Some(StartLimit::Limit {
                burst: 3,
                interval: "2min".into()
            })
        );
        for (bad, why) in [
            ("5", "no \"/\""),
            ("x/10s", "\"x\" is not a whole number"),
            ("0/10s", "at least 1"),
            ("5/0", "more than 0"),
            ("5/infinity", "more than 0"),
            ("5/soon", "\"soon\""),
        ] {
            let e = parse_start_limit(bad).expect_err(bad);
            assert!(
                e.message
                    .starts_with(&format!("invalid --start-limit \"{bad}\": ")),
                "{}",
                e.message
            );
            assert!(e.message.contains(why), "{bad}: {}", e.message);
            assert!(e.message.ends_with("or off"), "{}", e.message);
            assert_eq!(e.code, 1);
        }
    }

    #[test]
    fn always_backs_off_without_a_start_limit() {
        let p = RestartPlan::new(RestartPolicy::Always, None, None);
        assert_eq!(p.unit_lines(), "StartLimitIntervalSec=0\n");
        assert_eq!(
            p.service_lines(),
            "Restart=always\nRestartSec=100ms\nRestartSteps=8\nRestartMaxDelaySec=30s\n"
        );
        // A limit the user asked for is kept.
        let p = RestartPlan::new(
            RestartPolicy::Always,
            Some("1"),
            Some(StartLimit::Limit {
                burst: 5,
                interval: "10s".into(),
            }),
        );
        assert_eq!(
            p.unit_lines(),
            "StartLimitIntervalSec=10s\nStartLimitBurst=5\n"
        );
        assert_eq!(
            p.service_lines(),
            "Restart=always\nRestartSec=1\nRestartSteps=8\nRestartMaxDelaySec=30s\n"
        );
        // Nothing to grow towards.
        let p = RestartPlan::new(RestartPolicy::Always, Some("1min"), None);
        assert_eq!(p.service_lines(), "Restart=always\nRestartSec=1min\n");
    }

    #[test]
    fn other_policies_keep_systemds_defaults() {
        let p = RestartPlan::new(RestartPolicy::OnFailure, None, None);
        assert_eq!(p.unit_lines(), "");
        assert_eq!(p.service_lines(), "Restart=on-failure\n");
        let p = RestartPlan::new(RestartPolicy::OnFailure, Some("2"), Some(StartLimit::Off));
        assert_eq!(p.unit_lines(), "StartLimitIntervalSec=0\n");
        assert_eq!(p.service_lines(), "Restart=on-failure\nRestartSec=2\n");
    }

    /// The lines mean to the unit-file parser what they say, without a warning.
    #[test]
    fn always_parses_to_the_backoff_and_no_start_limit() {
        let text = crate::run::service_text(&crate::run::ServiceDraft {
            description: "bot".into(),
            exec: vec!["/bin/true".into()],
            workdir: "/".into(),
            env: vec![],
            user: None,
            restart: RestartPlan::new(RestartPolicy::Always, None, None),
            scheduled: false,
        });
        let spec = daimon_unit::SpecifierContext::example();
        let path = std::path::Path::new("/units/bot.service");
        let loaded = daimon_unit::parse_unit("bot.service", path, text.as_bytes(), &[], &spec);
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let unit = loaded.unit.expect("unit");
        assert_eq!(unit.unit.start_limit_interval, Duration::ZERO);
        let daimon_unit::UnitBody::Service(svc) = &unit.body else {
            panic!("a service");
        };
        assert_eq!(svc.restart, daimon_unit::RestartPolicy::Always);
        assert_eq!(svc.restart_sec, Duration::from_millis(100));
        assert_eq!(svc.restart_steps, ALWAYS_STEPS);
        assert_eq!(svc.restart_max_delay, TimeSpan::from_secs(30));
    }
}
