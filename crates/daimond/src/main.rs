//! daimond: the supervisor daemon, one per user (or one system-wide as root).
//!
//! This file owns the daemon's life: arguments, becoming a daemon, the PID file,
//! the socket, the runtime, and an orderly way out. In order: close inherited
//! descriptors, daemonize (unless `--foreground`; before any thread exists), take
//! the PID file's lock, open the log store and its writer thread, then on one
//! current-thread runtime: handle signals, bind the socket, run the supervisor and
//! the socket server until SIGTERM/SIGINT or `daimon shutdown`. Shutdown returns
//! here: services stopped, socket removed, log writer flushed, PID file removed
//! (last, so no second daemon opens the store before we are done), exit 0.

mod accept;
mod config;
mod console;
mod daemonize;
mod exit_status;
mod fd_limits;
mod fdstore_keeper;
mod forward;
mod http;
mod ipc;
mod log_spool;
mod log_writer;
mod memory;
mod persist;
mod pidfile;
mod process;
mod reexec;
mod sdnotify;
mod selflog;
mod signals;
mod supervisor;
mod syslog;

use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::UnixListener as StdUnixListener;
use std::process::ExitCode;
use std::rc::Rc;

use daimon_journal::{Journal, JournalConfig};
use daimon_proto::Paths;
use tokio::sync::{mpsc, watch};

use crate::daemonize::{Daemonized, Ready};
use crate::ipc::{IpcContext, LogService};
use crate::log_writer::LogSender;
use crate::pidfile::PidFile;
use crate::selflog::SelfLog;
use crate::signals::{SignalRequest, Signals};

const USAGE: &str = "\
daimond - the daimon supervisor daemon

Usage: daimond [--foreground]

You rarely start it by hand: the first `daimon` command starts it, and
`daimon shutdown` stops it.

Options:
  --foreground   stay attached: no fork, no new session, messages also on stderr
                 (for running under systemd, launchd, a container or CI)
  -h, --help     print this help
  -V, --version  print the version

Environment:
  DAIMON_HOME    keep units, runtime files and state under this directory
  DAIMOND_LOG    level of daimond's own messages: error, warn, info (default), debug
  DAIMON_API_PORT     port of the HTTP API (default 0: any free port; off: no API;
                      also daimond.conf's [API] Port=, Address=, MetricsOpen=)
  DAIMON_API_ADDRESS  address of the HTTP API (default 127.0.0.1; others warn)
  DAIMON_METRICS_OPEN 1: /metrics answers without the token

Files:
  daimond.conf   beside the units directory (DAIMON_HOME/daimond.conf,
                 ~/.config/daimon/daimond.conf, /etc/daimon/daimond.conf as root):
                 [Journal] SystemMaxUse=, SystemKeepFree=, MaxRetentionSec=, UnitMaxUse=
                 [Syslog] ListenSocket=PATH|off (default: /dev/log as root when no
                 other daemon serves it, else syslog.sock in the runtime directory)
                 [Forward] Target=udp://HOST:PORT|tcp://HOST:PORT|tls://HOST:PORT,
                 MaxLevel=, Unit=, TLSCAFile=, TLSCertFile=, TLSKeyFile=,
                 TLSServerName=

Signals: SIGHUP re-reads unit files; SIGTERM/SIGINT stop every service, then exit;
SIGUSR2 exits leaving every service running, for the next daimond to re-adopt.";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Args {
    Run { foreground: bool },
    Print(String),
    Bad(String),
}

fn parse_args(args: impl Iterator<Item = std::ffi::OsString>) -> Args {
    let mut foreground = false;
    for a in args {
        match a.to_str() {
            Some("--foreground" | "-f") => foreground = true,
            Some("-h" | "--help") => return Args::Print(USAGE.to_string()),
            Some("-V" | "--version") => {
                return Args::Print(format!("daimond {}", env!("CARGO_PKG_VERSION")));
            }
            _ => {
                return Args::Bad(format!(
                    "daimond: unknown argument {:?}; see \"daimond --help\"",
                    a
                ));
            }
        }
    }
    Args::Run { foreground }
}

fn main() -> ExitCode {
    // The fd store is this same binary in a hidden mode (see process/fdstore.rs),
    // so it shares daimond's code pages instead of mapping a program of its own.
    {
        let mut a = std::env::args_os().skip(1);
        if a.next().as_deref() == Some(std::ffi::OsStr::new(fdstore_keeper::proto::STORE_ARG)) {
            fdstore_keeper::run(a.next().map(std::path::PathBuf::from));
            return ExitCode::SUCCESS;
        }
    }
    let foreground = match parse_args(std::env::args_os().skip(1)) {
        Args::Run { foreground } => foreground,
        Args::Print(text) => {
            println!("{text}");
            return ExitCode::SUCCESS;
        }
        Args::Bad(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(1);
        }
    };
    sdnotify::only_in_foreground(foreground);
    let inherited_pid_fd = reexec::inherited_pid_fd();
    daemonize::close_inherited_fds(inherited_pid_fd);
    signals::ignore_sigpipe();
    memory::configure();
    // Resolved before the daemon moves to "/": a relative DAIMON_HOME means
    // relative to where daimond was started.
    let paths = Paths::from_env();
    let mut ready = if foreground {
        Ready::none()
    } else {
        match daemonize::daemonize() {
            Ok(Daemonized::Parent(code)) => return ExitCode::from(code),
            Ok(Daemonized::Daemon(ready)) => ready,
            Err(e) => {
                eprintln!("daimond: cannot become a daemon: {e}");
                return ExitCode::from(1);
            }
        }
    };
    // Before the first thread: see fd_limits.rs.
    let nofile = fd_limits::prepare();
    match run(paths, foreground, &mut ready, nofile, inherited_pid_fd) {
        Ok(Exit::Done) => ExitCode::SUCCESS,
        Ok(Exit::Reexec(pid_fd)) => {
            let e = reexec::exec(pid_fd);
            // Every service still runs: the next daimon command starts a daimond
            // that re-adopts them.
            eprintln!("daimond: daemon-reexec: {e}");
            ExitCode::from(1)
        }
        Err(msg) => {
            // Once daimond's own log is installed, in the foreground it prints
            // every message on stderr as "daimond: ...": the failure is said once.
            tracing::error!("{}", msg.strip_prefix("daimond: ").unwrap_or(&msg));
            if !(foreground && tracing::dispatcher::has_been_set()) {
                ready.fail(&msg);
            }
            ExitCode::from(1)
        }
    }
}

/// How the daemon ends.
enum Exit {
    Done,
    /// `daimon daemon-reexec`: state handed over; exec the binary on disk,
    /// keeping the PID file's lock on this descriptor.
    Reexec(std::os::fd::RawFd),
}

/// The daemon proper, from the PID file to the last flushed log line.
fn run(
    paths: Paths,
    foreground: bool,
    ready: &mut Ready,
    nofile: fd_limits::OriginalNofile,
    inherited_pid_fd: Option<std::os::fd::RawFd>,
) -> Result<Exit, String> {
    pidfile::ensure_private_dir(&paths.runtime, daimon_group(&paths).is_some()).map_err(|e| {
        format!(
            "daimond: runtime directory {}: {e}",
            paths.runtime.display()
        )
    })?;
    if let Some(gid) = daimon_group(&paths) {
        // System mode: group `daimon` may reach the socket, so it may enter its
        // directory (and nothing more: the socket itself is 0660).
        let _ = nix::unistd::chown(&paths.runtime, None, Some(gid));
        let _ = fs::set_permissions(&paths.runtime, fs::Permissions::from_mode(0o750));
    }
    let pid_file = match inherited_pid_fd {
        Some(fd) => PidFile::inherited(&paths.pid_file(), fd),
        None => PidFile::acquire(&paths.pid_file()),
    }
    .map_err(|e| e.to_string())?;
    let selflog = SelfLog::install(foreground);
    let fresh_store = process::fdstore::FdStore::start_early(&paths.runtime);
    let (limits, config_warnings) = config::load(&config::path(&paths));
    let opened = open_store(&paths, &limits);
    if opened.is_err() && fresh_store {
        process::fdstore::FdStore::end_unused(&paths.runtime);
    }
    let (journal, mut writer) = opened?;
    // `logs -b`: a boot is a daimond start after the machine booted.
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .and_then(|t| daimon_journal::boots::normalize_boot_id(&t))
        .map(|id| writer.mark_boot(&id));
    let spool = process::spool_import::path(&paths.runtime);
    let (log, log_thread) = log_writer::start(writer, spool);
    selflog.attach(log.clone());
    if let Some(Err(e)) = boot {
        tracing::warn!("cannot record this boot in the log store: {e}; logs -b will not know it");
    }
    for w in config_warnings {
        tracing::warn!("{w}");
    }
    let forwarder = forward::Forwarder::start(&config::path(&paths), &paths.state, &journal);

    let result = (|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("daimond: cannot start the runtime: {e}"))?;
        let local = tokio::task::LocalSet::new();
        let result = local.block_on(&rt, serve(paths.clone(), journal, log, ready, nofile));
        // Closes every connection still open; a reader thread still busy gets a
        // bounded time to notice its client is gone.
        drop(local);
        rt.shutdown_timeout(std::time::Duration::from_secs(2));
        result
    })();

    let _ = fs::remove_file(paths.socket());
    // What it has not sent yet waits in the store for the next daimond.
    if let Some(f) = forwarder {
        f.stop();
    }
    let lost = selflog.dropped();
    if lost > 0 {
        tracing::warn!("{lost} of daimond's own messages could not be stored");
    }
    tracing::info!("daimond stopped");
    selflog.detach();
    log_thread.finish();
    match result {
        Ok(true) => match pid_file.keep_across_exec() {
            Some(fd) => Ok(Exit::Reexec(fd)),
            None => Err("daimond: daemon-reexec: the PID file is not held".to_string()),
        },
        Ok(false) => {
            drop(pid_file);
            Ok(Exit::Done)
        }
        Err(e) => {
            drop(pid_file);
            Err(e)
        }
    }
}

/// The state directory and the log store, opened for writing.
fn open_store(
    paths: &Paths,
    limits: &config::JournalLimits,
) -> Result<(Journal, daimon_journal::JournalWriter), String> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&paths.state)
        .map_err(|e| format!("daimond: state directory {}: {e}", paths.state.display()))?;
    let mut journal_cfg = JournalConfig::default();
    limits.apply(&mut journal_cfg);
    let journal = Journal::open(&paths.journal(), journal_cfg)
        .map_err(|e| format!("daimond: log store {}: {e}", paths.journal().display()))?;
    let writer = journal
        .writer()
        .map_err(|e| format!("daimond: log store {}: {e}", paths.journal().display()))?;
    Ok((journal, writer))
}

/// Group `daimon`, in system mode and if it exists.
fn daimon_group(paths: &Paths) -> Option<nix::unistd::Gid> {
    if !paths.system_mode {
        return None;
    }
    nix::unistd::Group::from_name("daimon")
        .ok()
        .flatten()
        .map(|g| g.gid)
}

/// Binds `daimond.sock` (PID lock already held, so a leftover file is stale).
///
/// The socket is bound under a temporary name and renamed into place once it
/// listens: whoever sees `daimond.sock` can connect, never "connection refused"
/// from a socket that exists but does not listen yet.
fn bind_socket(paths: &Paths) -> Result<StdUnixListener, String> {
    let path = paths.socket();
    let tmp = paths
        .runtime
        .join(format!(".daimond.sock.{}", std::process::id()));
    // Leftovers of a daemon that died between bind and rename.
    if let Ok(dir) = fs::read_dir(&paths.runtime) {
        for e in dir.flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with(".daimond.sock.")
            {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    for p in [&path, &tmp] {
        match fs::remove_file(p) {
            Ok(()) if p == &path => tracing::info!("removed a stale socket {}", p.display()),
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("daimond: stale socket {}: {e}", p.display())),
        }
    }
    // Binding also listens.
    let listener = StdUnixListener::bind(&tmp)
        .map_err(|e| format!("daimond: cannot listen on {}: {e}", path.display()))?;
    let mut mode = 0o600;
    if let Some(gid) = daimon_group(paths) {
        // System mode: members of group `daimon` may use the socket too.
        if nix::unistd::chown(&tmp, None, Some(gid)).is_ok() {
            mode = 0o660;
        }
    }
    let placed = fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
        .and_then(|()| fs::rename(&tmp, &path))
        .and_then(|()| listener.set_nonblocking(true));
    if let Err(e) = placed {
        let _ = fs::remove_file(&tmp);
        return Err(format!("daimond: socket {}: {e}", path.display()));
    }
    Ok(listener)
}

/// The event loop: signals, socket, supervisor, socket server; returns after
/// shutdown.
async fn serve(
    paths: Paths,
    journal: Journal,
    log: LogSender,
    ready: &mut Ready,
    nofile: fd_limits::OriginalNofile,
) -> Result<bool, String> {
    // Signals first: once the socket exists, clients (and tests) may signal us, and
    // an unhandled SIGTERM or SIGHUP would kill the daemon without cleaning up.
    let mut signals = Signals::new().map_err(|e| format!("daimond: cannot handle signals: {e}"))?;
    let listener = tokio::net::UnixListener::from_std(bind_socket(&paths)?)
        .map_err(|e| format!("daimond: socket: {e}"))?;
    let group = daimon_group(&paths).map(|g| g.as_raw());
    let socket = paths.socket();
    let api_paths = paths.clone();
    let writer_tx = log.tx.clone();
    let ctx = supervisor::SupervisorContext::new(paths, log, journal.clone(), nofile);
    let (handle, supervisor_task) = supervisor::spawn(ctx);

    let (stop_tx, stop_rx) = watch::channel(false);
    let (shutdown_tx, mut shutdown_rx) = mpsc::channel(16);
    let (reexec_tx, mut reexec_rx) = mpsc::channel::<tokio::sync::oneshot::Sender<()>>(4);
    let ipc_ctx = Rc::new(IpcContext {
        supervisor: handle.clone(),
        logs: LogService::new(journal).with_writer(writer_tx),
        daemon_pid: std::process::id(),
        uid: nix::unistd::geteuid().as_raw(),
        group,
        shutdown: shutdown_tx,
        reexec: reexec_tx,
        stopping: stop_rx.clone(),
        shutting_down: Default::default(),
    });
    let server = tokio::task::spawn_local(ipc::serve(listener, ipc_ctx.clone(), stop_rx.clone()));
    // The second door (HTTP API): a failure leaves the socket working.
    let api = match http::start(&api_paths, ipc_ctx.clone(), stop_rx) {
        Ok(api) => api,
        Err(e) => {
            tracing::error!("{e}");
            None
        }
    };
    ready.ok();
    sdnotify::ready(&socket);
    tracing::info!(
        "daimond {} started (pid {}), listening on {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        socket.display()
    );

    let mut waiters = Vec::new();
    let mut hand_over = false;
    let mut reexec_waiter = None;
    loop {
        tokio::select! {
            sig = signals.recv() => match sig {
                SignalRequest::Reload => {
                    tracing::info!("SIGHUP: re-reading unit files");
                    handle.reload().await;
                }
                SignalRequest::Shutdown(name) => {
                    tracing::info!("{name}: stopping every service");
                    break;
                }
                SignalRequest::HandOver => {
                    tracing::info!("SIGUSR2: handing over; every service keeps running for the next daimond");
                    hand_over = true;
                    break;
                }
            },
            Some(w) = reexec_rx.recv() => {
                tracing::info!(
                    "daemon-reexec: handing over to the daimond binary on disk; every service keeps running"
                );
                hand_over = true;
                reexec_waiter = Some(w);
                break;
            }
            Some(w) = shutdown_rx.recv() => {
                tracing::info!("shutdown requested: stopping every service");
                waiters.push(w);
                break;
            }
        }
    }
    ipc_ctx.shutting_down.set(true);
    if reexec_waiter.is_none() {
        sdnotify::stopping();
    }
    if hand_over {
        handle.hand_over().await;
    } else {
        handle.shutdown().await;
    }
    let _ = supervisor_task.await;
    while let Ok(w) = shutdown_rx.try_recv() {
        waiters.push(w);
    }
    drop(shutdown_rx);
    for w in waiters {
        let _ = w.send(());
    }
    // The client hears `Done` before the exec (the server waits for replies).
    let reexec = reexec_waiter.map(|w| w.send(())).is_some();
    let _ = stop_tx.send(true);
    let _ = server.await;
    if let Some(api) = api {
        let _ = api.task.await;
        // api.json goes with the API, at this clean exit (a re-executed
        // daimond writes its own, with a new token).
        drop(api.file);
    }
    Ok(reexec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Args {
        parse_args(v.iter().map(std::ffi::OsString::from))
    }

    #[test]
    fn arguments() {
        assert_eq!(args(&[]), Args::Run { foreground: false });
        assert_eq!(args(&["--foreground"]), Args::Run { foreground: true });
        assert!(matches!(args(&["--help"]), Args::Print(t) if t.contains("Usage")));
        assert!(matches!(args(&["-V"]), Args::Print(t) if t.starts_with("daimond ")));
        assert!(matches!(args(&["--bogus"]), Args::Bad(t) if t.contains("--bogus")));
    }
}
