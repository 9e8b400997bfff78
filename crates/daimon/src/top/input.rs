//! What wakes `daimon top`: keys, signals and daimond's news all arrive as
//! [`Msg`]s on one channel, so the main loop sleeps in one `recv` and nothing
//! polls on a period.
//!
//! Keys: a thread sleeps in poll(2) on stdin and on a pipe of its own, reads
//! what was typed and parses it (`parse`). The pipe is how `attach` pauses
//! it: while `daimon attach` runs in the terminal, nothing of ours may read a
//! byte the user types for the service.
//!
//! Signals: signal-hook's self-pipe thread. SIGWINCH redraws; SIGTERM, SIGHUP
//! and SIGINT end `top` through its main loop, which restores the terminal on
//! the way out.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc::{Receiver, Sender, SyncSender, sync_channel};

use ratatui::crossterm::event::KeyEvent;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGWINCH};
use signal_hook::iterator::Signals;

use super::parse;

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
            let _ = self.paused.recv();
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
    let sig_tx = tx.clone();
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let msg = if sig == SIGWINCH {
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
    std::thread::spawn(move || read_keys(ctl_read, key_tx, paused_tx, resume_rx));
    Ok(Keys {
        pause: ctl_write,
        paused,
        resume,
    })
}

fn read_keys(ctl: OwnedFd, tx: Sender<Msg>, paused: SyncSender<()>, resume: Receiver<()>) {
    // Bytes of an escape sequence cut by the end of a read.
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let mut fds = [0, ctl.as_raw_fd()].map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: valid pollfds, length given; no timeout (-1): keys or a
        // pause are the only reasons to wake.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            let _ = tx.send(Msg::Quit);
            return;
        }
        if fds[1].revents != 0 {
            let mut b = [0u8; 16];
            // SAFETY: a valid fd and buffer; poll(2) said it is readable.
            unsafe { libc::read(ctl.as_raw_fd(), b.as_mut_ptr().cast(), b.len()) };
            if paused.send(()).is_err() || resume.recv().is_err() {
                return;
            }
            continue;
        }
        if fds[0].revents == 0 {
            continue;
        }
        let mut buf = [0u8; 1024];
        // SAFETY: a valid buffer of that length; poll(2) said fd 0 is
        // readable, so this does not block.
        let got = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
        if got <= 0 {
            if got < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // End of input (the terminal hung up): nobody is there.
            let _ = tx.send(Msg::Quit);
            return;
        }
        pending.extend_from_slice(&buf[..got as usize]);
        let (keys, used) = parse::keys(&pending);
        pending.drain(..used);
        for k in keys {
            if tx.send(Msg::Key(k)).is_err() {
                return;
            }
        }
    }
}
