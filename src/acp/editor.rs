//! Edits as `fs/write_text_file`: when the client offers it, the tools'
//! edits go to the client (its buffers, its undo) instead of the disk.
//!
//! An ACP client owns file access for its sessions, so its editor counts
//! every file as open: the held buffer when the prompt linked the file, else
//! what is on disk (empty for a new file). A write through the client is
//! its save; the runtime then checks the disk holds the edit and says so in
//! the tool's result when it does not.
//!
//! The runtime calls the [`Editor`] from its own threads; the ACP connection
//! lives on a `LocalSet`. A channel joins the two: [`AcpEditor`] sends each
//! write to [`serve`], which asks the client and answers.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use agent_client_protocol::{self as acp, Client as _};
use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use super::buffers::ClientBuffers;
use crate::tools::{Editor, EditorError, FileEdit};

/// One write for the client to make.
pub(super) struct FsWrite {
    session: acp::SessionId,
    path: PathBuf,
    content: String,
    reply: oneshot::Sender<Result<(), acp::Error>>,
}

/// The editor of one ACP session: writes whole files through the client.
pub(super) struct AcpEditor {
    pub(super) session: acp::SessionId,
    pub(super) tx: mpsc::UnboundedSender<FsWrite>,
    pub(super) timeout: Duration,
    /// The client's buffers held for the turn, kept in step with the edits.
    pub(super) buffers: ClientBuffers,
}

fn gone() -> EditorError {
    EditorError::Failed("the ACP client is gone".into())
}

impl Editor for AcpEditor {
    fn buffer(&self, path: &Path) -> Option<String> {
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
                .send(FsWrite {
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
}

/// Asks the client for each write, each in its own task, until the
/// connection ends.
pub(super) async fn serve(
    peer: Rc<acp::AgentSideConnection>,
    mut rx: mpsc::UnboundedReceiver<FsWrite>,
) {
    while let Some(w) = rx.recv().await {
        let peer = Rc::clone(&peer);
        tokio::task::spawn_local(async move {
            let request = acp::WriteTextFileRequest::new(w.session, w.path, w.content);
            let result = peer.write_text_file(request).await.map(|_| ());
            let _ = w.reply.send(result);
        });
    }
}
