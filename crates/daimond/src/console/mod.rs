//! Service terminals: the pty master of each service started with
//! `StandardInput=tty`, and the clients attached to it (`daimon attach`).
//!
//! Owns, per unit: the master (read by one task, [`reader`], whether or not
//! anyone is attached, so a service never blocks on output for want of a
//! reader), a replay buffer of the last [`REPLAY`] bytes of output (what a
//! client sees first, so a prompt printed before it attached is there), and
//! each attached client's output queue. The log store gets every line as well
//! (`reader`), and the fd store a copy of the master, so that it outlives a
//! daimond killed with SIGKILL (`crate::process::fdstore`).
//!
//! Slow clients never slow the service: output is appended to a client's queue
//! without waiting, and a client whose queue passes [`CLIENT_QUEUE`] bytes is
//! dropped with a reason. Size rule, as in dtach and tmux's `window-size
//! latest`: the most recent client that is not read-only to attach or to
//! resize sets the terminal's size; the size stays when it detaches.
//!
//! Everything here runs on daimond's one event-loop thread (`Rc`, `RefCell`).

pub mod reader;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::rc::Rc;

use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

use crate::process::pty;

/// Bytes of recent output replayed to a client that attaches.
pub const REPLAY: usize = 64 * 1024;
/// Output queued for one client beyond which it is dropped.
pub const CLIENT_QUEUE: usize = 1024 * 1024;

/// Every unit's terminal, by unit name. Shared by the owner (which starts
/// them) and the socket server (which attaches clients).
#[derive(Default, Clone)]
pub struct Consoles(Rc<RefCell<HashMap<String, Rc<Console>>>>);

impl Consoles {
    /// The terminal of `unit`, while its master is open.
    pub fn get(&self, unit: &str) -> Option<Rc<Console>> {
        self.0
            .borrow()
            .get(unit)
            .filter(|c| !c.ended.get())
            .cloned()
    }

    fn insert(&self, c: Rc<Console>) {
        self.0.borrow_mut().insert(c.unit.clone(), c);
    }

    /// Forgets `c` (its master hung up), unless a newer one replaced it.
    fn remove(&self, c: &Rc<Console>) {
        let mut map = self.0.borrow_mut();
        if map.get(&c.unit).is_some_and(|x| Rc::ptr_eq(x, c)) {
            map.remove(&c.unit);
        }
    }
}

/// What a client's task finds in its queue.
#[derive(Default)]
pub struct ClientQueue {
    pub output: Vec<u8>,
    /// Set when daimond stops serving this client; the reason to tell it.
    pub dropped: Option<String>,
    /// The service's terminal closed.
    pub ended: bool,
}

/// One attached client, as the console sees it.
pub struct ClientSlot {
    pub id: u64,
    pub queue: RefCell<ClientQueue>,
    /// Wakes the client's task when its queue changed.
    pub wake: Notify,
}

pub struct Console {
    pub unit: String,
    /// The main process the terminal was made for.
    pub pid: u32,
    master: AsyncFd<OwnedFd>,
    replay: RefCell<VecDeque<u8>>,
    /// Whether the replay buffer ever dropped its oldest bytes.
    trimmed: Cell<bool>,
    clients: RefCell<Vec<Rc<ClientSlot>>>,
    next_client: Cell<u64>,
    ended: Cell<bool>,
}

impl Console {
    /// Registers `master` (non-blocking from here on) for reading and writing.
    fn new(unit: String, pid: u32, master: OwnedFd) -> std::io::Result<Console> {
        set_nonblocking(&master)?;
        let interest = tokio::io::Interest::READABLE | tokio::io::Interest::WRITABLE;
        // SAFETY: the `AsyncFd` owns the `OwnedFd`, which names the same open
        // descriptor until the `AsyncFd` is dropped (and deregisters it).
        let master = unsafe { AsyncFd::register_with_interest(master, interest) }
            .map_err(std::io::Error::from)?;
        Ok(Console {
            unit,
            pid,
            master,
            replay: RefCell::new(VecDeque::new()),
            trimmed: Cell::new(false),
            clients: RefCell::new(Vec::new()),
            next_client: Cell::new(1),
            ended: Cell::new(false),
        })
    }

    /// A new client: its slot (whose queue starts with the replay) and, unless
    /// read-only, the terminal's size from now on.
    pub fn join(&self) -> Rc<ClientSlot> {
        let id = self.next_client.get();
        self.next_client.set(id + 1);
        let slot = Rc::new(ClientSlot {
            id,
            queue: RefCell::new(ClientQueue {
                output: self.replay(),
                dropped: None,
                ended: self.ended.get(),
            }),
            wake: Notify::new(),
        });
        slot.wake.notify_one();
        self.clients.borrow_mut().push(slot.clone());
        slot
    }

    /// The client `id` left.
    pub fn leave(&self, id: u64) {
        self.clients.borrow_mut().retain(|c| c.id != id);
    }

    /// The replay buffer; when it was trimmed, from its first full line on (so
    /// that it does not begin in the middle of a character or an escape
    /// sequence).
    fn replay(&self) -> Vec<u8> {
        let r = self.replay.borrow();
        let bytes: Vec<u8> = r.iter().copied().collect();
        if self.trimmed.get()
            && let Some(i) = bytes.iter().position(|&b| b == b'\n')
        {
            return bytes[i + 1..].to_vec();
        }
        bytes
    }

    /// Output of the service: into the replay buffer and every client's
    /// queue, never waiting; a client past its bound is dropped.
    pub fn output(&self, bytes: &[u8]) {
        {
            let mut r = self.replay.borrow_mut();
            r.extend(bytes);
            if r.len() > REPLAY {
                let extra = r.len() - REPLAY;
                r.drain(..extra);
                self.trimmed.set(true);
            }
        }
        self.clients.borrow_mut().retain(|c| {
            let mut q = c.queue.borrow_mut();
            if q.output.len() + bytes.len() > CLIENT_QUEUE {
                q.output.clear();
                q.dropped = Some(format!(
                    "detached by daimond: this client fell more than {} KiB behind the \
                     output of {}; attach again",
                    CLIENT_QUEUE / 1024,
                    self.unit
                ));
                c.wake.notify_one();
                return false;
            }
            q.output.extend_from_slice(bytes);
            c.wake.notify_one();
            true
        });
    }

    /// The master hung up: every client is told, and then forgotten.
    fn end(&self) {
        self.ended.set(true);
        for c in self.clients.borrow_mut().drain(..) {
            c.queue.borrow_mut().ended = true;
            c.wake.notify_one();
        }
    }

    /// Sets the terminal's size (see the module comment for whose wins).
    pub fn resize(&self, rows: u16, cols: u16) {
        if rows == 0 || cols == 0 {
            return;
        }
        if let Err(e) = pty::set_size(self.master.get_ref().as_fd(), rows, cols) {
            tracing::debug!("resizing the terminal of {}: {e}", self.unit);
        }
    }

    /// Writes `bytes` to the terminal (what a client typed), waiting while the
    /// terminal's input buffer is full (the service does not read): only the
    /// client's own task waits.
    pub async fn input(&self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let mut guard = self.master.writable().await?;
            match guard.try_io(|fd| {
                // SAFETY: writing from a valid slice to an open descriptor.
                let n = unsafe {
                    libc::write(fd.get_ref().as_raw_fd(), bytes.as_ptr().cast(), bytes.len())
                };
                if n < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            }) {
                Ok(Ok(n)) => bytes = &bytes[n..],
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => {}
            }
        }
        Ok(())
    }
}

fn set_nonblocking(fd: &OwnedFd) -> std::io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let fl = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(fl | OFlag::O_NONBLOCK))?;
    Ok(())
}

#[cfg(test)]
mod tests;
