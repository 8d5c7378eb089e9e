//! Slowing down key guessing: a peer address that failed authentication
//! more than [`FREE_FAILURES`] times within a [`WINDOW`] has each further
//! failing answer held for [`DELAY`]. Other peers are not affected, and
//! the table is bounded ([`CAPACITY`] peers): when it is full, expired
//! windows go first, then the oldest one.
//!
//! IPv6 peers are counted per /64 (one host usually holds a whole /64), so
//! changing the interface identifier does not escape the count.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Failures per window answered at once.
pub const FREE_FAILURES: u32 = 5;
/// How long a peer's failures are counted together.
pub const WINDOW: Duration = Duration::from_secs(60);
/// How long each further failure is held before it is answered.
pub const DELAY: Duration = Duration::from_secs(1);
/// Peers tracked at most.
pub const CAPACITY: usize = 4096;

/// Failed authentications per peer address.
#[derive(Debug)]
pub struct Failures {
    peers: Mutex<HashMap<IpAddr, Window>>,
    capacity: usize,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

impl Default for Failures {
    fn default() -> Self {
        Failures::with_capacity(CAPACITY)
    }
}

impl Failures {
    pub fn with_capacity(capacity: usize) -> Self {
        Failures {
            peers: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Counts one failure from `peer`; returns how long to hold its answer.
    pub fn record(&self, peer: IpAddr) -> Duration {
        let peer = bucket(peer);
        let now = Instant::now();
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        if !peers.contains_key(&peer) && peers.len() >= self.capacity {
            peers.retain(|_, w| now.duration_since(w.started) < WINDOW);
            if peers.len() >= self.capacity {
                let oldest = peers.iter().min_by_key(|(_, w)| w.started).map(|(p, _)| *p);
                if let Some(oldest) = oldest {
                    peers.remove(&oldest);
                }
            }
        }
        let window = peers.entry(peer).or_insert(Window {
            started: now,
            count: 0,
        });
        if now.duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                count: 0,
            };
        }
        window.count = window.count.saturating_add(1);
        if window.count == FREE_FAILURES + 1 {
            tracing::warn!(
                %peer,
                "more than {FREE_FAILURES} requests without a valid client key within a minute \
                 from this address: its further failures are answered after {}s",
                DELAY.as_secs()
            );
        }
        if window.count > FREE_FAILURES {
            DELAY
        } else {
            Duration::ZERO
        }
    }

    /// Peers tracked now.
    pub fn len(&self) -> usize {
        self.peers.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The address a peer is counted under: IPv4 as is (also when mapped into
/// IPv6), other IPv6 addresses by their /64.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn past_five_failures_a_minute_answers_are_held_for_that_peer_only() {
        let f = Failures::default();
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        for _ in 0..FREE_FAILURES {
            assert_eq!(f.record(a), Duration::ZERO);
        }
        assert_eq!(f.record(a), DELAY);
        assert_eq!(f.record(a), DELAY);
        assert_eq!(f.record(b), Duration::ZERO, "another peer is not slowed");
        // The window ends a minute after the first failure.
        tokio::time::advance(WINDOW - Duration::from_millis(1)).await;
        assert_eq!(f.record(a), DELAY);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(f.record(a), Duration::ZERO, "a new window starts");
    }

    #[tokio::test(start_paused = true)]
    async fn ipv6_peers_count_per_64_and_mapped_ipv4_as_ipv4() {
        let f = Failures::default();
        for i in 0..FREE_FAILURES {
            f.record(ip(&format!("2001:db8:1:2::{i:x}")));
        }
        assert_eq!(f.record(ip("2001:db8:1:2:ffff::1")), DELAY);
        assert_eq!(f.record(ip("2001:db8:1:3::1")), Duration::ZERO);
        for _ in 0..FREE_FAILURES {
            f.record(ip("192.0.2.9"));
        }
        assert_eq!(f.record(ip("::ffff:192.0.2.9")), DELAY);
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_is_bounded_and_evicts_expired_then_oldest() {
        let f = Failures::with_capacity(3);
        let peers = [ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")];
        for p in peers {
            for _ in 0..=FREE_FAILURES {
                f.record(p);
            }
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert_eq!(f.len(), 3);
        // Full, nothing expired: the oldest (10.0.0.1) goes.
        assert_eq!(f.record(ip("10.0.0.4")), Duration::ZERO);
        assert_eq!(f.len(), 3);
        assert_eq!(f.record(peers[1]), DELAY, "10.0.0.2 is still counted");
        assert_eq!(f.record(peers[0]), Duration::ZERO, "10.0.0.1 was evicted");
        // Once windows expire, a new peer clears them all out.
        tokio::time::advance(WINDOW * 2).await;
        f.record(ip("10.0.0.5"));
        assert_eq!(f.len(), 1);
    }
}
