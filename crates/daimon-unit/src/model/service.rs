//! The `[Service]` section and its value types.

use super::TasksMax;
use crate::value::exec::ExecCommand;
use crate::value::exit_status::ExitStatusSet;
use crate::value::rlimit::{Resource, ResourceLimit};
use crate::value::size::ByteLimit;
use crate::value::timespan::TimeSpan;
use std::path::PathBuf;
use std::time::Duration;

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
    /// `MemoryHigh=`: the throttling point (cgroup v2 only, as in systemd).
    pub memory_high: Option<ByteLimit>,
    /// Hundredths of a percent (`50%` = 5000); enforced like `memory_max`.
    pub cpu_quota: Option<u32>,
    /// `CPUWeight=` (1 to 10000; systemd's default is 100).
    pub cpu_weight: Option<u64>,
    /// `TasksMax=`.
    pub tasks_max: Option<TasksMax>,
    /// `FileDescriptorStoreMax=`: how many descriptors the service may hand
    /// daimond with `FDSTORE=1` (sd_notify(3)); 0, the default, refuses them.
    pub fd_store_max: u32,
    /// `X-DaimonWatch=` (daimon's extension, which systemd ignores as it
    /// ignores every `X-` key): restart the service when files under these
    /// paths change (`daimon run --watch`).
    pub watch: Vec<PathBuf>,
    /// `X-DaimonWatchIgnore=`: gitignore-style globs of changes under the
    /// watched paths that restart nothing (`daimon run --ignore`).
    pub watch_ignore: Vec<String>,
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
            memory_high: None,
            cpu_quota: None,
            cpu_weight: None,
            tasks_max: None,
            fd_store_max: 0,
            watch: Vec::new(),
            watch_ignore: Vec::new(),
        }
    }
}
