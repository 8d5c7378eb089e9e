//! `zoho-proxy probe URL`: an HTTP health check for images without a shell or
//! curl (the distroless image's `HEALTHCHECK`). Plain HTTP GET; success is a
//! 2xx answer within the timeout, anything else a one-line reason.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// How much of a failing answer's body is quoted in the reason.
const REASON_BYTES: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{url:?} is not a plain http:// URL with a host")]
    BadUrl { url: String },
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} did not answer within {}", crate::config::units::format_duration(*.timeout))]
    Timeout { url: String, timeout: Duration },
    #[error("{url} answered {status}{}", if .body.is_empty() { String::new() } else { format!(": {}", .body) })]
    Status {
        url: String,
        status: StatusCode,
        /// The first line of the body, shortened.
        body: String,
    },
}

/// GETs `url` and succeeds on a 2xx answer within `timeout` (the whole
/// exchange, connect included).
pub async fn probe(url: &str, timeout: Duration) -> Result<StatusCode, ProbeError> {
    let uri: Uri = url
        .parse()
        .ok()
        .filter(|u: &Uri| u.scheme_str() == Some("http") && u.host().is_some())
        .ok_or_else(|| ProbeError::BadUrl {
            url: url.to_owned(),
        })?;
    match tokio::time::timeout(timeout, get(uri, url)).await {
        Ok(result) => result,
        Err(_) => Err(ProbeError::Timeout {
            url: url.to_owned(),
            timeout,
        }),
    }
}

async fn get(uri: Uri, url: &str) -> Result<StatusCode, ProbeError> {
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let req = Request::get(uri)
        .header(http::header::USER_AGENT, "zoho-proxy-probe")
        .body(Empty::new())
        .map_err(|_| ProbeError::BadUrl {
            url: url.to_owned(),
        })?;
    let resp = client
        .request(req)
        .await
        .map_err(|e| ProbeError::Unreachable {
            url: url.to_owned(),
            reason: crate::upstream::error_chain(&e),
        })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(status);
    }
    // Enough of the body to say why (`/readyz` explains itself); a body that
    // is too long or breaks off is just not quoted.
    let bytes = Limited::new(resp.into_body(), 64 * 1024)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let body: String = line.trim().chars().take(REASON_BYTES).collect();
    Err(ProbeError::Status {
        url: url.to_owned(),
        status,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_plain_http_urls_are_probed() {
        for url in ["https://127.0.0.1:9901/readyz", "127.0.0.1:9901", "/readyz"] {
            let e = probe(url, Duration::from_secs(1)).await.unwrap_err();
            assert!(matches!(e, ProbeError::BadUrl { .. }), "{url}: {e}");
        }
    }
}
