//! Body inspection: COQL queries, composite requests, bulk jobs.

use http::Method;
use serde_json::Value;
use zoho_proxy::canon::canonicalize;
use zoho_proxy::catalog::{self, crm_module_scope};
use zoho_proxy::dc::Upstream;
use zoho_proxy::inspect::{coql, needs, Inspect, Need};

const KINDS: [Inspect; 4] = [
    Inspect::Coql,
    Inspect::Composite,
    Inspect::BulkRead,
    Inspect::BulkWrite,
];

/// Input: a COQL query (the `select_query` string).
pub fn check_coql(data: &[u8]) {
    query(&super::text(data));
}

/// Input: one byte picks the kind, the rest is the body.
pub fn check(data: &[u8]) {
    let Some((k, body)) = data.split_first() else {
        return;
    };
    inspect(KINDS[*k as usize % KINDS.len()], body);
}

pub fn query(q: &str) {
    let parsed = coql::parse(q);
    if let Ok(p) = &parsed {
        // The scope is the catalog's for the module after FROM.
        assert_eq!(crm_module_scope(&p.module), Some(p.scope), "{q}");
        assert!(q.contains(p.module.as_str()), "{q}");
        assert!(
            q.trim_start()
                .get(..6)
                .is_some_and(|s| s.eq_ignore_ascii_case("select")),
            "{q}"
        );
        for l in &p.lookups {
            assert!(l.contains('.') && q.contains(l.as_str()), "{q}: {l}");
        }
        // Whatever follows, a comment, a second statement or a union is
        // refused, never read as the same query.
        for tail in [
            " -- x",
            " /* x */",
            "; select a from Deals",
            " union select a from Deals",
        ] {
            // `q` parsed, so every string literal in it is closed.
            let more = format!("{q}{tail}");
            assert!(coql::parse(&more).is_err(), "{more:?} was accepted");
        }
    }
    // Spacing is not meaning: tabs for spaces give the same answer.
    let tabbed = coql::parse(&q.replace(' ', "\t"));
    assert_eq!(
        parsed.as_ref().map(|p| (&p.module, p.scope, &p.lookups)),
        tabbed.as_ref().map(|p| (&p.module, p.scope, &p.lookups)),
        "{q:?}"
    );
    // The same through the body check.
    let body = serde_json::json!({ "select_query": q }).to_string();
    let through = needs(Inspect::Coql, body.as_bytes());
    assert_eq!(parsed.is_ok(), through.is_ok(), "{q:?}");
    if let (Ok(p), Ok(n)) = (&parsed, &through) {
        let mut expected = vec![
            "ZohoCRM.coql.READ".to_owned(),
            format!("ZohoCRM.modules.{}.READ", p.scope),
        ];
        // Notes and attachments belong to a parent record whose module the
        // query does not name: READ on every module covers it (issue 11).
        if matches!(p.scope, "notes" | "attachments") {
            expected.push("ZohoCRM.modules.READ".to_owned());
        }
        // So does a dotted lookup field's module.
        if !p.lookups.is_empty() {
            expected.push("ZohoCRM.modules.READ".to_owned());
        }
        assert_eq!(all_scopes(n), expected, "{q:?}");
    }
}

fn all_scopes(needs: &[Need]) -> Vec<String> {
    needs
        .iter()
        .flat_map(|n| n.scopes.iter().map(|s| s.to_string()))
        .collect()
}

/// The key the body of `kind` is about.
fn key(kind: Inspect) -> &'static str {
    match kind {
        Inspect::Coql => "select_query",
        Inspect::Composite => "__composite_requests",
        Inspect::BulkRead => "query",
        Inspect::BulkWrite => "resource",
    }
}

pub fn inspect(kind: Inspect, body: &[u8]) {
    let Ok(found) = needs(kind, body) else {
        return;
    };
    // Strict parsing accepts no more than JSON does.
    let v: Value = serde_json::from_slice(body).expect("an accepted body is JSON");
    assert!(!found.is_empty());
    for n in &found {
        assert!(!n.scopes.is_empty(), "{}", n.by);
        assert!(!n.by.is_empty());
        if let Some((method, path)) = &n.call {
            sub_request(method, path, n);
        }
    }
    if kind == Inspect::Composite {
        let subs = v[key(kind)].as_array().map_or(0, Vec::len);
        let calls = found.iter().filter(|n| n.call.is_some()).count();
        assert_eq!(calls, subs, "every sub-request is judged");
    }
    // The same key twice, in another case, is refused: Zoho might read the other.
    if let Some(open) = body.iter().position(|b| *b == b'{') {
        let dup = format!("{{\"{}\": null, ", key(kind).to_ascii_uppercase());
        let mut twice = body[..open].to_vec();
        twice.extend_from_slice(dup.as_bytes());
        twice.extend_from_slice(&body[open + 1..]);
        assert!(
            needs(kind, &twice).is_err(),
            "{}",
            String::from_utf8_lossy(&twice)
        );
    }
}

/// A composite's sub-request is judged as if it came alone.
fn sub_request(method: &Method, path: &str, n: &Need) {
    let canonical = canonicalize(path).expect("a sub-request path is canonical");
    assert_eq!(canonical.as_str(), path);
    assert!(path.starts_with("/crm/"), "{path}");
    let alone = catalog::lookup(Upstream::Api, method.as_str(), path)
        .unwrap_or_else(|| panic!("{method} {path} is unknown to the catalog"));
    assert_eq!(alone.scopes, n.scopes, "{}", n.by);
}
