use super::*;
use crate::retry::RetryPolicy;

const ZOHO: &str = r#"
[zoho]
client_id = "1000.ABC"
client_secret = "s"
refresh_token = "r"
"#;

fn compile_str(text: &str) -> Result<Config, ConfigError> {
    compile(text, "test.toml", Path::new("."))
}

fn err(text: &str) -> String {
    compile_str(text)
        .expect_err("config must be refused")
        .to_string()
}

#[test]
fn a_minimal_config_gets_safe_defaults() {
    let c = compile_str(ZOHO).unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.admin.listen.to_string(), "127.0.0.1:9901");
    assert_eq!(c.server.request_timeout, Duration::from_secs(120));
    assert_eq!(c.server.replay_buffer, 1 << 20);
    assert_eq!(c.server.shutdown_grace, Duration::from_secs(30));
    assert_eq!(c.credentials[0].zoho.data_center, DataCenter::Us);
    assert_eq!(
        c.credentials[0].zoho.token_url(),
        "https://accounts.zoho.com/oauth/v2/token"
    );
    assert_eq!(
        c.credentials[0].zoho.refresh_before_expiry,
        Duration::from_secs(300)
    );
    assert_eq!(c.credentials[0].zoho.token_requests_per_10min, 10);
    assert!(c.routes.is_empty(), "no routes: everything is refused");
}

#[test]
fn the_example_file_is_valid() {
    std::env::set_var("ZOHO_CLIENT_SECRET", "example-secret");
    std::env::set_var("ZOHO_REFRESH_TOKEN", "1000.example-refresh");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("proxy.toml.example");
    let c = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.credentials[0].zoho.data_center, DataCenter::Eu);
    assert_eq!(
        c.credentials[0].zoho.token_url(),
        "https://accounts.zoho.eu/oauth/v2/token"
    );
    assert_eq!(
        c.credentials[0].zoho.client_secret.expose(),
        "example-secret"
    );
    assert!(c.routes.len() >= 3);
    assert!(c.routes.iter().all(|r| !r.scopes.is_empty()));
}

#[test]
fn unknown_keys_are_errors_with_a_line_number() {
    let e = err(&format!(
        "{ZOHO}\n[server]\nlisten_addr = \"127.0.0.1:1\"\n"
    ));
    assert!(
        e.contains("test.toml") && e.contains("listen_addr") && e.contains("line 8"),
        "{e}"
    );
    let e = err(&format!(
        "{ZOHO}\n[[routes]]\npath = \"/x\"\nscope = [\"a.b.READ\"]\n"
    ));
    assert!(e.contains("scope") && e.contains("line 9"), "{e}");
}

#[test]
fn semantic_errors_name_file_line_column_and_value() {
    let e = err(&format!("{ZOHO}\n[[routes]]\npath = \"/crm/**\"\nscopes = [\"ZohoCRM.modules.leads.READ\", \"ZohoCRM.leads\"]\n"));
    assert!(e.starts_with("test.toml:9:"), "{e}");
    assert!(e.contains("ZohoCRM.leads"), "{e}");
    let e = err(&format!(
        "{ZOHO}\n[[routes]]\npath = \"/crm/**\"\nrequires = \"ZohoCRM.modules.leads.SOMETIMES\"\n"
    ));
    assert!(
        e.starts_with("test.toml:9:") && e.contains("SOMETIMES"),
        "{e}"
    );
    let e = err(&ZOHO.replace("[zoho]", "[zoho]\ndata_center = \"mars\""));
    assert!(e.starts_with("test.toml:3:") && e.contains("mars"), "{e}");
    let e = err(&format!("{ZOHO}\n[[routes]]\npath = \"/crm/v2/../x\"\n"));
    assert!(
        e.starts_with("test.toml:8:") && e.contains("bad path pattern"),
        "{e}"
    );
    let e = err(&format!(
        "{ZOHO}\n[[routes]]\npath = \"/crm\"\nmethods = [\"GET\", \"TRACE\"]\n"
    ));
    assert!(e.starts_with("test.toml:9:") && e.contains("TRACE"), "{e}");
    let e = err(&format!("{ZOHO}\n[server]\nrequest_timeout = \"soon\"\n"));
    assert!(e.starts_with("test.toml:8:") && e.contains("soon"), "{e}");
    let e = err(&format!(
        "{ZOHO}\n[[routes]]\npath = \"/crm\"\nheaders = {{ Authorization = \"x\" }}\n"
    ));
    assert!(
        e.contains("Authorization") && e.contains("set by the proxy"),
        "{e}"
    );
    let e = err(&format!(
        "{ZOHO}\n[[routes]]\npath = \"/crm\"\nupstream = \"ftp\"\n"
    ));
    assert!(e.contains("ftp"), "{e}");
}

#[test]
fn urls_must_be_bare_https_origins() {
    for (url, why) in [
        ("http://accounts.zoho.com", "https"),
        ("https://accounts.zoho.com/oauth", "bare origin"),
        ("not a url", "not a URL"),
    ] {
        let e = err(&ZOHO.replace("[zoho]", &format!("[zoho]\naccounts_url = \"{url}\"")));
        assert!(e.contains(why), "{url}: {e}");
    }
}

#[test]
fn secrets_come_from_env_or_files_and_missing_ones_are_named() {
    let text = ZOHO.replace(
        "client_secret = \"s\"",
        "client_secret = { env = \"ZOHO_PROXY_TEST_NO_SUCH_VAR\" }",
    );
    let e = err(&text);
    assert!(
        e.contains("ZOHO_PROXY_TEST_NO_SUCH_VAR") && e.contains("not set"),
        "{e}"
    );

    let dir = std::env::temp_dir().join(format!("zp-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("refresh"), "1000.from-a-file\n").unwrap();
    let text = ZOHO.replace(
        "refresh_token = \"r\"",
        "refresh_token = { file = \"refresh\" }",
    );
    let c = compile(&text, "t.toml", &dir).unwrap();
    assert_eq!(
        c.credentials[0].zoho.refresh_token.expose(),
        "1000.from-a-file"
    );
    let text = ZOHO.replace(
        "refresh_token = \"r\"",
        "refresh_token = { file = \"missing\" }",
    );
    let e = compile(&text, "t.toml", &dir).unwrap_err().to_string();
    assert!(e.contains("missing"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();

    let e = err(&ZOHO.replace("client_secret = \"s\"", "client_secret = { vault = \"x\" }"));
    assert!(e.contains("{ env = "), "{e}");
}

#[test]
fn errors_and_debug_never_show_secret_values() {
    let text = ZOHO
        .replace(
            "client_secret = \"s\"",
            "client_secret = \"top-secret-value\"",
        )
        .replace("[zoho]", "[zoho]\ndata_center = \"nowhere\"");
    assert!(!err(&text).contains("top-secret-value"));
    let ok = ZOHO.replace(
        "client_secret = \"s\"",
        "client_secret = \"top-secret-value\"",
    );
    let c = compile_str(&ok).unwrap();
    assert!(!format!("{c:?}").contains("top-secret-value"));
}

#[test]
fn remote_listeners_need_an_explicit_opt_in() {
    let e = err(&format!("{ZOHO}\n[server]\nlisten = \"0.0.0.0:8080\"\n"));
    assert!(
        e.contains("allow_remote") && e.starts_with("test.toml:8:"),
        "{e}"
    );
    let c = compile_str(&format!(
        "{ZOHO}\n[server]\nlisten = \"0.0.0.0:8080\"\nallow_remote = true\n"
    ))
    .unwrap();
    assert!(c.server.allow_remote);
}

#[test]
fn the_token_budget_cannot_exceed_zohos_limit() {
    let e = err(&ZOHO.replace("[zoho]", "[zoho]\ntoken_requests_per_10min = 11"));
    assert!(e.contains("between 1 and 10"), "{e}");
    let c = compile_str(&ZOHO.replace("[zoho]", "[zoho]\ntoken_requests_per_10min = 4")).unwrap();
    assert_eq!(c.credentials[0].zoho.token_requests_per_10min, 4);
}

#[test]
fn upstream_http_is_http2_unless_set_to_http1() {
    use crate::upstream::UpstreamHttp;
    let c = compile_str(ZOHO).unwrap();
    assert_eq!(c.credentials[0].zoho.upstream_http, UpstreamHttp::Http2);
    let c = compile_str(&ZOHO.replace("[zoho]", "[zoho]\nupstream_http = \"http1\"")).unwrap();
    assert_eq!(c.credentials[0].zoho.upstream_http, UpstreamHttp::Http1);
    let e = err(&ZOHO.replace("[zoho]", "[zoho]\nupstream_http = \"h3\""));
    assert!(
        e.contains("test.toml:3") && e.contains("\"http2\" or \"http1\""),
        "{e}"
    );
}

#[test]
fn the_token_cache_path_resolves_against_the_config_directory() {
    assert_eq!(
        compile_str(ZOHO).unwrap().credentials[0].zoho.token_cache,
        None
    );
    let text = ZOHO.replace("[zoho]", "[zoho]\ntoken_cache = \"cache/token.json\"");
    let c = compile(&text, "test.toml", Path::new("/etc/zoho-proxy")).unwrap();
    assert_eq!(
        c.credentials[0].zoho.token_cache.as_deref(),
        Some(Path::new("/etc/zoho-proxy/cache/token.json"))
    );
    let text = ZOHO.replace(
        "[zoho]",
        "[zoho]\ntoken_cache = \"/var/cache/zoho-proxy/token.json\"",
    );
    let c = compile(&text, "test.toml", Path::new("/etc/zoho-proxy")).unwrap();
    assert_eq!(
        c.credentials[0].zoho.token_cache.as_deref(),
        Some(Path::new("/var/cache/zoho-proxy/token.json"))
    );
    let e = err(&ZOHO.replace("[zoho]", "[zoho]\ntoken_cache = \" \""));
    assert!(
        e.contains("test.toml:3:") && e.contains("token_cache is empty"),
        "{e}"
    );
}

#[test]
fn credentials_only_go_to_the_configured_dc_or_explicit_overrides() {
    let c = compile_str(&ZOHO.replace("[zoho]", "[zoho]\ndata_center = \"eu\"")).unwrap();
    let z = &c.credentials[0].zoho;
    assert_eq!(z.base_url(Upstream::Api, None), "https://www.zohoapis.eu");
    assert_eq!(
        z.base_url(Upstream::Api, Some("https://www.zohoapis.eu")),
        "https://www.zohoapis.eu"
    );
    // Another DC's domain, or anything that is not Zoho's, is ignored.
    assert_eq!(
        z.base_url(Upstream::Api, Some("https://www.zohoapis.com")),
        "https://www.zohoapis.eu"
    );
    assert_eq!(
        z.base_url(Upstream::Api, Some("https://evil.example")),
        "https://www.zohoapis.eu"
    );
    assert_eq!(z.base_url(Upstream::Desk, None), "https://desk.zoho.eu");

    let text = ZOHO.replace(
        "[zoho]",
        "[zoho]\ndata_center = \"ca\"\napi_url = \"https://api.test:8443\"\nupstreams = { desk = \"https://desk.test\" }",
    );
    let c = compile_str(&text).unwrap();
    assert_eq!(
        c.credentials[0]
            .zoho
            .base_url(Upstream::Api, Some("https://www.zohoapis.ca")),
        "https://api.test:8443"
    );
    assert_eq!(
        c.credentials[0].zoho.base_url(Upstream::Desk, None),
        "https://desk.test"
    );
    assert_eq!(
        c.credentials[0].zoho.base_url(Upstream::Mail, None),
        "https://mail.zohocloud.ca"
    );
    let e = err(&ZOHO.replace("[zoho]", "[zoho]\nupstreams = { api = \"https://x.test\" }"));
    assert!(e.contains("api_url"), "{e}");
    let e = err(&ZOHO.replace(
        "[zoho]",
        "[zoho]\nupstreams = { gopher = \"https://x.test\" }",
    ));
    assert!(e.contains("gopher"), "{e}");
}

#[test]
fn rate_limit_and_retry_have_zoho_safe_defaults_and_checked_values() {
    let c = compile_str(ZOHO).unwrap();
    assert_eq!(
        c.credentials[0].rate_limit.credential.max_concurrent,
        Some(DEFAULT_MAX_CONCURRENT)
    );
    assert_eq!(
        c.credentials[0].rate_limit.credential.requests_per_minute,
        None
    );
    assert_eq!(
        c.credentials[0].rate_limit.max_wait,
        Duration::from_secs(30)
    );
    assert_eq!(c.retry, RetryPolicy::default());
    assert_eq!(c.retry.max_attempts, 3);

    let text = format!(
        "{ZOHO}\n[rate_limit]\nrequests_per_minute = 100\nburst = 10\nmax_concurrent = 5\nmax_wait = \"2s\"\n\
         [retry]\nmax_attempts = 1\nbase_delay = \"1s\"\nmax_delay = \"5s\"\n"
    );
    let c = compile_str(&text).unwrap();
    assert_eq!(
        c.credentials[0]
            .rate_limit
            .credential
            .requests_per_minute
            .map(|n| n.get()),
        Some(100)
    );
    assert_eq!(
        c.credentials[0]
            .rate_limit
            .credential
            .burst
            .map(|n| n.get()),
        Some(10)
    );
    assert_eq!(
        c.credentials[0].rate_limit.credential.max_concurrent,
        Some(5)
    );
    assert_eq!(c.retry.max_attempts, 1);

    let e = err(&format!("{ZOHO}\n[rate_limit]\nmax_concurrent = 0\n"));
    assert!(
        e.starts_with("test.toml:8:") && e.contains("at least 1"),
        "{e}"
    );
    let e = err(&format!("{ZOHO}\n[retry]\nmax_attempts = 50\n"));
    assert!(e.contains("1 (no retries) to 10"), "{e}");
    let e = err(&format!(
        "{ZOHO}\n[retry]\nbase_delay = \"1m\"\nmax_delay = \"1s\"\n"
    ));
    assert!(e.contains("longer than max_delay"), "{e}");
    let e = err(&format!(
        "{ZOHO}\n[[routes]]\npath = \"/crm\"\nrate_limit = {{ burst = 0 }}\n"
    ));
    assert!(e.contains("rate_limit.burst must be at least 1"), "{e}");
    let e = err(&format!(
        "{ZOHO}\n[[routes]]\npath = \"/crm\"\nrate_limit = {{ max_wait = \"1s\" }}\n"
    ));
    assert!(
        e.contains("max_wait"),
        "per-route max_wait is not a thing: {e}"
    );
}

#[test]
fn replay_memory_bounds_all_kept_bodies_together() {
    let c = compile_str(ZOHO).unwrap();
    assert_eq!(c.server.replay_memory, 64 << 20);
    let c = compile_str(&format!(
        "{ZOHO}\n[server]\nreplay_buffer = \"2MiB\"\nreplay_memory = \"16MiB\"\n"
    ))
    .unwrap();
    assert_eq!(
        (c.server.replay_buffer, c.server.replay_memory),
        (2 << 20, 16 << 20)
    );
    let e = err(&format!(
        "{ZOHO}\n[server]\nreplay_buffer = \"2MiB\"\nreplay_memory = \"1MiB\"\n"
    ));
    assert!(e.contains("at least replay_buffer"), "{e}");
}

const TWO: &str = r#"
[[credentials]]
name = "prod"
data_center = "eu"
client_id = "1000.PROD"
client_secret = "s"
refresh_token = "r"
rate_limit = { requests_per_minute = 100, max_concurrent = 10 }

[[credentials]]
name = "sandbox"
data_center = "eu"
api_url = "https://sandbox.zohoapis.eu"
client_id = "1000.SANDBOX"
client_secret = "s2"
refresh_token = "r2"
"#;

#[test]
fn several_credentials_each_with_their_own_limits() {
    let routes = r#"
[[routes]]
path = "/crm/v*/Leads/**"
credential = "prod"
scopes = ["ZohoCRM.modules.leads.ALL"]

[[routes]]
path = "/sandbox/crm/v*/Leads/**"
strip_prefix = "/sandbox"
credential = "sandbox"
scopes = ["ZohoCRM.modules.leads.ALL"]
"#;
    let c = compile_str(&format!("{TWO}{routes}")).unwrap();
    let names: Vec<&str> = c.credentials.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["prod", "sandbox"]);
    let prod = c.credential("prod").unwrap();
    assert_eq!(
        prod.rate_limit
            .credential
            .requests_per_minute
            .map(|n| n.get()),
        Some(100)
    );
    let sandbox = c.credential("sandbox").unwrap();
    assert_eq!(sandbox.rate_limit.credential.max_concurrent, Some(10));
    assert_eq!(
        sandbox.zoho.base_url(Upstream::Api, None),
        "https://sandbox.zohoapis.eu"
    );
    let routes: Vec<_> = c.routes.iter().collect();
    assert_eq!(routes[0].credential, 0);
    assert_eq!(routes[1].credential, 1);
    assert_eq!(routes[1].strip_prefix.as_deref(), Some("/sandbox"));
    // The single-credential form is the credential "default".
    assert_eq!(compile_str(ZOHO).unwrap().credentials[0].name, "default");
}

#[test]
fn credential_mistakes_are_refused_with_their_line() {
    let route = |extra: &str| {
        format!("{TWO}\n[[routes]]\npath = \"/crm/v*/Leads/**\"\nscopes = [\"ZohoCRM.modules.leads.ALL\"]\n{extra}\n")
    };
    let e = err(&route("credential = \"nope\""));
    assert!(
        e.contains("test.toml:")
            && e.contains("no credential named \"nope\"")
            && e.contains("prod, sandbox"),
        "{e}"
    );
    let e = err(&route(""));
    assert!(e.contains("several credentials exist"), "{e}");
    assert!(e.starts_with("test.toml:19:"), "{e}");
    let e = err(&TWO.replace("\"sandbox\"", "\"prod\""));
    assert!(
        e.contains("\"prod\" is used twice") && e.starts_with("test.toml:11:"),
        "{e}"
    );
    let e = err(&TWO.replace("\"sandbox\"", "\"Sand Box\""));
    assert!(e.contains("must be [a-z0-9_-]+"), "{e}");
    let e = err(&format!("{ZOHO}{TWO}"));
    assert!(e.contains("cannot both be used"), "{e}");
    let e = err(&format!("{TWO}\n[rate_limit]\nmax_concurrent = 3\n"));
    assert!(e.contains("its own rate_limit"), "{e}");
    let e = err(&ZOHO.replace("[zoho]", "[zoho]\nname = \"x\""));
    assert!(e.contains("always \"default\""), "{e}");
    let e = err("[server]\nlisten = \"127.0.0.1:1\"\n");
    assert!(e.contains("no credential"), "{e}");
}

#[test]
fn strip_prefix_must_be_a_literal_leading_part_of_the_path() {
    let route = |path: &str, prefix: &str| {
        format!("{ZOHO}\n[[routes]]\npath = \"{path}\"\nstrip_prefix = \"{prefix}\"\nscopes = [\"ZohoCRM.modules.ALL\"]\n")
    };
    assert!(compile_str(&route("/sandbox/crm/**", "/sandbox")).is_ok());
    assert!(compile_str(&route("/a/b/crm/**", "/a/b")).is_ok());
    for (path, prefix) in [
        ("/sandbox/crm/**", "/sand"),
        ("/sandboxcrm/**", "/sandbox"),
        ("/sandbox/crm/**", "/sandbox/"),
        ("/sandbox/crm/**", "sandbox"),
        ("/*/crm/**", "/*"),
        ("/sandbox/crm/**", "/other"),
        ("/sandbox", "/sandbox"),
        ("/x/../crm/**", "/x/.."),
    ] {
        let e = err(&route(path, prefix));
        assert!(
            e.contains("strip_prefix") && e.starts_with("test.toml:"),
            "{path} {prefix}: {e}"
        );
    }
}

#[test]
fn deadlines_buffers_and_the_connection_cap_have_defaults_and_checked_values() {
    let c = compile_str(ZOHO).unwrap();
    assert_eq!(
        c.server.pace,
        Pace {
            idle: Duration::from_secs(30),
            min_rate: 1024,
            grace: Duration::from_secs(5),
        }
    );
    assert_eq!(c.server.response_buffer, 256 << 10);
    assert_eq!(c.server.max_connections, 4096);
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(c.server.workers, cpus, "one worker per CPU");
    let c = compile_str(&format!(
        "{ZOHO}\n[server]\nbody_idle_timeout = \"1s\"\nmin_data_rate = \"2KiB/s\"\n\
         min_rate_grace = \"500ms\"\nresponse_buffer = \"64KiB\"\nmax_connections = 10\n\
         workers = 7\n"
    ))
    .unwrap();
    assert_eq!(
        c.server.pace,
        Pace {
            idle: Duration::from_secs(1),
            min_rate: 2048,
            grace: Duration::from_millis(500),
        }
    );
    assert_eq!(
        (
            c.server.response_buffer,
            c.server.max_connections,
            c.server.workers
        ),
        (64 << 10, 10, 7)
    );
    let off = compile_str(&format!("{ZOHO}\n[server]\nmin_data_rate = \"0\"\n")).unwrap();
    assert_eq!(off.server.pace.min_rate, 0);
    for (line, wanted) in [
        ("body_idle_timeout = \"0s\"", "longer than 0s"),
        ("min_data_rate = \"fast\"", "min_data_rate"),
        ("response_buffer = \"1GiB\"", "at most 16MiB"),
        ("max_connections = 0", "between 1 and 1000000"),
        ("workers = 0", "workers is between 1 and 1024"),
        ("workers = 1025", "workers is between 1 and 1024"),
    ] {
        let e = err(&format!("{ZOHO}\n[server]\n{line}\n"));
        assert!(
            e.contains(wanted) && e.contains("test.toml:8:"),
            "{line}: {e}"
        );
    }
}

#[test]
fn cluster_urls_are_checked_without_being_shown() {
    let with = |lines: &str| format!("{ZOHO}\n[cluster]\n{lines}\n");
    let c = compile_str(&with(r#"redis_url = "redis://:pw@127.0.0.1:6379/""#)).unwrap();
    let cluster = c.cluster.expect("[cluster]");
    assert!(!cluster.redis_cluster);
    assert_eq!(cluster.key_prefix, "zoho-proxy");
    let c = compile_str(&with(
        "redis_url = \"redis://a:7000/, redis://b:7001/\"\nredis_cluster = true",
    ))
    .unwrap();
    assert!(c.cluster.expect("[cluster]").redis_cluster);
    for (lines, why) in [
        (
            r#"redis_url = "http://:pw123@x/""#,
            "must start with redis://",
        ),
        (
            "redis_url = \"redis://:pw123@a:1/,b:2\"\nredis_cluster = true",
            "each starting with redis://",
        ),
        (
            "redis_url = \"redis://:pw123@a:1/,rediss://:pw123@b:2/\"\nredis_cluster = true",
            "mixes redis:// and rediss://",
        ),
    ] {
        let e = err(&with(lines));
        assert!(e.contains(why), "{lines}: {e}");
        assert!(e.contains("test.toml:"), "{e}");
        assert!(!e.contains("pw123"), "{e}");
    }
}

#[test]
fn onboarding_compiles_before_the_secrets_exist_and_remembers_their_sources() {
    let text = r#"
[zoho]
data_center = "ae"
client_id = "1000.ABC"
client_secret = { env = "ZOHO_PROXY_TEST_SURELY_UNSET_SECRET" }
refresh_token = { file = "surely-missing-refresh-token" }

[cluster]
redis_url = { env = "ZOHO_PROXY_TEST_SURELY_UNSET_REDIS" }
"#;
    // Serving needs every secret: the first missing one is an error.
    let e = compile_str(text).unwrap_err().to_string();
    assert!(
        e.contains("client_secret") && e.contains("ZOHO_PROXY_TEST_SURELY_UNSET_SECRET"),
        "{e}"
    );
    let dir = std::env::temp_dir().join(format!("zp-onboard-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("proxy.toml");
    std::fs::write(&path, text).unwrap();
    let c = load_for_onboarding(&path).unwrap();
    let z = &c.credentials[0].zoho;
    assert_eq!(z.data_center, DataCenter::Ae);
    assert_eq!(z.token_url(), "https://accounts.zoho.ae/oauth/v2/token");
    assert!(z.refresh_token.expose().is_empty() && z.client_secret.expose().is_empty());
    assert_eq!(
        z.client_secret_from,
        SecretSource::Env("ZOHO_PROXY_TEST_SURELY_UNSET_SECRET".into())
    );
    assert_eq!(
        z.refresh_token_from,
        SecretSource::File(dir.join("surely-missing-refresh-token"))
    );
    // Everything else is still checked.
    std::fs::write(&path, text.replace("\"ae\"", "\"mars\"")).unwrap();
    let e = load_for_onboarding(&path).unwrap_err().to_string();
    assert!(e.contains("mars"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
