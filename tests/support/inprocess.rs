//! The in-process server: the library's connection driver
//! ([`codelab_agent::server::stdio::serve_io`], the same code path as
//! `codelab-agent --stdio`) over in-memory pipes, on a [`Core`] opened the
//! way the binary opens it. No process is spawned, so a test can reach the
//! [`Core`] directly, and the same strict [`Client`] drives it.
//!
//! The environment is process-wide, so an in-process server cannot be given
//! its own: point it at a model with the editor's settings
//! (`initializationOptions`, see [`super::agent::llm_options`]) or the data
//! directory's `codelab.toml`, never with environment variables.
//!
//! Logs: the server's `tracing` output goes to one log per test process,
//! shared by every in-process server of that process (nextest runs each test
//! in its own process, so there it is the test's own).

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use codelab_agent::config::Config;
use codelab_agent::core::Core;
use codelab_agent::server::ConnectionEnd;
use codelab_agent::server::stdio::serve_io;
use tokio::task::JoinHandle;

use super::{Client, Logs, TIMEOUT, framed_client};

/// Bytes a pipe holds before its writer waits, as a pipe of the OS would.
const PIPE_BUFFER: usize = 64 * 1024;

/// A server running in the test's own process.
pub struct InProcess {
    /// The core every connection shares.
    pub core: Arc<Core>,
    /// The server's log (see the module's note).
    pub logs: Logs,
    connections: Vec<JoinHandle<ConnectionEnd>>,
}

impl InProcess {
    /// Opens a [`Core`] on `data_dir` as `codelab-agent --data-dir` does:
    /// default [`Config`], the user's `codelab.toml` there, and housekeeping;
    /// but without the test process's environment (model settings come from
    /// `codelab.toml` or the client's `initializationOptions`).
    pub fn open(data_dir: &Path) -> Self {
        let logs = process_logs();
        let core = Arc::new(
            Core::open_with_env(
                Config::new(data_dir.to_path_buf()),
                codelab_agent::llm::config::LlmSettings::default(),
            )
            .unwrap_or_else(|e| panic!("cannot open the core: {e}")),
        );
        core.start_background();
        Self {
            core,
            logs,
            connections: Vec::new(),
        }
    }

    /// Connects a client: a new connection of the driver, over a pair of
    /// pipes, framed as on stdio.
    pub fn client(&mut self) -> Client {
        // One pipe per direction, so that either side closing its end is
        // seen as EOF by the other.
        let (client_writes, server_reads) = tokio::io::duplex(PIPE_BUFFER);
        let (server_writes, client_reads) = tokio::io::duplex(PIPE_BUFFER);
        let core = Arc::clone(&self.core);
        self.connections
            .push(tokio::spawn(serve_io(core, server_reads, server_writes)));
        framed_client(client_reads, client_writes, self.logs.clone())
    }

    /// Waits until every connection made so far has ended; how each ended,
    /// in the order they were made.
    pub async fn connection_ends(&mut self) -> Vec<ConnectionEnd> {
        let mut ends = Vec::new();
        for handle in self.connections.drain(..) {
            let end = tokio::time::timeout(TIMEOUT, handle)
                .await
                .expect("the connection ends")
                .expect("the connection's task did not panic");
            ends.push(end);
        }
        ends
    }
}

/// The log of the in-process servers of this process: a `tracing`
/// subscriber writing into it is installed on first use (unless the process
/// already has one).
fn process_logs() -> Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let sink = logs.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,codelab_agent=debug",
            ))
            .with_writer(move || LogWriter(sink.clone()))
            .with_ansi(false)
            .try_init();
        logs
    })
    .clone()
}

/// Appends what `tracing` writes to a [`Logs`].
struct LogWriter(Logs);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.append(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
