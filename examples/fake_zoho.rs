//! A standalone fake Zoho for measuring the real proxy process on its own
//! (`deploy/kubernetes/README.md`): writes `ca.pem` and `proxy.toml` (the
//! demo's routes, trusting the fake's CA) into DIR and serves until killed.
//!
//!     cargo run --release --example fake_zoho -- /tmp/fz &
//!     zoho-proxy run --config /tmp/fz/proxy.toml
//!
//! `FAKE_ZOHO_RECORD=0` keeps no record of requests (long load runs).

use std::path::PathBuf;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: fake_zoho DIR")?);
    std::fs::create_dir_all(&dir)?;
    let fake = zoho_proxy::fake::FakeZoho::start().await?;
    if std::env::var("FAKE_ZOHO_RECORD").is_ok_and(|v| v == "0") {
        fake.keep_records(false);
    }
    std::fs::write(dir.join("ca.pem"), fake.ca_pem())?;
    let config = fake.proxy_config(
        "127.0.0.1:8080",
        "",
        "ca_file = \"ca.pem\"",
        zoho_proxy::commands::DEMO_ROUTES,
    );
    std::fs::write(dir.join("proxy.toml"), config)?;
    println!("fake Zoho at {}; config in {}", fake.url(), dir.display());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
