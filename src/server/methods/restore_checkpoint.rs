//! `codelab/restoreCheckpoint`

use crate::protocol::RpcError;
use crate::protocol::requests::RestoreCheckpoint;
use crate::protocol::types::{RestoreCheckpointParams, RestoreCheckpointResult};

/// Puts the files back as they were before the turn.
impl super::Handle for RestoreCheckpoint {
    async fn handle(
        cx: &super::Cx<'_>,
        p: RestoreCheckpointParams,
    ) -> Result<RestoreCheckpointResult, RpcError> {
        let report = cx
            .rt()
            .restore_checkpoint(
                p.session_id,
                p.turn_id,
                p.overwrite.unwrap_or(false),
                p.truncate_conversation.unwrap_or(false),
                Some(cx.conn.id),
            )
            .await?;
        Ok(RestoreCheckpointResult {
            restored: report.restored,
            conflicts: report.conflicts,
            truncated_from_seq: report.truncated_from_seq,
        })
    }
}
