//! The editor of one connection, as the tools' [`Editor`] port: an edit to
//! a document the client has open goes out as one versioned
//! `workspace/applyEdit` holding only the changed ranges (so the buffer's
//! cursors, marks and folds elsewhere stay put, and undo works), and a save
//! as `codelab/saveDocuments`, for a client that offered it.

use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{
    DocumentChanges, OneOf, OptionalVersionedTextDocumentIdentifier, Position, Range,
    TextDocumentEdit, TextEdit, Uri, WorkspaceEdit,
};

use super::connection::ConnState;
use crate::documents::{Pos, TextChange, minimal_changes};
use crate::protocol::ClientMethod;
use crate::protocol::requests::SaveDocuments;
use crate::protocol::types::SaveDocumentsParams;
use crate::tools::{Editor, EditorError, FileEdit};
use crate::workspace::uri_to_path;

/// The editor behind one LSP connection.
pub(super) struct LspEditor {
    pub(super) client: Client,
    pub(super) conn: Arc<ConnState>,
    pub(super) timeout: Duration,
}

/// A declared server-to-client request, as tower-lsp sends requests: the
/// method name and both types come from the declaration.
struct Outgoing<M>(PhantomData<M>);

impl<M: ClientMethod> tower_lsp_server::ls_types::request::Request for Outgoing<M> {
    type Params = M::Params;
    type Result = M::Result;
    const METHOD: &'static str = M::NAME;
}

/// An open document of the connection: its URI as the client spelled it,
/// its version and its text.
struct Open {
    uri: String,
    version: i32,
    text: String,
}

fn position(p: Pos) -> Position {
    Position {
        line: p.line,
        character: p.character,
    }
}

/// The text edits of one document, from the changes between its texts.
fn text_edits(
    changes: Vec<TextChange>,
) -> Vec<OneOf<TextEdit, tower_lsp_server::ls_types::AnnotatedTextEdit>> {
    changes
        .into_iter()
        .map(|c| {
            OneOf::Left(TextEdit {
                range: Range {
                    start: position(c.start),
                    end: position(c.end),
                },
                new_text: c.text,
            })
        })
        .collect()
}

impl LspEditor {
    /// The document of `path`, if the client has it open. Found by path, so
    /// that requests name it with the client's own URI.
    fn open(&self, path: &Path) -> Option<Open> {
        let docs = self.conn.documents();
        docs.iter()
            .find(|(uri, _)| uri_to_path(uri).as_deref() == Some(path))
            .map(|(uri, d)| Open {
                uri: uri.clone(),
                version: d.version,
                text: d.text.to_string(),
            })
    }
}

impl Editor for LspEditor {
    fn buffer(&self, path: &Path) -> Option<String> {
        self.open(path).map(|d| d.text)
    }

    fn saves(&self) -> bool {
        self.conn.client_saves_documents()
    }

    fn apply(&self, edit: &FileEdit) -> BoxFuture<'_, Result<(), EditorError>> {
        let path = edit.path.clone();
        let new_text = edit.new_text.clone();
        Box::pin(async move {
            let doc = self
                .open(&path)
                .ok_or_else(|| EditorError::NotOpen(path.clone()))?;
            let changes = minimal_changes(&doc.text, &new_text, self.conn.encoding());
            if changes.is_empty() {
                return Ok(());
            }
            let uri: Uri = doc.uri.parse().map_err(|_| EditorError::NoUri(path))?;
            let we = WorkspaceEdit {
                changes: None,
                document_changes: Some(DocumentChanges::Edits(vec![TextDocumentEdit {
                    text_document: OptionalVersionedTextDocumentIdentifier {
                        uri,
                        version: Some(doc.version),
                    },
                    edits: text_edits(changes),
                }])),
                change_annotations: None,
            };
            match tokio::time::timeout(self.timeout, self.client.apply_edit(we)).await {
                Err(_) => Err(EditorError::Timeout(self.timeout.as_secs())),
                Ok(Err(e)) => Err(EditorError::Failed(e.message.to_string())),
                Ok(Ok(resp)) if resp.applied => Ok(()),
                Ok(Ok(resp)) => Err(EditorError::Refused(
                    resp.failure_reason
                        .unwrap_or_else(|| "no reason given".to_owned()),
                )),
            }
        })
    }

    fn save(&self, path: &Path) -> BoxFuture<'_, Result<(), EditorError>> {
        let path = path.to_path_buf();
        Box::pin(async move {
            let uri = self
                .open(&path)
                .ok_or_else(|| EditorError::NotOpen(path.clone()))?
                .uri;
            let request =
                self.client
                    .send_request::<Outgoing<SaveDocuments>>(SaveDocumentsParams {
                        uris: vec![uri.clone()],
                    });
            match tokio::time::timeout(self.timeout, request).await {
                Err(_) => Err(EditorError::Timeout(self.timeout.as_secs())),
                Ok(Err(e)) => Err(EditorError::Failed(e.message.to_string())),
                Ok(Ok(r)) if r.saved.contains(&uri) => Ok(()),
                Ok(Ok(r)) => Err(EditorError::NotSaved(
                    r.failed
                        .into_iter()
                        .find(|f| f.uri == uri)
                        .map_or_else(|| "the editor did not say why".to_owned(), |f| f.reason),
                )),
            }
        })
    }
}
