//! The client's unsaved buffers, through `fs/read_text_file`.
//!
//! The runtime's tools see unsaved text through the shared registry of open
//! documents (`Runtime::docs`). An ACP client tells nothing about its buffers
//! until asked, so when it offers `fs/read_text_file`, each prompt reads the
//! files it references (resource links in the workspace) from the client,
//! and each tool call reads the files it names (`read_file`, `write_file`,
//! `apply_diff`: [`Editor::refresh`](crate::tools::Editor::refresh)) before
//! its preview and its run. What the client answers is held as this
//! connection's open documents: the tools then work on the text in the
//! editor, unsaved changes included; a file the client cannot read is
//! read from disk. Edits written through the client replace the held text;
//! the next prompt reads afresh.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use agent_client_protocol::{self as acp, Client as _};

use crate::documents::Documents;
use crate::workspace::path_to_uri;

/// This connection's documents in the runtime's registry.
#[derive(Clone)]
pub(super) struct ClientBuffers {
    docs: Arc<Mutex<Documents>>,
}

impl ClientBuffers {
    pub(super) fn new(docs: Arc<Mutex<Documents>>) -> Self {
        Self { docs }
    }

    fn lock(&self) -> MutexGuard<'_, Documents> {
        self.docs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Holds `text` as the buffer of `path`.
    fn hold(&self, path: &Path, text: &str) {
        if let Some(uri) = path_to_uri(path) {
            self.lock().open(uri, String::new(), 0, text);
        }
    }

    /// Forgets every held buffer.
    fn clear(&self) {
        let mut docs = self.lock();
        let uris: Vec<String> = docs.iter().map(|(uri, _)| uri.clone()).collect();
        for uri in uris {
            docs.close(&uri);
        }
    }

    /// The held buffer of `path`, if this connection holds one.
    pub(super) fn text(&self, path: &Path) -> Option<String> {
        let uri = path_to_uri(path)?;
        self.lock().get(&uri).map(|d| d.text.to_string())
    }

    /// After an edit went through the client: the held buffer (if any) is
    /// the edit's text.
    pub(super) fn edited(&self, path: &Path, text: &str) {
        let Some(uri) = path_to_uri(path) else { return };
        let mut docs = self.lock();
        if docs.get(&uri).is_some() {
            docs.open(uri, String::new(), 0, text);
        }
    }

    /// Forgets the held buffer of `path`: the tools read the disk.
    fn forget(&self, path: &Path) {
        if let Some(uri) = path_to_uri(path) {
            self.lock().close(&uri);
        }
    }

    /// Reads `paths` from the client, replacing everything held.
    pub(super) async fn refresh(
        &self,
        peer: &acp::AgentSideConnection,
        session: &acp::SessionId,
        paths: Vec<PathBuf>,
        timeout: Duration,
    ) {
        self.clear();
        self.read(peer, session, &paths, timeout).await;
    }

    /// Reads `paths` from the client and holds what it answers, in place
    /// of what was held for them. A file the client cannot read (not
    /// there, not text) is left to the disk.
    pub(super) async fn read(
        &self,
        peer: &acp::AgentSideConnection,
        session: &acp::SessionId,
        paths: &[PathBuf],
        timeout: Duration,
    ) {
        for path in paths {
            let request = acp::ReadTextFileRequest::new(session.clone(), path.clone());
            match tokio::time::timeout(timeout, peer.read_text_file(request)).await {
                Ok(Ok(r)) => self.hold(path, &r.content),
                Ok(Err(e)) => {
                    tracing::debug!(path = %path.display(), "the client did not read a file: {e}");
                    self.forget(path);
                }
                Err(_) => {
                    tracing::warn!(path = %path.display(), "the client did not answer fs/read_text_file in time");
                    self.forget(path);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::DocRegistry;
    use crate::tools::Buffers as _;

    #[test]
    fn held_buffers_follow_the_edits_made_through_the_client() {
        let registry = DocRegistry::default();
        let buffers = ClientBuffers::new(registry.register(7));
        let (held, other) = (Path::new("/ws/a.rs"), Path::new("/ws/b.rs"));
        buffers.hold(held, "unsaved");
        assert_eq!(registry.text(held).as_deref(), Some("unsaved"));
        buffers.edited(held, "edited");
        buffers.edited(other, "written");
        assert_eq!(registry.text(held).as_deref(), Some("edited"));
        assert_eq!(registry.text(other), None, "only held buffers are kept");
        buffers.clear();
        assert_eq!(registry.text(held), None);
    }
}
