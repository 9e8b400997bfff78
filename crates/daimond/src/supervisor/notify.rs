//! The manager's side of sd_notify(3): who may speak for a unit, and what a
//! service is told about the socket and its watchdog.
//!
//! Owns binding the notification socket at start ([`address`]), the environment it adds to service processes (`NOTIFY_SOCKET`,
//! `WATCHDOG_USEC`, `WATCHDOG_PID`), and turning a datagram into a unit's
//! [`Event::Notify`]: the sender is found by its kernel-attached PID and
//! checked against `NotifyAccess=` (systemd.service(5)): `main` only the main
//! process, `exec` the main or a control process, `all` any process of the
//! service (its process tree, or a process carrying its `INVOCATION_ID=`),
//! `none` nobody. `MAINPID=` is taken only for a process of the service (or
//! from root), as systemd does.

use std::ffi::CString;
use std::time::{Duration, Instant};

use daimon_unit::{NotifyAccess, ServiceSection};

use super::machine::{Event, Role, monotonic_usec, parse_notify};
use super::owner::Owner;
use super::registry::def_of;
use crate::process::notify_socket::{Datagram, NotifyAddr, NotifySocket};
use crate::process::signal::ProcHandle;
use crate::process::spawn::{CHILD_PID_VAR, SpawnSpec};
use crate::process::tree;

/// Who sent a datagram, relative to the unit it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Main,
    Control,
    /// Another process of the service.
    Other,
}

/// systemd's `service_notify_message_authorized()`.
pub fn allowed(access: NotifyAccess, who: Sender) -> bool {
    match access {
        NotifyAccess::None => false,
        NotifyAccess::Main => who == Sender::Main,
        NotifyAccess::Exec => matches!(who, Sender::Main | Sender::Control),
        NotifyAccess::All => true,
    }
}

/// Where this daimond's notification socket is. `notify.sock` in the runtime
/// directory, which is 0700: only processes of our own user reach it. A root
/// daimond runs services as other users (User=) too, so it uses the abstract
/// namespace, as reachable as systemd's world-writable /run/systemd/notify;
/// its name is a token kept in the runtime directory (`notify_name`), so it
/// is the same for the next daimond (re-adopted services keep their
/// NOTIFY_SOCKET) and differs between daimonds, even in other mount namespaces.
pub fn address(runtime: &std::path::Path, root: bool) -> NotifyAddr {
    address_with(runtime, root, false)
}

fn address_with(runtime: &std::path::Path, root: bool, fresh: bool) -> NotifyAddr {
    if !root {
        return NotifyAddr::Path(runtime.join("notify.sock"));
    }
    let token = super::notify_name::token(runtime, fresh);
    NotifyAddr::Abstract(format!("daimon/notify/{token}"))
}

/// Binds the socket and tells the owner its address; `None` (with a warning)
/// if it cannot be bound: `Type=notify` starts then fail at once with the
/// reason (`notify_env`), instead of hanging until their timeout.
pub fn open(o: &mut Owner) -> Option<NotifySocket> {
    let root = o.host().uid == 0;
    let mut addr = address(&o.paths().runtime, root);
    let mut bound = NotifySocket::bind(&addr);
    if matches!(&bound, Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && root) {
        // Another daimond took our name (one with a copy of our runtime
        // directory): a new one. Services re-adopted from before cannot notify.
        addr = address_with(&o.paths().runtime, root, true);
        bound = NotifySocket::bind(&addr);
    }
    match bound {
        Ok(s) => {
            o.set_notify_socket(Ok(addr.env_value()));
            Some(s)
        }
        Err(e) => {
            let why = format!(
                "cannot create the notification socket {}: {e}",
                addr.env_value()
            );
            tracing::error!("{why}; Type=notify services fail to start");
            o.set_notify_socket(Err(why));
            None
        }
    }
}

/// The next datagram, or never without a socket.
pub async fn next(s: Option<&NotifySocket>) -> Datagram {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Before exits are reaped: what services sent before they exited (a
/// `READY=1` just before `exit`) is heard first, as systemd dispatches its
/// notify socket before SIGCHLD. Bounded, so a flood cannot hold the owner.
pub fn drain(o: &mut Owner, s: Option<&NotifySocket>) {
    let Some(s) = s else { return };
    for _ in 0..256 {
        match s.try_recv() {
            Some(dg) => o.on_notify(dg),
            None => break,
        }
    }
}

/// `VAR=` unless the unit's own environment sets it (in systemd the unit's
/// Environment= is merged after what the manager passes).
fn add_env(spec: &mut SpawnSpec, var: &str, value: &str) {
    let prefix = format!("{var}=");
    if spec
        .envp
        .iter()
        .any(|e| e.as_bytes().starts_with(prefix.as_bytes()))
    {
        return;
    }
    if let Ok(c) = CString::new(format!("{prefix}{value}")) {
        spec.envp.push(c);
    }
}

/// The CLOCK_MONOTONIC microseconds of `MONOTONIC_USEC=` as an `Instant`
/// (on Linux, `Instant` is CLOCK_MONOTONIC).
fn monotonic_instant(usec: u64) -> Option<Instant> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer for clock_gettime.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return None;
    }
    let now_usec = (ts.tv_sec as u64).saturating_mul(1_000_000) + ts.tv_nsec as u64 / 1000;
    let now = Instant::now();
    Some(match now_usec.checked_sub(usec) {
        Some(ago) => now.checked_sub(Duration::from_micros(ago))?,
        None => now + Duration::from_micros(usec - now_usec),
    })
}

/// A process's ancestry as /proc shows it at one moment: what places it in a
/// unit. Read as soon as a datagram arrives, so that a sender that exits
/// right after sending (`logger` run by a script) is still placed once its
/// parent has reaped it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lineage {
    /// The process, its parent, grandparent... up to daimond (excluded) or init.
    chain: Vec<u32>,
    /// The walk reached daimond: the process descends from one we started.
    ours: bool,
    /// Session ids of the process and of its oldest ancestor below daimond.
    sessions: [Option<u32>; 2],
}

impl Lineage {
    pub fn read(pid: u32) -> Lineage {
        let me = std::process::id();
        let mut l = Lineage {
            chain: vec![pid],
            ..Lineage::default()
        };
        let mut p = pid;
        for _ in 0..64 {
            let Some(st) = tree::stat(p) else { break };
            if st.ppid == me {
                l.ours = true;
                break;
            }
            l.chain.push(st.ppid);
            if st.ppid <= 1 {
                break;
            }
            p = st.ppid;
        }
        l.sessions[0] = tree::session(pid);
        if p != pid {
            l.sessions[1] = tree::session(p);
        }
        l
    }

    /// The process this is the ancestry of.
    pub fn pid(&self) -> u32 {
        self.chain.first().copied().unwrap_or(0)
    }
}

impl Owner {
    /// systemd's `service_exec_needs_notify_socket()` and the watchdog
    /// variables: the main process gets `NOTIFY_SOCKET` unless
    /// `NotifyAccess=none`, control processes only with `exec`/`all`. With
    /// WatchdogSec=, the main process gets `WATCHDOG_USEC` and `WATCHDOG_PID`
    /// set to its own PID (filled in by the child before exec: the PID is only
    /// known after the clone), so sd_watchdog_enabled(3) in a process the main
    /// process starts says "not for you", as under systemd.
    ///
    /// Err: a `Type=notify` main process could never report readiness (no
    /// socket); the reason, for the start to fail at once.
    pub(super) fn notify_env(
        &self,
        svc: &ServiceSection,
        role: Role,
        spec: &mut SpawnSpec,
    ) -> Result<(), String> {
        let needs_ready = matches!(
            svc.service_type,
            daimon_unit::ServiceType::Notify | daimon_unit::ServiceType::NotifyReload
        );
        if let (Role::Main, true, None) = (role, needs_ready, self.notify_socket()) {
            return Err(self
                .notify_failure()
                .unwrap_or("no notification socket")
                .to_string());
        }
        let access = svc.notify_access.unwrap_or(
            if matches!(
                svc.service_type,
                daimon_unit::ServiceType::Notify | daimon_unit::ServiceType::NotifyReload
            ) || svc.watchdog.is_some()
            {
                NotifyAccess::Main
            } else {
                NotifyAccess::None
            },
        );
        let pass = match role {
            Role::Main => access != NotifyAccess::None,
            Role::Control => matches!(access, NotifyAccess::Exec | NotifyAccess::All),
        };
        if let (true, Some(addr)) = (pass, self.notify_socket()) {
            add_env(spec, "NOTIFY_SOCKET", addr);
        }
        if let (Role::Main, Some(wd)) = (role, svc.watchdog) {
            add_env(spec, "WATCHDOG_USEC", &wd.as_micros().to_string());
            if !spec
                .envp
                .iter()
                .any(|e| e.as_bytes().starts_with(b"WATCHDOG_PID="))
                && let Ok(c) = CString::new(CHILD_PID_VAR)
            {
                spec.envp.push(c);
            }
        }
        Ok(())
    }

    /// The unit of a process whose [`Lineage`] was read when its datagram
    /// arrived (syslog senders), by the rule that places notification senders.
    pub fn unit_of_lineage(&self, l: &Lineage) -> Option<String> {
        self.sender_in(l).map(|(unit, _)| unit).or_else(|| {
            // Sent, then reaped before its datagram was placed.
            let &pid = l.chain.first()?;
            self.reaped_owner(pid).cloned()
        })
    }

    /// The unit `pid` belongs to and its role there: a main or control PID,
    /// else a descendant of one, else a process in a session of the unit.
    fn sender_of(&self, pid: u32) -> Option<(String, Sender)> {
        if let Some((unit, role)) = self.pid_owner(pid) {
            let who = match role {
                Role::Main => Sender::Main,
                Role::Control => Sender::Control,
            };
            return Some((unit.clone(), who));
        }
        self.sender_in(&Lineage::read(pid))
    }

    /// [`Self::sender_of`] on an ancestry already read.
    fn sender_in(&self, l: &Lineage) -> Option<(String, Sender)> {
        let (&pid, ancestors) = l.chain.split_first()?;
        if let Some((unit, role)) = self.pid_owner(pid) {
            let who = match role {
                Role::Main => Sender::Main,
                Role::Control => Sender::Control,
            };
            return Some((unit.clone(), who));
        }
        if let Some((unit, _)) = ancestors.iter().find_map(|p| self.pid_owner(*p)) {
            return Some((unit.clone(), Sender::Other));
        }
        // A process that escaped its service's tree (double fork) was
        // re-parented to us, the subreaper. Only processes we started (and
        // their descendants) can be our children, but which service it came
        // from is no longer in its ancestry: its session says. A session is
        // inherited across fork() and otherwise only created anew, named after
        // its creator (setsid(2)); it cannot be joined, so a process of
        // another service cannot claim it. Nor can it make a new one with the
        // same id: the kernel does not hand out a PID again while a live
        // process still has it as its session or group id. Its environment can be anything
        // (execve(2) takes it from the caller), so `INVOCATION_ID=` proves
        // nothing: see [`Owner::refuse_claim`].
        if !l.ours {
            return None;
        }
        l.sessions
            .iter()
            .flatten()
            .find_map(|&sid| self.unit_of_session(sid))
            .map(|unit| (unit, Sender::Other))
    }

    /// The running unit whose session `sid` is: one its main processes led
    /// (or were in), or one a main or control process of it leads now.
    fn unit_of_session(&self, sid: u32) -> Option<String> {
        if let Some((unit, _)) = self.pid_owner(sid) {
            return Some(unit.clone());
        }
        self.units
            .values()
            .find(|e| !e.is_idle() && e.sessions.contains(&sid))
            .map(|e| e.name.clone())
    }

    /// A datagram from a process of no unit: when it carries a running unit's
    /// `INVOCATION_ID=` it is a process of another service (or a stranger)
    /// posing as that unit, say so in that unit's log and in daimond's.
    fn refuse_claim(&self, pid: u32) {
        let Some(id) = tree::invocation_of(pid).filter(|id| !id.is_empty()) else {
            return;
        };
        let Some(e) = self
            .units
            .values()
            .find(|e| !e.is_idle() && e.invocation.as_bytes() == id)
        else {
            return;
        };
        let text = format!(
            "{}: Got notification message from PID {pid}, which carries this unit's INVOCATION_ID= but is not one of its processes; refusing.",
            e.name
        );
        tracing::warn!("{text}");
        self.message(&e.name, 4, text);
    }

    /// Whether `pid` is a live process of `unit`'s service.
    fn belongs_to(&self, unit: &str, pid: u32) -> bool {
        matches!(self.sender_of(pid), Some((u, _)) if u == unit)
    }

    /// A datagram arrived: hand it to the unit it came from, if the sender may speak.
    pub fn on_notify(&mut self, mut dg: Datagram) {
        let fds = std::mem::take(&mut dg.fds);
        let Some((unit, who)) = self.sender_of(dg.pid) else {
            self.refuse_claim(dg.pid);
            tracing::debug!(
                "notification from PID {} that belongs to no unit: ignored",
                dg.pid
            );
            return;
        };
        let Some(u) = self.units.get(&unit).and_then(|e| e.def_unit().cloned()) else {
            return;
        };
        let Some(def) = def_of(&u) else { return };
        let access = def.notify_access();
        if !allowed(access, who) {
            let main = self.units.get(&unit).and_then(|e| e.machine.main_pid);
            let text = match (access, main) {
                (NotifyAccess::None, _) => {
                    format!(
                        "{unit}: Got notification message from PID {}, but reception is disabled (NotifyAccess=none)",
                        dg.pid
                    )
                }
                (_, Some(m)) => format!(
                    "{unit}: Got notification message from PID {}, but reception only permitted for main PID {m}",
                    dg.pid
                ),
                (_, None) => format!(
                    "{unit}: Got notification message from PID {}, but reception only permitted for main PID which is currently not known",
                    dg.pid
                ),
            };
            self.message(&unit, 4, text);
            return;
        }
        self.fd_store_notify(&unit, def.svc, &dg.text, fds);
        let mut n = parse_notify(&dg.text);
        if !n.ignored.is_empty() {
            tracing::debug!(
                "{unit}: notification fields not supported, ignored: {}",
                n.ignored.join(", ")
            );
        }
        if n.reloading {
            n.monotonic = monotonic_usec(&dg.text).and_then(monotonic_instant);
        }
        if let Some(pid) = n.main_pid {
            n.main_pid = self.take_main_pid(&unit, pid, dg.uid);
        }
        self.feed(&unit, Event::Notify(n));
    }

    /// `MAINPID=`: a process of the service (or any, when root says so)
    /// becomes the tracked main process.
    fn take_main_pid(&mut self, unit: &str, pid: u32, sender_uid: u32) -> Option<u32> {
        let e = self.units.get(unit)?;
        if !e.machine.accepts_main_pid() || e.machine.main_pid == Some(pid) {
            return (e.machine.main_pid == Some(pid)).then_some(pid);
        }
        let st = tree::stat(pid).filter(|s| s.state != 'Z' && s.state != 'X');
        let ok = st.is_some()
            && pid != std::process::id()
            && (sender_uid == 0 || self.belongs_to(unit, pid));
        let Some(st) = st.filter(|_| ok) else {
            self.message(
                unit,
                4,
                format!("{unit}: New main PID {pid} does not belong to the service; refusing."),
            );
            return None;
        };
        let old = e.machine.main_pid;
        self.replace_main_pid(unit, old, pid);
        let ours = st.ppid == std::process::id();
        let handle = if ours {
            ProcHandle::new(pid)
        } else {
            ProcHandle::adopted(pid, st.start_time)
        };
        if let Some(e) = self.units.get_mut(unit) {
            e.main = Some(handle);
            e.main_start_time = Some(st.start_time);
            // Orphans in the session it leads (now or after a setsid()) are the
            // unit's; not those of the session it is in, which MAINPID= from
            // root does not vouch for.
            if !e.sessions.contains(&pid) {
                e.sessions.push(pid);
            }
        }
        if !ours {
            // Not our child: no SIGCHLD will report its end; a pidfd will.
            self.watch_foreign_main(unit, pid);
        }
        self.message(
            unit,
            6,
            format!("{unit}: Supervising process {pid} which is now the main PID (MAINPID=)."),
        );
        Some(pid)
    }

    fn watch_foreign_main(&self, unit: &str, pid: u32) {
        let (Some(tx), Some(fd)) = (self.watcher(), crate::process::signal::pidfd_open(pid)) else {
            return;
        };
        let unit = unit.to_string();
        let _ = crate::process::pidwatch::watch(fd, move || {
            let _ = tx.send(super::watched::Watched::Main { unit, pid });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_access_rules() {
        let table = [
            (NotifyAccess::None, [false, false, false]),
            (NotifyAccess::Main, [true, false, false]),
            (NotifyAccess::Exec, [true, true, false]),
            (NotifyAccess::All, [true, true, true]),
        ];
        for (access, expect) in table {
            let senders = [Sender::Main, Sender::Control, Sender::Other];
            for (who, want) in senders.into_iter().zip(expect) {
                assert_eq!(allowed(access, who), want, "{access:?} {who:?}");
            }
        }
    }

    #[test]
    fn the_address_is_a_path_for_a_user_and_a_stable_abstract_name_for_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let other = tempfile::tempdir().expect("tempdir");
        let rt = dir.path();
        assert_eq!(address(rt, false), NotifyAddr::Path(rt.join("notify.sock")));
        let a = address(rt, true);
        assert_eq!(a, address(rt, true));
        assert_ne!(a, address(other.path(), true));
        assert!(a.env_value().starts_with("@daimon/notify/"));
    }

    #[test]
    fn monotonic_usec_maps_to_the_instant_clock() {
        let now = Instant::now();
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid out-pointer.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let usec = ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000;
        let t = monotonic_instant(usec).expect("converts");
        let diff = if t > now { t - now } else { now - t };
        assert!(diff < Duration::from_millis(50), "{diff:?}");
    }
}
