//! End-to-end behaviour of the request path against the fake Zoho over TLS.

mod common;

use std::time::Duration;

use common::{Harness, ALLOW_ALL};
use http::{Request, StatusCode};
use zoho_proxy::body::{empty, full};
use zoho_proxy::fake::{ApiReply, FakeZoho, TokenReply};

const LEADS_AND_CONTACTS: &str = r#"
[[routes]]
name = "leads-read"
path = "/crm/v*/Leads/**"
methods = ["GET"]
scopes = ["ZohoCRM.modules.leads.READ"]
requires = "ZohoCRM.modules.leads.READ"

[[routes]]
name = "contacts"
path = "/crm/v*/Contacts/**"
scopes = ["ZohoCRM.modules.contacts.ALL"]
headers = { orgId = "20070000" }
"#;

#[tokio::test]
async fn forwards_with_the_token_and_the_query_byte_for_byte() {
    let h = Harness::start(LEADS_AND_CONTACTS).await;
    let query = "fields=Last_Name,Email&page=2&x=%20a+b&empty=&x=dup&%E2%9C%93";
    let resp = h.get(&format!("/crm/v8/Leads?{query}")).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(resp.json()["data"][0]["Last_Name"], "Lovelace");

    let seen = h.fake.requests();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/crm/v8/Leads");
    assert_eq!(r.query.as_deref(), Some(query));
    let auth = r.headers["authorization"].to_str().unwrap();
    assert!(
        auth.starts_with("Zoho-oauthtoken 1000.fakeaccess"),
        "{auth}"
    );
    // The upstream connection negotiated HTTP/2 over ALPN.
    assert_eq!(r.version, http::Version::HTTP_2);
}

#[tokio::test]
async fn client_credentials_are_replaced_and_route_headers_added() {
    let h = Harness::start(LEADS_AND_CONTACTS).await;
    let req = Request::put(h.url("/crm/v2/Contacts/42"))
        .header(
            "authorization",
            "Zoho-oauthtoken 1000.stolen-from-somewhere",
        )
        .header("proxy-authorization", "Basic c2VjcmV0")
        .header("orgId", "999")
        .header("x-custom", "kept")
        .header("connection", "x-hop")
        .header("x-hop", "dropped")
        .body(full(r#"{"data":[{"Last_Name":"X"}]}"#))
        .unwrap();
    let resp = h.send(req).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    let r = &h.fake.requests()[0];
    let auths: Vec<_> = r.headers.get_all("authorization").iter().collect();
    assert_eq!(auths.len(), 1);
    assert!(!auths[0].to_str().unwrap().contains("stolen"));
    assert!(r.headers.get("proxy-authorization").is_none());
    assert!(r.headers.get("x-hop").is_none());
    assert_eq!(r.headers["orgid"], "20070000", "the route's header wins");
    assert_eq!(r.headers["x-custom"], "kept");
    assert_eq!(
        r.body.as_deref(),
        Some(&br#"{"data":[{"Last_Name":"X"}]}"#[..])
    );
}

#[tokio::test]
async fn denied_requests_never_reach_zoho() {
    let h = Harness::start(LEADS_AND_CONTACTS).await;
    for (method, path) in [
        ("POST", "/crm/v8/Leads"),
        ("GET", "/crm/v8/Deals"),
        ("GET", "/crm/v8/leads"),
        ("GET", "/"),
    ] {
        let resp = h.request(method, path, "").await;
        assert_eq!(resp.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(resp.proxy_error(), Some("ROUTE_NOT_ALLOWED"));
        let v = resp.json();
        assert_eq!(v["status"], "error");
        assert_eq!(v["details"]["method"], method);
    }
    assert!(h.fake.requests().is_empty());
}

#[tokio::test]
async fn a_route_whose_scopes_do_not_cover_requires_denies() {
    let routes = r#"
[[routes]]
name = "narrow"
path = "/crm/v8/Leads"
scopes = ["ZohoCRM.modules.leads.READ"]
requires = ["ZohoCRM.modules.leads.CREATE", "ZohoCRM.modules.leads.UPDATE"]
"#;
    let h = Harness::start(routes).await;
    let resp = h.request("POST", "/crm/v8/Leads/upsert", "").await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    let resp = h.request("POST", "/crm/v8/Leads", "{}").await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert_eq!(resp.proxy_error(), Some("SCOPE_NOT_ALLOWED"));
    let v = resp.json();
    assert_eq!(v["details"]["route"], "narrow");
    assert!(v["details"]["required_scope"]
        .as_str()
        .unwrap()
        .contains("ZohoCRM.modules.leads.CREATE"));
    assert!(h.fake.requests().is_empty());
}

#[tokio::test]
async fn forty_concurrent_requests_on_a_cold_start_make_one_token_request() {
    let fake = FakeZoho::start().await.unwrap();
    fake.script_token(TokenReply::Slow(Duration::from_millis(300)));
    let h = Harness::start_with(fake, "", "", ALLOW_ALL).await;
    let h = std::sync::Arc::new(h);
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let h = h.clone();
            tokio::spawn(async move { h.get(&format!("/crm/v8/Leads/{i}")).await.status })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(h.fake.token_requests(), 1);
    assert_eq!(h.fake.requests().len(), 40);
}

/// The fake revokes tokens seconds after minting them; by default the proxy
/// would not blame a token that young (see tests/token_stress.rs).
const YOUNG_TOKENS_MAY_DIE: &str = "rejected_token_min_age = \"0s\"";

#[tokio::test]
async fn a_rejected_token_is_refreshed_once_and_the_request_replayed_with_the_same_body() {
    let fake = FakeZoho::start().await.unwrap();
    let h = Harness::start_with(fake, "", YOUNG_TOKENS_MAY_DIE, ALLOW_ALL).await;
    h.ready().await;
    h.fake.revoke_tokens();
    let body = r#"{"data":[{"Last_Name":"Replay","Email":"a@b.c"}]}"#;
    let resp = h
        .request("POST", "/crm/v8/Contacts?trigger=workflow", body)
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(h.fake.token_requests(), 2);
    let seen = h.fake.requests();
    assert_eq!(seen.len(), 2, "one rejected attempt, one replay");
    assert_eq!(seen[0].body.as_deref(), Some(body.as_bytes()));
    assert_eq!(seen[1].body.as_deref(), Some(body.as_bytes()));
    assert_eq!(seen[1].query.as_deref(), Some("trigger=workflow"));
    assert_ne!(
        seen[0].headers["authorization"],
        seen[1].headers["authorization"]
    );
}

#[tokio::test]
async fn a_body_larger_than_the_replay_buffer_is_never_replayed() {
    let fake = FakeZoho::start().await.unwrap();
    let h = Harness::start_with(
        fake,
        "replay_buffer = \"1KiB\"",
        YOUNG_TOKENS_MAY_DIE,
        ALLOW_ALL,
    )
    .await;
    h.ready().await;
    h.fake.revoke_tokens();
    let big = "x".repeat(4096);
    let req = Request::post(h.url("/crm/v8/Contacts"))
        .body(full(big.clone()))
        .unwrap();
    let resp = h.send(req).await;
    // Zoho's own 401 is passed on, and the token is refreshed for the next request.
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    assert_eq!(resp.json()["code"], "INVALID_TOKEN");
    assert_eq!(resp.proxy_error(), None);
    assert_eq!(h.fake.requests().len(), 1);
    assert_eq!(h.fake.requests()[0].body_len, 4096);
    assert_eq!(h.fake.token_requests(), 2);
    assert_eq!(h.get("/crm/v8/Contacts").await.status, StatusCode::OK);
}

#[tokio::test]
async fn oauth_scope_mismatch_is_passed_through_without_a_refresh() {
    let h = Harness::start(ALLOW_ALL).await;
    h.ready().await;
    let mismatch = r#"{"code":"OAUTH_SCOPE_MISMATCH","details":{},"message":"invalid oauth scope to access this URL","status":"error"}"#;
    h.fake.script_api(ApiReply::status(401, mismatch));
    let resp = h.get("/crm/v8/Deals").await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    assert_eq!(resp.text(), mismatch);
    assert_eq!(resp.proxy_error(), None);
    assert_eq!(h.fake.token_requests(), 1);
    assert_eq!(h.fake.requests().len(), 1);
}

/// Starts a proxy whose first token request gets `reply`, and returns its
/// answer to a request made while it backs off.
async fn first_refresh_fails(reply: TokenReply) -> (Harness, common::Response) {
    let fake = FakeZoho::start().await.unwrap();
    fake.script_token(reply);
    let h = Harness::start_with(fake, "", "", ALLOW_ALL).await;
    // The background loop makes the first (failing) attempt at start.
    common::eventually("the first token request", Duration::from_secs(5), || {
        h.fake.token_requests() >= 1
    })
    .await;
    let resp = h.get("/crm/v8/Leads").await;
    (h, resp)
}

#[tokio::test]
async fn token_errors_answered_with_http_200_become_502_naming_zohos_error() {
    let (h, resp) = first_refresh_fails(TokenReply::Error("invalid_client".into())).await;
    assert_eq!(resp.status, StatusCode::BAD_GATEWAY, "{}", resp.text());
    assert_eq!(resp.proxy_error(), Some("ACCOUNTS_ERROR"));
    let v = resp.json();
    assert!(
        v["message"].as_str().unwrap().contains("invalid_client"),
        "{v}"
    );
    assert_eq!(v["details"]["zoho_error"], "invalid_client");
    assert!(h.fake.requests().is_empty());
    assert_eq!(
        h.admin_get("/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(h.admin_get("/healthz").await.status, StatusCode::OK);
    // Back-off: no new attempt within the first second.
    assert_eq!(h.fake.token_requests(), 1);
    // And it recovers by itself once the accounts server behaves.
    h.ready().await;
    assert_eq!(h.get("/crm/v8/Leads").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_html_500_from_accounts_is_a_502_not_a_crash() {
    let (_h, resp) = first_refresh_fails(TokenReply::Html500).await;
    assert_eq!(resp.status, StatusCode::BAD_GATEWAY);
    assert_eq!(resp.proxy_error(), Some("ACCOUNTS_ERROR"));
    assert!(resp.json()["message"]
        .as_str()
        .unwrap()
        .contains("HTTP 500"));
}

#[tokio::test]
async fn throttling_waits_out_the_window_and_says_so() {
    let (h, resp) = first_refresh_fails(TokenReply::Throttle).await;
    assert_eq!(resp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.proxy_error(), Some("TOKEN_UNAVAILABLE"));
    let retry: u64 = resp.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((590..=600).contains(&retry), "Retry-After {retry}");
    // Requests meanwhile fail fast without asking Zoho again.
    for _ in 0..5 {
        assert_eq!(
            h.get("/crm/v8/Leads").await.status,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    assert_eq!(h.fake.token_requests(), 1);
}

#[tokio::test]
async fn absolute_form_connect_and_host_never_steer_the_upstream() {
    let h = Harness::start(ALLOW_ALL).await;
    let other = format!("127.0.0.1:{}", h.fake.addr().port());
    let (status, headers, _) = h
        .raw(&format!("GET http://{other}/crm/v8/Leads HTTP/1.1\r\nHost: {other}\r\nConnection: close\r\n\r\n"))
        .await;
    assert_eq!(status, 400);
    assert!(
        headers.contains("x-zoho-proxy-error: bad_request_target"),
        "{headers}"
    );
    let (status, _, _) = h
        .raw(&format!(
            "CONNECT {other} HTTP/1.1\r\nHost: {other}\r\nConnection: close\r\n\r\n"
        ))
        .await;
    assert_eq!(status, 405);
    assert!(h.fake.requests().is_empty());

    let (status, _, _) = h
        .raw("GET /crm/v8/Leads HTTP/1.1\r\nHost: evil.example:443\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(status, 200);
    let seen = h.fake.requests();
    assert_eq!(seen.len(), 1);
    let expected = format!("localhost:{}", h.fake.addr().port());
    assert_eq!(seen[0].authority.as_deref(), Some(expected.as_str()));
}

#[tokio::test]
async fn ambiguous_paths_are_refused_before_routing() {
    let h = Harness::start(ALLOW_ALL).await;
    let cases = [
        ("/crm/v8/Leads/../Deals", "DOT_SEGMENT"),
        ("/crm/v8/Leads/./1", "DOT_SEGMENT"),
        ("/crm/v8/Leads/%2e%2e/Deals", "DOT_SEGMENT"),
        ("/crm/v8/Leads/.%2E/Deals", "DOT_SEGMENT"),
        ("/crm/v8/Leads%2f..%2fDeals", "ENCODED_SLASH"),
        ("/crm/v8/Leads%2FDeals", "ENCODED_SLASH"),
        ("/crm/v8/Leads%5cDeals", "ENCODED_SLASH"),
        ("/crm/v8//Leads", "EMPTY_SEGMENT"),
        ("/crm/v8/Leads/", "EMPTY_SEGMENT"),
        ("/crm/v8/Leads%00", "NUL_BYTE"),
        ("/crm/v8/Leads;jsessionid=1", "PATH_PARAMETER"),
        ("/crm/v8/Leads/..;/Deals", "PATH_PARAMETER"),
        ("/crm/v8/Leads%zz", "INVALID_PERCENT_ENCODING"),
        ("/crm/v8/Leads%4", "INVALID_PERCENT_ENCODING"),
    ];
    for (path, reason) in cases {
        let (status, headers, body) = h
            .raw(&format!(
                "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            ))
            .await;
        assert_eq!(status, 400, "{path}");
        assert!(
            headers.contains("x-zoho-proxy-error: invalid_path"),
            "{path}: {headers}"
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["details"]["reason"], reason, "{path}");
    }
    // A backslash is not even a valid request target: the HTTP parser refuses it.
    let (status, _, _) = h
        .raw("GET /crm/v8/Leads\\..\\Deals HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(status, 400);
    assert!(
        h.fake.requests().is_empty(),
        "nothing ambiguous reached Zoho"
    );

    // Encoded unreserved characters are decoded, and that exact string is forwarded.
    let resp = h.get("/crm/v8/%4Ceads/%31").await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(h.fake.requests()[0].path, "/crm/v8/Leads/1");
}

#[tokio::test]
async fn canonical_matching_cannot_be_bypassed_with_encodings() {
    let routes = r#"
[[routes]]
path = "/crm/v*/Leads/**"
methods = ["GET"]
scopes = ["ZohoCRM.modules.leads.READ"]
"#;
    let h = Harness::start(routes).await;
    assert_eq!(h.get("/crm/v8/%4Ceads").await.status, StatusCode::OK);
    assert_eq!(h.get("/crm/v8/Deals").await.status, StatusCode::FORBIDDEN);
    let (status, _, _) = h
        .raw("GET /crm/v8/Leads/%2e%2e/Deals HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(status, 400);
    assert_eq!(h.fake.requests().len(), 1);
}

#[tokio::test]
async fn upstream_timeout_is_a_504_and_unreachable_a_502() {
    let fake = FakeZoho::start().await.unwrap();
    let h = Harness::start_with(fake, "request_timeout = \"300ms\"", "", ALLOW_ALL).await;
    h.ready().await;
    // A POST is not retried after a timeout (it may have been processed).
    h.fake.script_api(ApiReply::slow(Duration::from_secs(3)));
    let resp = h.request("POST", "/crm/v8/Leads", "{}").await;
    assert_eq!(resp.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(resp.proxy_error(), Some("UPSTREAM_TIMEOUT"));
    assert_eq!(h.fake.requests().len(), 1);

    // An API host that refuses connections.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let fake = FakeZoho::start().await.unwrap();
    let mut config = common::compile(&fake, "", "", ALLOW_ALL);
    config.credentials[0].zoho.api_url =
        Some(format!("https://localhost:{closed}").parse().unwrap());
    let running = zoho_proxy::server::start(std::sync::Arc::new(config))
        .await
        .unwrap();
    let resp = common::raw_request(
        running.proxy_addr,
        "GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(resp.0, 502);
    assert!(
        resp.1.contains("x-zoho-proxy-error: upstream_unreachable"),
        "{}",
        resp.1
    );
    running.shutdown().await;
}

#[tokio::test]
async fn tls_verification_is_never_off() {
    // The same fake, but the proxy does not trust its CA.
    let fake = FakeZoho::start().await.unwrap();
    let mut config = common::compile(&fake, "", "", ALLOW_ALL);
    config.credentials[0].zoho.extra_roots.clear();
    let running = zoho_proxy::server::start(std::sync::Arc::new(config))
        .await
        .unwrap();
    let (status, headers, body) = common::raw_request(
        running.proxy_addr,
        "GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 502);
    assert!(headers.contains("accounts_error"), "{headers}");
    assert!(body.to_lowercase().contains("certificate"), "{body}");
    assert_eq!(
        fake.token_requests(),
        0,
        "no request was made over an unverified connection"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests_and_stops_accepting() {
    let mut h = Harness::start(ALLOW_ALL).await;
    h.ready().await;
    h.fake
        .script_api(ApiReply::slow(Duration::from_millis(500)));
    let arrived = h.fake.arrival();
    let url = h.url("/crm/v8/Leads");
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let in_flight = tokio::spawn(async move {
        let resp = client
            .request(Request::get(url).body(empty()).unwrap())
            .await
            .unwrap();
        resp.status()
    });
    arrived.await;
    let running = h.running.take().unwrap();
    let addr = h.addr;
    running.shutdown().await;
    assert_eq!(
        in_flight.await.unwrap(),
        StatusCode::OK,
        "the in-flight request completed"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

/// `workers = 4`: 32 connections spread over four threads are all served,
/// and a shutdown drains the requests in flight on every one of them before
/// it returns (a worker's runtime ending early would fail its requests).
#[tokio::test]
async fn requests_on_every_worker_are_served_and_drained_at_shutdown() {
    const N: usize = 32;
    let fake = FakeZoho::start().await.unwrap();
    let routes = format!("[rate_limit]\nmax_concurrent = 100\n{ALLOW_ALL}");
    let mut h = Harness::start_with(fake, "workers = 4", "", &routes).await;
    h.ready().await;
    assert_eq!(h.get("/crm/v8/Leads").await.status, StatusCode::OK);
    h.fake.set_api_delay(Duration::from_millis(500));
    let head = "GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let addr = h.addr;
    let calls: Vec<_> = (0..N)
        .map(|_| tokio::spawn(async move { common::raw_request(addr, head).await.0 }))
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.fake.in_flight() < N {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} in flight",
            h.fake.in_flight()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    h.running.take().unwrap().shutdown().await;
    for c in calls {
        assert_eq!(c.await.unwrap(), 200, "an in-flight request was cut");
    }
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no worker still accepting"
    );
}

/// The benchmark's fake: a fixed delay before every answer (a distant Zoho)
/// and no recording (flat memory over millions of requests).
#[tokio::test]
async fn the_fake_can_answer_late_and_stop_recording() {
    let h = Harness::start(ALLOW_ALL).await;
    h.ready().await;
    h.fake.set_api_delay(Duration::from_secs(1));
    let started = tokio::time::Instant::now();
    assert_eq!(h.get("/crm/v8/Leads").await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(h.fake.requests().len(), 1);
    h.fake.set_api_delay(Duration::ZERO);
    h.fake.keep_records(false);
    let started = tokio::time::Instant::now();
    assert_eq!(h.get("/crm/v8/Leads").await.status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no delay any more"
    );
    assert_eq!(h.fake.requests().len(), 1, "not recorded");
}
