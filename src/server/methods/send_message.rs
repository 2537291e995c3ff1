//! `codelab/sendMessage`

use std::sync::Arc;

use crate::protocol::RpcError;
use crate::protocol::requests::SendMessage;
use crate::protocol::types::{SendMessageParams, SendMessageResult};
use crate::runtime::TurnInput;

/// Persists the message, starts the turn, attaches the connection.
impl super::Handle for SendMessage {
    async fn handle(
        cx: &super::Cx<'_>,
        p: SendMessageParams,
    ) -> Result<SendMessageResult, RpcError> {
        let input = TurnInput {
            session_id: p.session_id,
            text: p.text,
            agent: p.agent,
            context: p.context.map(Into::into),
            conn: Some(cx.conn.id),
            editor_llm: cx.conn.editor_settings(),
        };
        let attach = (cx.conn.id, Arc::clone(&cx.conn.events));
        let turn_id = cx.rt().send_message(input, Some(attach)).await?;
        Ok(SendMessageResult { turn_id })
    }
}
