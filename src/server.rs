//! Listeners: the proxy itself, the admin endpoints, and graceful shutdown.
//!
//! [`start`] binds both listeners (port 0 works, which is how the tests run
//! it), starts the token loop and the proxy's other workers (`workers`),
//! and returns a [`Running`] handle whose [`Running::shutdown`] stops
//! accepting, lets in-flight requests finish within `shutdown_grace`, and
//! returns. Call it on a current-thread runtime: that thread is worker 0.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::accept::{slots, Acceptor};
use crate::body::{full, ProxyBody};
use crate::config::Config;
use crate::credential::Refresh;
use crate::deadline::io::PacedIo;
use crate::deadline::Pace;
use crate::metrics::Metrics;
use crate::proxy::{Peer, Proxy};

/// How long a client may take to send its request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// hyper's per-connection read buffer limit (so the longest request head):
/// 64 KiB rather than hyper's ~400 KiB, for a memory bound per connection.
const MAX_BUF_SIZE: usize = 64 * 1024;

/// The admin listener's connection cap: probes and scrapes, not traffic.
const ADMIN_MAX_CONNECTIONS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the workers: {0}")]
    Workers(std::io::Error),
    #[error(transparent)]
    Credential(#[from] crate::credential::CredentialError),
}

/// A started proxy.
pub struct Running {
    pub proxy_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub proxy: Arc<Proxy>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Reloads the config when `path` changes (checked every `interval`),
    /// until shutdown. Returns once a change made from now on will be seen.
    pub async fn watch_config(&self, path: std::path::PathBuf, interval: Duration) {
        let stopped = self.stop.subscribe();
        crate::reload::watch_file(self.proxy.clone(), path, interval, stopped).await;
    }
}

impl Running {
    /// Graceful shutdown: stop accepting, drain within the grace period.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "server task failed");
        }
    }
}

/// Builds the proxy (credentials with their token managers, clients and
/// shaping) for a config; `refresh` says whether tokens are kept fresh in
/// the background.
pub fn build_proxy(config: Arc<Config>, refresh: Refresh) -> Result<Arc<Proxy>, StartError> {
    Ok(Arc::new(Proxy::new(
        config,
        Arc::new(Metrics::new()),
        refresh,
    )?))
}

/// Binds the listeners and serves until [`Running::shutdown`].
pub async fn start(config: Arc<Config>) -> Result<Running, StartError> {
    let bind =
        |addr, n| crate::workers::bind(addr, n).map_err(|source| StartError::Bind { addr, source });
    let (proxy_addr, mut proxy_listeners) = bind(config.server.listen, config.server.workers)?;
    let (admin_addr, mut admin_listeners) = bind(config.admin.listen, 1)?;
    let listening =
        |l: std::net::TcpListener| TcpListener::from_std(l).map_err(StartError::Workers);
    let proxy_listener = listening(proxy_listeners.remove(0))?;
    let admin_listener = listening(admin_listeners.remove(0))?;
    // Off the runtime's threads: building reads the CA, token cache and
    // credits files.
    let proxy = crate::blocking::run({
        let config = config.clone();
        move || build_proxy(config, Refresh::Background)
    })
    .await?;
    let (stop, stopped) = watch::channel(false);
    let rules = ConnectionRules {
        pace: config.server.pace,
        grace: config.server.shutdown_grace,
    };
    // Every worker serves the proxy's port the same way, within one cap.
    let serve_proxy = {
        let (proxy, slots, stopped) = (
            proxy.clone(),
            slots(config.server.max_connections),
            stopped.clone(),
        );
        move |listener| {
            // The worker's own handle on the proxy: each request and
            // connection counts its reference on it, a cache line of this
            // worker's core, not on the shared `Arc<Proxy>`'s count, which
            // every core would write to on every request.
            let proxy = Arc::new(proxy.clone());
            let handler = move |req| {
                let proxy = proxy.clone();
                async move { proxy.handle(req).await }
            };
            let acceptor = Acceptor::new(listener, slots.clone(), "proxy");
            serve(acceptor, handler, signalled(stopped.clone()), rules)
        }
    };
    let others =
        crate::workers::spawn(proxy_listeners, serve_proxy.clone()).map_err(StartError::Workers)?;

    let task = tokio::spawn({
        let proxy = proxy.clone();
        async move {
            let admin = tokio::spawn(serve(
                Acceptor::new(admin_listener, slots(ADMIN_MAX_CONNECTIONS), "admin"),
                admin_handler(proxy.clone()),
                signalled(stopped),
                rules,
            ));
            serve_proxy(proxy_listener).await;
            // Their runtimes may run tasks this drain needed: they end last.
            others.finish().await;
            let _ = admin.await;
            tracing::info!("stopped");
        }
    });
    tracing::info!(listen = %proxy_addr, admin = %admin_addr, workers = config.server.workers, routes = config.routes.len(), clients = config.clients.len(), "zoho-proxy listening");
    warn_if_open(&config);
    Ok(Running {
        proxy_addr,
        admin_addr,
        proxy,
        stop,
        task,
    })
}

/// `allow_remote` without `[[clients]]`: allowed (a NetworkPolicy may be
/// the guard), but said out loud, at start and after each reload.
pub fn warn_if_open(config: &Config) {
    if config.server.allow_remote && config.clients.is_empty() {
        tracing::warn!(
            listen = %config.server.listen,
            "allow_remote = true and no [[clients]]: anyone who can reach this port uses the \
             Zoho credentials with every route; add [[clients]] keys unless the network alone \
             is meant to decide who calls"
        );
    }
}

/// Resolves once `true` is sent (or the sender is gone).
async fn signalled(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// How a listener treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionRules {
    /// Writes to the client must keep to this, or the connection is dropped.
    pub pace: Pace,
    pub grace: Duration,
}

/// Accepts HTTP/1.1 connections and serves them with `handler` until
/// `shutdown`, then drains in-flight requests for at most `grace`.
pub async fn serve<F, Fut>(
    mut acceptor: Acceptor,
    handler: F,
    shutdown: impl Future<Output = ()>,
    rules: ConnectionRules,
) where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer, slot) = tokio::select! {
            next = acceptor.accept() => match next {
                Some(next) => next,
                None => break,
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let service = service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(Peer(peer));
            let handler = handler.clone();
            async move { Ok::<_, Infallible>(handler(req).await) }
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(MAX_BUF_SIZE)
            .serve_connection(TokioIo::new(PacedIo::new(stream, rules.pace)), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    acceptor.close();
    tokio::select! {
        _ = graceful.shutdown() => tracing::debug!("all connections drained"),
        _ = tokio::time::sleep(rules.grace) => tracing::warn!(grace_secs = rules.grace.as_secs(), "grace period over; dropping remaining connections"),
    }
}

/// `/healthz`: the process serves. `/readyz`: a valid token is held.
/// `/metrics`: Prometheus text format. `/credits`: API credits, JSON.
fn admin_handler(
    proxy: Arc<Proxy>,
) -> impl Fn(Request<Incoming>) -> std::future::Ready<Response<ProxyBody>> + Clone + Send + Sync + 'static
{
    move |req: Request<Incoming>| {
        let (status, content_type, text) = match req.uri().path() {
            "/healthz" => (StatusCode::OK, TEXT, "ok\n".to_owned()),
            "/readyz" => readiness(&proxy),
            "/credits" => (
                StatusCode::OK,
                JSON,
                format!("{}\n", proxy.credits_report()),
            ),
            "/metrics" => {
                // Sets each credential's credits_remaining as of now.
                let _ = proxy.credits_report();
                let states: Vec<_> = proxy.credentials().iter().map(|c| c.status()).collect();
                if let Some(cluster) = proxy.cluster() {
                    let store = cluster.store();
                    proxy
                        .metrics()
                        .cluster(store.is_up(), store.stats().leases_expired);
                }
                (
                    StatusCode::OK,
                    OPENMETRICS,
                    proxy
                        .metrics()
                        .render(states.iter().map(|s| (s.name.as_str(), s.expires_in))),
                )
            }
            _ => (
                StatusCode::NOT_FOUND,
                TEXT,
                "not found: try /healthz, /readyz, /metrics or /credits\n".to_owned(),
            ),
        };
        let mut resp = Response::new(full(text));
        *resp.status_mut() = status;
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        std::future::ready(resp)
    }
}

/// `/readyz`: 200 when every credential holds a valid token, else 503; the
/// body lists each credential's state as JSON.
fn readiness(proxy: &Proxy) -> (StatusCode, &'static str, String) {
    let states: Vec<_> = proxy.credentials().iter().map(|c| c.status()).collect();
    let ready = states.iter().all(|s| s.expires_in.is_some());
    let credentials: serde_json::Map<String, serde_json::Value> = states
        .iter()
        .map(|s| {
            let state = match s.expires_in {
                Some(left) => serde_json::json!({
                    "token": "valid",
                    "expires_in_secs": left.as_secs(),
                    "generation": s.generation,
                }),
                None => serde_json::json!({ "token": "none" }),
            };
            (s.name.clone(), state)
        })
        .collect();
    let mut body = serde_json::json!({ "ready": ready, "credentials": credentials });
    // Degraded (Redis unreachable) still serves: Kubernetes must not pull
    // every pod because Redis went away.
    if let Some(cluster) = proxy.cluster() {
        body["cluster"] = serde_json::Value::from(if cluster.store().is_up() {
            "up"
        } else {
            "degraded"
        });
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, JSON, format!("{body}\n"))
}

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
