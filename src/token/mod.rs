//! The token manager: one cached access token per credential, kept fresh by a
//! background loop, read on the hot path without locks.
//!
//! Zoho's limits shape everything here (see `shared/zoho-reference.md`):
//! - at most 10 access tokens per refresh token per rolling 10 minutes, after
//!   which token creation is blocked for the rest of the window: so there is
//!   exactly one refresh in flight at a time (a mutex that only refreshers
//!   take), a local budget that is never exceeded, and failures back off
//!   exponentially (1 s .. 60 s) with callers failing fast meanwhile;
//! - errors come back as HTTP 200 with an `error` field ([`accounts`]);
//! - a 401 from the API may mean the token was evicted: a 401-triggered
//!   refresh happens only if the rejected token is still the current one.
//!
//! Time is `tokio::time`, so the schedule is tested on a paused clock.

pub mod accounts;
pub mod cache;

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::time::Instant;

use crate::config::Secret;
use crate::metrics::{Metrics, RefreshResult};
use crate::scope::ScopeSet;
pub use accounts::{AccountsClient, TokenEndpoint, TokenSource};

/// Zoho's token-minting window.
pub const TOKEN_WINDOW: Duration = Duration::from_secs(600);
/// A token this close to expiry is not handed out any more.
const EXPIRY_SAFETY: Duration = Duration::from_secs(10);
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

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
        now + EXPIRY_SAFETY < self.expires_at
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
    #[error("cannot reach Zoho accounts: {0}")]
    Transport(String),
    #[error("the local budget of {limit} token requests per 10 minutes is spent; next slot in {}s", .retry_in.as_secs())]
    BudgetExhausted { limit: u32, retry_in: Duration },
    #[error("no valid token: the last refresh failed ({last}); next attempt in {}s", .retry_in.as_secs().max(1))]
    BackingOff {
        last: Box<TokenError>,
        retry_in: Duration,
    },
}

fn describe(d: &Option<String>) -> String {
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
            | TokenError::BackingOff { retry_in, .. } => Some(*retry_in),
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
}

#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub refresh_before_expiry: Duration,
    /// At most this many token requests per [`TOKEN_WINDOW`].
    pub budget: u32,
}

/// What a caller of [`TokenManager::refresh`] will accept.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// Any token that is still valid.
    Usable,
    /// A token that is not yet due for its scheduled refresh.
    Fresh,
    /// A valid token other than the one Zoho just rejected.
    Replacing(u64),
}

/// Refresh bookkeeping, touched only by whoever holds the refresh lock.
#[derive(Default)]
struct RefreshState {
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<TokenError>,
    /// When each token request of the current window was sent.
    attempts: VecDeque<Instant>,
}

pub struct TokenManager {
    current: ArcSwapOption<AccessToken>,
    refresh: tokio::sync::Mutex<RefreshState>,
    source: Box<dyn TokenSource>,
    settings: TokenSettings,
    generation: AtomicU64,
    metrics: Option<Arc<Metrics>>,
    cache: Option<Arc<cache::TokenCache>>,
}

impl TokenManager {
    pub fn new(source: impl TokenSource, settings: TokenSettings) -> Self {
        TokenManager {
            current: ArcSwapOption::empty(),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            source: Box::new(source),
            settings,
            generation: AtomicU64::new(0),
            metrics: None,
            cache: None,
        }
    }

    /// The manager for a configured credential, minting from Zoho's accounts server.
    pub fn for_config(
        client: crate::upstream::UpstreamClient,
        zoho: &crate::config::ZohoConfig,
    ) -> Self {
        let settings = TokenSettings {
            refresh_before_expiry: zoho.refresh_before_expiry,
            budget: zoho.token_requests_per_10min,
        };
        TokenManager::new(AccountsClient::new(client, zoho), settings).with_token_cache(zoho)
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
            self.install(grant, true);
        }
        self.cache = Some(Arc::new(cache));
        self
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
            m.token_refresh(result);
        }
    }

    /// The current token if it is valid: one atomic load, no lock.
    pub fn current(&self) -> Option<Arc<AccessToken>> {
        self.current
            .load_full()
            .filter(|t| t.usable_at(Instant::now()))
    }

    /// A valid token, refreshing if there is none. Concurrent callers share
    /// one refresh.
    pub async fn token(&self) -> Result<Arc<AccessToken>, TokenError> {
        match self.current() {
            Some(t) => Ok(t),
            None => self.refresh(Want::Usable).await,
        }
    }

    /// Zoho said `rejected` is invalid: get another one, refreshing only if
    /// `rejected` is still the current token (someone else may already have
    /// replaced it).
    pub async fn replace_rejected(
        &self,
        rejected: &AccessToken,
    ) -> Result<Arc<AccessToken>, TokenError> {
        self.refresh(Want::Replacing(rejected.generation)).await
    }

    /// One refresh now, regardless of schedule (used by `check --online`).
    pub async fn refresh_now(&self) -> Result<Arc<AccessToken>, TokenError> {
        let mut state = self.refresh.lock().await;
        self.attempt(&mut state).await
    }

    async fn refresh(&self, want: Want) -> Result<Arc<AccessToken>, TokenError> {
        let mut state = self.refresh.lock().await;
        // Whoever held the lock before us may have done the work already.
        let now = Instant::now();
        if let Some(t) = self.current.load_full().filter(|t| t.usable_at(now)) {
            match want {
                Want::Usable => return Ok(t),
                Want::Fresh if now < t.refresh_at => return Ok(t),
                Want::Replacing(g) if g != t.generation => return Ok(t),
                Want::Replacing(_) => {
                    // Zoho rejected it: stop handing it out.
                    self.current.store(None);
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
        self.attempt(&mut state).await
    }

    /// Sends one token request, within the budget, and records the outcome.
    async fn attempt(&self, state: &mut RefreshState) -> Result<Arc<AccessToken>, TokenError> {
        let now = Instant::now();
        while state
            .attempts
            .front()
            .is_some_and(|t| now.duration_since(*t) >= TOKEN_WINDOW)
        {
            state.attempts.pop_front();
        }
        if state.attempts.len() >= self.settings.budget as usize {
            let oldest = state.attempts.front().copied().unwrap_or(now);
            let retry_in = (oldest + TOKEN_WINDOW).saturating_duration_since(now);
            tracing::warn!(
                retry_in_secs = retry_in.as_secs(),
                "token budget spent; not asking Zoho"
            );
            return Err(TokenError::BudgetExhausted {
                limit: self.settings.budget,
                retry_in,
            });
        }
        state.attempts.push_back(now);
        match self.source.fetch().await {
            Ok(grant) => {
                self.observe(RefreshResult::Ok);
                let token = self.install(grant, false);
                self.persist(&token).await;
                state.failures = 0;
                state.retry_at = None;
                state.last_error = None;
                Ok(token)
            }
            Err(error) => {
                self.observe(match error {
                    TokenError::Throttled { .. } => RefreshResult::Throttled,
                    _ => RefreshResult::Error,
                });
                state.failures += 1;
                let wait = match error {
                    // Blocked for the rest of Zoho's window: do not knock.
                    TokenError::Throttled { .. } => TOKEN_WINDOW,
                    _ => backoff(state.failures),
                };
                let done = Instant::now();
                state.retry_at = Some(done + wait);
                state.last_error = Some(error.clone());
                tracing::warn!(error = %error, failures = state.failures, retry_in_secs = wait.as_secs(), "token refresh failed");
                Err(error)
            }
        }
    }

    /// Makes `grant` the current token; `restored`: it came from the cache.
    fn install(&self, grant: TokenGrant, restored: bool) -> Arc<AccessToken> {
        let now = Instant::now();
        let lifetime = grant.expires_in;
        let margin = self.settings.refresh_before_expiry;
        let refresh_in = if lifetime < margin * 2 {
            lifetime / 2
        } else {
            lifetime - margin
        };
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
            generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
            obtained_at: now,
            expires_at: now + lifetime,
            refresh_at: now + refresh_in,
            api_domain: grant.api_domain,
            scope: grant.scope,
        };
        if restored {
            tracing::info!(
                generation = token.generation,
                expires_in_secs = lifetime.as_secs(),
                refresh_in_secs = refresh_in.as_secs(),
                "access token restored from the token cache"
            );
        } else {
            tracing::info!(
                generation = token.generation,
                expires_in_secs = lifetime.as_secs(),
                refresh_in_secs = refresh_in.as_secs(),
                api_domain = token.api_domain.as_deref().unwrap_or("-"),
                "access token refreshed"
            );
        }
        let token = Arc::new(token);
        self.current.store(Some(token.clone()));
        token
    }

    /// Keeps the token fresh until `shutdown` resolves: refreshes
    /// `refresh_before_expiry` ahead of expiry (or at half-life for short
    /// tokens), and after a failure waits out the backoff.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let wake = match self.current.load_full() {
                Some(t) => t.refresh_at,
                None => Instant::now(),
            };
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                _ = &mut shutdown => return,
            }
            if let Err(e) = self.refresh(Want::Fresh).await {
                let wait = self.wait_hint().await.unwrap_or(MIN_BACKOFF);
                tracing::debug!(error = %e, wait_secs = wait.as_secs(), "background refresh will retry");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = &mut shutdown => return,
                }
            }
        }
    }

    /// How long until the next refresh attempt is allowed.
    async fn wait_hint(&self) -> Option<Duration> {
        let state = self.refresh.lock().await;
        let now = Instant::now();
        let budget_wait = if state.attempts.len() >= self.settings.budget as usize {
            state
                .attempts
                .front()
                .map(|t| (*t + TOKEN_WINDOW).saturating_duration_since(now))
        } else {
            None
        };
        let backoff_wait = state.retry_at.map(|at| at.saturating_duration_since(now));
        budget_wait.max(backoff_wait).filter(|d| !d.is_zero())
    }
}

/// 1 s, 2 s, 4 s, ... capped at 60 s.
fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    (MIN_BACKOFF * 2u32.pow(exp)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests;
