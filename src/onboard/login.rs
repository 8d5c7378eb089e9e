//! `zoho-proxy login`: the browser flow of a server-based client, from the
//! credential's config to its refresh token in the credential's secret file.
//!
//! 1. A loopback listener is bound ([`super::callback`]); its URL is the
//!    `redirect_uri`, which must be registered with the client.
//! 2. Zoho's authorization URL for the credential's accounts server is printed
//!    (and opened where a browser exists): `/oauth/v2/auth` with `scope` = the
//!    credential's least-privilege grant ([`super::grant`]),
//!    `response_type=code`, `access_type=offline` and `prompt=consent` (so a
//!    refresh token comes back, also for a client that consented before),
//!    the `redirect_uri` and a random `state`.
//! 3. The browser comes back with `state`, `code`, `location` and
//!    `accounts-server`. A wrong `state` or an `error` ends the login; an
//!    `accounts-server` other than the configured one is used only if it is
//!    one of Zoho's data centres (the code and client secret go there), and
//!    the difference is reported.
//! 4. The code is exchanged with the same form as `exchange-code` (plus the
//!    `redirect_uri`), and the refresh token is written to the credential's
//!    secret file (mode 0600). It is printed only with `--print-token`.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::callback::{Callback, Params};
use super::grant::Grant;
use super::secret_file::{self, Plan};
use super::{
    exchange_at, fingerprint, grant_form, other_data_center, pick_credential, secret_or_prompt,
    toml_string, OnboardError,
};
use crate::config::{self, trim_slash, Secret, SecretSource, ZohoConfig};
use crate::dc::DataCenter;
use crate::token::accounts::form_encode;
use crate::token::TokenEndpoint;
use crate::upstream::UpstreamClient;

/// What `login` was asked to do.
pub struct Login {
    pub config: PathBuf,
    pub credential: Option<String>,
    /// The callback listener's port (`0`: any free one).
    pub port: u16,
    /// How long to wait for the browser to come back.
    pub timeout: Duration,
    pub open_browser: bool,
    /// Write the token here instead of the credential's configured file.
    pub token_file: Option<PathBuf>,
    /// Print the token instead of writing it.
    pub print_token: bool,
}

/// Where the new refresh token goes.
enum Destination {
    /// `configured`: the credential already reads its token from this file.
    File {
        plan: Plan,
        configured: bool,
    },
    Print,
}

fn destination(
    zoho: &ZohoConfig,
    credential: &str,
    token_file: Option<&Path>,
    print: bool,
) -> Result<Destination, OnboardError> {
    let file = |path: &Path| -> Result<Plan, OnboardError> {
        secret_file::plan(path).map_err(|e| OnboardError::Setup(format!("--token-file: {e}")))
    };
    let same = |a: &Path, b: &Path| match (std::path::absolute(a), std::path::absolute(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    match (token_file, &zoho.refresh_token_from) {
        _ if print => Ok(Destination::Print),
        (Some(path), from) => Ok(Destination::File {
            plan: file(path)?,
            configured: matches!(from, SecretSource::File(p) if same(p, path)),
        }),
        (None, SecretSource::File(path)) => Ok(Destination::File {
            plan: secret_file::plan(path).map_err(|e| {
                OnboardError::Setup(format!("credential {credential}: refresh_token: {e}"))
            })?,
            configured: true,
        }),
        (None, from) => Err(OnboardError::Setup(format!(
            "credential {credential} reads its refresh token from {}, which login cannot write: \
             pass --token-file PATH to write it to a file (and set refresh_token = {{ file = \"PATH\" }}), \
             or --print-token to print it once",
            from.describe()
        ))),
    }
}

/// Where the code is exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accounts {
    /// The credential's configured accounts server.
    Configured,
    /// Another data centre's, which Zoho's redirect named for this account.
    Other(DataCenter),
}

/// Reads the `accounts-server` and `location` Zoho adds to the redirect.
/// `configured` is the credential's accounts origin (`https://host[:port]`).
pub fn accounts_for(
    configured: &str,
    accounts_server: Option<&str>,
    location: Option<&str>,
) -> Result<Accounts, OnboardError> {
    let is_configured = |url: &str| url.trim_end_matches('/').eq_ignore_ascii_case(configured);
    // A private or test endpoint (accounts_url) is not one of Zoho's.
    let custom = DataCenter::from_accounts_url(configured).is_none();
    if let Some(named) = accounts_server.filter(|s| !s.is_empty()) {
        if is_configured(named) {
            return Ok(Accounts::Configured);
        }
        return match DataCenter::from_accounts_url(named) {
            Some(dc) => Ok(Accounts::Other(dc)),
            None => Err(OnboardError::UntrustedAccountsServer {
                named: named.to_owned(),
                configured: configured.to_owned(),
            }),
        };
    }
    let Some(location) = location.filter(|l| !l.is_empty()) else {
        return Ok(Accounts::Configured);
    };
    match location.parse::<DataCenter>() {
        _ if custom => Ok(Accounts::Configured),
        Ok(dc) if is_configured(&dc.accounts_url()) => Ok(Accounts::Configured),
        Ok(dc) => Ok(Accounts::Other(dc)),
        Err(_) => Err(OnboardError::UnknownLocation {
            location: location.to_owned(),
        }),
    }
}

/// What a good redirect carried.
pub struct Redirect {
    pub code: Secret,
    pub accounts: Accounts,
}

/// Checks the redirect's query: `state` first (an answer to another login
/// is not looked at further), then `error`, then the code and where to
/// exchange it.
pub fn read_redirect(
    params: &Params,
    state: &str,
    configured: &str,
) -> Result<Redirect, OnboardError> {
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    if get("state") != Some(state) {
        return Err(OnboardError::StateMismatch);
    }
    if let Some(error) = get("error") {
        return Err(OnboardError::Denied {
            error: error.to_owned(),
            description: get("error_description").map(str::to_owned),
        });
    }
    let code = get("code")
        .filter(|c| !c.is_empty())
        .ok_or(OnboardError::NoCode)?;
    let accounts = accounts_for(configured, get("accounts-server"), get("location"))?;
    Ok(Redirect {
        code: Secret::new(code),
        accounts,
    })
}

/// 128 random bits, hex: the `state` that ties the redirect to this login.
fn random_state() -> Result<String, OnboardError> {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| OnboardError::Setup("no randomness for the state parameter".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Zoho's authorization URL for this login.
pub fn authorization_url(
    accounts: &str,
    scope: &str,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
) -> String {
    let query = form_encode(&[
        ("scope", scope),
        ("client_id", client_id),
        ("response_type", "code"),
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("redirect_uri", redirect_uri),
        ("state", state),
    ]);
    format!("{accounts}/oauth/v2/auth?{query}")
}

/// Opens `url` in the desktop's browser, where there is one.
fn open_in_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    {
        "xdg-open"
    } else {
        return false;
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// Runs the login; `progress` gets what to do meanwhile (the URL to open).
/// Returns what to print at the end.
pub async fn run(args: Login, progress: &mut (dyn Write + Send)) -> Result<String, OnboardError> {
    let config = config::load_for_onboarding(&args.config)
        .map_err(|e| OnboardError::Setup(e.to_string()))?;
    let index = pick_credential(&config, args.credential.as_deref())?;
    let credential = &config.credentials[index];
    let (name, zoho) = (credential.name.as_str(), &credential.zoho);
    let grant = Grant::of(&config, index);
    grant.require_some()?;
    let destination = destination(zoho, name, args.token_file.as_deref(), args.print_token)?;
    let client_secret = secret_or_prompt(&zoho.client_secret_from, "Client secret: ")?
        .ok_or_else(|| {
            OnboardError::Setup(format!(
                "credential {name}: no client secret in {} (set it, or run in a terminal to be prompted)",
                zoho.client_secret_from.describe()
            ))
        })?;
    let configured = trim_slash(&zoho.accounts_url);

    let callback = Callback::bind(args.port).await?;
    let redirect_uri = callback.redirect_uri().to_owned();
    let state = random_state()?;
    let url = authorization_url(
        &configured,
        &grant.scope_param(),
        &zoho.client_id,
        &redirect_uri,
        &state,
    );
    let opened = args.open_browser && open_in_browser(&url);
    let _ = writeln!(
        progress,
        "Sign in to Zoho and accept the grant of credential {name} at:\n\n    {url}\n\n{}\
         Waiting up to {}s for Zoho to send the browser back to {redirect_uri}\n\
         (it must be an Authorized Redirect URI of client {} in the API console).",
        if opened {
            "(opened in your browser)\n"
        } else {
            "Open it in a browser.\n"
        },
        args.timeout.as_secs(),
        zoho.client_id,
    );
    let _ = progress.flush();

    let wait = {
        let configured = configured.clone();
        callback.wait(move |params| read_redirect(params, &state, &configured))
    };
    let redirect = tokio::time::timeout(args.timeout, wait)
        .await
        .unwrap_or(Err(OnboardError::TimedOut {
            after: args.timeout,
            redirect_uri: redirect_uri.clone(),
        }))?;

    let (origin, expected_dc) = match redirect.accounts {
        Accounts::Configured => (configured.clone(), zoho.data_center),
        Accounts::Other(dc) => (dc.accounts_url(), dc),
    };
    let form = grant_form(
        &redirect.code,
        &zoho.client_id,
        &client_secret,
        Some(&redirect_uri),
    );
    let done = exchange_at(&origin, &zoho.extra_roots, &form).await?;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "Zoho granted credential {name} (client {}) a refresh token at {origin} ({}).",
        zoho.client_id,
        fingerprint(&done.refresh_token)
    );
    let _ = writeln!(
        out,
        "Granted scopes: {}",
        done.scope.as_deref().unwrap_or("(not reported by Zoho)")
    );
    if let Accounts::Other(dc) = redirect.accounts {
        let _ = writeln!(
            out,
            "warning: Zoho says this account lives in data centre {dc} ({origin}), but credential \
             {name} is configured for {configured}: the new refresh token only works at {origin}, \
             so set data_center = \"{dc}\" for it (and remove accounts_url if set)."
        );
    }
    if let Some(other) = other_data_center(done.api_domain.as_deref(), expected_dc) {
        let _ = writeln!(
            out,
            "warning: the token's api_domain is data centre {other}'s, not {expected_dc}'s: use data_center = \"{other}\""
        );
    }
    let next = format!(
        "Next: zoho-proxy check --online --config {} checks it; a running proxy takes it on SIGHUP.",
        args.config.display()
    );
    match destination {
        Destination::Print => {
            let _ = writeln!(
                out,
                "\nRefresh token (shown only this once; it never expires unless revoked: store it like a password):\n\n    {}\n\n\
                 Put it where credential {name} reads it ({}).\n{next}",
                done.refresh_token.expose(),
                zoho.refresh_token_from.describe()
            );
        }
        Destination::File { plan, configured } => {
            let previous = match secret_file::write(&plan, &done.refresh_token) {
                Ok(previous) => previous,
                Err(e) => return Err(unsaved(zoho, &origin, &done.refresh_token, e).await),
            };
            let _ = writeln!(
                out,
                "The refresh token is in {} (mode 0600); it was not printed.",
                plan.path.display()
            );
            if !configured {
                let absolute = std::path::absolute(&plan.path).unwrap_or(plan.path.clone());
                let _ = writeln!(
                    out,
                    "\nPoint credential {name} at it (in its [zoho] or [[credentials]] table):\n\n    \
                     refresh_token = {{ file = {} }}",
                    toml_string(&absolute.display().to_string())
                );
            }
            if let Some(previous) = previous {
                let _ = writeln!(
                    out,
                    "\nThe refresh token it replaced is in {p} and stays valid at Zoho until revoked. Once \
                     the proxy runs on the new one, revoke it and delete the file:\n\n    \
                     zoho-proxy revoke --config {c} --credential {name} --token-file {p}",
                    p = previous.display(),
                    c = args.config.display()
                );
            }
            let _ = writeln!(out, "\n{next}");
        }
    }
    Ok(out)
}

/// The token could not be saved: rather than leave a live token nobody
/// holds, it is revoked again.
async fn unsaved(zoho: &ZohoConfig, origin: &str, token: &Secret, why: String) -> OnboardError {
    let revoked = match UpstreamClient::new(&zoho.extra_roots, zoho.upstream_http) {
        Ok(client) => TokenEndpoint::new(client, format!("{origin}/oauth/v2/token"))
            .with_timeout(zoho.accounts_timeout)
            .revoke(token)
            .await
            .is_ok_and(|r| r == crate::token::accounts::Revocation::Revoked),
        Err(_) => false,
    };
    OnboardError::Setup(format!(
        "{why}\nthe new refresh token was {}; fix the file's place and run login again",
        if revoked {
            "revoked again, so it does not linger"
        } else {
            "NOT saved and could not be revoked: revoke it under Connected Apps in your Zoho account"
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const EU: &str = "https://accounts.zoho.eu";

    #[test]
    fn the_state_is_checked_before_anything_else() {
        let good = params(&[("state", "s1"), ("code", "1000.c"), ("location", "eu")]);
        let r = read_redirect(&good, "s1", EU).unwrap();
        assert_eq!(
            (r.code.expose(), r.accounts),
            ("1000.c", Accounts::Configured)
        );
        for wrong in [
            params(&[("state", "s2"), ("code", "1000.c")]),
            params(&[("code", "1000.c")]),
            params(&[("state", "s2"), ("error", "access_denied")]),
        ] {
            assert!(matches!(
                read_redirect(&wrong, "s1", EU),
                Err(OnboardError::StateMismatch)
            ));
        }
        let denied = params(&[("state", "s1"), ("error", "access_denied")]);
        let e = read_redirect(&denied, "s1", EU).err().unwrap().to_string();
        assert!(e.contains("access_denied") && e.contains("declined"), "{e}");
        let empty = params(&[("state", "s1"), ("code", "")]);
        assert!(matches!(
            read_redirect(&empty, "s1", EU),
            Err(OnboardError::NoCode)
        ));
    }

    #[test]
    fn another_data_centre_is_honoured_only_when_it_is_zohos() {
        assert_eq!(accounts_for(EU, None, None).unwrap(), Accounts::Configured);
        assert_eq!(
            accounts_for(EU, Some("https://accounts.zoho.eu/"), Some("eu")).unwrap(),
            Accounts::Configured
        );
        assert_eq!(
            accounts_for(EU, Some("https://accounts.zoho.com"), Some("us")).unwrap(),
            Accounts::Other(DataCenter::Us)
        );
        assert_eq!(
            accounts_for(EU, Some("https://accounts.zoho.ae"), None).unwrap(),
            Accounts::Other(DataCenter::Ae)
        );
        assert_eq!(
            accounts_for(EU, None, Some("ae")).unwrap(),
            Accounts::Other(DataCenter::Ae)
        );
        let e = accounts_for(EU, Some("https://accounts.evil.example"), Some("eu"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("https://accounts.evil.example") && e.contains("not sent"),
            "{e}"
        );
        assert!(matches!(
            accounts_for(EU, None, Some("mars")),
            Err(OnboardError::UnknownLocation { .. })
        ));
        // A private endpoint: Zoho's location says nothing about it.
        let private = "https://localhost:8443";
        assert_eq!(
            accounts_for(private, Some("https://localhost:8443"), Some("us")).unwrap(),
            Accounts::Configured
        );
        assert_eq!(
            accounts_for(private, None, Some("us")).unwrap(),
            Accounts::Configured
        );
    }

    #[test]
    fn the_authorization_url_asks_for_an_offline_code_with_consent() {
        let url = authorization_url(
            "https://accounts.zoho.ae",
            "ZohoCRM.modules.leads.READ,ZohoCRM.coql.READ",
            "1000.C",
            "http://127.0.0.1:8765/callback",
            "abc",
        );
        let (base, query) = url.split_once('?').unwrap();
        assert_eq!(base, "https://accounts.zoho.ae/oauth/v2/auth");
        let q = crate::token::accounts::form_decode(query);
        let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(
            get("scope"),
            Some("ZohoCRM.modules.leads.READ,ZohoCRM.coql.READ")
        );
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("access_type"), Some("offline"));
        assert_eq!(get("prompt"), Some("consent"));
        assert_eq!(get("redirect_uri"), Some("http://127.0.0.1:8765/callback"));
        assert_eq!(get("state"), Some("abc"));
        let (a, b) = (random_state().unwrap(), random_state().unwrap());
        assert!(a.len() == 32 && a != b, "{a} {b}");
    }
}
