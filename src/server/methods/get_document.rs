//! `codelab/getDocument`

use crate::protocol::types::{DocumentSnapshot, GetDocumentParams};
use crate::protocol::{ErrorCode, RpcError};
use crate::server::connection::ConnState;

/// The server's copy of an open document.
pub(super) fn run(
    conn: &ConnState,
    params: GetDocumentParams,
) -> Result<DocumentSnapshot, RpcError> {
    let docs = conn.documents();
    let doc = docs.get(&params.uri).ok_or_else(|| {
        RpcError::new(
            ErrorCode::DocumentNotOpen,
            format!("no open document `{}` on this connection", params.uri),
        )
    })?;
    Ok(DocumentSnapshot {
        uri: params.uri.clone(),
        version: doc.version,
        language_id: doc.language_id.clone(),
        text: doc.text.to_string(),
    })
}

impl super::Handle for crate::protocol::requests::GetDocument {
    async fn handle(
        cx: &super::Cx<'_>,
        p: GetDocumentParams,
    ) -> Result<DocumentSnapshot, RpcError> {
        run(cx.conn, p)
    }
}
