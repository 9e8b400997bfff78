//! daimond's side of the fd store (`daimond --fd-store`, named `daimond-fdstore`).
//!
//! Owns: finding or starting the store for this home, and the connection to it.
//! Every service pipe's read end is also handed to the store with what it
//! carries ([`PipeMeta`]); at end of file daimond tells the store to close its
//! copy. While the store holds a read end, a service never dies of SIGPIPE
//! because daimond was killed, and what it writes meanwhile is spooled by the
//! store with its time for the next daimond, which gets every kept pipe back
//! from [`FdStore::open`] (and the spool: `super::spool_import`). A service's
//! pty master is kept the same way ([`PipeMeta::pty`]).
//!
//! Calls are short blocking `sendmsg`s on a local `SOCK_SEQPACKET` socket with a
//! send timeout: the store only stores, so they return at once. If the store is
//! gone, daimond says so once and works on without it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, Backlog, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
    UnixAddr, bind, connect, listen, recvmsg, sendmsg, setsockopt, socket, sockopt,
};
use nix::sys::time::TimeVal;

use super::spawn::{ExecOutcome, SpawnSpec, Stdio, spawn};
use crate::fdstore_keeper::proto;

mod meta;
mod other;

pub use meta::PipeMeta;

/// The store, shared by the owner and every pipe reader (one thread).
pub type SharedStore = Rc<RefCell<FdStore>>;

/// A send waits at most this long for a store that does not read.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);
/// Listing waits at most this long per message.
const RECV_TIMEOUT: Duration = Duration::from_secs(3);

/// A pipe the store kept from an earlier daimond.
pub struct StoredPipe {
    pub id: u64,
    pub fd: OwnedFd,
    /// `None`: unreadable metadata (the pipe is drained into nothing and closed).
    pub meta: Option<PipeMeta>,
}

/// The connection to the store; without one every call does nothing.
pub struct FdStore {
    conn: Option<OwnedFd>,
    /// The store's PID (it says so at the end of its list), so that sweeps for
    /// processes escaped from services never mistake daimond's own helper for
    /// one.
    pid: Option<u32>,
    next_id: u64,
    warned: bool,
    /// The store's socket, to start a new store when this one dies.
    path: Option<PathBuf>,
    /// A copy of every pipe the store should hold, by id: what a new store is
    /// handed when the old one died ([`FdStore::restart`]).
    kept: BTreeMap<u64, (OwnedFd, PipeMeta)>,
    /// Descriptors of other kinds than pipes (see [`OtherKept`]).
    other: other::OtherKept,
}

impl FdStore {
    /// No store (it could not be started); pipes work as before.
    pub fn disabled() -> FdStore {
        FdStore {
            conn: None,
            pid: None,
            next_id: 1,
            warned: true,
            path: None,
            kept: BTreeMap::new(),
            other: other::OtherKept::default(),
        }
    }

    /// Starts the store of `runtime` if none answers, without waiting for it:
    /// called early in daimond's start-up (PID file held, no thread started
    /// yet), so that the store comes up while daimond opens its log store, and
    /// [`FdStore::open`] later finds it listening. A failure here is reported by
    /// `open`, which tries again.
    ///
    /// While daimond is still one thread, the store is a plain fork of it (no
    /// exec): the child only maps the few code pages the store runs, instead of
    /// a whole program's start-up (loader, std init, argument parsing) touching
    /// pages all over daimond's binary, and it starts sooner. Once daimond has
    /// threads, only fork-and-exec is sound, which `open` does.
    ///
    /// True when it started one (which then holds no pipe yet: see
    /// [`FdStore::end_unused`]).
    pub fn start_early(runtime: &Path) -> bool {
        let path = runtime.join(proto::SOCKET_NAME);
        if connect_to(&path).is_ok() {
            return false;
        }
        if !single_threaded() {
            return start(&path).is_ok();
        }
        let Ok(listener) = listen_at(&path) else {
            return false;
        };
        // SAFETY: this process has one thread (checked just above), so the child
        // may run ordinary code: no lock can be held by a thread that does not
        // exist in it.
        match unsafe { libc::fork() } {
            0 => {
                // The child never returns into daimond's `main` (whose
                // destructors would remove daimond's PID file): the store runs,
                // then the process ends here, panicking or not.
                let _ = std::panic::catch_unwind(move || {
                    become_store(listener);
                    crate::fdstore_keeper::run(Some(path));
                });
                // SAFETY: _exit ends the process without running anything of
                // daimond's.
                unsafe { libc::_exit(0) }
            }
            -1 => false,
            pid => {
                tracing::info!("started the fd store (PID {pid})");
                true
            }
        }
    }

    /// Ends the store [`FdStore::start_early`] started for a daimond that then
    /// failed to start: it holds no pipe, and left alone it would wait for a
    /// daimond for ever. It removes its socket as it quits. (A store that was
    /// there before holds the pipes of running services and is never ended here.)
    pub fn end_unused(runtime: &Path) {
        if let Ok(conn) = connect_to(&runtime.join(proto::SOCKET_NAME)) {
            let mut store = FdStore {
                conn: Some(conn),
                pid: None,
                next_id: 1,
                warned: true,
                path: None,
                kept: BTreeMap::new(),
                other: other::OtherKept::default(),
            };
            store.quit();
        }
    }

    /// Connects to the store of `runtime`, starting one when none answers, and
    /// takes back every pipe it keeps (they stay kept until [`FdStore::close`]).
    pub fn open(runtime: &Path) -> (FdStore, Vec<StoredPipe>) {
        let path = runtime.join(proto::SOCKET_NAME);
        let conn = match connect_to(&path) {
            Ok(c) => Some(c),
            Err(_) => match start(&path) {
                Ok(()) => match connect_to(&path) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::warn!("cannot reach the fd store just started: {e}");
                        None
                    }
                },
                Err(e) => {
                    tracing::warn!(
                        "no fd store ({e}): if daimond is killed, its services lose their \
                         output pipes"
                    );
                    None
                }
            },
        };
        let Some(conn) = conn else {
            let mut store = FdStore::disabled();
            store.path = Some(path);
            return (store, Vec::new());
        };
        let mut store = FdStore {
            conn: Some(conn),
            pid: None,
            next_id: 1,
            warned: false,
            path: Some(path),
            kept: BTreeMap::new(),
            other: other::OtherKept::default(),
        };
        let pipes = match store.list() {
            Ok(p) => p,
            Err(e) => {
                store.gone(&e);
                Vec::new()
            }
        };
        let other = store.other.listed.iter().map(|(id, _, _)| id + 1).max();
        store.next_id = pipes
            .iter()
            .map(|p| p.id + 1)
            .chain(other)
            .max()
            .unwrap_or(1);
        (store, pipes)
    }

    /// The store's PID, while connected.
    pub fn pid(&self) -> Option<u32> {
        self.conn.as_ref().and(self.pid)
    }

    /// Hands a copy of `fd` (a pipe's read end) to the store; the id to close it
    /// with, or `None` when there is no store.
    pub fn put(&mut self, fd: BorrowedFd<'_>, meta: &PipeMeta) -> Option<u64> {
        // Without a store's socket there is nothing to hand pipes to, now or later.
        self.path.as_ref()?;
        let id = self.next_id;
        self.next_id += 1;
        self.remember(id, fd, meta);
        if self.conn.is_some()
            && let Err(e) = self.send_pipe(id, fd, meta)
        {
            self.gone(&e);
        }
        Some(id)
    }

    /// Keeps a copy of pipe `id` (already in the store) for a store started
    /// after this one died.
    pub fn remember(&mut self, id: u64, fd: BorrowedFd<'_>, meta: &PipeMeta) {
        match fd.try_clone_to_owned() {
            Ok(copy) => {
                self.kept.insert(id, (copy, meta.clone()));
            }
            Err(e) => tracing::warn!(
                "cannot keep a copy of {}'s pipe ({e}): a new fd store would not get it",
                meta.unit
            ),
        }
    }

    fn send_pipe(&self, id: u64, fd: BorrowedFd<'_>, meta: &PipeMeta) -> io::Result<()> {
        let msg = proto::encode(proto::OP_PUT, id, &meta.to_bytes())
            .ok_or(io::ErrorKind::InvalidInput)?;
        let raw = [fd.as_raw_fd()];
        self.send(&msg, &[ControlMessage::ScmRights(&raw)])
    }

    /// The store died: start a new one and hand it every pipe again, under the
    /// same ids. Returns the new store's PID.
    pub fn restart(&mut self) -> io::Result<u32> {
        self.conn = None;
        self.pid = None;
        let path = self.path.clone().ok_or(io::ErrorKind::NotFound)?;
        start(&path)?;
        self.conn = Some(connect_to(&path)?);
        // An empty list; its end carries the new store's PID.
        self.list()?;
        for (id, (fd, meta)) in &self.kept {
            self.send_pipe(*id, fd.as_fd(), meta)?;
        }
        for (id, (fd, payload)) in &self.other.kept {
            self.send_other(*id, fd.as_fd(), payload)?;
        }
        self.warned = false;
        self.pid
            .ok_or_else(|| io::Error::other("the new fd store did not say its PID"))
    }

    /// Takes the reading of the kept pipes over from the store, which spools
    /// them until then (`fdstore_keeper::spool`) and answers once its last
    /// chunk is in the spool.
    pub fn take(&mut self) -> io::Result<()> {
        let msg = proto::encode(proto::OP_TAKE, 0, &[]).ok_or(io::ErrorKind::InvalidInput)?;
        self.send(&msg, &[])?;
        let Some(conn) = &self.conn else {
            return Ok(());
        };
        let mut buf = vec![0u8; proto::MAX_MSG];
        loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = match recvmsg::<UnixAddr>(conn.as_raw_fd(), &mut iov, None, MsgFlags::empty())
            {
                Ok(m) => m,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            let len = msg.bytes;
            if len == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if buf.first() == Some(&proto::OP_DONE) {
                return Ok(());
            }
        }
    }

    /// A copy of the connection (see `LogMsg::SpoolStart`).
    pub fn connection(&self) -> Option<OwnedFd> {
        self.conn.as_ref().and_then(|c| c.try_clone().ok())
    }

    /// The PID of the last store connected to, even after it went away.
    pub fn last_pid(&self) -> Option<u32> {
        self.pid
    }

    /// How many pipes a store holds (or would be handed).
    pub fn pipes(&self) -> usize {
        self.kept.len()
    }

    /// The pipe `id` reached end of file: the store closes its copy.
    pub fn close(&mut self, id: u64) {
        self.kept.remove(&id);
        self.other.kept.remove(&id);
        if self.conn.is_none() {
            return;
        }
        if let Some(msg) = proto::encode(proto::OP_CLOSE, id, &[])
            && let Err(e) = self.send(&msg, &[])
        {
            self.gone(&e);
        }
    }

    /// Clean shutdown: the store closes everything and exits.
    pub fn quit(&mut self) {
        if self.conn.is_none() {
            return;
        }
        if let Some(msg) = proto::encode(proto::OP_QUIT, 0, &[]) {
            let _ = self.send(&msg, &[]);
        }
        self.conn = None;
    }

    fn gone(&mut self, e: &io::Error) {
        self.conn = None;
        if !std::mem::replace(&mut self.warned, true) {
            tracing::warn!(
                "the fd store is gone ({e}): if daimond is killed now, its services lose \
                 their output pipes"
            );
        }
    }

    fn send(&self, msg: &[u8], cmsgs: &[ControlMessage<'_>]) -> io::Result<()> {
        let Some(conn) = &self.conn else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        let iov = [IoSlice::new(msg)];
        loop {
            match sendmsg::<UnixAddr>(conn.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn list(&mut self) -> io::Result<Vec<StoredPipe>> {
        let msg = proto::encode(proto::OP_LIST, 0, &[]).ok_or(io::ErrorKind::InvalidInput)?;
        self.send(&msg, &[])?;
        let Some(conn) = &self.conn else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut buf = vec![0u8; proto::MAX_MSG];
        loop {
            let mut space = nix::cmsg_space!([RawFd; 4]);
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = match recvmsg::<UnixAddr>(
                conn.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => m,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            let mut fds = Vec::new();
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    if let ControlMessageOwned::ScmRights(raw) = c {
                        // SAFETY: SCM_RIGHTS installed these descriptors in this
                        // process for us alone.
                        fds.extend(raw.into_iter().map(|r| unsafe { OwnedFd::from_raw_fd(r) }));
                    }
                }
            }
            let len = msg.bytes;
            if len == 0 && fds.is_empty() {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let Some((op, id, meta)) = proto::decode(&buf[..len]) else {
                continue;
            };
            match op {
                proto::OP_DONE => {
                    // Its PID (0 from a store that does not say it). Not the
                    // socket's peer credentials: those name whoever called
                    // listen(), daimond itself when it started the store.
                    self.pid = u32::try_from(id).ok().filter(|p| *p != 0);
                    return Ok(out);
                }
                proto::OP_ENTRY if fds.len() == 1 && other::is_other(meta) => {
                    if let Some(fd) = fds.pop() {
                        self.other.listed.push((id, fd, meta.to_vec()));
                    }
                }
                proto::OP_ENTRY if fds.len() == 1 => {
                    if let Some(fd) = fds.pop() {
                        let meta = PipeMeta::from_bytes(meta);
                        out.push(StoredPipe { id, fd, meta });
                    }
                }
                _ => {}
            }
        }
    }
}

fn new_socket() -> io::Result<OwnedFd> {
    Ok(socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?)
}

fn connect_to(path: &Path) -> io::Result<OwnedFd> {
    let fd = new_socket()?;
    let addr = UnixAddr::new(path)?;
    loop {
        match connect(fd.as_raw_fd(), &addr) {
            Ok(()) => break,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let tv = |d: Duration| TimeVal::new(d.as_secs() as _, 0);
    setsockopt(&fd, sockopt::SendTimeout, &tv(SEND_TIMEOUT))?;
    setsockopt(&fd, sockopt::ReceiveTimeout, &tv(RECV_TIMEOUT))?;
    Ok(fd)
}

/// daimond's own executable, as the kernel knows it: still the running file
/// even if an upgrade replaced or removed it on disk.
const SELF_EXE: &std::ffi::CStr = c"/proc/self/exe";

/// A listening socket at `path` (0600), replacing a dead store's file.
fn listen_at(path: &Path) -> io::Result<OwnedFd> {
    let _ = std::fs::remove_file(path);
    let listener = new_socket()?;
    bind(listener.as_raw_fd(), &UnixAddr::new(path)?)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    listen(&listener, Backlog::new(16)?)?;
    Ok(listener)
}

/// Whether this process has exactly one thread (from /proc/self/stat).
fn single_threaded() -> bool {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return false;
    };
    // Field 20 (num_threads), counted after the parenthesised command name.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(17))
        .is_some_and(|n| n == "1")
}

/// In the forked child: what spawning the store with [`start`] sets up — its
/// own session, "/" as working directory, umask 077, the listening socket as
/// standard input, /dev/null as output — and none of daimond's descriptors
/// (the PID file's lock above all: a store holding it would keep every later
/// daimond out).
fn become_store(listener: OwnedFd) {
    // SAFETY: plain system calls on descriptors this process owns; the child
    // is single-threaded.
    unsafe {
        libc::setsid();
        libc::umask(0o077);
        let _ = libc::chdir(c"/".as_ptr());
        libc::dup2(listener.as_raw_fd(), 0);
        drop(listener);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 1);
            libc::dup2(null, 2);
        }
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            for fd in 3..65536 {
                libc::close(fd);
            }
        }
    }
}

/// Binds and listens on `path` (0600), then starts the store with that socket
/// as its standard input: it accepts connections from its first instruction on,
/// and the caller may connect at once.
fn start(path: &Path) -> io::Result<()> {
    let listener = listen_at(path)?;
    let cstr = |s: &std::ffi::OsStr| {
        std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(s))
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
    };
    let spec = SpawnSpec {
        program: SELF_EXE.into(),
        argv: vec![
            c"daimond-fdstore".into(),
            cstr(std::ffi::OsStr::new(proto::STORE_ARG))?,
            cstr(path.as_os_str())?,
        ],
        // Not empty: an empty environ is how a process caught inside execve()
        // looks to GuessMainPID=, which then waits for it (tree::invocation_of).
        envp: vec![c"DAIMON_FDSTORE=1".into()],
        workdir: Some((c"/".into(), true)),
        umask: 0o077,
        nice: None,
        rlimits: Vec::new(),
        no_new_privileges: false,
        credentials: None,
        stdin: Stdio::Fd(listener.as_raw_fd()),
        stdout: Stdio::Null,
        stderr: Stdio::Null,
        pass_fds: Vec::new(),
        join_cgroups: Vec::new(),
    };
    let program = String::from_utf8_lossy(spec.program.as_bytes()).into_owned();
    let child = spawn(spec)?;
    match child.exec.wait(Duration::from_secs(10)) {
        ExecOutcome::Exec => {}
        ExecOutcome::Failed(f) => return Err(io::Error::other(f.describe(&program, None))),
        ExecOutcome::Pending => {
            return Err(io::Error::other(format!(
                "{program} (PID {}) did not start within 10 s",
                child.pid
            )));
        }
    }
    tracing::info!("started the fd store (PID {})", child.pid);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_are_bounded() {
        let msg = proto::encode(proto::OP_PUT, 7, b"meta").expect("fits");
        assert_eq!(proto::decode(&msg), Some((proto::OP_PUT, 7, &b"meta"[..])));
        assert!(proto::encode(proto::OP_PUT, 1, &[0; proto::MAX_META + 1]).is_none());
        assert!(proto::decode(&[proto::OP_PUT, 1]).is_none());
    }
}
