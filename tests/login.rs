//! The real binary's `grant`, `login` and `revoke` against the fake Zoho,
//! over real sockets: the test plays the browser (it fetches the printed
//! authorization URL from the fake over TLS with the test CA and follows the
//! redirect to the login's loopback listener).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use http::{header, Request, StatusCode};
use zoho_proxy::body::empty;
use zoho_proxy::fake::{AuthReply, FakeZoho, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN};
use zoho_proxy::scope::{Scope, ScopeSet};
use zoho_proxy::token::accounts::form_decode;
use zoho_proxy::upstream::UpstreamClient;

use common::binary::{bin, temp_dir, Binary};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A command with no Zoho secrets of its own: only what the test gives it.
fn command(args: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.args(args)
        .env_remove("ZOHO_CLIENT_SECRET")
        .env_remove("ZOHO_REFRESH_TOKEN")
        .env_remove("ZOHO_PROXY_CONFIG")
        .env("RUST_LOG", "trace")
        .stdin(Stdio::null());
    cmd
}

/// Runs off the runtime, so the fake keeps serving meanwhile.
async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// A config whose only credential mints from `fake`, trusting its CA, with
/// its refresh token in `refresh_token` (relative to `dir`).
fn write_config(fake: &FakeZoho, dir: &Path, routes: &str) -> PathBuf {
    std::fs::write(dir.join("ca.pem"), fake.ca_pem()).unwrap();
    let path = dir.join("proxy.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\n\n\
             [zoho]\ndata_center = \"eu\"\nclient_id = \"{CLIENT_ID}\"\n\
             client_secret = {{ env = \"ZOHO_CLIENT_SECRET\" }}\n\
             refresh_token = {{ file = \"secrets/refresh_token\" }}\n\
             accounts_url = \"{url}\"\napi_url = \"{url}\"\nca_file = \"ca.pem\"\n\n{routes}",
            url = fake.url()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    path
}

const ROUTES: &str = r#"
[[routes]]
name = "leads"
path = "/crm/v*/Leads/**"
methods = ["GET"]
scopes = ["ZohoCRM.modules.leads.READ"]

[[routes]]
name = "contacts"
path = "/crm/v*/Contacts/**"
scopes = ["ZohoCRM.modules.contacts.ALL", "ZohoCRM.modules.contacts.READ"]
"#;

fn grant(config: &Path) -> Command {
    let mut cmd = command(&["grant", "--config"]);
    cmd.arg(config);
    cmd
}

fn the_example_config() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/proxy.toml.example"))
}

/// The one comma-separated scope line `grant` prints (indented by four).
fn grant_line(stdout: &str) -> String {
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("    ") && !l.trim().contains(' '))
        .collect();
    assert_eq!(lines.len(), 1, "one scope line: {stdout}");
    lines[0].trim().to_owned()
}

#[tokio::test]
async fn grant_for_the_example_config_is_exactly_the_minimal_scope_set() {
    let out = output(grant(&the_example_config())).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let line = grant_line(&stdout);
    assert_eq!(
        line,
        "ZohoCRM.modules.leads.READ,ZohoCRM.modules.contacts.ALL,ZohoCRM.coql.READ,\
         ZohoBooks.invoices.READ,Desk.tickets.READ,Desk.tickets.UPDATE,ZohoCRM.functions.execute.CREATE"
    );
    // Minimal, checked against the config itself: the grant covers every
    // route's scopes, and none of its scopes is covered by another.
    let config = zoho_proxy::config::load_for_onboarding(&the_example_config()).unwrap();
    let granted: Vec<Scope> = line.split(',').map(|s| s.parse().unwrap()).collect();
    let set = ScopeSet::new(granted.clone());
    for route in config.routes.iter() {
        for s in route.scopes.iter() {
            assert!(set.covers(s), "route {} needs {s}", route.name);
        }
    }
    for (i, a) in granted.iter().enumerate() {
        for (j, b) in granted.iter().enumerate() {
            assert!(i == j || !a.covers(b), "{a} covers {b}: not minimal");
        }
    }
    assert!(stdout.contains("https://api-console.zoho.eu"), "{stdout}");
    assert!(
        stdout.contains("  desk-tickets         Desk.tickets.READ Desk.tickets.UPDATE\n"),
        "{stdout}"
    );

    // Where one route's scope covers another's, the grant keeps the wider.
    let dir = temp_dir("grant-reduce");
    let path = dir.join("proxy.toml");
    std::fs::write(
        &path,
        std::fs::read_to_string(the_example_config())
            .unwrap()
            .replace("data_center = \"eu\"", "data_center = \"ae\"")
            .replace(
                "scopes = [\"ZohoBooks.invoices.READ\"]",
                "scopes = [\"ZohoBooks.invoices.READ\", \"ZohoCRM.modules.ALL\"]",
            ),
    )
    .unwrap();
    let out = output(grant(&path)).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_eq!(
        grant_line(&stdout),
        "ZohoCRM.coql.READ,ZohoBooks.invoices.READ,ZohoCRM.modules.ALL,Desk.tickets.READ,\
         Desk.tickets.UPDATE,ZohoCRM.functions.execute.CREATE"
    );
    assert!(
        stdout.contains("ZohoCRM.modules.leads.READ (through ZohoCRM.modules.ALL)"),
        "{stdout}"
    );
    assert!(stdout.contains("https://api-console.zoho.ae"), "{stdout}");
}

/// A running `login`: its authorization URL, and the rest of its output.
struct LoginRun {
    child: Child,
    url: String,
    stdout: std::thread::JoinHandle<String>,
}

/// Starts `login` and reads its stdout until the authorization URL.
async fn start_login(config: &Path, extra: &[&str]) -> LoginRun {
    let mut cmd = command(&["login", "--no-browser", "--port", "0", "--config"]);
    cmd.arg(config)
        .args(extra)
        .env("ZOHO_CLIENT_SECRET", CLIENT_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout);
        let mut seen = String::new();
        let mut tx = Some(tx);
        let mut line = String::new();
        while lines.read_line(&mut line).unwrap_or(0) > 0 {
            if line.contains("/oauth/v2/auth?") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(line.trim().to_owned());
                }
            }
            seen.push_str(&line);
            line.clear();
        }
        seen
    });
    let url = tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .expect("login printed the authorization URL in time")
        .expect("login printed the authorization URL");
    LoginRun {
        child,
        url,
        stdout: reader,
    }
}

impl LoginRun {
    /// Waits for the process to end: its status, stdout and stderr.
    async fn finish(mut self) -> (std::process::ExitStatus, String, String) {
        let mut stderr = self.child.stderr.take().unwrap();
        tokio::task::spawn_blocking(move || {
            let mut err = String::new();
            stderr.read_to_string(&mut err).unwrap();
            let status = self.child.wait().unwrap();
            (status, self.stdout.join().unwrap(), err)
        })
        .await
        .unwrap()
    }
}

/// The browser's part: GET the authorization URL at the fake (TLS, test
/// CA), then follow its redirect to the loopback listener. Returns the
/// redirect's URL and the listener's answer (status, body).
async fn browse(fake: &FakeZoho, url: &str) -> (String, u16, String) {
    let client = UpstreamClient::new(&[fake.ca_cert()], Default::default()).unwrap();
    let resp = client
        .send(
            Request::get(url).body(empty()).unwrap(),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let rest = location
        .strip_prefix("http://")
        .expect("a loopback http redirect");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let addr: SocketAddr = host.parse().unwrap();
    assert!(addr.ip().is_loopback(), "{addr}");
    let (status, _, body) = common::raw_request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    (location, status, body)
}

fn query_param(url: &str, key: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_decode(query)
        .into_iter()
        .find_map(|(k, v)| (k == key).then_some(v))
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn check_online(config: &Path) -> Output {
    let mut cmd = command(&["check", "--online", "--config"]);
    cmd.arg(config).env("ZOHO_CLIENT_SECRET", CLIENT_SECRET);
    output(cmd).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_completes_end_to_end_and_writes_a_private_secret_file() {
    let fake = FakeZoho::start().await.unwrap();
    let dir = temp_dir("login-ok");
    let config = write_config(&fake, &dir, ROUTES);
    let login = start_login(&config, &[]).await;

    // The URL asks Zoho for exactly the routes' grant, offline, with consent.
    let url = login.url.clone();
    assert!(
        url.starts_with(&format!("{}/oauth/v2/auth?", fake.url())),
        "{url}"
    );
    assert_eq!(
        query_param(&url, "scope").as_deref(),
        Some("ZohoCRM.modules.leads.READ,ZohoCRM.modules.contacts.ALL")
    );
    assert_eq!(query_param(&url, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(query_param(&url, "response_type").as_deref(), Some("code"));
    assert_eq!(query_param(&url, "access_type").as_deref(), Some("offline"));
    assert_eq!(query_param(&url, "prompt").as_deref(), Some("consent"));
    let redirect_uri = query_param(&url, "redirect_uri").unwrap();
    assert!(
        redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with("/callback"),
        "{redirect_uri}"
    );
    let state = query_param(&url, "state").unwrap();
    assert_eq!(state.len(), 32, "{state}");

    let (location, status, page) = browse(&fake, &url).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("You can close this tab"), "{page}");
    assert_eq!(query_param(&location, "state").as_deref(), Some(&*state));
    assert_eq!(
        query_param(&location, "accounts-server").as_deref(),
        Some(fake.url())
    );
    let code = query_param(&location, "code").unwrap();

    let (exit, stdout, stderr) = login.finish().await;
    assert!(exit.success(), "{stdout}{stderr}");
    let file = dir.join("secrets/refresh_token");
    let token = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert!(token.starts_with("1000.fakerefresh"), "{token}");
    assert!(fake.refresh_token_is_live(&token));
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    for secret in [token.as_str(), CLIENT_SECRET, code.as_str()] {
        assert!(!stdout.contains(secret), "{secret} in stdout: {stdout}");
        assert!(!stderr.contains(secret), "{secret} in the logs: {stderr}");
    }
    assert!(
        stdout.contains("The refresh token is in") && stdout.contains("(mode 0600)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Granted scopes: ZohoCRM.modules.leads.READ ZohoCRM.modules.contacts.ALL"),
        "{stdout}"
    );
    assert!(!stdout.contains("warning"), "{stdout}");
    assert!(
        !stdout.contains("Point credential"),
        "already configured: {stdout}"
    );

    // The proxy refreshes with what login wrote.
    let before = fake.token_requests();
    let out = check_online(&config).await;
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(fake.token_requests(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refuses_a_wrong_state_an_error_a_foreign_accounts_server_and_a_timeout() {
    let fake = FakeZoho::start().await.unwrap();
    let dir = temp_dir("login-refused");
    let config = write_config(&fake, &dir, ROUTES);
    let cases = [
        (
            AuthReply::State("0123456789abcdef0123456789abcdef".into()),
            "state does not match",
        ),
        (AuthReply::Error("access_denied".into()), "declined"),
        (
            AuthReply::AccountsServer {
                location: "eu".into(),
                url: "https://accounts.zoho.eu.evil.example".into(),
            },
            "were not sent there",
        ),
    ];
    for (reply, says) in cases {
        fake.script_auth(reply);
        let login = start_login(&config, &[]).await;
        let url = login.url.clone();
        let (_, status, page) = browse(&fake, &url).await;
        assert_eq!(status, 400, "{page}");
        assert!(page.contains(says), "{page}");
        let (exit, stdout, stderr) = login.finish().await;
        assert!(!exit.success(), "{stdout}{stderr}");
        assert!(stderr.contains(says), "{says}: {stderr}");
    }
    // Nothing was exchanged, nothing written.
    assert_eq!(fake.token_requests(), 0);
    assert!(!dir.join("secrets/refresh_token").exists());

    // Nobody comes back.
    let login = start_login(&config, &["--timeout", "1s"]).await;
    let (exit, stdout, stderr) = login.finish().await;
    assert!(!exit.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("no answer from Zoho within 1s") && stderr.contains("Authorized Redirect"),
        "{stderr}"
    );

    // A credential whose token comes from a variable: login says how to
    // proceed before it starts.
    let env_config = dir.join("env.toml");
    std::fs::write(
        &env_config,
        std::fs::read_to_string(&config).unwrap().replace(
            "refresh_token = { file = \"secrets/refresh_token\" }",
            "refresh_token = { env = \"ZOHO_REFRESH_TOKEN\" }",
        ),
    )
    .unwrap();
    let mut cmd = command(&["login", "--no-browser", "--port", "0", "--config"]);
    cmd.arg(&env_config)
        .env("ZOHO_CLIENT_SECRET", CLIENT_SECRET);
    let out = output(cmd).await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("environment variable ZOHO_REFRESH_TOKEN")
            && stderr.contains("--token-file")
            && stderr.contains("--print-token"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_makes_the_next_refresh_fail_with_invalid_code() {
    let fake = FakeZoho::start().await.unwrap();
    let dir = temp_dir("revoke");
    let config = write_config(&fake, &dir, ROUTES);
    std::fs::write(dir.join("secrets/refresh_token"), REFRESH_TOKEN).unwrap();
    let revoke = |extra: &[&str]| {
        let mut cmd = command(&["revoke", "--config"]);
        cmd.arg(&config).args(extra);
        cmd
    };

    // Not confirmed (no terminal, no --yes): nothing happens.
    let out = output(revoke(&[])).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not confirmed"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fake.revocations(), 0);
    assert!(check_online(&config).await.status.success());

    let out = output(revoke(&["--yes"])).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(fake.revocations(), 1);
    assert!(!stdout.contains(REFRESH_TOKEN) && !stderr.contains(REFRESH_TOKEN));
    assert!(
        stdout.contains("Revoked at") && stdout.contains("sha256:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("zoho-proxy login") && stdout.contains("SIGHUP"),
        "what to do next: {stdout}"
    );

    // The next refresh fails the way Zoho says it: invalid_code.
    let out = check_online(&config).await;
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("invalid_code"), "{all}");

    // A second revocation: Zoho no longer knows the token.
    let out = output(revoke(&["--yes"])).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("does not know this refresh token"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_without_downtime_new_token_sighup_then_revoke_the_old_one() {
    let fake = FakeZoho::start().await.unwrap();
    let dir = temp_dir("rotate");
    let config = write_config(&fake, &dir, ROUTES);
    let file = dir.join("secrets/refresh_token");
    std::fs::write(&file, format!("{REFRESH_TOKEN}\n")).unwrap();
    // The proxy reads the client secret from its environment.
    let text_config = std::fs::read_to_string(&config).unwrap().replace(
        "client_secret = { env = \"ZOHO_CLIENT_SECRET\" }",
        &format!("client_secret = \"{CLIENT_SECRET}\""),
    );
    std::fs::write(&config, text_config).unwrap();
    let mut proxy = Binary::spawn(&dir, None);
    let addr = proxy.addr().await;
    let get = |addr: SocketAddr| async move {
        common::raw_request(
            addr,
            "GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
        .0
    };
    assert_eq!(get(addr).await, 200);

    // A new token next to the old one.
    let login = start_login(&config, &[]).await;
    let url = login.url.clone();
    assert_eq!(browse(&fake, &url).await.1, 200);
    let (exit, stdout, stderr) = login.finish().await;
    assert!(exit.success(), "{stdout}{stderr}");
    let previous = dir.join("secrets/refresh_token.previous");
    assert_eq!(
        std::fs::read_to_string(&previous).unwrap().trim(),
        REFRESH_TOKEN
    );
    #[cfg(unix)]
    assert_eq!(mode(&previous), 0o600);
    assert!(stdout.contains("--token-file"), "{stdout}");
    let new = std::fs::read_to_string(&file).unwrap().trim().to_owned();

    proxy.signal("HUP");
    // The reload mints from the new token; requests keep being served.
    for _ in 0..200 {
        if proxy.logs().contains("config reloaded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(proxy.logs().contains("config reloaded"), "{}", proxy.logs());
    assert_eq!(get(addr).await, 200);

    // Revoke the old one: the proxy does not notice.
    let mut cmd = command(&["revoke", "--yes", "--config"]);
    cmd.arg(&config).arg("--token-file").arg(&previous);
    let out = output(cmd).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("Next: delete {}", previous.display())),
        "{stdout}"
    );
    assert!(!fake.refresh_token_is_live(REFRESH_TOKEN));
    assert!(fake.refresh_token_is_live(&new));
    // The access token the proxy holds was minted from the new refresh
    // token: revoking the old one (and its access tokens) does not touch it.
    assert_eq!(get(addr).await, 200);
    assert!(!proxy.logs().contains(&new) && !proxy.logs().contains(REFRESH_TOKEN));
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_writes_elsewhere_or_prints_only_when_asked() {
    let fake = FakeZoho::start().await.unwrap();
    let dir = temp_dir("login-elsewhere");
    let config = write_config(&fake, &dir, ROUTES);

    // --token-file: written there (0600), with the line that points the
    // credential at it.
    let other = dir.join("other_token");
    let login = start_login(&config, &["--token-file", other.to_str().unwrap()]).await;
    let url = login.url.clone();
    assert_eq!(browse(&fake, &url).await.1, 200);
    let (exit, stdout, stderr) = login.finish().await;
    assert!(exit.success(), "{stdout}{stderr}");
    let token = std::fs::read_to_string(&other).unwrap().trim().to_owned();
    assert!(fake.refresh_token_is_live(&token));
    #[cfg(unix)]
    assert_eq!(mode(&other), 0o600);
    assert!(!stdout.contains(&token) && !stderr.contains(&token));
    assert!(
        stdout.contains(&format!(
            "refresh_token = {{ file = \"{}\" }}",
            other.display()
        )),
        "{stdout}"
    );
    assert!(!dir.join("secrets/refresh_token").exists());

    // --print-token: printed once on stdout, nothing written.
    let login = start_login(&config, &["--print-token"]).await;
    let url = login.url.clone();
    assert_eq!(browse(&fake, &url).await.1, 200);
    let (exit, stdout, stderr) = login.finish().await;
    assert!(exit.success(), "{stdout}{stderr}");
    let printed = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("1000.fakerefresh"))
        .unwrap_or_else(|| panic!("no token printed: {stdout}"))
        .to_owned();
    assert!(fake.refresh_token_is_live(&printed));
    assert_eq!(stdout.matches(&printed).count(), 1, "{stdout}");
    assert!(!stderr.contains(&printed), "{stderr}");
    assert!(!dir.join("secrets/refresh_token").exists());
}
