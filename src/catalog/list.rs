//! The whole catalog as data, in match order, for `zoho-proxy scopes --list`
//! and for audits: what each row requires per operation and the Zoho page it
//! was taken from.

use super::{all_entries, crm, desk, finance};
use crate::dc::Upstream;
use crate::inspect::Inspect;
use crate::scope::Operation;

/// One catalog entry with one operation (its methods grouped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub upstream: Upstream,
    /// The path template (placeholders in [`PLACEHOLDERS`]).
    pub path: &'static str,
    /// The methods that perform `operation` here, e.g. `["GET", "HEAD"]`.
    pub methods: Vec<&'static str>,
    pub operation: Operation,
    /// The scope templates with `{op}` filled in, `" + "`-separated: all
    /// are required. Other placeholders are the path's captures.
    pub requires: String,
    pub heavy: bool,
    pub family: &'static str,
    /// The Zoho page the row was taken from.
    pub source: &'static str,
    pub note: Option<&'static str>,
    pub inspect: Option<Inspect>,
}

/// Every row, in the order the matcher tries them (the first match wins).
pub fn rows() -> Vec<Row> {
    let mut out = Vec::new();
    for e in all_entries() {
        let mut ops: Vec<Operation> = Vec::new();
        for (_, op) in e.methods {
            if !ops.contains(op) {
                ops.push(*op);
            }
        }
        for op in ops {
            out.push(Row {
                upstream: e.upstream,
                path: e.path,
                methods: e
                    .methods
                    .iter()
                    .filter(|(_, o)| *o == op)
                    .map(|(m, _)| *m)
                    .collect(),
                operation: op,
                requires: e.scopes.replace("{op}", op.as_str()),
                heavy: e.heavy,
                family: e.family,
                source: e.doc,
                note: e.note,
                inspect: e.inspect,
            });
        }
    }
    out
}

/// What each path placeholder matches, and the capture it provides.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("{v}", "a CRM API version: v2, v2.1, v3 ... v8"),
    ("{id}", "a numeric id"),
    (
        "{module}",
        "a CRM module API name, compared ignoring case and '_'; captures its scope name from the \
         module table (other identifiers: custom; Notes, Attachments and unknown __s modules never match)",
    ),
    (
        "{module:NAME}",
        "a CRM module whose scope name is NAME (e.g. {module:leads} matches Leads)",
    ),
    (
        "{=Name}",
        "the literal Name, compared ignoring case and '_' as Zoho compares API names",
    ),
    (
        "{rel}",
        "a related list whose module is known (module table, Emails, Invited_Events); captures it",
    ),
    (
        "{related}",
        "any other related-list API name (its module cannot be told)",
    ),
    ("{name}", "any identifier (letters, digits, '_')"),
    (
        "{setting}",
        "a CRM settings resource from the settings table; captures its scope name",
    ),
    (
        "{automation}",
        "a resource under /settings/automation from the automation table",
    ),
    (
        "{books}",
        "a Books entity from the Books table; captures its scope entity",
    ),
    (
        "{inventory}",
        "an Inventory entity from the Inventory table",
    ),
    (
        "{desk}",
        "a Desk resource from the Desk table; captures its scope name",
    ),
    ("{**}", "one to eight further segments"),
];

/// The name tables the placeholders use: (placeholder, table of path
/// segment → scope name).
pub fn name_tables() -> [(&'static str, &'static [(&'static str, &'static str)]); 6] {
    [
        ("{module}", crm::MODULES),
        ("{setting}", crm::SETTINGS),
        ("{automation}", crm::AUTOMATION),
        ("{books}", finance::BOOKS),
        ("{inventory}", finance::INVENTORY),
        ("{desk}", desk::RESOURCES),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_and_operation_is_a_row_with_its_source() {
        let rows = rows();
        let entries = all_entries().count();
        assert!(
            rows.len() >= entries,
            "{} rows, {entries} entries",
            rows.len()
        );
        for r in &rows {
            assert!(r.source.starts_with("https://"), "{r:?}");
            assert!(
                !r.methods.is_empty() && !r.requires.contains("{op}"),
                "{r:?}"
            );
        }
        // Grouping: GET and HEAD read, PUT and PATCH update, one row each.
        let records: Vec<&Row> = rows
            .iter()
            .filter(|r| r.path == "/crm/{v}/{module}" && r.upstream == Upstream::Api)
            .collect();
        assert_eq!(records.len(), 4);
        assert_eq!(records[0].methods, ["GET", "HEAD"]);
        assert_eq!(records[0].requires, "ZohoCRM.modules.{module}.READ");
        assert_eq!(records[2].methods, ["PUT", "PATCH"]);
        assert_eq!(records[2].operation, Operation::Update);
        let merge = rows
            .iter()
            .find(|r| r.path.ends_with("/actions/merge") && r.methods == ["POST"]);
        assert_eq!(
            merge.map(|r| r.requires.as_str()),
            Some("ZohoCRM.modules.{module}.WRITE")
        );
    }

    #[test]
    fn every_placeholder_used_is_explained() {
        for r in rows() {
            for seg in r.path.split('/').filter(|s| s.starts_with('{')) {
                let known = PLACEHOLDERS.iter().any(|(p, _)| {
                    *p == seg
                        || (p.starts_with("{module:") && seg.starts_with("{module:"))
                        || (p.starts_with("{=") && seg.starts_with("{="))
                });
                assert!(known, "{}: {seg} is not explained", r.path);
            }
        }
    }
}
