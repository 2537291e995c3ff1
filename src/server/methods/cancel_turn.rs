//! `codelab/cancelTurn`

use crate::agent;
use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::{CancelTurnResult, SessionParams};

/// Cancels the running turn, if any.
pub(super) async fn run(core: &Core, p: SessionParams) -> Result<CancelTurnResult, RpcError> {
    core.store.get_session(p.session_id).await?;
    Ok(CancelTurnResult {
        turn_id: agent::cancel(core, p.session_id),
    })
}

impl super::Handle for crate::protocol::requests::CancelTurn {
    async fn handle(cx: &super::Cx<'_>, p: SessionParams) -> Result<CancelTurnResult, RpcError> {
        run(cx.core, p).await
    }
}
