//! The request path. [`Proxy::pipeline`] is the whole story, stage by stage:
//!
//! ```text
//! target → canonicalize → route + scope → body → token → granted?
//!        → [ limit → rewrite + forward → classify: 401 refresh+replay / retry? ]   (exchange.rs)
//! ```
//!
//! Each stage is a small function; any stage can end the request with a
//! [`ProxyError`], which becomes a response in exactly one place.

mod exchange;
pub mod headers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use http::{HeaderValue, Method, Request, Response};
use hyper::body::Incoming;
use tokio::sync::{watch, Semaphore};

use crate::body::ProxyBody;
use crate::canon::{canonicalize, CanonicalPath};
use crate::config::{Config, ZohoConfig};
use crate::error::ProxyError;
use crate::limit::Limits;
use crate::metrics::Metrics;
use crate::route::{Decision, Denial, Route};
use crate::tls::TlsError;
use crate::token::{AccessToken, TokenManager};
use crate::upstream::UpstreamClient;
use exchange::RequestBody;

/// One request on its way to Zoho: what every attempt needs.
struct Call<'a> {
    active: &'a Active,
    parts: &'a http::request::Parts,
    route: &'a Route,
    path: &'a CanonicalPath,
    heavy: bool,
}

/// What a request runs with, swapped as a whole on reload: a request keeps
/// the generation it started with until it ends.
pub struct Active {
    pub config: Arc<Config>,
    pub tokens: Arc<TokenManager>,
    client: UpstreamClient,
    limits: Arc<Limits>,
    /// Bytes of request bodies kept for replay, all requests together.
    replay: Arc<Semaphore>,
}

/// Everything the request path needs; cheap to share behind an `Arc`.
pub struct Proxy {
    active: ArcSwap<Active>,
    metrics: Arc<Metrics>,
    /// Bumped when a reload replaced the token manager (credential change),
    /// so the refresh loop moves to the new one.
    tokens_changed: watch::Sender<u64>,
}

/// What the request log line reports about a request.
#[derive(Default)]
struct Outcome {
    route: Option<String>,
    /// Replayed after Zoho rejected the token.
    replayed: bool,
    /// Retries after 429, 5xx or connection failures.
    retries: u32,
    /// Time spent waiting for Zoho's response heads.
    upstream: Duration,
}

/// What a reload changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reloaded {
    /// Routes, limits, upstream settings; the token is kept.
    Settings,
    /// The credential (or where it is sent) changed: a fresh token.
    Credential,
}

impl Proxy {
    pub fn new(config: Arc<Config>, metrics: Arc<Metrics>) -> Result<Self, TlsError> {
        let active = Active::build(config, &metrics)?;
        Ok(Proxy {
            active: ArcSwap::from_pointee(active),
            metrics,
            tokens_changed: watch::channel(0).0,
        })
    }

    pub fn config(&self) -> Arc<Config> {
        self.active.load().config.clone()
    }

    pub fn tokens(&self) -> Arc<TokenManager> {
        self.active.load().tokens.clone()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Tells when a reload replaced the token manager.
    pub fn tokens_changed(&self) -> watch::Receiver<u64> {
        self.tokens_changed.subscribe()
    }

    /// Swaps in `config` for requests that start from now on. In-flight
    /// requests finish with what they started with. The token, the client and
    /// the shaping state are kept unless what they depend on changed.
    pub fn reload(&self, config: Arc<Config>) -> Result<Reloaded, TlsError> {
        let old = self.active.load_full();
        let same_credential = same_credential(&old.config.zoho, &config.zoho);
        // Memory for kept bodies is the process's, whatever the credential.
        let replay = if old.config.server.replay_memory == config.server.replay_memory {
            old.replay.clone()
        } else {
            replay_budget(&config)
        };
        let next = if same_credential {
            let limits = if old.config.rate_limit == config.rate_limit {
                old.limits.clone()
            } else {
                limits_for(&config)
            };
            Active {
                config,
                tokens: old.tokens.clone(),
                client: old.client.clone(),
                limits,
                replay,
            }
        } else {
            Active {
                replay,
                ..Active::build(config, &self.metrics)?
            }
        };
        self.active.store(Arc::new(next));
        if same_credential {
            Ok(Reloaded::Settings)
        } else {
            self.tokens_changed.send_modify(|n| *n += 1);
            Ok(Reloaded::Credential)
        }
    }

    /// Serves one request. Never fails: errors become Zoho-style answers.
    pub async fn handle(&self, mut req: Request<Incoming>) -> Response<ProxyBody> {
        let started = Instant::now();
        let _in_flight = self.metrics.in_flight();
        let request_id = request_id(&mut req);
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let mut outcome = Outcome::default();
        let mut resp = match self.pipeline(req, &mut outcome).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::debug!(request_id = %request_id.to_str().unwrap_or("-"), error = %e, code = e.code(), "request refused");
                e.into_response()
            }
        };
        let took = started.elapsed();
        tracing::info!(
            request_id = request_id.to_str().unwrap_or("-"),
            method = %method,
            path = %path,
            route = outcome.route.as_deref().unwrap_or("-"),
            status = resp.status().as_u16(),
            duration_ms = took.as_millis() as u64,
            upstream_ms = outcome.upstream.as_millis() as u64,
            retries = outcome.retries,
            replayed = outcome.replayed,
            "request"
        );
        self.metrics.request(
            outcome.route.as_deref(),
            &method,
            resp.status().as_u16(),
            took,
        );
        resp.headers_mut().insert(REQUEST_ID, request_id);
        resp
    }

    async fn pipeline(
        &self,
        req: Request<Incoming>,
        outcome: &mut Outcome,
    ) -> Result<Response<ProxyBody>, ProxyError> {
        let active = self.active.load_full();
        let config = &active.config;
        check_target(&req)?;
        let path = canonicalize(req.uri().path())?;
        let decision = decide(config, req.method(), &path)?;
        let route = decision.route;
        outcome.route = Some(route.name.clone());

        let (parts, body) = req.into_parts();
        let server = &config.server;
        let mut body =
            RequestBody::read(body, server.replay_buffer, &active.replay, server.pace).await?;
        let token = active.tokens.token().await?;
        check_granted(&token, &decision, &parts.method, &path)?;
        let call = Call {
            active: &active,
            parts: &parts,
            route,
            path: &path,
            heavy: decision.heavy,
        };
        self.exchange(&call, token, &mut body, outcome).await
    }
}

impl Active {
    fn build(config: Arc<Config>, metrics: &Arc<Metrics>) -> Result<Self, TlsError> {
        let client = UpstreamClient::new(&config.zoho.extra_roots)?;
        let tokens = Arc::new(
            TokenManager::for_config(client.clone(), &config.zoho).with_metrics(metrics.clone()),
        );
        let limits = limits_for(&config);
        let replay = replay_budget(&config);
        Ok(Active {
            config,
            tokens,
            client,
            limits,
            replay,
        })
    }
}

/// Fresh shaping state for a config's `[rate_limit]`.
fn limits_for(config: &Config) -> Arc<Limits> {
    Arc::new(Limits::new(
        config.rate_limit.credential,
        config.rate_limit.max_wait,
    ))
}

/// A fresh budget of `replay_memory` bytes for kept request bodies.
fn replay_budget(config: &Config) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(config.server.replay_memory))
}

/// Whether two configs mint and send the same credential the same way.
fn same_credential(a: &ZohoConfig, b: &ZohoConfig) -> bool {
    a.client_id == b.client_id
        && a.client_secret == b.client_secret
        && a.refresh_token == b.refresh_token
        && a.accounts_url == b.accounts_url
        && a.extra_roots == b.extra_roots
        && a.refresh_before_expiry == b.refresh_before_expiry
        && a.token_requests_per_10min == b.token_requests_per_10min
}

pub const REQUEST_ID: &str = "x-request-id";

/// The client's `x-request-id` if it is sane (visible ASCII, at most 128
/// bytes), else a new random one, which is also forwarded to Zoho.
fn request_id<B>(req: &mut Request<B>) -> HeaderValue {
    let given = req.headers().get(REQUEST_ID).filter(|v| {
        let b = v.as_bytes();
        !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
    });
    if let Some(id) = given {
        return id.clone();
    }
    let id = HeaderValue::from_str(&format!(
        "{:016x}{:016x}",
        crate::retry::random(),
        crate::retry::random()
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("-"));
    req.headers_mut().insert(REQUEST_ID, id.clone());
    id
}

/// Stage 1: only origin-form targets; the `Host` header is never consulted.
fn check_target<B>(req: &Request<B>) -> Result<(), ProxyError> {
    if req.method() == Method::CONNECT {
        return Err(ProxyError::Connect);
    }
    if req.uri().scheme().is_some() || req.uri().authority().is_some() {
        return Err(ProxyError::AbsoluteForm(req.uri().to_string()));
    }
    Ok(())
}

/// Stage 3: the route table's decision, as a proxy error.
fn decide<'c>(
    config: &'c Config,
    method: &Method,
    path: &CanonicalPath,
) -> Result<Decision<'c>, ProxyError> {
    config.routes.decide(method, path).map_err(|d| {
        let (method, path) = (method.to_string(), path.to_string());
        match d {
            Denial::NoRoute => ProxyError::NoRoute { method, path },
            Denial::ScopeUnknown { route } => ProxyError::ScopeUnknown {
                route,
                method,
                path,
            },
            Denial::ScopeNotAllowed {
                route,
                required,
                missing,
            } => ProxyError::ScopeNotAllowed {
                route,
                required,
                missing,
                method,
                path,
            },
        }
    })
}

/// After the token: when Zoho told us what the token was granted, a request
/// needing more is refused here rather than by Zoho's `OAUTH_SCOPE_MISMATCH`.
fn check_granted(
    token: &AccessToken,
    decision: &Decision<'_>,
    method: &Method,
    path: &CanonicalPath,
) -> Result<(), ProxyError> {
    let Some(granted) = &token.granted else {
        return Ok(());
    };
    let missing = granted.missing(&decision.required);
    if missing.is_empty() {
        return Ok(());
    }
    Err(ProxyError::ScopeNotGranted {
        route: decision.route.name.clone(),
        missing: missing.iter().map(|s| s.to_string()).collect(),
        method: method.to_string(),
        path: path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_must_be_origin_form() {
        let ok = Request::get("/crm/v2/Leads").body(()).unwrap();
        assert!(check_target(&ok).is_ok());
        let abs = Request::get("http://evil.example/crm/v2/Leads")
            .body(())
            .unwrap();
        assert_eq!(check_target(&abs).unwrap_err().code(), "BAD_REQUEST_TARGET");
        let connect = Request::connect("evil.example:443").body(()).unwrap();
        assert_eq!(
            check_target(&connect).unwrap_err().code(),
            "METHOD_NOT_ALLOWED"
        );
    }
}
