//! The real binary's `exchange-code` against the fake Zoho's accounts server:
//! a grant code becomes a refresh token and a `[zoho]` block that works.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use zoho_proxy::fake::{FakeZoho, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zp-onboard-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the binary off the runtime, so the fake keeps serving meanwhile.
async fn run(args: Vec<String>, envs: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_zoho-proxy"));
        cmd.args(&args)
            .env_remove("ZOHO_CLIENT_SECRET")
            .env_remove("ZOHO_REFRESH_TOKEN")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    })
    .await
    .unwrap()
}

fn exchange_args(fake: &FakeZoho, ca: &Path, code: &str) -> Vec<String> {
    [
        "exchange-code",
        "--data-center",
        "eu",
        "--client-id",
        CLIENT_ID,
        "--code",
        code,
        "--accounts-url",
        fake.url(),
        "--ca-file",
        ca.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_code_becomes_a_refresh_token_and_a_working_config_block() {
    let fake = FakeZoho::start().await.unwrap();
    let dir = temp_dir("ok");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, fake.ca_pem()).unwrap();
    let code = fake.issue_grant_code("ZohoCRM.modules.leads.READ ZohoCRM.modules.contacts.ALL");
    let secret = vec![("ZOHO_CLIENT_SECRET", CLIENT_SECRET.to_owned())];

    let out = run(exchange_args(&fake, &ca, &code), secret.clone()).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(
        stdout.matches(REFRESH_TOKEN).count(),
        1,
        "printed exactly once: {stdout}"
    );
    assert!(!stderr.contains(REFRESH_TOKEN), "{stderr}");
    assert!(
        stdout.contains("Granted scopes: ZohoCRM.modules.leads.READ ZohoCRM.modules.contacts.ALL"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("API domain:     {}", fake.url())),
        "{stdout}"
    );
    assert!(!stdout.contains(CLIENT_SECRET), "{stdout}");
    assert!(!stdout.contains("fakeaccess"), "no access token: {stdout}");
    assert!(stdout.contains("export ZOHO_REFRESH_TOKEN="), "{stdout}");

    // The printed block, as pasted, with the printed token exported, works:
    // `check --online` refreshes with it.
    let block: String = stdout
        .lines()
        .skip_while(|l| *l != "[zoho]")
        .take_while(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(block.contains("data_center = \"eu\""), "{block}");
    assert!(
        block.contains(&format!("client_id = \"{CLIENT_ID}\"")),
        "{block}"
    );
    assert!(block.contains("client_secret = { env = \"ZOHO_CLIENT_SECRET\" }"));
    assert!(block.contains("refresh_token = { env = \"ZOHO_REFRESH_TOKEN\" }"));
    let config = dir.join("proxy.toml");
    std::fs::write(&config, &block).unwrap();
    let printed = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("1000."))
        .unwrap()
        .to_owned();
    let before = fake.token_requests();
    let out = run(
        vec![
            "check".into(),
            "--online".into(),
            "--config".into(),
            config.display().to_string(),
        ],
        vec![
            ("ZOHO_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("ZOHO_REFRESH_TOKEN", printed),
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("token refresh: ok"));
    assert_eq!(fake.token_requests(), before + 1);

    // Codes are single use.
    let out = run(exchange_args(&fake, &ca, &code), secret).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("invalid_code") && stderr.contains("already used"),
        "{stderr}"
    );
    assert!(!text(&out.stdout).contains(REFRESH_TOKEN));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_explained_and_never_echoed() {
    let fake = FakeZoho::start().await.unwrap();
    let dir = temp_dir("secret");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, fake.ca_pem()).unwrap();
    let code = fake.issue_grant_code("ZohoCRM.modules.ALL");
    let mut args = exchange_args(&fake, &ca, &code);
    args.extend(["--client-secret-env".into(), "MY_SECRET".into()]);
    let out = run(args, vec![("MY_SECRET", "not-the-secret-7f3a".into())]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("invalid_client") && stderr.contains("wrong data centre"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-secret-7f3a"), "{stderr}");
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_explained() {
    let fake = FakeZoho::start().await.unwrap();
    let dir = temp_dir("throttle");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, fake.ca_pem()).unwrap();
    let code = fake.issue_grant_code("ZohoCRM.modules.ALL");
    fake.script_token(zoho_proxy::fake::TokenReply::Throttle);
    let out = run(
        exchange_args(&fake, &ca, &code),
        vec![("ZOHO_CLIENT_SECRET", CLIENT_SECRET.to_owned())],
    )
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("throttling") && stderr.contains("wait up to 10 minutes"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn without_a_secret_or_a_terminal_it_names_the_variable() {
    let out = run(
        [
            "exchange-code",
            "--data-center",
            "eu",
            "--client-id",
            "1000.X",
            "--code",
            "1000.y",
        ]
        .map(String::from)
        .to_vec(),
        vec![],
    )
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no client secret: set ZOHO_CLIENT_SECRET"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uae_data_centre_is_accepted_and_an_unknown_one_lists_it() {
    let fake = FakeZoho::start().await.unwrap();
    let dir = temp_dir("ae");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, fake.ca_pem()).unwrap();
    let code = fake.issue_grant_code("ZohoCRM.modules.ALL");
    let mut args = exchange_args(&fake, &ca, &code);
    args[2] = "ae".into();
    let secret = vec![("ZOHO_CLIENT_SECRET", CLIENT_SECRET.to_owned())];
    let out = run(args.clone(), secret.clone()).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("data_center = \"ae\""), "{stdout}");

    args[2] = "mars".into();
    let out = run(args, secret).await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("us eu in au jp cn ca sa uk ae"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
