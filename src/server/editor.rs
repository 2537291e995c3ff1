//! Edits sent to the editor as `workspace/applyEdit`, so they land in its
//! buffers with normal undo.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{
    CreateFile, CreateFileOptions, DocumentChangeOperation, DocumentChanges, OneOf,
    OptionalVersionedTextDocumentIdentifier, Position, Range, ResourceOp, TextDocumentEdit,
    TextEdit, Uri, WorkspaceEdit,
};

use super::connection::ConnState;
use crate::core::path_to_uri;
use crate::documents::PositionEncoding;
use crate::tools::{Editor, EditorError, FileEdit};

/// The editor behind one LSP connection.
pub(super) struct LspEditor {
    pub(super) client: Client,
    pub(super) conn: Arc<ConnState>,
    pub(super) timeout: Duration,
}

/// The position just past the end of `text`, in `encoding`.
fn end_of(text: &str, encoding: PositionEncoding) -> Position {
    let mut line = 0u32;
    let mut last = text;
    let mut rest = text;
    while let Some(i) = rest.find(['\n', '\r']) {
        let step = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
        line += 1;
        rest = &rest[i + step..];
        last = rest;
    }
    let character = match encoding {
        PositionEncoding::Utf8 => last.len(),
        PositionEncoding::Utf16 => last.encode_utf16().count(),
    };
    Position {
        line,
        character: u32::try_from(character).unwrap_or(u32::MAX),
    }
}

impl Editor for LspEditor {
    fn apply(&self, edit: FileEdit) -> BoxFuture<'_, Result<(), EditorError>> {
        Box::pin(async move {
            let no_uri = || EditorError::NoUri(edit.path.clone());
            let uri_text = path_to_uri(&edit.path).ok_or_else(no_uri)?;
            let uri: Uri = uri_text.parse().map_err(|_| no_uri())?;
            let encoding = self.conn.encoding();
            // The editor's buffer is what the edit replaces, if it has one open.
            let (version, current) = {
                let docs = self.conn.documents();
                match docs.get(uri.as_str()) {
                    Some(d) => (Some(d.version), Some(d.text.to_string())),
                    None => (None, None),
                }
            };
            let old = current.or(edit.old_text.clone()).unwrap_or_default();
            let mut ops = Vec::new();
            if edit.old_text.is_none() && version.is_none() {
                ops.push(DocumentChangeOperation::Op(ResourceOp::Create(
                    CreateFile {
                        uri: uri.clone(),
                        options: Some(CreateFileOptions {
                            overwrite: Some(false),
                            ignore_if_exists: Some(true),
                        }),
                        annotation_id: None,
                    },
                )));
            }
            ops.push(DocumentChangeOperation::Edit(TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier { uri, version },
                edits: vec![OneOf::Left(TextEdit {
                    range: Range {
                        start: Position {
                            line: 0,
                            character: 0,
                        },
                        end: end_of(&old, encoding),
                    },
                    new_text: edit.new_text,
                })],
            }));
            let we = WorkspaceEdit {
                changes: None,
                document_changes: Some(DocumentChanges::Operations(ops)),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_positions() {
        assert_eq!(
            end_of("", PositionEncoding::Utf16),
            Position {
                line: 0,
                character: 0
            }
        );
        assert_eq!(
            end_of("a\nb😀", PositionEncoding::Utf16),
            Position {
                line: 1,
                character: 3
            }
        );
        assert_eq!(
            end_of("a\r\nb😀", PositionEncoding::Utf8),
            Position {
                line: 1,
                character: 5
            }
        );
        assert_eq!(
            end_of("x\n", PositionEncoding::Utf16),
            Position {
                line: 1,
                character: 0
            }
        );
        assert_eq!(
            end_of("x\ry", PositionEncoding::Utf16),
            Position {
                line: 1,
                character: 1
            }
        );
    }
}
