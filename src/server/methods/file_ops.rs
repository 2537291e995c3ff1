//! What the file methods (`listFiles`, `readFile`, `writeFile`,
//! `createFile`, `renameFile`, `deleteFile`) share: the session's workspace,
//! the blocking file work off the async runtime, and `FileError` as
//! JSON-RPC errors.

use crate::domain::SessionId;
use crate::files::{self, FileError};
use crate::protocol::{ErrorCode, RpcError};
use crate::workspace::Workspace;

/// Runs `f` on the workspace of session `id`, on a blocking thread.
pub(super) async fn in_workspace<T: Send + 'static>(
    cx: &super::Cx<'_>,
    id: SessionId,
    f: impl FnOnce(&Workspace) -> Result<T, FileError> + Send + 'static,
) -> Result<T, RpcError> {
    let session = cx.rt().get_session(id).await?;
    let folder = session.workspace_folder;
    tokio::task::spawn_blocking(move || {
        let ws = files::workspace_of(folder.as_deref())?;
        f(&ws)
    })
    .await
    .map_err(|e| RpcError::new(ErrorCode::InternalError, format!("file task failed: {e}")))?
    .map_err(|e| rpc(e).with_session(id))
}

/// A file error as the client sees it.
fn rpc(e: FileError) -> RpcError {
    let message = e.to_string();
    match e {
        FileError::Path(_) | FileError::Root(_) => RpcError::new(ErrorCode::PathRefused, message),
        FileError::NotFound(_) => RpcError::new(ErrorCode::FileNotFound, message),
        FileError::Conflict { current, .. } => {
            let err = RpcError::new(ErrorCode::FileConflict, message);
            match current {
                Some(v) => err.with_detail(v),
                None => err,
            }
        }
        FileError::NotText { .. } | FileError::Io { .. } => {
            RpcError::new(ErrorCode::FileFailed, message)
        }
    }
}
