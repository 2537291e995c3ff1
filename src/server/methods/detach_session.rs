//! `codelab/detachSession`

use crate::core::Core;
use crate::protocol::types::{Ack, SessionParams};
use crate::server::connection::ConnState;

/// Stops this connection's notifications about the session.
pub(super) fn run(core: &Core, conn: &ConnState, p: SessionParams) -> Ack {
    core.hub.detach(p.session_id, conn.id);
    Ack { ok: true }
}

impl super::Handle for crate::protocol::requests::DetachSession {
    async fn handle(
        cx: &super::Cx<'_>,
        p: SessionParams,
    ) -> Result<Ack, crate::protocol::RpcError> {
        Ok(run(cx.core, cx.conn, p))
    }
}
