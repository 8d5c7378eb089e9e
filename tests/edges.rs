//! Edge fixes from the red-team run: method/path override headers never
//! reach Zoho, and an HTTP/2-only upstream gets `:authority` without `host`.

mod common;

use common::{Harness, ALLOW_ALL};
use http::{Request, StatusCode, Version};
use zoho_proxy::body::empty;
use zoho_proxy::fake::FakeZoho;
use zoho_proxy::proxy::headers::OVERRIDES;

#[tokio::test]
async fn method_and_path_override_headers_never_reach_zoho() {
    let h = Harness::start(ALLOW_ALL).await;
    h.ready().await;
    let mut req = Request::get(h.url("/crm/v8/Leads")).header("x-keep", "yes");
    for name in OVERRIDES {
        req = req.header(name, "DELETE /crm/v8/settings/modules");
    }
    let resp = h.send(req.body(empty()).unwrap()).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    let seen = h.fake.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, "/crm/v8/Leads");
    assert_eq!(seen[0].headers["x-keep"], "yes", "other headers pass");
    for name in OVERRIDES {
        assert!(!seen[0].headers.contains_key(&name), "{name} reached Zoho");
    }
}

#[tokio::test]
async fn upstream_http_1_speaks_http_1_1_over_a_pool_of_kept_connections() {
    let fake = FakeZoho::start().await.unwrap();
    let authority = fake.url().trim_start_matches("https://").to_owned();
    let h = Harness::start_with(fake, "", "upstream_http = \"http1\"", ALLOW_ALL).await;
    h.ready().await;
    for _ in 0..3 {
        let resp = h.get("/crm/v8/Leads?page=2").await;
        assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    }
    let seen = h.fake.requests();
    assert_eq!(seen.len(), 3);
    for r in &seen {
        assert_eq!(r.version, Version::HTTP_11);
        assert_eq!(r.path, "/crm/v8/Leads");
        assert_eq!(r.query.as_deref(), Some("page=2"));
        // Over HTTP/1.1 the authority travels as Host, taken from the URI.
        assert_eq!(r.authority.as_deref(), Some(authority.as_str()));
        assert!(r.client_id.is_some(), "the proxy's token was attached");
    }
}

#[tokio::test]
async fn an_http2_only_upstream_gets_authority_and_no_host_header() {
    let fake = FakeZoho::start_h2_only().await.unwrap();
    let authority = fake.url().trim_start_matches("https://").to_owned();
    let h = Harness::start_with(fake, "", "", ALLOW_ALL).await;
    h.ready().await;
    let req = Request::get(h.url("/crm/v8/Leads"))
        .header("host", "evil.example")
        .body(empty())
        .unwrap();
    let resp = h.send(req).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    let seen = h.fake.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].version, Version::HTTP_2);
    assert_eq!(seen[0].authority.as_deref(), Some(authority.as_str()));
    assert!(
        !seen[0].headers.contains_key("host"),
        "{:?}",
        seen[0].headers
    );
}
