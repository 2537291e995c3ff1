//! `codelab/answerQuestion`

use crate::protocol::RpcError;
use crate::protocol::requests::AnswerQuestion;
use crate::protocol::types::{Ack, AnswerQuestionParams};

/// Answers a pending question; the turn that asked goes on.
impl super::Handle for AnswerQuestion {
    async fn handle(cx: &super::Cx<'_>, p: AnswerQuestionParams) -> Result<Ack, RpcError> {
        cx.rt()
            .answer_question(p.session_id, p.question_id, p.answer)
            .await?;
        Ok(Ack { ok: true })
    }
}
