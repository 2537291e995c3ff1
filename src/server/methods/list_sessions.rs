//! `codelab/listSessions`

use uuid::Uuid;

use crate::domain::SessionId;

use crate::protocol::RpcError;
use crate::protocol::types::{ListSessionsParams, ListSessionsResult};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

/// One page of sessions, newest first. The cursor is the id of the last
/// session of the previous page: ids are time-ordered, so it stays valid when
/// sessions are added or deleted.
impl super::Handle for crate::protocol::requests::ListSessions {
    async fn handle(
        cx: &super::Cx<'_>,
        params: ListSessionsParams,
    ) -> Result<ListSessionsResult, RpcError> {
        let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(RpcError::invalid_params(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}, got {limit}"),
            ));
        }
        let before = match params.cursor.as_deref() {
            None => None,
            Some(c) => Some(Uuid::parse_str(c).map(SessionId::from).map_err(|_| {
                RpcError::invalid_params("cursor", "not a cursor returned by codelab/listSessions")
            })?),
        };
        let page = cx.rt().list_sessions(before, limit as usize).await?;
        let next_cursor = if page.more {
            page.items.last().map(|s| s.id.to_string())
        } else {
            None
        };
        Ok(ListSessionsResult {
            sessions: page.items.into_iter().map(Into::into).collect(),
            next_cursor,
        })
    }
}
