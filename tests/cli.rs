//! The real binary: `check`, `check --online`, and `demo` with a signal.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use zoho_proxy::fake::FakeZoho;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zoho-proxy"))
}

/// The command's stdout, after checking it exited 0 (else both outputs are shown).
fn succeeded(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zp-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn check_prints_the_effective_settings_and_route_table() {
    let dir = temp_dir("check");
    let path = dir.join("proxy.toml");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/proxy.toml.example"),
        &path,
    )
    .unwrap();
    let out = bin()
        .args(["check", "--config"])
        .arg(&path)
        .env("ZOHO_CLIENT_SECRET", "s")
        .env("ZOHO_REFRESH_TOKEN", "r")
        .output()
        .unwrap();
    let stdout = succeeded(&out);
    assert!(
        stdout.contains("accounts: https://accounts.zoho.eu/oauth/v2/token"),
        "{stdout}"
    );
    assert!(stdout.contains("api: https://www.zohoapis.eu"), "{stdout}");
    assert!(
        stdout.contains(
            "1. crm GET,HEAD,POST,PUT,PATCH,DELETE /crm/** -> api https://www.zohoapis.eu"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("-> desk https://desk.zoho.eu"), "{stdout}");
    assert!(!stdout.contains("1000.example") && !stdout.contains("ZOHO_REFRESH_TOKEN=r"));

    // A missing secret: exit 1 and the variable's name.
    let out = bin()
        .args(["check", "--config"])
        .arg(&path)
        .env_remove("ZOHO_REFRESH_TOKEN")
        .env("ZOHO_CLIENT_SECRET", "s")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ZOHO_REFRESH_TOKEN") && stderr.contains("proxy.toml:"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_online_performs_one_refresh_and_prints_the_grant() {
    let fake = FakeZoho::start().await.unwrap();
    fake.set_granted_scope(Some(
        "ZohoCRM.modules.leads.READ ZohoCRM.modules.contacts.ALL Desk.tickets.READ",
    ));
    let dir = common::binary::config_dir("online", &fake, "", "", common::ALLOW_ALL);
    let out = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || {
            bin()
                .args(["check", "--online", "--config"])
                .arg(dir.join("proxy.toml"))
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = succeeded(&out);
    assert!(stdout.contains("token refresh: ok"), "{stdout}");
    assert!(
        stdout.contains("granted scopes: ZohoCRM.modules.leads.READ ZohoCRM.modules.contacts.ALL Desk.tickets.READ"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("fakeaccess"),
        "the token is never printed: {stdout}"
    );
    // The route uses ZohoCRM.modules.ALL, which the grant does not cover; the
    // grant has Desk.tickets.READ, which no route uses.
    assert!(
        stdout.contains("NOT GRANTED ZohoCRM.modules.ALL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("warning: route scope ZohoCRM.modules.ALL (route all) was not granted"),
        "{stdout}"
    );
    assert!(
        stdout.contains("warning: granted scope Desk.tickets.READ is used by no route"),
        "{stdout}"
    );
    assert_eq!(fake.token_requests(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_allows_denies_and_exits_cleanly_on_sigterm() {
    let mut child = bin()
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let addr = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.split("listens on http://").nth(1) {
                return rest
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .parse::<std::net::SocketAddr>()
                    .unwrap();
            }
        }
        panic!("demo never printed its address");
    })
    .await
    .unwrap();
    for (method, path, status) in [
        ("GET", "/crm/v8/Leads", 200),
        ("DELETE", "/crm/v8/Contacts/42", 200),
        ("POST", "/crm/v8/Leads", 403),
        ("GET", "/crm/v8/Deals", 403),
        // The second credential, behind its prefix.
        ("GET", "/sandbox/crm/v8/Leads?fields=Last_Name", 200),
        ("DELETE", "/sandbox/crm/v8/Leads/1", 403),
    ] {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(
            common::raw_request(addr, &head).await.0,
            status,
            "{method} {path}"
        );
    }

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0), "graceful exit on SIGTERM");
}

#[test]
fn scopes_explains_what_a_call_needs() {
    let out = bin()
        .args(["scopes", "/crm/v8/Leads/upsert", "POST"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("needs ZohoCRM.modules.leads.CREATE (crm.upsert, heavy)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("doc: https://www.zoho.com/crm/"),
        "{stdout}"
    );
    let out = bin()
        .args(["scopes", "/api/v1/tickets", "GET", "--upstream", "desk"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Desk.tickets.READ"));
    let out = bin()
        .args(["scopes", "/crm/v8/settings/brand_new_thing", "GET"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("unknown to the catalog"));
    let out = bin()
        .args(["scopes", "/crm/v8/Leads/%2e%2e/Deals"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dot segment"));
}

#[test]
fn scopes_list_prints_the_whole_catalog_with_sources() {
    let out = bin().args(["scopes", "--list"]).output().unwrap();
    let stdout = succeeded(&out);
    let rows = zoho_proxy::catalog::list::rows();
    assert!(
        stdout.contains(&format!("The scope catalog: {} rows", rows.len())),
        "{stdout}"
    );
    // One line per row, in match order, each ending with its source page.
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            ["api ", "content ", "desk "]
                .iter()
                .any(|u| l.starts_with(u))
        })
        .collect();
    assert_eq!(lines.len(), rows.len());
    for (line, row) in lines.iter().zip(&rows) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[0], row.upstream.as_str(), "{line}");
        assert_eq!(cols[1], row.methods.join(","), "{line}");
        assert_eq!(cols[2], row.path, "{line}");
        assert!(line.contains(&row.requires), "{line}");
        assert!(line.ends_with(row.source), "{line}");
        assert!(row.source.starts_with("https://"), "{line}");
    }
    for want in [
        "/crm/{v}/{module}/search",
        "ZohoCRM.modules.{module}.READ + ZohoSearch.securesearch.READ",
        "https://www.zoho.com/crm/developer/docs/api/v8/search-records.html",
        "[heavy; body: + READ on the modules the query reads]",
        "# {books}: path segment -> scope name",
        "{module:NAME}",
    ] {
        assert!(stdout.contains(want), "{want} missing");
    }
    // A closed pipe ends the listing quietly.
    let mut child = bin()
        .args(["scopes", "--list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // --list takes no path.
    let out = bin()
        .args(["scopes", "--list", "/crm/v8/Leads"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// Runs `zoho-proxy run` against `fake` with the given log settings, sends a
/// few requests (including one that makes the proxy refresh and replay),
/// stops it with SIGTERM and returns what it logged.
async fn logs_of_a_session(fake: &FakeZoho, log_format: &str, rust_log: &str) -> String {
    // Tokens here are seconds old when the fake revokes them. The client
    // sends its key as a Zoho token, as a legacy app would. A fixed admin
    // port is not needed; the proxy port is read from the log.
    let dir = common::binary::config_dir(
        &format!("logs-{log_format}"),
        fake,
        "",
        "rejected_token_min_age = \"0s\"",
        &format!(
            "{}\n[[clients]]\nname = \"legacy-app\"\nkey = \"1000.client-own-secret-token\"\n",
            common::ALLOW_ALL
        ),
    );
    let log_path = dir.join("stderr.log");
    let mut child = bin()
        .args(["--log-format", log_format, "run", "--config"])
        .arg(dir.join("proxy.toml"))
        .env("RUST_LOG", rust_log)
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log_path).unwrap()))
        .spawn()
        .unwrap();
    // Wait for the "listening" line and take the address from it.
    let addr = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let found = text
            .lines()
            .find(|l| l.contains("zoho-proxy listening"))
            .and_then(|l| {
                let start = l.find("127.0.0.1:")?;
                let rest = &l[start..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
                    .unwrap_or(rest.len());
                rest[..end].parse::<std::net::SocketAddr>().ok()
            });
        if let Some(addr) = found {
            break addr;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    // Let the first token arrive, then make Zoho reject it: refresh + replay.
    common::eventually(
        "the first token request",
        std::time::Duration::from_secs(10),
        || fake.token_requests() > 0,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let send = |head: String| async move { common::raw_request(addr, &head).await.0 };
    let auth = "Authorization: Zoho-oauthtoken 1000.client-own-secret-token\r\n";
    assert_eq!(
        send(format!(
            "GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
        ))
        .await,
        200
    );
    fake.revoke_tokens();
    let body = r#"{"data":[{"Last_Name":"Log"}]}"#;
    let post = format!(
        "POST /crm/v8/Contacts HTTP/1.1\r\nHost: x\r\n{auth}x-request-id: leak-test-1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(send(post).await, 200);
    assert_eq!(
        send(format!(
            "GET /crm/v8/../x HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
        ))
        .await,
        400
    );
    // A wrong key (in the proxy's own header) is refused, and not logged either.
    assert_eq!(
        send("GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nx-zoho-proxy-key: wrong-guess-key-0123456789\r\nConnection: close\r\n\r\n".into()).await,
        401
    );
    assert_eq!(fake.token_requests(), 2, "the replay path ran");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let text = std::fs::read_to_string(&log_path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_even_at_trace_level() {
    let fake = FakeZoho::start().await.unwrap();
    let logs = logs_of_a_session(&fake, "text", "trace").await;
    assert!(
        logs.lines().count() > 100,
        "trace logging was on: {} lines",
        logs.lines().count()
    );
    assert!(
        logs.contains("access token refreshed") && logs.contains("leak-test-1"),
        "the proxy's own lines are there"
    );
    for secret in [
        "1000.fakeaccess", // every access token the fake minted
        zoho_proxy::fake::REFRESH_TOKEN,
        zoho_proxy::fake::CLIENT_SECRET,
        "client-own-secret-token", // the client key, sent in Authorization
        "wrong-guess-key",         // a wrong key, sent in x-zoho-proxy-key
        "Zoho-oauthtoken",
    ] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_have_one_line_per_request_with_its_id() {
    let fake = FakeZoho::start().await.unwrap();
    let logs = logs_of_a_session(&fake, "json", "info").await;
    let requests: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))
        })
        .filter(|v| v["message"] == "request")
        .collect();
    assert_eq!(requests.len(), 4, "{logs}");
    let post = requests
        .iter()
        .find(|v| v["request_id"] == "leak-test-1")
        .expect("the client's request id is logged");
    assert_eq!(post["route"], "all");
    assert_eq!(post["client"], "legacy-app");
    let refused = requests
        .iter()
        .find(|v| v["status"] == 401)
        .expect("the refused key is logged");
    assert_eq!(refused["client"], "-");
    assert_eq!(post["status"], 200);
    assert_eq!(post["replayed"], true);
    assert!(
        post["duration_ms"].is_u64() && post["upstream_ms"].is_u64() && post["retries"] == 0,
        "{post}"
    );
}

/// Each worker batches its log lines, but writes them before it waits for
/// work: with the proxy idle and running, every request's line is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workers_log_lines_are_written_while_the_proxy_idles() {
    use common::binary::{config_dir, Binary};
    const N: usize = 12;
    let fake = FakeZoho::start().await.unwrap();
    let dir = config_dir("log-batches", &fake, "workers = 3", "", common::ALLOW_ALL);
    let mut proxy = Binary::spawn(&dir, None);
    let addr = proxy.addr().await;
    // One connection each: the kernel spreads them over the three workers.
    let head = "GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for _ in 0..N {
        assert_eq!(common::raw_request(addr, head).await.0, 200);
    }
    let lines = || {
        proxy
            .logs()
            .lines()
            .filter(|l| l.contains(r#""message":"request""#))
            .count()
    };
    common::eventually(
        "every request's line, with the proxy still running",
        std::time::Duration::from_secs(10),
        || lines() == N,
    )
    .await;
    assert!(proxy.exited().is_none());
}

/// A SIGHUP that arrives while the proxy starts (here: while it reads its
/// client secret from a FIFO, so the moment is certain) must not kill it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sighup_during_start_up_does_not_kill_the_process() {
    use common::binary::{temp_dir, Binary};
    let fake = FakeZoho::start().await.unwrap();
    let dir = temp_dir("sighup-start");
    std::fs::write(dir.join("ca.pem"), fake.ca_pem()).unwrap();
    let fifo = dir.join("secret.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let config = fake
        .proxy_config("127.0.0.1:0", "", "ca_file = \"ca.pem\"", common::ALLOW_ALL)
        .replacen(
            &format!("client_secret = \"{}\"", zoho_proxy::fake::CLIENT_SECRET),
            "client_secret = { file = \"secret.fifo\" }",
            1,
        );
    std::fs::write(dir.join("proxy.toml"), config).unwrap();
    let mut proxy = Binary::spawn(&dir, None);
    // Opening the FIFO for writing returns once the proxy opened it to read:
    // it is loading its config, past start-up's first steps.
    let writer = tokio::task::spawn_blocking({
        let fifo = fifo.clone();
        move || std::fs::OpenOptions::new().write(true).open(fifo).unwrap()
    })
    .await
    .unwrap();
    proxy.signal("HUP");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(proxy.exited().is_none(), "SIGHUP killed the starting proxy");
    // The caught SIGHUP reloads once the proxy is up: that reload reads a
    // plain file (the proxy already holds the FIFO open).
    std::fs::write(dir.join("secret.tmp"), zoho_proxy::fake::CLIENT_SECRET).unwrap();
    std::fs::rename(dir.join("secret.tmp"), &fifo).unwrap();
    {
        use std::io::Write;
        let mut writer = writer;
        writer
            .write_all(zoho_proxy::fake::CLIENT_SECRET.as_bytes())
            .unwrap();
    }
    let addr = proxy.addr().await;
    common::eventually(
        "the first token request",
        std::time::Duration::from_secs(10),
        || fake.token_requests() > 0,
    )
    .await;
    let head = "GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let mut status = 0;
    for _ in 0..100 {
        status = common::raw_request(addr, head).await.0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, 200);
    assert_eq!(proxy.stop().await.code(), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}
