//! `codelab/getCurrentAgent`

use crate::protocol::RpcError;
use crate::protocol::requests::GetCurrentAgent;
use crate::protocol::types::{AgentInfo, CurrentAgentResult, SessionParams};

/// The agent currently handling a session (workspace agents included).
impl super::Handle for GetCurrentAgent {
    async fn handle(cx: &super::Cx<'_>, p: SessionParams) -> Result<CurrentAgentResult, RpcError> {
        let agent = cx
            .rt()
            .current_agent(p.session_id)
            .await
            .map_err(|e| RpcError::from(e).with_session(p.session_id))?;
        Ok(CurrentAgentResult {
            session_id: p.session_id,
            agent: AgentInfo::from(&agent),
        })
    }
}
