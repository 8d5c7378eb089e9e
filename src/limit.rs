//! Local traffic shaping toward Zoho: a sustained rate (GCRA, via governor),
//! in-flight caps (per credential, per route, and Zoho's sub-concurrency of 10
//! for heavy calls), and a credential-wide cool-down after a 429.
//!
//! Waiting is FIFO and costs no thread or busy loop: concurrency slots come
//! from tokio's fair semaphores, and rate waiters queue on a fair mutex whose
//! holder sleeps exactly until governor's next slot. Every wait is bounded by
//! `max_wait`; past it the request is shed (429 `RATE_LIMITED`) with a
//! `Retry-After` estimate.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Zoho's sub-concurrency limit for heavy calls (COQL, bulk, upsert, ...).
pub const HEAVY_CONCURRENCY: usize = 10;

/// A limit as configured: rate and/or concurrency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitSpec {
    pub requests_per_minute: Option<NonZeroU32>,
    pub burst: Option<NonZeroU32>,
    pub max_concurrent: Option<usize>,
}

impl LimitSpec {
    /// One replica's share of this limit among `replicas` (at least 1 of each).
    pub fn share(&self, replicas: u32) -> LimitSpec {
        let n = replicas.max(1);
        let div = |v: NonZeroU32| NonZeroU32::new(v.get() / n).unwrap_or(NonZeroU32::MIN);
        LimitSpec {
            requests_per_minute: self.requests_per_minute.map(div),
            burst: self.burst.map(div),
            max_concurrent: self.max_concurrent.map(|c| (c / n as usize).max(1)),
        }
    }
}

/// One rate + concurrency limit.
#[derive(Debug)]
pub struct Limit {
    rate: Option<Rate>,
    slots: Option<Arc<Semaphore>>,
    /// The limit all replicas share (with `[cluster]`), and its key.
    global: LimitSpec,
    name: String,
}

/// governor's clock, read through tokio's: the rate is paced by the same
/// clock as every other wait, so a paused test clock paces it too (with
/// governor's own clock, a paused test would spin: tokio's sleeps end at once
/// while governor's time stands still).
#[derive(Debug, Clone, Copy, Default)]
struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;
    fn now(&self) -> std::time::Instant {
        Instant::now().into_std()
    }
}

type RateLimit =
    RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<std::time::Instant>>;

#[derive(Debug)]
struct Rate {
    limiter: RateLimit,
    /// FIFO queue of rate waiters: only its holder asks governor.
    queue: tokio::sync::Mutex<()>,
    waiting: AtomicUsize,
    interval: Duration,
}

/// Which half of one [`Limit`] was still full at the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Full {
    Concurrency,
    Rate,
}

impl Full {
    /// What a [`Shed`] says for a route's, the credential's or the heavy limit.
    fn what(self) -> &'static str {
        match self {
            Full::Concurrency => "concurrency",
            Full::Rate => "request rate",
        }
    }

    /// The same for a client's own limit.
    fn client_what(self) -> &'static str {
        match self {
            Full::Concurrency => "this client's concurrency",
            Full::Rate => "this client's request rate",
        }
    }
}

/// Why a request was not let through in time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} toward Zoho is at its limit; waited {}s", .waited.as_secs_f32())]
pub struct Shed {
    pub what: &'static str,
    pub waited: Duration,
    /// When a slot is expected.
    pub retry_after: Duration,
}

impl Limit {
    pub fn new(spec: LimitSpec) -> Self {
        Limit::shared("", spec, 1)
    }

    /// A route's limit `name`: `spec` for all replicas together, and
    /// `1/replicas` of it for this one alone (while Redis is down, or always
    /// without `[cluster]`, where `replicas` is 1).
    pub fn shared(name: &str, spec: LimitSpec, replicas: u32) -> Self {
        Limit {
            name: name.to_owned(),
            ..Limit::local(spec.share(replicas), spec)
        }
    }

    fn local(spec: LimitSpec, global: LimitSpec) -> Self {
        let rate = spec.requests_per_minute.map(|rpm| {
            let burst = spec.burst.unwrap_or(NonZeroU32::MIN);
            Rate {
                limiter: RateLimiter::direct_with_clock(
                    Quota::per_minute(rpm).allow_burst(burst),
                    TokioClock,
                ),
                queue: tokio::sync::Mutex::new(()),
                waiting: AtomicUsize::new(0),
                interval: Duration::from_secs(60) / rpm.get(),
            }
        });
        Limit {
            rate,
            slots: spec.max_concurrent.map(|n| Arc::new(Semaphore::new(n))),
            global,
            name: String::new(),
        }
    }

    /// The limit as configured (for all replicas together).
    pub fn spec(&self) -> &LimitSpec {
        &self.global
    }

    pub fn concurrency(n: usize) -> Self {
        Limit::new(LimitSpec {
            max_concurrent: Some(n),
            ..LimitSpec::default()
        })
    }

    fn is_unlimited(&self) -> bool {
        self.rate.is_none() && self.slots.is_none()
    }

    /// Waits (FIFO) for a concurrency slot and a rate slot until `deadline`.
    async fn acquire(&self, deadline: Instant) -> Result<Option<OwnedSemaphorePermit>, Full> {
        let permit = match &self.slots {
            None => None,
            Some(slots) => Some(
                tokio::time::timeout_at(deadline, slots.clone().acquire_owned())
                    .await
                    .map_err(|_| Full::Concurrency)?
                    .map_err(|_| Full::Concurrency)?,
            ),
        };
        if let Some(rate) = &self.rate {
            rate.waiting.fetch_add(1, Ordering::Relaxed);
            let waited = tokio::time::timeout_at(deadline, rate.wait()).await;
            rate.waiting.fetch_sub(1, Ordering::Relaxed);
            waited.map_err(|_| Full::Rate)?;
        }
        Ok(permit)
    }

    /// A guess at when the next request would get through.
    fn expected_wait(&self) -> Duration {
        match &self.rate {
            Some(rate) => rate.interval * (rate.waiting.load(Ordering::Relaxed) as u32 + 1),
            None => Duration::from_secs(1),
        }
    }
}

impl Rate {
    async fn wait(&self) {
        let _turn = self.queue.lock().await;
        while let Err(not_until) = self.limiter.check() {
            tokio::time::sleep(not_until.wait_time_from(TokioClock.now())).await;
        }
    }
}

/// Everything a request must pass before it is sent: held until its response
/// has been streamed back.
#[derive(Debug, Default)]
pub struct Permit {
    _slots: Vec<OwnedSemaphorePermit>,
    /// The slots all replicas share, with `[cluster]`.
    _lease: Option<crate::coord::Lease>,
}

/// The shaping for one credential.
#[derive(Debug)]
pub struct Limits {
    credential: Limit,
    heavy: Limit,
    max_wait: Duration,
    /// No new request is sent before this instant (set by a 429).
    cool_down: Mutex<Option<Instant>>,
    /// With `[cluster]`: the limits every replica shares, in Redis; the
    /// local limits above are then this replica's share, used while Redis
    /// is down.
    shared: Option<crate::coord::SharedLimits>,
}

impl Limits {
    pub fn new(credential: LimitSpec, max_wait: Duration) -> Self {
        Limits {
            credential: Limit::new(credential),
            heavy: Limit::concurrency(HEAVY_CONCURRENCY),
            max_wait,
            cool_down: Mutex::new(None),
            shared: None,
        }
    }

    /// Limits shared by `replicas` replicas through `shared`.
    pub fn shared(
        credential: LimitSpec,
        max_wait: Duration,
        shared: crate::coord::SharedLimits,
        replicas: u32,
    ) -> Self {
        Limits {
            credential: Limit::shared("", credential, replicas),
            heavy: Limit::shared(
                "",
                LimitSpec {
                    max_concurrent: Some(HEAVY_CONCURRENCY),
                    ..LimitSpec::default()
                },
                replicas,
            ),
            max_wait,
            cool_down: Mutex::new(None),
            shared: Some(shared),
        }
    }

    /// Zoho said 429: nobody sends before `until` (the latest one wins), on
    /// every replica when they share limits.
    pub fn cool_down_until(&self, until: Instant) {
        {
            let mut c = self.cool_down.lock().unwrap_or_else(|e| e.into_inner());
            if c.is_none_or(|current| current < until) {
                *c = Some(until);
            }
        }
        if let Some(shared) = &self.shared {
            shared.cool_down(until.saturating_duration_since(Instant::now()));
        }
    }

    fn cooling_until(&self) -> Option<Instant> {
        let c = self.cool_down.lock().unwrap_or_else(|e| e.into_inner());
        c.filter(|until| *until > Instant::now())
    }

    /// Waits for the client's limit, the cool-down, the route's limit, the
    /// heavy sub-limit and the credential's limit, in that order, all within
    /// `max_wait`. A client's limit is always this replica's own: with
    /// `[cluster]` it is not counted in Redis (a client may use several
    /// credentials, whose shared state lives apart).
    pub async fn acquire(
        &self,
        client: Option<&Limit>,
        route: Option<&Limit>,
        heavy: bool,
    ) -> Result<Permit, Shed> {
        let started = Instant::now();
        let deadline = started + self.max_wait;
        let mut own = Vec::new();
        if let Some(limit) = client.filter(|l| !l.is_unlimited()) {
            match limit.acquire(deadline).await {
                Ok(permit) => own.extend(permit),
                Err(full) => {
                    return Err(Shed {
                        what: full.client_what(),
                        waited: started.elapsed(),
                        retry_after: limit.expected_wait(),
                    })
                }
            }
        }
        if let Some(shared) = self.shared.as_ref().filter(|s| s.is_up()) {
            let request = shared.request(
                &self.credential.global,
                route.map(|r| (r.name.as_str(), &r.global)),
                heavy,
            );
            match shared.admit(&request, started, deadline).await {
                Ok(Some(lease)) => {
                    return Ok(Permit {
                        _slots: own,
                        _lease: Some(lease),
                    })
                }
                Err(shed) => return Err(shed),
                // Redis failed: this replica's share of the limits, locally.
                Ok(None) => {}
            }
        }
        let unlimited =
            route.is_none_or(Limit::is_unlimited) && !heavy && self.credential.is_unlimited();
        if unlimited && self.cooling_until().is_none() {
            return Ok(Permit {
                _slots: own,
                _lease: None,
            });
        }
        self.acquire_all(route, heavy, started, deadline, own).await
    }

    async fn acquire_all(
        &self,
        route: Option<&Limit>,
        heavy: bool,
        started: Instant,
        deadline: Instant,
        mut slots: Vec<OwnedSemaphorePermit>,
    ) -> Result<Permit, Shed> {
        if let Some(until) = self.cooling_until() {
            if until > deadline {
                return Err(Shed {
                    what: "Zoho's rate limit (cooling down after a 429)",
                    waited: Duration::ZERO,
                    retry_after: until - started,
                });
            }
            tokio::time::sleep_until(until).await;
        }
        let limits = route
            .into_iter()
            .chain(heavy.then_some(&self.heavy))
            .chain([&self.credential]);
        for limit in limits {
            match limit.acquire(deadline).await {
                Ok(permit) => slots.extend(permit),
                Err(full) => {
                    return Err(Shed {
                        what: full.what(),
                        waited: started.elapsed(),
                        retry_after: limit.expected_wait(),
                    });
                }
            }
        }
        Ok(Permit {
            _slots: slots,
            _lease: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rpm: Option<u32>, burst: Option<u32>, conc: Option<usize>) -> LimitSpec {
        LimitSpec {
            requests_per_minute: rpm.and_then(NonZeroU32::new),
            burst: burst.and_then(NonZeroU32::new),
            max_concurrent: conc,
        }
    }

    #[tokio::test]
    async fn concurrency_is_capped_and_waiters_are_shed_after_max_wait() {
        let limits = Limits::new(spec(None, None, Some(2)), Duration::from_millis(50));
        let a = limits.acquire(None, None, false).await.unwrap();
        let _b = limits.acquire(None, None, false).await.unwrap();
        let shed = limits.acquire(None, None, false).await.unwrap_err();
        assert_eq!(shed.what, "concurrency");
        assert!(shed.waited >= Duration::from_millis(50));
        drop(a);
        assert!(
            limits.acquire(None, None, false).await.is_ok(),
            "a released slot is reused"
        );
    }

    #[tokio::test]
    async fn heavy_calls_share_a_sub_limit_of_ten() {
        let limits = Limits::new(LimitSpec::default(), Duration::from_millis(20));
        let mut held = Vec::new();
        for _ in 0..HEAVY_CONCURRENCY {
            held.push(
                limits
                    .acquire(None, None, true)
                    .await
                    .expect("ten heavy calls fit"),
            );
        }
        assert!(
            limits.acquire(None, None, true).await.is_err(),
            "the 11th heavy call waits"
        );
        assert!(
            limits.acquire(None, None, false).await.is_ok(),
            "light calls are not held up"
        );
    }

    #[tokio::test]
    async fn a_route_limit_applies_on_top_of_the_credential() {
        let limits = Limits::new(spec(None, None, Some(10)), Duration::from_millis(20));
        let route = Limit::new(spec(None, None, Some(1)));
        let _a = limits.acquire(None, Some(&route), false).await.unwrap();
        assert!(limits.acquire(None, Some(&route), false).await.is_err());
        assert!(limits.acquire(None, None, false).await.is_ok());
    }

    #[tokio::test]
    async fn a_client_limit_applies_to_that_client_only_and_says_so() {
        let limits = Limits::new(spec(None, None, Some(10)), Duration::from_millis(20));
        let (one, other) = (
            Limit::new(spec(None, None, Some(1))),
            Limit::new(spec(None, None, Some(1))),
        );
        let _a = limits.acquire(Some(&one), None, false).await.unwrap();
        let shed = limits.acquire(Some(&one), None, false).await.unwrap_err();
        assert_eq!(shed.what, "this client's concurrency");
        assert!(limits.acquire(Some(&other), None, false).await.is_ok());
        assert!(limits.acquire(None, None, false).await.is_ok());
        // A rate limit, shed the same way.
        let slow = Limit::new(spec(Some(1), Some(1), None));
        limits.acquire(Some(&slow), None, false).await.unwrap();
        let shed = limits.acquire(Some(&slow), None, false).await.unwrap_err();
        assert_eq!(shed.what, "this client's request rate");
        assert!(shed.retry_after >= Duration::from_secs(59), "{shed:?}");
    }

    #[tokio::test]
    async fn a_cool_down_longer_than_max_wait_sheds_at_once_with_its_remaining_time() {
        let limits = Limits::new(LimitSpec::default(), Duration::from_secs(1));
        limits.cool_down_until(Instant::now() + Duration::from_secs(5));
        limits.cool_down_until(Instant::now() + Duration::from_secs(2)); // an earlier one does not shorten it
        let shed = limits.acquire(None, None, false).await.unwrap_err();
        assert!(shed.retry_after > Duration::from_secs(4), "{shed:?}");
        assert!(shed.waited < Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cool_down_is_waited_out_exactly_then_requests_flow() {
        let limits = Limits::new(LimitSpec::default(), Duration::from_secs(30));
        let start = Instant::now();
        limits.cool_down_until(start + Duration::from_secs(2));
        limits.acquire(None, None, false).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        limits.acquire(None, None, false).await.unwrap();
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "no further wait once it is over"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_is_paced_not_refused() {
        // 600/min = one every 100 ms, burst 1: five requests take 400 ms, on
        // the paused clock exactly (governor reads tokio's clock).
        let limits = Limits::new(spec(Some(600), Some(1), None), Duration::from_secs(5));
        let start = Instant::now();
        for _ in 0..5 {
            limits.acquire(None, None, false).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::from_millis(400));
    }
}
