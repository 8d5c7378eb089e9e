//! What the container image and the Kubernetes example rely on: `probe` (the
//! image's HEALTHCHECK, there being no shell or curl), and deployment files
//! that agree with each other and are valid configs.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{Harness, ALLOW_ALL};
use zoho_proxy::fake::{FakeZoho, TokenReply};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

async fn zoho_proxy(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_zoho-proxy"))
            .args(&args)
            .envs(envs)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_succeeds_on_2xx_and_fails_with_a_reason_otherwise() {
    let fake = FakeZoho::start().await.unwrap();
    // Refused refreshes keep the proxy unready for a while (backoff 1, 2, 4 s ...).
    for _ in 0..6 {
        fake.script_token(TokenReply::Error("invalid_client".into()));
    }
    let h = Harness::start_with(fake, "", "", ALLOW_ALL).await;
    let readyz = format!("http://{}/readyz", h.admin);

    let out = zoho_proxy(&["probe", &readyz], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            r#"503 Service Unavailable: {"credentials":{"default":{"token":"none"}},"ready":false}"#
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");

    let out = zoho_proxy(&["probe", &format!("http://{}/healthz", h.admin)], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("answered 200 OK"));

    let out = zoho_proxy(&["probe", &format!("http://{}/nope", h.admin)], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("404 Not Found"));
    drop(h);

    // Ready once a token is held.
    let h = Harness::start(ALLOW_ALL).await;
    h.ready().await;
    let out = zoho_proxy(&["probe", &format!("http://{}/readyz", h.admin)], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_fails_fast_when_nothing_listens_or_nothing_answers() {
    // A port that was just free: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let out = zoho_proxy(&["probe", &format!("http://{addr}/readyz")], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot reach"),
        "{}",
        text(&out.stderr)
    );

    // Accepts, never answers: the timeout decides.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let started = tokio::time::Instant::now();
    let out = zoho_proxy(
        &[
            "probe",
            &format!("http://{addr}/readyz"),
            "--timeout",
            "300ms",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("did not answer within 300ms"),
        "{}",
        text(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    hold.abort();

    let out = zoho_proxy(&["probe", "https://127.0.0.1:9901/readyz"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not a plain http:// URL"));
}

/// `zoho-proxy check` on a deployment config; returns its output.
async fn check(path: &str) -> String {
    let path = Path::new(ROOT).join(path);
    let out = zoho_proxy(
        &["check", "--config", path.to_str().unwrap()],
        &[
            ("ZOHO_CLIENT_SECRET", "s"),
            ("ZOHO_REFRESH_TOKEN", "r"),
            ("ZOHO_PROXY_REDIS_URL", "redis://zoho-proxy-redis:6379"),
            ("ZOHO_PROXY_KEY_BILLING_SYNC", "billing-sync-key-0123456789"),
            ("ZOHO_PROXY_KEY_REPORTING", "reporting-key-0123456789"),
        ],
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    stdout
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap()
}

#[tokio::test]
async fn the_image_healthcheck_probes_the_example_container_config() {
    let out = check("deploy/docker/proxy.toml").await;
    assert!(
        out.contains("listen: 0.0.0.0:8080 (admin: 127.0.0.1:9901)"),
        "{out}"
    );
    let dockerfile = read("Dockerfile");
    assert!(dockerfile
        .contains(r#"CMD ["/usr/local/bin/zoho-proxy", "probe", "http://127.0.0.1:9901/readyz"]"#));
    assert!(dockerfile.contains("FROM gcr.io/distroless/cc-debian12:nonroot"));
    assert!(dockerfile.contains("EXPOSE 8080 9901"));
    // The token cache sits where the image prepares a writable directory.
    assert!(read("deploy/docker/proxy.toml")
        .contains("token_cache = \"/var/cache/zoho-proxy/token.json\""));
    assert!(dockerfile.contains("/var/cache/zoho-proxy"));
}

#[tokio::test]
async fn the_kubernetes_sidecar_config_matches_its_deployment() {
    let out = check("deploy/kubernetes/proxy.toml").await;
    // The app reaches the proxy on loopback; the kubelet reaches admin on the pod IP.
    assert!(
        out.contains("listen: 127.0.0.1:8080 (admin: 0.0.0.0:9901), 1 worker thread\n"),
        "{out}"
    );
    let deployment = read("deploy/kubernetes/deployment.yaml");
    for needle in [
        "containerPort: 9901",
        "path: /healthz",
        "path: /readyz",
        "http://127.0.0.1:8080/",
        "mountPath: /etc/zoho-proxy",
        "mountPath: /var/cache/zoho-proxy",
        "readOnlyRootFilesystem: true",
        "name: zoho-proxy-config",
    ] {
        assert!(
            deployment.contains(needle),
            "deployment.yaml lacks {needle}"
        );
    }
    // The pod gets long enough to sleep in preStop and then drain.
    let number = |text: &str, key: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("no {key}"));
        let value = line.split_once(key).unwrap().1;
        value
            .trim()
            .trim_matches(|c| c == '"' || c == '=' || c == ' ' || c == 's')
            .parse()
            .unwrap_or_else(|_| panic!("{line}"))
    };
    let grace_period = number(&deployment, "terminationGracePeriodSeconds:");
    let pre_stop = number(&deployment, "seconds:");
    let shutdown_grace = number(&read("deploy/kubernetes/proxy.toml"), "shutdown_grace");
    assert!(
        grace_period > pre_stop + shutdown_grace,
        "terminationGracePeriodSeconds {grace_period} must exceed preStop {pre_stop} + shutdown_grace {shutdown_grace}"
    );
    let kustomization = read("deploy/kubernetes/kustomization.yaml");
    assert!(kustomization.contains("- deployment.yaml") && kustomization.contains("- proxy.toml"));
    // Many replicas share one token through the Redis the kustomization brings.
    assert!(kustomization.contains("- redis.yaml"));
    assert!(deployment.contains("ZOHO_PROXY_REDIS_URL") && deployment.contains("replicas: 3"));
    let redis = read("deploy/kubernetes/redis.yaml");
    assert!(redis.contains("name: zoho-proxy-redis") && redis.contains("port: 6379"));
}

#[tokio::test]
async fn the_shared_gateway_config_matches_its_manifests() {
    let dir = "deploy/kubernetes/shared-gateway";
    let out = check(&format!("{dir}/proxy.toml")).await;
    assert!(
        out.contains("listen: 0.0.0.0:8080 (admin: 0.0.0.0:9901), 2 worker threads\n"),
        "{out}"
    );
    assert!(
        out.contains("clients (2, every request must carry one's key):")
            && out.contains("billing-sync: routes contacts-write; rate_limit 60/min, 4 at once")
            && out.contains("reporting: routes crm-read; rate_limit 120/min"),
        "{out}"
    );
    let config = read(&format!("{dir}/proxy.toml"));
    let manifests = read(&format!("{dir}/gateway.yaml"));
    // Every variable the config reads is set in the container.
    let vars: Vec<&str> = config
        .split("{ env = \"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert!(vars.len() >= 5, "{vars:?}");
    for var in vars {
        assert!(
            manifests.contains(&format!("- name: {var}\n")),
            "gateway.yaml does not set {var}"
        );
    }
    for needle in [
        "kind: Deployment",
        "kind: Service",
        "kind: NetworkPolicy",
        "containerPort: 8080",
        "containerPort: 9901",
        "path: /readyz",
        "targetPort: proxy",
        "zoho-gateway/client: \"true\"",
        "name: zoho-gateway-config",
        "readOnlyRootFilesystem: true",
        "replicas: 2",
    ] {
        assert!(manifests.contains(needle), "gateway.yaml lacks {needle}");
    }
    assert!(config.contains("replicas = 2"), "[cluster] replicas match");
    let kustomization = read(&format!("{dir}/kustomization.yaml"));
    assert!(kustomization.contains("- gateway.yaml") && kustomization.contains("- proxy.toml"));
    assert!(kustomization.contains("name: zoho-gateway-config"));
}
