//! The dashboard behind a reverse proxy under a path prefix: nginx (run as a
//! service of the test's own daimond) serves `/daimon/` from daimond's API,
//! and the page works through it in headless Chromium (`tests/web/proxy.py`):
//! login, the live units table, stop and start, followed logs. The nginx
//! configuration is the one README.md shows: `proxy_pass` keeps the `Host`
//! daimond expects, and the browser's `Origin` is rewritten only when it is the
//! proxy's own, so another page's requests are still refused.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// README.md's nginx configuration for the dashboard, in a test directory.
fn nginx_conf(dir: &Path, port: u16, api_port: u16) -> String {
    let d = dir.display();
    // Workers as root can use the temporary paths in the test's 0700 home.
    // SAFETY: geteuid(2) cannot fail.
    let user = if unsafe { libc::geteuid() } == 0 {
        "user root;\n"
    } else {
        ""
    };
    format!(
        "{user}worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         map $http_origin $daimon_origin {{\n    \"http://127.0.0.1:{port}\" \"http://127.0.0.1:{api_port}\";\n    default $http_origin;\n  }}\n\
         server {{\n    listen 127.0.0.1:{port};\n\
         location /daimon/ {{\n      proxy_pass http://127.0.0.1:{api_port}/;\n\
         proxy_set_header Origin $daimon_origin;\n      proxy_http_version 1.1;\n\
         proxy_read_timeout 1h;\n    }}\n  }}\n}}\n"
    )
}

#[test]
fn the_dashboard_works_behind_nginx_under_a_path_prefix() {
    assert!(
        Path::new("/usr/sbin/nginx").exists()
            && Path::new("/usr/bin/chromium").exists()
            && Command::new("python3")
                .args(["-c", "import playwright"])
                .output()
                .is_ok_and(|o| o.status.success()),
        "this test needs /usr/sbin/nginx, /usr/bin/chromium and Playwright for Python \
         (`bash .ci/run` installs every test dependency)"
    );
    let mut d = Daemon::start();
    let api: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.path().join("run/api.json")).expect("api.json"),
    )
    .expect("api.json is JSON");
    let api_port = api["port"].as_u64().expect("port") as u16;
    let port = free_port();
    let dir = d.path().join("nginx");
    std::fs::create_dir_all(&dir).expect("nginx dir");
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, nginx_conf(&dir, port, api_port)).expect("nginx.conf");
    d.write_unit(
        "proxy.service",
        &format!(
            "[Service]\nExecStart=/usr/sbin/nginx -g 'daemon off;' -p {} -c {}\n",
            dir.display(),
            conf.display()
        ),
    );
    d.write_unit(
        "steady.service",
        "[Service]\nExecStart=/bin/sh -c 'echo steady up; exec sleep 1000'\n",
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "proxy", "steady"]);
    wait_until("nginx to listen", DEADLINE, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let printed = d.ok(&["web", "--no-open"]);
    let direct = format!("http://127.0.0.1:{api_port}/");
    let url = printed
        .lines()
        .next()
        .and_then(|l| l.strip_prefix(&direct))
        .map(|rest| format!("http://127.0.0.1:{port}/daimon/{rest}"))
        .unwrap_or_else(|| panic!("daimon web printed {printed:?}"));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/web/proxy.py");
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/web-screenshots");
    let out = run_bounded(
        Command::new("python3").arg(&script).arg(&url).arg(&shots),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "the proxied dashboard failed ({:?}):\n{}\n{}\nnginx: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
    );
}
