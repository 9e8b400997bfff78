//! The fd store (sd_notify(3) `FDSTORE=1`, `FileDescriptorStoreMax=`) as a
//! service sees it: what it hands daimond comes back after a restart as
//! `LISTEN_FDS`/`LISTEN_FDNAMES` (a memfd whose contents carry over),
//! `FDSTOREREMOVE=1` takes one out, the store survives a daimond SIGKILL
//! through daimond's fd holder, and a stop empties it.

mod common;

use common::{DEADLINE, Daemon, wait_until};

/// Reports what it got, then stores a memfd named `state` holding the next
/// generation, stores and removes a pipe named `scratch`, and says `stored`
/// in a later datagram (datagrams are handled in order: once `status` shows
/// it, the store holds the memfd).
const SERVICE: &str = r#"
import os, socket, time
n = int(os.environ.get("LISTEN_FDS", "0"))
names = os.environ.get("LISTEN_FDNAMES", "")
gen = 0
if n:
    data = os.pread(3, 64, 0).decode()
    gen = int(data.split()[1])
print(f"got fds={n} names={names} generation={gen}", flush=True)
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(addr)
fd = 3 if n else os.memfd_create("state")
os.pwrite(fd, f"generation {gen + 1}\n".encode(), 0)
socket.send_fds(s, [b"FDSTORE=1\nFDNAME=state"], [fd])
r, w = os.pipe()
socket.send_fds(s, [b"FDSTORE=1\nFDNAME=scratch"], [r])
s.send(b"FDSTOREREMOVE=1\nFDNAME=scratch")
s.send(f"STATUS=stored {gen + 1}".encode())
while True:
    time.sleep(60)
"#;

fn python() -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is installed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wait_stored(d: &mut Daemon, generation: u32) {
    wait_until(&format!("STATUS=stored {generation}"), DEADLINE, || {
        d.status_json("keeper.service")["status_text"] == format!("stored {generation}")
    });
}

fn wait_line(d: &mut Daemon, line: &str) {
    wait_until(&format!("the line {line:?}"), DEADLINE, || {
        d.ok(&["logs", "keeper", "-o", "cat"]).contains(line)
    });
}

#[test]
fn stored_descriptors_come_back_after_restarts_and_a_daimond_kill() {
    let mut d = Daemon::start();
    let prog = d.path().join("keeper.py");
    std::fs::write(&prog, SERVICE).expect("write service");
    d.write_unit(
        "keeper.service",
        &format!(
            "[Service]\nNotifyAccess=main\nFileDescriptorStoreMax=4\nExecStart={} {}\n",
            python(),
            prog.display()
        ),
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "keeper.service"]);
    wait_line(&mut d, "got fds=0 names= generation=0");
    wait_stored(&mut d, 1);
    // A restart: the memfd comes back as fd 3, named; the removed pipe does not.
    d.ok(&["restart", "keeper.service"]);
    wait_line(&mut d, "got fds=1 names=state generation=1");
    wait_stored(&mut d, 2);
    // daimond killed: its fd holder keeps the store for the next daimond.
    d.kill_daemon();
    d.spawn_daemon();
    d.ok(&["restart", "keeper.service"]);
    wait_line(&mut d, "got fds=1 names=state generation=2");
    wait_stored(&mut d, 3);
    // A stop empties the store: the next start begins afresh.
    d.ok(&["stop", "keeper.service"]);
    d.ok(&["start", "keeper.service"]);
    wait_until("a fresh start", DEADLINE, || {
        d.ok(&["logs", "keeper", "-o", "cat"])
            .matches("got fds=0 names= generation=0")
            .count()
            == 2
    });
}

#[test]
fn without_file_descriptor_store_max_descriptors_are_refused() {
    let mut d = Daemon::start();
    let prog = d.path().join("keeper.py");
    std::fs::write(&prog, SERVICE).expect("write service");
    d.write_unit(
        "keeper.service",
        &format!(
            "[Service]\nNotifyAccess=main\nExecStart={} {}\n",
            python(),
            prog.display()
        ),
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "keeper.service"]);
    wait_stored(&mut d, 1);
    wait_line(&mut d, "got FDSTORE=1 but FileDescriptorStoreMax= is 0");
    d.ok(&["restart", "keeper.service"]);
    wait_stored(&mut d, 1);
    let logs = d.ok(&["logs", "keeper", "-o", "cat"]);
    assert_eq!(
        logs.matches("got fds=0 names= generation=0").count(),
        2,
        "{logs}"
    );
}
