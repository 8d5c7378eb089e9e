//! The fuzz targets' properties (`tests/props`) under proptest, with inputs
//! built from the pieces that matter (escapes, dot segments, separators,
//! keywords), so the stable `cargo test` explores them too.

mod props;

use proptest::prelude::*;

/// Concatenations of `pieces`, up to `max` of them.
fn joined(pieces: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(pieces), 0..max).prop_map(|v| v.concat())
}

/// The same after a `/`, as every path the proxy canonicalizes starts.
fn absolute(pieces: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    joined(pieces, max).prop_map(|s| format!("/{s}"))
}

/// Pieces of a path segment the canonicalizer accepts (escapes of hex digits
/// and of `%`, dots, unreserved escapes) ...
const SEGMENT_PIECES: &[&str] = &[
    "a", "b", "Leads", "crm", "v8", "1", ".", "..", "%2e", "%2E", "%25", "%32", "%34", "%31",
    "%35", "%65", "%41", "%61", "%4c", "%4C", "%c3%a9", "%C3%A9", "%7e", "%7E", "%20", "~", "-",
    "_", "*", "@", ":",
];

/// ... and pieces it refuses.
const BAD_PIECES: &[&str] = &[
    "%2f", "%2F", "%5c", "%5C", "\\", ";", "%3b", "%3B", "%", "%4", "%zz", "%00", "%0a", "%7f",
    "?", "#", " ", "\u{e9}", "/", "",
];

/// Mostly plausible paths: segments of accepted pieces, sometimes a refused one.
fn path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        12 => prop::sample::select(SEGMENT_PIECES),
        1 => prop::sample::select(BAD_PIECES),
    ];
    let segment = prop::collection::vec(piece, 0..5).prop_map(|v| v.concat());
    prop::collection::vec(segment, 0..6).prop_map(|v| format!("/{}", v.join("/")))
}

const PATTERN_PIECES: &[&str] = &[
    "/", "/", "/", "**", "*", "a", "b", "v*", "*a*", ".", "..", ".*", "%41", "%C3%A9", "%2e",
    "%2F", ";", "\\", "crm", "Leads", "%25",
];

const TARGET_PIECES: &[&str] = &[
    "/",
    "/",
    "crm",
    "Leads",
    "sandbox",
    "desk",
    "api",
    "v8",
    "?",
    "&",
    "=",
    "#",
    "%2e",
    "%2F",
    "%25",
    "%41",
    "..",
    ".",
    "http://",
    "https://",
    "x.example",
    ":443",
    "@",
    "*",
    "\\",
    " ",
    "%",
    "~",
    "'",
    "\"",
];

const COQL_PIECES: &[&str] = &[
    "select",
    "SELECT",
    "from",
    "FROM",
    "where",
    "limit",
    "union",
    "join",
    "Leads",
    "Deals",
    "Price_Books",
    "Things_X",
    "settings",
    "Owner.email",
    "a",
    "b",
    "'x'",
    "''",
    "'it\\'s'",
    "'from Deals'",
    "(",
    ")",
    ",",
    "*",
    "=",
    "!=",
    "<=",
    "--",
    "/*",
    "#",
    ";",
    "1",
    "-1",
    "1.5",
    "in",
    " ",
    " ",
    " ",
    "\t",
    "\n",
    ".",
    "\"",
    "\u{e9}",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canon(raw in path()) {
        props::canon::path(&raw);
    }

    #[test]
    fn canon_any_text(raw in "/\\PC{0,40}") {
        props::canon::path(&raw);
    }

    #[test]
    fn route(pattern in absolute(PATTERN_PIECES, 10), path in path()) {
        props::route::pattern_and_path(&pattern, &path);
    }

    #[test]
    fn target(t in prop_oneof![absolute(TARGET_PIECES, 16), joined(TARGET_PIECES, 16)]) {
        props::target::check(t.as_bytes());
    }

    #[test]
    fn coql(q in prop::collection::vec(prop::sample::select(COQL_PIECES), 0..16)
        .prop_map(|v| v.join(" "))) {
        props::inspect::query(&q);
    }
}

// Catalog: real endpoint shapes with wrong parts mixed in.
const CATALOG_SEGMENTS: &[&str] = &[
    "crm",
    "v2",
    "v2.1",
    "v8",
    "v9",
    "Leads",
    "Deals",
    "Notes",
    "Attachments",
    "123",
    "4876876000000333001",
    "settings",
    "modules",
    "fields",
    "coql",
    "__composite_requests",
    "bulk",
    "read",
    "write",
    "books",
    "v3",
    "invoices",
    "inventory",
    "api",
    "v1",
    "tickets",
    "users",
    "org",
    "actions",
    "upsert",
    "search",
    "x",
    "..",
    "%41",
    "Price_Books",
    "Things__s",
    "Custom_X",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn catalog(
        u in 0..zoho_proxy::dc::Upstream::ALL.len(),
        m in prop::sample::select(&["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get"][..]),
        segs in prop::collection::vec(prop::sample::select(CATALOG_SEGMENTS), 0..7),
    ) {
        let path = format!("/{}", segs.join("/"));
        props::catalog::lookup(zoho_proxy::dc::Upstream::ALL[u], m, &path);
    }
}

/// A token answer: optional fields of the right or wrong type.
fn token_body() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just("\"1000.abcdef0123456789\"".to_owned()),
        Just("\"\"".to_owned()),
        Just("3600".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("-1".to_owned()),
        Just("null".to_owned()),
        Just("\"Access Denied\"".to_owned()),
        Just("\"You have made too many requests continuously.\"".to_owned()),
        Just("\"invalid_client\"".to_owned()),
        Just("{}".to_owned()),
    ];
    let key = prop::sample::select(
        &[
            "access_token",
            "refresh_token",
            "api_domain",
            "expires_in",
            "expires_in_sec",
            "scope",
            "error",
            "error_description",
            "token_type",
            "ACCESS_TOKEN",
        ][..],
    );
    prop_oneof![
        prop::collection::vec((key, value), 0..6).prop_map(|kv| {
            let fields: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", fields.join(","))
        }),
        Just("<html><body>500</body></html>".to_owned()),
        Just("[\"1000.tok\",null,null,null,null,null,null,null]".to_owned()),
        "\\PC{0,30}",
    ]
}

/// A config: lines from a pool of valid and invalid ones, in any order.
fn config_text() -> impl Strategy<Value = String> {
    const LINES: &[&str] = &[
        "[zoho]",
        "[zoho]",
        "client_id = \"1000.X\"",
        "client_id = \" \"",
        "client_secret = \"s\"",
        "client_secret = { env = \"ZP_PROPERTY_TEST_UNSET\" }",
        "refresh_token = \"r\"",
        "refresh_token = { file = \"missing\" }",
        "data_center = \"eu\"",
        "data_center = \"xx\"",
        "accounts_url = \"http://accounts.example\"",
        "api_url = \"https://x.example/path\"",
        "token_requests_per_10min = 11",
        "[server]",
        "listen = \"0.0.0.0:8080\"",
        "listen = \"nonsense\"",
        "allow_remote = true",
        "request_timeout = \"5x\"",
        "replay_buffer = \"1TiB\"",
        "max_connections = 0",
        "[[routes]]",
        "[[routes]]",
        "path = \"/crm/**\"",
        "path = \"/a//b\"",
        "path = \"/%4ceads\"",
        "scopes = [\"ZohoCRM.modules.ALL\"]",
        "scopes = [\"nonsense\"]",
        "methods = [\"TRACE\"]",
        "requires = []",
        "strip_prefix = \"/crm\"",
        "strip_prefix = \"/x/\"",
        "credential = \"b\"",
        "headers = { authorization = \"x\" }",
        "upstream = \"ftp\"",
        "[[credentials]]",
        "name = \"b\"",
        "name = \"B\"",
        "[rate_limit]",
        "max_concurrent = 0",
        "[retry]",
        "max_attempts = 0",
        "base_delay = \"10s\"",
        "[cluster]",
        "redis_url = \"http://x\"",
        "lease = \"1ms\"",
        "x = 1",
        "garbage",
        "= 1",
        "[zoho",
    ];
    prop::collection::vec(prop::sample::select(LINES), 0..16).prop_map(|v| v.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn token(status in 100u16..600, body in token_body()) {
        props::token::answer(status, body.as_bytes());
    }

    #[test]
    fn config(text in config_text()) {
        props::config::text(&text);
    }

    #[test]
    fn inspect(kind in 0u8..4, body in inspect_body()) {
        let mut data = vec![kind];
        data.extend_from_slice(body.as_bytes());
        props::inspect::check(&data);
    }
}

/// Bodies for every inspected endpoint, with sub-requests and modules drawn
/// from valid and invalid choices.
fn inspect_body() -> impl Strategy<Value = String> {
    let method = prop::sample::select(&["GET", "get", "POST", "DELETE", "TRACE"][..]);
    let uri = prop::sample::select(
        &[
            "/crm/v8/Leads",
            "/crm/v6/Deals/123",
            "/crm/v8/coql",
            "/crm/v8/%4Ceads",
            "/crm/v8/Leads/../Deals",
            "/crm/v8/Leads?fields=a",
            "/books/v3/invoices",
            "/crm/v8/__composite_requests",
            "/crm/v8/Leads/@{1:$.id}",
            "/crm/bulk/v8/read",
        ][..],
    );
    let module = prop::sample::select(
        &[
            "\"Leads\"",
            "{\"api_name\": \"Deals\"}",
            "{\"api_name\": \"Leads\", \"id\": \"1\"}",
            "\"settings\"",
            "5",
        ][..],
    );
    let sub = (
        method,
        uri,
        prop::option::of(Just(r#"{"select_query": "select a from Contacts"}"#)),
    )
        .prop_map(|(m, u, body)| match body {
            Some(b) => format!(r#"{{"method": "{m}", "uri": "{u}", "body": {b}}}"#),
            None => format!(r#"{{"method": "{m}", "uri": "{u}"}}"#),
        });
    prop_oneof![
        prop::collection::vec(sub, 0..6)
            .prop_map(|s| format!(r#"{{"__composite_requests": [{}]}}"#, s.join(","))),
        module
            .clone()
            .prop_map(|m| format!(r#"{{"query": {{"module": {m}, "fields": ["Owner.email"]}}}}"#)),
        prop::collection::vec(module, 0..3).prop_map(|m| {
            let r: Vec<String> = m
                .iter()
                .map(|m| format!(r#"{{"type": "data", "module": {m}}}"#))
                .collect();
            format!(
                r#"{{"operation": "insert", "resource": [{}]}}"#,
                r.join(",")
            )
        }),
        prop::sample::select(
            &[
                "select a from Leads",
                "select Owner.email from Deals where x = 'y'",
                "select a from Leads; x"
            ][..]
        )
        .prop_map(|q| format!(r#"{{"select_query": "{q}"}}"#)),
    ]
}
