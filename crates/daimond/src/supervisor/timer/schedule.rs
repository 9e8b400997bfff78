//! When a timer elapses next: a pure function of the timer's settings, what
//! happened so far, and "now" (systemd.timer(5)).
//!
//! Owns the rules only — no clock is read here: the caller passes a [`Now`]
//! taken from its [`Clock`], so tests drive hours, days and DST changes without
//! waiting. Calendar triggers (`OnCalendar=`) live on the wall clock; the
//! relative ones (`OnActiveSec=`, `OnBootSec=`, `OnStartupSec=`,
//! `OnUnitActiveSec=`, `OnUnitInactiveSec=`) on the monotonic clock, as in
//! systemd.

use std::time::{Duration, Instant};

use daimon_unit::TimerSection;
use daimon_unit::calendar::CalendarSpec;
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// One reading of both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub wall: Timestamp,
    pub mono: Instant,
}

/// Where the scheduler takes the time from; tests inject their own.
pub trait Clock {
    fn now(&self) -> Now;
}

/// The system's clocks.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Now {
        Now {
            wall: Timestamp::now(),
            mono: Instant::now(),
        }
    }
}

/// What a relative trigger counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// `OnActiveSec=`: the timer's own activation.
    Active,
    /// `OnBootSec=`: daimond's start (daimond is what boot starts for a user).
    Boot,
    /// `OnStartupSec=`: daimond's start.
    Startup,
    /// `OnUnitActiveSec=`: the activated unit's last start.
    UnitActive,
    /// `OnUnitInactiveSec=`: the activated unit's last stop.
    UnitInactive,
}

impl Base {
    pub fn directive(self) -> &'static str {
        match self {
            Base::Active => "OnActiveSec",
            Base::Boot => "OnBootSec",
            Base::Startup => "OnStartupSec",
            Base::UnitActive => "OnUnitActiveSec",
            Base::UnitInactive => "OnUnitInactiveSec",
        }
    }

    /// Counted once per activation: once the timer triggered after it, it is
    /// spent (systemd disables such a trigger until the timer restarts).
    fn is_one_shot(self) -> bool {
        matches!(self, Base::Active | Base::Boot | Base::Startup)
    }
}

/// A timer's settings, with its calendar expressions parsed.
#[derive(Debug, Clone)]
pub struct Plan {
    pub calendars: Vec<(String, CalendarSpec)>,
    pub relative: Vec<(Base, Duration)>,
    pub accuracy: Duration,
    pub randomized_delay: Duration,
    pub fixed_random_delay: bool,
    pub persistent: bool,
    pub remain_after_elapse: bool,
    /// The unit it activates.
    pub unit: String,
}

impl Plan {
    /// Compiles `[Timer]`. Expressions were validated when the file was loaded;
    /// one that still fails is skipped with its error returned beside the plan.
    pub fn new(t: &TimerSection) -> (Plan, Vec<String>) {
        let mut errors = Vec::new();
        let mut calendars = Vec::new();
        for text in &t.on_calendar {
            match CalendarSpec::parse_in(text, &TimeZone::system()) {
                Ok(spec) => calendars.push((text.clone(), spec)),
                Err(e) => errors.push(e.to_string()),
            }
        }
        let mut relative = Vec::new();
        for (base, list) in [
            (Base::Active, &t.on_active),
            (Base::Boot, &t.on_boot),
            (Base::Startup, &t.on_startup),
            (Base::UnitActive, &t.on_unit_active),
            (Base::UnitInactive, &t.on_unit_inactive),
        ] {
            relative.extend(list.iter().map(|d| (base, *d)));
        }
        let plan = Plan {
            calendars,
            relative,
            accuracy: t.accuracy,
            randomized_delay: t.randomized_delay,
            fixed_random_delay: t.fixed_random_delay,
            persistent: t.persistent,
            remain_after_elapse: t.remain_after_elapse,
            unit: t.unit.clone(),
        };
        (plan, errors)
    }

    /// The triggers as written in a unit file, for `daimon timers -o json`.
    pub fn triggers(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .calendars
            .iter()
            .map(|(text, _)| format!("OnCalendar={text}"))
            .collect();
        for (base, d) in &self.relative {
            out.push(format!("{}={}", base.directive(), span(*d)));
        }
        out
    }
}

/// What the schedule depends on besides the settings.
#[derive(Debug, Clone, Copy)]
pub struct History {
    /// When the timer was (last) started.
    pub activated: Now,
    /// When daimond started.
    pub daemon_start: Instant,
    /// The last trigger on the wall clock (remembered on disk with
    /// `Persistent=`, so a missed elapse is caught up).
    pub last_trigger_wall: Option<Timestamp>,
    /// The last trigger since the timer was started (monotonic).
    pub last_trigger_mono: Option<Instant>,
    /// The activated unit last left the inactive state (was started).
    pub unit_started: Option<Instant>,
    /// The activated unit last entered the inactive state (stopped, finished).
    pub unit_stopped: Option<Instant>,
}

/// The next elapse: on the wall clock (calendar triggers) and on the
/// monotonic clock (relative triggers). Both may be set; the earlier wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Next {
    pub wall: Option<Timestamp>,
    pub mono: Option<Instant>,
}

impl Next {
    pub fn is_none(&self) -> bool {
        self.wall.is_none() && self.mono.is_none()
    }

    /// Whether the elapse has come at `now`.
    pub fn is_due(&self, now: Now) -> bool {
        self.wall.is_some_and(|w| w <= now.wall) || self.mono.is_some_and(|m| m <= now.mono)
    }

    /// The elapse on the wall clock (a monotonic one converted through `now`).
    pub fn as_wall(&self, now: Now) -> Option<Timestamp> {
        let mono = self.mono.map(|m| mono_to_wall(m, now));
        match (self.wall, mono) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Shifted later by `d` (RandomizedDelaySec=).
    pub fn delayed(self, d: Duration) -> Next {
        let sd = jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::ZERO);
        Next {
            wall: self.wall.map(|w| w.checked_add(sd).unwrap_or(w)),
            mono: self.mono.map(|m| m.checked_add(d).unwrap_or(m)),
        }
    }
}

/// The monotonic instant `m` on the wall clock, as seen from `now`.
pub fn mono_to_wall(m: Instant, now: Now) -> Timestamp {
    let signed = if m >= now.mono {
        jiff::SignedDuration::try_from(m - now.mono).unwrap_or(jiff::SignedDuration::MAX)
    } else {
        -jiff::SignedDuration::try_from(now.mono - m).unwrap_or(jiff::SignedDuration::MAX)
    };
    now.wall.checked_add(signed).unwrap_or(now.wall)
}

/// The next elapse of `plan` (before any randomized delay), following
/// systemd's timer_enter_waiting():
/// - calendar triggers count from the last trigger if there was one (so a
///   `Persistent=` timer whose elapse passed while daimond was down elapses at
///   once), else from the timer's activation;
/// - `OnActiveSec=`/`OnBootSec=`/`OnStartupSec=` elapse once per activation;
/// - `OnUnitActiveSec=`/`OnUnitInactiveSec=` count from the unit's last start
///   or stop, or the last trigger if later, and wait for one of them first.
///
/// An empty result means nothing will ever trigger again (the timer elapsed).
pub fn next_elapse(plan: &Plan, h: &History, tz: &TimeZone) -> Next {
    let base_wall = h.last_trigger_wall.unwrap_or(h.activated.wall);
    let wall = plan
        .calendars
        .iter()
        .filter_map(|(_, spec)| spec.next_elapse_in(base_wall, tz))
        .min();
    let mono = plan
        .relative
        .iter()
        .filter_map(|&(base, d)| relative_elapse(base, d, h))
        .min();
    Next { wall, mono }
}

fn relative_elapse(base: Base, d: Duration, h: &History) -> Option<Instant> {
    let from = match base {
        Base::Active => Some(h.activated.mono),
        Base::Boot | Base::Startup => Some(h.daemon_start),
        Base::UnitActive => h.unit_started.max(h.last_trigger_mono),
        Base::UnitInactive => h.unit_stopped.max(h.last_trigger_mono),
    }?;
    let at = from.checked_add(d)?;
    if base.is_one_shot() && h.last_trigger_mono.is_some_and(|t| at <= t) {
        return None;
    }
    Some(at)
}

/// The moment to wake for `next`: as late as `AccuracySec=` allows, so timers
/// due within each other's window wake the daemon once (systemd coalesces the
/// same way). Returns the wall and the monotonic wake-up.
pub fn wake_time(next: Next, accuracy: Duration) -> Next {
    next.delayed(accuracy)
}

/// The randomized delay to add to an elapse: uniform in [0, max), or with
/// `FixedRandomDelay=` the same value for this timer on this machine.
pub fn random_delay(max: Duration, fixed: bool, timer: &str, seed: u64) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let key = if fixed {
        fnv1a(timer.as_bytes()) ^ machine_key()
    } else {
        seed ^ fnv1a(timer.as_bytes()).rotate_left(17)
    };
    let span = max.as_micros().max(1) as u64;
    Duration::from_micros(mix(key) % span)
}

/// A stable per-machine value (/etc/machine-id, else the host name).
fn machine_key() -> u64 {
    let id = std::fs::read("/etc/machine-id").unwrap_or_else(|_| {
        nix::unistd::gethostname()
            .map(|h| h.as_encoded_bytes().to_vec())
            .unwrap_or_default()
    });
    fnv1a(&id)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// splitmix64's finalizer: spreads a key over all 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A span as a unit file would write it (`1h 30min`, `5s`, `250ms`).
pub fn span(d: Duration) -> String {
    let mut us = d.as_micros();
    if us == 0 {
        return "0".into();
    }
    let mut parts = Vec::new();
    for (unit, size) in [
        ("d", 86_400_000_000u128),
        ("h", 3_600_000_000),
        ("min", 60_000_000),
        ("s", 1_000_000),
        ("ms", 1_000),
        ("us", 1),
    ] {
        if us >= size {
            parts.push(format!("{}{unit}", us / size));
            us %= size;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
