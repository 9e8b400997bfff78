//! The owner's event loop: where every event source meets the one owner task.
//!
//! Owns the wiring only — SIGCHLD (then the central reaper), the single timer of
//! the nearest deadline, pidfd watches of adopted processes, client commands and
//! the sd_notify socket — in the order that keeps systemd's semantics (a READY=1
//! sent just before exiting is read before the exit is reaped; a flood of
//! datagrams never holds up the rest). What each event does lives in `owner` and
//! the modules beside it. Nothing here polls: the loop sleeps until an event or
//! the nearest deadline.

use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::Command;
use super::owner::Owner;
use super::timer::alarm::Alarm;
use crate::process::reaper;

/// Runs the owner until shutdown completes or every handle is dropped.
pub async fn run(mut o: Owner, mut cmds: mpsc::Receiver<Command>) {
    let mut sigchld = match signal(SignalKind::child()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot watch child processes (SIGCHLD): {e}");
            return;
        }
    };
    if let Err(e) = reaper::become_subreaper() {
        tracing::warn!(
            "cannot become a child subreaper: {e}; double-forking services escape supervision"
        );
    }
    let (watch_tx, mut watched) = mpsc::unbounded_channel();
    o.set_watcher(watch_tx);
    let (ready_tx, mut socket_ready) = mpsc::unbounded_channel();
    o.sockets.ready_tx = Some(ready_tx);
    let (path_tx, mut path_events) = mpsc::unbounded_channel();
    o.path_units.events_tx = Some(path_tx);
    let (watch_changes_tx, mut watch_changes) = mpsc::unbounded_channel();
    o.watches.tx = Some(watch_changes_tx);
    let notify = super::notify::open(&mut o);
    let mut syslog = crate::syslog::open(&mut o);
    let mut alarm = match Alarm::new() {
        Ok(a) => Some(a),
        Err(e) => {
            tracing::error!(
                "cannot create the calendar timer alarm: {e}; OnCalendar= timers will not run"
            );
            None
        }
    };
    o.reap();
    o.startup();
    let mut clients = true;
    let mut handed_over = None;
    // Set when a shutdown begins (see `shutdown`): the loop ends by then whatever
    // is still queued.
    let mut watchdog: Option<Instant> = None;
    loop {
        o.timers_after_events();
        o.sockets_after_events();
        o.paths_after_events();
        o.watches_after_events();
        o.cgroups_after_events();
        o.flush_messages();
        o.persist();
        if o.shutting_down && o.units.no_jobs() {
            break;
        }
        if o.shutting_down && watchdog.is_none() {
            // A stop timeout of years must not overflow the clock.
            let now = Instant::now();
            watchdog = now
                .checked_add(o.shutdown_budget())
                .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)));
        }
        if watchdog.is_some_and(|w| w <= Instant::now()) {
            tracing::error!(
                "shutdown watchdog: still waiting for {} after the stop timeouts; exiting anyway",
                o.unfinished_jobs()
            );
            break;
        }
        let (timer_deadline, timer_alarm) = o.next_timer_wakes();
        let deadline = [
            o.next_deadline(),
            timer_deadline,
            watchdog,
            o.watch_deadline(),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(a) = alarm.as_mut() {
            a.arm(timer_alarm);
        }
        tokio::select! {
            biased;
            _ = sigchld.recv() => {
                super::notify::drain(&mut o, notify.as_ref());
                if let Some(s) = syslog.as_mut() {
                    s.drain(&o);
                }
                o.reap()
            }
            _ = sleep_until_opt(deadline) => {
                o.on_timers();
                o.on_timer_wake();
                o.on_watch_deadline();
            }
            clock_set = rung(alarm.as_mut()) => {
                if clock_set {
                    o.on_clock_set();
                }
                o.on_timer_wake();
            }
            Some(w) = watched.recv() => o.on_watched(w),
            Some(r) = socket_ready.recv() => o.on_socket_ready(r),
            Some(p) = path_events.recv() => o.on_path_events(p),
            Some(w) = watch_changes.recv() => o.on_watch_events(w),
            cmd = cmds.recv(), if clients => match cmd {
                Some(Command::HandOver(done)) => {
                    handed_over = Some(done);
                    break;
                }
                Some(c) => o.on_command(c),
                None => {
                    clients = false;
                    o.begin_shutdown(None);
                }
            },
            // Last: a flood of datagrams must not hold up the rest.
            dg = super::notify::next(notify.as_ref()) => o.on_notify(dg),
            batch = crate::syslog::next(syslog.as_mut()) => {
                if let Some(s) = syslog.as_ref() {
                    s.store(&o, batch);
                }
            }
        }
    }
    o.flush_messages();
    o.persist();
    match handed_over {
        // The store keeps every pipe open for the next daimond, which re-adopts
        // the services from what was just persisted, as after a crash.
        Some(done) => {
            let _ = done.send(());
        }
        // A clean shutdown: the store closes its copies; ours drain to end of file.
        None => o.fdstore().borrow_mut().quit(),
    }
}

async fn rung(alarm: Option<&mut Alarm>) -> bool {
    match alarm {
        Some(a) => a.rung().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}
