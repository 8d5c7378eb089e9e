//! The request target, from the bytes of the request line to the URL Zoho
//! gets: origin form only, the canonical path is what is matched, and what
//! matched is exactly what is forwarded (less a route's `strip_prefix`), with
//! the query byte for byte.
//!
//! Input: the request-target bytes (as in `GET <target> HTTP/1.1`).

use std::path::Path;
use std::sync::LazyLock;

use http::{Method, Uri};
use zoho_proxy::canon::{canonicalize, CanonicalPath};
use zoho_proxy::config::{self, Config};
use zoho_proxy::proxy::{target_path, upstream_uri};

/// Where the upstream URL points in these checks.
const BASE: &str = "https://www.zohoapis.eu";

/// Routes of every kind: catalog-scoped with a glob, a `strip_prefix`, a
/// wide one with `requires`, and one on another upstream.
static CONFIG: LazyLock<Config> = LazyLock::new(|| {
    let text = r#"
[zoho]
client_id = "id"
client_secret = "s"
refresh_token = "r"

[[routes]]
name = "leads"
path = "/crm/v*/Leads/**"
methods = ["GET", "POST"]
scopes = ["ZohoCRM.modules.leads.ALL"]

[[routes]]
name = "sandbox"
path = "/sandbox/crm/**"
strip_prefix = "/sandbox"
scopes = ["ZohoCRM.modules.ALL"]
requires = "ZohoCRM.modules.ALL"

[[routes]]
name = "desk"
path = "/desk/api/**"
strip_prefix = "/desk"
upstream = "desk"
scopes = ["Desk.tickets.ALL"]

[[routes]]
name = "rest"
path = "/**"
methods = ["POST"]
scopes = ["ZohoCRM.modules.ALL"]
requires = "ZohoCRM.modules.ALL"
"#;
    config::compile(text, "target.toml", Path::new(".")).expect("the routes compile")
});

pub fn check(data: &[u8]) {
    // As hyper does with the request line's target.
    let Ok(uri) = Uri::try_from(data) else {
        return;
    };
    for method in [Method::GET, Method::POST, Method::CONNECT] {
        target(&method, &uri);
    }
}

pub fn target(method: &Method, uri: &Uri) {
    let path = match target_path(method, uri) {
        Ok(path) => path,
        Err(e) => {
            let code = e.code();
            if *method == Method::CONNECT {
                assert_eq!(code, "METHOD_NOT_ALLOWED");
            } else if uri.scheme().is_some() || uri.authority().is_some() {
                // The Host header and absolute form never steer the upstream.
                assert_eq!(code, "BAD_REQUEST_TARGET", "{uri}");
            } else {
                assert_eq!(code, "INVALID_PATH", "{uri}");
                assert!(canonicalize(uri.path()).is_err());
            }
            return;
        }
    };
    assert!(uri.scheme().is_none() && uri.authority().is_none(), "{uri}");
    super::canon::canonical(uri.path(), &path);
    forwarded(&path, uri.query());
    if let Ok(d) = CONFIG.routes.decide(method, &path) {
        let route = d.route;
        assert!(route.methods.contains(method));
        assert!(
            route.pattern.matches(&path),
            "{} allowed {path}",
            route.name
        );
        let prefix = route.strip_prefix.as_deref().unwrap_or("");
        assert_eq!(format!("{prefix}{}", d.forward), path.as_str());
        forwarded(&d.forward, uri.query());
    }
}

/// The upstream URL for `forward`: exactly that path, the query as sent,
/// Zoho's host.
fn forwarded(forward: &CanonicalPath, query: Option<&str>) {
    let up = upstream_uri(BASE, forward, query)
        .unwrap_or_else(|e| panic!("an allowed target cannot be forwarded: {e}"));
    assert_eq!(up.scheme_str(), Some("https"));
    assert_eq!(up.authority().map(|a| a.as_str()), Some("www.zohoapis.eu"));
    assert_eq!(up.path(), forward.as_str(), "{up}");
    assert_eq!(up.query(), query, "{up}");
    // Zoho reads the same path: canonicalizing what it gets changes nothing.
    assert_eq!(canonicalize(up.path()).as_ref(), Ok(forward));
}
