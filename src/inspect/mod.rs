//! Body inspection: for the few Zoho calls whose path does not say what they
//! touch (COQL, composite requests, bulk read and write jobs), the module or
//! sub-requests are named in the body. The catalog marks those endpoints
//! ([`Inspect`]); the pipeline keeps their body whole (at most
//! `replay_buffer`) and [`check`] requires what it names, before the token
//! stage, so a refused call costs Zoho nothing.
//!
//! The parsers are pure functions over `&[u8]` ([`needs`]) and strict: a
//! body they are not sure about is refused (`BODY_NOT_UNDERSTOOD`), never
//! passed. JSON objects with the same key twice (ignoring ASCII case) are
//! refused too: Zoho's parser might take the other one.

pub mod bulk;
pub mod composite;
pub mod coql;

use std::collections::HashSet;
use std::fmt;

use http::Method;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::canon::canonicalize;
use crate::error::ProxyError;
use crate::route::Decision;
use crate::scope::Scope;

/// Which inspection an endpoint's body needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inspect {
    /// `{"select_query": "..."}`: the modules the query reads ([`coql`]).
    Coql,
    /// `{"__composite_requests": [...]}`: every sub-request ([`composite`]).
    Composite,
    /// A bulk read job: `query.module` ([`bulk`]).
    BulkRead,
    /// A bulk write job: `resource[].module` ([`bulk`]).
    BulkWrite,
}

impl Inspect {
    /// What the body adds to the requirement, for `zoho-proxy scopes`.
    pub fn what(self) -> &'static str {
        match self {
            Inspect::Coql => "READ on the modules the query reads",
            Inspect::Composite => "what each sub-request needs",
            Inspect::BulkRead => "READ on the module exported",
            Inspect::BulkWrite => "CREATE + UPDATE on the modules imported",
        }
    }
}

/// Scopes one part of a body needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub scopes: Vec<Scope>,
    /// That part, for messages: `FROM Deals`, `sub-request 2: DELETE /crm/v6/Deals/1`.
    pub by: String,
    /// A sub-request (method, Zoho path): the route must allow it as if it came alone.
    pub call: Option<(Method, String)>,
}

/// Why the proxy cannot tell what a body touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUnderstood(pub String);

impl fmt::Display for NotUnderstood {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<T: Into<String>> From<T> for NotUnderstood {
    fn from(s: T) -> Self {
        NotUnderstood(s.into())
    }
}

/// What `body` requires besides the path's own requirement.
pub fn needs(kind: Inspect, body: &[u8]) -> Result<Vec<Need>, NotUnderstood> {
    match kind {
        Inspect::Coql => coql_needs(body),
        Inspect::Composite => composite::needs(body),
        Inspect::BulkRead => bulk::read_needs(body),
        Inspect::BulkWrite => bulk::write_needs(body),
    }
}

/// `ZohoCRM.modules.READ`: what a dotted lookup field or a parented module
/// (Notes, Attachments) needs, since the other module is not in the body.
pub(crate) const ALL_MODULES_READ: &str = "ZohoCRM.modules.READ";

pub(crate) fn scope(text: &str) -> Result<Scope, NotUnderstood> {
    text.parse()
        .map_err(|_| NotUnderstood(format!("{text} is not a scope")))
}

/// One need per operation on a module's scope name; one for the parent
/// records of Notes and Attachments; one for lookups if any.
///
/// Notes and attachments belong to a parent record in another module, and
/// Zoho checks the parent's scope too (as for the related lists
/// `/{Module}/{id}/Notes`). A body naming Notes does not say which module the
/// parents are in, so, as for a lookup, only READ on every module covers it:
/// `ZohoCRM.modules.READ`.
pub(crate) fn module_needs(
    scope_name: &str,
    ops: &[&str],
    by: String,
    lookups: &[String],
) -> Result<Vec<Need>, NotUnderstood> {
    let mut out = Vec::new();
    for op in ops {
        out.push(Need {
            scopes: vec![self::scope(&format!("ZohoCRM.modules.{scope_name}.{op}"))?],
            by: by.clone(),
            call: None,
        });
    }
    if crate::catalog::crm_parented(scope_name) {
        out.push(Need {
            scopes: vec![self::scope(ALL_MODULES_READ)?],
            by: format!("{by}: the parent records (their module is not in the body)"),
            call: None,
        });
    }
    if let Some(first) = lookups.first() {
        out.push(Need {
            scopes: vec![self::scope(ALL_MODULES_READ)?],
            by: format!("lookup field {first} (its module is not in the body)"),
            call: None,
        });
    }
    Ok(out)
}

fn coql_needs(body: &[u8]) -> Result<Vec<Need>, NotUnderstood> {
    let v = json(body)?;
    let q = v
        .get("select_query")
        .and_then(Value::as_str)
        .ok_or("the body has no select_query string")?;
    let query = coql::parse(q).map_err(|e| format!("select_query: {e}"))?;
    let mut out = vec![Need {
        scopes: vec![scope("ZohoCRM.coql.READ")?],
        by: "COQL".into(),
        call: None,
    }];
    out.extend(module_needs(
        query.scope,
        &["READ"],
        format!("FROM {}", query.module),
        &query.lookups,
    )?);
    Ok(out)
}

/// The stage: refuses a body the route's scopes do not cover (or that cannot
/// be inspected) and adds what it needs to `decision.required`, so that the
/// token's grant is checked against it too. `body` is all of it.
pub fn check(decision: &mut Decision<'_>, method: &Method, body: &[u8]) -> Result<(), ProxyError> {
    let Some(kind) = decision.inspect else {
        return Ok(());
    };
    let route = decision.route;
    let not_understood = |reason: String| ProxyError::BodyNotUnderstood {
        route: route.name.clone(),
        method: method.to_string(),
        path: decision.forward.to_string(),
        reason,
    };
    let needs = needs(kind, body).map_err(|e| not_understood(e.0))?;
    for need in &needs {
        if let Some((m, path)) = &need.call {
            // As if it came alone: this route's methods and path pattern too.
            let seen = match &route.strip_prefix {
                Some(prefix) => canonicalize(&format!("{prefix}{path}")).ok(),
                None => canonicalize(path).ok(),
            };
            if !route.methods.contains(m) || !seen.is_some_and(|p| route.pattern.matches(&p)) {
                return Err(not_understood(format!(
                    "{}: route {} does not allow {m} {path}",
                    need.by, route.name
                )));
            }
        }
        let missing = route.scopes.missing(&need.scopes);
        if !missing.is_empty() {
            return Err(ProxyError::ScopeNotAllowed {
                route: route.name.clone(),
                required: need.scopes.iter().map(|s| s.to_string()).collect(),
                missing: missing.iter().map(|s| s.to_string()).collect(),
                method: method.to_string(),
                path: decision.forward.to_string(),
                needed_by: Some(need.by.as_str().into()),
            });
        }
    }
    for s in needs.into_iter().flat_map(|n| n.scopes) {
        if !decision.required.contains(&s) {
            decision.required.push(s);
        }
    }
    Ok(())
}

/// Parses a JSON body strictly: UTF-8 JSON, one value, no key twice in an
/// object (compared ignoring ASCII case).
pub(crate) fn json(body: &[u8]) -> Result<Value, NotUnderstood> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let v = <Strict as serde::Deserialize>::deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| NotUnderstood(format!("the body is not JSON the proxy understands ({e})")))?;
    Ok(v.0)
}

/// A JSON value whose objects have no duplicate keys.
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        let mut seen = HashSet::new();
        while let Some(k) = map.next_key::<String>()? {
            if !seen.insert(k.to_ascii_lowercase()) {
                return Err(de::Error::custom(format!("key {k:?} appears twice")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(needs: &[Need]) -> Vec<String> {
        needs
            .iter()
            .flat_map(|n| n.scopes.iter().map(|s| s.to_string()))
            .collect()
    }

    #[test]
    fn json_is_parsed_strictly() {
        assert!(json(br#"{"a": [1, {"b": null}]}"#).is_ok());
        for bad in [
            &br#"{"a": 1, "a": 2}"#[..],
            br#"{"select_query": "x", "SELECT_QUERY": "y"}"#,
            br#"[{"k": 1, "K": 1}]"#,
            br#"{"a": 1} {"a": 2}"#,
            br#"{"a": 1"#,
            b"\xef\xbb\xbf{}",
            b"",
        ] {
            assert!(json(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn coql_needs_coql_read_and_the_modules_read() {
        let n = needs(
            Inspect::Coql,
            br#"{"select_query": "select Last_Name from Leads where Last_Name = 'x'"}"#,
        )
        .unwrap();
        assert_eq!(
            scopes(&n),
            ["ZohoCRM.coql.READ", "ZohoCRM.modules.leads.READ"]
        );
        assert_eq!(n[1].by, "FROM Leads");
        let n = needs(
            Inspect::Coql,
            br#"{"select_query": "select Owner.email from Deals"}"#,
        )
        .unwrap();
        assert_eq!(
            scopes(&n),
            [
                "ZohoCRM.coql.READ",
                "ZohoCRM.modules.deals.READ",
                "ZohoCRM.modules.READ"
            ]
        );
        let n = needs(
            Inspect::Coql,
            br#"{"select_query": "select a from Things_X"}"#,
        )
        .unwrap();
        assert_eq!(scopes(&n)[1], "ZohoCRM.modules.custom.READ");
        // Notes and Attachments: the parents' module is not in the query.
        let n = needs(
            Inspect::Coql,
            br#"{"select_query": "select Note_Title from Notes where Note_Title is not null"}"#,
        )
        .unwrap();
        assert_eq!(
            scopes(&n),
            [
                "ZohoCRM.coql.READ",
                "ZohoCRM.modules.notes.READ",
                "ZohoCRM.modules.READ"
            ]
        );
        assert!(n[2].by.contains("parent"), "{}", n[2].by);
        let n = needs(
            Inspect::Coql,
            br#"{"select_query": "select File_Name from ATTACHMENTS"}"#,
        )
        .unwrap();
        assert_eq!(
            scopes(&n)[1..],
            ["ZohoCRM.modules.attachments.READ", "ZohoCRM.modules.READ"]
        );
        for bad in [
            &b"{}"[..],
            b"",
            br#"{"select_query": 1}"#,
            br#"{"select_query": "select a from Leads", "select_query": "select a from Deals"}"#,
            br#"{"select_query": "select a from Leads -- x"}"#,
        ] {
            assert!(needs(Inspect::Coql, bad).is_err());
        }
    }
}
