//! `codelab/readFile`

use crate::files;
use crate::protocol::RpcError;
use crate::protocol::types::{FilePathParams, ReadFileResult};
use crate::workspace::path_to_uri;

impl super::Handle for crate::protocol::requests::ReadFile {
    async fn handle(cx: &super::Cx<'_>, p: FilePathParams) -> Result<ReadFileResult, RpcError> {
        // The answer must fit in a message the client accepts.
        let max = u64::try_from(cx.core.config.max_message_bytes / 2).unwrap_or(u64::MAX);
        let (file, uri) = super::file_ops::in_workspace(cx, p.session_id, move |ws| {
            let file = files::read(ws, &p.path, max)?;
            let uri = path_to_uri(&ws.root().join(&file.path)).unwrap_or_default();
            Ok((file, uri))
        })
        .await?;
        Ok(ReadFileResult {
            path: file.path,
            uri,
            text: file.text,
            version: file.version,
        })
    }
}
