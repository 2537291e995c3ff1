//! `codelab/subscribeEvents` and `codelab/unsubscribeEvents`

use std::sync::Arc;

use crate::core::Core;
use crate::events::Category;
use crate::protocol::RpcError;
use crate::protocol::types::{
    Ack, AuditEntry, EventParams, SubscribeEventsParams, SubscribeEventsResult,
    UnsubscribeEventsParams,
};
use crate::server::connection::ConnState;

fn category(name: &str) -> Option<Category> {
    Category::LIVE.into_iter().find(|c| c.as_str() == name)
}

/// Subscribes this connection; events follow as `codelab/event`.
pub(super) fn subscribe(
    core: &Core,
    conn: &Arc<ConnState>,
    p: SubscribeEventsParams,
) -> Result<SubscribeEventsResult, RpcError> {
    let categories = match p.categories {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|n| {
                    category(n).ok_or_else(|| {
                        RpcError::invalid_params(
                            "categories",
                            format!(
                                "unknown category `{n}`; use agent, session, tool, approval or llm"
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let mut sub = core
        .runtime
        .bus()
        .subscribe(&format!("client:{}", conn.id), 1024, categories);
    let id = sub.id;
    conn.add_subscription(id);
    let conn = Arc::clone(conn);
    tokio::spawn(async move {
        while let Some(e) = sub.next().await {
            let params = EventParams {
                subscription_id: id,
                turn_id: e.turn_id,
                event: AuditEntry::from(e.as_ref()),
            };
            let (method, params) = crate::server::notifications::notification(&params);
            if !conn.try_notify(method, params) {
                // The client is not reading: drop rather than queue without bound.
                sub.lagged
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    Ok(SubscribeEventsResult {
        subscription_id: id,
    })
}

/// Stops one or all of this connection's subscriptions.
pub(super) fn unsubscribe(core: &Core, conn: &ConnState, p: UnsubscribeEventsParams) -> Ack {
    for id in conn.take_subscriptions(p.subscription_id) {
        core.runtime.bus().unsubscribe(id);
    }
    Ack { ok: true }
}

impl super::Handle for crate::protocol::requests::SubscribeEvents {
    async fn handle(
        cx: &super::Cx<'_>,
        p: SubscribeEventsParams,
    ) -> Result<SubscribeEventsResult, RpcError> {
        subscribe(cx.core, cx.conn, p)
    }
}

impl super::Handle for crate::protocol::requests::UnsubscribeEvents {
    async fn handle(cx: &super::Cx<'_>, p: UnsubscribeEventsParams) -> Result<Ack, RpcError> {
        Ok(unsubscribe(cx.core, cx.conn, p))
    }
}
