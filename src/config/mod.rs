//! Configuration: the file as written ([`raw`]) compiled into immutable runtime
//! types ([`Config`]), shared as `Arc<Config>`.
//!
//! All validation happens in [`compile`], and every error names the file, the
//! line and column, and the offending value, so an operator can fix a config
//! without reading source code.
//!
//! This file is the compiler; the runtime types it makes live in `types`
//! (re-exported here, so they are `crate::config::Config` and so on).

mod clients;
pub mod raw;
pub mod secret;
mod types;
pub mod units;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::Uri;
use toml::Spanned;

use crate::dc::{DataCenter, Upstream};
use crate::deadline::Pace;
use crate::limit::{Limit, LimitSpec};
use crate::retry::RetryPolicy;
use crate::route::pattern::PathPattern;
use crate::route::{MethodSet, Route, RouteTable};
use crate::scope::{Scope, ScopeSet};
use crate::upstream::UpstreamHttp;
pub use secret::{Secret, SecretSource};
pub use types::{
    trim_slash, AdminConfig, ClusterConfig, Config, CredentialConfig, RateLimitConfig,
    ServerConfig, ZohoConfig, DEFAULT_CREDENTIAL, DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_CONNECTIONS,
    ZOHO_TOKEN_LIMIT_PER_10MIN,
};

/// Why a config was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Reads and compiles a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, false)
}

/// Reads and compiles a config file for onboarding (`grant`, `login`,
/// `revoke`), which runs before the secrets exist: a secret that cannot be
/// read yet compiles to an empty [`Secret`]; read it from its source
/// (`client_secret_from`, `refresh_token_from`) where it is needed. Never
/// serve with such a config.
pub fn load_for_onboarding(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, true)
}

fn load_with(path: &Path, pending_secrets: bool) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    compile_with(&text, &path.display().to_string(), base, pending_secrets)
}

/// Parses and validates config text. `name` is used in messages; relative
/// paths in the file (`ca_file`, secret files) resolve against `base_dir`.
pub fn compile(text: &str, name: &str, base_dir: &Path) -> Result<Config, ConfigError> {
    compile_with(text, name, base_dir, false)
}

fn compile_with(
    text: &str,
    name: &str,
    base_dir: &Path,
    pending_secrets: bool,
) -> Result<Config, ConfigError> {
    let raw: raw::RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: name.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    Compiler {
        text,
        name,
        base_dir,
        pending_secrets,
    }
    .config(raw)
}

struct Compiler<'a> {
    text: &'a str,
    name: &'a str,
    base_dir: &'a Path,
    /// Onboarding: a secret that cannot be read yet is empty, not an error.
    pending_secrets: bool,
}

impl Compiler<'_> {
    /// An error pointing at a value in the file.
    fn at<T>(&self, span: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        let offset = span.span().start.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        ConfigError::Invalid {
            path: self.name.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    fn duration(
        &self,
        v: &Option<Spanned<String>>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        match v {
            None => Ok(default),
            Some(s) => units::parse_duration(s.get_ref()).map_err(|m| self.at(s, m)),
        }
    }

    fn url(&self, v: &Spanned<String>, what: &str) -> Result<Uri, ConfigError> {
        crate::dc::https_origin(v.get_ref())
            .map_err(|e| self.at(v, format!("{what} {:?} {e}", v.get_ref())))
    }

    fn config(&self, raw: raw::RawConfig) -> Result<Config, ConfigError> {
        let credentials = self.credentials(raw.zoho, raw.credentials, &raw.rate_limit)?;
        let cluster = raw.cluster.map(|c| self.cluster(c)).transpose()?;
        let replicas = cluster.as_ref().map_or(1, |c| c.replicas);
        let routes = self.routes(raw.routes, &credentials, replicas)?;
        Ok(Config {
            source: self.name.to_owned(),
            server: self.server(&raw.server)?,
            admin: self.admin(&raw.admin)?,
            clients: self.clients(raw.clients, &routes, replicas)?,
            routes,
            credentials,
            retry: self.retry(&raw.retry)?,
            cluster,
        })
    }

    fn cluster(&self, raw: Spanned<raw::RawCluster>) -> Result<ClusterConfig, ConfigError> {
        let raw = raw.into_inner();
        let span = raw.redis_url.clone();
        let redis_url = self.secret(raw.redis_url, "redis_url")?;
        let redis_cluster = raw.redis_cluster.unwrap_or(false);
        // Onboarding commands read configs whose secrets do not exist yet.
        let pending = self.pending_secrets && redis_url.expose().is_empty();
        // Never echo the value: it may hold a password.
        let scheme = |url: &str| {
            ["redis://", "rediss://"]
                .into_iter()
                .find(|s| url.trim().starts_with(s))
        };
        if !pending && redis_cluster {
            let seeds: Vec<&str> = redis_url.expose().split(',').collect();
            let schemes: Vec<_> = seeds.iter().map(|u| scheme(u)).collect();
            if schemes.iter().any(Option::is_none) {
                return Err(self.at(
                    &span,
                    "redis_url must list seed nodes, each starting with redis:// or rediss://, separated by commas",
                ));
            }
            if schemes.windows(2).any(|w| w[0] != w[1]) {
                return Err(self.at(
                    &span,
                    "redis_url mixes redis:// and rediss:// seeds: a cluster uses TLS on every node or on none",
                ));
            }
        } else if !pending && scheme(redis_url.expose()).is_none() {
            return Err(self.at(&span, "redis_url must start with redis:// or rediss://"));
        }
        let key_prefix = match &raw.key_prefix {
            None => "zoho-proxy".to_owned(),
            Some(p) => {
                let ok = !p.get_ref().is_empty()
                    && !p.get_ref().contains(['{', '}', ' '])
                    && p.get_ref().is_ascii();
                if !ok {
                    return Err(self.at(
                        p,
                        "key_prefix must be non-empty ASCII without braces or spaces",
                    ));
                }
                p.get_ref().clone()
            }
        };
        let replicas = match &raw.replicas {
            None => 1,
            Some(n) if *n.get_ref() >= 1 => *n.get_ref(),
            Some(n) => return Err(self.at(n, "replicas must be at least 1")),
        };
        let timeout = self.duration(&raw.timeout, Duration::from_millis(100))?;
        if let Some(t) = raw.timeout.as_ref().filter(|_| timeout.is_zero()) {
            return Err(self.at(t, "timeout must be longer than 0"));
        }
        let extra_roots = match &raw.ca_file {
            None => Vec::new(),
            Some(s) => {
                let path: PathBuf = self.base_dir.join(s.get_ref());
                crate::tls::read_pem_certs(&path).map_err(|m| self.at(s, m))?
            }
        };
        let lease = self.duration(&raw.lease, Duration::from_secs(15))?;
        if let Some(l) = raw
            .lease
            .as_ref()
            .filter(|_| lease < Duration::from_millis(500))
        {
            return Err(self.at(
                l,
                "lease must be at least 500ms (it is renewed every third of it)",
            ));
        }
        Ok(ClusterConfig {
            redis_url,
            redis_cluster,
            key_prefix,
            replicas,
            timeout,
            extra_roots,
            lease,
        })
    }

    /// `[zoho]` + `[rate_limit]` as the credential `default`, or the
    /// `[[credentials]]` list; never both.
    fn credentials(
        &self,
        zoho: Option<Spanned<raw::RawZoho>>,
        list: Vec<Spanned<raw::RawZoho>>,
        rate_limit: &Option<Spanned<raw::RawRateLimit>>,
    ) -> Result<Vec<CredentialConfig>, ConfigError> {
        let whole = || ConfigError::Syntax {
            path: self.name.to_owned(),
            message: "no credential: add a [zoho] table or [[credentials]] entries".into(),
        };
        match (zoho, list.is_empty()) {
            (Some(z), false) => Err(self.at(
                &z,
                "[zoho] and [[credentials]] cannot both be used: move [zoho] into a \
                 [[credentials]] entry (with name = \"default\" to keep its name)",
            )),
            (None, true) => Err(whole()),
            (Some(z), true) => {
                let z = z.into_inner();
                if let Some(n) = &z.name {
                    return Err(self.at(
                        n,
                        "name belongs to [[credentials]] entries; [zoho] is always \"default\"",
                    ));
                }
                if let Some(r) = &z.rate_limit {
                    return Err(self.at(r, "[zoho] takes its limits from the [rate_limit] table"));
                }
                Ok(vec![CredentialConfig {
                    name: DEFAULT_CREDENTIAL.to_owned(),
                    rate_limit: self.rate_limit(rate_limit.as_ref().map(|r| r.get_ref()))?,
                    credits: self.credit_budget(&z)?,
                    zoho: self.zoho(z)?,
                }])
            }
            (None, false) => {
                if let Some(r) = rate_limit {
                    return Err(self.at(
                        r,
                        "with [[credentials]], each credential has its own rate_limit = { ... }",
                    ));
                }
                let mut out: Vec<CredentialConfig> = Vec::with_capacity(list.len());
                for entry in list {
                    let entry = entry.into_inner();
                    let Some(name) = entry.name.clone() else {
                        return Err(
                            self.at(&entry.client_id, "this [[credentials]] entry has no name")
                        );
                    };
                    if !is_name(name.get_ref()) {
                        return Err(self.at(
                            &name,
                            format!("credential name {:?} must be [a-z0-9_-]+", name.get_ref()),
                        ));
                    }
                    if out.iter().any(|c| c.name == *name.get_ref()) {
                        return Err(self.at(
                            &name,
                            format!("credential name {:?} is used twice", name.get_ref()),
                        ));
                    }
                    let rate_limit =
                        self.rate_limit(entry.rate_limit.as_ref().map(|r| r.get_ref()))?;
                    out.push(CredentialConfig {
                        name: name.into_inner(),
                        rate_limit,
                        credits: self.credit_budget(&entry)?,
                        zoho: self.zoho(entry)?,
                    });
                }
                Ok(out)
            }
        }
    }

    /// `daily_credits` and `reserve` of a credential.
    fn credit_budget(&self, z: &raw::RawZoho) -> Result<crate::credits::CreditBudget, ConfigError> {
        let daily = match &z.daily_credits {
            Some(d) if *d.get_ref() == 0 => {
                return Err(self.at(d, "daily_credits must be at least 1"))
            }
            d => d.as_ref().map(|d| *d.get_ref()),
        };
        let reserve = match (&z.reserve, daily) {
            (None, _) => 0,
            (Some(r), None) => {
                return Err(self.at(
                    r,
                    "reserve is a part of daily_credits: set daily_credits too",
                ))
            }
            (Some(r), Some(daily)) => {
                let f = self.percent(r, "reserve")?;
                (daily as f64 * f).ceil() as u64
            }
        };
        Ok(crate::credits::CreditBudget { daily, reserve })
    }

    /// `"20%"` as 0.2; more than 0 and at most 100 %.
    fn percent(&self, s: &Spanned<String>, what: &str) -> Result<f64, ConfigError> {
        let v = s
            .get_ref()
            .trim()
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok())
            .filter(|n| *n > 0.0 && *n <= 100.0);
        v.map(|n| n / 100.0).ok_or_else(|| {
            self.at(
                s,
                format!("{what} must be a percentage above 0% and at most 100%, like \"20%\""),
            )
        })
    }

    /// A route's credit settings.
    fn route_credits(
        &self,
        name: &str,
        r: &raw::RawRoute,
        credential: &CredentialConfig,
    ) -> Result<crate::credits::RouteCredits, ConfigError> {
        use crate::credits::RouteBudget;
        let budget = match (&r.daily_credits, &r.credit_share) {
            (Some(d), Some(_)) => {
                return Err(self.at(
                    d,
                    format!("route {name}: daily_credits and credit_share cannot both be set"),
                ))
            }
            (Some(d), None) if *d.get_ref() == 0 => {
                return Err(self.at(d, format!("route {name}: daily_credits must be at least 1")))
            }
            (Some(d), None) => Some(RouteBudget::Fixed(*d.get_ref())),
            (None, Some(s)) => {
                if credential.credits.daily.is_none() {
                    return Err(self.at(
                        s,
                        format!(
                            "route {name}: credit_share is a share of the credential's daily_credits, which credential {:?} does not set",
                            credential.name
                        ),
                    ));
                }
                Some(RouteBudget::Share(self.percent(s, "credit_share")?))
            }
            (None, None) => None,
        };
        let price = match &r.credits {
            Some(c) if *c.get_ref() == 0 => {
                return Err(self.at(c, format!("route {name}: credits must be at least 1")))
            }
            c => c.as_ref().map(|c| *c.get_ref()),
        };
        Ok(crate::credits::RouteCredits {
            price,
            budget,
            priority: r.priority.unwrap_or(false),
        })
    }

    /// A count that must be at least 1.
    fn positive(
        &self,
        v: &Option<Spanned<u32>>,
        what: &str,
    ) -> Result<Option<NonZeroU32>, ConfigError> {
        match v {
            None => Ok(None),
            Some(s) => NonZeroU32::new(*s.get_ref())
                .map(Some)
                .ok_or_else(|| self.at(s, format!("{what} must be at least 1"))),
        }
    }

    /// A route's or a client's own `rate_limit = { ... }`; `owner` names it
    /// in messages (`route crm`, `client billing`).
    fn own_limit(&self, owner: &str, l: &raw::RawRouteLimit) -> Result<LimitSpec, ConfigError> {
        let what = |key: &str| format!("{owner}: rate_limit.{key}");
        Ok(LimitSpec {
            requests_per_minute: self
                .positive(&l.requests_per_minute, &what("requests_per_minute"))?,
            burst: self.positive(&l.burst, &what("burst"))?,
            max_concurrent: self
                .positive(&l.max_concurrent, &what("max_concurrent"))?
                .map(|n| n.get() as usize),
        })
    }

    fn rate_limit(&self, raw: Option<&raw::RawRateLimit>) -> Result<RateLimitConfig, ConfigError> {
        let default = raw::RawRateLimit::default();
        let raw = raw.unwrap_or(&default);
        let max_concurrent = self.positive(&raw.max_concurrent, "max_concurrent")?;
        Ok(RateLimitConfig {
            credential: LimitSpec {
                requests_per_minute: self
                    .positive(&raw.requests_per_minute, "requests_per_minute")?,
                burst: self.positive(&raw.burst, "burst")?,
                max_concurrent: Some(
                    max_concurrent.map_or(DEFAULT_MAX_CONCURRENT, |n| n.get() as usize),
                ),
            },
            max_wait: self.duration(&raw.max_wait, Duration::from_secs(30))?,
        })
    }

    fn retry(&self, raw: &raw::RawRetry) -> Result<RetryPolicy, ConfigError> {
        let d = RetryPolicy::default();
        let policy = RetryPolicy {
            max_attempts: match &raw.max_attempts {
                None => d.max_attempts,
                Some(s) if (1..=10).contains(s.get_ref()) => *s.get_ref(),
                Some(s) => {
                    return Err(self.at(
                        s,
                        "max_attempts is the total number of tries: 1 (no retries) to 10",
                    ))
                }
            },
            base_delay: self.duration(&raw.base_delay, d.base_delay)?,
            max_delay: self.duration(&raw.max_delay, d.max_delay)?,
            max_retry_after: self.duration(&raw.max_retry_after, d.max_retry_after)?,
            budget: self.duration(&raw.budget, d.budget)?,
        };
        if let Some(s) = raw
            .base_delay
            .as_ref()
            .filter(|_| policy.base_delay > policy.max_delay)
        {
            return Err(self.at(s, "base_delay is longer than max_delay"));
        }
        Ok(policy)
    }

    fn listen<'v>(
        &self,
        v: &'v Option<Spanned<String>>,
        default: &str,
    ) -> Result<(SocketAddr, Option<&'v Spanned<String>>), ConfigError> {
        match v {
            None => Ok((
                default.parse().expect("default listen address parses"),
                None,
            )),
            Some(s) => s.get_ref().parse().map(|a| (a, Some(s))).map_err(|_| {
                self.at(
                    s,
                    format!("listen address {:?} is not IP:PORT", s.get_ref()),
                )
            }),
        }
    }

    fn server(&self, raw: &raw::RawServer) -> Result<ServerConfig, ConfigError> {
        let (listen, span) = self.listen(&raw.listen, "127.0.0.1:8080")?;
        let allow_remote = raw.allow_remote.unwrap_or(false);
        if !listen.ip().is_loopback() && !allow_remote {
            let msg = format!(
                "listen address {listen} is not loopback: anyone who can reach it could use your Zoho \
                 credentials; set allow_remote = true in [server] if that is really intended"
            );
            return Err(match span {
                Some(s) => self.at(s, msg),
                None => ConfigError::Syntax {
                    path: self.name.to_owned(),
                    message: msg,
                },
            });
        }
        let replay_buffer = match &raw.replay_buffer {
            None => 1 << 20,
            Some(s) => {
                let n = units::parse_size(s.get_ref()).map_err(|m| self.at(s, m))?;
                usize::try_from(n)
                    .ok()
                    .filter(|n| *n <= 64 << 20)
                    .ok_or_else(|| self.at(s, "replay_buffer is at most 64MiB"))?
            }
        };
        let replay_memory = match &raw.replay_memory {
            None => (64 << 20).max(replay_buffer),
            Some(s) => {
                let n = units::parse_size(s.get_ref()).map_err(|m| self.at(s, m))?;
                usize::try_from(n)
                    .ok()
                    .filter(|n| (replay_buffer..=1 << 30).contains(n))
                    .ok_or_else(|| {
                        self.at(
                            s,
                            "replay_memory is at least replay_buffer and at most 1GiB",
                        )
                    })?
            }
        };
        Ok(ServerConfig {
            listen,
            allow_remote,
            request_timeout: self.duration(&raw.request_timeout, Duration::from_secs(120))?,
            replay_buffer,
            replay_memory,
            shutdown_grace: self.duration(&raw.shutdown_grace, Duration::from_secs(30))?,
            pace: self.pace(raw)?,
            response_buffer: match &raw.response_buffer {
                None => 256 << 10,
                Some(s) => {
                    let n = units::parse_size(s.get_ref()).map_err(|m| self.at(s, m))?;
                    usize::try_from(n)
                        .ok()
                        .filter(|n| *n <= 16 << 20)
                        .ok_or_else(|| self.at(s, "response_buffer is at most 16MiB"))?
                }
            },
            max_connections: match &raw.max_connections {
                None => DEFAULT_MAX_CONNECTIONS,
                Some(s) if (1..=1_000_000).contains(s.get_ref()) => *s.get_ref() as usize,
                Some(s) => return Err(self.at(s, "max_connections is between 1 and 1000000")),
            },
            workers: match &raw.workers {
                None => crate::workers::default_count(),
                Some(s) if (1..=crate::workers::MAX_WORKERS).contains(&(*s.get_ref() as usize)) => {
                    *s.get_ref() as usize
                }
                Some(s) => {
                    return Err(self.at(
                        s,
                        format!("workers is between 1 and {}", crate::workers::MAX_WORKERS),
                    ))
                }
            },
        })
    }

    /// `body_idle_timeout`, `min_data_rate`, `min_rate_grace`.
    fn pace(&self, raw: &raw::RawServer) -> Result<Pace, ConfigError> {
        let d = Pace::default();
        let idle = self.duration(&raw.body_idle_timeout, d.idle)?;
        if let Some(s) = raw.body_idle_timeout.as_ref().filter(|_| idle.is_zero()) {
            return Err(self.at(s, "body_idle_timeout must be longer than 0s"));
        }
        let min_rate = match &raw.min_data_rate {
            None => d.min_rate,
            Some(s) => {
                let text = s.get_ref().trim();
                let size = text.strip_suffix("/s").unwrap_or(text);
                units::parse_size(size).map_err(|m| {
                    self.at(
                        s,
                        format!(
                            "min_data_rate: {m}; a size per second, e.g. \"1KiB\" (\"0\": off)"
                        ),
                    )
                })?
            }
        };
        Ok(Pace {
            idle,
            min_rate,
            grace: self.duration(&raw.min_rate_grace, d.grace)?,
        })
    }

    fn admin(&self, raw: &raw::RawAdmin) -> Result<AdminConfig, ConfigError> {
        let (listen, _) = self.listen(&raw.listen, "127.0.0.1:9901")?;
        Ok(AdminConfig { listen })
    }

    fn secret_source(&self, v: &raw::RawSecret) -> SecretSource {
        match v {
            raw::RawSecret::Inline(s) => SecretSource::Inline(Secret::new(s.clone())),
            raw::RawSecret::Env { env } => SecretSource::Env(env.clone()),
            raw::RawSecret::File { file } => SecretSource::File(self.base_dir.join(file)),
        }
    }

    fn secret(&self, v: Spanned<raw::RawSecret>, what: &str) -> Result<Secret, ConfigError> {
        match self.secret_source(v.get_ref()).resolve() {
            Ok(secret) => Ok(secret),
            Err(_) if self.pending_secrets => Ok(Secret::new("")),
            Err(e) => Err(self.at(&v, format!("{what}: {e}"))),
        }
    }

    fn zoho(&self, raw: raw::RawZoho) -> Result<ZohoConfig, ConfigError> {
        let data_center = match &raw.data_center {
            None => DataCenter::Us,
            Some(s) => s.get_ref().parse().map_err(|m: String| self.at(s, m))?,
        };
        let client_id = raw.client_id.get_ref().trim().to_owned();
        if client_id.is_empty() {
            return Err(self.at(&raw.client_id, "client_id is empty"));
        }
        let accounts_url = match &raw.accounts_url {
            Some(s) => self.url(s, "accounts_url")?,
            None => data_center
                .accounts_url()
                .parse()
                .expect("DC table URLs parse"),
        };
        let api_url = raw
            .api_url
            .as_ref()
            .map(|s| self.url(s, "api_url"))
            .transpose()?;
        let mut upstreams = BTreeMap::new();
        for (key, url) in &raw.upstreams {
            let upstream: Upstream = key.parse().map_err(|m: String| self.at(url, m))?;
            if upstream == Upstream::Api {
                return Err(self.at(url, "set the API host with api_url, not upstreams.api"));
            }
            upstreams.insert(upstream, self.url(url, &format!("upstreams.{key}"))?);
        }
        let extra_roots = match &raw.ca_file {
            None => Vec::new(),
            Some(s) => {
                let path: PathBuf = self.base_dir.join(s.get_ref());
                crate::tls::read_pem_certs(&path).map_err(|m| self.at(s, m))?
            }
        };
        let token_requests_per_10min = match &raw.token_requests_per_10min {
            None => ZOHO_TOKEN_LIMIT_PER_10MIN,
            Some(s) if (1..=ZOHO_TOKEN_LIMIT_PER_10MIN).contains(s.get_ref()) => *s.get_ref(),
            Some(s) => {
                return Err(self.at(
                    s,
                    format!(
                    "token_requests_per_10min must be between 1 and {ZOHO_TOKEN_LIMIT_PER_10MIN} \
                         (Zoho blocks a refresh token for the rest of the window past 10)"
                ),
                ))
            }
        };
        let accounts_timeout = self.duration(
            &raw.accounts_timeout,
            crate::token::accounts::DEFAULT_ACCOUNTS_TIMEOUT,
        )?;
        if let Some(s) = raw
            .accounts_timeout
            .as_ref()
            .filter(|_| accounts_timeout.is_zero())
        {
            return Err(self.at(s, "accounts_timeout must be longer than 0"));
        }
        let token_cache = match &raw.token_cache {
            None => None,
            Some(s) if s.get_ref().trim().is_empty() => {
                return Err(self.at(s, "token_cache is empty: leave it out to keep no cache"))
            }
            Some(s) => Some(self.base_dir.join(s.get_ref())),
        };
        let upstream_http = match &raw.upstream_http {
            None => UpstreamHttp::default(),
            Some(s) => s.get_ref().parse().map_err(|m: String| self.at(s, m))?,
        };
        Ok(ZohoConfig {
            upstream_http,
            data_center,
            client_id,
            client_secret_from: self.secret_source(raw.client_secret.get_ref()),
            refresh_token_from: self.secret_source(raw.refresh_token.get_ref()),
            client_secret: self.secret(raw.client_secret, "client_secret")?,
            refresh_token: self.secret(raw.refresh_token, "refresh_token")?,
            accounts_url,
            api_url,
            upstreams,
            extra_roots,
            refresh_before_expiry: self
                .duration(&raw.refresh_before_expiry, Duration::from_secs(300))?,
            token_requests_per_10min,
            accounts_timeout,
            rejected_token_min_age: self
                .duration(&raw.rejected_token_min_age, Duration::from_secs(30))?,
            token_cache,
        })
    }

    fn routes(
        &self,
        raw: Vec<raw::RawRoute>,
        credentials: &[CredentialConfig],
        replicas: u32,
    ) -> Result<RouteTable, ConfigError> {
        let mut routes = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            routes.push(self.route(i, r, credentials, replicas)?);
        }
        Ok(RouteTable::new(routes))
    }

    /// Which credential a route uses: named, or the only one there is.
    fn route_credential(
        &self,
        name: &str,
        r: &raw::RawRoute,
        credentials: &[CredentialConfig],
    ) -> Result<usize, ConfigError> {
        match &r.credential {
            Some(c) => credentials
                .iter()
                .position(|k| k.name == *c.get_ref())
                .ok_or_else(|| {
                    let known: Vec<&str> = credentials.iter().map(|k| k.name.as_str()).collect();
                    self.at(
                        c,
                        format!(
                            "route {name}: no credential named {:?} (there are: {})",
                            c.get_ref(),
                            known.join(", ")
                        ),
                    )
                }),
            None if credentials.len() == 1 => Ok(0),
            None => Err(self.at(
                &r.path,
                format!(
                    "route {name}: several credentials exist; say which with credential = \"...\""
                ),
            )),
        }
    }

    /// `strip_prefix`: literal, starts with `/`, does not end with `/`, and
    /// is a whole-segment prefix of the route's path pattern.
    fn strip_prefix(&self, name: &str, r: &raw::RawRoute) -> Result<Option<String>, ConfigError> {
        let Some(p) = &r.strip_prefix else {
            return Ok(None);
        };
        let prefix = p.get_ref();
        let literal = prefix.starts_with('/')
            && !prefix.ends_with('/')
            && prefix.len() > 1
            && !prefix.contains(['*', '?', '%', '\\'])
            && !prefix
                .split('/')
                .skip(1)
                .any(|s| s.is_empty() || s == "." || s == "..");
        if !literal {
            return Err(self.at(
                p,
                format!(
                    "route {name}: strip_prefix {prefix:?} must be a literal path like \"/sandbox\" \
                     (starts with /, no trailing /, no wildcards)"
                ),
            ));
        }
        let path = r.path.get_ref();
        let at_boundary = path
            .strip_prefix(prefix.as_str())
            .is_some_and(|rest| rest.starts_with('/'));
        if !at_boundary {
            return Err(self.at(
                p,
                format!("route {name}: strip_prefix {prefix:?} is not a leading part of its path {path:?}"),
            ));
        }
        Ok(Some(prefix.clone()))
    }

    fn scope<T>(&self, span: &Spanned<T>, text: &str) -> Result<Scope, ConfigError> {
        text.parse::<Scope>()
            .map_err(|e| self.at(span, e.to_string()))
    }

    fn route(
        &self,
        index: usize,
        r: raw::RawRoute,
        credentials: &[CredentialConfig],
        replicas: u32,
    ) -> Result<Route, ConfigError> {
        let name = r.name.clone().unwrap_or_else(|| format!("routes[{index}]"));
        let credential = self.route_credential(&name, &r, credentials)?;
        let strip_prefix = self.strip_prefix(&name, &r)?;
        let credits = self.route_credits(&name, &r, &credentials[credential])?;
        let pattern: PathPattern = r
            .path
            .get_ref()
            .parse()
            .map_err(|e| self.at(&r.path, format!("route {name}: bad path pattern: {e}")))?;
        let methods = match &r.methods {
            None => MethodSet::default_methods(),
            Some(list) => {
                let mut set = MethodSet::empty();
                for m in list {
                    set.insert(m.get_ref())
                        .map_err(|e| self.at(m, format!("route {name}: {e}")))?;
                }
                set
            }
        };
        let scopes = r
            .scopes
            .iter()
            .map(|s| self.scope(s, s.get_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let requires = match r.requires {
            None => None,
            Some(spanned) => {
                let list: Vec<Scope> = spanned
                    .get_ref()
                    .clone_strings()
                    .iter()
                    .map(|s| self.scope(&spanned, s))
                    .collect::<Result<_, _>>()?;
                if list.is_empty() {
                    return Err(
                        self.at(&spanned, format!("route {name}: requires is an empty list"))
                    );
                }
                Some(list)
            }
        };
        let mut headers = Vec::new();
        for (k, v) in &r.headers {
            let hn = HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                self.at(v, format!("route {name}: {k:?} is not a valid header name"))
            })?;
            if crate::proxy::headers::is_reserved(&hn) {
                return Err(self.at(
                    v,
                    format!(
                        "route {name}: header {k:?} is set by the proxy and cannot be configured"
                    ),
                ));
            }
            let hv = HeaderValue::from_str(v.get_ref()).map_err(|_| {
                self.at(
                    v,
                    format!("route {name}: header {k:?} has an invalid value"),
                )
            })?;
            headers.push((hn, hv));
        }
        let upstream = match &r.upstream {
            None => Upstream::Api,
            Some(s) => s.get_ref().parse().map_err(|m: String| self.at(s, m))?,
        };
        let limit = match &r.rate_limit {
            None => None,
            Some(l) => {
                let spec = self.own_limit(&format!("route {name}"), l.get_ref())?;
                Some(Limit::shared(&name, spec, replicas))
            }
        };
        Ok(Route {
            name,
            pattern,
            methods,
            scopes: ScopeSet::new(scopes),
            requires,
            headers,
            upstream,
            limit,
            credential,
            strip_prefix,
            credits,
        })
    }
}

impl raw::OneOrMany {
    fn clone_strings(&self) -> Vec<String> {
        match self {
            raw::OneOrMany::One(s) => vec![s.clone()],
            raw::OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// A credential's or client's name: `[a-z0-9_-]+`.
pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

#[cfg(test)]
mod tests;
