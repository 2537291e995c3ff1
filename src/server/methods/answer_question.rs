//! `codelab/answerQuestion`

use std::sync::Arc;

use crate::agent;
use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::{Ack, AnswerQuestionParams};

/// Answers a pending question.
pub(super) async fn run(core: &Arc<Core>, p: AnswerQuestionParams) -> Result<Ack, RpcError> {
    agent::answer_question(core, p.session_id, p.question_id, p.answer).await?;
    Ok(Ack { ok: true })
}

impl super::Handle for crate::protocol::requests::AnswerQuestion {
    async fn handle(cx: &super::Cx<'_>, p: AnswerQuestionParams) -> Result<Ack, RpcError> {
        run(cx.core, p).await
    }
}
