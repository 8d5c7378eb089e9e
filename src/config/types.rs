//! The compiled configuration: immutable runtime types, shared as
//! `Arc<Config>`. Only [`compile`](super::compile) makes them, after it has
//! validated everything; the rest of the proxy reads them and never checks
//! them again.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::Uri;
use rustls::pki_types::CertificateDer;

use super::{Secret, SecretSource};
use crate::clients::Clients;
use crate::dc::{DataCenter, Upstream};
use crate::deadline::Pace;
use crate::limit::LimitSpec;
use crate::retry::RetryPolicy;
use crate::route::RouteTable;
use crate::upstream::UpstreamHttp;

/// Zoho mints at most 10 access tokens per refresh token per rolling 10 minutes.
pub const ZOHO_TOKEN_LIMIT_PER_10MIN: u32 = 10;

/// The whole runtime configuration.
#[derive(Debug)]
pub struct Config {
    /// Where it was read from (for messages).
    pub source: String,
    pub server: ServerConfig,
    pub admin: AdminConfig,
    /// At least one; `[zoho]` is the one named [`DEFAULT_CREDENTIAL`].
    pub credentials: Vec<CredentialConfig>,
    pub routes: RouteTable,
    /// `[[clients]]`; empty: no client authentication.
    pub clients: Clients,
    pub retry: RetryPolicy,
    /// `[cluster]`: shared state in Redis; `None`: this process alone.
    pub cluster: Option<ClusterConfig>,
}

/// `[cluster]`, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// `redis://` or `rediss://` (may hold a password: a secret).
    pub redis_url: Secret,
    /// A Redis Cluster (`redis_url`: seed nodes, comma-separated).
    pub redis_cluster: bool,
    /// Keys are `{<key_prefix>:<credential>}:...`.
    pub key_prefix: String,
    /// Expected replicas: when Redis is down, each takes `1/replicas` of the limits.
    pub replicas: u32,
    /// Per Redis operation on the request path.
    pub timeout: Duration,
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// A concurrency slot's lease: renewed while its request runs, so a
    /// replica killed mid-request holds it at most this long.
    pub lease: Duration,
}

/// The name of the credential configured by `[zoho]`.
pub const DEFAULT_CREDENTIAL: &str = "default";

/// One Zoho credential: how it mints tokens, where it sends them, and the
/// org's limits. A value: equal configs mean the same credential, which is
/// how reload knows what to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialConfig {
    /// `[a-z0-9_-]+`, unique: in logs, metrics and errors.
    pub name: String,
    pub zoho: ZohoConfig,
    pub rate_limit: RateLimitConfig,
    /// `daily_credits` and `reserve`.
    pub credits: crate::credits::CreditBudget,
}

impl Config {
    /// The credential called `name`.
    pub fn credential(&self, name: &str) -> Option<&CredentialConfig> {
        self.credentials.iter().find(|c| c.name == name)
    }
}

/// `[rate_limit]`, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub credential: LimitSpec,
    /// How long a request may queue for a slot before it is shed with 429.
    pub max_wait: Duration,
}

/// Zoho CRM's concurrency limit for the Standard edition; see the README for others.
pub const DEFAULT_MAX_CONCURRENT: usize = 10;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub allow_remote: bool,
    /// How long to wait for Zoho's response head.
    pub request_timeout: Duration,
    /// Request bodies up to this size are kept so they can be replayed once.
    pub replay_buffer: usize,
    /// All kept bodies together stay under this; past it, bodies stream
    /// without being kept (and so are never replayed).
    pub replay_memory: usize,
    pub shutdown_grace: Duration,
    /// How fast bodies must move, both ways, on both sides.
    pub pace: Pace,
    /// Zoho's answers up to this size are read whole before the concurrency
    /// slot is released; larger ones keep it while they stream.
    pub response_buffer: usize,
    /// Client connections served at once, over all workers; past it,
    /// accepting waits.
    pub max_connections: usize,
    /// Threads serving the proxy's port, each with its own runtime
    /// (`workers`); only a restart changes it.
    pub workers: usize,
}

/// `[server] max_connections` by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ZohoConfig {
    pub data_center: DataCenter,
    pub client_id: String,
    pub client_secret: Secret,
    pub refresh_token: Secret,
    /// Where `client_secret` is read from (`login` reads it there itself).
    pub client_secret_from: SecretSource,
    /// Where `refresh_token` is read from (`login` writes a new one there).
    pub refresh_token_from: SecretSource,
    /// Base URL of the accounts server (no trailing slash).
    pub accounts_url: Uri,
    /// Explicit API base URL; else the token's `api_domain`, else the DC's.
    pub api_url: Option<Uri>,
    /// Explicit base URLs of other product hosts.
    pub upstreams: BTreeMap<Upstream, Uri>,
    /// Extra trusted roots on top of the bundled WebPKI roots.
    pub extra_roots: Vec<CertificateDer<'static>>,
    pub refresh_before_expiry: Duration,
    pub token_requests_per_10min: u32,
    /// How long one call to the accounts server may take.
    pub accounts_timeout: Duration,
    /// A token younger than this is not replaced because of a 401.
    pub rejected_token_min_age: Duration,
    /// Where the access token is kept across restarts (`token::cache`).
    pub token_cache: Option<PathBuf>,
    /// The HTTP version spoken to Zoho's hosts.
    pub upstream_http: UpstreamHttp,
}

impl ZohoConfig {
    /// Where a route's requests go (no trailing slash). Credentials are only
    /// ever sent to the configured DC's hosts or to explicit overrides:
    /// - `api`: `api_url`, else the token's `api_domain` if it is this DC's
    ///   API domain, else the DC's;
    /// - other products: `[zoho.upstreams]`, else the DC's host for it.
    pub fn base_url(&self, upstream: Upstream, api_domain: Option<&str>) -> String {
        let mut url = String::new();
        self.write_base_url(upstream, api_domain, &mut url);
        url
    }

    /// [`ZohoConfig::base_url`], appended to `out` (the request path builds
    /// each upstream URL in one buffer).
    pub fn write_base_url(&self, upstream: Upstream, api_domain: Option<&str>, out: &mut String) {
        let configured = match upstream {
            Upstream::Api => self.api_url.as_ref(),
            _ => self.upstreams.get(&upstream),
        };
        if let Some(url) = configured {
            // A bare origin (checked when the config was compiled).
            out.push_str(url.scheme_str().unwrap_or("https"));
            out.push_str("://");
            out.push_str(url.authority().map_or("", |a| a.as_str()));
            return;
        }
        if upstream == Upstream::Api {
            if let Some(domain) =
                api_domain.filter(|d| DataCenter::from_api_domain(d) == Some(self.data_center))
            {
                out.push_str(domain.trim_end_matches('/'));
                return;
            }
        }
        out.push_str(&self.data_center.upstream_url(upstream));
    }

    /// How the token manager schedules and budgets mints for this credential.
    pub fn token_settings(&self) -> crate::token::TokenSettings {
        crate::token::TokenSettings {
            refresh_before_expiry: self.refresh_before_expiry,
            budget: self.token_requests_per_10min,
            accounts_timeout: self.accounts_timeout,
            rejected_min_age: self.rejected_token_min_age,
        }
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/v2/token", trim_slash(&self.accounts_url))
    }
}

/// `https://host:port` without a trailing slash.
pub fn trim_slash(uri: &Uri) -> String {
    uri.to_string().trim_end_matches('/').to_owned()
}
