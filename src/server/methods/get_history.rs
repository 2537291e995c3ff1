//! `codelab/getHistory`

use crate::protocol::RpcError;
use crate::protocol::requests::GetHistory;
use crate::protocol::types::{GetHistoryParams, GetHistoryResult};

const DEFAULT_LIMIT: u32 = 200;
const MAX_LIMIT: u32 = 1000;

/// Messages after `afterSeq`, in seq order.
impl super::Handle for GetHistory {
    async fn handle(
        cx: &super::Cx<'_>,
        params: GetHistoryParams,
    ) -> Result<GetHistoryResult, RpcError> {
        let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(RpcError::invalid_params(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}, got {limit}"),
            ));
        }
        let page = cx
            .rt()
            .history(
                params.session_id,
                params.after_seq.unwrap_or(0),
                limit as usize,
            )
            .await?;
        Ok(GetHistoryResult {
            messages: page.items.into_iter().map(Into::into).collect(),
            has_more: page.more,
        })
    }
}
