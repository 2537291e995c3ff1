//! `codelab/getCurrentAgent`

use crate::core::Core;
use crate::protocol::types::{CurrentAgentResult, SessionParams};
use crate::protocol::{ErrorCode, RpcError};

/// The agent currently handling a session.
pub(super) async fn run(
    core: &Core,
    params: SessionParams,
) -> Result<CurrentAgentResult, RpcError> {
    let session = core.store.get_session(params.session_id).await?;
    let agent = core.agent(&session.agent).ok_or_else(|| {
        RpcError::new(
            ErrorCode::AgentNotFound,
            format!(
                "session {} names unknown agent `{}`",
                session.id, session.agent
            ),
        )
        .with_session(session.id)
    })?;
    Ok(CurrentAgentResult {
        session_id: session.id,
        agent: agent.info(),
    })
}
