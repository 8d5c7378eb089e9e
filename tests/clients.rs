//! `[[clients]]` end to end, against the fake Zoho on real sockets: keys in
//! each accepted form, authentication before routing, per-client routes and
//! rate limits, the key never reaching Zoho, the slowdown of one failing
//! peer, reload, and `gen-key`.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Harness;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;
use zoho_proxy::body::{empty, ProxyBody};
use zoho_proxy::fake::FakeZoho;

const BILLING_KEY: &str = "billing-key-3mZ0v1-qK8pX2wT4";
const REPORTS_KEY: &str = "reports-key-9Lr5nB7-cD1eF0gH";

/// Two routes on Leads (a read-only one first) and one on Deals; `billing`
/// may use the Leads write route only, `reports` everything.
const ROUTES: &str = r#"
[[routes]]
name = "leads-read"
path = "/crm/v8/Leads/**"
methods = ["GET"]
scopes = ["ZohoCRM.modules.leads.READ"]

[[routes]]
name = "leads-write"
path = "/crm/v8/Leads/**"
scopes = ["ZohoCRM.modules.leads.ALL"]

[[routes]]
name = "deals-all"
path = "/crm/v8/Deals/**"
scopes = ["ZohoCRM.modules.deals.ALL"]
"#;

fn clients() -> String {
    format!(
        "{ROUTES}\n[[clients]]\nname = \"billing\"\nkey = \"{BILLING_KEY}\"\nroutes = [\"leads-write\"]\n\n\
         [[clients]]\nname = \"reports\"\nkey = \"{REPORTS_KEY}\"\n"
    )
}

async fn harness(server: &str, routes: &str) -> Harness {
    let fake = FakeZoho::start().await.unwrap();
    let h = Harness::start_with(fake, server, "", routes).await;
    h.ready().await;
    h
}

/// GET `path` with the given extra headers, each time from a loopback
/// address of its own, so that a test's many refused keys are not slowed
/// down as one peer's (that has its own test).
async fn get_with(h: &Harness, path: &str, headers: &[(&str, &str)]) -> common::Response {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let source = Ipv4Addr::new(127, 1, (n / 250) as u8, (n % 250 + 1) as u8);
    let mut http = HttpConnector::new();
    http.set_local_address(Some(source.into()));
    let client = Client::builder(TokioExecutor::new()).build::<_, ProxyBody>(http);
    let mut req = Request::get(h.url(path));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = client.request(req.body(empty()).unwrap()).await.unwrap();
    let (parts, body) = resp.into_parts();
    common::Response {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

fn forms(key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("authorization", format!("Zoho-oauthtoken {key}")),
        ("authorization", format!("zoho-OAUTHTOKEN {key}")),
        ("authorization", format!("Bearer {key}")),
        ("authorization", format!("bEARER {key}")),
        ("x-zoho-proxy-key", key.to_owned()),
    ]
}

#[tokio::test]
async fn the_right_key_in_each_form_passes_and_never_reaches_zoho() {
    let h = harness("", &clients()).await;
    for (name, value) in forms(REPORTS_KEY) {
        let resp = get_with(&h, "/crm/v8/Leads", &[(name, &value)]).await;
        assert_eq!(
            resp.status,
            StatusCode::OK,
            "{name}: {value}: {}",
            resp.text()
        );
    }
    let seen = h.fake.requests();
    assert_eq!(seen.len(), 5);
    for r in &seen {
        let auth = r.headers["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with("Zoho-oauthtoken 1000.fakeaccess"),
            "Zoho gets the proxy's token: {auth}"
        );
        assert_eq!(r.headers.get_all("authorization").iter().count(), 1);
        assert!(!r.headers.contains_key("x-zoho-proxy-key"));
        for (name, value) in &r.headers {
            assert!(
                !value
                    .as_bytes()
                    .windows(11)
                    .any(|w| w == &REPORTS_KEY.as_bytes()[..11]),
                "the client key reached Zoho in {name}"
            );
        }
    }
}

#[tokio::test]
async fn missing_and_wrong_keys_are_401_before_any_routing() {
    let h = harness("", &clients()).await;
    let check = |resp: &common::Response, code: &str| {
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{}", resp.text());
        assert_eq!(resp.proxy_error(), Some(code));
        assert_eq!(
            resp.headers["www-authenticate"],
            "Bearer realm=\"zoho-proxy\""
        );
        let body = resp.text();
        for secret_or_route in [
            "leads-read",
            "leads-write",
            "deals-all",
            BILLING_KEY,
            "billing",
            "wrong-key",
        ] {
            assert!(
                !body.contains(secret_or_route),
                "{secret_or_route} in {body}"
            );
        }
        assert_eq!(resp.json()["details"]["side"], "client");
    };
    // No key: on a routed path, an unrouted one, and a malformed one alike.
    for path in [
        "/crm/v8/Leads",
        "/crm/v8/Contacts",
        "/crm/v8/Leads/%2e%2e/x",
    ] {
        check(&get_with(&h, path, &[]).await, "CLIENT_KEY_MISSING");
    }
    // Other schemes and empty values are no key.
    for (name, value) in [
        ("authorization", "Basic YmlsbGluZzpzZWNyZXQ="),
        ("authorization", "Bearer "),
        ("x-zoho-proxy-key", ""),
    ] {
        check(
            &get_with(&h, "/crm/v8/Leads", &[(name, value)]).await,
            "CLIENT_KEY_MISSING",
        );
    }
    let missing = get_with(&h, "/crm/v8/Leads", &[]).await;
    assert!(missing.json()["message"]
        .as_str()
        .unwrap()
        .contains("x-zoho-proxy-key: <key>"));
    // A wrong key in each form, on a routed and an unrouted path.
    for (name, value) in forms("wrong-key-0123456789abcdef") {
        for path in ["/crm/v8/Leads", "/crm/v8/Contacts"] {
            check(
                &get_with(&h, path, &[(name, &value)]).await,
                "CLIENT_KEY_INVALID",
            );
        }
    }
    // A prefix of a real key is wrong too; two different keys are refused.
    let prefix = format!("Bearer {}", &BILLING_KEY[..BILLING_KEY.len() - 1]);
    check(
        &get_with(&h, "/crm/v8/Leads", &[("authorization", &prefix)]).await,
        "CLIENT_KEY_INVALID",
    );
    let bearer = format!("Bearer {REPORTS_KEY}");
    check(
        &get_with(
            &h,
            "/crm/v8/Leads",
            &[
                ("authorization", &bearer),
                ("x-zoho-proxy-key", BILLING_KEY),
            ],
        )
        .await,
        "CLIENT_KEY_INVALID",
    );
    assert!(h.fake.requests().is_empty(), "nothing reached Zoho");
}

#[tokio::test]
async fn each_client_uses_only_its_routes_and_is_counted_by_name() {
    let h = harness("", &clients()).await;
    let billing = [("x-zoho-proxy-key", BILLING_KEY)];
    let reports = [("x-zoho-proxy-key", REPORTS_KEY)];
    // billing's GET takes its own route (leads-write), not the first one in the table.
    assert_eq!(
        get_with(&h, "/crm/v8/Leads/1", &billing).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get_with(&h, "/crm/v8/Leads/1", &reports).await.status,
        StatusCode::OK
    );
    // Deals: only reports.
    let refused = get_with(&h, "/crm/v8/Deals/7", &billing).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.proxy_error(), Some("CLIENT_ROUTE_NOT_ALLOWED"));
    let v = refused.json();
    assert_eq!(v["details"]["client"], "billing");
    assert_eq!(v["details"]["path"], "/crm/v8/Deals/7");
    let text = refused.text();
    for route in ["leads-read", "leads-write", "deals-all"] {
        assert!(
            !text.contains(route),
            "the answer names route {route}: {text}"
        );
    }
    assert_eq!(
        get_with(&h, "/crm/v8/Deals/7", &reports).await.status,
        StatusCode::OK
    );
    // A path no route has is the usual 403, for either.
    let none = get_with(&h, "/crm/v8/Contacts", &billing).await;
    assert_eq!(none.proxy_error(), Some("ROUTE_NOT_ALLOWED"));
    assert_eq!(none.json()["details"]["client"], "billing");
    assert_eq!(h.fake.requests().len(), 3);

    let metrics = h.admin_get("/metrics").await.text();
    for line in [
        r#"zoho_proxy_requests_total{client="billing",credential="default",route="leads-write",method="GET",status="200"} 1"#,
        r#"zoho_proxy_requests_total{client="reports",credential="default",route="leads-read",method="GET",status="200"} 1"#,
        r#"zoho_proxy_requests_total{client="billing",credential="none",route="none",method="GET",status="403"} 2"#,
        r#"zoho_proxy_requests_total{client="reports",credential="default",route="deals-all",method="GET",status="200"} 1"#,
        r#"zoho_proxy_request_duration_seconds_count{client="billing",route="leads-write"} 1"#,
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }
}

#[tokio::test]
async fn a_client_rate_limit_holds_for_that_client_alone() {
    let routes = format!(
        "[rate_limit]\nmax_wait = \"300ms\"\n{ROUTES}\n\
         [[clients]]\nname = \"a\"\nkey = \"{BILLING_KEY}\"\nrate_limit = {{ requests_per_minute = 1 }}\n\n\
         [[clients]]\nname = \"b\"\nkey = \"{REPORTS_KEY}\"\nrate_limit = {{ requests_per_minute = 1 }}\n\n\
         [[clients]]\nname = \"c\"\nkey = \"free-client-key-0123456789\"\n"
    );
    let h = harness("", &routes).await;
    let a = [("x-zoho-proxy-key", BILLING_KEY)];
    let b = [("x-zoho-proxy-key", REPORTS_KEY)];
    let c = [("x-zoho-proxy-key", "free-client-key-0123456789")];
    assert_eq!(
        get_with(&h, "/crm/v8/Leads", &a).await.status,
        StatusCode::OK
    );
    let shed = get_with(&h, "/crm/v8/Leads", &a).await;
    assert_eq!(
        shed.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        shed.text()
    );
    assert_eq!(shed.proxy_error(), Some("RATE_LIMITED"));
    assert_eq!(shed.json()["details"]["client"], "a");
    assert!(
        shed.json()["message"]
            .as_str()
            .unwrap()
            .contains("this client's request rate"),
        "{}",
        shed.text()
    );
    let retry: u64 = shed.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 30, "Retry-After {retry}");
    // a's limit is not b's, nor c's (which has none).
    assert_eq!(
        get_with(&h, "/crm/v8/Leads", &b).await.status,
        StatusCode::OK
    );
    for _ in 0..3 {
        assert_eq!(
            get_with(&h, "/crm/v8/Leads", &c).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        get_with(&h, "/crm/v8/Leads", &b).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        h.fake.requests().len(),
        5,
        "shed requests never reached Zoho"
    );
}

/// A raw GET from `source` (a loopback address of its own) with `auth` lines.
async fn from(source: &str, proxy: SocketAddr, auth: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(proxy).await.unwrap();
    let head = format!("GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{text}"))
}

fn held_failures(metrics: &str) -> (u32, u32) {
    let count = |held: &str| {
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("zoho_proxy_client_key_failures_total{")
                    && l.contains(&format!("held=\"{held}\""))
            })
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u32>().unwrap())
            .sum()
    };
    (count("true"), count("false"))
}

#[tokio::test]
async fn repeated_failures_slow_down_that_peer_and_no_other() {
    let h = harness("", &clients()).await;
    let noisy = "127.0.0.2";
    let wrong = "Authorization: Bearer wrong-key-0123456789abcdef\r\n";
    for _ in 0..5 {
        assert_eq!(from(noisy, h.addr, wrong).await, 401);
    }
    assert_eq!(held_failures(&h.admin_get("/metrics").await.text()), (0, 5));
    // The sixth failure within the minute is held for a second.
    let started = Instant::now();
    assert_eq!(from(noisy, h.addr, "").await, 401);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(held_failures(&h.admin_get("/metrics").await.text()), (1, 5));
    // Another peer's failures are answered at once, however many the noisy one had.
    for _ in 0..3 {
        assert_eq!(from("127.0.0.1", h.addr, wrong).await, 401);
    }
    assert_eq!(held_failures(&h.admin_get("/metrics").await.text()), (1, 8));
    // The noisy peer with the right key is served (only failures are held).
    let right = format!("x-zoho-proxy-key: {REPORTS_KEY}\r\n");
    assert_eq!(from(noisy, h.addr, &right).await, 200);
    assert_eq!(held_failures(&h.admin_get("/metrics").await.text()), (1, 8));
}

#[tokio::test]
async fn reload_swaps_the_clients() {
    let h = harness("", &clients()).await;
    let running = h.running.as_ref().unwrap();
    let reports = [("x-zoho-proxy-key", REPORTS_KEY)];
    assert_eq!(
        get_with(&h, "/crm/v8/Deals/1", &reports).await.status,
        StatusCode::OK
    );
    // reports gets a new key and loses Deals; billing is gone.
    let new_key = "reports-new-key-0123456789";
    let changed = format!(
        "{ROUTES}\n[[clients]]\nname = \"reports\"\nkey = \"{new_key}\"\nroutes = [\"leads-read\"]\n"
    );
    running
        .proxy
        .reload(Arc::new(common::compile(&h.fake, "", "", &changed)))
        .unwrap();
    let old = get_with(&h, "/crm/v8/Leads", &reports).await;
    assert_eq!(old.proxy_error(), Some("CLIENT_KEY_INVALID"));
    let billing = get_with(&h, "/crm/v8/Leads", &[("x-zoho-proxy-key", BILLING_KEY)]).await;
    assert_eq!(billing.proxy_error(), Some("CLIENT_KEY_INVALID"));
    let new = [("authorization", &*format!("Bearer {new_key}"))];
    assert_eq!(
        get_with(&h, "/crm/v8/Leads", &new).await.status,
        StatusCode::OK
    );
    let deals = get_with(&h, "/crm/v8/Deals/1", &new).await;
    assert_eq!(deals.proxy_error(), Some("CLIENT_ROUTE_NOT_ALLOWED"));
    // No clients any more: no key is asked for.
    running
        .proxy
        .reload(Arc::new(common::compile(&h.fake, "", "", ROUTES)))
        .unwrap();
    assert_eq!(
        get_with(&h, "/crm/v8/Deals/1", &[]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn gen_key_prints_a_fresh_key_and_a_block_that_works() {
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_zoho-proxy"))
            .args(["gen-key", "--name", "billing-sync"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let (first, second) = (run(), run());
    let key_of = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("ZOHO_PROXY_KEY_BILLING_SYNC="))
            .unwrap()
            .to_owned()
    };
    let key = key_of(&first);
    assert_ne!(key, key_of(&second), "a new key each time");
    assert_eq!(key.len(), 43, "32 bytes, base64url without padding");
    // The printed block, as is, with the key in its variable.
    let block = &first[first.find("[[clients]]").unwrap()..];
    std::env::set_var("ZOHO_PROXY_KEY_BILLING_SYNC", &key);
    let fake = FakeZoho::start().await.unwrap();
    let h = Harness::start_with(fake, "", "", &format!("{ROUTES}\n{block}")).await;
    h.ready().await;
    let resp = get_with(
        &h,
        "/crm/v8/Leads",
        &[("authorization", &*format!("Zoho-oauthtoken {key}"))],
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        get_with(&h, "/crm/v8/Leads", &[]).await.proxy_error(),
        Some("CLIENT_KEY_MISSING")
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_zoho-proxy"))
        .args(["gen-key", "--name", "Billing Sync"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a client name"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_remote_without_clients_warns_at_start() {
    use common::binary::{config_dir, Binary};
    let fake = FakeZoho::start().await.unwrap();
    let warning = "allow_remote = true and no [[clients]]";
    for (name, extra, warns) in [
        ("open", String::new(), true),
        (
            "keyed",
            format!("[[clients]]\nname = \"a\"\nkey = \"{BILLING_KEY}\"\n"),
            false,
        ),
    ] {
        let dir = config_dir(
            &format!("allow-remote-{name}"),
            &fake,
            "allow_remote = true",
            "",
            &format!("{ROUTES}\n{extra}"),
        );
        let mut proxy = Binary::spawn(&dir, None);
        proxy.addr().await;
        let log = proxy.log.clone();
        assert_eq!(proxy.stop().await.code(), Some(0));
        let logs = std::fs::read_to_string(log).unwrap();
        assert_eq!(logs.contains(warning), warns, "{name}: {logs}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
