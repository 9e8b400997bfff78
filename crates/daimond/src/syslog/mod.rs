//! syslog in: services that log with `syslog(3)`, `logger(1)` or a syslog
//! handler get their lines into the log store, in their unit.
//!
//! Owns: choosing the socket ([`address`]), reading it in a task of its own
//! ([`reader`]), and storing each datagram ([`SyslogIn::store`]) with
//! `PRIORITY`, `SYSLOG_FACILITY`, `SYSLOG_IDENTIFIER`, `_PID` (the kernel's,
//! see `socket`) and `_TRANSPORT=syslog`, under the unit the sender belongs
//! to — found by the same rule that places sd_notify senders
//! ([`Owner::unit_of_process`]) — or under [`UNIT`] for a process of no unit.
//!
//! Bounded everywhere: the reader hands datagrams to the owner through a
//! bounded channel and the owner hands them to the log writer without
//! waiting; when either is full the datagram is dropped and counted, and the
//! count is reported in daimond's own log. A flood of datagrams costs
//! daimond some CPU, never its supervision: the owner takes them last and in
//! bounded batches.

mod drops;
mod socket;

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use daimon_journal::syslog_parse;
use tokio::sync::mpsc;

use crate::log_writer::LogMsg;
use crate::process::spawn::SpawnSpec;
use crate::supervisor::notify::Lineage;
use crate::supervisor::owner::Owner;
pub use socket::SyslogSocket;

/// Where lines of senders that belong to no unit go.
pub const UNIT: &str = "syslog";
/// The variable every service gets: the socket's path.
pub const ENV: &str = "DAIMON_SYSLOG_SOCKET";
/// The socket's name in the runtime directory.
const FILE_NAME: &str = "syslog.sock";
/// Datagrams between the reader and the owner.
const QUEUE: usize = 1024;
/// Most datagrams the owner stores per wake-up.
const BATCH: usize = 64;
/// Most datagrams the reader takes before letting other tasks run.
const READ_TURN: usize = 256;

/// What the setting asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    Default,
    Off,
    Path(PathBuf),
}

impl Setting {
    /// `ListenSocket=` of `[Syslog]` in `daimond.conf`: an absolute path,
    /// `off`, or empty for the default. A bad value is a warning naming the
    /// line, and the default stays.
    pub fn parse(file: &Path, bytes: &[u8]) -> (Setting, Vec<daimon_unit::Diagnostic>) {
        let mut diags = Vec::new();
        let mut out = Setting::Default;
        let mut ignore = Vec::new();
        for section in daimon_unit::syntax::parse(file, bytes, &mut ignore) {
            if section.name != "Syslog" {
                continue;
            }
            for e in section.entries {
                let v = e.value.trim();
                let warn = |m: String| daimon_unit::Diagnostic::warning(file, e.line, m);
                match e.key.as_str() {
                    "ListenSocket" if v.is_empty() => out = Setting::Default,
                    "ListenSocket" if v == "off" => out = Setting::Off,
                    "ListenSocket" if v.starts_with('/') => out = Setting::Path(PathBuf::from(v)),
                    "ListenSocket" => diags.push(warn(format!(
                        "invalid ListenSocket={v:?}: expected an absolute path or off; using the default"
                    ))),
                    other => diags.push(warn(format!(
                        "unknown key {other}= in [Syslog]; known: ListenSocket="
                    ))),
                }
            }
        }
        (out, diags)
    }

    fn load(file: &Path) -> Setting {
        let Ok(bytes) = std::fs::read(file) else {
            return Setting::Default;
        };
        let (s, diags) = Setting::parse(file, &bytes);
        for d in diags {
            tracing::warn!("{d}");
        }
        s
    }
}

/// The paths to try, best first: the configured one; in system mode
/// `/dev/log` (when no other daemon serves it); then `syslog.sock` in the
/// runtime directory.
pub fn address(setting: &Setting, runtime: &Path, system_mode: bool) -> Vec<PathBuf> {
    let own = runtime.join(FILE_NAME);
    match setting {
        Setting::Off => vec![],
        Setting::Path(p) => vec![p.clone(), own],
        Setting::Default if system_mode => vec![PathBuf::from("/dev/log"), own],
        Setting::Default => vec![own],
    }
}

/// A parsed datagram on its way to the owner.
#[derive(Debug)]
pub struct Received {
    /// The sender, with its ancestry read on arrival.
    sender: Lineage,
    facility: u8,
    severity: u8,
    identifier: Option<String>,
    message: Vec<u8>,
}

impl Received {
    fn from(dg: socket::Datagram, sender: Lineage) -> Received {
        let m = syslog_parse::parse(&dg.bytes);
        Received {
            sender,
            facility: m.facility,
            severity: m.severity,
            identifier: m.identifier.map(str::to_string),
            message: m.message.to_vec(),
        }
    }
}

/// The owner's end: the queue the reader fills, and the drop count.
pub struct SyslogIn {
    rx: mpsc::Receiver<Received>,
    dropped: Rc<drops::Drops>,
    /// Kept to read what is waiting before exits are reaped ([`SyslogIn::drain`]).
    socket: Rc<SyslogSocket>,
    buf: Vec<u8>,
}

/// Binds the socket, starts its reader and tells the owner the path services
/// get. `None` (with a message) when off or when no path could be bound.
pub fn open(o: &mut Owner) -> Option<SyslogIn> {
    let setting = Setting::load(&crate::config::path(o.paths()));
    let mut sock = None;
    for path in address(&setting, &o.paths().runtime, o.paths().system_mode) {
        match SyslogSocket::bind(&path) {
            Ok(s) => {
                sock = Some(s);
                break;
            }
            Err(e) => tracing::info!("syslog socket {}: {e}; trying the next", path.display()),
        }
    }
    let Some(sock) = sock else {
        if setting != Setting::Off {
            tracing::warn!("no syslog socket could be bound; syslog lines are not stored");
        }
        return None;
    };
    tracing::info!(
        "listening for syslog datagrams on {}",
        sock.path().display()
    );
    o.set_syslog_socket(sock.path().to_string_lossy().into_owned());
    let socket = Rc::new(sock);
    let (tx, rx) = mpsc::channel(QUEUE);
    let dropped = Rc::new(drops::Drops::default());
    tokio::task::spawn_local(dropped.clone().report(o.log_sender()));
    tokio::task::spawn_local(reader(socket.clone(), tx, dropped.clone()));
    Some(SyslogIn {
        rx,
        dropped,
        socket,
        buf: vec![0u8; socket::MAX_DATAGRAM],
    })
}

/// Reads datagrams as they come and queues them for the owner; a full queue
/// drops them, counted. Yields after each turn so a flood cannot hold the
/// (single-threaded) runtime.
async fn reader(s: Rc<SyslogSocket>, tx: mpsc::Sender<Received>, dropped: Rc<drops::Drops>) {
    let mut buf = vec![0u8; socket::MAX_DATAGRAM];
    loop {
        if let Err(e) = s.readable().await {
            tracing::debug!("syslog socket: {e}");
            return;
        }
        // A chatty sender's ancestry is read once per turn, not per datagram.
        let mut known: Option<Lineage> = None;
        for _ in 0..READ_TURN {
            match s.try_recv(&mut buf) {
                Ok(Some(dg)) => {
                    if tx.capacity() == 0 {
                        dropped.add();
                        continue;
                    }
                    let sender = match known.take() {
                        Some(l) if l.pid() == dg.pid => l,
                        _ => Lineage::read(dg.pid),
                    };
                    known = Some(sender.clone());
                    if tx.try_send(Received::from(dg, sender)).is_err() {
                        dropped.add();
                    }
                }
                Ok(None) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!("syslog socket: {e}");
                    break;
                }
            }
        }
        tokio::task::yield_now().await;
    }
}

impl SyslogIn {
    /// Waits for queued datagrams (up to [`BATCH`]).
    pub async fn next(&mut self) -> Vec<Received> {
        let mut v = Vec::with_capacity(BATCH);
        if self.rx.recv_many(&mut v, BATCH).await == 0 {
            std::future::pending::<()>().await;
        }
        v
    }

    /// Stores datagrams, each under its sender's unit.
    pub fn store(&self, o: &Owner, batch: Vec<Received>) {
        for r in batch {
            let (unit, invocation) = match o.unit_of_lineage(&r.sender) {
                Some(u) => {
                    let inv = o.invocation_of(&u);
                    (u, inv)
                }
                None => (UNIT.to_string(), None),
            };
            let msg = LogMsg::Syslog {
                unit,
                invocation,
                pid: r.sender.pid(),
                facility: r.facility,
                priority: r.severity,
                identifier: r.identifier,
                message: r.message,
            };
            if !o.try_log(msg) {
                self.dropped.add();
            }
        }
    }

    /// Before exits are reaped: what was sent just before exiting (`exec
    /// logger ...` as a service's last act) is placed while its sender is
    /// still known. Bounded, so a flood cannot hold the owner.
    pub fn drain(&mut self, o: &Owner) {
        let mut queued = Vec::new();
        while queued.len() < BATCH {
            match self.rx.try_recv() {
                Ok(r) => queued.push(r),
                Err(_) => break,
            }
        }
        for _ in 0..BATCH {
            match self.socket.recv_waiting(&mut self.buf) {
                Ok(Some(dg)) => {
                    let sender = Lineage::read(dg.pid);
                    queued.push(Received::from(dg, sender));
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
        self.store(o, queued);
    }
}

/// The next batch, or never without a socket.
pub async fn next(s: Option<&mut SyslogIn>) -> Vec<Received> {
    match s {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// `DAIMON_SYSLOG_SOCKET=` for a service process, unless its unit sets it.
pub fn add_env(o: &Owner, spec: &mut SpawnSpec) {
    let Some(path) = o.syslog_socket() else {
        return;
    };
    let prefix = format!("{ENV}=");
    if spec
        .envp
        .iter()
        .any(|e| e.as_bytes().starts_with(prefix.as_bytes()))
    {
        return;
    }
    if let Ok(c) = CString::new(format!("{prefix}{path}")) {
        spec.envp.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_in_daimond_conf() {
        let f = Path::new("/c/daimond.conf");
        let p = |t: &str| {
            let (s, d) = Setting::parse(f, t.as_bytes());
            (s, d.iter().map(ToString::to_string).collect::<Vec<_>>())
        };
        assert_eq!(
            p("[Journal]\nSystemMaxUse=1G\n"),
            (Setting::Default, vec![])
        );
        assert_eq!(
            p("[Syslog]\nListenSocket=/run/daimon/log\n").0,
            Setting::Path("/run/daimon/log".into())
        );
        assert_eq!(p("[Syslog]\nListenSocket=off\n").0, Setting::Off);
        let (s, d) = p("[Syslog]\nListenSocket=relative.sock\n");
        assert_eq!(s, Setting::Default);
        assert!(
            d[0].starts_with("/c/daimond.conf:2: invalid ListenSocket="),
            "{d:?}"
        );
    }

    #[test]
    fn where_the_socket_goes() {
        let rt = Path::new("/run/user/1000/daimon");
        let own = rt.join("syslog.sock");
        assert_eq!(address(&Setting::Default, rt, false), vec![own.clone()]);
        assert_eq!(
            address(&Setting::Default, rt, true),
            vec![PathBuf::from("/dev/log"), own.clone()]
        );
        assert_eq!(
            address(&Setting::Path("/run/x.sock".into()), rt, true),
            vec![PathBuf::from("/run/x.sock"), own]
        );
        assert!(address(&Setting::Off, rt, true).is_empty());
    }

    #[test]
    fn a_datagram_is_read_into_its_fields() {
        let me = std::process::id();
        let r = Received::from(
            socket::Datagram {
                pid: me,
                bytes: b"<11>Dec  7 11:30:00 bot[7]: boom\n".to_vec(),
            },
            Lineage::read(me),
        );
        assert_eq!((r.sender.pid(), r.facility, r.severity), (me, 1, 3));
        assert_eq!(r.identifier.as_deref(), Some("bot"));
        assert_eq!(r.message, b"boom");
    }
}
