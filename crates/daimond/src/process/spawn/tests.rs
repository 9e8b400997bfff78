//! The parent's side of a spawn, run on each way of waiting ([`ExecWait`]).

use super::*;

fn true_spec() -> SpawnSpec {
    SpawnSpec {
        program: c"/bin/true".into(),
        argv: vec![c"true".into()],
        envp: vec![c"PATH=/usr/bin:/bin".into()],
        workdir: None,
        umask: 0o022,
        nice: None,
        rlimits: Vec::new(),
        no_new_privileges: false,
        credentials: None,
        stdin: Stdio::Null,
        stdout: Stdio::Null,
        stderr: Stdio::Null,
        pass_fds: Vec::new(),
        join_cgroups: Vec::new(),
    }
}

/// The ways of waiting this build can use; the tests below go through
/// each (a child held before its exec only makes sense without waiting).
fn waits() -> Vec<ExecWait> {
    if errno_free() {
        vec![ExecWait::No, ExecWait::Vfork]
    } else {
        vec![ExecWait::Vfork]
    }
}

#[test]
fn the_childs_system_calls_leave_errno_alone_where_daimond_does_not_wait() {
    // rustix's linux_raw backend, the only one with the runtime module the
    // child uses: daimond never needs to wait for its children's execve().
    assert!(errno_free());
}

#[test]
fn the_start_time_from_the_clock_is_the_one_proc_shows() {
    for wait in waits() {
        let mut known = 0;
        for _ in 0..50 {
            let child = spawn_with(true_spec(), wait).expect("spawn /bin/true");
            // Exited or not, the child is ours until reaped: /proc still has it.
            let proc_start = super::super::tree::stat(child.pid).map(|s| s.start_time);
            let mut status = 0;
            // SAFETY: reaping our own child by its PID.
            unsafe { libc::waitpid(child.pid as i32, &mut status, 0) };
            if let Some(t) = child.start_time {
                assert_eq!(Some(t), proc_start, "start time of PID {}", child.pid);
                known += 1;
            }
        }
        // A tick (10 ms at USER_HZ=100) seldom passes during one clone;
        // waiting for the exec (Vfork) spans more of them.
        assert!(
            known >= 40 || wait == ExecWait::Vfork,
            "the clock gave the start time {known} times in 50"
        );
    }
}

#[test]
fn no_start_time_across_a_tick() {
    let tick = 1_000_000_000 / super::super::tree::clock_ticks();
    assert_eq!(
        start_time_between(Some(5 * tick), Some(5 * tick + 1)),
        Some(5)
    );
    assert_eq!(start_time_between(Some(5 * tick - 1), Some(5 * tick)), None);
    assert_eq!(start_time_between(None, Some(5 * tick)), None);
}

fn reap(pid: u32) -> i32 {
    let mut status = 0;
    // SAFETY: reaping our own child by its PID.
    unsafe { libc::waitpid(pid as i32, &mut status, 0) };
    status
}

/// Runs `spec` to its end; what it wrote on stdout, or how it failed.
fn run(spec: SpawnSpec, wait: ExecWait) -> Result<String, ExecFailure> {
    let mut spec = spec;
    spec.stdout = Stdio::Pipe;
    let child = spawn_with(spec, wait).expect("clone");
    let mut text = String::new();
    let out = std::fs::File::from(child.stdout.expect("stdout pipe"));
    std::io::Read::read_to_string(&mut &out, &mut text).expect("read");
    let outcome = child.exec.wait(Duration::from_secs(10));
    let status = reap(child.pid);
    match outcome {
        ExecOutcome::Failed(f) => {
            assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == f.code);
            Err(f)
        }
        _ => Ok(text),
    }
}

#[test]
fn a_missing_program_is_reported_with_systemds_exec_code() {
    for wait in waits() {
        let mut spec = true_spec();
        spec.program = c"/nonexistent/program".into();
        let failure = ExecFailure {
            code: code::EXEC,
            errno: libc::ENOENT,
        };
        assert_eq!(run(spec, wait), Err(failure), "{wait:?}");
    }
}

#[test]
fn every_step_before_exec_takes_effect_or_is_reported_with_its_code() {
    let script = "umask; ulimit -Sn; ulimit -Hn; pwd; grep NoNewPrivs /proc/self/status; \
                  cut -d' ' -f19 /proc/self/stat; echo err >&2";
    let dir = tempfile::tempdir().expect("tempdir");
    let err_path = dir.path().join("err");
    for wait in waits() {
        let mut spec = true_spec();
        spec.program = c"/bin/sh".into();
        spec.argv = vec![c"sh".into(), c"-c".into(), CString::new(script).unwrap()];
        spec.umask = 0o027;
        spec.nice = Some(5);
        spec.rlimits = vec![(rustix::process::Resource::Nofile, 64, 128)];
        spec.workdir = Some((c"/tmp".into(), false));
        spec.no_new_privileges = true;
        spec.stderr = Stdio::File {
            path: CString::new(err_path.to_str().unwrap()).unwrap(),
            flags: libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
        };
        let out = run(spec.clone(), wait).expect("runs");
        let lines: Vec<&str> = out.lines().map(str::trim).collect();
        assert_eq!(
            lines,
            ["0027", "64", "128", "/tmp", "NoNewPrivs:\t1", "5"],
            "{wait:?}"
        );
        assert_eq!(std::fs::read_to_string(&err_path).unwrap(), "err\n");

        let mut missing = spec.clone();
        missing.workdir = Some((c"/nonexistent/dir".into(), false));
        let f = run(missing.clone(), wait).expect_err("a missing directory fails");
        assert_eq!((f.code, f.errno), (code::CHDIR, libc::ENOENT), "{wait:?}");
        missing.workdir = Some((c"/nonexistent/dir".into(), true));
        assert!(run(missing, wait).is_ok(), "WorkingDirectory=- {wait:?}");

        let mut over = spec;
        over.rlimits = vec![(rustix::process::Resource::Nofile, 128, 64)];
        let f = run(over, wait).expect_err("soft above hard fails");
        assert_eq!((f.code, f.errno), (code::LIMITS, libc::EINVAL), "{wait:?}");
    }
}

#[test]
fn a_burst_of_children_all_reach_their_program_and_free_their_stacks() {
    let children: Vec<Spawned> = (0..20)
        .map(|i| spawn_with(true_spec(), waits()[i % waits().len()]).expect("spawn"))
        .collect();
    for c in &children {
        assert_eq!(c.exec.wait(Duration::from_secs(10)), ExecOutcome::Exec);
    }
    for c in &children {
        let status = reap(c.pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
    // Every child has exec'd, so the kernel has cleared every `tid`.
    assert_eq!(child_stack::in_flight(), 0);
}

#[test]
fn the_child_pid_variable_carries_the_childs_pid() {
    for wait in waits() {
        let mut spec = true_spec();
        spec.program = c"/bin/sh".into();
        spec.argv = vec![c"sh".into(), c"-c".into(), c"echo $WATCHDOG_PID $$".into()];
        spec.envp.push(CString::new(CHILD_PID_VAR).unwrap());
        let text = run(spec, wait).expect("runs");
        let pids: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(pids.len(), 2, "{text:?}");
        assert_eq!(pids[0], pids[1], "{wait:?}");
    }
}

/// `/bin/true` with its stdout a FIFO in `dir`: opening a FIFO for
/// writing blocks until a reader comes, so the child stays before its
/// execve() until the test opens the other end (the path returned).
fn held_at_a_fifo(dir: &std::path::Path) -> (std::path::PathBuf, SpawnSpec) {
    let fifo = dir.join("out");
    let path = CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let mut spec = true_spec();
    spec.stdout = Stdio::File {
        path,
        flags: libc::O_WRONLY,
    };
    (fifo, spec)
}

#[test]
fn the_outcome_is_pending_while_the_child_is_before_exec_and_daimond_does_not_wait() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (fifo, spec) = held_at_a_fifo(dir.path());
    let child = spawn(spec).expect("spawn");
    assert_eq!(child.exec.outcome(), ExecOutcome::Pending);
    assert_eq!(child_stack::in_flight(), 1);
    let reader = std::fs::File::open(&fifo).expect("open the FIFO for reading");
    assert_eq!(child.exec.wait(Duration::from_secs(10)), ExecOutcome::Exec);
    let status = reap(child.pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    assert_eq!(child_stack::in_flight(), 0);
    drop(reader);
}

#[test]
fn a_child_before_its_exec_outlives_the_thread_that_spawned_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (fifo, spec) = held_at_a_fifo(dir.path());
    // The spawning thread ends (its stack pool with it) while the child
    // waits for a reader on the FIFO, before its exec.
    let child = std::thread::spawn(move || spawn(spec).expect("spawn"))
        .join()
        .expect("spawning thread");
    assert_eq!(child.exec.outcome(), ExecOutcome::Pending);
    let reader = std::fs::File::open(&fifo).expect("open the FIFO for reading");
    assert_eq!(child.exec.wait(Duration::from_secs(10)), ExecOutcome::Exec);
    let status = reap(child.pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status:#x}"
    );
    drop(reader);
}

#[test]
fn passed_descriptors_arrive_at_3_and_up_in_order_with_listen_pid() {
    for wait in waits() {
        let (a_r, a_w) = pipe_cloexec().expect("pipe");
        let (b_r, b_w) = pipe_cloexec().expect("pipe");
        let mut spec = true_spec();
        spec.program = c"/bin/sh".into();
        spec.argv = vec![
            c"sh".into(),
            c"-c".into(),
            c"echo a$LISTEN_PID >&3; echo b >&4".into(),
        ];
        spec.envp.push(CString::new(LISTEN_PID_VAR).unwrap());
        // Reversed numbering: the second source may sit where the first goes.
        spec.pass_fds = vec![a_w.as_raw_fd(), b_w.as_raw_fd()];
        let child = spawn_with(spec, wait).expect("spawn sh");
        drop((a_w, b_w));
        let read = |fd: OwnedFd| {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut text).expect("read");
            text
        };
        let (a, b) = (read(a_r), read(b_r));
        let status = reap(child.pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        assert_eq!(a.trim(), format!("a{}", child.pid), "{wait:?}");
        assert_eq!(b.trim(), "b", "{wait:?}");
    }
}

#[test]
fn the_program_starts_with_default_signals_and_none_of_daimonds_descriptors() {
    // A signal this process ignores, and a descriptor it forgot to mark
    // close-on-exec: the program sees neither (a real-time signal no test
    // uses; glibc's own are 32 and 33).
    let ignored = libc::SIGRTMIN() + 5;
    // SAFETY: setting a signal nobody in this test binary handles to SIG_IGN.
    unsafe { libc::signal(ignored, libc::SIG_IGN) };
    let (stray_r, _stray_w) = pipe_with(0).expect("pipe");
    // Builtins, then an exec: no fork of the shell's (around which it blocks
    // every signal for a moment) comes between the program and its status.
    let script = format!(
        "test -e /proc/$$/fd/{} && echo leaked || echo closed; \
         exec grep -E '^Sig(Blk|Ign):' /proc/self/status",
        stray_r.as_raw_fd()
    );
    for wait in waits() {
        let mut spec = true_spec();
        spec.program = c"/bin/sh".into();
        spec.argv = vec![
            c"sh".into(),
            c"-c".into(),
            CString::new(script.clone()).unwrap(),
        ];
        let out = run(spec, wait).expect("runs");
        let fields: Vec<String> = out
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(
            fields,
            [
                "closed",
                "SigBlk: 0000000000000000",
                "SigIgn: 0000000000000000"
            ],
            "{wait:?}"
        );
    }
}
