//! `codelab/listFiles`

use crate::files::{self, EntryKind};
use crate::protocol::RpcError;
use crate::protocol::types::{FileEntry, FileKind, FilePathParams, ListFilesResult};

impl super::Handle for crate::protocol::requests::ListFiles {
    async fn handle(cx: &super::Cx<'_>, p: FilePathParams) -> Result<ListFilesResult, RpcError> {
        let path = p.path.clone();
        let entries =
            super::file_ops::in_workspace(cx, p.session_id, move |ws| files::list(ws, &path))
                .await?;
        Ok(ListFilesResult {
            path: p.path.trim_end_matches('/').to_owned(),
            entries: entries
                .into_iter()
                .map(|e| FileEntry {
                    name: e.name,
                    path: e.path,
                    kind: match e.kind {
                        EntryKind::File => FileKind::File,
                        EntryKind::Directory => FileKind::Directory,
                        EntryKind::Symlink => FileKind::Symlink,
                    },
                    size: e.size,
                    ignored: e.ignored,
                    protected: e.protected,
                })
                .collect(),
        })
    }
}
