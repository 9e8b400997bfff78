//! The arguments of `daimon logs`, journalctl's habits (its own file: the
//! longest argument list of the CLI).

use clap::Args;

use super::LogFormat;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Units to show (same as -u; none: every unit), or journalctl-style field
    /// matches: _TRANSPORT=stdout (only what the service wrote to stdout),
    /// PRIORITY=3, SYSLOG_IDENTIFIER=cron, _SYSTEMD_UNIT=, _SYSTEMD_INVOCATION_ID=.
    #[arg(value_name = "UNIT|FIELD=VALUE")]
    pub units: Vec<String>,
    /// Unit to show (repeatable).
    #[arg(short = 'u', long = "unit", value_name = "UNIT")]
    pub unit: Vec<String>,
    /// Keep printing new lines as they are written (Ctrl-C to stop).
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines (with -f: default 10).
    #[arg(short = 'n', long, value_name = "N")]
    pub lines: Option<usize>,
    /// Lines at or after this time.
    #[arg(short = 'S', long, value_name = "TIME", allow_hyphen_values = true)]
    pub since: Option<String>,
    /// Lines at or before this time.
    #[arg(short = 'U', long, value_name = "TIME", allow_hyphen_values = true)]
    pub until: Option<String>,
    /// Lines of this priority or more important (err, warning, 3, ...).
    #[arg(short, long, value_name = "PRIO")]
    pub priority: Option<String>,
    /// Lines whose message matches this regular expression (case-insensitive
    /// unless it has an uppercase letter).
    #[arg(short = 'g', long, value_name = "REGEX")]
    pub grep: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "short")]
    pub output: LogFormat,
    /// Only lines of this invocation of the unit.
    #[arg(long, value_name = "ID")]
    pub invocation: Option<String>,
    /// On a terminal, print control characters and escape sequences as the
    /// service wrote them (by default they are shown escaped, e.g. \x1b[2J).
    #[arg(short = 'a', long = "raw-escapes", visible_alias = "all")]
    pub raw_escapes: bool,
    /// Remove escape sequences and control characters from what services
    /// wrote (a terminal's colours, cursor moves, a redrawn prompt): the text
    /// alone, e.g. `daimon logs repl -o cat --strip-escapes` for a service
    /// started with --tty, whose output is stored as written.
    #[arg(long, conflicts_with = "raw_escapes")]
    pub strip_escapes: bool,
    /// Only lines of this boot of the machine: none or 0 the current one, -1
    /// the one before, N the Nth from the first, or a boot id (see --list-boots).
    #[arg(
        short = 'b',
        long,
        value_name = "ID|-N",
        num_args = 0..=1,
        default_missing_value = "0",
        allow_negative_numbers = true
    )]
    pub boot: Option<String>,
    /// List the boots the log store has lines of, as journalctl does.
    #[arg(long)]
    pub list_boots: bool,
    /// How much disk the log store takes.
    #[arg(long)]
    pub disk_usage: bool,
    /// Seal the segment being written, so that a vacuum may delete it too.
    #[arg(long)]
    pub rotate: bool,
    /// Delete the oldest segments until the store takes at most SIZE (500M, 1G).
    #[arg(long, value_name = "SIZE")]
    pub vacuum_size: Option<String>,
    /// Delete segments whose newest line is older than SPAN (2weeks, 10d, 1h).
    #[arg(long, value_name = "SPAN")]
    pub vacuum_time: Option<String>,
    /// Newest lines first (with -n N: the newest N, newest first).
    #[arg(short = 'r', long, conflicts_with = "follow")]
    pub reverse: bool,
    /// Never page. On a terminal the output otherwise goes through
    /// $DAIMON_PAGER, else $PAGER, else less (LESS=FRSXMK unless set; as root
    /// only less, with LESSSECURE=1); never with -f or when piped.
    #[arg(long)]
    pub no_pager: bool,
}
