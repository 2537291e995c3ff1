//! The `codelab-agent` binary: argument parsing, logging, and the choice of
//! transport. Errors become `anyhow` only here, at the edge.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use codelab_agent::config::{self, Config, ServeConfig};
use codelab_agent::core::Core;
use codelab_agent::daemon;
use codelab_agent::server::{ConnectionEnd, http, stdio};
use tracing_subscriber::EnvFilter;

/// The AI core of the CodeLab IDE: an LSP server with chat, agents and tool approvals.
///
/// Without a subcommand it speaks LSP on stdin and stdout, through the user's
/// daemon for the data directory (started when none runs).
#[derive(Debug, Parser)]
#[command(name = "codelab-agent", version, about)]
struct Cli {
    /// Speak LSP over stdin/stdout (the default without a subcommand).
    #[arg(long, global = false)]
    stdio: bool,
    /// With stdio or `acp`: serve in this process instead of through the
    /// daemon (one process per editor; a second one on the same data dir is
    /// refused).
    #[arg(long, global = true)]
    standalone: bool,
    /// Seconds a daemon with no editor connected and no running turn waits
    /// before it exits [default: $CODELAB_DAEMON_IDLE_SECS, else 600]
    #[arg(long, global = true, value_name = "SECS")]
    idle_exit: Option<u64>,
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
        /// The folder the web IDE (at /) opens new sessions in [default: the
        /// current directory].
        #[arg(long, value_name = "DIR")]
        workspace: Option<PathBuf>,
        /// The shared store: a PostgreSQL URL (`postgres://user@host/db`), so
        /// that several instances serve the same sessions [default:
        /// $CODELAB_STORE_URL, else the redb file in the data directory]
        #[arg(
            long = "store",
            env = "CODELAB_STORE_URL",
            hide_env_values = true,
            value_name = "URL"
        )]
        store_url: Option<String>,
    },
    /// Speak the Agent Client Protocol (ACP v1) on stdin and stdout, for
    /// editors with an ACP client (Zed, JetBrains IDEs, CodeCompanion).
    Acp {
        #[command(subcommand)]
        action: Option<AcpAction>,
    },
    /// The per-user daemon that `--stdio` connects to (one per data directory).
    Daemon {
        #[command(subcommand)]
        command: DaemonCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AcpAction {
    /// Choose the model provider interactively and save it in codelab.toml
    /// (ACP's terminal auth method runs this).
    Setup,
}

#[derive(Debug, Subcommand)]
enum DaemonCommand {
    /// Run the daemon in the foreground (`--stdio` starts one when none runs).
    Run {
        /// Started by a client: new session, `ready` on stdout once listening.
        #[arg(long, hide = true)]
        detach: bool,
    },
    /// Show the running daemon: pid, version, socket, uptime, connections,
    /// running turns. Exit code 3 when none runs.
    Status {
        /// Print the status as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Stop the running daemon and wait until it has exited.
    Stop {
        /// Stop it even while turns run (they are interrupted as by a
        /// restart; pending approvals and questions are kept).
        #[arg(long)]
        force: bool,
    },
}

impl LogFormat {
    fn as_arg(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
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
    match &cli.command {
        Some(Command::Acp {
            action: Some(AcpAction::Setup),
        }) => {
            codelab_agent::acp::setup::run(&data_dir)?;
            return Ok(std::process::ExitCode::SUCCESS);
        }
        None if !cli.standalone => {
            return stdio_through_daemon(&cli, data_dir, daemon::handshake::Front::Lsp);
        }
        Some(Command::Acp { action: None }) if !cli.standalone => {
            return stdio_through_daemon(&cli, data_dir, daemon::handshake::Front::Acp);
        }
        Some(Command::Daemon { command }) => return daemon_command(&cli, command, data_dir),
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut config = Config::new(data_dir.clone());
        let serve = match &cli.command {
            Some(Command::Serve { listen, auth_token_file, allowed_origins, rate_limit, token_rate_limit, max_connections, max_turns, workspace, store_url }) => {
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
                config.store_url = store_url.clone().filter(|u| !u.trim().is_empty()).map(config::StoreUrl);
                Some((*listen, ServeConfig {
                    token,
                    allowed_origins: allowed_origins.clone(),
                    rate_per_connection: *rate_limit,
                    rate_per_token: *token_rate_limit,
                    max_connections: *max_connections,
                    workspace: match workspace {
                        Some(dir) => Some(dir.canonicalize().with_context(|| format!("--workspace {}", dir.display()))?),
                        None => std::env::current_dir().ok(),
                    },
                }))
            }
            _ => None,
        };
        let core = match Core::connect(config).await {
            Ok(core) => Arc::new(core),
            Err(e) => {
                // The store is the daemon's while one runs: say so.
                if let Ok(Some(status)) = daemon::client::status(&data_dir) {
                    bail!(
                        "cannot start: {e}: the codelab-agent daemon (pid {}) serving this data \
                         directory has it open; `codelab-agent daemon stop` stops it",
                        status.pid
                    );
                }
                return Err(anyhow::Error::new(e).context("cannot start"));
            }
        };
        tracing::info!(store = %core.runtime.store().describe(), "store open");
        core.start_background();
        if matches!(cli.command, Some(Command::Acp { .. })) {
            codelab_agent::acp::serve_stdio(core).await?;
            return Ok(std::process::ExitCode::SUCCESS);
        }
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

/// `--stdio` without `--standalone`: forwards stdin and stdout to the
/// daemon, starting it when none runs.
fn stdio_through_daemon(
    cli: &Cli,
    data_dir: PathBuf,
    front: daemon::handshake::Front,
) -> anyhow::Result<std::process::ExitCode> {
    let opts = daemon::client::StartOptions {
        data_dir,
        idle_exit: daemon::idle_exit(cli.idle_exit)?,
        log_level: cli.log_level.clone(),
        log_format: cli.log_format.as_arg().to_owned(),
        front,
    };
    let connected = daemon::client::connect_or_start(&opts)?;
    tracing::debug!(
        pid = connected.greeting.pid,
        version = %connected.greeting.version,
        socket = %connected.socket.display(),
        "connected to the daemon"
    );
    if connected.greeting.version != daemon::version() {
        // Only a newer daemon is used (an older one is replaced when idle).
        tracing::info!(
            daemon = %connected.greeting.version,
            client = %daemon::version(),
            "the daemon is newer than this client"
        );
    }
    let clean = connected.forward_stdio()?;
    Ok(if clean {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}

fn daemon_command(
    cli: &Cli,
    command: &DaemonCommand,
    data_dir: PathBuf,
) -> anyhow::Result<std::process::ExitCode> {
    use std::io::Write;
    match command {
        DaemonCommand::Run { detach } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let opts = daemon::server::Options {
                config: Config::new(data_dir),
                idle_exit: daemon::idle_exit(cli.idle_exit)?,
                detached: *detach,
            };
            let stopped = runtime.block_on(daemon::server::run(opts))?;
            // The daemon lock is released when the process has exited, not
            // before: a client waiting for it then finds the store free too.
            runtime.shutdown_timeout(std::time::Duration::from_secs(2));
            tracing::debug!(reason = %stopped.reason, "exiting");
            std::mem::forget(stopped.lock);
            Ok(std::process::ExitCode::SUCCESS)
        }
        DaemonCommand::Status { json } => {
            let Some(status) = daemon::client::status(&data_dir)? else {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "no daemon is running for {}", data_dir.display());
                return Ok(std::process::ExitCode::from(3));
            };
            // Not protocol mode: stdout is for people (or scripts with --json).
            let mut out = std::io::stdout().lock();
            if *json {
                writeln!(out, "{}", serde_json::to_string(&status)?)?;
            } else {
                let up = status.uptime_secs;
                writeln!(out, "pid            {}", status.pid)?;
                writeln!(out, "version        {}", status.version)?;
                writeln!(out, "data dir       {}", status.data_dir.display())?;
                writeln!(out, "socket         {}", status.socket.display())?;
                writeln!(out, "log            {}", status.log.display())?;
                writeln!(
                    out,
                    "uptime         {}h {:02}m {:02}s (since {})",
                    up / 3600,
                    up / 60 % 60,
                    up % 60,
                    status.started_at
                )?;
                writeln!(out, "connections    {}", status.connections)?;
                writeln!(out, "running turns  {}", status.running_turns)?;
                writeln!(
                    out,
                    "idle exit      {} s without editors or running turns",
                    status.idle_exit_secs
                )?;
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        DaemonCommand::Stop { force } => {
            let mut out = std::io::stdout().lock();
            match daemon::client::stop(&data_dir, *force)? {
                Some(pid) => writeln!(out, "stopped the daemon (pid {pid})")?,
                None => writeln!(out, "no daemon is running for {}", data_dir.display())?,
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
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
