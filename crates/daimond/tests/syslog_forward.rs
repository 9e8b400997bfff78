//! syslog out: `[Forward]` in daimond.conf sends lines as RFC 5424 to a
//! server: over UDP to a socket this test binds, and over TCP (octet-counted)
//! to a listener this test stops and starts again, checking that every line
//! arrives once and in order, across the outage and a restart of daimond.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use common::*;

fn configure(d: &Daemon, target: &str, unit: &str) {
    std::fs::write(
        d.path().join("daimond.conf"),
        format!("[Forward]\nTarget={target}\nUnit={unit}\n"),
    )
    .expect("daimond.conf");
}

fn stop(d: &mut Daemon) {
    d.ok(&["shutdown"]);
    let mut c = d.child.take().expect("daimond child");
    assert!(wait_child(&mut c, DEADLINE).is_some(), "daimond stopped");
}

/// One octet-counted frame (`LEN SP MSG`).
fn frame(r: &mut BufReader<TcpStream>) -> String {
    let mut len = Vec::new();
    r.read_until(b' ', &mut len).expect("frame length");
    let n: usize = String::from_utf8_lossy(&len)
        .trim()
        .parse()
        .expect("a length");
    let mut msg = vec![0u8; n];
    r.read_exact(&mut msg).expect("frame");
    String::from_utf8(msg).expect("UTF-8")
}

/// The MSG part of an RFC 5424 message (after the 7 header fields).
fn body(m: &str) -> &str {
    m.splitn(8, ' ').nth(7).unwrap_or("")
}

fn accept(l: &TcpListener) -> BufReader<TcpStream> {
    let (s, _) = l.accept().expect("daimond connects");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    BufReader::new(s)
}

#[test]
fn lines_go_out_over_udp_as_rfc5424() {
    let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
    server.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let port = server.local_addr().expect("addr").port();
    let mut d = Daemon::home_only();
    configure(&d, &format!("udp://127.0.0.1:{port}"), "talker");
    d.spawn_daemon();
    d.write_unit(
        "talker.service",
        "[Service]\nExecStart=/bin/sh -c 'echo hello one; echo \"<3>hello two\"; exec sleep 60'\n",
    );
    d.ok(&["start", "talker"]);
    let pid = d.wait_main_pid("talker");
    // Only what the service printed (daimond's lines about the unit, such as
    // "Started talker.service.", go too, with facility daemon).
    let mut got = Vec::new();
    let mut all = Vec::new();
    let mut buf = [0u8; 2048];
    while got.len() < 2 {
        let n = server
            .recv(&mut buf)
            .expect("a datagram within the deadline");
        let m = String::from_utf8_lossy(&buf[..n]).into_owned();
        if body(&m).starts_with("hello") {
            got.push(m.clone());
        }
        all.push(m);
    }
    assert!(
        all.iter()
            .any(|m| m.starts_with("<30>1 ") && body(m) == "Started talker.service."),
        "{all:?}"
    );
    // <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG; user facility (1).
    let f: Vec<&str> = got[0].splitn(8, ' ').collect();
    assert_eq!(f[0], "<14>1", "{got:?}");
    assert!(f[1].ends_with('Z') && f[1].contains('T'), "{got:?}");
    assert_eq!(
        (f[3], f[4], f[5], f[6]),
        ("talker", &*pid.to_string(), "-", "-")
    );
    assert_eq!(f[7], "hello one");
    assert!(got[1].starts_with("<11>1 "), "{got:?}");
    assert_eq!(body(&got[1]), "hello two");
    d.ok(&["stop", "talker"]);
}

#[test]
fn tcp_lines_wait_for_the_server_and_arrive_once_in_order() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut d = Daemon::home_only();
    configure(&d, &format!("tcp://{addr}"), "syslog");
    d.spawn_daemon();
    let sock = d.path().join("run/syslog.sock");
    wait_until("the syslog socket", DEADLINE, || sock.exists());
    let c = UnixDatagram::unbound().expect("socket");
    let send = |from: usize, to: usize| {
        for i in from..=to {
            c.send_to(format!("<13>app: m{i}").as_bytes(), &sock)
                .expect("send");
        }
    };

    send(1, 5);
    let mut r = accept(&listener);
    let got: Vec<String> = (0..5).map(|_| frame(&mut r)).collect();
    assert!(got[0].starts_with("<13>1 "), "{got:?}");
    let bodies: Vec<&str> = got.iter().map(|m| body(m)).collect();
    assert_eq!(bodies, ["m1", "m2", "m3", "m4", "m5"]);

    // The server goes away; lines keep coming and wait in the store.
    drop(r);
    drop(listener);
    send(6, 10);
    std::thread::sleep(Duration::from_millis(300));
    let listener = TcpListener::bind(addr).expect("bind the same port again");
    let mut r = accept(&listener);
    let bodies: Vec<String> = (0..5).map(|_| body(&frame(&mut r)).to_string()).collect();
    assert_eq!(bodies, ["m6", "m7", "m8", "m9", "m10"]);

    // A restart of daimond resends nothing and skips nothing.
    stop(&mut d);
    send_after_restart(&mut d, &listener);
}

fn send_after_restart(d: &mut Daemon, listener: &TcpListener) {
    d.spawn_daemon();
    let sock = d.path().join("run/syslog.sock");
    wait_until("the syslog socket", DEADLINE, || sock.exists());
    let c = UnixDatagram::unbound().expect("socket");
    c.send_to(b"<13>app: m11", &sock).expect("send");
    let mut r = accept(listener);
    assert_eq!(body(&frame(&mut r)), "m11");
}
