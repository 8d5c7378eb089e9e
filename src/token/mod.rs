//! The token manager: one cached access token per credential, kept fresh by a
//! background loop, read on the hot path without locks.
//!
//! Zoho's limits shape everything here (see `shared/zoho-reference.md`):
//! - at most 10 access tokens per refresh token per rolling 10 minutes, after
//!   which token creation is blocked for the rest of the window: so there is
//!   exactly one refresh in flight at a time (a lock that only refreshers
//!   take), a budget that is never exceeded and is charged only for attempts
//!   that reached the accounts server, and a schedule that fits the token's
//!   lifetime into that budget ([`schedule`]);
//! - errors come back as HTTP 200 with an `error` field ([`accounts`]);
//! - a 401 from the API may mean the token was evicted: a 401-triggered
//!   refresh happens only if the rejected token is still the current one, is
//!   old enough that it is not simply refused by that endpoint, and the
//!   small allowance for such refreshes is not spent. The valid token is kept
//!   meanwhile. Which answers mean "dead token" is per product ([`rejection`]).
//!
//! A caller waits for a token at most until its own deadline; the mint it
//! started goes on without it (in its own task), so a mint is never wasted.
//! Time is `tokio::time`, so the schedule is tested on a paused clock.

pub mod accounts;
pub mod cache;
pub mod rejection;
pub mod schedule;
pub mod shared;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::time::Instant;

use crate::config::Secret;
use crate::metrics::{Metrics, RefreshResult};
use crate::scope::ScopeSet;
pub use accounts::{AccountsClient, TokenEndpoint, TokenSource};
use schedule::Window;
pub use schedule::{TokenSettings, TOKEN_WINDOW};

const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Accounts unreachable (nothing was minted): retry soon, but not in a loop.
const UNREACHABLE_MIN_BACKOFF: Duration = Duration::from_millis(500);
const UNREACHABLE_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The longest an access token is believed to live, whatever the accounts
/// server says (Zoho's live an hour): a longer `expires_in` is taken as this.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// What the accounts server granted.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: Secret,
    pub expires_in: Duration,
    pub api_domain: Option<String>,
    pub scope: Option<String>,
}

/// A live access token. `Debug` never shows the token itself.
pub struct AccessToken {
    secret: Secret,
    /// Increases with every token minted; identifies "the current token".
    pub generation: u64,
    pub obtained_at: Instant,
    pub expires_at: Instant,
    /// Handed out until then (expiry less a safety margin).
    pub usable_until: Instant,
    /// When the background loop replaces it.
    pub refresh_at: Instant,
    pub api_domain: Option<String>,
    /// The `scope` field of the token answer, as Zoho wrote it.
    pub scope: Option<String>,
    /// The same, parsed; `None` when Zoho did not say.
    pub granted: Option<ScopeSet>,
}

impl AccessToken {
    /// The token, for the one place that writes the `Authorization` header.
    pub fn expose(&self) -> &str {
        self.secret.expose()
    }

    fn usable_at(&self, now: Instant) -> bool {
        now < self.usable_until
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("generation", &self.generation)
            .field(
                "expires_in",
                &self.expires_at.saturating_duration_since(Instant::now()),
            )
            .field("api_domain", &self.api_domain)
            .finish_non_exhaustive()
    }
}

/// Why no token could be had. Never contains a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("Zoho accounts refused the refresh token: {code}{}", describe(.description))]
    Rejected {
        code: String,
        description: Option<String>,
    },
    #[error("Zoho accounts is throttling token creation (at most 10 per 10 minutes){}", describe(.description))]
    Throttled { description: Option<String> },
    #[error("Zoho accounts answered HTTP {status} without a token")]
    BadStatus { status: u16 },
    #[error("Zoho accounts sent an unusable answer: {0}")]
    Malformed(String),
    /// The request may have reached Zoho (a reset mid-exchange, a body cut short).
    #[error("cannot reach Zoho accounts: {0}")]
    Transport(String),
    /// Never reached Zoho (DNS, connect or TLS failed): nothing was minted.
    #[error("cannot connect to Zoho accounts: {0}")]
    Unreachable(String),
    #[error("Zoho accounts did not answer within {}s", .after.as_secs_f32())]
    TimedOut { after: Duration },
    /// A 401 came with a token minted moments ago: that endpoint refuses
    /// fresh tokens too, so another mint would not help.
    #[error("Zoho rejected an access token minted {}s ago; not minting another for this answer", .age.as_secs())]
    FreshTokenRejected { age: Duration },
    #[error("the allowance of {limit} token refreshes caused by 401 answers per 10 minutes is spent; next in {}s", .retry_in.as_secs().max(1))]
    RejectionsSpent { limit: u32, retry_in: Duration },
    #[error("the local budget of {limit} token requests per 10 minutes is spent; next slot in {}s", .retry_in.as_secs())]
    BudgetExhausted { limit: u32, retry_in: Duration },
    #[error("no valid token: the last refresh failed ({last}); next attempt in {}s", .retry_in.as_secs().max(1))]
    BackingOff {
        last: Box<TokenError>,
        retry_in: Duration,
    },
}

/// Zoho's `error_description`, when it sent one, as ` (…)` after the code:
/// how every token-endpoint error (here and in `onboard`) shows it.
pub(crate) fn describe(d: &Option<String>) -> String {
    d.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
}

impl TokenError {
    /// True when Zoho's token-minting limit (or our local budget for it) is
    /// why there is no token: nothing is wrong, there is just none to be had yet.
    pub fn is_rate_limited(&self) -> bool {
        match self {
            TokenError::Throttled { .. } | TokenError::BudgetExhausted { .. } => true,
            TokenError::BackingOff { last, .. } => last.is_rate_limited(),
            _ => false,
        }
    }

    /// How long until a new attempt makes sense, when known.
    pub fn retry_in(&self) -> Option<Duration> {
        match self {
            TokenError::BudgetExhausted { retry_in, .. }
            | TokenError::BackingOff { retry_in, .. }
            | TokenError::RejectionsSpent { retry_in, .. } => Some(*retry_in),
            // Zoho blocks minting for the rest of its window: no sooner.
            TokenError::Throttled { .. } => Some(TOKEN_WINDOW),
            _ => None,
        }
    }

    /// Zoho's own error code, when the accounts server sent one.
    pub fn zoho_code(&self) -> Option<&str> {
        match self {
            TokenError::Rejected { code, .. } => Some(code),
            TokenError::Throttled { .. } => Some("Access Denied"),
            TokenError::BackingOff { last, .. } => last.zoho_code(),
            _ => None,
        }
    }

    /// True when a 401 did not replace the token on purpose (it is kept).
    pub fn kept_token(&self) -> bool {
        matches!(
            self,
            TokenError::FreshTokenRejected { .. } | TokenError::RejectionsSpent { .. }
        )
    }

    /// True when the attempt that failed cannot have minted a token.
    fn minted_nothing(&self) -> bool {
        matches!(self, TokenError::Unreachable(_))
    }
}

/// What a caller of [`TokenManager::refresh`] will accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Any token that is still valid.
    Usable,
    /// A token that is not yet due for its scheduled refresh.
    Fresh,
    /// A valid token other than the one Zoho just rejected.
    Replacing(u64),
}

/// What a mint is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// Scheduled, or nobody had a token: spaced by the pacing interval.
    Paced,
    /// A 401: counted against the rejection allowance.
    Rejection,
    /// Asked for explicitly (`check --online`): only the budget applies.
    Explicit,
}

/// Refresh bookkeeping, touched only by whoever holds the refresh lock.
#[derive(Default)]
struct RefreshState {
    /// Consecutive failures that reached the accounts server.
    failures: u32,
    /// Consecutive attempts that could not connect.
    unreachable: u32,
    retry_at: Option<Instant>,
    last_error: Option<TokenError>,
    /// Token requests that reached the accounts server.
    attempts: Window,
    /// Refreshes caused by a 401.
    rejections: Window,
    /// The earliest next paced mint.
    next_paced: Option<Instant>,
}

pub struct TokenManager {
    current: ArcSwapOption<AccessToken>,
    refresh: Arc<tokio::sync::Mutex<RefreshState>>,
    source: Box<dyn TokenSource>,
    settings: TokenSettings,
    generation: AtomicU64,
    metrics: Option<Arc<Metrics>>,
    cache: Option<Arc<cache::TokenCache>>,
    /// The "tokens are too short for the budget" warning was given.
    warned_short: AtomicBool,
    /// The credential's name, in logs and metrics.
    name: String,
    /// The token all replicas share, with `[cluster]`.
    shared: Option<shared::SharedTokens>,
    /// This replica's share of the budget while Redis is down.
    degraded_budget: u32,
}

impl TokenManager {
    pub fn new(source: impl TokenSource, settings: TokenSettings) -> Self {
        TokenManager {
            current: ArcSwapOption::empty(),
            refresh: Arc::new(tokio::sync::Mutex::new(RefreshState::default())),
            source: Box::new(source),
            settings,
            generation: AtomicU64::new(0),
            metrics: None,
            cache: None,
            warned_short: AtomicBool::new(false),
            name: crate::config::DEFAULT_CREDENTIAL.to_owned(),
            shared: None,
            degraded_budget: 0,
        }
    }

    /// Shares the token with the other replicas through Redis; while Redis
    /// is down, this replica mints alone within `1/replicas` of the budget.
    pub fn with_shared(mut self, shared: shared::SharedTokens, replicas: u32) -> Self {
        self.degraded_budget = (self.settings.budget / replicas.max(1)).max(1);
        self.shared = Some(shared);
        self
    }

    /// The highest generation this replica has seen.
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// The budget that applies now: all of it, or this replica's share
    /// while the shared store is down.
    fn budget_now(&self) -> u32 {
        match &self.shared {
            Some(s) if !s.is_up() => self.degraded_budget,
            _ => self.settings.budget,
        }
    }

    /// Names the credential in logs and metrics.
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The manager for a configured credential, minting from Zoho's accounts server.
    pub fn for_config(
        client: crate::upstream::UpstreamClient,
        zoho: &crate::config::ZohoConfig,
    ) -> Self {
        TokenManager::new(AccountsClient::new(client, zoho), zoho.token_settings())
            .with_token_cache(zoho)
    }

    /// Counts refresh outcomes in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Reuses the token kept in `[zoho] token_cache` while it is valid, and
    /// writes every new token there (see [`cache`]). Without the key: no-op.
    pub fn with_token_cache(self, zoho: &crate::config::ZohoConfig) -> Self {
        match &zoho.token_cache {
            Some(path) => self.with_cache(cache::TokenCache::new(path.clone(), zoho)),
            None => self,
        }
    }

    /// Installs the token in `cache` if it stays valid for longer than the
    /// refresh margin (so no token request is needed now), and keeps every
    /// new token there.
    pub fn with_cache(mut self, cache: cache::TokenCache) -> Self {
        if let Some(cached) = cache.load(self.settings.refresh_before_expiry) {
            let remaining = cached
                .expires_at
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default();
            let grant = TokenGrant {
                access_token: cached.access_token,
                expires_in: remaining,
                api_domain: cached.api_domain,
                scope: cached.scope,
            };
            self.install(grant, "restored from the token cache");
        }
        self.cache = Some(Arc::new(cache));
        self
    }

    /// Takes over `token` (from the manager this one replaces on reload, for
    /// the same refresh token) as if it had been minted here, and keeps it in
    /// this manager's cache: no mint for a change that does not need one.
    pub fn adopt(self: &Arc<Self>, token: &AccessToken) {
        let grant = TokenGrant {
            access_token: token.secret.clone(),
            expires_in: token.expires_at.saturating_duration_since(Instant::now()),
            api_domain: token.api_domain.clone(),
            scope: token.scope.clone(),
        };
        let adopted = self.install(grant, "kept across a reload");
        let this = self.clone();
        tokio::spawn(async move { this.persist(&adopted).await });
    }

    /// Writes `token` to the cache, if there is one, off the async threads.
    /// A failure only costs a token request at the next start.
    async fn persist(&self, token: &AccessToken) {
        let Some(cache) = self.cache.clone() else {
            return;
        };
        let entry = cache::CachedToken {
            access_token: token.secret.clone(),
            expires_at: std::time::SystemTime::now()
                + token.expires_at.saturating_duration_since(Instant::now()),
            api_domain: token.api_domain.clone(),
            scope: token.scope.clone(),
        };
        match tokio::task::spawn_blocking(move || cache.store(&entry)).await {
            Ok(Ok(())) => tracing::debug!("token cache written"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "token cache not written: the next start will request a new token")
            }
            Err(e) => tracing::warn!(error = %e, "token cache writer failed"),
        }
    }

    fn observe(&self, result: RefreshResult) {
        if let Some(m) = &self.metrics {
            m.token_refresh(&self.name, result);
        }
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// The current token if it is valid: one atomic load, no lock.
    pub fn current(&self) -> Option<Arc<AccessToken>> {
        self.current
            .load_full()
            .filter(|t| t.usable_at(Instant::now()))
    }

    /// A valid token, refreshing if there is none, waiting at most until
    /// `deadline`. Concurrent callers share one refresh.
    pub async fn token(
        self: &Arc<Self>,
        deadline: Option<Instant>,
    ) -> Result<Arc<AccessToken>, TokenError> {
        match self.current() {
            Some(t) => Ok(t),
            None => self.refresh(Want::Usable, deadline).await,
        }
    }

    /// Zoho answered `rejected` with "invalid token": get another one. Only
    /// if `rejected` is still the current token (someone else may already
    /// have replaced it), is older than `rejected_min_age`, and the
    /// rejection allowance is not spent; otherwise the token is kept and the
    /// error says why ([`TokenError::kept_token`]).
    pub async fn replace_rejected(
        self: &Arc<Self>,
        rejected: &AccessToken,
        deadline: Option<Instant>,
    ) -> Result<Arc<AccessToken>, TokenError> {
        self.refresh(Want::Replacing(rejected.generation), deadline)
            .await
    }

    /// One refresh now, regardless of schedule (used by `check --online`).
    pub async fn refresh_now(self: &Arc<Self>) -> Result<Arc<AccessToken>, TokenError> {
        let state = self.refresh.clone().lock_owned().await;
        self.spawn_attempt(state, Cause::Explicit, Want::Fresh, None)
            .await
    }

    async fn refresh(
        self: &Arc<Self>,
        want: Want,
        deadline: Option<Instant>,
    ) -> Result<Arc<AccessToken>, TokenError> {
        let mut state = until(deadline, self.refresh.clone().lock_owned()).await?;
        // Whoever held the lock before us may have done the work already.
        let now = Instant::now();
        let mut cause = Cause::Paced;
        if let Some(t) = self.current.load_full().filter(|t| t.usable_at(now)) {
            match want {
                Want::Usable => return Ok(t),
                Want::Fresh if now < t.refresh_at => return Ok(t),
                Want::Replacing(g) if g != t.generation => return Ok(t),
                Want::Replacing(_) => {
                    self.may_replace(&mut state, &t, now)?;
                    cause = Cause::Rejection;
                }
                Want::Fresh => {}
            }
        }
        if let Some(retry_at) = state.retry_at.filter(|at| now < *at) {
            let last = state
                .last_error
                .clone()
                .unwrap_or(TokenError::Transport("unknown".into()));
            return Err(TokenError::BackingOff {
                last: Box::new(last),
                retry_in: retry_at - now,
            });
        }
        if cause == Cause::Paced {
            if let Some(at) = state.next_paced.filter(|at| now < *at) {
                self.wait_for_slot(at, deadline).await?;
            }
        }
        self.spawn_attempt(state, cause, want, deadline).await
    }

    /// Whether a 401 seen with `token` may cost a mint now.
    fn may_replace(
        &self,
        state: &mut RefreshState,
        token: &AccessToken,
        now: Instant,
    ) -> Result<(), TokenError> {
        let age = now.saturating_duration_since(token.obtained_at);
        if age < self.settings.rejected_min_age {
            return Err(TokenError::FreshTokenRejected { age });
        }
        let limit = self.settings.rejection_allowance();
        let free = state.rejections.free_at(now, limit);
        if free > now {
            return Err(TokenError::RejectionsSpent {
                limit,
                retry_in: free - now,
            });
        }
        Ok(())
    }

    /// Sleeps until `at` if the caller's deadline allows it, else says when.
    /// The background loop (no deadline) never sleeps holding the lock.
    async fn wait_for_slot(
        &self,
        at: Instant,
        deadline: Option<Instant>,
    ) -> Result<(), TokenError> {
        match deadline {
            Some(d) if at <= d => {
                tokio::time::sleep_until(at).await;
                Ok(())
            }
            _ => Err(TokenError::BudgetExhausted {
                limit: self.settings.budget,
                retry_in: at.saturating_duration_since(Instant::now()),
            }),
        }
    }

    /// Runs one attempt in its own task, holding the refresh lock: a caller
    /// that stops waiting (its deadline, its client gone) does not cancel a
    /// token request that may already have reached Zoho.
    async fn spawn_attempt(
        self: &Arc<Self>,
        mut state: tokio::sync::OwnedMutexGuard<RefreshState>,
        cause: Cause,
        want: Want,
        deadline: Option<Instant>,
    ) -> Result<Arc<AccessToken>, TokenError> {
        let free = state.attempts.free_at(Instant::now(), self.budget_now());
        if free > Instant::now() {
            // Only a caller that can wait for the slot does; others are told when.
            self.wait_for_slot(free, deadline.filter(|_| cause != Cause::Explicit))
                .await
                .inspect_err(|_| {
                    tracing::warn!(
                        credential = %self.name,
                        retry_in_secs = free.saturating_duration_since(Instant::now()).as_secs(),
                        "token budget spent; not asking Zoho"
                    )
                })?;
        }
        let this = self.clone();
        let task = tokio::spawn(async move {
            if let Some(shared) = &this.shared {
                if !shared.usable().await {
                    // Degraded: the token in hand serves until it expires;
                    // this replica mints alone only when it has none.
                    let held = this
                        .current
                        .load_full()
                        .filter(|t| t.usable_at(Instant::now()));
                    if let (Want::Fresh, Some(t)) = (want, held) {
                        return Ok(t);
                    }
                    tracing::warn!(credential = %this.name, "the shared store is unreachable: minting on this replica alone");
                    return this.attempt(&mut state, cause, None).await;
                }
                match this.through_shared(shared, &mut state, cause, want).await {
                    shared::Through::Done(result) => return result,
                    shared::Through::Down => tracing::warn!(
                        credential = %this.name,
                        "the shared store failed: minting on this replica alone"
                    ),
                }
            }
            this.attempt(&mut state, cause, None).await
        });
        match until(deadline, task).await? {
            Ok(result) => result,
            Err(e) => Err(TokenError::Transport(format!(
                "token refresh task failed: {e}"
            ))),
        }
    }

    /// Sends one token request and records the outcome. The budget is
    /// charged only when the request may have reached the accounts server.
    /// `generation`: the shared generation the new token gets.
    async fn attempt(
        &self,
        state: &mut RefreshState,
        cause: Cause,
        generation: Option<u64>,
    ) -> Result<Arc<AccessToken>, TokenError> {
        let sent = Instant::now();
        let timeout = self.settings.accounts_timeout;
        let fetched = tokio::time::timeout(timeout, self.source.fetch())
            .await
            .unwrap_or(Err(TokenError::TimedOut { after: timeout }));
        let error = match fetched {
            Ok(grant) => {
                self.observe(RefreshResult::Ok);
                state.attempts.record(sent);
                match cause {
                    Cause::Paced => state.next_paced = Some(sent + self.settings.paced_interval()),
                    Cause::Rejection => state.rejections.record(sent),
                    Cause::Explicit => {}
                }
                let token = self.install_as(grant, "refreshed", generation, Duration::ZERO);
                self.persist(&token).await;
                state.failures = 0;
                state.unreachable = 0;
                state.retry_at = None;
                state.last_error = None;
                return Ok(token);
            }
            Err(error) => error,
        };
        self.observe(match error {
            TokenError::Throttled { .. } => RefreshResult::Throttled,
            _ => RefreshResult::Error,
        });
        let wait = if error.minted_nothing() {
            state.unreachable += 1;
            unreachable_backoff(state.unreachable, crate::hash::random())
        } else {
            state.attempts.record(sent);
            state.failures += 1;
            // Throttled: blocked for the rest of Zoho's window, do not knock.
            error.retry_in().unwrap_or_else(|| backoff(state.failures))
        };
        state.retry_at = Some(Instant::now() + wait);
        state.last_error = Some(error.clone());
        tracing::warn!(
            credential = %self.name,
            error = %error,
            failures = state.failures,
            retry_in_ms = wait.as_millis() as u64,
            charged = !error.minted_nothing(),
            "token refresh failed"
        );
        Err(error)
    }

    /// Makes `grant` the current token; `how` it came (for the log).
    fn install(&self, grant: TokenGrant, how: &str) -> Arc<AccessToken> {
        self.install_as(grant, how, None, Duration::ZERO)
    }

    /// The same, as shared generation `generation` (else the next local
    /// one), for a token minted `age` ago (by another replica).
    fn install_as(
        &self,
        grant: TokenGrant,
        how: &str,
        generation: Option<u64>,
        age: Duration,
    ) -> Arc<AccessToken> {
        let now = Instant::now();
        // Untrusted: a huge `expires_in` would overflow the instants below.
        let lifetime = grant.expires_in.min(MAX_LIFETIME);
        let plan = self.settings.plan(lifetime);
        if plan.too_short && !self.warned_short.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                credential = %self.name,
                lifetime_secs = lifetime.as_secs_f32(),
                budget_per_10min = self.settings.budget,
                mint_every_secs = self.settings.paced_interval().as_secs(),
                longest_wait_secs = (self.settings.paced_interval() - plan.usable_for).as_secs(),
                "access tokens live shorter than the token budget allows minting: each token is used \
                 to its safety margin, and requests that find none wait for the next mint"
            );
        }
        let granted = grant.scope.as_deref().map(|s| {
            let (set, unparsed) = ScopeSet::parse_grant(s);
            if !unparsed.is_empty() {
                tracing::debug!(?unparsed, "granted scopes the proxy does not understand");
            }
            set
        });
        let token = AccessToken {
            granted,
            secret: grant.access_token,
            generation: match generation {
                Some(g) => {
                    self.generation.fetch_max(g, Ordering::Relaxed);
                    g
                }
                None => self.generation.fetch_add(1, Ordering::Relaxed) + 1,
            },
            obtained_at: now.checked_sub(age).unwrap_or(now),
            expires_at: now + lifetime,
            usable_until: now + plan.usable_for,
            refresh_at: now + plan.refresh_in,
            api_domain: grant.api_domain,
            scope: grant.scope,
        };
        tracing::info!(
            credential = %self.name,
            generation = token.generation,
            expires_in_secs = lifetime.as_secs(),
            refresh_in_secs = plan.refresh_in.as_secs(),
            api_domain = token.api_domain.as_deref().unwrap_or("-"),
            "access token {how}"
        );
        let token = Arc::new(token);
        self.current.store(Some(token.clone()));
        token
    }

    /// Keeps the token fresh until `shutdown` resolves: refreshes on the
    /// token's schedule ([`schedule`]), and after a failure waits out the
    /// backoff, the pacing or the budget, whichever is longest.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        // Never twice within a second, even when a refresh left a token that
        // is already due (one kept while the shared store is down).
        let mut not_before = Instant::now();
        // With a shared store: when its connection comes back (Redis
        // restarted, maybe empty), give it the token this replica holds, so
        // replicas starting now take it instead of minting.
        let mut events = self.shared.as_ref().map(|s| s.subscribe());
        loop {
            let wake = match self.current.load_full() {
                Some(t) => t.refresh_at.max(not_before),
                None => not_before,
            };
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                resynced = shared::resynced(&mut events) => {
                    if resynced {
                        if let Some(shared) = &self.shared {
                            self.republish(shared).await;
                        }
                    }
                    continue;
                }
                _ = &mut shutdown => return,
            }
            not_before = Instant::now() + MIN_BACKOFF;
            if let Err(e) = self.refresh(Want::Fresh, None).await {
                let wait = self.wait_hint().await.unwrap_or(MIN_BACKOFF);
                tracing::debug!(credential = %self.name, error = %e, wait_ms = wait.as_millis() as u64, "background refresh will retry");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = &mut shutdown => return,
                }
            }
        }
    }

    /// How long until the next refresh attempt is allowed.
    async fn wait_hint(&self) -> Option<Duration> {
        let mut state = self.refresh.lock().await;
        let now = Instant::now();
        let budget = state.attempts.free_at(now, self.budget_now());
        [Some(budget), state.retry_at, state.next_paced]
            .into_iter()
            .flatten()
            .max()
            .map(|at| at.saturating_duration_since(now))
            .filter(|d| !d.is_zero())
    }
}

/// `fut`, given up at `deadline` (if any) with [`TokenError::TimedOut`].
async fn until<T>(
    deadline: Option<Instant>,
    fut: impl Future<Output = T>,
) -> Result<T, TokenError> {
    match deadline {
        None => Ok(fut.await),
        Some(d) => {
            let waited = Instant::now();
            tokio::time::timeout_at(d, fut)
                .await
                .map_err(|_| TokenError::TimedOut {
                    after: waited.elapsed(),
                })
        }
    }
}

/// 1 s, 2 s, 4 s, ... capped at 60 s.
fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    (MIN_BACKOFF * 2u32.pow(exp)).min(MAX_BACKOFF)
}

/// 0.5 s doubling to 5 s, each with up to +50 % jitter (`random` is uniform
/// over u64), so replicas that lost accounts together do not come back in step.
fn unreachable_backoff(failures: u32, random: u64) -> Duration {
    let exp = failures.saturating_sub(1).min(4);
    let base = (UNREACHABLE_MIN_BACKOFF * 2u32.pow(exp)).min(UNREACHABLE_MAX_BACKOFF);
    let jitter = (random >> 11) as f64 / (1u64 << 53) as f64;
    base + base.mul_f64(jitter / 2.0)
}

#[cfg(test)]
mod tests;
