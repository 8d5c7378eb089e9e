//! The call to Zoho's accounts server that turns the refresh token into an
//! access token, and the parsing of its answer.
//!
//! Zoho answers errors with HTTP 200 and an `error` field, sometimes with an
//! HTML page or a 5xx: anything without `access_token` is a failure, and the
//! failure keeps Zoho's error code (`invalid_client`, `invalid_code`, ...).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use http::{header, Method, Request};
use http_body_util::{BodyExt, Limited};
use serde::Deserialize;

use super::{TokenError, TokenGrant};
use crate::body::full;
use crate::config::{Secret, ZohoConfig};
use crate::upstream::{SendError, UpstreamClient};

/// The largest accounts answer we read (a token answer is a few hundred bytes).
const MAX_ANSWER: usize = 64 * 1024;
/// How long the accounts server may take to answer, unless configured.
pub const DEFAULT_ACCOUNTS_TIMEOUT: Duration = Duration::from_secs(10);

/// Something that can mint access tokens. The real one is [`AccountsClient`];
/// the token manager's unit tests script their own.
pub trait TokenSource: Send + Sync + 'static {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<TokenGrant, TokenError>> + Send + '_>>;
}

/// The accounts server's token endpoint (`{accounts}/oauth/v2/token`): posts
/// a form and interprets the answer. Refreshes and grant-code exchanges
/// (`exchange-code`) both go through it.
#[derive(Clone)]
pub struct TokenEndpoint {
    client: UpstreamClient,
    url: String,
    timeout: Duration,
}

impl TokenEndpoint {
    /// The endpoint at an explicit URL.
    pub fn new(client: UpstreamClient, url: impl Into<String>) -> Self {
        TokenEndpoint {
            client,
            url: url.into(),
            timeout: DEFAULT_ACCOUNTS_TIMEOUT,
        }
    }

    /// Gives up on an answer (head and body) after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// POSTs a form to the token endpoint and parses the answer.
    pub async fn post_form(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, TokenError> {
        tokio::time::timeout(self.timeout, self.exchange(form))
            .await
            .unwrap_or(Err(TokenError::TimedOut {
                after: self.timeout,
            }))
    }

    async fn exchange(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, TokenError> {
        let (status, bytes) = self.post(&self.url, form_encode(form)).await?;
        parse_answer(status, &bytes)
    }

    /// Revokes a refresh token (and the access tokens minted from it):
    /// `POST {accounts}/oauth/v2/token/revoke?token=...`, as Zoho documents it
    /// (<https://www.zoho.com/accounts/protocol/oauth/revoke-refresh-token.html>).
    pub async fn revoke(&self, token: &Secret) -> Result<Revocation, TokenError> {
        let url = format!(
            "{}/revoke?{}",
            self.url,
            form_encode(&[("token", token.expose())])
        );
        let answer = tokio::time::timeout(self.timeout, self.post(&url, String::new()))
            .await
            .unwrap_or(Err(TokenError::TimedOut {
                after: self.timeout,
            }));
        let (status, bytes) = answer?;
        if status == 400 {
            return Ok(Revocation::InvalidToken);
        }
        if !(200..300).contains(&status) {
            return Err(TokenError::BadStatus { status });
        }
        #[derive(Deserialize)]
        struct Wire {
            status: Option<String>,
        }
        match serde_json::from_slice::<Wire>(&bytes) {
            Ok(Wire { status: Some(s) }) if s.eq_ignore_ascii_case("success") => {
                Ok(Revocation::Revoked)
            }
            _ => Err(TokenError::Malformed(format!(
                "HTTP {status} without \"status\":\"success\""
            ))),
        }
    }

    /// POSTs a form body to `url` (which may carry a secret in its query:
    /// it is never part of an error); the status and at most 64 KiB of body.
    async fn post(&self, url: &str, body: String) -> Result<(u16, bytes::Bytes), TokenError> {
        let req = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(full(body))
            .map_err(|_| TokenError::Transport("the accounts URL is not a valid URI".into()))?;
        let resp = self
            .client
            .send(req, self.timeout)
            .await
            .map_err(|e| match e {
                // Nothing reached Zoho, so nothing was minted.
                SendError::Connect { .. } => TokenError::Unreachable(e.to_string()),
                SendError::Timeout { after, .. } => TokenError::TimedOut { after },
                SendError::Exchange { .. } => TokenError::Transport(e.to_string()),
            })?;
        let status = resp.status().as_u16();
        let bytes = Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| TokenError::Transport(format!("reading the accounts answer: {e}")))?
            .to_bytes();
        Ok((status, bytes))
    }
}

/// What Zoho answered a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// `{"status":"success"}`: the token and its access tokens are dead.
    Revoked,
    /// HTTP 400: not a live token of this accounts server (revoked already,
    /// mistyped, or issued by another data centre's).
    InvalidToken,
}

/// Mints access tokens from a refresh token at `{accounts}/oauth/v2/token`.
pub struct AccountsClient {
    endpoint: TokenEndpoint,
    client_id: String,
    client_secret: Secret,
    refresh_token: Secret,
}

impl AccountsClient {
    pub fn new(client: UpstreamClient, zoho: &ZohoConfig) -> Self {
        AccountsClient {
            endpoint: TokenEndpoint::new(client, zoho.token_url())
                .with_timeout(zoho.accounts_timeout),
            client_id: zoho.client_id.clone(),
            client_secret: zoho.client_secret.clone(),
            refresh_token: zoho.refresh_token.clone(),
        }
    }

    /// POSTs a form to the token endpoint and parses the answer.
    pub async fn post_form(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, TokenError> {
        self.endpoint.post_form(form).await
    }
}

impl TokenSource for AccountsClient {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<TokenGrant, TokenError>> + Send + '_>> {
        Box::pin(async move {
            let answer = self
                .post_form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", &self.client_id),
                    ("client_secret", self.client_secret.expose()),
                    ("refresh_token", self.refresh_token.expose()),
                ])
                .await?;
            Ok(answer.grant)
        })
    }
}

/// A successful token answer.
#[derive(Debug)]
pub struct TokenAnswer {
    pub grant: TokenGrant,
    /// Only present when a grant code was exchanged.
    pub refresh_token: Option<Secret>,
}

#[derive(Deserialize)]
struct Wire {
    access_token: Option<String>,
    refresh_token: Option<String>,
    api_domain: Option<String>,
    expires_in: Option<u64>,
    expires_in_sec: Option<u64>,
    scope: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Interprets the accounts server's answer, whatever its status.
pub fn parse_answer(status: u16, body: &[u8]) -> Result<TokenAnswer, TokenError> {
    // An object, never the positional array serde would also read as `Wire`.
    let wire: Wire = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v @ serde_json::Value::Object(_)) => match serde_json::from_value(v) {
            Ok(w) => w,
            Err(_) if !(200..300).contains(&status) => {
                return Err(TokenError::BadStatus { status })
            }
            Err(e) => return Err(TokenError::Malformed(format!("unexpected fields ({e})"))),
        },
        _ if !(200..300).contains(&status) => return Err(TokenError::BadStatus { status }),
        Ok(_) => return Err(TokenError::Malformed("not a JSON object".into())),
        Err(e) => return Err(TokenError::Malformed(format!("not JSON ({e})"))),
    };
    if let Some(token) = wire.access_token.filter(|t| !t.is_empty()) {
        // Old answers carry `expires_in_sec`; then `expires_in` is milliseconds.
        let secs = wire.expires_in_sec.or(wire.expires_in).unwrap_or(3600);
        return Ok(TokenAnswer {
            grant: TokenGrant {
                access_token: Secret::new(token),
                expires_in: Duration::from_secs(secs),
                api_domain: wire.api_domain,
                scope: wire.scope,
            },
            refresh_token: wire.refresh_token.map(Secret::new),
        });
    }
    let code = wire.error.unwrap_or_default();
    let description = wire.error_description;
    let throttled = code.eq_ignore_ascii_case("Access Denied")
        || description.as_deref().is_some_and(|d| {
            let d = d.to_ascii_lowercase();
            d.contains("too many requests") || d.contains("throttle")
        });
    if throttled {
        return Err(TokenError::Throttled { description });
    }
    if code.is_empty() {
        if !(200..300).contains(&status) {
            return Err(TokenError::BadStatus { status });
        }
        return Err(TokenError::Malformed("no access_token and no error".into()));
    }
    Err(TokenError::Rejected { code, description })
}

/// `application/x-www-form-urlencoded` encoding.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    fn enc(out: &mut String, s: &str) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(&mut out, k);
        out.push('=');
        enc(&mut out, v);
    }
    out
}

/// Decodes `application/x-www-form-urlencoded` text (a form body or a query
/// string) into its pairs, in order. `+` is a space; a bad `%` escape is kept
/// as it is.
pub fn form_decode(form: &str) -> Vec<(String, String)> {
    form.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (url_decode(k), url_decode(v))
        })
        .collect()
}

/// The first value of `key` in form-encoded text.
pub fn form_value(form: &str, key: &str) -> Option<String> {
    form_decode(form)
        .into_iter()
        .find_map(|(k, v)| (k == key).then_some(v))
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_answer_becomes_a_grant() {
        let a = parse_answer(
            200,
            br#"{"access_token":"1000.abc","api_domain":"https://www.zohoapis.eu","token_type":"Bearer","expires_in":3600,"scope":"ZohoCRM.modules.ALL"}"#,
        )
        .unwrap();
        assert_eq!(a.grant.access_token.expose(), "1000.abc");
        assert_eq!(a.grant.expires_in, Duration::from_secs(3600));
        assert_eq!(
            a.grant.api_domain.as_deref(),
            Some("https://www.zohoapis.eu")
        );
        assert_eq!(a.grant.scope.as_deref(), Some("ZohoCRM.modules.ALL"));
        assert!(a.refresh_token.is_none());
    }

    #[test]
    fn expires_in_sec_wins_over_milliseconds() {
        let a = parse_answer(
            200,
            br#"{"access_token":"t","expires_in":3600000,"expires_in_sec":3600}"#,
        )
        .unwrap();
        assert_eq!(a.grant.expires_in, Duration::from_secs(3600));
    }

    #[test]
    fn errors_with_http_200_are_failures_that_keep_zohos_code() {
        let e = parse_answer(200, br#"{"error":"invalid_client"}"#).unwrap_err();
        assert!(
            matches!(&e, TokenError::Rejected { code, .. } if code == "invalid_client"),
            "{e:?}"
        );
        assert!(e.to_string().contains("invalid_client"));
        let e = parse_answer(200, br#"{"error":"invalid_code"}"#).unwrap_err();
        assert!(e.to_string().contains("invalid_code"), "{e}");
    }

    #[test]
    fn throttling_is_recognised_in_both_spellings() {
        let e = parse_answer(
            200,
            br#"{"error_description":"You have made too many requests continuously. Please try again after some time.","error":"Access Denied","status":"failure"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, TokenError::Throttled { .. }), "{e:?}");
        let e = parse_answer(
            400,
            br#"{"error":"x","error_description":"Token creation throttle limit reached"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, TokenError::Throttled { .. }), "{e:?}");
    }

    #[test]
    fn html_and_garbage_are_failures_not_panics() {
        assert!(matches!(
            parse_answer(500, b"<html><body>Internal error</body></html>"),
            Err(TokenError::BadStatus { status: 500 })
        ));
        assert!(matches!(
            parse_answer(200, b"<html>"),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            parse_answer(200, b"{}"),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            parse_answer(200, br#"{"access_token":""}"#),
            Err(TokenError::Malformed(_))
        ));
        // serde reads a struct from an array too, by position: not a token.
        assert!(matches!(
            parse_answer(200, br#"["1000.tok",null,null,null,null,null,null,null]"#),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn form_encoding_escapes_reserved_bytes() {
        assert_eq!(
            form_encode(&[("a", "1.0 x&y=z/é")]),
            "a=1.0+x%26y%3Dz%2F%C3%A9"
        );
    }

    #[test]
    fn form_decoding_undoes_the_encoding() {
        let pairs = [
            ("a", "1.0 x&y=z/é"),
            ("accounts-server", "https://accounts.zoho.ae"),
        ];
        let decoded = form_decode(&form_encode(&pairs));
        assert_eq!(
            decoded,
            pairs.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec()
        );
        assert_eq!(
            form_value("code=1000.x&state=&bad=%zz&plus=a+b", "bad").as_deref(),
            Some("%zz")
        );
        assert_eq!(form_value("code=1&state=", "state").as_deref(), Some(""));
        assert_eq!(form_value("flag&x=1", "flag").as_deref(), Some(""));
        assert_eq!(form_value("x=1", "code"), None);
    }
}
