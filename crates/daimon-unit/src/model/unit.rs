//! The `[Unit]` and `[Install]` sections, common to every kind.

use super::Condition;
use std::time::Duration;

/// `[Unit]`, per systemd.unit(5).
#[derive(Debug, Clone, PartialEq)]
pub struct UnitSection {
    pub description: Option<String>,
    pub documentation: Vec<String>,
    pub after: Vec<String>,
    pub before: Vec<String>,
    pub requires: Vec<String>,
    pub requisite: Vec<String>,
    pub wants: Vec<String>,
    pub binds_to: Vec<String>,
    pub part_of: Vec<String>,
    pub upholds: Vec<String>,
    pub conflicts: Vec<String>,
    pub on_failure: Vec<String>,
    pub on_success: Vec<String>,
    pub conditions: Vec<Condition>,
    pub asserts: Vec<Condition>,
    /// Default 10s (DefaultStartLimitIntervalSec=); zero disables rate limiting;
    /// `infinity` is stored as `Duration::MAX`.
    pub start_limit_interval: Duration,
    /// Default 5 (DefaultStartLimitBurst=).
    pub start_limit_burst: u32,
    pub default_dependencies: bool,
    pub refuse_manual_start: bool,
    pub refuse_manual_stop: bool,
    pub stop_when_unneeded: bool,
}

impl Default for UnitSection {
    fn default() -> Self {
        UnitSection {
            description: None,
            documentation: Vec::new(),
            after: Vec::new(),
            before: Vec::new(),
            requires: Vec::new(),
            requisite: Vec::new(),
            wants: Vec::new(),
            binds_to: Vec::new(),
            part_of: Vec::new(),
            upholds: Vec::new(),
            conflicts: Vec::new(),
            on_failure: Vec::new(),
            on_success: Vec::new(),
            conditions: Vec::new(),
            asserts: Vec::new(),
            start_limit_interval: Duration::from_secs(10),
            start_limit_burst: 5,
            default_dependencies: true,
            refuse_manual_start: false,
            refuse_manual_stop: false,
            stop_when_unneeded: false,
        }
    }
}

/// `[Install]`, per systemd.unit(5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstallSection {
    pub wanted_by: Vec<String>,
    pub required_by: Vec<String>,
    pub alias: Vec<String>,
    pub also: Vec<String>,
    pub default_instance: Option<String>,
}
