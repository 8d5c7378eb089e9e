//! The real binary under `ulimit -n 256`, flooded with 400 connections: the
//! accept loop backs off without a warning storm, the request in flight is
//! unaffected, and the proxy serves again once the connections close.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::binary::{config_dir, Binary};
use tokio::net::TcpStream;
use tokio::time::{sleep, Instant};
use zoho_proxy::fake::{ApiReply, FakeZoho};

async fn get(addr: SocketAddr) -> u16 {
    let head = "GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    common::raw_request(addr, head).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_file_descriptors_is_ridden_out_quietly() {
    let fake = FakeZoho::start().await.unwrap();
    let dir = config_dir("fd-exhaustion", &fake, "", "", common::ALLOW_ALL);
    let mut bin = Binary::spawn(&dir, Some(256));
    let addr = bin.addr().await;
    let until = Instant::now() + Duration::from_secs(10);
    while get(addr).await != 200 {
        assert!(Instant::now() < until, "never ready: {}", bin.logs());
        sleep(Duration::from_millis(20)).await;
    }

    // A request in flight while the descriptors run out.
    fake.script_api(ApiReply::slow(Duration::from_secs(3)));
    let arrival = fake.arrival();
    let in_flight = tokio::spawn(async move { get(addr).await });
    arrival.await;

    let flooding = Instant::now();
    let connects: Vec<_> = (0..400)
        .map(|_| {
            tokio::spawn(tokio::time::timeout(
                Duration::from_secs(2),
                TcpStream::connect(addr),
            ))
        })
        .collect();
    let mut flood = Vec::new();
    for c in connects {
        // A connect may wait on SYN retransmits (for half a minute); all
        // that matters is that the proxy is out of descriptors meanwhile.
        if let Ok(Ok(stream)) = c.await.unwrap() {
            flood.push(stream);
        }
    }
    sleep(Duration::from_secs(3)).await;
    assert_eq!(
        in_flight.await.unwrap(),
        200,
        "the request in flight finished"
    );
    let warnings = |logs: &str| logs.lines().filter(|l| l.contains("accept failed")).count();
    let logs = bin.logs();
    let n = warnings(&logs);
    let secs = flooding.elapsed().as_secs();
    assert!(n >= 1, "the descriptors did run out: {logs}");
    // At most one warning per 5 s (plus the first), where a warning every
    // 50 ms was a storm of hundreds.
    assert!(
        n as u64 <= 2 + secs / 5,
        "{n} warnings in {secs} s: a storm"
    );
    assert!(
        logs.contains("\"failures\""),
        "warnings carry the count: {logs}"
    );

    drop(flood);
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        if tokio::time::timeout(Duration::from_secs(2), get(addr)).await == Ok(200) {
            break;
        }
        assert!(Instant::now() < until, "never recovered: {}", bin.logs());
        sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(bin.stop().await.code(), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}
