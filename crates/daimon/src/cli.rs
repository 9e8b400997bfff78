//! The command line as clap sees it: every subcommand, flag and help text.
//!
//! Owns the raw shape of the arguments only; validation that needs the world (PATH
//! lookups, the current directory) happens in the command modules, and rendering in
//! `render`. `daimon completions` and `daimon man` are generated from these types,
//! so a flag documented here is documented everywhere.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::verbs::args::{
    EditArgs, KillArgs, ListUnitFilesArgs, ListUnitsArgs, OptUnits, ShowArgs, StateArgs, StopArgs,
};

const EXAMPLES: &str = "\
Examples:
  daimon run -- python3 bot.py            keep bot.py running (survives logout, restarts on failure)
  daimon run --restart always --enable -- ./worker --queue jobs
  daimon status                           every unit as a table
  daimon status bot                       one unit in detail, with its last log lines
  daimon logs bot -f                      follow its output
  daimon logs -u web -p warning --since today
  daimon run --name backup --cron '30 2 * * *' --enable -- ./backup.sh
                                          run backup.sh every night at 02:30
  daimon timers                           scheduled jobs: when they run next, when they ran
  daimon start web && daimon enable web   unit files in ~/.config/daimon/units
  daimon is-active --quiet web            exit 0 if web.service runs (for scripts)
  daimon show web -p MainPID,NRestarts    properties with systemd's names
  daimon edit web                         override settings in $EDITOR, then reload
  daimon list-units --state failed        what failed; daimon reset-failed clears it
  daimon remove bot                       stop, disable and delete a saved unit
  daimon startup --install                start the daemon (and your enabled units) at boot
  daimon shutdown                         stop every service and the daemon

The first command starts the daemon (daimond) if none runs. DAIMON_HOME=DIR keeps
units, runtime files and logs under DIR.";

/// Keep programs running: a user-space service manager with systemctl and
/// journalctl habits, no root needed.
mod logs_args;
pub use logs_args::LogsArgs;

#[derive(Debug, Parser)]
#[command(name = "daimon", version, after_help = EXAMPLES, max_term_width = 100)]
pub struct Cli {
    /// Run the command on another machine over ssh (`daimon -H web1 status`);
    /// it must come first. Its daimond's socket is used there; nothing listens
    /// on the network.
    #[arg(short = 'H', long = "host", value_name = "[USER@]HOST[:PORT]")]
    pub host: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ListFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// A JSON array (the fields of PRODUCT.md's contract).
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `Nov 21 06:10:11 host unit[pid]: message` (journalctl's default).
    Short,
    /// Like short with ISO 8601 timestamps.
    ShortIso,
    /// The message alone.
    Cat,
    /// One JSON object per line with journalctl's field names.
    Json,
    /// journalctl's export format (the same fields; systemd-journal-remote reads it).
    Export,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Short => "short",
            LogFormat::ShortIso => "short-iso",
            LogFormat::Cat => "cat",
            LogFormat::Json => "json",
            LogFormat::Export => "export",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RestartPolicy {
    No,
    Always,
    OnSuccess,
    OnFailure,
    OnAbnormal,
    OnAbort,
    OnWatchdog,
}

impl RestartPolicy {
    /// The name in unit files, which is clap's name for the value.
    pub fn as_str(self) -> &'static str {
        daimon_unit::RestartPolicy::from(self).as_str()
    }
}

impl From<RestartPolicy> for daimon_unit::RestartPolicy {
    fn from(p: RestartPolicy) -> Self {
        use daimon_unit::RestartPolicy as U;
        match p {
            RestartPolicy::No => U::No,
            RestartPolicy::Always => U::Always,
            RestartPolicy::OnSuccess => U::OnSuccess,
            RestartPolicy::OnFailure => U::OnFailure,
            RestartPolicy::OnAbnormal => U::OnAbnormal,
            RestartPolicy::OnAbort => U::OnAbort,
            RestartPolicy::OnWatchdog => U::OnWatchdog,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a command as a service now (survives logout, restarts on failure).
    #[command(after_help = "\
Examples:
  daimon run -- python3 bot.py                   runs as bot.service, in this directory
  daimon run --name api -e PORT=8080 -- node server.js
  daimon run --restart always --enable -- ./bot  also start it when the daemon starts
  daimon run --name backup --on-calendar daily --enable -- ./backup.sh
  daimon run --name report --cron '*/15 8-18 * * mon-fri' -- ./report.sh

The command is looked up in your PATH now, relative file arguments work because
the service runs in the current directory (see --workdir), and the service gets
your PATH so it finds what you find.

With --on-calendar or --cron the command runs on a schedule instead of now: a
timer NAME.timer starts NAME.service (Type=oneshot) at each elapse, a run missed
while the machine was off happens once it is back (Persistent=true), and
`daimon timers` shows when it runs next.

Restart policy: by default (on-failure) a command that exits with an error or is
killed by a signal is started again after 100ms, and systemd's start limit applies:
a 6th start within 10s fails the service for good (Result: start-limit-hit) until
you start it yourself. --restart always means forever, as pm2 users expect: it
restarts after any exit, waiting 100ms, then about twice as long each time up to
30s (RestartSec=100ms RestartSteps=8 RestartMaxDelaySec=30s), with no start limit
(StartLimitIntervalSec=0); starting it yourself resets the delay. --start-limit
N/SPAN or off overrides the start limit. `daimon status NAME` shows the policy in
effect and when the next try comes. Unit files you write keep systemd's meaning.

Already running: `daimon run --save` (or --enable) with the same command turns the
running unit into a saved one without restarting it; `daimon save NAME` does the
same.")]
    Run(RunArgs),
    /// Start units.
    #[command(after_help = "Example:\n  daimon start web worker")]
    Start(Units),
    /// Stop units (names, patterns such as 'web@*', or --all).
    #[command(
        after_help = "Examples:\n  daimon stop web\n  daimon stop 'web@*'      every loaded instance of web@.service\n  daimon stop --all       every unit that runs"
    )]
    Stop(StopArgs),
    /// Stop then start units.
    #[command(after_help = "Example:\n  daimon restart web")]
    Restart(Units),
    /// Ask units to reload their configuration (ExecReload=).
    #[command(after_help = "Example:\n  daimon reload nginx")]
    Reload(Units),
    /// Show every unit as a table, or units in detail (exit 3 if one is not active).
    #[command(after_help = "\
Examples:
  daimon status              every loaded unit: state, PID, restarts, uptime, memory
  daimon status bot          bot.service in detail with its last 10 log lines
  daimon status -o json      the same as JSON")]
    Status(StatusArgs),
    /// List every known unit, loaded or not.
    List(OutputArgs),
    /// Show logs, like journalctl.
    #[command(after_help = "\
Examples:
  daimon logs bot -f                 follow bot.service
  daimon logs -u web -n 100          the last 100 lines of web.service
  daimon logs --since today -p err   errors of every unit since midnight
  daimon logs bot -g 'timeout|refused' --since '2 hours ago'
  daimon logs bot -o json | jq .MESSAGE
  daimon logs bot -r -n 20           its newest 20 lines, newest first

Times: now, today, yesterday, -1h, '2 hours ago', 2026-11-21, '2026-11-21 04:00',
ISO 8601. Priorities: emerg alert crit err warning notice info debug, or 0-7.")]
    Logs(LogsArgs),
    /// Connect this terminal to a service's terminal (run --tty, StandardInput=tty).
    #[command(after_help = "\
Examples:
  daimon run --tty --name repl -- python3 -i
  daimon attach repl                   type to it; Ctrl-] detaches, it keeps running
  daimon attach repl --read-only       watch without typing
  DAIMON_DETACH_KEY='ctrl-\\' daimon attach repl

On attach, the last 64 KiB of output are shown again, so an earlier prompt is
there. Several clients may attach at once: the terminal takes the size of the
most recent client that is not --read-only to attach or to resize, and keeps it
when that client leaves. A client that falls more than 1 MiB behind the output
is detached with a message; the service never waits for a client. When the
service exits, attach prints how and returns. Over ssh: daimon -H HOST attach
UNIT (ssh gets -t).")]
    Attach(crate::attach::AttachArgs),
    /// Start units whenever the daemon starts.
    Enable(Units),
    /// Do not start units when the daemon starts.
    Disable(Units),
    /// Check unit files without the daemon: warnings and errors with file:line:column.
    #[command(after_help = "Example:\n  daimon verify ~/.config/daimon/units/*.service")]
    Verify(VerifyArgs),
    /// Show a unit's file and its drop-ins.
    Cat(CatArgs),
    /// Write the unit file of a unit started by `daimon run` without --save;
    /// it keeps running (same PID).
    #[command(after_help = "Example:\n  daimon save bot && daimon enable bot")]
    Save(CatArgs),
    /// List timers: when each runs next and when it ran last.
    #[command(
        visible_alias = "list-timers",
        after_help = "\
Examples:
  daimon timers              NEXT LEFT LAST PASSED UNIT ACTIVATES, soonest first
  daimon timers -o json      the same as JSON"
    )]
    Timers(OutputArgs),
    /// Turn jobs from another scheduler into services and timers.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Print each unit's active state (exit 0 if all are active, else 3).
    #[command(after_help = "Example:\n  daimon is-active --quiet web && echo up")]
    IsActive(StateArgs),
    /// Print each unit's file state: enabled, disabled, static, transient, ...
    ///
    /// Exit 0 when every unit is enabled, static or transient (as systemctl),
    /// 4 when one is unknown, else 1.
    IsEnabled(StateArgs),
    /// Print each unit's active state (exit 0 if one is failed, else 1).
    IsFailed(StateArgs),
    /// Send a signal to units' processes (default TERM to all of them).
    #[command(after_help = "\
Examples:
  daimon kill web -s HUP                  every process of web.service
  daimon kill web -s USR1 --kill-whom main")]
    Kill(KillArgs),
    /// Forget units' failed state and start-limit count (none named: all units).
    ResetFailed(OptUnits),
    /// Print units' properties as Key=value, with systemd's names.
    #[command(after_help = "\
Examples:
  daimon show web
  daimon show web -p ActiveState,SubState,MainPID
  daimon show web -p NRestarts --value")]
    Show(ShowArgs),
    /// Change a unit in $EDITOR: a drop-in override, or the whole file (--full).
    #[command(after_help = "\
Examples:
  daimon edit web             write units/web.service.d/override.conf
  daimon edit web --full      edit units/web.service itself

Nothing is written if the unit would have errors; the text is kept in a
temporary file whose name is printed. Unit files are re-read after a save.")]
    Edit(EditArgs),
    /// List loaded units (active ones unless --all), like systemctl list-units.
    #[command(after_help = "\
Examples:
  daimon list-units --all
  daimon list-units --state failed
  daimon list-units 'web@*' -o json")]
    ListUnits(ListUnitsArgs),
    /// List unit files with their state: enabled, disabled, static, transient, ...
    ListUnitFiles(ListUnitFilesArgs),
    /// Delete saved units: stop, disable, delete the file and its drop-ins, reload.
    #[command(after_help = "Example:\n  daimon remove bot")]
    Remove(Units),
    /// Re-read unit files.
    DaemonReload,
    /// Replace the running daimond with the binary on disk, keeping every service.
    #[command(after_help = "\
After installing a new daimond (cargo install, a package upgrade), this runs it
in place of the old one: same PID, and every service keeps running with its PID,
output pipes, timers, restart counter and invocation id.")]
    DaemonReexec,
    /// Make daimond itself start at boot: a systemd unit or a crontab @reboot line.
    #[command(after_help = "\
Examples:
  daimon startup                  show what would be installed and where (changes nothing)
  daimon startup --install        install it; run again, nothing changes
  daimon startup --uninstall      remove it
  sudo daimon startup --install   as root with systemd: a system unit (multi-user.target)

auto picks a system unit as root with systemd, a systemd --user unit for a user
(with lingering, see loginctl enable-linger), and a crontab @reboot line where
systemd does not run.")]
    Startup(crate::startup::StartupArgs),
    /// Stop every service and the daemon.
    Shutdown,
    /// Print where daimond's HTTP API listens (api.json), for scripts.
    #[command(after_help = "\
Examples:
  daimon api                                  url, port, pid, version (no token)
  curl -H \"Authorization: Bearer $(daimon api --show-token | jq -r .token)\" \\
       \"$(daimon api | jq -r .url)api/units\"")]
    Api(ApiArgs),
    /// A live full-screen view of every unit: state, PID, uptime, CPU, memory.
    #[command(after_help = "\
Keys: arrows, j/k, PageUp/PageDown, g/G select; Enter the unit's detail
(Esc returns); s start, S stop (asks first), r restart, R reload, a attach
(top comes back when attach returns); l a log pane following the selected
unit, ? search it; o sort (name, CPU, memory, restarts); / filter by name;
Ctrl-L re-read and repaint; q or Ctrl-C quits.")]
    Top,
    /// Print a one-time login link to the dashboard (and open it where a browser is).
    #[command(after_help = "\
Examples:
  daimon web              print the link; open it with xdg-open on a desktop
  daimon web --no-open    only print it

The link works once, within a minute; the page then keeps a session cookie.
Over SSH the command also prints the ssh -L line that reaches the page.")]
    Web(WebArgs),
    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  echo 'source <(daimon completions bash)' >> ~/.bashrc
  echo 'source <(daimon completions zsh)' >> ~/.zshrc
  echo 'daimon completions fish | source' >> ~/.config/fish/config.fish

The script asks daimon at each Tab: commands, flags and the names of the
units (from the running daemon, or the unit files when none runs).")]
    Completions { shell: Shell },
    /// Print a manual page (roff), or write every page into a directory.
    #[command(after_help = "\
Examples:
  daimon man | man -l -                          daimon(1)
  daimon man run | man -l -                      daimon-run(1)
  daimon man --dir ~/.local/share/man/man1       every page, for man(1) to find")]
    Man(ManArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Each crontab job becomes a service and a timer, saved and enabled.
    #[command(after_help = "\
Examples:
  daimon import crontab --dry-run     the unit files your crontab (crontab -l) would become
  daimon import crontab               install them: cron-NAME.service and cron-NAME.timer
  daimon import crontab jobs.txt
  daimon import crontab --system /etc/cron.d/backup

Commands run as cron runs them: through SHELL (default /bin/sh) -c, in your home
directory, with the crontab's variables (PATH defaults to cron's /usr/bin:/bin).
What has no equivalent (MAILTO: output goes to the logs instead; % as standard
input) is reported with its line number on stderr. Exit 1 if some line could not
be imported; the other jobs are imported all the same. Your crontab is left as it
is: remove the imported jobs from it (crontab -e) so that they do not run twice.")]
    Crontab(CrontabArgs),
}

#[derive(Debug, Args)]
pub struct CrontabArgs {
    /// Crontab file to read (`-`: standard input); default: the output of `crontab -l`.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print the unit files that would be written; install nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// System crontab format (/etc/crontab, /etc/cron.d/*): a user column after
    /// the schedule, which becomes User=.
    #[arg(long)]
    pub system: bool,
}

#[derive(Debug, Args)]
pub struct Units {
    /// Unit names; `.service` is added when there is no suffix.
    /// start/stop/restart/reload/remove also take patterns such as 'web@*',
    /// matched against the loaded units.
    #[arg(required = true, value_name = "UNIT")]
    pub units: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Include the token (anyone who has it can control your services).
    #[arg(long)]
    pub show_token: bool,
}

#[derive(Debug, Args)]
pub struct WebArgs {
    /// Do not start a browser.
    #[arg(long)]
    pub no_open: bool,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: ListFormat,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Units to show in detail; none: every loaded unit as a table.
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: ListFormat,
    /// Log lines shown in the detail view.
    #[arg(short = 'n', long, default_value_t = 10, value_name = "N")]
    pub lines: usize,
    /// On a terminal, print control characters and escape sequences in log
    /// lines, STATUS= texts and descriptions as they are (by default escaped).
    #[arg(long = "raw-escapes")]
    pub raw_escapes: bool,
}

#[derive(Debug, Args)]
pub struct CatArgs {
    #[arg(value_name = "UNIT")]
    pub unit: String,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Unit name (default: the script's name for interpreters, e.g. `bot` for
    /// `python3 bot.py`, else the command's name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// When to restart it [default: on-failure; no with a schedule]. `always`
    /// means forever: the delay grows from 100ms to 30s, with no start limit.
    #[arg(long, value_enum, value_name = "POLICY")]
    pub restart: Option<RestartPolicy>,
    /// Delay before a restart, as systemd's RestartSec= (`5`, `500ms`, `1min`).
    #[arg(long, value_name = "SECONDS")]
    pub restart_sec: Option<String>,
    /// At most N starts within SPAN (`5/10s`), else the unit fails with
    /// start-limit-hit; `off`: no limit [default: off with --restart always,
    /// else systemd's 5/10s].
    #[arg(long, value_name = "N/SPAN|off")]
    pub start_limit: Option<String>,
    /// Environment variable for the service (repeatable).
    #[arg(short = 'e', long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Working directory (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Write the unit file so it survives a daemon restart.
    #[arg(long)]
    pub save: bool,
    /// Also start it whenever the daemon starts (implies --save); with a
    /// schedule, the timer is what is enabled.
    #[arg(long)]
    pub enable: bool,
    /// Run it on a schedule instead of now, a systemd calendar event:
    /// `daily`, `Mon..Fri 09:00`, `*-*-* 02:30:00`, `*:0/15` (repeatable).
    #[arg(long = "on-calendar", value_name = "WHEN")]
    pub on_calendar: Vec<String>,
    /// Run it on a cron schedule instead of now: "30 2 * * *", @daily, @reboot.
    #[arg(long, value_name = "SCHEDULE", conflicts_with = "on_calendar")]
    pub cron: Option<String>,
    /// Listen on ADDR (a port, IP:PORT, [IPv6]:PORT, a Unix socket path or
    /// @name) and pass the socket to CMD as fd 3, 4, ... (LISTEN_FDS, as
    /// systemd's socket activation): daimond holds it, so connections made
    /// during a restart wait instead of being refused (repeatable).
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["on_calendar", "cron"])]
    pub listen: Vec<String>,
    /// Give it a terminal (StandardInput=tty): for programs that want one, a
    /// REPL, a game server's console, a prompt. Its output is still logged;
    /// connect to it with `daimon attach NAME`.
    #[arg(long)]
    pub tty: bool,
    /// Restart it when a file under PATH changes (recursive; repeatable).
    /// Changes are debounced (one restart per burst of saves); editors'
    /// temporary files, logs, .git, target, node_modules and the like are
    /// ignored, and so is what .gitignore files list.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["on_calendar", "cron"])]
    pub watch: Vec<PathBuf>,
    /// With --watch: changes matching GLOB restart nothing (.gitignore
    /// syntax, relative to each watched path: *.md, docs/, /build,
    /// data/**/*.csv; repeatable).
    #[arg(long, value_name = "GLOB", requires = "watch")]
    pub ignore: Vec<String>,
    /// The command and its arguments (after `--`).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// A command whose page to print (`run`, `logs`, `import crontab`, ...);
    /// none: daimon(1).
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
    /// Write daimon.1 and a page for every command into DIR instead.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub dir: Option<PathBuf>,
}
