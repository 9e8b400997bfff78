//! The `[Timer]` section.

use std::time::Duration;

/// `[Timer]`, per systemd.timer(5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerSection {
    /// `OnCalendar=` expressions, validated with `calendar::CalendarSpec::parse`.
    pub on_calendar: Vec<String>,
    pub on_active: Vec<Duration>,
    pub on_boot: Vec<Duration>,
    pub on_startup: Vec<Duration>,
    pub on_unit_active: Vec<Duration>,
    pub on_unit_inactive: Vec<Duration>,
    pub persistent: bool,
    pub randomized_delay: Duration,
    pub fixed_random_delay: bool,
    /// Default 1min.
    pub accuracy: Duration,
    /// The unit to activate; defaults to the timer's name with `.service`.
    pub unit: String,
    /// Parsed; not supported (warned).
    pub wake_system: bool,
    pub remain_after_elapse: bool,
    pub on_clock_change: bool,
    pub on_timezone_change: bool,
}

impl TimerSection {
    /// systemd's defaults, activating `default_unit`.
    pub fn new(default_unit: String) -> Self {
        TimerSection {
            on_calendar: Vec::new(),
            on_active: Vec::new(),
            on_boot: Vec::new(),
            on_startup: Vec::new(),
            on_unit_active: Vec::new(),
            on_unit_inactive: Vec::new(),
            persistent: false,
            randomized_delay: Duration::ZERO,
            fixed_random_delay: false,
            accuracy: Duration::from_secs(60),
            unit: default_unit,
            wake_system: false,
            remain_after_elapse: true,
            on_clock_change: false,
            on_timezone_change: false,
        }
    }

    /// Whether any trigger is configured.
    pub fn has_triggers(&self) -> bool {
        !(self.on_calendar.is_empty()
            && self.on_active.is_empty()
            && self.on_boot.is_empty()
            && self.on_startup.is_empty()
            && self.on_unit_active.is_empty()
            && self.on_unit_inactive.is_empty())
    }
}
