//! Bulk read and bulk write jobs (`POST /crm/bulk/vN/read`, `.../write`):
//! the module is named in the body.
//!
//! - Bulk read: `{"query": {"module": {"api_name": "Leads"}, "fields": [...],
//!   "criteria": {...}}}` (`"module": "Leads"` in v2) needs READ on that
//!   module, and `ZohoCRM.modules.READ` when `fields` or `criteria` use a
//!   dotted lookup field (the lookup's module is not in the body).
//! - Bulk write: `{"operation": "insert", "resource": [{"type": "data",
//!   "module": {"api_name": "Deals"}, "file_id": "...", ...}]}` needs CREATE
//!   and UPDATE on every resource's module, whatever the operation: an
//!   import inserts, updates or upserts, and requiring both is the stricter
//!   reading (a route with `ZohoCRM.modules.deals.WRITE` or `.ALL` covers it).
//!
//! A module object with anything besides `api_name` (an `id`, say), or a
//! resource that also has an `object` key, is refused: Zoho might honour the
//! other one.

use serde_json::Value;

use super::{json, module_needs, Need, NotUnderstood};
use crate::catalog::crm_module_scope;

/// A `module` value: `"Leads"` or `{"api_name": "Leads"}`.
fn module(v: Option<&Value>) -> Result<(&str, &'static str), NotUnderstood> {
    let name = match v {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Object(o)) if o.len() == 1 => o
            .get("api_name")
            .and_then(Value::as_str)
            .ok_or("module must be {\"api_name\": \"...\"}")?,
        Some(_) => return Err("module must be {\"api_name\": \"...\"} and nothing else".into()),
        None => return Err("no module".into()),
    };
    let scope = crm_module_scope(name)
        .ok_or_else(|| format!("{name:?} is not a module the proxy knows how to scope"))?;
    Ok((name, scope))
}

/// Strings under `api_name` or `field` keys anywhere in `v`, and `fields`.
fn dotted(v: &Value, key: Option<&str>, out: &mut Vec<String>) {
    match v {
        Value::String(s)
            if matches!(key, Some("api_name" | "field" | "fields")) && s.contains('.') =>
        {
            out.push(s.clone());
        }
        Value::Array(a) => a.iter().for_each(|x| dotted(x, key, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| dotted(x, Some(k), out)),
        _ => {}
    }
}

pub fn read_needs(body: &[u8]) -> Result<Vec<Need>, NotUnderstood> {
    let v = json(body)?;
    let query = v
        .get("query")
        .and_then(Value::as_object)
        .ok_or("the body has no query object")?;
    let (name, scope) = module(query.get("module")).map_err(|e| format!("query: {e}"))?;
    let mut lookups = Vec::new();
    for (k, x) in query.iter().filter(|(k, _)| *k != "module") {
        dotted(x, Some(k), &mut lookups);
    }
    module_needs(scope, &["READ"], format!("bulk read of {name}"), &lookups)
}

pub fn write_needs(body: &[u8]) -> Result<Vec<Need>, NotUnderstood> {
    let v = json(body)?;
    let resources = v
        .get("resource")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or("the body has no resource array")?;
    let mut out = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        let r = r.as_object().ok_or("a resource is not an object")?;
        if r.contains_key("object") {
            return Err(format!("resource #{}: both module and object", i + 1).into());
        }
        let (name, scope) =
            module(r.get("module")).map_err(|e| format!("resource #{}: {e}", i + 1))?;
        out.extend(module_needs(
            scope,
            &["CREATE", "UPDATE"],
            format!("bulk write to {name}"),
            &[],
        )?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(n: Result<Vec<Need>, NotUnderstood>) -> Result<Vec<String>, String> {
        n.map(|n| {
            n.iter()
                .flat_map(|n| n.scopes.iter().map(|s| s.to_string()))
                .collect()
        })
        .map_err(|e| e.0)
    }

    #[test]
    fn bulk_read_needs_the_modules_read() {
        let body = br#"{"callback": {"url": "https://x.example/cb", "method": "post"},
            "query": {"module": {"api_name": "Contacts"}, "fields": ["Last_Name", "Email"],
                      "criteria": {"group_operator": "and", "group": [{"field": {"api_name": "Lead_Source"}, "comparator": "equal", "value": "Accounts.x"}]}}}"#;
        assert_eq!(
            scopes(read_needs(body)).unwrap(),
            ["ZohoCRM.modules.contacts.READ"]
        );
        let v2 = br#"{"query": {"module": "Deals"}}"#;
        assert_eq!(
            scopes(read_needs(v2)).unwrap(),
            ["ZohoCRM.modules.deals.READ"]
        );
        let lookup = br#"{"query": {"module": {"api_name": "Contacts"},
            "criteria": {"field": {"api_name": "Account_Name.Account_Name"}, "comparator": "equal", "value": "Zylker"}}}"#;
        assert_eq!(
            scopes(read_needs(lookup)).unwrap(),
            ["ZohoCRM.modules.contacts.READ", "ZohoCRM.modules.READ"]
        );
        let notes = br#"{"query": {"module": {"api_name": "Notes"}, "fields": ["Note_Title"]}}"#;
        assert_eq!(
            scopes(read_needs(notes)).unwrap(),
            ["ZohoCRM.modules.notes.READ", "ZohoCRM.modules.READ"]
        );
        let fields =
            br#"{"query": {"module": {"api_name": "Contacts"}, "fields": ["Owner.email"]}}"#;
        assert_eq!(scopes(read_needs(fields)).unwrap().len(), 2);
        for bad in [
            &br#"{}"#[..],
            br#"{"query": {}}"#,
            br#"{"query": {"module": {"api_name": "Leads", "id": "123"}}}"#,
            br#"{"query": {"module": {"id": "123"}}}"#,
            br#"{"query": {"module": 5}}"#,
            br#"{"query": {"module": "settings"}}"#,
            br#"{"query": {"module": "Leads", "Module": "Deals"}}"#,
        ] {
            assert!(read_needs(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn bulk_write_needs_create_and_update_on_each_module() {
        let body = br#"{"operation": "insert", "resource": [
            {"type": "data", "module": {"api_name": "Deals"}, "file_id": "1", "field_mappings": [{"api_name": "Deal_Name", "index": 0}]},
            {"type": "data", "module": "Widgets", "file_id": "2"}]}"#;
        assert_eq!(
            scopes(write_needs(body)).unwrap(),
            [
                "ZohoCRM.modules.deals.CREATE",
                "ZohoCRM.modules.deals.UPDATE",
                "ZohoCRM.modules.custom.CREATE",
                "ZohoCRM.modules.custom.UPDATE"
            ]
        );
        let notes = br#"{"operation": "insert", "resource": [{"type": "data", "module": {"api_name": "Notes"}, "file_id": "1"}]}"#;
        assert_eq!(
            scopes(write_needs(notes)).unwrap(),
            [
                "ZohoCRM.modules.notes.CREATE",
                "ZohoCRM.modules.notes.UPDATE",
                "ZohoCRM.modules.READ"
            ]
        );
        for bad in [
            &br#"{"resource": []}"#[..],
            br#"{"resource": [{"type": "data"}]}"#,
            br#"{"resource": [{"module": {"api_name": "Leads"}, "object": {"module": {"api_name": "Deals"}}}]}"#,
            br#"{"resource": ["Leads"]}"#,
        ] {
            assert!(write_needs(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
