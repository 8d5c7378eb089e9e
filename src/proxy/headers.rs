//! Header hygiene between client, proxy and Zoho.
//!
//! Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection and never
//! travel further; the client's own credentials (and its client key) are
//! removed so the only `Authorization` Zoho sees is the one the proxy wrote.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::clients::key::KEY_HEADER;

/// Headers that belong to one connection, plus credentials the client may
/// have sent. Removed from requests before forwarding.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers that ask a server, gateway or framework to treat the request as
/// another method or path. The allowlist decided on the real method and path;
/// nothing upstream may decide again, so these never leave the proxy.
pub const OVERRIDES: [&str; 10] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
    "x-original-url",
    "x-original-uri",
    "x-rewrite-url",
    "x-forwarded-path",
    "x-forwarded-uri",
    "x-envoy-original-path",
];

/// Headers a route may not set: the proxy owns them.
pub fn is_reserved(name: &HeaderName) -> bool {
    name == header::AUTHORIZATION
        || name == KEY_HEADER
        || name == header::HOST
        || name == header::CONTENT_LENGTH
        || HOP_BY_HOP.contains(&name.as_str())
        || OVERRIDES.contains(&name.as_str())
}

/// Removes hop-by-hop headers, including any named in `Connection`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Prepares the client's headers for Zoho: no hop-by-hop headers, no client
/// credentials, no method or path overrides, the route's static headers, and
/// the token as a sensitive header (never logged by hyper or h2).
///
/// The client's `Host` is removed and none is written: the upstream URI
/// carries the authority, which the client turns into `Host` over HTTP/1.1
/// and into `:authority` alone over HTTP/2 (a `host` header next to
/// `:authority` makes nginx, among others, refuse the request).
pub fn for_upstream(
    headers: &mut HeaderMap,
    token: &str,
    route_headers: &[(HeaderName, HeaderValue)],
) -> Result<(), http::header::InvalidHeaderValue> {
    strip_hop_by_hop(headers);
    // The client's key, whichever form it came in, stays here.
    headers.remove(header::AUTHORIZATION);
    headers.remove(KEY_HEADER);
    // The client's `Expect: 100-continue` was answered by our own server when
    // we started reading its body; Zoho gets the body without waiting.
    headers.remove(header::EXPECT);
    headers.remove(header::HOST);
    for name in OVERRIDES {
        headers.remove(name);
    }
    for (name, value) in route_headers {
        headers.insert(name.clone(), value.clone());
    }
    let mut auth = HeaderValue::from_str(&format!("Zoho-oauthtoken {token}"))?;
    auth.set_sensitive(true);
    headers.insert(header::AUTHORIZATION, auth);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_credentials_and_hop_by_hop_headers_never_pass() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_static("Zoho-oauthtoken stolen"),
        );
        h.insert("proxy-authorization", HeaderValue::from_static("Basic xyz"));
        h.insert("x-zoho-proxy-key", HeaderValue::from_static("client-key"));
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert("te", HeaderValue::from_static("trailers"));
        h.insert("expect", HeaderValue::from_static("100-continue"));
        h.insert("host", HeaderValue::from_static("evil.example"));
        h.insert("x-keep", HeaderValue::from_static("yes"));
        h.insert("orgid", HeaderValue::from_static("client-sent"));
        for name in OVERRIDES {
            h.insert(name, HeaderValue::from_static("DELETE"));
        }
        let route = [(
            HeaderName::from_static("orgid"),
            HeaderValue::from_static("123"),
        )];
        for_upstream(&mut h, "1000.tok", &route).unwrap();
        assert_eq!(h["authorization"], "Zoho-oauthtoken 1000.tok");
        assert!(h["authorization"].is_sensitive());
        assert!(!h.contains_key("host"), "the client sets it from the URI");
        assert_eq!(h["orgid"], "123");
        assert_eq!(h["x-keep"], "yes");
        for gone in [
            "proxy-authorization",
            "x-zoho-proxy-key",
            "connection",
            "x-secret-hop",
            "te",
            "expect",
        ]
        .into_iter()
        .chain(OVERRIDES)
        {
            assert!(!h.contains_key(gone), "{gone} was forwarded");
        }
        assert_eq!(h.get_all("authorization").iter().count(), 1);
    }

    #[test]
    fn routes_cannot_configure_proxy_owned_headers() {
        for name in [
            "authorization",
            "x-zoho-proxy-key",
            "host",
            "connection",
            "transfer-encoding",
            "content-length",
            "x-http-method-override",
        ] {
            assert!(is_reserved(&HeaderName::from_static(name)), "{name}");
        }
        assert!(!is_reserved(&HeaderName::from_static("orgid")));
    }
}
