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
use std::os::fd::OwnedFd;
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
    let mut out: BTreeMap<u64, Spooled> = BTreeMap::new();
    for r in records {
        let p = out.entry(r.id).or_default();
        if r.magic == spool::META {
            if let Some(m) = PipeMeta::from_bytes(r.payload) {
                p.meta = Some(m);
            }
        } else {
            p.chunks.push(Chunk {
                rt: r.rt,
                mono: r.mono,
                data: r.payload.to_vec(),
            });
        }
    }
    (out, from + whole)
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
            w.ingest_at(id, &c.data, c.rt, c.mono);
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
            w.replay(id, &c.data);
            replayed = Some(c.mono);
            continue;
        }
        if !resumed {
            resume(w, id, stored, replayed);
            resumed = true;
        }
        w.ingest_at(id, &c.data, c.rt, c.mono);
    }
    if !resumed {
        resume(w, id, stored, replayed);
    }
    if close {
        w.close_source(id);
    }
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
        if hold.is_some() && log.tx.send(LogMsg::SpoolStart { hold }).await.is_err() {
            return;
        }
        for k in pipes {
            let imported = import.opened.contains(&k.id);
            reattach_reader(k.fd, k.origin, log.clone(), &store, k.id, imported);
        }
        then();
        drop(import.stored);
    });
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
