//! What the HTTP API refuses, and how: each refusal is a bounded JSON answer
//! (or a closed connection, for a client too slow to send its headers), and
//! the daemon goes on serving others.

mod api_common;
mod common;

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use api_common::{Api, read_answer};
use common::Daemon;

#[test]
fn requests_without_the_right_token_host_or_origin_are_refused() {
    let d = Daemon::start();
    let api = Api::of(d.path());
    let missing = api.curl_bare(&[], "api/units");
    assert_eq!(
        (missing.status, missing.code()),
        (401, "unauthorized".into())
    );
    assert!(
        missing.json()["message"]
            .as_str()
            .unwrap_or("")
            .contains("Bearer")
    );
    let mut wrong = api.token.clone().into_bytes();
    wrong[10] = if wrong[10] == b'a' { b'b' } else { b'a' };
    let wrong = format!("Authorization: Bearer {}", String::from_utf8_lossy(&wrong));
    let short = format!("Authorization: Bearer {}", &api.token[..32]);
    let long = format!("Authorization: Bearer {}0", api.token);
    let basic = format!("Authorization: Basic {}", api.token);
    for header in [&wrong, &short, &long, &basic] {
        let a = api.curl_bare(&["-H", header], "api/units");
        assert_eq!(
            (a.status, a.code()),
            (401, "unauthorized".into()),
            "{header}"
        );
    }
    // An unknown path is no way around the token.
    assert_eq!(api.curl_bare(&[], "api/nothing").status, 401);

    let rebinding = format!("Host: evil.example:{}", api.port);
    let a = api.curl(&["-H", &rebinding], "api/units");
    assert_eq!((a.status, a.code()), (421, "bad_host".into()), "{a:?}");
    let other_port = "Host: 127.0.0.1:1".to_string();
    assert_eq!(api.curl(&["-H", &other_port], "api/units").status, 421);
    let localhost = format!("Host: localhost:{}", api.port);
    assert_eq!(api.curl(&["-H", &localhost], "api/units").status, 200);

    let page = api.curl(&["-H", "Origin: http://evil.example"], "api/units");
    assert_eq!((page.status, page.code()), (403, "foreign_origin".into()));
    let null = api.curl(&["-H", "Origin: null"], "api/units");
    assert_eq!(null.status, 403);
    let own = format!("Origin: http://127.0.0.1:{}", api.port);
    let a = api.curl(&["-H", &own, "-i"], "api/units");
    assert_eq!(a.status, 200);
    assert!(
        !a.body.to_ascii_lowercase().contains("access-control-allow"),
        "no CORS headers: {}",
        a.body
    );
}

#[test]
fn bad_bodies_get_json_errors() {
    let d = Daemon::start();
    let api = Api::of(d.path());
    let unknown = api.post("api/units/x/kill", r#"{"signal":"TERM","sginal":"KILL"}"#);
    assert_eq!((unknown.status, unknown.code()), (400, "bad_json".into()));
    assert!(unknown.body.contains("sginal"), "{unknown:?}");
    let broken = api.post("api/run", r#"{"name": "#);
    assert_eq!((broken.status, broken.code()), (400, "bad_json".into()));
    let missing = api.post("api/run", r#"{"name":"a.service"}"#);
    assert_eq!(missing.status, 400, "{missing:?}");
    let form = api.curl(&["-X", "POST", "--data", "name=a"], "api/verify");
    assert_eq!(
        (form.status, form.code()),
        (415, "unsupported_media_type".into())
    );
    let query = api.get("api/units?all=1");
    assert_eq!((query.status, query.code()), (400, "invalid".into()));

    // Over 1 MiB, announced, and streamed without a length.
    let big = format!(
        r#"{{"name":"a.service","text":"{}"}}"#,
        "#".repeat(1024 * 1024 + 10)
    );
    let file = d.path().join("big.json");
    std::fs::write(&file, &big).expect("write");
    let at = format!("@{}", file.display());
    let r = api.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &at,
        ],
        "api/verify",
    );
    assert_eq!(
        (r.status, r.code()),
        (413, "body_too_large".into()),
        "{r:?}"
    );
    let r = api.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            &at,
        ],
        "api/verify",
    );
    assert_eq!(r.status, 413, "chunked: {r:?}");

    // Headers past the limit.
    let huge = format!("X-Filler: {}", "a".repeat(64 * 1024));
    let r = api.curl(&["-H", &huge], "api/units");
    assert_eq!(r.status, 431, "{r:?}");
    assert_eq!(api.get("api/units").status, 200, "still serving");
}

#[test]
fn a_client_sending_one_byte_a_second_is_cut_off() {
    let d = Daemon::start();
    let api = Api::of(d.path());
    let mut s = api.connect();
    s.set_read_timeout(Some(Duration::from_millis(1000)))
        .expect("timeout");
    let request = format!(
        "GET /api/units HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n",
        api.port
    );
    let start = Instant::now();
    let mut closed = false;
    for b in request.bytes().cycle().take(60) {
        if s.write_all(&[b]).is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(_) => {
                closed = true;
                break;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    let took = start.elapsed();
    assert!(closed, "a trickling client was never cut off");
    assert!(
        took < Duration::from_secs(15),
        "cut off after {took:?}, the header timeout is 10 s"
    );
    // A kept-alive connection that goes quiet after its answer is closed too.
    let mut s = api.connect();
    let get = format!(
        "GET /api/units HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\n\r\n",
        api.port, api.token
    );
    s.write_all(get.as_bytes()).expect("send");
    assert!(read_answer(&mut s).starts_with("HTTP/1.1 200"));
    let idle = Instant::now();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf);
    assert!(
        matches!(n, Ok(0)) || n.is_err() && idle.elapsed() < Duration::from_secs(19),
        "an idle kept-alive connection is closed: {n:?} after {:?}",
        idle.elapsed()
    );
    assert!(
        idle.elapsed() < Duration::from_secs(15),
        "closed after {:?}",
        idle.elapsed()
    );
}

#[test]
fn a_thousand_connections_at_once_each_get_an_answer() {
    let d = Daemon::start();
    let api = Api::of(d.path());
    let get = format!(
        "GET /api/units HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\n\
         Connection: close\r\n\r\n",
        api.port, api.token
    );
    let start = Instant::now();
    let mut conns: Vec<_> = (0..1000).map(|_| api.connect()).collect();
    for s in &mut conns {
        let _ = s.write_all(get.as_bytes());
    }
    let (mut ok, mut busy, mut other) = (0, 0, Vec::new());
    for s in &mut conns {
        let a = read_answer(s);
        if a.starts_with("HTTP/1.1 200") {
            ok += 1;
        } else if a.starts_with("HTTP/1.1 503") && a.contains("\"code\":\"busy\"") {
            busy += 1;
        } else {
            other.push(a);
        }
    }
    assert!(
        other.is_empty(),
        "answers neither 200 nor 503: {:?}",
        &other[..1]
    );
    assert_eq!(ok + busy, 1000);
    assert!(
        ok >= 200,
        "the first connections are served: {ok} ok, {busy} busy"
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    drop(conns);
    common::wait_until("the API serves again", common::DEADLINE, || {
        api.get("api/units").status == 200
    });
}
