//! `codelab/sendMessage`

use std::sync::Arc;

use crate::agent::{self, TurnInput};
use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::{SendMessageParams, SendMessageResult};
use crate::server::connection::ConnState;

/// Persists the message, starts the turn, attaches the connection.
pub(super) async fn run(
    core: &Arc<Core>,
    conn: &Arc<ConnState>,
    p: SendMessageParams,
) -> Result<SendMessageResult, RpcError> {
    let session = core.store.get_session(p.session_id).await?;
    core.hub
        .attach(&session, conn.id, std::sync::Arc::clone(&conn.events));
    let input = TurnInput {
        session_id: p.session_id,
        text: p.text,
        agent: p.agent,
        context: p.context.map(Into::into),
        editor: conn.editor(core.config.client_request_timeout),
        editor_llm: conn.editor_settings(),
    };
    let turn_id = agent::send_message(core, input).await?;
    Ok(SendMessageResult { turn_id })
}

impl super::Handle for crate::protocol::requests::SendMessage {
    async fn handle(
        cx: &super::Cx<'_>,
        p: SendMessageParams,
    ) -> Result<SendMessageResult, RpcError> {
        run(cx.core, cx.conn, p).await
    }
}
