//! Ingestion: real producer processes into pipes, read as the daemon does,
//! against the same producers into pipes drained to nowhere.

use std::io::{BufWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use daimon_journal::{Journal, JournalConfig, JournalWriter, SourceId};

use crate::{LINE, count_lines, make_line, meta, mls, thread_cpu};

/// Kills a producer by PID if the benchmark stops early.
pub struct Producer(Child);

impl Drop for Producer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The producer child: `journal_bench produce N FIRST fmt|tmpl` writes N lines
/// to stdout through a 64 KiB buffer: `fmt` formats every line (as a program
/// calling printf does), `tmpl` only patches the number into pre-built lines.
pub fn produce(n: u64, first: u64, fmt: bool) {
    if fmt {
        let stdout = std::io::stdout();
        let mut out = BufWriter::with_capacity(64 << 10, stdout.lock());
        let mut line = Vec::with_capacity(2 * LINE);
        for i in first..first + n {
            line.clear();
            make_line(i, &mut line);
            if out.write_all(&line).is_err() {
                return;
            }
        }
        let _ = out.flush();
        return;
    }
    let mut templates = Vec::new();
    for i in 0..1024 {
        make_line(i, &mut templates);
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(64 << 10, stdout.lock());
    let mut line = [0u8; LINE];
    for i in first..first + n {
        let t = (i % 1024) as usize * LINE;
        line.copy_from_slice(&templates[t..t + LINE]);
        let mut v = i;
        for d in (0..10).rev() {
            line[d] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        if out.write_all(&line).is_err() {
            return;
        }
    }
    let _ = out.flush();
}

pub enum Msg {
    Data(SourceId, Vec<u8>),
    Close(SourceId),
}

pub enum How {
    Printf,
    Prebuilt,
    Cat(std::path::PathBuf),
}

pub fn spawn(how: &How, n: u64, first: u64) -> Producer {
    let mut cmd = match how {
        How::Printf | How::Prebuilt => {
            let mut c = Command::new(std::env::current_exe().expect("own path"));
            let mode = if matches!(how, How::Printf) {
                "fmt"
            } else {
                "tmpl"
            };
            c.args(["produce", &n.to_string(), &first.to_string(), mode]);
            c
        }
        How::Cat(p) => {
            let mut c = Command::new("cat");
            c.arg(p);
            c
        }
    };
    Producer(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn producer"),
    )
}

/// Reads every pipe as the daemon does: one thread, poll(2), 64 KiB reads.
/// With `tx`, chunks go to the writer thread, which hands the buffers back
/// through `back` for reuse; without, they are dropped.
pub fn pump(
    pipes: Vec<(SourceId, std::process::ChildStdout)>,
    tx: Option<SyncSender<Msg>>,
    back: Option<Receiver<Vec<u8>>>,
) -> (u64, Duration) {
    let cpu0 = thread_cpu();
    let mut open = pipes;
    if let Some(sz) = std::env::var("JOURNAL_BENCH_PIPE")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    {
        for (_, p) in &open {
            // SAFETY: F_SETPIPE_SZ on a pipe we own; failure leaves it as is.
            unsafe { libc::fcntl(p.as_raw_fd(), libc::F_SETPIPE_SZ, sz) };
        }
    }
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    while !open.is_empty() {
        let mut fds: Vec<libc::pollfd> = open
            .iter()
            .map(|(_, p)| libc::pollfd {
                fd: p.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a valid array of pollfd for the duration of the call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 10_000) };
        if rc < 0 {
            continue;
        }
        let mut closed = Vec::new();
        for (k, fd) in fds.iter().enumerate() {
            if fd.revents == 0 {
                continue;
            }
            let (id, pipe) = &mut open[k];
            if tx.is_some() {
                buf = back
                    .as_ref()
                    .and_then(|b| b.try_recv().ok())
                    .unwrap_or_default();
                buf.resize(64 << 10, 0);
            }
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => closed.push(k),
                Ok(n) => {
                    total += n as u64;
                    if let Some(tx) = &tx {
                        buf.truncate(n);
                        if tx.send(Msg::Data(*id, std::mem::take(&mut buf))).is_err() {
                            return (total, thread_cpu() - cpu0);
                        }
                    }
                }
            }
        }
        for k in closed.into_iter().rev() {
            let (id, _) = open.remove(k);
            if let Some(tx) = &tx {
                let _ = tx.send(Msg::Close(id));
            }
        }
    }
    (total, thread_cpu() - cpu0)
}

/// Producer start → EOF of every pipe, draining to nowhere.
pub fn reference(how: &How, producers: u64, lines: u64) -> Duration {
    let t0 = Instant::now();
    let mut kids = Vec::new();
    let mut pipes = Vec::new();
    for k in 0..producers {
        let mut p = spawn(how, lines / producers, k * (lines / producers));
        pipes.push((SourceId(k), p.0.stdout.take().expect("pipe")));
        kids.push(p);
    }
    let (bytes, _) = pump(pipes, None, None);
    let d = t0.elapsed();
    assert_eq!(bytes, lines * LINE as u64, "reference lost bytes");
    d
}

/// Producer start → last line committed (visible to queries).
/// Returns the wall time and the CPU time of the writer and reader threads.
pub fn journal_run(
    j: &Journal,
    how: &How,
    producers: u64,
    lines: u64,
) -> (Duration, Duration, Duration) {
    let mut w: JournalWriter = j.writer().expect("writer");
    for k in 0..producers {
        w.open_source(SourceId(k), meta(&format!("bench-{k}.service")));
    }
    let (tx, rx) = sync_channel::<Msg>(64);
    let t0 = Instant::now();
    let mut kids = Vec::new();
    let mut pipes = Vec::new();
    for k in 0..producers {
        let mut p = spawn(how, lines / producers, k * (lines / producers));
        pipes.push((SourceId(k), p.0.stdout.take().expect("pipe")));
        kids.push(p);
    }
    let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::Builder::new()
        .name("pump".into())
        .spawn(move || pump(pipes, Some(tx), Some(back_rx)))
        .expect("spawn reader thread");
    let mut open = producers;
    let mut busy = Duration::ZERO;
    let cpu0 = thread_cpu();
    let mut last_tick = Instant::now();
    while open > 0 {
        let Ok(m) = rx.recv() else { break };
        let mut handle = |m: Msg, w: &mut JournalWriter| match m {
            Msg::Data(id, d) => {
                w.ingest(id, &d);
                let _ = back_tx.send(d);
            }
            Msg::Close(id) => {
                w.close_source(id);
                open -= 1;
            }
        };
        let tb = Instant::now();
        handle(m, &mut w);
        while let Ok(m) = rx.try_recv() {
            handle(m, &mut w);
        }
        w.commit();
        busy += tb.elapsed();
        if last_tick.elapsed() >= Duration::from_millis(100) {
            w.tick(Instant::now());
            last_tick = Instant::now();
        }
    }
    // Queryable since the last commit; also in the SQLite index from here.
    w.index_now();
    let d = t0.elapsed();
    if std::env::var_os("JOURNAL_BENCH_VERBOSE").is_some() {
        eprintln!(
            "writer busy {:.1} ms (thread CPU {:.1} ms) of {:.1} ms",
            busy.as_secs_f64() * 1e3,
            (thread_cpu() - cpu0).as_secs_f64() * 1e3,
            d.as_secs_f64() * 1e3
        );
    }
    let writer_cpu = thread_cpu() - cpu0;
    let reader_cpu = reader.join().map_or(Duration::ZERO, |(_, c)| c);
    drop(kids);
    drop(w);
    (d, writer_cpu, reader_cpu)
}

pub fn ingest(tmp: &std::path::Path) {
    let lines = 1_000_000u64;
    let write_file = |path: &std::path::Path, n: u64| {
        let mut f = BufWriter::new(std::fs::File::create(path).expect("create"));
        let mut buf = Vec::new();
        for i in 0..n {
            buf.clear();
            make_line(i, &mut buf);
            f.write_all(&buf).expect("write");
        }
        f.flush().expect("flush");
    };
    let file = tmp.join("lines.txt");
    let file10 = tmp.join("lines-tenth.txt");
    write_file(&file, lines);
    write_file(&file10, lines / 10);
    println!(
        "\n## ingest: {lines} lines of {LINE} bytes in all; producer start -> last line committed and in the SQLite index"
    );
    println!(
        "{:<32} {:>8} {:>9} {:>10} {:>9} {:>7} {:>16}",
        "producer(s)", "ref ms", "ref Ml/s", "daimon ms", "Ml/s", "ratio", "CPU ms wr+rd"
    );
    let cases: [(&str, How, u64); 6] = [
        ("1 x printf-style writer", How::Printf, 1),
        ("10 x printf-style writer", How::Printf, 10),
        ("1 x pre-built lines writer", How::Prebuilt, 1),
        ("10 x pre-built lines writer", How::Prebuilt, 10),
        ("1 x cat (100 MB file)", How::Cat(file.clone()), 1),
        ("10 x cat (10 MB file each)", How::Cat(file10.clone()), 10),
    ];
    for (name, how, producers) in cases {
        let mut best = (Duration::MAX, Duration::MAX);
        let mut cpu = (Duration::MAX, Duration::MAX);
        for run in 0..5 {
            let dir = tmp.join(format!("ingest-{producers}-{run}"));
            let cfg = JournalConfig {
                max_use: Some(8 << 30),
                ..Default::default()
            };
            let j = Journal::open(&dir, cfg).expect("open");
            let r = reference(&how, producers, lines);
            let (d, wc, rc) = journal_run(&j, &how, producers, lines);
            if cpu.0 == Duration::MAX || wc + rc < cpu.0 + cpu.1 {
                cpu = (wc, rc);
            }
            let (n, _) = count_lines(&j);
            assert_eq!(n, lines, "lines lost");
            best = (best.0.min(r), best.1.min(d));
            drop(j);
            let _ = std::fs::remove_dir_all(&dir);
        }
        println!(
            "{:<32} {:>8.1} {:>9.2} {:>10.1} {:>9.2} {:>7.2} {:>9.0}+{:<6.0}",
            name,
            best.0.as_secs_f64() * 1e3,
            mls(lines, best.0),
            best.1.as_secs_f64() * 1e3,
            mls(lines, best.1),
            best.0.as_secs_f64() / best.1.as_secs_f64(),
            cpu.0.as_secs_f64() * 1e3,
            cpu.1.as_secs_f64() * 1e3
        );
    }
    println!(
        "(best of 5 each; every line verified in the store after each run; CPU = writer thread + pipe reader thread)"
    );
}
