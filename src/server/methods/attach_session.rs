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
    let messages = core
        .store
        .history(p.session_id, p.after_seq.unwrap_or(0), usize::MAX)
        .await?
        .items;
    let pending_questions = core.store.list_questions(Some(p.session_id)).await?;
    let pending_approvals = core.store.list_approvals(Some(p.session_id)).await?;
    let session = core.store.get_session(p.session_id).await?;
    Ok(AttachSessionResult {
        running_turn_id: core.hub.running(session.id),
        session: session.into(),
        messages: messages.into_iter().map(Into::into).collect(),
        pending_questions: pending_questions.into_iter().map(Into::into).collect(),
        pending_approvals: pending_approvals.into_iter().map(Into::into).collect(),
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
