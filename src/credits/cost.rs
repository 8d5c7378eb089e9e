//! What a call costs in Zoho API credits, before it is sent.
//!
//! CRM's cost rules (https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html)
//! depend on the path's shape and on the body, not on the scope a call
//! needs, so they are rules over the canonical path here rather than a
//! column of every catalog row:
//!
//! | call | credits |
//! |---|---|
//! | most calls | 1 |
//! | get records with a custom view (`cvid=`) | 3 |
//! | get deleted records (`/{Module}/deleted`) | 2 |
//! | insert / update / upsert (`POST`/`PUT`/`PATCH /{Module}[/upsert]`) | 1 per 10 records in `data` |
//! | add / remove tags | 1 per 50 records |
//! | convert lead | 5 |
//! | send mail | 20 |
//! | bulk read job / bulk write job (creating it) | 50 / 500 |
//! | COQL | by `LIMIT`: up to 200 rows 1, 1,000 rows 2, 2,000 rows 3 |
//!
//! Books, Desk and the other products count requests (1 each). A body the
//! proxy did not keep (larger than `replay_buffer`) is priced at the most
//! its kind can cost (100 records: 10 credits). A route may set its own
//! price (`credits = N`), which wins.

use http::Method;
use serde_json::Value;

use crate::token::rejection::Product;

/// Zoho's maximum records per insert/update/upsert call.
const MAX_RECORDS: u64 = 100;

/// The credits one attempt of this call costs.
///
/// `body` is the whole request body when the proxy kept it, `None` when it
/// streams.
pub fn cost(
    product: Product,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: Option<&[u8]>,
) -> u32 {
    if product != Product::Crm {
        return 1;
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // /crm/bulk/vN/{read|write}
    if let ["crm", "bulk", _, kind] = segs.as_slice() {
        return match (*method == Method::POST, *kind) {
            (true, "read") => 50,
            (true, "write") => 500,
            _ => 1,
        };
    }
    let rest = match segs.as_slice() {
        ["crm", version, rest @ ..] if is_version(version) => rest,
        _ => return 1,
    };
    match (method.as_str(), rest) {
        ("POST", ["coql"]) => coql_cost(body),
        ("POST", [_, _, "actions", "convert"]) => 5,
        ("POST", [_, _, "actions", "send_mail"]) => 20,
        (_, [_, "actions", "add_tags" | "remove_tags"])
        | (_, [_, _, "actions", "add_tags" | "remove_tags"]) => {
            let n = records(body, query).unwrap_or(MAX_RECORDS);
            per(n, 50)
        }
        ("GET", [_, "deleted"]) => 2,
        ("GET", [module, ..]) if is_module(module) && has_param(query, "cvid") => 3,
        ("POST" | "PUT" | "PATCH", [module]) | ("POST", [module, "upsert"])
            if is_module(module) =>
        {
            let n = records(body, None).unwrap_or(MAX_RECORDS);
            per(n, 10)
        }
        _ => 1,
    }
}

fn is_version(s: &str) -> bool {
    s.strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A module API name (`Leads`, `Custom_Module1`), not a fixed resource
/// (`settings`, `users`, `org`, `coql`, `__composite_requests`, ...).
fn is_module(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
}

fn has_param(query: Option<&str>, name: &str) -> bool {
    query.is_some_and(|q| {
        q.split('&')
            .any(|kv| kv.split('=').next() == Some(name) && kv.len() > name.len() + 1)
    })
}

/// `ceil(n / size)`, at least 1.
fn per(n: u64, size: u64) -> u32 {
    u32::try_from(n.div_ceil(size).max(1)).unwrap_or(u32::MAX)
}

/// How many records the call names: the body's `data` array, else the
/// query's comma-separated `ids`. `None` when neither is readable.
fn records(body: Option<&[u8]>, query: Option<&str>) -> Option<u64> {
    if let Some(body) = body {
        if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) {
            if let Some(Value::Array(data)) = o.get("data") {
                return Some(data.len() as u64);
            }
        }
    }
    let ids = query?.split('&').find_map(|kv| kv.strip_prefix("ids="))?;
    let ids = ids.replace("%2C", ",").replace("%2c", ",");
    Some(ids.split(',').filter(|s| !s.is_empty()).count() as u64)
}

/// COQL by `LIMIT` tier (200 rows when the query says nothing; the most a
/// query may ask, 2,000, when the body is unreadable).
fn coql_cost(body: Option<&[u8]>) -> u32 {
    let rows = body
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .and_then(|v| v.get("select_query")?.as_str().map(coql_limit))
        .unwrap_or(Some(2000))
        .unwrap_or(200);
    match rows {
        0..=200 => 1,
        201..=1000 => 2,
        _ => 3,
    }
}

/// The row count of a COQL query's `LIMIT` (`LIMIT n`, `LIMIT offset, n`,
/// `LIMIT n OFFSET m`), ignoring string literals; `None` without one.
pub fn coql_limit(query: &str) -> Option<u64> {
    // Blank out string literals so a quoted "limit 5" cannot count.
    let mut plain = String::with_capacity(query.len());
    let mut in_str = false;
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        if in_str {
            match c {
                '\\' => {
                    chars.next();
                }
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                }
                '\'' => in_str = false,
                _ => {}
            }
            plain.push(' ');
        } else if c == '\'' {
            in_str = true;
            plain.push(' ');
        } else {
            plain.push(c.to_ascii_lowercase());
        }
    }
    let words: Vec<&str> = plain
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    let at = words.iter().rposition(|w| *w == "limit")?;
    let nums: Vec<u64> = words[at + 1..]
        .iter()
        .take_while(|w| **w != "offset")
        .filter_map(|w| w.parse().ok())
        .collect();
    match nums.as_slice() {
        // `LIMIT offset, n`
        [_, n] => Some(*n),
        [n] => Some(*n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crm(method: Method, path: &str, query: Option<&str>, body: Option<&str>) -> u32 {
        cost(Product::Crm, &method, path, query, body.map(str::as_bytes))
    }

    fn data(n: usize) -> String {
        let rows = vec![r#"{"Last_Name":"x"}"#; n].join(",");
        format!(r#"{{"data":[{rows}]}}"#)
    }

    #[test]
    fn crm_costs_follow_zohos_table() {
        assert_eq!(crm(Method::GET, "/crm/v8/Leads", None, None), 1);
        assert_eq!(
            crm(Method::GET, "/crm/v8/Leads", Some("cvid=123&page=2"), None),
            3
        );
        assert_eq!(crm(Method::GET, "/crm/v8/Leads", Some("cvid="), None), 1);
        assert_eq!(crm(Method::GET, "/crm/v8/Leads/deleted", None, None), 2);
        assert_eq!(crm(Method::POST, "/crm/v8/Leads", None, Some(&data(1))), 1);
        assert_eq!(crm(Method::POST, "/crm/v8/Leads", None, Some(&data(10))), 1);
        assert_eq!(crm(Method::POST, "/crm/v8/Leads", None, Some(&data(11))), 2);
        assert_eq!(
            crm(Method::PUT, "/crm/v8/Leads", None, Some(&data(100))),
            10
        );
        assert_eq!(
            crm(Method::POST, "/crm/v8/Leads/upsert", None, Some(&data(25))),
            3
        );
        // A streamed (unkept) body is priced at the most it can cost.
        assert_eq!(crm(Method::POST, "/crm/v8/Leads", None, None), 10);
        assert_eq!(
            crm(Method::POST, "/crm/v8/Leads/1/actions/convert", None, None),
            5
        );
        assert_eq!(
            crm(
                Method::POST,
                "/crm/v8/Leads/1/actions/send_mail",
                None,
                None
            ),
            20
        );
        assert_eq!(
            crm(
                Method::POST,
                "/crm/v8/Leads/actions/add_tags",
                Some("ids=1,2,3"),
                None
            ),
            1
        );
        assert_eq!(
            crm(
                Method::POST,
                "/crm/v8/Leads/actions/remove_tags",
                None,
                Some(&data(51))
            ),
            2
        );
        assert_eq!(crm(Method::POST, "/crm/bulk/v8/read", None, None), 50);
        assert_eq!(crm(Method::POST, "/crm/bulk/v8/write", None, None), 500);
        assert_eq!(crm(Method::GET, "/crm/bulk/v8/read/1", None, None), 1);
        // Fixed resources cost 1 whatever the method.
        assert_eq!(crm(Method::POST, "/crm/v8/settings/modules", None, None), 1);
        assert_eq!(crm(Method::DELETE, "/crm/v8/Leads/1", None, None), 1);
        // Other products count requests.
        assert_eq!(
            cost(
                Product::Books,
                &Method::POST,
                "/books/v3/invoices",
                None,
                None
            ),
            1
        );
        assert_eq!(
            cost(Product::Desk, &Method::GET, "/api/v1/tickets", None, None),
            1
        );
    }

    #[test]
    fn coql_costs_by_limit_tier() {
        let q = |s: &str| crm(Method::POST, "/crm/v8/coql", None, Some(s));
        assert_eq!(q(r#"{"select_query":"select Last_Name from Leads"}"#), 1);
        assert_eq!(q(r#"{"select_query":"select a from Leads limit 200"}"#), 1);
        assert_eq!(
            q(r#"{"select_query":"select a from Leads limit 400, 201"}"#),
            2
        );
        assert_eq!(
            q(r#"{"select_query":"select a from Leads LIMIT 1000 OFFSET 5"}"#),
            2
        );
        assert_eq!(q(r#"{"select_query":"select a from Leads limit 2000"}"#), 3);
        assert_eq!(
            q(r#"{"select_query":"select a from Leads where b = 'x limit 2000' limit 10"}"#),
            1
        );
        // Unreadable: the most a query can cost.
        assert_eq!(crm(Method::POST, "/crm/v8/coql", None, None), 3);
    }

    #[test]
    fn coql_limit_ignores_literals() {
        assert_eq!(coql_limit("select a from b where c = 'limit 9'"), None);
        assert_eq!(
            coql_limit("select a from b where c = 'it''s' limit 7"),
            Some(7)
        );
        assert_eq!(coql_limit("select a from b limit 0,300"), Some(300));
    }
}
