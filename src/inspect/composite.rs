//! Composite requests (`POST /crm/vN/__composite_requests`): up to five CRM
//! calls in one body, each of which needs its own scope.
//!
//! Body: `{"parallel_execution": ..., "rollback_on_fail": ...,
//! "__composite_requests": [{"sub_request_id": "1", "method": "GET",
//! "uri": "/crm/v8/Leads", "params": {...}, "headers": {...}, "body": {...}}]}`
//! (`sub_uri` is accepted for `uri`, not both).
//!
//! Every sub-request is checked as if it were sent alone: its path must be a
//! canonical CRM API path as written (what [`canonicalize`] returns, query
//! after `?` aside), the scope catalog must know it, and an endpoint whose
//! own body needs inspection (COQL, bulk) has its `body` inspected too.
//! Refused: a composite inside a composite, references between sub-requests
//! in the path (`@{1:$.data[0].details.id}`: the proxy cannot know what they
//! resolve to), and method or path override headers.

use http::{HeaderName, Method};
use serde_json::Value;

use super::{json, needs as inspect, Inspect, Need, NotUnderstood};
use crate::canon::canonicalize;
use crate::catalog;
use crate::dc::Upstream;

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// What every sub-request needs.
pub fn needs(body: &[u8]) -> Result<Vec<Need>, NotUnderstood> {
    let v = json(body)?;
    let subs = v
        .get("__composite_requests")
        .and_then(Value::as_array)
        .ok_or("the body has no __composite_requests array")?;
    if subs.is_empty() {
        return Err("__composite_requests is empty".into());
    }
    let mut out = Vec::new();
    for (i, sub) in subs.iter().enumerate() {
        let label = match sub.get("sub_request_id") {
            Some(Value::String(id)) if id.len() <= 64 => format!("sub-request {id:?}"),
            _ => format!("sub-request #{}", i + 1),
        };
        out.extend(one(sub, &label).map_err(|e| NotUnderstood(format!("{label}: {}", e.0)))?);
    }
    Ok(out)
}

fn one(sub: &Value, label: &str) -> Result<Vec<Need>, NotUnderstood> {
    let sub = sub.as_object().ok_or("not an object")?;
    let method = sub
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase)
        .filter(|m| METHODS.contains(&m.as_str()))
        .ok_or("method must be one of GET POST PUT PATCH DELETE")?;
    let uri = match (sub.get("uri"), sub.get("sub_uri")) {
        (Some(Value::String(u)), None) | (None, Some(Value::String(u))) => u.as_str(),
        (Some(_), Some(_)) => return Err("both uri and sub_uri".into()),
        _ => return Err("no uri string".into()),
    };
    if let Some(headers) = sub.get("headers") {
        let headers = headers.as_object().ok_or("headers is not an object")?;
        for name in headers.keys() {
            let reserved = HeaderName::from_bytes(name.as_bytes())
                .map_or(true, |h| crate::proxy::headers::is_reserved(&h));
            if reserved {
                return Err(format!("header {name:?} is not allowed in a sub-request").into());
            }
        }
    }
    let path = uri.split_once('?').map_or(uri, |(p, _)| p);
    if uri.contains("@{") {
        return Err("references to other sub-requests (@{...}) are not understood".into());
    }
    if uri.contains('#') {
        return Err(format!("{uri:?} has a fragment").into());
    }
    let canonical = canonicalize(path)
        .ok()
        .filter(|c| c.as_str() == path)
        .ok_or_else(|| format!("{path:?} is not a canonical path"))?;
    if !canonical.as_str().starts_with("/crm/") {
        return Err(format!("{path} is not a CRM API path").into());
    }
    let known = catalog::lookup(Upstream::Api, &method, canonical.as_str())
        .ok_or_else(|| format!("the scope catalog does not know {method} {path}"))?;
    let by = format!("{label}: {method} {path}");
    let method: Method = method.parse().map_err(|_| NotUnderstood("method".into()))?;
    let mut out = vec![Need {
        scopes: known.scopes,
        by: by.clone(),
        call: Some((method, canonical.as_str().to_owned())),
    }];
    match known.inspect {
        None => {}
        Some(Inspect::Composite) => return Err("a composite request inside a composite".into()),
        Some(kind) => {
            let body = sub
                .get("body")
                .ok_or("its endpoint needs a body the proxy inspects, and it has none")?;
            let bytes = serde_json::to_vec(body).map_err(|e| NotUnderstood(e.to_string()))?;
            for mut need in inspect(kind, &bytes)? {
                need.by = format!("{by} ({})", need.by);
                out.push(need);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(body: &str) -> Result<Vec<String>, String> {
        needs(body.as_bytes())
            .map(|n| {
                n.iter()
                    .flat_map(|n| n.scopes.iter().map(|s| s.to_string()))
                    .collect()
            })
            .map_err(|e| e.0)
    }

    #[test]
    fn every_sub_request_needs_its_own_scopes() {
        let body = r#"{"parallel_execution": false, "__composite_requests": [
            {"sub_request_id": "1", "method": "GET", "uri": "/crm/v8/Leads", "params": {"fields": "Last_Name"}},
            {"sub_request_id": "2", "method": "delete", "uri": "/crm/v6/Deals/123"},
            {"sub_request_id": "3", "method": "POST", "sub_uri": "/crm/v8/coql", "body": {"select_query": "select a from Contacts"}}
        ]}"#;
        assert_eq!(
            scopes(body).unwrap(),
            [
                "ZohoCRM.modules.leads.READ",
                "ZohoCRM.modules.deals.DELETE",
                "ZohoCRM.coql.READ",
                "ZohoCRM.coql.READ",
                "ZohoCRM.modules.contacts.READ"
            ]
        );
        let n = needs(body.as_bytes()).unwrap();
        assert_eq!(n[1].by, "sub-request \"2\": DELETE /crm/v6/Deals/123");
        assert_eq!(
            n[1].call,
            Some((Method::DELETE, "/crm/v6/Deals/123".into()))
        );
        assert!(n[4].by.ends_with("(FROM Contacts)"), "{}", n[4].by);
    }

    #[test]
    fn sub_requests_the_proxy_cannot_judge_are_refused() {
        for (sub, why) in [
            (
                r#"{"method": "GET", "uri": "/crm/v8/Leads/%2e%2e/Deals"}"#,
                "canonical",
            ),
            (
                r#"{"method": "GET", "uri": "/crm/v8/%4Ceads"}"#,
                "canonical",
            ),
            (r#"{"method": "GET", "uri": "/crm/v8//Leads"}"#, "canonical"),
            (
                r#"{"method": "GET", "uri": "https://evil.example/crm/v8/Leads"}"#,
                "canonical",
            ),
            (r#"{"method": "GET", "uri": "crm/v8/Leads"}"#, "canonical"),
            (r#"{"method": "GET", "uri": "/books/v3/invoices"}"#, "CRM"),
            (
                r#"{"method": "GET", "uri": "/crm/v8/brand_new/x/y"}"#,
                "catalog",
            ),
            (
                r#"{"method": "GET", "uri": "/crm/v8/Leads/@{1:$.data[0].details.id}"}"#,
                "references",
            ),
            (r#"{"method": "GET", "uri": "/crm/v8/Leads#x"}"#, "fragment"),
            (r#"{"method": "TRACE", "uri": "/crm/v8/Leads"}"#, "method"),
            (r#"{"uri": "/crm/v8/Leads"}"#, "method"),
            (r#"{"method": "GET"}"#, "uri"),
            (
                r#"{"method": "GET", "uri": "/crm/v8/Leads", "sub_uri": "/crm/v8/Deals"}"#,
                "both",
            ),
            (
                r#"{"method": "GET", "uri": "/crm/v8/Leads", "headers": {"X-HTTP-Method-Override": "DELETE"}}"#,
                "header",
            ),
            (
                r#"{"method": "POST", "uri": "/crm/v8/__composite_requests", "body": {}}"#,
                "inside",
            ),
            (r#"{"method": "POST", "uri": "/crm/v8/coql"}"#, "body"),
            (
                r#"{"method": "POST", "uri": "/crm/v8/coql", "body": {"select_query": "select a from Leads; x"}}"#,
                "';'",
            ),
            ("[]", "object"),
        ] {
            let body = format!(r#"{{"__composite_requests": [{sub}]}}"#);
            let err = scopes(&body).unwrap_err();
            assert!(err.contains(why), "{sub}: {err}");
            assert!(err.starts_with("sub-request #1: "), "{err}");
        }
        for body in [
            "{}",
            r#"{"__composite_requests": []}"#,
            r#"{"__composite_requests": {}}"#,
            "nope",
        ] {
            assert!(scopes(body).is_err(), "{body}");
        }
    }
}
