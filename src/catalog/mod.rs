//! Which Zoho scopes an HTTP request needs: a static table of endpoint
//! families plus one small matcher.
//!
//! [`lookup`] walks the entries of `crm`, `finance` and `desk` in order
//! and returns the first one whose upstream, path template and method match.
//! Anything no entry matches gives `None`, and the proxy then denies by
//! default, so the tables are precise rather than generous: a requirement is
//! never weaker than the one Zoho documents, and where Zoho's docs are
//! ambiguous the stricter reading is taken and explained in `note`.
//!
//! # Adding an endpoint family
//!
//! 1. Add an `Entry` to the right table (`crm.rs`, `finance.rs`,
//!    `desk.rs`), above any more generic entry its paths would also match.
//!    - `path` is a template of `/`-separated segments: literals match
//!      exactly; placeholders are listed in `Token` (`{v}` CRM API version,
//!      `{id}` a numeric id, `{module}` a CRM module, `{**}` one or more
//!      further segments, ...).
//!    - `methods` maps each allowed HTTP method to the operation used for
//!      `{op}` (the `CRUD` table: GET/HEAD→READ, POST→CREATE,
//!      PUT/PATCH→UPDATE, DELETE→DELETE; or an override like `POST_READ`).
//!    - `scopes` is a `" + "`-separated list of scope templates; every one is
//!      required. Placeholders: `{op}` and the captures of the path.
//!    - `doc` is the Zoho page the row was taken from (its source): the
//!      page of that call where Zoho has one. `zoho-proxy scopes --list`
//!      prints every row with it ([`list`]).
//! 2. If the family needs a new name table (module names, entity names),
//!    add it next to the others and a `Token` for it.
//! 3. Add rows to the table in `tests.rs`: at least one allowed shape and one
//!    `None` shape; and, for an endpoint Zoho documents, a row in
//!    `tests/catalog_audit.rs` with the requirement and the page it is on.

use std::cell::OnceCell;
use std::fmt;
use std::sync::LazyLock;

use crate::dc::Upstream;
use crate::inspect::Inspect;
use crate::scope::{Operation, Scope};
use crate::segment_index::SegmentIndex;

#[path = "crm.rs"]
mod crm;
#[path = "desk.rs"]
mod desk;
#[path = "finance.rs"]
mod finance;
#[path = "list.rs"]
pub mod list;
#[cfg(test)]
#[path = "tests.rs"]
mod tests;

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// ALL of these are needed (upsert = CREATE and UPDATE).
    pub scopes: Vec<Scope>,
    /// Zoho counts it against the sub-concurrency limit of 10 (COQL, bulk,
    /// upsert, mass update, convert, send mail).
    pub heavy: bool,
    /// e.g. "crm.records", "crm.coql", "books.entity", "desk".
    pub family: &'static str,
    /// URL of the Zoho doc page for this family.
    pub doc: &'static str,
    /// Ambiguity notes, stricter-reading explanations.
    pub note: Option<&'static str>,
    /// What the call touches is named in its body, which must be inspected
    /// ([`crate::inspect`]): `scopes` is then only what the call itself needs.
    pub inspect: Option<Inspect>,
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.scopes.iter().enumerate() {
            if i > 0 {
                f.write_str(" + ")?;
            }
            write!(f, "{s}")?;
        }
        write!(f, " ({}", self.family)?;
        if self.heavy {
            f.write_str(", heavy")?;
        }
        if let Some(i) = self.inspect {
            write!(f, ", + {}", i.what())?;
        }
        f.write_str(")")
    }
}

/// One endpoint family (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub upstream: Upstream,
    pub path: &'static str,
    pub methods: &'static [(&'static str, Operation)],
    pub scopes: &'static str,
    pub heavy: bool,
    pub family: &'static str,
    pub doc: &'static str,
    pub note: Option<&'static str>,
    pub inspect: Option<Inspect>,
}

impl Entry {
    pub(crate) const fn new(
        upstream: Upstream,
        path: &'static str,
        methods: &'static [(&'static str, Operation)],
        scopes: &'static str,
        family: &'static str,
        doc: &'static str,
    ) -> Entry {
        Entry {
            upstream,
            path,
            methods,
            scopes,
            heavy: false,
            family,
            doc,
            note: None,
            inspect: None,
        }
    }

    /// The body says what the call touches: the proxy inspects it.
    pub(crate) const fn inspect(mut self, inspect: Inspect) -> Entry {
        self.inspect = Some(inspect);
        self
    }

    /// Mark as counted against Zoho's sub-concurrency limit.
    pub(crate) const fn heavy(mut self) -> Entry {
        self.heavy = true;
        self
    }

    pub(crate) const fn note(mut self, note: &'static str) -> Entry {
        self.note = Some(note);
        self
    }
}

use Operation::{All, Create, Delete, Read, Update};

/// The default method → operation mapping.
pub(crate) const CRUD: &[(&str, Operation)] = &[
    ("GET", Read),
    ("HEAD", Read),
    ("POST", Create),
    ("PUT", Update),
    ("PATCH", Update),
    ("DELETE", Delete),
];
pub(crate) const GET_ONLY: &[(&str, Operation)] = &[("GET", Read), ("HEAD", Read)];
pub(crate) const GET_POST: &[(&str, Operation)] =
    &[("GET", Read), ("HEAD", Read), ("POST", Create)];
pub(crate) const POST_ONLY: &[(&str, Operation)] = &[("POST", Create)];
pub(crate) const POST_READ: &[(&str, Operation)] = &[("POST", Read)];
pub(crate) const POST_UPDATE: &[(&str, Operation)] = &[("POST", Update)];
pub(crate) const POST_DELETE: &[(&str, Operation)] = &[("POST", Delete)];
pub(crate) const GET_READ_POST_DELETE: &[(&str, Operation)] =
    &[("GET", Read), ("HEAD", Read), ("POST", Delete)];
pub(crate) const ANY_ALL: &[(&str, Operation)] = &[
    ("GET", All),
    ("HEAD", All),
    ("POST", All),
    ("PUT", All),
    ("PATCH", All),
    ("DELETE", All),
];
pub(crate) const GET_POST_DELETE: &[(&str, Operation)] = &[
    ("GET", Read),
    ("HEAD", Read),
    ("POST", Create),
    ("DELETE", Delete),
];

/// CRM API versions that exist (v1 was the retired XML API; there is no v9).
const CRM_VERSIONS: &[&str] = &["v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"];

/// Longest tail `{**}` accepts.
const MAX_TAIL: usize = 8;

/// Path template placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// A CRM API version from `CRM_VERSIONS`.
    Version,
    /// A numeric record id.
    Id,
    /// A CRM module API name → its scope name (`module` capture); never
    /// Notes or Attachments, whose parent module a path of their own does not
    /// name (`crm::PARENTED`).
    Module,
    /// A CRM module whose scope name is exactly the given one.
    ModuleIs(&'static str),
    /// A literal compared as Zoho compares module and related-list names:
    /// ignoring ASCII case and underscores (`{=Contact_Roles}`; no capture).
    Folded(&'static str),
    /// A CRM related-list API name with a known module (`rel` capture).
    Related,
    /// Any other related-list API name (no capture).
    AnyRelated,
    /// Any identifier segment (no capture).
    Name,
    /// A CRM settings resource (`setting` capture).
    Setting,
    /// A CRM automation resource under /settings/automation (`setting`).
    Automation,
    /// A Books entity (`entity` capture).
    Books,
    /// An Inventory entity (`entity` capture).
    Inventory,
    /// A Desk resource (`resource` capture).
    Desk,
    /// One or more further segments.
    Tail,
}

fn parse_token(t: &'static str) -> Option<Token> {
    Some(match t {
        "{v}" => Token::Version,
        "{id}" => Token::Id,
        "{module}" => Token::Module,
        "{module:leads}" => Token::ModuleIs("leads"),
        "{module:contacts}" => Token::ModuleIs("contacts"),
        "{module:deals}" => Token::ModuleIs("deals"),
        "{module:quotes}" => Token::ModuleIs("quotes"),
        "{module:salesorders}" => Token::ModuleIs("salesorders"),
        "{rel}" => Token::Related,
        "{related}" => Token::AnyRelated,
        "{name}" => Token::Name,
        "{setting}" => Token::Setting,
        "{automation}" => Token::Automation,
        "{books}" => Token::Books,
        "{inventory}" => Token::Inventory,
        "{desk}" => Token::Desk,
        "{**}" => Token::Tail,
        _ => {
            let name = t.strip_prefix("{=")?.strip_suffix('}')?;
            return identifier(name).then_some(Token::Folded(name));
        }
    })
}

/// A segment a placeholder may match: ASCII letters, digits, `_ - .`.
fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// An identifier: ASCII letters, digits and `_`, not starting with `__`.
fn identifier(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with("__")
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Most placeholders a template may capture (templates use three at most).
const MAX_CAPTURES: usize = 6;

/// What a template's placeholders captured, kept inline: matching a path
/// against the catalog allocates nothing.
#[derive(Debug, Clone, Copy, Default)]
struct Captures {
    items: [(&'static str, &'static str); MAX_CAPTURES],
    len: usize,
}

impl Captures {
    /// Adds a capture; `false` if the template captures too much.
    fn push(&mut self, capture: (&'static str, &'static str)) -> bool {
        let Some(slot) = self.items.get_mut(self.len) else {
            return false;
        };
        *slot = capture;
        self.len += 1;
        true
    }

    fn get(&self, key: &str) -> Option<&'static str> {
        self.items
            .get(..self.len)?
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }
}

/// The request path's segments, with the (costlier) module and related-list
/// lookups done at most once per segment, however many entries ask.
struct Segments<'p> {
    segs: Vec<&'p str>,
    /// Per segment: its module scope and its related-list scope, once asked.
    names: Vec<(Lookup, Lookup)>,
}

type Lookup = OnceCell<Option<&'static str>>;

impl<'p> Segments<'p> {
    fn new(path: &'p str) -> Option<Self> {
        let segs: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        let n = segs.len();
        Some(Segments {
            segs,
            names: vec![(OnceCell::new(), OnceCell::new()); n],
        })
    }

    fn module(&self, i: usize) -> Option<&'static str> {
        *self.names[i]
            .0
            .get_or_init(|| crm::path_module_scope(self.segs[i]))
    }

    fn related(&self, i: usize) -> Option<&'static str> {
        *self.names[i]
            .1
            .get_or_init(|| crm::related_scope(self.segs[i]))
    }
}

/// Match one placeholder against segment `i`.
fn match_token(token: Token, path: &Segments<'_>, i: usize, caps: &mut Captures) -> bool {
    let seg = path.segs[i];
    let (key, value) = match token {
        Token::Version => return CRM_VERSIONS.contains(&seg),
        Token::Id => {
            return !seg.is_empty() && seg.len() <= 30 && seg.bytes().all(|b| b.is_ascii_digit())
        }
        Token::Name => return identifier(seg) && !crm::RESERVED_RELATED.contains(&seg),
        Token::Folded(name) => return crm::normalize_eq(name, seg),
        Token::AnyRelated => {
            return identifier(seg)
                && !crm::RESERVED_RELATED.contains(&seg)
                && !crm::own_family_related(seg)
                && path.related(i).is_none()
        }
        Token::Tail => return safe_segment(seg),
        Token::Module | Token::ModuleIs(_) => match path.module(i) {
            Some(m) if token == Token::Module || token == Token::ModuleIs(m) => ("module", Some(m)),
            _ => return false,
        },
        Token::Related => ("rel", path.related(i)),
        Token::Setting => ("setting", table(crm::SETTINGS, seg)),
        Token::Automation => ("setting", table(crm::AUTOMATION, seg)),
        Token::Books => ("entity", table(finance::BOOKS, seg)),
        Token::Inventory => ("entity", table(finance::INVENTORY, seg)),
        Token::Desk => ("resource", table(desk::RESOURCES, seg)),
    };
    let Some(value) = value else { return false };
    caps.push((key, value))
}

/// Exact-match lookup in a `(path segment, scope name)` table.
pub(crate) fn table(t: &'static [(&'static str, &'static str)], seg: &str) -> Option<&'static str> {
    t.iter().find(|(k, _)| *k == seg).map(|(_, v)| *v)
}

/// One template segment, parsed once.
#[derive(Debug, Clone, Copy)]
enum Seg {
    Literal(&'static str),
    Token(Token),
}

/// An entry with its path template parsed.
struct Compiled {
    entry: &'static Entry,
    segs: Vec<Seg>,
}

/// Every entry, templates parsed on first use.
static COMPILED: LazyLock<Vec<Compiled>> = LazyLock::new(|| {
    all_entries()
        .map(|entry| Compiled {
            entry,
            segs: entry
                .path
                .split('/')
                .skip(1)
                .map(|t| parse_token(t).map_or(Seg::Literal(t), Seg::Token))
                .collect(),
        })
        .collect()
});

/// The entries filed under one of their literal segments, so a lookup only
/// tries entries that can match (every template segment before `{**}`
/// matches exactly one path segment, so a literal's position is fixed).
static INDEX: LazyLock<SegmentIndex> = LazyLock::new(|| {
    let literals: Vec<Vec<(usize, &str)>> = COMPILED
        .iter()
        .map(|c| {
            c.segs
                .iter()
                .enumerate()
                .filter_map(|(i, s)| match s {
                    Seg::Literal(l) => Some((i, *l)),
                    Seg::Token(_) => None,
                })
                .collect()
        })
        .collect();
    SegmentIndex::new(&literals)
});

/// Match a whole path against a template; `None` if it does not match.
fn match_path(template: &[Seg], path: &Segments<'_>) -> Option<Captures> {
    let psegs = &path.segs;
    // Only `{**}`, always last, matches more than one segment.
    let tail = matches!(template.last(), Some(Seg::Token(Token::Tail)));
    if psegs.len() < template.len() || (!tail && psegs.len() > template.len()) {
        return None;
    }
    let mut caps = Captures::default();
    for (i, t) in template.iter().enumerate() {
        match *t {
            Seg::Token(Token::Tail) => {
                let rest = psegs.get(i..)?;
                let ok = !rest.is_empty()
                    && rest.len() <= MAX_TAIL
                    && rest.iter().all(|s| safe_segment(s));
                return ok.then_some(caps);
            }
            Seg::Token(token) => {
                if i >= psegs.len() || !match_token(token, path, i, &mut caps) {
                    return None;
                }
            }
            Seg::Literal(lit) => {
                if *psegs.get(i)? != lit {
                    return None;
                }
            }
        }
    }
    (psegs.len() == template.len()).then_some(caps)
}

/// Fill in a scope template; `None` if a placeholder is unknown or the result
/// does not parse (a table bug, never a panic).
fn render(template: &str, op: Operation, caps: &Captures) -> Option<Vec<Scope>> {
    template
        .split(" + ")
        .map(|one| {
            let mut out = String::with_capacity(one.len() + 16);
            let mut rest = one;
            while let Some(start) = rest.find('{') {
                out.push_str(&rest[..start]);
                let end = rest[start..].find('}')? + start;
                let key = &rest[start + 1..end];
                if key == "op" {
                    out.push_str(op.as_str());
                } else {
                    out.push_str(caps.get(key)?);
                }
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            Scope::from_string(out).ok()
        })
        .collect()
}

fn all_entries() -> impl Iterator<Item = &'static Entry> {
    crm::ENTRIES
        .iter()
        .chain(finance::ENTRIES.iter())
        .chain(desk::ENTRIES.iter())
}

/// The scope name of a CRM module API name, as the path matcher sees it
/// (`Leads` → `leads`, `Price_Books` → `pricebooks`, other identifiers →
/// `custom`); `None` for reserved words and unknown `__s` system modules.
pub fn crm_module_scope(api_name: &str) -> Option<&'static str> {
    crm::module_scope(api_name)
}

/// Whether records of the module with this scope name always belong to a
/// parent record in another module (`notes`, `attachments`): Zoho checks the
/// parent module's scope too.
pub fn crm_parented(scope_name: &str) -> bool {
    crm::PARENTED.contains(&scope_name)
}

/// `path` is an already-canonical request path (starts with '/', no empty or
/// dot segments, no query string). `method` is uppercase (GET HEAD POST PUT
/// PATCH DELETE OPTIONS).
pub fn lookup(upstream: Upstream, method: &str, path: &str) -> Option<Requirement> {
    if path.contains(['?', '#']) {
        return None;
    }
    // Split once; every entry is matched against the same segments.
    let segments = Segments::new(path)?;
    let mut found = None;
    INDEX.first(segments.segs.iter().copied(), |i| {
        let Some(Compiled { entry: e, segs }) = COMPILED.get(i) else {
            return false;
        };
        if e.upstream != upstream {
            return false;
        }
        let Some(op) = e
            .methods
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, op)| *op)
        else {
            return false;
        };
        let Some(caps) = match_path(segs, &segments) else {
            return false;
        };
        found = Some((e, op, caps));
        true
    });
    let (e, op, caps) = found?;
    let scopes = render(e.scopes, op, &caps)?;
    Some(Requirement {
        scopes,
        heavy: e.heavy,
        family: e.family,
        doc: e.doc,
        note: e.note,
        inspect: e.inspect,
    })
}
