//! A standalone fake Zoho for measuring the real proxy process on its own
//! (`deploy/kubernetes/README.md`, `bench/compare-nginx.sh`): writes `ca.pem`
//! and `proxy.toml` (the demo's routes, trusting the fake's CA) into DIR and
//! serves until killed. With `--delay`, every API answer waits that long
//! first, as a distant Zoho's round trip does.
//!
//!     cargo run --release --example fake_zoho -- /tmp/fz [--delay 50ms] &
//!     zoho-proxy run --config /tmp/fz/proxy.toml
//!
//! `FAKE_ZOHO_RECORD=0` keeps no record of requests, so the fake's memory
//! stays flat however long a load run or benchmark lasts.

use std::path::PathBuf;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    const USAGE: &str = "usage: fake_zoho DIR [--delay DURATION]";
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or(USAGE)?);
    let delay = match (args.next().as_deref(), args.next()) {
        (None, _) => std::time::Duration::ZERO,
        (Some("--delay"), Some(d)) => zoho_proxy::config::units::parse_duration(&d)?,
        _ => return Err(USAGE.into()),
    };
    std::fs::create_dir_all(&dir)?;
    let fake = zoho_proxy::fake::FakeZoho::start().await?;
    fake.set_api_delay(delay);
    if std::env::var("FAKE_ZOHO_RECORD").is_ok_and(|v| v == "0") {
        fake.keep_records(false);
    }
    std::fs::write(dir.join("ca.pem"), fake.ca_pem())?;
    let config = fake.proxy_config(
        "127.0.0.1:8080",
        "",
        "ca_file = \"ca.pem\"",
        zoho_proxy::demo::DEMO_ROUTES,
    );
    std::fs::write(dir.join("proxy.toml"), config)?;
    println!("fake Zoho at {}; config in {}", fake.url(), dir.display());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
