//! `codelab/listPendingApprovals`

use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::{ListPendingApprovalsParams, ListPendingApprovalsResult};

/// Pending approvals, oldest first.
pub(super) async fn run(
    core: &Core,
    p: ListPendingApprovalsParams,
) -> Result<ListPendingApprovalsResult, RpcError> {
    Ok(ListPendingApprovalsResult {
        approvals: core
            .store
            .list_approvals(p.session_id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    })
}

impl super::Handle for crate::protocol::requests::ListPendingApprovals {
    async fn handle(
        cx: &super::Cx<'_>,
        p: ListPendingApprovalsParams,
    ) -> Result<ListPendingApprovalsResult, RpcError> {
        run(cx.core, p).await
    }
}
