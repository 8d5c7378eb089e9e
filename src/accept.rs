//! Accepting connections within a cap, and riding out fd exhaustion.
//!
//! - At most `max_connections` client connections are served at once, over
//!   all workers (they share the [`Slots`]): past that, a worker holds the
//!   connection it accepted until a slot frees and accepts no other (the
//!   kernel's backlog holds newcomers), so memory stays bounded by the cap,
//!   not by what clients open. Accepting first, then waiting, keeps every
//!   worker fair: a worker that waited for a slot before accepting could
//!   take the freed slot while the waiting connection sat in another
//!   worker's queue.
//! - When `accept` fails (`EMFILE`/`ENFILE` when file descriptors run out,
//!   or a connection reset before it was accepted), the loop backs off
//!   exponentially, 5 ms doubling to 1 s, and says so at most once per
//!   [`LOG_EVERY`] with the number of failures: no warning storm, and the
//!   connections already open keep being served by their own tasks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

const FIRST_DELAY: Duration = Duration::from_millis(5);
const MAX_DELAY: Duration = Duration::from_secs(1);
/// At most one warning about failing accepts per this long.
pub const LOG_EVERY: Duration = Duration::from_secs(5);

/// Exponential backoff for a failing `accept`, and a rate limit on saying so.
#[derive(Debug, Default)]
pub struct Backoff {
    delay: Option<Duration>,
    /// Failures not yet reported.
    unreported: u64,
    last_report: Option<Instant>,
}

/// What to do after a failed accept.
#[derive(Debug, PartialEq, Eq)]
pub struct AfterFailure {
    pub wait: Duration,
    /// `Some(n)`: warn now, about `n` failures since the last warning.
    pub report: Option<u64>,
}

impl Backoff {
    pub fn failed(&mut self, now: Instant) -> AfterFailure {
        let wait = self.delay.map_or(FIRST_DELAY, |d| (d * 2).min(MAX_DELAY));
        self.delay = Some(wait);
        self.unreported += 1;
        let due = self
            .last_report
            .is_none_or(|at| now.saturating_duration_since(at) >= LOG_EVERY);
        let report = due.then(|| {
            self.last_report = Some(now);
            std::mem::take(&mut self.unreported)
        });
        AfterFailure { wait, report }
    }

    /// An accept worked: the next failure starts from the shortest wait.
    /// (The report clock keeps running, so flapping cannot storm the log.)
    pub fn succeeded(&mut self) {
        self.delay = None;
    }
}

/// The connections a listener's workers may serve at once.
pub type Slots = Arc<Semaphore>;

pub fn slots(max: usize) -> Slots {
    Arc::new(Semaphore::new(max))
}

/// A listener that serves at most as many connections as `slots` allows.
pub struct Acceptor {
    listener: TcpListener,
    slots: Slots,
    backoff: Backoff,
    what: &'static str,
}

impl Acceptor {
    pub fn new(listener: TcpListener, slots: Slots, what: &'static str) -> Self {
        Acceptor {
            listener,
            slots,
            backoff: Backoff::default(),
            what,
        }
    }

    /// The next connection, with the slot it holds until dropped. `None`
    /// only if the slots were closed, which nothing does.
    pub async fn accept(&mut self) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
        let (stream, peer) = self.next().await;
        let slot = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                tracing::debug!(
                    listener = self.what,
                    "connection cap reached: accepting waits"
                );
                self.slots.clone().acquire_owned().await.ok()?
            }
        };
        Some((stream, peer, slot))
    }

    /// The next connection accepted, riding out failures.
    async fn next(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok(accepted) => {
                    self.backoff.succeeded();
                    return accepted;
                }
                Err(e) => {
                    let next = self.backoff.failed(Instant::now());
                    if let Some(failures) = next.report {
                        tracing::warn!(
                            listener = self.what,
                            error = %e,
                            failures,
                            retry_in_ms = next.wait.as_millis() as u64,
                            "accept failed; backing off"
                        );
                    }
                    tokio::time::sleep(next.wait).await;
                }
            }
        }
    }

    /// Stops listening (the port is released).
    pub fn close(self) {
        drop(self.listener);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_to_a_second_and_warnings_come_once_per_interval_with_the_count() {
        let t0 = Instant::now();
        let mut b = Backoff::default();
        let first = b.failed(t0);
        assert_eq!(
            first,
            AfterFailure {
                wait: FIRST_DELAY,
                report: Some(1)
            }
        );
        let mut t = t0;
        let mut waits = vec![];
        let mut reports = vec![];
        // Eleven seconds of failing accepts.
        while t - t0 < Duration::from_secs(11) {
            let next = b.failed(t);
            waits.push(next.wait);
            reports.extend(next.report);
            t += next.wait;
        }
        assert_eq!(
            &waits[..3],
            &[FIRST_DELAY * 2, FIRST_DELAY * 4, FIRST_DELAY * 8]
        );
        assert_eq!(*waits.last().unwrap(), MAX_DELAY);
        assert!(waits.len() < 25, "{} accept attempts in 11 s", waits.len());
        assert_eq!(reports.len(), 2, "one warning per 5 s: {reports:?}");
        assert!(
            reports.iter().all(|n| *n > 1),
            "counts, not lines: {reports:?}"
        );
        assert!(reports.iter().sum::<u64>() <= waits.len() as u64);
        // Recovery resets the wait, not the warning clock.
        b.succeeded();
        let again = b.failed(t);
        assert_eq!(again.wait, FIRST_DELAY);
    }
}
