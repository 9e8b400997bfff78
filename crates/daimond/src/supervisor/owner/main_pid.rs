//! Type=forking: which process is the daemon a start command left behind
//! (systemd.service(5) PIDFile=, GuessMainPID=), and the sessions that tie its
//! processes to the unit.
//!
//! Owns the look-up only; the state machine decides what an answer means
//! (found, not yet there and asked again, refused).

use std::rc::Rc;

use super::Owner;
use crate::process::signal::ProcHandle;
use crate::process::tree;
use crate::supervisor::machine::{MainPidLookup, Role};

impl Owner {
    /// Type=forking: the daemon left behind by the first process, from PIDFile=
    /// or, without one, the only process re-parented to us that carries the
    /// unit's invocation id (GuessMainPID=). It becomes the tracked main process.
    /// Never waits: what may still change is `NotYet`, asked again on the
    /// machine's timer (`wait_for_exec`: see [`crate::supervisor::machine::Effect::FindMainPid`]).
    pub(in crate::supervisor) fn find_main_pid(
        &mut self,
        unit: &str,
        u: &Rc<daimon_unit::Unit>,
        wait_for_exec: bool,
    ) -> MainPidLookup {
        let Some(svc) = u.service() else {
            return MainPidLookup::Refused("not a service".into());
        };
        let Some(e) = self.units.get(unit) else {
            return MainPidLookup::Refused("unit gone".into());
        };
        let invocation = e.invocation.clone();
        let pid = match &svc.pid_file {
            Some(path) => match read_pid_file(path) {
                Ok(pid) if self.is_run_process(pid, &invocation, &e.sessions) => pid,
                Ok(pid) => {
                    return MainPidLookup::Refused(format!(
                        "PID file {} names PID {pid}, which is not a process of this service; \
                         refusing to supervise it (a stale file? the daemon writes it where \
                         PIDFile= says?)",
                        path.display()
                    ));
                }
                Err(not_yet) => return MainPidLookup::NotYet(not_yet),
            },
            None if svc.guess_main_pid => {
                let guess = guess_main_pid(self.orphan_candidates(), &invocation);
                if wait_for_exec && guess.in_exec > 0 {
                    return MainPidLookup::NotYet(format!(
                        "{} process(es) left by the start command still inside execve()",
                        guess.in_exec
                    ));
                }
                match guess.mine[..] {
                    [one] => one,
                    [] => {
                        return MainPidLookup::Refused(
                            "forked but left no main process to supervise; set PIDFile=".into(),
                        );
                    }
                    ref many => {
                        return MainPidLookup::Refused(format!(
                            "forked and left {} processes; set PIDFile= to say which one is the daemon",
                            many.len()
                        ));
                    }
                }
            }
            None => {
                return MainPidLookup::Refused(
                    "forked but left no main process to supervise (GuessMainPID=no); set PIDFile="
                        .into(),
                );
            }
        };
        self.procs.claim(pid, unit, Role::Main);
        let start_time = tree::stat(pid).map(|s| s.start_time);
        if let Some(e) = self.units.get_mut(unit) {
            e.main = Some(ProcHandle::new(pid));
            e.main_start_time = start_time;
            record_main_sessions(&mut e.sessions, pid);
        }
        MainPidLookup::Found(pid)
    }

    /// Whether `pid` is a process of the unit's run (systemd checks the PID
    /// file's process is in the service's cgroup): re-parented to daimond (or
    /// below such a process) when the start process exited, started with the
    /// run's invocation id, or in one of the run's sessions.
    fn is_run_process(&self, pid: u32, invocation: &str, sessions: &[u32]) -> bool {
        let me = std::process::id();
        let mut p = pid;
        // A few levels up: the daemon may be a child of another of the
        // service's processes (a master and its workers).
        for _ in 0..8 {
            match tree::invocation_of(p) {
                Some(id) if id == invocation.as_bytes() => return true,
                // Another run's process.
                Some(_) => return false,
                None => {}
            }
            if tree::session(p).is_some_and(|s| sessions.contains(&s)) {
                return true;
            }
            match tree::stat(p) {
                // Re-parented to us and no other unit's main or control process
                // (a daemon that rewrote its environment, like nginx).
                Some(st) if st.ppid == me => return !self.procs.is_claimed(p),
                Some(st) if st.ppid > 1 => p = st.ppid,
                _ => return false,
            }
        }
        false
    }
}

/// Records the sessions whose orphans belong to the unit now that `pid` is its
/// main process: the one it is in, and the one named after it, which it leads
/// once it calls setsid(). A daemon(3)-style fork can name its child in the PID
/// file before that child has called setsid() (nginx 1.22's parent writes the
/// file, then exits, while the child is still in the start command's session),
/// so the session read with the PID file may not be the one its workers get.
/// KillMode=control-group and mixed must still reach those workers once the
/// main process is gone (systemd.kill(5)); their environment may no longer show
/// `INVOCATION_ID=` (nginx overwrites it with its process titles).
pub(in crate::supervisor) fn record_main_sessions(sessions: &mut Vec<u32>, pid: u32) {
    for s in tree::session(pid).into_iter().chain([pid]) {
        if !sessions.contains(&s) {
            sessions.push(s);
        }
    }
}

/// What GuessMainPID= saw among the orphans.
struct Guess {
    /// Started with the run's invocation id.
    mine: Vec<u32>,
    /// Caught inside execve(): a daemon that has just forked may still be
    /// there when its parent's exit is reaped, and cannot be told apart from
    /// a stranger until execve() ends, so the machine asks again shortly
    /// rather than missing it.
    in_exec: usize,
}

/// GuessMainPID=: the candidates started with `invocation`.
fn guess_main_pid(candidates: Vec<u32>, invocation: &str) -> Guess {
    let mut guess = Guess {
        mine: Vec::new(),
        in_exec: 0,
    };
    for pid in candidates {
        match tree::invocation_mark(pid, invocation) {
            tree::InvocationMark::Matches => guess.mine.push(pid),
            tree::InvocationMark::InExec => guess.in_exec += 1,
            tree::InvocationMark::Differs => {}
        }
    }
    guess
}

/// The PID in a PID file, if it names a live process; otherwise what was seen
/// (the file may not be written yet).
fn read_pid_file(path: &std::path::Path) -> Result<u32, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("PID file {} does not exist", path.display()));
        }
        Err(e) => return Err(format!("cannot read PID file {}: {e}", path.display())),
    };
    let Ok(pid) = text.trim().parse::<u32>() else {
        return Err(format!("PID file {} holds no PID", path.display()));
    };
    match tree::stat(pid) {
        Some(st) if st.state != 'Z' && pid > 1 => Ok(pid),
        _ => Err(format!(
            "PID file {} names PID {pid}, which does not run",
            path.display()
        )),
    }
}
