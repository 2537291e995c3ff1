//! `codelab/writeFile`

use crate::files;
use crate::protocol::RpcError;
use crate::protocol::types::{FileChanged, WriteFileParams};

impl super::Handle for crate::protocol::requests::WriteFile {
    async fn handle(cx: &super::Cx<'_>, p: WriteFileParams) -> Result<FileChanged, RpcError> {
        super::file_ops::in_workspace(cx, p.session_id, move |ws| {
            let version = files::write(ws, &p.path, &p.text, p.base_version.as_deref())?;
            Ok(FileChanged {
                path: ws.relative(&ws.resolve(&p.path)?),
                version: Some(version),
            })
        })
        .await
    }
}
