//! Listeners: the proxy itself, the admin endpoints, and graceful shutdown.
//!
//! [`start`] binds both listeners (port 0 works, which is how the tests run
//! it), starts the token loop, and returns a [`Running`] handle whose
//! [`Running::shutdown`] stops accepting, lets in-flight requests finish
//! within `shutdown_grace`, and returns.

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

use crate::body::{full, ProxyBody};
use crate::config::Config;
use crate::proxy::Proxy;
use crate::token::{AccountsClient, TokenManager, TokenSettings};
use crate::upstream::UpstreamClient;

/// How long a client may take to send its request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
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
    /// Graceful shutdown: stop accepting, drain within the grace period.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "server task failed");
        }
    }
}

/// Builds the token manager and the upstream client for a config.
pub fn build_proxy(config: Arc<Config>) -> Result<Arc<Proxy>, StartError> {
    let client = UpstreamClient::new(&config.zoho.extra_roots)?;
    let tokens = Arc::new(TokenManager::new(
        AccountsClient::new(client.clone(), &config.zoho),
        TokenSettings {
            refresh_before_expiry: config.zoho.refresh_before_expiry,
            budget: config.zoho.token_requests_per_10min,
        },
    ));
    Ok(Arc::new(Proxy::new(config, tokens, client)))
}

/// Binds the listeners and serves until [`Running::shutdown`].
pub async fn start(config: Arc<Config>) -> Result<Running, StartError> {
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })
    };
    let proxy_listener = bind(config.server.listen).await?;
    let admin_listener = bind(config.admin.listen).await?;
    let proxy_addr = proxy_listener
        .local_addr()
        .map_err(|source| StartError::Bind {
            addr: config.server.listen,
            source,
        })?;
    let admin_addr = admin_listener
        .local_addr()
        .map_err(|source| StartError::Bind {
            addr: config.admin.listen,
            source,
        })?;
    let proxy = build_proxy(config.clone())?;
    let (stop, stopped) = watch::channel(false);
    let grace = config.server.shutdown_grace;

    let tokens = proxy.tokens().clone();
    let task = tokio::spawn({
        let proxy = proxy.clone();
        async move {
            let token_loop = tokio::spawn(tokens.clone().run(signalled(stopped.clone())));
            let admin = tokio::spawn(serve(
                admin_listener,
                admin_handler(tokens),
                signalled(stopped.clone()),
                grace,
            ));
            let handler = move |req| {
                let proxy = proxy.clone();
                async move { proxy.handle(req).await }
            };
            serve(proxy_listener, handler, signalled(stopped), grace).await;
            let _ = admin.await;
            let _ = token_loop.await;
            tracing::info!("stopped");
        }
    });
    tracing::info!(listen = %proxy_addr, admin = %admin_addr, routes = config.routes.len(), "zoho-proxy listening");
    Ok(Running {
        proxy_addr,
        admin_addr,
        proxy,
        stop,
        task,
    })
}

/// Resolves once `true` is sent (or the sender is gone).
async fn signalled(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Accepts HTTP/1.1 connections and serves them with `handler` until
/// `shutdown`, then drains in-flight requests for at most `grace`.
pub async fn serve<F, Fut>(
    listener: TcpListener,
    handler: F,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: back off briefly.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                let service = service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req).await) }
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => tracing::debug!("all connections drained"),
        _ = tokio::time::sleep(grace) => tracing::warn!(grace_secs = grace.as_secs(), "grace period over; dropping remaining connections"),
    }
}

/// `/healthz`: the process serves. `/readyz`: a valid token is held.
fn admin_handler(
    tokens: Arc<TokenManager>,
) -> impl Fn(Request<Incoming>) -> std::future::Ready<Response<ProxyBody>> + Clone + Send + Sync + 'static
{
    move |req: Request<Incoming>| {
        let (status, text) = match req.uri().path() {
            "/healthz" => (StatusCode::OK, "ok\n"),
            "/readyz" if tokens.current().is_some() => (StatusCode::OK, "ready\n"),
            "/readyz" => (
                StatusCode::SERVICE_UNAVAILABLE,
                "no valid Zoho access token yet\n",
            ),
            _ => (
                StatusCode::NOT_FOUND,
                "not found: try /healthz or /readyz\n",
            ),
        };
        let mut resp = Response::new(full(text));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        std::future::ready(resp)
    }
}
