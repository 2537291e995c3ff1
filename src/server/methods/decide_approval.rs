//! `codelab/decideApproval`

use std::sync::Arc;

use crate::agent;
use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::{Approval, DecideApprovalParams};
use crate::server::connection::ConnState;

/// Decides a pending approval; the first decision wins.
pub(super) async fn run(
    core: &Arc<Core>,
    conn: &ConnState,
    p: DecideApprovalParams,
) -> Result<Approval, RpcError> {
    let by = format!("client:{}", conn.id);
    Ok(agent::decide_approval(
        core,
        p.approval_id,
        p.decision,
        p.params,
        p.feedback,
        p.scope,
        &by,
    )
    .await?
    .into())
}

impl super::Handle for crate::protocol::requests::DecideApproval {
    async fn handle(cx: &super::Cx<'_>, p: DecideApprovalParams) -> Result<Approval, RpcError> {
        run(cx.core, cx.conn, p).await
    }
}
