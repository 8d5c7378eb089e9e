//! The pooled TLS client used for every call to Zoho (API and accounts).
//!
//! HTTP/1.1 and HTTP/2 are negotiated with ALPN; only `https` is allowed; the
//! client never follows redirects (hyper has no redirect logic).

use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;

use crate::body::ProxyBody;
use crate::tls::{client_config, TlsError};

/// How a call to Zoho failed before a response head arrived.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Never reached Zoho: DNS, TCP connect or TLS handshake failed. Safe to
    /// retry any method.
    #[error("cannot connect to {host}: {reason}")]
    Connect { host: String, reason: String },
    /// The request may have reached Zoho (connection reset mid-exchange, ...).
    #[error("connection to {host} failed: {reason}")]
    Exchange { host: String, reason: String },
    #[error("{host} did not answer within {}s", .after.as_secs_f32())]
    Timeout { host: String, after: Duration },
}

/// The HTTP version spoken to Zoho (`upstream_http` in `[zoho]` or a
/// `[[credentials]]` entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamHttp {
    /// HTTP/2 when the server offers it in ALPN (Zoho does), else HTTP/1.1:
    /// one connection per host carries every request at once.
    #[default]
    Http2,
    /// HTTP/1.1 only: a pool of keep-alive connections, one per request in
    /// flight.
    Http1,
}

impl std::str::FromStr for UpstreamHttp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "http2" => Ok(UpstreamHttp::Http2),
            "http1" => Ok(UpstreamHttp::Http1),
            _ => Err(format!(
                "upstream_http must be \"http2\" or \"http1\", not {s:?}"
            )),
        }
    }
}

/// HTTP/2 flow-control windows toward Zoho (hyper's defaults): at most this
/// much of an answer is buffered unread per stream, and per connection.
const H2_STREAM_WINDOW: u32 = 2 << 20;
const H2_CONNECTION_WINDOW: u32 = 5 << 20;

#[derive(Clone)]
pub struct UpstreamClient {
    client: Client<HttpsConnector<HttpConnector>, ProxyBody>,
}

impl UpstreamClient {
    pub fn new(
        extra_roots: &[CertificateDer<'static>],
        version: UpstreamHttp,
    ) -> Result<Self, TlsError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        http.set_keepalive(Some(Duration::from_secs(60)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(client_config(extra_roots)?)
            .https_only()
            .enable_http1();
        let https = match version {
            UpstreamHttp::Http2 => https.enable_http2().wrap_connector(http),
            UpstreamHttp::Http1 => https.wrap_connector(http),
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            // Over HTTP/1.1 every request in flight holds a connection; with
            // fewer kept idle than were busy, each burst pays new TLS
            // handshakes (measured: 336 instead of ~100 us of CPU per
            // request at 1,000 in flight with 64 kept). Their number is
            // bounded by the requests in flight, so by max_connections,
            // and idle ones close after 90 s (~20 KiB each).
            .pool_max_idle_per_host(usize::MAX)
            // One HTTP/2 connection carries every request to a host, so its
            // windows must hold many answers at once. Not adaptive windows:
            // they start at 64 KiB, and h2 closes a connection
            // (ENHANCE_YOUR_CALM, "too_many_data_frames") once small DATA
            // frames buffered on it pass half the connection window; under
            // 1,000 concurrent requests that failed every request on it
            // (bench/soak.sh). Fixed windows, large enough for throughput.
            .http2_initial_stream_window_size(H2_STREAM_WINDOW)
            .http2_initial_connection_window_size(H2_CONNECTION_WINDOW)
            .http2_keep_alive_interval(Some(Duration::from_secs(30)))
            .timer(hyper_util::rt::TokioTimer::new())
            .build(https);
        Ok(UpstreamClient { client })
    }

    /// Sends a request (absolute URI) and waits at most `timeout` for the
    /// response head. The body then streams without a deadline.
    pub async fn send(
        &self,
        req: Request<ProxyBody>,
        timeout: Duration,
    ) -> Result<Response<Incoming>, SendError> {
        // Shared, not copied: only an error spells it out.
        let authority = req.uri().authority().cloned();
        let host = move || authority.map(|a| a.to_string()).unwrap_or_default();
        match tokio::time::timeout(timeout, self.client.request(req)).await {
            Err(_) => Err(SendError::Timeout {
                host: host(),
                after: timeout,
            }),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => {
                let reason = error_chain(&e);
                let host = host();
                if e.is_connect() {
                    Err(SendError::Connect { host, reason })
                } else {
                    Err(SendError::Exchange { host, reason })
                }
            }
        }
    }
}

/// An error and its causes, one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
