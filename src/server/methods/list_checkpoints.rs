//! `codelab/listCheckpoints`

use crate::protocol::RpcError;
use crate::protocol::requests::ListCheckpoints;
use crate::protocol::types::{ListCheckpointsResult, SessionParams, TurnCheckpoint};

/// The session's checkpoints, per turn.
impl super::Handle for ListCheckpoints {
    async fn handle(
        cx: &super::Cx<'_>,
        p: SessionParams,
    ) -> Result<ListCheckpointsResult, RpcError> {
        let turns = cx.rt().list_checkpoints(p.session_id).await?;
        Ok(ListCheckpointsResult {
            turns: turns
                .into_iter()
                .map(|t| TurnCheckpoint {
                    turn_id: t.turn_id,
                    files: t.files,
                })
                .collect(),
        })
    }
}
