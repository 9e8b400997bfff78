//! How a process ended, and systemd's names for it.
//!
//! Owns the wait-status model ([`ExitStatus`]), the exit codes a child uses to say
//! which setup step failed before `execve` (systemd.exec(5), "PROCESS EXIT CODES":
//! 200/CHDIR, 203/EXEC, ...) and the `exited, status=1/FAILURE` / `killed,
//! signal=KILL` renderings that `status` shows.
//!
//! It is vocabulary, not process handling: the process layer produces an
//! [`ExitStatus`] (the reaper, the child's setup codes) and the pure lifecycle
//! machine decides on one, so it lives at the crate root where both can use it
//! without the machine depending on the process layer.

use std::fmt;

/// systemd.exec(5) exit codes used by the child between fork and exec.
pub mod code {
    pub const CHDIR: i32 = 200;
    pub const NICE: i32 = 201;
    pub const FDS: i32 = 202;
    pub const EXEC: i32 = 203;
    pub const LIMITS: i32 = 205;
    pub const SIGNAL_MASK: i32 = 207;
    pub const STDIN: i32 = 208;
    pub const STDOUT: i32 = 209;
    pub const GROUP: i32 = 216;
    pub const USER: i32 = 217;
    pub const CGROUP: i32 = 219;
    pub const SETSID: i32 = 220;
    pub const STDERR: i32 = 222;
    pub const NO_NEW_PRIVILEGES: i32 = 227;
}

/// The symbolic name of an exit code, as `systemctl status` prints it.
pub fn exit_code_name(code: i32) -> Option<&'static str> {
    Some(match code {
        0 => "SUCCESS",
        1 => "FAILURE",
        2 => "INVALIDARGUMENT",
        3 => "NOTIMPLEMENTED",
        4 => "NOPERMISSION",
        5 => "NOTINSTALLED",
        6 => "NOTCONFIGURED",
        7 => "NOTRUNNING",
        200 => "CHDIR",
        201 => "NICE",
        202 => "FDS",
        203 => "EXEC",
        204 => "MEMORY",
        205 => "LIMITS",
        206 => "OOM_ADJUST",
        207 => "SIGNAL_MASK",
        208 => "STDIN",
        209 => "STDOUT",
        210 => "CHROOT",
        211 => "IOPRIO",
        212 => "TIMERSLACK",
        213 => "SECUREBITS",
        214 => "SETSCHEDULER",
        215 => "CPUAFFINITY",
        216 => "GROUP",
        217 => "USER",
        218 => "CAPABILITIES",
        219 => "CGROUP",
        220 => "SETSID",
        221 => "CONFIRM",
        222 => "STDERR",
        224 => "PAM",
        225 => "NETWORK",
        226 => "NAMESPACE",
        227 => "NO_NEW_PRIVILEGES",
        228 => "SECCOMP",
        233 => "RUNTIME_DIRECTORY",
        238 => "STATE_DIRECTORY",
        239 => "CACHE_DIRECTORY",
        240 => "LOGS_DIRECTORY",
        241 => "CONFIGURATION_DIRECTORY",
        _ => return None,
    })
}

/// Short signal name without `SIG` (`KILL`, `TERM`), or the number.
pub fn signal_name(sig: i32) -> String {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(s) => s.as_str().trim_start_matches("SIG").to_string(),
        Err(_) => sig.to_string(),
    }
}

/// How a process ended (from `waitpid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Killed {
        signal: i32,
        core_dumped: bool,
    },
    /// A process adopted after a daimond restart ended: it is not our child, so
    /// no `waitpid` tells how.
    Unknown,
}

impl ExitStatus {
    /// Decodes a raw `waitpid` status; `None` for stop/continue notifications.
    pub fn from_raw(status: libc::c_int) -> Option<ExitStatus> {
        if libc::WIFEXITED(status) {
            Some(ExitStatus::Exited(libc::WEXITSTATUS(status)))
        } else if libc::WIFSIGNALED(status) {
            Some(ExitStatus::Killed {
                signal: libc::WTERMSIG(status),
                core_dumped: libc::WCOREDUMP(status),
            })
        } else {
            None
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitStatus::Exited(c) => match exit_code_name(c) {
                Some(n) => write!(f, "exited, status={c}/{n}"),
                None => write!(f, "exited, status={c}"),
            },
            ExitStatus::Killed {
                signal,
                core_dumped,
            } => {
                let verb = if core_dumped { "dumped" } else { "killed" };
                write!(f, "{verb}, signal={}", signal_name(signal))
            }
            ExitStatus::Unknown => {
                f.write_str("exited (status unknown: adopted after a daimond restart)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_systemctl() {
        assert_eq!(
            ExitStatus::Exited(203).to_string(),
            "exited, status=203/EXEC"
        );
        assert_eq!(ExitStatus::Exited(42).to_string(), "exited, status=42");
        let k = ExitStatus::Killed {
            signal: libc::SIGKILL,
            core_dumped: false,
        };
        assert_eq!(k.to_string(), "killed, signal=KILL");
        let d = ExitStatus::Killed {
            signal: libc::SIGSEGV,
            core_dumped: true,
        };
        assert_eq!(d.to_string(), "dumped, signal=SEGV");
        assert_eq!(
            ExitStatus::Unknown.to_string(),
            "exited (status unknown: adopted after a daimond restart)"
        );
    }
}
