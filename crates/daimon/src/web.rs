//! `daimon web`: a one-time login link to the dashboard daimond serves.
//!
//! Asks the HTTP API (with the token from `api.json`) for a login code that
//! works once, within a minute, and prints the link carrying it; the page
//! trades the code for a session cookie. The token itself never goes into a
//! URL, a browser or the terminal.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use daimon_proto::Paths;

use crate::commands::{connect, print};
use crate::error::{CliError, CliResult};

/// `daimon web [--no-open]`.
pub fn run(paths: &Paths, no_open: bool) -> CliResult {
    drop(connect(paths)?);
    let v = crate::api::read(paths)?;
    let (Some(port), Some(token)) = (v["port"].as_u64(), v["token"].as_str()) else {
        return Err(CliError::fail(format!(
            "{}: no port or token in it",
            paths.api_file().display()
        )));
    };
    let port = u16::try_from(port)
        .map_err(|_| CliError::fail(format!("api.json: port {port} is out of range")))?;
    let code = ask_code(port, token)?;
    let url = format!("http://127.0.0.1:{port}/?code={code}");
    let mut out = format!("{url}\n(the link works once, within a minute)\n");
    if let Ok(ssh) = std::env::var("SSH_CONNECTION") {
        // SSH_CONNECTION is "client-ip client-port server-ip server-port".
        let server = ssh.split_whitespace().nth(2).unwrap_or("HOST").to_owned();
        let user = std::env::var("USER").unwrap_or_else(|_| "USER".into());
        out.push_str(&format!(
            "over SSH: on your own machine run\n  ssh -L {port}:127.0.0.1:{port} {user}@{server}\n\
             then open the link there\n"
        ));
    } else if !no_open && has_display() {
        // Best effort: the link is printed either way.
        let _ = std::process::Command::new("xdg-open")
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
    print(&out)
}

fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

/// `POST /api/web/code` over plain HTTP/1.1 on loopback.
fn ask_code(port: u16, token: &str) -> Result<String, CliError> {
    let fail = |e: std::io::Error| {
        CliError::fail(format!(
            "cannot reach daimond's HTTP API on 127.0.0.1:{port}: {e}"
        ))
    };
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(fail)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(fail)?;
    let req = format!(
        "POST /api/web/code HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).map_err(fail)?;
    let mut answer = String::new();
    s.take(64 * 1024)
        .read_to_string(&mut answer)
        .map_err(fail)?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let ok = head.starts_with("HTTP/1.1 200");
    let v: serde_json::Value = serde_json::from_str(body.trim()).unwrap_or_default();
    match (ok, v["code"].as_str()) {
        (true, Some(code)) if code.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(code.to_owned()),
        _ => Err(CliError::fail(format!(
            "daimond refused a login code: {}",
            v["message"]
                .as_str()
                .unwrap_or_else(|| head.lines().next().unwrap_or("no answer"))
        ))),
    }
}
