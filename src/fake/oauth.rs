//! The fake's browser-facing authorization endpoint and the revocation
//! endpoint, for `zoho-proxy login` and `revoke`.
//!
//! `GET /oauth/v2/auth` is where Zoho shows its sign-in and consent pages;
//! the fake consents at once and answers the browser with a redirect to the
//! client's `redirect_uri`, carrying `state`, `code`, `location` and
//! `accounts-server` as Zoho does for server-based clients
//! (<https://www.zoho.com/accounts/protocol/oauth/multi-dc/client-authorization.html>).
//! `POST /oauth/v2/token/revoke?token=...` revokes a refresh token and the
//! access tokens minted from it (`{"status":"success"}`; HTTP 400 for a token
//! it does not know).

use http::{header, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::handlers::{drain, json_response, text_response};
use super::{lock, AuthReply, GrantCode, State, CLIENT_ID, SANDBOX_CLIENT_ID};
use crate::body::ProxyBody;
use crate::hash::random;
use crate::token::accounts::{form_encode, form_value};

/// Zoho answers a broken authorization request with a page, not a redirect.
fn page(status: u16, text: &str) -> Response<ProxyBody> {
    text_response(
        status,
        "text/html",
        format!("<html><body><h1>{text}</h1></body></html>"),
    )
}

pub(super) fn authorize(state: &State, req: Request<Incoming>) -> Response<ProxyBody> {
    if req.method() != Method::GET {
        return page(405, "Method not allowed");
    }
    let query = req.uri().query().unwrap_or("").to_owned();
    let param = |k: &str| form_value(&query, k);
    let client_id = param("client_id").unwrap_or_default();
    if ![CLIENT_ID, SANDBOX_CLIENT_ID].contains(&client_id.as_str()) {
        return page(400, "Invalid Client");
    }
    let Some(redirect_uri) = param("redirect_uri").filter(|u| !u.is_empty()) else {
        return page(400, "Invalid Redirect Uri");
    };
    if param("response_type").as_deref() != Some("code") {
        return page(400, "Invalid response_type: only code is supported");
    }
    let scope = param("scope").unwrap_or_default();
    if scope.trim().is_empty() {
        return page(400, "Invalid scope");
    }
    let mut tokens = lock(&state.tokens);
    let reply = tokens.auth_script.pop_front().unwrap_or(AuthReply::Grant);
    let asked_state = param("state");
    let mut back: Vec<(&str, String)> = Vec::new();
    let (location, accounts_server) = match &reply {
        AuthReply::Error(code) => {
            back.push(("error", code.clone()));
            if let Some(s) = asked_state {
                back.push(("state", s));
            }
            return redirect(&redirect_uri, &back);
        }
        AuthReply::AccountsServer { location, url } => (location.clone(), url.clone()),
        AuthReply::Grant | AuthReply::State(_) => ("us".to_owned(), state.url.clone()),
    };
    match (&reply, asked_state) {
        (AuthReply::State(other), _) => back.push(("state", other.clone())),
        (_, Some(s)) => back.push(("state", s)),
        (_, None) => {}
    }
    // A refresh token only with access_type=offline; after the first
    // consent, only with prompt=consent too.
    let offline = param("access_type").as_deref() == Some("offline");
    let consent = param("prompt").as_deref() == Some("consent");
    let first = tokens.consented.insert(client_id);
    let refresh_token = (offline && (first || consent)).then(|| {
        format!(
            "1000.fakerefresh{:04}.{:016x}",
            tokens.refresh_tokens.len() + 1,
            random()
        )
    });
    let code = format!(
        "1000.fakeauthcode{:04}.{:016x}",
        tokens.grant_codes.len() + 1,
        random()
    );
    tokens.grant_codes.insert(
        code.clone(),
        GrantCode {
            // Zoho's answers list scopes space-separated.
            scope: scope
                .split(',')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" "),
            redirect_uri: Some(redirect_uri.clone()),
            refresh_token,
        },
    );
    back.push(("code", code));
    back.push(("location", location));
    back.push(("accounts-server", accounts_server));
    redirect(&redirect_uri, &back)
}

fn redirect(redirect_uri: &str, params: &[(&str, String)]) -> Response<ProxyBody> {
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let mut resp = page(302, "Found");
    *resp.status_mut() = StatusCode::FOUND;
    match header::HeaderValue::from_str(&format!("{redirect_uri}{sep}{}", form_encode(&pairs))) {
        Ok(location) => {
            resp.headers_mut().insert(header::LOCATION, location);
            resp
        }
        Err(_) => page(400, "Invalid Redirect Uri"),
    }
}

pub(super) async fn revoke(state: &State, req: Request<Incoming>) -> Response<ProxyBody> {
    if req.method() != Method::POST {
        return json_response(405, json!({"error": "invalid_request"}));
    }
    let query = req.uri().query().unwrap_or("").to_owned();
    let (_, body) = drain(req.into_body(), 64 * 1024).await;
    let body = String::from_utf8_lossy(body.as_deref().unwrap_or_default()).into_owned();
    let token = form_value(&query, "token")
        .or_else(|| form_value(&body, "token"))
        .unwrap_or_default();
    let mut tokens = lock(&state.tokens);
    if tokens.refresh_tokens.remove(&token) {
        let minted: Vec<String> = tokens
            .minted_from
            .iter()
            .filter(|(_, parent)| **parent == token)
            .map(|(access, _)| access.clone())
            .collect();
        for access in minted {
            tokens.valid.remove(&access);
            tokens.minted_from.remove(&access);
        }
    } else if tokens.valid.remove(&token).is_some() {
        tokens.minted_from.remove(&token);
    } else {
        return json_response(400, json!({"status": "failure"}));
    }
    tokens.revocations += 1;
    json_response(200, json!({"status": "success"}))
}
