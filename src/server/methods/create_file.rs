//! `codelab/createFile`

use crate::files;
use crate::protocol::RpcError;
use crate::protocol::types::{CreateFileParams, FileChanged, FileKind};

impl super::Handle for crate::protocol::requests::CreateFile {
    async fn handle(cx: &super::Cx<'_>, p: CreateFileParams) -> Result<FileChanged, RpcError> {
        super::file_ops::in_workspace(cx, p.session_id, move |ws| {
            let directory = p.kind == Some(FileKind::Directory);
            let text = p.text.unwrap_or_default();
            let version = files::create(ws, &p.path, directory, &text)?;
            Ok(FileChanged {
                path: ws.relative(&ws.resolve(&p.path)?),
                version,
            })
        })
        .await
    }
}
