//! Session events as JSON-RPC notifications: the method names and params.

use serde_json::Value;

use crate::agent::hub::SessionEvent;
use crate::protocol::methods::names;

/// The notification's method and params.
pub(super) fn encode(event: &SessionEvent) -> (&'static str, Value) {
    let v = |x: &dyn erased::Ser| x.to_value();
    match event {
        SessionEvent::Token(p) => (names::TOKEN, v(p)),
        SessionEvent::ToolCall(p) => (names::TOOL_CALL, v(p)),
        SessionEvent::TurnCompleted(p) => (names::TURN_COMPLETED, v(p)),
        SessionEvent::AgentSwitched(p) => (names::AGENT_SWITCHED, v(p)),
        SessionEvent::Question(p) => (names::QUESTION, v(p)),
        SessionEvent::CommandOutput(p) => (names::COMMAND_OUTPUT, v(p)),
        SessionEvent::Message(p) => (names::MESSAGE, v(p.as_ref())),
        SessionEvent::ApprovalRequired(p) => (names::APPROVAL_REQUIRED, v(p.as_ref())),
        SessionEvent::ApprovalResolved(p) => (names::APPROVAL_RESOLVED, v(p)),
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
