//! `codelab/getSessionMetrics` and `codelab/listSessionMetrics`

use uuid::Uuid;

use crate::domain::SessionId;

use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::{
    ListSessionMetricsParams, ListSessionMetricsResult, SessionMetrics, SessionParams,
};

/// One session's figures (zeros for a session without activity since start).
pub(super) async fn get(core: &Core, p: SessionParams) -> Result<SessionMetrics, RpcError> {
    core.runtime.get_session(p.session_id).await?;
    core.metrics.sync(core.runtime.bus()).await;
    Ok(core
        .metrics
        .session(p.session_id)
        .unwrap_or(SessionMetrics {
            session_id: p.session_id,
            ..SessionMetrics::default()
        }))
}

/// Sessions with figures, newest first.
pub(super) async fn list(
    core: &Core,
    p: ListSessionMetricsParams,
) -> Result<ListSessionMetricsResult, RpcError> {
    let limit = p.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(RpcError::invalid_params(
            "limit",
            format!("must be between 1 and 200, got {limit}"),
        ));
    }
    let before = match p.cursor.as_deref() {
        Some(c) => Some(Uuid::parse_str(c).map(SessionId::from).map_err(|_| {
            RpcError::invalid_params(
                "cursor",
                "not a cursor returned by codelab/listSessionMetrics",
            )
        })?),
        None => None,
    };
    core.metrics.sync(core.runtime.bus()).await;
    let (sessions, more) = core.metrics.sessions(before, limit as usize);
    let next_cursor = if more {
        sessions.last().map(|s| s.session_id.to_string())
    } else {
        None
    };
    Ok(ListSessionMetricsResult {
        sessions,
        next_cursor,
    })
}

impl super::Handle for crate::protocol::requests::GetSessionMetrics {
    async fn handle(cx: &super::Cx<'_>, p: SessionParams) -> Result<SessionMetrics, RpcError> {
        get(cx.core, p).await
    }
}

impl super::Handle for crate::protocol::requests::ListSessionMetrics {
    async fn handle(
        cx: &super::Cx<'_>,
        p: ListSessionMetricsParams,
    ) -> Result<ListSessionMetricsResult, RpcError> {
        list(cx.core, p).await
    }
}
