//! Talking to daimond: connect, start it when none answers, handshake, one request.
//!
//! Owns the CLI's side of the socket. Blocking std I/O on purpose: a `daimon status`
//! must cost a couple of milliseconds for the whole process, and an async runtime
//! would be most of that. Every read has a timeout, except while following logs.

use std::io::{self, BufReader, ErrorKind as IoKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use daimon_proto::{
    Frame, FrameError, Hello, PROTOCOL_VERSION, Paths, Request, Response, decode, encode, parts,
    read_any_frame, read_frame,
};

use crate::error::CliError;
use crate::trust;

/// Longest wait for the daemon's answer to quick questions (status, list, cat).
pub const QUICK: Duration = Duration::from_secs(10);
/// Longest wait for jobs (start/stop/restart may wait for stop timeouts).
pub const JOBS: Duration = Duration::from_secs(300);
/// Longest wait for a freshly started daemon's socket.
const START_DEADLINE: Duration = Duration::from_secs(5);
/// How often a CLI whose daimond lost the start race starts one again while
/// no daemon answers.
const RETRY_START: Duration = Duration::from_millis(250);

/// What a log stream delivers (see `daimon_proto::frame`, raw frames).
pub enum LogFrame {
    Bytes(Vec<u8>),
    Response(Response),
}

pub struct Client {
    reader: BufReader<UnixStream>,
    stream: UnixStream,
    /// PID of the daemon that answered (known once a request was sent).
    pub daemon_pid: u32,
    /// Its version ("" from a daemon too old to say).
    pub daemon_version: String,
    /// `Hello`, encoded, until it goes out with the first request.
    hello: Option<Vec<u8>>,
    /// Where to start a new daimond when this one dies before answering
    /// ([`Client::call`]); set when connecting with `autostart`.
    restart: Option<Paths>,
    /// The last failure was the daemon going away (EOF or reset) before answering.
    died: bool,
}

/// Whether a frame error means the daemon went away (killed, crashed) rather
/// than answered badly or slowly.
fn went_away(e: &FrameError) -> bool {
    match e {
        FrameError::Closed => true,
        FrameError::Io(e) => matches!(
            e.kind(),
            IoKind::ConnectionReset | IoKind::BrokenPipe | IoKind::UnexpectedEof
        ),
        _ => false,
    }
}

/// Whether a connect error means "no daemon there" (rather than a real problem).
fn no_daemon(e: &io::Error) -> bool {
    matches!(e.kind(), IoKind::NotFound | IoKind::ConnectionRefused)
}

fn io_err(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::new(1, format!("{what}: {e}"))
}

impl Client {
    /// Connects, starting daimond first when none answers and `autostart` is set.
    /// `Ok(None)`: no daemon runs and none was started.
    pub fn connect(paths: &Paths, autostart: bool) -> Result<Option<Client>, CliError> {
        let mut c = Client::connect_once(paths, autostart)?;
        if let Some(c) = c.as_mut() {
            c.restart = autostart.then(|| paths.clone());
        }
        Ok(c)
    }

    fn connect_once(paths: &Paths, autostart: bool) -> Result<Option<Client>, CliError> {
        let socket = paths.socket();
        trust::runtime_dir(paths)?;
        match UnixStream::connect(&socket) {
            Ok(s) => return Client::handshake(trust::daemon(paths, s)?).map(Some),
            Err(e) if no_daemon(&e) => {}
            Err(e) => {
                return Err(io_err(
                    &format!("cannot connect to daimond at {}", socket.display()),
                    e,
                ));
            }
        }
        if !autostart {
            return Ok(None);
        }
        if let Some(note) = system_start_note(paths) {
            eprintln!("{note}");
        }
        let mut started = start_daemon()?;
        let start = Instant::now();
        let mut last_try = start;
        loop {
            match UnixStream::connect(&socket) {
                Ok(s) => return Client::handshake(trust::daemon(paths, s)?).map(Some),
                // A daimond that failed for a reason of its own (not a race
                // with another one) is not worth waiting for.
                Err(e)
                    if no_daemon(&e)
                        && start.elapsed() < START_DEADLINE
                        && (started.ok || started.stderr.contains("already running")) =>
                {
                    // Ours lost a race with a daemon that was just exiting (its PID
                    // file still locked), or with one that then failed: once the
                    // file is gone, or a while later, start again (a daemon that
                    // does run makes that start say "already running", harmlessly).
                    if !started.ok
                        && (!paths.pid_file().exists() || last_try.elapsed() >= RETRY_START)
                    {
                        started = start_daemon()?;
                        last_try = Instant::now();
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => {
                    let why = if started.stderr.trim().is_empty() {
                        e.to_string()
                    } else {
                        started.stderr.trim().to_string()
                    };
                    return Err(CliError::new(
                        1,
                        format!(
                            "daimond did not start ({why}); try \"daimond --foreground\" to see why"
                        ),
                    ));
                }
            }
        }
    }

    /// Starts the handshake: `Hello` waits to go out with the request in one
    /// write, and the daemon's `Welcome` is read before its answer (one round
    /// trip for both; the daemon reads them in turn, as from any client).
    fn handshake(stream: UnixStream) -> Result<Client, CliError> {
        let _ = stream.set_read_timeout(Some(QUICK));
        let _ = stream.set_write_timeout(Some(QUICK));
        let reader_stream = stream
            .try_clone()
            .map_err(|e| io_err("cannot use the daemon's socket", e))?;
        let hello = encode(&Hello {
            version: PROTOCOL_VERSION,
        })
        .map_err(|e| frame_err("talking to daimond", e))?;
        Ok(Client {
            reader: BufReader::with_capacity(512 * 1024, reader_stream),
            stream,
            daemon_pid: 0,
            daemon_version: String::new(),
            hello: Some(hello),
            restart: None,
            died: false,
        })
    }

    /// Sends the request (after `Hello`, in the same write when it is still
    /// pending); read the answer with [`Client::next`].
    pub fn send(&mut self, req: &Request, timeout: Option<Duration>) -> Result<(), CliError> {
        let _ = self.stream.set_read_timeout(timeout);
        let greeting = self.hello.is_some();
        let mut buf = self.hello.take().unwrap_or_default();
        let sent = daimon_proto::encode_into(&mut buf, req)
            .and_then(|()| Ok(self.stream.write_all(&buf)?));
        if greeting {
            // A daemon that refuses us (busy, another user, another protocol)
            // answers at once and hangs up, which can make our write fail: its
            // answer is still there to read.
            let welcome = match read_frame::<_, Response>(&mut self.reader) {
                Ok(Response::Welcome(w)) => {
                    self.daemon_pid = w.daemon_pid;
                    self.daemon_version = w.daemon_version;
                    crate::reexec::note_if_older(&self.daemon_version);
                    Ok(())
                }
                // Its reason, even when our write failed because it hung up.
                Ok(Response::Error(e)) => Err(CliError::new(e.kind.exit_code(), e.message)),
                Ok(other) => Err(unexpected(other)),
                Err(e) => {
                    // Gone before its Welcome (killed, crashed): `call` may ask
                    // a new daimond.
                    self.died = went_away(&e) || matches!(&sent, Err(s) if went_away(s));
                    match sent {
                        Err(sent) => Err(frame_err("talking to daimond", sent)),
                        Ok(()) => Err(frame_err("reading daimond's answer", e)),
                    }
                }
            };
            return welcome;
        }
        sent.map_err(|e| {
            self.died = went_away(&e);
            frame_err("talking to daimond", e)
        })
    }

    /// The next response (a long list joined from its parts, see
    /// `daimon_proto::parts`); the daemon's error replies become `Err`.
    pub fn next(&mut self) -> Result<Response, CliError> {
        let mut earlier: Option<Response> = None;
        loop {
            let (body, last) = match read_frame::<_, Response>(&mut self.reader) {
                Ok(Response::Error(e)) => {
                    return Err(CliError::new(e.kind.exit_code(), e.message));
                }
                Ok(Response::Part(body)) => (*body, false),
                Ok(r) => (r, true),
                Err(e) => {
                    self.died = went_away(&e);
                    return Err(frame_err("reading daimond's answer", e));
                }
            };
            let joined = match earlier.take() {
                None => body,
                Some(e) => parts::join(e, body).map_err(|pair| unexpected(pair.1))?,
            };
            if last {
                return Ok(joined);
            }
            earlier = Some(joined);
        }
    }

    /// A second handle on the socket, to shut it down from another thread
    /// (which ends a stream that thread is reading).
    pub fn stream_clone(&self) -> Option<UnixStream> {
        self.stream.try_clone().ok()
    }

    /// The next frame of a log stream: raw log bytes or a response.
    pub fn next_log(&mut self) -> Result<LogFrame, CliError> {
        match read_any_frame(&mut self.reader) {
            Ok(Frame::Raw(bytes)) => Ok(LogFrame::Bytes(bytes)),
            Ok(Frame::Json(payload)) => match decode::<Response>(&payload) {
                Ok(Response::Error(e)) => Err(CliError::new(e.kind.exit_code(), e.message)),
                Ok(r) => Ok(LogFrame::Response(r)),
                Err(e) => Err(frame_err("reading daimond's answer", e)),
            },
            Err(e) => Err(frame_err("reading daimond's answer", e)),
        }
    }

    /// One request, one final answer. When daimond goes away after accepting
    /// the connection and before answering (killed, crashed), a new one is
    /// started and asked once more, as when none ran.
    pub fn call(mut self, req: &Request, timeout: Duration) -> Result<Response, CliError> {
        let first = self.send(req, Some(timeout)).and_then(|()| self.next());
        match (first, self.restart.take()) {
            (Err(_), Some(paths)) if self.died => {
                drop(self);
                let mut again = Client::connect_once(&paths, true)?
                    .ok_or_else(|| CliError::fail("daimond is not running"))?;
                again.send(req, Some(timeout))?;
                again.next()
            }
            (r, _) => r,
        }
    }

    /// The connection itself, for a request that turns it into a stream of
    /// its own (`attach`), with the bytes already read past the last response.
    pub fn into_stream(self) -> (UnixStream, Vec<u8>) {
        (self.stream, self.reader.buffer().to_vec())
    }

    /// Waits (bounded) until the daemon closes the connection: after `shutdown`,
    /// that happens when it has cleaned up and is about to exit.
    pub fn wait_closed(mut self, timeout: Duration) {
        let _ = self.stream.set_read_timeout(Some(timeout));
        let mut buf = [0u8; 256];
        while let Ok(n) = self.reader.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
}

fn frame_err(what: &str, e: FrameError) -> CliError {
    match e {
        FrameError::Closed => CliError::new(
            1,
            format!("{what}: daimond closed the connection (it may be shutting down); try again"),
        ),
        FrameError::Io(e) if matches!(e.kind(), IoKind::WouldBlock | IoKind::TimedOut) => {
            CliError::new(1, format!("{what}: daimond did not answer in time"))
        }
        e => io_err(what, e),
    }
}

pub fn unexpected(r: Response) -> CliError {
    let kind = match r {
        Response::Welcome(_) => "Welcome",
        Response::Error(_) => "Error",
        Response::Jobs(_) => "Jobs",
        Response::Status(_) => "Status",
        Response::StatusTable(_) => "StatusTable",
        Response::List(_) => "List",
        Response::LogData(_) => "LogData",
        Response::Cat(_) => "Cat",
        Response::Timers(_) => "Timers",
        Response::UnitStates(_) => "UnitStates",
        Response::Properties(_) => "Properties",
        Response::UnitFiles(_) => "UnitFiles",
        Response::Done => "Done",
        Response::Part(_) => "Part",
        Response::Event(_) => "Event",
    };
    CliError::new(
        1,
        format!(
            "daimond answered with an unexpected {kind}; are daimon and daimond the same version?"
        ),
    )
}

/// As root without DAIMON_HOME the first command starts the machine's one
/// daimond, whose files live in system directories: say so, and where, once
/// (on stderr, so output stays clean for scripts).
pub fn system_start_note(paths: &Paths) -> Option<String> {
    paths.system_mode.then(|| {
        format!(
            "daimon: starting the system instance of daimond (root, no DAIMON_HOME): unit files \
             in {}, runtime files in {}, state and logs in {}",
            paths.units.display(),
            paths.runtime.display(),
            paths.state.display()
        )
    })
}

/// `daimond` next to this executable, else from PATH.
pub(crate) fn daemon_binary() -> PathBuf {
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let p = dir.join("daimond");
        if p.is_file() {
            return p;
        }
    }
    PathBuf::from("daimond")
}

/// How a `daimond` start went.
struct Started {
    ok: bool,
    stderr: String,
}

/// Runs `daimond`, which daemonizes and exits once its socket answers (or with its
/// start-up error on stderr).
fn start_daemon() -> Result<Started, CliError> {
    let bin = daemon_binary();
    let out = Command::new(&bin)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| {
            CliError::fail(format!(
                "cannot start {}: {e}; install daimond next to daimon or in PATH",
                bin.display()
            ))
        })?;
    // A non-zero exit is often a race with another starting daemon ("already
    // running"): the caller still tries to connect, and reports this text if that fails.
    Ok(Started {
        ok: out.status.success(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_instance_says_where_its_files_are() {
        let root = Paths::resolve(|_| None, 0);
        assert_eq!(
            system_start_note(&root).as_deref(),
            Some(
                "daimon: starting the system instance of daimond (root, no DAIMON_HOME): unit \
                 files in /etc/daimon/units, runtime files in /run/daimon, state and logs in \
                 /var/lib/daimon"
            )
        );
        let home = Paths::resolve(|k| (k == "DAIMON_HOME").then(|| "/srv/d".into()), 0);
        assert_eq!(
            system_start_note(&home),
            None,
            "DAIMON_HOME: not the system one"
        );
        let user = Paths::resolve(|k| (k == "HOME").then(|| "/home/u".into()), 1000);
        assert_eq!(system_start_note(&user), None);
    }
}
