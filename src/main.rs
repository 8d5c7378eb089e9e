//! The `zoho-proxy` binary: argument parsing, logging, signals. Everything
//! else lives in the library.

#![forbid(unsafe_code)]

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
    /// API credits: each credential's budget and what its routes spent in the last 24 hours.
    Credits {
        #[arg(long, env = "ZOHO_PROXY_CONFIG", default_value = "./proxy.toml")]
        config: PathBuf,
        /// Also fetch Zoho's price of each call the routes allow (GET /crm/v8/__apis; needs
        /// ZohoCRM.apis.READ in the grant).
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
    #[cfg(feature = "demo")]
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
    /// Exchange a self-client grant code for a refresh token; print it once with a [zoho] block.
    ExchangeCode(ExchangeCodeArgs),
    /// Print the least-privilege scopes a credential's routes need, for the self-client "Generate Code" form.
    Grant {
        #[arg(long, env = "ZOHO_PROXY_CONFIG", default_value = "./proxy.toml")]
        config: PathBuf,
        /// Which credential (default: the only one).
        #[arg(long)]
        credential: Option<String>,
    },
    /// Get a refresh token in the browser (server-based client) and write it to the credential's secret file.
    Login(LoginArgs),
    /// Revoke a credential's refresh token (and its access tokens) at its accounts server.
    Revoke(RevokeArgs),
    /// Print a new random client key (32 bytes, base64url) and a [[clients]] entry for it.
    GenKey {
        /// The client's name ([a-z0-9_-]+): in logs, metrics and errors.
        #[arg(long, default_value = "app", value_parser = zoho_proxy::clients::key::client_name)]
        name: String,
    },
    /// GET a plain-HTTP URL: exit 0 on 2xx, else 1 with the reason (container health checks).
    Probe {
        /// e.g. http://127.0.0.1:9901/readyz
        url: String,
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        timeout: std::time::Duration,
    },
}

#[derive(clap::Args)]
struct LoginArgs {
    #[arg(long, env = "ZOHO_PROXY_CONFIG", default_value = "./proxy.toml")]
    config: PathBuf,
    /// Which credential (default: the only one).
    #[arg(long)]
    credential: Option<String>,
    /// The callback port: the client's redirect URI is http://127.0.0.1:PORT/callback.
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// How long to wait for the browser to come back from Zoho.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    timeout: std::time::Duration,
    /// Only print the authorization URL; do not open a browser.
    #[arg(long)]
    no_browser: bool,
    /// Write the refresh token to this file (mode 0600) instead of the credential's.
    #[arg(long, conflicts_with = "print_token")]
    token_file: Option<PathBuf>,
    /// Print the refresh token once instead of writing it to a file.
    #[arg(long)]
    print_token: bool,
}

#[derive(clap::Args)]
struct RevokeArgs {
    #[arg(long, env = "ZOHO_PROXY_CONFIG", default_value = "./proxy.toml")]
    config: PathBuf,
    /// Which credential (default: the only one).
    #[arg(long)]
    credential: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
    /// Revoke the refresh token in this file (the one a login replaced) instead of the configured one.
    #[arg(long)]
    token_file: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ExchangeCodeArgs {
    /// The data centre the client was created in: us eu in au jp cn ca sa uk ae.
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

/// Prints a command's report, or its error and exits 1.
fn finish<E: std::fmt::Display>(result: Result<String, E>) {
    match result {
        Ok(text) => print!("{text}"),
        Err(e) => fail(e),
    }
}

/// How a command fails: `error: …` on stderr, exit status 1 (not anyhow's
/// `Error: …` with a backtrace hint: these are the user's mistakes, not ours).
fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("error: {e}");
    std::process::exit(1)
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
        .with_writer(zoho_proxy::logging::Stderr)
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
        zoho_proxy::reload::reload_and_log(proxy.clone(), path.clone()).await;
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

fn main() -> anyhow::Result<()> {
    // Current-thread: this thread is the proxy's worker 0 and runs the rest
    // (signals, reload, admin, token refresh); `[server] workers` adds the
    // others, each with its own runtime (`zoho_proxy::workers`). Its log
    // lines go out before it waits for work, as every worker's do.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(zoho_proxy::logging::flush_here)
        .build()
        .context("starting the runtime")?;
    let outcome = runtime.block_on(run(Cli::parse()));
    zoho_proxy::logging::flush_here();
    outcome
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Signal handlers before anything else (even logging): until they are
    // installed, SIGHUP, SIGTERM and SIGINT kill the process outright.
    let serving = match &cli.command {
        Command::Run { .. } => true,
        #[cfg(feature = "demo")]
        Command::Demo { .. } => true,
        _ => false,
    };
    let shutdown = serving.then(Shutdown::register).transpose()?;
    #[cfg(unix)]
    let hup = matches!(cli.command, Command::Run { .. })
        .then(register_sighup)
        .transpose()?;
    init_logging(cli.log_format);
    if serving {
        zoho_proxy::logging::batch_here();
        // A panic's lines, and those before it, are not left in a buffer.
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            zoho_proxy::logging::flush_here();
            report(info);
        }));
    }
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
                running.watch_config(path, watch_interval).await;
            }
            shutdown.recv().await;
            tracing::info!("shutting down: draining in-flight requests");
            running.shutdown().await;
        }
        Command::Check { config, online } => {
            let config = Arc::new(config::load(&config).unwrap_or_else(|e| fail(e)));
            print!("{}", commands::describe(&config));
            if online {
                finish(commands::check_online(config).await);
            }
        }
        Command::Credits { config, online } => {
            let config = Arc::new(config::load(&config).unwrap_or_else(|e| fail(e)));
            print!("{}", zoho_proxy::credits::report::table(&config));
            if online {
                finish(zoho_proxy::credits::report::online(config).await);
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
                Err(e) => fail(e),
            }
        }
        #[cfg(feature = "demo")]
        Command::Demo { listen } => {
            let shutdown = shutdown.context("signal handlers")?;
            let demo = zoho_proxy::demo::start_demo(listen)
                .await
                .context("starting the demo")?;
            // Not println!: a closed stdout (`demo | head`) must not kill the demo.
            let _ = writeln!(
                std::io::stdout(),
                "{}",
                zoho_proxy::demo::demo_banner(&demo)
            );
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
            finish(result)
        }
        Command::Grant { config, credential } => finish(zoho_proxy::onboard::grant::run(
            &config,
            credential.as_deref(),
        )),
        Command::Login(a) => {
            let login = zoho_proxy::onboard::login::Login {
                config: a.config,
                credential: a.credential,
                port: a.port,
                timeout: a.timeout,
                open_browser: !a.no_browser,
                token_file: a.token_file,
                print_token: a.print_token,
            };
            finish(zoho_proxy::onboard::login::run(login, &mut std::io::stdout()).await)
        }
        Command::Revoke(a) => finish(
            zoho_proxy::onboard::revoke::run(zoho_proxy::onboard::revoke::Revoke {
                config: a.config,
                credential: a.credential,
                yes: a.yes,
                token_file: a.token_file,
            })
            .await,
        ),
        Command::GenKey { name } => {
            let text = zoho_proxy::clients::key::gen_key_text(&name).map_err(anyhow::Error::msg)?;
            print!("{text}");
        }
        Command::Probe { url, timeout } => match zoho_proxy::probe::probe(&url, timeout).await {
            Ok(status) => println!("ok: {url} answered {status}"),
            Err(e) => fail(format_args!("probe failed: {e}")),
        },
    }
    Ok(())
}
