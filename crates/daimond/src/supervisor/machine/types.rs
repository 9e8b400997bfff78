//! The vocabulary of the service state machine: sub-states, phases, events,
//! effects, and the view of a unit definition it reads.

use std::time::Duration;

use daimon_unit::{ExecCommand, ServiceSection, ServiceType, UnitSection};

use crate::exit_status::ExitStatus;

/// systemd's service sub-states (systemd.service(5); `systemctl show -p SubState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubState {
    /// Not running; the last run succeeded (or it never ran).
    Dead,
    /// `ExecCondition=` commands run.
    Condition,
    /// `ExecStartPre=` commands run.
    StartPre,
    /// The main process is being started (exec: until `execve` succeeded; oneshot:
    /// until it exited).
    Start,
    /// `ExecStartPost=` commands run.
    StartPost,
    /// The main process runs.
    Running,
    /// RemainAfterExit=yes: the main process exited cleanly; the unit stays active.
    Exited,
    /// `ExecReload=` runs.
    Reload,
    /// `ExecStop=` commands run.
    Stop,
    /// KillSignal= sent; waiting for the processes to exit (TimeoutStopSec=).
    StopSigterm,
    /// FinalKillSignal= (SIGKILL) sent.
    StopSigkill,
    /// `ExecStopPost=` commands run.
    StopPost,
    /// Leftovers after ExecStopPost= get KillSignal=.
    FinalSigterm,
    /// ... and then SIGKILL.
    FinalSigkill,
    /// Not running; the last run failed (`result` says how).
    Failed,
    /// Waiting RestartSec= before the next automatic start.
    AutoRestart,
}

impl SubState {
    /// Dead or failed: no process, no job under way (systemd's "inactive" and
    /// "failed" active states; an automatic restart pending is not inactive).
    pub fn is_inactive(self) -> bool {
        matches!(self, SubState::Dead | SubState::Failed)
    }

    pub fn as_str(self) -> &'static str {
        use SubState::*;
        match self {
            Dead => "dead",
            Condition => "condition",
            StartPre => "start-pre",
            Start => "start",
            StartPost => "start-post",
            Running => "running",
            Exited => "exited",
            Reload => "reload",
            Stop => "stop",
            StopSigterm => "stop-sigterm",
            StopSigkill => "stop-sigkill",
            StopPost => "stop-post",
            FinalSigterm => "final-sigterm",
            FinalSigkill => "final-sigkill",
            Failed => "failed",
            AutoRestart => "auto-restart",
        }
    }

    /// systemd's `state_translation_table` from sub-state to active state.
    pub fn active_state(self) -> daimon_proto::ActiveState {
        use SubState::*;
        use daimon_proto::ActiveState as A;
        match self {
            Dead => A::Inactive,
            Condition | StartPre | Start | StartPost | AutoRestart => A::Activating,
            Running | Exited => A::Active,
            Reload => A::Reloading,
            Stop | StopSigterm | StopSigkill | StopPost | FinalSigterm | FinalSigkill => {
                A::Deactivating
            }
            Failed => A::Failed,
        }
    }
}

/// Which `Exec*=` list a process runs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Condition,
    StartPre,
    Start,
    StartPost,
    Reload,
    Stop,
    StopPost,
}

impl Phase {
    pub fn commands(self, svc: &ServiceSection) -> &[ExecCommand] {
        match self {
            Phase::Condition => &svc.exec_condition,
            Phase::StartPre => &svc.exec_start_pre,
            Phase::Start => &svc.exec_start,
            Phase::StartPost => &svc.exec_start_post,
            Phase::Reload => &svc.exec_reload,
            Phase::Stop => &svc.exec_stop,
            Phase::StopPost => &svc.exec_stop_post,
        }
    }

    pub fn directive(self) -> &'static str {
        match self {
            Phase::Condition => "ExecCondition",
            Phase::StartPre => "ExecStartPre",
            Phase::Start => "ExecStart",
            Phase::StartPost => "ExecStartPost",
            Phase::Reload => "ExecReload",
            Phase::Stop => "ExecStop",
            Phase::StopPost => "ExecStopPost",
        }
    }
}

/// The main process or a control process (ExecStartPre/Post, ExecReload, ExecStop...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Main,
    Control,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Start,
    Stop,
    Reload,
}

/// Which processes a kill reaches (systemd.kill(5) KillMode=).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillScope {
    /// The main and control processes only.
    Main,
    /// Every process of the service, including ones that escaped their group.
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A start job; `manual` when a user asked (resets the start limit and counter).
    Start {
        manual: bool,
    },
    Stop,
    Restart,
    Reload,
    Spawned {
        role: Role,
        pid: u32,
    },
    /// The process could not be created (fork failed, environment file missing...).
    SpawnFailed {
        role: Role,
        error: String,
    },
    /// `execve` succeeded in `pid`.
    ExecOk {
        pid: u32,
    },
    /// The child failed before or at `execve`; its exit (2xx) follows.
    ExecFailed {
        pid: u32,
        message: String,
    },
    Exited {
        pid: u32,
        status: ExitStatus,
    },
    /// After a kill of scope `All` and whenever that changes: whether processes
    /// other than the main and control process remain.
    Leftovers(bool),
    /// [`Machine::deadline`] passed.
    Timer,
    /// Answer to [`Effect::FindMainPid`]: the daemon's PID (PIDFile= or guessed).
    MainPid(MainPidLookup),
    /// After a daimond restart, the previous daimond's run goes on with its
    /// restart counter: `Some(pid)`, its main process (running again); `None`,
    /// the automatic restart it was waiting for.
    Adopt {
        pid: Option<u32>,
        restarts: u32,
    },
    /// A notification datagram from a process allowed by NotifyAccess=.
    Notify(super::Notify),
    /// `daimon reset-failed`: forget the failure and the start-limit count.
    ResetFailed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// A new run begins: make a new invocation id.
    NewInvocation,
    /// Run command `index` of `phase`'s list; answer with `Spawned`/`SpawnFailed`.
    Spawn {
        role: Role,
        phase: Phase,
        index: usize,
    },
    /// Signal the processes in `scope`; for `All` answer with `Leftovers`.
    Kill {
        scope: KillScope,
        signal: i32,
        sighup: bool,
    },
    /// Signal the main process only (reload without ExecReload=).
    SignalMain(i32),
    /// Every waiter of a job of this kind gets this outcome.
    JobDone {
        kind: JobKind,
        error: Option<String>,
    },
    Log {
        priority: u8,
        text: String,
    },
    /// Type=forking: the first process exited; find the daemon it left (read
    /// PIDFile=, else the one process carrying the invocation id) and answer
    /// with `MainPid`. `wait_for_exec`: a process caught inside execve()
    /// (its environment reads empty) makes the answer `NotYet`; once the
    /// machine has waited long enough it is false and such a process counts
    /// as not the unit's.
    FindMainPid {
        wait_for_exec: bool,
    },
    /// Feed this event to the machine again, as a new step after these effects.
    Requeue(Event),
}

/// What the machine needs of a unit definition.
#[derive(Clone, Copy)]
pub struct Def<'a> {
    pub name: &'a str,
    pub unit: &'a UnitSection,
    pub svc: &'a ServiceSection,
}

impl Def<'_> {
    /// Type=idle is run as simple.
    pub(super) fn ty(&self) -> ServiceType {
        match self.svc.service_type {
            ServiceType::Idle => ServiceType::Simple,
            t => t,
        }
    }

    /// The name users type (`bot` for `bot.service`).
    pub(super) fn short(&self) -> &str {
        self.name.strip_suffix(".service").unwrap_or(self.name)
    }

    pub(super) fn timeout_start(&self) -> Option<Duration> {
        // systemd.service(5): TimeoutStartSec= is disabled by default for oneshot.
        if self.ty() == ServiceType::Oneshot
            && self.svc.timeout_start == daimon_unit::TimeSpan::from_secs(90)
        {
            return None;
        }
        self.svc.timeout_start.as_duration()
    }
}

/// What looking for a forking service's daemon found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MainPidLookup {
    Found(u32),
    /// Not there yet (the PID file is missing, partly written, or names a
    /// process that is gone; or, guessing, a process left behind is still
    /// inside execve()): asked again on the machine's timer, with a bound, as
    /// the answer may still come. Says what was seen.
    NotYet(String),
    /// There is no acceptable answer (no PID file and nothing to guess from,
    /// or a PID that is not a process of this service). Says why.
    Refused(String),
}
