//! Requests, responses and the handshake.
//!
//! A connection starts with the client sending [`Hello`] and the daemon answering
//! [`Welcome`] (or an error when the versions differ). Then the client sends one
//! [`Request`] and reads [`Response`]s until a final one (a client may send its
//! request right behind `Hello`, without waiting for `Welcome`; the daemon
//! answers both in turn, and a refused client's request is never read): every response except
//! [`Response::LogData`] is final. `logs` streams `LogData` frames and ends with
//! [`Response::Done`]; with `follow` it streams until the client hangs up.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub version: u32,
    /// PID of the daemon that answered.
    pub daemon_pid: u32,
    /// Its version (`CARGO_PKG_VERSION`); empty from a daemon before this field,
    /// so that a newer CLI can say "run daimon daemon-reexec".
    #[serde(default)]
    pub daemon_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Start a command now as a (transient unless saved) service. See [`RunRequest`].
    Run(RunRequest),
    Start {
        units: Vec<String>,
    },
    Stop {
        units: Vec<String>,
    },
    Restart {
        units: Vec<String>,
    },
    Reload {
        units: Vec<String>,
    },
    /// Empty `units`: every loaded unit. `log_lines`: recent lines to include per unit
    /// (the detail view asks for 10, the table for 0).
    Status {
        units: Vec<String>,
        log_lines: usize,
        /// Only what the table of all units shows: the answer is
        /// [`Response::StatusTable`] instead of full [`UnitStatus`]es, a fraction
        /// of the bytes to build, send and decode. Absent in older clients: false.
        /// An older daemon ignores it and answers `Status`.
        #[serde(default)]
        brief: bool,
    },
    /// Every known unit, loaded or not (unit files with errors included).
    List,
    Logs(LogsRequest),
    Enable {
        units: Vec<String>,
    },
    Disable {
        units: Vec<String>,
    },
    /// The unit file and its drop-ins, as the daemon sees them.
    Cat {
        unit: String,
    },
    DaemonReload,
    /// Write a transient unit's file (`daimon save`); a running unit keeps
    /// running. Answered with [`Response::Cat`]: the file written.
    Save {
        unit: String,
    },
    /// Every loaded timer with its next and last elapse (`daimon timers`).
    Timers,
    /// Stop every service (reverse dependency order) and exit.
    Shutdown,
    /// Replace the running daimond with the binary on disk, in the same PID,
    /// keeping every service (answered `Done` just before the exec).
    DaemonReexec,
    /// A stream of [`Response::Event`], one per unit state change, until the
    /// client hangs up (`daimon top` redraws on them).
    Events,
    /// `is-active`/`is-enabled`/`is-failed`: each unit's states, unknown ones
    /// included ([`Response::UnitStates`]).
    UnitStates {
        units: Vec<String>,
    },
    /// Send `signal` to units' processes (`daimon kill`): a name as
    /// systemctl takes it (`TERM`, `SIGTERM`, `RTMIN+3`) or a number.
    Kill {
        units: Vec<String>,
        signal: String,
        whom: crate::KillWhom,
    },
    /// Clear the failed state and the start-limit counter; empty `units`: all.
    ResetFailed {
        units: Vec<String>,
    },
    /// systemd's properties of units ([`Response::Properties`]).
    Show {
        units: Vec<String>,
    },
    /// `list-units`: loaded units; without `all` only those active, failed or
    /// with a job; `states` and `patterns` narrow it ([`Response::List`]).
    ListUnits {
        all: bool,
        states: Vec<String>,
        patterns: Vec<String>,
    },
    /// `list-unit-files`: unit files and transient units with their
    /// enablement ([`Response::UnitFiles`]).
    ListUnitFiles {
        patterns: Vec<String>,
    },
    /// Stop, disable and delete saved units with their drop-ins, then reload.
    Remove {
        units: Vec<String>,
    },
    /// `daimon attach`: connect to the terminal of a service that has one
    /// (`StandardInput=tty`). Answered `Done`, after which the connection
    /// carries the frames of [`crate::attach`] both ways; or an error saying
    /// why not (no such unit, not running, no terminal). Socket only.
    Attach {
        unit: String,
        /// Watch only: daimond ignores this client's input and size.
        read_only: bool,
    },
}

/// `daimon run`: the CLI renders the command into unit-file text (so a transient unit
/// and a saved one go through the same parser) and the daemon loads it under `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    /// Full unit name, e.g. `bot.service`.
    pub name: String,
    /// The `[Unit]`/`[Service]`/`[Install]` text of the unit.
    pub unit_text: String,
    /// Write the text to `units/NAME` so it survives a daemon restart.
    pub save: bool,
    /// Also enable it (start when the daemon starts). Implies `save`.
    pub enable: bool,
    /// A schedule (`--on-calendar`, `--cron`): this timer activates the service
    /// instead of the service starting now. The timer is what is started (and,
    /// with `enable`, enabled); the service is loaded alongside it.
    #[serde(default)]
    pub timer: Option<RunTimer>,
    /// `--listen`: this socket unit (same shape as a timer's) is bound first and
    /// its sockets are passed to the service (`LISTEN_FDS`).
    #[serde(default)]
    pub socket: Option<RunTimer>,
}

/// The timer half of a scheduled `daimon run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTimer {
    /// Full unit name, e.g. `backup.timer`.
    pub name: String,
    /// The `[Unit]`/`[Timer]`/`[Install]` text of the timer.
    pub unit_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogsRequest {
    /// Unit names; empty means every unit.
    pub units: Vec<String>,
    pub invocation: Option<String>,
    /// Time expressions as the user typed them (`today`, `-1h`, ISO 8601, ...); the
    /// daemon parses them so one parser serves the CLI and the HTTP API alike.
    pub since: Option<String>,
    pub until: Option<String>,
    /// `err`, `warning`, `3`, ... : that priority and more important ones.
    pub priority: Option<String>,
    /// Regular expression matched against the message.
    pub grep: Option<String>,
    /// Only the last N matching lines.
    pub lines: Option<usize>,
    pub follow: bool,
    /// `short`, `short-iso`, `cat`, `json`, `export`.
    pub output: String,
    /// The client reads raw frames (see `frame`): log text then arrives as raw
    /// bytes instead of `LogData`. Absent in older clients: false.
    #[serde(default)]
    pub raw: bool,
    /// Highlight lines by priority with ANSI colours, as journalctl does on a
    /// terminal (err and worse red, warning yellow, notice bold, debug grey).
    #[serde(default)]
    pub color: bool,
    /// Escape control characters and escape sequences in what services wrote
    /// (`text::escape_terminal`), as for a terminal. Absent in older clients:
    /// false. Ignored for JSON.
    #[serde(default)]
    pub escape: bool,
    /// journalctl-style field matches, `FIELD=VALUE` (`_TRANSPORT=stdout`,
    /// `_SYSTEMD_UNIT=bot.service`, ...): a line must match each field given,
    /// any of the values given for one field.
    #[serde(default)]
    pub matches: Vec<String>,
    /// `-b [ID|-N|N]`: only this boot of the machine (`""` or `"0"` the
    /// current one, `"-1"` the one before, a boot id).
    #[serde(default)]
    pub boot: Option<String>,
    /// `--list-boots`: list the boots instead of lines.
    #[serde(default)]
    pub list_boots: bool,
    /// `--disk-usage`: how much the store takes on disk.
    #[serde(default)]
    pub disk_usage: bool,
    /// `--rotate`: seal the segment being written.
    #[serde(default)]
    pub rotate: bool,
    /// `--vacuum-size=SIZE` (`500M`, `1G`) and `--vacuum-time=SPAN` (`2weeks`).
    #[serde(default)]
    pub vacuum_size: Option<String>,
    #[serde(default)]
    pub vacuum_time: Option<String>,
    /// `-r`: newest first (with `lines`, the newest N, newest first).
    #[serde(default)]
    pub reverse: bool,
}

/// Every line of every unit, as `daimon logs` with no argument asks for them
/// (short format, no follow): requests are written as changes to this.
impl Default for LogsRequest {
    fn default() -> Self {
        LogsRequest {
            units: vec![],
            invocation: None,
            since: None,
            until: None,
            priority: None,
            grep: None,
            lines: None,
            follow: false,
            output: "short".into(),
            raw: false,
            color: false,
            escape: false,
            matches: vec![],
            boot: None,
            list_boots: false,
            disk_usage: false,
            rotate: false,
            vacuum_size: None,
            vacuum_time: None,
            reverse: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Welcome(Welcome),
    Error(ErrorReply),
    /// Per-unit outcome of start/stop/restart/reload/enable/disable/run.
    Jobs(Vec<JobResult>),
    Status(Vec<UnitStatus>),
    /// The answer to a `brief` status request.
    StatusTable(Vec<UnitRow>),
    List(Vec<UnitListEntry>),
    /// Rendered log output (already in the requested format, newline-terminated
    /// lines); more frames follow.
    LogData(String),
    Cat(Vec<CatFile>),
    Timers(Vec<TimerInfo>),
    UnitStates(Vec<crate::UnitState>),
    Properties(Vec<crate::UnitProperties>),
    UnitFiles(Vec<crate::UnitFileEntry>),
    /// Success with nothing to show (daemon-reload, shutdown, end of a log stream).
    Done,
    /// A unit's state changed (the name; ask `Status` for the rest). Not final:
    /// an `Events` stream sends them until the client hangs up. After a burst
    /// too large to keep up with, changes are coalesced, never lost silently:
    /// the next one still comes.
    Event(String),
    /// A leading part of a list answer too long for one frame: more frames
    /// follow, the last an ordinary answer of the same kind, and the client
    /// joins the lists in order (see `parts`).
    Part(Box<Response>),
}

impl Response {
    /// Whether more frames follow this one for the same request.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            Response::LogData(_) | Response::Part(_) | Response::Event(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub kind: ErrorKind,
    /// One line, actionable: what went wrong and what to do.
    pub message: String,
}

/// What kind of failure; the CLI maps it to its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// Bad input (argument, unit file, time expression, regex): exit 1.
    Invalid,
    /// Unknown unit: exit 4.
    NotFound,
    /// The operation was tried and failed (start failed, unit has errors): exit 1.
    Failed,
    /// Protocol version mismatch: exit 1, telling the user to restart the daemon.
    Version,
    /// The daemon is shutting down or overloaded: exit 1.
    Unavailable,
    /// A bug or an OS failure inside the daemon: exit 1.
    Internal,
}

impl ErrorKind {
    /// Exit code of the `daimon` CLI for this kind (systemctl's conventions).
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::NotFound => 4,
            _ => 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobResult {
    pub unit: String,
    /// `None` on success; otherwise why this unit's job failed.
    pub error: Option<ErrorReply>,
}

/// Active state, as systemd names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActiveState {
    Active,
    Activating,
    Deactivating,
    Reloading,
    Inactive,
    Failed,
}

impl ActiveState {
    pub fn as_str(self) -> &'static str {
        match self {
            ActiveState::Active => "active",
            ActiveState::Activating => "activating",
            ActiveState::Deactivating => "deactivating",
            ActiveState::Reloading => "reloading",
            ActiveState::Inactive => "inactive",
            ActiveState::Failed => "failed",
        }
    }
}

/// One unit in `status` (field names are the JSON contract of `status -o json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitStatus {
    pub name: String,
    pub description: Option<String>,
    /// `loaded`, `not-found`, `bad-setting` (the unit file has errors), `transient`.
    pub load_state: String,
    pub state: ActiveState,
    /// systemd's sub-state: `running`, `exited`, `dead`, `auto-restart`, `start-pre`, ...
    pub sub_state: String,
    /// `enabled`, `disabled`, `static` (no [Install]), `transient`.
    pub enabled: String,
    /// Main PID, if a main process runs.
    pub pid: Option<u32>,
    /// Automatic restarts since the unit was last started by a user.
    pub restarts: u32,
    /// When the unit entered its current state (RFC 3339).
    pub since: Option<String>,
    /// systemd's Result=: `success`, `exit-code`, `signal`, `core-dump`, `timeout`,
    /// `start-limit-hit`, `resources`, `condition`, ...
    pub result: String,
    /// The last `STATUS=` the service sent, if any.
    pub status_text: Option<String>,
    /// The last `ERRNO=` the service sent (sd_notify(3)), if any.
    #[serde(default)]
    pub errno: Option<i32>,
    /// Resident memory of the whole process tree, bytes.
    pub memory_bytes: Option<u64>,
    /// CPU time (user+system) of the whole process tree, microseconds.
    pub cpu_usec: Option<u64>,
    /// Every process of the service (main first), for the detail view.
    pub tasks: Vec<u32>,
    /// The unit's cgroup and what it accounts, where the unit has one (a
    /// resource limit); `memory_bytes` and `cpu_usec` then come from it.
    #[serde(default)]
    pub cgroup: Option<crate::CgroupStatus>,
    /// How the last main process ended, e.g. `exited, status=1/FAILURE` or
    /// `killed, signal=KILL`.
    pub last_exit: Option<String>,
    /// Why the unit is failed or refused, one line (e.g. start limit hit).
    pub reason: Option<String>,
    /// Path of the unit file (None for transient units not saved).
    pub fragment_path: Option<String>,
    /// Lines dropped by the log store for this unit and why, e.g. "12345 lines
    /// dropped: disk full"; None when nothing was lost.
    pub logs_dropped: Option<String>,
    /// How many lines that is (all reasons together); None when nothing was lost.
    #[serde(default)]
    pub logs_dropped_lines: Option<u64>,
    /// The last `log_lines` log lines, rendered in journalctl's short format.
    pub recent_logs: Vec<String>,
    /// A timer unit: its schedule and the last run of what it activates.
    #[serde(default)]
    pub timer: Option<TimerInfo>,
    /// A service: its last run (start, end, duration, exit status).
    #[serde(default)]
    pub last_run: Option<RunSummary>,
    /// A service: the runs before `last_run`, newest first, at most 10; each
    /// automatic restart begins a run, so this is its restart history.
    #[serde(default)]
    pub earlier_runs: Vec<RunSummary>,
    /// A service: its restart policy in effect and, while a restart is
    /// pending, when the next try comes.
    #[serde(default)]
    pub restart_policy: Option<RestartInfo>,
}

/// The restart policy of a service as its current run uses it
/// (`status -o json`'s `restart_policy`; spans in microseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartInfo {
    /// `Restart=`: `no`, `always`, `on-failure`, `on-success`, `on-abnormal`,
    /// `on-abort`, `on-watchdog`.
    pub policy: String,
    /// `RestartSec=`: the (first) delay before a restart.
    pub delay_usec: u64,
    /// `RestartMaxDelaySec=` when the delay grows with each restart
    /// (`RestartSteps=`); None when it does not grow.
    pub max_delay_usec: Option<u64>,
    /// While a restart is pending (sub-state `auto-restart`): time left until
    /// the next try.
    pub next_try_usec: Option<u64>,
    /// The start limit, `N/SPAN` (e.g. `5/10s`), or `off`.
    pub start_limit: String,
}

/// One unit in the table of `daimon status` (a brief status request): what the
/// table shows and nothing else. Not a JSON contract; `status -o json` prints
/// [`UnitStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRow {
    pub name: String,
    pub description: Option<String>,
    pub load_state: String,
    pub state: ActiveState,
    pub sub_state: String,
    pub pid: Option<u32>,
    pub restarts: u32,
    /// When the unit entered its current state, Unix seconds (`since` of
    /// [`UnitStatus`] without the RFC 3339 text to format and parse).
    pub since_sec: Option<i64>,
    pub memory_bytes: Option<u64>,
    /// CPU time of the whole process tree, microseconds. Absent from older
    /// daemons.
    #[serde(default)]
    pub cpu_usec: Option<u64>,
}

/// One timer in `daimon timers` (field names are the JSON contract of
/// `timers -o json`; times are RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerInfo {
    /// The timer, e.g. `backup.timer`.
    pub unit: String,
    /// The unit it activates, e.g. `backup.service`.
    pub activates: String,
    /// `active`, `inactive`, `failed`.
    pub state: ActiveState,
    /// `waiting`, `running` (the service runs), `elapsed` (nothing left to
    /// trigger), `dead`.
    pub sub_state: String,
    /// The next elapse, if one is scheduled.
    pub next: Option<String>,
    /// Microseconds from now to `next`.
    pub left_usec: Option<u64>,
    /// The last time the timer triggered its unit.
    pub last: Option<String>,
    /// Microseconds from `last` to now.
    pub passed_usec: Option<u64>,
    /// The triggers, as written (`OnCalendar=*-*-* 02:30:00`, `OnActiveSec=1s`).
    pub triggers: Vec<String>,
    pub persistent: bool,
    /// The activated unit's last run, if it ran since the daemon started.
    pub last_run: Option<RunSummary>,
}

/// How a unit's last run went (`status` of a timer, `timers -o json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Invocation id of that run (its logs: `daimon logs UNIT
    /// _SYSTEMD_INVOCATION_ID=...`).
    pub invocation: String,
    pub started: String,
    /// None while the run goes on.
    pub finished: Option<String>,
    pub duration_usec: Option<u64>,
    /// systemd's Result= of that run: `success`, `exit-code`, `signal`, ...
    pub result: Option<String>,
    /// How its main process ended, e.g. `exited, status=0/SUCCESS`.
    pub exit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitListEntry {
    pub name: String,
    pub load_state: String,
    pub state: ActiveState,
    pub sub_state: String,
    pub enabled: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatFile {
    pub path: String,
    pub text: String,
}

/// Unit types daimon knows; a name ending in one of these keeps its suffix.
pub const UNIT_SUFFIXES: &[&str] = &[
    ".service", ".timer", ".target", ".socket", ".path", ".mount", ".slice",
];

/// The full unit name for what a user typed: `bot` -> `bot.service`,
/// `backup.timer` stays, `my.app` -> `my.app.service` (systemctl's habit).
pub fn unit_name(name: &str) -> String {
    if UNIT_SUFFIXES
        .iter()
        .any(|s| name.len() > s.len() && name.ends_with(s))
    {
        name.to_string()
    } else {
        format!("{name}.service")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_get_service_suffix_when_they_have_none() {
        assert_eq!(unit_name("bot"), "bot.service");
        assert_eq!(unit_name("bot.service"), "bot.service");
        assert_eq!(unit_name("backup.timer"), "backup.timer");
        assert_eq!(unit_name("my.app"), "my.app.service");
        assert_eq!(unit_name(".service"), ".service.service");
    }
}
