//! The logout story: a user in an SSH-like session (own session, controlling
//! terminal) starts a service with `daimon run` and logs out. The hangup reaches
//! every process of that session; the service and the daemon must not be among
//! them.

mod common;

use std::ffi::CString;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use nix::pty::{ForkptyResult, forkpty};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in test strings")
}

#[test]
fn a_service_started_from_a_terminal_session_survives_logout() {
    let mut d = Daemon::home_only();
    let daimon = bin("daimon");
    let script = format!(
        "\"{}\" run --name bot -- sleep 10000 && echo RUN-OK; exec sleep 1000",
        daimon.display()
    );
    // Everything the child needs is allocated before fork: between fork and exec
    // only async-signal-safe calls.
    let argv = [cstr("/bin/sh"), cstr("-c"), cstr(&script)];
    let envp = [
        cstr(&format!("DAIMON_HOME={}", d.path().display())),
        cstr(&format!(
            "PATH={}",
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        )),
    ];

    // NULL-terminated pointer arrays, built before fork: the child must not
    // allocate (another thread may hold the allocator's lock at fork time).
    let argv_ptrs: Vec<*const libc::c_char> = argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp_ptrs: Vec<*const libc::c_char> = envp
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();

    // SAFETY: the child only calls execve and _exit, both async-signal-safe.
    let res = unsafe { forkpty(None, None) }.expect("forkpty");
    let (leader, master): (Pid, OwnedFd) = match res {
        ForkptyResult::Child => {
            // A login session hangs up with SIGHUP's default action, whatever the
            // test runner inherited (e.g. under nohup it would be ignored).
            // SAFETY: signal(2) is async-signal-safe.
            unsafe { libc::signal(libc::SIGHUP, libc::SIG_DFL) };
            // SAFETY: NULL-terminated arrays of pointers to live C strings.
            unsafe { libc::execve(argv_ptrs[0], argv_ptrs.as_ptr(), envp_ptrs.as_ptr()) };
            // SAFETY: exec failed; leave without running the test harness's code.
            unsafe { libc::_exit(127) }
        }
        ForkptyResult::Parent { child, master } => (child, master),
    };
    d.extra.push(leader.as_raw() as u32);

    // The terminal's output, read on a thread so the session never blocks on it.
    let (tx, rx) = mpsc::channel::<String>();
    let reader_fd = master.try_clone().expect("dup master");
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(reader_fd);
        let mut buf = [0u8; 4096];
        let mut all = String::new();
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.push_str(&String::from_utf8_lossy(&buf[..n]));
            if tx.send(all.clone()).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut seen = String::new();
    while !seen.contains("RUN-OK") {
        assert!(
            start.elapsed() < DEADLINE,
            "daimon run in the terminal session did not finish; terminal said: {seen:?}"
        );
        if let Ok(s) = rx.recv_timeout(Duration::from_millis(100)) {
            seen = s;
        }
    }
    assert!(seen.contains("Started bot.service (pid "), "{seen}");

    let daemon = d.daemon_pid().expect("the CLI started a daemon");
    d.remember(daemon);
    let bot = d.wait_main_pid("bot");
    assert_ne!(
        getsid(daemon),
        leader.as_raw(),
        "daimond left the terminal's session"
    );
    assert_ne!(
        getsid(bot),
        leader.as_raw(),
        "the service is not in the terminal's session"
    );

    // Logout: the terminal hangs up. SIGHUP to the session's process group, then the
    // terminal itself goes away (the kernel hangs up whatever still holds it).
    // SAFETY: kill(2) on a process group id; no memory involved.
    unsafe { libc::kill(-leader.as_raw(), libc::SIGHUP) };
    drop(master);
    let start = Instant::now();
    loop {
        match waitpid(leader, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) if start.elapsed() < DEADLINE => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(WaitStatus::StillAlive) => panic!("the session leader ignored the hangup"),
            _ => break,
        }
    }

    std::thread::sleep(Duration::from_millis(200));
    assert!(pid_alive(daemon), "daimond must survive the logout");
    assert!(pid_alive(bot), "the service must survive the logout");
    let st = d.status_json("bot");
    assert_eq!(st["state"], "active", "{st}");
    assert_eq!(
        st["pid"].as_u64(),
        Some(bot as u64),
        "same process, not a restart"
    );
}
