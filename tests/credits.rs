//! API credits through the real proxy and the fake Zoho: budgets refuse the
//! call that would overspend before it reaches Zoho, Zoho's numbers correct
//! the estimate, and a restart keeps the day.

mod common;

use common::binary::{config_dir, Binary};
use common::Harness;
use http::{Request, StatusCode};
use zoho_proxy::body::full;
use zoho_proxy::fake::{ApiReply, FakeZoho};

/// 100 records: an insert that costs 10 credits.
fn hundred_records() -> String {
    let rows = vec![r#"{"Last_Name":"x"}"#; 100].join(",");
    format!(r#"{{"data":[{rows}]}}"#)
}

async fn post(h: &Harness, path: &str, body: String) -> common::Response {
    let req = Request::post(h.url(path))
        .header("content-type", "application/json")
        .body(full(body))
        .unwrap();
    h.send(req).await
}

const ROUTES: &str = r#"
[[routes]]
name = "inserts"
path = "/crm/v8/Leads"
methods = ["POST"]
scopes = ["ZohoCRM.modules.leads.CREATE"]
daily_credits = 30

[[routes]]
name = "reads"
path = "/crm/v8/Contacts"
scopes = ["ZohoCRM.modules.contacts.READ"]

[[routes]]
name = "urgent"
path = "/crm/v8/Deals"
scopes = ["ZohoCRM.modules.deals.READ"]
priority = true
"#;

#[tokio::test]
async fn a_route_budget_refuses_the_fourth_hundred_record_insert_before_zoho_sees_it() {
    let fake = FakeZoho::start().await.unwrap();
    let h = Harness::start_with(fake, "", "daily_credits = 100\nreserve = \"10%\"", ROUTES).await;
    h.ready().await;
    for i in 0..3 {
        let r = post(&h, "/crm/v8/Leads", hundred_records()).await;
        assert_eq!(r.status, StatusCode::OK, "insert {i}: {}", r.text());
    }
    let before = h.fake.requests().len();
    let r = post(&h, "/crm/v8/Leads", hundred_records()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    assert_eq!(r.proxy_error(), Some("CREDIT_BUDGET_EXHAUSTED"));
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        (86_000..=86_400).contains(&retry),
        "the first insert's credits leave in about a day: {retry}"
    );
    let text = r.text();
    assert!(
        text.contains("route \\\"inserts\\\" daily_credits 30"),
        "{text}"
    );
    assert_eq!(h.fake.requests().len(), before, "nothing reached Zoho");

    // Another route is unaffected; the credential has 100 - 30 - reserve 10.
    for _ in 0..60 {
        assert_eq!(h.get("/crm/v8/Contacts").await.status, StatusCode::OK);
    }
    let r = h.get("/crm/v8/Contacts").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    assert!(r.text().contains("reserve of 10"), "{}", r.text());
    // The reserve is the priority route's.
    for _ in 0..10 {
        assert_eq!(h.get("/crm/v8/Deals").await.status, StatusCode::OK);
    }
    assert_eq!(
        h.get("/crm/v8/Deals").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // /credits and the metrics say so.
    let report = h.admin_get("/credits").await.json();
    let c = &report["credentials"]["default"];
    assert_eq!(c["spent"], 100, "{report}");
    assert_eq!(c["budget"], 100);
    assert_eq!(c["remaining"], 0);
    assert_eq!(c["reserve"], 10);
    assert_eq!(c["routes"]["inserts"]["spent"], 30);
    assert_eq!(c["routes"]["inserts"]["budget"], 30);
    assert_eq!(c["routes"]["reads"]["spent"], 60);
    let metrics = h.admin_get("/metrics").await.text();
    assert!(
        metrics
            .contains(r#"zoho_proxy_credits_spent_total{credential="default",route="inserts"} 30"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"zoho_proxy_credits_remaining{credential="default"} 0"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn zohos_remaining_credits_and_a_credit_429_correct_the_estimate() {
    let fake = FakeZoho::start().await.unwrap();
    let h = Harness::start_with(fake, "", "daily_credits = 1000", common::ALLOW_ALL).await;
    h.ready().await;
    // Other integrations of the org spent most of the day: Zoho says 5 left.
    h.fake.script_api(
        ApiReply::status(200, r#"{"data":[]}"#).with_header("x-api-credits-remaining", "5"),
    );
    assert_eq!(h.get("/crm/v8/Leads").await.status, StatusCode::OK);
    let report = h.admin_get("/credits").await.json();
    assert_eq!(report["credentials"]["default"]["remaining"], 5, "{report}");
    // A 100-record insert (10 credits) no longer fits; a read (1) does.
    let r = post(&h, "/crm/v8/Leads", hundred_records()).await;
    assert_eq!(
        r.proxy_error(),
        Some("CREDIT_BUDGET_EXHAUSTED"),
        "{}",
        r.text()
    );
    assert_eq!(h.get("/crm/v8/Leads").await.status, StatusCode::OK);

    // Zoho answers a credit 429: the day is spent until the window rolls.
    let fake2 = FakeZoho::start().await.unwrap();
    let h2 = Harness::start_with(
        fake2,
        "",
        "daily_credits = 1000",
        &format!("{}\n[retry]\nmax_attempts = 1", common::ALLOW_ALL),
    )
    .await;
    h2.ready().await;
    h2.fake.script_api(ApiReply::status(
        429,
        r#"{"code":"TOO_MANY_REQUESTS","details":{},"message":"You have exhausted your API credits","status":"error"}"#,
    ));
    let r = h2.get("/crm/v8/Leads").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.proxy_error(), None, "Zoho's own 429 is passed on");
    let seen = h2.fake.requests().len();
    let r = h2.get("/crm/v8/Leads").await;
    assert_eq!(
        r.proxy_error(),
        Some("CREDIT_BUDGET_EXHAUSTED"),
        "{}",
        r.text()
    );
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 80_000, "{retry}");
    assert_eq!(h2.fake.requests().len(), seen, "nothing more reached Zoho");
}

#[tokio::test]
async fn a_restart_keeps_the_days_credits_beside_the_token_cache() {
    let fake = FakeZoho::start().await.unwrap();
    let dir = config_dir(
        "credits-restart",
        &fake,
        "",
        "token_cache = \"cache/token.json\"\ndaily_credits = 50",
        common::ALLOW_ALL,
    );
    std::fs::create_dir_all(dir.join("cache")).unwrap();
    let get = |addr| async move {
        common::raw_request(
            addr,
            "GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
        .0
    };
    let credits = |admin| async move {
        let (_, _, body) = common::raw_request(
            admin,
            "GET /credits HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["credentials"]["default"]["spent"].as_u64().unwrap()
    };
    {
        let mut bin = Binary::spawn(&dir, None);
        let (addr, admin) = bin.addrs().await;
        for _ in 0..7 {
            assert_eq!(get(addr).await, 200);
        }
        assert_eq!(credits(admin).await, 7);
        // Written within about a second of the last change.
        let file = dir.join("cache/token.credits.json");
        for _ in 0..100 {
            if std::fs::read_to_string(&file).is_ok_and(|t| t.contains("[[")) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let text = std::fs::read_to_string(&file).expect("credits file");
        assert!(!text.contains(zoho_proxy::fake::REFRESH_TOKEN), "{text}");
        // Killed without a chance to save again.
    }
    let mut bin = Binary::spawn(&dir, None);
    let (addr, admin) = bin.addrs().await;
    assert_eq!(credits(admin).await, 7, "the day survived the restart");
    assert_eq!(get(addr).await, 200);
    assert_eq!(credits(admin).await, 8);
    drop(bin);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_credits_command_shows_budgets_spent_credits_and_zohos_prices() {
    let fake = FakeZoho::start().await.unwrap();
    let dir = config_dir(
        "credits-cli",
        &fake,
        "",
        "daily_credits = 5000\nreserve = \"10%\"",
        ROUTES,
    );
    fake.script_api(ApiReply::status(
        200,
        r#"{"__apis":[
            {"path":"/crm/v8/Leads","operation_types":[
                {"method":"POST","oauth_scope":"ZohoCRM.modules.leads.CREATE","max_credits":10,"min_credits":1},
                {"method":"DELETE","oauth_scope":"ZohoCRM.modules.leads.DELETE","max_credits":1,"min_credits":1}]},
            {"path":"/crm/v8/Accounts","operation_types":[{"method":"GET","max_credits":1,"min_credits":1}]}]}"#,
    ));
    let run = |args: &'static [&'static str]| {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_zoho-proxy"))
                .arg("credits")
                .args(args)
                .arg("--config")
                .arg(dir.join("proxy.toml"))
                .env("RUST_LOG", "error")
                .output()
                .unwrap()
        })
    };
    let out = run(&["--online"]).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("credential default: daily_credits 5000 (reserve 500 for priority routes)"),
        "{stdout}"
    );
    assert!(stdout.contains("daily_credits 30"), "{stdout}");
    assert!(stdout.contains("priority"), "{stdout}");
    // Zoho's prices, only for calls a route allows (POST Leads: route
    // inserts; DELETE Leads and Accounts: no route).
    let prices: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with(['G', 'P', 'D']))
        .collect();
    assert_eq!(prices.len(), 1, "{stdout}");
    assert!(
        prices[0].contains("/crm/v8/Leads")
            && prices[0].contains("10")
            && prices[0].ends_with("inserts"),
        "{stdout}"
    );
    assert_eq!(fake.requests().last().unwrap().path, "/crm/v8/__apis");
    let _ = std::fs::remove_dir_all(dir);
}
