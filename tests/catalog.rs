//! Least privilege in Zoho's vocabulary, end to end: the scope catalog decides
//! before anything reaches (the fake) Zoho.

mod common;

use common::Harness;
use http::StatusCode;
use zoho_proxy::fake::FakeZoho;

/// The three-line config from the README.
const LEAST_PRIVILEGE: &str = r#"
[[routes]]
path = "/crm/**"
scopes = ["ZohoCRM.modules.leads.READ", "ZohoCRM.modules.contacts.ALL", "ZohoCRM.coql.READ"]
"#;

#[tokio::test]
async fn the_readme_example_allows_exactly_what_its_scopes_cover() {
    let h = Harness::start(LEAST_PRIVILEGE).await;
    for (method, path, body) in [
        ("GET", "/crm/v2/Leads", ""),
        ("DELETE", "/crm/v8/Contacts/1", ""),
        (
            "POST",
            "/crm/v8/coql",
            r#"{"select_query": "select Last_Name from Leads"}"#,
        ),
    ] {
        let resp = h.request(method, path, body).await;
        assert_eq!(
            resp.status,
            StatusCode::OK,
            "{method} {path}: {}",
            resp.text()
        );
    }
    assert_eq!(h.fake.requests().len(), 3);
    for (method, path, needs) in [
        ("POST", "/crm/v2/Leads", "ZohoCRM.modules.leads.CREATE"),
        ("GET", "/crm/v2/Deals", "ZohoCRM.modules.deals.READ"),
        ("GET", "/crm/v2/users", "ZohoCRM.users.READ"),
        (
            "GET",
            "/crm/v2/settings/modules",
            "ZohoCRM.settings.modules.READ",
        ),
        (
            "POST",
            "/crm/v8/Leads/upsert",
            "ZohoCRM.modules.leads.CREATE",
        ),
    ] {
        let resp = h.request(method, path, "{}").await;
        assert_eq!(resp.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(
            resp.proxy_error(),
            Some("SCOPE_NOT_ALLOWED"),
            "{method} {path}"
        );
        let v = resp.json();
        assert_eq!(v["details"]["route"], "routes[0]");
        let required = v["details"]["required_scope"].as_str().unwrap();
        assert!(required.contains(needs), "{method} {path}: {required}");
    }
    assert_eq!(h.fake.requests().len(), 3, "no denied request reached Zoho");
}

#[tokio::test]
async fn an_endpoint_the_catalog_does_not_know_is_denied_by_default() {
    let h = Harness::start(LEAST_PRIVILEGE).await;
    for path in [
        "/crm/v8/settings/brand_new_thing",
        "/crm/v8/__brand_new",
        "/crm/v9/Leads",
    ] {
        let resp = h.get(path).await;
        assert_eq!(resp.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(resp.proxy_error(), Some("SCOPE_UNKNOWN"), "{path}");
        assert!(resp.json()["message"]
            .as_str()
            .unwrap()
            .contains("requires"));
    }
    assert!(h.fake.requests().is_empty());
}

#[tokio::test]
async fn a_scope_the_token_was_not_granted_is_refused_locally() {
    let fake = FakeZoho::start().await.unwrap();
    fake.set_granted_scope(Some("ZohoCRM.modules.leads.READ,ZohoCRM.coql.READ"));
    let h = Harness::start_with(fake, "", "", LEAST_PRIVILEGE).await;
    h.ready().await;
    assert_eq!(h.get("/crm/v8/Leads").await.status, StatusCode::OK);
    let resp = h.request("DELETE", "/crm/v8/Contacts/1", "").await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert_eq!(resp.proxy_error(), Some("SCOPE_NOT_GRANTED"));
    assert_eq!(
        resp.json()["details"]["required_scope"],
        "ZohoCRM.modules.contacts.DELETE"
    );
    assert_eq!(
        h.fake.requests().len(),
        1,
        "the refused request never left the proxy"
    );
}

#[tokio::test]
async fn a_desk_route_reaches_the_desk_host_with_its_org_id() {
    let routes = r#"
[[routes]]
name = "desk-tickets"
path = "/api/v1/tickets/**"
upstream = "desk"
scopes = ["Desk.tickets.READ"]
headers = { orgId = "60001234" }
"#;
    let fake = FakeZoho::start().await.unwrap();
    let desk = format!("upstreams = {{ desk = \"{}\" }}", fake.url());
    let h = Harness::start_with(fake, "", &desk, routes).await;
    let resp = h.get("/api/v1/tickets?limit=10").await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    let seen = &h.fake.requests()[0];
    assert_eq!(seen.path, "/api/v1/tickets");
    assert_eq!(seen.headers["orgid"], "60001234");
    assert_eq!(
        h.request("POST", "/api/v1/tickets", "{}").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(h.fake.requests().len(), 1);
}

#[tokio::test]
async fn scopes_compare_ignoring_case_end_to_end() {
    let routes = r#"
[[routes]]
path = "/crm/**"
scopes = ["ZohoCRM.modules.Leads.read", "zohocrm.MODULES.contacts.All"]
"#;
    let h = Harness::start(routes).await;
    assert_eq!(h.get("/crm/v8/Leads").await.status, StatusCode::OK);
    let resp = h.request("DELETE", "/crm/v8/Contacts/1", "").await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    let resp = h.request("POST", "/crm/v8/Leads", "{}").await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert_eq!(resp.proxy_error(), Some("SCOPE_NOT_ALLOWED"));
    assert_eq!(h.fake.requests().len(), 2);
}

#[tokio::test]
async fn a_token_granted_another_spelling_is_not_refused() {
    let fake = FakeZoho::start().await.unwrap();
    fake.set_granted_scope(Some("ZohoCRM.modules.LEADS.READ,zohocrm.coql.read"));
    let h = Harness::start_with(fake, "", "", LEAST_PRIVILEGE).await;
    h.ready().await;
    let resp = h.get("/crm/v8/Leads").await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
}

#[tokio::test]
async fn top_level_notes_and_attachments_need_requires() {
    let routes = r#"
[[routes]]
path = "/crm/**"
scopes = ["ZohoCRM.modules.ALL"]
"#;
    let h = Harness::start(routes).await;
    for path in ["/crm/v8/Notes", "/crm/v8/Notes/5", "/crm/v8/Attachments/5"] {
        let resp = h.get(path).await;
        assert_eq!(resp.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(resp.proxy_error(), Some("SCOPE_UNKNOWN"), "{path}");
    }
    assert!(h.fake.requests().is_empty());
    // As a related list the parent is named: allowed with the parent's scope.
    let resp = h.get("/crm/v8/Leads/9/Notes").await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());

    // A route that states what it needs may reach top-level Notes.
    let routes = r#"
[[routes]]
path = "/crm/v8/Notes"
scopes = ["ZohoCRM.modules.notes.READ", "ZohoCRM.modules.leads.READ"]
requires = ["ZohoCRM.modules.notes.READ", "ZohoCRM.modules.leads.READ"]
"#;
    let h = Harness::start(routes).await;
    let resp = h.get("/crm/v8/Notes").await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
}

#[tokio::test]
async fn desk_actions_named_in_the_path_need_what_they_do() {
    let routes = r#"
[[routes]]
path = "/api/v1/**"
upstream = "desk"
scopes = ["Desk.tickets.UPDATE", "Desk.tickets.CREATE"]
"#;
    let fake = FakeZoho::start().await.unwrap();
    let desk = format!("upstreams = {{ desk = \"{}\" }}", fake.url());
    let h = Harness::start_with(fake, "", &desk, routes).await;
    let resp = h.request("POST", "/api/v1/tickets/123/merge", "{}").await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    let resp = h.request("POST", "/api/v1/tickets/moveToTrash", "{}").await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert_eq!(resp.proxy_error(), Some("SCOPE_NOT_ALLOWED"));
    assert_eq!(
        resp.json()["details"]["required_scope"],
        "Desk.tickets.DELETE"
    );
    assert_eq!(h.fake.requests().len(), 1);
}
