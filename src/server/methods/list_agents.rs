//! `codelab/listAgents`

use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::{ListAgentsParams, ListAgentsResult};
use crate::server::connection::ConnState;

/// Every agent of the workspace, as enforced.
pub(super) fn run(
    core: &Core,
    conn: &ConnState,
    p: ListAgentsParams,
) -> Result<ListAgentsResult, RpcError> {
    let folder = p
        .workspace_folder
        .or_else(|| conn.workspace_folders().into_iter().next());
    let agents = core.agents_for(folder.as_deref())?;
    Ok(ListAgentsResult {
        agents: agents.iter().map(|a| a.info()).collect(),
    })
}

impl super::Handle for crate::protocol::requests::ListAgents {
    async fn handle(cx: &super::Cx<'_>, p: ListAgentsParams) -> Result<ListAgentsResult, RpcError> {
        run(cx.core, cx.conn, p)
    }
}
