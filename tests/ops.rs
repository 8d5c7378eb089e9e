//! Operations: metrics scraped and parsed, request ids, and config reload
//! under load (a route added, a bad file refused, a changed credential).

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{Harness, ALLOW_ALL};
use http::{Request, StatusCode};
use zoho_proxy::body::empty;
use zoho_proxy::config;
use zoho_proxy::fake::{ApiReply, FakeZoho};
use zoho_proxy::proxy::Reloaded;
use zoho_proxy::reload::reload;
use zoho_proxy::server;

/// Parses Prometheus/OpenMetrics text into `name{labels}` → value.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[tokio::test]
async fn metrics_are_scraped_and_parsed() {
    let routes = "[[routes]]\nname = \"leads\"\npath = \"/crm/v*/Leads/**\"\nscopes = [\"ZohoCRM.modules.leads.READ\"]\n\
                  [retry]\nbase_delay = \"10ms\"\n";
    let h = Harness::start(routes).await;
    h.ready().await;
    assert_eq!(h.get("/crm/v8/Leads").await.status, StatusCode::OK);
    assert_eq!(h.get("/crm/v8/Leads/1").await.status, StatusCode::OK);
    assert_eq!(h.get("/crm/v8/Deals").await.status, StatusCode::FORBIDDEN);
    h.fake.script_api(ApiReply::status(503, "{}"));
    assert_eq!(h.get("/crm/v8/Leads/2").await.status, StatusCode::OK);

    let resp = h.admin_get("/metrics").await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.headers["content-type"]
        .to_str()
        .unwrap()
        .contains("openmetrics-text"));
    let m = parse_metrics(&resp.text());
    let get = |k: &str| {
        m.get(k)
            .copied()
            .unwrap_or_else(|| panic!("no {k} in\n{}", resp.text()))
    };
    assert_eq!(
        get(
            r#"zoho_proxy_requests_total{client="none",credential="default",route="leads",method="GET",status="200"}"#
        ),
        3.0
    );
    assert_eq!(
        get(
            r#"zoho_proxy_requests_total{client="none",credential="none",route="none",method="GET",status="403"}"#
        ),
        1.0
    );
    assert_eq!(
        get(r#"zoho_proxy_request_duration_seconds_count{client="none",route="leads"}"#),
        3.0
    );
    assert_eq!(
        get(r#"zoho_proxy_upstream_duration_seconds_count{route="leads"}"#),
        4.0,
        "3 requests, one retried"
    );
    assert_eq!(get(r#"zoho_proxy_retries_total{reason="503"}"#), 1.0);
    assert_eq!(
        get(r#"zoho_proxy_token_refreshes_total{credential="default",result="ok"}"#),
        1.0
    );
    let expiry = get(r#"zoho_proxy_token_expiry_seconds{credential="default"}"#);
    assert!((3500.0..=3600.0).contains(&expiry), "{expiry}");
    assert_eq!(get("zoho_proxy_rate_limit_wait_seconds_count"), 4.0);
    assert_eq!(get(r#"zoho_proxy_shed_total{credential="default"}"#), 0.0);
    assert_eq!(get("zoho_proxy_in_flight"), 0.0);
    // Label values are bounded: no raw path ever becomes a label.
    assert!(!resp.text().contains("/crm/v8"), "{}", resp.text());
}

#[tokio::test]
async fn request_ids_are_honoured_or_generated_and_echoed() {
    let h = Harness::start(ALLOW_ALL).await;
    let req = Request::get(h.url("/crm/v8/Leads"))
        .header("x-request-id", "trace-abc-123")
        .body(empty())
        .unwrap();
    let resp = h.send(req).await;
    assert_eq!(resp.headers["x-request-id"], "trace-abc-123");
    assert_eq!(
        h.fake.requests()[0].headers["x-request-id"],
        "trace-abc-123"
    );

    let resp = h.get("/crm/v8/Leads").await;
    let id = resp.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(h.fake.requests()[1].headers["x-request-id"], id.as_str());

    // A denial carries one too, and a junk id is replaced.
    let req = Request::get(h.url("/crm/v8/../x"))
        .header("x-request-id", "a b")
        .body(empty())
        .unwrap();
    let resp = h.send(req).await;
    assert_ne!(resp.headers["x-request-id"], "a b");
}

/// A config file in a temp dir, trusting `fake`'s CA via ca_file.
struct ConfigFile {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl ConfigFile {
    fn new(name: &str, fake: &FakeZoho) -> Self {
        let dir = std::env::temp_dir().join(format!("zp-reload-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), fake.ca_pem()).unwrap();
        let path = dir.join("proxy.toml");
        ConfigFile { dir, path }
    }

    fn write(&self, fake: &FakeZoho, routes: &str) {
        let text = fake.proxy_config("127.0.0.1:0", "", "ca_file = \"ca.pem\"", routes);
        // Write then rename, as editors and ConfigMap updates do.
        let tmp = self.dir.join("proxy.toml.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &self.path).unwrap();
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn route(name: &str, module: &str, scope: &str) -> String {
    format!(
        "[[routes]]\nname = \"{name}\"\npath = \"/crm/v*/{module}/**\"\nscopes = [\"{scope}\"]\n"
    )
}

async fn status(addr: std::net::SocketAddr, path: &str) -> u16 {
    common::raw_request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .await
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_adds_a_route_refuses_a_bad_file_and_drops_nothing() {
    let fake = FakeZoho::start().await.unwrap();
    let file = ConfigFile::new("load", &fake);
    let leads = route("leads", "Leads", "ZohoCRM.modules.leads.READ");
    file.write(&fake, &leads);
    let running = server::start(Arc::new(config::load(&file.path).unwrap()))
        .await
        .unwrap();
    let addr = running.proxy_addr;
    common::eventually("the first token", Duration::from_secs(5), || {
        running.proxy.tokens().current().is_some()
    })
    .await;
    assert_eq!(status(addr, "/crm/v8/Contacts").await, 403);

    // Load: workers hammer an allowed route (some slow, so requests are in
    // flight across the swap) until told to stop.
    for _ in 0..50 {
        fake.script_api(ApiReply::slow(Duration::from_millis(20)));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    statuses.push(status(addr, "/crm/v8/Leads").await);
                }
                statuses
            })
        })
        .collect();
    // The load runs (and slow requests are in flight) before the swap.
    common::eventually("the load is running", Duration::from_secs(5), || {
        fake.requests().len() >= 20
    })
    .await;

    file.write(
        &fake,
        &format!(
            "{leads}{}",
            route("contacts", "Contacts", "ZohoCRM.modules.contacts.ALL")
        ),
    );
    assert_eq!(
        reload(running.proxy.clone(), file.path.clone())
            .await
            .unwrap(),
        Reloaded {
            kept: vec!["default".into()],
            renewed: vec![],
        }
    );
    assert_eq!(
        status(addr, "/crm/v8/Contacts").await,
        200,
        "the new route is live"
    );

    std::fs::write(&file.path, "[zoho]\nthis is not toml").unwrap();
    let err = reload(running.proxy.clone(), file.path.clone())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("keeping the old one") && err.contains("proxy.toml"),
        "{err}"
    );
    assert_eq!(
        status(addr, "/crm/v8/Contacts").await,
        200,
        "the old config stays"
    );

    // And goes on after both reloads.
    let so_far = fake.requests().len();
    common::eventually("the load goes on", Duration::from_secs(5), || {
        fake.requests().len() >= so_far + 20
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    assert!(all.len() > 30, "the load ran: {} requests", all.len());
    assert!(
        all.iter().all(|s| *s == 200),
        "no request failed across reloads: {all:?}"
    );
    assert_eq!(
        fake.token_requests(),
        1,
        "a reload does not ask for a new token"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_changed_file_is_picked_up_by_the_watcher() {
    let fake = FakeZoho::start().await.unwrap();
    let file = ConfigFile::new("watch", &fake);
    file.write(
        &fake,
        &route("leads", "Leads", "ZohoCRM.modules.leads.READ"),
    );
    let running = server::start(Arc::new(config::load(&file.path).unwrap()))
        .await
        .unwrap();
    running
        .watch_config(file.path.clone(), Duration::from_millis(50))
        .await;
    assert_eq!(status(running.proxy_addr, "/crm/v8/Deals").await, 403);
    file.write(
        &fake,
        &route("deals", "Deals", "ZohoCRM.modules.deals.READ"),
    );
    let mut seen = 403;
    for _ in 0..100 {
        seen = status(running.proxy_addr, "/crm/v8/Deals").await;
        if seen == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, 200, "the watcher reloaded the file");
    assert_eq!(
        status(running.proxy_addr, "/crm/v8/Leads").await,
        403,
        "the old route is gone"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_changed_credential_starts_a_fresh_token() {
    let first = FakeZoho::start().await.unwrap();
    let second = FakeZoho::start().await.unwrap();
    let file = ConfigFile::new("cred", &first);
    file.write(&first, ALLOW_ALL);
    let running = server::start(Arc::new(config::load(&file.path).unwrap()))
        .await
        .unwrap();
    assert_eq!(status(running.proxy_addr, "/crm/v8/Leads").await, 200);
    assert_eq!(first.requests().len(), 1);

    // The same credential at another accounts server (and API): a new token from there.
    std::fs::write(
        file.dir.join("ca.pem"),
        format!("{}{}", first.ca_pem(), second.ca_pem()),
    )
    .unwrap();
    file.write(&second, ALLOW_ALL);
    assert_eq!(
        reload(running.proxy.clone(), file.path.clone())
            .await
            .unwrap(),
        Reloaded {
            kept: vec![],
            renewed: vec!["default".into()],
        }
    );
    assert_eq!(status(running.proxy_addr, "/crm/v8/Leads").await, 200);
    assert_eq!(second.token_requests(), 1);
    assert_eq!(second.requests().len(), 1);
    assert_eq!(first.requests().len(), 1);
    running.shutdown().await;
}
