//! The typed model of a unit: what the daemon consumes.
//!
//! Owns the public data types only (no parsing): [`Unit`] with its `[Unit]` and
//! `[Install]` sections and a kind-specific body, one file per section kind.
//! Defaults are systemd's (systemd.service(5), systemd.timer(5), systemd.kill(5),
//! systemd.exec(5), systemd.resource-control(5)).

mod condition;
mod path;
mod resources;
mod service;
mod socket;
mod timer;
mod unit;

pub use condition::{Condition, conditions_met};
pub use path::PathSection;
pub use resources::TasksMax;
pub use service::{
    Directories, KillMode, NotifyAccess, RestartPolicy, RuntimeDirectoryPreserve, ServiceSection,
    ServiceType, StdInput, StdOutput, WorkingDirectory,
};
pub use socket::{BindIpv6Only, Listen, ListenKind, SocketSection};
pub use timer::TimerSection;
pub use unit::{InstallSection, UnitSection};

use crate::name::UnitKind;
use std::path::PathBuf;

/// A fully parsed unit (fragment plus drop-ins).
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// The full name, e.g. `getty@tty1.service`.
    pub name: String,
    pub kind: UnitKind,
    pub unit: UnitSection,
    pub install: InstallSection,
    pub body: UnitBody,
    /// The file the unit was read from (the template's file for an instance).
    pub fragment_path: PathBuf,
    /// Drop-in files applied, in the order they were applied.
    pub dropin_paths: Vec<PathBuf>,
}

impl Unit {
    pub fn service(&self) -> Option<&ServiceSection> {
        match &self.body {
            UnitBody::Service(s) => Some(s),
            _ => None,
        }
    }

    pub fn path_unit(&self) -> Option<&PathSection> {
        match &self.body {
            UnitBody::Path(p) => Some(p),
            _ => None,
        }
    }

    pub fn socket(&self) -> Option<&SocketSection> {
        match &self.body {
            UnitBody::Socket(s) => Some(s),
            _ => None,
        }
    }

    pub fn timer(&self) -> Option<&TimerSection> {
        match &self.body {
            UnitBody::Timer(t) => Some(t),
            _ => None,
        }
    }
}

/// The kind-specific part of a unit.
#[derive(Debug, Clone, PartialEq)]
pub enum UnitBody {
    Service(Box<ServiceSection>),
    Timer(TimerSection),
    Target,
    Socket(SocketSection),
    Path(PathSection),
}
