//! A wake-up on the wall clock: a `CLOCK_REALTIME` timerfd armed at an
//! absolute time with `TFD_TIMER_CANCEL_ON_SET` (timerfd_create(2)).
//!
//! Calendar timers are wall-clock events: a monotonic sleep would fire late
//! after a suspend (the monotonic clock stops) or at the wrong moment after the
//! clock is set. The kernel ends this alarm at the wall time itself, and wakes
//! it early when the clock jumps, so the owner re-evaluates every timer.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};

use jiff::Timestamp;
use nix::errno::Errno;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

pub struct Alarm {
    // Declared first so it is dropped (deregistered) before the descriptor closes.
    afd: AsyncFd<RawFd>,
    timer: TimerFd,
    armed: Option<Timestamp>,
}

impl Alarm {
    pub fn new() -> io::Result<Alarm> {
        let fd = TimerFd::new(
            ClockId::CLOCK_REALTIME,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        // SAFETY: the descriptor belongs to `timer`, which lives in the same
        // struct and is dropped after `afd` (field order).
        let afd =
            unsafe { AsyncFd::register_with_interest(fd.as_fd().as_raw_fd(), Interest::READABLE) }
                .map_err(io::Error::from)?;
        Ok(Alarm {
            afd,
            timer: fd,
            armed: None,
        })
    }

    /// Rings at `at` (or never with `None`); re-arming at the same time is free.
    pub fn arm(&mut self, at: Option<Timestamp>) {
        if self.armed == at {
            return;
        }
        let result = match at {
            Some(t) => {
                // Zero would read as "disarm": a time at or before the
                // epoch rings at once instead.
                let spec = if t.as_second() > 0 {
                    TimeSpec::new(t.as_second(), i64::from(t.subsec_nanosecond()))
                } else {
                    TimeSpec::new(0, 1)
                };
                self.timer.set(
                    Expiration::OneShot(spec),
                    TimerSetTimeFlags::TFD_TIMER_ABSTIME
                        | TimerSetTimeFlags::TFD_TIMER_CANCEL_ON_SET,
                )
            }
            None => self.timer.unset(),
        };
        match result {
            Ok(()) => self.armed = at,
            Err(e) => {
                self.armed = None;
                tracing::error!("cannot arm the calendar timer alarm: {e}");
            }
        }
    }

    /// Waits until the alarm rings; answers whether it rang because the wall
    /// clock was set (then every calendar timer must be scheduled again).
    pub async fn rung(&mut self) -> bool {
        loop {
            let Ok(mut guard) = self.afd.readable().await else {
                return std::future::pending().await;
            };
            let mut buf = [0u8; 8];
            match nix::unistd::read(self.timer.as_fd(), &mut buf) {
                Ok(_) => {
                    self.armed = None;
                    return false;
                }
                Err(Errno::ECANCELED) => {
                    self.armed = None;
                    return true;
                }
                Err(Errno::EAGAIN) => guard.clear_ready(),
                Err(Errno::EINTR) => {}
                Err(e) => {
                    tracing::error!("calendar timer alarm failed: {e}");
                    return std::future::pending().await;
                }
            }
        }
    }
}
