//! The loopback listener `login` gives Zoho as its redirect URI: it waits for
//! the browser to come back with the authorization answer.
//!
//! Only `127.0.0.1` is bound (RFC 8252 §7.3: a loopback IP literal, not
//! `localhost`, which may resolve elsewhere). Any request other than
//! `GET /callback` gets 404 and the wait goes on; the first `/callback` ends
//! it, whatever it says. Pages are `text/plain`: they may echo what the query
//! carried, and plain text cannot run script.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{header, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::OnboardError;
use crate::body::{full, ProxyBody};
use crate::token::accounts::form_decode;

pub const CALLBACK_PATH: &str = "/callback";

/// The decoded query of the redirect, in order.
pub type Params = Vec<(String, String)>;

/// A bound loopback listener for one redirect.
pub struct Callback {
    listener: TcpListener,
    redirect_uri: String,
}

impl Callback {
    /// Listens on `127.0.0.1:port` (`0`: any free port).
    pub async fn bind(port: u16) -> Result<Callback, OnboardError> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            OnboardError::Setup(format!(
                "cannot listen on 127.0.0.1:{port} for Zoho's redirect: {e} (pick another \
                     port with --port, and register its redirect URI with the client)"
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| OnboardError::Setup(format!("the callback listener: {e}")))?
            .port();
        Ok(Callback {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
        })
    }

    /// `http://127.0.0.1:PORT/callback`.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Serves until the browser requests `/callback`; answers it with a page
    /// saying what `check` made of its query, and returns that.
    pub async fn wait<T, F>(self, check: F) -> Result<T, OnboardError>
    where
        T: Send + 'static,
        F: Fn(&Params) -> Result<T, OnboardError> + Send + Sync + 'static,
    {
        let (tx, mut rx) = mpsc::channel::<Result<T, OnboardError>>(1);
        // Only the first /callback counts: the sender is taken by it.
        let first = Arc::new(Mutex::new(Some(tx)));
        let check = Arc::new(check);
        let mut connections = JoinSet::new();
        let verdict = loop {
            tokio::select! {
                verdict = rx.recv() => match verdict {
                    Some(v) => break v,
                    None => return Err(OnboardError::Setup("the callback listener stopped".into())),
                },
                accepted = self.listener.accept() => {
                    let Ok((tcp, _)) = accepted else { continue };
                    let first = first.clone();
                    let check = check.clone();
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let answer = answer(&req, &first, check.as_ref());
                        async move { Ok::<_, Infallible>(answer) }
                    });
                    connections.spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .keep_alive(false)
                            .serve_connection(TokioIo::new(tcp), service)
                            .await;
                    });
                }
            }
        };
        // Let the page reach the browser before the process moves on.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        verdict
    }
}

type Sender<T> = Mutex<Option<mpsc::Sender<Result<T, OnboardError>>>>;

fn answer<T, F>(req: &Request<Incoming>, first: &Sender<T>, check: &F) -> Response<ProxyBody>
where
    F: Fn(&Params) -> Result<T, OnboardError>,
{
    if req.uri().path() != CALLBACK_PATH {
        return page(StatusCode::NOT_FOUND, "Not found.".into());
    }
    let params = form_decode(req.uri().query().unwrap_or(""));
    let verdict = check(&params);
    let (status, text) = match &verdict {
        Ok(_) => (
            StatusCode::OK,
            "zoho-proxy received Zoho's answer: the terminal shows the rest.\n\
             You can close this tab."
                .to_owned(),
        ),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            format!("zoho-proxy login failed:\n\n{e}\n"),
        ),
    };
    let sender = first.lock().unwrap_or_else(|e| e.into_inner()).take();
    match sender {
        Some(tx) => {
            let _ = tx.try_send(verdict);
            page(status, text)
        }
        None => page(
            StatusCode::GONE,
            "This login is over: the terminal shows how it ended.".into(),
        ),
    }
}

fn page(status: StatusCode, text: String) -> Response<ProxyBody> {
    let mut resp = Response::new(full(text));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}
