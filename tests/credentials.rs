//! Several credentials behind one proxy: each route carries its own
//! credential's token to its own upstream, `strip_prefix` forwards exactly
//! what follows the prefix, a reload keeps or renews exactly what changed,
//! and one credential's limits never slow another.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use zoho_proxy::config::{self, Config};
use zoho_proxy::fake::{ApiReply, FakeZoho, CLIENT_ID, SANDBOX_CLIENT_ID};
use zoho_proxy::server::{self, Running};

const ROUTES: &str = r#"
[[routes]]
name = "prod-leads"
path = "/crm/v*/Leads/**"
credential = "prod"
scopes = ["ZohoCRM.modules.leads.ALL"]

[[routes]]
name = "sandbox-leads"
path = "/sandbox/crm/v*/Leads/**"
strip_prefix = "/sandbox"
credential = "sandbox"
scopes = ["ZohoCRM.modules.leads.ALL"]
"#;

/// `prod` mints from and calls `a`; `sandbox` (another client) mints from
/// and calls `b`. Each trusts only its own fake's CA.
fn two_credentials(a: &FakeZoho, b: &FakeZoho, prod_extra: &str, routes: &str) -> Config {
    let sandbox = b
        .credential_block("sandbox", "")
        .replace(CLIENT_ID, SANDBOX_CLIENT_ID);
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\n\n{}{sandbox}{routes}",
        a.credential_block("prod", prod_extra),
    );
    let mut config = config::compile(&text, "two.toml", Path::new(".")).unwrap();
    config.credentials[0].zoho.extra_roots = vec![a.ca_cert()];
    config.credentials[1].zoho.extra_roots = vec![b.ca_cert()];
    config
}

async fn get(running: &Running, target: &str) -> (u16, String) {
    let (status, _, body) = common::raw_request(
        running.proxy_addr,
        &format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .await;
    (status, body)
}

async fn until_ready(running: &Running) {
    common::eventually(
        "every credential holds a token",
        Duration::from_secs(5),
        || {
            running
                .proxy
                .credentials()
                .iter()
                .all(|c| c.tokens().current().is_some())
        },
    )
    .await;
}

/// Two fakes and a proxy with [`ROUTES`] whose credentials both hold tokens.
async fn start_two() -> (FakeZoho, FakeZoho, Running) {
    let (a, b) = (
        FakeZoho::start().await.unwrap(),
        FakeZoho::start().await.unwrap(),
    );
    let running = server::start(Arc::new(two_credentials(&a, &b, "", ROUTES)))
        .await
        .unwrap();
    until_ready(&running).await;
    (a, b, running)
}

#[tokio::test]
async fn each_route_carries_its_credentials_token_to_its_upstream() {
    let (a, b, running) = start_two().await;

    let (status, body) = get(&running, "/crm/v8/Leads?fields=Last_Name").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(
        &running,
        "/sandbox/crm/v8/Leads/42?fields=Last_Name,Email&x=%2F%20y",
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let at_a = a.requests();
    assert_eq!(at_a.len(), 1);
    assert_eq!(at_a[0].client_id.as_deref(), Some(CLIENT_ID));
    assert_eq!(at_a[0].path, "/crm/v8/Leads");
    let at_b = b.requests();
    assert_eq!(at_b.len(), 1);
    assert_eq!(at_b[0].client_id.as_deref(), Some(SANDBOX_CLIENT_ID));
    assert_eq!(
        at_b[0].path, "/crm/v8/Leads/42",
        "the prefix is not forwarded"
    );
    assert_eq!(
        at_b[0].query.as_deref(),
        Some("fields=Last_Name,Email&x=%2F%20y"),
        "the query string byte for byte"
    );
    assert_eq!((a.token_requests(), b.token_requests()), (1, 1));

    // The prefix counts only at a segment boundary, and something must follow it.
    for target in ["/sandboxcrm/v8/Leads", "/sandbox", "/sandbox/"] {
        let (status, _) = get(&running, target).await;
        assert!(status == 403 || status == 400, "{target}: {status}");
    }
    assert_eq!(b.requests().len(), 1);

    // /readyz names every credential.
    let (status, _, body) = common::raw_request(
        running.admin_addr,
        "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ready"], true);
    assert_eq!(v["credentials"]["prod"]["token"], "valid");
    assert_eq!(v["credentials"]["sandbox"]["token"], "valid");
    running.shutdown().await;
}

#[tokio::test]
async fn a_reload_keeps_or_renews_exactly_what_changed() {
    let (a, b) = (
        FakeZoho::start().await.unwrap(),
        FakeZoho::start().await.unwrap(),
    );
    let dir = std::env::temp_dir().join(format!("zoho-proxy-cred-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cache_a = dir.join("a.json");
    let cache_b = dir.join("b.json");
    let with_cache = |p: &Path| format!("token_cache = \"{}\"", p.display());
    let running = server::start(Arc::new(two_credentials(
        &a,
        &b,
        &with_cache(&cache_a),
        ROUTES,
    )))
    .await
    .unwrap();
    until_ready(&running).await;
    assert_eq!(get(&running, "/crm/v8/Leads").await.0, 200);
    assert_eq!((a.token_requests(), b.token_requests()), (1, 1));

    // Only the routes change: nothing is minted.
    let more = format!(
        "{ROUTES}\n[[routes]]\nname = \"prod-contacts\"\npath = \"/crm/v*/Contacts/**\"\n\
         credential = \"prod\"\nscopes = [\"ZohoCRM.modules.contacts.ALL\"]\n"
    );
    let outcome = running
        .proxy
        .reload(Arc::new(two_credentials(
            &a,
            &b,
            &with_cache(&cache_a),
            &more,
        )))
        .unwrap();
    assert_eq!(outcome.kept, ["prod", "sandbox"]);
    assert!(outcome.renewed.is_empty());
    assert_eq!(get(&running, "/crm/v8/Contacts").await.0, 200);
    assert_eq!((a.token_requests(), b.token_requests()), (1, 1));

    // Only the token cache path changes: the token is kept and written there.
    let outcome = running
        .proxy
        .reload(Arc::new(two_credentials(
            &a,
            &b,
            &with_cache(&cache_b),
            &more,
        )))
        .unwrap();
    assert_eq!(outcome.kept, ["prod", "sandbox"]);
    common::eventually(
        "the new cache file is written",
        Duration::from_secs(2),
        || cache_b.exists(),
    )
    .await;
    assert_eq!(get(&running, "/crm/v8/Leads").await.0, 200);
    assert_eq!((a.token_requests(), b.token_requests()), (1, 1));

    // prod's client_id changes: prod mints, sandbox does not.
    let mut changed = two_credentials(&a, &b, &with_cache(&cache_b), &more);
    changed.credentials[0].zoho.client_id = SANDBOX_CLIENT_ID.into();
    let outcome = running.proxy.reload(Arc::new(changed)).unwrap();
    assert_eq!(outcome.kept, ["sandbox"]);
    assert_eq!(outcome.renewed, ["prod"]);
    assert_eq!(get(&running, "/crm/v8/Leads").await.0, 200);
    assert_eq!(get(&running, "/sandbox/crm/v8/Leads").await.0, 200);
    assert_eq!((a.token_requests(), b.token_requests()), (2, 1));
    let last = a.requests().pop().unwrap();
    assert_eq!(last.client_id.as_deref(), Some(SANDBOX_CLIENT_ID));
    running.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn one_credentials_cool_down_never_slows_another() {
    let (a, b, running) = start_two().await;
    // prod's org is out of requests for 4 s.
    a.script_api(
        ApiReply::status(
            429,
            r#"{"code":"TOO_MANY_REQUESTS","details":{},"message":"x","status":"error"}"#,
        )
        .with_header("retry-after", "4"),
    );
    let addr = running.proxy_addr;
    let prod = tokio::spawn(async move {
        common::raw_request(
            addr,
            "GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
        .0
    });
    common::eventually(
        "prod's request reached Zoho",
        Duration::from_secs(5),
        || !a.requests().is_empty(),
    )
    .await;
    // prod now waits out its cool-down; sandbox is served meanwhile.
    for _ in 0..5 {
        assert_eq!(get(&running, "/sandbox/crm/v8/Leads").await.0, 200);
    }
    assert!(!prod.is_finished(), "prod is still cooling down");
    assert_eq!(b.requests().len(), 5);
    assert_eq!(prod.await.unwrap(), 200, "prod retried after its cool-down");
    assert_eq!(a.requests().len(), 2);
    running.shutdown().await;
}
