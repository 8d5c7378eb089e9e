//! The circuit breaker in front of Redis, and the probe's backoff.
//!
//! Closed: calls go to Redis; every success resets the count of consecutive
//! failures. After `threshold` consecutive failures (errors or timeouts) it
//! opens: calls fail at once without touching Redis, and only the background
//! probe (a PING with [`Backoff`]) closes it again.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// Consecutive failures that open the breaker.
pub const THRESHOLD: u32 = 3;

/// The breaker's state (lock-free; shared by every clone of the store).
#[derive(Debug)]
pub(crate) struct Breaker {
    open: AtomicBool,
    consecutive: AtomicU32,
    threshold: u32,
}

impl Breaker {
    /// A breaker in the given state.
    pub(crate) fn new(threshold: u32, open: bool) -> Breaker {
        Breaker {
            open: AtomicBool::new(open),
            consecutive: AtomicU32::new(0),
            threshold: threshold.max(1),
        }
    }

    /// Whether calls may go to Redis.
    pub(crate) fn is_closed(&self) -> bool {
        !self.open.load(Ordering::Acquire)
    }

    /// A call succeeded: the failure streak ends (an open breaker stays open:
    /// only the probe closes it).
    pub(crate) fn on_success(&self) {
        self.consecutive.store(0, Ordering::Release);
    }

    /// A call failed. Returns true if this failure opened the breaker (exactly
    /// one caller sees true per opening, and must start the probe).
    pub(crate) fn on_failure(&self) -> bool {
        let n = self
            .consecutive
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        n >= self.threshold && !self.open.swap(true, Ordering::AcqRel)
    }

    /// The probe reached Redis: close.
    pub(crate) fn close(&self) {
        self.consecutive.store(0, Ordering::Release);
        self.open.store(false, Ordering::Release);
    }
}

/// Exponential backoff: `first`, doubling, never above `max`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
    first: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at `first`.
    pub(crate) fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            next: first,
            first,
            max,
        }
    }

    /// The delay to wait now; the following one doubles.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    /// Back to `first` (after a success).
    pub(crate) fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_consecutive_failures_only() {
        let b = Breaker::new(3, false);
        assert!(!b.on_failure());
        assert!(!b.on_failure());
        b.on_success();
        assert!(!b.on_failure());
        assert!(!b.on_failure());
        assert!(b.is_closed());
        assert!(b.on_failure(), "third consecutive failure opens");
        assert!(!b.is_closed());
        assert!(!b.on_failure(), "only one caller learns it opened");
        b.on_success();
        assert!(!b.is_closed(), "a late success does not close it");
        b.close();
        assert!(b.is_closed());
        assert!(!b.on_failure(), "the streak restarted at close");
    }

    #[test]
    fn a_single_failure_never_opens() {
        let b = Breaker::new(3, false);
        for _ in 0..100 {
            assert!(!b.on_failure());
            b.on_success();
        }
        assert!(b.is_closed());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
        let seen: Vec<u64> = (0..7).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(seen, [250, 500, 1000, 2000, 4000, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(250));
    }
}
