//! Which editor applies an edit: the registry of connected editors, and the
//! rule that picks one for a file.
//!
//! A front end registers the [`Editor`] of each connection whose client
//! applies edits, and unregisters it when the connection goes away. An
//! edit to a file goes to an editor that has the file open, in this order:
//!
//! 1. the connection that started the turn, if it is still connected;
//! 2. a connection attached to the session (in the order they attached);
//! 3. any other connection (oldest first): its buffer is what the tools
//!    read as the file's text, so writing the disk behind it would leave
//!    the buffer, and the next read, stale.
//!
//! When no editor has the file open, the runtime writes it on disk itself.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::ConnId;
use crate::tools::Editor;

/// The editors of the connected clients that apply edits.
#[derive(Default)]
pub struct EditorRegistry {
    editors: Mutex<Vec<(ConnId, Arc<dyn Editor>)>>,
}

impl std::fmt::Debug for EditorRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let conns: Vec<ConnId> = self.lock().iter().map(|(c, _)| *c).collect();
        f.debug_struct("EditorRegistry")
            .field("conns", &conns)
            .finish()
    }
}

impl EditorRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(ConnId, Arc<dyn Editor>)>> {
        self.editors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers (or replaces) the editor of a connection.
    pub fn register(&self, conn: ConnId, editor: Arc<dyn Editor>) {
        let mut editors = self.lock();
        editors.retain(|(c, _)| *c != conn);
        editors.push((conn, editor));
        editors.sort_by_key(|(c, _)| *c);
    }

    /// Forgets a connection's editor.
    pub fn unregister(&self, conn: ConnId) {
        self.lock().retain(|(c, _)| *c != conn);
    }

    /// The editor of a connection, if it registered one.
    pub fn of(&self, conn: ConnId) -> Option<Arc<dyn Editor>> {
        self.lock()
            .iter()
            .find(|(c, _)| *c == conn)
            .map(|(_, e)| Arc::clone(e))
    }

    /// Brings the buffers of `paths` up to date from the editors of
    /// `conns` (see [`Editor::refresh`]), one after the other.
    pub async fn refresh(&self, paths: &[PathBuf], conns: &[ConnId]) {
        if paths.is_empty() {
            return;
        }
        let editors: Vec<Arc<dyn Editor>> = self
            .lock()
            .iter()
            .filter(|(c, _)| conns.contains(c))
            .map(|(_, e)| Arc::clone(e))
            .collect();
        for editor in editors {
            editor.refresh(paths).await;
        }
    }

    /// The editor that applies an edit to `path`: the first connection of
    /// `preferred` that has it open, else any other that has it open, oldest
    /// first; `None` when no editor has it open.
    pub fn editor_for(&self, path: &Path, preferred: &[ConnId]) -> Option<Arc<dyn Editor>> {
        // Asked outside the lock: an editor reads its own documents.
        let editors: Vec<(ConnId, Arc<dyn Editor>)> = self.lock().clone();
        let rank = |conn: ConnId| {
            preferred
                .iter()
                .position(|p| *p == conn)
                .unwrap_or(preferred.len())
        };
        let mut candidates: Vec<&(ConnId, Arc<dyn Editor>)> = editors.iter().collect();
        // Stable: among the others, the oldest connection first.
        candidates.sort_by_key(|(conn, _)| rank(*conn));
        candidates
            .into_iter()
            .find(|(_, e)| e.buffer(path).is_some())
            .map(|(_, e)| Arc::clone(e))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use futures::future::BoxFuture;

    use super::*;
    use crate::tools::{EditorError, FileEdit};

    /// An editor with some files open, named for the assertions.
    struct Fake {
        name: &'static str,
        open: Vec<PathBuf>,
    }

    impl Editor for Fake {
        fn buffer(&self, path: &Path) -> Option<String> {
            self.open
                .iter()
                .any(|p| p == path)
                .then(|| self.name.to_owned())
        }
        fn saves(&self) -> bool {
            true
        }
        fn apply(&self, _: &FileEdit) -> BoxFuture<'_, Result<(), EditorError>> {
            Box::pin(async { Ok(()) })
        }
        fn save(&self, _: &Path) -> BoxFuture<'_, Result<(), EditorError>> {
            Box::pin(async { Ok(()) })
        }
    }

    fn fake(name: &'static str, open: &[&str]) -> Arc<dyn Editor> {
        Arc::new(Fake {
            name,
            open: open.iter().map(PathBuf::from).collect(),
        })
    }

    fn pick(reg: &EditorRegistry, path: &str, preferred: &[ConnId]) -> Option<String> {
        reg.editor_for(Path::new(path), preferred)
            .and_then(|e| e.buffer(Path::new(path)))
    }

    #[test]
    fn the_turns_connection_first_then_attached_then_the_oldest() {
        let reg = EditorRegistry::default();
        reg.register(3, fake("three", &["/a", "/b"]));
        reg.register(1, fake("one", &["/a", "/c"]));
        reg.register(2, fake("two", &["/a", "/b", "/c"]));
        // The turn's connection has it open.
        assert_eq!(pick(&reg, "/a", &[3, 2]).as_deref(), Some("three"));
        // It does not: the next attached one that does.
        assert_eq!(pick(&reg, "/c", &[3, 2]).as_deref(), Some("two"));
        // No preferred connection has it: the oldest that does.
        assert_eq!(pick(&reg, "/a", &[9]).as_deref(), Some("one"));
        assert_eq!(pick(&reg, "/b", &[]).as_deref(), Some("two"));
        // Nobody has it open: the runtime writes the file.
        assert!(reg.editor_for(Path::new("/d"), &[1, 2, 3]).is_none());
    }

    #[test]
    fn a_connection_that_went_away_edits_nothing() {
        let reg = EditorRegistry::default();
        reg.register(1, fake("one", &["/a"]));
        reg.register(2, fake("two", &["/a"]));
        reg.unregister(1);
        assert_eq!(pick(&reg, "/a", &[1]).as_deref(), Some("two"));
        reg.unregister(2);
        assert!(reg.editor_for(Path::new("/a"), &[1]).is_none());
        // Registering again replaces the connection's editor.
        reg.register(2, fake("two", &["/x"]));
        reg.register(2, fake("two again", &["/a"]));
        assert_eq!(pick(&reg, "/a", &[]).as_deref(), Some("two again"));
    }
}
