//! A pager for `daimon logs` on a terminal, chosen and set up the way
//! journalctl does it (systemd's pager rules, journalctl(1) "ENVIRONMENT").
//!
//! Owns: whether to page (stdout a terminal, no `--no-pager`, no `-f`: a
//! follow never ends, so it goes straight to the terminal), which pager
//! (`$DAIMON_PAGER`, else `$PAGER`, else `less`; an empty value or `cat`
//! means none), the `LESS` default (`FRSXMK`, journalctl's: quit when one
//! screen holds it all, pass colours, chop long lines, leave the screen as it
//! was, long prompt, quit on Ctrl-C) and secure mode: as root (or with
//! `DAIMON_PAGERSECURE=1`) only `less` runs, with `LESSSECURE=1`, so that
//! nobody gets a root shell or editor from inside the pager; a pager the user
//! named is then ignored, as systemd ignores `$SYSTEMD_PAGER` in secure mode.

use std::io::IsTerminal;
use std::process::{Child, ChildStdin, Command, Stdio};

/// journalctl's `LESS` when the user has none.
const LESS_DEFAULT: &str = "FRSXMK";

/// Which pager to run, if any.
#[derive(Debug, PartialEq, Eq)]
enum Choice {
    /// Print to stdout directly.
    Direct,
    /// `less`, in secure mode or not.
    Less { secure: bool },
    /// A command line of the user's, run by `sh -c` as systemd does.
    Shell(String),
}

/// The decision, from what the world says: pure, so it can be tested.
fn choose(
    tty: bool,
    no_pager: bool,
    daimon_pager: Option<&str>,
    pager: Option<&str>,
    secure: bool,
) -> Choice {
    if !tty || no_pager {
        return Choice::Direct;
    }
    let named = daimon_pager.or(pager).map(str::trim);
    match named {
        Some("" | "cat") => Choice::Direct,
        _ if secure => Choice::Less { secure },
        None | Some("less") => Choice::Less { secure },
        Some(cmd) => Choice::Shell(cmd.to_string()),
    }
}

/// Secure mode: `DAIMON_PAGERSECURE` when it is a boolean, else root.
fn secure_mode(var: Option<&str>, euid: u32) -> bool {
    match var.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        Some("1" | "yes" | "true" | "on") => true,
        Some("0" | "no" | "false" | "off") => false,
        _ => euid == 0,
    }
}

/// A running pager reading what we write to its stdin.
pub struct Pager {
    child: Child,
    /// SIGINT's disposition before we ignored it.
    old_sigint: libc::sighandler_t,
}

impl Pager {
    /// Starts the pager when one should run (see the module comment); `None`
    /// means write to stdout. A pager that cannot be started (not installed)
    /// is no error: the output goes to the terminal as it would with
    /// `--no-pager`.
    pub fn start(no_pager: bool, follow: bool) -> Option<Pager> {
        let env = |k: &str| std::env::var(k).ok();
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        let secure = secure_mode(env("DAIMON_PAGERSECURE").as_deref(), euid);
        let choice = choose(
            std::io::stdout().is_terminal(),
            no_pager || follow,
            env("DAIMON_PAGER").as_deref(),
            env("PAGER").as_deref(),
            secure,
        );
        let mut cmd = match choice {
            Choice::Direct => return None,
            Choice::Less { secure } => {
                let mut c = Command::new("less");
                if secure {
                    c.env("LESSSECURE", "1");
                }
                c
            }
            Choice::Shell(line) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c").arg(line);
                c
            }
        };
        if std::env::var_os("LESS").is_none() {
            cmd.env("LESS", LESS_DEFAULT);
        }
        let child = cmd.stdin(Stdio::piped()).spawn().ok()?;
        // Ctrl-C goes to the whole foreground group: the pager decides (with
        // `K`, less quits, and our next write fails quietly). Were we to die
        // at once, the shell would take the terminal back from a live pager.
        // SAFETY: SIG_IGN is a valid disposition for SIGINT; restored in wait.
        let old_sigint = unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
        Some(Pager { child, old_sigint })
    }

    /// Where the output goes.
    pub fn input(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// Waits for the reader to quit (after our end of its input is closed).
    pub fn wait(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
        // SAFETY: puts back the disposition `signal` returned in `start`.
        unsafe { libc::signal(libc::SIGINT, self.old_sigint) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_only_on_a_terminal_and_when_not_told_otherwise() {
        let less = Choice::Less { secure: false };
        assert_eq!(choose(false, false, None, None, false), Choice::Direct);
        assert_eq!(choose(true, true, None, None, false), Choice::Direct);
        assert_eq!(choose(true, false, None, None, false), less);
        assert_eq!(
            choose(true, false, Some(""), Some("most"), false),
            Choice::Direct
        );
        assert_eq!(
            choose(true, false, None, Some("cat"), false),
            Choice::Direct
        );
        assert_eq!(
            choose(true, false, Some("less -S"), Some("most"), false),
            Choice::Shell("less -S".into())
        );
        assert_eq!(
            choose(true, false, None, Some("most"), false),
            Choice::Shell("most".into())
        );
    }

    #[test]
    fn secure_mode_runs_only_less_and_is_on_for_root() {
        let secure = Choice::Less { secure: true };
        assert_eq!(choose(true, false, Some("vim -"), None, true), secure);
        assert_eq!(choose(true, false, None, None, true), secure);
        assert_eq!(choose(true, false, Some("cat"), None, true), Choice::Direct);
        assert!(secure_mode(None, 0));
        assert!(!secure_mode(None, 1000));
        assert!(secure_mode(Some("yes"), 1000));
        assert!(!secure_mode(Some("0"), 0));
        assert!(secure_mode(Some("maybe"), 0));
    }
}
