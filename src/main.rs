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
    /// Log format; default: json when stderr (where logs go) is not a terminal.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

#[derive(Subcommand)]
enum Command {
    /// Serve: accept plain HTTP and forward allowed requests to Zoho with a fresh token.
    Run {
        #[arg(long, env = "ZOHO_PROXY_CONFIG", default_value = "./proxy.toml")]
        config: PathBuf,
        /// How often to check the config file for changes (0s: only on SIGHUP).
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        watch_interval: std::time::Duration,
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
        #[arg(required_unless_present = "list")]
        path: Option<String>,
        /// GET, POST, PUT, PATCH or DELETE (default: each of them).
        method: Option<String>,
        /// Which Zoho host the call goes to.
        #[arg(long, default_value = "api")]
        upstream: String,
        /// Print the whole catalog instead: every row (path pattern, methods, required scopes,
        /// source page), in match order.
        #[arg(long, conflicts_with_all = ["path", "method"])]
        list: bool,
    },
    /// Run a fake Zoho and the proxy in front of it: try the proxy without a Zoho account.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Exchange a self-client grant code for a refresh token; print it once with a [zoho] block.
    ExchangeCode(ExchangeCodeArgs),
    /// GET a plain-HTTP URL: exit 0 on 2xx, else 1 with the reason (container health checks).
    Probe {
        /// e.g. http://127.0.0.1:9901/readyz
        url: String,
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        timeout: std::time::Duration,
    },
}

#[derive(clap::Args)]
struct ExchangeCodeArgs {
    /// The data centre the client was created in: us eu in au jp cn ca sa uk.
    #[arg(long)]
    data_center: zoho_proxy::dc::DataCenter,
    #[arg(long)]
    client_id: String,
    /// The grant code from the API console (single use, valid for minutes).
    #[arg(long)]
    code: String,
    /// The variable holding the client secret; unset: prompt (in a terminal).
    #[arg(long, default_value = "ZOHO_CLIENT_SECRET")]
    client_secret_env: String,
    /// Accounts server origin, instead of the data centre's.
    #[arg(long)]
    accounts_url: Option<String>,
    /// An extra trusted root CA (PEM) for the accounts server.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Only for server-based clients: the redirect URI the code was issued for.
    #[arg(long)]
    redirect_uri: Option<String>,
    /// Print a `[[credentials]]` entry with this name ([a-z0-9_-]+) instead of `[zoho]`.
    #[arg(long, value_parser = credential_name)]
    name: Option<String>,
}

fn credential_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!("{s:?} is not a credential name: use [a-z0-9_-]+"))
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    config::units::parse_duration(s)
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `info`).
fn init_logging(format: Option<LogFormat>) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let format = format.unwrap_or(if std::io::stderr().is_terminal() {
        LogFormat::Text
    } else {
        LogFormat::Json
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Json => builder
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(zoho_proxy::logging::JsonLines)
            .init(),
        LogFormat::Text => builder.init(),
    }
}

/// SIGTERM or SIGINT, registered as soon as it is created, so a signal that
/// arrives while the proxy starts is not lost to the default (kill) action.
struct Shutdown {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

/// SIGHUP, registered first thing in `run`: its default action kills the
/// process, so one sent while the config loads or the listeners bind must
/// already be caught. A SIGHUP caught before the proxy is up reloads once it is.
#[cfg(unix)]
fn register_sighup() -> anyhow::Result<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{signal, SignalKind};
    signal(SignalKind::hangup()).context("registering SIGHUP")
}

/// SIGHUP: reload the config.
#[cfg(unix)]
async fn reload_on_sighup(
    mut hup: tokio::signal::unix::Signal,
    proxy: Arc<zoho_proxy::proxy::Proxy>,
    path: PathBuf,
) {
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the config");
        zoho_proxy::reload::reload_and_log(&proxy, &path);
    }
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
    // Signal handlers before anything else (even logging): until they are
    // installed, SIGHUP, SIGTERM and SIGINT kill the process outright.
    let serving = matches!(cli.command, Command::Run { .. } | Command::Demo { .. });
    let shutdown = serving.then(Shutdown::register).transpose()?;
    #[cfg(unix)]
    let hup = matches!(cli.command, Command::Run { .. })
        .then(register_sighup)
        .transpose()?;
    init_logging(cli.log_format);
    match cli.command {
        Command::Run {
            config: path,
            watch_interval,
        } => {
            let shutdown = shutdown.context("signal handlers")?;
            let config = Arc::new(config::load(&path)?);
            let running = server::start(config).await?;
            #[cfg(unix)]
            if let Some(hup) = hup {
                tokio::spawn(reload_on_sighup(hup, running.proxy.clone(), path.clone()));
            }
            if !watch_interval.is_zero() {
                running.watch_config(path, watch_interval);
            }
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
            list,
        } => {
            let upstream = upstream.parse().map_err(anyhow::Error::msg)?;
            let report = match path {
                Some(path) if !list => commands::scopes_report(upstream, &path, method.as_deref()),
                _ => Ok(commands::scopes_list()),
            };
            match report {
                // Not print!: `scopes --list | head` must not panic on the closed pipe.
                Ok(report) => {
                    let _ = write!(std::io::stdout(), "{report}");
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::exit(1);
                }
            }
        }
        Command::Demo { listen } => {
            let shutdown = shutdown.context("signal handlers")?;
            let demo = commands::start_demo(listen)
                .await
                .map_err(anyhow::Error::msg)
                .context("starting the demo")?;
            // Not println!: a closed stdout (`demo | head`) must not kill the demo.
            let _ = writeln!(std::io::stdout(), "{}", commands::demo_banner(&demo));
            shutdown.recv().await;
            demo.running.shutdown().await;
        }
        Command::ExchangeCode(a) => {
            use zoho_proxy::onboard;
            let result = match onboard::client_secret(&a.client_secret_env) {
                Err(e) => Err(e),
                Ok(client_secret) => {
                    onboard::run(onboard::Exchange {
                        data_center: a.data_center,
                        client_id: a.client_id,
                        client_secret,
                        client_secret_env: a.client_secret_env,
                        code: config::Secret::new(a.code),
                        accounts_url: a.accounts_url,
                        ca_file: a.ca_file,
                        redirect_uri: a.redirect_uri,
                        name: a.name,
                    })
                    .await
                }
            };
            match result {
                Ok(text) => print!("{text}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::exit(1);
                }
            }
        }
        Command::Probe { url, timeout } => match zoho_proxy::probe::probe(&url, timeout).await {
            Ok(status) => println!("ok: {url} answered {status}"),
            Err(e) => {
                eprintln!("probe failed: {e}");
                std::process::exit(1);
            }
        },
    }
    Ok(())
}
