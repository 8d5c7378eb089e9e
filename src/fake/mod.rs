//! An in-process fake Zoho: the accounts token endpoint and the API, over real
//! TLS (a throwaway CA made at start), on an ephemeral loopback port.
//!
//! It serves `zoho-proxy demo` and the integration tests. It behaves like
//! Zoho where the proxy depends on it (tokens expire and can be revoked, a
//! bad token gets 401 `INVALID_TOKEN`, token errors come back as HTTP 200
//! with `error`), records every API request that reached it, and can be
//! scripted: [`FakeZoho::script_api`] and [`FakeZoho::script_token`] queue
//! answers that are used, in order, before the default behaviour resumes.

mod breaking;
mod handlers;
mod oauth;

pub use breaking::Break;
pub use handlers::Generated;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio_rustls::TlsAcceptor;

use crate::tls::{TestCa, TlsError};

/// The credentials the fake accepts.
pub const CLIENT_ID: &str = "1000.FAKECLIENTID0000000000000000";
/// A second client the fake accepts (same secret and refresh token), so a
/// test can tell two credentials' tokens apart.
pub const SANDBOX_CLIENT_ID: &str = "1000.FAKESANDBOXCLIENT00000000000";
pub const CLIENT_SECRET: &str = "fake-client-secret-do-not-use";
pub const REFRESH_TOKEN: &str = "1000.fakerefreshtoken.0000000000";

/// Bodies up to this size are kept in [`Recorded::body`].
const RECORD_BODY_LIMIT: usize = 1 << 20;

/// A scripted answer of the token endpoint.
#[derive(Debug, Clone)]
pub enum TokenReply {
    /// Mint a token (the default).
    Grant,
    /// HTTP 200 with `{"error": code}`, as Zoho does.
    Error(String),
    /// An HTML error page with HTTP 500.
    Html500,
    /// Zoho's throttle answer ("Access Denied").
    Throttle,
    /// Wait, then mint a token.
    Slow(Duration),
    /// This status and JSON body, as they are (Zoho's throttle also comes
    /// back as HTTP 400 with `"error": "Access Denied"`).
    Raw(u16, String),
}

/// A scripted answer of the authorization endpoint (`/oauth/v2/auth`), which
/// answers the browser with a redirect to the client's `redirect_uri`.
#[derive(Debug, Clone)]
pub enum AuthReply {
    /// The user consents: a code, `location` and `accounts-server` (the
    /// fake's own URL) and the `state` asked for (the default).
    Grant,
    /// `error=<code>` and no code, as when the user declines (`access_denied`).
    Error(String),
    /// A code, but this `state` instead of the one asked for.
    State(String),
    /// A code, naming this account's data centre as another one.
    AccountsServer { location: String, url: String },
}

/// A scripted answer of the API.
#[derive(Debug, Clone)]
pub struct ApiReply {
    pub delay: Duration,
    /// `None`: after the delay, behave as usual.
    pub response: Option<Canned>,
    /// `Some`: the canned body's bytes are sent, then the answer breaks off.
    pub breaks: Option<Break>,
}

/// A fixed answer: status, extra headers, JSON body.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// `Some(n)`: declare `Content-Length: n`, send `body`, then nothing more
    /// (a stalled upstream); the connection stays open.
    pub stall_at: Option<u64>,
}

impl ApiReply {
    pub fn status(status: u16, body: impl Into<String>) -> Self {
        ApiReply {
            delay: Duration::ZERO,
            breaks: None,
            response: Some(Canned {
                status,
                headers: vec![],
                body: body.into(),
                stall_at: None,
            }),
        }
    }

    /// A 200 whose head says `declared` bytes follow, of which only `sent`
    /// arrive; then the answer stalls for good.
    pub fn stall_after(sent: usize, declared: u64) -> Self {
        let mut reply = Self::status(200, "z".repeat(sent));
        if let Some(canned) = &mut reply.response {
            canned.stall_at = Some(declared);
        }
        reply
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Some(canned) = &mut self.response {
            canned.headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Answer normally, but only after `delay`.
    pub fn slow(delay: Duration) -> Self {
        ApiReply {
            delay,
            response: None,
            breaks: None,
        }
    }

    /// `status` and the first `sent` bytes of a body, then `how` it breaks.
    pub fn breaking(status: u16, sent: usize, how: Break) -> Self {
        ApiReply {
            breaks: Some(how),
            ..Self::status(status, "z".repeat(sent))
        }
    }
}

/// One API request as it reached the fake.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// When the request head arrived.
    pub at: tokio::time::Instant,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The host the request was addressed to (`:authority` in HTTP/2, else `Host`).
    pub authority: Option<String>,
    pub version: http::Version,
    pub headers: HeaderMap,
    pub body_len: u64,
    /// The client whose token authorised the call (`None`: no valid token).
    pub client_id: Option<String>,
    /// The body, when it was at most 1 MiB.
    pub body: Option<Bytes>,
}

#[derive(Default)]
struct Tokens {
    /// Live tokens and the client each was minted for.
    valid: HashMap<String, String>,
    minted: u64,
    scope: Option<String>,
    script: VecDeque<TokenReply>,
    /// Unused grant codes and what each one grants.
    grant_codes: HashMap<String, GrantCode>,
    /// Refresh tokens that mint: [`REFRESH_TOKEN`] and those issued since,
    /// until revoked.
    refresh_tokens: HashSet<String>,
    /// Each live access token's refresh token: revoking that revokes it too.
    minted_from: HashMap<String, String>,
    /// Clients that consented once: Zoho gives them another refresh token
    /// only with `prompt=consent`.
    consented: HashSet<String>,
    auth_script: VecDeque<AuthReply>,
    revocations: usize,
}

/// What an unused grant code is worth.
struct GrantCode {
    scope: String,
    /// Set for codes of the authorization endpoint: the exchange must name it.
    redirect_uri: Option<String>,
    /// `None`: no refresh token (no `access_type=offline`); `Some(t)`: this one.
    refresh_token: Option<String>,
}

struct State {
    url: String,
    tokens: Mutex<Tokens>,
    token_requests: AtomicUsize,
    api_script: Mutex<VecDeque<ApiReply>>,
    /// Fixed answers for every request under a path prefix.
    path_rules: Mutex<Vec<(String, Canned)>>,
    recorded: Mutex<Vec<Recorded>>,
    /// Off: API requests are not recorded (long load runs, benchmarks).
    recording: AtomicBool,
    /// How long every API answer waits (before any scripted delay).
    api_delay: Mutex<Duration>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    arrived: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not wedge the fake for the others.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running fake Zoho. Dropping it stops the server.
pub struct FakeZoho {
    addr: SocketAddr,
    ca: TestCa,
    state: Arc<State>,
    _stop: watch::Sender<bool>,
}

impl FakeZoho {
    /// Starts on `127.0.0.1:0`, speaking HTTP/1.1 and HTTP/2 over TLS.
    pub async fn start() -> Result<FakeZoho, TlsError> {
        Self::start_speaking(Speaks::Both).await
    }

    /// Starts on `127.0.0.1:0`, offering only HTTP/2 in ALPN and speaking
    /// nothing else, as some front ends (nginx with `http2 on` only) do.
    pub async fn start_h2_only() -> Result<FakeZoho, TlsError> {
        Self::start_speaking(Speaks::H2).await
    }

    /// Starts on `127.0.0.1:0`, offering only HTTP/1.1 (chunked bodies,
    /// one request at a time per connection).
    pub async fn start_http1_only() -> Result<FakeZoho, TlsError> {
        Self::start_speaking(Speaks::Http1).await
    }

    async fn start_speaking(speaks: Speaks) -> Result<FakeZoho, TlsError> {
        let ca = TestCa::generate()?;
        let alpn: &[&[u8]] = match speaks {
            Speaks::H2 => &[b"h2"],
            Speaks::Http1 => &[b"http/1.1"],
            Speaks::Both => &[b"h2", b"http/1.1"],
        };
        let tls = Arc::new(ca.server_config(alpn)?);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| TlsError::Setup(e.to_string()))?;
        let addr = listener
            .local_addr()
            .map_err(|e| TlsError::Setup(e.to_string()))?;
        let state = Arc::new(State {
            url: format!("https://localhost:{}", addr.port()),
            tokens: Mutex::new(Tokens {
                refresh_tokens: HashSet::from([REFRESH_TOKEN.to_owned()]),
                ..Tokens::default()
            }),
            token_requests: AtomicUsize::new(0),
            api_script: Mutex::new(VecDeque::new()),
            path_rules: Mutex::new(Vec::new()),
            recorded: Mutex::new(Vec::new()),
            recording: AtomicBool::new(true),
            api_delay: Mutex::new(Duration::ZERO),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            arrived: Notify::new(),
        });
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(tls),
            state.clone(),
            stopped,
            speaks,
        ));
        Ok(FakeZoho {
            addr,
            ca,
            state,
            _stop: stop,
        })
    }

    /// `https://localhost:PORT`: both the accounts server and the API.
    pub fn url(&self) -> &str {
        &self.state.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA that signed the fake's certificate: trust this, nothing else.
    pub fn ca_cert(&self) -> CertificateDer<'static> {
        self.ca.ca_cert.clone()
    }

    /// The CA's server certificate and key (PEM), for other test servers
    /// (a TLS `redis-server`) that clients should trust through `ca_pem`.
    pub fn server_pem(&self) -> (&str, &str) {
        self.ca.server_pem()
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca.ca_pem
    }

    /// API requests that reached the fake, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.recorded).clone()
    }

    /// How many times the token endpoint was called.
    pub fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    /// API requests in progress now.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::SeqCst)
    }

    /// The most API requests that were in progress at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Every API answer from now on waits `delay` first (before any scripted
    /// delay), as a distant Zoho's round trip does (`ZERO`: answer at once).
    pub fn set_api_delay(&self, delay: Duration) {
        *lock(&self.state.api_delay) = delay;
    }

    /// Whether API requests are recorded from now on (on by default; a load
    /// run turns it off so the fake's memory stays flat).
    pub fn keep_records(&self, on: bool) {
        self.state.recording.store(on, Ordering::SeqCst);
    }

    pub fn script_api(&self, reply: ApiReply) {
        lock(&self.state.api_script).push_back(reply);
    }

    /// Answers every request whose path starts with `prefix` with `canned`
    /// (after recording it), whatever its token: an endpoint stuck on one answer.
    pub fn answer_path(&self, prefix: &str, canned: Canned) {
        lock(&self.state.path_rules).push((prefix.to_owned(), canned));
    }

    pub fn script_token(&self, reply: TokenReply) {
        lock(&self.state.tokens).script.push_back(reply);
    }

    /// The `scope` field of token answers from now on.
    pub fn set_granted_scope(&self, scope: Option<&str>) {
        lock(&self.state.tokens).scope = scope.map(str::to_owned);
    }

    /// A grant code for `scope` (space-separated), as the API console's
    /// self-client "Generate Code" makes: exchanging it with
    /// `grant_type=authorization_code` answers with an access token and
    /// [`REFRESH_TOKEN`]. Single use: a second exchange gets `invalid_code`.
    pub fn issue_grant_code(&self, scope: &str) -> String {
        let mut tokens = lock(&self.state.tokens);
        let code = format!(
            "1000.fakegrant{:04}.{:016x}",
            tokens.grant_codes.len() + 1,
            crate::hash::random()
        );
        tokens.grant_codes.insert(
            code.clone(),
            GrantCode {
                scope: scope.to_owned(),
                redirect_uri: None,
                refresh_token: Some(REFRESH_TOKEN.to_owned()),
            },
        );
        code
    }

    /// Queues how the authorization endpoint answers the next browser.
    pub fn script_auth(&self, reply: AuthReply) {
        lock(&self.state.tokens).auth_script.push_back(reply);
    }

    /// How many tokens were revoked at `/oauth/v2/token/revoke`.
    pub fn revocations(&self) -> usize {
        lock(&self.state.tokens).revocations
    }

    /// Whether `refresh_token` still mints access tokens.
    pub fn refresh_token_is_live(&self, refresh_token: &str) -> bool {
        lock(&self.state.tokens)
            .refresh_tokens
            .contains(refresh_token)
    }

    /// Invalidates every access token minted so far (as Zoho does when the
    /// 16th token evicts the oldest, or a token is revoked).
    pub fn revoke_tokens(&self) {
        lock(&self.state.tokens).valid.clear();
    }

    /// A proxy config (TOML) whose accounts and API servers are this fake,
    /// with the fake's credentials. `server` and `zoho` are extra lines for
    /// those tables; `routes` are `[[routes]]` tables. Trusting the fake's CA
    /// is the caller's job (`ca_file`, or `extra_roots` after compiling).
    pub fn proxy_config(&self, listen: &str, server: &str, zoho: &str, routes: &str) -> String {
        format!(
            "[server]\nlisten = \"{listen}\"\n{server}\n\n[admin]\nlisten = \"127.0.0.1:0\"\n\n\
             [zoho]\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n\
             refresh_token = \"{REFRESH_TOKEN}\"\naccounts_url = \"{url}\"\napi_url = \"{url}\"\n{zoho}\n\n{routes}\n",
            url = self.url()
        )
    }

    /// A `[[credentials]]` entry named `name` whose accounts and API servers
    /// are this fake, with the fake's credentials and `extra` lines.
    pub fn credential_block(&self, name: &str, extra: &str) -> String {
        format!(
            "[[credentials]]\nname = \"{name}\"\nclient_id = \"{CLIENT_ID}\"\n\
             client_secret = \"{CLIENT_SECRET}\"\nrefresh_token = \"{REFRESH_TOKEN}\"\n\
             accounts_url = \"{url}\"\napi_url = \"{url}\"\n{extra}\n\n",
            url = self.url()
        )
    }

    /// A future that resolves at the next arrival; create it before the
    /// request is sent so the notification cannot be missed.
    pub fn arrival(&self) -> tokio::sync::futures::Notified<'_> {
        self.state.arrived.notified()
    }
}

/// The HTTP versions the fake offers.
#[derive(Clone, Copy)]
enum Speaks {
    Both,
    H2,
    Http1,
}

async fn accept_loop(
    listener: TcpListener,
    tls: TlsAcceptor,
    state: Arc<State>,
    mut stopped: watch::Receiver<bool>,
    speaks: Speaks,
) {
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(_) => continue,
            },
            _ = stopped.changed() => return,
        };
        // As web servers do (nginx's tcp_nodelay is on by default): without
        // it, Nagle holds the small frames of answers multiplexed on one
        // HTTP/2 connection until the proxy's delayed ACK, up to 40 ms.
        let _ = tcp.set_nodelay(true);
        let tls = tls.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(stream) = tls.accept(tcp).await else {
                return;
            };
            let reset = breaking::ResetOnClose::default();
            let stream = breaking::Resettable {
                inner: stream,
                reset: reset.clone(),
            };
            let service = hyper::service::service_fn(move |mut req: http::Request<_>| {
                let state = state.clone();
                req.extensions_mut().insert(reset.clone());
                async move { Ok::<_, std::convert::Infallible>(handlers::handle(&state, req).await) }
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder = match speaks {
                Speaks::H2 => builder.http2_only(),
                Speaks::Http1 => builder.http1_only(),
                Speaks::Both => builder,
            };
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
