//! `codelab/attachSession`

use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::{AttachSessionParams, AttachSessionResult};
use crate::server::connection::ConnState;

/// Attaches first, then reads: nothing can fall between the replay and the
/// live notifications (a client drops what it has seen by seq).
pub(super) async fn run(
    core: &Core,
    conn: &ConnState,
    p: AttachSessionParams,
) -> Result<AttachSessionResult, RpcError> {
    let session = core.store.get_session(p.session_id).await?;
    core.hub
        .attach(&session, conn.id, std::sync::Arc::clone(&conn.events));
    let (messages, _) = core
        .store
        .history(p.session_id, p.after_seq.unwrap_or(0), usize::MAX)
        .await?;
    let pending_questions = core.store.list_questions(Some(p.session_id)).await?;
    let pending_approvals = core.store.list_approvals(Some(p.session_id)).await?;
    let session = core.store.get_session(p.session_id).await?;
    Ok(AttachSessionResult {
        running_turn_id: core.hub.running(session.id),
        session,
        messages,
        pending_questions,
        pending_approvals,
    })
}

impl super::Handle for crate::protocol::requests::AttachSession {
    async fn handle(
        cx: &super::Cx<'_>,
        p: AttachSessionParams,
    ) -> Result<AttachSessionResult, RpcError> {
        run(cx.core, cx.conn, p).await
    }
}
