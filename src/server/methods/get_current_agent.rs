//! `codelab/getCurrentAgent`

use crate::agent::session_agent;
use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::{AgentInfo, CurrentAgentResult, SessionParams};

/// The agent currently handling a session (workspace agents included).
pub(super) async fn run(
    core: &Core,
    params: SessionParams,
) -> Result<CurrentAgentResult, RpcError> {
    let session = core.store.get_session(params.session_id).await?;
    let agent = session_agent(core, &session)
        .await
        .map_err(|e| RpcError::from(e).with_session(session.id))?;
    Ok(CurrentAgentResult {
        session_id: session.id,
        agent: AgentInfo::from(&agent),
    })
}

impl super::Handle for crate::protocol::requests::GetCurrentAgent {
    async fn handle(cx: &super::Cx<'_>, p: SessionParams) -> Result<CurrentAgentResult, RpcError> {
        run(cx.core, p).await
    }
}
