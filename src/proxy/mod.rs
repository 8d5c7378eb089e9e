//! The request path. [`Proxy::pipeline`] is the whole story, stage by stage:
//!
//! ```text
//! target → canonicalize → route + scope → body → inspect → token → granted?
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
use tokio::sync::Semaphore;

use crate::body::ProxyBody;
use crate::canon::{canonicalize, CanonicalPath};
use crate::config::Config;
use crate::credential::{Cluster, Credential, CredentialError, Refresh};
use crate::error::ProxyError;
use crate::metrics::{Metrics, RouteSeries};
use crate::route::{Decision, Denial, Route};
use crate::token::{AccessToken, TokenManager};
use exchange::{RequestBody, Unkept};

/// One request on its way to Zoho: what every attempt needs.
struct Call<'a> {
    active: &'a Active,
    credential: &'a Credential,
    parts: &'a http::request::Parts,
    route: &'a Route,
    /// The path Zoho gets (the route's `strip_prefix` removed).
    path: &'a CanonicalPath,
    heavy: bool,
    /// When the client stops waiting for Zoho (`request_timeout` after arrival).
    deadline: Option<tokio::time::Instant>,
}

/// What a request runs with, swapped as a whole on reload: a request keeps
/// the generation it started with until it ends.
pub struct Active {
    pub config: Arc<Config>,
    /// One per `config.credentials`, in the same order.
    credentials: Vec<Arc<Credential>>,
    /// One per route, in table order: its metric series, resolved once.
    series: Vec<Arc<RouteSeries>>,
    /// Bytes of request bodies kept for replay, all requests together.
    replay: Arc<Semaphore>,
}

/// Everything the request path needs; cheap to share behind an `Arc`.
pub struct Proxy {
    active: ArcSwap<Active>,
    metrics: Arc<Metrics>,
    refresh: Refresh,
    /// The shared store, with `[cluster]` (fixed for the process's life).
    cluster: Option<Cluster>,
}

/// What the request log line reports about a request.
#[derive(Default)]
struct Outcome {
    /// The route's series (with its name and its credential's), once routed.
    route: Option<Arc<RouteSeries>>,
    /// Replayed after Zoho rejected the token.
    replayed: bool,
    /// Retries after 429, 5xx or connection failures.
    retries: u32,
    /// Time spent waiting for Zoho's response heads.
    upstream: Duration,
}

/// What a reload did to the credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// Credentials that went on with the token they had: no mint.
    pub kept: Vec<String>,
    /// Credentials that are new or changed so that they need a new token.
    pub renewed: Vec<String>,
}

impl Proxy {
    /// A proxy whose credentials keep their tokens fresh as `refresh` says.
    pub fn new(
        config: Arc<Config>,
        metrics: Arc<Metrics>,
        refresh: Refresh,
    ) -> Result<Self, CredentialError> {
        // `check --online` (on demand) needs no shared store.
        let cluster = match (&config.cluster, refresh) {
            (Some(c), Refresh::Background) => Some(Cluster::new(c, &metrics)?),
            _ => None,
        };
        let credentials = config
            .credentials
            .iter()
            .map(|c| Credential::new(c.clone(), &metrics, refresh, cluster.as_ref()).map(Arc::new))
            .collect::<Result<_, _>>()?;
        let active = Active {
            replay: replay_budget(&config),
            series: route_series(&config, &metrics),
            config,
            credentials,
        };
        Ok(Proxy {
            active: ArcSwap::from_pointee(active),
            metrics,
            refresh,
            cluster,
        })
    }

    pub fn config(&self) -> Arc<Config> {
        self.active.load().config.clone()
    }

    /// The credentials of the current generation.
    pub fn credentials(&self) -> Vec<Arc<Credential>> {
        self.active.load().credentials.clone()
    }

    /// The credential called `name` in the current generation.
    pub fn credential(&self, name: &str) -> Option<Arc<Credential>> {
        self.active
            .load()
            .credentials
            .iter()
            .find(|c| c.name() == name)
            .cloned()
    }

    /// The token manager of the first (with `[zoho]`, the only) credential.
    pub fn tokens(&self) -> Arc<TokenManager> {
        self.active.load().credentials[0].tokens().clone()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The shared store, with `[cluster]`.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// Swaps in `config` for requests that start from now on. In-flight
    /// requests finish with what they started with. Each credential decides
    /// what of itself survives ([`Credential::next`]).
    pub fn reload(&self, config: Arc<Config>) -> Result<Reloaded, CredentialError> {
        let old = self.active.load_full();
        if old.config.cluster != config.cluster {
            tracing::warn!(
                "[cluster] cannot change without a restart; the old settings stay in use"
            );
        }
        let mut outcome = Reloaded::default();
        let mut credentials = Vec::with_capacity(config.credentials.len());
        for c in &config.credentials {
            let before = old.credentials.iter().find(|o| o.name() == c.name);
            let next = Credential::next(
                before,
                c.clone(),
                &self.metrics,
                self.refresh,
                self.cluster.as_ref(),
            )?;
            let kept = before
                .is_some_and(|b| next.shares_token_with(b) || next.tokens().current().is_some());
            if kept {
                outcome.kept.push(c.name.clone());
            } else {
                outcome.renewed.push(c.name.clone());
            }
            credentials.push(next);
        }
        // Memory for kept bodies is the process's, whatever the credentials.
        let replay = if old.config.server.replay_memory == config.server.replay_memory {
            old.replay.clone()
        } else {
            replay_budget(&config)
        };
        self.active.store(Arc::new(Active {
            series: route_series(&config, &self.metrics),
            config,
            credentials,
            replay,
        }));
        Ok(outcome)
    }

    /// Serves one request. Never fails: errors become Zoho-style answers.
    pub async fn handle(&self, mut req: Request<Incoming>) -> Response<ProxyBody> {
        let started = Instant::now();
        let _in_flight = self.metrics.in_flight();
        let request_id = request_id(&mut req);
        let method = req.method().clone();
        // Shares the request's bytes: no copy of the path for the log line.
        let uri = req.uri().clone();
        let mut outcome = Outcome::default();
        let mut resp = match self.pipeline(req, &mut outcome).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::debug!(request_id = %request_id.to_str().unwrap_or("-"), error = %e, code = e.code(), "request refused");
                e.into_response_for(outcome.route.as_deref().map(RouteSeries::credential))
            }
        };
        let took = started.elapsed();
        let status = resp.status().as_u16();
        let route = outcome.route.as_deref();
        tracing::info!(
            request_id = request_id.to_str().unwrap_or("-"),
            method = method.as_str(),
            path = uri.path(),
            route = route.map_or("-", RouteSeries::route),
            credential = route.map_or("-", RouteSeries::credential),
            status,
            duration_ms = took.as_millis() as u64,
            upstream_ms = outcome.upstream.as_millis() as u64,
            retries = outcome.retries,
            replayed = outcome.replayed,
            "request"
        );
        route
            .unwrap_or(self.metrics.unrouted())
            .request(&method, status, took);
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
        let deadline = Some(tokio::time::Instant::now() + config.server.request_timeout);
        check_target(&req)?;
        let path = canonicalize(req.uri().path())?;
        let mut decision = decide(config, req.method(), &path)?;
        let route = decision.route;
        let credential = active.credentials.get(route.credential).ok_or_else(|| {
            ProxyError::Internal(format!("route {} has no credential", route.name))
        })?;
        outcome.route = active.series.get(decision.position).cloned();

        let (parts, body) = req.into_parts();
        let server = &config.server;
        let mut body =
            RequestBody::read(body, server.replay_buffer, &active.replay, server.pace).await?;
        inspect_body(&mut decision, &parts.method, &body, server.replay_buffer)?;
        let token = credential.tokens().token(deadline).await?;
        check_granted(&token, &decision, &parts.method, &decision.forward)?;
        let call = Call {
            active: &active,
            credential,
            parts: &parts,
            route,
            path: &decision.forward,
            heavy: decision.heavy,
            deadline,
        };
        self.exchange(&call, token, &mut body, outcome).await
    }
}

/// Each route's metric series, in table order.
fn route_series(config: &Config, metrics: &Metrics) -> Vec<Arc<RouteSeries>> {
    config
        .routes
        .iter()
        .map(|r| {
            let credential = config.credentials.get(r.credential).map_or("", |c| &c.name);
            metrics.route_series(credential, &r.name)
        })
        .collect()
}

/// A fresh budget of `replay_memory` bytes for kept request bodies.
fn replay_budget(config: &Config) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(config.server.replay_memory))
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
    // 32 hex digits, written in place: no formatting machinery, one copy.
    let mut hex = [0u8; 32];
    let random = [crate::retry::random(), crate::retry::random()];
    for (i, digit) in hex.iter_mut().enumerate() {
        let word = random[i / 16];
        let nibble = (word >> (60 - 4 * (i % 16))) & 0xf;
        *digit = b"0123456789abcdef"[nibble as usize];
    }
    let id = HeaderValue::from_bytes(&hex).unwrap_or_else(|_| HeaderValue::from_static("-"));
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
                required: required.into(),
                missing: missing.into(),
                method,
                path,
                needed_by: None,
            },
        }
    })
}

/// Stage 5: where the catalog says the body names what the call touches,
/// the body (kept whole, at most `replay_buffer`) must be understood and
/// covered by the route's scopes; what it needs joins `decision.required`.
fn inspect_body(
    decision: &mut Decision<'_>,
    method: &Method,
    body: &RequestBody,
    limit: usize,
) -> Result<(), ProxyError> {
    if decision.inspect.is_none() {
        return Ok(());
    }
    let (method_s, path) = (method.to_string(), decision.forward.to_string());
    match body.kept() {
        Ok(bytes) => crate::inspect::check(decision, method, bytes),
        Err(Unkept::TooLarge) => Err(ProxyError::BodyTooLarge {
            method: method_s,
            path,
            limit,
        }),
        Err(Unkept::NoMemory) => Err(ProxyError::BodyMemoryBusy {
            method: method_s,
            path,
        }),
    }
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
