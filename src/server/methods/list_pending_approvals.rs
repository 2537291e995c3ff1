//! `codelab/listPendingApprovals`

use crate::protocol::RpcError;
use crate::protocol::requests::ListPendingApprovals;
use crate::protocol::types::{ListPendingApprovalsParams, ListPendingApprovalsResult};

/// Pending approvals, oldest first.
impl super::Handle for ListPendingApprovals {
    async fn handle(
        cx: &super::Cx<'_>,
        p: ListPendingApprovalsParams,
    ) -> Result<ListPendingApprovalsResult, RpcError> {
        Ok(ListPendingApprovalsResult {
            approvals: cx
                .rt()
                .pending_approvals(p.session_id)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        })
    }
}
