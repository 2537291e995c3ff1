//! Error codes of the protocol, and the error value every method returns.
//!
//! JSON-RPC's own codes are used for what they mean; application errors use
//! the `-33xxx` block, outside both the JSON-RPC and the LSP reserved ranges.
//! Every application error carries [`ErrorData`] with a stable `kind`, so a
//! client can tell a retryable condition from a permanent one.

use crate::domain::SessionId;
use serde_json::Value;

use super::types::ErrorData;

/// Every error code the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The message was not valid JSON (or not valid UTF-8).
    ParseError,
    /// Valid JSON but not a JSON-RPC request, notification or response.
    InvalidRequest,
    /// No such method.
    MethodNotFound,
    /// The parameters do not match the method's schema.
    InvalidParams,
    /// A bug in the server.
    InternalError,
    /// A request other than `initialize` arrived before `initialize`.
    ServerNotInitialized,
    /// The client cancelled the request with `$/cancelRequest`.
    RequestCancelled,
    /// No session has that id.
    SessionNotFound,
    /// The session is running a turn; wait for `codelab/turnCompleted`.
    SessionBusy,
    /// The store could not read or write.
    StoreFailure,
    /// No agent has that slug.
    AgentNotFound,
    /// The message is larger than the server accepts.
    MessageTooLarge,
    /// The connection has no open document with that URI.
    DocumentNotOpen,
    /// The question or approval is not pending (already answered or decided).
    NotPending,
    /// Too many requests; `data.retryAfterMs` says when to retry.
    RateLimited,
    /// The server runs as many turns as it may; retry later.
    Overloaded,
    /// A file method's path leads outside the session's workspace or is malformed.
    PathRefused,
    /// Nothing exists at a file method's path.
    FileNotFound,
    /// The file changed since the given base version, or the target exists.
    FileConflict,
    /// A file method failed otherwise (not text, a directory, permissions).
    FileFailed,
}

impl ErrorCode {
    /// Every code, in documentation order.
    pub const ALL: [ErrorCode; 20] = [
        Self::ParseError,
        Self::InvalidRequest,
        Self::MethodNotFound,
        Self::InvalidParams,
        Self::InternalError,
        Self::ServerNotInitialized,
        Self::RequestCancelled,
        Self::SessionNotFound,
        Self::SessionBusy,
        Self::StoreFailure,
        Self::AgentNotFound,
        Self::MessageTooLarge,
        Self::DocumentNotOpen,
        Self::NotPending,
        Self::RateLimited,
        Self::Overloaded,
        Self::PathRefused,
        Self::FileNotFound,
        Self::FileConflict,
        Self::FileFailed,
    ];

    /// The numeric code on the wire.
    pub const fn code(self) -> i64 {
        match self {
            Self::ParseError => -32700,
            Self::InvalidRequest => -32600,
            Self::MethodNotFound => -32601,
            Self::InvalidParams => -32602,
            Self::InternalError => -32603,
            Self::ServerNotInitialized => -32002,
            Self::RequestCancelled => -32800,
            Self::SessionNotFound => -33001,
            Self::SessionBusy => -33002,
            Self::StoreFailure => -33003,
            Self::AgentNotFound => -33004,
            Self::MessageTooLarge => -33005,
            Self::DocumentNotOpen => -33006,
            Self::NotPending => -33007,
            Self::RateLimited => -33008,
            Self::Overloaded => -33009,
            Self::PathRefused => -33010,
            Self::FileNotFound => -33011,
            Self::FileConflict => -33012,
            Self::FileFailed => -33013,
        }
    }

    /// The stable `kind` carried in the error's data.
    pub const fn kind(self) -> &'static str {
        match self {
            Self::ParseError => "parseError",
            Self::InvalidRequest => "invalidRequest",
            Self::MethodNotFound => "methodNotFound",
            Self::InvalidParams => "invalidParams",
            Self::InternalError => "internalError",
            Self::ServerNotInitialized => "serverNotInitialized",
            Self::RequestCancelled => "requestCancelled",
            Self::SessionNotFound => "sessionNotFound",
            Self::SessionBusy => "sessionBusy",
            Self::StoreFailure => "storeFailure",
            Self::AgentNotFound => "agentNotFound",
            Self::MessageTooLarge => "messageTooLarge",
            Self::DocumentNotOpen => "documentNotOpen",
            Self::NotPending => "notPending",
            Self::RateLimited => "rateLimited",
            Self::Overloaded => "overloaded",
            Self::PathRefused => "pathRefused",
            Self::FileNotFound => "fileNotFound",
            Self::FileConflict => "fileConflict",
            Self::FileFailed => "fileFailed",
        }
    }

    /// Whether retrying the same request later may succeed.
    pub const fn retryable(self) -> bool {
        matches!(
            self,
            Self::SessionBusy | Self::StoreFailure | Self::RateLimited | Self::Overloaded
        )
    }

    /// One line for the protocol reference.
    pub const fn description(self) -> &'static str {
        match self {
            Self::ParseError => "The message is not valid JSON or not valid UTF-8.",
            Self::InvalidRequest => {
                "Valid JSON, but not a JSON-RPC 2.0 request, notification or response (also: a request after `shutdown`)."
            }
            Self::MethodNotFound => "No method of that name exists.",
            Self::InvalidParams => {
                "The parameters do not match the method's schema; `data.field` names the failing field and `data.detail` says why."
            }
            Self::InternalError => "A bug in the server; the request had no effect.",
            Self::ServerNotInitialized => {
                "A request other than `initialize` arrived before `initialize`."
            }
            Self::RequestCancelled => "The client cancelled the request with `$/cancelRequest`.",
            Self::SessionNotFound => {
                "No session has the given id (it never existed or was deleted)."
            }
            Self::SessionBusy => {
                "The session is running a turn; `data.detail` names it. Retry after `codelab/turnCompleted`."
            }
            Self::StoreFailure => {
                "The store could not be read or written; nothing was acknowledged. Retryable."
            }
            Self::AgentNotFound => "No agent has the given slug; `codelab/listAgents` lists them.",
            Self::DocumentNotOpen => "This connection has no open document with that URI.",
            Self::RateLimited => {
                "Too many requests on this connection or token; `data.retryAfterMs` says when to retry. The connection stays open; notifications are not counted."
            }
            Self::Overloaded => "The server is running as many turns as it may; retry later.",
            Self::PathRefused => {
                "The path leads outside the session's workspace (`..`, an absolute path elsewhere, a symlink out) or is malformed; nothing was touched."
            }
            Self::FileNotFound => "Nothing exists at the path.",
            Self::FileConflict => {
                "The file changed since `baseVersion` (`data.detail` holds its current version, when it exists), or the target of a create or rename exists; nothing was changed."
            }
            Self::FileFailed => {
                "The file cannot be used as asked: not UTF-8 text, too large, a directory where a file was expected, or an I/O error."
            }
            Self::NotPending => {
                "The question or approval is not pending: it was already answered or decided (the first decision wins), or never existed."
            }
            Self::MessageTooLarge => {
                "The message exceeds the server's size limit (`data.detail` gives both sizes); it was discarded, the connection stays open."
            }
        }
    }
}

/// An error returned by a protocol method: code, message and typed data.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The error code.
    pub code: ErrorCode,
    /// A message for humans.
    pub message: String,
    /// Structured data for programs (boxed: errors travel in `Result`s).
    pub data: Box<ErrorData>,
}

impl RpcError {
    /// An error with the given code and message, and no further detail.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: Box::new(ErrorData {
                kind: code.kind().to_owned(),
                retryable: code.retryable(),
                session_id: None,
                field: None,
                detail: None,
            }),
        }
    }

    /// Attaches the session concerned.
    #[must_use]
    pub fn with_session(mut self, session_id: SessionId) -> Self {
        self.data.session_id = Some(session_id);
        self
    }

    /// Attaches more detail.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.data.detail = Some(detail.into());
        self
    }

    /// "Invalid params" naming the failing field and the reason.
    pub fn invalid_params(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let field = field.into();
        let reason = reason.into();
        let mut err = Self::new(
            ErrorCode::InvalidParams,
            format!("invalid params: `{field}`: {reason}"),
        );
        err.data.field = Some(field);
        err.data.detail = Some(reason);
        err
    }

    /// No session has this id.
    pub fn session_not_found(session_id: SessionId) -> Self {
        Self::new(
            ErrorCode::SessionNotFound,
            format!("session {session_id} not found"),
        )
        .with_session(session_id)
    }

    /// The store failed.
    pub fn store(err: &impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::StoreFailure, format!("store failure: {err}"))
    }

    /// The error as a JSON-RPC `error` object.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "code": self.code.code(),
            "message": self.message,
            "data": self.data,
        })
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code.code())
    }
}

impl std::error::Error for RpcError {}

/// Parses a method's parameters, naming the failing field on error.
///
/// Absent parameters, `null` and `[]` (what Lua's JSON encoders make of an
/// empty table) are read as an empty object, so methods whose fields are all
/// optional can be called without `params`.
pub fn parse_params<T: serde::de::DeserializeOwned>(params: Option<Value>) -> Result<T, RpcError> {
    let value = match params {
        None | Some(Value::Null) => Value::Object(serde_json::Map::new()),
        Some(Value::Array(a)) if a.is_empty() => Value::Object(serde_json::Map::new()),
        Some(v) => v,
    };
    if !value.is_object() {
        return Err(RpcError::invalid_params(
            ".",
            format!("params must be an object, got {}", json_type_name(&value)),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        // serde reports a missing field at the parent path with the name in the message.
        let field = match inner.strip_prefix("missing field `") {
            Some(rest) => rest.split('`').next().unwrap_or(&path).to_owned(),
            None => path,
        };
        RpcError::invalid_params(field, inner)
    })
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::types::GetHistoryParams;

    #[test]
    fn names_the_failing_field() {
        let err = parse_params::<GetHistoryParams>(Some(serde_json::json!({
            "sessionId": "0190f5d2-5b1a-7cc3-8a55-2f3f3c1f2a10",
            "limit": "ten"
        })))
        .expect_err("a string limit must be refused");
        assert_eq!(err.code, ErrorCode::InvalidParams);
        assert_eq!(err.data.field.as_deref(), Some("limit"));
        assert!(err.message.contains("invalid type"), "{}", err.message);
    }

    #[test]
    fn names_a_missing_field() {
        let err = parse_params::<GetHistoryParams>(None).expect_err("sessionId is required");
        assert_eq!(err.data.field.as_deref(), Some("sessionId"));
    }

    #[test]
    fn refuses_unknown_fields_and_non_objects() {
        let err = parse_params::<GetHistoryParams>(Some(serde_json::json!({
            "sessionId": "0190f5d2-5b1a-7cc3-8a55-2f3f3c1f2a10",
            "limt": 3
        })))
        .expect_err("unknown field");
        assert!(
            err.message.contains("unknown field `limt`"),
            "{}",
            err.message
        );
        let err =
            parse_params::<GetHistoryParams>(Some(serde_json::json!([1]))).expect_err("array");
        assert_eq!(err.data.field.as_deref(), Some("."));
    }

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<i64> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
    }
}
