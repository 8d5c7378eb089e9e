//! The `zoho-proxy` binary: argument parsing, logging, signals. Everything
//! else lives in the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use std::io::Write as _;

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
    /// Print the Zoho scope(s) the catalog says a call needs, to help write routes.
    Scopes {
        /// The request path, e.g. /crm/v8/Leads/search
        path: String,
        /// GET, POST, PUT, PATCH or DELETE (default: each of them).
        method: Option<String>,
        /// Which Zoho host the call goes to.
        #[arg(long, default_value = "api")]
        upstream: String,
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

/// SIGTERM or SIGINT, registered as soon as it is created, so a signal that
/// arrives while the proxy starts is not lost to the default (kill) action.
struct Shutdown {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Shutdown {
    fn register() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Shutdown {
                term: signal(SignalKind::terminate()).context("registering SIGTERM")?,
                int: signal(SignalKind::interrupt()).context("registering SIGINT")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Shutdown {})
    }

    async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Run { config } => {
            let shutdown = Shutdown::register()?;
            let config = Arc::new(config::load(&config)?);
            let running = server::start(config).await?;
            shutdown.recv().await;
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
        Command::Scopes {
            path,
            method,
            upstream,
        } => {
            let upstream = upstream.parse().map_err(anyhow::Error::msg)?;
            match commands::scopes_report(upstream, &path, method.as_deref()) {
                Ok(report) => print!("{report}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::exit(1);
                }
            }
        }
        Command::Demo { listen } => {
            let shutdown = Shutdown::register()?;
            let demo = commands::start_demo(listen)
                .await
                .map_err(anyhow::Error::msg)
                .context("starting the demo")?;
            // Not println!: a closed stdout (`demo | head`) must not kill the demo.
            let _ = writeln!(std::io::stdout(), "{}", commands::demo_banner(&demo));
            shutdown.recv().await;
            demo.running.shutdown().await;
        }
    }
    Ok(())
}
