//! The Agent Client Protocol front end: `codelab-agent acp` speaks ACP
//! (protocol version 1) over stdio, newline-delimited JSON-RPC, so editors
//! with an ACP client (Zed, JetBrains IDEs, Neovim's CodeCompanion...) use
//! codelab-agent as their agent.
//!
//! Layer 8 of the layering in `ARCHITECTURE.md`, beside `server`: it
//! translates ACP requests into [`Runtime`](crate::runtime::Runtime) calls and
//! the runtime's [`SessionEvent`](crate::domain::SessionEvent)s into
//! `session/update` notifications at its edge, as `server` does for the
//! codelab protocol. Sessions are the runtime's: a session created over ACP
//! is a codelab session and the reverse.
//!
//! One file per concern:
//! - `transport.rs`: the newline-delimited framing in front of the SDK:
//!   malformed lines and oversized messages get their JSON-RPC error here.
//! - `agent.rs`: the SDK's `Agent` trait: initialize, sessions, prompts,
//!   cancel, modes.
//! - `connection.rs`: one connection's state and its event pump (the
//!   runtime's events for the sessions it opened, in `seq` order).
//! - `events.rs`: session events and history as ACP `session/update`s (pure).
//! - `permission.rs`: approvals and questions as `session/request_permission`.
//! - `elicitation.rs`: questions as `elicitation/create` forms, to clients
//!   that offer form elicitation.
//! - `editor.rs`: the connection's editor port: edits as
//!   `fs/write_text_file`, the files a tool call names read afresh, and
//!   commands in the client's terminal, those the client offers.
//! - `buffers.rs`: the files a prompt references and those a tool call
//!   names, read from the client's buffers with `fs/read_text_file`.
//! - `terminal.rs`: `execute_command` in the client's terminal
//!   (`terminal/*`), wrapped by the command launcher.
//! - `errors.rs`: runtime errors as JSON-RPC errors, in one place.
//! - `setup.rs`: `codelab-agent acp setup`, the terminal auth method: the
//!   model provider chosen interactively, saved in `codelab.toml`.
//!
//! The SDK (`agent-client-protocol` 0.10) runs its handlers as `!Send`
//! futures, so a connection lives on a [`tokio::task::LocalSet`]; the
//! runtime's turns stay on the multi-threaded runtime and reach the
//! connection only through the event queue and the editor's channel.

mod agent;
mod buffers;
mod connection;
mod editor;
mod elicitation;
mod errors;
mod events;
mod permission;
pub mod setup;
mod terminal;
mod transport;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::core::Core;

/// The auth method advertised in `initialize` (type `agent`): the model
/// provider configured for codelab-agent (environment or `codelab.toml`).
pub const CONFIG_AUTH_METHOD: &str = "codelab-config";

/// The terminal auth method, advertised to clients that run one: the
/// client runs `codelab-agent acp setup` in a terminal, then reconnects.
pub const SETUP_AUTH_METHOD: &str = "codelab-setup";

/// Why an ACP connection ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum AcpError {
    /// Reading the client's messages or writing ours failed.
    #[error("ACP transport failed: {0}")]
    Io(#[from] std::io::Error),
    /// The SDK's connection failed.
    #[error("ACP connection failed: {0}")]
    Protocol(String),
    /// The client stopped reading its events and fell too far behind.
    #[error("the ACP client stopped reading its session updates")]
    Kicked,
}

/// Serves one ACP client on stdin and stdout until stdin closes.
///
/// # Errors
/// I/O failures on stdio, or a client that stopped reading.
pub async fn serve_stdio(core: Arc<Core>) -> Result<(), AcpError> {
    serve_io(core, tokio::io::stdin(), tokio::io::stdout()).await
}

/// Serves one ACP client over any byte streams until `input` ends.
///
/// # Errors
/// I/O failures, or a client that stopped reading.
pub async fn serve_io<R, W>(core: Arc<Core>, input: R, output: W) -> Result<(), AcpError>
where
    R: AsyncRead + Unpin + 'static,
    W: AsyncWrite + Unpin + 'static,
{
    tokio::task::LocalSet::new()
        .run_until(connection::run(core, input, output))
        .await
}
