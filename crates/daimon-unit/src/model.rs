//! The typed model of a unit: what the daemon consumes.
//!
//! Owns the public data types only (no parsing): [`Unit`] with its `[Unit]` and
//! `[Install]` sections and a kind-specific body. Defaults are systemd's
//! (systemd.service(5), systemd.timer(5), systemd.kill(5), systemd.exec(5)).

use crate::name::UnitKind;
use crate::value::exec::ExecCommand;
use crate::value::exit_status::ExitStatusSet;
use crate::value::rlimit::{Resource, ResourceLimit};
use crate::value::size::ByteLimit;
use crate::value::timespan::TimeSpan;
use std::path::PathBuf;
use std::time::Duration;

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

/// One `Condition*=` or `Assert*=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The directive without `Condition`/`Assert`, e.g. `PathExists`.
    pub kind: String,
    /// `!`: the result is inverted.
    pub negate: bool,
    /// `|`: a triggering condition (at least one of these must hold).
    pub trigger: bool,
    pub value: String,
}

impl Condition {
    /// Evaluate the path-based kinds against the file system; `None` for kinds this crate
    /// does not evaluate (the caller decides, e.g. treats them as met).
    pub fn check_path(&self) -> Option<bool> {
        let p = std::path::Path::new(&self.value);
        let raw = match self.kind.as_str() {
            "PathExists" => p.exists(),
            "PathIsDirectory" => p.is_dir(),
            "PathIsSymbolicLink" => p.is_symlink(),
            "FileNotEmpty" => p.metadata().is_ok_and(|m| m.is_file() && m.len() > 0),
            "DirectoryNotEmpty" => std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_some()),
            "FileIsExecutable" => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    p.metadata()
                        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                }
                #[cfg(not(unix))]
                {
                    p.is_file()
                }
            }
            _ => return None,
        };
        Some(raw != self.negate)
    }
}

/// systemd's rule for a list of conditions: every non-trigger condition must hold, and if
/// there are trigger (`|`) conditions, at least one of them must hold. `check` returns the
/// (already negation-applied) result of one condition.
pub fn conditions_met(conditions: &[Condition], mut check: impl FnMut(&Condition) -> bool) -> bool {
    let mut any_trigger = false;
    let mut trigger_ok = false;
    for c in conditions {
        let ok = check(c);
        if c.trigger {
            any_trigger = true;
            trigger_ok |= ok;
        } else if !ok {
            return false;
        }
    }
    !any_trigger || trigger_ok
}

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

/// `Type=`, per systemd.service(5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServiceType {
    #[default]
    Simple,
    Exec,
    Forking,
    Oneshot,
    Notify,
    NotifyReload,
    Idle,
}

/// `Restart=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    OnSuccess,
    OnFailure,
    OnAbnormal,
    OnAbort,
    OnWatchdog,
}

impl RestartPolicy {
    /// Every policy with its name in unit files (`Restart=on-failure`).
    pub const NAMED: [(&'static str, RestartPolicy); 7] = [
        ("no", RestartPolicy::No),
        ("always", RestartPolicy::Always),
        ("on-success", RestartPolicy::OnSuccess),
        ("on-failure", RestartPolicy::OnFailure),
        ("on-abnormal", RestartPolicy::OnAbnormal),
        ("on-abort", RestartPolicy::OnAbort),
        ("on-watchdog", RestartPolicy::OnWatchdog),
    ];

    /// The name in unit files.
    pub fn as_str(self) -> &'static str {
        Self::NAMED
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("no", |(n, _)| n)
    }
}

/// `NotifyAccess=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyAccess {
    None,
    Main,
    Exec,
    All,
}

/// `KillMode=`, per systemd.kill(5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KillMode {
    #[default]
    ControlGroup,
    Mixed,
    Process,
    None,
}

/// `StandardInput=`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StdInput {
    #[default]
    Null,
    Tty,
    TtyForce,
    TtyFail,
    Data,
    File(PathBuf),
    Socket,
    Fd(String),
}

/// `StandardOutput=` / `StandardError=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdOutput {
    /// Same as the input (stdout) or as stdout (stderr).
    Inherit,
    Null,
    Tty,
    /// Also `syslog`, `journal+console`, `syslog+console`: the log store.
    Journal,
    Kmsg,
    File(PathBuf),
    Append(PathBuf),
    Truncate(PathBuf),
    Socket,
    Fd(String),
}

/// `WorkingDirectory=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkingDirectory {
    /// `~`: the user's home directory.
    Home,
    Path(PathBuf),
}

/// `RuntimeDirectoryPreserve=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RuntimeDirectoryPreserve {
    #[default]
    No,
    Yes,
    Restart,
}

/// `RuntimeDirectory=`, `StateDirectory=`, ... and their modes (systemd.exec(5)
/// "RUNTIME DIRECTORY"): relative names under %t, %S, %L, %C, %E.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directories {
    pub runtime: Vec<String>,
    pub state: Vec<String>,
    pub logs: Vec<String>,
    pub cache: Vec<String>,
    pub configuration: Vec<String>,
    pub runtime_mode: u32,
    pub state_mode: u32,
    pub logs_mode: u32,
    pub cache_mode: u32,
    pub configuration_mode: u32,
    pub runtime_preserve: RuntimeDirectoryPreserve,
}

impl Default for Directories {
    fn default() -> Self {
        Directories {
            runtime: Vec::new(),
            state: Vec::new(),
            logs: Vec::new(),
            cache: Vec::new(),
            configuration: Vec::new(),
            runtime_mode: 0o755,
            state_mode: 0o755,
            logs_mode: 0o755,
            cache_mode: 0o755,
            configuration_mode: 0o755,
            runtime_preserve: RuntimeDirectoryPreserve::No,
        }
    }
}

/// `[Service]`, per systemd.service(5), systemd.exec(5), systemd.kill(5).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSection {
    pub service_type: ServiceType,
    pub exec_condition: Vec<ExecCommand>,
    pub exec_start_pre: Vec<ExecCommand>,
    pub exec_start: Vec<ExecCommand>,
    pub exec_start_post: Vec<ExecCommand>,
    pub exec_reload: Vec<ExecCommand>,
    pub exec_stop: Vec<ExecCommand>,
    pub exec_stop_post: Vec<ExecCommand>,
    pub restart: RestartPolicy,
    /// Default 100ms; `infinity` is stored as `Duration::MAX`.
    pub restart_sec: Duration,
    /// 0 = no exponential backoff between RestartSec and RestartMaxDelaySec.
    pub restart_steps: u32,
    pub restart_max_delay: TimeSpan,
    pub restart_prevent_exit_status: ExitStatusSet,
    pub restart_force_exit_status: ExitStatusSet,
    pub success_exit_status: ExitStatusSet,
    /// Default 90s; `0` in the file means infinity and is stored as such.
    pub timeout_start: TimeSpan,
    /// Default 90s; `0` in the file means infinity and is stored as such.
    pub timeout_stop: TimeSpan,
    /// `RuntimeMaxSec=`; infinity by default.
    pub runtime_max: TimeSpan,
    /// `WatchdogSec=`; `None` when disabled (0).
    pub watchdog: Option<Duration>,
    pub remain_after_exit: bool,
    pub pid_file: Option<PathBuf>,
    pub guess_main_pid: bool,
    /// `None`: not set (systemd then uses `main` for Type=notify*, `none` otherwise).
    pub notify_access: Option<NotifyAccess>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub supplementary_groups: Vec<String>,
    pub working_directory: Option<WorkingDirectory>,
    /// `-` prefix: a missing directory is not an error.
    pub working_directory_missing_ok: bool,
    /// Parsed; not supported (warned).
    pub root_directory: Option<PathBuf>,
    /// In file order; a later assignment of the same name wins.
    pub environment: Vec<(String, String)>,
    /// (path, optional) where optional is the `-` prefix.
    pub environment_files: Vec<(PathBuf, bool)>,
    pub unset_environment: Vec<String>,
    pub pass_environment: Vec<String>,
    pub umask: u32,
    pub nice: Option<i32>,
    pub no_new_privileges: bool,
    pub kill_mode: KillMode,
    pub kill_signal: i32,
    pub restart_kill_signal: Option<i32>,
    pub final_kill_signal: i32,
    pub watchdog_signal: i32,
    /// `ReloadSignal=`: what Type=notify-reload sends to ask for a reload (SIGHUP).
    pub reload_signal: i32,
    pub send_sigkill: bool,
    pub send_sighup: bool,
    pub standard_input: StdInput,
    pub standard_output: StdOutput,
    pub standard_error: StdOutput,
    pub syslog_identifier: Option<String>,
    pub syslog_level_prefix: bool,
    pub directories: Directories,
    /// `Limit*=`, at most one entry per resource (the last assignment wins).
    pub limits: Vec<(Resource, ResourceLimit)>,
    /// Enforced with a cgroup where daimond may make one (warned at start otherwise).
    pub memory_max: Option<ByteLimit>,
    /// Hundredths of a percent (`50%` = 5000); enforced like `memory_max`.
    pub cpu_quota: Option<u32>,
    /// `X-DaimonWatch=` (daimon's extension, which systemd ignores as it
    /// ignores every `X-` key): restart the service when files under these
    /// paths change (`daimon run --watch`).
    pub watch: Vec<PathBuf>,
}

impl Default for ServiceSection {
    fn default() -> Self {
        ServiceSection {
            service_type: ServiceType::Simple,
            exec_condition: Vec::new(),
            exec_start_pre: Vec::new(),
            exec_start: Vec::new(),
            exec_start_post: Vec::new(),
            exec_reload: Vec::new(),
            exec_stop: Vec::new(),
            exec_stop_post: Vec::new(),
            restart: RestartPolicy::No,
            restart_sec: Duration::from_millis(100),
            restart_steps: 0,
            restart_max_delay: TimeSpan::Infinity,
            restart_prevent_exit_status: ExitStatusSet::default(),
            restart_force_exit_status: ExitStatusSet::default(),
            success_exit_status: ExitStatusSet::default(),
            timeout_start: TimeSpan::from_secs(90),
            timeout_stop: TimeSpan::from_secs(90),
            runtime_max: TimeSpan::Infinity,
            watchdog: None,
            remain_after_exit: false,
            pid_file: None,
            guess_main_pid: true,
            notify_access: None,
            user: None,
            group: None,
            supplementary_groups: Vec::new(),
            working_directory: None,
            working_directory_missing_ok: false,
            root_directory: None,
            environment: Vec::new(),
            environment_files: Vec::new(),
            unset_environment: Vec::new(),
            pass_environment: Vec::new(),
            umask: 0o022,
            nice: None,
            no_new_privileges: false,
            kill_mode: KillMode::ControlGroup,
            kill_signal: 15,
            restart_kill_signal: None,
            final_kill_signal: 9,
            watchdog_signal: 6,
            reload_signal: 1,
            send_sigkill: true,
            send_sighup: false,
            standard_input: StdInput::Null,
            standard_output: StdOutput::Journal,
            standard_error: StdOutput::Inherit,
            syslog_identifier: None,
            syslog_level_prefix: true,
            directories: Directories::default(),
            limits: Vec::new(),
            memory_max: None,
            cpu_quota: None,
            watch: Vec::new(),
        }
    }
}

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

/// `[Socket]`, per systemd.socket(5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketSection {
    /// Every `Listen*=` line in file order: the order of the descriptors the
    /// service gets (3, 4, ...).
    pub listen: Vec<Listen>,
    pub accept: bool,
    /// `Backlog=`; default SOMAXCONN (4096 on Linux 5.4+).
    pub backlog: u32,
    pub reuse_port: bool,
    pub bind_ipv6_only: BindIpv6Only,
    pub socket_user: Option<String>,
    pub socket_group: Option<String>,
    /// Default 0666.
    pub socket_mode: u32,
    /// `DirectoryMode=` of the parent directories it creates; default 0755.
    pub directory_mode: u32,
    /// `FileDescriptorName=`; default the socket unit's name.
    pub fd_name: Option<String>,
    /// `RemoveOnStop=`: unlink the socket files and FIFOs when the unit stops.
    pub remove_on_stop: bool,
    /// `MaxConnections=` (Accept=yes); default 64.
    pub max_connections: u32,
    /// The service to activate; defaults to the socket's name with `.service`.
    pub service: String,
}

/// What one `Listen*=` line opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenKind {
    Stream,
    Datagram,
    SequentialPacket,
    Fifo,
}

/// One `Listen*=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub kind: ListenKind,
    pub address: crate::value::listen::ListenAddress,
}

/// `BindIPv6Only=`: whether an IPv6 socket also takes IPv4 (IPV6_V6ONLY).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BindIpv6Only {
    /// The kernel's default (net.ipv6.bindv6only).
    #[default]
    Default,
    Both,
    Ipv6Only,
}

/// `[Path]`, per systemd.path(5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathSection {
    pub path_exists: Vec<PathBuf>,
    pub path_exists_glob: Vec<String>,
    pub path_changed: Vec<PathBuf>,
    pub path_modified: Vec<PathBuf>,
    pub directory_not_empty: Vec<PathBuf>,
    /// The unit to activate; defaults to the path unit's name with `.service`.
    pub unit: String,
    pub make_directory: bool,
    pub directory_mode: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(kind: &str, value: &str, negate: bool, trigger: bool) -> Condition {
        Condition {
            kind: kind.into(),
            negate,
            trigger,
            value: value.into(),
        }
    }

    #[test]
    fn path_conditions() {
        let root = std::env::temp_dir();
        let root = root.to_string_lossy();
        assert_eq!(
            cond("PathExists", &root, false, false).check_path(),
            Some(true)
        );
        assert_eq!(
            cond("PathExists", &root, true, false).check_path(),
            Some(false)
        );
        assert_eq!(
            cond("PathExists", "/nonexistent/x", false, false).check_path(),
            Some(false)
        );
        assert_eq!(
            cond("PathIsDirectory", &root, false, false).check_path(),
            Some(true)
        );
        assert_eq!(
            cond("Virtualization", "kvm", false, false).check_path(),
            None
        );
    }

    #[test]
    fn trigger_rules() {
        let plain_ok = cond("A", "", false, false);
        let plain_bad = cond("B", "", false, false);
        let trig_ok = cond("C", "", false, true);
        let trig_bad = cond("D", "", false, true);
        let check = |c: &Condition| c.kind == "A" || c.kind == "C";
        assert!(conditions_met(&[], check));
        assert!(conditions_met(std::slice::from_ref(&plain_ok), check));
        assert!(!conditions_met(&[plain_ok.clone(), plain_bad], check));
        assert!(conditions_met(
            &[plain_ok.clone(), trig_bad.clone(), trig_ok],
            check
        ));
        assert!(!conditions_met(&[plain_ok, trig_bad], check));
    }
}
