//! `codelab/renameFile`

use crate::files;
use crate::protocol::RpcError;
use crate::protocol::types::{FileChanged, RenameFileParams};

impl super::Handle for crate::protocol::requests::RenameFile {
    async fn handle(cx: &super::Cx<'_>, p: RenameFileParams) -> Result<FileChanged, RpcError> {
        super::file_ops::in_workspace(cx, p.session_id, move |ws| {
            let path = files::rename(ws, &p.from, &p.to, p.base_version.as_deref())?;
            Ok(FileChanged {
                path,
                version: None,
            })
        })
        .await
    }
}
