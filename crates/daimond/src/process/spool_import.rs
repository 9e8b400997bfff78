//! Storing what the fd store spooled while no daimond read the pipes.
//!
//! Owns reading the spool (`fdstore.spool`, format in
//! [`crate::fdstore_keeper::spool`]) at start-up, grouping its chunks by pipe,
//! and storing them on the journal's writer thread with the stamps taken when
//! they left the pipe. The spool holds what the store read while no daimond
//! did, after what the killed daimond's writer thread moved through it
//! (`crate::log_spool`); the writer thread replaces it with a new one once all
//! of it is stored.
//!
//! Exactly once: the file goes only after the writer thread stored all of
//! it. A daimond killed before that leaves it for the next one, which asks
//! the log store for the newest stamp stored per pipe: chunks up to it are
//! only replayed (to rebuild the partial line that the next chunk continues,
//! [`daimon_journal::JournalWriter::replay`]), the rest are stored. Lines are
//! split exactly as the live reader splits them: the imported source stays
//! open, and what the pipe holds next continues its last partial line.

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use daimon_journal::{JournalWriter, SourceId, SourceMeta, Stream};
use tokio::sync::oneshot;

use super::fdstore::{PipeMeta, SharedStore};
use super::logpipe::{PipeOrigin, reattach_reader};
use crate::fdstore_keeper::{proto, spool};
use crate::log_writer::{LogMsg, LogSender, StreamKind};

/// One chunk the store read, with the time it read it.
#[derive(Debug)]
pub struct Chunk {
    pub rt: u64,
    pub mono: u64,
    pub data: Vec<u8>,
    /// A `CARRY`: the pipe's partial line from here on, not bytes to append.
    pub carry: bool,
}

/// What the spool holds for one pipe.
#[derive(Debug, Default)]
pub struct Spooled {
    /// From its last metadata record.
    pub meta: Option<PipeMeta>,
    pub chunks: Vec<Chunk>,
}

/// The spool of the store whose runtime directory is `runtime`.
pub fn path(runtime: &Path) -> PathBuf {
    spool::path_beside(&runtime.join(proto::SOCKET_NAME))
}

/// Every pipe's chunks in the spool from byte `from` on, by the pipe's id in
/// the store (empty when there is no spool), and where they end.
pub fn load(path: &Path, from: usize) -> (BTreeMap<u64, Spooled>, usize) {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (BTreeMap::new(), from),
        Err(e) => {
            tracing::warn!(
                "cannot read {} ({e}): lines written while daimond was down stay in it",
                path.display()
            );
            return (BTreeMap::new(), from);
        }
    };
    let Some(rest) = bytes.get(from..) else {
        return (BTreeMap::new(), from);
    };
    let (records, whole) = spool::parse(rest);
    (group(&records), from + whole)
}

/// The records of a spool by pipe, with each spool pipe's bytes given to
/// the last `REF` that names it (see `crate::log_spool`): the chunk a killed
/// daimond was storing. Earlier `REF`s had their chunk stored and released.
fn group(records: &[spool::Record<'_>]) -> BTreeMap<u64, Spooled> {
    let spool_pipes: BTreeSet<u64> = records
        .iter()
        .filter(|r| r.magic == spool::META && spool::is_spool_pipe(r.payload))
        .map(|r| r.id)
        .collect();
    let mut waiting: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut last_ref: BTreeMap<u64, usize> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if r.magic == spool::DATA && spool_pipes.contains(&r.id) {
            waiting
                .entry(r.id)
                .or_default()
                .extend_from_slice(r.payload);
        } else if let Some(pipe) = ref_target(r) {
            last_ref.insert(pipe, i);
        }
    }
    let mut out: BTreeMap<u64, Spooled> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if spool_pipes.contains(&r.id) {
            continue;
        }
        let data = match r.magic {
            spool::META => {
                if let Some(m) = PipeMeta::from_bytes(r.payload) {
                    out.entry(r.id).or_default().meta = Some(m);
                }
                continue;
            }
            spool::REF => {
                let pipe = ref_target(r);
                match pipe.filter(|p| last_ref.get(p) == Some(&i)) {
                    Some(p) => match waiting.remove(&p) {
                        Some(bytes) if !bytes.is_empty() => bytes,
                        _ => continue,
                    },
                    None => continue,
                }
            }
            _ => r.payload.to_vec(),
        };
        out.entry(r.id).or_default().chunks.push(Chunk {
            rt: r.rt,
            mono: r.mono,
            data,
            carry: r.magic == spool::CARRY,
        });
    }
    out
}

/// The spool pipe a `REF` record names.
fn ref_target(r: &spool::Record<'_>) -> Option<u64> {
    let b: [u8; 8] = r.payload.try_into().ok()?;
    (r.magic == spool::REF).then(|| u64::from_le_bytes(b))
}

/// The log store's description of a pipe.
pub fn source_meta(m: &PipeMeta) -> SourceMeta {
    SourceMeta {
        unit: m.unit.clone(),
        invocation: m.invocation.clone(),
        pid: m.pid,
        stream: match m.stream {
            StreamKind::Stdout => Stream::Stdout,
            StreamKind::Stderr => Stream::Stderr,
        },
        level_prefix: m.level_prefix,
        identifier: m.identifier.clone(),
    }
}

/// The fd store's description of a pipe, from the log store's.
pub fn pipe_meta(m: &SourceMeta) -> PipeMeta {
    PipeMeta {
        unit: m.unit.clone(),
        invocation: m.invocation.clone(),
        pid: m.pid,
        stream: match m.stream {
            Stream::Stderr => StreamKind::Stderr,
            _ => StreamKind::Stdout,
        },
        level_prefix: m.level_prefix,
        identifier: m.identifier.clone(),
        main: None,
        pty: false,
    }
}

/// On the writer thread: stores the chunks of `source` not stored yet.
/// `first`: the first chunks of this pipe for this daimond, which opens the
/// source and skips what an earlier import stored (see the module's notes);
/// later ones continue it. `close`: the pipe is gone, flush its last line.
pub fn store(
    w: &mut JournalWriter,
    source: u64,
    meta: SourceMeta,
    chunks: &[Chunk],
    first: bool,
    close: bool,
) {
    let id = SourceId(source);
    if !first {
        for c in chunks {
            add(w, id, c);
        }
        if close {
            w.close_source(id);
        }
        return;
    }
    w.open_source(id, meta.clone());
    let since = chunks.iter().map(|c| c.rt).min().unwrap_or(0);
    let stored = match w.last_stored_mono(&meta, since) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(
                "cannot tell which spooled lines of {} are stored already ({e}); storing all",
                meta.unit
            );
            None
        }
    };
    let mut replayed = None;
    let mut resumed = false;
    for c in chunks {
        if stored.is_some_and(|s| c.mono <= s) {
            replay(w, id, c);
            replayed = Some(c.mono);
            continue;
        }
        if !resumed {
            resume(w, id, stored, replayed);
            resumed = true;
        }
        add(w, id, c);
    }
    if !resumed {
        resume(w, id, stored, replayed);
    }
    if close {
        w.close_source(id);
    }
}

/// Stores chunk `c` of `id`, or, for a `CARRY`, makes it the partial line.
fn add(w: &mut JournalWriter, id: SourceId, c: &Chunk) {
    if c.carry {
        replay(w, id, c);
    } else {
        w.ingest_at(id, &c.data, c.rt, c.mono);
    }
}

/// Rebuilds `id`'s partial line from chunk `c`, already stored: a `CARRY`
/// is the partial line itself, other chunks continue it.
fn replay(w: &mut JournalWriter, id: SourceId, c: &Chunk) {
    if c.carry {
        w.forget_partial(id);
    }
    w.replay(id, &c.data);
}

/// The replayed partial line is the one to continue only if the newest
/// stored line came from the last replayed chunk; a newer one was read live
/// by a daimond since killed, whose partial line is not known.
fn resume(w: &mut JournalWriter, id: SourceId, stored: Option<u64>, replayed: Option<u64>) {
    if stored.is_some() && stored != replayed {
        w.forget_partial(id);
    }
}

/// A pipe the store kept, waiting for its reader.
pub struct Kept {
    pub fd: OwnedFd,
    pub origin: PipeOrigin,
    /// Its id in the store.
    pub id: u64,
}

/// Sources of pipes that only the spool still names (their writers had gone
/// and the store closed them): ids far above the owner's counter.
const ORPHAN: u64 = 1 << 63;

/// Hands the pipes the store kept to their readers, after what it spooled:
/// first the spool as it is, while the store goes on spooling (daimond is
/// still starting: lines keep their time); then the store stops (`take`) and
/// the rest of the spool is stored; then the writer thread starts a new spool
/// and the readers start. Chunks go to the writer thread before anything a
/// reader reads, on the same channel, so they stay in order.
/// `then`: starts the readers of the kept pty masters (their spooled output,
/// if any, is stored under a source of its own before).
pub fn hand_over(
    runtime: &Path,
    pipes: Vec<Kept>,
    then: Box<dyn FnOnce()>,
    log: LogSender,
    store: SharedStore,
) {
    let path = path(runtime);
    tokio::task::spawn_local(async move {
        let mut import = Import {
            known: pipes
                .iter()
                .map(|k| (k.id, (k.origin.source, source_meta(&k.origin.meta))))
                .collect(),
            opened: BTreeSet::new(),
            stored: Vec::new(),
            log: log.clone(),
        };
        let (spooled, end) = load(&path, 0);
        let chunks: usize = spooled.values().map(|s| s.chunks.len()).sum();
        if chunks > 0 {
            tracing::info!(
                "storing {chunks} chunk(s) of output the fd store read while daimond was down"
            );
        }
        if !import.send(spooled, false).await {
            return;
        }
        // The first part stored (the store spooling on meanwhile).
        for rx in std::mem::take(&mut import.stored) {
            if rx.await.is_err() {
                return; // daimond is stopping: the next one imports it
            }
        }
        if let Err(e) = store.borrow_mut().take() {
            tracing::warn!("the fd store did not confirm that it stopped reading the pipes: {e}");
        }
        let (spooled, _) = load(&path, end);
        if !import.send(spooled, true).await {
            return;
        }
        // The writer thread deletes the spool once all of it is stored (the
        // messages above), then moves what it reads through a new one.
        let hold = store.borrow().connection();
        if hold.is_some() {
            let pipe = spool_pipe(&store);
            if log
                .tx
                .send(LogMsg::SpoolStart { hold, pipe })
                .await
                .is_err()
            {
                return;
            }
        }
        for k in pipes {
            let imported = import.opened.contains(&k.id);
            reattach_reader(k.fd, k.origin, log.clone(), &store, k.id, imported);
        }
        then();
        drop(import.stored);
    });
}

/// A new spool pipe, kept by the store (`crate::log_spool`); `None` (chunks
/// then go into the spool file itself) when it cannot be made or kept.
fn spool_pipe(store: &SharedStore) -> Option<crate::log_spool::SpoolPipe> {
    let made = crate::log_spool::new_pipe().and_then(|(read, write)| {
        let id = store
            .borrow_mut()
            .put_other(read.as_fd(), spool::SPOOL_PIPE)
            .ok_or_else(|| std::io::Error::other("no fd store"))?;
        crate::log_spool::SpoolPipe::new(id, read, write).inspect_err(|_| {
            store.borrow_mut().close(id);
        })
    });
    made.inspect_err(|e| {
        tracing::warn!("no spool pipe ({e}): chunks of output go through the spool file")
    })
    .ok()
}

/// One hand-over's progress.
struct Import {
    /// Source and metadata of each pipe, by its id in the store.
    known: BTreeMap<u64, (u64, SourceMeta)>,
    /// Pipes whose source the writer thread has opened.
    opened: BTreeSet<u64>,
    stored: Vec<oneshot::Receiver<()>>,
    log: LogSender,
}

impl Import {
    /// Sends each pipe's chunks to the writer thread; `last`: the spool is
    /// complete, pipes only it names are closed. False if daimond is stopping.
    async fn send(&mut self, spooled: BTreeMap<u64, Spooled>, last: bool) -> bool {
        let mut todo: Vec<(u64, Vec<Chunk>)> = Vec::new();
        for (id, s) in spooled {
            if let std::collections::btree_map::Entry::Vacant(e) = self.known.entry(id) {
                // A pipe the store no longer keeps (its writers had gone).
                let Some(meta) = s.meta.as_ref() else {
                    continue;
                };
                e.insert((ORPHAN | id, source_meta(meta)));
            }
            todo.push((id, s.chunks));
        }
        if last {
            for (id, (source, _)) in &self.known {
                if *source & ORPHAN != 0 && !todo.iter().any(|t| t.0 == *id) {
                    todo.push((*id, Vec::new()));
                }
            }
        }
        for (id, chunks) in todo {
            let Some((source, meta)) = self.known.get(&id).cloned() else {
                continue;
            };
            let orphan = source & ORPHAN != 0;
            if chunks.is_empty() && !(last && orphan) {
                continue;
            }
            let first = self.opened.insert(id);
            let (done, rx) = oneshot::channel();
            let msg = LogMsg::Import {
                source,
                meta,
                chunks,
                first,
                kept: (!orphan).then_some(id),
                close: last && orphan,
                done,
            };
            if self.log.tx.send(msg).await.is_err() {
                return false;
            }
            self.stored.push(rx);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use daimon_journal::{Journal, JournalConfig, Query};

    use super::*;
    use crate::log_spool::{LiveSpool, SpoolPipe, Taken, new_pipe};

    /// Where a daimond is killed while it handles chunk `k`.
    #[derive(Debug, Clone, Copy)]
    enum Kill {
        /// Taken into the spool pipe, not stored.
        Taken,
        /// Stored; still in the spool pipe, no `CARRY` yet.
        Stored,
        /// Its `CARRY` written; still in the spool pipe.
        Carried,
        /// Released from the spool pipe.
        Released,
    }

    fn pipe() -> (OwnedFd, OwnedFd) {
        crate::process::spawn::pipe_with(libc::O_NONBLOCK).expect("pipe")
    }

    fn write_all(fd: &OwnedFd, b: &[u8]) {
        // SAFETY: `b` is valid for reads of its length.
        let n = unsafe { libc::write(fd.as_raw_fd(), b.as_ptr().cast(), b.len()) };
        assert_eq!(n, b.len() as isize);
    }

    fn read_all(fd: &OwnedFd) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: `buf` is valid for writes of its length.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
    }

    /// The store in `dir`, owned by this test: a child that another test of
    /// this binary is spawning holds a copy of every descriptor (the store's
    /// lock too) until its exec, so it is opened again, within a bound.
    fn journal(dir: &Path) -> Journal {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let cfg = JournalConfig {
                max_use: Some(1 << 30),
                ..Default::default()
            };
            let j = Journal::open(dir, cfg).expect("open the store");
            if j.owns_store() {
                return j;
            }
            assert!(std::time::Instant::now() < until, "the store stayed locked");
        }
    }

    fn meta() -> PipeMeta {
        PipeMeta {
            unit: "bot.service".into(),
            invocation: "ab".repeat(16),
            pid: 4242,
            stream: StreamKind::Stdout,
            level_prefix: false,
            identifier: None,
            main: None,
            pty: false,
        }
    }

    /// One daimond's writer thread over the chunks of `text` cut at `cuts`,
    /// killed at `kill` of chunk `k`; then the store drains the spool pipe
    /// and spools the rest of the service's output, and the next daimond
    /// imports it all. Returns every stored line.
    fn run(text: &[u8], cuts: &[usize], k: usize, kill: Kill) -> Vec<String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(spool::FILE_NAME);
        let j = journal(&dir.path().join("journal"));
        let m = meta();
        let (svc_r, svc_w) = pipe();
        let (spool_r, spool_w) = new_pipe().expect("spool pipe");
        // The store's copy of the spool pipe.
        let kept = spool_r.try_clone().expect("dup");
        let mut live = LiveSpool::new(path.clone());
        let mut w = j.writer().expect("writer");
        w.open_source(SourceId(3), source_meta(&m));
        live.open_pipe(3, 9, m.to_bytes());
        let sp = SpoolPipe::new(77, spool_r, spool_w).expect("spool pipe");
        live.start(None, Some(sp), |_| None);
        let mut buf = vec![0u8; 1 << 16];
        let mut rest = text.len();
        let mut unreleased = Vec::new();
        for (i, c) in cuts.windows(2).enumerate().take(k + 1) {
            write_all(&svc_w, &text[c[0]..c[1]]);
            let Some(Taken::Data { n, rt, mono }) = live.take(3, &svc_r, &mut buf) else {
                panic!("chunk {i} taken");
            };
            assert_eq!(&buf[..n], &text[c[0]..c[1]]);
            rest = c[1];
            if i == k && matches!(kill, Kill::Taken) {
                break;
            }
            w.ingest_at(SourceId(3), &buf[..n], rt, mono);
            if i == k && matches!(kill, Kill::Stored) {
                break;
            }
            live.settle(w.partial(SourceId(3)));
            if i == k && matches!(kill, Kill::Carried) {
                // Killed before the release: the store finds the chunk.
                unreleased = text[c[0]..c[1]].to_vec();
            }
        }
        // SIGKILL: the partial line dies with daimond's memory.
        w.forget_partial(SourceId(3));
        drop(w);
        drop(live);
        // The store drains the spool pipe, then spools what the service
        // writes next.
        let mut held = read_all(&kept);
        held.extend_from_slice(&unreleased);
        let mut f = spool::open_for_append(&path).expect("spool").0;
        if !held.is_empty() {
            assert!(spool::append(
                &mut f,
                spool::META,
                77,
                0,
                0,
                spool::SPOOL_PIPE
            ));
            assert!(spool::append(&mut f, spool::DATA, 77, 1, 1, &held));
        }
        if rest < text.len() {
            let (rt, mono) = (
                daimon_journal::realtime_usec(),
                daimon_journal::monotonic_usec(),
            );
            assert!(spool::append(
                &mut f,
                spool::DATA,
                9,
                rt,
                mono,
                &text[rest..]
            ));
        }
        drop(f);
        // The next daimond imports it.
        let (spooled, _) = load(&path, 0);
        let chunks = spooled.get(&9).map(|s| &s.chunks[..]).unwrap_or_default();
        let mut w = j.writer().expect("writer");
        store(&mut w, 5, source_meta(&m), chunks, true, true);
        w.index_now();
        let mut r = j.reader().expect("reader");
        let mut got = Vec::new();
        r.query(&Query::default(), &mut |rec| {
            got.push(String::from_utf8_lossy(rec.message).into_owned());
            true
        })
        .expect("query");
        got
    }

    #[test]
    fn a_daimond_killed_at_any_step_of_any_chunk_loses_and_doubles_nothing() {
        let text: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let t = text.as_bytes();
        // Cuts inside lines, at their ends, and a chunk with no newline.
        let cuts = [0, 4, 7, 21, 22, 23, 60, 61, 120, t.len()];
        let want: Vec<String> = (1..=30).map(|i| format!("line {i}")).collect();
        for k in 0..cuts.len() - 1 {
            for kill in [Kill::Taken, Kill::Stored, Kill::Carried, Kill::Released] {
                assert_eq!(
                    run(t, &cuts, k, kill),
                    want,
                    "killed at {kill:?} of chunk {k}"
                );
            }
        }
    }
}
