//! Stages 6–8, repeated while the rules allow: wait for a slot (local
//! shaping), rewrite and send, classify the answer.
//!
//! - 401 with the product's "dead token" code ([`crate::token::rejection`]):
//!   refresh once (shared with every request that saw the same token
//!   rejected) and replay once. When the token manager keeps the token on
//!   purpose (it is too young to blame, or the 401 allowance is spent), the
//!   client gets 401 `TOKEN_REJECTED` saying so.
//! - 429, 5xx, connection failures: [`crate::retry`] decides; a 429 also
//!   cools down the whole credential so other requests wait for the same
//!   instant instead of each discovering the limit again.
//!
//! Only bodies the proxy kept can be sent twice; a streamed body goes once.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri, Version};
use http_body::Body as _;
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::{headers, Call, Outcome, Proxy};
use crate::body::{boxed, full, read_prefix, Guarded, Prefixed, ProxyBody};
use crate::canon::CanonicalPath;
use crate::credits::Charge;
use crate::deadline::{stalled, Pace, Paced, Stalled, Tripped};
use crate::error::ProxyError;
use crate::limit::Permit;
use crate::retry::{Attempt, Next, Progress};
use crate::token::rejection::{dead_token_code, Product};
use crate::token::AccessToken;
use crate::upstream::{SendError, UpstreamBody};

/// How much of a 401 answer is read to see whether the token was the problem.
const MAX_401_INSPECTED: usize = 64 * 1024;
/// How much of a 429 answer is read to see whether the credits are spent.
const MAX_429_INSPECTED: usize = 16 * 1024;

/// The request body as the proxy holds it: small bodies in memory (so they
/// can be sent again), large ones as a one-shot stream.
pub(super) enum RequestBody {
    /// Kept in memory, counted against `replay_memory` until dropped.
    Replayable {
        bytes: Bytes,
        _reserved: Option<OwnedSemaphorePermit>,
    },
    Streaming {
        body: Option<ProxyBody>,
        /// Set if the client's body broke the pace while it streamed.
        tripped: Tripped,
        why: Unkept,
    },
}

/// Why a body streams instead of being kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unkept {
    /// Longer than `replay_buffer`.
    TooLarge,
    /// `replay_memory` was in use by other requests.
    NoMemory,
}

impl RequestBody {
    /// Keeps the body if it fits in `limit` and in what is left of the
    /// shared `budget` (bytes); otherwise it streams and is never replayed.
    /// Either way the client must keep to `pace`: a kept body that stalls is
    /// 408 before anything is sent; a streamed one aborts its upstream call.
    pub(super) async fn read(
        body: Incoming,
        limit: usize,
        budget: &Arc<Semaphore>,
        pace: Pace,
    ) -> Result<Self, ProxyError> {
        let body = Paced::new(body, pace);
        let tripped = body.tripped();
        // Reserve what the body can take at most: its declared length, else the limit.
        // (Nothing for a body declared too long to keep: it streams anyway.)
        let hint = body.size_hint();
        let want = if hint.lower() > limit as u64 {
            0
        } else {
            hint.upper().map_or(limit, |n| (n as usize).min(limit))
        };
        let reserved = match u32::try_from(want) {
            Ok(0) => None,
            Ok(n) => budget.clone().try_acquire_many_owned(n).ok(),
            Err(_) => None,
        };
        let (limit, why) = if want == 0 || reserved.is_some() {
            (limit, Unkept::TooLarge)
        } else {
            (0, Unkept::NoMemory)
        };
        match read_prefix(body, limit).await {
            Ok(Prefixed::Complete(bytes)) => {
                // Give back what the body did not use.
                let mut reserved = reserved;
                if let Some(p) = reserved.as_mut() {
                    drop(p.split(p.num_permits().saturating_sub(bytes.len())));
                }
                Ok(RequestBody::Replayable {
                    bytes,
                    _reserved: reserved,
                })
            }
            Ok(partial) => Ok(RequestBody::Streaming {
                body: Some(partial.into_body()),
                tripped,
                why,
            }),
            Err(e) => Err(match stalled(&*e) {
                Some(s) => ProxyError::ClientBodyTimeout(s.clone()),
                None => ProxyError::ClientBody(e.to_string()),
            }),
        }
    }

    /// All of the body, if it was kept.
    pub(super) fn kept(&self) -> Result<&Bytes, Unkept> {
        match self {
            RequestBody::Replayable { bytes, .. } => Ok(bytes),
            RequestBody::Streaming { why, .. } => Err(*why),
        }
    }

    /// A body to send: a copy of a replayable body, or the stream (once).
    fn take(&mut self) -> Option<ProxyBody> {
        match self {
            RequestBody::Replayable { bytes, .. } => Some(full(bytes.clone())),
            RequestBody::Streaming { body, .. } => body.take(),
        }
    }

    /// How the client's streamed body broke the pace, if it did.
    fn stalled(&self) -> Option<&Stalled> {
        match self {
            RequestBody::Replayable { .. } => None,
            RequestBody::Streaming { tripped, .. } => tripped.get(),
        }
    }

    fn replayable(&self) -> bool {
        matches!(self, RequestBody::Replayable { .. })
    }
}

/// What Zoho's answer means for this request.
enum Verdict {
    Done(Response<ProxyBody>),
    /// A 401 whose code (kept here) says the token is dead.
    TokenRejected(Response<ProxyBody>, String),
    /// A 429 that says the org's API credits are spent.
    CreditsSpent(Response<ProxyBody>),
    /// A 401 whose body failed while it was read: never a clean short answer.
    Failed(ProxyError),
}

impl Proxy {
    pub(super) async fn exchange(
        &self,
        call: &Call<'_>,
        mut token: Arc<AccessToken>,
        body: &mut RequestBody,
        charge: &mut Charge,
        outcome: &mut Outcome,
    ) -> Result<Response<ProxyBody>, ProxyError> {
        let started = Instant::now();
        let credits = call.credential.credits();
        let budget = &call.credential.config().credits;
        let policy = &call.active.config.retry;
        let product = Product::of(call.route.upstream, call.path.as_str());
        let mut tries = 1;
        let mut token_replayed = false;
        loop {
            let waiting = Instant::now();
            let permit = call
                .credential
                .limits()
                .acquire(
                    call.client.and_then(|c| c.limit.as_ref()),
                    call.route.limit.as_ref(),
                    call.heavy,
                )
                .await;
            self.metrics.waited(waiting.elapsed());
            let permit = permit
                .inspect_err(|_| self.metrics.shed(call.credential.name()))
                .map_err(ProxyError::RateLimited)?;
            let req = build_request(call, &token, body)?;
            let sending = Instant::now();
            let sent = call
                .credential
                .client()
                .send(req, call.active.config.server.request_timeout)
                .await;
            call.series.upstream(sending.elapsed());
            outcome.upstream += sending.elapsed();
            // Every attempt that may have reached Zoho costs credits.
            if !matches!(sent, Err(SendError::Connect { .. })) {
                charge.attempt_sent();
                call.series.credits_spent(charge.price());
            }
            if let Ok(resp) = &sent {
                credits.learn(budget, resp.headers());
            }
            if let (Err(_), Some(stalled)) = (&sent, body.stalled()) {
                // The client's fault, not Zoho's: never retried (the body is
                // gone anyway), and said so.
                return Err(ProxyError::ClientBodyTimeout(stalled.clone()));
            }
            let pace = call.active.config.server.pace;
            let answer = match sent {
                Ok(resp) => match classify(without_hop_by_hop(resp, pace), product).await {
                    Verdict::TokenRejected(resp, code) if !token_replayed => {
                        token_replayed = true;
                        match call
                            .credential
                            .tokens()
                            .replace_rejected(&token, call.deadline)
                            .await
                        {
                            Ok(fresh) if body.replayable() => {
                                outcome.replayed = true;
                                token = fresh;
                                continue;
                            }
                            Ok(_) => Ok(resp),
                            Err(e) if e.kept_token() => {
                                tracing::warn!(route = %call.route.name, zoho_code = %code, error = %e, "token kept despite a 401");
                                return Err(ProxyError::TokenRejected {
                                    zoho_code: code,
                                    why: e,
                                });
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "refresh after a rejected token failed");
                                Ok(resp)
                            }
                        }
                    }
                    Verdict::CreditsSpent(resp) => {
                        credits.zoho_exhausted(budget);
                        Ok(resp)
                    }
                    Verdict::TokenRejected(resp, _) | Verdict::Done(resp) => Ok(resp),
                    // Zoho answered: not retried, whatever the method.
                    Verdict::Failed(e) => return Err(e),
                },
                Err(e) => Err(e),
            };

            let attempt = match &answer {
                Ok(resp) => Attempt::Answered {
                    status: resp.status(),
                    headers: resp.headers(),
                },
                Err(e) => Attempt::Failed(e),
            };
            let random = crate::hash::random();
            if let Attempt::Answered {
                status: StatusCode::TOO_MANY_REQUESTS,
                headers,
            } = attempt
            {
                // Whatever this request does next, the credential cools down.
                let wait = policy.after_429(headers, tries, random).cool_down(policy);
                call.credential
                    .limits()
                    .cool_down_until(Instant::now() + wait);
            }
            let progress = Progress {
                attempts: tries,
                elapsed: started.elapsed(),
                replayable: body.replayable(),
            };
            match policy.next(&call.parts.method, attempt, progress, random) {
                Next::Stop => {
                    return match answer {
                        Ok(resp) => {
                            settle(resp, permit, call.active.config.server.response_buffer).await
                        }
                        Err(e) => Err(ProxyError::Upstream(e)),
                    };
                }
                Next::Retry { delay, reason, .. } => {
                    drop(answer);
                    drop(permit);
                    tracing::warn!(
                        route = %call.route.name,
                        reason,
                        attempt = tries,
                        delay_ms = delay.as_millis() as u64,
                        "retrying"
                    );
                    outcome.retries += 1;
                    self.metrics.retry(reason);
                    tries += 1;
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

/// Stage 6: the request as Zoho gets it: the upstream URL (same canonical
/// path, query byte for byte), clean headers, the token.
fn build_request(
    call: &Call<'_>,
    token: &AccessToken,
    body: &mut RequestBody,
) -> Result<Request<ProxyBody>, ProxyError> {
    let zoho = call.credential.zoho();
    let api_domain = token.api_domain.as_deref();
    let uri = build_uri(
        |out| zoho.write_base_url(call.route.upstream, api_domain, out),
        call.path,
        call.parts.uri.query(),
    )?;
    let headers = headers::for_upstream(&call.parts.headers, token.expose(), &call.route.headers)
        .map_err(|_| {
        ProxyError::Internal("the access token is not a valid header value".into())
    })?;
    let body = body
        .take()
        .ok_or_else(|| ProxyError::Internal("request body already sent".into()))?;
    let mut req = Request::new(body);
    *req.method_mut() = call.parts.method.clone();
    *req.uri_mut() = uri;
    *req.version_mut() = Version::HTTP_11;
    *req.headers_mut() = headers;
    Ok(req)
}

/// The URL Zoho gets: `base` (an origin), then the canonical path the route
/// matched, then the client's query byte for byte.
pub fn upstream_uri(
    base: &str,
    path: &CanonicalPath,
    query: Option<&str>,
) -> Result<Uri, ProxyError> {
    build_uri(|out| out.push_str(base), path, query)
}

/// [`upstream_uri`] with the origin written by `write_base`: the whole URL
/// in one buffer, which the URI then keeps (the origin is written again only
/// for an error).
fn build_uri(
    write_base: impl Fn(&mut String),
    path: &CanonicalPath,
    query: Option<&str>,
) -> Result<Uri, ProxyError> {
    let path = path.as_str();
    let mut target = String::with_capacity(64 + path.len() + query.map_or(0, |q| q.len() + 1));
    write_base(&mut target);
    target.push_str(path);
    if let Some(q) = query {
        target.push('?');
        target.push_str(q);
    }
    let base = || {
        let mut base = String::new();
        write_base(&mut base);
        base
    };
    // Parsed in place: the URI keeps the string's buffer.
    let uri = Uri::try_from(target)
        .map_err(|e| ProxyError::Internal(format!("upstream URL {}{path}: {e}", base())))?;
    if uri.authority().is_none() {
        return Err(ProxyError::Internal(format!(
            "upstream URL {} has no host",
            base()
        )));
    }
    Ok(uri)
}

/// Zoho's answer with clean headers, its body kept to `pace`.
fn without_hop_by_hop(resp: Response<UpstreamBody>, pace: Pace) -> Response<ProxyBody> {
    let (mut parts, body) = resp.into_parts();
    headers::strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, boxed(Paced::new(body, pace)))
}

/// The slot rule, after the last attempt: an answer up to `buffer` bytes is
/// read from Zoho whole and the slot released before the client reads a
/// byte, however slowly it then reads; a larger answer keeps the slot while
/// it streams. Zoho stalling before the buffer is full is a 504 here;
/// later, the client's body ends in error (never a clean short answer).
async fn settle(
    resp: Response<ProxyBody>,
    permit: Permit,
    buffer: usize,
) -> Result<Response<ProxyBody>, ProxyError> {
    let (parts, body) = resp.into_parts();
    match read_prefix(body, buffer).await {
        Ok(Prefixed::Complete(bytes)) => {
            drop(permit);
            Ok(Response::from_parts(parts, full(bytes)))
        }
        Ok(partial) => Ok(Response::from_parts(
            parts,
            boxed(Guarded::new(partial.into_body(), permit)),
        )),
        Err(e) => Err(body_failed(&*e)),
    }
}

/// Zoho's answer body failed while the proxy read it.
fn body_failed(e: &(dyn std::error::Error + 'static)) -> ProxyError {
    match stalled(e) {
        Some(s) => ProxyError::UpstreamBodyTimeout(s.clone()),
        None => ProxyError::UpstreamBody(crate::upstream::error_chain(e)),
    }
}

/// Stage 8: reads a 401 (only a 401, and only a bounded prefix) to see whether
/// Zoho rejected the token, in `product`'s words. Scope and org mismatches
/// and everything else pass through untouched.
async fn classify(resp: Response<ProxyBody>, product: Product) -> Verdict {
    if resp.status() == StatusCode::TOO_MANY_REQUESTS {
        return classify_429(resp).await;
    }
    if resp.status() != StatusCode::UNAUTHORIZED {
        return Verdict::Done(resp);
    }
    let (parts, body) = resp.into_parts();
    let prefixed = match read_prefix(body, MAX_401_INSPECTED).await {
        Ok(p) => p,
        Err(e) => return Verdict::Failed(body_failed(&*e)),
    };
    let rejected = match &prefixed {
        Prefixed::Complete(bytes) => dead_token_code(product, bytes),
        Prefixed::Partial { .. } => None,
    };
    let resp = Response::from_parts(parts, prefixed.into_body());
    match rejected {
        Some(code) => Verdict::TokenRejected(resp, code),
        None => Verdict::Done(resp),
    }
}

/// Reads a 429 (a bounded prefix) to tell a spent credit allowance from a
/// concurrency or rate limit; the answer goes on unchanged either way.
async fn classify_429(resp: Response<ProxyBody>) -> Verdict {
    let (parts, body) = resp.into_parts();
    let prefixed = match read_prefix(body, MAX_429_INSPECTED).await {
        Ok(p) => p,
        Err(e) => return Verdict::Failed(body_failed(&*e)),
    };
    let spent = match &prefixed {
        Prefixed::Complete(bytes) => crate::credits::is_credit_429(&parts.headers, bytes),
        Prefixed::Partial { .. } => crate::credits::is_credit_429(&parts.headers, b""),
    };
    let resp = Response::from_parts(parts, prefixed.into_body());
    if spent {
        Verdict::CreditsSpent(resp)
    } else {
        Verdict::Done(resp)
    }
}
