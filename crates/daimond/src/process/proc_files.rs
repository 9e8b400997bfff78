//! The /proc files a `status` reads, kept open from one request to the next,
//! and the walk of many services' process trees on two threads.
//!
//! Owns the cache and the walk only; what a process tree is (which processes
//! belong to a service) and how /proc files are parsed stay in [`super::tree`].

use std::fs;

use super::tree::{PidMap, PidSet, Stat, children, open_proc, parse_buf, parse_pids, read_whole};

/// The /proc files of the processes the last `status` walked, kept open so
/// that the next one re-reads each with a single pread(2) instead of open,
/// read, read, close. A `status` of many services costs one `stat` and one
/// `children` read per process, and opening those /proc paths is most of it.
///
/// An open /proc file belongs to the process, not to its PID: once the
/// process is gone, reading it fails (ESRCH) even if the PID was reused, and
/// the path is opened afresh. Files of processes a walk did not reach are
/// closed when it ends, and the cache never holds more than a quarter of the
/// descriptors RLIMIT_NOFILE allows, so services keep theirs.
#[derive(Debug, Default)]
pub struct ProcFiles {
    open: PidMap<Open>,
    round: u64,
    limit: usize,
    buf: Vec<u8>,
    seen: PidSet,
    /// The second thread's files when a walk is split (see [`ProcFiles::trees`]).
    helper: Option<Box<ProcFiles>>,
    /// The thread that reads the helper's half, started at the first split.
    worker: Option<Worker>,
}

type Job = (Box<ProcFiles>, Vec<Walk>);
type Done = (Box<ProcFiles>, Vec<Vec<(u32, Stat)>>);

/// A thread kept for the second half of split walks (starting one per
/// `status` cost more than the split saved at a few hundred services). It
/// ends when its [`ProcFiles`] is dropped.
#[derive(Debug)]
struct Worker {
    jobs: std::sync::mpsc::Sender<Job>,
    done: std::sync::mpsc::Receiver<Done>,
}

impl Worker {
    fn start() -> Option<Worker> {
        let (jobs, job_rx) = std::sync::mpsc::channel::<Job>();
        let (done_tx, done) = std::sync::mpsc::channel::<Done>();
        std::thread::Builder::new()
            .name("status-walk".into())
            .spawn(move || {
                while let Ok((mut files, walks)) = job_rx.recv() {
                    let out = walks.iter().map(|w| files.walk(w)).collect();
                    if done_tx.send((files, out)).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Worker { jobs, done })
    }
}

/// Where the walk of one service's processes starts: its main and control
/// PIDs and the escaped processes found to belong to it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Walk {
    pub roots: [Option<u32>; 2],
    pub escaped: Vec<u32>,
}

impl Walk {
    fn is_empty(&self) -> bool {
        self.roots.iter().all(Option::is_none) && self.escaped.is_empty()
    }
}

/// Running services from which a walk is split between two threads. Measured
/// on two CPUs, interleaved runs: at 100 services the kept worker saves
/// ~0.05 ms of a ~1.8 ms `status` (a thread started per request cost ~0.08 ms
/// of CPU and saved nothing); at 1,000 the split saves ~1 ms of ~10 ms.
const SPLIT_FROM: usize = 48;

/// Whether this machine has a second CPU for the walk (asked once: std reads
/// cgroup quotas to answer).
fn can_split() -> bool {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from)) > 1
}

#[derive(Debug)]
struct Open {
    stat: fs::File,
    /// `task/PID/children` (single-threaded processes only).
    children: Option<fs::File>,
    round: u64,
}

impl ProcFiles {
    /// Starts a walk; [`ProcFiles::end`] closes what it did not reach.
    pub fn begin(&mut self) {
        self.round += 1;
        let soft = crate::fd_limits::nofile().map_or(0, |(soft, _)| soft);
        // Two descriptors an entry, at most a quarter of the limit (shared
        // with the helper's files when there are).
        self.limit = usize::try_from(soft / 8).unwrap_or(usize::MAX);
        if let Some(h) = &mut self.helper {
            h.round += 1;
            self.limit /= 2;
            h.limit = self.limit;
        }
    }

    /// Ends a walk. `prune`: the walk covered every running service, so the
    /// files of processes it did not reach are closed (a walk of some services
    /// only keeps the others' files for their next walk).
    pub fn end(&mut self, prune: bool) {
        let round = self.round;
        if prune {
            self.open.retain(|_, o| o.round == round);
        }
        if self.buf.len() > 64 * 1024 {
            self.buf = Vec::new();
        }
        if let Some(h) = &mut self.helper {
            h.end(prune);
        }
    }

    /// The processes of each walk (as [`ProcFiles::tree`]). With many running
    /// services the walks are split in two halves, read by this thread and a
    /// kept worker thread at once: the kernel's generating each process's `stat` and
    /// `children` text is most of a `status` of many services, and the client
    /// waiting for it leaves the other CPU free. The halves keep their own open
    /// files, so a service is re-read by the same half the next time.
    pub fn trees(&mut self, walks: &[Walk]) -> Vec<Vec<(u32, Stat)>> {
        let busy = walks.iter().filter(|w| !w.is_empty()).count();
        if busy < SPLIT_FROM || !can_split() {
            return walks.iter().map(|w| self.walk(w)).collect();
        }
        if self.helper.is_none() {
            // Its first walk: the limit is split from now on.
            let mut h = Box::<ProcFiles>::default();
            self.limit /= 2;
            h.limit = self.limit;
            h.round = 1;
            self.helper = Some(h);
        }
        let (mine, theirs) = walks.split_at(walks.len() / 2);
        let Some(helper) = self.helper.take() else {
            return walks.iter().map(|w| self.walk(w)).collect();
        };
        if self.worker.is_none() {
            self.worker = Worker::start();
        }
        let Some(worker) = self.worker.as_ref() else {
            self.helper = Some(helper);
            return walks.iter().map(|w| self.walk(w)).collect();
        };
        if worker.jobs.send((helper, theirs.to_vec())).is_err() {
            self.worker = None;
            return walks.iter().map(|w| self.walk(w)).collect();
        }
        let mut out: Vec<_> = mine.iter().map(|w| self.walk(w)).collect();
        match self.worker.as_ref().map(|w| w.done.recv()) {
            Some(Ok((helper, other))) => {
                self.helper = Some(helper);
                out.extend(other);
            }
            _ => {
                // The worker died (a panic): read the rest here.
                self.worker = None;
                out.extend(theirs.iter().map(|w| self.walk(w)));
            }
        }
        out
    }

    fn walk(&mut self, w: &Walk) -> Vec<(u32, Stat)> {
        if w.is_empty() {
            return Vec::new();
        }
        let roots: Vec<u32> = w.roots.iter().flatten().copied().collect();
        self.tree(&roots, &w.escaped)
    }

    /// Every live (non-zombie) process of a service with its stat: `roots`
    /// (main, control), the `escaped` processes found to belong to it, and
    /// their descendants (as [`service_tree`], with the candidates already
    /// matched).
    pub fn tree(&mut self, roots: &[u32], escaped: &[u32]) -> Vec<(u32, Stat)> {
        self.seen.clear();
        let mut out = Vec::new();
        let mut stack: Vec<u32> = roots.iter().chain(escaped).copied().collect();
        while let Some(p) = stack.pop() {
            if !self.seen.insert(p) {
                continue;
            }
            let Some(st) = self.stat(p) else { continue };
            if st.state == 'Z' || st.state == 'X' {
                continue;
            }
            self.children(p, st.threads, &mut stack);
            out.push((p, st));
        }
        out
    }

    fn stat(&mut self, pid: u32) -> Option<Stat> {
        if let Some(o) = self.open.get_mut(&pid) {
            if let Some(st) =
                read_whole(&o.stat, &mut self.buf, true).and_then(|n| parse_buf(&self.buf[..n]))
            {
                o.round = self.round;
                return Some(st);
            }
            // The process is gone (its PID may already be someone else's).
            self.open.remove(&pid);
        }
        let f = open_proc(&format!("{pid}/stat"))?;
        let n = read_whole(&f, &mut self.buf, true)?;
        let st = parse_buf(&self.buf[..n])?;
        if self.open.len() < self.limit && st.state != 'Z' && st.state != 'X' {
            let o = Open {
                stat: f,
                children: None,
                round: self.round,
            };
            self.open.insert(pid, o);
        }
        Some(st)
    }

    /// Appends the direct children of `pid` (all its threads) to `out`.
    fn children(&mut self, pid: u32, threads: u64, out: &mut Vec<u32>) {
        if threads > 1 {
            out.extend(children(pid, threads));
            return;
        }
        let buf = &mut self.buf;
        match self.open.get_mut(&pid) {
            Some(o) => {
                if o.children.is_none() {
                    o.children = open_proc(&format!("{pid}/task/{pid}/children"));
                }
                if let Some(n) = o.children.as_ref().and_then(|f| read_whole(f, buf, false)) {
                    out.extend(parse_pids(&buf[..n]));
                }
            }
            None => {
                let f = open_proc(&format!("{pid}/task/{pid}/children"));
                if let Some(n) = f.and_then(|f| read_whole(&f, buf, false)) {
                    out.extend(parse_pids(&buf[..n]));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_files_read_afresh_and_close_with_their_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .expect("spawn sleep");
        let pid = child.id();
        let mut files = ProcFiles::default();
        let walk = |files: &mut ProcFiles| {
            files.begin();
            let t = files.tree(&[pid], &[]);
            files.end(true);
            t
        };
        let tree = walk(&mut files);
        assert_eq!(tree.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [pid]);
        assert!(files.open.contains_key(&pid), "kept open");
        // Stopped: the kept file reports it (read again, not a stale copy).
        // SAFETY: kill(2) on the PID of our own unreaped child.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGSTOP) };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while walk(&mut files).first().map(|(_, s)| s.state) != Some('T') {
            assert!(
                std::time::Instant::now() < deadline,
                "the stop of {pid} never showed"
            );
            std::thread::yield_now();
        }
        child.kill().expect("kill sleep");
        child.wait().expect("reap sleep");
        assert!(walk(&mut files).is_empty(), "gone after its end");
        assert!(!files.open.contains_key(&pid), "its files closed");
        // What a walk did not reach is closed when it ends.
        let me = std::process::id();
        walk(&mut files);
        files.begin();
        assert!(!files.tree(&[me], &[]).is_empty());
        files.end(true);
        assert!(files.open.contains_key(&me));
        files.begin();
        files.end(true);
        assert!(files.open.is_empty());
    }

    /// Split between two threads or not, every walk gets its own processes, in
    /// order.
    #[test]
    fn split_walks_answer_like_one() {
        // A process of our own without children (the test process has other
        // tests' children).
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .expect("spawn sleep");
        let me = child.id();
        let walks: Vec<Walk> = (0..SPLIT_FROM * 2 + 1)
            .map(|i| match i % 3 {
                0 => Walk::default(),
                1 => Walk {
                    roots: [Some(me), None],
                    escaped: vec![],
                },
                _ => Walk {
                    roots: [None, None],
                    escaped: vec![me],
                },
            })
            .collect();
        let mut files = ProcFiles::default();
        for _ in 0..2 {
            files.begin();
            let trees = files.trees(&walks);
            files.end(true);
            assert_eq!(trees.len(), walks.len());
            for (w, t) in walks.iter().zip(&trees) {
                let pids: Vec<u32> = t.iter().map(|(p, _)| *p).collect();
                let want: &[u32] = if w == &Walk::default() { &[] } else { &[me] };
                assert_eq!(pids, want);
            }
        }
        // Both halves keep their files for the next walk.
        assert!(files.open.contains_key(&me));
        assert!(
            files
                .helper
                .as_ref()
                .is_some_and(|h| h.open.contains_key(&me))
                || !can_split()
        );
        child.kill().expect("kill sleep");
        child.wait().expect("reap sleep");
    }
}
