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
use std::time::Instant;

use arc_swap::ArcSwap;
use http::{Method, Request, Response};
use hyper::body::Incoming;

use crate::body::ProxyBody;
use crate::canon::{canonicalize, CanonicalPath};
use crate::config::Config;
use crate::error::ProxyError;
use crate::limit::Limits;
use crate::route::{Decision, Denial, Route};
use crate::token::{AccessToken, TokenManager};
use crate::upstream::UpstreamClient;
use exchange::RequestBody;

/// One request on its way to Zoho: what every attempt needs.
struct Call<'a> {
    config: &'a Config,
    parts: &'a http::request::Parts,
    route: &'a Route,
    path: &'a CanonicalPath,
    heavy: bool,
}

/// Everything the request path needs; cheap to share behind an `Arc`.
pub struct Proxy {
    config: ArcSwap<Config>,
    tokens: Arc<TokenManager>,
    client: UpstreamClient,
    limits: Limits,
}

/// What the request log line reports about a request.
#[derive(Default)]
struct Outcome {
    route: Option<String>,
    /// Replayed after Zoho rejected the token.
    replayed: bool,
    /// Retries after 429, 5xx or connection failures.
    retries: u32,
}

impl Proxy {
    pub fn new(config: Arc<Config>, tokens: Arc<TokenManager>, client: UpstreamClient) -> Self {
        let limits = Limits::new(config.rate_limit.credential, config.rate_limit.max_wait);
        Proxy {
            config: ArcSwap::new(config),
            tokens,
            client,
            limits,
        }
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    pub fn tokens(&self) -> &Arc<TokenManager> {
        &self.tokens
    }

    /// Serves one request. Never fails: errors become Zoho-style answers.
    pub async fn handle(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let mut outcome = Outcome::default();
        let resp = match self.pipeline(req, &mut outcome).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::debug!(error = %e, code = e.code(), "request refused");
                e.into_response()
            }
        };
        tracing::info!(
            method = %method,
            path = %path,
            route = outcome.route.as_deref().unwrap_or("-"),
            status = resp.status().as_u16(),
            replayed = outcome.replayed,
            retries = outcome.retries,
            duration_ms = started.elapsed().as_millis() as u64,
            "request"
        );
        resp
    }

    async fn pipeline(
        &self,
        req: Request<Incoming>,
        outcome: &mut Outcome,
    ) -> Result<Response<ProxyBody>, ProxyError> {
        let config = self.config.load_full();
        check_target(&req)?;
        let path = canonicalize(req.uri().path())?;
        let decision = decide(&config, req.method(), &path)?;
        let route = decision.route;
        outcome.route = Some(route.name.clone());

        let (parts, body) = req.into_parts();
        let mut body = RequestBody::read(body, config.server.replay_buffer).await?;
        let token = self.tokens.token().await?;
        check_granted(&token, &decision, &parts.method, &path)?;
        let call = Call {
            config: &config,
            parts: &parts,
            route,
            path: &path,
            heavy: decision.heavy,
        };
        self.exchange(&call, token, &mut body, outcome).await
    }

    /// Swaps in a new config for requests that start from now on.
    pub fn replace_config(&self, config: Arc<Config>) {
        self.config.store(config);
    }
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
