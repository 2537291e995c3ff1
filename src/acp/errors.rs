//! Runtime errors as JSON-RPC errors: the one place where the ACP front end
//! turns a [`RuntimeError`] into what the client reads. The message says what
//! went wrong and, where there is one, what to do about it.

use agent_client_protocol as acp;

use crate::runtime::RuntimeError;

/// The JSON-RPC error for a runtime error.
pub(super) fn from_runtime(e: &RuntimeError) -> acp::Error {
    let code = match e {
        RuntimeError::SessionNotFound(_) => acp::ErrorCode::ResourceNotFound,
        RuntimeError::UnknownAgent(_)
        | RuntimeError::NotPending(_)
        | RuntimeError::InvalidParams(_) => acp::ErrorCode::InvalidParams,
        RuntimeError::Busy { .. } | RuntimeError::RunningElsewhere { .. } => {
            acp::ErrorCode::InvalidRequest
        }
        RuntimeError::Store(_)
        | RuntimeError::Config(_)
        | RuntimeError::Overloaded(_)
        | RuntimeError::Compaction(_)
        | RuntimeError::Model(_) => acp::ErrorCode::InternalError,
    };
    let message = match e {
        RuntimeError::Busy { session, .. } => format!(
            "session {session} is already answering a prompt; wait for its answer or send session/cancel"
        ),
        other => other.to_string(),
    };
    acp::Error::new(code.into(), message)
}

/// The error for a session id that is not a codelab session's.
pub(super) fn unknown_session(id: &acp::SessionId) -> acp::Error {
    acp::Error::new(
        acp::ErrorCode::ResourceNotFound.into(),
        format!("session {id} not found"),
    )
}

/// The error for a session that exists but was not opened on this connection.
pub(super) fn not_open(id: &acp::SessionId) -> acp::Error {
    acp::Error::new(
        acp::ErrorCode::InvalidParams.into(),
        format!("session {id} is not open on this connection; open it with session/load first"),
    )
}

/// An invalid parameter, named.
pub(super) fn invalid_params(message: impl Into<String>) -> acp::Error {
    acp::Error::new(acp::ErrorCode::InvalidParams.into(), message.into())
}

/// The turn ended with an error: the prompt fails with it.
pub(super) fn turn_failed(error: Option<&str>) -> acp::Error {
    acp::Error::new(
        acp::ErrorCode::InternalError.into(),
        format!(
            "the turn ended with an error: {}",
            error.unwrap_or("unknown error")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{SessionId, TurnId};

    #[test]
    fn runtime_errors_have_codes_and_clear_messages() {
        let id = SessionId::new();
        let e = from_runtime(&RuntimeError::SessionNotFound(id));
        assert_eq!(i32::from(e.code), -32002);
        assert_eq!(e.message, format!("session {id} not found"));
        let e = from_runtime(&RuntimeError::Busy {
            session: id,
            turn: TurnId::new(),
        });
        assert_eq!(i32::from(e.code), -32600);
        assert!(e.message.contains("send session/cancel"), "{}", e.message);
        let e = from_runtime(&RuntimeError::UnknownAgent("x".into()));
        assert_eq!(i32::from(e.code), -32602);
        assert_eq!(e.message, "unknown agent `x`");
    }
}
