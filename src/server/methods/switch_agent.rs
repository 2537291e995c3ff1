//! `codelab/switchAgent`

use crate::protocol::RpcError;
use crate::protocol::requests::SwitchAgent;
use crate::protocol::types::{Session, SwitchAgentParams};

/// Switches the session's agent; clients attached to it get `codelab/agentSwitched`.
impl super::Handle for SwitchAgent {
    async fn handle(cx: &super::Cx<'_>, p: SwitchAgentParams) -> Result<Session, RpcError> {
        Ok(cx
            .rt()
            .switch_agent(p.session_id, &p.agent, "switched by the user")
            .await?
            .into())
    }
}
