//! The request path. [`Proxy::pipeline`] is the whole story, stage by stage:
//!
//! ```text
//! target → canonicalize → route + scope → body → token → rewrite + forward → classify (401: refresh, replay once)
//! ```
//!
//! Each stage is a small function; any stage can end the request with a
//! [`ProxyError`], which becomes a response in exactly one place.

pub mod headers;

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, Uri, Version};
use hyper::body::Incoming;

use crate::body::{full, read_prefix, Prefixed, ProxyBody};
use crate::canon::{canonicalize, CanonicalPath};
use crate::config::Config;
use crate::error::ProxyError;
use crate::route::{Decision, Denial, Route};
use crate::token::{AccessToken, TokenManager};
use crate::upstream::UpstreamClient;

/// How much of a 401 answer is read to see whether the token was the problem.
const MAX_401_INSPECTED: usize = 64 * 1024;

/// Everything the request path needs; cheap to share behind an `Arc`.
pub struct Proxy {
    config: ArcSwap<Config>,
    tokens: Arc<TokenManager>,
    client: UpstreamClient,
}

/// The request body as the proxy holds it: small bodies in memory (so they
/// can be sent again), large ones as a one-shot stream.
enum RequestBody {
    Replayable(Bytes),
    Streaming(Option<ProxyBody>),
}

impl RequestBody {
    async fn read(body: Incoming, limit: usize) -> Result<Self, ProxyError> {
        match read_prefix(body, limit).await {
            Ok(Prefixed::Complete(bytes)) => Ok(RequestBody::Replayable(bytes)),
            Ok(partial) => Ok(RequestBody::Streaming(Some(partial.into_body()))),
            Err(e) => Err(ProxyError::ClientBody(e.to_string())),
        }
    }

    /// A body to send: a copy of a replayable body, or the stream (once).
    fn take(&mut self) -> Option<ProxyBody> {
        match self {
            RequestBody::Replayable(bytes) => Some(full(bytes.clone())),
            RequestBody::Streaming(stream) => stream.take(),
        }
    }

    fn replayable(&self) -> bool {
        matches!(self, RequestBody::Replayable(_))
    }
}

/// What Zoho's answer means for this request.
enum Verdict {
    Done(Response<ProxyBody>),
    /// 401 `INVALID_TOKEN` / `AUTHENTICATION_FAILURE`: the token is dead.
    TokenRejected(Response<ProxyBody>),
}

/// What the request log line reports about a request.
#[derive(Default)]
struct Outcome {
    route: Option<String>,
    replayed: bool,
}

impl Proxy {
    pub fn new(config: Arc<Config>, tokens: Arc<TokenManager>, client: UpstreamClient) -> Self {
        Proxy {
            config: ArcSwap::new(config),
            tokens,
            client,
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
        let first = self
            .forward(&config, &parts, route, &path, &token, &mut body)
            .await?;

        match classify(first).await {
            Verdict::Done(resp) => Ok(resp),
            Verdict::TokenRejected(resp) => {
                // Refresh once (shared with every other request that saw the
                // same token rejected), then replay once if we kept the body.
                let fresh = self.tokens.replace_rejected(&token).await;
                match fresh {
                    Ok(fresh) if body.replayable() => {
                        outcome.replayed = true;
                        let resp = self
                            .forward(&config, &parts, route, &path, &fresh, &mut body)
                            .await?;
                        Ok(resp)
                    }
                    Ok(_) => Ok(resp),
                    Err(e) => {
                        tracing::warn!(error = %e, "refresh after a rejected token failed");
                        Ok(resp)
                    }
                }
            }
        }
    }

    /// Rewrites the request for Zoho and sends it.
    async fn forward(
        &self,
        config: &Config,
        parts: &http::request::Parts,
        route: &Route,
        path: &CanonicalPath,
        token: &AccessToken,
        body: &mut RequestBody,
    ) -> Result<Response<ProxyBody>, ProxyError> {
        let base = config
            .zoho
            .base_url(route.upstream, token.api_domain.as_deref());
        let target = match parts.uri.query() {
            Some(q) => format!("{base}{path}?{q}"),
            None => format!("{base}{path}"),
        };
        let uri: Uri = target
            .parse()
            .map_err(|e| ProxyError::Internal(format!("upstream URL {base}{path}: {e}")))?;
        let host = uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            .ok_or_else(|| ProxyError::Internal(format!("upstream URL {base} has no host")))?;
        let mut headers = parts.headers.clone();
        headers::for_upstream(&mut headers, host, token.expose(), &route.headers).map_err(
            |_| ProxyError::Internal("the access token is not a valid header value".into()),
        )?;
        let body = body
            .take()
            .ok_or_else(|| ProxyError::Internal("request body already sent".into()))?;
        let mut req = Request::new(body);
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = uri;
        *req.version_mut() = Version::HTTP_11;
        *req.headers_mut() = headers;

        let resp = self.client.send(req, config.server.request_timeout).await?;
        let (mut parts, body) = resp.into_parts();
        headers::strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, crate::body::boxed(body)))
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

/// Stage 8: reads a 401 (only a 401, and only a bounded prefix) to see whether
/// Zoho rejected the token. `OAUTH_SCOPE_MISMATCH` and everything else pass
/// through untouched.
async fn classify(resp: Response<ProxyBody>) -> Verdict {
    if resp.status() != http::StatusCode::UNAUTHORIZED {
        return Verdict::Done(resp);
    }
    let (parts, body) = resp.into_parts();
    let prefixed = match read_prefix(body, MAX_401_INSPECTED).await {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!(error = %e, "reading a 401 answer failed");
            return Verdict::Done(Response::from_parts(parts, crate::body::empty()));
        }
    };
    let rejected = match &prefixed {
        Prefixed::Complete(bytes) => token_rejected(bytes),
        Prefixed::Partial { .. } => false,
    };
    let resp = Response::from_parts(parts, prefixed.into_body());
    if rejected {
        Verdict::TokenRejected(resp)
    } else {
        Verdict::Done(resp)
    }
}

/// Zoho's codes for a dead token.
fn token_rejected(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Envelope {
        code: Option<String>,
    }
    serde_json::from_slice::<Envelope>(body)
        .ok()
        .and_then(|e| e.code)
        .is_some_and(|c| c == "INVALID_TOKEN" || c == "AUTHENTICATION_FAILURE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dead_token_codes_trigger_a_refresh() {
        assert!(token_rejected(br#"{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}"#));
        assert!(token_rejected(
            br#"{"code":"AUTHENTICATION_FAILURE","details":{},"message":"x","status":"error"}"#
        ));
        assert!(!token_rejected(br#"{"code":"OAUTH_SCOPE_MISMATCH","details":{},"message":"invalid oauth scope to access this URL","status":"error"}"#));
        assert!(!token_rejected(b"<html>401</html>"));
        assert!(!token_rejected(br#"{"code":57}"#));
    }

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
