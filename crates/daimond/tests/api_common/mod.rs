//! The HTTP side of the API tests: `api.json` read from a test daemon's home,
//! requests made with curl (a real client, as a user's script would), and raw
//! sockets for what no well-behaved client does.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::{DEADLINE, wait_until};

pub struct Api {
    pub url: String,
    pub port: u16,
    pub token: String,
    pub pid: u64,
}

/// An HTTP answer: status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// The `code` of a JSON error.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or("").to_string()
    }
}

impl Api {
    /// The API of the daemon whose home is `home`, once `api.json` exists.
    pub fn of(home: &Path) -> Api {
        let path = home.join("run/api.json");
        wait_until("api.json", DEADLINE, || path.exists());
        let text = std::fs::read_to_string(&path).expect("read api.json");
        let v: serde_json::Value = serde_json::from_str(&text).expect("api.json is JSON");
        Api {
            url: v["url"].as_str().expect("url").to_string(),
            port: v["port"].as_u64().expect("port") as u16,
            token: v["token"].as_str().expect("token").to_string(),
            pid: v["pid"].as_u64().expect("pid"),
        }
    }

    /// curl with the token, `extra` arguments, and `path` (no leading slash).
    pub fn curl(&self, extra: &[&str], path: &str) -> Answer {
        let auth = format!("Authorization: Bearer {}", self.token);
        let mut args = vec!["-H", &auth];
        args.extend_from_slice(extra);
        self.curl_bare(&args, path)
    }

    /// curl without the token.
    pub fn curl_bare(&self, extra: &[&str], path: &str) -> Answer {
        let url = format!("{}{path}", self.url);
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "20", "-w", "\n%{http_code}"])
            .args(extra)
            .arg(&url)
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
        Answer {
            status: status.trim().parse().unwrap_or(0),
            body: body.to_string(),
        }
    }

    pub fn get(&self, path: &str) -> Answer {
        self.curl(&[], path)
    }

    pub fn post(&self, path: &str, json: &str) -> Answer {
        if json.is_empty() {
            return self.curl(&["-X", "POST"], path);
        }
        self.curl(
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                json,
            ],
            path,
        )
    }

    /// A raw connection, with read and write timeouts.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the API");
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        s.set_write_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        s
    }

    /// Sends `request` as is and reads until the server closes or a complete
    /// answer with Content-Length has arrived.
    pub fn raw(&self, request: &str) -> String {
        let mut s = self.connect();
        s.write_all(request.as_bytes()).expect("send");
        read_answer(&mut s)
    }
}

/// Reads one answer (head and a Content-Length body), or until end of file.
pub fn read_answer(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())
                    .flatten()
            });
            if len.is_some_and(|n| body.len() >= n) {
                return text;
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&buf).into_owned(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
