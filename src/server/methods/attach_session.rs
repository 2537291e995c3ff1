//! `codelab/attachSession`

use std::sync::Arc;

use crate::protocol::RpcError;
use crate::protocol::requests::AttachSession;
use crate::protocol::types::{AttachSessionParams, AttachSessionResult};

/// Attaches first, then reads: nothing can fall between the replay and the
/// live notifications (a client drops what it has seen by seq).
impl super::Handle for AttachSession {
    async fn handle(
        cx: &super::Cx<'_>,
        p: AttachSessionParams,
    ) -> Result<AttachSessionResult, RpcError> {
        let a = cx
            .rt()
            .attach(
                p.session_id,
                cx.conn.id,
                Arc::clone(&cx.conn.events),
                p.after_seq.unwrap_or(0),
            )
            .await?;
        Ok(AttachSessionResult {
            running_turn_id: a.running_turn,
            session: a.session.into(),
            messages: a.messages.into_iter().map(Into::into).collect(),
            pending_questions: a.questions.into_iter().map(Into::into).collect(),
            pending_approvals: a.approvals.into_iter().map(Into::into).collect(),
        })
    }
}
