//! `zoho-proxy credits`: each credential's budget and what its routes spent
//! (from the file beside the token cache, when there is one), and with
//! `--online` Zoho's own price list (`GET /crm/v8/__apis`) for the calls the
//! routes allow, so prices can be tuned with `credits = N`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use http::{header, Method, Request};
use http_body_util::BodyExt;
use serde_json::Value;

use super::{Credits, RouteBudget};
use crate::commands::CommandError;
use crate::config::Config;
use crate::credential::Refresh;
use crate::dc::Upstream;

/// The offline table.
pub fn table(config: &Config) -> String {
    let mut out = String::new();
    for (i, c) in config.credentials.iter().enumerate() {
        let file = c.zoho.token_cache.as_deref().map(super::beside);
        let credits = Credits::new(&c.name, file.clone());
        let routes: Vec<_> = config.routes.of_credential(i).collect();
        let (total, usage) = credits.usage(
            &c.credits,
            routes.iter().map(|r| (r.name.as_str(), &r.credits)),
        );
        let budget = match c.credits.daily {
            Some(d) if c.credits.reserve > 0 => {
                format!(
                    "daily_credits {d} (reserve {} for priority routes)",
                    c.credits.reserve
                )
            }
            Some(d) => format!("daily_credits {d}"),
            None => "no daily_credits (counted, never refused)".to_owned(),
        };
        let source = match &file {
            Some(f) => format!("spent in the last 24 h, from {}", f.display()),
            None => "spent: unknown offline (no token_cache; ask the running proxy's /credits)"
                .to_owned(),
        };
        let _ = writeln!(out, "credential {}: {budget}; {source}", c.name);
        let _ = writeln!(
            out,
            "  {:<24} {:>10} {:>10} {:>10}  settings",
            "route", "spent", "budget", "remaining"
        );
        let _ = writeln!(
            out,
            "  {:<24} {:>10} {:>10} {:>10}",
            "(all)",
            total.spent,
            opt(total.budget),
            opt(total.remaining)
        );
        for (route, (_, u)) in routes.iter().zip(usage) {
            let mut settings = Vec::new();
            if let Some(p) = route.credits.price {
                settings.push(format!("credits = {p}"));
            }
            match route.credits.budget {
                Some(RouteBudget::Share(f)) => {
                    settings.push(format!("credit_share {}%", f * 100.0))
                }
                Some(RouteBudget::Fixed(n)) => settings.push(format!("daily_credits {n}")),
                None => {}
            }
            if route.credits.priority {
                settings.push("priority".to_owned());
            }
            let _ = writeln!(
                out,
                "  {:<24} {:>10} {:>10} {:>10}  {}",
                route.name,
                u.spent,
                opt(u.budget),
                opt(u.remaining),
                settings.join(", ")
            );
        }
    }
    out
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_owned(), |n| n.to_string())
}

/// `--online`: Zoho's price of every call a route allows, per credential
/// whose routes reach CRM. Needs `ZohoCRM.apis.READ` in the grant.
pub async fn online(config: Arc<Config>) -> Result<String, CommandError> {
    let proxy = crate::server::build_proxy(config.clone(), Refresh::OnDemand)?;
    let mut out = String::new();
    let mut failed = false;
    for (i, credential) in proxy.credentials().iter().enumerate() {
        let name = credential.name();
        let token = match credential.tokens().refresh_now().await {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(out, "credential {name}: token refresh failed: {e}");
                failed = true;
                continue;
            }
        };
        let base = credential
            .zoho()
            .base_url(Upstream::Api, token.api_domain.as_deref());
        let req = Request::get(format!("{base}/crm/v8/__apis"))
            .header(
                header::AUTHORIZATION,
                format!("Zoho-oauthtoken {}", token.expose()),
            )
            .body(crate::body::empty())?;
        let resp = match credential.client().send(req, Duration::from_secs(30)).await {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(out, "credential {name}: GET /crm/v8/__apis failed: {e}");
                failed = true;
                continue;
            }
        };
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if !status.is_success() {
            let _ = writeln!(
                out,
                "credential {name}: Zoho answered {status} to GET /crm/v8/__apis \
                 (the grant needs ZohoCRM.apis.READ): {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
            failed = true;
            continue;
        }
        let _ = writeln!(
            out,
            "credential {name}: Zoho's credits per call, for the calls its routes allow"
        );
        let _ = writeln!(
            out,
            "  {:<7} {:<48} {:>4} {:>4}  route",
            "method", "path", "min", "max"
        );
        for (method, path, min, max) in price_list(&body) {
            let Ok(m) = method.parse::<Method>() else {
                continue;
            };
            // `{id}`-style segments stand for any value.
            let concrete: String = path
                .split('/')
                .map(|s| if s.starts_with('{') { "1" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let Ok(canon) = crate::canon::canonicalize(&concrete) else {
                continue;
            };
            let Some(route) = config.routes.find(&m, &canon).filter(|r| r.credential == i) else {
                continue;
            };
            let _ = writeln!(
                out,
                "  {method:<7} {path:<48} {min:>4} {max:>4}  {}",
                route.name
            );
        }
    }
    if failed {
        Err(CommandError::Failed { report: out })
    } else {
        Ok(out)
    }
}

/// (method, path, min_credits, max_credits) from `__apis`'s answer.
fn price_list(body: &[u8]) -> Vec<(String, String, String, String)> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    let mut rows = Vec::new();
    for api in v["__apis"].as_array().into_iter().flatten() {
        let Some(path) = api["path"].as_str() else {
            continue;
        };
        for op in api["operation_types"].as_array().into_iter().flatten() {
            let Some(method) = op["method"].as_str() else {
                continue;
            };
            rows.push((
                method.to_owned(),
                path.to_owned(),
                text(&op["min_credits"]),
                text(&op["max_credits"]),
            ));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_price_list_reads_zohos_shape() {
        let body = br#"{"__apis":[{"path":"/crm/v8/Leads","operation_types":[
            {"method":"GET","oauth_scope":"ZohoCRM.modules.leads.READ","max_credits":1,"min_credits":1},
            {"method":"POST","oauth_scope":"ZohoCRM.modules.leads.CREATE","max_credits":10,"min_credits":1}]},
            {"path":"/crm/v8/coql","operation_types":[{"method":"POST","max_credits":3,"min_credits":1}]}]}"#;
        let rows = price_list(body);
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[1],
            (
                "POST".into(),
                "/crm/v8/Leads".into(),
                "1".into(),
                "10".into()
            )
        );
        assert!(price_list(b"not json").is_empty());
    }
}
