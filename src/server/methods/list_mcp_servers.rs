//! `codelab/listMcpServers`

use crate::protocol::requests::ListMcpServers;
use crate::protocol::types::{ListMcpServersResult, McpServerInfo};
use crate::protocol::{NoParams, RpcError};

/// Every configured MCP server, its state and tools; starts none.
impl super::Handle for ListMcpServers {
    async fn handle(cx: &super::Cx<'_>, _: NoParams) -> Result<ListMcpServersResult, RpcError> {
        Ok(ListMcpServersResult {
            servers: cx
                .rt()
                .mcp()
                .statuses()
                .await
                .into_iter()
                .map(McpServerInfo::from)
                .collect(),
        })
    }
}
