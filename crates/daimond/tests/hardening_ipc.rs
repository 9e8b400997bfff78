//! Hostile and clumsy input at the socket: invalid unit names, requests that
//! used to wedge the owner, huge names and long answers. Each test is a
//! reproduction of a way daimond could be broken, and shows it is refused early
//! or answered within bounds.

mod common;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;
use daimon_proto::{Hello, PROTOCOL_VERSION, Request, Response, read_frame, write_frame};

/// One raw request (as any client could send it) and its final answer.
fn raw(d: &Daemon, req: &Request) -> Response {
    let mut s = UnixStream::connect(d.socket()).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut buf = daimon_proto::encode(&Hello {
        version: PROTOCOL_VERSION,
    })
    .expect("hello");
    daimon_proto::encode_into(&mut buf, req).expect("request");
    s.write_all(&buf).expect("write");
    match read_frame::<_, Response>(&mut s).expect("welcome") {
        Response::Welcome(_) => {}
        other => panic!("expected Welcome, got {other:?}"),
    }
    read_frame(&mut s).expect("answer")
}

fn invalid_message(r: Response) -> String {
    match r {
        Response::Error(e) => {
            assert_eq!(e.kind, daimon_proto::ErrorKind::Invalid, "{}", e.message);
            e.message
        }
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The reproduction: `stop 'a b'` hung, and the shutdown behind it
/// never finished. Now every invalid name is refused at once, exit 1, with what
/// a valid name looks like, and shutdown completes.
#[test]
fn invalid_names_are_refused_at_once_and_shutdown_completes() {
    let mut d = Daemon::start();
    d.ok(&["run", "--name", "real", "--", "sleep", "5000"]);
    let real = d.wait_main_pid("real.service");
    for name in ["a b", "bad/x", "@.service", "\u{fc}"] {
        for verb in [
            "start", "stop", "restart", "reload", "enable", "disable", "cat",
        ] {
            let start = Instant::now();
            let out = d.cli(&[verb, name]);
            assert!(start.elapsed() < Duration::from_secs(5), "{verb} {name}");
            assert_eq!(
                out.status.code(),
                Some(1),
                "{verb} {name}: {}",
                stderr(&out)
            );
            let err = stderr(&out);
            assert!(err.contains("is not a valid unit name"), "{err}");
            assert!(err.contains("looks like web.service"), "{err}");
        }
    }
    // The CLI refuses before sending; the daemon refuses whatever a client sends.
    for name in ["a b", "bad/x", "@.service", "\u{fc}"] {
        let msg = invalid_message(raw(
            &d,
            &Request::Stop {
                units: vec![name.to_string()],
            },
        ));
        assert!(msg.contains("is not a valid unit name"), "{msg}");
    }
    // Nothing became a unit.
    let list = d.ok(&["list"]);
    assert_eq!(list.matches(".service").count(), 1, "{list}");
    let start = Instant::now();
    let out = d.cli(&["shutdown"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid = d.daemon_pid().expect("daemon pid");
    wait_until("daimond to exit after shutdown", DEADLINE, || {
        !pid_alive(pid)
    });
    assert!(!pid_alive(real), "the service outlived the shutdown");
    eprintln!("shutdown took {:?}", start.elapsed());
}

/// The root cause of the hang, with a valid name: a job for a unit that has
/// no definition to run (its file has errors) waited forever. It now ends at
/// once: stopping what does not run succeeds, starting it fails with the
/// reason (the file's error, an unsupported type); and shutdown is not held up.
#[test]
fn a_job_for_a_unit_that_cannot_run_ends_at_once() {
    let mut d = Daemon::start();
    d.write_unit("broken.service", "[Service]\nBogus line\n");
    d.ok(&["daemon-reload"]);
    d.ok(&["run", "--name", "real", "--", "sleep", "5000"]);
    let start = Instant::now();
    d.ok(&["stop", "broken"]);
    for verb in ["start", "restart"] {
        let out = d.cli(&[verb, "broken"]);
        assert_eq!(out.status.code(), Some(1), "{verb}");
        assert!(
            stderr(&out).contains("is not an assignment"),
            "{}",
            stderr(&out)
        );
    }
    // A unit that has no reload (a path unit): the same.
    d.write_unit("watch.path", "[Path]\nPathExists=/tmp\n");
    d.ok(&["stop", "watch.path"]);
    let out = d.cli(&["reload", "watch.path"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot be reloaded"),
        "{}",
        stderr(&out)
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    let out = d.cli(&["shutdown"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid = d.daemon_pid().expect("daemon pid");
    wait_until("daimond to exit after shutdown", DEADLINE, || {
        !pid_alive(pid)
    });
}

/// A raw `Enable` of a path-like name never reaches the enabled set (or any
/// other file); `daimon start 'my app'` leaves no ghost unit behind.
#[test]
fn a_path_as_a_unit_name_never_reaches_a_file() {
    let mut d = Daemon::start();
    let msg = invalid_message(raw(
        &d,
        &Request::Enable {
            units: vec!["../../../tmp/evil.service".into()],
        },
    ));
    assert!(msg.contains("../../../tmp/evil.service"), "{msg}");
    let enabled = std::fs::read_to_string(d.path().join("state/enabled")).unwrap_or_default();
    assert!(!enabled.contains("evil"), "{enabled}");
    let out = d.cli(&["start", "my app"]);
    assert_eq!(out.status.code(), Some(1));
    d.ok(&["daemon-reload"]);
    let status = d.ok(&["status"]);
    assert!(!status.contains("my app"), "{status}");
}

/// Every request variant that carries a name checks it, the run name and the
/// timer name of a scheduled run included.
#[test]
fn every_request_that_names_a_unit_checks_the_name() {
    let d = Daemon::start();
    let bad = || vec!["a b".to_string()];
    let run = |name: &str, timer: Option<&str>| {
        Request::Run(daimon_proto::RunRequest {
            name: name.into(),
            unit_text: "[Service]\nExecStart=/bin/true\n".into(),
            save: true,
            enable: false,
            timer: timer.map(|t| daimon_proto::RunTimer {
                name: t.into(),
                unit_text: "[Timer]\nOnActiveSec=1h\n".into(),
            }),
            socket: None,
        })
    };
    let requests = [
        Request::Start { units: bad() },
        Request::Stop { units: bad() },
        Request::Restart { units: bad() },
        Request::Reload { units: bad() },
        Request::Enable { units: bad() },
        Request::Disable { units: bad() },
        Request::Status {
            units: bad(),
            log_lines: 0,
            brief: false,
        },
        Request::Cat { unit: "a b".into() },
        Request::Logs(daimon_proto::LogsRequest {
            units: bad(),
            ..Default::default()
        }),
        run("../x.service", None),
        run("ok.service", Some("../ok.timer")),
    ];
    for r in &requests {
        let msg = invalid_message(raw(&d, r));
        assert!(msg.contains("is not a valid unit name"), "{r:?}: {msg}");
    }
    let units: Vec<_> = std::fs::read_dir(d.units_dir())
        .expect("units dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(units.is_empty(), "{units:?}");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// 300 `Start` requests with different 100 KB names grew RSS by 240 MB and
/// left ghost units whose `status` no longer fit a frame. They are refused at
/// entry now: no unit, no growth, and `status` still answers.
#[test]
fn huge_names_are_refused_without_growing_the_daemon() {
    let mut d = Daemon::start();
    let pid = d.daemon_pid().expect("daemon pid");
    // Warm up the paths a request takes, so the baseline includes them.
    for i in 0..5 {
        let _ = raw(
            &d,
            &Request::Start {
                units: vec![format!("{i}{}", "x".repeat(100_000))],
            },
        );
    }
    let before = rss_kib(pid);
    for i in 0..300 {
        let name = format!("{i:03}{}", "x".repeat(100_000));
        let msg = invalid_message(raw(&d, &Request::Start { units: vec![name] }));
        assert!(msg.len() < 1000, "the refusal quotes the whole name");
    }
    let after = rss_kib(pid);
    eprintln!("RSS before {before} KiB, after 300 huge names {after} KiB");
    assert!(
        after < before + 4 * 1024,
        "RSS grew from {before} to {after} KiB"
    );
    let status = d.ok(&["status"]);
    assert!(!status.contains("xxxx"), "{status}");
}

/// Many units with long (valid) names and descriptions: `status` and `list`
/// still answer, though the whole answer is larger than the frame limit (long
/// lists go in parts).
#[test]
fn status_of_many_long_named_units_still_answers() {
    let mut d = Daemon::start();
    let long = "u".repeat(240);
    let mut text = String::new();
    for i in 0..2000 {
        let name = format!("{long}{i:04}.service");
        text.clear();
        text.push_str(&format!(
            "[Unit]\nDescription={}\n[Service]\nExecStart=/bin/true\n",
            "d".repeat(9000)
        ));
        std::fs::write(d.units_dir().join(name), &text).expect("unit");
    }
    d.ok(&["daemon-reload"]);
    let out = d.cli(&["status", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    let units = v.as_array().expect("array");
    assert!(units.len() >= 2000, "{} units", units.len());
    let limit = daimon_proto::MAX_FRAME_LEN as usize;
    assert!(out.stdout.len() > limit, "{} bytes", out.stdout.len());
    let list = d.ok(&["list"]);
    assert!(list.lines().count() >= 2000);
    let table = d.ok(&["status"]);
    assert!(table.contains(&format!("{long}1999.service")));
}

/// A frame header is no longer enough to make daimond allocate: a request of
/// more than the request limit is refused, as is a handshake of more than a
/// few KiB.
#[test]
fn the_handshake_and_the_request_have_their_own_size_limits() {
    let d = Daemon::start();
    let mut s = UnixStream::connect(d.socket()).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.write_all(&(daimon_proto::MAX_HELLO_LEN + 1).to_be_bytes())
        .expect("header");
    let msg = invalid_message(read_frame(&mut s).expect("a refusal"));
    assert!(msg.contains("limit"), "{msg}");

    let mut s = UnixStream::connect(d.socket()).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
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
    s.write_all(&(daimon_proto::MAX_REQUEST_LEN + 1).to_be_bytes())
        .expect("header");
    let msg = invalid_message(read_frame(&mut s).expect("a refusal"));
    assert!(msg.contains("limit"), "{msg}");
}

/// A small deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Room for 1,000 client sockets in this process.
fn raise_nofile(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write to and read from a valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn connect_quiet(d: &Daemon) -> UnixStream {
    let s = UnixStream::connect(d.socket()).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.set_write_timeout(Some(DEADLINE)).expect("timeout");
    s
}

/// Sends `payload` as one frame after a valid `Hello`; the daemon must answer
/// with an error (never hang, never crash).
fn malformed_request(d: &Daemon, payload: &[u8]) {
    let mut s = connect_quiet(d);
    let mut buf = daimon_proto::encode(&Hello {
        version: PROTOCOL_VERSION,
    })
    .expect("hello");
    buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    buf.extend_from_slice(payload);
    s.write_all(&buf).expect("write");
    assert!(matches!(
        read_frame::<_, Response>(&mut s),
        Ok(Response::Welcome(_))
    ));
    match read_frame::<_, Response>(&mut s) {
        Ok(Response::Error(_)) => {}
        other => panic!(
            "{:?}: expected an error, got {other:?}",
            String::from_utf8_lossy(payload)
        ),
    }
}

fn timed_status(d: &mut Daemon) -> Duration {
    let start = Instant::now();
    let out = d.cli(&["status"]);
    let took = start.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    took
}

/// Random bytes, oversized and truncated frames, 1,000 idle connections and
/// 10,000 malformed requests: daimond keeps answering, and afterwards it is
/// quick and no bigger than before.
#[test]
fn socket_abuse_leaves_daimond_answering_and_small() {
    raise_nofile(4096);
    let mut d = Daemon::start();
    let pid = d.daemon_pid().expect("daemon pid");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Warm up every path once so the baseline includes what a first use allocates.
    for _ in 0..3 {
        timed_status(&mut d);
        malformed_request(&d, b"{");
        let _held: Vec<UnixStream> = (0..200).map(|_| connect_quiet(&d)).collect();
    }
    timed_status(&mut d);
    let before = rss_kib(pid);

    // Random bytes, whatever the header they make.
    for _ in 0..500 {
        let n = (rng.next() % 8192) as usize;
        let mut s = connect_quiet(&d);
        let _ = s.write_all(&rng.bytes(n));
    }
    // Oversized headers (handshake and request) and frames cut short.
    for len in [
        daimon_proto::MAX_FRAME_LEN,
        u32::MAX,
        daimon_proto::MAX_HELLO_LEN + 1,
    ] {
        for _ in 0..50 {
            let mut s = connect_quiet(&d);
            let _ = s.write_all(&len.to_be_bytes());
            let _ = s.write_all(&rng.bytes(1000));
        }
    }
    for _ in 0..200 {
        let mut s = connect_quiet(&d);
        let _ = s.write_all(&4000u32.to_be_bytes());
        let n = (rng.next() % 3999) as usize;
        let _ = s.write_all(&rng.bytes(n));
    }

    // 1,000 idle connections: the CLI still gets in while they are held.
    let idle: Vec<UnixStream> = (0..1000).map(|_| connect_quiet(&d)).collect();
    let during = timed_status(&mut d);
    eprintln!("status with 1000 idle connections open: {during:?}");
    drop(idle);

    // 10,000 malformed requests behind valid handshakes, from 4 threads.
    let shapes: [&[u8]; 6] = [
        b"{",
        b"{\"Start\":{\"units\":5}}",
        b"{\"Nope\":null}",
        b"\xff\xfe\xfd",
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        b"{\"Logs\":{\"units\":[],\"output\":\"short\",\"lines\":-1}}",
    ];
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let d = &d;
            scope.spawn(move || {
                let mut rng = Rng(0x1234_5678 + t);
                for i in 0..2500 {
                    if i % 2 == 0 {
                        malformed_request(d, shapes[i / 2 % shapes.len()]);
                    } else {
                        let n = 1 + (rng.next() % 300) as usize;
                        let mut junk = rng.bytes(n);
                        junk[0] = b'{'; // never a valid request by chance
                        junk.push(b'\0');
                        malformed_request(d, &junk);
                    }
                }
            });
        }
    });

    // Answering, and quickly, once the abuse stops.
    let start = Instant::now();
    wait_until("daimon status to answer after the abuse", DEADLINE, || {
        d.cli(&["status"]).status.success()
    });
    let first = start.elapsed();
    let after_latency = (0..5).map(|_| timed_status(&mut d)).min().expect("latency");
    eprintln!("after the abuse: first status in {first:?}, then {after_latency:?}");
    assert!(
        after_latency < Duration::from_millis(500),
        "{after_latency:?}"
    );

    // Memory back where it was: connections and their buffers are freed.
    let mut after = rss_kib(pid);
    let settle = Instant::now();
    while after > before + 2048 && settle.elapsed() < Duration::from_secs(5) {
        timed_status(&mut d);
        std::thread::sleep(Duration::from_millis(100));
        after = rss_kib(pid);
    }
    eprintln!("RSS before {before} KiB, after the abuse {after} KiB");
    assert!(
        after <= before + 2048,
        "RSS grew from {before} to {after} KiB"
    );
}
