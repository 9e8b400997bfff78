//! `daimon -H [USER@]HOST[:PORT] COMMAND...`: the same command on another
//! machine, over ssh, as `systemctl -H` does.
//!
//! The remote `daimon` talks to the remote user's daimond through its own
//! socket (starting it if needed, as locally); nothing new listens on the
//! network. The arguments travel as one shell command line (ssh joins its
//! arguments with spaces for the remote shell), so each is single-quoted.
//! The exit code is the remote daimon's; ssh's own failures are 255.
//!
//! `attach` gets a terminal on the remote side (`ssh -t`), so that raw mode,
//! the detach key and the window size work end to end.
//!
//! `DAIMON_SSH` names another ssh program (a wrapper that adds `-F config`,
//! for instance).

use std::ffi::OsString;
use std::process::Command;

use crate::error::{CliError, CliResult};

/// Exit code of the remote shell when the command is not found (POSIX).
const NOT_FOUND: i32 = 127;

/// The host and the rest of the command line when `args` (after the program
/// name) begin with `-H HOST`, `-HHOST`, `--host HOST` or `--host=HOST`.
pub fn split_host(args: &[OsString]) -> Option<(String, Vec<OsString>)> {
    let first = args.first()?.to_str()?;
    let (host, rest) = match first {
        "-H" | "--host" => (args.get(1)?.to_str()?.to_string(), &args[2..]),
        _ => {
            let h = first
                .strip_prefix("--host=")
                .or_else(|| first.strip_prefix("-H"))?;
            (h.to_string(), &args[1..])
        }
    };
    Some((host, rest.to_vec()))
}

/// `[USER@]HOST[:PORT]` (an IPv6 address in brackets) as ssh's destination
/// and port.
pub fn parse_target(target: &str) -> Result<(String, Option<u16>), String> {
    let bad = || {
        format!("-H {target:?}: expected [USER@]HOST[:PORT], e.g. -H admin@web1 or -H web1:2222")
    };
    if target.is_empty() || target.starts_with('-') || target.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    let (user, hostport) = match target.rsplit_once('@') {
        Some((u, h)) if !u.is_empty() => (Some(u), h),
        Some(_) => return Err(bad()),
        None => (None, target),
    };
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(bad)?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err(bad()),
        }
    } else if hostport.matches(':').count() == 1 {
        let (h, p) = hostport.split_once(':').ok_or_else(bad)?;
        (h, Some(p))
    } else {
        (hostport, None)
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad)?),
        None => None,
    };
    let dest = match user {
        Some(u) => format!("{u}@{host}"),
        None => host.to_string(),
    };
    Ok((dest, port))
}

/// One argument for a POSIX shell, single-quoted (`'` becomes `'\''`).
pub fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', "'\\''"))
}

/// The command line the remote shell runs: daimon from PATH, or from where
/// `cargo install` and `pip --user`-style installs put it (a non-interactive
/// ssh session reads no profile), else exit 127 with a message.
pub fn remote_command(args: &[String]) -> String {
    let mut line = String::from(
        "PATH=\"$PATH:$HOME/.cargo/bin:$HOME/.local/bin\"; \
         command -v daimon >/dev/null 2>&1 || { echo \"daimon is not installed on $(hostname) \
         (not on PATH, ~/.cargo/bin or ~/.local/bin)\" >&2; exit 127; }; exec daimon",
    );
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    line
}

/// The ssh invocation: program, then its arguments.
pub fn ssh_argv(target: &str, args: &[String]) -> Result<Vec<String>, String> {
    let (dest, port) = parse_target(target)?;
    let ssh = std::env::var("DAIMON_SSH")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "ssh".into());
    // `attach` needs a terminal on the remote side (raw mode, the window
    // size): -t makes ssh allocate one and put this one in raw mode.
    let tty = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map(String::as_str)
        == Some("attach");
    let mut argv = vec![ssh, if tty { "-t" } else { "-T" }.into()];
    if let Some(p) = port {
        argv.push("-p".into());
        argv.push(p.to_string());
    }
    argv.push(dest);
    argv.push("--".into());
    argv.push(remote_command(args));
    Ok(argv)
}

/// Runs `args` on `target`; the remote exit code is ours.
pub fn run(target: &str, args: &[OsString]) -> CliResult {
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            a.to_str()
                .map(str::to_string)
                .ok_or_else(|| CliError::fail(format!("-H: argument {a:?} is not UTF-8")))
        })
        .collect::<Result<_, _>>()?;
    if args.is_empty() {
        return Err(CliError::fail(
            "-H HOST needs a command, e.g. daimon -H web1 status",
        ));
    }
    let argv = ssh_argv(target, &args).map_err(CliError::fail)?;
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .status()
        .map_err(|e| {
            CliError::fail(format!(
                "cannot run {}: {e}; is OpenSSH installed?",
                argv[0]
            ))
        })?;
    match status.code() {
        Some(NOT_FOUND) => Err(CliError::fail(format!(
            "{target} has no daimon; install it there (cargo install daimon) and try again"
        ))),
        Some(255) => Err(CliError::new(
            255,
            format!("ssh to {target} failed (see its message above)"),
        )),
        Some(c) => Ok(c),
        None => Err(CliError::fail("ssh was killed by a signal")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_host_comes_first_in_every_spelling() {
        for v in [
            &["-H", "web1", "status"][..],
            &["-Hweb1", "status"],
            &["--host", "web1", "status"],
            &["--host=web1", "status"],
        ] {
            assert_eq!(
                split_host(&os(v)),
                Some(("web1".to_string(), os(&["status"]))),
                "{v:?}"
            );
        }
        assert_eq!(split_host(&os(&["status", "-H", "x"])), None);
        assert_eq!(split_host(&os(&["run", "--", "-H"])), None);
    }

    #[test]
    fn targets_parse_like_ssh_destinations() {
        assert_eq!(parse_target("web1"), Ok(("web1".into(), None)));
        assert_eq!(
            parse_target("me@web1:2222"),
            Ok(("me@web1".into(), Some(2222)))
        );
        assert_eq!(parse_target("[::1]:22"), Ok(("::1".into(), Some(22))));
        assert_eq!(parse_target("::1"), Ok(("::1".into(), None)));
        for bad in [
            "",
            "-oProxyCommand=x",
            "web1:http",
            "@web1",
            "web1:0",
            "a b",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arguments_reach_the_remote_shell_unchanged() {
        let args: Vec<String> = ["logs", "bot", "-g", "it's $HOME; `x`", "-o", "json"]
            .map(String::from)
            .into();
        let line = remote_command(&args);
        assert!(
            line.ends_with("exec daimon 'logs' 'bot' '-g' 'it'\\''s $HOME; `x`' '-o' 'json'"),
            "{line}"
        );
        // The shell gives them back as they were.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "printf '%s\\n' {}",
                args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
            ))
            .output()
            .expect("sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout), args.join("\n") + "\n");
        let argv = ssh_argv("me@web1:2222", &args).expect("argv");
        assert_eq!(argv[1..5], ["-T", "-p", "2222", "me@web1"]);
        assert_eq!(argv[5], "--");
        let attach = ssh_argv("web1", &["attach".into(), "bot".into()]).expect("argv");
        assert_eq!(attach[1], "-t");
    }
}
