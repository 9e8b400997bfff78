//! The socket's guards, spoken to with raw frames: the version handshake, the
//! frame size limit, the read timeout, the connection cap, and an accept loop that
//! never waits on a silent peer.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;
use daimon_proto::{
    ErrorKind, Hello, PROTOCOL_VERSION, Request, Response, read_frame, write_frame,
};

fn connect(d: &Daemon) -> UnixStream {
    let s = UnixStream::connect(d.socket()).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s
}

fn error_kind(r: Response) -> ErrorKind {
    match r {
        Response::Error(e) => e.kind,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn handshake_then_one_request() {
    let d = Daemon::start();
    let mut s = connect(&d);
    write_frame(
        &mut s,
        &Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .expect("hello");
    match read_frame::<_, Response>(&mut s).expect("welcome") {
        Response::Welcome(w) => {
            assert_eq!(w.version, PROTOCOL_VERSION);
            assert_eq!(Some(w.daemon_pid), d.daemon_pid());
        }
        other => panic!("expected Welcome, got {other:?}"),
    }
    write_frame(&mut s, &Request::List).expect("request");
    assert!(matches!(
        read_frame::<_, Response>(&mut s),
        Ok(Response::List(_))
    ));
}

#[test]
fn another_protocol_version_is_refused_with_advice() {
    let d = Daemon::start();
    let mut s = connect(&d);
    write_frame(
        &mut s,
        &Hello {
            version: PROTOCOL_VERSION + 1,
        },
    )
    .expect("hello");
    match read_frame::<_, Response>(&mut s).expect("reply") {
        Response::Error(e) => {
            assert_eq!(e.kind, ErrorKind::Version);
            assert!(e.message.contains("daimon shutdown"), "{}", e.message);
        }
        other => panic!("expected a version error, got {other:?}"),
    }
}

/// Hello and the request in one write, as the CLI sends them: both answered
/// in turn.
#[test]
fn a_request_may_follow_hello_in_the_same_write() {
    let d = Daemon::start();
    let mut s = connect(&d);
    let mut buf = Vec::new();
    daimon_proto::encode_into(
        &mut buf,
        &Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .expect("hello");
    let status = Request::Status {
        units: vec![],
        log_lines: 0,
        brief: true,
    };
    daimon_proto::encode_into(&mut buf, &status).expect("request");
    s.write_all(&buf).expect("write");
    assert!(matches!(
        read_frame::<_, Response>(&mut s),
        Ok(Response::Welcome(_))
    ));
    assert!(matches!(
        read_frame::<_, Response>(&mut s),
        Ok(Response::StatusTable(_))
    ));
}

/// A refused client's pipelined request is not run, and the refusal reaches
/// it intact (not a connection reset).
#[test]
fn a_request_behind_a_refused_hello_is_dropped() {
    let d = Daemon::start();
    let mut s = connect(&d);
    let mut buf = Vec::new();
    daimon_proto::encode_into(
        &mut buf,
        &Hello {
            version: PROTOCOL_VERSION + 1,
        },
    )
    .expect("hello");
    daimon_proto::encode_into(&mut buf, &Request::Shutdown).expect("request");
    s.write_all(&buf).expect("write");
    let r = read_frame::<_, Response>(&mut s).expect("a version error");
    assert_eq!(error_kind(r), ErrorKind::Version);
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).expect("a clean end of the stream");
    assert!(rest.is_empty());
    // Still serving: the shutdown behind the refused hello was not obeyed.
    let mut s = connect(&d);
    write_frame(
        &mut s,
        &Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .expect("hello");
    assert!(matches!(
        read_frame::<_, Response>(&mut s),
        Ok(Response::Welcome(_))
    ));
}

#[test]
fn an_oversized_frame_is_refused_before_allocating() {
    let d = Daemon::start();
    let mut s = connect(&d);
    s.write_all(&u32::MAX.to_be_bytes()).expect("header");
    let r = read_frame::<_, Response>(&mut s).expect("an error reply");
    assert_eq!(error_kind(r), ErrorKind::Invalid);
    // And the connection is closed after it.
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty());
}

#[test]
fn a_silent_client_neither_blocks_others_nor_stays_forever() {
    let mut d = Daemon::start();
    let mut silent = connect(&d);
    // Others are served at once while it says nothing.
    let start = Instant::now();
    d.ok(&["list"]);
    assert!(start.elapsed() < Duration::from_secs(2));
    // After the read timeout (5 s) the daemon tells it and closes.
    silent
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let start = Instant::now();
    let r = read_frame::<_, Response>(&mut silent).expect("a timeout reply");
    assert_eq!(error_kind(r), ErrorKind::Invalid);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(10),
        "closed after {waited:?}"
    );
}

fn hello(d: &Daemon) -> UnixStream {
    let mut s = connect(d);
    write_frame(
        &mut s,
        &Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .expect("hello");
    let w = read_frame::<_, Response>(&mut s).expect("welcome");
    assert!(matches!(w, Response::Welcome(_)), "{w:?}");
    s
}

/// At the cap, the oldest connection that has sent no request gives way to
/// the newcomer and is told why.
#[test]
fn at_the_cap_the_oldest_idle_connection_gives_way() {
    let mut d = Daemon::start();
    // Each held connection completes the handshake, so it surely has a slot.
    let mut held: Vec<UnixStream> = (0..128).map(|_| hello(&d)).collect();
    let _newcomer = hello(&d);
    let r = read_frame::<_, Response>(&mut held[0]).expect("a reason for the oldest");
    match r {
        Response::Error(e) => {
            assert_eq!(e.kind, ErrorKind::Unavailable);
            assert!(e.message.contains("sent no request"), "{}", e.message);
        }
        other => panic!("expected an error, got {other:?}"),
    }
    let start = Instant::now();
    d.ok(&["list"]);
    assert!(start.elapsed() < Duration::from_secs(2));
}

/// When every slot serves a request (here, log streams), a newcomer is told
/// daimond is busy: a reply, never a reset.
#[test]
fn when_every_slot_is_busy_a_newcomer_is_told_so() {
    let mut d = Daemon::start();
    let follow = Request::Logs(daimon_proto::LogsRequest {
        lines: Some(0),
        follow: true,
        ..Default::default()
    });
    let held: Vec<UnixStream> = (0..128)
        .map(|_| {
            let mut s = hello(&d);
            write_frame(&mut s, &follow).expect("follow");
            s
        })
        .collect();
    // The follows are read asynchronously: poll until the cap is full of them.
    wait_until("every slot serving a log stream", DEADLINE, || {
        let out = d.cli(&["list"]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        !out.status.success() && err.contains("busy")
    });
    let out = d.cli(&["list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("daimond is busy") && !err.contains("reset"),
        "{err}"
    );
    drop(held);
    wait_until("a free connection slot", DEADLINE, || {
        d.cli(&["list"]).status.success()
    });
}

/// Only testable as root: another uid is refused even when the file modes would
/// let it reach the socket.
#[test]
fn another_user_is_refused_by_peer_credentials() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to act as another user");
        return;
    }
    // The test binaries may live where uid 65534 cannot reach them (under /root).
    let reachable = std::process::Command::new(bin("daimon"))
        .arg("--version")
        .uid(65534)
        .gid(65534)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !reachable {
        eprintln!("skipped: the test binaries are not reachable by uid 65534");
        return;
    }
    let d = Daemon::start();
    let open = |p: &std::path::Path, mode| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    open(d.path(), 0o755);
    // Enterable, not writable: the CLI trusts a root-owned directory only
    // if no one else may plant files in it.
    open(&d.path().join("run"), 0o755);
    open(&d.socket(), 0o666);
    let mut cmd = std::process::Command::new(bin("daimon"));
    cmd.arg("list")
        .env("DAIMON_HOME", d.path())
        .uid(65534)
        .gid(65534);
    let out = run_bounded(&mut cmd, DEADLINE);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "daimon: permission denied: this daimond belongs to another user"
    );
}
