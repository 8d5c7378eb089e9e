//! Header hygiene between client, proxy and Zoho.
//!
//! Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection and never
//! travel further; the client's own credentials (and its client key) are
//! removed so the only `Authorization` Zoho sees is the one the proxy wrote.

use bytes::BytesMut;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::clients::key::KEY_HEADER;

/// The client key's own header (never forwarded, never set by a route).
const CLIENT_KEY: HeaderName = HeaderName::from_static(KEY_HEADER);

/// Headers that belong to one connection, plus credentials the client may
/// have sent. Removed from requests before forwarding.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Headers that ask a server, gateway or framework to treat the request as
/// another method or path. The allowlist decided on the real method and path;
/// nothing upstream may decide again, so these never leave the proxy.
pub const OVERRIDES: [HeaderName; 10] = [
    HeaderName::from_static("x-http-method-override"),
    HeaderName::from_static("x-http-method"),
    HeaderName::from_static("x-method-override"),
    HeaderName::from_static("x-original-method"),
    HeaderName::from_static("x-original-url"),
    HeaderName::from_static("x-original-uri"),
    HeaderName::from_static("x-rewrite-url"),
    HeaderName::from_static("x-forwarded-path"),
    HeaderName::from_static("x-forwarded-uri"),
    HeaderName::from_static("x-envoy-original-path"),
];

/// Headers only the proxy writes toward Zoho: credentials (the token it
/// adds, the client's key), `Host`, hop-by-hop headers and method or path
/// overrides. A client's are dropped and a route may not set them.
fn proxy_owned(name: &HeaderName) -> bool {
    name == header::AUTHORIZATION
        || name == CLIENT_KEY
        || name == header::HOST
        || HOP_BY_HOP.contains(name)
        || OVERRIDES.contains(name)
}

/// Headers a route may not set: the proxy owns them.
pub fn is_reserved(name: &HeaderName) -> bool {
    proxy_owned(name) || name == header::CONTENT_LENGTH
}

/// The header names listed in `Connection` (hop-by-hop by the client's or
/// server's own say). Allocates only when there are some.
fn connection_listed(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect()
}

/// Removes hop-by-hop headers, including any named in `Connection`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in connection_listed(headers) {
        headers.remove(name);
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Whether a client header never goes to Zoho: what the proxy owns (its
/// credentials and client key, whichever form the key came in, included)
/// and `Expect` (our server answered it when it started reading the body).
fn never_forwarded(name: &HeaderName) -> bool {
    proxy_owned(name) || name == header::EXPECT
}

/// The client's headers as Zoho gets them: no hop-by-hop headers, no client
/// credentials, no method or path overrides, the route's static headers, and
/// the token as a sensitive header (never logged by hyper or h2). One pass
/// over the client's headers, copying only what passes (values are shared,
/// not copied).
///
/// The client's `Host` is removed and none is written: the upstream URI
/// carries the authority, which the client turns into `Host` over HTTP/1.1
/// and into `:authority` alone over HTTP/2 (a `host` header next to
/// `:authority` makes nginx, among others, refuse the request).
pub fn for_upstream(
    client: &HeaderMap,
    token: &str,
    route_headers: &[(HeaderName, HeaderValue)],
) -> Result<HeaderMap, http::header::InvalidHeaderValue> {
    let listed = connection_listed(client);
    let mut headers = HeaderMap::with_capacity(client.len() + route_headers.len() + 1);
    for (name, value) in client {
        if !never_forwarded(name) && !listed.contains(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    for (name, value) in route_headers {
        headers.insert(name.clone(), value.clone());
    }
    let mut auth = BytesMut::with_capacity(AUTH_SCHEME.len() + token.len());
    auth.extend_from_slice(AUTH_SCHEME.as_bytes());
    auth.extend_from_slice(token.as_bytes());
    let mut auth = HeaderValue::from_maybe_shared(auth.freeze())?;
    auth.set_sensitive(true);
    headers.insert(header::AUTHORIZATION, auth);
    Ok(headers)
}

/// What precedes the token in `Authorization`.
const AUTH_SCHEME: &str = "Zoho-oauthtoken ";

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
        h.append("x-twice", HeaderValue::from_static("1"));
        h.append("x-twice", HeaderValue::from_static("2"));
        let route = [(
            HeaderName::from_static("orgid"),
            HeaderValue::from_static("123"),
        )];
        let h = for_upstream(&h, "1000.tok", &route).unwrap();
        assert_eq!(h["authorization"], "Zoho-oauthtoken 1000.tok");
        assert!(h["authorization"].is_sensitive());
        assert!(!h.contains_key("host"), "the client sets it from the URI");
        assert_eq!(h["orgid"], "123");
        assert_eq!(h["x-keep"], "yes");
        let twice: Vec<_> = h.get_all("x-twice").iter().collect();
        assert_eq!(twice, ["1", "2"], "repeated headers pass, in order");
        for gone in [
            "proxy-authorization",
            "x-zoho-proxy-key",
            "connection",
            "x-secret-hop",
            "te",
            "expect",
        ]
        .into_iter()
        .chain(OVERRIDES.iter().map(HeaderName::as_str))
        {
            assert!(!h.contains_key(gone), "{gone} was forwarded");
        }
        assert_eq!(h.get_all("authorization").iter().count(), 1);
    }

    #[test]
    fn answers_lose_their_hop_by_hop_headers_only() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("close, x-hop"));
        h.insert("x-hop", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("9"));
        strip_hop_by_hop(&mut h);
        let left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["content-type", "x-ratelimit-remaining"]);
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
