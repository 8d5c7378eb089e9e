//! The `zoho-proxy` binary: argument parsing, logging, signals. Everything
//! else lives in the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use zoho_proxy::{commands, config, server};

#[derive(Parser)]
#[command(
    name = "zoho-proxy",
    version,
    about = "Authenticating reverse proxy for Zoho's APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve: accept plain HTTP and forward allowed requests to Zoho with a fresh token.
    Run {
        #[arg(long, env = "ZOHO_PROXY_CONFIG", default_value = "./proxy.toml")]
        config: PathBuf,
    },
    /// Validate a config and print the effective accounts URL, API URL and routes.
    Check {
        #[arg(long, env = "ZOHO_PROXY_CONFIG", default_value = "./proxy.toml")]
        config: PathBuf,
        /// Also perform one token refresh and print the granted scopes.
        #[arg(long)]
        online: bool,
    },
    /// Run a fake Zoho and the proxy in front of it: try the proxy without a Zoho account.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Run { config } => {
            let config = Arc::new(config::load(&config)?);
            let running = server::start(config).await?;
            shutdown_signal().await;
            tracing::info!("shutting down: draining in-flight requests");
            running.shutdown().await;
        }
        Command::Check { config, online } => {
            let config = match config::load(&config) {
                Ok(c) => Arc::new(c),
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::exit(1);
                }
            };
            print!("{}", commands::describe(&config));
            if online {
                match commands::check_online(config).await {
                    Ok(report) => print!("{report}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        std::process::exit(1);
                    }
                }
            }
        }
        Command::Demo { listen } => {
            let demo = commands::start_demo(listen)
                .await
                .map_err(anyhow::Error::msg)
                .context("starting the demo")?;
            println!("{}", commands::demo_banner(&demo));
            shutdown_signal().await;
            demo.running.shutdown().await;
        }
    }
    Ok(())
}
