//! The token manager under stress, end to end: each product's "dead token"
//! answer refreshes and replays once while its scope or org mismatch passes
//! through; an endpoint stuck on 401 cannot spend the mint budget or stop
//! other routes; a hung accounts server holds a client only until its
//! `request_timeout`.

mod common;

use std::time::Duration;

use common::Harness;
use http::StatusCode;
use tokio::time::Instant;
use zoho_proxy::fake::{ApiReply, Canned, FakeZoho, TokenReply};

/// One route per product, each on the host the product lives on (all of
/// them the fake), with `requires` standing in for the scope catalog.
fn product_routes() -> String {
    [
        ("crm", "/crm/**", "api", "ZohoCRM.modules.ALL"),
        ("books", "/books/**", "api", "ZohoBooks.fullaccess.ALL"),
        ("workdrive", "/workdrive/**", "api", "WorkDrive.files.ALL"),
        ("creator", "/creator/**", "api", "ZohoCreator.report.ALL"),
        ("desk", "/api/v1/**", "desk", "Desk.tickets.ALL"),
        ("mail", "/api/accounts/**", "mail", "ZohoMail.accounts.ALL"),
        (
            "projects",
            "/restapi/**",
            "projects",
            "ZohoProjects.portals.ALL",
        ),
    ]
    .iter()
    .map(|(name, path, upstream, scope)| {
        format!(
            "[[routes]]\nname = \"{name}\"\npath = \"{path}\"\nupstream = \"{upstream}\"\n\
             scopes = [\"{scope}\"]\nrequires = \"{scope}\"\n"
        )
    })
    .collect()
}

/// A proxy in front of a fresh fake for every product; `zoho` adds lines.
async fn products_proxy(zoho: &str) -> Harness {
    let fake = FakeZoho::start().await.unwrap();
    let url = fake.url().to_owned();
    let zoho = format!(
        "{zoho}\nupstreams = {{ desk = \"{url}\", mail = \"{url}\", projects = \"{url}\" }}"
    );
    let h = Harness::start_with(fake, "", &zoho, &product_routes()).await;
    h.ready().await;
    h
}

fn canned(status: u16, body: &str) -> Canned {
    Canned {
        status,
        headers: vec![],
        body: body.to_owned(),
        stall_at: None,
    }
}

#[tokio::test]
async fn each_products_dead_token_answer_is_refreshed_and_replayed_once() {
    // (path, an answer that must never cause a refresh)
    let products = [
        (
            "/crm/v8/Leads",
            r#"{"code":"OAUTH_SCOPE_MISMATCH","details":{},"message":"invalid oauth scope to access this URL","status":"error"}"#,
        ),
        (
            "/books/v3/invoices?organization_id=1",
            r#"{"code":6041,"message":"This user is not associated with the CompanyID/CompanyName:1."}"#,
        ),
        (
            "/workdrive/api/v1/files/abc",
            r#"{"errors":[{"id":"F7007","title":"Invalid OAuth scope."}]}"#,
        ),
        (
            "/creator/v2.1/data/o/app/report/r",
            r#"{"code":1000,"description":"Mandatory parameter missing"}"#,
        ),
        (
            "/api/v1/tickets",
            r#"{"errorCode":"SCOPE_MISMATCH","message":"The OAuth scope does not match."}"#,
        ),
        (
            "/api/v1/contacts",
            r#"{"errorCode":"OAUTH_ORG_MISMATCH","message":"The org does not match."}"#,
        ),
        (
            "/api/accounts/1/messages/view",
            r#"{"data":{"errorCode":"INVALID_OAUTHSCOPE"},"status":{"code":401,"description":"Invalid Access"}}"#,
        ),
        (
            "/restapi/portal/1/projects",
            r#"{"error":{"code":6890,"message":"Invalid OAuth scope."}}"#,
        ),
    ];
    for (path, mismatch) in products {
        // A fresh proxy each time: every product gets the whole 401 allowance.
        let h = products_proxy("rejected_token_min_age = \"0s\"").await;
        h.fake.revoke_tokens();
        let resp = h.get(path).await;
        assert_eq!(resp.status, StatusCode::OK, "{path}: {}", resp.text());
        assert_eq!(h.fake.token_requests(), 2, "{path}: one refresh");
        let seen = h.fake.requests();
        assert_eq!(seen.len(), 2, "{path}: the rejected call and one replay");
        assert_ne!(
            seen[0].headers["authorization"],
            seen[1].headers["authorization"]
        );

        h.fake.script_api(ApiReply::status(401, mismatch));
        let resp = h.get(path).await;
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(resp.text(), mismatch, "{path}: Zoho's answer, untouched");
        assert_eq!(resp.proxy_error(), None);
        assert_eq!(h.fake.token_requests(), 2, "{path}: no mint for {mismatch}");
        assert_eq!(h.fake.requests().len(), 3, "{path}: no replay");
    }
}

#[tokio::test]
async fn an_endpoint_stuck_on_401_cannot_spend_the_budget_or_stop_other_routes() {
    let h = products_proxy("rejected_token_min_age = \"0s\"").await;
    h.fake.answer_path(
        "/crm/v8/Deals",
        canned(401, r#"{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}"#),
    );
    let mut kept = 0;
    for _ in 0..20 {
        let resp = h.get("/crm/v8/Deals").await;
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
        if resp.proxy_error() == Some("TOKEN_REJECTED") {
            kept += 1;
            let v = resp.json();
            assert_eq!(v["details"]["zoho_error"], "INVALID_TOKEN");
            assert!(v["message"].as_str().unwrap().contains("allowance"), "{v}");
        }
        // Meanwhile every other route works.
        assert_eq!(h.get("/crm/v8/Leads").await.status, StatusCode::OK);
        assert_eq!(h.get("/api/v1/tickets").await.status, StatusCode::OK);
    }
    // The first token, then the 401 allowance (2 of 10) and nothing more.
    assert_eq!(h.fake.token_requests(), 3);
    assert_eq!(kept, 18);
}

#[tokio::test]
async fn a_401_on_a_fresh_token_keeps_it_and_says_so() {
    let h = products_proxy("").await;
    h.fake.answer_path(
        "/api/v1/tickets",
        canned(
            401,
            r#"{"errorCode":"INVALID_OAUTH","message":"The OAuth Token you provided is invalid."}"#,
        ),
    );
    for _ in 0..5 {
        let resp = h.get("/api/v1/tickets").await;
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
        assert_eq!(resp.proxy_error(), Some("TOKEN_REJECTED"));
        let v = resp.json();
        assert_eq!(v["details"]["zoho_error"], "INVALID_OAUTH");
        assert_eq!(v["details"]["side"], "upstream");
        assert!(v["message"].as_str().unwrap().contains("minted"), "{v}");
    }
    assert_eq!(
        h.fake.token_requests(),
        1,
        "a token seconds old is not blamed"
    );
    assert_eq!(h.fake.requests().len(), 5, "and nothing was replayed");
    assert_eq!(h.get("/crm/v8/Leads").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_hung_accounts_server_answers_the_client_within_request_timeout() {
    let fake = FakeZoho::start().await.unwrap();
    fake.script_token(TokenReply::Slow(Duration::from_secs(60)));
    let h = Harness::start_with(fake, "request_timeout = \"2s\"", "", common::ALLOW_ALL).await;
    let asked = Instant::now();
    let resp = h.get("/crm/v8/Leads").await;
    let took = asked.elapsed();
    assert_eq!(resp.status, StatusCode::GATEWAY_TIMEOUT, "{}", resp.text());
    assert_eq!(resp.proxy_error(), Some("ACCOUNTS_TIMEOUT"));
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(5),
        "answered after {took:?}"
    );
}

#[tokio::test]
async fn refused_connections_to_accounts_are_reported_as_such() {
    let fake = FakeZoho::start().await.unwrap();
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut config = common::compile(&fake, "", "", common::ALLOW_ALL);
    config.credentials[0].zoho.accounts_url = format!("https://127.0.0.1:{port}").parse().unwrap();
    let running = zoho_proxy::server::start(std::sync::Arc::new(config))
        .await
        .unwrap();
    let asked = Instant::now();
    let (status, headers, body) = common::raw_request(
        running.proxy_addr,
        "GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    // Promptly: no deadline (request_timeout, 120 s) was waited for.
    assert!(
        asked.elapsed() < Duration::from_secs(60),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(status, 502, "{body}");
    assert!(
        headers.contains("x-zoho-proxy-error: accounts_error"),
        "{headers}"
    );
    assert!(body.contains("cannot connect to Zoho accounts"), "{body}");
    running.shutdown().await;
}
