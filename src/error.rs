//! Errors the proxy itself answers with, and the one place that turns them
//! into responses.
//!
//! The body is Zoho's CRM error envelope, so clients that already parse Zoho
//! errors keep working; the `x-zoho-proxy-error` header tells a proxy answer
//! apart from one that came from Zoho.

use std::time::Duration;

use http::{header, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

use crate::body::{full, ProxyBody};
use crate::canon::PathError;
use crate::clients::KeyError;
use crate::deadline::Stalled;
use crate::token::TokenError;
use crate::upstream::SendError;

pub const ERROR_HEADER: &str = "x-zoho-proxy-error";

/// Which side of the proxy is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Upstream,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("only origin-form request targets are accepted (GET /crm/v8/Leads), not {0:?}")]
    AbsoluteForm(String),
    #[error("CONNECT is not supported: this is a reverse proxy for Zoho's APIs")]
    Connect,
    #[error("invalid request path: {0}")]
    BadPath(#[from] PathError),
    /// With `[[clients]]`: no key, a wrong one, or two different ones.
    #[error("{0}")]
    ClientKey(crate::clients::KeyError),
    /// The client's own routes do not allow what another route would.
    #[error("client {client} may not use the route for {method} {path}")]
    ClientRouteNotAllowed {
        client: String,
        method: String,
        path: String,
    },
    #[error("no route allows {method} {path}")]
    NoRoute { method: String, path: String },
    #[error(
        "route {route} does not allow {}, which {method} {path} requires{}",
        .missing.join(" + "),
        .needed_by.as_ref().map(|n| format!(" ({n} needs {})", .missing.join(" + "))).unwrap_or_default()
    )]
    ScopeNotAllowed {
        route: String,
        required: Box<[String]>,
        missing: Box<[String]>,
        method: String,
        path: String,
        /// What in the body needs the missing scopes (`FROM Deals`, a
        /// sub-request). Boxed (and the lists too) to keep the error small.
        needed_by: Option<Box<str>>,
    },
    /// A body the proxy must inspect to know what the call touches, and cannot.
    #[error(
        "route {route} cannot tell what {method} {path} touches: {reason}; the call was not sent to Zoho"
    )]
    BodyNotUnderstood {
        route: String,
        method: String,
        path: String,
        reason: String,
    },
    /// A body the proxy must inspect is larger than it keeps.
    #[error(
        "{method} {path} carries a body the proxy must inspect, and it is larger than \
         replay_buffer ({limit} bytes); the call was not sent to Zoho"
    )]
    BodyTooLarge {
        method: String,
        path: String,
        limit: usize,
    },
    /// A body the proxy must inspect, and no `replay_memory` left to hold it.
    #[error(
        "{method} {path} carries a body the proxy must inspect, and replay_memory is in use \
         by other requests; try again shortly"
    )]
    BodyMemoryBusy { method: String, path: String },
    #[error(
        "the scope catalog does not know which Zoho scope {method} {path} needs; add \
         `requires = \"Service.scope.OPERATION\"` to route {route} to allow it"
    )]
    ScopeUnknown {
        route: String,
        method: String,
        path: String,
    },
    #[error(
        "the refresh token was not granted {}, which {method} {path} requires (route {route}); \
         generate a new grant with that scope",
        .missing.join(" + ")
    )]
    ScopeNotGranted {
        route: String,
        missing: Vec<String>,
        method: String,
        path: String,
    },
    /// Local shaping: no slot within `max_wait`.
    #[error("{0}; try again later")]
    RateLimited(crate::limit::Shed),
    /// The call would overspend an API credit budget: nothing was sent.
    #[error(
        "route {route}: this call costs {} credits and {} of {budget} are spent in the last 24 hours; \
         credits free up as the window rolls",
        .exhausted.cost, .exhausted.spent, budget = .exhausted.budget
    )]
    CreditBudgetExhausted {
        route: String,
        exhausted: crate::credits::Exhausted,
    },
    #[error("reading the request body failed: {0}")]
    ClientBody(String),
    /// The client's body stalled or crawled: nothing (more) goes to Zoho.
    #[error("the request body came too slowly ({0}); it was not sent to Zoho, or its sending was aborted")]
    ClientBodyTimeout(Stalled),
    /// Zoho's answer stopped arriving before the proxy had all of it.
    #[error("Zoho's answer stopped arriving after its head ({0})")]
    UpstreamBodyTimeout(Stalled),
    #[error("reading Zoho's answer failed after its head: {0}")]
    UpstreamBody(String),
    /// Zoho's token-minting limit: 503, try again later.
    #[error("no usable Zoho access token yet: {0}")]
    TokenUnavailable(TokenError),
    /// The accounts server failed or refused: 502, naming Zoho's error
    /// (504 when it did not answer in time).
    #[error("could not get a Zoho access token: {0}")]
    Accounts(TokenError),
    /// Zoho answered 401 "invalid token" and the proxy kept the token on
    /// purpose (see [`TokenError::kept_token`]).
    #[error("Zoho answered 401 {zoho_code}: {why}")]
    TokenRejected { zoho_code: String, why: TokenError },
    #[error("{0}")]
    Upstream(SendError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<TokenError> for ProxyError {
    fn from(e: TokenError) -> Self {
        if e.is_rate_limited() {
            ProxyError::TokenUnavailable(e)
        } else {
            ProxyError::Accounts(e)
        }
    }
}

impl From<SendError> for ProxyError {
    fn from(e: SendError) -> Self {
        ProxyError::Upstream(e)
    }
}

impl ProxyError {
    pub fn side(&self) -> Side {
        match self {
            ProxyError::AbsoluteForm(_)
            | ProxyError::Connect
            | ProxyError::ClientKey(_)
            | ProxyError::ClientRouteNotAllowed { .. }
            | ProxyError::BadPath(_)
            | ProxyError::NoRoute { .. }
            | ProxyError::ScopeNotAllowed { .. }
            | ProxyError::ScopeUnknown { .. }
            | ProxyError::ScopeNotGranted { .. }
            | ProxyError::BodyNotUnderstood { .. }
            | ProxyError::BodyTooLarge { .. }
            | ProxyError::ClientBody(_)
            | ProxyError::ClientBodyTimeout(_) => Side::Client,
            ProxyError::RateLimited(_)
            | ProxyError::CreditBudgetExhausted { .. }
            | ProxyError::BodyMemoryBusy { .. }
            | ProxyError::TokenUnavailable(_)
            | ProxyError::Accounts(_)
            | ProxyError::TokenRejected { .. }
            | ProxyError::Upstream(_)
            | ProxyError::UpstreamBodyTimeout(_)
            | ProxyError::UpstreamBody(_) => Side::Upstream,
            ProxyError::Internal(_) => Side::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::AbsoluteForm(_) | ProxyError::BadPath(_) | ProxyError::ClientBody(_) => {
                StatusCode::BAD_REQUEST
            }
            ProxyError::ClientBodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ProxyError::UpstreamBodyTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::UpstreamBody(_) => StatusCode::BAD_GATEWAY,
            ProxyError::Connect => StatusCode::METHOD_NOT_ALLOWED,
            ProxyError::ClientKey(_) => StatusCode::UNAUTHORIZED,
            ProxyError::ClientRouteNotAllowed { .. }
            | ProxyError::NoRoute { .. }
            | ProxyError::ScopeNotAllowed { .. }
            | ProxyError::ScopeUnknown { .. }
            | ProxyError::ScopeNotGranted { .. }
            | ProxyError::BodyNotUnderstood { .. } => StatusCode::FORBIDDEN,
            ProxyError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::BodyMemoryBusy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::RateLimited(_) | ProxyError::CreditBudgetExhausted { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ProxyError::TokenUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Accounts(TokenError::TimedOut { .. }) => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::Accounts(_) => StatusCode::BAD_GATEWAY,
            ProxyError::TokenRejected { .. } => StatusCode::UNAUTHORIZED,
            ProxyError::Upstream(SendError::Timeout { .. }) => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ProxyError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code, in the envelope and the header.
    pub fn code(&self) -> &'static str {
        match self {
            ProxyError::AbsoluteForm(_) => "BAD_REQUEST_TARGET",
            ProxyError::Connect => "METHOD_NOT_ALLOWED",
            ProxyError::BadPath(_) => "INVALID_PATH",
            ProxyError::ClientKey(KeyError::Missing) => "CLIENT_KEY_MISSING",
            ProxyError::ClientKey(_) => "CLIENT_KEY_INVALID",
            ProxyError::ClientRouteNotAllowed { .. } => "CLIENT_ROUTE_NOT_ALLOWED",
            ProxyError::NoRoute { .. } => "ROUTE_NOT_ALLOWED",
            ProxyError::ScopeNotAllowed { .. } => "SCOPE_NOT_ALLOWED",
            ProxyError::ScopeUnknown { .. } => "SCOPE_UNKNOWN",
            ProxyError::ScopeNotGranted { .. } => "SCOPE_NOT_GRANTED",
            ProxyError::BodyNotUnderstood { .. } => "BODY_NOT_UNDERSTOOD",
            ProxyError::BodyTooLarge { .. } => "BODY_TOO_LARGE",
            ProxyError::BodyMemoryBusy { .. } => "BODY_MEMORY_BUSY",
            ProxyError::ClientBody(_) => "BAD_REQUEST_BODY",
            ProxyError::ClientBodyTimeout(_) => "REQUEST_BODY_TIMEOUT",
            ProxyError::UpstreamBodyTimeout(_) => "UPSTREAM_BODY_TIMEOUT",
            ProxyError::UpstreamBody(_) => "UPSTREAM_BODY_FAILED",
            ProxyError::RateLimited(_) => "RATE_LIMITED",
            ProxyError::CreditBudgetExhausted { .. } => "CREDIT_BUDGET_EXHAUSTED",
            ProxyError::TokenUnavailable(_) => "TOKEN_UNAVAILABLE",
            ProxyError::Accounts(TokenError::TimedOut { .. }) => "ACCOUNTS_TIMEOUT",
            ProxyError::Accounts(_) => "ACCOUNTS_ERROR",
            ProxyError::TokenRejected { .. } => "TOKEN_REJECTED",
            ProxyError::Upstream(SendError::Timeout { .. }) => "UPSTREAM_TIMEOUT",
            ProxyError::Upstream(_) => "UPSTREAM_UNREACHABLE",
            ProxyError::Internal(_) => "INTERNAL_ERROR",
        }
    }

    fn details(&self) -> Value {
        let side = match self.side() {
            Side::Client => "client",
            Side::Upstream => "upstream",
            Side::Internal => "internal",
        };
        let mut d = match self {
            ProxyError::BadPath(e) => json!({ "reason": e.code() }),
            ProxyError::NoRoute { method, path } => json!({ "method": method, "path": path }),
            ProxyError::ClientRouteNotAllowed {
                client,
                method,
                path,
            } => json!({ "client": client, "method": method, "path": path }),
            ProxyError::ScopeNotAllowed {
                route,
                required,
                missing,
                method,
                path,
                needed_by,
            } => {
                let mut d = json!({
                    "route": route, "required_scope": required.join(" + "), "missing_scope": missing.join(" + "),
                    "method": method, "path": path,
                });
                if let Some(n) = needed_by {
                    d["needed_by"] = Value::from(&**n);
                }
                d
            }
            ProxyError::BodyNotUnderstood {
                route,
                method,
                path,
                reason,
            } => json!({ "route": route, "method": method, "path": path, "reason": reason }),
            ProxyError::BodyTooLarge {
                method,
                path,
                limit,
            } => json!({ "method": method, "path": path, "limit_bytes": limit }),
            ProxyError::BodyMemoryBusy { method, path } => {
                json!({ "method": method, "path": path })
            }
            ProxyError::ScopeUnknown {
                route,
                method,
                path,
            } => {
                json!({ "route": route, "method": method, "path": path })
            }
            ProxyError::ScopeNotGranted {
                route,
                missing,
                method,
                path,
            } => json!({
                "route": route, "required_scope": missing.join(" + "), "method": method, "path": path,
            }),
            ProxyError::TokenRejected { zoho_code, .. } => json!({ "zoho_error": zoho_code }),
            ProxyError::CreditBudgetExhausted { route, exhausted } => json!({
                "route": route, "budget": exhausted.budget, "spent": exhausted.spent,
                "cost": exhausted.cost, "retry_after_secs": exhausted.retry_after.as_secs(),
            }),
            ProxyError::TokenUnavailable(e) | ProxyError::Accounts(e) => match e.zoho_code() {
                Some(code) => json!({ "zoho_error": code }),
                None => json!({}),
            },
            _ => json!({}),
        };
        d["side"] = Value::from(side);
        d
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ProxyError::TokenUnavailable(e) => Some(e.retry_in().unwrap_or(Duration::from_secs(1))),
            ProxyError::Accounts(e) | ProxyError::TokenRejected { why: e, .. } => e.retry_in(),
            ProxyError::RateLimited(shed) => Some(shed.retry_after),
            ProxyError::CreditBudgetExhausted { exhausted, .. } => Some(exhausted.retry_after),
            ProxyError::BodyMemoryBusy { .. } => Some(Duration::from_secs(1)),
            _ => None,
        }
    }

    pub fn into_response(self) -> Response<ProxyBody> {
        self.into_response_for(None, None)
    }

    /// The response, naming the client the request came from (once its key
    /// was accepted) in `details.client` and the credential it was for (once
    /// its route was known) in `details.credential`.
    pub fn into_response_for(
        self,
        client: Option<&str>,
        credential: Option<&str>,
    ) -> Response<ProxyBody> {
        let mut details = self.details();
        if let Some(name) = client {
            details["client"] = Value::from(name);
        }
        if let Some(name) = credential {
            details["credential"] = Value::from(name);
        }
        let mut resp = error_response(
            self.status(),
            self.code(),
            &self.to_string(),
            details,
            self.retry_after(),
        );
        if let ProxyError::ClientKey(_) = self {
            // RFC 9110 §11.6.1: a 401 says how to authenticate.
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"zoho-proxy\""),
            );
        }
        resp
    }
}

/// Builds an answer in Zoho's envelope. Every proxy-made error goes through here.
pub fn error_response(
    status: StatusCode,
    code: &'static str,
    message: &str,
    details: Value,
    retry_after: Option<Duration>,
) -> Response<ProxyBody> {
    let body = json!({ "code": code, "details": details, "message": message, "status": "error" });
    let mut resp = Response::new(full(body.to_string()));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    headers.insert(ERROR_HEADER, HeaderValue::from_static(code));
    if let Some(after) = retry_after {
        // Round up: "retry in 0 s" invites a hot loop.
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn errors_use_zohos_envelope_and_the_proxy_header() {
        let e = ProxyError::NoRoute {
            method: "GET".into(),
            path: "/crm/v2/Deals".into(),
        };
        assert_eq!(e.side(), Side::Client);
        let resp = e.into_response();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(resp.headers()[ERROR_HEADER], "ROUTE_NOT_ALLOWED");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], "ROUTE_NOT_ALLOWED");
        assert_eq!(v["status"], "error");
        assert_eq!(v["details"]["path"], "/crm/v2/Deals");
        assert_eq!(v["details"]["side"], "client");
        assert!(v["message"].as_str().unwrap().contains("GET /crm/v2/Deals"));
    }

    #[tokio::test]
    async fn client_errors_are_401_with_a_challenge_and_403_naming_the_client() {
        for (e, code) in [
            (KeyError::Missing, "CLIENT_KEY_MISSING"),
            (KeyError::Invalid, "CLIENT_KEY_INVALID"),
            (KeyError::Conflicting, "CLIENT_KEY_INVALID"),
        ] {
            let resp = ProxyError::ClientKey(e).into_response();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(resp.headers()[ERROR_HEADER], code);
            assert_eq!(
                resp.headers()[header::WWW_AUTHENTICATE],
                "Bearer realm=\"zoho-proxy\""
            );
        }
        let e = ProxyError::ClientRouteNotAllowed {
            client: "billing".into(),
            method: "GET".into(),
            path: "/crm/v8/Deals".into(),
        };
        assert_eq!(e.side(), Side::Client);
        let resp = e.into_response_for(Some("billing"), None);
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert!(!resp.headers().contains_key(header::WWW_AUTHENTICATE));
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], "CLIENT_ROUTE_NOT_ALLOWED");
        assert_eq!(v["details"]["client"], "billing");
        assert_eq!(
            v["message"],
            "client billing may not use the route for GET /crm/v8/Deals"
        );
    }

    #[test]
    fn token_errors_split_into_rate_limited_503_and_failed_502() {
        let rejected = TokenError::Rejected {
            code: "invalid_client".into(),
            description: None,
        };
        let e = ProxyError::from(rejected.clone());
        assert_eq!(
            (e.status(), e.code()),
            (StatusCode::BAD_GATEWAY, "ACCOUNTS_ERROR")
        );
        assert!(e.to_string().contains("invalid_client"));
        // Still backing off from that failure: still Zoho's error, with a hint when to come back.
        let waiting = TokenError::BackingOff {
            last: Box::new(rejected),
            retry_in: Duration::from_millis(1500),
        };
        let resp = ProxyError::from(waiting).into_response();
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "2");
        let throttled = TokenError::BackingOff {
            last: Box::new(TokenError::Throttled { description: None }),
            retry_in: Duration::from_secs(599),
        };
        let resp = ProxyError::from(throttled).into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[ERROR_HEADER], "TOKEN_UNAVAILABLE");
        assert_eq!(resp.headers()[header::RETRY_AFTER], "599");
        let budget = ProxyError::from(TokenError::BudgetExhausted {
            limit: 10,
            retry_in: Duration::from_secs(30),
        });
        assert_eq!(budget.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
