//! The config file as written: serde structs, no logic.
//!
//! Every table denies unknown keys, so a typo is an error rather than a silently
//! ignored setting. Values that need checking later are wrapped in
//! [`Spanned`] so that [`super::compile`] can point at the line that is wrong.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub admin: RawAdmin,
    /// The single-credential form: the credential named `default`.
    pub zoho: Option<Spanned<RawZoho>>,
    /// The multi-credential form.
    #[serde(default)]
    pub credentials: Vec<Spanned<RawZoho>>,
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    pub rate_limit: Option<Spanned<RawRateLimit>>,
    #[serde(default)]
    pub retry: RawRetry,
    /// Present: replicas share tokens and limits through Redis.
    pub cluster: Option<Spanned<RawCluster>>,
    /// Present: every request must carry one of these clients' keys.
    #[serde(default)]
    pub clients: Vec<RawClient>,
}

/// One `[[clients]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    pub name: Spanned<String>,
    /// A secret, in any of its forms.
    pub key: Spanned<RawSecret>,
    /// Route names it may use; absent: all.
    pub routes: Option<Spanned<Vec<Spanned<String>>>>,
    pub rate_limit: Option<Spanned<RawRouteLimit>>,
    /// API credits this client may spend per rolling 24 h, per credential.
    pub daily_credits: Option<Spanned<u64>>,
}

/// `[cluster]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// `redis://` or `rediss://`; a secret (it may hold a password).
    pub redis_url: Spanned<RawSecret>,
    /// Talk to a Redis Cluster; `redis_url` then lists seed nodes, comma-separated.
    pub redis_cluster: Option<bool>,
    pub key_prefix: Option<Spanned<String>>,
    /// How many replicas are expected: each one's share when Redis is down.
    pub replicas: Option<Spanned<u32>>,
    /// Per Redis operation on the request path.
    pub timeout: Option<Spanned<String>>,
    /// An extra trusted root (PEM) for `rediss://`.
    pub ca_file: Option<Spanned<String>>,
    /// How long a concurrency slot outlives a replica that died holding it.
    pub lease: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<Spanned<String>>,
    pub allow_remote: Option<bool>,
    pub request_timeout: Option<Spanned<String>>,
    pub replay_buffer: Option<Spanned<String>>,
    pub replay_memory: Option<Spanned<String>>,
    pub shutdown_grace: Option<Spanned<String>>,
    /// Longest wait with no byte moving, in any direction.
    pub body_idle_timeout: Option<Spanned<String>>,
    /// A size per second (`"1KiB"`, `"1KiB/s"`); `"0"` turns the rate rule off.
    pub min_data_rate: Option<Spanned<String>>,
    pub min_rate_grace: Option<Spanned<String>>,
    /// Answers up to this size are read from Zoho before the slot is released.
    pub response_buffer: Option<Spanned<String>>,
    pub max_connections: Option<Spanned<u32>>,
    /// Threads serving the proxy's port; default: one per CPU.
    pub workers: Option<Spanned<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    pub listen: Option<Spanned<String>>,
}

/// `[zoho]`, or one `[[credentials]]` entry (which adds `name` and
/// `rate_limit`; `[zoho]` takes its limits from `[rate_limit]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawZoho {
    pub name: Option<Spanned<String>>,
    pub rate_limit: Option<Spanned<RawRateLimit>>,
    /// The org's API credits per rolling 24 h.
    pub daily_credits: Option<Spanned<u64>>,
    /// `"10%"`: the last part of `daily_credits`, for `priority` routes.
    pub reserve: Option<Spanned<String>>,
    pub data_center: Option<Spanned<String>>,
    pub client_id: Spanned<String>,
    pub client_secret: Spanned<RawSecret>,
    pub refresh_token: Spanned<RawSecret>,
    pub accounts_url: Option<Spanned<String>>,
    pub api_url: Option<Spanned<String>>,
    /// Base URLs of the other product hosts (`desk = "https://..."`), for tests
    /// and private endpoints. Keys: content desk mail projects people creator.
    #[serde(default)]
    pub upstreams: BTreeMap<String, Spanned<String>>,
    pub ca_file: Option<Spanned<String>>,
    pub refresh_before_expiry: Option<Spanned<String>>,
    /// At most this many token requests per rolling 10 minutes (Zoho allows 10).
    pub token_requests_per_10min: Option<Spanned<u32>>,
    /// How long one call to the accounts server may take (default 10s).
    pub accounts_timeout: Option<Spanned<String>>,
    /// A token younger than this is not replaced because of a 401 (default 30s).
    pub rejected_token_min_age: Option<Spanned<String>>,
    /// A file that keeps the access token across restarts.
    pub token_cache: Option<Spanned<String>>,
    /// The HTTP version spoken to Zoho: `"http2"` (default) or `"http1"`.
    pub upstream_http: Option<Spanned<String>>,
}

/// `"text"`, `{ env = "VAR" }` or `{ file = "/path" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    untagged,
    expecting = "a string, { env = \"VARIABLE\" } or { file = \"/path/to/file\" }"
)]
pub enum RawSecret {
    Inline(String),
    Env { env: String },
    File { file: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub name: Option<String>,
    pub path: Spanned<String>,
    pub methods: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub scopes: Vec<Spanned<String>>,
    pub requires: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    pub upstream: Option<Spanned<String>>,
    pub rate_limit: Option<Spanned<RawRouteLimit>>,
    /// Which credential's token and limits this route uses.
    pub credential: Option<Spanned<String>>,
    /// A literal leading part of `path` that is not forwarded.
    pub strip_prefix: Option<Spanned<String>>,
    /// The price of each call in credits, instead of the cost model.
    pub credits: Option<Spanned<u32>>,
    /// `"20%"` of the credential's `daily_credits`.
    pub credit_share: Option<Spanned<String>>,
    /// This route's own credits per rolling 24 h.
    pub daily_credits: Option<Spanned<u64>>,
    /// May use the credential's `reserve`.
    pub priority: Option<bool>,
}

/// `requires = "Scope"` or `requires = ["Scope", "Scope"]` (all needed).
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a scope string or a list of scope strings")]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// `[rate_limit]`: shaping toward Zoho for the credential.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    pub requests_per_minute: Option<Spanned<u32>>,
    pub burst: Option<Spanned<u32>>,
    pub max_concurrent: Option<Spanned<u32>>,
    pub max_wait: Option<Spanned<String>>,
}

/// A route's (or a client's) own `rate_limit = { ... }`, applied on top of the credential's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouteLimit {
    pub requests_per_minute: Option<Spanned<u32>>,
    pub burst: Option<Spanned<u32>>,
    pub max_concurrent: Option<Spanned<u32>>,
}

/// `[retry]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    pub max_attempts: Option<Spanned<u32>>,
    pub base_delay: Option<Spanned<String>>,
    pub max_delay: Option<Spanned<String>>,
    pub max_retry_after: Option<Spanned<String>>,
    pub budget: Option<Spanned<String>>,
}
