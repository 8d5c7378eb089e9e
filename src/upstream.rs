//! The TLS client used for every call to Zoho (API and accounts), with its
//! own connections: one HTTP/2 connection per host carrying every request,
//! or a pool of kept HTTP/1.1 connections.
//!
//! Only `https` is allowed; the client never follows redirects. A host is
//! found by a short scan of the hosts this client has called (a credential
//! calls two: its API and its accounts server), not a hashed pool key.
//! Each worker thread (`workers`) has its own entry, so its own connections
//! to the host: a request and the connection carrying it stay on one thread.
//! Replacing hyper-util's general-purpose pool saved 2,500 (HTTP/2) to
//! 6,200 (HTTP/1.1) instructions per request (bench/README.md). A request that a kept
//! connection refused before writing a byte (it had just closed) goes again
//! on another; one that may have reached Zoho never does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use http::header::HOST;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Request, Response, Uri};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

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

/// Per-address TCP connect deadline.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// TCP keepalive probes start after this long without traffic.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
/// HTTP/2 PING interval on the shared connection.
const H2_KEEPALIVE: Duration = Duration::from_secs(30);
/// How many kept connections may refuse a request unsent (they closed
/// since their last answer) before it fails as never sent.
const MAX_REFUSED: u32 = 8;
/// How long a kept HTTP/1.1 connection given back as its answer ended may
/// take to be ready for the next request before another is used.
const GIVEN_BACK_WAIT: Duration = Duration::from_secs(1);
/// A kept HTTP/1.1 connection unused this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Clone)]
pub struct UpstreamClient {
    inner: Arc<Inner>,
}

struct Inner {
    tls: TlsConnector,
    version: UpstreamHttp,
    /// Every host called so far, per worker; a handful at most. Read
    /// without a lock's shared count (which every core would write to on
    /// every request); replaced whole when a host is added.
    hosts: ArcSwap<Vec<Arc<Host>>>,
    /// Held while adding a host.
    adding: Mutex<()>,
}

/// One `host:port` and one worker's connections to it.
struct Host {
    /// As in the URIs that call it.
    authority: String,
    /// The worker whose requests use these connections, and whose runtime
    /// drives them.
    worker: usize,
    name: String,
    port: u16,
    server_name: ServerName<'static>,
    /// `Host` over HTTP/1.1: the URI's authority, the port only when not 443.
    host_header: HeaderValue,
    /// The shared HTTP/2 connection, while it lives.
    h2: Mutex<Option<http2::SendRequest<ProxyBody>>>,
    /// Held while an HTTP/2 connection is being made: the requests that
    /// arrive meanwhile wait for it instead of each opening their own. It
    /// keeps the last failure and when it ended: those that waited for that
    /// attempt share its failure instead of each trying (and, with Zoho
    /// unreachable, waiting out a connect timeout) in turn.
    h2_connecting: tokio::sync::Mutex<Option<(Instant, String)>>,
    /// The server did not offer HTTP/2 in ALPN: HTTP/1.1 from then on.
    h1_only: AtomicBool,
    /// Kept HTTP/1.1 connections, ready for a request, newest last.
    idle: Mutex<Vec<(http1::SendRequest<ProxyBody>, Instant)>>,
}

enum Conn {
    H1(http1::SendRequest<ProxyBody>),
    H2(http2::SendRequest<ProxyBody>),
}

/// A failure before a response head, without the host (added by `send`).
enum Failure {
    /// Nothing was sent.
    Connect(String),
    /// The request may have been sent.
    Exchange(String),
}

impl UpstreamClient {
    pub fn new(
        extra_roots: &[CertificateDer<'static>],
        version: UpstreamHttp,
    ) -> Result<Self, TlsError> {
        let mut tls = client_config(extra_roots)?;
        tls.alpn_protocols = match version {
            UpstreamHttp::Http2 => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            UpstreamHttp::Http1 => vec![b"http/1.1".to_vec()],
        };
        Ok(UpstreamClient {
            inner: Arc::new(Inner {
                tls: TlsConnector::from(Arc::new(tls)),
                version,
                hosts: ArcSwap::from_pointee(Vec::new()),
                adding: Mutex::new(()),
            }),
        })
    }

    /// Sends a request (absolute `https` URI) and waits at most `timeout` for
    /// the response head. The body then streams without a deadline.
    pub async fn send(
        &self,
        req: Request<ProxyBody>,
        timeout: Duration,
    ) -> Result<Response<UpstreamBody>, SendError> {
        // Shared, not copied: only an error spells it out.
        let authority = req.uri().authority().cloned();
        let host = move || authority.map(|a| a.to_string()).unwrap_or_default();
        match tokio::time::timeout(timeout, self.inner.request(req)).await {
            Err(_) => Err(SendError::Timeout {
                host: host(),
                after: timeout,
            }),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(Failure::Connect(reason))) => Err(SendError::Connect {
                host: host(),
                reason,
            }),
            Ok(Err(Failure::Exchange(reason))) => Err(SendError::Exchange {
                host: host(),
                reason,
            }),
        }
    }
}

impl Inner {
    async fn request(
        &self,
        mut req: Request<ProxyBody>,
    ) -> Result<Response<UpstreamBody>, Failure> {
        let host = self.host(req.uri())?;
        // A kept connection may have closed since its last answer; the
        // request it refused unsent goes on the next one (a few at most). A
        // new connection's refusal is final.
        let mut refused = 0;
        loop {
            let (conn, kept) = host.checkout(self).await?;
            let sent = match conn {
                Conn::H2(mut tx) => {
                    host.absolute(&mut req)?;
                    tx.try_send_request(req)
                        .await
                        .map(|resp| resp.map(UpstreamBody::unpooled))
                }
                Conn::H1(mut tx) => {
                    host.origin_form(&mut req);
                    tx.try_send_request(req)
                        .await
                        .map(|resp| resp.map(|body| UpstreamBody::pooled(body, &host, tx)))
                }
            };
            match sent {
                Ok(resp) => return Ok(resp),
                Err(mut e) => match e.take_message() {
                    Some(unsent) if kept && refused < MAX_REFUSED => {
                        refused += 1;
                        req = unsent;
                    }
                    Some(_) => return Err(Failure::Connect(error_chain(e.error()))),
                    None => return Err(Failure::Exchange(error_chain(e.error()))),
                },
            }
        }
    }

    /// The host of an `https` URI, added on first use.
    fn host(&self, uri: &Uri) -> Result<Arc<Host>, Failure> {
        if uri.scheme() != Some(&Scheme::HTTPS) {
            return Err(Failure::Connect(format!(
                "only https URLs are called, not {:?}",
                uri.scheme_str().unwrap_or("")
            )));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| Failure::Connect("the URL has no host".to_owned()))?;
        // By the authority as written (parsing out host and port costs more
        // than the whole scan): `host` and `host:443` are two entries.
        let worker = crate::workers::current();
        let find = |hosts: &[Arc<Host>]| {
            hosts
                .iter()
                .find(|h| h.worker == worker && h.authority == authority.as_str())
                .cloned()
        };
        if let Some(found) = find(&self.hosts.load()) {
            return Ok(found);
        }
        let _adding = self.adding.lock().unwrap_or_else(PoisonError::into_inner);
        let hosts = self.hosts.load();
        if let Some(found) = find(&hosts) {
            return Ok(found);
        }
        let host = Arc::new(Host::new(authority, worker)?);
        let mut more = Vec::clone(&hosts);
        more.push(host.clone());
        self.hosts.store(Arc::new(more));
        tokio::spawn(close_idle(Arc::downgrade(&host)));
        Ok(host)
    }

    /// A TLS connection to `host`, speaking what ALPN settled on.
    async fn connect(&self, host: &Host) -> Result<Conn, Failure> {
        let tcp = host.tcp().await?;
        let tls = self
            .tls
            .connect(host.server_name.clone(), tcp)
            .await
            .map_err(|e| Failure::Connect(format!("TLS handshake: {}", error_chain(&e))))?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        let io = TokioIo::new(tls);
        let handshake = |e: hyper::Error| Failure::Connect(error_chain(&e));
        if h2 {
            let (tx, conn) = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                // One connection carries every request to a host, so its
                // windows must hold many answers at once. Not adaptive
                // windows: they start at 64 KiB, and h2 closes a connection
                // (ENHANCE_YOUR_CALM, "too_many_data_frames") once small
                // DATA frames buffered on it pass half the connection
                // window; under 1,000 concurrent requests that failed every
                // request on it (bench/soak.sh). Fixed and large enough.
                .initial_stream_window_size(H2_STREAM_WINDOW)
                .initial_connection_window_size(H2_CONNECTION_WINDOW)
                .keep_alive_interval(H2_KEEPALIVE)
                .handshake(io)
                .await
                .map_err(handshake)?;
            tokio::spawn(run(conn));
            Ok(Conn::H2(tx))
        } else {
            let (tx, conn) = http1::handshake(io).await.map_err(handshake)?;
            tokio::spawn(run(conn));
            Ok(Conn::H1(tx))
        }
    }
}

/// An answer's body as Zoho sends it. Over HTTP/1.1 its connection goes
/// back to the pool the moment the body has been read to the end, so the
/// next request finds it (given back later, from a task, a request arriving
/// in between opened another connection: 104-383 connections for 100
/// requests in flight, bench/README.md). A body dropped unread, or broken,
/// closes its connection.
pub struct UpstreamBody {
    body: Incoming,
    keep: Option<(Arc<Host>, http1::SendRequest<ProxyBody>)>,
}

impl UpstreamBody {
    fn unpooled(body: Incoming) -> Self {
        UpstreamBody { body, keep: None }
    }

    fn pooled(body: Incoming, host: &Arc<Host>, tx: http1::SendRequest<ProxyBody>) -> Self {
        let mut body = UpstreamBody {
            body,
            keep: Some((host.clone(), tx)),
        };
        // An empty answer (204, HEAD, `content-length: 0`) may never be read.
        if body.body.is_end_stream() {
            body.give_back();
        }
        body
    }

    fn give_back(&mut self) {
        if let Some((host, tx)) = self.keep.take() {
            host.lock_idle().push((tx, Instant::now()));
        }
    }
}

impl http_body::Body for UpstreamBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, hyper::Error>>> {
        let frame = std::task::ready!(std::pin::Pin::new(&mut self.body).poll_frame(cx));
        match &frame {
            Some(Ok(_)) if !self.body.is_end_stream() => {}
            Some(Ok(_)) | None => self.give_back(),
            Some(Err(_)) => self.keep = None,
        }
        std::task::Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Drives a connection until it closes.
async fn run<F: std::future::Future<Output = Result<(), hyper::Error>>>(conn: F) {
    if let Err(e) = conn.await {
        tracing::debug!(error = %error_chain(&e), "connection to Zoho ended");
    }
}

impl Host {
    fn new(authority: &Authority, worker: usize) -> Result<Host, Failure> {
        let name = authority.host();
        let port = authority.port_u16().unwrap_or(443);
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        let server_name = ServerName::try_from(bare.to_owned())
            .map_err(|e| Failure::Connect(format!("{name} is not a host name: {e}")))?;
        let host_header = if port == 443 {
            name.to_owned()
        } else {
            format!("{name}:{port}")
        };
        let host_header = HeaderValue::try_from(host_header)
            .map_err(|e| Failure::Connect(format!("{name}: {e}")))?;
        Ok(Host {
            authority: authority.as_str().to_owned(),
            worker,
            name: name.to_owned(),
            port,
            server_name,
            host_header,
            h2: Mutex::new(None),
            h2_connecting: tokio::sync::Mutex::new(None),
            h1_only: AtomicBool::new(false),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// A connection for one request, and whether it was kept from before.
    async fn checkout(&self, client: &Inner) -> Result<(Conn, bool), Failure> {
        if client.version == UpstreamHttp::Http2 && !self.h1_only.load(Ordering::Relaxed) {
            if let Some(tx) = self.live_h2() {
                return Ok((Conn::H2(tx), true));
            }
            let arrived = Instant::now();
            let mut last_failure = self.h2_connecting.lock().await;
            if let Some(tx) = self.live_h2() {
                return Ok((Conn::H2(tx), true));
            }
            if let Some((ended, reason)) = &*last_failure {
                if *ended >= arrived {
                    return Err(Failure::Connect(reason.clone()));
                }
            }
            if !self.h1_only.load(Ordering::Relaxed) {
                let conn = match client.connect(self).await {
                    Ok(conn) => conn,
                    Err(failure) => {
                        let (Failure::Connect(reason) | Failure::Exchange(reason)) = &failure;
                        *last_failure = Some((Instant::now(), reason.clone()));
                        return Err(failure);
                    }
                };
                self.learn(&conn);
                return Ok((conn, false));
            }
        }
        while let Some(mut tx) = self.take_idle() {
            if tx.is_ready() {
                return Ok((Conn::H1(tx), true));
            }
            // Given back as its answer ended, a moment before its
            // connection task finished with it.
            if let Ok(Ok(())) = tokio::time::timeout(GIVEN_BACK_WAIT, tx.ready()).await {
                return Ok((Conn::H1(tx), true));
            }
        }
        let conn = client.connect(self).await?;
        self.learn(&conn);
        Ok((conn, false))
    }

    /// What a new connection's ALPN says of the host: an HTTP/2 connection
    /// becomes the shared one (also when offered again by a host that once
    /// answered without it); an HTTP/1.1 one means HTTP/1.1 from then on.
    fn learn(&self, conn: &Conn) {
        match conn {
            Conn::H2(tx) => {
                *self.lock_h2() = Some(tx.clone());
                self.h1_only.store(false, Ordering::Relaxed);
            }
            Conn::H1(_) => self.h1_only.store(true, Ordering::Relaxed),
        }
    }

    fn lock_h2(&self) -> std::sync::MutexGuard<'_, Option<http2::SendRequest<ProxyBody>>> {
        self.h2.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn live_h2(&self) -> Option<http2::SendRequest<ProxyBody>> {
        let mut h2 = self.lock_h2();
        match &*h2 {
            Some(tx) if !tx.is_closed() => Some(tx.clone()),
            Some(_) => {
                *h2 = None;
                None
            }
            None => None,
        }
    }

    fn lock_idle(
        &self,
    ) -> std::sync::MutexGuard<'_, Vec<(http1::SendRequest<ProxyBody>, Instant)>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently kept connection that is still open (it may not
    /// be ready yet: see [`UpstreamBody`]).
    fn take_idle(&self) -> Option<http1::SendRequest<ProxyBody>> {
        let mut idle = self.lock_idle();
        while let Some((tx, since)) = idle.pop() {
            if !tx.is_closed() && since.elapsed() < IDLE_TIMEOUT {
                return Some(tx);
            }
        }
        None
    }

    /// Over HTTP/1.1 the target is origin-form and the authority is `Host`.
    fn origin_form(&self, req: &mut Request<ProxyBody>) {
        if req.uri().scheme().is_some() {
            let target = req
                .uri()
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            *req.uri_mut() = Uri::from(target);
        }
        req.headers_mut()
            .entry(HOST)
            .or_insert_with(|| self.host_header.clone());
    }

    /// Over HTTP/2 the target is absolute (`:scheme`, `:authority`): only a
    /// request that went out over HTTP/1.1 first lacks them.
    fn absolute(&self, req: &mut Request<ProxyBody>) -> Result<(), Failure> {
        if req.uri().scheme().is_none() {
            let mut parts = req.uri().clone().into_parts();
            parts.scheme = Some(Scheme::HTTPS);
            parts.authority = Some(
                self.host_header
                    .to_str()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|e| Failure::Connect(format!("{}: {e}", self.name)))?,
            );
            *req.uri_mut() = Uri::from_parts(parts)
                .map_err(|e| Failure::Connect(format!("{}: {e}", self.name)))?;
            req.headers_mut().remove(HOST);
        }
        Ok(())
    }

    /// TCP to the first of the host's addresses that answers.
    async fn tcp(&self) -> Result<TcpStream, Failure> {
        let bare = self.name.trim_start_matches('[').trim_end_matches(']');
        let addrs = tokio::net::lookup_host((bare, self.port))
            .await
            .map_err(|e| Failure::Connect(format!("resolving {}: {e}", self.name)))?;
        let mut last = format!("{} has no address", self.name);
        for addr in addrs {
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
                Ok(Ok(tcp)) => {
                    let _ = tcp.set_nodelay(true);
                    let keepalive = socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE);
                    let _ = socket2::SockRef::from(&tcp).set_tcp_keepalive(&keepalive);
                    return Ok(tcp);
                }
                Ok(Err(e)) => last = format!("tcp connect to {addr}: {e}"),
                Err(_) => {
                    last = format!(
                        "tcp connect to {addr}: no answer within {}s",
                        CONNECT_TIMEOUT.as_secs()
                    )
                }
            }
        }
        Err(Failure::Connect(last))
    }
}

/// Closes kept HTTP/1.1 connections idle past [`IDLE_TIMEOUT`], until the
/// host's client is gone.
async fn close_idle(host: Weak<Host>) {
    let mut tick = tokio::time::interval(IDLE_TIMEOUT / 3);
    loop {
        tick.tick().await;
        let Some(host) = host.upgrade() else { return };
        host.lock_idle()
            .retain(|(tx, since)| !tx.is_closed() && since.elapsed() < IDLE_TIMEOUT);
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

#[cfg(all(test, feature = "demo"))]
mod tests {
    use super::*;
    use crate::body::{empty, ProxyBody};
    use crate::tls::TestCa;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use std::sync::atomic::AtomicUsize;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;

    /// A server on a free port (`https://localhost:PORT`) that counts the
    /// connections it accepts and hands each to `serve`, in a task.
    async fn listen<F, Fut>(serve: F) -> (String, Arc<AtomicUsize>)
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "https://localhost:{}",
            listener.local_addr().unwrap().port()
        );
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(tcp));
            }
        });
        (url, accepted)
    }

    /// [`listen`] with TLS (a new test CA's certificate, `alpn` offered),
    /// each connection served by `serve` once the handshake is done.
    async fn server<F, Fut>(alpn: &[&[u8]], serve: F) -> (String, TestCa, Arc<AtomicUsize>)
    where
        F: Fn(tokio_rustls::server::TlsStream<TcpStream>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let ca = TestCa::generate().unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(ca.server_config(alpn).unwrap()));
        let serve = Arc::new(serve);
        let (url, accepted) = listen(move |tcp| {
            let (acceptor, serve) = (acceptor.clone(), serve.clone());
            async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve(tls).await;
                }
            }
        })
        .await;
        (url, ca, accepted)
    }

    /// Serves HTTP/1.1 or HTTP/2 (by ALPN) with hyper: "ok" to everything,
    /// but 204 without a body to a path ending in `/empty`.
    async fn hyper_serve(tls: tokio_rustls::server::TlsStream<TcpStream>) {
        let service =
            hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                let mut resp = http::Response::new(Full::new(Bytes::from_static(b"ok")));
                if req.uri().path().ends_with("/empty") {
                    *resp.body_mut() = Full::new(Bytes::new());
                    *resp.status_mut() = http::StatusCode::NO_CONTENT;
                }
                Ok::<_, std::convert::Infallible>(resp)
            });
        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(tls), service)
            .await;
    }

    fn get(url: &str) -> Request<ProxyBody> {
        Request::get(format!("{url}/crm/v8/Leads?page=2"))
            .body(empty())
            .unwrap()
    }

    async fn call(client: &UpstreamClient, url: &str) -> Result<String, SendError> {
        let resp = client.send(get(url), Duration::from_secs(10)).await?;
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn http1_connections_are_kept_and_reused() {
        let (url, ca, accepted) = server(&[b"http/1.1"], hyper_serve).await;
        let client =
            UpstreamClient::new(std::slice::from_ref(&ca.ca_cert), UpstreamHttp::Http1).unwrap();
        for _ in 0..5 {
            assert_eq!(call(&client, &url).await.unwrap(), "ok");
            // Back in the pool as soon as its answer was read to the end.
            let host = first_host(&client);
            assert_eq!(host.lock_idle().len(), 1);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_answer_dropped_unread_closes_its_connection_and_an_empty_one_does_not() {
        let (url, ca, accepted) = server(&[b"http/1.1"], hyper_serve).await;
        let client =
            UpstreamClient::new(std::slice::from_ref(&ca.ca_cert), UpstreamHttp::Http1).unwrap();
        let resp = client
            .send(get(&url), Duration::from_secs(10))
            .await
            .unwrap();
        drop(resp);
        assert_eq!(call(&client, &url).await.unwrap(), "ok");
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "the unread answer's connection closed"
        );
        // A 204 has no body to read: its connection goes back at once.
        let empty = Request::get(format!("{url}/crm/v8/empty"))
            .body(empty())
            .unwrap();
        let resp = client.send(empty, Duration::from_secs(10)).await.unwrap();
        assert_eq!(resp.status(), 204);
        let host = first_host(&client);
        assert_eq!(host.lock_idle().len(), 1);
        drop(resp);
        assert_eq!(call(&client, &url).await.unwrap(), "ok");
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "the 204's connection was reused"
        );
    }

    /// The first host the client called (on this worker).
    fn first_host(client: &UpstreamClient) -> Arc<Host> {
        client.inner.hosts.load()[0].clone()
    }

    /// The connection that carried the last answer, read to its end, is
    /// back in the pool (its body gave it back).
    fn kept(client: &UpstreamClient) {
        assert!(
            !first_host(client).lock_idle().is_empty(),
            "the connection was kept"
        );
    }

    #[tokio::test]
    async fn concurrent_first_requests_share_one_http2_connection() {
        let (url, ca, accepted) = server(&[b"h2", b"http/1.1"], hyper_serve).await;
        let client =
            UpstreamClient::new(std::slice::from_ref(&ca.ca_cert), UpstreamHttp::Http2).unwrap();
        let calls: Vec<_> = (0..20)
            .map(|_| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move { call(&client, &url).await.unwrap() })
            })
            .collect();
        for c in calls {
            assert_eq!(c.await.unwrap(), "ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn each_worker_has_its_own_connection_driven_on_its_own_thread() {
        let (url, ca, accepted) = server(&[b"h2", b"http/1.1"], hyper_serve).await;
        let client =
            UpstreamClient::new(std::slice::from_ref(&ca.ca_cert), UpstreamHttp::Http2).unwrap();
        assert_eq!(call(&client, &url).await.unwrap(), "ok");
        // Worker 1, on its own thread and runtime, as `workers` runs it.
        let worker = {
            let (client, url) = (client.clone(), url.clone());
            std::thread::spawn(move || {
                crate::workers::set_current(1);
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    for _ in 0..3 {
                        assert_eq!(call(&client, &url).await.unwrap(), "ok");
                    }
                });
            })
        };
        tokio::task::spawn_blocking(move || worker.join().unwrap())
            .await
            .unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "one per worker");
        assert_eq!(call(&client, &url).await.unwrap(), "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "worker 0's was kept");
    }

    #[tokio::test]
    async fn requests_waiting_for_a_failed_http2_connection_share_its_failure() {
        // Its TLS handshake starts late, so that every request is waiting
        // for this one connection when it fails (a certificate of a CA the
        // client does not trust).
        let ca = TestCa::generate().unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(ca.server_config(&[b"h2"]).unwrap()));
        let (url, accepted) = listen(move |tcp| {
            let acceptor = acceptor.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let _ = acceptor.accept(tcp).await;
            }
        })
        .await;
        let other = TestCa::generate().unwrap();
        let client =
            UpstreamClient::new(std::slice::from_ref(&other.ca_cert), UpstreamHttp::Http2).unwrap();
        let calls: Vec<_> = (0..10)
            .map(|_| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move { call(&client, &url).await.map(|_| ()) })
            })
            .collect();
        for c in calls {
            match c.await.unwrap() {
                Err(SendError::Connect { reason, .. }) => {
                    assert!(reason.contains("certificate"), "{reason}")
                }
                other => panic!("expected a connect error, got {other:?}"),
            }
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one attempt for all");
        // A request that arrives after the failure tries again.
        assert!(call(&client, &url).await.is_err());
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn http2_offered_again_is_shared_again() {
        let ca = TestCa::generate().unwrap();
        let acceptor =
            |alpn: &[&[u8]]| TlsAcceptor::from(Arc::new(ca.server_config(alpn).unwrap()));
        let (h1, h2) = (acceptor(&[b"http/1.1"]), acceptor(&[b"h2", b"http/1.1"]));
        let offer_h2 = Arc::new(AtomicBool::new(false));
        let offer = offer_h2.clone();
        let (url, accepted) = listen(move |tcp| {
            let acceptor = if offer.load(Ordering::SeqCst) {
                h2.clone()
            } else {
                h1.clone()
            };
            async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    hyper_serve(tls).await;
                }
            }
        })
        .await;
        let client =
            UpstreamClient::new(std::slice::from_ref(&ca.ca_cert), UpstreamHttp::Http2).unwrap();
        assert_eq!(call(&client, &url).await.unwrap(), "ok");
        kept(&client);
        let host = first_host(&client);
        assert!(host.h1_only.load(Ordering::Relaxed));
        // The server now offers HTTP/2 and the kept connection is gone.
        offer_h2.store(true, Ordering::SeqCst);
        host.lock_idle().clear();
        for _ in 0..3 {
            assert_eq!(call(&client, &url).await.unwrap(), "ok");
        }
        assert!(!host.h1_only.load(Ordering::Relaxed));
        assert!(host.lock_h2().is_some());
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "one HTTP/2 connection for the three"
        );
    }

    #[tokio::test]
    async fn a_server_without_http2_gets_http1_from_then_on() {
        let (url, ca, accepted) = server(&[b"http/1.1"], hyper_serve).await;
        let client =
            UpstreamClient::new(std::slice::from_ref(&ca.ca_cert), UpstreamHttp::Http2).unwrap();
        for _ in 0..3 {
            assert_eq!(call(&client, &url).await.unwrap(), "ok");
            kept(&client);
        }
        let host = first_host(&client);
        assert!(host.h1_only.load(Ordering::Relaxed));
        assert!(host.lock_h2().is_none());
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    /// Answers one request per connection while announcing keep-alive, then
    /// closes it: the kept connection is closed under the client.
    async fn one_then_close(mut tls: tokio_rustls::server::TlsStream<TcpStream>) {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = tls
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok")
            .await;
        let _ = tls.shutdown().await;
    }

    #[tokio::test]
    async fn a_kept_connection_the_server_closed_is_not_used() {
        let (url, ca, accepted) = server(&[b"http/1.1"], one_then_close).await;
        let client =
            UpstreamClient::new(std::slice::from_ref(&ca.ca_cert), UpstreamHttp::Http1).unwrap();
        for round in 1..=3 {
            assert_eq!(call(&client, &url).await.unwrap(), "ok");
            // Until the client has seen the close (the connection, kept,
            // then reports closed), so the next request must not take it.
            let host = first_host(&client);
            tokio::time::timeout(Duration::from_secs(5), async {
                while host.lock_idle().iter().any(|(tx, _)| !tx.is_closed()) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await
            .expect("the close was seen");
            assert_eq!(accepted.load(Ordering::SeqCst), round);
        }
    }

    #[tokio::test]
    async fn plain_http_and_unknown_roots_fail_before_anything_is_sent() {
        let (url, _ca, _) = server(&[b"http/1.1"], hyper_serve).await;
        let other = TestCa::generate().unwrap();
        let client =
            UpstreamClient::new(std::slice::from_ref(&other.ca_cert), UpstreamHttp::Http2).unwrap();
        match call(&client, &url).await {
            Err(SendError::Connect { host, reason }) => {
                assert_eq!(host, url.trim_start_matches("https://"));
                assert!(
                    reason.contains("TLS handshake") && reason.contains("certificate"),
                    "{reason}"
                );
            }
            other => panic!("expected a connect error, got {:?}", other.map(|_| ())),
        }
        let plain = url.replace("https:", "http:");
        match call(&client, &plain).await {
            Err(SendError::Connect { reason, .. }) => {
                assert!(reason.contains("only https"), "{reason}")
            }
            other => panic!("expected a connect error, got {:?}", other.map(|_| ())),
        }
    }
}
