//! The owner's watch over processes: which PIDs are whose, children whose
//! exec outcome is still to come, leftovers of stopped units, and the
//! channels that report ends of processes that are not our children. Its
//! methods start services, reap them and kill them (systemd.kill(5)).

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use tokio::sync::mpsc;

use super::Owner;
use crate::exit_status::ExitStatus;
use crate::log_writer::StreamKind;
use crate::process::fdstore::{FdStore, PipeMeta, SharedStore};
use crate::process::logpipe::{PipeOrigin, spawn_reader};
use crate::process::signal::{ProcHandle, signal_verified};
use crate::process::spawn::spawn;
use crate::process::usage_cache::UsageCache;
use crate::process::{reaper, tree};
use crate::supervisor::exec::{self, ExecEnv};
use crate::supervisor::machine::{Event, KillScope, Phase, Role};
use crate::supervisor::registry::Entry;
use crate::supervisor::watched::{PendingExec, Watched};

/// What the owner knows of the processes it watches.
pub(super) struct Processes {
    /// Main and control PIDs -> (unit, role).
    pids: HashMap<u32, (String, Role)>,
    /// Children whose exec outcome is still to come.
    pending_exec: HashMap<u32, PendingExec>,
    /// Units with signalled leftovers to watch.
    leftover_units: BTreeSet<String>,
    /// Numbers each output pipe (the log writer's source id).
    next_source: u64,
    /// Keeps pipe read ends across a daimond killed with SIGKILL.
    fdstore: SharedStore,
    /// Ends of processes that are not our children (adopted ones).
    watch_tx: Option<mpsc::UnboundedSender<Watched>>,
    /// Process trees `status` read lately, and the /proc files it keeps open
    /// (taken out while a status walks the units).
    usage: Cell<UsageCache>,
    /// The last main and control PIDs reaped, with their unit: a datagram a
    /// process sent just before it exited (`exec logger ...`) may reach the
    /// owner after the reap, and still belongs to that unit.
    reaped: std::collections::VecDeque<(u32, String)>,
}

/// Reaped PIDs remembered for late datagrams (a PID is reused only after the
/// kernel has gone round the PID space, far more starts than this).
const REAPED_KEPT: usize = 64;

impl Default for Processes {
    fn default() -> Processes {
        Processes {
            pids: HashMap::new(),
            pending_exec: HashMap::new(),
            leftover_units: BTreeSet::new(),
            next_source: 1,
            fdstore: Rc::new(std::cell::RefCell::new(FdStore::disabled())),
            watch_tx: None,
            usage: Default::default(),
            reaped: Default::default(),
        }
    }
}

impl Processes {
    /// A new source id for an output pipe.
    pub(super) fn new_source(&mut self) -> u64 {
        let source = self.next_source;
        self.next_source += 1;
        source
    }

    /// `pid` is `unit`'s main or control process from now on.
    pub(super) fn claim(&mut self, pid: u32, unit: &str, role: Role) {
        self.pids.insert(pid, (unit.to_string(), role));
    }

    /// `pid` is no unit's main or control process any more; whose it was.
    pub(super) fn release(&mut self, pid: u32) -> Option<(String, Role)> {
        self.pids.remove(&pid)
    }

    /// Whether `pid` is a unit's main or control process.
    pub(super) fn is_claimed(&self, pid: u32) -> bool {
        self.pids.contains_key(&pid)
    }

    /// A child whose exec outcome is still to come.
    pub(super) fn await_exec(&mut self, pid: u32, pending: PendingExec) {
        self.pending_exec.insert(pid, pending);
    }

    /// The child's exec outcome to wait for, if it is still to come.
    pub(super) fn take_pending_exec(&mut self, pid: u32) -> Option<PendingExec> {
        self.pending_exec.remove(&pid)
    }

    /// Whether `unit` has signalled leftovers being watched.
    pub(super) fn has_leftovers(&self, unit: &str) -> bool {
        self.leftover_units.contains(unit)
    }
}

impl Owner {
    /// The unit and role of a main or control PID.
    pub(in crate::supervisor) fn pid_owner(&self, pid: u32) -> Option<&(String, Role)> {
        self.procs.pids.get(&pid)
    }

    /// The unit of a main or control PID reaped lately (newest first).
    pub(in crate::supervisor) fn reaped_owner(&self, pid: u32) -> Option<&String> {
        self.procs
            .reaped
            .iter()
            .rev()
            .find(|(p, _)| *p == pid)
            .map(|(_, u)| u)
    }

    /// `pid` is `unit`'s main process now; `old`, if it was the main
    /// process, no longer is the unit's (MAINPID=).
    pub(in crate::supervisor) fn replace_main_pid(
        &mut self,
        unit: &str,
        old: Option<u32>,
        pid: u32,
    ) {
        if let Some(old) = old {
            // The old main process's end is no longer the unit's.
            if self
                .procs
                .pids
                .get(&old)
                .is_some_and(|(_, r)| *r == Role::Main)
            {
                self.procs.pids.remove(&old);
            }
        }
        self.procs.pids.insert(pid, (unit.to_string(), Role::Main));
    }

    /// Where ends of processes that are not our children are reported.
    pub(in crate::supervisor) fn set_watcher(&mut self, tx: mpsc::UnboundedSender<Watched>) {
        self.procs.watch_tx = Some(tx);
    }

    /// A sender for reporting the end of a process that is not our child.
    pub(in crate::supervisor) fn watcher(&self) -> Option<mpsc::UnboundedSender<Watched>> {
        self.procs.watch_tx.clone()
    }

    /// The fd holder.
    pub(in crate::supervisor) fn fdstore(&self) -> &SharedStore {
        &self.procs.fdstore
    }

    /// The process trees `status` reuses and the /proc files it keeps open.
    pub(in crate::supervisor) fn usage(&self) -> &Cell<UsageCache> {
        &self.procs.usage
    }
    /// Runs command `index` of `phase`; answers with the events the machine
    /// expects: `Spawned` then `ExecOk`/`ExecFailed`, or `SpawnFailed`.
    pub(super) fn spawn(
        &mut self,
        unit: &str,
        u: &Rc<daimon_unit::Unit>,
        role: Role,
        phase: Phase,
        index: usize,
        follow: &mut Vec<Event>,
    ) {
        let failed = |error: String| Event::SpawnFailed { role, error };
        let Some(svc) = u.service() else {
            return follow.push(failed("not a service".into()));
        };
        let Some(cmd) = phase.commands(svc).get(index) else {
            return follow.push(failed(format!(
                "{} #{index} does not exist",
                phase.directive()
            )));
        };
        let Some(e) = self.units.get(unit) else {
            return follow.push(failed("unit vanished".into()));
        };
        let main_pid = if role == Role::Control {
            e.machine.main_pid
        } else {
            None
        };
        let invocation = e.invocation.clone();
        let x = ExecEnv {
            host: self.site.host(),
            svc,
            invocation: &invocation,
            main_pid,
            main: role == Role::Main,
        };
        let mut prepared = match exec::prepare(&x, cmd) {
            Ok(p) => p,
            Err(error) => return follow.push(failed(error)),
        };
        if let Err(why) = self.notify_env(svc, role, &mut prepared.spec) {
            return follow.push(failed(why));
        }
        crate::syslog::add_env(self, &mut prepared.spec);
        self.socket_env(unit, svc, role, &mut prepared.spec);
        self.cgroup_join(unit, svc, role, &mut prepared.spec);
        if role == Role::Main
            && let Err(e) = self
                .spawning
                .note(&self.site.paths().state, unit, &invocation)
        {
            tracing::warn!("{unit}: cannot note the start in the state directory: {e}");
        }
        let child = match spawn(prepared.spec) {
            Ok(c) => c,
            Err(err) => {
                return follow.push(failed(format!("cannot start {}: {err}", prepared.program)));
            }
        };
        let pid = child.pid;
        // Known from the clock almost always; else from /proc, which waits
        // for the child's execve() to finish.
        let start_time = child
            .start_time
            .or_else(|| tree::stat(pid).map(|s| s.start_time));
        if let Some(e) = self.units.get_mut(unit) {
            match role {
                Role::Main => {
                    e.main = Some(ProcHandle::new(pid));
                    e.main_start_time = start_time;
                    e.sessions.push(pid);
                }
                Role::Control => e.control = Some(ProcHandle::new(pid)),
            }
        }
        self.procs.pids.insert(pid, (unit.to_string(), role));
        for (fd, stream) in [
            (child.stdout, StreamKind::Stdout),
            (child.stderr, StreamKind::Stderr),
        ] {
            if let Some(fd) = fd {
                let source = self.procs.new_source();
                let origin = PipeOrigin {
                    source,
                    meta: PipeMeta {
                        unit: unit.to_string(),
                        invocation: invocation.clone(),
                        pid,
                        stream,
                        level_prefix: svc.syslog_level_prefix,
                        identifier: svc.syslog_identifier.clone(),
                        main: (role == Role::Main).then_some(start_time).flatten(),
                        pty: false,
                    },
                };
                spawn_reader(fd, origin, self.logs.sender(), &self.procs.fdstore);
            }
        }
        if let Some(master) = child.pty {
            let origin = PipeOrigin {
                source: self.procs.new_source(),
                meta: PipeMeta {
                    unit: unit.to_string(),
                    invocation: invocation.clone(),
                    pid,
                    stream: StreamKind::Stdout,
                    level_prefix: svc.syslog_level_prefix,
                    identifier: svc.syslog_identifier.clone(),
                    main: start_time,
                    pty: true,
                },
            };
            let (log, store) = (self.logs.sender(), &self.procs.fdstore);
            crate::console::reader::start(&self.consoles, master, origin, log, store, None);
        }
        follow.push(Event::Spawned { role, pid });
        follow.extend(self.exec_outcome(pid, child.exec, prepared.program, prepared.workdir));
    }

    /// SIGCHLD: reap everything that exited.
    pub fn reap(&mut self) {
        let mut exits: Vec<(u32, ExitStatus)> = Vec::new();
        reaper::reap_all(|pid, st| exits.push((pid, st)));
        let mut orphan_died = false;
        for (pid, status) in exits {
            // The exec outcome first, as the machine expects it before the exit.
            self.settle_exec_of_reaped(pid);
            let Some((unit, role)) = self.procs.pids.remove(&pid) else {
                orphan_died = true;
                continue;
            };
            if self.procs.reaped.len() >= REAPED_KEPT {
                self.procs.reaped.pop_front();
            }
            self.procs.reaped.push_back((pid, unit.clone()));
            if let Some(e) = self.units.get_mut(&unit) {
                match role {
                    Role::Main => {
                        e.main = None;
                        e.main_start_time = None;
                    }
                    Role::Control => e.control = None,
                }
            }
            let oom = role == Role::Main && self.oom_killed(&unit);
            self.feed(&unit, Event::Exited { pid, status });
            if oom {
                self.mark_oom(&unit);
            }
            if self.procs.leftover_units.contains(&unit) {
                self.recheck_leftovers(&unit);
            }
        }
        if orphan_died {
            let units: Vec<String> = self.procs.leftover_units.iter().cloned().collect();
            for u in units {
                self.recheck_leftovers(&u);
            }
        }
    }

    /// Whether `pid` is no candidate for a process escaped from a service:
    /// some unit's main or control process, or daimond's own fd store.
    pub(super) fn is_accounted_for(&self, pid: u32) -> bool {
        self.procs.pids.contains_key(&pid) || self.procs.fdstore.borrow().pid() == Some(pid)
    }

    /// The daemon's children that are no service's main/control process and
    /// not its own helper: processes that may have escaped from a service.
    pub(in crate::supervisor) fn orphan_candidates(&self) -> Vec<u32> {
        tree::orphans(|p| self.is_accounted_for(p))
    }

    /// Executes a kill (systemd.kill(5)); for scope `All` returns whether other
    /// processes than main/control remain, as the machine asked.
    pub(super) fn kill(
        &mut self,
        unit: &str,
        scope: KillScope,
        signal: i32,
        sighup: bool,
    ) -> Option<Event> {
        let (orphans, in_cgroup) = if scope == KillScope::All {
            (self.escape_candidates(unit), self.cgroup_members(unit))
        } else {
            (Vec::new(), Vec::new())
        };
        let e = self.units.get_mut(unit)?;
        e.last_signal = Some(signal);
        // Then SIGHUP (SendSIGHUP=) and SIGCONT, so stopped processes see it
        // (systemd.kill(5)).
        let mut sigs = vec![signal];
        if sighup {
            sigs.push(libc::SIGHUP);
        }
        if signal != libc::SIGKILL && signal != libc::SIGCONT {
            sigs.push(libc::SIGCONT);
        }
        let mut roots = Vec::new();
        for h in [e.main.as_ref(), e.control.as_ref()].into_iter().flatten() {
            for &sig in &sigs {
                let _ = h.signal(sig);
            }
            roots.push(h.pid);
        }
        if scope == KillScope::Main {
            return None;
        }
        let others = leftovers(e, &roots, &orphans, &in_cgroup);
        for &(p, t) in &others {
            for &sig in &sigs {
                let _ = signal_verified(p, t, sig);
            }
        }
        let any = !others.is_empty();
        e.members = others;
        if any {
            self.procs.leftover_units.insert(unit.to_string());
        } else {
            self.procs.leftover_units.remove(unit);
        }
        self.watch_members(unit);
        Some(Event::Leftovers(any))
    }

    /// A process died: are the leftovers of `unit` gone now? New processes forked
    /// meanwhile are found and signalled too.
    pub(super) fn recheck_leftovers(&mut self, unit: &str) {
        let orphans = self.escape_candidates(unit);
        let in_cgroup = self.cgroup_members(unit);
        let Some(e) = self.units.get_mut(unit) else {
            return;
        };
        e.members.retain(|(p, t)| {
            tree::stat(*p).is_some_and(|s| s.start_time == *t && s.state != 'Z' && s.state != 'X')
        });
        if !e.members.is_empty() {
            return;
        }
        let roots: Vec<u32> = [e.main.as_ref(), e.control.as_ref()]
            .into_iter()
            .flatten()
            .map(|h| h.pid)
            .collect();
        let rest = leftovers(e, &roots, &orphans, &in_cgroup);
        if rest.is_empty() {
            self.procs.leftover_units.remove(unit);
            self.feed(unit, Event::Leftovers(false));
        } else {
            if let Some(sig) = e.last_signal {
                for &(p, t) in &rest {
                    let _ = signal_verified(p, t, sig);
                }
            }
            e.members = rest;
            self.watch_members(unit);
        }
    }
}

/// The processes of `e`'s tree besides its main and control processes
/// (`roots`), with their start times, and those of its cgroup (`in_cgroup`:
/// with a cgroup, KillMode=control-group means its members, as in
/// systemd.kill(5), whatever the process tree says).
fn leftovers(
    e: &Entry,
    roots: &[u32],
    orphans: &[u32],
    in_cgroup: &[(u32, u64)],
) -> Vec<(u32, u64)> {
    let mut out: Vec<(u32, u64)> = tree::service_tree(roots, &e.invocation, orphans, &e.sessions)
        .into_iter()
        .filter(|(p, _)| !roots.contains(p))
        .map(|(p, st)| (p, st.start_time))
        .collect();
    for &(p, t) in in_cgroup {
        if !roots.contains(&p) && !out.iter().any(|(q, _)| *q == p) {
            out.push((p, t));
        }
    }
    out
}
