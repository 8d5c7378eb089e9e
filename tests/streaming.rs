//! Large bodies stream through the proxy in both directions with flat memory.
//! In its own test binary so that the peak-RSS measurement sees nothing else.

mod common;

use common::{Harness, ALLOW_ALL};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use zoho_proxy::body::{boxed, empty};
use zoho_proxy::fake::Generated;

const SIZE: u64 = 256 << 20;

/// Kernel-reported memory of this process, in bytes (`VmRSS` or `VmHWM`).
fn memory(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_mib_stream_both_ways_with_flat_memory() {
    let h = Harness::start(ALLOW_ALL).await;
    h.ready().await;
    let before = memory("VmRSS:");

    let upload = Generated::new(SIZE, false); // chunked: no declared length
    let req = Request::post(h.url("/crm/v8/files"))
        .body(boxed(upload))
        .unwrap();
    let resp = h.send(req).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(resp.json()["echo"]["body_bytes"], SIZE);
    assert_eq!(h.fake.requests()[0].body_len, SIZE);

    let req = Request::get(h.url(&format!("/crm/v8/files/1?fake_bytes={SIZE}")))
        .body(empty())
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-length"], SIZE.to_string().as_str());
    let mut body = resp.into_body();
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            received += data.len() as u64;
        }
    }
    assert_eq!(received, SIZE);

    let peak = memory("VmHWM:");
    let growth = peak.saturating_sub(before);
    eprintln!("RSS before {} MiB, peak {} MiB", before >> 20, peak >> 20);
    assert!(
        growth < 64 << 20,
        "memory grew by {} MiB while streaming 2 x {} MiB",
        growth >> 20,
        SIZE >> 20
    );
}
