//! `codelab/deleteFile`

use crate::files;
use crate::protocol::RpcError;
use crate::protocol::types::{DeleteFileParams, FileChanged};

impl super::Handle for crate::protocol::requests::DeleteFile {
    async fn handle(cx: &super::Cx<'_>, p: DeleteFileParams) -> Result<FileChanged, RpcError> {
        super::file_ops::in_workspace(cx, p.session_id, move |ws| {
            let path = ws.relative(&ws.resolve(&p.path)?);
            files::delete(ws, &p.path, p.base_version.as_deref())?;
            Ok(FileChanged {
                path,
                version: None,
            })
        })
        .await
    }
}
