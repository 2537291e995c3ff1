//! `codelab/detachSession`

use crate::protocol::RpcError;
use crate::protocol::requests::DetachSession;
use crate::protocol::types::{Ack, SessionParams};

/// Stops this connection's notifications about the session.
impl super::Handle for DetachSession {
    async fn handle(cx: &super::Cx<'_>, p: SessionParams) -> Result<Ack, RpcError> {
        cx.rt().detach(p.session_id, cx.conn.id);
        Ok(Ack { ok: true })
    }
}
