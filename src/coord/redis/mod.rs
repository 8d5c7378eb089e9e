//! The Redis store shared by every proxy replica: per Zoho credential, one
//! access token, one mint budget and one set of limits.
//!
//! - **Admission** ([`RedisStore::admit`]) is one EVALSHA of `admit.lua`:
//!   cool-down, concurrency pools (expiring leases in ZSETs) and GCRA rates,
//!   checked and written all or nothing, on Redis time.
//! - **Token** ([`RedisStore::publish_token`] …): a generation-numbered record
//!   that only moves forward, an efficiency lock for minting (`SET NX PX`,
//!   compare-and-delete) and a sliding-window mint budget.
//! - **Events** ([`RedisStore::subscribe`]): new token generations and
//!   cool-downs, over one pub/sub connection per process.
//! - **Failure**: every call is bounded by [`RedisSettings::timeout`]; after
//!   [`breaker::THRESHOLD`] consecutive failures the breaker opens, calls fail
//!   at once with [`StoreError::Down`], and a background PING (250 ms doubling
//!   to 5 s) closes it again. [`RedisStore::new`] starts open and probes at once,
//!   so constructing the store never waits for, or fails because of, Redis.
//!
//! Keys carry the credential's hash tag (see [`keys`]) so the layer also
//! works against Redis Cluster slot rules. Nothing here logs or returns the
//! URL (it may hold a password) or a token blob.

mod admit;
pub mod breaker;
mod conn;
pub mod keys;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::{Client, RedisError, Script};
use rustls::pki_types::CertificateDer;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

pub use admit::Admitter;
use breaker::{Backoff, Breaker, THRESHOLD};
use conn::Conn;
pub use keys::Keys;

/// Upper bound of the wait hint when a concurrency pool is full. The earliest
/// lease expiry is usually that of a live, renewed lease, so the hint is
/// short and the caller simply re-admits.
pub const POOL_WAIT_CAP: Duration = Duration::from_millis(50);

/// First and last delay of the probe (and of pub/sub reconnects).
const PROBE_FIRST: Duration = Duration::from_millis(250);
const PROBE_MAX: Duration = Duration::from_secs(5);

/// Largest generation the scripts compare exactly (Lua numbers are doubles).
pub const MAX_GENERATION: u64 = (1 << 53) - 1;

/// Called after every operation that reached (or tried to reach) Redis, with
/// the operation's name, its duration and whether it succeeded. Turn it into
/// a latency histogram; it must be cheap and must not block.
pub type Observer = Arc<dyn Fn(&'static str, Duration, bool) + Send + Sync>;

/// How to reach Redis.
#[derive(Clone)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port/[db]` or `rediss://…` (TLS, always
    /// verified; a `#insecure` fragment is refused). With `cluster`, one or
    /// more seed nodes separated by commas. Secret: never logged, never in
    /// errors or `Debug`.
    pub url: String,
    /// Talk the Redis Cluster protocol (slots, `MOVED`) instead of to one server.
    pub cluster: bool,
    /// Root CAs for `rediss://`. Empty: the bundled WebPKI roots. Non-empty:
    /// these roots *instead* (redis-rs replaces the trust store with the roots
    /// it is given; the use case is a private CA). Refused for `redis://`.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// First part of every hash tag, e.g. `zp`.
    pub key_prefix: String,
    /// Bound on each operation, connection wait included (default 100 ms).
    pub timeout: Duration,
    /// Bound on establishing a connection and on each probe PING (default 1 s).
    /// Never on the request path: callers are bounded by `timeout`.
    pub connect_timeout: Duration,
    /// Optional per-operation latency callback.
    pub observer: Option<Observer>,
}

impl RedisSettings {
    /// Settings with the defaults: prefix `zp`, 100 ms per operation, 1 s to
    /// connect, WebPKI roots, no observer.
    pub fn new(url: impl Into<String>) -> RedisSettings {
        RedisSettings {
            url: url.into(),
            cluster: false,
            extra_roots: Vec::new(),
            key_prefix: "zp".to_owned(),
            timeout: Duration::from_millis(100),
            connect_timeout: Duration::from_secs(1),
            observer: None,
        }
    }
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &"<redacted>")
            .field("cluster", &self.cluster)
            .field("extra_roots", &self.extra_roots.len())
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

/// What can go wrong. No variant carries the URL or a token blob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The breaker is open: Redis was not touched.
    #[error("Redis is unavailable (circuit breaker open)")]
    Down,
    /// Redis did not answer within the per-operation timeout.
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Redis (or the connection to it) answered with an error.
    #[error("Redis error ({kind}): {detail}")]
    Redis {
        /// The client's error category.
        kind: String,
        /// The message, with any credential from the URL redacted.
        detail: String,
    },
    /// The settings are unusable (the reason, never the URL).
    #[error("invalid Redis settings: {0}")]
    Config(String),
    /// Redis answered something the store did not expect.
    #[error("unexpected reply from Redis: {0}")]
    Protocol(String),
    /// The arguments cannot be represented (e.g. a generation above
    /// [`MAX_GENERATION`]).
    #[error("invalid argument: {0}")]
    Invalid(String),
}

/// A GCRA rate: at most `limit` admissions in any window `[t, t + period)`,
/// of which up to `burst` may come back to back.
///
/// The emission interval is `ceil(period / (limit − burst + 1))`, so the
/// sustained rate is `(limit − burst + 1) / period`: with the `burst`
/// admissions at the start of a window, the window still holds at most
/// `limit`. `burst` is clamped to `1..=limit`; `limit == 0` admits nothing.
/// A call whose cost exceeds `burst` is never admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// Admissions allowed in any window of `period`.
    pub limit: u32,
    /// Admissions allowed back to back.
    pub burst: u32,
    /// The window.
    pub period: Duration,
}

impl Gcra {
    /// `limit` per minute, `burst` of them at once.
    pub fn per_minute(limit: u32, burst: u32) -> Gcra {
        Gcra {
            limit,
            burst,
            period: Duration::from_secs(60),
        }
    }

    /// (emission interval ms, tolerance ms) as `admit.lua` takes them.
    fn params(&self) -> (u64, u64) {
        let period = (self.period.as_millis() as u64).max(1);
        if self.limit == 0 {
            return (period, 0);
        }
        let burst = u64::from(self.burst.clamp(1, self.limit));
        let steps = u64::from(self.limit) - burst + 1;
        let emission = period.div_ceil(steps).max(1);
        (emission, emission * burst)
    }
}

/// One admission request: every pool and rate that applies to a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmitRequest {
    /// GCRA cost of the call (1 for now).
    pub cost: u32,
    /// The credential's rate.
    pub rate: Option<Gcra>,
    /// A route's own rate: (route name, rate).
    pub route_rate: Option<(String, Gcra)>,
    /// The credential's concurrency pool.
    pub max_concurrent: Option<u32>,
    /// A route's own concurrency pool: (route name, limit).
    pub route_concurrent: Option<(String, u32)>,
    /// Zoho's heavy sub-pool limit, when the call is heavy.
    pub heavy: Option<u32>,
    /// How long a lease holds its slots unless renewed (e.g. 15 s).
    pub lease_ttl: Duration,
}

/// One mint charged to the shared budget (its member in the window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintCharge(String);

/// The answer to [`RedisStore::admit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Admitted: the lease holds a slot in every pool of the request.
    Granted(LeaseId),
    /// Not admitted and nothing was taken; ask again after this long. A
    /// cool-down answers its remaining time, a rate the time until its next
    /// slot, a full pool at most [`POOL_WAIT_CAP`].
    Wait(Duration),
}

/// A granted lease: its random id and the pool keys it holds a slot in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseId {
    id: String,
    pools: Vec<String>,
}

impl LeaseId {
    /// The random member stored in each pool ZSET.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The pool keys the lease holds a slot in.
    pub fn pools(&self) -> &[String] {
        &self.pools
    }
}

/// The shared token record. `blob` is opaque (the integrator encrypts it)
/// and never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// Monotonic generation, `1..=MAX_GENERATION`.
    pub generation: u64,
    /// Ciphertext of the token.
    pub blob: Vec<u8>,
    /// When the token expires, ms since the Unix epoch (Redis time); the
    /// record expires with it.
    pub expires_at_ms: u64,
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("generation", &self.generation)
            .field(
                "blob",
                &format_args!("<{} bytes redacted>", self.blob.len()),
            )
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

/// The mint lease, held until released or until its ttl passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintLease {
    owner: String,
}

impl MintLease {
    /// The random owner stored as the lease's value.
    pub fn owner(&self) -> &str {
        &self.owner
    }
}

/// An event on a credential's channel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A token of this generation was published.
    Token {
        /// The new generation.
        generation: u64,
    },
    /// The token of this generation was invalidated (a 401 was seen with it).
    TokenInvalidated {
        /// The generation that was dropped.
        generation: u64,
    },
    /// The credential is cooling down until this Redis time (ms).
    CoolDown {
        /// End of the pause, ms since the Unix epoch.
        until_ms: u64,
    },
    /// The pub/sub connection was (re)established: events may have been
    /// missed, re-read the state (token, cool-down) from Redis.
    Resync,
}

/// Counters for metrics (monotonic since the store was built).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Operations sent to Redis.
    pub ops: u64,
    /// Of those, the ones that failed (errors and timeouts).
    pub failures: u64,
    /// Of the failures, the timeouts.
    pub timeouts: u64,
    /// Times the breaker opened (the initial, constructed-open state excluded).
    pub breaker_opens: u64,
    /// Calls refused at once because the breaker was open.
    pub rejected: u64,
    /// Events received on the pub/sub connection.
    pub events: u64,
    /// Expired leases that admissions reclaimed: slots whose holder died
    /// (or stalled past its lease) without releasing them.
    pub leases_expired: u64,
}

#[derive(Default)]
struct Counters {
    ops: AtomicU64,
    failures: AtomicU64,
    timeouts: AtomicU64,
    breaker_opens: AtomicU64,
    rejected: AtomicU64,
    events: AtomicU64,
    leases_expired: AtomicU64,
}

struct Scripts {
    admit: Script,
    renew: Script,
    cool_down: Script,
    publish_token: Script,
    invalidate_token: Script,
    release_mint_lease: Script,
    charge_mint: Script,
    credits_sync: Script,
}

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            admit: Script::new(admit::SCRIPT),
            renew: Script::new(include_str!("scripts/renew.lua")),
            cool_down: Script::new(include_str!("scripts/cool_down.lua")),
            publish_token: Script::new(include_str!("scripts/publish_token.lua")),
            invalidate_token: Script::new(include_str!("scripts/invalidate_token.lua")),
            release_mint_lease: Script::new(include_str!("scripts/release_mint_lease.lua")),
            charge_mint: Script::new(include_str!("scripts/charge_mint.lua")),
            credits_sync: Script::new(include_str!("scripts/credits_sync.lua")),
        }
    }
}

struct Inner {
    conn: Conn,
    timeout: Duration,
    connect_timeout: Duration,
    prefix: String,
    breaker: Breaker,
    counters: Counters,
    scripts: Scripts,
    secrets: Vec<String>,
    observer: Option<Observer>,
    channels: Mutex<HashMap<String, broadcast::Sender<Event>>>,
    /// The pub/sub connection is subscribed.
    listening: AtomicBool,
    /// Never sent on: dropped with the store, which ends the background tasks.
    shutdown: watch::Sender<()>,
    /// Bumped each time the probe closes the breaker.
    recovered: watch::Sender<u64>,
    /// The admission queue of each credential (by hash tag).
    admitters: Mutex<HashMap<String, Admitter>>,
}

/// The handle to the shared Redis store: cheap to clone, one per process.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Builds the store without touching Redis: the breaker starts open and a
    /// background probe closes it as soon as a PING succeeds; the pub/sub task
    /// starts too. Fails only for unusable settings (a URL that does not
    /// parse, `#insecure`, bad roots) or when called outside a Tokio runtime.
    pub fn new(settings: RedisSettings) -> Result<RedisStore, StoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::Config(
                "the store must be built inside a Tokio runtime".to_owned(),
            ));
        }
        let conn::Connected { conn, pubsub } = conn::connect(&settings)?;
        let (shutdown, _) = watch::channel(());
        let (recovered, _) = watch::channel(0u64);
        let inner = Arc::new(Inner {
            conn,
            timeout: settings.timeout,
            connect_timeout: settings.connect_timeout,
            prefix: settings.key_prefix.clone(),
            breaker: Breaker::new(THRESHOLD, true),
            counters: Counters::default(),
            scripts: Scripts::new(),
            secrets: conn::seeds(&settings)
                .into_iter()
                .flat_map(secrets_of)
                .chain(secrets_of(&settings.url))
                .collect(),
            observer: settings.observer.clone(),
            channels: Mutex::new(HashMap::new()),
            listening: AtomicBool::new(false),
            shutdown,
            recovered,
            admitters: Mutex::new(HashMap::new()),
        });
        spawn_probe(&inner);
        tokio::spawn(pubsub_loop(
            Arc::downgrade(&inner),
            pubsub,
            keys::events_pattern(&settings.key_prefix),
            settings.connect_timeout,
            inner.shutdown.subscribe(),
            inner.recovered.subscribe(),
        ));
        Ok(RedisStore { inner })
    }

    /// Whether the breaker is closed (calls go to Redis).
    pub fn is_up(&self) -> bool {
        self.inner.breaker.is_closed()
    }

    /// Whether the pub/sub connection is currently subscribed: events
    /// published from now on reach [`RedisStore::subscribe`] receivers.
    pub fn is_listening(&self) -> bool {
        self.inner.listening.load(Ordering::Acquire)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> StoreStats {
        let c = &self.inner.counters;
        StoreStats {
            ops: c.ops.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
            breaker_opens: c.breaker_opens.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            events: c.events.load(Ordering::Relaxed),
            leases_expired: c.leases_expired.load(Ordering::Relaxed),
        }
    }

    /// Waits until the breaker is closed, at most `within`; whether it is.
    /// A new store starts with it open and closes it once a PING succeeds.
    pub async fn wait_up(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while !self.is_up() {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// The per-operation timeout.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The key names of `credential` (all under one hash tag).
    pub fn keys(&self, credential: &str) -> Keys {
        Keys::new(&self.inner.prefix, credential)
    }

    /// The admission queue of `keys`'s credential: [`RedisStore::admit`]
    /// and [`RedisStore::release`] without looking it up each time.
    pub fn admitter(&self, keys: &Keys) -> Admitter {
        lock(&self.inner.admitters)
            .entry(keys.tag().to_owned())
            .or_insert_with(|| Admitter::start(&self.inner, keys.clone()))
            .clone()
    }

    /// Admits a call or says how long to wait: a cool-down answers Wait;
    /// then each pool is cleared of expired leases and must have a free
    /// slot; then each GCRA rate must allow `cost`. Only if all pass are the
    /// rates advanced and the lease added to every pool. One EVALSHA, shared
    /// with the credential's other admissions and releases queued meanwhile
    /// (see [`Admitter`]).
    pub async fn admit(&self, keys: &Keys, req: &AdmitRequest) -> Result<Admission, StoreError> {
        self.admit_with(&self.admitter(keys), keys, req).await
    }

    /// [`RedisStore::admit`] through a queue already at hand.
    pub async fn admit_with(
        &self,
        admitter: &Admitter,
        keys: &Keys,
        req: &AdmitRequest,
    ) -> Result<Admission, StoreError> {
        let id = random_id()?;
        admitter.admit(keys, req, id).await
    }

    /// Frees the lease's slots in the background (fire and forget): it goes
    /// out with the credential's next batch, bounded by the timeout. If Redis
    /// is down the lease simply expires.
    pub fn release(&self, keys: &Keys, lease: &LeaseId) {
        self.admitter(keys).release(lease.clone());
    }

    /// Extends the lease to `ttl` from now in every pool. `Ok(false)` when it
    /// had already expired in at least one pool (its slot may be someone
    /// else's now); the pools where it was live are renewed anyway.
    pub async fn renew(
        &self,
        keys: &Keys,
        lease: &LeaseId,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let _ = keys;
        if lease.pools.is_empty() {
            return Ok(true);
        }
        let mut inv = self.inner.scripts.renew.prepare_invoke();
        for k in &lease.pools {
            inv.key(k);
        }
        inv.arg(&lease.id).arg(millis(ttl).max(1));
        let n: i64 = self
            .inner
            .run(
                "renew",
                |mut c| async move { inv.invoke_async(&mut c).await },
            )
            .await?;
        Ok(n == 1)
    }

    /// Pauses the credential for `for_` on every replica (a cool-down already
    /// running longer is kept) and publishes the end time.
    pub async fn cool_down(&self, keys: &Keys, for_: Duration) -> Result<(), StoreError> {
        let mut inv = self.inner.scripts.cool_down.prepare_invoke();
        inv.key(keys.cool())
            .arg(millis(for_).max(1))
            .arg(keys.events());
        let _: i64 = self
            .inner
            .run("cool_down", |mut c| async move {
                inv.invoke_async(&mut c).await
            })
            .await?;
        Ok(())
    }

    /// The shared token, if one is stored (and not expired).
    pub async fn read_token(&self, keys: &Keys) -> Result<Option<StoredToken>, StoreError> {
        let key = keys.token().to_owned();
        let (generation, blob, exp): (Option<u64>, Option<Vec<u8>>, Option<u64>) = self
            .inner
            .run("read_token", |mut c| async move {
                redis::cmd("HMGET")
                    .arg(key)
                    .arg("gen")
                    .arg("blob")
                    .arg("exp")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        match (generation, blob, exp) {
            (Some(generation), Some(blob), Some(expires_at_ms)) => Ok(Some(StoredToken {
                generation,
                blob,
                expires_at_ms,
            })),
            (None, None, None) => Ok(None),
            _ => Err(StoreError::Protocol(
                "token record is incomplete".to_owned(),
            )),
        }
    }

    /// Stores `token` only if its generation is higher than every generation
    /// written before (even expired ones) and it has not expired; the record
    /// expires at `expires_at_ms`, and the generation (never the blob) is
    /// published. Returns whether it was written.
    pub async fn publish_token(
        &self,
        keys: &Keys,
        token: &StoredToken,
    ) -> Result<bool, StoreError> {
        check_generation(token.generation)?;
        let mut inv = self.inner.scripts.publish_token.prepare_invoke();
        inv.key(keys.token())
            .key(keys.generation())
            .arg(token.generation)
            .arg(token.blob.as_slice())
            .arg(token.expires_at_ms)
            .arg(keys.events());
        let n: i64 = self
            .inner
            .run("publish_token", |mut c| async move {
                inv.invoke_async(&mut c).await
            })
            .await?;
        Ok(n == 1)
    }

    /// Deletes the token only if it is still `generation` (compare and
    /// delete, after a 401 seen with it); publishes the invalidation.
    pub async fn invalidate_token(&self, keys: &Keys, generation: u64) -> Result<bool, StoreError> {
        check_generation(generation)?;
        let mut inv = self.inner.scripts.invalidate_token.prepare_invoke();
        inv.key(keys.token()).arg(generation).arg(keys.events());
        let n: i64 = self
            .inner
            .run("invalidate_token", |mut c| async move {
                inv.invoke_async(&mut c).await
            })
            .await?;
        Ok(n == 1)
    }

    /// Takes the mint lease (`SET NX PX` with a random owner) if nobody holds
    /// it. An efficiency lock: after taking it, re-read the token.
    pub async fn try_mint_lease(
        &self,
        keys: &Keys,
        ttl: Duration,
    ) -> Result<Option<MintLease>, StoreError> {
        let owner = random_id()?;
        let key = keys.mint_lease().to_owned();
        let value = owner.clone();
        let ok: Option<String> = self
            .inner
            .run("try_mint_lease", |mut c| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(ttl).max(1))
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(ok.map(|_| MintLease { owner }))
    }

    /// Gives the mint lease back, only if `lease` still owns it (it may have
    /// expired and been taken by another replica).
    pub async fn release_mint_lease(
        &self,
        keys: &Keys,
        lease: MintLease,
    ) -> Result<(), StoreError> {
        let mut inv = self.inner.scripts.release_mint_lease.prepare_invoke();
        inv.key(keys.mint_lease()).arg(lease.owner);
        let _: i64 = self
            .inner
            .run("release_mint_lease", |mut c| async move {
                inv.invoke_async(&mut c).await
            })
            .await?;
        Ok(())
    }

    /// Charges one mint to the shared budget of `limit` mints in any sliding
    /// `window` (Redis time). `Ok(Err(wait))` when spent: the oldest mint
    /// leaves the window after `wait`; nothing was charged. The charge can be
    /// given back ([`RedisStore::refund_mint`]) when the attempt never
    /// reached Zoho.
    pub async fn charge_mint(
        &self,
        keys: &Keys,
        limit: u32,
        window: Duration,
    ) -> Result<Result<MintCharge, Duration>, StoreError> {
        let member = random_id()?;
        let mut inv = self.inner.scripts.charge_mint.prepare_invoke();
        inv.key(keys.mints())
            .arg(limit)
            .arg(millis(window).max(1))
            .arg(&member);
        let reply: Vec<i64> = self
            .inner
            .run("charge_mint", |mut c| async move {
                inv.invoke_async(&mut c).await
            })
            .await?;
        match reply.as_slice() {
            [1, _] => Ok(Ok(MintCharge(member))),
            [0, wait] if *wait > 0 => Ok(Err(Duration::from_millis(*wait as u64))),
            other => Err(StoreError::Protocol(format!(
                "charge_mint answered {other:?}"
            ))),
        }
    }

    /// Gives a charge back: the mint it paid for never reached Zoho (the
    /// accounts server refused the connection), so it minted nothing.
    pub async fn refund_mint(&self, keys: &Keys, charge: MintCharge) -> Result<(), StoreError> {
        let key = keys.mints().to_owned();
        let _: i64 = self
            .inner
            .run("refund_mint", |mut c| async move {
                redis::cmd("ZREM")
                    .arg(key)
                    .arg(charge.0)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(())
    }

    /// Adds this replica's credit `deltas` (minute, field, credits) to the
    /// shared per-minute counts and returns the counts of the `fetch`
    /// minutes, all in one round trip. Fields: `t` (the credential's total)
    /// and `r:<route>`.
    pub async fn sync_credits(
        &self,
        keys: &Keys,
        deltas: &[(u64, String, i64)],
        fetch: &[u64],
    ) -> Result<Vec<(u64, Vec<(String, i64)>)>, StoreError> {
        let mut minutes: Vec<u64> = deltas.iter().map(|(m, _, _)| *m).collect();
        minutes.extend_from_slice(fetch);
        minutes.sort_unstable();
        minutes.dedup();
        let index = |m: u64| minutes.binary_search(&m).map_or(0, |i| i + 1);
        let mut inv = self.inner.scripts.credits_sync.prepare_invoke();
        for m in &minutes {
            inv.key(keys.credits_minute(*m));
        }
        // A day after the minute, plus a minute of slack.
        inv.arg(millis(Duration::from_secs(24 * 3600 + 60)))
            .arg(deltas.len());
        for (m, field, n) in deltas {
            inv.arg(index(*m)).arg(field).arg(*n);
        }
        for m in fetch {
            inv.arg(index(*m));
        }
        let reply: Vec<Vec<String>> = self
            .inner
            .run("credits_sync", |mut c| async move {
                inv.invoke_async(&mut c).await
            })
            .await?;
        if reply.len() != fetch.len() {
            return Err(StoreError::Protocol(format!(
                "credits_sync answered {} hashes for {} minutes",
                reply.len(),
                fetch.len()
            )));
        }
        Ok(fetch
            .iter()
            .zip(reply)
            .map(|(m, flat)| {
                let fields = flat
                    .chunks(2)
                    .filter_map(|kv| match kv {
                        [k, v] => v.parse().ok().map(|v| (k.clone(), v)),
                        _ => None,
                    })
                    .collect();
                (*m, fields)
            })
            .collect())
    }

    /// Redis server time, ms since the Unix epoch.
    pub async fn now_ms(&self) -> Result<u64, StoreError> {
        let (secs, micros): (u64, u64) = self
            .inner
            .run("now_ms", |mut c| async move {
                redis::cmd("TIME").query_async(&mut c).await
            })
            .await?;
        Ok(secs * 1000 + micros / 1000)
    }

    /// The server's `redis_version` (from `INFO server`), for `check --online`.
    pub async fn server_version(&self) -> Result<String, StoreError> {
        // One server answers its text; a cluster answers one text per node.
        let info: redis::Value = self
            .inner
            .run("info", |mut c| async move {
                redis::cmd("INFO").arg("server").query_async(&mut c).await
            })
            .await?;
        let texts: Vec<String> = match info {
            redis::Value::Map(nodes) => nodes
                .into_iter()
                .filter_map(|(_, v)| redis::from_redis_value(v).ok())
                .collect(),
            v => vec![redis::from_redis_value(v)
                .map_err(|e| StoreError::Protocol(format!("INFO server: {e}")))?],
        };
        let mut versions: Vec<String> = texts
            .iter()
            .filter_map(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("redis_version:"))
                    .map(|v| v.trim().to_owned())
            })
            .collect();
        versions.sort();
        versions.dedup();
        match (versions.len(), texts.len()) {
            (0, _) => Err(StoreError::Protocol(
                "INFO server has no redis_version".into(),
            )),
            (_, 1) => Ok(versions.join(", ")),
            (_, nodes) => Ok(format!("{} ({nodes} nodes)", versions.join(", "))),
        }
    }

    /// Events of one credential. All credentials share one pub/sub connection
    /// per process (a pattern subscription), which reconnects and
    /// resubscribes by itself and then sends [`Event::Resync`] to every
    /// existing receiver (a new receiver should read the state once itself;
    /// [`RedisStore::is_listening`] tells whether the connection is up). A receiver
    /// that lags loses the oldest events (see `broadcast`).
    pub fn subscribe(&self, keys: &Keys) -> broadcast::Receiver<Event> {
        let mut channels = lock(&self.inner.channels);
        channels
            .entry(keys.events().to_owned())
            .or_insert_with(|| broadcast::channel(64).0)
            .subscribe()
    }
}

impl Inner {
    /// Runs one operation under the breaker and the timeout.
    async fn run<T, F, Fut>(self: &Arc<Self>, op: &'static str, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        self.run_until(op, Instant::now() + self.timeout, f).await
    }

    /// Runs one operation under the breaker, until `deadline` at the latest.
    async fn run_until<T, F, Fut>(
        self: &Arc<Self>,
        op: &'static str,
        deadline: Instant,
        f: F,
    ) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        if !self.breaker.is_closed() {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::Down);
        }
        self.counters.ops.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        let result = tokio::time::timeout_at(deadline, f(self.conn.clone())).await;
        let result = match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.redis_error(&e)),
            Err(_) => {
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::Timeout(self.timeout))
            }
        };
        if let Some(observer) = &self.observer {
            observer(op, start.elapsed(), result.is_ok());
        }
        match &result {
            Ok(_) => self.breaker.on_success(),
            Err(e) => {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                if self.breaker.on_failure() {
                    self.counters.breaker_opens.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(op, error = %e, "Redis failing: circuit breaker open");
                    spawn_probe(self);
                }
            }
        }
        result
    }

    fn redis_error(&self, e: &RedisError) -> StoreError {
        let mut detail = e.to_string();
        for s in &self.secrets {
            detail = detail.replace(s.as_str(), "<redacted>");
        }
        StoreError::Redis {
            kind: format!("{:?}", e.kind()),
            detail,
        }
    }

    /// One PING bounded by the connect timeout; a failed connection makes the
    /// manager reconnect in the background, so a second PING right after a
    /// failure uses that fresh attempt.
    async fn probe_ping(&self) -> bool {
        for _ in 0..2 {
            let mut c = self.conn.clone();
            let cmd = redis::cmd("PING");
            let ping = cmd.query_async::<String>(&mut c);
            if let Ok(Ok(_)) = tokio::time::timeout(self.connect_timeout, ping).await {
                return true;
            }
        }
        false
    }

    fn broadcast_all(&self, event: Event) {
        let mut channels = lock(&self.channels);
        channels.retain(|_, tx| tx.send(event.clone()).is_ok());
    }

    fn route(&self, channel: &str, payload: &str) {
        let event = match payload.split_once(':') {
            Some(("tok", g)) => g.parse().ok().map(|generation| Event::Token { generation }),
            Some(("inv", g)) => g
                .parse()
                .ok()
                .map(|generation| Event::TokenInvalidated { generation }),
            Some(("cool", t)) => t.parse().ok().map(|until_ms| Event::CoolDown { until_ms }),
            _ => None,
        };
        let Some(event) = event else {
            tracing::debug!(channel, "ignoring an unknown event");
            return;
        };
        self.counters.events.fetch_add(1, Ordering::Relaxed);
        let mut channels = lock(&self.channels);
        if let Some(tx) = channels.get(channel) {
            if tx.send(event).is_err() {
                channels.remove(channel);
            }
        }
    }
}

/// Starts the probe: PING with backoff until Redis answers, then close.
fn spawn_probe(inner: &Arc<Inner>) {
    let weak = Arc::downgrade(inner);
    let mut shutdown = inner.shutdown.subscribe();
    tokio::spawn(async move {
        let mut backoff = Backoff::new(PROBE_FIRST, PROBE_MAX);
        loop {
            let Some(inner) = weak.upgrade() else { return };
            if inner.probe_ping().await {
                inner.breaker.close();
                inner.recovered.send_modify(|n| *n += 1);
                tracing::info!(prefix = %inner.prefix, "Redis reachable: circuit breaker closed");
                return;
            }
            drop(inner);
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_delay()) => {}
                _ = shutdown.changed() => return,
            }
        }
    });
}

/// The process's one pub/sub connection: PSUBSCRIBE to every credential's
/// channel, route messages, reconnect with backoff, resubscribe (and send
/// [`Event::Resync`]) after every reconnect and whenever the breaker closes
/// again (the old connection may be silently dead).
async fn pubsub_loop(
    weak: Weak<Inner>,
    clients: Vec<Client>,
    pattern: String,
    connect_timeout: Duration,
    mut shutdown: watch::Receiver<()>,
    mut recovered: watch::Receiver<u64>,
) {
    let mut backoff = Backoff::new(PROBE_FIRST, PROBE_MAX);
    // Cluster seeds are tried in turn: any node hears every PUBLISH.
    let mut next = 0usize;
    loop {
        let client = &clients[next % clients.len()];
        next = next.wrapping_add(1);
        let connect = async {
            let mut ps = client.get_async_pubsub().await?;
            ps.psubscribe(&pattern).await?;
            Ok::<_, RedisError>(ps)
        };
        let attempt = tokio::select! {
            r = tokio::time::timeout(connect_timeout, connect) => r,
            _ = shutdown.changed() => return,
        };
        if let Ok(Ok(ps)) = attempt {
            backoff.reset();
            recovered.borrow_and_update();
            match weak.upgrade() {
                Some(inner) => {
                    inner.listening.store(true, Ordering::Release);
                    inner.broadcast_all(Event::Resync);
                }
                None => return,
            }
            let mut stream = ps.into_on_message();
            loop {
                tokio::select! {
                    msg = stream.next() => {
                        let Some(msg) = msg else { break };
                        let Some(inner) = weak.upgrade() else { return };
                        if let Ok(payload) = msg.get_payload::<String>() {
                            inner.route(msg.get_channel_name(), &payload);
                        }
                    }
                    r = recovered.changed() => {
                        if r.is_err() {
                            return;
                        }
                        break;
                    }
                    _ = shutdown.changed() => return,
                }
            }
            if let Some(inner) = weak.upgrade() {
                inner.listening.store(false, Ordering::Release);
            }
            tracing::debug!("Redis pub/sub connection closed; resubscribing");
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The parts of the URL that must never be shown: the URL itself and its
/// user-info (and password) if any.
fn secrets_of(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            if !userinfo.is_empty() {
                out.push(userinfo.to_owned());
            }
            if let Some((_, password)) = userinfo.split_once(':') {
                if !password.is_empty() {
                    out.push(password.to_owned());
                }
            }
        }
    }
    out.retain(|s| s.len() >= 3);
    out
}

fn check_generation(generation: u64) -> Result<(), StoreError> {
    if generation == 0 || generation > MAX_GENERATION {
        return Err(StoreError::Invalid(format!(
            "generation must be in 1..={MAX_GENERATION}"
        )));
    }
    Ok(())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A unique id, 32 hex digits: 64 random bits drawn once per process (so
/// replicas never collide) and a counter (so a request costs no system call).
/// Ids only need to be unique, not secret: whoever reads Redis sees them.
fn random_id() -> Result<String, StoreError> {
    use ring::rand::{SecureRandom, SystemRandom};
    static PREFIX: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX
        .get_or_init(|| {
            let mut bytes = [0u8; 8];
            SystemRandom::new()
                .fill(&mut bytes)
                .ok()
                .map(|()| u64::from_le_bytes(bytes))
        })
        .ok_or_else(|| StoreError::Invalid("the system random generator failed".to_owned()))?;
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Ok(format!("{prefix:016x}{n:016x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_params_keep_n_per_window() {
        // 4 per 2 s, 2 at once: emission ceil(2000/3) = 667 ms; a window
        // [t, t+2000) holds the burst of 2 plus slots at 667 and 1334 ms.
        let g = Gcra {
            limit: 4,
            burst: 2,
            period: Duration::from_secs(2),
        };
        assert_eq!(g.params(), (667, 1334));
        // No burst: N evenly spaced.
        assert_eq!(Gcra::per_minute(60, 1).params(), (1000, 1000));
        // Burst clamped into 1..=limit.
        assert_eq!(Gcra::per_minute(10, 0).params(), (6000, 6000));
        assert_eq!(Gcra::per_minute(10, 99).params(), (60000, 600000));
        // Nothing allowed.
        assert_eq!(Gcra::per_minute(0, 5).params(), (60000, 0));
        // In any window [t, t+P): burst + ceil(P/T) - 1 <= limit.
        for limit in 1..50u32 {
            for burst in 1..=limit {
                let g = Gcra {
                    limit,
                    burst,
                    period: Duration::from_millis(60_000),
                };
                let (t, tol) = g.params();
                assert_eq!(tol, t * u64::from(burst));
                let in_window = u64::from(burst) + 60_000u64.div_ceil(t) - 1;
                assert!(
                    in_window <= u64::from(limit),
                    "{limit}/{burst}: {in_window}"
                );
            }
        }
    }

    #[test]
    fn secrets_cover_url_and_password() {
        let s = secrets_of("rediss://user:s3cret-pw@redis.example:6380/0");
        assert!(s.contains(&"s3cret-pw".to_owned()));
        assert!(s.contains(&"user:s3cret-pw".to_owned()));
        assert!(s.contains(&"rediss://user:s3cret-pw@redis.example:6380/0".to_owned()));
        assert_eq!(secrets_of("redis://127.0.0.1:6379/").len(), 1);
    }

    #[test]
    fn settings_debug_hides_the_url() {
        let s = RedisSettings::new("redis://:hunter22@127.0.0.1:6379/");
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter22"), "{shown}");
        assert!(!shown.contains("127.0.0.1"), "{shown}");
    }

    #[test]
    fn token_debug_hides_the_blob() {
        let t = StoredToken {
            generation: 7,
            blob: b"very-secret-ciphertext".to_vec(),
            expires_at_ms: 1,
        };
        let shown = format!("{t:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("22 bytes"), "{shown}");
    }

    #[tokio::test]
    async fn bad_settings_fail_without_showing_the_url() {
        for url in [
            "not a url :secretpw@",
            "rediss://:secretpw@127.0.0.1:6379/#insecure",
            "http://:secretpw@127.0.0.1/",
        ] {
            let err = RedisStore::new(RedisSettings::new(url)).expect_err(url);
            assert!(matches!(err, StoreError::Config(_)), "{url}: {err:?}");
            assert!(!err.to_string().contains("secretpw"), "{err}");
        }
        let ca = crate::tls::TestCa::generate().expect("test CA");
        let mut s = RedisSettings::new("redis://:secretpw@127.0.0.1:6379/");
        s.extra_roots = vec![ca.ca_cert.clone()];
        let err = RedisStore::new(s).expect_err("roots without TLS");
        assert!(matches!(err, StoreError::Config(_)), "{err:?}");
        let mut s = RedisSettings::new("rediss://:secretpw@127.0.0.1:6379/");
        s.extra_roots = vec![ca.ca_cert];
        assert!(RedisStore::new(s).is_ok());
    }

    #[test]
    fn new_outside_a_runtime_is_an_error_not_a_panic() {
        let err = RedisStore::new(RedisSettings::new("redis://127.0.0.1:1/")).expect_err("no rt");
        assert!(matches!(err, StoreError::Config(_)));
    }
}
