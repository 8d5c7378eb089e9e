//! The request path. [`Proxy::pipeline`] is the whole story, stage by stage:
//!
//! ```text
//! client key → target → canonicalize → route + scope → body → inspect → token → granted?
//!        → [ limit → rewrite + forward → classify: 401 refresh+replay / retry? ]   (exchange.rs)
//! ```
//!
//! Each stage is a small function; any stage can end the request with a
//! [`ProxyError`], which becomes a response in exactly one place.

mod exchange;
pub mod headers;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use http::{HeaderName, HeaderValue, Method, Request, Response, Uri};
use hyper::body::Incoming;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::body::ProxyBody;
use crate::canon::{canonicalize, CanonicalPath};
use crate::clients::peers::Failures;
use crate::clients::{Client, KeyError};
use crate::config::Config;
use crate::credential::{Cluster, Credential, CredentialError, Refresh};
use crate::error::ProxyError;
use crate::metrics::{Metrics, RouteSeries};
use crate::route::{Decision, Denial, Route};
use crate::token::rejection::Product;
use crate::token::{AccessToken, TokenManager};
pub use exchange::upstream_uri;
use exchange::{RequestBody, Unkept};

/// One request on its way to Zoho: what every attempt needs.
struct Call<'a> {
    active: &'a Active,
    /// Who sent it, with `[[clients]]`.
    client: Option<&'a Client>,
    credential: &'a Credential,
    parts: &'a http::request::Parts,
    route: &'a Route,
    /// The route's metric series.
    series: &'a RouteSeries,
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
    /// Failed client keys per peer address (kept across reloads).
    failures: Failures,
}

/// What the request log line reports about a request.
#[derive(Default)]
struct Outcome {
    /// The client whose key was accepted.
    client: Option<String>,
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
            failures: Failures::default(),
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

    /// `/credits`: each credential's API credits in the last 24 hours, its
    /// budget and what is left, and the same for each of its routes.
    pub fn credits_report(&self) -> serde_json::Value {
        let active = self.active.load();
        let mut out = serde_json::Map::new();
        for (i, credential) in active.credentials.iter().enumerate() {
            let budget = &credential.config().credits;
            let routes = active.config.routes.of_credential(i);
            let (total, routes) = credential
                .credits()
                .usage(budget, routes.map(|r| (r.name.as_str(), &r.credits)));
            if let Some(left) = total.remaining {
                self.metrics.credits_remaining(credential.name(), left);
            }
            let mut entry = serde_json::json!(total);
            entry["reserve"] = serde_json::Value::from(budget.reserve);
            let clients = credential.credits().clients_spent();
            if !clients.is_empty() {
                entry["clients"] = clients
                    .into_iter()
                    .map(|(name, spent)| (name, serde_json::json!({ "spent": spent })))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            entry["routes"] = routes
                .into_iter()
                .map(|(name, usage)| (name, serde_json::json!(usage)))
                .collect::<serde_json::Map<_, _>>()
                .into();
            out.insert(credential.name().to_owned(), entry);
        }
        serde_json::json!({ "window": "24h", "credentials": out })
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
        let peer = req.extensions().get::<Peer>().map(|p| p.0.ip());
        let mut outcome = Outcome::default();
        let mut resp = match self.pipeline(req, peer, &mut outcome).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::debug!(request_id = %request_id.to_str().unwrap_or("-"), client = outcome.client.as_deref().unwrap_or("-"), error = %e, code = e.code(), "request refused");
                e.into_response_for(
                    outcome.client.as_deref(),
                    outcome.route.as_deref().map(RouteSeries::credential),
                )
            }
        };
        let took = started.elapsed();
        let status = resp.status().as_u16();
        let route = outcome.route.as_deref();
        tracing::info!(
            request_id = request_id.to_str().unwrap_or("-"),
            method = method.as_str(),
            path = uri.path(),
            client = outcome.client.as_deref().unwrap_or("-"),
            route = route.map_or("-", RouteSeries::route),
            credential = route.map_or("-", RouteSeries::credential),
            status,
            duration_ms = took.as_millis() as u64,
            upstream_ms = outcome.upstream.as_millis() as u64,
            retries = outcome.retries,
            replayed = outcome.replayed,
            "request"
        );
        route.unwrap_or(self.metrics.unrouted()).request(
            outcome.client.as_deref(),
            &method,
            status,
            took,
        );
        resp.headers_mut().insert(REQUEST_ID, request_id);
        resp
    }

    async fn pipeline(
        &self,
        req: Request<Incoming>,
        peer: Option<IpAddr>,
        outcome: &mut Outcome,
    ) -> Result<Response<ProxyBody>, ProxyError> {
        let active = self.active.load_full();
        let config = &active.config;
        let deadline = Some(tokio::time::Instant::now() + config.server.request_timeout);
        let client = self.authenticate(config, req.headers(), peer).await?;
        outcome.client = client.map(|c| c.name.clone());
        let path = target_path(req.method(), req.uri())?;
        let mut decision = decide(config, client, req.method(), &path)?;
        let route = decision.route;
        let credential = active.credentials.get(route.credential).ok_or_else(|| {
            ProxyError::Internal(format!("route {} has no credential", route.name))
        })?;
        let series = active.series.get(decision.position).ok_or_else(|| {
            ProxyError::Internal(format!("route {} has no metric series", route.name))
        })?;
        outcome.route = Some(series.clone());

        let (parts, body) = req.into_parts();
        let server = &config.server;
        let mut body =
            RequestBody::read(body, server.replay_buffer, &active.replay, server.pace).await?;
        inspect_body(&mut decision, &parts.method, &body, server.replay_buffer)?;
        let mut charge = charge_credits(credential, client, &decision, &parts, &body)?;
        let token = credential.tokens().token(deadline).await?;
        check_granted(&token, &decision, &parts.method, &decision.forward)?;
        let call = Call {
            active: &active,
            client,
            credential,
            parts: &parts,
            route,
            series,
            path: &decision.forward,
            heavy: decision.heavy,
            deadline,
        };
        self.exchange(&call, token, &mut body, &mut charge, outcome)
            .await
    }

    /// Stage 1: with `[[clients]]`, the client's key before anything else
    /// (an unknown caller learns nothing about the routes). A peer that
    /// keeps failing gets its answers late ([`Failures`]).
    async fn authenticate<'c>(
        &self,
        config: &'c Config,
        headers: &http::HeaderMap,
        peer: Option<IpAddr>,
    ) -> Result<Option<&'c Client>, ProxyError> {
        match config.clients.authenticate(headers) {
            Ok(client) => Ok(client),
            Err(e) => {
                let hold = peer.map_or(Duration::ZERO, |ip| self.failures.record(ip));
                let reason = match e {
                    KeyError::Missing => "missing",
                    KeyError::Invalid | KeyError::Conflicting => "invalid",
                };
                self.metrics.client_key_failure(reason, !hold.is_zero());
                if !hold.is_zero() {
                    tokio::time::sleep(hold).await;
                }
                Err(ProxyError::ClientKey(e))
            }
        }
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

/// The peer's address, put in each request's extensions by the server.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// A fresh budget of `replay_memory` bytes for kept request bodies.
fn replay_budget(config: &Config) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(config.server.replay_memory))
}

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The client's `x-request-id` if it is sane (visible ASCII, at most 128
/// bytes), else a new random one, which is also forwarded to Zoho.
fn request_id<B>(req: &mut Request<B>) -> HeaderValue {
    let given = req.headers().get(REQUEST_ID).filter(|v| {
        let b = v.as_bytes();
        !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
    });
    if let Some(id) = given {
        let id = id.clone();
        never_indexed(req, id.clone());
        return id;
    }
    // 32 hex digits, written in place: no formatting machinery, one copy.
    let mut hex = [0u8; 32];
    let random = [crate::hash::random(), crate::hash::random()];
    for (i, digit) in hex.iter_mut().enumerate() {
        let word = random[i / 16];
        let nibble = (word >> (60 - 4 * (i % 16))) & 0xf;
        *digit = b"0123456789abcdef"[nibble as usize];
    }
    let id = HeaderValue::from_bytes(&hex).unwrap_or_else(|_| HeaderValue::from_static("-"));
    never_indexed(req, id.clone());
    id
}

/// Sets the request ID that Zoho gets, marked for HTTP/2 as never indexed:
/// each request's ID is new, so HPACK would add every one to its table and,
/// with the table full of them, compare the next against them all (about 50
/// comparisons a request: HPACK cost 9,000 instructions per request, now
/// 5,200).
fn never_indexed<B>(req: &mut Request<B>, mut id: HeaderValue) {
    id.set_sensitive(true);
    req.headers_mut().insert(REQUEST_ID, id);
}

/// Stages 1 and 2: only origin-form targets (the `Host` header is never
/// consulted), and their path reduced to the one canonical string that is
/// matched and forwarded.
pub fn target_path(method: &Method, uri: &Uri) -> Result<CanonicalPath, ProxyError> {
    if method == Method::CONNECT {
        return Err(ProxyError::Connect);
    }
    if uri.scheme().is_some() || uri.authority().is_some() {
        return Err(ProxyError::AbsoluteForm(uri.to_string()));
    }
    Ok(canonicalize(uri.path())?)
}

/// Stage 3: the route table's decision (among the client's routes), as a
/// proxy error. A path only routes the client may not use would take is
/// `CLIENT_ROUTE_NOT_ALLOWED`.
fn decide<'c>(
    config: &'c Config,
    client: Option<&Client>,
    method: &Method,
    path: &CanonicalPath,
) -> Result<Decision<'c>, ProxyError> {
    let usable = |i| client.is_none_or(|c| c.may_use(i));
    config
        .routes
        .decide_where(method, path, usable)
        .map_err(|d| {
            let other_route = || config.routes.find(method, path).is_some();
            let (method, path) = (method.to_string(), path.to_string());
            match d {
                Denial::NoRoute => match client {
                    Some(c) if c.routes().is_some() && other_route() => {
                        ProxyError::ClientRouteNotAllowed {
                            client: c.name.clone(),
                            method,
                            path,
                        }
                    }
                    _ => ProxyError::NoRoute { method, path },
                },
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

/// Stage 6: what the call costs in API credits, charged now if every budget
/// it falls under has room (given back if nothing reaches Zoho), else 429
/// before the token stage: a refused call costs Zoho nothing.
fn charge_credits(
    credential: &Credential,
    client: Option<&crate::clients::Client>,
    decision: &Decision<'_>,
    parts: &http::request::Parts,
    body: &RequestBody,
) -> Result<crate::credits::Charge, ProxyError> {
    let route = decision.route;
    let cost = route.credits.price.unwrap_or_else(|| {
        let path = decision.forward.as_str();
        crate::credits::cost::cost(
            Product::of(route.upstream, path),
            &parts.method,
            path,
            parts.uri.query(),
            body.kept().ok().map(|b| &b[..]),
        )
    });
    credential
        .credits()
        .reserve(
            &credential.config().credits,
            &route.name,
            &route.credits,
            client.map(|c| (c.name.as_str(), c.daily_credits)),
            cost,
        )
        .map_err(|exhausted| ProxyError::CreditBudgetExhausted {
            route: route.name.clone(),
            exhausted,
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

    fn target(method: Method, target: &str) -> Result<CanonicalPath, ProxyError> {
        target_path(&method, &target.parse().unwrap())
    }

    #[test]
    fn targets_must_be_origin_form() {
        let ok = target(Method::GET, "/crm/v2/%4ceads?x=%2e%2e").unwrap();
        assert_eq!(ok.as_str(), "/crm/v2/Leads");
        let abs = target(Method::GET, "http://evil.example/crm/v2/Leads");
        assert_eq!(abs.unwrap_err().code(), "BAD_REQUEST_TARGET");
        let connect = target(Method::CONNECT, "evil.example:443");
        assert_eq!(connect.unwrap_err().code(), "METHOD_NOT_ALLOWED");
        let bad = target(Method::GET, "/crm/v2/Leads/%2e%2e/Deals");
        assert_eq!(bad.unwrap_err().code(), "INVALID_PATH");
    }

    #[test]
    fn request_ids_are_kept_or_made_and_never_indexed_by_hpack() {
        let mut req = Request::new(());
        let made = request_id(&mut req);
        assert_eq!(made.len(), 32);
        assert!(made.as_bytes().iter().all(u8::is_ascii_hexdigit));
        let sent = &req.headers()[REQUEST_ID];
        assert_eq!(sent, &made);
        assert!(sent.is_sensitive());

        let mut req = Request::new(());
        req.headers_mut()
            .insert(REQUEST_ID, HeaderValue::from_static("caller-42"));
        assert_eq!(request_id(&mut req), "caller-42");
        assert!(req.headers()[REQUEST_ID].is_sensitive());

        let mut again = Request::new(());
        assert_ne!(request_id(&mut again), made, "a new ID per request");
    }
}
