//! `codelab/getSession`

use crate::protocol::RpcError;
use crate::protocol::requests::GetSession;
use crate::protocol::types::{Session, SessionParams};

/// One session.
impl super::Handle for GetSession {
    async fn handle(cx: &super::Cx<'_>, p: SessionParams) -> Result<Session, RpcError> {
        Ok(cx.rt().get_session(p.session_id).await?.into())
    }
}
