//! What wakes `daimon top`: keys, signals and daimond's news all arrive as
//! [`Msg`]s on one channel, so the main loop sleeps in one `recv` and nothing
//! polls on a period.
//!
//! Keys: a thread sleeps in poll(2) on stdin and on a pipe of its own, and only
//! then lets crossterm read and parse what came. The pipe is how `attach`
//! pauses it: while `daimon attach` runs in the terminal, nothing of ours may
//! read a byte the user types for the service.
//!
//! Signals: signal-hook's self-pipe thread (crossterm registers SIGWINCH the
//! same way, so both handlers run). SIGTERM, SIGHUP and SIGINT end `top`
//! through its main loop, which restores the terminal on the way out.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc::{Receiver, Sender, SyncSender, sync_channel};

use ratatui::crossterm::event::{Event, KeyEvent, KeyEventKind};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGWINCH};
use signal_hook::iterator::Signals;

/// Everything the main loop waits for.
pub enum Msg {
    Key(KeyEvent),
    /// The window changed size.
    Resize,
    /// SIGTERM, SIGHUP, SIGINT, or stdin went away.
    Quit,
    /// A unit's state changed ("": some changes were coalesced, re-read all).
    Changed(String),
    /// Log lines of the pane's follow stream `generation`.
    Logs {
        generation: u64,
        lines: Vec<String>,
    },
    /// A start/stop/restart/reload finished: its one-line outcome.
    JobDone(String),
}

/// Pauses and resumes the key thread.
pub struct Keys {
    pause: OwnedFd,
    paused: Receiver<()>,
    resume: SyncSender<()>,
}

impl Keys {
    /// Returns once the key thread no longer reads stdin.
    pub fn pause(&self) {
        if write_byte(&self.pause) {
            // Bounded: in the rare tie described in `read_keys` the thread
            // waits in crossterm's read until the next key.
            let _ = self.paused.recv_timeout(std::time::Duration::from_secs(1));
        }
    }

    pub fn resume(&self) {
        let _ = self.resume.send(());
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: a two-int array, as pipe2 wants.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just made by pipe2 and are owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn write_byte(fd: &OwnedFd) -> bool {
    // SAFETY: a valid fd and a one-byte buffer.
    unsafe { libc::write(fd.as_raw_fd(), [0u8].as_ptr().cast(), 1) == 1 }
}

/// Starts the key and signal threads, feeding `tx`.
pub fn start(tx: &Sender<Msg>) -> io::Result<Keys> {
    let mut signals = Signals::new([SIGWINCH, SIGTERM, SIGHUP, SIGINT])?;
    let (winch_read, winch_write) = pipe()?;
    let sig_tx = tx.clone();
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let msg = if sig == SIGWINCH {
                // The key thread lets crossterm take its own SIGWINCH now.
                write_byte(&winch_write);
                Msg::Resize
            } else {
                Msg::Quit
            };
            if sig_tx.send(msg).is_err() {
                return;
            }
        }
    });
    let (ctl_read, ctl_write) = pipe()?;
    let (paused_tx, paused) = sync_channel(0);
    let (resume, resume_rx) = sync_channel(0);
    let key_tx = tx.clone();
    std::thread::spawn(move || {
        let wake = Wake {
            ctl: ctl_read,
            winch: winch_read,
        };
        read_keys(wake, key_tx, paused_tx, resume_rx)
    });
    Ok(Keys {
        pause: ctl_write,
        paused,
        resume,
    })
}

/// The pipes the key thread sleeps on besides stdin.
struct Wake {
    /// A byte: pause (see [`Keys::pause`]).
    ctl: OwnedFd,
    /// A byte per SIGWINCH.
    winch: OwnedFd,
}

fn drain(fd: &OwnedFd) {
    let mut b = [0u8; 64];
    // SAFETY: a valid fd and buffer; poll(2) said it is readable.
    unsafe { libc::read(fd.as_raw_fd(), b.as_mut_ptr().cast(), b.len()) };
}

fn read_keys(wake: Wake, tx: Sender<Msg>, paused: SyncSender<()>, resume: Receiver<()>) {
    loop {
        let mut fds = [0, wake.ctl.as_raw_fd(), wake.winch.as_raw_fd()].map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: valid pollfds, length given; no timeout (-1): keys, a pause
        // or a resize are the only reasons to wake.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            let _ = tx.send(Msg::Quit);
            return;
        }
        if fds[1].revents != 0 {
            drain(&wake.ctl);
            if paused.send(()).is_err() || resume.recv().is_err() {
                return;
            }
            continue;
        }
        let stdin = fds[0].revents;
        if stdin & libc::POLLIN == 0
            && stdin & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
        {
            // Nobody is there to type or read the screen.
            let _ = tx.send(Msg::Quit);
            return;
        }
        if fds[2].revents != 0 {
            drain(&wake.winch);
        }
        // crossterm's event source sleeps in an edge-triggered epoll on stdin
        // and on its own SIGWINCH pipe, and returns from a wait that saw both
        // with the resize alone: the key's edge is then spent. So it is asked
        // right after each SIGWINCH (above), while no key is pending; and
        // when stdin is readable yet it saw nothing (the rare tie), a
        // blocking read takes the bytes along with the next key's edge.
        let stuck = stdin & libc::POLLIN != 0;
        let mut first = true;
        loop {
            let ready = match ratatui::crossterm::event::poll(std::time::Duration::ZERO) {
                Ok(r) => r,
                Err(_) => {
                    let _ = tx.send(Msg::Quit);
                    return;
                }
            };
            if !(ready || first && stuck) {
                break;
            }
            first = false;
            let msg = match ratatui::crossterm::event::read() {
                Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => Msg::Key(k),
                Ok(Event::Resize(..)) => Msg::Resize,
                Ok(_) => continue,
                Err(_) => Msg::Quit,
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
    }
}
