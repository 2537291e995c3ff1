//! `codelab/getSession`

use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::{Session, SessionParams};

/// One session.
pub(super) async fn run(core: &Core, params: SessionParams) -> Result<Session, RpcError> {
    Ok(core.store.get_session(params.session_id).await?.into())
}

impl super::Handle for crate::protocol::requests::GetSession {
    async fn handle(cx: &super::Cx<'_>, p: SessionParams) -> Result<Session, RpcError> {
        run(cx.core, p).await
    }
}
