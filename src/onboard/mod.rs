//! Onboarding: from a Zoho client to a refresh token with least privilege,
//! and back (revocation).
//!
//! - [`grant`]: the scopes a credential's routes need, reduced to the least
//!   set that covers them, for the self-client "Generate Code" form.
//! - `exchange-code` (this module): turns a self-client grant code into the
//!   refresh token the proxy runs on, and prints a `[zoho]` block to paste.
//! - [`login`]: the browser flow of a server-based client, ending with the
//!   refresh token in the credential's secret file.
//! - [`revoke`]: revokes a credential's refresh token at its accounts server.
//!
//! The exchange is `POST {accounts}/oauth/v2/token` with
//! `grant_type=authorization_code`, through the same [`TokenEndpoint`] the
//! proxy refreshes with. Zoho's refusals come back as HTTP 200 with `error`;
//! each one the console flow commonly produces gets a one-line explanation.

mod callback;
pub mod grant;
pub mod login;
pub mod revoke;
mod secret_file;

use std::fmt::Write as _;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use rustls::pki_types::CertificateDer;

use crate::config::{Config, Secret, SecretSource};
use crate::dc::DataCenter;
use crate::token::{describe, TokenEndpoint, TokenError};
use crate::upstream::UpstreamClient;

/// What `exchange-code` was asked to do.
pub struct Exchange {
    pub data_center: DataCenter,
    pub client_id: String,
    pub client_secret: Secret,
    /// The variable the client secret is read from; named in the printed block.
    pub client_secret_env: String,
    /// The grant code (single use, valid for minutes).
    pub code: Secret,
    /// An explicit accounts origin (tests, private endpoints); else the DC's.
    pub accounts_url: Option<String>,
    /// An extra trusted root (PEM) for the accounts server.
    pub ca_file: Option<PathBuf>,
    /// Only for server-based clients; self-clients have none.
    pub redirect_uri: Option<String>,
    /// Print a `[[credentials]]` entry with this name instead of `[zoho]`.
    pub name: Option<String>,
}

/// What the exchange produced. The access token it also brought is dropped:
/// the proxy mints its own.
pub struct Onboarded {
    pub token_url: String,
    pub refresh_token: Secret,
    pub scope: Option<String>,
    pub api_domain: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OnboardError {
    #[error("{0}")]
    Setup(String),
    #[error(
        "no client secret: set {var} (or name another variable with --client-secret-env), \
         or run in a terminal to be prompted"
    )]
    NoSecret { var: String },
    #[error("Zoho refused the grant code exchange: {code}{}\n{}", describe(.description), explain(.code))]
    Refused {
        code: String,
        description: Option<String>,
    },
    #[error(
        "Zoho is throttling token requests for this client{}\nwait up to 10 minutes (Zoho \
         mints at most 10 tokens per 10 minutes), then generate a new code and try again",
        describe(.description)
    )]
    Throttled { description: Option<String> },
    #[error("Zoho's accounts server at {url} did not answer usefully: {error}\ntry again in a minute; if it persists, check the data centre and the accounts URL")]
    Server { url: String, error: TokenError },
    #[error("cannot reach {url}: {reason}\ncheck the network, the data centre, and the accounts URL / CA file if you set them")]
    Unreachable { url: String, reason: String },
    #[error(
        "Zoho granted an access token but no refresh token\nthe code was generated without \
         access_type=offline (server-based clients must request it, with prompt=consent), or \
         this code had already been exchanged by something else: generate a new self-client \
         code in the API console and exchange it once"
    )]
    NoRefreshToken,
    #[error(
        "the redirect's state does not match this login's: it is not Zoho's answer to this \
         login (an old browser tab, or a forged request); nothing was exchanged\nrun login again"
    )]
    StateMismatch,
    #[error("Zoho did not authorize the client: {error}{}\n{}", describe(.description), explain_denial(.error))]
    Denied {
        error: String,
        description: Option<String>,
    },
    #[error("Zoho's redirect carried neither a code nor an error\nrun login again")]
    NoCode,
    #[error(
        "Zoho's redirect names the accounts server {named}, which is neither the configured \
         {configured} nor one of Zoho's data centres: the code and client secret were not sent there"
    )]
    UntrustedAccountsServer { named: String, configured: String },
    #[error(
        "Zoho says the account lives in data centre {location:?}, which zoho-proxy does not know \
         (it knows {})\nset accounts_url to that data centre's accounts server",
        DataCenter::ALL.map(DataCenter::as_str).join(" ")
    )]
    UnknownLocation { location: String },
    #[error(
        "no answer from Zoho within {}s: the browser never came back to {redirect_uri}\nif Zoho's \
         page said \"Invalid Redirect Uri\", add {redirect_uri} to the client's Authorized Redirect \
         URIs in the API console (or use --port with the port registered there); then run login again",
        .after.as_secs()
    )]
    TimedOut {
        after: Duration,
        redirect_uri: String,
    },
    #[error("not confirmed: nothing was revoked\nrun in a terminal to be asked, or pass --yes")]
    NotConfirmed,
    #[error(
        "Zoho's accounts server at {url} does not know this refresh token (HTTP 400): it was \
         revoked already, or it was issued by another data centre's accounts server (check \
         data_center); nothing was revoked"
    )]
    UnknownToken { url: String },
}

/// One line on an `error` in an authorization redirect.
fn explain_denial(error: &str) -> &'static str {
    match error {
        "access_denied" => "consent was declined in the browser: run login again and accept",
        "invalid_scope" | "invalid_scope_parameter" => {
            "Zoho does not know one of the scopes: check the routes' scopes with `zoho-proxy grant`"
        }
        "unauthorized_client" | "invalid_client" => {
            "the client is not allowed this flow, or belongs to another data centre: use a \
             server-based client registered in the configured data centre"
        }
        _ => "see Zoho's OAuth documentation for this error code",
    }
}

/// One line on what Zoho's error code means for someone onboarding.
pub fn explain(code: &str) -> &'static str {
    match code {
        "invalid_code" => {
            "the code expired (codes live only the 3-10 minutes picked in the API console) or was \
             already used: generate a new code and exchange it right away"
        }
        "invalid_client" => {
            "wrong client ID or secret, or the wrong data centre: a client is registered in one \
             data centre only, so --data-center must match the API console it was created in \
             (api-console.zoho.com, .eu, .in, ...)"
        }
        "invalid_client_secret" => {
            "the client secret does not belong to this client ID: copy it again from the \
             client's Client Secret tab in the API console"
        }
        "invalid_redirect_uri" => {
            "the redirect URI does not match the one registered for this client: pass \
             --redirect-uri exactly as registered (self-clients need none)"
        }
        _ => "see Zoho's OAuth documentation for this error code",
    }
}

impl OnboardError {
    fn from_token(error: TokenError, url: &str) -> Self {
        match error {
            TokenError::Rejected { code, description } => {
                OnboardError::Refused { code, description }
            }
            TokenError::Throttled { description } => OnboardError::Throttled { description },
            TokenError::Transport(reason) => OnboardError::Unreachable {
                url: url.to_owned(),
                reason,
            },
            error => OnboardError::Server {
                url: url.to_owned(),
                error,
            },
        }
    }
}

/// The client secret: from `var`, else (in a terminal) typed at a prompt.
pub fn client_secret(var: &str) -> Result<Secret, OnboardError> {
    let no_secret = || OnboardError::NoSecret {
        var: var.to_owned(),
    };
    secret_or_prompt(&SecretSource::Env(var.to_owned()), "Client secret: ")?.ok_or_else(no_secret)
}

/// The secret `source` holds, else (in a terminal) one typed at a hidden
/// `prompt`; `None` when there is neither.
pub fn secret_or_prompt(
    source: &SecretSource,
    prompt: &str,
) -> Result<Option<Secret>, OnboardError> {
    if let Ok(secret) = source.resolve() {
        return Ok(Some(secret));
    }
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let secret = prompt_hidden(prompt)
        .map_err(|e| OnboardError::Setup(format!("reading the client secret: {e}")))?;
    Ok((!secret.is_empty()).then(|| Secret::new(secret)))
}

/// Reads a line from the terminal with echo off. Without a crate for
/// termios, echo is switched with `stty`; where that fails the input shows,
/// and the prompt says so.
fn prompt_hidden(prompt: &str) -> std::io::Result<String> {
    let hidden = EchoOff::new();
    let mut err = std::io::stderr();
    if hidden.is_some() {
        write!(err, "{prompt}")?;
    } else {
        write!(err, "{prompt}(input will be visible) ")?;
    }
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if hidden.is_some() {
        writeln!(err)?;
    }
    Ok(line.trim().to_owned())
}

/// Terminal echo switched off until dropped.
struct EchoOff;

impl EchoOff {
    fn new() -> Option<EchoOff> {
        stty("-echo").then_some(EchoOff)
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        stty("echo");
    }
}

fn stty(arg: &str) -> bool {
    Command::new("stty")
        .arg(arg)
        .stdin(Stdio::inherit())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The form Zoho's token endpoint expects for a grant code; `redirect_uri`
/// only for server-based clients (the one the code was issued for).
pub fn grant_form<'a>(
    code: &'a Secret,
    client_id: &'a str,
    client_secret: &'a Secret,
    redirect_uri: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
        ("client_id", client_id),
        ("client_secret", client_secret.expose()),
    ];
    if let Some(uri) = redirect_uri {
        form.push(("redirect_uri", uri));
    }
    form
}

/// `https://host[:port]`, without a trailing slash.
fn accounts_origin(x: &Exchange) -> Result<String, OnboardError> {
    let Some(url) = &x.accounts_url else {
        return Ok(x.data_center.accounts_url());
    };
    crate::dc::https_origin(url)
        .map_err(|e| OnboardError::Setup(format!("--accounts-url {url:?} {e}")))?;
    Ok(url.trim_end_matches('/').to_owned())
}

/// Exchanges the grant code for a refresh token.
pub async fn exchange_code(x: &Exchange) -> Result<Onboarded, OnboardError> {
    let origin = accounts_origin(x)?;
    let roots = match &x.ca_file {
        Some(path) => crate::tls::read_pem_certs(path).map_err(OnboardError::Setup)?,
        None => Vec::new(),
    };
    let form = grant_form(
        &x.code,
        &x.client_id,
        &x.client_secret,
        x.redirect_uri.as_deref(),
    );
    exchange_at(&origin, &roots, &form).await
}

/// Exchanges a grant code (`form`, see [`grant_form`]) at the accounts
/// server `origin`, trusting `roots` on top of the WebPKI roots.
pub async fn exchange_at(
    origin: &str,
    roots: &[CertificateDer<'static>],
    form: &[(&str, &str)],
) -> Result<Onboarded, OnboardError> {
    let token_url = format!("{origin}/oauth/v2/token");
    let client = UpstreamClient::new(roots, Default::default())
        .map_err(|e| OnboardError::Setup(e.to_string()))?;
    let endpoint = TokenEndpoint::new(client, token_url.clone());
    let answer = endpoint
        .post_form(form)
        .await
        .map_err(|e| OnboardError::from_token(e, &token_url))?;
    let refresh_token = answer
        .refresh_token
        .filter(|t| !t.expose().is_empty())
        .ok_or(OnboardError::NoRefreshToken)?;
    Ok(Onboarded {
        token_url,
        refresh_token,
        scope: answer.grant.scope,
        api_domain: answer.grant.api_domain,
    })
}

/// The data centre `api_domain` (a token answer's) names, when it is a
/// known one other than `expected`: the account lives elsewhere.
pub fn other_data_center(api_domain: Option<&str>, expected: DataCenter) -> Option<DataCenter> {
    api_domain
        .and_then(DataCenter::from_api_domain)
        .filter(|dc| *dc != expected)
}

/// The credential `name` names, or the only one there is.
pub fn pick_credential(config: &Config, name: Option<&str>) -> Result<usize, OnboardError> {
    let names = || {
        config
            .credentials
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(name) => config
            .credentials
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| {
                OnboardError::Setup(format!(
                    "{}: no credential named {name:?} (there are: {})",
                    config.source,
                    names()
                ))
            }),
        None if config.credentials.len() == 1 => Ok(0),
        None => Err(OnboardError::Setup(format!(
            "{} has several credentials: say which with --credential ({})",
            config.source,
            names()
        ))),
    }
}

/// A short, safe-to-print fingerprint of a secret (the first 48 bits of its
/// SHA-256), to tell refresh tokens apart without showing them.
pub fn fingerprint(secret: &Secret) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.expose().as_bytes());
    let hex: String = digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Exchanges the code and returns what to print.
pub async fn run(x: Exchange) -> Result<String, OnboardError> {
    let done = exchange_code(&x).await?;
    Ok(render(&x, &done))
}

/// A TOML basic string (JSON's escapes are a subset of TOML's).
pub fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// What `exchange-code` prints: the refresh token once, the grant, and a
/// `[zoho]` block that reads both secrets from the environment.
pub fn render(x: &Exchange, done: &Onboarded) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Grant code exchanged at {}.\n", done.token_url);
    let _ = writeln!(
        out,
        "Refresh token (shown only this once; it never expires unless revoked: store it like a password):\n"
    );
    let _ = writeln!(out, "    {}\n", done.refresh_token.expose());
    let _ = writeln!(
        out,
        "Granted scopes: {}",
        done.scope.as_deref().unwrap_or("(not reported by Zoho)")
    );
    let _ = writeln!(
        out,
        "API domain:     {}",
        done.api_domain
            .as_deref()
            .unwrap_or("(not reported by Zoho)")
    );
    if let Some(other) = other_data_center(done.api_domain.as_deref(), x.data_center) {
        let _ = writeln!(
            out,
            "warning: this account lives in data centre {other}, not {}: use data_center = \"{other}\"",
            x.data_center
        );
    }
    let _ = writeln!(
        out,
        "\nAdd to proxy.toml (the secrets stay out of the file):\n"
    );
    // One credential's variables are named after it, so several can coexist.
    let refresh_env = match &x.name {
        Some(name) => {
            let _ = writeln!(out, "[[credentials]]");
            let _ = writeln!(out, "name = {}", toml_string(name));
            format!(
                "ZOHO_{}_REFRESH_TOKEN",
                name.to_ascii_uppercase().replace('-', "_")
            )
        }
        None => {
            let _ = writeln!(out, "[zoho]");
            "ZOHO_REFRESH_TOKEN".to_owned()
        }
    };
    let _ = writeln!(out, "data_center = \"{}\"", x.data_center);
    let _ = writeln!(out, "client_id = {}", toml_string(&x.client_id));
    let _ = writeln!(
        out,
        "client_secret = {{ env = {} }}",
        toml_string(&x.client_secret_env)
    );
    let _ = writeln!(
        out,
        "refresh_token = {{ env = {} }}",
        toml_string(&refresh_env)
    );
    if let Some(url) = &x.accounts_url {
        let _ = writeln!(out, "accounts_url = {}", toml_string(url));
    }
    if let Some(ca) = &x.ca_file {
        let _ = writeln!(out, "ca_file = {}", toml_string(&ca.display().to_string()));
    }
    let _ = writeln!(
        out,
        "\nThen give the proxy the refresh token printed above (and the client secret) through its environment:\n\n    \
         export {refresh_env}='<the refresh token above>'\n    \
         export {}='<the client secret>'\n\n\
         and check that it works:  zoho-proxy check --online --config proxy.toml",
        x.client_secret_env
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::accounts::parse_answer;

    fn exchange() -> Exchange {
        Exchange {
            data_center: DataCenter::Eu,
            client_id: "1000.CLIENT".into(),
            client_secret: Secret::new("the-secret"),
            client_secret_env: "ZOHO_CLIENT_SECRET".into(),
            code: Secret::new("1000.code"),
            accounts_url: None,
            ca_file: None,
            redirect_uri: None,
            name: None,
        }
    }

    #[test]
    fn the_form_is_an_authorization_code_grant_with_optional_redirect_uri() {
        let x = exchange();
        let form = |redirect| grant_form(&x.code, &x.client_id, &x.client_secret, redirect);
        assert_eq!(
            form(None),
            vec![
                ("grant_type", "authorization_code"),
                ("code", "1000.code"),
                ("client_id", "1000.CLIENT"),
                ("client_secret", "the-secret"),
            ]
        );
        assert_eq!(
            form(Some("https://app.example/cb")).last(),
            Some(&("redirect_uri", "https://app.example/cb"))
        );
    }

    #[test]
    fn each_zoho_error_gets_its_own_explanation() {
        let cases = [
            ("invalid_code", "already used"),
            ("invalid_client", "data centre"),
            ("invalid_client_secret", "Client Secret tab"),
            ("invalid_redirect_uri", "--redirect-uri"),
        ];
        for (code, hint) in cases {
            let e = parse_answer(200, format!(r#"{{"error":"{code}"}}"#).as_bytes()).unwrap_err();
            let text = OnboardError::from_token(e, "u").to_string();
            assert!(text.contains(code) && text.contains(hint), "{text}");
            assert_eq!(text.lines().count(), 2, "{text}");
        }
        let throttled = parse_answer(
            200,
            br#"{"error_description":"You have made too many requests continuously. Please try again after some time.","error":"Access Denied","status":"failure"}"#,
        )
        .unwrap_err();
        let text = OnboardError::from_token(throttled, "u").to_string();
        assert!(
            text.contains("throttling") && text.contains("10 minutes"),
            "{text}"
        );
        let html = parse_answer(500, b"<html>").unwrap_err();
        assert!(matches!(
            OnboardError::from_token(html, "u"),
            OnboardError::Server { .. }
        ));
    }

    #[test]
    fn an_answer_without_a_refresh_token_is_explained() {
        // What Zoho sends for a code made without access_type=offline.
        let answer = parse_answer(
            200,
            br#"{"access_token":"1000.a","api_domain":"https://www.zohoapis.eu","expires_in":3600}"#,
        )
        .unwrap();
        assert!(answer.refresh_token.is_none());
        let text = OnboardError::NoRefreshToken.to_string();
        assert!(text.contains("access_type=offline"), "{text}");
    }

    #[test]
    fn accounts_urls_must_be_bare_https_origins() {
        let mut x = exchange();
        assert_eq!(accounts_origin(&x).unwrap(), "https://accounts.zoho.eu");
        x.accounts_url = Some("https://localhost:8443/".into());
        assert_eq!(accounts_origin(&x).unwrap(), "https://localhost:8443");
        for bad in [
            "http://accounts.zoho.eu",
            "https://accounts.zoho.eu/oauth/v2/token",
            "nonsense",
        ] {
            x.accounts_url = Some(bad.into());
            assert!(accounts_origin(&x).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_printed_block_reads_secrets_from_the_environment_and_warns_about_the_dc() {
        let x = exchange();
        let done = Onboarded {
            token_url: "https://accounts.zoho.eu/oauth/v2/token".into(),
            refresh_token: Secret::new("1000.refresh-xyz"),
            scope: Some("ZohoCRM.modules.leads.READ".into()),
            api_domain: Some("https://www.zohoapis.com".into()),
        };
        let text = render(&x, &done);
        assert_eq!(text.matches("1000.refresh-xyz").count(), 1, "{text}");
        assert!(!text.contains("the-secret"), "{text}");
        assert!(text.contains("client_secret = { env = \"ZOHO_CLIENT_SECRET\" }"));
        assert!(text.contains("refresh_token = { env = \"ZOHO_REFRESH_TOKEN\" }"));
        assert!(text.contains("export ZOHO_REFRESH_TOKEN="));
        assert!(
            text.contains("warning: this account lives in data centre us, not eu"),
            "{text}"
        );
    }

    #[test]
    fn a_named_credential_prints_a_credentials_entry_with_its_own_variable() {
        let mut x = exchange();
        x.name = Some("eu-sandbox".into());
        let done = Onboarded {
            token_url: "https://accounts.zoho.eu/oauth/v2/token".into(),
            refresh_token: Secret::new("1000.refresh-xyz"),
            scope: None,
            api_domain: None,
        };
        let text = render(&x, &done);
        assert!(
            text.contains("[[credentials]]\nname = \"eu-sandbox\"\n"),
            "{text}"
        );
        assert!(!text.contains("[zoho]"), "{text}");
        assert!(text.contains("refresh_token = { env = \"ZOHO_EU_SANDBOX_REFRESH_TOKEN\" }"));
        assert!(text.contains("export ZOHO_EU_SANDBOX_REFRESH_TOKEN="));
    }
}
