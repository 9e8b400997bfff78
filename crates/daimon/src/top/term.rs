//! The terminal of `daimon top`: raw mode and the alternate screen while it
//! runs, restored on every way out (return, panic, SIGTERM, SIGHUP), and the
//! signals it waits for (SIGWINCH to redraw) turned into bytes on a pipe that
//! the main loop polls with stdin, so that nothing ever spins.

use std::io::{self, Write};
use std::os::fd::RawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

/// The terminal settings found at start, for every restore path.
static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);
/// The write end of the signal pipe (-1: none yet).
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

const ENTER: &str = "\x1b[?1049h\x1b[?25l";
const LEAVE: &str = "\x1b[?25h\x1b[?1049l";

/// Raw mode and the alternate screen until dropped.
pub struct Terminal {
    /// The read end of the signal pipe: one byte per signal, its number.
    pub signals: RawFd,
}

impl Terminal {
    pub fn enter() -> io::Result<Terminal> {
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
        // SAFETY: a valid termios for fd 0, which is a terminal (tcgetattr said so).
        if unsafe { libc::tcsetattr(0, libc::TCSAFLUSH, &raw) } != 0 {
            return Err(io::Error::last_os_error());
        }
        if let Ok(mut s) = SAVED.lock() {
            *s = Some(saved);
        }
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            hook(info);
        }));
        let signals = signal_pipe()?;
        let mut out = io::stdout().lock();
        out.write_all(ENTER.as_bytes())?;
        out.flush()?;
        Ok(Terminal { signals })
    }

    /// Columns and rows (80x24 if the terminal does not say).
    pub fn size() -> (u16, u16) {
        // SAFETY: winsize is plain data; TIOCGWINSZ fills it on success.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: fd 1 and a valid pointer to a winsize, as TIOCGWINSZ wants.
        if unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_col > 0 {
            (ws.ws_col, ws.ws_row)
        } else {
            (80, 24)
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen and puts the saved settings back (once).
pub fn restore() {
    let saved = SAVED.lock().ok().and_then(|mut s| s.take());
    if let Some(t) = saved {
        let mut out = io::stdout();
        let _ = out.write_all(LEAVE.as_bytes());
        let _ = out.flush();
        // SAFETY: the termios tcgetattr gave for the same fd.
        unsafe { libc::tcsetattr(0, libc::TCSAFLUSH, &t) };
    }
}

/// The byte [`wake`] writes on the signal pipe (no signal has number 0).
pub const WAKE: u8 = 0;

/// Wakes the main loop from another thread (a state change came).
pub fn wake() {
    on_signal(WAKE as libc::c_int);
}

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe (POSIX 2.4.3); a full pipe
        // just drops the byte (O_NONBLOCK), the loop reads a pending one.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// A non-blocking pipe fed by the handlers of SIGWINCH, SIGTERM, SIGHUP and
/// SIGINT (self-pipe: the loop sleeps in poll(2) on it with stdin).
fn signal_pipe() -> io::Result<RawFd> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: a two-int array, as pipe2 wants.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    SIGNAL_PIPE.store(fds[1], Ordering::Relaxed);
    for sig in [libc::SIGWINCH, libc::SIGTERM, libc::SIGHUP, libc::SIGINT] {
        // SAFETY: the handler only does async-signal-safe things (see on_signal).
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        if unsafe { libc::signal(sig, handler) } == libc::SIG_ERR {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(fds[0])
}

/// Waits until stdin or the signal pipe is readable, or `timeout_ms` passed.
/// Returns (stdin ready, signal pipe ready).
pub fn wait(signals: RawFd, timeout_ms: i32) -> (bool, bool) {
    let mut fds = [
        libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: signals,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: two valid pollfds, length given.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
    if n <= 0 {
        return (false, false);
    }
    (fds[0].revents != 0, fds[1].revents != 0)
}

/// Reads what is there without blocking (poll said it is readable).
pub fn read_some(fd: RawFd) -> Vec<u8> {
    let mut buf = [0u8; 256];
    // SAFETY: a valid buffer of that length.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return vec![];
    }
    buf[..n as usize].to_vec()
}
