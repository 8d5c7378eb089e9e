//! One token for every replica: the token manager's refresh, when the
//! credential is shared through Redis ([`crate::coord`]).
//!
//! A replica that needs a token (cold start, schedule, 401) first reads the
//! shared one and takes it when it is what it wants. Otherwise one replica
//! takes the mint lease, reads again (another may just have refreshed: the
//! bug Nango had), charges the shared mint budget, mints, publishes the token
//! sealed under the next generation and releases the lease; the others wait
//! for the announcement (or poll) and take the published token. So N replicas
//! starting together, a scheduled refresh, or a 401 seen by all of them cost
//! one mint. The lease is for efficiency, not correctness: refresh tokens do
//! not rotate, so a rare duplicate mint costs budget, never a wrong answer.
//!
//! When Redis is down the caller falls back to minting on its own, within
//! its share of the budget ([`super::TokenManager`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::{AccessToken, Cause, RefreshState, TokenError, TokenGrant, TokenManager, Want};
use crate::coord::redis::{Event, Keys, RedisStore, StoredToken};
use crate::coord::seal::{SharedGrant, TokenSeal};

/// How long the mint lease lasts: a holder that dies costs at most this.
const MINT_LEASE: Duration = Duration::from_secs(15);
/// How often a replica waiting for another's mint looks, besides the
/// announcement.
const POLL: Duration = Duration::from_millis(250);

/// How long a replica that has never reached Redis waits for it before its
/// first mint: at start the store is still connecting, and minting alone
/// then would cost one mint per replica.
const FIRST_CONTACT: Duration = Duration::from_secs(2);

/// A credential's shared token in Redis.
pub struct SharedTokens {
    store: RedisStore,
    keys: Keys,
    seal: TokenSeal,
    /// Redis was up at least once since this replica started.
    seen_up: std::sync::atomic::AtomicBool,
}

/// How a shared refresh ended.
pub(super) enum Through {
    Done(Result<Arc<AccessToken>, TokenError>),
    /// Redis failed on the way: the caller goes on alone.
    Down,
}

impl SharedTokens {
    pub fn new(store: RedisStore, keys: Keys, seal: TokenSeal) -> Self {
        SharedTokens {
            store,
            keys,
            seal,
            seen_up: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn is_up(&self) -> bool {
        self.store.is_up()
    }

    /// This credential's events (token announcements, resyncs).
    pub(super) fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.store.subscribe(&self.keys)
    }

    /// Whether to go through Redis: it is up, or (before it was ever up)
    /// comes up within [`FIRST_CONTACT`].
    pub(super) async fn usable(&self) -> bool {
        use std::sync::atomic::Ordering;
        let within = if self.seen_up.load(Ordering::Relaxed) {
            Duration::ZERO
        } else {
            FIRST_CONTACT
        };
        let up = self.store.wait_up(within).await;
        if up {
            self.seen_up.store(true, Ordering::Relaxed);
        }
        up
    }

    /// The shared token, when there is one this credential sealed.
    async fn read(&self) -> Result<Option<(u64, SharedGrant)>, ()> {
        let stored = self.store.read_token(&self.keys).await.map_err(|_| ())?;
        Ok(stored.and_then(|s| {
            let opened = self.seal.open(s.generation, &s.blob);
            if opened.is_none() {
                tracing::warn!(
                    generation = s.generation,
                    "the shared token in Redis does not open with this credential's key; ignoring it"
                );
            }
            opened.map(|g| (s.generation, g))
        }))
    }

    async fn publish(&self, generation: u64, grant: &SharedGrant) -> Result<bool, ()> {
        let blob = self.seal.seal(generation, grant).ok_or(())?;
        self.store
            .publish_token(
                &self.keys,
                &StoredToken {
                    generation,
                    blob,
                    expires_at_ms: grant.expires_at_ms,
                },
            )
            .await
            .map_err(|_| ())
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl TokenManager {
    /// Whether the shared token `generation` (valid until `expires_at_ms`)
    /// is what `want` asks for: usable, and for a refresh newer than the
    /// token this replica holds (another replica refreshed it), for a 401
    /// newer than the rejected one.
    fn satisfies(&self, want: Want, generation: u64, expires_at_ms: u64) -> bool {
        let left = Duration::from_millis(expires_at_ms.saturating_sub(now_ms()));
        if self.settings.plan(left).usable_for.is_zero() {
            return false;
        }
        let held = self.current.load_full().map_or(0, |t| t.generation);
        match want {
            Want::Usable => true,
            Want::Fresh => generation > held || held == 0,
            Want::Replacing(g) => generation > g,
        }
    }

    /// Makes the shared token of `generation` this replica's.
    fn take(&self, generation: u64, grant: SharedGrant) -> Arc<AccessToken> {
        let left = Duration::from_millis(grant.expires_at_ms.saturating_sub(now_ms()));
        // Its age counts from its mint, wherever that was: the 401 rules
        // (minimum age) mean the same on every replica.
        let age = Duration::from_millis(now_ms().saturating_sub(grant.minted_at_ms));
        let grant = TokenGrant {
            access_token: grant.access_token,
            expires_in: left,
            api_domain: grant.api_domain,
            scope: grant.scope,
        };
        self.install_as(
            grant,
            "taken from the shared store",
            Some(generation),
            if grant_minted_known(age) {
                age
            } else {
                Duration::ZERO
            },
        )
    }

    /// The refresh through Redis; see the module documentation.
    pub(super) async fn through_shared(
        &self,
        shared: &SharedTokens,
        state: &mut RefreshState,
        cause: Cause,
        want: Want,
    ) -> Through {
        let started = Instant::now();
        // Subscribe before looking, so an announcement cannot slip between.
        let mut events = shared.store.subscribe(&shared.keys);
        loop {
            let stored = match shared.read().await {
                Ok(s) => s,
                Err(()) => return Through::Down,
            };
            let stored_generation = stored.as_ref().map_or(0, |(g, _)| *g);
            if let Some((generation, grant)) = stored {
                if self.satisfies(want, generation, grant.expires_at_ms) {
                    return Through::Done(Ok(self.take(generation, grant)));
                }
            }
            let lease = match shared.store.try_mint_lease(&shared.keys, MINT_LEASE).await {
                Ok(l) => l,
                Err(_) => return Through::Down,
            };
            let Some(lease) = lease else {
                // Another replica mints: wait for its announcement, or look again.
                if started.elapsed() > MINT_LEASE * 2 {
                    return Through::Done(Err(TokenError::TimedOut {
                        after: started.elapsed(),
                    }));
                }
                tokio::select! {
                    _ = events.recv() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
                continue;
            };
            let result = self
                .mint_shared(shared, state, cause, want, stored_generation)
                .await;
            let _ = shared.store.release_mint_lease(&shared.keys, lease).await;
            return result;
        }
    }

    /// Holding the lease: look once more, charge the shared budget, mint and
    /// publish.
    async fn mint_shared(
        &self,
        shared: &SharedTokens,
        state: &mut RefreshState,
        cause: Cause,
        want: Want,
        seen_generation: u64,
    ) -> Through {
        let stored = match shared.read().await {
            Ok(s) => s,
            Err(()) => return Through::Down,
        };
        if let Some((generation, grant)) = stored {
            if self.satisfies(want, generation, grant.expires_at_ms) {
                return Through::Done(Ok(self.take(generation, grant)));
            }
        }
        if let Want::Replacing(g) = want {
            // Nobody may take the rejected token from the store any more.
            let _ = shared.store.invalidate_token(&shared.keys, g).await;
        }
        let charge = match shared
            .store
            .charge_mint(&shared.keys, self.settings.budget, super::TOKEN_WINDOW)
            .await
        {
            Err(_) => return Through::Down,
            Ok(Err(retry_in)) => {
                return Through::Done(Err(TokenError::BudgetExhausted {
                    limit: self.settings.budget,
                    retry_in,
                }))
            }
            Ok(Ok(charge)) => charge,
        };
        let generation = seen_generation.max(self.generation()) + 1;
        let result = self.attempt(state, cause, Some(generation)).await;
        // As locally: an accounts server that refused the connection minted
        // nothing, so an outage does not spend the shared budget either.
        if result.as_ref().is_err_and(|e| e.minted_nothing()) {
            let _ = shared.store.refund_mint(&shared.keys, charge).await;
        }
        if let Ok(token) = &result {
            match shared.publish(token.generation, &grant_of(token)).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(credential = %self.name, "a newer shared token exists; it will be taken at the next refresh")
                }
                Err(()) => {
                    tracing::warn!(credential = %self.name, "could not publish the new token to the shared store")
                }
            }
        }
        Through::Done(result)
    }
}

/// Resolves when the next event arrives: `true` for a resync (the pub/sub
/// connection came back, Redis may have lost its data), `false` for any
/// other. Never resolves without a shared store.
pub(super) async fn resynced(events: &mut Option<tokio::sync::broadcast::Receiver<Event>>) -> bool {
    use tokio::sync::broadcast::error::RecvError;
    match events {
        None => std::future::pending().await,
        Some(rx) => match rx.recv().await {
            Ok(Event::Resync) | Err(RecvError::Lagged(_)) => true,
            Ok(_) => false,
            Err(RecvError::Closed) => {
                *events = None;
                false
            }
        },
    }
}

impl TokenManager {
    /// Puts the token this replica holds into the store when the store has
    /// none, or an older one.
    pub(super) async fn republish(&self, shared: &SharedTokens) {
        let Some(mine) = self.current() else { return };
        let stored = match shared.read().await {
            Ok(s) => s.map_or(0, |(g, _)| g),
            Err(()) => return,
        };
        if stored < mine.generation {
            if let Ok(true) = shared.publish(mine.generation, &grant_of(&mine)).await {
                tracing::info!(credential = %self.name, generation = mine.generation, "gave the shared store back this replica's token");
            }
        }
    }
}

/// A token's expiry on the wall clock, in milliseconds.
fn wall_expiry(t: &AccessToken) -> u64 {
    now_ms()
        + t.expires_at
            .saturating_duration_since(Instant::now())
            .as_millis() as u64
}

fn grant_of(t: &AccessToken) -> SharedGrant {
    let age = Instant::now().saturating_duration_since(t.obtained_at);
    SharedGrant {
        access_token: t.secret.clone(),
        api_domain: t.api_domain.clone(),
        scope: t.scope.clone(),
        expires_at_ms: wall_expiry(t),
        minted_at_ms: now_ms().saturating_sub(age.as_millis() as u64),
    }
}

/// A mint time of 0 (a blob from before it was recorded) says nothing.
fn grant_minted_known(age: Duration) -> bool {
    age < Duration::from_secs(30 * 24 * 3600)
}
