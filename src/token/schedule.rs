//! When to mint: a schedule that fits each token's lifetime into Zoho's mint
//! budget, and the sliding window that counts what was spent.
//!
//! Zoho allows 10 access tokens per refresh token per rolling 10 minutes and
//! blocks the refresh token for the rest of the window past that. The budget
//! `B` (`token_requests_per_10min`) is split in two:
//! - a small *rejection allowance* (`max(1, B / 5)`: 2 of 10) for refreshes
//!   caused by a 401, so that no caller can spend the budget by provoking
//!   401s;
//! - the rest for *paced* mints (scheduled refreshes and "there is no valid
//!   token"), spaced at least `W / (B - allowance)` apart (75 s for 10).
//!
//! A token is handed out until its safety margin (`min(10 s, lifetime / 10)`)
//! and refreshed at `lifetime - refresh_before_expiry`, or at 70 % of its
//! lifetime when that margin does not fit twice, but never earlier than the
//! pacing interval allows. A token too short for the budget is still used to
//! its margin; requests that find none wait for the next paced mint within
//! their own deadline.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Zoho's token-minting window.
pub const TOKEN_WINDOW: Duration = Duration::from_secs(600);
/// The most a token's safety margin grows to.
const MAX_SAFETY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    /// Refresh this long before expiry (when the lifetime allows).
    pub refresh_before_expiry: Duration,
    /// At most this many token requests that reached Zoho per [`TOKEN_WINDOW`].
    pub budget: u32,
    /// How long one call to the accounts server may take, all in.
    pub accounts_timeout: Duration,
    /// A token younger than this is not replaced because of a 401.
    pub rejected_min_age: Duration,
}

impl TokenSettings {
    /// Settings with Zoho's defaults for everything but the two given.
    pub fn new(refresh_before_expiry: Duration, budget: u32) -> Self {
        TokenSettings {
            refresh_before_expiry,
            budget,
            accounts_timeout: Duration::from_secs(10),
            rejected_min_age: Duration::from_secs(30),
        }
    }

    /// How many 401-caused refreshes a window may hold.
    pub fn rejection_allowance(&self) -> u32 {
        (self.budget / 5).max(1)
    }

    /// The shortest time between two paced mints.
    pub fn paced_interval(&self) -> Duration {
        let share = self
            .budget
            .saturating_sub(self.rejection_allowance())
            .max(1);
        TOKEN_WINDOW / share
    }

    /// How a token of `lifetime` is used.
    pub fn plan(&self, lifetime: Duration) -> Plan {
        let safety = MAX_SAFETY.min(lifetime / 10);
        let margin = self.refresh_before_expiry;
        let nominal = if lifetime >= margin * 2 {
            lifetime - margin
        } else {
            lifetime.mul_f64(0.7)
        };
        let usable_for = lifetime - safety;
        Plan {
            usable_for,
            refresh_in: nominal.max(self.paced_interval()),
            too_short: self.paced_interval() > usable_for,
        }
    }
}

/// How one token is used, counted from when it was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Handed out until then: its lifetime less the safety margin.
    pub usable_for: Duration,
    /// When the background loop replaces it.
    pub refresh_in: Duration,
    /// The budget does not allow a new token before this one stops being usable.
    pub too_short: bool,
}

/// Events in a sliding [`TOKEN_WINDOW`].
#[derive(Debug, Default)]
pub struct Window {
    at: VecDeque<Instant>,
}

impl Window {
    pub fn record(&mut self, at: Instant) {
        self.at.push_back(at);
    }

    /// How many events the window ending `now` holds.
    pub fn count(&mut self, now: Instant) -> usize {
        while self
            .at
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= TOKEN_WINDOW)
        {
            self.at.pop_front();
        }
        self.at.len()
    }

    /// When the window will hold fewer than `limit` events (now if it does).
    pub fn free_at(&mut self, now: Instant, limit: u32) -> Instant {
        let n = self.count(now);
        let limit = limit as usize;
        if n < limit {
            return now;
        }
        // The (n - limit + 1)-th oldest must leave the window.
        self.at
            .get(n - limit)
            .map_or(now, |t| *t + TOKEN_WINDOW)
            .max(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_budget_is_split_into_a_rejection_allowance_and_paced_mints() {
        let s = TokenSettings::new(secs(300), 10);
        assert_eq!(s.rejection_allowance(), 2);
        assert_eq!(s.paced_interval(), secs(75));
        let one = TokenSettings::new(secs(300), 1);
        assert_eq!(one.rejection_allowance(), 1);
        assert_eq!(one.paced_interval(), secs(600));
    }

    #[test]
    fn hour_long_tokens_refresh_refresh_before_expiry_ahead() {
        let p = TokenSettings::new(secs(300), 10).plan(secs(3600));
        assert_eq!(p.refresh_in, secs(3300));
        assert_eq!(p.usable_for, secs(3590));
        assert!(!p.too_short);
    }

    #[test]
    fn shorter_tokens_refresh_at_seventy_percent_but_no_faster_than_the_budget() {
        let s = TokenSettings::new(secs(300), 10);
        assert_eq!(s.plan(secs(400)).refresh_in, secs(280));
        // 70 % of 30 s is 21 s, but 10 mints per 10 minutes allow one per 75 s.
        let p = s.plan(secs(30));
        assert_eq!(p.refresh_in, secs(75));
        assert_eq!(p.usable_for, secs(27));
        assert!(p.too_short);
        let p = s.plan(secs(5));
        assert_eq!(p.usable_for, Duration::from_millis(4500));
        assert!(p.too_short);
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_slides() {
        let mut w = Window::default();
        let t0 = Instant::now();
        for i in 0..3 {
            w.record(t0 + secs(i * 10));
        }
        assert_eq!(w.count(t0 + secs(30)), 3);
        assert_eq!(w.free_at(t0 + secs(30), 3), t0 + TOKEN_WINDOW);
        assert_eq!(w.free_at(t0 + secs(30), 2), t0 + secs(10) + TOKEN_WINDOW);
        assert_eq!(w.free_at(t0 + secs(30), 4), t0 + secs(30));
        assert_eq!(w.count(t0 + TOKEN_WINDOW), 2);
        assert_eq!(w.count(t0 + TOKEN_WINDOW + secs(20)), 0);
    }
}
