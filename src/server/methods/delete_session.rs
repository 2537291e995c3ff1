//! `codelab/deleteSession`

use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::{DeleteSessionResult, SessionParams};

/// Deletes a session and its history, durably.
pub(super) async fn run(
    core: &Core,
    params: SessionParams,
) -> Result<DeleteSessionResult, RpcError> {
    let deleted_messages = core.delete_session(params.session_id).await?;
    Ok(DeleteSessionResult {
        session_id: params.session_id,
        deleted_messages,
    })
}

impl super::Handle for crate::protocol::requests::DeleteSession {
    async fn handle(cx: &super::Cx<'_>, p: SessionParams) -> Result<DeleteSessionResult, RpcError> {
        run(cx.core, p).await
    }
}
