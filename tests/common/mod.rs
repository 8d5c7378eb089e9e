//! Shared test harness: a fake Zoho over TLS and the real proxy in front of
//! it, both on ephemeral loopback ports, plus small HTTP helpers.
#![allow(dead_code)]

pub mod binary;
pub mod redis;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zoho_proxy::body::{empty, full, ProxyBody};
use zoho_proxy::config;
use zoho_proxy::fake::FakeZoho;
use zoho_proxy::server::{self, Running};

/// A route that lets everything through (for tests about the pipeline, not
/// the allowlist): an explicit `requires` stands in for the scope catalog.
pub const ALLOW_ALL: &str = "[[routes]]\nname = \"all\"\npath = \"/**\"\n\
    scopes = [\"ZohoCRM.modules.ALL\"]\nrequires = \"ZohoCRM.modules.ALL\"\n";

pub struct Harness {
    pub fake: FakeZoho,
    pub running: Option<Running>,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    client: Client<HttpConnector, ProxyBody>,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The proxy's own error code, if the proxy made this answer.
    pub fn proxy_error(&self) -> Option<&str> {
        self.headers
            .get("x-zoho-proxy-error")
            .and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Harness {
    /// A proxy with `routes` in front of a fresh fake Zoho.
    pub async fn start(routes: &str) -> Harness {
        let fake = FakeZoho::start().await.expect("fake zoho starts");
        Harness::start_with(fake, "", "", routes).await
    }

    /// A proxy with extra `[server]`/`[zoho]` lines, in front of `fake`
    /// (which a test may have scripted before the proxy's first refresh).
    pub async fn start_with(fake: FakeZoho, server: &str, zoho: &str, routes: &str) -> Harness {
        let config = compile(&fake, server, zoho, routes);
        let running = server::start(Arc::new(config)).await.expect("proxy starts");
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        Harness {
            addr: running.proxy_addr,
            admin: running.admin_addr,
            running: Some(running),
            fake,
            client: Client::builder(TokioExecutor::new()).build(http),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn send(&self, req: Request<ProxyBody>) -> Response {
        let resp = self.client.request(req).await.expect("proxy answers");
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("body arrives").to_bytes();
        Response {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(Request::get(self.url(path)).body(empty()).unwrap())
            .await
    }

    pub async fn request(&self, method: &str, path: &str, body: &'static str) -> Response {
        let req = Request::builder()
            .method(method)
            .uri(self.url(path))
            .body(full(body))
            .unwrap();
        self.send(req).await
    }

    pub async fn admin_get(&self, path: &str) -> Response {
        let req = Request::get(format!("http://{}{}", self.admin, path))
            .body(empty())
            .unwrap();
        self.send(req).await
    }

    /// Waits until the proxy holds a token (its background refresh is done).
    pub async fn ready(&self) {
        for _ in 0..500 {
            if self.admin_get("/readyz").await.status == StatusCode::OK {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("proxy never became ready");
    }

    /// Sends `head` verbatim (request line and headers, no body) over a new
    /// connection and returns the status code, headers text and body.
    pub async fn raw(&self, head: &str) -> (u16, String, String) {
        raw_request(self.addr, head).await
    }
}

/// Waits until `done` holds, checking every 5 ms, and fails the test naming
/// `what` if it still does not after `within`: for waiting on something the
/// test cannot be told about directly, instead of sleeping "long enough".
pub async fn eventually(what: &str, within: std::time::Duration, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Compiles a config for a proxy in front of `fake`, trusting only the fake's CA.
pub fn compile(fake: &FakeZoho, server: &str, zoho: &str, routes: &str) -> config::Config {
    let text = fake.proxy_config("127.0.0.1:0", server, zoho, routes);
    let mut config =
        config::compile(&text, "test.toml", Path::new(".")).expect("test config compiles");
    for c in &mut config.credentials {
        c.zoho.extra_roots = vec![fake.ca_cert()];
    }
    config
}

pub async fn raw_request(addr: SocketAddr, head: &str) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = headers
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, headers.to_ascii_lowercase(), body.to_owned())
}
