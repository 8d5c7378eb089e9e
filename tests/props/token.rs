//! `token::accounts::parse_answer`: the accounts server's answer, whatever
//! its status and body.
//!
//! Input: two bytes of HTTP status (100..=599), then the body.

use std::time::Duration;

use serde_json::Value;
use zoho_proxy::token::accounts::parse_answer;
use zoho_proxy::token::TokenError;

pub fn check(data: &[u8]) {
    let (status, body) = match data {
        [a, b, rest @ ..] => (100 + u16::from_be_bytes([*a, *b]) % 500, rest),
        _ => (200, data),
    };
    answer(status, body);
}

pub fn answer(status: u16, body: &[u8]) {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| v.as_ref().and_then(|v| v.get(k));
    let text = |k: &str| field(k).and_then(Value::as_str);
    match parse_answer(status, body) {
        Ok(a) => {
            // Only a JSON object with a non-empty access_token is a token.
            let token = text("access_token").expect("a token without access_token");
            assert!(!token.is_empty());
            assert_eq!(a.grant.access_token.expose(), token);
            // `expires_in_sec` (then `expires_in` is milliseconds), else
            // `expires_in`, else an hour.
            let secs = field("expires_in_sec")
                .or(field("expires_in"))
                .and_then(Value::as_u64)
                .unwrap_or(3600);
            assert_eq!(a.grant.expires_in, Duration::from_secs(secs));
            assert_eq!(a.grant.api_domain.as_deref(), text("api_domain"));
            assert_eq!(a.grant.scope.as_deref(), text("scope"));
            assert_eq!(
                a.refresh_token.as_ref().map(|s| s.expose()),
                text("refresh_token")
            );
            // The token never shows in Debug output.
            let shown = format!("{a:?}");
            let lifetime = format!("{:?}", a.grant.expires_in);
            let printed = [text("api_domain"), text("scope"), Some(lifetime.as_str())];
            for secret in [Some(token), text("refresh_token")].into_iter().flatten() {
                if distinctive(secret, &printed) {
                    assert!(!shown.contains(secret), "{secret:?} in {shown}");
                }
            }
        }
        Err(e) => {
            let has_token = text("access_token").is_some_and(|t| !t.is_empty());
            match &e {
                TokenError::BadStatus { status: s } => {
                    assert_eq!(*s, status);
                    assert!(!(200..300).contains(s), "{e}");
                }
                TokenError::Rejected { code, .. } => {
                    assert!(!code.is_empty());
                    assert_eq!(text("error"), Some(code.as_str()));
                    assert!(!has_token);
                }
                TokenError::Throttled { description } => {
                    let said = text("error")
                        .is_some_and(|c| c.eq_ignore_ascii_case("Access Denied"))
                        || description.as_deref().is_some_and(|d| {
                            let d = d.to_ascii_lowercase();
                            d.contains("too many requests") || d.contains("throttle")
                        });
                    assert!(said, "{e}");
                    assert!(!has_token);
                }
                TokenError::Malformed(_) => {}
                other => panic!("parse_answer cannot say {other:?}"),
            }
        }
    }
}

/// Worth looking for in Debug output: long, plain (letters, digits, dots),
/// and not also a value that Debug prints or one of its field names.
fn distinctive(secret: &str, printed: &[Option<&str>]) -> bool {
    const SKELETON: &str = "TokenAnswer grant TokenGrant access_token Secret(<redacted>) \
                            expires_in api_domain scope refresh_token Some None";
    secret.len() >= 8
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.')
        && !SKELETON.contains(secret)
        && printed.iter().flatten().all(|p| !p.contains(secret))
}
