//! Edits as `fs/write_text_file`: when the client offers it, the tools'
//! edits go to the client (its buffers, its undo) instead of the disk; and
//! the files a tool call names read afresh with `fs/read_text_file` when
//! the client offers that (`buffers.rs`).
//!
//! An ACP client owns file access for its sessions, so its editor counts
//! every file as open: the held buffer when the prompt linked the file, else
//! what is on disk (empty for a new file). A write through the client is
//! its save; the runtime then checks the disk holds the edit and says so in
//! the tool's result when it does not.
//!
//! The runtime calls the [`Editor`] from its own threads; the ACP connection
//! lives on a `LocalSet`. A channel joins the two: [`AcpEditor`] sends each
//! write and read to [`serve`], which asks the client and answers.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use agent_client_protocol::{self as acp, Client as _};
use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use tokio_util::sync::CancellationToken;

use super::buffers::ClientBuffers;
use super::connection::Connection;
use crate::domain::SessionId;
use crate::tools::{Editor, EditorError, FileEdit, TerminalCommand, TerminalRun};

/// One request for the client, from the runtime's threads.
pub(super) enum FsRequest {
    /// Write a whole file (`fs/write_text_file`).
    Write {
        session: acp::SessionId,
        path: PathBuf,
        content: String,
        reply: oneshot::Sender<Result<(), acp::Error>>,
    },
    /// Read files into the held buffers (`fs/read_text_file`).
    Read {
        session: acp::SessionId,
        paths: Vec<PathBuf>,
        reply: oneshot::Sender<()>,
    },
    /// Run a command in the client's terminal (`terminal/*`).
    Terminal {
        session: SessionId,
        acp_session: acp::SessionId,
        command: TerminalCommand,
        stop: CancellationToken,
        reply: oneshot::Sender<Result<TerminalRun, acp::Error>>,
    },
}

/// The editor of one ACP session: reads the client's buffers when it offers
/// `fs/read_text_file`, writes whole files through it when it offers
/// `fs/write_text_file`.
pub(super) struct AcpEditor {
    pub(super) session: acp::SessionId,
    /// The same session, the runtime's id.
    pub(super) session_id: SessionId,
    pub(super) tx: mpsc::UnboundedSender<FsRequest>,
    pub(super) timeout: Duration,
    /// The client's buffers held for the turn, kept in step with the edits.
    pub(super) buffers: ClientBuffers,
    /// The client offers `fs/read_text_file`.
    pub(super) reads: bool,
    /// The client offers `fs/write_text_file`.
    pub(super) writes: bool,
    /// The client offers `terminal/*`.
    pub(super) terminal: bool,
}

fn gone() -> EditorError {
    EditorError::Failed("the ACP client is gone".into())
}

impl Editor for AcpEditor {
    fn buffer(&self, path: &Path) -> Option<String> {
        if !self.writes {
            // Edits do not go to a client that cannot write: the runtime
            // writes the disk, and the next read asks the client again.
            return None;
        }
        self.buffers.text(path).or_else(|| {
            match std::fs::read_to_string(path) {
                Ok(text) => Some(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(String::new()),
                // Not text, or unreadable: the runtime's own write reports it.
                Err(_) => None,
            }
        })
    }

    fn saves(&self) -> bool {
        true
    }

    fn save(&self, _path: &Path) -> BoxFuture<'_, Result<(), EditorError>> {
        // `fs/write_text_file` is the save.
        Box::pin(async { Ok(()) })
    }

    fn apply(&self, edit: &FileEdit) -> BoxFuture<'_, Result<(), EditorError>> {
        let edit = edit.clone();
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            self.tx
                .send(FsRequest::Write {
                    session: self.session.clone(),
                    path: edit.path.clone(),
                    content: edit.new_text.clone(),
                    reply,
                })
                .map_err(|_| gone())?;
            match tokio::time::timeout(self.timeout, rx).await {
                Err(_) => Err(EditorError::Timeout(self.timeout.as_secs())),
                Ok(Err(_)) => Err(gone()),
                Ok(Ok(Err(e))) => Err(EditorError::Failed(e.to_string())),
                Ok(Ok(Ok(()))) => {
                    self.buffers.edited(&edit.path, &edit.new_text);
                    Ok(())
                }
            }
        })
    }

    fn has_terminal(&self) -> bool {
        self.terminal
    }

    fn run_in_terminal(
        &self,
        command: TerminalCommand,
        stop: CancellationToken,
    ) -> BoxFuture<'_, Result<TerminalRun, EditorError>> {
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            self.tx
                .send(FsRequest::Terminal {
                    session: self.session_id,
                    acp_session: self.session.clone(),
                    command,
                    stop,
                    reply,
                })
                .map_err(|_| gone())?;
            match rx.await {
                Err(_) => Err(gone()),
                Ok(Err(e)) => Err(EditorError::Failed(e.to_string())),
                Ok(Ok(run)) => Ok(run),
            }
        })
    }

    fn refresh<'a>(&'a self, paths: &'a [PathBuf]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if !self.reads {
                return;
            }
            let (reply, rx) = oneshot::channel();
            let request = FsRequest::Read {
                session: self.session.clone(),
                paths: paths.to_vec(),
                reply,
            };
            if self.tx.send(request).is_ok() {
                // Each read is bounded by the timeout; a client gone is done.
                let _ = rx.await;
            }
        })
    }
}

/// Asks the client for each write, read and terminal command, each in its
/// own task, until the connection ends.
pub(super) async fn serve(
    conn: Rc<Connection>,
    peer: Rc<acp::AgentSideConnection>,
    mut rx: mpsc::UnboundedReceiver<FsRequest>,
) {
    let buffers = conn.buffers.clone();
    let timeout = conn.request_timeout;
    while let Some(request) = rx.recv().await {
        let peer = Rc::clone(&peer);
        match request {
            FsRequest::Write {
                session,
                path,
                content,
                reply,
            } => {
                tokio::task::spawn_local(async move {
                    let request = acp::WriteTextFileRequest::new(session, path, content);
                    let result = peer.write_text_file(request).await.map(|_| ());
                    let _ = reply.send(result);
                });
            }
            FsRequest::Read {
                session,
                paths,
                reply,
            } => {
                let buffers = buffers.clone();
                tokio::task::spawn_local(async move {
                    buffers.read(&peer, &session, &paths, timeout).await;
                    let _ = reply.send(());
                });
            }
            FsRequest::Terminal {
                session,
                acp_session,
                command,
                stop,
                reply,
            } => {
                let conn = Rc::clone(&conn);
                tokio::task::spawn_local(async move {
                    let run = super::terminal::run(conn, session, acp_session, command, stop);
                    let _ = reply.send(run.await);
                });
            }
        }
    }
}
