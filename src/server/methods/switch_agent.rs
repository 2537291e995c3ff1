//! `codelab/switchAgent`

use crate::agent;
use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::{Session, SwitchAgentParams};

/// Switches the session's agent.
pub(super) async fn run(core: &Core, p: SwitchAgentParams) -> Result<Session, RpcError> {
    agent::switch_agent(core, p.session_id, &p.agent, "switched by the user").await?;
    Ok(core.store.get_session(p.session_id).await?.into())
}

impl super::Handle for crate::protocol::requests::SwitchAgent {
    async fn handle(cx: &super::Cx<'_>, p: SwitchAgentParams) -> Result<Session, RpcError> {
        run(cx.core, p).await
    }
}
