//! A Zoho credential as one unit that owns its lifecycle: its TLS client, its
//! token manager and the refresh loop that keeps the token fresh (aborted
//! when the last holder drops it), and the org's limits.
//!
//! Reload asks [`Credential::next`] for the unit of the next generation, and
//! the rule for what survives a config change lives there and nowhere else:
//! - the whole config equal: the same unit (same token, no mint, same
//!   limiter state, same refresh loop);
//! - the Zoho part equal: the same token and loop;
//! - the same refresh token minted by the same accounts server, but another
//!   setting changed (`token_cache`, `api_url`, the schedule, ...): a new
//!   token manager that takes over the current token (and writes it to the
//!   new cache), so no mint;
//! - the limits equal: the same limiter state.
//!
//! In-flight requests keep the generation they started with, so an old unit
//! lives until its last request ends; then its loop stops with it.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{ClusterConfig, CredentialConfig, ZohoConfig};
use crate::coord::redis::{RedisSettings, RedisStore};
use crate::coord::seal::TokenSeal;
use crate::coord::SharedLimits;
use crate::credits::Credits;
use crate::limit::Limits;
use crate::metrics::Metrics;
use crate::tls::TlsError;
use crate::token::shared::SharedTokens;
use crate::token::{AccessToken, TokenManager};
use crate::upstream::UpstreamClient;

/// Why a credential could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("[cluster]: {0}")]
    Cluster(String),
}

/// The shared store every credential of this process uses, with `[cluster]`.
#[derive(Clone, Debug)]
pub struct Cluster {
    store: RedisStore,
    config: ClusterConfig,
}

impl Cluster {
    /// Connects lazily: Redis being down is not an error here (the store
    /// starts degraded and recovers by itself); a malformed URL is.
    pub fn new(config: &ClusterConfig, metrics: &Arc<Metrics>) -> Result<Self, CredentialError> {
        let observer = {
            let metrics = metrics.clone();
            Arc::new(move |op: &'static str, took, ok| metrics.redis_op(op, took, ok))
        };
        let store = RedisStore::new(RedisSettings {
            extra_roots: config.extra_roots.clone(),
            cluster: config.redis_cluster,
            key_prefix: config.key_prefix.clone(),
            timeout: config.timeout,
            observer: Some(observer),
            ..RedisSettings::new(config.redis_url.expose())
        })
        .map_err(|e| CredentialError::Cluster(e.to_string()))?;
        Ok(Cluster {
            store,
            config: config.clone(),
        })
    }

    pub fn store(&self) -> &RedisStore {
        &self.store
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }
}

/// Whether credentials keep their token fresh in the background (a server)
/// or only mint when asked (`check --online`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    Background,
    OnDemand,
}

pub struct Credential {
    config: CredentialConfig,
    client: UpstreamClient,
    token: Arc<TokenUnit>,
    limits: Arc<Limits>,
    credits: Arc<CreditsUnit>,
}

/// The credit account and the task that keeps its file current, dropped
/// together. Survives reloads: a config change does not reset the day.
struct CreditsUnit {
    credits: Arc<Credits>,
    _saver: Option<AbortOnDrop>,
    /// With `[cluster]`: exchanges counts with the other replicas.
    _sharer: Option<AbortOnDrop>,
}

impl CreditsUnit {
    fn start(
        config: &CredentialConfig,
        refresh: Refresh,
        cluster: Option<&Cluster>,
    ) -> Arc<CreditsUnit> {
        let file = config
            .zoho
            .token_cache
            .as_deref()
            .map(crate::credits::beside);
        let credits = Credits::new(&config.name, file);
        let serving = refresh == Refresh::Background;
        let saver = serving.then(|| AbortOnDrop(tokio::spawn(credits.clone().keep_saved())));
        let sharer = cluster.filter(|_| serving).map(|c| {
            credits.share();
            let keys = c.store.keys(&config.name);
            AbortOnDrop(tokio::spawn(
                credits.clone().keep_shared(c.store.clone(), keys),
            ))
        });
        Arc::new(CreditsUnit {
            credits,
            _saver: saver,
            _sharer: sharer,
        })
    }
}

/// The token manager and the loop that refreshes it, dropped together.
struct TokenUnit {
    manager: Arc<TokenManager>,
    _refresh: Option<AbortOnDrop>,
}

/// Aborts the task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// A fresh unit for `config`, sharing its token and limits through
    /// `cluster` when there is one.
    pub fn new(
        config: CredentialConfig,
        metrics: &Arc<Metrics>,
        refresh: Refresh,
        cluster: Option<&Cluster>,
    ) -> Result<Self, CredentialError> {
        let client = UpstreamClient::new(&config.zoho.extra_roots, config.zoho.upstream_http)?;
        metrics.credential(&config.name);
        let token = TokenUnit::start(&config, &client, metrics, refresh, cluster, None)?;
        Ok(Credential {
            limits: limits_for(&config, cluster),
            credits: CreditsUnit::start(&config, refresh, cluster),
            client,
            token,
            config,
        })
    }

    /// The unit for `config` in the next generation, keeping from `old` (the
    /// unit of the same name, if any) whatever still applies; see the
    /// module documentation.
    pub fn next(
        old: Option<&Arc<Credential>>,
        config: CredentialConfig,
        metrics: &Arc<Metrics>,
        refresh: Refresh,
        cluster: Option<&Cluster>,
    ) -> Result<Arc<Credential>, CredentialError> {
        let Some(old) = old else {
            return Ok(Arc::new(Credential::new(
                config, metrics, refresh, cluster,
            )?));
        };
        if old.config == config {
            return Ok(old.clone());
        }
        let client = if old.config.zoho.extra_roots == config.zoho.extra_roots
            && old.config.zoho.upstream_http == config.zoho.upstream_http
        {
            old.client.clone()
        } else {
            UpstreamClient::new(&config.zoho.extra_roots, config.zoho.upstream_http)?
        };
        let token = if old.config.zoho == config.zoho {
            old.token.clone()
        } else {
            let inherit = old
                .tokens()
                .current()
                .filter(|_| same_refresh_token(&old.config.zoho, &config.zoho));
            if inherit.is_none() {
                tracing::info!(credential = %config.name, "credential changed: a new token will be minted");
            }
            TokenUnit::start(
                &config,
                &client,
                metrics,
                refresh,
                cluster,
                inherit.as_deref(),
            )?
        };
        let limits = if old.config.rate_limit == config.rate_limit {
            old.limits.clone()
        } else {
            limits_for(&config, cluster)
        };
        let file = config
            .zoho
            .token_cache
            .as_deref()
            .map(crate::credits::beside);
        let credits = if old.credits.credits.file() == file.as_ref() {
            old.credits.clone()
        } else {
            CreditsUnit::start(&config, refresh, cluster)
        };
        Ok(Arc::new(Credential {
            config,
            client,
            token,
            limits,
            credits,
        }))
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn config(&self) -> &CredentialConfig {
        &self.config
    }

    pub fn zoho(&self) -> &ZohoConfig {
        &self.config.zoho
    }

    pub fn tokens(&self) -> &Arc<TokenManager> {
        &self.token.manager
    }

    pub fn client(&self) -> &UpstreamClient {
        &self.client
    }

    pub fn limits(&self) -> &Arc<Limits> {
        &self.limits
    }

    /// The credential's API credit account.
    pub fn credits(&self) -> &Arc<Credits> {
        &self.credits.credits
    }

    /// Whether the token in hand is the same one `other` has: used by tests
    /// and reload logs to tell "kept" from "replaced".
    pub fn shares_token_with(&self, other: &Credential) -> bool {
        Arc::ptr_eq(&self.token, &other.token)
    }

    /// What `/readyz` reports for this credential.
    pub fn status(&self) -> CredentialStatus {
        let token = self.tokens().current();
        CredentialStatus {
            name: self.config.name.clone(),
            expires_in: token
                .as_ref()
                .map(|t| t.expires_at.saturating_duration_since(Instant::now())),
            generation: token.as_ref().map(|t: &Arc<AccessToken>| t.generation),
        }
    }
}

/// One credential's state, for `/readyz` and `/metrics`.
#[derive(Debug, Clone)]
pub struct CredentialStatus {
    pub name: String,
    /// `None`: no valid token.
    pub expires_in: Option<std::time::Duration>,
    pub generation: Option<u64>,
}

impl TokenUnit {
    fn start(
        config: &CredentialConfig,
        client: &UpstreamClient,
        metrics: &Arc<Metrics>,
        refresh: Refresh,
        cluster: Option<&Cluster>,
        inherit: Option<&AccessToken>,
    ) -> Result<Arc<TokenUnit>, CredentialError> {
        let mut manager = TokenManager::for_config(client.clone(), &config.zoho)
            .named(&config.name)
            .with_metrics(metrics.clone());
        // Only a serving proxy shares its token; `check --online` mints its own.
        if let Some(cluster) = cluster.filter(|_| refresh == Refresh::Background) {
            let seal = TokenSeal::new(
                &config.zoho.client_secret,
                &config.zoho.refresh_token,
                &config.name,
            )
            .ok_or_else(|| CredentialError::Cluster("cannot derive the token key".into()))?;
            let keys = cluster.store.keys(&config.name);
            manager = manager.with_shared(
                SharedTokens::new(cluster.store.clone(), keys, seal),
                cluster.config.replicas,
            );
        }
        let manager = Arc::new(manager);
        // Before the loop starts, or it would mint for want of a token.
        if let Some(token) = inherit {
            manager.adopt(token);
        }
        let refresh = match refresh {
            Refresh::Background => Some(AbortOnDrop(tokio::spawn(
                manager.clone().run(std::future::pending::<()>()),
            ))),
            Refresh::OnDemand => None,
        };
        Ok(Arc::new(TokenUnit {
            manager,
            _refresh: refresh,
        }))
    }
}

/// Fresh shaping state for a credential's limits: shared by every replica
/// through `cluster`, or this process's own.
fn limits_for(config: &CredentialConfig, cluster: Option<&Cluster>) -> Arc<Limits> {
    let (spec, max_wait) = (config.rate_limit.credential, config.rate_limit.max_wait);
    Arc::new(match cluster {
        Some(c) => Limits::shared(
            spec,
            max_wait,
            SharedLimits::new(c.store.clone(), c.store.keys(&config.name), c.config.lease),
            c.config.replicas,
        ),
        None => Limits::new(spec, max_wait),
    })
}

/// Whether a token minted under `a` is a token of `b` too.
fn same_refresh_token(a: &ZohoConfig, b: &ZohoConfig) -> bool {
    a.client_id == b.client_id
        && a.client_secret == b.client_secret
        && a.refresh_token == b.refresh_token
        && a.accounts_url == b.accounts_url
        && a.data_center == b.data_center
}
