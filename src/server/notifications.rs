//! Session events as codelab notifications: the one place where the
//! runtime's [`SessionEvent`]s become `codelab/*` methods and params.
//! Another front end translates the same events its own way.

use serde_json::Value;

use crate::domain::{SessionEvent, SessionUpdate};
use crate::protocol::methods::names;
use crate::protocol::types::{
    AgentSwitchedParams, ApprovalRequiredParams, ApprovalResolvedParams, CommandOutputParams,
    MessageAddedParams, QuestionParams, TokenParams, ToolCallParams, TurnCompletedParams,
};

/// The notification's method and params.
pub(super) fn encode(event: &SessionEvent) -> (&'static str, Value) {
    let v = |x: &dyn erased::Ser| x.to_value();
    let (session_id, seq) = (event.session_id, event.seq);
    match &event.update {
        SessionUpdate::Token { turn_id, delta } => (
            names::TOKEN,
            v(&TokenParams {
                session_id,
                turn_id: *turn_id,
                seq,
                delta: delta.clone(),
            }),
        ),
        SessionUpdate::ToolCall {
            turn_id,
            call,
            kind,
            status,
            result,
        } => (
            names::TOOL_CALL,
            v(&ToolCallParams {
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
        ),
        SessionUpdate::TurnCompleted {
            turn_id,
            stop_reason,
            usage,
            cost_usd,
            result,
            error,
        } => (
            names::TURN_COMPLETED,
            v(&TurnCompletedParams {
                session_id,
                turn_id: *turn_id,
                seq,
                stop_reason: *stop_reason,
                usage: *usage,
                cost_usd: *cost_usd,
                result: result.clone(),
                error: error.clone(),
            }),
        ),
        SessionUpdate::AgentSwitched { from, to, reason } => (
            names::AGENT_SWITCHED,
            v(&AgentSwitchedParams {
                session_id,
                seq,
                from: from.clone(),
                to: to.clone(),
                reason: reason.clone(),
            }),
        ),
        SessionUpdate::Question(q) => (names::QUESTION, v(&QuestionParams::from(q.clone()))),
        SessionUpdate::CommandOutput {
            turn_id,
            tool_call_id,
            stream,
            text,
        } => (
            names::COMMAND_OUTPUT,
            v(&CommandOutputParams {
                session_id,
                turn_id: *turn_id,
                seq,
                tool_call_id: tool_call_id.clone(),
                stream: stream.clone(),
                text: text.clone(),
            }),
        ),
        SessionUpdate::MessageAdded(m) => (
            names::MESSAGE,
            v(&MessageAddedParams {
                session_id,
                seq,
                message: m.as_ref().clone().into(),
            }),
        ),
        SessionUpdate::ApprovalRequired(a) => (
            names::APPROVAL_REQUIRED,
            v(&ApprovalRequiredParams {
                session_id,
                seq,
                approval: a.as_ref().clone().into(),
            }),
        ),
        SessionUpdate::ApprovalResolved {
            approval_id,
            decision,
            by,
        } => (
            names::APPROVAL_RESOLVED,
            v(&ApprovalResolvedParams {
                session_id,
                seq,
                approval_id: *approval_id,
                decision: *decision,
                by: by.clone(),
            }),
        ),
    }
}

mod erased {
    /// Serializes any wire type to a JSON value.
    pub trait Ser {
        fn to_value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_value(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}
