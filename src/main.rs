//! The `codelab-agent` binary: argument parsing, logging, and the choice of
//! transport. Errors become `anyhow` only here, at the edge.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use codelab_agent::config::{self, Config, ServeConfig};
use codelab_agent::core::Core;
use codelab_agent::server::{ConnectionEnd, http, stdio};
use tracing_subscriber::EnvFilter;

/// The AI core of the CodeLab IDE: an LSP server with chat, agents and tool approvals.
///
/// Without a subcommand it speaks LSP on stdin and stdout.
#[derive(Debug, Parser)]
#[command(name = "codelab-agent", version, about)]
struct Cli {
    /// Speak LSP over stdin/stdout (the default without a subcommand).
    #[arg(long, global = false)]
    stdio: bool,
    /// Directory for the store [default: $CODELAB_DATA_DIR, else the platform data dir]
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Log level or filter (`info`, `debug`, `codelab_agent=trace`); RUST_LOG wins when set.
    #[arg(long, global = true, default_value = "info", value_name = "FILTER")]
    log_level: String,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP: GET /health and the websocket endpoint /lsp.
    Serve {
        /// Address to listen on. Beyond loopback only with an explicit token
        /// (--auth-token-file or CODELAB_AUTH_TOKEN).
        #[arg(long, default_value = "127.0.0.1:7420")]
        listen: SocketAddr,
        /// A file holding the websocket token [default: $CODELAB_AUTH_TOKEN, else
        /// <data dir>/auth-token, generated on first start]
        #[arg(long, value_name = "FILE")]
        auth_token_file: Option<PathBuf>,
        /// An origin browsers may connect from, besides the server's own (repeatable).
        #[arg(long = "allow-origin", value_name = "ORIGIN")]
        allowed_origins: Vec<String>,
        /// Requests per minute per connection.
        #[arg(long, default_value_t = 60)]
        rate_limit: u32,
        /// Requests per minute per token, over all its connections.
        #[arg(long, default_value_t = 60)]
        token_rate_limit: u32,
        /// Websocket connections at once.
        #[arg(long, default_value_t = 1024)]
        max_connections: usize,
        /// Turns running at once, over all sessions.
        #[arg(long, default_value_t = 256)]
        max_turns: usize,
    },
}

fn init_logging(cli: &Cli) {
    let filter = config::env_var("RUST_LOG")
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_new(&cli.log_level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> std::process::ExitCode {
    // `codelab-agent __launch SPEC`: the command launcher (see `process::launcher`).
    if let Some(code) = codelab_agent::process::launcher::dispatch() {
        return code;
    }
    let cli = Cli::parse();
    init_logging(&cli);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    let data_dir = config::resolve_data_dir(cli.data_dir.clone())
        .context("no data directory: pass --data-dir or set CODELAB_DATA_DIR")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut config = Config::new(data_dir.clone());
        let serve = match &cli.command {
            Some(Command::Serve { listen, auth_token_file, allowed_origins, rate_limit, token_rate_limit, max_connections, max_turns }) => {
                let (token, explicit) = config::resolve_token(auth_token_file.as_deref(), &data_dir)
                    .map_err(|e| anyhow::anyhow!("cannot set up the websocket token: {e}"))?;
                if !listen.ip().is_loopback() && !explicit {
                    bail!(
                        "refusing to listen on {listen}: beyond loopback the server needs an explicit token \
                         (--auth-token-file or CODELAB_AUTH_TOKEN)"
                    );
                }
                if !explicit {
                    tracing::info!(file = %data_dir.join(config::TOKEN_FILE).display(), "websocket clients must present the token in this file");
                }
                config.max_turns = *max_turns;
                Some((*listen, ServeConfig {
                    token,
                    allowed_origins: allowed_origins.clone(),
                    rate_per_connection: *rate_limit,
                    rate_per_token: *token_rate_limit,
                    max_connections: *max_connections,
                }))
            }
            None => None,
        };
        let core = Arc::new(Core::open(config).context("cannot start")?);
        tracing::info!(store = %core.runtime.store().describe(), "store open");
        core.start_background();
        match serve {
            Some((listen, serve)) => {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?;
                tokio::select! {
                    r = http::serve(core, serve, listener) => r.context("HTTP server failed")?,
                    _ = shutdown_signal() => tracing::info!("shutting down"),
                }
                Ok(std::process::ExitCode::SUCCESS)
            }
            None => {
                let end = stdio::serve(core).await;
                tracing::info!(?end, "stdio connection ended");
                Ok(match end {
                    ConnectionEnd::ExitWithoutShutdown => std::process::ExitCode::from(1),
                    _ => std::process::ExitCode::SUCCESS,
                })
            }
        }
    })
}

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
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
