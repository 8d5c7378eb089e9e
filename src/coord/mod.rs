//! Coordination state that replicas share, per credential: with `[cluster]`
//! it lives in Redis ([`redis`]); without, each process keeps its own (the
//! token manager and [`crate::limit`] as they are). The request path never
//! knows which: a credential's [`crate::limit::Limits`] and token manager
//! are built with or without their shared half when the config is compiled
//! into credentials, and fall back to this replica's share while Redis is
//! down.
//!
//! - [`seal`]: the shared token, encrypted under a key only the credential's
//!   holders can derive;
//! - [`SharedLimits`]: one admission round trip per request (cool-down,
//!   rates and concurrency pools together) and leases that expire when a
//!   replica dies.

pub mod redis;
pub mod seal;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::limit::{LimitSpec, Shed, HEAVY_CONCURRENCY};
use redis::{Admission, AdmitRequest, Admitter, Gcra, Keys, LeaseId, RedisStore};

/// One credential's limits in Redis.
#[derive(Debug)]
pub struct SharedLimits {
    store: RedisStore,
    keys: Keys,
    admitter: Admitter,
    /// How long a slot outlives a replica that died holding it; renewed
    /// every third of it while the request runs.
    lease: Duration,
    /// This replica's waiters queue here (FIFO) once one had to wait.
    queue: tokio::sync::Mutex<()>,
    waiting: AtomicUsize,
    /// Leases held now, with when they were granted: one background task
    /// renews those that outlive a third of `lease` (most requests end long
    /// before, so they cost no renewal at all).
    live: Arc<Live>,
    renewer: OnceLock<JoinHandle<()>>,
}

impl Drop for SharedLimits {
    fn drop(&mut self) {
        if let Some(task) = self.renewer.get() {
            task.abort();
        }
    }
}

impl SharedLimits {
    pub fn new(store: RedisStore, keys: Keys, lease: Duration) -> Self {
        let admitter = store.admitter(&keys);
        SharedLimits {
            live: Arc::new(Live {
                leases: Mutex::default(),
                next: AtomicU64::new(0),
                admitter: admitter.clone(),
            }),
            store,
            keys,
            admitter,
            lease,
            queue: tokio::sync::Mutex::new(()),
            waiting: AtomicUsize::new(0),
            renewer: OnceLock::new(),
        }
    }

    pub fn is_up(&self) -> bool {
        self.store.is_up()
    }

    /// What to ask Redis for one request.
    pub fn request(
        &self,
        credential: &LimitSpec,
        route: Option<(&str, &LimitSpec)>,
        heavy: bool,
    ) -> AdmitRequest {
        let gcra = |s: &LimitSpec| {
            s.requests_per_minute
                .map(|rpm| Gcra::per_minute(rpm.get(), s.burst.map_or(1, |b| b.get())))
        };
        AdmitRequest {
            cost: 1,
            rate: gcra(credential),
            route_rate: route.and_then(|(name, s)| gcra(s).map(|g| (name.to_owned(), g))),
            max_concurrent: credential.max_concurrent.map(|n| n as u32),
            route_concurrent: route
                .and_then(|(name, s)| s.max_concurrent.map(|n| (name.to_owned(), n as u32))),
            heavy: heavy.then_some(HEAVY_CONCURRENCY as u32),
            lease_ttl: self.lease,
        }
    }

    /// Admission within `deadline`: `Ok(None)` when Redis failed (the caller
    /// uses its local share), a shed when no slot came in time.
    pub async fn admit(
        &self,
        request: &AdmitRequest,
        started: Instant,
        deadline: Instant,
    ) -> Result<Option<Lease>, Shed> {
        // Waiters of this replica keep their order: once anyone waits, newcomers queue.
        let mut turn = None;
        if self.waiting.load(Ordering::Relaxed) > 0 {
            turn = Some(self.take_turn(started, deadline).await?);
        }
        loop {
            let wait = match self
                .store
                .admit_with(&self.admitter, &self.keys, request)
                .await
            {
                Err(_) => return Ok(None),
                Ok(Admission::Granted(id)) => return Ok(Some(self.lease(id))),
                Ok(Admission::Wait(wait)) => wait,
            };
            if turn.is_none() {
                turn = Some(self.take_turn(started, deadline).await?);
                continue;
            }
            let wake = Instant::now() + wait;
            if wake > deadline {
                return Err(Shed {
                    what: "the shared limits toward Zoho",
                    waited: started.elapsed(),
                    retry_after: wait,
                });
            }
            tokio::time::sleep_until(wake).await;
        }
    }

    async fn take_turn(&self, started: Instant, deadline: Instant) -> Result<WaitTurn<'_>, Shed> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let guard = tokio::time::timeout_at(deadline, self.queue.lock()).await;
        match guard {
            Ok(guard) => Ok(WaitTurn {
                _guard: guard,
                waiting: &self.waiting,
            }),
            Err(_) => {
                self.waiting.fetch_sub(1, Ordering::Relaxed);
                Err(Shed {
                    what: "the shared limits toward Zoho",
                    waited: started.elapsed(),
                    retry_after: Duration::from_secs(1),
                })
            }
        }
    }

    /// A lease that is renewed while held and released when dropped.
    fn lease(&self, id: LeaseId) -> Lease {
        let slot = self.live.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.live.leases).insert(slot, (id, Instant::now()));
        self.renewer.get_or_init(|| {
            let (store, keys, ttl, live) = (
                self.store.clone(),
                self.keys.clone(),
                self.lease,
                Arc::downgrade(&self.live),
            );
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(ttl / 3).await;
                    let Some(live) = live.upgrade() else { return };
                    let due: Vec<LeaseId> = lock(&live.leases)
                        .values()
                        .filter(|(_, granted)| granted.elapsed() >= ttl / 3)
                        .map(|(id, _)| id.clone())
                        .collect();
                    drop(live);
                    for id in due {
                        let _ = store.renew(&keys, &id, ttl).await;
                    }
                }
            })
        });
        Lease {
            live: self.live.clone(),
            slot,
        }
    }

    /// A 429: every replica of this credential waits `for_`.
    pub fn cool_down(&self, for_: Duration) {
        let (store, keys) = (self.store.clone(), self.keys.clone());
        tokio::spawn(async move {
            let _ = store.cool_down(&keys, for_).await;
        });
    }
}

/// This replica's turn to ask Redis, among its own waiters.
struct WaitTurn<'a> {
    _guard: tokio::sync::MutexGuard<'a, ()>,
    waiting: &'a AtomicUsize,
}

impl Drop for WaitTurn<'_> {
    fn drop(&mut self) {
        self.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The leases of one credential held by this replica now, by slot number.
#[derive(Debug)]
struct Live {
    leases: Mutex<HashMap<u64, (LeaseId, Instant)>>,
    next: AtomicU64,
    admitter: Admitter,
}

/// Slots held in Redis for one request.
#[derive(Debug)]
pub struct Lease {
    live: Arc<Live>,
    slot: u64,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let held = lock(&self.live.leases).remove(&self.slot);
        if let Some((id, _)) = held {
            self.live.admitter.release(id);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
