//! `codelab/listAgents`

use crate::protocol::RpcError;
use crate::protocol::requests::ListAgents;
use crate::protocol::types::{AgentInfo, ListAgentsParams, ListAgentsResult};

/// Every agent of the workspace, as enforced, with warnings about workspace
/// files ignored because the user does not trust the workspace.
impl super::Handle for ListAgents {
    async fn handle(cx: &super::Cx<'_>, p: ListAgentsParams) -> Result<ListAgentsResult, RpcError> {
        let folder = p
            .workspace_folder
            .or_else(|| cx.conn.workspace_folders().into_iter().next());
        let set = cx.rt().workspace_agents(folder.as_deref())?;
        Ok(ListAgentsResult {
            agents: set.agents.iter().map(AgentInfo::from).collect(),
            warnings: set.warnings.clone(),
        })
    }
}
