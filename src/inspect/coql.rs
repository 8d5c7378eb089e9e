//! COQL (`POST /crm/vN/coql`, body `{"select_query": "..."}`): which modules
//! a query reads.
//!
//! Zoho's COQL is `SELECT fields FROM module [WHERE ...] [GROUP BY ...]
//! [ORDER BY ...] [LIMIT n[, m] | LIMIT n OFFSET m]`. The proxy does not need
//! the whole grammar, only what the query reads, so [`parse`] is a strict
//! tokenizer plus a few structural rules; anything it is not sure about is an
//! error (the call is refused, never passed):
//!
//! - string literals in single quotes; inside, `''` and `\'` are quotes, any
//!   other backslash is refused (`\\` may or may not be an escape to Zoho);
//! - no comments (`--`, `/* */`, `#`), no `;`, no double quotes or backticks,
//!   nothing outside ASCII outside string literals;
//! - exactly one `SELECT`, first, and exactly one `FROM`, outside
//!   parentheses, followed by one plain module name and then the end or
//!   `WHERE`/`GROUP`/`ORDER`/`LIMIT` (so no subqueries, joins, unions or
//!   second module);
//! - a dotted field (`Owner.last_name`, `Account_Name.Parent_Account.Account_Name`)
//!   anywhere is a lookup: it reads a module the query does not name.
//!
//! Keywords are case-insensitive; module names map to scope names as the
//! path catalog maps them ([`crate::catalog::crm_module_scope`]).

/// What a query reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The module after `FROM`, as written.
    pub module: String,
    /// Its scope name (`leads`, `pricebooks`, `custom`).
    pub scope: &'static str,
    /// Dotted lookup fields, in order of appearance (reach other modules).
    pub lookups: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'q> {
    /// An identifier, possibly dotted.
    Word(&'q str),
    Str,
    Num,
    Punct,
    Open,
    Close,
}

/// Words that are never a module name.
const KEYWORDS: &[&str] = &[
    "select", "from", "where", "group", "order", "by", "limit", "offset", "and", "or", "not", "in",
    "like", "is", "null", "between", "asc", "desc", "true", "false", "as", "distinct",
];

/// Words that mean a query this parser does not understand.
const REFUSED: &[&str] = &[
    "join",
    "union",
    "intersect",
    "except",
    "with",
    "into",
    "insert",
    "update",
    "delete",
];

const CLAUSES: &[&str] = &["where", "group", "order", "limit"];

fn is(word: &str, keyword: &str) -> bool {
    word.eq_ignore_ascii_case(keyword)
}

fn ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn tokenize(q: &str) -> Result<Vec<Tok<'_>>, String> {
    let b = q.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'\'' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err("unterminated string literal".into()),
                        Some(b'\'') if b.get(i + 1) == Some(&b'\'') => i += 2,
                        Some(b'\'') => break,
                        Some(b'\\') if b.get(i + 1) == Some(&b'\'') => i += 2,
                        Some(b'\\') => {
                            return Err(
                                "a backslash in a string literal is only understood before a quote"
                                    .into(),
                            )
                        }
                        Some(_) => i += 1,
                    }
                }
                i += 1;
                out.push(Tok::Str);
            }
            c if ident_start(c) => {
                let start = i;
                loop {
                    while i < b.len() && ident_byte(b[i]) {
                        i += 1;
                    }
                    if b.get(i) != Some(&b'.') {
                        break;
                    }
                    if !b.get(i + 1).is_some_and(|n| ident_start(*n)) {
                        return Err("a dot must join two field names".into());
                    }
                    i += 1;
                }
                out.push(Tok::Word(&q[start..i]));
            }
            c if c.is_ascii_digit() || c == b'-' => {
                if c == b'-' {
                    i += 1;
                    if !b.get(i).is_some_and(u8::is_ascii_digit) {
                        return Err("'-' is only understood before a number".into());
                    }
                }
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if b.get(i) == Some(&b'.') {
                    i += 1;
                    if !b.get(i).is_some_and(u8::is_ascii_digit) {
                        return Err("malformed number".into());
                    }
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                if b.get(i).is_some_and(|n| ident_byte(*n) || *n == b'.') {
                    return Err("malformed number".into());
                }
                out.push(Tok::Num);
            }
            b'(' => {
                i += 1;
                out.push(Tok::Open);
            }
            b')' => {
                i += 1;
                out.push(Tok::Close);
            }
            b',' | b'*' | b'=' => {
                i += 1;
                out.push(Tok::Punct);
            }
            b'<' | b'>' | b'!' => {
                let two = b.get(i + 1).copied();
                let pair = matches!(
                    (c, two),
                    (b'<', Some(b'=' | b'>')) | (b'>' | b'!', Some(b'='))
                );
                if c == b'!' && !pair {
                    return Err("'!' is only understood in '!='".into());
                }
                i += if pair { 2 } else { 1 };
                out.push(Tok::Punct);
            }
            _ => {
                return Err(match c {
                    b'/' | b'#' => "comments and '/' are not understood".into(),
                    b';' => "';' is not understood".into(),
                    c if c.is_ascii_graphic() => format!("{:?} is not understood", c as char),
                    _ => "only ASCII is understood outside string literals".into(),
                })
            }
        }
    }
    Ok(out)
}

/// What `query` reads, or why the proxy cannot tell.
pub fn parse(query: &str) -> Result<Query, String> {
    let toks = tokenize(query)?;
    let word = |t: &Tok<'_>, k: &str| matches!(t, Tok::Word(w) if is(w, k));
    if !toks.first().is_some_and(|t| word(t, "select")) {
        return Err("a query must start with SELECT".into());
    }
    let mut depth = 0usize;
    let mut from = None;
    let mut lookups = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        match *t {
            Tok::Open => depth += 1,
            Tok::Close => depth = depth.checked_sub(1).ok_or("unbalanced parentheses")?,
            Tok::Word(w) if w.contains('.') => lookups.push(w.to_owned()),
            Tok::Word(w) if i > 0 && is(w, "select") => {
                return Err("subqueries are not understood".into())
            }
            Tok::Word(w) if REFUSED.iter().any(|r| is(w, r)) => {
                return Err(format!("{} is not understood", w.to_ascii_uppercase()))
            }
            Tok::Word(w) if is(w, "from") => {
                if from.is_some() {
                    return Err("more than one FROM".into());
                }
                if depth != 0 {
                    return Err("FROM inside parentheses".into());
                }
                from = Some(i);
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced parentheses".into());
    }
    let from = from.ok_or("no FROM")?;
    if from < 2 {
        return Err("nothing is selected".into());
    }
    let module = match toks.get(from + 1) {
        Some(Tok::Word(w)) if !w.contains('.') && !KEYWORDS.iter().any(|k| is(w, k)) => *w,
        _ => return Err("FROM must be followed by one module name".into()),
    };
    match toks.get(from + 2) {
        None => {}
        Some(t) if CLAUSES.iter().any(|c| word(t, c)) => {}
        Some(_) => {
            return Err("only WHERE, GROUP BY, ORDER BY or LIMIT may follow the module".into())
        }
    }
    let scope = crate::catalog::crm_module_scope(module)
        .ok_or_else(|| format!("{module} is not a module the proxy knows how to scope"))?;
    Ok(Query {
        module: module.to_owned(),
        scope,
        lookups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(q: &str) -> Result<&'static str, String> {
        parse(q).map(|q| q.scope)
    }

    #[test]
    fn the_from_module_is_found_in_any_case_and_spacing() {
        for q in [
            "select Last_Name from Leads",
            "SELECT Last_Name FROM Leads WHERE Last_Name = 'x' LIMIT 10",
            "  select\tLast_Name,First_Name\nfrom\r\nleads   where (Created_Time > '2024-01-01T00:00:00+00:00') order by Last_Name desc limit 0, 200",
            "select COUNT(id) from Leads group by Lead_Source",
            "sElEcT Email from LEADS where Annual_Revenue >= -10.5 and Rating != 'Hot' limit 200 offset 400",
            "select Last_Name from Leads where Lead_Source in ('Web', 'Ad') and Email is not null",
            "select Last_Name from Leads where Last_Name like '%son' or Last_Name between 'a' and 'b'",
        ] {
            assert_eq!(module(q), Ok("leads"), "{q}");
        }
        assert_eq!(module("select Deal_Name from Deals"), Ok("deals"));
        assert_eq!(module("select a from Price_Books"), Ok("pricebooks"));
        assert_eq!(
            module("select a from Purchase_Orders"),
            Ok("purchaseorders")
        );
        assert_eq!(module("select Name from Projects_Custom"), Ok("custom"));
    }

    #[test]
    fn strings_hide_what_they_contain() {
        let q = parse("select Last_Name from Leads where Last_Name = 'x from Deals where ''y'' ' and First_Name = 'it\\'s (select from Deals)'").unwrap();
        assert_eq!((q.scope, q.lookups.len()), ("leads", 0));
        let q = parse("select Last_Name from Leads where Email = 'Owner.email'").unwrap();
        assert!(q.lookups.is_empty());
    }

    #[test]
    fn lookups_are_reported() {
        let q = parse("select Last_Name, Owner.last_name from Contacts where Account_Name.Parent_Account.Account_Name = 'Zylker'").unwrap();
        assert_eq!(q.scope, "contacts");
        assert_eq!(
            q.lookups,
            [
                "Owner.last_name",
                "Account_Name.Parent_Account.Account_Name"
            ]
        );
    }

    #[test]
    fn anything_unexpected_is_refused() {
        for q in [
            "",
            "Last_Name from Leads",
            "select from Leads",
            "select Last_Name",
            "select Last_Name from",
            "select Last_Name from Leads, Deals",
            "select Last_Name from Leads Deals",
            "select Last_Name from Leads from Deals",
            "select Last_Name from Leads where id in (select id from Deals)",
            "select Last_Name from (select Last_Name from Deals)",
            "select Last_Name from Leads union select Deal_Name from Deals",
            "select Last_Name from Leads join Deals",
            "select Last_Name from Leads; select Deal_Name from Deals",
            "select Last_Name from Leads -- from Deals",
            "select Last_Name from Leads /* from Deals */",
            "select Last_Name from Leads # from Deals",
            "select Last_Name from \"Deals\"",
            "select Last_Name from `Deals`",
            "select Last_Name from Leads where a = 'unterminated",
            "select Last_Name from Leads where a = 'x\\\\' or b = 'from Deals'",
            "select Last_Name from Leads where a = 'x\\n'",
            "select Last_Name from Leads where (a = 1",
            "select Last_Name from Leads where a = 1)",
            "select Last_Name from Leads.Deals",
            "select Last_Name from where",
            "select Last_Name from settings",
            "select Last_Name from Unknown__s",
            "select Last_Name from Leads where a = 1e5",
            "select Last_Name from Leads where a ! b",
            "select Owner. from Leads",
            "select Last_Name from Leads\u{a0}",
            "select Last_Name from Lé",
        ] {
            assert!(parse(q).is_err(), "{q:?} should be refused: {:?}", parse(q));
        }
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        const MODULES: &[(&str, &str)] = &[
            ("Leads", "leads"),
            ("Deals", "deals"),
            ("Contacts", "contacts"),
            ("Price_Books", "pricebooks"),
            ("My_Custom_Things", "custom"),
        ];

        /// A query as tokens, and the scope of its module.
        fn query() -> impl Strategy<Value = (Vec<String>, &'static str)> {
            // A field spelled like a keyword (`With`, `From`) is refused by
            // design (never passed), so the generator avoids those names.
            let field = "[A-Z][a-z]{0,6}(_[A-Z][a-z]{0,6}){0,2}".prop_filter(
                "not a keyword",
                |f: &String| {
                    !KEYWORDS
                        .iter()
                        .chain(REFUSED)
                        .any(|k| f.eq_ignore_ascii_case(k))
                },
            );
            let text = "[ -~]{0,30}"; // any printable ASCII, quotes included
            (
                0..MODULES.len(),
                prop::collection::vec(field.clone(), 1..4),
                prop::option::of((field, text)),
                prop::option::of(0u32..2000),
            )
                .prop_map(|(m, fields, filter, limit)| {
                    let (module, scope) = MODULES[m];
                    let mut toks = vec!["select".to_owned()];
                    for (i, f) in fields.into_iter().enumerate() {
                        if i > 0 {
                            toks.push(",".into());
                        }
                        toks.push(f);
                    }
                    toks.push("from".into());
                    toks.push(module.into());
                    if let Some((f, text)) = filter {
                        toks.push("where".into());
                        toks.push(f);
                        toks.push("=".into());
                        toks.push(format!("'{}'", text.replace('\\', "").replace('\'', "''")));
                    }
                    if let Some(n) = limit {
                        toks.push("limit".into());
                        toks.push(n.to_string());
                    }
                    (toks, scope)
                })
        }

        fn join(toks: &[String], gaps: &[String]) -> String {
            let mut out = String::new();
            for (i, t) in toks.iter().enumerate() {
                out.push_str(&gaps[i % gaps.len()]);
                out.push_str(t);
            }
            out
        }

        proptest! {
            #[test]
            fn never_panics(s in "\\PC{0,80}") {
                let _ = parse(&s);
            }

            #[test]
            fn never_panics_on_query_like_text(s in "(select|from|Leads|Deals|'|''|\\\\|\\(|\\)|,|\\.| |--|/\\*|[a-z_]{1,4}|[0-9]{1,3}|-){0,30}") {
                let _ = parse(&s);
            }

            #[test]
            fn the_module_is_the_from_module_whatever_the_strings_say(
                (toks, scope) in query(),
            ) {
                let q = join(&toks, &[" ".into()]);
                let got = parse(&q);
                prop_assert_eq!(got.as_ref().map(|q| q.scope), Ok(scope), "{}", q);
                prop_assert!(got.unwrap().lookups.is_empty());
            }

            #[test]
            fn whitespace_and_case_do_not_change_the_result(
                (toks, _) in query(),
                gaps in prop::collection::vec("[ \t\r\n]{1,3}", 1..5),
                upper in prop::collection::vec(any::<bool>(), 1..8),
            ) {
                let plain = parse(&join(&toks, &[" ".into()]));
                let toks2: Vec<String> = toks
                    .iter()
                    .enumerate()
                    .map(|(i, t)| if t.starts_with('\'') || !upper[i % upper.len()] {
                        t.clone()
                    } else {
                        t.to_ascii_uppercase()
                    })
                    .collect();
                let varied = parse(&join(&toks2, &gaps));
                prop_assert_eq!(plain.map(|q| q.scope), varied.map(|q| q.scope));
            }

            #[test]
            fn a_module_in_a_string_or_comment_is_never_reported(
                (toks, scope) in query(),
                hidden in 0..MODULES.len(),
                comment in prop_oneof![Just("-- "), Just("/* "), Just("# ")],
            ) {
                let q = join(&toks, &[" ".into()]);
                let other = MODULES[hidden].0;
                // Inside a string literal: still the FROM module.
                let in_string = format!("{q} {} Last_Name = 'x from {other} y'",
                    if toks.iter().any(|t| t == "where") { "and" } else { "where" });
                if !toks.iter().any(|t| t == "limit") {
                    prop_assert_eq!(parse(&in_string).map(|q| q.scope), Ok(scope));
                }
                // In a comment: refused, never another module.
                let in_comment = format!("{q} {comment}from {other}");
                prop_assert!(parse(&in_comment).is_err());
            }
        }
    }
}
