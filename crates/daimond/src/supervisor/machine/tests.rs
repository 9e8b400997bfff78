//! Table tests of the service state machine with a fake clock: no processes.

use std::time::{Duration, Instant};

use daimon_unit::{
    ExecCommand, ExecPrivilege, KillMode, RestartPolicy, ServiceSection, ServiceType, TimeSpan,
    UnitSection,
};

use super::*;
use crate::supervisor::policy::ServiceResult;

fn cmd(path: &str) -> ExecCommand {
    ExecCommand {
        path: path.into(),
        argv: vec![path.into()],
        ignore_failure: false,
        argv0_override: false,
        privilege: ExecPrivilege::Normal,
        no_env_expand: false,
    }
}

struct World {
    unit: UnitSection,
    svc: ServiceSection,
    m: Machine,
    t0: Instant,
    now: Instant,
    next_pid: u32,
    log: Vec<Effect>,
}

impl World {
    fn new(f: impl FnOnce(&mut ServiceSection)) -> World {
        let mut svc = ServiceSection {
            exec_start: vec![cmd("/bin/app")],
            ..Default::default()
        };
        f(&mut svc);
        let t0 = Instant::now();
        World {
            unit: UnitSection::default(),
            svc,
            m: Machine::new(),
            t0,
            now: t0,
            next_pid: 100,
            log: vec![],
        }
    }

    fn ev(&mut self, e: Event) -> Vec<Effect> {
        let d = Def {
            name: "bot.service",
            unit: &self.unit,
            svc: &self.svc,
        };
        let fx = self.m.handle(&d, e, self.now);
        self.log.extend(fx.iter().cloned());
        fx
    }

    /// Feeds an event and plays the owner: spawns succeed (and exec succeeds),
    /// kills of the whole tree find nothing else.
    fn run(&mut self, e: Event) -> Vec<Effect> {
        let mut all = vec![];
        let mut queue = vec![e];
        while let Some(e) = queue.pop() {
            let fx = self.ev(e);
            for f in &fx {
                match f {
                    Effect::Spawn { role, .. } => {
                        self.next_pid += 1;
                        let pid = self.next_pid;
                        // Processed in order: Spawned, then ExecOk.
                        queue.insert(0, Event::Spawned { role: *role, pid });
                        queue.insert(0, Event::ExecOk { pid });
                    }
                    Effect::Kill {
                        scope: KillScope::All,
                        ..
                    } => queue.insert(0, Event::Leftovers(false)),
                    Effect::Requeue(e) => queue.insert(0, e.clone()),
                    _ => {}
                }
            }
            all.extend(fx);
        }
        all
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    fn fire(&mut self) -> Vec<Effect> {
        let t = self.m.deadline.expect("a deadline is armed");
        assert!(t >= self.now, "deadline in the past");
        self.now = t;
        self.run(Event::Timer)
    }

    fn crash(&mut self, status: ExitStatus) -> Vec<Effect> {
        let pid = self.m.main_pid.expect("main runs");
        self.run(Event::Exited { pid, status })
    }
}

fn job(fx: &[Effect], kind: JobKind) -> Option<Option<String>> {
    fx.iter().rev().find_map(|f| match f {
        Effect::JobDone { kind: k, error } if *k == kind => Some(error.clone()),
        _ => None,
    })
}

const KILLED: ExitStatus = ExitStatus::Killed {
    signal: libc::SIGKILL,
    core_dumped: false,
};

#[test]
fn simple_start_is_done_after_exec() {
    let mut w = World::new(|_| {});
    let fx = w.run(Event::Start { manual: true });
    assert_eq!(w.m.state, SubState::Running);
    assert_eq!(job(&fx, JobKind::Start), Some(None));
    assert!(w.m.main_pid.is_some());
}

#[test]
fn exec_failure_fails_the_start_job_with_the_reason() {
    let mut w = World::new(|_| {});
    let fx = w.ev(Event::Start { manual: true });
    assert!(matches!(
        fx[..],
        [
            Effect::NewInvocation,
            Effect::Spawn {
                role: Role::Main,
                ..
            }
        ]
    ));
    w.ev(Event::Spawned {
        role: Role::Main,
        pid: 7,
    });
    w.ev(Event::ExecFailed {
        pid: 7,
        message: "/bin/app: No such file or directory (203/EXEC)".into(),
    });
    let fx = w.run(Event::Exited {
        pid: 7,
        status: ExitStatus::Exited(203),
    });
    assert_eq!(w.m.state, SubState::Failed);
    assert_eq!(w.m.result, ServiceResult::ExitCode);
    let err = job(&fx, JobKind::Start).flatten().expect("start failed");
    assert_eq!(
        err,
        "bot.service failed to start: /bin/app: No such file or directory (203/EXEC)"
    );
}

#[test]
fn restart_always_uses_restart_sec_and_counts() {
    let mut w = World::new(|s| {
        s.restart = RestartPolicy::Always;
        s.restart_sec = Duration::from_secs(2);
    });
    w.run(Event::Start { manual: true });
    let first = w.m.main_pid;
    w.advance(Duration::from_secs(5));
    w.crash(KILLED);
    assert_eq!(w.m.state, SubState::AutoRestart);
    assert_eq!(w.m.deadline, Some(w.now + Duration::from_secs(2)));
    w.fire();
    assert_eq!(w.m.state, SubState::Running);
    assert_eq!(w.m.restarts, 1);
    assert_ne!(w.m.main_pid, first);
}

#[test]
fn restart_sec_zero_restarts_in_the_same_step() {
    let mut w = World::new(|s| {
        s.restart = RestartPolicy::Always;
        s.restart_sec = Duration::ZERO;
    });
    w.run(Event::Start { manual: true });
    let fx = w.crash(KILLED);
    assert_eq!(w.m.state, SubState::Running);
    assert!(fx.iter().any(|f| matches!(
        f,
        Effect::Spawn {
            role: Role::Main,
            ..
        }
    )));
    assert_eq!(w.m.restarts, 1);
}

#[test]
fn on_failure_does_not_restart_a_clean_exit() {
    let mut w = World::new(|s| s.restart = RestartPolicy::OnFailure);
    w.run(Event::Start { manual: true });
    w.crash(ExitStatus::Exited(0));
    assert_eq!(w.m.state, SubState::Dead);
    w.run(Event::Start { manual: true });
    w.crash(ExitStatus::Exited(1));
    assert_eq!(w.m.state, SubState::AutoRestart);
}

#[test]
fn backoff_grows_with_restart_steps() {
    let mut w = World::new(|s| {
        s.restart = RestartPolicy::Always;
        s.restart_sec = Duration::from_millis(100);
        s.restart_steps = 3;
        s.restart_max_delay = TimeSpan::from_secs(1);
    });
    w.unit.start_limit_burst = 100;
    w.run(Event::Start { manual: true });
    let mut delays = vec![];
    for _ in 0..5 {
        w.crash(KILLED);
        let d = w.m.deadline.expect("restart armed") - w.now;
        delays.push(d.as_millis());
        w.fire();
    }
    assert_eq!(delays, vec![100, 215, 464, 1000, 1000]);
}

#[test]
fn start_limit_hit_fails_with_a_clear_reason_and_manual_start_resets() {
    let mut w = World::new(|s| {
        s.restart = RestartPolicy::Always;
        s.restart_sec = Duration::from_millis(100);
    });
    w.run(Event::Start { manual: true });
    for _ in 0..4 {
        w.crash(KILLED);
        w.fire();
        assert_eq!(w.m.state, SubState::Running);
    }
    w.crash(KILLED);
    w.fire();
    assert_eq!(w.m.state, SubState::Failed);
    assert_eq!(w.m.result, ServiceResult::StartLimitHit);
    assert_eq!(
        w.m.reason.as_deref(),
        Some("restarted too quickly (5 times in 10s); fix it and run: daimon start bot")
    );
    assert_eq!(w.m.deadline, None, "a failed unit sleeps: no timer, no CPU");
    let fx = w.run(Event::Start { manual: true });
    assert_eq!(w.m.state, SubState::Running);
    assert_eq!(w.m.restarts, 0);
    assert_eq!(job(&fx, JobKind::Start), Some(None));
}

#[test]
fn start_limit_window_slides() {
    let mut w = World::new(|s| s.restart = RestartPolicy::Always);
    w.run(Event::Start { manual: true });
    for _ in 0..20 {
        w.advance(Duration::from_secs(3));
        w.crash(KILLED);
        w.fire();
    }
    assert_eq!(
        w.m.state,
        SubState::Running,
        "slow crashes never hit the limit"
    );
    assert_eq!(w.m.restarts, 20);
}

#[test]
fn stop_sends_sigterm_then_sigkill_after_timeout_stop_sec() {
    let mut w = World::new(|s| s.timeout_stop = TimeSpan::from_secs(3));
    w.run(Event::Start { manual: true });
    let pid = w.m.main_pid.expect("runs");
    let fx = w.ev(Event::Stop);
    assert_eq!(
        fx,
        vec![Effect::Kill {
            scope: KillScope::All,
            signal: libc::SIGTERM,
            sighup: false
        }]
    );
    w.ev(Event::Leftovers(false));
    assert_eq!(w.m.state, SubState::StopSigterm);
    w.advance(Duration::from_secs(1));
    assert_eq!(w.m.deadline, Some(w.t0 + Duration::from_secs(3)));
    let fx = w.fire();
    assert!(fx.contains(&Effect::Kill {
        scope: KillScope::All,
        signal: libc::SIGKILL,
        sighup: false
    }));
    assert_eq!(w.m.state, SubState::StopSigkill);
    let fx = w.run(Event::Exited {
        pid,
        status: KILLED,
    });
    assert_eq!(w.m.state, SubState::Failed);
    assert_eq!(w.m.result, ServiceResult::Timeout);
    assert_eq!(job(&fx, JobKind::Stop), Some(None));
}

/// The messages a list of effects logs.
fn logged(fx: &[Effect]) -> Vec<String> {
    fx.iter()
        .filter_map(|f| match f {
            Effect::Log { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_stop_that_ends_the_service_on_sigterm_is_clean_and_says_so_once() {
    let mut w = World::new(|_| {});
    w.run(Event::Start { manual: true });
    let pid = w.m.main_pid.expect("runs");
    w.ev(Event::Stop);
    w.ev(Event::Leftovers(false));
    let fx = w.run(Event::Exited {
        pid,
        status: ExitStatus::Killed {
            signal: libc::SIGTERM,
            core_dumped: false,
        },
    });
    assert_eq!(w.m.state, SubState::Dead);
    assert_eq!(w.m.result, ServiceResult::Success);
    let logs = logged(&fx);
    assert!(
        !logs.iter().any(|l| l.contains("Main process")),
        "a clean stop is not reported as a kill: {logs:?}"
    );
}

#[test]
fn a_crash_on_a_signal_is_still_logged() {
    let mut w = World::new(|_| {});
    w.run(Event::Start { manual: true });
    let fx = w.crash(KILLED);
    assert!(
        logged(&fx)
            .iter()
            .any(|l| l.contains("Main process killed, signal=KILL")),
        "{fx:?}"
    );
}

#[test]
fn stop_without_sigkill_gives_up_after_the_timeout() {
    let mut w = World::new(|s| s.send_sigkill = false);
    w.run(Event::Start { manual: true });
    w.run(Event::Stop);
    w.fire();
    assert_eq!(w.m.state, SubState::Failed);
    assert!(!w.log.iter().any(|f| matches!(
        f,
        Effect::Kill {
            signal: libc::SIGKILL,
            ..
        }
    )));
}

#[test]
fn stop_waits_for_leftovers_of_the_control_group() {
    let mut w = World::new(|_| {});
    w.run(Event::Start { manual: true });
    let pid = w.m.main_pid.expect("runs");
    w.ev(Event::Stop);
    w.ev(Event::Leftovers(true));
    w.ev(Event::Exited {
        pid,
        status: ExitStatus::Killed {
            signal: libc::SIGTERM,
            core_dumped: false,
        },
    });
    assert_eq!(w.m.state, SubState::StopSigterm, "a grandchild still runs");
    let fx = w.run(Event::Leftovers(false));
    assert_eq!(w.m.state, SubState::Dead);
    assert_eq!(job(&fx, JobKind::Stop), Some(None));
}

#[test]
fn kill_modes() {
    let expect = [
        (KillMode::ControlGroup, Some(KillScope::All)),
        (KillMode::Mixed, Some(KillScope::Main)),
        (KillMode::Process, Some(KillScope::Main)),
        (KillMode::None, None),
    ];
    for (mode, scope) in expect {
        let mut w = World::new(|s| s.kill_mode = mode);
        w.run(Event::Start { manual: true });
        let fx = w.ev(Event::Stop);
        let got = fx.iter().find_map(|f| match f {
            Effect::Kill { scope, .. } => Some(*scope),
            _ => None,
        });
        assert_eq!(got, scope, "{mode:?}");
    }
}

#[test]
fn mixed_kills_what_remains_once_the_main_process_is_gone() {
    let mut w = World::new(|s| s.kill_mode = KillMode::Mixed);
    w.run(Event::Start { manual: true });
    let pid = w.m.main_pid.expect("main");
    // The main process dies on its own (its workers stay behind).
    let fx = w.run(Event::Exited {
        pid,
        status: ExitStatus::Killed {
            signal: libc::SIGKILL,
            core_dumped: false,
        },
    });
    let kills: Vec<(KillScope, i32)> = fx
        .iter()
        .filter_map(|f| match f {
            Effect::Kill { scope, signal, .. } => Some((*scope, *signal)),
            _ => None,
        })
        .collect();
    assert!(
        kills.contains(&(KillScope::All, libc::SIGKILL)),
        "the rest gets SIGKILL: {kills:?}"
    );
}

#[test]
fn exec_stop_runs_with_the_main_pid_then_sigterm() {
    let mut w = World::new(|s| s.exec_stop = vec![cmd("/bin/stopper")]);
    w.run(Event::Start { manual: true });
    let fx = w.ev(Event::Stop);
    assert_eq!(
        fx,
        vec![Effect::Spawn {
            role: Role::Control,
            phase: Phase::Stop,
            index: 0
        }]
    );
    assert_eq!(w.m.state, SubState::Stop);
    w.ev(Event::Spawned {
        role: Role::Control,
        pid: 900,
    });
    let fx = w.ev(Event::Exited {
        pid: 900,
        status: ExitStatus::Exited(0),
    });
    assert!(matches!(
        fx[..],
        [Effect::Kill {
            signal: libc::SIGTERM,
            ..
        }]
    ));
}

#[test]
fn user_stop_never_restarts() {
    let mut w = World::new(|s| s.restart = RestartPolicy::Always);
    w.run(Event::Start { manual: true });
    w.run(Event::Stop);
    let pid = w.m.main_pid.expect("still there until it exits");
    w.run(Event::Exited {
        pid,
        status: ExitStatus::Killed {
            signal: libc::SIGTERM,
            core_dumped: false,
        },
    });
    assert_eq!(w.m.state, SubState::Dead);
    assert_eq!(w.m.deadline, None);
}

#[test]
fn oneshot_runs_each_exec_start_then_exits_or_remains() {
    let mut w = World::new(|s| {
        s.service_type = ServiceType::Oneshot;
        s.exec_start = vec![cmd("/bin/a"), cmd("/bin/b")];
    });
    w.run(Event::Start { manual: true });
    assert_eq!(w.m.state, SubState::Start);
    let fx = w.crash(ExitStatus::Exited(0));
    assert!(fx.contains(&Effect::Spawn {
        role: Role::Main,
        phase: Phase::Start,
        index: 1
    }));
    let fx = w.crash(ExitStatus::Exited(0));
    assert_eq!(w.m.state, SubState::Dead);
    assert_eq!(job(&fx, JobKind::Start), Some(None));

    let mut w = World::new(|s| {
        s.service_type = ServiceType::Oneshot;
        s.remain_after_exit = true;
    });
    w.run(Event::Start { manual: true });
    let fx = w.crash(ExitStatus::Exited(0));
    assert_eq!(w.m.state, SubState::Exited);
    assert_eq!(job(&fx, JobKind::Start), Some(None));
}

#[test]
fn exec_start_pre_failure_fails_unless_prefixed_with_dash() {
    let mut w = World::new(|s| s.exec_start_pre = vec![cmd("/bin/pre")]);
    w.ev(Event::Start { manual: true });
    w.ev(Event::Spawned {
        role: Role::Control,
        pid: 5,
    });
    let fx = w.run(Event::Exited {
        pid: 5,
        status: ExitStatus::Exited(1),
    });
    assert_eq!(w.m.state, SubState::Failed);
    assert!(job(&fx, JobKind::Start).flatten().is_some());

    let mut w = World::new(|s| {
        let mut c = cmd("/bin/pre");
        c.ignore_failure = true;
        s.exec_start_pre = vec![c];
    });
    w.ev(Event::Start { manual: true });
    w.ev(Event::Spawned {
        role: Role::Control,
        pid: 5,
    });
    w.run(Event::Exited {
        pid: 5,
        status: ExitStatus::Exited(1),
    });
    assert_eq!(w.m.state, SubState::Running);
}

#[test]
fn restart_prevent_exit_status_wins() {
    let mut w = World::new(|s| {
        s.restart = RestartPolicy::Always;
        s.restart_prevent_exit_status
            .extend_from("42")
            .expect("valid");
    });
    w.run(Event::Start { manual: true });
    w.crash(ExitStatus::Exited(42));
    assert_eq!(w.m.state, SubState::Failed);
}

#[test]
fn user_restart_stops_then_starts_and_resets_the_counter() {
    let mut w = World::new(|s| s.restart = RestartPolicy::Always);
    w.run(Event::Start { manual: true });
    w.crash(KILLED);
    w.fire();
    assert_eq!(w.m.restarts, 1);
    let old = w.m.main_pid.expect("runs");
    w.run(Event::Restart);
    let fx = w.run(Event::Exited {
        pid: old,
        status: ExitStatus::Killed {
            signal: libc::SIGTERM,
            core_dumped: false,
        },
    });
    assert_eq!(w.m.state, SubState::Running);
    assert_eq!(w.m.restarts, 0);
    assert_eq!(job(&fx, JobKind::Start), Some(None));
}

#[test]
fn type_exec_is_activating_until_exec_succeeded() {
    let mut w = World::new(|s| s.service_type = ServiceType::Exec);
    w.ev(Event::Start { manual: true });
    w.ev(Event::Spawned {
        role: Role::Main,
        pid: 9,
    });
    assert_eq!(w.m.state, SubState::Start);
    let fx = w.ev(Event::ExecOk { pid: 9 });
    assert_eq!(w.m.state, SubState::Running);
    assert_eq!(job(&fx, JobKind::Start), Some(None));
}

#[test]
fn reload_without_exec_reload_sends_sighup() {
    let mut w = World::new(|_| {});
    w.run(Event::Start { manual: true });
    let fx = w.ev(Event::Reload);
    assert_eq!(
        fx,
        vec![
            Effect::SignalMain(libc::SIGHUP),
            Effect::JobDone {
                kind: JobKind::Reload,
                error: None
            }
        ]
    );
}

#[test]
fn stop_during_auto_restart_cancels_it() {
    let mut w = World::new(|s| {
        s.restart = RestartPolicy::Always;
        s.restart_sec = Duration::from_secs(30);
    });
    w.run(Event::Start { manual: true });
    w.crash(KILLED);
    assert_eq!(w.m.state, SubState::AutoRestart);
    let fx = w.run(Event::Stop);
    assert_eq!(job(&fx, JobKind::Stop), Some(None));
    assert_eq!(w.m.deadline, None);
    // As systemd: inactive, not failed, and the result still says why it ended.
    assert_eq!(w.m.state, SubState::Dead);
    assert_eq!(w.m.result, ServiceResult::Signal);
}

#[test]
fn forking_is_started_once_the_first_process_exits_and_the_daemon_is_found() {
    let mut w = World::new(|s| s.service_type = ServiceType::Forking);
    w.run(Event::Start { manual: true });
    assert_eq!(
        w.m.state,
        SubState::Start,
        "activating until the parent exits"
    );
    let fx = w.crash(ExitStatus::Exited(0));
    let find = Effect::FindMainPid {
        wait_for_exec: true,
    };
    assert_eq!(fx.last(), Some(&find));
    let fx = w.run(Event::MainPid(MainPidLookup::Found(4242)));
    assert_eq!(w.m.state, SubState::Running);
    assert_eq!(w.m.main_pid, Some(4242));
    assert_eq!(job(&fx, JobKind::Start), Some(None));

    let mut w = World::new(|s| s.service_type = ServiceType::Forking);
    w.run(Event::Start { manual: true });
    w.crash(ExitStatus::Exited(0));
    let fx = w.run(Event::MainPid(MainPidLookup::Refused(
        "forked but left no main process to supervise; set PIDFile=".into(),
    )));
    assert_eq!(w.m.state, SubState::Failed);
    assert_eq!(w.m.result, ServiceResult::Protocol);
    assert!(
        job(&fx, JobKind::Start)
            .flatten()
            .is_some_and(|e| e.contains("PIDFile="))
    );
}

#[test]
fn a_guessed_daemon_inside_execve_is_asked_again_on_the_timer_then_not_waited_for() {
    let mut w = World::new(|s| s.service_type = ServiceType::Forking);
    w.run(Event::Start { manual: true });
    w.crash(ExitStatus::Exited(0));
    let in_exec = || MainPidLookup::NotYet("1 process(es) still inside execve()".into());
    let mut waits = Vec::new();
    loop {
        w.run(Event::MainPid(in_exec()));
        assert_eq!(w.m.state, SubState::Start, "still activating");
        w.now = w.m.next_deadline().expect("a retry");
        match w.run(Event::Timer).last() {
            Some(Effect::FindMainPid {
                wait_for_exec: true,
            }) => waits.push(w.now),
            Some(Effect::FindMainPid {
                wait_for_exec: false,
            }) => break,
            other => panic!("expected a retry, got {other:?}"),
        }
    }
    // Asked again soon and a few times (5, 15, 35 ms), then the last look
    // counts a process still inside execve() as not the unit's.
    assert_eq!(waits.len(), 3);
    let fx = w.run(Event::MainPid(MainPidLookup::Found(31)));
    assert_eq!(w.m.state, SubState::Running);
    assert_eq!(job(&fx, JobKind::Start), Some(None));
}

#[test]
fn a_pid_file_not_written_yet_is_looked_for_again_until_the_start_times_out() {
    let mut w = World::new(|s| {
        s.service_type = ServiceType::Forking;
        s.timeout_start = daimon_unit::TimeSpan::from_secs(2);
    });
    w.run(Event::Start { manual: true });
    w.crash(ExitStatus::Exited(0));
    let missing = || MainPidLookup::NotYet("PID file /run/x.pid does not exist".into());
    let fx = w.run(Event::MainPid(missing()));
    assert_eq!(w.m.state, SubState::Start, "still activating");
    assert_eq!(job(&fx, JobKind::Start), None, "the start job waits");
    // Looked for again soon, then less often.
    let first = w.m.next_deadline().expect("a retry") - w.now;
    assert_eq!(first, Duration::from_millis(5));
    w.now += first;
    let fx = w.run(Event::Timer);
    let find = Effect::FindMainPid {
        wait_for_exec: true,
    };
    assert_eq!(fx.last(), Some(&find));
    w.run(Event::MainPid(missing()));
    assert_eq!(
        w.m.next_deadline().expect("a retry") - w.now,
        Duration::from_millis(10)
    );
    // It appears: the start completes.
    w.now += Duration::from_millis(10);
    w.run(Event::Timer);
    let fx = w.run(Event::MainPid(MainPidLookup::Found(777)));
    assert_eq!(w.m.state, SubState::Running);
    assert_eq!(job(&fx, JobKind::Start), Some(None));

    // Never written: TimeoutStartSec= ends the start, saying what was seen.
    let mut w = World::new(|s| {
        s.service_type = ServiceType::Forking;
        s.timeout_start = daimon_unit::TimeSpan::from_secs(2);
    });
    w.run(Event::Start { manual: true });
    w.crash(ExitStatus::Exited(0));
    let mut last = Vec::new();
    for _ in 0..100 {
        last = w.run(Event::MainPid(missing()));
        let t = w.m.next_deadline().expect("deadline");
        w.now = t;
        last.extend(w.run(Event::Timer));
        if w.m.state != SubState::Start {
            break;
        }
    }
    w.run(Event::Leftovers(false));
    assert_ne!(w.m.state, SubState::Start, "{last:?}");
    assert_eq!(w.m.result, ServiceResult::Timeout);
    assert!(
        w.m.reason
            .as_deref()
            .is_some_and(|r| r.contains("does not exist when TimeoutStartSec= ran out")),
        "{:?}",
        w.m.reason
    );
}

#[path = "tests_adopt.rs"]
mod adopt;

#[path = "tests_notify.rs"]
mod notify_tests;

#[path = "tests_backoff.rs"]
mod backoff;

#[path = "tests_runtime.rs"]
mod runtime;
