//! `daimon attach UNIT`: this terminal connected to a service's terminal
//! (a service started with `daimon run --tty` or `StandardInput=tty`).
//!
//! Owns the client side of `Request::Attach` and its frames
//! (`daimon_proto::attach`): raw mode ([`term`]), what is typed to daimond
//! (except the detach key, [`keys`], which the service never sees), its
//! output to stdout, SIGWINCH as a resize. One thread sleeping in poll(2) on
//! stdin, the socket and the signal pipe. Detaching, the service's exit,
//! daimond going away and signals all end the loop the same way: the terminal
//! restored, then one line saying what happened.

mod keys;
mod term;

use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use clap::Args;
use daimon_proto::attach::{self, DROPPED, EXIT, INPUT, OUTPUT, RESIZE};
use daimon_proto::{Paths, Request, Response};

use crate::client::{Client, QUICK, unexpected};
use crate::commands::{checked_name, with_known_units};
use crate::error::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The service, e.g. bot or bot.service.
    #[arg(value_name = "UNIT")]
    pub unit: String,
    /// Watch without typing: nothing you type is sent (but the detach key)
    /// and the terminal's size is left to the other clients.
    #[arg(long)]
    pub read_only: bool,
    /// The key that detaches: ctrl-] (the default, as telnet), ctrl-\ (as
    /// dtach), ctrl-LETTER; also written ^] or C-]. The service never sees it.
    #[arg(
        long,
        value_name = "KEY",
        env = "DAIMON_DETACH_KEY",
        default_value = keys::DEFAULT
    )]
    pub detach_key: String,
}

/// How a session ended.
enum End {
    /// The detach key, stdin closed, or a signal (SIGTERM, SIGHUP, SIGINT).
    Detached,
    /// The service's terminal closed; how its main process ended.
    Exit(String),
    /// daimond stopped serving us, and why.
    Dropped(String),
    /// The connection ended without a word (daimond killed or restarted).
    Lost,
}

pub fn run(paths: &Paths, args: &AttachArgs) -> CliResult {
    let key = keys::parse(&args.detach_key).map_err(CliError::fail)?;
    let unit = checked_name(&args.unit)?;
    let short = unit.strip_suffix(".service").unwrap_or(&unit).to_string();
    let mut client = Client::connect(paths, false)?
        .ok_or_else(|| CliError::fail("daimond is not running, so no service has a terminal"))?;
    let req = Request::Attach {
        unit: unit.clone(),
        read_only: args.read_only,
    };
    client.send(&req, Some(QUICK))?;
    match client.next().map_err(|e| with_known_units(paths, e))? {
        Response::Done => {}
        other => return Err(unexpected(other)),
    }
    // Asked after daimond's answer, so that a unit without a terminal, or
    // stopped, is said first (and scripts can check it).
    if !term::is_terminal() {
        return Err(CliError::fail(
            "daimon attach needs a terminal, and stdin is not one (over ssh, use ssh -t)",
        ));
    }
    let (stream, already) = client.into_stream();
    let _ = stream.set_read_timeout(None);
    let how = if args.read_only {
        "watching"
    } else {
        "attached to"
    };
    eprintln!("[{how} {unit}; detach with {}]", keys::display(key));
    let raw = term::RawMode::enter()
        .map_err(|e| CliError::fail(format!("cannot put the terminal in raw mode: {e}")))?;
    let end = session(&stream, already, key, args.read_only, raw.signals);
    drop(raw);
    let end = end.map_err(|e| CliError::fail(format!("attach to {unit}: {e}")))?;
    match end {
        End::Detached => {
            eprintln!(
                "\n[detached from {unit}, which keeps running; attach again with: daimon attach {short}]"
            );
            Ok(0)
        }
        End::Exit(how) => {
            eprintln!("\n[{how}]");
            Ok(0)
        }
        // After a newline of its own: the cursor may be anywhere on the screen.
        End::Dropped(why) => {
            eprintln!();
            Err(CliError::fail(why))
        }
        End::Lost => {
            eprintln!();
            Err(CliError::fail(format!(
                "daimond closed the connection (stopped or restarted); {unit} keeps its \
                 terminal: attach again once daimond runs"
            )))
        }
    }
}

fn send(mut s: &UnixStream, kind: u8, payload: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(attach::HEADER + payload.len());
    attach::push_frame(&mut frame, kind, payload);
    s.write_all(&frame)
}

fn send_size(s: &UnixStream, read_only: bool) -> io::Result<()> {
    match term::size() {
        Some((rows, cols)) if !read_only => send(s, RESIZE, &attach::resize_payload(rows, cols)),
        _ => Ok(()),
    }
}

/// Output frames to stdout; the end, if a frame says so.
fn drain(dec: &mut attach::Decoder, out: &mut impl Write) -> io::Result<Option<End>> {
    while let Some((kind, payload)) = dec.next_frame().map_err(io::Error::other)? {
        let text = || String::from_utf8_lossy(&payload).into_owned();
        match kind {
            OUTPUT => {
                out.write_all(&payload)?;
                out.flush()?;
            }
            EXIT => return Ok(Some(End::Exit(text()))),
            DROPPED => return Ok(Some(End::Dropped(text()))),
            _ => {}
        }
    }
    Ok(None)
}

/// The session, with daimond hanging up mid-write or mid-read (killed)
/// reported as [`End::Lost`] like a clean end of file.
fn session(
    stream: &UnixStream,
    already: Vec<u8>,
    key: u8,
    read_only: bool,
    signals: i32,
) -> io::Result<End> {
    match pump(stream, already, key, read_only, signals) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ) =>
        {
            Ok(End::Lost)
        }
        r => r,
    }
}

fn pump(
    stream: &UnixStream,
    already: Vec<u8>,
    key: u8,
    read_only: bool,
    signals: i32,
) -> io::Result<End> {
    let sock = stream.as_raw_fd();
    let mut out = io::stdout().lock();
    let mut dec = attach::Decoder::default();
    dec.push(&already);
    send_size(stream, read_only)?;
    if let Some(end) = drain(&mut dec, &mut out)? {
        return Ok(end);
    }
    let mut buf = vec![0u8; attach::MAX_PAYLOAD];
    loop {
        let ready = term::wait(&[signals, sock, 0])?;
        if ready[0] {
            let n = term::read(signals, &mut buf[..64]).unwrap_or(0);
            for &sig in &buf[..n] {
                match sig as i32 {
                    libc::SIGWINCH => send_size(stream, read_only)?,
                    _ => return Ok(End::Detached),
                }
            }
        }
        if ready[1] {
            let n = term::read(sock, &mut buf)?;
            if n == 0 {
                return Ok(End::Lost);
            }
            dec.push(&buf[..n]);
            if let Some(end) = drain(&mut dec, &mut out)? {
                return Ok(end);
            }
        }
        if ready[2] {
            let n = term::read(0, &mut buf)?;
            if n == 0 {
                return Ok(End::Detached);
            }
            let typed = &buf[..n];
            let before = typed.iter().position(|&b| b == key);
            let input = &typed[..before.unwrap_or(n)];
            if !read_only && !input.is_empty() {
                send(stream, INPUT, input)?;
            }
            if before.is_some() {
                return Ok(End::Detached);
            }
        }
    }
}
