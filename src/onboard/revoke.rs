//! `zoho-proxy revoke`: revokes a credential's refresh token at its accounts
//! server (`POST {accounts}/oauth/v2/token/revoke?token=...`), which also
//! revokes the access tokens minted from it. Confirmation is asked unless
//! `--yes`; the token is never printed, only its fingerprint.

use std::fmt::Write as _;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;

use super::{fingerprint, pick_credential, OnboardError};
use crate::config::{self, trim_slash, Secret, SecretSource};
use crate::token::accounts::Revocation;
use crate::token::TokenEndpoint;
use crate::upstream::UpstreamClient;

/// What `revoke` was asked to do.
pub struct Revoke {
    pub config: PathBuf,
    pub credential: Option<String>,
    /// Revoke without asking.
    pub yes: bool,
    /// Revoke the token in this file (a replaced one) instead of the
    /// credential's configured one.
    pub token_file: Option<PathBuf>,
}

/// Asks on the terminal; `false` unless the answer is `yes`.
fn confirmed(question: &str) -> Result<bool, OnboardError> {
    if !std::io::stdin().is_terminal() {
        return Err(OnboardError::NotConfirmed);
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "{question}\nType yes to revoke it: ");
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| OnboardError::Setup(format!("reading the answer: {e}")))?;
    Ok(line.trim() == "yes")
}

/// Runs the revocation; returns what to print.
pub async fn run(args: Revoke) -> Result<String, OnboardError> {
    let config = config::load_for_onboarding(&args.config)
        .map_err(|e| OnboardError::Setup(e.to_string()))?;
    let index = pick_credential(&config, args.credential.as_deref())?;
    let credential = &config.credentials[index];
    let (name, zoho) = (credential.name.as_str(), &credential.zoho);
    let source = match &args.token_file {
        Some(path) => SecretSource::File(path.clone()),
        None => zoho.refresh_token_from.clone(),
    };
    let token: Secret = source
        .resolve()
        .map_err(|e| OnboardError::Setup(format!("credential {name}: refresh_token: {e}")))?;
    let origin = trim_slash(&zoho.accounts_url);
    let what = format!(
        "the refresh token of credential {name} (client {}, {}) read from {}",
        zoho.client_id,
        fingerprint(&token),
        source.describe()
    );
    if !args.yes
        && !confirmed(&format!(
            "This revokes {what} at {origin}, with every access token minted from it."
        ))?
    {
        return Err(OnboardError::NotConfirmed);
    }
    let client = UpstreamClient::new(&zoho.extra_roots, zoho.upstream_http)
        .map_err(|e| OnboardError::Setup(e.to_string()))?;
    let endpoint = TokenEndpoint::new(client, zoho.token_url()).with_timeout(zoho.accounts_timeout);
    let url = format!("{origin}/oauth/v2/token/revoke");
    match endpoint.revoke(&token).await {
        Ok(Revocation::Revoked) => {}
        Ok(Revocation::InvalidToken) => return Err(OnboardError::UnknownToken { url }),
        Err(e) => return Err(OnboardError::from_token(e, &url)),
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Revoked at {origin}: {what}. The access tokens minted from it are revoked with it."
    );
    let config_path = args.config.display();
    match &args.token_file {
        Some(path) => {
            let _ = writeln!(
                out,
                "The token credential {name} is configured with is untouched.\nNext: delete {}.",
                path.display()
            );
        }
        None => {
            let _ = writeln!(
                out,
                "\nUntil credential {name} has a new refresh token, the proxy cannot mint tokens for it \
                 and its requests fail. Next:\n\
                 \x20 1. get a new one with least privilege: zoho-proxy login --config {config_path} --credential {name}\n\
                 \x20    (server-based client), or zoho-proxy grant --config {config_path} --credential {name},\n\
                 \x20    a self-client code, and zoho-proxy exchange-code;\n\
                 \x20 2. put it in {} (login does that for a file);\n\
                 \x20 3. send the proxy SIGHUP (or restart it), then check: zoho-proxy check --online --config {config_path}",
                source.describe()
            );
        }
    }
    Ok(out)
}
