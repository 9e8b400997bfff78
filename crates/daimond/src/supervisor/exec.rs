//! From a unit's `Exec*=` line to a ready-to-fork [`SpawnSpec`].
//!
//! Owns the execution environment of systemd.exec(5) as far as it is resolved in
//! the daemon: environment (Environment=, EnvironmentFile=, UnsetEnvironment=,
//! PassEnvironment=, $MAINPID, $INVOCATION_ID, HOME/USER/LOGNAME/SHELL/PATH,
//! RUNTIME_DIRECTORY & co.), `$VAR` expansion, PATH lookup, credentials
//! (User=/Group=/SupplementaryGroups= as root), WorkingDirectory=, Limit*=,
//! standard output and error, and creating the Runtime/State/... directories.
//! Nothing here forks; errors are one line for the unit's log.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use daimon_proto::Paths;
use daimon_unit::value::env::parse_env_file;
use daimon_unit::{
    ExecCommand, ExecPrivilege, Resource, ServiceSection, StdInput, StdOutput, WorkingDirectory,
};
use rustix::process::Resource as Rl;

use crate::process::spawn::{Credentials, Rlimit, SpawnSpec, Stdio};

/// systemd's default PATH for services.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Facts about the daemon's own process, read once.
#[derive(Debug, Clone)]
pub struct Host {
    pub uid: u32,
    pub user: String,
    pub home: String,
    pub shell: String,
    /// The soft RLIMIT_NOFILE the daemon started with; services get it back (the
    /// daemon raises its own to the hard limit to hold many pipes).
    pub nofile_soft: Option<(u64, u64)>,
    /// Variables services inherit from the daemon (LANG, XDG_RUNTIME_DIR, ...).
    pub pass: Vec<(String, String)>,
    /// Where Runtime/State/Cache/Logs/ConfigurationDirectory= live.
    pub dirs: DirBases,
    pub system_mode: bool,
}

#[derive(Debug, Clone)]
pub struct DirBases {
    pub runtime: PathBuf,
    pub state: PathBuf,
    pub cache: PathBuf,
    pub logs: PathBuf,
    pub configuration: PathBuf,
}

impl Host {
    pub fn detect(paths: &Paths, nofile_soft: Option<(u64, u64)>) -> Host {
        let uid = nix::unistd::geteuid();
        let pw = nix::unistd::User::from_uid(uid).ok().flatten();
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let user = pw
            .as_ref()
            .map(|p| p.name.clone())
            .or_else(|| env("USER"))
            .unwrap_or_else(|| uid.to_string());
        let home = pw
            .as_ref()
            .map(|p| p.dir.to_string_lossy().into_owned())
            .or_else(|| env("HOME"))
            .unwrap_or_else(|| "/".into());
        let shell = pw
            .as_ref()
            .map(|p| p.shell.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/bin/sh".into());
        let pass = [
            "LANG",
            "LC_ALL",
            "TZ",
            "XDG_RUNTIME_DIR",
            "DBUS_SESSION_BUS_ADDRESS",
        ]
        .iter()
        .filter(|_| !paths.system_mode)
        .filter_map(|k| env(k).map(|v| (k.to_string(), v)))
        .collect();
        let dirs = if paths.system_mode {
            DirBases {
                runtime: "/run".into(),
                state: "/var/lib".into(),
                cache: "/var/cache".into(),
                logs: "/var/log".into(),
                configuration: "/etc".into(),
            }
        } else {
            DirBases {
                runtime: paths.runtime.join("service"),
                state: paths.state.join("service"),
                cache: paths.state.join("cache"),
                logs: paths.state.join("log"),
                configuration: paths.state.join("config"),
            }
        };
        Host {
            uid: uid.as_raw(),
            user,
            home,
            shell,
            nofile_soft,
            pass,
            dirs,
            system_mode: paths.system_mode,
        }
    }
}

/// What one spawn needs to know besides the command.
pub struct ExecEnv<'a> {
    pub host: &'a Host,
    pub svc: &'a ServiceSection,
    pub invocation: &'a str,
    /// $MAINPID for ExecStop=/ExecReload= and friends.
    pub main_pid: Option<u32>,
    /// This is the main process: with `StandardInput=tty` it gets the unit's
    /// pseudo-terminal (other commands, ExecStartPre= and friends, log
    /// through pipes as usual: a terminal is for the one process clients
    /// attach to).
    pub main: bool,
}

/// `StandardInput=tty` (and `tty-force`, `tty-fail`): adapted to daimond,
/// which has no console to lend, as a pseudo-terminal it allocates for the
/// main process (`TTYPath=` is not used: a new pty is never someone else's,
/// so the three variants mean the same).
pub fn wants_terminal(svc: &ServiceSection) -> bool {
    matches!(
        svc.standard_input,
        StdInput::Tty | StdInput::TtyForce | StdInput::TtyFail
    )
}

/// TERM for a service with a terminal whose environment has none: what the
/// terminals that attach to it (xterm, tmux, GNOME, ...) understand.
pub const DEFAULT_TERM: &str = "xterm-256color";

/// The spawn spec and what the log needs to describe a failure.
pub struct Prepared {
    pub spec: SpawnSpec,
    pub program: String,
    pub workdir: Option<String>,
}

fn cstr(s: impl AsRef<[u8]>, what: &str) -> Result<CString, String> {
    CString::new(s.as_ref()).map_err(|_| format!("{what} contains a NUL byte"))
}

/// User, group and home of the service. Root only: switching to another user
/// needs privileges; without them User= must name ourselves.
fn credentials(
    x: &ExecEnv<'_>,
    cmd: &ExecCommand,
) -> Result<(Option<Credentials>, String, String, String), String> {
    let h = x.host;
    let Some(name) = x
        .svc
        .user
        .as_deref()
        .filter(|_| cmd.privilege != ExecPrivilege::Full)
    else {
        return Ok((None, h.user.clone(), h.home.clone(), h.shell.clone()));
    };
    let pw = match name.parse::<u32>() {
        Ok(n) => nix::unistd::User::from_uid(n.into()),
        Err(_) => nix::unistd::User::from_name(name),
    }
    .map_err(|e| format!("looking up User={name}: {e}"))?
    .ok_or_else(|| format!("User={name}: no such user (217/USER)"))?;
    let home = pw.dir.to_string_lossy().into_owned();
    let shell = pw.shell.to_string_lossy().into_owned();
    if h.uid != 0 {
        if pw.uid.as_raw() == h.uid {
            return Ok((None, pw.name, home, shell));
        }
        return Err(format!(
            "User={name} needs a daimond running as root (217/USER)"
        ));
    }
    let mut gid = pw.gid;
    if let Some(g) = x.svc.group.as_deref() {
        gid = lookup_group(g)?;
    }
    let mut groups = vec![gid.as_raw()];
    for g in &x.svc.supplementary_groups {
        groups.push(lookup_group(g)?.as_raw());
    }
    let creds = Credentials {
        uid: pw.uid.as_raw(),
        gid: gid.as_raw(),
        groups,
    };
    Ok((Some(creds), pw.name, home, shell))
}

fn lookup_group(g: &str) -> Result<nix::unistd::Gid, String> {
    if let Ok(n) = g.parse::<u32>() {
        return Ok(n.into());
    }
    nix::unistd::Group::from_name(g)
        .map_err(|e| format!("looking up Group={g}: {e}"))?
        .map(|gr| gr.gid)
        .ok_or_else(|| format!("Group={g}: no such group (216/GROUP)"))
}

fn set(env: &mut Vec<(String, String)>, k: &str, v: String) {
    match env.iter_mut().find(|(n, _)| n == k) {
        Some(slot) => slot.1 = v,
        None => env.push((k.to_string(), v)),
    }
}

/// Directories of one kind: (env var, base, names, mode).
fn dir_kinds<'a>(x: &'a ExecEnv<'_>) -> [(&'static str, &'a Path, &'a [String], u32); 5] {
    let d = &x.svc.directories;
    let b = &x.host.dirs;
    [
        ("RUNTIME_DIRECTORY", &b.runtime, &d.runtime, d.runtime_mode),
        ("STATE_DIRECTORY", &b.state, &d.state, d.state_mode),
        ("CACHE_DIRECTORY", &b.cache, &d.cache, d.cache_mode),
        ("LOGS_DIRECTORY", &b.logs, &d.logs, d.logs_mode),
        (
            "CONFIGURATION_DIRECTORY",
            &b.configuration,
            &d.configuration,
            d.configuration_mode,
        ),
    ]
}

/// Owner of the service's directories: the User= of a root daemon, else us.
pub fn directory_owner(x: &ExecEnv<'_>) -> Option<(u32, u32)> {
    let plain = ExecCommand::default();
    match credentials(x, &plain) {
        Ok((Some(c), ..)) => Some((c.uid, c.gid)),
        _ => None,
    }
}

/// Creates RuntimeDirectory= and friends (systemd.exec(5) "RUNTIME DIRECTORY")
/// with their modes and owner. Called once per start, before ExecStartPre=.
pub fn create_directories(x: &ExecEnv<'_>, owner: Option<(u32, u32)>) -> Result<(), String> {
    for (_, base, names, mode) in dir_kinds(x) {
        for n in names {
            let p = base.join(n);
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(mode)
                .create(&p)
                .map_err(|e| format!("creating {}: {e}", p.display()))?;
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode));
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(&p, Some(uid), Some(gid))
                    .map_err(|e| format!("chown {}: {e}", p.display()))?;
            }
        }
    }
    Ok(())
}

/// Removes RuntimeDirectory= when the unit stops (RuntimeDirectoryPreserve=no).
pub fn remove_runtime_directories(host: &Host, svc: &ServiceSection) {
    if svc.directories.runtime_preserve != daimon_unit::RuntimeDirectoryPreserve::No {
        return;
    }
    for n in &svc.directories.runtime {
        let _ = std::fs::remove_dir_all(host.dirs.runtime.join(n));
    }
}

/// The environment block of a service process, in systemd's order: defaults,
/// PassEnvironment=, Environment=, EnvironmentFile= (later wins), then
/// UnsetEnvironment=, then what the manager sets ($MAINPID, $INVOCATION_ID, ...).
pub fn environment(
    x: &ExecEnv<'_>,
    user: &str,
    home: &str,
    shell: &str,
) -> Result<Vec<(String, String)>, String> {
    let mut env: Vec<(String, String)> = Vec::new();
    set(&mut env, "PATH", DEFAULT_PATH.to_string());
    set(&mut env, "HOME", home.to_string());
    set(&mut env, "USER", user.to_string());
    set(&mut env, "LOGNAME", user.to_string());
    set(&mut env, "SHELL", shell.to_string());
    if x.main && wants_terminal(x.svc) {
        // Before PassEnvironment= and Environment=, which may set another.
        set(&mut env, "TERM", DEFAULT_TERM.to_string());
    }
    for (k, v) in &x.host.pass {
        set(&mut env, k, v.clone());
    }
    for k in &x.svc.pass_environment {
        if let Ok(v) = std::env::var(k) {
            set(&mut env, k, v);
        }
    }
    for (k, v) in &x.svc.environment {
        set(&mut env, k, v.clone());
    }
    for (path, optional) in &x.svc.environment_files {
        match std::fs::read(path) {
            Ok(bytes) => {
                for (k, v) in parse_env_file(&String::from_utf8_lossy(&bytes)) {
                    set(&mut env, &k, v);
                }
            }
            Err(_) if *optional => {}
            Err(e) => return Err(format!("EnvironmentFile={}: {e}", path.display())),
        }
    }
    for u in &x.svc.unset_environment {
        match u.split_once('=') {
            Some((k, v)) => env.retain(|(n, val)| !(n == k && val == v)),
            None => env.retain(|(n, _)| n != u),
        }
    }
    set(&mut env, "INVOCATION_ID", x.invocation.to_string());
    if let Some(pid) = x.main_pid {
        set(&mut env, "MAINPID", pid.to_string());
    }
    for (var, base, names, _) in dir_kinds(x) {
        if !names.is_empty() {
            let joined: Vec<String> = names
                .iter()
                .map(|n| base.join(n).to_string_lossy().into_owned())
                .collect();
            set(&mut env, var, joined.join(":"));
        }
    }
    Ok(env)
}

fn lookup_path(name: &str, env: &[(String, String)]) -> Option<PathBuf> {
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or(DEFAULT_PATH, |(_, v)| v.as_str());
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// One standard output stream. `inherit`: what `StandardOutput=inherit`
/// means here, stdin's stream for stdout, stdout's for stderr. With a
/// terminal (`tty`), the log store reads it: `journal` and `tty` both mean
/// the terminal, whose output daimond stores line by line.
fn output(o: &StdOutput, inherit: &Stdio, tty: bool) -> Result<Stdio, String> {
    let file = |p: &Path, flags: libc::c_int| -> Result<Stdio, String> {
        Ok(Stdio::File {
            path: cstr(p.as_os_str().as_bytes(), "output path")?,
            flags,
        })
    };
    match o {
        StdOutput::Null => Ok(Stdio::Null),
        // Stdout inherits stdin (/dev/null or the terminal); stderr inherits stdout.
        StdOutput::Inherit => Ok(inherit.clone()),
        StdOutput::Tty if tty => Ok(Stdio::Pty),
        StdOutput::Tty => Ok(Stdio::Inherit),
        StdOutput::File(p) => file(p, libc::O_WRONLY | libc::O_CREAT),
        StdOutput::Append(p) => file(p, libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND),
        StdOutput::Truncate(p) => file(p, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC),
        StdOutput::Journal if tty => Ok(Stdio::Pty),
        StdOutput::Journal | StdOutput::Kmsg | StdOutput::Socket | StdOutput::Fd(_) => {
            Ok(Stdio::Pipe)
        }
    }
}

fn rlimit_number(r: Resource) -> Rl {
    match r {
        Resource::Cpu => Rl::Cpu,
        Resource::Fsize => Rl::Fsize,
        Resource::Data => Rl::Data,
        Resource::Stack => Rl::Stack,
        Resource::Core => Rl::Core,
        Resource::Rss => Rl::Rss,
        Resource::Nofile => Rl::Nofile,
        Resource::As => Rl::As,
        Resource::Nproc => Rl::Nproc,
        Resource::Memlock => Rl::Memlock,
        Resource::Locks => Rl::Locks,
        Resource::Sigpending => Rl::Sigpending,
        Resource::Msgqueue => Rl::Msgqueue,
        Resource::Nice => Rl::Nice,
        Resource::Rtprio => Rl::Rtprio,
        Resource::Rttime => Rl::Rttime,
    }
}

/// Prepares `cmd` for [`crate::process::spawn::spawn`].
pub fn prepare(x: &ExecEnv<'_>, cmd: &ExecCommand) -> Result<Prepared, String> {
    let (creds, user, home, shell) = credentials(x, cmd)?;
    let env = environment(x, &user, &home, &shell)?;
    let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let argv = cmd.expand(&lookup);
    let program = if cmd.needs_path_lookup() {
        lookup_path(&cmd.path, &env).unwrap_or_else(|| PathBuf::from(&cmd.path))
    } else {
        PathBuf::from(&cmd.path)
    };
    let program_text = program.to_string_lossy().into_owned();
    let svc = x.svc;
    let default_dir = if x.host.system_mode {
        "/".to_string()
    } else {
        home.clone()
    };
    let (dir, missing_ok) = match &svc.working_directory {
        Some(WorkingDirectory::Home) => (home.clone(), svc.working_directory_missing_ok),
        Some(WorkingDirectory::Path(p)) => (
            p.to_string_lossy().into_owned(),
            svc.working_directory_missing_ok,
        ),
        None => (default_dir, true),
    };
    let mut rlimits: Vec<Rlimit> = Vec::new();
    if let Some((soft, hard)) = x.host.nofile_soft {
        rlimits.push((Rl::Nofile, soft, hard));
    }
    for (res, lim) in &svc.limits {
        let n = rlimit_number(*res);
        rlimits.retain(|(r, _, _)| *r != n);
        let inf = libc::RLIM_INFINITY;
        rlimits.push((n, lim.soft.unwrap_or(inf), lim.hard.unwrap_or(inf)));
    }
    let tty = x.main && wants_terminal(svc);
    let stdin = if tty { Stdio::Pty } else { Stdio::Null };
    let stdout = output(&svc.standard_output, &stdin, tty)?;
    let stderr = output(&svc.standard_error, &stdout, tty)?;
    let spec = SpawnSpec {
        program: cstr(program.as_os_str().as_bytes(), "the command")?,
        argv: argv
            .iter()
            .map(|a| cstr(a, "an argument"))
            .collect::<Result<_, _>>()?,
        envp: env
            .iter()
            .map(|(k, v)| cstr(format!("{k}={v}"), "the environment"))
            .collect::<Result<_, _>>()?,
        workdir: Some((cstr(&dir, "WorkingDirectory=")?, missing_ok)),
        umask: svc.umask as libc::mode_t,
        nice: svc.nice,
        rlimits,
        no_new_privileges: svc.no_new_privileges,
        credentials: creds,
        stdin,
        stdout,
        stderr,
        pass_fds: Vec::new(),
        join_cgroups: Vec::new(),
    };
    Ok(Prepared {
        spec,
        program: program_text,
        workdir: Some(dir),
    })
}
