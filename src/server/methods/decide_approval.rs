//! `codelab/decideApproval`

use crate::protocol::RpcError;
use crate::protocol::requests::DecideApproval;
use crate::protocol::types::{Approval, DecideApprovalParams};
use crate::runtime::ApprovalDecision;

/// Decides a pending approval; the first decision wins.
impl super::Handle for DecideApproval {
    async fn handle(cx: &super::Cx<'_>, p: DecideApprovalParams) -> Result<Approval, RpcError> {
        let by = format!("client:{}", cx.conn.id);
        let decision = ApprovalDecision {
            decision: p.decision,
            params: p.params,
            feedback: p.feedback,
            scope: p.scope,
        };
        Ok(cx
            .rt()
            .decide_approval(p.approval_id, decision, &by)
            .await?
            .into())
    }
}
