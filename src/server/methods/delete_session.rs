//! `codelab/deleteSession`

use crate::protocol::RpcError;
use crate::protocol::requests::DeleteSession;
use crate::protocol::types::{DeleteSessionResult, SessionParams};

/// Deletes a session and its history, durably.
impl super::Handle for DeleteSession {
    async fn handle(cx: &super::Cx<'_>, p: SessionParams) -> Result<DeleteSessionResult, RpcError> {
        let deleted_messages = cx.rt().delete_session(p.session_id).await?;
        Ok(DeleteSessionResult {
            session_id: p.session_id,
            deleted_messages,
        })
    }
}
