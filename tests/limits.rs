//! Shaping and retries against the fake Zoho: pacing, shedding, the
//! concurrency cap, 429 handling with a credential-wide cool-down, and
//! never duplicating a write.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Harness, ALLOW_ALL};
use http::{Request, StatusCode};
use zoho_proxy::body::full;
use zoho_proxy::fake::{ApiReply, FakeZoho};

const SERVICE_UNAVAILABLE: &str = r#"{"code":"INTERNAL_ERROR","details":{},"message":"temporarily unavailable","status":"error"}"#;
const TOO_MANY: &str =
    r#"{"code":"TOO_MANY_REQUESTS","details":{},"message":"too many requests","status":"error"}"#;

async fn harness(server: &str, extra: &str) -> Arc<Harness> {
    let fake = FakeZoho::start().await.unwrap();
    let routes = format!("{extra}\n{ALLOW_ALL}");
    let h = Harness::start_with(fake, server, "", &routes).await;
    h.ready().await;
    Arc::new(h)
}

async fn concurrently(h: &Arc<Harness>, n: usize, path: &'static str) -> Vec<StatusCode> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let h = h.clone();
            tokio::spawn(async move { h.get(path).await.status })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn requests_over_the_rate_are_paced_not_refused() {
    let h = harness("", "[rate_limit]\nrequests_per_minute = 120\nburst = 2\n").await;
    let statuses = concurrently(&h, 10, "/crm/v8/Leads").await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let seen = h.fake.requests();
    assert_eq!(seen.len(), 10);
    let first = seen.iter().map(|r| r.at).min().unwrap();
    let last = seen.iter().map(|r| r.at).max().unwrap();
    // 2 at once, then one every 500 ms: the 10th leaves at 4 s.
    assert!(
        last - first >= Duration::from_millis(3900),
        "spread {:?}",
        last - first
    );
}

#[tokio::test]
async fn requests_that_cannot_get_a_slot_in_time_are_shed_with_retry_after() {
    let h = harness(
        "",
        "[rate_limit]\nmax_concurrent = 1\nmax_wait = \"200ms\"\n",
    )
    .await;
    h.fake.script_api(ApiReply::slow(Duration::from_secs(1)));
    let slow = {
        let h = h.clone();
        tokio::spawn(async move { h.get("/crm/v8/Leads/1").await.status })
    };
    h.fake.arrival().await;
    let resp = h.get("/crm/v8/Leads/2").await;
    assert_eq!(resp.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.proxy_error(), Some("RATE_LIMITED"));
    let retry: u64 = resp.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // The one slot is held by a call that ends within a second: come back
    // in one second (Retry-After is whole seconds, rounded up, never 0).
    assert_eq!(retry, 1);
    assert_eq!(slow.await.unwrap(), StatusCode::OK);
    assert_eq!(
        h.fake.requests().len(),
        1,
        "the shed request never reached Zoho"
    );
}

#[tokio::test]
async fn max_concurrent_is_never_exceeded() {
    let h = harness("", "[rate_limit]\nmax_concurrent = 3\n").await;
    for _ in 0..20 {
        h.fake
            .script_api(ApiReply::slow(Duration::from_millis(100)));
    }
    let statuses = concurrently(&h, 20, "/crm/v8/Leads").await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK));
    assert_eq!(
        h.fake.max_in_flight(),
        3,
        "the cap is reached and never exceeded"
    );
}

const COQL: &str = r#"{"select_query": "select Last_Name from Leads"}"#;

#[tokio::test]
async fn a_route_limit_applies_on_top_of_the_credential_limit() {
    let routes = "[[routes]]\nname = \"slow-lane\"\npath = \"/crm/v8/coql\"\nscopes = [\"ZohoCRM.coql.READ\", \"ZohoCRM.modules.leads.READ\"]\nrate_limit = { max_concurrent = 1 }\n";
    let h = harness("", routes).await;
    for _ in 0..5 {
        h.fake
            .script_api(ApiReply::slow(Duration::from_millis(100)));
    }
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let h = h.clone();
            tokio::spawn(async move { h.request("POST", "/crm/v8/coql", COQL).await.status })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(h.fake.max_in_flight(), 1);
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_after_that_long() {
    let h = harness("", "").await;
    h.fake
        .script_api(ApiReply::status(429, TOO_MANY).with_header("retry-after", "2"));
    let resp = h
        .request(
            "POST",
            "/crm/v8/Leads",
            r#"{"data":[{"Last_Name":"Once"}]}"#,
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    let seen = h.fake.requests();
    assert_eq!(
        seen.len(),
        2,
        "a 429 was not processed: even a POST is retried"
    );
    assert!(
        seen[1].at - seen[0].at >= Duration::from_secs(2),
        "{:?}",
        seen[1].at - seen[0].at
    );
    assert_eq!(seen[0].body, seen[1].body);
}

#[tokio::test]
async fn a_429_cools_down_the_whole_credential() {
    let h = harness("", "").await;
    h.fake
        .script_api(ApiReply::status(429, TOO_MANY).with_header("retry-after", "2"));
    let first = {
        let h = h.clone();
        tokio::spawn(async move { h.get("/crm/v8/Leads/1").await.status })
    };
    // Wait until the proxy has taken the 429 (it cools the credential
    // down, then counts the retry), then send another request.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !h
        .admin_get("/metrics")
        .await
        .text()
        .contains(r#"zoho_proxy_retries_total{reason="429"} 1"#)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the 429 was never taken"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = h.get("/crm/v8/Leads/2").await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(first.await.unwrap(), StatusCode::OK);
    let seen = h.fake.requests();
    let limited = seen[0].at;
    let other = seen.iter().find(|r| r.path.ends_with("/2")).unwrap();
    assert!(
        other.at - limited >= Duration::from_millis(1900),
        "the second request waited for the cool-down: {:?}",
        other.at - limited
    );
}

#[tokio::test]
async fn a_retry_after_longer_than_the_cap_is_passed_on() {
    let h = harness("", "").await;
    h.fake
        .script_api(ApiReply::status(429, TOO_MANY).with_header("retry-after", "3600"));
    let resp = h.get("/crm/v8/Leads").await;
    assert_eq!(resp.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.proxy_error(), None, "Zoho's own answer");
    assert_eq!(resp.headers["retry-after"], "3600");
    assert_eq!(h.fake.requests().len(), 1);
}

#[tokio::test]
async fn a_post_answered_503_reaches_zoho_exactly_once() {
    let h = harness("", "").await;
    h.fake
        .script_api(ApiReply::status(503, SERVICE_UNAVAILABLE));
    let resp = h
        .request(
            "POST",
            "/crm/v8/Leads",
            r#"{"data":[{"Last_Name":"Never twice"}]}"#,
        )
        .await;
    assert_eq!(resp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.text(), SERVICE_UNAVAILABLE, "Zoho's answer, as is");
    assert_eq!(h.fake.requests().len(), 1);
}

#[tokio::test]
async fn a_get_answered_503_then_200_succeeds() {
    let h = harness("", "[retry]\nbase_delay = \"10ms\"\n").await;
    h.fake
        .script_api(ApiReply::status(503, SERVICE_UNAVAILABLE));
    h.fake
        .script_api(ApiReply::status(502, SERVICE_UNAVAILABLE));
    let resp = h.get("/crm/v8/Leads").await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(h.fake.requests().len(), 3);
}

#[tokio::test]
async fn attempts_are_bounded_and_the_last_answer_is_returned() {
    let h = harness("", "[retry]\nmax_attempts = 2\nbase_delay = \"10ms\"\n").await;
    for _ in 0..3 {
        h.fake
            .script_api(ApiReply::status(503, SERVICE_UNAVAILABLE));
    }
    let resp = h.get("/crm/v8/Leads").await;
    assert_eq!(resp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(h.fake.requests().len(), 2);
}

#[tokio::test]
async fn bodies_over_the_replay_buffer_are_never_replayed() {
    let h = harness(
        "replay_buffer = \"1KiB\"",
        "[retry]\nbase_delay = \"10ms\"\n",
    )
    .await;
    h.fake
        .script_api(ApiReply::status(503, SERVICE_UNAVAILABLE));
    let req = Request::put(h.url("/crm/v8/Leads/1"))
        .body(full("x".repeat(4096)))
        .unwrap();
    let resp = h.send(req).await;
    assert_eq!(resp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        h.fake.requests().len(),
        1,
        "a PUT is idempotent, but its body was not kept"
    );
    assert_eq!(h.fake.requests()[0].body_len, 4096);
}

#[tokio::test]
async fn a_timeout_is_retried_for_get_but_not_for_post() {
    let h = harness(
        "request_timeout = \"200ms\"",
        "[retry]\nbase_delay = \"10ms\"\n",
    )
    .await;
    h.fake.script_api(ApiReply::slow(Duration::from_secs(2)));
    assert_eq!(h.get("/crm/v8/Leads").await.status, StatusCode::OK);
    assert_eq!(h.fake.requests().len(), 2);

    h.fake.script_api(ApiReply::slow(Duration::from_secs(2)));
    let resp = h.request("POST", "/crm/v8/Leads", "{}").await;
    assert_eq!(resp.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(resp.proxy_error(), Some("UPSTREAM_TIMEOUT"));
    assert_eq!(h.fake.requests().len(), 3, "the POST went once");
}

#[tokio::test]
async fn kept_bodies_share_one_memory_budget_and_past_it_stream_unreplayed() {
    let server = "replay_buffer = \"1KiB\"\nreplay_memory = \"1KiB\"";
    let h = harness(server, "[retry]\nbase_delay = \"10ms\"\n").await;
    let body = "x".repeat(1000);
    // A holds the whole budget while Zoho is slow to answer it.
    h.fake
        .script_api(ApiReply::slow(Duration::from_millis(500)));
    let arrived = h.fake.arrival();
    let a = {
        let h = h.clone();
        let body = body.clone();
        tokio::spawn(async move {
            h.send(
                Request::put(h.url("/crm/v8/Leads/1"))
                    .body(full(body))
                    .unwrap(),
            )
            .await
            .status
        })
    };
    arrived.await;
    // B arrives meanwhile: its body cannot be kept, so its 503 is not retried.
    h.fake
        .script_api(ApiReply::status(503, SERVICE_UNAVAILABLE));
    let b = h
        .send(
            Request::put(h.url("/crm/v8/Leads/2"))
                .body(full(body.clone()))
                .unwrap(),
        )
        .await;
    assert_eq!(b.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.await.unwrap(), StatusCode::OK);
    let to_2 = |h: &Harness| {
        h.fake
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/2"))
            .count()
    };
    assert_eq!(to_2(&h), 1, "B went once, in full");
    assert!(h.fake.requests().iter().all(|r| r.body_len == 1000));

    // A is done and its memory is back: C is kept, and retried.
    h.fake
        .script_api(ApiReply::status(503, SERVICE_UNAVAILABLE));
    let c = h
        .send(
            Request::put(h.url("/crm/v8/Leads/3"))
                .body(full(body))
                .unwrap(),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK);
    assert_eq!(
        h.fake
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/3"))
            .count(),
        2
    );
}

#[tokio::test]
async fn past_max_connections_accepting_waits_until_one_closes() {
    use tokio::io::AsyncWriteExt;
    // One worker, so one listening socket whose queue is first come, first
    // accepted (with several, each has its own queue and the third
    // connection could be accepted before the second).
    let h = harness("max_connections = 2\nworkers = 1", "").await;
    // Two connections with unfinished heads take both slots.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(h.addr).await.unwrap();
        s.write_all(b"GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        held.push(s);
    }
    // No wait needed: the kernel hands the socket's connections to accept()
    // in the order they were made, so the proxy takes these two first.
    let head = "GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let addr = h.addr;
    let mut third = tokio::spawn(async move { common::raw_request(addr, head).await.0 });
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut third)
            .await
            .is_err(),
        "a third connection was served past the cap"
    );
    drop(held);
    assert_eq!(third.await.unwrap(), 200, "served once a slot was free");
}
