//! `codelab/listMcpServers`

use crate::protocol::RpcError;
use crate::protocol::requests::ListMcpServers;
use crate::protocol::types::{ListMcpServersParams, ListMcpServersResult, McpServerInfo};

/// The MCP servers (a session's, or every one known), their state and
/// tools; starts none.
impl super::Handle for ListMcpServers {
    async fn handle(
        cx: &super::Cx<'_>,
        params: ListMcpServersParams,
    ) -> Result<ListMcpServersResult, RpcError> {
        Ok(ListMcpServersResult {
            servers: cx
                .rt()
                .mcp_statuses(params.session_id)
                .await?
                .into_iter()
                .map(McpServerInfo::from)
                .collect(),
        })
    }
}
