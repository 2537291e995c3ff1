//! `codelab/cancelTurn`

use crate::protocol::RpcError;
use crate::protocol::requests::CancelTurn;
use crate::protocol::types::{CancelTurnResult, SessionParams};

/// Cancels the running turn, if any.
impl super::Handle for CancelTurn {
    async fn handle(cx: &super::Cx<'_>, p: SessionParams) -> Result<CancelTurnResult, RpcError> {
        Ok(CancelTurnResult {
            turn_id: cx.rt().cancel_turn(p.session_id).await?,
        })
    }
}
