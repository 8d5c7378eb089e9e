//! Deadlines for bytes that must keep moving: the client's request body, the
//! response written back to it, and Zoho's response body.
//!
//! One rule, [`Pace`], for every direction: while the side that should move
//! bytes keeps the proxy waiting, it must not go `idle` long with no byte at
//! all, and after a `grace` it must move at least `min_rate` bytes per
//! second of that waiting (as Kestrel's `MinRequestBodyDataRate`: one byte a
//! second is not progress). See [`Meter`] for the exact accounting.
//! Only time spent *waiting on that side* counts: a body the proxy does not
//! poll (Zoho applying backpressure, a queue for a slot) is not at fault.
//!
//! [`Paced`] applies it to a body; [`io::PacedIo`] to a connection's writes.

pub mod io;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::BoxError;

/// How fast bytes must move (`[server]` `body_idle_timeout`,
/// `min_data_rate`, `min_rate_grace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Longest wait with no byte at all.
    pub idle: Duration,
    /// Bytes per second over the time spent waiting; 0: no rate rule.
    pub min_rate: u64,
    /// Waiting time before the rate rule applies.
    pub grace: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            idle: Duration::from_secs(30),
            min_rate: 1024,
            grace: Duration::from_secs(5),
        }
    }
}

/// Why bytes stopped counting as progress.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Stalled {
    #[error("no data for {}s", .0.as_secs_f32())]
    Idle(Duration),
    #[error("{bytes} bytes in {}s, under the minimum of {min_rate} bytes/s", .waited.as_secs_f32())]
    TooSlow {
        bytes: u64,
        waited: Duration,
        min_rate: u64,
    },
}

/// The progress of one direction, on the clock of time spent waiting for it.
///
/// The rate rule is a credit of waiting time: it starts at `grace`, every
/// moment spent waiting uses it up, every byte moved earns `1 / min_rate`
/// seconds back, and it never banks more than `max(grace, idle)`, so a fast
/// burst cannot buy a long trickle afterwards. Waiting with no credit left
/// breaks the pace.
#[derive(Debug)]
pub struct Meter {
    pace: Pace,
    bytes: u64,
    /// Waiting time of the stretches that ended.
    waited: Duration,
    /// Credit at the start of the current wait (or now, if not waiting).
    credit: Duration,
    /// When the current wait started.
    since: Option<Instant>,
}

impl Meter {
    pub fn new(pace: Pace) -> Self {
        Meter {
            pace,
            bytes: 0,
            waited: Duration::ZERO,
            credit: pace.grace,
            since: None,
        }
    }

    fn cap(&self) -> Duration {
        self.pace.grace.max(self.pace.idle)
    }

    /// Nothing could move: a wait starts, unless one is under way.
    pub fn waiting(&mut self, now: Instant) {
        self.since.get_or_insert(now);
    }

    /// `n` bytes moved; a wait, if any, ends (an empty move ends nothing).
    pub fn moved(&mut self, n: usize, now: Instant) {
        if n == 0 {
            return;
        }
        self.bytes += n as u64;
        if let Some(since) = self.since.take() {
            let stretch = now.saturating_duration_since(since);
            self.waited += stretch;
            self.credit = self.credit.saturating_sub(stretch);
        }
        if self.pace.min_rate > 0 {
            let earned = Duration::from_secs_f64(n as f64 / self.pace.min_rate as f64);
            self.credit = (self.credit + earned).min(self.cap());
        }
    }

    /// When the current wait becomes a violation if nothing moves; `None`
    /// when not waiting.
    pub fn deadline(&self) -> Option<Instant> {
        let since = self.since?;
        if self.pace.min_rate == 0 {
            return Some(since + self.pace.idle);
        }
        Some(since + self.pace.idle.min(self.credit))
    }

    /// Whether the current wait, at `now`, broke the pace.
    pub fn check(&self, now: Instant) -> Result<(), Stalled> {
        let Some(since) = self.since else {
            return Ok(());
        };
        let stretch = now.saturating_duration_since(since);
        if stretch >= self.pace.idle {
            return Err(Stalled::Idle(stretch));
        }
        if self.pace.min_rate > 0 && stretch >= self.credit {
            return Err(Stalled::TooSlow {
                bytes: self.bytes,
                waited: self.waited + stretch,
                min_rate: self.pace.min_rate,
            });
        }
        Ok(())
    }
}

/// A timer that keeps a [`Meter`]'s deadline: `poll` is `Ready(Err)` once
/// the wait under way broke the pace, else `Pending` with a wake-up set.
#[derive(Debug)]
pub struct Watch {
    pub meter: Meter,
    timer: Option<Pin<Box<Sleep>>>,
}

impl Watch {
    pub fn new(pace: Pace) -> Self {
        Watch {
            meter: Meter::new(pace),
            timer: None,
        }
    }

    /// Call when the watched side returned `Pending`.
    pub fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<Stalled> {
        self.meter.waiting(Instant::now());
        loop {
            let Some(deadline) = self.meter.deadline() else {
                return Poll::Pending;
            };
            let timer = self
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            ready!(timer.as_mut().poll(cx));
            if let Err(stalled) = self.meter.check(Instant::now()) {
                return Poll::Ready(stalled);
            }
        }
    }
}

/// Where a [`Paced`] body records that it broke the pace, for whoever must
/// tell that failure apart from others (the request body's 408).
pub type Tripped = Arc<OnceLock<Stalled>>;

/// A body that must keep to a [`Pace`]; past it, it ends with a [`Stalled`]
/// error (and its consumer aborts what it was doing with it).
pub struct Paced<B> {
    body: B,
    watch: Watch,
    tripped: Tripped,
    failed: bool,
}

impl<B> Paced<B> {
    pub fn new(body: B, pace: Pace) -> Self {
        Paced {
            body,
            watch: Watch::new(pace),
            tripped: Tripped::default(),
            failed: false,
        }
    }

    /// Set once the body broke the pace.
    pub fn tripped(&self) -> Tripped {
        self.tripped.clone()
    }
}

impl<B> Body for Paced<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let n = frame.data_ref().map_or(0, Bytes::len);
                self.watch.meter.moved(n, Instant::now());
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let stalled = ready!(self.watch.poll_wait(cx));
                self.failed = true;
                let _ = self.tripped.set(stalled.clone());
                Poll::Ready(Some(Err(Box::new(stalled))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The [`Stalled`] inside a body error, if that is what it is.
pub fn stalled<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e Stalled> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(s) = err.downcast_ref::<Stalled>() {
            return Some(s);
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests;
