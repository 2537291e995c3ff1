//! Wire types of the codelab protocol: the parameters and results of every
//! `codelab/*` method and notification.
//!
//! These types are the single source of truth for `protocol/schema.json`,
//! `protocol/codelab-protocol.ts` and `protocol/README.md`. Every field is
//! camelCase on the wire; times are RFC 3339 strings in UTC; ids are UUIDs.
//! Unknown fields in parameters are refused, so a misspelt optional field is an
//! error rather than silently ignored.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

/// A chat session: one conversation with the agents, bound to a workspace folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The session's id, a UUID v7 (time-ordered).
    pub id: Uuid,
    /// A human-readable title.
    pub title: String,
    /// The workspace folder (a `file://` URI) the session works in, if any.
    pub workspace_folder: Option<String>,
    /// The slug of the agent currently handling the session.
    pub agent: String,
    /// When the session was created.
    #[ts(type = "string")]
    pub created_at: DateTime<Utc>,
    /// When the session last changed.
    #[ts(type = "string")]
    pub updated_at: DateTime<Utc>,
    /// How many messages the session's history holds.
    pub message_count: u64,
    /// The highest `seq` used by the session so far; events carry larger ones.
    pub last_seq: u64,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// The user.
    User,
    /// The model, speaking as the session's agent.
    Assistant,
    /// The result of a tool call.
    Tool,
}

/// A tool call made by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ToolCall {
    /// The call's id, unique within the session.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments, as a JSON object.
    #[ts(type = "unknown")]
    pub arguments: serde_json::Value,
}

/// One entry of a session's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// The message's stable id (UUID v7).
    pub id: Uuid,
    /// The session it belongs to.
    pub session_id: Uuid,
    /// Its position in the session: strictly increasing, shared with the
    /// session's streamed events, so a client can resume after any seq.
    pub seq: u64,
    /// The turn that produced it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub turn_id: Option<Uuid>,
    /// Who wrote it.
    pub role: Role,
    /// The text (for a tool message, the tool's result).
    pub text: String,
    /// Tool calls made in an assistant message (empty otherwise).
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    /// For a tool message: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub tool_call_id: Option<String>,
    /// For a tool message: whether the tool failed.
    #[serde(default)]
    pub is_error: bool,
    /// When it was written.
    #[ts(type = "string")]
    pub created_at: DateTime<Utc>,
}

/// An agent as the server enforces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentInfo {
    /// The agent's slug, used to select it (`coder`, `architect`, ...).
    pub slug: String,
    /// Its display name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The tools it may call, by name.
    pub tools: Vec<String>,
    /// A regular expression that every path it edits must match, if its edits
    /// are restricted (the architect's is `\.md$`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub file_restriction: Option<String>,
}

/// `codelab/createSession` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSessionParams {
    /// The workspace folder URI; defaults to the connection's first workspace folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub workspace_folder: Option<String>,
    /// The starting agent; defaults to `orchestrator`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub agent: Option<String>,
    /// A title; defaults to "New session".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub title: Option<String>,
}

/// `codelab/listSessions` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListSessionsParams {
    /// The `nextCursor` of the previous page; omit for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub cursor: Option<String>,
    /// Page size, 1 to 200; default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// `codelab/listSessions` result: newest session first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ListSessionsResult {
    /// One page of sessions, newest first (by creation).
    pub sessions: Vec<Session>,
    /// Pass this as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub next_cursor: Option<String>,
}

/// Parameters naming one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionParams {
    /// The session's id.
    pub session_id: Uuid,
}

/// `codelab/deleteSession` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeleteSessionResult {
    /// The deleted session's id.
    pub session_id: Uuid,
    /// How many messages were deleted with it.
    pub deleted_messages: u64,
}

/// `codelab/getHistory` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetHistoryParams {
    /// The session's id.
    pub session_id: Uuid,
    /// Return only messages with a larger seq; omit to start at the beginning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub after_seq: Option<u64>,
    /// Page size, 1 to 1000; default 200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// `codelab/getHistory` result: messages in seq order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct GetHistoryResult {
    /// Messages in increasing seq.
    pub messages: Vec<Message>,
    /// Whether more messages follow; pass the last seq as `afterSeq` to get them.
    pub has_more: bool,
}

/// `codelab/listAgents` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ListAgentsResult {
    /// Every agent, in a stable order.
    pub agents: Vec<AgentInfo>,
}

/// `codelab/getCurrentAgent` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct CurrentAgentResult {
    /// The session's id.
    pub session_id: Uuid,
    /// The agent currently handling it.
    pub agent: AgentInfo,
}

/// What the server advertises under `capabilities.experimental.codelab` in its
/// `initialize` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct CodelabCapabilities {
    /// The protocol version, `MAJOR.MINOR`. See the versioning rule.
    pub protocol_version: String,
    /// The server's version.
    pub server_version: String,
    /// Feature names the server supports; anything not listed is unsupported.
    pub features: Vec<String>,
    /// The position encoding chosen for this connection (`utf-8` or `utf-16`).
    pub position_encoding: String,
}

/// The `data` of an "invalid params" error: which field failed and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct InvalidParamsData {
    /// The path of the failing field (`limit`, `context.files[0]`), or `.` for the whole.
    pub field: String,
    /// Why it was refused.
    pub reason: String,
}

/// The `data` carried by every codelab application error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ErrorData {
    /// A stable, machine-readable name for the error (`sessionNotFound`, ...).
    pub kind: String,
    /// Whether the same request may succeed if retried later.
    pub retryable: bool,
    /// The session concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub session_id: Option<Uuid>,
    /// The field concerned, for invalid parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
    /// More detail, for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub detail: Option<String>,
}

/// `codelab/getDocument` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetDocumentParams {
    /// The document's URI, as sent in `textDocument/didOpen`.
    pub uri: String,
}

/// `codelab/getDocument` result: the server's copy of an open document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct DocumentSnapshot {
    /// The document's URI.
    pub uri: String,
    /// The version of the last change applied.
    pub version: i32,
    /// The language id from `didOpen`.
    pub language_id: String,
    /// The full text, unsaved changes included.
    pub text: String,
}
