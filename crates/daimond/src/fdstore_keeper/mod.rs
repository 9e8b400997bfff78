//! The fd store (`daimond --fd-store`, named `daimond-fdstore`): keeps the read
//! ends of services' log pipes open while no daimond runs, so that a daimond
//! killed with SIGKILL loses no service (a service writing to a pipe nobody
//! holds dies of SIGPIPE) and no line.
//!
//! Owns: the descriptors daimond hands it and their metadata, and the spool
//! ([`spool`]) while no daimond reads. From a daimond's death until the next
//! one takes the reading over (`take`, sent once it is ready to read), it
//! reads the kept pipes in its poll loop and appends each chunk, stamped with
//! the realtime and monotonic clocks when read, to the spool: lines written
//! while daimond is down keep their true time, and the next daimond stores
//! them from there (`process::spool_import`). A full spool stops the reading:
//! the pipes fill and their writers wait, nothing is dropped. Pipes handed in
//! by a connected daimond are that daimond's to read; a pty master's EIO at
//! hang-up counts as end of file. daimond starts it in its own session with the listening
//! socket (`run/fdstore.sock`, `SOCK_SEQPACKET`, 0600) as standard input: as a
//! fork of itself early in its start-up, while it is still one thread, or else
//! by executing its own binary again (`/proc/self/exe --fd-store PATH`, a hidden
//! mode dispatched first thing in `main`). Either way its code pages are pages of
//! the file daimond already maps, not a second program's. The peer's uid must be ours
//! (SO_PEERCRED). Messages (see [`proto`]): keep a descriptor
//! with a payload, close one, list all (each sent back with `SCM_RIGHTS`), take
//! the reading over, quit.
//! A closed connection is no reason to exit — the next daimond reconnects; only
//! `quit` (daimond's clean shutdown) ends it. One `poll` loop; no timers.

use std::collections::BTreeMap;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr, accept4,
    getsockopt, recvmsg, sendmsg, setsockopt, sockopt,
};
use nix::sys::time::TimeVal;

pub mod proto;
pub mod spool;

/// Connections served at once (one daimond; a second only while a killed
/// one's connection is being torn down).
const MAX_CLIENTS: usize = 8;
/// Messages handled per connection before polling again (fairness).
const BURST: usize = 64;
/// How long a reply may wait for a peer that does not read.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

struct Kept {
    fd: OwnedFd,
    meta: Box<[u8]>,
    /// End of file (or a pty master's EIO at hang-up) seen while spooling:
    /// not polled again; the next daimond sees it too and closes the pipe.
    eof: bool,
    /// May be spooled: not handed in by a daimond that is still connected
    /// (which reads it itself).
    spool: bool,
}

/// Reading the pipes into the spool while no daimond is connected.
struct Spooler {
    path: PathBuf,
    /// Open while reading; closed when a daimond connects (which may import
    /// and delete the file before the next reading starts).
    file: Option<std::fs::File>,
    size: u64,
    /// Pipes whose metadata is in the open file already.
    described: std::collections::BTreeSet<u64>,
    /// The file cannot be opened or written (no room): reading stops.
    failed: bool,
    buf: Vec<u8>,
}

struct Client {
    fd: OwnedFd,
    /// It asked for the kept pipes (the pipes it hands in later are its own
    /// to read).
    listed: bool,
    /// It took over the reading: the store stops spooling.
    took: bool,
}

enum Next {
    Keep,
    Drop,
    Quit,
}

/// The store's whole life; `path` is the listening socket's, removed on `quit`.
pub fn run(path: Option<PathBuf>) {
    // Its own name in ps and /proc/PID/comm (the executed file is `exe`).
    let _ = nix::sys::prctl::set_name(c"daimond-fdstore");
    // SAFETY: setting dispositions to SIG_IGN installs no handler code.
    unsafe {
        let _ = signal(Signal::SIGHUP, SigHandler::SigIgn);
        let _ = signal(Signal::SIGPIPE, SigHandler::SigIgn);
    }
    // SAFETY: daimond hands us the listening socket as descriptor 0; nothing else
    // in this process owns it.
    let listener = unsafe { OwnedFd::from_raw_fd(0) };
    if getsockopt(&listener, sockopt::SockType) != Ok(SockType::SeqPacket) {
        eprintln!("daimond-fdstore: standard input must be daimond's listening socket");
        std::process::exit(2);
    }
    set_flags(listener.as_raw_fd());
    let uid = nix::unistd::geteuid().as_raw();
    let mut kept: BTreeMap<u64, Kept> = BTreeMap::new();
    let mut clients: Vec<Client> = Vec::new();
    let mut spooler = path.as_deref().map(|p| Spooler {
        path: spool::path_beside(p),
        file: None,
        size: 0,
        described: Default::default(),
        failed: false,
        buf: vec![0u8; spool::CHUNK],
    });
    loop {
        // Read the pipes only while no daimond has asked for them.
        let reading: Vec<u64> = match &mut spooler {
            Some(s) if clients.iter().any(|c| c.took) => {
                s.pause();
                Vec::new()
            }
            Some(s) => match s.ready() {
                true => kept
                    .iter()
                    .filter(|(_, k)| !k.eof && k.spool)
                    .map(|(id, _)| *id)
                    .collect(),
                // Full, or no file: the pipes wait for daimond.
                false => Vec::new(),
            },
            None => Vec::new(),
        };
        let revents: Vec<PollFlags> = {
            let mut fds = Vec::with_capacity(1 + clients.len() + reading.len());
            fds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
            for c in &clients {
                fds.push(PollFd::new(c.fd.as_fd(), PollFlags::POLLIN));
            }
            for id in &reading {
                if let Some(k) = kept.get(id) {
                    fds.push(PollFd::new(k.fd.as_fd(), PollFlags::POLLIN));
                }
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    eprintln!("daimond-fdstore: poll: {e}");
                    std::process::exit(1);
                }
            }
            fds.iter()
                .map(|f| f.revents().unwrap_or(PollFlags::empty()))
                .collect()
        };
        let pipes_at = 1 + clients.len();
        if let Some(s) = &mut spooler {
            for (i, id) in reading.iter().enumerate() {
                if revents.get(pipes_at + i).is_some_and(|r| !r.is_empty())
                    && let Some(k) = kept.get_mut(id)
                {
                    s.read_one(*id, k);
                }
            }
        }
        for i in (0..clients.len()).rev() {
            if revents.get(i + 1).is_none_or(|r| r.is_empty()) {
                continue;
            }
            let c = &mut clients[i];
            match serve(c, &mut kept, spooler.as_mut()) {
                Next::Keep => {}
                Next::Drop => {
                    clients.remove(i);
                    if !clients.iter().any(|c| c.listed) {
                        drain_spool_pipes(&mut kept, spooler.as_mut());
                        // No daimond reads any pipe now.
                        kept.values_mut().for_each(|k| k.spool = true);
                    }
                }
                Next::Quit => {
                    drop(kept);
                    if let Some(p) = &path {
                        let _ = std::fs::remove_file(p);
                    }
                    return;
                }
            }
        }
        if revents.first().is_some_and(|r| !r.is_empty()) {
            accept(&listener, uid, &mut clients);
        }
    }
}

impl Spooler {
    /// Whether there is room to read into (the file is created only when
    /// there is something to write).
    fn ready(&mut self) -> bool {
        if self.failed {
            return false;
        }
        if self.file.is_none() {
            self.size = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        }
        self.size < spool::MAX_BYTES
    }

    /// The file, opened at the first chunk of a reading spell.
    fn file(&mut self) -> Option<&mut std::fs::File> {
        if self.file.is_none() {
            match spool::open_for_append(&self.path) {
                Ok((f, size)) => {
                    self.file = Some(f);
                    self.size = size;
                    self.described.clear();
                }
                Err(e) => {
                    eprintln!("daimond-fdstore: {}: {e}", self.path.display());
                    self.failed = true;
                }
            }
        }
        self.file.as_mut()
    }

    /// A daimond is connected: it may import and delete the file.
    fn pause(&mut self) {
        self.file = None;
        self.failed = false;
    }

    /// Reads one chunk of pipe `id` into the spool, stamped now.
    fn read_one(&mut self, id: u64, k: &mut Kept) -> Got {
        // The file first: a chunk is read only when it has a place to go.
        if self.file().is_none() {
            return Got::End;
        }
        let n = loop {
            // SAFETY: `buf` is valid for writes of its length; the descriptor is open.
            let n = unsafe {
                libc::read(
                    k.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                )
            };
            if n >= 0 {
                break n as usize;
            }
            match Errno::last() {
                Errno::EINTR => continue,
                Errno::EAGAIN => return Got::Empty,
                // EIO: a pty master whose other side hung up; like end of file.
                _ => break 0,
            }
        };
        if n == 0 {
            k.eof = true;
            return Got::End;
        }
        let rt = daimon_journal::realtime_usec();
        let mono = daimon_journal::monotonic_usec();
        let Some(f) = self.file.as_mut() else {
            return Got::End;
        };
        let mut written = 0;
        let mut ok = true;
        if !self.described.contains(&id) {
            ok = spool::append(f, spool::META, id, rt, mono, &k.meta);
            written += spool::HEADER + k.meta.len();
        }
        ok = ok && spool::append(f, spool::DATA, id, rt, mono, &self.buf[..n]);
        written += spool::HEADER + n;
        if ok {
            self.described.insert(id);
            self.size += written as u64;
        } else {
            // No room on the file system: this chunk is lost; stop reading so
            // that what follows waits in the pipes for daimond.
            eprintln!(
                "daimond-fdstore: cannot write {}: {}",
                self.path.display(),
                std::io::Error::last_os_error()
            );
            self.failed = true;
            return Got::End;
        }
        Got::Data
    }
}

/// What one [`Spooler::read_one`] found.
enum Got {
    Data,
    /// Nothing waiting now.
    Empty,
    /// End of file, an error, or no spool to write to.
    End,
}

/// How long a dead daimond's spool pipe may take to reach end of file.
const DRAIN_WAIT: Duration = Duration::from_millis(200);

/// A daimond that died left the chunk it was storing in its spool pipe
/// (`crate::log_spool`). Those bytes go into the spool first, before anything
/// the store reads from the services' pipes, so the next daimond finds them
/// right after the records that name them. The dead daimond's copy of the
/// pipe's write end can outlive its connection by a moment (its exit closes
/// one after the other), so end of file is awaited, within [`DRAIN_WAIT`]; a
/// pipe not at its end by then stays kept and is read like the others.
fn drain_spool_pipes(kept: &mut BTreeMap<u64, Kept>, spooler: Option<&mut Spooler>) {
    let Some(s) = spooler else {
        return;
    };
    let deadline = std::time::Instant::now() + DRAIN_WAIT;
    let ids: Vec<u64> = kept
        .iter()
        .filter(|(_, k)| spool::is_spool_pipe(&k.meta))
        .map(|(id, _)| *id)
        .collect();
    for id in ids {
        let Some(k) = kept.get_mut(&id) else {
            continue;
        };
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let wait = PollTimeout::try_from(left).unwrap_or(PollTimeout::ZERO);
            let mut fds = [PollFd::new(k.fd.as_fd(), PollFlags::POLLIN)];
            let revents = match poll(&mut fds, wait) {
                Ok(0) => break, // not at its end in time
                Ok(_) => fds[0].revents().unwrap_or(PollFlags::empty()),
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            };
            if revents.contains(PollFlags::POLLIN) {
                // Data: spooled. End of file (or an error): the pipe is done.
                if matches!(s.read_one(id, k), Got::End) {
                    break;
                }
            } else {
                // Hung up and empty (no file is created for nothing).
                k.eof = true;
                break;
            }
        }
        if k.eof {
            kept.remove(&id);
        }
    }
}

/// Close-on-exec and non-blocking (only this process uses the descriptor now).
fn set_flags(fd: RawFd) {
    // SAFETY: fcntl on a descriptor we own, integer arguments only.
    unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
    }
}

fn accept(listener: &OwnedFd, uid: u32, clients: &mut Vec<Client>) {
    loop {
        let fd = match accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
            // SAFETY: accept4 returned a new descriptor that nothing else owns.
            Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        };
        let peer_ok = getsockopt(&fd, sockopt::PeerCredentials).is_ok_and(|c| c.uid() == uid);
        if !peer_ok || clients.len() >= MAX_CLIENTS {
            continue;
        }
        let tv = TimeVal::new(SEND_TIMEOUT.as_secs() as _, 0);
        let _ = setsockopt(&fd, sockopt::SendTimeout, &tv);
        clients.push(Client {
            fd,
            listed: false,
            took: false,
        });
    }
}

/// Handles what one connection sent. The spooling goes on after a list
/// request (daimond is still starting: lines keep their time) and stops at a
/// take request, answered once the last spooled chunk is written.
fn serve(
    client: &mut Client,
    kept: &mut BTreeMap<u64, Kept>,
    spooler: Option<&mut Spooler>,
) -> Next {
    let mut spooler = spooler;
    let conn = &client.fd;
    let mut buf = [0u8; proto::MAX_MSG];
    for _ in 0..BURST {
        let mut space = nix::cmsg_space!([RawFd; 4]);
        let (len, flags, mut fds) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC;
            let msg = match recvmsg::<UnixAddr>(conn.as_raw_fd(), &mut iov, Some(&mut space), flags)
            {
                Ok(m) => m,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Next::Keep,
                Err(_) => return Next::Drop,
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
            (msg.bytes, msg.flags, fds)
        };
        if len == 0 && fds.is_empty() {
            return Next::Drop; // the peer closed the connection
        }
        if flags.intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC) {
            continue; // oversized: ignored (its descriptors close on drop)
        }
        let Some((op, id, meta)) = proto::decode(&buf[..len]) else {
            continue;
        };
        match op {
            proto::OP_PUT if fds.len() == 1 => {
                let room = kept.len() < proto::MAX_ENTRIES || kept.contains_key(&id);
                if let Some(fd) = fds.pop().filter(|_| room) {
                    let meta = meta.into();
                    // Handed in by a daimond that has the list: it reads it.
                    let spool = !client.listed;
                    kept.insert(
                        id,
                        Kept {
                            fd,
                            meta,
                            eof: false,
                            spool,
                        },
                    );
                }
            }
            proto::OP_CLOSE => {
                kept.remove(&id);
            }
            proto::OP_LIST => {
                client.listed = true;
                if !send_all(conn, kept) {
                    return Next::Drop;
                }
            }
            proto::OP_TAKE => {
                client.took = true;
                if let Some(s) = spooler.as_deref_mut() {
                    s.pause();
                }
                if !done(conn) {
                    return Next::Drop;
                }
            }
            proto::OP_QUIT => return Next::Quit,
            _ => {}
        }
    }
    Next::Keep
}

/// Answers a list request: every kept descriptor, then the end marker.
fn send_all(conn: &OwnedFd, kept: &BTreeMap<u64, Kept>) -> bool {
    for (id, k) in kept {
        let Some(msg) = proto::encode(proto::OP_ENTRY, *id, &k.meta) else {
            continue;
        };
        let raw = [k.fd.as_raw_fd()];
        if !send(conn, &msg, &[ControlMessage::ScmRights(&raw)]) {
            return false;
        }
    }
    done(conn)
}

/// The end of an answer; carries the store's PID.
fn done(conn: &OwnedFd) -> bool {
    match proto::encode(proto::OP_DONE, u64::from(std::process::id()), &[]) {
        Some(msg) => send(conn, &msg, &[]),
        None => false,
    }
}

fn send(conn: &OwnedFd, msg: &[u8], cmsgs: &[ControlMessage<'_>]) -> bool {
    loop {
        let iov = [IoSlice::new(msg)];
        match sendmsg::<UnixAddr>(conn.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return true,
            Err(Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
}
