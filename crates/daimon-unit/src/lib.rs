//! daimon-unit: the unit-file language.
//!
//! Owns: text -> typed units (`.service`, `.timer`, `.target`, `.socket`, `.path`),
//! diagnostics with file:line:column, value grammars, specifiers, calendar events,
//! cron schedules and crontab files (translated to timer triggers),
//! drop-ins and template instantiation.
//!
//! Must never: spawn processes, open sockets, hold global state. It is pure: the
//! loader reads files, everything else works on bytes and strings.
//!
//! Entry points: [`parse_unit`] (bytes in, [`LoadedUnit`] out), [`load_unit_file`],
//! [`load_dir`], [`load_by_name`], [`cat_unit`] and [`verify_files`].

mod build;
pub mod calendar;
pub mod cron;
pub mod diagnostic;
mod file;
mod load;
pub mod model;
pub mod name;
pub mod specifier;
pub mod suggest;
pub mod syntax;
pub mod value;

pub use diagnostic::{Diagnostic, Severity, has_errors};
pub use file::{not_a_unit_file, read_unit_bytes};
pub use load::{
    LoadError, LoadedUnit, cat_unit, dropin_dirs, find_dropins, load_by_name, load_dir,
    load_unit_file, parse_unit, verify_files,
};
pub use model::{
    BindIpv6Only, Condition, Directories, InstallSection, KillMode, Listen, ListenKind,
    NotifyAccess, PathSection, RestartPolicy, RuntimeDirectoryPreserve, ServiceSection,
    ServiceType, SocketSection, StdInput, StdOutput, TasksMax, TimerSection, Unit, UnitBody,
    UnitSection, WorkingDirectory, conditions_met,
};
pub use name::{
    NameError, UnitKind, UnitName, VALID_NAME_HINT, check_requested, is_valid_dependency_name,
    is_valid_unit_name, with_default_suffix,
};
pub use specifier::SpecifierContext;
pub use value::ValueError;
pub use value::exec::{ExecCommand, ExecPrivilege};
pub use value::exit_status::ExitStatusSet;
pub use value::listen::ListenAddress;
pub use value::rlimit::{Resource, ResourceLimit};
pub use value::size::ByteLimit;
pub use value::timespan::TimeSpan;
