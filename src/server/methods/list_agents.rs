//! `codelab/listAgents`

use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::{AgentInfo, ListAgentsParams, ListAgentsResult};
use crate::server::connection::ConnState;

/// Every agent of the workspace, as enforced, with warnings about workspace
/// files ignored because the user does not trust the workspace.
pub(super) fn run(
    core: &Core,
    conn: &ConnState,
    p: ListAgentsParams,
) -> Result<ListAgentsResult, RpcError> {
    let folder = p
        .workspace_folder
        .or_else(|| conn.workspace_folders().into_iter().next());
    let set = core.workspace_agents(folder.as_deref())?;
    Ok(ListAgentsResult {
        agents: set.agents.iter().map(AgentInfo::from).collect(),
        warnings: set.warnings.clone(),
    })
}

impl super::Handle for crate::protocol::requests::ListAgents {
    async fn handle(cx: &super::Cx<'_>, p: ListAgentsParams) -> Result<ListAgentsResult, RpcError> {
        run(cx.core, cx.conn, p)
    }
}
