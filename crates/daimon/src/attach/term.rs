//! The terminal of `daimon attach`: raw mode while attached, restored on
//! every way out (return, error, panic, SIGTERM, SIGHUP, SIGINT), and the
//! signals it waits for (SIGWINCH: the size changed) turned into bytes on a
//! pipe that the loop polls with stdin and the socket, so nothing spins.

use std::io;
use std::os::fd::RawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

/// The settings found at start, for every restore path.
static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);
/// The write end of the signal pipe (-1: none yet).
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

/// Raw mode on stdin until dropped.
pub struct RawMode {
    /// The read end of the signal pipe: one byte per signal, its number.
    pub signals: RawFd,
}

impl RawMode {
    pub fn enter() -> io::Result<RawMode> {
        let signals = signal_pipe()?;
        let mut t = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr fills the termios it is given on success, checked.
        if unsafe { libc::tcgetattr(0, t.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: initialised by the successful tcgetattr above.
        let saved = unsafe { t.assume_init() };
        let mut raw = saved;
        // SAFETY: cfmakeraw only edits the struct it is given.
        unsafe { libc::cfmakeraw(&mut raw) };
        if let Ok(mut s) = SAVED.lock() {
            *s = Some(saved);
        }
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            hook(info);
        }));
        // SAFETY: a valid termios for fd 0, a terminal (tcgetattr said so).
        if unsafe { libc::tcsetattr(0, libc::TCSADRAIN, &raw) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(RawMode { signals })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts the saved settings back (once).
pub fn restore() {
    let saved = SAVED.lock().ok().and_then(|mut s| s.take());
    if let Some(t) = saved {
        // SAFETY: the termios tcgetattr gave for the same fd.
        unsafe { libc::tcsetattr(0, libc::TCSADRAIN, &t) };
    }
}

/// Rows and columns of the terminal on stdin, if it says.
pub fn size() -> Option<(u16, u16)> {
    // SAFETY: winsize is plain data; TIOCGWINSZ fills it on success.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: fd 0 and a valid pointer to a winsize, as TIOCGWINSZ wants.
    let ok = unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Whether stdin is a terminal.
pub fn is_terminal() -> bool {
    // SAFETY: isatty on a descriptor number.
    unsafe { libc::isatty(0) == 1 }
}

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe (POSIX 2.4.3); a full pipe
        // just drops the byte (O_NONBLOCK): one pending byte is enough.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// A non-blocking pipe fed by the handlers of SIGWINCH, SIGTERM, SIGHUP and
/// SIGINT (the self-pipe trick).
fn signal_pipe() -> io::Result<RawFd> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: a two-int array, as pipe2 wants.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    SIGNAL_PIPE.store(fds[1], Ordering::Relaxed);
    for sig in [libc::SIGWINCH, libc::SIGTERM, libc::SIGHUP, libc::SIGINT] {
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler only does async-signal-safe things (see on_signal).
        if unsafe { libc::signal(sig, handler) } == libc::SIG_ERR {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(fds[0])
}

/// Readiness of `fds` (POLLIN or hang-up), waiting as long as it takes.
pub fn wait(fds: &[RawFd]) -> io::Result<Vec<bool>> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: valid pollfds, length given.
        let n = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, -1) };
        if n >= 0 {
            return Ok(p.iter().map(|x| x.revents != 0).collect());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// One read(2) into `buf`: 0 at end of file.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: a valid buffer of that length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
