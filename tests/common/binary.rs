//! The real `zoho-proxy` binary, started with `run` on a config file in a
//! temporary directory; its address is read from the "listening" log line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zoho-proxy"))
}

/// A fresh directory under the system's temp dir, unique to this process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh directory `name` holding the fake's CA (`ca.pem`) and a
/// `proxy.toml` in front of the fake, listening on a free port: `server`
/// lines, `ca_file = "ca.pem"` then `zoho` lines, and `routes`.
pub fn config_dir(
    name: &str,
    fake: &zoho_proxy::fake::FakeZoho,
    server: &str,
    zoho: &str,
    routes: &str,
) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::write(dir.join("ca.pem"), fake.ca_pem()).unwrap();
    let zoho = format!("ca_file = \"ca.pem\"\n{zoho}");
    let config = fake.proxy_config("127.0.0.1:0", server, &zoho, routes);
    std::fs::write(dir.join("proxy.toml"), config).unwrap();
    dir
}

/// A running `zoho-proxy run`; killed when dropped.
pub struct Binary {
    child: Option<Child>,
    pub dir: PathBuf,
    pub log: PathBuf,
}

impl Binary {
    /// Runs `zoho-proxy run --config dir/proxy.toml`, logging JSON to
    /// `dir/stderr.log`. `ulimit_n`: run it under `ulimit -n` that many files.
    pub fn spawn(dir: &Path, ulimit_n: Option<u32>) -> Binary {
        let log = dir.join("stderr.log");
        let exe = env!("CARGO_BIN_EXE_zoho-proxy");
        let config = dir.join("proxy.toml");
        let mut cmd = match ulimit_n {
            None => {
                let mut c = Command::new(exe);
                c.args([
                    "--log-format",
                    "json",
                    "run",
                    "--watch-interval",
                    "0s",
                    "--config",
                ])
                .arg(&config);
                c
            }
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!(
                        "ulimit -n {n} && exec \"$0\" --log-format json run --watch-interval 0s --config \"$1\""
                    ))
                    .arg(exe)
                    .arg(&config);
                c
            }
        };
        let child = cmd
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .unwrap();
        Binary {
            child: Some(child),
            dir: dir.to_owned(),
            log,
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The proxy's address, once it logged that it listens.
    pub async fn addr(&mut self) -> SocketAddr {
        self.addrs().await.0
    }

    /// The proxy's and the admin listener's addresses, once it logged that
    /// it listens.
    pub async fn addrs(&mut self) -> (SocketAddr, SocketAddr) {
        for _ in 0..1500 {
            let text = self.logs();
            let found: Vec<SocketAddr> = text
                .lines()
                .find(|l| l.contains("zoho-proxy listening"))
                .map(|l| {
                    l.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
                        .filter_map(|w| w.parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            if let [proxy, admin, ..] = found[..] {
                return (proxy, admin);
            }
            if let Some(status) = self.exited() {
                panic!("zoho-proxy exited with {status}: {text}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("zoho-proxy never listened: {}", self.logs());
    }

    /// How it ended, if it has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Sends `signal` (`"HUP"`, `"TERM"`) to the process.
    pub fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let sent = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(child.id().to_string())
                .status()
                .unwrap();
            assert!(sent.success(), "kill -{signal}");
        }
    }

    /// SIGTERM, then how it exited.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let mut child = self.child.take().expect("running");
        tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
