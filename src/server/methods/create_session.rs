//! `codelab/createSession`

use crate::protocol::RpcError;
use crate::protocol::requests::CreateSession;
use crate::protocol::types::{CreateSessionParams, Session};

/// Creates a session; the workspace folder defaults to the connection's first.
impl super::Handle for CreateSession {
    async fn handle(cx: &super::Cx<'_>, p: CreateSessionParams) -> Result<Session, RpcError> {
        let folder = p
            .workspace_folder
            .or_else(|| cx.conn.workspace_folders().into_iter().next());
        Ok(cx
            .rt()
            .create_session(folder, p.agent, p.title)
            .await?
            .into())
    }
}
