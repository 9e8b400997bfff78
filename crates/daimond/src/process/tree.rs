//! A service's processes, read from /proc.
//!
//! Owns: the process tree of a service — descendants of its main/control PIDs
//! (`/proc/PID/task/*/children`) plus processes that escaped with `setsid`/double
//! fork and were re-parented to the daemon, recognised by the service's
//! `INVOCATION_ID=` in `/proc/PID/environ` — and per-process facts (state, start
//! time, RSS, CPU) from one read of `/proc/PID/stat`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Read};

/// Hashes a PID with one multiplication. PIDs are small integers the kernel
/// hands out, not keys a peer chooses, and SipHash was a visible part of a
/// `status` of many units (several lookups per process).
#[derive(Debug, Default, Clone, Copy)]
pub struct PidHasher(u64);

impl Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        // Fibonacci hashing: the high bits (hashbrown's tags) mix all of n.
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map keyed by PID, hashed with [`PidHasher`].
pub type PidMap<V> = HashMap<u32, V, BuildHasherDefault<PidHasher>>;
/// A set of PIDs, hashed with [`PidHasher`].
pub type PidSet = HashSet<u32, BuildHasherDefault<PidHasher>>;

/// Facts from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub state: char,
    pub ppid: u32,
    /// utime + stime, clock ticks.
    pub cpu_ticks: u64,
    /// Start time, clock ticks since boot (identifies the process with its PID).
    pub start_time: u64,
    /// Resident set, pages.
    pub rss_pages: u64,
    pub threads: u64,
}

pub fn stat(pid: u32) -> Option<Stat> {
    let mut buf = [0u8; 1024];
    let n = read_small(&format!("/proc/{pid}/stat"), &mut buf)?;
    parse_stat(std::str::from_utf8(&buf[..n]).ok()?)
}

/// Reads a small /proc file with one open, one read and one close (`fs::read`
/// would add a stat to size its buffer; /proc files report size 0 anyway).
/// `None` if it cannot be read; the content is cut at `buf.len()`.
fn read_small(path: &str, buf: &mut [u8]) -> Option<usize> {
    use std::io::Read;
    // Relative to an open /proc, the lookup of "/" and "proc" is saved on each
    // of the many reads a `status` makes.
    let mut f = match path.strip_prefix("/proc/") {
        Some(rel) => open_proc(rel)?,
        None => fs::File::open(path).ok()?,
    };
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(got)
}

/// `/proc`, opened once for the daemon's life.
fn proc_dir() -> Option<&'static fs::File> {
    static DIR: std::sync::OnceLock<Option<fs::File>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| fs::File::open("/proc").ok()).as_ref()
}

/// Parses a `/proc/PID/stat` line (the command name may contain spaces and
/// parens). No allocation: `status` parses one line per process.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = text.rsplit_once(')')?.1;
    let mut f = rest.split_ascii_whitespace();
    // Fields after the name, 0-based: 0 state, 1 ppid, 11 utime, 12 stime,
    // 17 num_threads, 19 starttime, 21 rss (proc(5) fields 3, 4, 14, 15, 20, 22, 24).
    fn num(v: Option<&str>) -> Option<u64> {
        v?.parse().ok()
    }
    let state = f.next()?.chars().next()?;
    let ppid = num(f.next())? as u32;
    let utime = num(f.nth(9))?;
    let stime = num(f.next())?;
    let threads = num(f.nth(4))?;
    let start_time = num(f.nth(1))?;
    let rss_pages = num(f.nth(1))?;
    Some(Stat {
        state,
        ppid,
        cpu_ticks: utime + stime,
        start_time,
        rss_pages,
        threads,
    })
}

/// Direct children of `pid` (all its threads). A single-threaded process needs one
/// read; others one per thread.
pub fn children(pid: u32, threads: u64) -> Vec<u32> {
    let mut out = Vec::new();
    let mut read = |path: &str| {
        // Large enough for thousands of children; a longer list is read whole.
        let mut buf = [0u8; 4096];
        let text = match read_small(path, &mut buf) {
            Some(n) if n < buf.len() => String::from_utf8_lossy(&buf[..n]).into_owned(),
            Some(_) => fs::read_to_string(path).unwrap_or_default(),
            None => return,
        };
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    };
    if threads <= 1 {
        read(&format!("/proc/{pid}/task/{pid}/children"));
        return out;
    }
    if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            read(&format!("{}/children", t.path().display()));
        }
    }
    out
}

/// Whether `pid`'s environment carries `INVOCATION_ID=<id>`.
pub fn has_invocation(pid: u32, id: &str) -> bool {
    invocation_of(pid).is_some_and(|v| v == id.as_bytes())
}

/// What a process's environment says about its invocation id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationMark {
    Matches,
    Differs,
    /// The environment reads empty: the process is inside execve() (the kernel
    /// sets the new image's environment pointers only at its end), so it has
    /// to be asked again in a moment.
    InExec,
}

/// Whether `pid` was started with invocation id `id`, telling apart a process
/// caught in the middle of execve().
pub fn invocation_mark(pid: u32, id: &str) -> InvocationMark {
    match environ(pid) {
        Ok(env) if env.is_empty() => InvocationMark::InExec,
        Ok(env) if invocation_in(&env) == Some(id.as_bytes()) => InvocationMark::Matches,
        _ => InvocationMark::Differs,
    }
}

/// A process's initial environment. /proc reports a size of 0, so
/// `fs::read` would start from a tiny buffer and double it read after read; a
/// page takes the usual environment in one read.
fn environ(pid: u32) -> io::Result<Vec<u8>> {
    let mut f = fs::File::open(format!("/proc/{pid}/environ"))?;
    let mut env = Vec::with_capacity(4096);
    f.read_to_end(&mut env)?;
    Ok(env)
}

/// The `INVOCATION_ID=` a process was started with, if any.
pub fn invocation_of(pid: u32) -> Option<Vec<u8>> {
    invocation_in(&environ(pid).ok()?).map(<[u8]>::to_vec)
}

/// The value of `INVOCATION_ID=` in an environment block (NUL-separated).
fn invocation_in(env: &[u8]) -> Option<&[u8]> {
    env.split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(b"INVOCATION_ID=".as_slice()))
}

/// An escape candidate that can belong to a described unit, with what ties it
/// to one: the invocation id it was started with, the session it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub pid: u32,
    pub invocation: Option<String>,
    pub session: Option<u32>,
}

impl Candidate {
    /// Whether it belongs to the run with `invocation` whose main processes led
    /// `sessions` (see [`service_tree`] for why sessions count).
    pub fn belongs(&self, invocation: &str, sessions: &[u32]) -> bool {
        !invocation.is_empty()
            && (self.invocation.as_deref() == Some(invocation)
                || self.session.is_some_and(|s| sessions.contains(&s)))
    }
}

/// Keeps the escape candidates that can belong to one of the described units at
/// all: started with one of `invocations`, or in one of `sessions`. Each
/// candidate is read once here, so describing many units does not re-read every
/// candidate (daimond's own helpers among them) once per unit.
pub fn narrow_candidates(
    candidates: Vec<u32>,
    invocations: &HashSet<&str>,
    sessions: &HashSet<u32>,
) -> Vec<Candidate> {
    if invocations.is_empty() && sessions.is_empty() {
        return Vec::new();
    }
    candidates
        .into_iter()
        .filter_map(|pid| {
            let invocation = invocation_of(pid)
                .and_then(|v| String::from_utf8(v).ok())
                .filter(|v| invocations.contains(v.as_str()));
            let session = if sessions.is_empty() {
                None
            } else {
                session(pid).filter(|s| sessions.contains(s))
            };
            (invocation.is_some() || session.is_some()).then_some(Candidate {
                pid,
                invocation,
                session,
            })
        })
        .collect()
}

/// The daemon's direct children for which `known` is false: candidates for
/// processes that escaped from some service and were re-parented to us.
///
/// Every process daimond creates is created by its main thread (the owner),
/// and the processes a subreaper adopts go to its first live thread, the main
/// one too (the kernel's `find_alive_thread`): its `children` file lists them
/// all. It is kept open, so the sweep after a main process dies (on the way to
/// its restart) costs one read, not a listing of /proc/self/task and an open
/// per thread.
pub fn orphans(known: impl Fn(u32) -> bool) -> Vec<u32> {
    thread_local! {
        static MAIN_CHILDREN: std::cell::OnceCell<Option<fs::File>> =
            const { std::cell::OnceCell::new() };
    }
    let me = std::process::id();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut list = |f: &fs::File| {
        // With many services the list is long: read whole into one buffer.
        if let Some(n) = read_whole(f, &mut buf, false) {
            out.extend(parse_pids(&buf[..n]).filter(|p| !known(*p)));
        }
    };
    MAIN_CHILDREN.with(|c| {
        if let Some(f) = c.get_or_init(|| open_proc(&format!("{me}/task/{me}/children"))) {
            list(f);
        }
    });
    // A caller on another thread (a test) has children of its own.
    // SAFETY: gettid has no arguments and cannot fail.
    let tid = unsafe { libc::gettid() } as u32;
    if tid != me
        && let Some(f) = open_proc(&format!("{me}/task/{tid}/children"))
    {
        list(&f);
    }
    out
}

/// Every process of the system (the PIDs listed in /proc).
pub fn all_pids() -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect()
}

/// Session id of a process (proc(5) field 6).
pub fn session(pid: u32) -> Option<u32> {
    let mut buf = [0u8; 1024];
    let n = read_small(&format!("/proc/{pid}/stat"), &mut buf)?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    text.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

/// Every live (non-zombie) process of a service with its stat: `roots` (main,
/// control) and their descendants, plus `orphan_candidates` that carry
/// `INVOCATION_ID=<invocation>` or are in one of `sessions` (the sessions the
/// service's main processes led), and their descendants. Sessions matter because
/// a daemon may overwrite its environment block (nginx does, for its process
/// titles): its workers left behind by a killed master no longer show
/// `INVOCATION_ID=`.
pub fn service_tree(
    roots: &[u32],
    invocation: &str,
    orphan_candidates: &[u32],
    sessions: &[u32],
) -> Vec<(u32, Stat)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut stack: Vec<u32> = roots.to_vec();
    if !invocation.is_empty() {
        stack.extend(orphan_candidates.iter().copied().filter(|o| {
            has_invocation(*o, invocation)
                || !sessions.is_empty() && session(*o).is_some_and(|s| sessions.contains(&s))
        }));
    }
    while let Some(p) = stack.pop() {
        if !seen.insert(p) {
            continue;
        }
        let Some(st) = stat(p) else { continue };
        if st.state == 'Z' || st.state == 'X' {
            continue;
        }
        stack.extend(children(p, st.threads));
        out.push((p, st));
    }
    out
}

pub(super) fn parse_buf(buf: &[u8]) -> Option<Stat> {
    parse_stat(std::str::from_utf8(buf).ok()?)
}

/// PIDs in a `children` list ("1 2 3 ").
pub(super) fn parse_pids(buf: &[u8]) -> impl Iterator<Item = u32> + '_ {
    buf.split(|b| b.is_ascii_whitespace())
        .filter_map(|w| std::str::from_utf8(w).ok()?.parse().ok())
}

/// Opens `/proc/<rel>` (relative to the daemon's open /proc).
pub(super) fn open_proc(rel: &str) -> Option<fs::File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let Some(dir) = proc_dir() else {
        return fs::File::open(format!("/proc/{rel}")).ok();
    };
    let rel = std::ffi::CString::new(rel).ok()?;
    // SAFETY: a valid directory descriptor and NUL-terminated path.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            rel.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: openat just returned this descriptor to us.
    Some(unsafe { fs::File::from_raw_fd(fd) })
}

/// Reads a /proc file whole from offset 0 into `buf` with pread(2), so an open
/// file is read afresh each time (a seq_file regenerates its text when read
/// from 0); returns the length read, `buf[..len]`. `line`: the file is one
/// line, complete once it ends in '\n', which saves the read that would only
/// report the end. `None` when it cannot be read (the process is gone).
pub(super) fn read_whole(f: &fs::File, buf: &mut Vec<u8>, line: bool) -> Option<usize> {
    use std::os::unix::fs::FileExt;
    if buf.len() < 1024 {
        buf.resize(1024, 0);
    }
    let mut got = 0;
    loop {
        if got == buf.len() {
            buf.resize(got * 2, 0);
        }
        match f.read_at(&mut buf[got..], got as u64) {
            Ok(0) => return Some(got),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
        if line && buf[got - 1] == b'\n' {
            return Some(got);
        }
    }
}

/// Sum of RSS (bytes) and CPU (microseconds) over a tree from [`service_tree`].
pub fn usage(tree: &[(u32, Stat)]) -> (u64, u64) {
    let page = page_size();
    let hz = clock_ticks();
    let rss = tree.iter().map(|(_, s)| s.rss_pages * page).sum();
    let ticks: u64 = tree.iter().map(|(_, s)| s.cpu_ticks).sum();
    (rss, ticks.saturating_mul(1_000_000) / hz.max(1))
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if v > 0 { v as u64 } else { 4096 }
}

/// When a process started, as wall-clock time: boot time (`btime` of
/// /proc/stat) plus its start time in clock ticks.
pub fn started_at(start_time: u64) -> Option<jiff::Timestamp> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let btime: i64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let hz = clock_ticks();
    let secs = btime.checked_add(i64::try_from(start_time / hz).ok()?)?;
    let nanos = i32::try_from((start_time % hz) * 1_000_000_000 / hz).ok()?;
    jiff::Timestamp::new(secs, nanos).ok()
}

/// Clock ticks per second of the times in /proc (USER_HZ).
pub(super) fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 { v as u64 } else { 100 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_names() {
        let line = "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 12345 1000 250 18446744073709551615";
        let st = parse_stat(line).expect("parses");
        assert_eq!(st.state, 'S');
        assert_eq!(st.ppid, 1);
        assert_eq!(st.cpu_ticks, 10);
        assert_eq!(st.start_time, 12345);
        assert_eq!(st.rss_pages, 250);
    }

    #[test]
    fn own_process_is_readable() {
        let st = stat(std::process::id()).expect("own stat");
        assert!(st.start_time > 0);
        let at = started_at(st.start_time).expect("start time");
        let age = jiff::Timestamp::now().duration_since(at);
        assert!(age.as_secs() >= -2 && age.as_secs() < 3600, "{at}");
    }
}
