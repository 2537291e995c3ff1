//! Session events as codelab notifications: the one place where the
//! runtime's [`SessionEvent`]s become `codelab/*` methods and params.
//! Another front end translates the same events its own way.

use serde_json::Value;

use crate::domain::{SessionEvent, SessionUpdate};
use crate::protocol::Notification;
use crate::protocol::types::{
    AgentSwitchedParams, ApprovalRequiredParams, ApprovalResolvedParams, ChosenModel,
    CommandOutputParams, ContextCompactedParams, ContextUsageParams, MessageAddedParams,
    ModelChosenParams, QuestionParams, ReasoningParams, TokenParams, ToolCallParams,
    TurnCompletedParams, TurnDiffParams,
};

/// The notification's method and params.
pub(super) fn encode(event: &SessionEvent) -> (&'static str, Value) {
    let (session_id, seq) = (event.session_id, event.seq);
    match &event.update {
        SessionUpdate::Token { turn_id, delta } => notification(&TokenParams {
            session_id,
            turn_id: *turn_id,
            seq,
            delta: delta.clone(),
        }),
        SessionUpdate::Reasoning { turn_id, delta } => notification(&ReasoningParams {
            session_id,
            turn_id: *turn_id,
            seq,
            delta: delta.clone(),
        }),
        SessionUpdate::ToolCall {
            turn_id,
            call,
            kind,
            status,
            result,
        } => notification(&ToolCallParams {
            session_id,
            turn_id: *turn_id,
            seq,
            tool_call_id: call.id.clone(),
            name: call.name.clone(),
            kind: kind.as_str().to_owned(),
            params: call.arguments.clone(),
            status: *status,
            result: result.clone(),
        }),
        SessionUpdate::TurnCompleted {
            turn_id,
            stop_reason,
            usage,
            cost_usd,
            result,
            error,
        } => notification(&TurnCompletedParams {
            session_id,
            turn_id: *turn_id,
            seq,
            stop_reason: *stop_reason,
            usage: *usage,
            cost_usd: *cost_usd,
            result: result.clone(),
            error: error.clone(),
        }),
        SessionUpdate::AgentSwitched { from, to, reason } => notification(&AgentSwitchedParams {
            session_id,
            seq,
            from: from.clone(),
            to: to.clone(),
            reason: reason.clone(),
        }),
        SessionUpdate::ModelChosen { model } => notification(&ModelChosenParams {
            session_id,
            seq,
            model: model.clone().map(ChosenModel::from),
        }),
        SessionUpdate::Question(q) => notification(&QuestionParams::from(q.clone())),
        SessionUpdate::CommandOutput {
            turn_id,
            tool_call_id,
            stream,
            text,
        } => notification(&CommandOutputParams {
            session_id,
            turn_id: *turn_id,
            seq,
            tool_call_id: tool_call_id.clone(),
            stream: stream.clone(),
            text: text.clone(),
        }),
        SessionUpdate::MessageAdded(m) => notification(&MessageAddedParams {
            session_id,
            seq,
            message: m.as_ref().clone().into(),
        }),
        SessionUpdate::ContextUsage(u) => notification(&ContextUsageParams {
            session_id,
            turn_id: u.turn_id,
            seq,
            used_tokens: u.used_tokens,
            context_window: u.context_window,
            usage: u.usage,
            turn_cost_usd: u.turn_cost_usd,
            session_cost_usd: u.session_cost_usd,
        }),
        SessionUpdate::Compacted {
            turn_id,
            compaction,
            elided,
            summarized,
        } => notification(&ContextCompactedParams {
            session_id,
            turn_id: *turn_id,
            seq,
            compaction: *compaction,
            elided: *elided,
            summarized: *summarized,
        }),
        SessionUpdate::TurnDiff {
            turn_id,
            files,
            diff,
        } => notification(&TurnDiffParams {
            session_id,
            turn_id: *turn_id,
            seq,
            files: files.clone(),
            diff: diff.clone(),
        }),
        SessionUpdate::ApprovalRequired(a) => notification(&ApprovalRequiredParams {
            session_id,
            seq,
            approval: a.as_ref().clone().into(),
        }),
        SessionUpdate::ApprovalResolved {
            approval_id,
            decision,
            by,
        } => notification(&ApprovalResolvedParams {
            session_id,
            seq,
            approval_id: *approval_id,
            decision: *decision,
            by: by.clone(),
        }),
    }
}

/// One notification's method and params, from its typed params: the method
/// name comes from the params' type ([`Notification::NAME`]), so an event
/// cannot go out under another notification's name, nor under one the
/// protocol does not declare.
pub(super) fn notification<N: Notification>(params: &N) -> (&'static str, Value) {
    (N::NAME, serde_json::to_value(params).unwrap_or(Value::Null))
}
