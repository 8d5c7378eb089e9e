//! Issue 16 against the real binary: ten slow or stalled parties with no
//! special access must not stop the proxy for everyone else
//! (`max_concurrent = 10`, Zoho CRM Standard's concurrency).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::binary::{config_dir, Binary};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{sleep, timeout, Instant};
use zoho_proxy::fake::{ApiReply, FakeZoho};

/// Short deadlines, so the tests take seconds: a body must not go 2 s
/// without a byte, nor under 1 KiB/s after a grace of 1 s.
const SHORT_PACE: &str =
    "body_idle_timeout = \"2s\"\nmin_data_rate = \"1KiB/s\"\nmin_rate_grace = \"1s\"";

/// The real binary in front of `fake`, with `server` lines, serving once
/// it holds a token.
async fn proxy(fake: &FakeZoho, name: &str, server: &str) -> (Binary, SocketAddr) {
    let routes = format!("[rate_limit]\nmax_concurrent = 10\n\n{}", common::ALLOW_ALL);
    let dir = config_dir(name, fake, server, "", &routes);
    let mut bin = Binary::spawn(&dir, None);
    let addr = bin.addr().await;
    for _ in 0..500 {
        if get(addr, "/crm/v8/Leads").await == 200 {
            return (bin, addr);
        }
        sleep(Duration::from_millis(10)).await;
    }
    panic!("the proxy never answered 200: {}", bin.logs());
}

/// A normal request on a new connection: its status.
async fn get(addr: SocketAddr, path: &str) -> u16 {
    let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    common::raw_request(addr, &head).await.0
}

/// The bound: a normal request meanwhile is answered 200 within 1 s.
async fn answered_within_a_second(addr: SocketAddr) {
    let status = timeout(Duration::from_secs(1), get(addr, "/crm/v8/Leads"))
        .await
        .expect("a normal request waited more than 1 s");
    assert_eq!(status, 200);
}

/// Waits until the fake has seen `n` API requests.
async fn arrived(fake: &FakeZoho, n: usize) {
    let until = Instant::now() + Duration::from_secs(10);
    while fake.requests().len() < n {
        assert!(
            Instant::now() < until,
            "{} of {n} arrived",
            fake.requests().len()
        );
        sleep(Duration::from_millis(10)).await;
    }
}

/// The status of what the connection answers, 0 if it closed first.
async fn status_of(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> u16 {
    answer_of(stream).await.0
}

/// The status and the head (lowercase) of what the connection answers.
async fn answer_of(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> (u16, String) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&got).to_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head)
}

/// An upload that declares `len` bytes, sends `fast` of them at once, then
/// one byte every `every` until the proxy answers: that answer's status and
/// head.
fn slow_upload(
    addr: SocketAddr,
    method: &'static str,
    len: usize,
    fast: usize,
    every: Duration,
) -> tokio::task::JoinHandle<(u16, String)> {
    tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "{method} /crm/v8/Leads/1 HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&vec![b'x'; fast]).await.unwrap();
        let (mut rd, mut wr) = stream.into_split();
        let trickle = async move {
            for _ in fast..len {
                sleep(every).await;
                if wr.write_all(b"x").await.is_err() {
                    break;
                }
            }
            std::future::pending::<()>().await;
        };
        tokio::select! {
            answer = answer_of(&mut rd) => answer,
            _ = trickle => unreachable!("the trickle never ends by itself"),
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_clients_that_never_read_a_normal_answer_hold_no_slot() {
    let fake = FakeZoho::start().await.unwrap();
    // Default deadlines: the non-readers are not cut during the test; the
    // slot rule alone must keep the proxy open. The answer is "normal-size"
    // for a response_buffer of 8 MiB: more than the kernel's socket buffers
    // can hide (tcp_wmem's maximum is 4 MiB), so a client that does not read
    // would hold Zoho's slot if the proxy streamed it.
    let (bin, addr) = proxy(&fake, "never-read", "response_buffer = \"8MiB\"").await;
    let before = fake.requests().len();
    let mut idle = Vec::new();
    for _ in 0..10 {
        // A tiny receive window, so the answer cannot hide in the kernel.
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        stream
            .write_all(b"GET /crm/v8/Leads?fake_bytes=8000000 HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        idle.push(stream);
    }
    arrived(&fake, before + 10).await;
    answered_within_a_second(addr).await;
    answered_within_a_second(addr).await;
    drop(idle);
    assert_eq!(bin.stop().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_small_uploads_at_a_byte_a_second_cost_no_slot_and_get_408() {
    let fake = FakeZoho::start().await.unwrap();
    let (bin, addr) = proxy(&fake, "byte-a-second", SHORT_PACE).await;
    let before = fake.requests().len();
    let uploads: Vec<_> = (0..10)
        .map(|_| slow_upload(addr, "POST", 100, 1, Duration::from_secs(1)))
        .collect();
    sleep(Duration::from_millis(300)).await;
    answered_within_a_second(addr).await;
    for upload in uploads {
        let (status, head) = upload.await.unwrap();
        assert_eq!(status, 408, "{head}");
        assert!(
            head.contains("x-zoho-proxy-error: request_body_timeout"),
            "{head}"
        );
    }
    assert_eq!(
        fake.requests().len(),
        before + 1,
        "no byte of a cut body went to Zoho"
    );
    answered_within_a_second(addr).await;
    assert_eq!(bin.stop().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_slow_2mb_uploads_are_cut_with_408_and_never_retried() {
    let fake = FakeZoho::start().await.unwrap();
    let (bin, addr) = proxy(&fake, "slow-2mb", SHORT_PACE).await;
    let before = fake.requests().len();
    // Over replay_buffer (1 MiB): streamed, holding a slot while it goes.
    // A PUT: retrying would be allowed for its method, so "not retried" is
    // the body's doing.
    let len = 2 << 20;
    let uploads: Vec<_> = (0..10)
        .map(|_| slow_upload(addr, "PUT", len, 1_100_000, Duration::from_millis(200)))
        .collect();
    for upload in uploads {
        let (status, head) = upload.await.unwrap();
        assert_eq!(status, 408, "{head}");
        assert!(
            head.contains("x-zoho-proxy-error: request_body_timeout"),
            "{head}"
        );
    }
    answered_within_a_second(addr).await;
    arrived(&fake, before + 11).await;
    let seen = fake.requests();
    let puts: Vec<_> = seen.iter().filter(|r| r.method == "PUT").collect();
    assert_eq!(puts.len(), 10, "each went once, none retried");
    assert!(
        puts.iter().all(|r| r.body_len < len as u64),
        "the upstream calls were aborted: {:?}",
        puts.iter().map(|r| r.body_len).collect::<Vec<_>>()
    );
    assert_eq!(bin.stop().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_upstream_stalls_after_headers_end_in_504_and_then_traffic_flows() {
    let fake = FakeZoho::start().await.unwrap();
    let (bin, addr) = proxy(&fake, "upstream-stall", SHORT_PACE).await;
    for _ in 0..10 {
        fake.script_api(ApiReply::stall_after(100, 5000));
    }
    let head = "GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let stalled: Vec<_> = (0..10)
        .map(|_| tokio::spawn(async move { common::raw_request(addr, head).await }))
        .collect();
    for s in stalled {
        let (status, headers, _) = s.await.unwrap();
        assert_eq!(status, 504, "{headers}");
        assert!(
            headers.contains("x-zoho-proxy-error: upstream_body_timeout"),
            "{headers}"
        );
    }
    answered_within_a_second(addr).await;
    assert_eq!(bin.stop().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_answer_that_stalls_ends_the_clients_body_in_error_not_a_short_200() {
    let fake = FakeZoho::start().await.unwrap();
    let (bin, addr) = proxy(&fake, "large-stall", SHORT_PACE).await;
    // More than response_buffer (256 KiB) arrives, so the head is passed on.
    fake.script_api(ApiReply::stall_after(300_000, 10_000_000));
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = timeout(Duration::from_secs(20), stream.read_to_end(&mut got))
        .await
        .expect("the proxy ended the answer");
    let text = String::from_utf8_lossy(&got[..200.min(got.len())]).to_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(text.contains("content-length: 10000000"), "{text}");
    let body = got.len() - (got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4);
    assert!(
        (300_000..10_000_000).contains(&body),
        "the connection closed short of the declared length: {body}"
    );
    answered_within_a_second(addr).await;
    assert_eq!(bin.stop().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped() {
    let fake = FakeZoho::start().await.unwrap();
    let (bin, addr) = proxy(&fake, "stops-reading", SHORT_PACE).await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let size = 8_000_000;
    stream
        .write_all(
            format!("GET /crm/v8/Leads?fake_bytes={size} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(status_of(&mut stream).await, 200);
    // Stop reading for longer than the deadlines allow.
    sleep(Duration::from_secs(5)).await;
    let mut rest = Vec::new();
    let ended = timeout(Duration::from_secs(20), async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => rest.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the connection was closed");
    assert!(
        rest.len() < size,
        "dropped before the whole answer: {} bytes",
        rest.len()
    );
    answered_within_a_second(addr).await;
    assert_eq!(bin.stop().await.code(), Some(0));
}
