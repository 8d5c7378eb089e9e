//! Zoho OAuth scopes: parsing, printing and the "does this grant cover that
//! requirement" relation.
//!
//! A Zoho scope is `Service.name.OPERATION`, for example
//! `ZohoCRM.modules.leads.READ`: the service (`ZohoCRM`), a dotted name of one
//! or more parts (`modules.leads`) and an operation (`READ`). Sources: Zoho's
//! OAuth scope page (<https://www.zoho.com/accounts/protocol/oauth/scope.html>),
//! CRM scopes (<https://www.zoho.com/crm/developer/docs/api/v8/scopes.html>)
//! and `shared/zoho-reference.md` ("Scopes").
//!
//! Covering rules (see [`Scope::covers`]):
//! - operations: `ALL` covers every operation; in CRM `WRITE` covers
//!   `CREATE`, `UPDATE`, `DELETE` and `WRITE` (elsewhere only `WRITE`, see
//!   [`WRITE_ALIAS`]); any other operation covers only itself.
//!   Operations compare case-insensitively (Zoho's own token responses mix
//!   `Create`, `CREATE`, `all`).
//! - service: must be equal.
//! - name: the granted name must equal the required name or be a prefix of it
//!   that ends at a dot (`modules` covers `modules.leads`, `modules.lead` does
//!   not).
//! - every part (service, name parts, operation) compares ignoring ASCII case,
//!   as Zoho does in practice: its grants and docs mix `Leads` / `leads`,
//!   `Files` / `files`, `FullAccess` / `fullaccess`, `ALL` / `all`. Scopes are
//!   ASCII by grammar, so this is the only folding needed. Equality and
//!   hashing follow the same rule; [`fmt::Display`] keeps the text as written.
//! - documented exceptions to the prefix rule live in [`COVER_EXCEPTIONS`]
//!   (data, not code): e.g. `ZohoBooks.fullaccess.all` covers all of Books.

use std::fmt;
use std::str::FromStr;

/// The operation part of a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    All,
    Read,
    Create,
    Update,
    Delete,
    /// CRM only: alias for CREATE + UPDATE + DELETE.
    Write,
    /// CRM only: e.g. `ZohoCRM.composite_requests.CUSTOM`.
    Custom,
}

impl Operation {
    /// Every operation, in the order error messages list them.
    pub const ALL_OPS: [Operation; 7] = [
        Operation::All,
        Operation::Read,
        Operation::Create,
        Operation::Update,
        Operation::Delete,
        Operation::Write,
        Operation::Custom,
    ];

    /// The canonical (upper-case) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::All => "ALL",
            Operation::Read => "READ",
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Write => "WRITE",
            Operation::Custom => "CUSTOM",
        }
    }

    /// Parse an operation, ignoring ASCII case.
    pub fn parse(s: &str) -> Option<Operation> {
        Operation::ALL_OPS
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether a grant of `self` allows an operation that requires `required`.
    /// A required `ALL` is covered only by `ALL`; a required `WRITE` only by
    /// `WRITE` or `ALL`.
    pub fn covers(self, required: Operation) -> bool {
        match (self, required) {
            (Operation::All, _) => true,
            (
                Operation::Write,
                Operation::Create | Operation::Update | Operation::Delete | Operation::Write,
            ) => true,
            (granted, required) => granted == required,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const GRAMMAR: &str =
    "Service.name[.name...].OPERATION, parts made of ASCII letters, digits, '_' and '-'";
const VALID_OPS: &str = "ALL, READ, CREATE, UPDATE, DELETE, WRITE, CUSTOM (any case)";

/// Why a string is not a Zoho scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("empty scope; expected {GRAMMAR}")]
    Empty,
    #[error(
        "scope {input:?} has {parts} dot-separated part(s), needs at least 3; expected {GRAMMAR}"
    )]
    TooFewParts { input: String, parts: usize },
    #[error("scope {input:?} has an empty part at position {position}; expected {GRAMMAR}")]
    EmptyPart { input: String, position: usize },
    #[error("scope {input:?} has invalid character {ch:?} in part {part:?}; expected {GRAMMAR}")]
    InvalidChar {
        input: String,
        part: String,
        ch: char,
    },
    #[error("scope {input:?} has unknown operation {operation:?}; valid operations: {VALID_OPS}")]
    UnknownOperation { input: String, operation: String },
}

/// A parsed scope. Keeps the text as written so that [`fmt::Display`] echoes
/// the user's spelling (`ZohoBooks.fullaccess.all` stays lower-case), while
/// equality and hashing ignore ASCII case (`ZohoCRM.modules.Leads.READ` ==
/// `ZohoCRM.modules.leads.read`).
#[derive(Debug, Clone)]
pub struct Scope {
    text: String,
    /// Byte index of the first dot (end of the service).
    service_end: usize,
    /// Byte index of the last dot (start of the operation minus one).
    op_dot: usize,
    operation: Operation,
}

impl PartialEq for Scope {
    fn eq(&self, other: &Self) -> bool {
        self.text.eq_ignore_ascii_case(&other.text)
    }
}

impl Eq for Scope {}

impl std::hash::Hash for Scope {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for b in self.text.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
        state.write_u8(0xff);
    }
}

fn valid_part_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (service_end, op_dot, operation) = Scope::check(input)?;
        Ok(Scope {
            text: input.to_string(),
            service_end,
            op_dot,
            operation,
        })
    }
}

impl Scope {
    /// [`Scope::from_str`] keeping `text`'s buffer (the catalog renders a
    /// scope into a fresh string for each request it checks).
    pub fn from_string(text: String) -> Result<Self, ScopeError> {
        let (service_end, op_dot, operation) = Scope::check(&text)?;
        Ok(Scope {
            text,
            service_end,
            op_dot,
            operation,
        })
    }

    /// Checks a scope's syntax: where its service ends, where its operation
    /// starts (minus one), and the operation.
    fn check(input: &str) -> Result<(usize, usize, Operation), ScopeError> {
        if input.is_empty() {
            return Err(ScopeError::Empty);
        }
        let mut parts = 0;
        for (position, part) in input.split('.').enumerate() {
            parts += 1;
            if part.is_empty() {
                return Err(ScopeError::EmptyPart {
                    input: input.to_string(),
                    position: position + 1,
                });
            }
            if let Some(ch) = part.chars().find(|c| !valid_part_char(*c)) {
                return Err(ScopeError::InvalidChar {
                    input: input.to_string(),
                    part: part.to_string(),
                    ch,
                });
            }
        }
        if parts < 3 {
            return Err(ScopeError::TooFewParts {
                input: input.to_string(),
                parts,
            });
        }
        // Both dots exist: at least three non-empty parts were found above.
        let (service_end, op_dot) = match (input.find('.'), input.rfind('.')) {
            (Some(first), Some(last)) => (first, last),
            _ => {
                return Err(ScopeError::TooFewParts {
                    input: input.to_string(),
                    parts,
                })
            }
        };
        let op_text = input.get(op_dot + 1..).unwrap_or("");
        let operation = Operation::parse(op_text).ok_or_else(|| ScopeError::UnknownOperation {
            input: input.to_string(),
            operation: op_text.to_string(),
        })?;
        Ok((service_end, op_dot, operation))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A documented exception to the dot-prefix rule: within `service`, a granted
/// name equal to `granted` covers every required name equal to `covers` or
/// under it (`covers == ""` means the whole service). The operation must
/// still cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoverException {
    pub service: &'static str,
    pub granted: &'static str,
    pub covers: &'static str,
    pub source: &'static str,
}

/// Exceptions to the prefix rule, as data. Like every scope comparison they
/// ignore ASCII case, so one row covers every spelling (`fullaccess`,
/// `FullAccess`, `FULLACCESS`).
pub const COVER_EXCEPTIONS: &[CoverException] = &[
    CoverException {
        service: "ZohoBooks",
        granted: "fullaccess",
        covers: "",
        source: "https://www.zoho.com/books/api/v3/oauth/ (ZohoBooks.fullaccess.all; also written ZohoBooks.FullAccess.all)",
    },
    CoverException {
        service: "ZohoInventory",
        granted: "fullaccess",
        covers: "",
        source: "https://www.zoho.com/inventory/api/v1/oauth/ (ZohoInventory.FullAccess.all / ZohoInventory.fullaccess.all)",
    },
    CoverException {
        service: "ZohoCRM",
        granted: "send_mail.all",
        covers: "send_mail",
        source: "https://www.zoho.com/crm/developer/docs/api/v8/send-mail.html (ZohoCRM.send_mail.all.CREATE)",
    },
];

/// A service whose `WRITE` operation is documented as an alias for CREATE,
/// UPDATE and DELETE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteAlias {
    pub service: &'static str,
    pub source: &'static str,
}

/// Where `WRITE` means CREATE + UPDATE + DELETE (data, like
/// [`COVER_EXCEPTIONS`]). Only CRM documents it. Books and Inventory document
/// CREATE, READ, UPDATE, DELETE and ALL per endpoint and no WRITE at all;
/// Desk lists `WRITE` as a scope of its own without saying what it grants. A
/// granted `WRITE` outside these services therefore covers only a required
/// `WRITE` (which no catalog entry outside CRM asks for), never CREATE,
/// UPDATE or DELETE: the stricter reading.
pub const WRITE_ALIAS: &[WriteAlias] = &[WriteAlias {
    service: "ZohoCRM",
    source: "https://www.zoho.com/crm/developer/docs/api/v8/select-api-scopes.html (WRITE: alias for CREATE, UPDATE and DELETE)",
}];

/// `granted` equals `required` or is a prefix of it ending at a dot, ignoring
/// ASCII case.
fn name_prefix_covers(granted: &str, required: &str) -> bool {
    if granted.is_empty() {
        return true;
    }
    let (g, r) = (granted.as_bytes(), required.as_bytes());
    match r.get(..g.len()) {
        Some(head) if head.eq_ignore_ascii_case(g) => {
            matches!(r.get(g.len()), None | Some(b'.'))
        }
        _ => false,
    }
}

impl Scope {
    /// The service, e.g. `ZohoCRM`.
    pub fn service(&self) -> &str {
        &self.text[..self.service_end]
    }

    /// The dotted middle part, e.g. `modules.leads`.
    pub fn name(&self) -> &str {
        &self.text[self.service_end + 1..self.op_dot]
    }

    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// [`Operation::covers`], except that a granted `WRITE` stands for
    /// CREATE, UPDATE and DELETE only in the services of [`WRITE_ALIAS`];
    /// elsewhere it covers only a required `WRITE`.
    fn operation_covers(&self, required: Operation) -> bool {
        if self.operation == Operation::Write && required != Operation::Write {
            let alias = WRITE_ALIAS
                .iter()
                .any(|a| a.service.eq_ignore_ascii_case(self.service()));
            return alias && self.operation.covers(required);
        }
        self.operation.covers(required)
    }

    /// Whether holding `self` allows an action that requires `required`.
    pub fn covers(&self, required: &Scope) -> bool {
        if !self.service().eq_ignore_ascii_case(required.service())
            || !self.operation_covers(required.operation)
        {
            return false;
        }
        if name_prefix_covers(self.name(), required.name()) {
            return true;
        }
        COVER_EXCEPTIONS.iter().any(|e| {
            e.service.eq_ignore_ascii_case(self.service())
                && e.granted.eq_ignore_ascii_case(self.name())
                && name_prefix_covers(e.covers, required.name())
        })
    }
}

/// The scopes a route (or a token) holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet {
    scopes: Vec<Scope>,
}

impl ScopeSet {
    /// Build a set; duplicates (ignoring ASCII case) are dropped, the first
    /// spelling and the order are kept.
    pub fn new(scopes: Vec<Scope>) -> Self {
        let mut out: Vec<Scope> = Vec::with_capacity(scopes.len());
        for s in scopes {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        ScopeSet { scopes: out }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.scopes.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// Whether any member covers `required`.
    pub fn covers(&self, required: &Scope) -> bool {
        self.scopes.iter().any(|s| s.covers(required))
    }

    /// The required scopes that no member covers, in the given order.
    pub fn missing<'a>(&self, required: &'a [Scope]) -> Vec<&'a Scope> {
        required.iter().filter(|r| !self.covers(r)).collect()
    }

    /// Parse the `scope` field of a Zoho token response (space and/or comma
    /// separated; Zoho mixes case in operations); entries that do not parse
    /// are returned separately, never dropped silently.
    pub fn parse_grant(s: &str) -> (ScopeSet, Vec<String>) {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for token in s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            match token.parse::<Scope>() {
                Ok(scope) => good.push(scope),
                Err(_) => bad.push(token.to_string()),
            }
        }
        (ScopeSet::new(good), bad)
    }

    /// The smallest equivalent set: every member that another member covers
    /// is left out (`ZohoCRM.modules.leads.READ` next to `ZohoCRM.modules.ALL`,
    /// `...CREATE` next to `...WRITE`); of two that cover each other (spellings
    /// of one scope through a documented exception) the first stays. Covering
    /// is transitive, so what is left covers everything the set covered.
    /// Order is kept.
    pub fn reduced(&self) -> ScopeSet {
        let scopes = &self.scopes;
        let redundant = |i: usize, s: &Scope| {
            scopes
                .iter()
                .enumerate()
                .any(|(j, t)| j != i && t.covers(s) && (j < i || !s.covers(t)))
        };
        let kept = scopes
            .iter()
            .enumerate()
            .filter(|(i, s)| !redundant(*i, s))
            .map(|(_, s)| s.clone())
            .collect();
        ScopeSet { scopes: kept }
    }

    /// What `scope` is held through when it is not a member itself: the first
    /// member that covers it.
    pub fn covered_by(&self, scope: &Scope) -> Option<&Scope> {
        if self.scopes.contains(scope) {
            return None;
        }
        self.scopes.iter().find(|t| t.covers(scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Scope {
        match text.parse() {
            Ok(scope) => scope,
            Err(e) => panic!("test scope {text:?} did not parse: {e}"),
        }
    }

    fn covers(granted: &str, required: &str) -> bool {
        s(granted).covers(&s(required))
    }

    #[test]
    fn parses_parts_and_keeps_text() {
        let scope = s("ZohoCRM.modules.leads.READ");
        assert_eq!(scope.service(), "ZohoCRM");
        assert_eq!(scope.name(), "modules.leads");
        assert_eq!(scope.operation(), Operation::Read);
        assert_eq!(scope.to_string(), "ZohoCRM.modules.leads.READ");
        let books = s("ZohoBooks.fullaccess.all");
        assert_eq!(books.name(), "fullaccess");
        assert_eq!(books.operation(), Operation::All);
        assert_eq!(books.to_string(), "ZohoBooks.fullaccess.all");
        let deep = s("ZohoCRM.settings.fields.Create");
        assert_eq!(deep.name(), "settings.fields");
        assert_eq!(deep.operation(), Operation::Create);
        assert_eq!(s("Desk.tickets.WrItE").operation(), Operation::Write);
        assert_eq!(
            s("ZohoCRM.composite_requests.CUSTOM").operation(),
            Operation::Custom
        );
        assert_eq!(s("A-b.c_d.e-f.delete").name(), "c_d.e-f");
    }

    #[test]
    fn rejects_bad_scopes_with_precise_errors() {
        assert_eq!("".parse::<Scope>(), Err(ScopeError::Empty));
        assert_eq!(
            "ZohoCRM.READ".parse::<Scope>(),
            Err(ScopeError::TooFewParts {
                input: "ZohoCRM.READ".into(),
                parts: 2
            })
        );
        assert_eq!(
            "ZohoCRM..READ".parse::<Scope>(),
            Err(ScopeError::EmptyPart {
                input: "ZohoCRM..READ".into(),
                position: 2
            })
        );
        assert!(matches!(
            "ZohoCRM.modules.READ.".parse::<Scope>(),
            Err(ScopeError::EmptyPart { position: 4, .. })
        ));
        assert!(matches!(
            ".ZohoCRM.modules.READ".parse::<Scope>(),
            Err(ScopeError::EmptyPart { position: 1, .. })
        ));
        assert_eq!(
            "ZohoCRM.mod ules.READ".parse::<Scope>(),
            Err(ScopeError::InvalidChar {
                input: "ZohoCRM.mod ules.READ".into(),
                part: "mod ules".into(),
                ch: ' '
            })
        );
        assert!(matches!(
            "ZohoCRM.modules.*.READ".parse::<Scope>(),
            Err(ScopeError::InvalidChar { ch: '*', .. })
        ));
        assert!(matches!(
            "ZohoCRM.modüles.READ".parse::<Scope>(),
            Err(ScopeError::InvalidChar { ch: 'ü', .. })
        ));
        assert_eq!(
            "ZohoCRM.modules.VIEW".parse::<Scope>(),
            Err(ScopeError::UnknownOperation {
                input: "ZohoCRM.modules.VIEW".into(),
                operation: "VIEW".into()
            })
        );
    }

    #[test]
    fn error_messages_quote_input_and_grammar() {
        let msg = match "ZohoCRM.modules.VIEW".parse::<Scope>() {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        };
        assert!(msg.contains("\"ZohoCRM.modules.VIEW\""), "{msg}");
        assert!(msg.contains("\"VIEW\""), "{msg}");
        assert!(
            msg.contains("ALL, READ, CREATE, UPDATE, DELETE, WRITE, CUSTOM"),
            "{msg}"
        );
        let msg = match "ZohoCRM.READ".parse::<Scope>() {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        };
        assert!(msg.contains("\"ZohoCRM.READ\""), "{msg}");
        assert!(msg.contains("Service.name[.name...].OPERATION"), "{msg}");
    }

    #[test]
    fn operation_rules() {
        use Operation::*;
        for op in Operation::ALL_OPS {
            assert!(All.covers(op), "ALL covers {op}");
            assert!(op.covers(op), "{op} covers itself");
        }
        assert!(Write.covers(Create) && Write.covers(Update) && Write.covers(Delete));
        assert!(!Write.covers(Read));
        assert!(!Write.covers(All));
        assert!(!Write.covers(Custom));
        assert!(!Read.covers(Write));
        assert!(!Create.covers(Write));
        assert!(!Read.covers(All));
        assert!(!Create.covers(Update));
        assert!(!Read.covers(Custom));
    }

    #[test]
    fn exact_and_case_insensitive_operations() {
        assert!(covers(
            "ZohoCRM.modules.leads.READ",
            "ZohoCRM.modules.leads.READ"
        ));
        assert!(covers(
            "ZohoCRM.modules.leads.read",
            "ZohoCRM.modules.leads.READ"
        ));
        assert!(covers(
            "ZohoCRM.modules.leads.Read",
            "ZohoCRM.modules.leads.rEaD"
        ));
        assert!(covers(
            "ZohoCRM.modules.leads.all",
            "ZohoCRM.modules.leads.DELETE"
        ));
    }

    #[test]
    fn every_part_compares_ignoring_case() {
        // Zoho's grants and docs mix spellings of the same scope.
        assert!(covers(
            "ZohoCRM.modules.Leads.READ",
            "ZohoCRM.modules.leads.read"
        ));
        assert!(covers(
            "zohocrm.MODULES.leads.READ",
            "ZohoCRM.modules.Leads.Read"
        ));
        assert!(covers("ZohoCRM.Modules.ALL", "ZohoCRM.modules.leads.READ"));
        assert!(covers("ZohoCRM.files.CREATE", "ZohoCRM.Files.CREATE"));
        assert!(covers(
            "ZohoCRM.Settings.all",
            "ZohoCRM.settings.Fields.READ"
        ));
        // Folding case never turns a lookalike into a match.
        assert!(!covers(
            "ZohoCRM.modules.LEADS.READ",
            "ZohoCRM.modules.leadsx.READ"
        ));
        assert!(!covers("ZohoCRM.Modules.ALL", "ZohoCRM.modulesfoo.READ"));
        assert!(!covers(
            "ZohoCRM.modules.Leads.READ",
            "ZohoCRM.modules.leads.CREATE"
        ));
        // Equality and hashing ignore case; Display keeps the spelling.
        assert_eq!(
            s("ZohoCRM.modules.Leads.READ"),
            s("ZohoCRM.modules.leads.read")
        );
        assert_eq!(s("ZohoBooks.FullAccess.all"), s("ZohoBooks.fullaccess.ALL"));
        assert_ne!(
            s("ZohoCRM.modules.leads.READ"),
            s("ZohoCRM.modules.lead.READ")
        );
        let set: std::collections::HashSet<Scope> = [
            s("ZohoCRM.modules.Leads.READ"),
            s("ZohoCRM.modules.leads.read"),
        ]
        .into_iter()
        .collect();
        assert_eq!(set.len(), 1);
        assert_eq!(
            s("ZohoBooks.FullAccess.all").to_string(),
            "ZohoBooks.FullAccess.all"
        );
        let deduped = ScopeSet::new(vec![
            s("ZohoCRM.modules.Leads.READ"),
            s("ZohoCRM.modules.leads.read"),
        ]);
        let kept: Vec<String> = deduped.iter().map(|s| s.to_string()).collect();
        assert_eq!(kept, ["ZohoCRM.modules.Leads.READ"]);
    }

    #[test]
    fn negative_cases() {
        // Different record, different operation, lookalike names.
        assert!(!covers(
            "ZohoCRM.modules.leads.READ",
            "ZohoCRM.modules.leads.CREATE"
        ));
        assert!(!covers(
            "ZohoCRM.modules.leads.READ",
            "ZohoCRM.modules.leadsx.READ"
        ));
        assert!(!covers(
            "ZohoCRM.modules.lead.READ",
            "ZohoCRM.modules.leads.READ"
        ));
        assert!(!covers(
            "ZohoCRM.modules.leads.READ",
            "ZohoCRM.modules.WRITE"
        ));
        assert!(!covers(
            "ZohoCRM.modules.leads.READ",
            "ZohoCRM.modules.leads.WRITE"
        ));
        assert!(!covers(
            "ZohoCRM.modules.leads.CREATE",
            "ZohoCRM.modules.leads.ALL"
        ));
        // A narrower grant never covers a wider requirement.
        assert!(!covers("ZohoCRM.modules.leads.ALL", "ZohoCRM.modules.READ"));
        assert!(!covers(
            "ZohoCRM.settings.fields.ALL",
            "ZohoCRM.settings.READ"
        ));
        // Service mismatch.
        assert!(!covers(
            "ZohoBooks.modules.leads.READ",
            "ZohoCRM.modules.leads.READ"
        ));
        assert!(!covers(
            "ZohoCRM.modules.ALL",
            "ZohoCRMX.modules.leads.READ"
        ));
        // WRITE does not stand in for READ.
        assert!(!covers(
            "ZohoCRM.modules.leads.WRITE",
            "ZohoCRM.modules.leads.READ"
        ));
    }

    #[test]
    fn prefix_rule() {
        assert!(covers("ZohoCRM.modules.ALL", "ZohoCRM.modules.leads.ALL"));
        assert!(covers(
            "ZohoCRM.modules.READ",
            "ZohoCRM.modules.contacts.READ"
        ));
        assert!(covers(
            "ZohoCRM.modules.READ",
            "ZohoCRM.modules.custom.READ"
        ));
        assert!(!covers(
            "ZohoCRM.modules.READ",
            "ZohoCRM.modules.contacts.CREATE"
        ));
        assert!(covers(
            "ZohoCRM.settings.ALL",
            "ZohoCRM.settings.fields.READ"
        ));
        assert!(covers("ZohoCRM.settings.ALL", "ZohoCRM.settings.ALL"));
        assert!(covers(
            "ZohoCRM.mass_update.UPDATE",
            "ZohoCRM.mass_update.leads.UPDATE"
        ));
        // Prefix must stop at a dot.
        assert!(!covers(
            "ZohoCRM.settings.ALL",
            "ZohoCRM.settingsx.fields.READ"
        ));
        assert!(!covers("ZohoCRM.modules.ALL", "ZohoCRM.modulesfoo.READ"));
        // ALL is only covered by ALL; WRITE by WRITE or ALL.
        assert!(covers(
            "ZohoCRM.modules.WRITE",
            "ZohoCRM.modules.leads.WRITE"
        ));
        assert!(covers(
            "ZohoCRM.modules.WRITE",
            "ZohoCRM.modules.leads.DELETE"
        ));
        assert!(!covers(
            "ZohoCRM.modules.WRITE",
            "ZohoCRM.modules.leads.ALL"
        ));
        assert!(covers("ZohoCRM.modules.ALL", "ZohoCRM.modules.leads.WRITE"));
    }

    #[test]
    fn write_is_an_alias_only_where_zoho_documents_it() {
        // CRM: WRITE = CREATE + UPDATE + DELETE, in any spelling.
        for op in ["CREATE", "UPDATE", "DELETE", "WRITE"] {
            assert!(covers(
                "ZohoCRM.modules.leads.WRITE",
                &format!("ZohoCRM.modules.leads.{op}")
            ));
            assert!(covers(
                "zohocrm.Modules.Leads.write",
                &format!("ZohoCRM.modules.leads.{op}")
            ));
        }
        // Books, Inventory, Desk: no documented alias, so a granted WRITE
        // covers only a required WRITE.
        for (service, name) in [
            ("ZohoBooks", "invoices"),
            ("ZohoInventory", "items"),
            ("Desk", "tickets"),
        ] {
            for op in ["CREATE", "UPDATE", "DELETE", "READ"] {
                assert!(
                    !covers(
                        &format!("{service}.{name}.WRITE"),
                        &format!("{service}.{name}.{op}")
                    ),
                    "{service} {op}"
                );
            }
            assert!(covers(
                &format!("{service}.{name}.WRITE"),
                &format!("{service}.{name}.WRITE")
            ));
            assert!(covers(
                &format!("{service}.{name}.ALL"),
                &format!("{service}.{name}.CREATE")
            ));
        }
        assert!(!covers(
            "ZohoBooks.fullaccess.WRITE",
            "ZohoBooks.bills.CREATE"
        ));
        assert!(covers("ZohoBooks.fullaccess.all", "ZohoBooks.bills.CREATE"));
    }

    #[test]
    fn documented_exceptions() {
        assert!(covers(
            "ZohoBooks.fullaccess.all",
            "ZohoBooks.invoices.CREATE"
        ));
        assert!(covers(
            "ZohoBooks.fullaccess.ALL",
            "ZohoBooks.settings.DELETE"
        ));
        assert!(!covers(
            "ZohoBooks.fullaccess.READ",
            "ZohoBooks.invoices.CREATE"
        ));
        assert!(covers(
            "ZohoBooks.fullaccess.READ",
            "ZohoBooks.invoices.READ"
        ));
        assert!(!covers(
            "ZohoBooks.fullaccess.all",
            "ZohoInventory.items.READ"
        ));
        assert!(covers(
            "ZohoBooks.FullAccess.all",
            "ZohoBooks.invoices.READ"
        ));
        assert!(covers(
            "ZohoBooks.FULLACCESS.All",
            "zohobooks.Invoices.delete"
        ));
        assert!(!covers(
            "ZohoBooks.FullAccess.READ",
            "ZohoBooks.invoices.UPDATE"
        ));
        assert!(covers(
            "ZohoInventory.FullAccess.all",
            "ZohoInventory.items.READ"
        ));
        assert!(covers(
            "ZohoCRM.send_mail.all.CREATE",
            "ZohoCRM.send_mail.leads.CREATE"
        ));
        assert!(!covers(
            "ZohoCRM.send_mail.all.CREATE",
            "ZohoCRM.modules.leads.CREATE"
        ));
        assert!(!covers(
            "ZohoCRM.send_mail.leads.CREATE",
            "ZohoCRM.send_mail.contacts.CREATE"
        ));
        // No exception for an unlisted "fullaccess".
        assert!(!covers(
            "ZohoCRM.fullaccess.all",
            "ZohoCRM.modules.leads.READ"
        ));
    }

    #[test]
    fn scope_set_covers_and_missing() {
        let set = ScopeSet::new(vec![
            s("ZohoCRM.modules.leads.READ"),
            s("ZohoCRM.modules.contacts.ALL"),
            s("ZohoCRM.modules.leads.READ"),
        ]);
        assert_eq!(set.iter().count(), 2);
        assert!(!set.is_empty());
        assert!(set.covers(&s("ZohoCRM.modules.leads.READ")));
        assert!(set.covers(&s("ZohoCRM.modules.contacts.DELETE")));
        assert!(!set.covers(&s("ZohoCRM.modules.deals.READ")));
        let required = [
            s("ZohoCRM.modules.leads.READ"),
            s("ZohoCRM.modules.leads.CREATE"),
            s("ZohoCRM.modules.contacts.UPDATE"),
            s("ZohoCRM.users.READ"),
        ];
        let missing: Vec<String> = set
            .missing(&required)
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            missing,
            ["ZohoCRM.modules.leads.CREATE", "ZohoCRM.users.READ"]
        );
        assert!(ScopeSet::default().is_empty());
        assert!(!ScopeSet::default().covers(&s("ZohoCRM.users.READ")));
    }

    #[test]
    fn parse_grant_mixed_separators_and_bad_entries() {
        let (set, bad) = ScopeSet::parse_grant(
            "ZohoCRM.modules.ALL ZohoCRM.settings.fields.Read,ZohoCRM.coql.read , bogus  ZohoCRM.users.VIEW,,",
        );
        let got: Vec<String> = set.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            got,
            [
                "ZohoCRM.modules.ALL",
                "ZohoCRM.settings.fields.Read",
                "ZohoCRM.coql.read"
            ]
        );
        assert_eq!(bad, ["bogus", "ZohoCRM.users.VIEW"]);
        let (empty, none) = ScopeSet::parse_grant("  ,\t ");
        assert!(empty.is_empty() && none.is_empty());
    }

    #[test]
    fn reduced_leaves_out_what_another_member_covers() {
        let set = |list: &[&str]| ScopeSet::new(list.iter().map(|t| s(t)).collect());
        let names = |set: &ScopeSet| set.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let wide = set(&[
            "ZohoCRM.modules.leads.READ",
            "Desk.tickets.CREATE",
            "ZohoCRM.modules.ALL",
            "ZohoCRM.coql.READ",
            "Desk.tickets.WRITE",
            "ZohoCRM.modules.Leads.read",
            "ZohoBooks.invoices.READ",
            "ZohoBooks.FullAccess.all",
        ]);
        let reduced = wide.reduced();
        assert_eq!(
            names(&reduced),
            [
                // WRITE covers CREATE only in CRM: Desk keeps both.
                "Desk.tickets.CREATE",
                "ZohoCRM.modules.ALL",
                "ZohoCRM.coql.READ",
                "Desk.tickets.WRITE",
                "ZohoBooks.FullAccess.all"
            ]
        );
        for member in wide.iter() {
            assert!(reduced.covers(member), "{member}");
        }
        assert_eq!(
            reduced.covered_by(&s("ZohoCRM.modules.leads.READ")),
            Some(&s("ZohoCRM.modules.ALL"))
        );
        assert_eq!(reduced.covered_by(&s("ZohoCRM.coql.READ")), None);
        assert_eq!(reduced.covered_by(&s("ZohoCRM.users.READ")), None);
        // Nothing to reduce: the set stays as it is.
        let narrow = set(&["ZohoCRM.modules.leads.READ", "ZohoCRM.modules.contacts.ALL"]);
        assert_eq!(narrow.reduced(), narrow);
        // Two spellings that cover each other: the first stays.
        let mutual = set(&["ZohoCRM.send_mail.all.CREATE", "ZohoCRM.send_mail.CREATE"]);
        assert_eq!(names(&mutual.reduced()), ["ZohoCRM.send_mail.all.CREATE"]);
    }
}
