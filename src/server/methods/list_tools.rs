//! `codelab/listTools`

use crate::protocol::types::{ListToolsResult, ToolInfo};
use crate::protocol::{NoParams, RpcError};
use crate::tools;

/// Every tool, with the parameter schema the model is given.
pub(super) fn run() -> ListToolsResult {
    ListToolsResult {
        tools: tools::registry()
            .iter()
            .map(|t| ToolInfo::from(&**t))
            .collect(),
    }
}

impl super::Handle for crate::protocol::requests::ListTools {
    async fn handle(_cx: &super::Cx<'_>, _p: NoParams) -> Result<ListToolsResult, RpcError> {
        Ok(run())
    }
}
