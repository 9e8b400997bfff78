//! The arguments of systemctl's verbs (`is-active`, `kill`, `show`, `edit`,
//! `list-units`, ...), mounted into [`crate::cli::Command`].

use clap::{Args, ValueEnum};

use crate::cli::ListFormat;

#[derive(Debug, Args)]
pub struct StateArgs {
    /// Unit names or patterns ('web@*'); `.service` is added when there is
    /// no suffix.
    #[arg(required = true, value_name = "UNIT")]
    pub units: Vec<String>,
    /// Print nothing; only the exit code answers.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KillWhom {
    /// The main process only.
    Main,
    /// Every process of the unit.
    All,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Unit names or patterns (`web@*`).
    #[arg(required = true, value_name = "UNIT")]
    pub units: Vec<String>,
    /// The signal: a name (TERM, SIGTERM, HUP, USR1, ...) or a number.
    #[arg(short = 's', long, value_name = "SIGNAL", default_value = "TERM")]
    pub signal: String,
    /// Which processes get it.
    #[arg(long, value_enum, value_name = "WHOM", default_value = "all")]
    pub kill_whom: KillWhom,
}

#[derive(Debug, Args)]
pub struct OptUnits {
    /// Unit names or patterns; none: every unit.
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Unit names or patterns (`'web@*'`, matched against loaded units).
    #[arg(required_unless_present = "all", value_name = "UNIT")]
    pub units: Vec<String>,
    /// Stop every unit that runs.
    #[arg(long, conflicts_with = "units")]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Units to show.
    #[arg(required = true, value_name = "UNIT")]
    pub units: Vec<String>,
    /// Only these properties (repeatable, or comma-separated).
    #[arg(
        short = 'p',
        long = "property",
        value_name = "PROP",
        value_delimiter = ','
    )]
    pub properties: Vec<String>,
    /// Print values only, without `Key=`.
    #[arg(long)]
    pub value: bool,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    #[arg(value_name = "UNIT")]
    pub unit: String,
    /// Edit (a copy of) the whole unit file instead of a drop-in.
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Args)]
pub struct ListUnitsArgs {
    /// Only units whose name matches one of these patterns.
    #[arg(value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// Inactive units too.
    #[arg(short, long)]
    pub all: bool,
    /// Only units in these states (load, active or sub state: failed,
    /// running, inactive, ...; repeatable or comma-separated).
    #[arg(long, value_name = "STATE", value_delimiter = ',')]
    pub state: Vec<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: ListFormat,
}

#[derive(Debug, Args)]
pub struct ListUnitFilesArgs {
    /// Only unit files whose name matches one of these patterns.
    #[arg(value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: ListFormat,
}
