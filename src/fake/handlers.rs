//! The fake's request handling: the token endpoint and the API.

use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use http::{header, Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::json;

use super::{
    lock, ApiReply, Canned, Recorded, State, TokenReply, CLIENT_ID, CLIENT_SECRET,
    RECORD_BODY_LIMIT, SANDBOX_CLIENT_ID,
};
use crate::body::{boxed, full, ProxyBody};
use crate::hash::random;
use crate::token::accounts::form_value;

/// How long the fake's access tokens live: an hour, as Zoho's do.
const TOKEN_LIFETIME_SECS: u64 = 3600;

pub(super) async fn handle(state: &State, req: Request<Incoming>) -> Response<ProxyBody> {
    if req.version() == http::Version::HTTP_2 && req.headers().contains_key(header::HOST) {
        // As nginx does: over HTTP/2 the host is `:authority`; a `host`
        // header next to it is refused.
        return text_response(
            400,
            "text/html",
            "<html><body><h1>400 Bad Request</h1>client sent duplicate host header</body></html>"
                .into(),
        );
    }
    match req.uri().path() {
        "/oauth/v2/token" => return token_endpoint(state, req).await,
        "/oauth/v2/token/revoke" => return super::oauth::revoke(state, req).await,
        "/oauth/v2/auth" => return super::oauth::authorize(state, req),
        _ => {}
    }
    let in_flight = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(in_flight, Ordering::SeqCst);
    state.arrived.notify_waiters();
    let resp = api(state, req).await;
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    resp
}

pub(super) fn json_response(status: u16, body: serde_json::Value) -> Response<ProxyBody> {
    text_response(status, "application/json;charset=UTF-8", body.to_string())
}

pub(super) fn text_response(
    status: u16,
    content_type: &'static str,
    body: String,
) -> Response<ProxyBody> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    resp
}

/// Reads a whole body, keeping at most `keep` bytes; returns (length, kept).
pub(super) async fn drain(mut body: Incoming, keep: usize) -> (u64, Option<Bytes>) {
    let mut len = 0u64;
    let mut kept = Some(BytesMut::new());
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            len += data.len() as u64;
            kept = kept.filter(|_| len as usize <= keep).map(|mut k| {
                k.extend_from_slice(&data);
                k
            });
        }
    }
    (len, kept.map(BytesMut::freeze))
}

async fn token_endpoint(state: &State, req: Request<Incoming>) -> Response<ProxyBody> {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    if req.method() != Method::POST {
        return json_response(405, json!({"error": "invalid_request"}));
    }
    // Zoho's docs show query parameters, the SDKs send a form: accept both.
    let query = req.uri().query().unwrap_or("").to_owned();
    let (_, body) = drain(req.into_body(), 64 * 1024).await;
    let body = String::from_utf8_lossy(body.as_deref().unwrap_or_default()).into_owned();
    let param = |k: &str| form_value(&body, k).or_else(|| form_value(&query, k));

    let reply = lock(&state.tokens)
        .script
        .pop_front()
        .unwrap_or(TokenReply::Grant);
    match reply {
        TokenReply::Error(code) => return json_response(200, json!({ "error": code })),
        TokenReply::Html500 => {
            return text_response(
                500,
                "text/html",
                "<html><body><h1>500 Internal Server Error</h1></body></html>".into(),
            )
        }
        TokenReply::Throttle => {
            return json_response(
                200,
                json!({"error_description": "You have made too many requests continuously. Please try again after some time.", "error": "Access Denied", "status": "failure"}),
            )
        }
        TokenReply::Slow(d) => tokio::time::sleep(d).await,
        TokenReply::Raw(status, body) => {
            return text_response(status, "application/json;charset=UTF-8", body)
        }
        TokenReply::Grant => {}
    }
    let client_id = param("client_id").unwrap_or_default();
    if ![CLIENT_ID, SANDBOX_CLIENT_ID].contains(&client_id.as_str())
        || param("client_secret").as_deref() != Some(CLIENT_SECRET)
    {
        return json_response(200, json!({ "error": "invalid_client" }));
    }
    // `Some((scope, refresh token))`: a grant code was exchanged.
    let (exchanged, parent) = match param("grant_type").as_deref() {
        Some("refresh_token") => {
            let token = param("refresh_token").unwrap_or_default();
            if !lock(&state.tokens).refresh_tokens.contains(&token) {
                // Revoked, mistyped, or never issued: Zoho says the same.
                return json_response(200, json!({ "error": "invalid_code" }));
            }
            (None, token)
        }
        Some("authorization_code") => {
            let code = param("code").unwrap_or_default();
            let Some(grant) = lock(&state.tokens).grant_codes.remove(&code) else {
                // Expired, already used, or never issued: Zoho says the same.
                return json_response(200, json!({ "error": "invalid_code" }));
            };
            if grant.redirect_uri.is_some() && grant.redirect_uri != param("redirect_uri") {
                return json_response(200, json!({ "error": "invalid_redirect_uri" }));
            }
            let parent = grant.refresh_token.clone().unwrap_or_default();
            (Some((grant.scope, grant.refresh_token)), parent)
        }
        _ => return json_response(200, json!({ "error": "invalid_code" })),
    };
    let mut tokens = lock(&state.tokens);
    tokens.minted += 1;
    let token = format!("1000.fakeaccess{:04}.{:016x}", tokens.minted, random());
    tokens.valid.insert(token.clone(), client_id);
    tokens.minted_from.insert(token.clone(), parent);
    let mut answer = json!({
        "access_token": token,
        "api_domain": state.url,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
    });
    if let Some((scope, refresh_token)) = &exchanged {
        if let Some(refresh_token) = refresh_token {
            tokens.refresh_tokens.insert(refresh_token.clone());
            answer["refresh_token"] = json!(refresh_token);
        }
        answer["scope"] = json!(scope);
    } else if let Some(scope) = &tokens.scope {
        answer["scope"] = json!(scope);
    }
    json_response(200, answer)
}

async fn api(state: &State, req: Request<Incoming>) -> Response<ProxyBody> {
    let at = tokio::time::Instant::now();
    let (parts, body) = req.into_parts();
    let (body_len, body) = drain(body, RECORD_BODY_LIMIT).await;
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Zoho-oauthtoken "));
    let client_id = token.and_then(|t| lock(&state.tokens).valid.get(t).cloned());
    let recorded = Recorded {
        at,
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        authority: parts.uri.authority().map(|a| a.to_string()).or_else(|| {
            parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        }),
        version: parts.version,
        headers: parts.headers.clone(),
        body_len,
        body,
        client_id,
    };
    if state.recording.load(Ordering::SeqCst) {
        lock(&state.recorded).push(recorded.clone());
    }
    let delay = *lock(&state.api_delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let ruled = lock(&state.path_rules)
        .iter()
        .find(|(prefix, _)| recorded.path.starts_with(prefix.as_str()))
        .map(|(_, canned)| canned.clone());
    if let Some(canned) = ruled {
        return canned_response(canned);
    }
    let scripted = lock(&state.api_script).pop_front();
    if let Some(ApiReply {
        delay,
        response,
        breaks,
    }) = scripted
    {
        tokio::time::sleep(delay).await;
        match (response, breaks) {
            (Some(canned), Some(how)) => {
                let conn = parts.extensions.get::<super::breaking::ResetOnClose>();
                return super::breaking::breaking(canned.status, canned.body, how, conn);
            }
            (Some(canned), None) => return canned_response(canned),
            (None, _) => {}
        }
    }

    if recorded.client_id.is_none() {
        return json_response(401, invalid_token_answer(&recorded.path));
    }

    if let Some(n) = recorded
        .query
        .as_deref()
        .and_then(|q| form_value(q, "fake_bytes"))
        .and_then(|n| n.parse::<u64>().ok())
    {
        return download(n);
    }
    json_response(
        200,
        json!({
            "data": [{"id": "4876876000000333001", "Last_Name": "Lovelace", "First_Name": "Ada", "Company": "Fake Zoho"}],
            "info": {"per_page": 200, "count": 1, "page": 1, "more_records": false},
            "echo": {"method": recorded.method, "path": recorded.path, "query": recorded.query, "body_bytes": body_len},
        }),
    )
}

fn canned_response(canned: Canned) -> Response<ProxyBody> {
    let mut resp = match canned.stall_at {
        None => text_response(canned.status, "application/json;charset=UTF-8", canned.body),
        Some(declared) => stalling(canned.status, canned.body, declared),
    };
    for (k, v) in canned.headers {
        if let (Ok(k), Ok(v)) = (
            header::HeaderName::from_bytes(k.as_bytes()),
            header::HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

/// What each product answers (HTTP 401) to an expired or revoked token,
/// told apart by the paths the proxy's routes use for it.
pub fn invalid_token_answer(path: &str) -> serde_json::Value {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "books" | "inventory" => {
            json!({"code": 57, "message": "You are not authorized to perform this operation"})
        }
        "workdrive" => json!({"errors": [{"id": "F7003", "title": "Invalid OAuth token."}]}),
        "restapi" => json!({"error": {"code": 6401, "message": "Invalid OAuth access token."}}),
        "creator" => {
            json!({"code": 1030, "description": "Authorization Failure. The access token is either invalid or has expired."})
        }
        // Desk lives under /api/v1, Mail under /api/accounts.
        "api" if path.starts_with("/api/v1/") => {
            json!({"errorCode": "INVALID_OAUTH", "message": "The OAuth Token you provided is invalid."})
        }
        "api" => {
            json!({"data": {"errorCode": "INVALID_OAUTHTOKEN"}, "status": {"code": 401, "description": "Invalid Access"}})
        }
        _ => {
            json!({"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"})
        }
    }
}

/// `head`, then nothing, under a head that promises `declared` bytes.
fn stalling(status: u16, head: String, declared: u64) -> Response<ProxyBody> {
    let mut resp = Response::new(boxed(Stalling(Some(Bytes::from(head)))));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, header::HeaderValue::from(declared));
    resp
}

/// Yields its one chunk, then is pending for ever.
struct Stalling(Option<Bytes>);

impl http_body::Body for Stalling {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.0.take() {
            Some(head) => std::task::Poll::Ready(Some(Ok(Frame::data(head)))),
            None => std::task::Poll::Pending,
        }
    }
}

/// A streamed body of `n` bytes, generated chunk by chunk.
fn download(n: u64) -> Response<ProxyBody> {
    let mut resp = Response::new(boxed(Generated::new(n, true)));
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, header::HeaderValue::from(n));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    resp
}

/// `left` bytes made 64 KiB at a time, never held in memory at once; with or
/// without a declared length (a chunked upload has none).
pub struct Generated {
    left: u64,
    chunk: Bytes,
    declared: bool,
}

impl Generated {
    pub fn new(len: u64, declared: bool) -> Self {
        Generated {
            left: len,
            chunk: Bytes::from(vec![b'z'; 64 * 1024]),
            declared,
        }
    }
}

impl http_body::Body for Generated {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        let len = (self.chunk.len() as u64).min(self.left) as usize;
        self.left -= len as u64;
        std::task::Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..len)))))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        if self.declared {
            http_body::SizeHint::with_exact(self.left)
        } else {
            http_body::SizeHint::default()
        }
    }
}
