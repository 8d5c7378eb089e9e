//! A rolling 24-hour window of credits in one-minute buckets: 1,440 of them,
//! whatever the traffic (constant memory), with the sum kept up to date.
//!
//! A credit spent in minute `m` counts until minute `m + 1440` begins.

/// Buckets in a day.
pub const MINUTES: u64 = 1440;

/// One window. Minutes are counted since the Unix epoch.
#[derive(Debug, Clone)]
pub struct Window {
    /// `buckets[m % MINUTES]` = (the minute it holds, credits).
    buckets: Box<[(u64, u64)]>,
    sum: u64,
    /// Minutes before `oldest` have left the window.
    oldest: u64,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            buckets: vec![(0, 0); MINUTES as usize].into_boxed_slice(),
            sum: 0,
            oldest: 0,
        }
    }
}

impl Window {
    /// Drops the buckets that are older than a day at minute `now`.
    pub fn advance(&mut self, now: u64) {
        let first_live = now.saturating_sub(MINUTES - 1);
        if first_live <= self.oldest {
            return;
        }
        // At most a day's buckets to look at, however long it has been.
        let from = self.oldest.max(first_live.saturating_sub(MINUTES));
        for m in from..first_live {
            let slot = &mut self.buckets[(m % MINUTES) as usize];
            // Whatever minute the slot holds, it is gone if older than the day.
            if slot.0 < first_live && slot.1 > 0 {
                self.sum -= slot.1;
                slot.1 = 0;
            }
        }
        self.oldest = first_live;
    }

    /// Adds `n` credits in minute `now`.
    pub fn add(&mut self, now: u64, n: u64) {
        self.advance(now);
        let slot = &mut self.buckets[(now % MINUTES) as usize];
        if slot.0 != now {
            // Left over from a day ago (advance already subtracted it).
            *slot = (now, 0);
        }
        slot.1 += n;
        self.sum += n;
    }

    /// Takes `n` credits back from minute `at` (a refund), or from the
    /// oldest buckets if that one no longer holds them.
    pub fn remove(&mut self, at: u64, n: u64) {
        let slot = &mut self.buckets[(at % MINUTES) as usize];
        let mut left = n;
        if slot.0 == at {
            let take = slot.1.min(left);
            slot.1 -= take;
            self.sum -= take;
            left -= take;
        }
        if left > 0 {
            self.remove_oldest(left);
        }
    }

    /// Takes `n` credits off, oldest first (Zoho says fewer were spent);
    /// what was taken from which minute.
    pub fn remove_oldest(&mut self, n: u64) -> Vec<(u64, u64)> {
        let mut taken = Vec::new();
        let mut left = n.min(self.sum);
        let mut m = self.oldest;
        while left > 0 && m < self.oldest + MINUTES {
            let slot = &mut self.buckets[(m % MINUTES) as usize];
            if slot.0 == m && slot.1 > 0 {
                let take = slot.1.min(left);
                slot.1 -= take;
                self.sum -= take;
                left -= take;
                taken.push((m, take));
            }
            m += 1;
        }
        taken
    }

    /// The credits of minute `m` (0 outside the window).
    pub fn get(&self, m: u64) -> u64 {
        match self.buckets[(m % MINUTES) as usize] {
            (at, n) if at == m && m >= self.oldest => n,
            _ => 0,
        }
    }

    /// Sets minute `m` to `n` (a count learned from the other replicas);
    /// ignored outside the window.
    pub fn set(&mut self, m: u64, n: u64) {
        if m < self.oldest || m >= self.oldest + MINUTES {
            return;
        }
        let slot = &mut self.buckets[(m % MINUTES) as usize];
        let old = if slot.0 == m { slot.1 } else { 0 };
        self.sum = self.sum - old + n;
        *slot = (m, n);
    }

    /// Credits in the window (call [`Window::advance`] first).
    pub fn sum(&self) -> u64 {
        self.sum
    }

    /// The first minute at which at least `need` credits will have left the
    /// window (`None` if it does not hold that many).
    pub fn frees_at(&self, need: u64) -> Option<u64> {
        if need == 0 {
            return Some(self.oldest);
        }
        let mut freed = 0;
        for m in self.oldest..self.oldest + MINUTES {
            let (at, n) = self.buckets[(m % MINUTES) as usize];
            if at == m {
                freed += n;
                if freed >= need {
                    return Some(m + MINUTES);
                }
            }
        }
        None
    }

    /// The non-empty buckets, oldest first: (minute, credits).
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        (self.oldest..self.oldest + MINUTES).filter_map(|m| {
            let (at, n) = self.buckets[(m % MINUTES) as usize];
            (at == m && n > 0).then_some((m, n))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn credits_leave_a_day_after_their_minute() {
        let mut w = Window::default();
        w.add(1000, 5);
        w.add(1001, 7);
        assert_eq!(w.sum(), 12);
        w.advance(1000 + MINUTES - 1);
        assert_eq!(w.sum(), 12, "still inside the day");
        w.advance(1000 + MINUTES);
        assert_eq!(w.sum(), 7);
        assert_eq!(w.frees_at(7), Some(1001 + MINUTES));
        assert_eq!(w.frees_at(8), None);
        w.advance(1001 + MINUTES * 5);
        assert_eq!(w.sum(), 0);
        // The slot is reused a day later without the old value.
        w.add(1000 + MINUTES * 6, 1);
        assert_eq!(w.sum(), 1);
    }

    #[test]
    fn refunds_and_corrections() {
        let mut w = Window::default();
        w.add(10, 3);
        w.add(11, 4);
        w.remove(11, 2);
        assert_eq!(w.sum(), 5);
        w.remove_oldest(4);
        assert_eq!(w.sum(), 1);
        assert_eq!(w.buckets().collect::<Vec<_>>(), vec![(11, 1)]);
        w.remove_oldest(100);
        assert_eq!(w.sum(), 0);
    }

    #[test]
    fn memory_is_constant() {
        let mut w = Window::default();
        for m in 0..MINUTES * 10 {
            w.add(m, 1);
        }
        assert_eq!(w.buckets.len(), MINUTES as usize);
        assert_eq!(w.sum(), MINUTES);
        assert_eq!(w.buckets().count(), MINUTES as usize);
    }

    proptest! {
        /// The kept sum always equals the credits of the last 1,440 minutes.
        #[test]
        fn the_sum_is_the_last_day(steps in proptest::collection::vec((0u64..3000, 0u64..50), 1..200)) {
            let mut w = Window::default();
            let mut now = 0;
            let mut log: Vec<(u64, u64)> = Vec::new();
            for (gap, n) in steps {
                now += gap;
                w.add(now, n);
                log.push((now, n));
                let want: u64 = log.iter().filter(|(m, _)| m + MINUTES > now).map(|(_, n)| n).sum();
                prop_assert_eq!(w.sum(), want);
            }
        }
    }
}
