//! `codelab/createSession`

use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::{CreateSessionParams, Session};
use crate::server::connection::ConnState;

/// Creates a session; the workspace folder defaults to the connection's first.
pub(super) async fn run(
    core: &Core,
    conn: &ConnState,
    params: CreateSessionParams,
) -> Result<Session, RpcError> {
    let folder = params
        .workspace_folder
        .or_else(|| conn.workspace_folders().into_iter().next());
    Ok(core
        .create_session(folder, params.agent, params.title)
        .await?
        .into())
}

impl super::Handle for crate::protocol::requests::CreateSession {
    async fn handle(cx: &super::Cx<'_>, p: CreateSessionParams) -> Result<Session, RpcError> {
        run(cx.core, cx.conn, p).await
    }
}
