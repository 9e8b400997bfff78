//! Pseudo-terminals for services with `StandardInput=tty` (`daimon run --tty`).
//!
//! Owns opening a pty pair and setting its window size. daimond keeps the
//! master (read by `crate::console`, kept by the fd store like a log pipe);
//! the child gets the slave as stdin, stdout and stderr and makes it its
//! controlling terminal (`spawn_child`: setsid(), then TIOCSCTTY).
//! Both ends are close-on-exec: no other service inherits them.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};

/// The size a new terminal starts with, until a client attaches (the VT100's).
pub const DEFAULT_ROWS: u16 = 24;
pub const DEFAULT_COLS: u16 = 80;

/// A new pty pair.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Opens a pty pair (posix_openpt(3), then the slave by the name ptsname
/// gives) sized [`DEFAULT_ROWS`] x [`DEFAULT_COLS`]. O_NOCTTY: daimond must
/// never acquire a controlling terminal of its own.
pub fn open() -> io::Result<Pty> {
    use nix::fcntl::OFlag;
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let master = nix::pty::posix_openpt(flags)?;
    nix::pty::grantpt(&master)?;
    nix::pty::unlockpt(&master)?;
    let name = nix::pty::ptsname_r(&master)?;
    let slave = nix::fcntl::open(name.as_str(), flags, nix::sys::stat::Mode::empty())?;
    // SAFETY: posix_openpt returned an open descriptor that only `master`
    // owns; `into_raw_fd` hands that ownership over.
    let master = unsafe { OwnedFd::from_raw_fd(master.into_raw_fd()) };
    set_size(master.as_fd(), DEFAULT_ROWS, DEFAULT_COLS)?;
    Ok(Pty { master, slave })
}

/// TIOCSWINSZ on the master: the kernel sends SIGWINCH to the terminal's
/// foreground process group when the size changes (tty_ioctl(4)).
pub fn set_size(master: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_passes_bytes_and_has_the_default_size() {
        let p = open().expect("a pty");
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ fills one winsize.
        let r = unsafe { libc::ioctl(p.slave.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
        assert_eq!(r, 0);
        assert_eq!((ws.ws_row, ws.ws_col), (DEFAULT_ROWS, DEFAULT_COLS));
        set_size(p.master.as_fd(), 50, 132).expect("resize");
        // SAFETY: as above.
        unsafe { libc::ioctl(p.slave.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
        assert_eq!((ws.ws_row, ws.ws_col), (50, 132));
        nix::unistd::write(&p.slave, b"hi\n").expect("write");
        let mut buf = [0u8; 16];
        let n = nix::unistd::read(&p.master, &mut buf).expect("read");
        // The line discipline turns \n into \r\n (ONLCR).
        assert_eq!(&buf[..n], b"hi\r\n");
    }
}
