//! Faults of the parties the proxy depends on, each answered with a precise
//! status and error code, in bounded time, and with no write sent twice:
//!
//! - the accounts server answers an HTML 500, HTTP 200 with `error`, or
//!   HTTP 400 `Access Denied`, to a request that waits on that mint (one
//!   that is down or hangs: `token_stress.rs`);
//! - Zoho resets the connection mid-answer, truncates a chunked body, stalls
//!   after the head, cuts a 401 short, or presents a certificate of another CA.
//!
//! "Bounded time": a fault that needs no deadline is answered in less than
//! half of `request_timeout` (it did not wait for one); one that needs a
//! deadline is answered once it has passed, and before `request_timeout`.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{Harness, ALLOW_ALL};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;
use zoho_proxy::body::full;
use zoho_proxy::fake::{ApiReply, Break, FakeZoho, TokenReply};

/// The client's deadline for Zoho's head (`request_timeout`).
const DEADLINE: Duration = Duration::from_secs(10);
/// A body may go this long without a byte.
const IDLE: Duration = Duration::from_secs(1);

fn server_lines() -> String {
    format!(
        "request_timeout = \"{}s\"\nbody_idle_timeout = \"{}s\"",
        DEADLINE.as_secs(),
        IDLE.as_secs()
    )
}

/// What the client got: the head, and the body or how it failed.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Result<Bytes, String>,
    took: Duration,
}

impl Answer {
    fn code(&self) -> Option<&str> {
        self.headers
            .get("x-zoho-proxy-error")
            .and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> serde_json::Value {
        let body = self.body.as_ref().expect("a whole body");
        serde_json::from_slice(body).expect("a JSON body")
    }

    /// The proxy's own error answer, promptly.
    fn prompt_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{:?}", self.body);
        assert_eq!(self.code(), Some(code));
        // Zoho's envelope, made by the one response builder.
        assert_eq!(self.json()["code"], code);
        assert!(self.took < DEADLINE / 2, "answered after {:?}", self.took);
    }
}

/// Sends `method path` with a small body to the proxy at `addr`.
async fn send(addr: SocketAddr, method: &str, path: &str) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .body(full(r#"{"data":[{"Last_Name":"x"}]}"#))
        .unwrap();
    let asked = Instant::now();
    let resp = tokio::time::timeout(DEADLINE * 2, client.request(req))
        .await
        .expect("the proxy answers before twice its deadline")
        .expect("the proxy answers");
    let (parts, body) = resp.into_parts();
    let body = tokio::time::timeout(DEADLINE * 2, body.collect())
        .await
        .expect("the body ends before twice the deadline")
        .map(|b| b.to_bytes())
        .map_err(|e| format!("{e:?}"));
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
        took: asked.elapsed(),
    }
}

/// A proxy in front of `fake`, serving once it holds a token.
async fn ready(fake: FakeZoho) -> Harness {
    let h = Harness::start_with(fake, &server_lines(), "", ALLOW_ALL).await;
    h.ready().await;
    h
}

/// Requests of `method` that reached the fake.
fn reached(fake: &FakeZoho, method: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == method)
        .count()
}

// --- The accounts server -------------------------------------------------

/// A proxy whose first token request meets `fault`, and its answer to a
/// request made meanwhile.
async fn first_refresh_meets(fault: TokenReply) -> (Harness, Answer) {
    let fake = FakeZoho::start().await.unwrap();
    fake.script_token(fault);
    let h = Harness::start_with(fake, &server_lines(), "", ALLOW_ALL).await;
    let answer = send(h.addr, "POST", "/crm/v8/Leads").await;
    (h, answer)
}

#[tokio::test]
async fn accounts_answering_html_500_is_a_prompt_502() {
    let (h, a) = first_refresh_meets(TokenReply::Html500).await;
    a.prompt_error(502, "ACCOUNTS_ERROR");
    assert!(a.json()["message"].as_str().unwrap().contains("HTTP 500"));
    assert!(h.fake.requests().is_empty(), "nothing reached the API");
}

#[tokio::test]
async fn accounts_answering_200_with_error_is_a_prompt_502_naming_it() {
    let (h, a) = first_refresh_meets(TokenReply::Error("invalid_code".into())).await;
    a.prompt_error(502, "ACCOUNTS_ERROR");
    assert_eq!(a.json()["details"]["zoho_error"], "invalid_code");
    assert!(h.fake.requests().is_empty());
}

#[tokio::test]
async fn accounts_throttling_with_http_400_access_denied_is_a_prompt_503_with_retry_after() {
    let denied = r#"{"error_description":"You have made too many requests continuously. Please try again after some time.","error":"Access Denied","status":"failure"}"#;
    let (h, a) = first_refresh_meets(TokenReply::Raw(400, denied.into())).await;
    a.prompt_error(503, "TOKEN_UNAVAILABLE");
    let retry: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((590..=600).contains(&retry), "Retry-After {retry}");
    // Waiting out the window: no second token request meanwhile.
    send(h.addr, "GET", "/crm/v8/Leads")
        .await
        .prompt_error(503, "TOKEN_UNAVAILABLE");
    assert_eq!(h.fake.token_requests(), 1);
    assert!(h.fake.requests().is_empty());
}

// --- Zoho's API ----------------------------------------------------------

#[tokio::test]
async fn a_reset_mid_answer_is_a_502_and_the_post_is_not_resent() {
    let h = ready(FakeZoho::start().await.unwrap()).await;
    // Within response_buffer: read whole before the client gets a byte.
    h.fake
        .script_api(ApiReply::breaking(200, 10_000, Break::Reset));
    let a = send(h.addr, "POST", "/crm/v8/Leads").await;
    a.prompt_error(502, "UPSTREAM_BODY_FAILED");
    assert_eq!(reached(&h.fake, "POST"), 1, "a POST is never sent twice");
    // And the next request is served (a fresh connection to Zoho).
    assert_eq!(send(h.addr, "GET", "/crm/v8/Leads").await.status, 200);
}

#[tokio::test]
async fn a_reset_mid_large_answer_fails_the_clients_body() {
    let h = ready(FakeZoho::start().await.unwrap()).await;
    // Past response_buffer (256 KiB): the head has gone to the client.
    h.fake
        .script_api(ApiReply::breaking(200, 300_000, Break::Reset));
    let a = send(h.addr, "POST", "/crm/v8/Leads").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.body.is_err(),
        "a clean short body: {:?}",
        a.body.map(|b| b.len())
    );
    assert!(a.took < DEADLINE / 2, "ended after {:?}", a.took);
    assert_eq!(reached(&h.fake, "POST"), 1);
}

#[tokio::test]
async fn a_truncated_chunked_answer_is_a_502_or_fails_the_clients_body() {
    let h = ready(FakeZoho::start_http1_only().await.unwrap()).await;
    h.fake
        .script_api(ApiReply::breaking(200, 10_000, Break::Truncate));
    let a = send(h.addr, "POST", "/crm/v8/Leads").await;
    a.prompt_error(502, "UPSTREAM_BODY_FAILED");
    assert_eq!(reached(&h.fake, "POST"), 1);

    h.fake
        .script_api(ApiReply::breaking(200, 300_000, Break::Truncate));
    let a = send(h.addr, "POST", "/crm/v8/Leads").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.headers.get("content-length").is_none(), "chunked");
    assert!(
        a.body.is_err(),
        "a clean short body: {:?}",
        a.body.map(|b| b.len())
    );
    assert!(a.took < DEADLINE / 2, "ended after {:?}", a.took);
    assert_eq!(reached(&h.fake, "POST"), 2);
    assert!(h
        .fake
        .requests()
        .iter()
        .all(|r| r.version == http::Version::HTTP_11));
}

#[tokio::test]
async fn a_401_cut_short_is_a_502_not_an_empty_401() {
    let h = ready(FakeZoho::start().await.unwrap()).await;
    h.fake.script_api(ApiReply::breaking(401, 50, Break::Reset));
    let a = send(h.addr, "POST", "/crm/v8/Leads").await;
    a.prompt_error(502, "UPSTREAM_BODY_FAILED");
    assert_eq!(reached(&h.fake, "POST"), 1);
    assert_eq!(
        h.fake.token_requests(),
        1,
        "no refresh for an unread answer"
    );
}

#[tokio::test]
async fn a_stall_after_the_head_is_a_504_once_the_body_deadline_passes() {
    let h = ready(FakeZoho::start().await.unwrap()).await;
    h.fake.script_api(ApiReply::stall_after(0, 5_000));
    let a = send(h.addr, "POST", "/crm/v8/Leads").await;
    assert_eq!(a.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(a.code(), Some("UPSTREAM_BODY_TIMEOUT"));
    assert!(
        a.took >= IDLE && a.took < DEADLINE,
        "answered after {:?}",
        a.took
    );
    assert_eq!(reached(&h.fake, "POST"), 1);
}

#[tokio::test]
async fn an_api_certificate_of_another_ca_is_refused_before_a_byte_is_sent() {
    // Tokens from a fake the proxy trusts; the API on another fake, whose
    // certificate another CA signed.
    let accounts = FakeZoho::start().await.unwrap();
    let api = FakeZoho::start().await.unwrap();
    let mut config = common::compile(&accounts, &server_lines(), "", ALLOW_ALL);
    config.credentials[0].zoho.api_url = Some(api.url().parse().unwrap());
    let running = zoho_proxy::server::start(Arc::new(config)).await.unwrap();
    let a = send(running.proxy_addr, "POST", "/crm/v8/Leads").await;
    a.prompt_error(502, "UPSTREAM_UNREACHABLE");
    let message = a.json()["message"].as_str().unwrap().to_lowercase();
    assert!(message.contains("certificate"), "{message}");
    assert!(
        api.requests().is_empty(),
        "nothing went over the unverified connection"
    );
    assert_eq!(accounts.token_requests(), 1);
    running.shutdown().await;
}
