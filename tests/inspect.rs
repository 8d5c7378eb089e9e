//! Body inspection end to end: COQL, composite and bulk calls are judged by
//! what their body touches, before anything reaches (the fake) Zoho.

mod common;

use common::Harness;
use http::{Request, StatusCode};
use zoho_proxy::body::full;
use zoho_proxy::fake::FakeZoho;

const COQL_LEADS: &str = r#"
[[routes]]
name = "coql-leads"
path = "/crm/**"
scopes = ["ZohoCRM.coql.READ", "ZohoCRM.modules.leads.READ"]
"#;

fn assert_refused(resp: &common::Response, status: StatusCode, code: &str) {
    assert_eq!(resp.status, status, "{}", resp.text());
    assert_eq!(resp.proxy_error(), Some(code), "{}", resp.text());
}

#[tokio::test]
async fn coql_reads_only_the_modules_the_route_grants() {
    let h = Harness::start(COQL_LEADS).await;
    let leads =
        r#"{"select_query": "select Last_Name from Leads where Company = 'from Deals' limit 10"}"#;
    let resp = h.request("POST", "/crm/v8/coql", leads).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());

    let deals = r#"{"select_query": "SELECT Deal_Name FROM Deals"}"#;
    let resp = h.request("POST", "/crm/v8/coql", deals).await;
    assert_refused(&resp, StatusCode::FORBIDDEN, "SCOPE_NOT_ALLOWED");
    let v = resp.json();
    assert_eq!(v["details"]["missing_scope"], "ZohoCRM.modules.deals.READ");
    assert_eq!(v["details"]["needed_by"], "FROM Deals");
    assert!(
        v["message"].as_str().unwrap().contains("FROM Deals needs"),
        "{v}"
    );

    for body in [
        r#"{"select_query": "select Last_Name from Leads where id in (select id from Deals)"}"#,
        r#"{"select_query": "select Last_Name from Leads -- from Deals"}"#,
        r#"{"select_query": "select Last_Name from Leads", "Select_Query": "select Deal_Name from Deals"}"#,
        r#"{"select_query": "select Last_Name from Leads""#,
        "",
    ] {
        let resp = h.request("POST", "/crm/v8/coql", body).await;
        assert_refused(&resp, StatusCode::FORBIDDEN, "BODY_NOT_UNDERSTOOD");
        let v = resp.json();
        assert!(v["details"]["reason"].is_string(), "{v}");
        assert!(
            !v.to_string().contains("Deal_Name"),
            "the body is never echoed: {v}"
        );
    }

    let seen = h.fake.requests();
    assert_eq!(seen.len(), 1, "only the allowed query reached Zoho");
    assert_eq!(seen[0].body.as_deref(), Some(leads.as_bytes()));
}

#[tokio::test]
async fn coql_lookup_fields_need_read_on_all_modules() {
    let h = Harness::start(COQL_LEADS).await;
    let lookup = r#"{"select_query": "select Last_Name, Owner.email from Leads"}"#;
    let resp = h.request("POST", "/crm/v8/coql", lookup).await;
    assert_refused(&resp, StatusCode::FORBIDDEN, "SCOPE_NOT_ALLOWED");
    assert_eq!(
        resp.json()["details"]["missing_scope"],
        "ZohoCRM.modules.READ"
    );
    assert!(h.fake.requests().is_empty());

    let wide = "[[routes]]\npath = \"/crm/**\"\nscopes = [\"ZohoCRM.coql.READ\", \"ZohoCRM.modules.READ\"]\n";
    let h = Harness::start(wide).await;
    let resp = h.request("POST", "/crm/v8/coql", lookup).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
}

#[tokio::test]
async fn notes_in_a_body_need_their_parents_module_too() {
    let notes_only = r#"
[[routes]]
path = "/crm/**"
scopes = ["ZohoCRM.coql.READ", "ZohoCRM.bulk.READ", "ZohoCRM.modules.notes.READ"]
"#;
    let h = Harness::start(notes_only).await;
    let coql = r#"{"select_query": "select Note_Title, Note_Content from Notes limit 10"}"#;
    let bulk = r#"{"query": {"module": {"api_name": "Notes"}}}"#;
    for (path, body) in [("/crm/v8/coql", coql), ("/crm/bulk/v8/read", bulk)] {
        let resp = h.request("POST", path, body).await;
        assert_refused(&resp, StatusCode::FORBIDDEN, "SCOPE_NOT_ALLOWED");
        let v = resp.json();
        assert_eq!(v["details"]["missing_scope"], "ZohoCRM.modules.READ", "{v}");
        assert!(
            v["details"]["needed_by"]
                .as_str()
                .is_some_and(|b| b.contains("parent")),
            "{v}"
        );
    }
    assert!(h.fake.requests().is_empty(), "nothing reached Zoho");

    let with_parents = r#"
[[routes]]
path = "/crm/**"
scopes = ["ZohoCRM.coql.READ", "ZohoCRM.bulk.READ", "ZohoCRM.modules.notes.READ", "ZohoCRM.modules.READ"]
"#;
    let h = Harness::start(with_parents).await;
    for (path, body) in [("/crm/v8/coql", coql), ("/crm/bulk/v8/read", bulk)] {
        let resp = h.request("POST", path, body).await;
        assert_eq!(resp.status, StatusCode::OK, "{path}: {}", resp.text());
    }
    assert_eq!(h.fake.requests().len(), 2);
}

#[tokio::test]
async fn coql_modules_join_what_the_token_must_have_been_granted() {
    let fake = FakeZoho::start().await.unwrap();
    fake.set_granted_scope(Some("ZohoCRM.coql.READ"));
    let h = Harness::start_with(fake, "", "", COQL_LEADS).await;
    h.ready().await;
    let leads = r#"{"select_query": "select Last_Name from Leads"}"#;
    let resp = h.request("POST", "/crm/v8/coql", leads).await;
    assert_refused(&resp, StatusCode::FORBIDDEN, "SCOPE_NOT_GRANTED");
    assert!(h.fake.requests().is_empty());
}

const COMPOSITE: &str = r#"
[[routes]]
name = "composite"
path = "/crm/**"
scopes = ["ZohoCRM.composite_requests.CUSTOM", "ZohoCRM.modules.leads.ALL", "ZohoCRM.modules.deals.READ"]
"#;

#[tokio::test]
async fn one_denied_sub_request_denies_the_whole_composite_call() {
    let h = Harness::start(COMPOSITE).await;
    let allowed = r#"{"__composite_requests": [
        {"sub_request_id": "1", "method": "POST", "uri": "/crm/v6/Leads", "body": {"data": [{"Last_Name": "X"}]}},
        {"sub_request_id": "2", "method": "GET", "uri": "/crm/v6/Deals/123"}]}"#;
    let resp = h
        .request("POST", "/crm/v8/__composite_requests", allowed)
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(h.fake.requests().len(), 1);

    let denied = r#"{"__composite_requests": [
        {"sub_request_id": "1", "method": "GET", "uri": "/crm/v6/Leads"},
        {"sub_request_id": "2", "method": "DELETE", "uri": "/crm/v6/Deals/123"}]}"#;
    let resp = h
        .request("POST", "/crm/v8/__composite_requests", denied)
        .await;
    assert_refused(&resp, StatusCode::FORBIDDEN, "SCOPE_NOT_ALLOWED");
    let message = resp.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("DELETE /crm/v6/Deals/123 needs ZohoCRM.modules.deals.DELETE"),
        "{message}"
    );

    for body in [
        r#"{"__composite_requests": [{"method": "GET", "uri": "/crm/v6/Leads/%2e%2e/Deals"}]}"#,
        r#"{"__composite_requests": [{"method": "GET", "uri": "/crm/v6/settings/modules"}]}"#,
        r#"{"__composite_requests": [{"method": "GET", "uri": "/crm/v6/Leads"}"#,
    ] {
        let resp = h
            .request("POST", "/crm/v8/__composite_requests", body)
            .await;
        assert!(
            resp.status == StatusCode::FORBIDDEN
                && matches!(
                    resp.proxy_error(),
                    Some("BODY_NOT_UNDERSTOOD" | "SCOPE_NOT_ALLOWED")
                ),
            "{body}: {}",
            resp.text()
        );
    }
    assert_eq!(h.fake.requests().len(), 1, "no denied call reached Zoho");
}

#[tokio::test]
async fn composite_sub_requests_must_fit_the_routes_methods_and_path() {
    let routes = r#"
[[routes]]
name = "composite-get"
path = "/crm/v8/**"
methods = ["GET", "POST"]
scopes = ["ZohoCRM.composite_requests.CUSTOM", "ZohoCRM.modules.leads.ALL"]
"#;
    let h = Harness::start(routes).await;
    for body in [
        r#"{"__composite_requests": [{"method": "DELETE", "uri": "/crm/v8/Leads/1"}]}"#,
        r#"{"__composite_requests": [{"method": "GET", "uri": "/crm/v2/Leads/1"}]}"#,
    ] {
        let resp = h
            .request("POST", "/crm/v8/__composite_requests", body)
            .await;
        assert_refused(&resp, StatusCode::FORBIDDEN, "BODY_NOT_UNDERSTOOD");
        assert!(resp.text().contains("does not allow"), "{}", resp.text());
    }
    assert!(h.fake.requests().is_empty());
}

#[tokio::test]
async fn bulk_jobs_need_the_scope_of_the_module_in_the_body() {
    let routes = r#"
[[routes]]
path = "/crm/**"
scopes = ["ZohoCRM.bulk.ALL", "ZohoCRM.modules.leads.ALL", "ZohoCRM.modules.deals.CREATE"]
"#;
    let h = Harness::start(routes).await;
    let ok = [
        (
            "/crm/bulk/v8/read",
            r#"{"query": {"module": {"api_name": "Leads"}, "fields": ["Last_Name"]}}"#,
        ),
        (
            "/crm/bulk/v8/write",
            r#"{"operation": "upsert", "resource": [{"type": "data", "module": {"api_name": "Leads"}, "file_id": "1"}]}"#,
        ),
    ];
    for (path, body) in ok {
        let resp = h.request("POST", path, body).await;
        assert_eq!(resp.status, StatusCode::OK, "{path}: {}", resp.text());
    }
    let denied = [
        (
            "/crm/bulk/v8/read",
            r#"{"query": {"module": {"api_name": "Deals"}}}"#,
            "ZohoCRM.modules.deals.READ",
        ),
        (
            "/crm/bulk/v8/write",
            r#"{"operation": "insert", "resource": [{"type": "data", "module": {"api_name": "Deals"}, "file_id": "1"}]}"#,
            "ZohoCRM.modules.deals.UPDATE",
        ),
    ];
    for (path, body, missing) in denied {
        let resp = h.request("POST", path, body).await;
        assert_refused(&resp, StatusCode::FORBIDDEN, "SCOPE_NOT_ALLOWED");
        assert_eq!(resp.json()["details"]["missing_scope"], missing, "{path}");
    }
    let resp = h
        .request(
            "POST",
            "/crm/bulk/v8/read",
            r#"{"query": {"module": {"id": "1"}}}"#,
        )
        .await;
    assert_refused(&resp, StatusCode::FORBIDDEN, "BODY_NOT_UNDERSTOOD");
    assert_eq!(h.fake.requests().len(), 2);
}

#[tokio::test]
async fn an_inspected_body_larger_than_replay_buffer_is_refused() {
    let fake = FakeZoho::start().await.unwrap();
    let h = Harness::start_with(fake, "replay_buffer = \"1KiB\"", "", COQL_LEADS).await;
    let long = format!(
        r#"{{"select_query": "select Last_Name from Leads where Company = '{}'"}}"#,
        "x".repeat(2048)
    );
    let req = Request::post(h.url("/crm/v8/coql"))
        .body(full(long))
        .unwrap();
    let resp = h.send(req).await;
    assert_refused(&resp, StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE");
    assert!(resp.text().contains("1024 bytes"), "{}", resp.text());
    // The same query without the padding fits, and passes.
    let routes_ok = h
        .request(
            "POST",
            "/crm/v8/coql",
            r#"{"select_query": "select Last_Name from Leads"}"#,
        )
        .await;
    assert_eq!(routes_ok.status, StatusCode::OK);
    assert_eq!(h.fake.requests().len(), 1);
}
