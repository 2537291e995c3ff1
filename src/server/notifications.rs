//! Session events as JSON-RPC notifications: the method names and params.
//!
//! The method name comes from the params' type ([`Notification::NAME`]), so
//! an event cannot go out under another notification's name, nor under one
//! the protocol does not declare.

use serde_json::Value;

use crate::agent::hub::SessionEvent;
use crate::protocol::Notification;

/// The notification's method and params.
pub(super) fn encode(event: &SessionEvent) -> (&'static str, Value) {
    match event {
        SessionEvent::Token(p) => notification(p),
        SessionEvent::ToolCall(p) => notification(p),
        SessionEvent::TurnCompleted(p) => notification(p),
        SessionEvent::AgentSwitched(p) => notification(p),
        SessionEvent::Question(p) => notification(p),
        SessionEvent::CommandOutput(p) => notification(p),
        SessionEvent::Message(p) => notification(p.as_ref()),
        SessionEvent::ApprovalRequired(p) => notification(p.as_ref()),
        SessionEvent::ApprovalResolved(p) => notification(p),
    }
}

/// One notification's method and params, from its typed params.
pub(super) fn notification<N: Notification>(params: &N) -> (&'static str, Value) {
    (N::NAME, serde_json::to_value(params).unwrap_or(Value::Null))
}
