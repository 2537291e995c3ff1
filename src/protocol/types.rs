//! Wire types of the codelab protocol: the parameters and results of every
//! `codelab/*` method and notification.
//!
//! These types are the single source of truth for `protocol/schema.json`,
//! `protocol/codelab-protocol.ts` and `protocol/README.md`. Every field is
//! camelCase on the wire; times are RFC 3339 strings in UTC; ids are UUIDs.
//! Unknown fields in parameters are refused, so a misspelt optional field is an
//! error rather than silently ignored.

use crate::domain::{ApprovalId, EventId, MessageId, QuestionId, SessionId, TurnId};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use crate::domain::{
    ApprovalScope, Compaction, Decision, FileStat, Role, StopReason, TokenUsage, ToolCallStatus,
    ToolKind,
};
pub use crate::metrics::{MetricsSnapshot, Percentiles, SessionMetrics};

/// A chat session: one conversation with the agents, bound to a workspace folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The session's id, a UUID v7 (time-ordered).
    pub id: SessionId,
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
    /// For a subtask's session: the session that delegated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub parent_session_id: Option<SessionId>,
    /// For a subtask's session: the parent's `new_task` call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub parent_tool_call_id: Option<String>,
    /// The model chosen for the session's turns (an ACP client's `model`
    /// option), when one was; else its turns use the configured model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub model: Option<ChosenModel>,
}

/// A model chosen for a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ChosenModel {
    /// The provider, as `codelab.toml` names it (`openai`, `anthropic`...).
    pub provider: String,
    /// The model.
    pub model: String,
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
    pub id: MessageId,
    /// The session it belongs to.
    pub session_id: SessionId,
    /// Its position in the session: strictly increasing, shared with the
    /// session's streamed events, so a client can resume after any seq.
    pub seq: u64,
    /// The turn that produced it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub turn_id: Option<TurnId>,
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
    /// For a user message: the editor state sent with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub context: Option<MessageContext>,
    /// When it was written.
    #[ts(type = "string")]
    pub created_at: DateTime<Utc>,
    /// Present on a compaction marker (role `user`, never sent to the model
    /// as itself): its `text` is the summary that replaces the messages up
    /// to `summarizedThrough`; tool results up to `elidedThrough` are sent as
    /// a short note. Nothing is deleted: the history still holds them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub compaction: Option<Compaction>,
    /// For an assistant message: the model's reasoning, as it streamed it
    /// (`codelab/reasoning`), kept apart from `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reasoning: Option<String>,
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
    /// A title; defaults to "New session", which the session's first message
    /// replaces.
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
    pub session_id: SessionId,
}

/// `codelab/deleteSession` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeleteSessionResult {
    /// The deleted session's id.
    pub session_id: SessionId,
    /// How many messages were deleted with it.
    pub deleted_messages: u64,
}

/// `codelab/getHistory` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetHistoryParams {
    /// The session's id.
    pub session_id: SessionId,
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
    /// Workspace files that were ignored (`.codelab/agents.toml` and
    /// `.codelab/prompts/*.md` of a workspace the user does not trust).
    /// Omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(optional, as = "Option<Vec<String>>")]
    pub warnings: Vec<String>,
}

/// A tool the agents can call, as the model is given it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ToolInfo {
    /// The tool's name, as in tool calls and approvals (`write_file`, ...).
    pub name: String,
    /// What it does: reads files, edits them, runs commands or talks to the user.
    pub kind: ToolKind,
    /// Its description, as the model reads it.
    pub description: String,
    /// The JSON Schema (draft 2020-12, subschemas inlined) of its parameters:
    /// exactly what the model is given. A call's `arguments`, and the
    /// `params` of a `decideApproval` with decision `edit`, must satisfy it.
    #[ts(type = "Record<string, unknown>")]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub parameters: serde_json::Value,
}

/// `codelab/listTools` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ListToolsResult {
    /// Every tool, in a stable order. Which an agent may call is in its
    /// `tools` (`codelab/listAgents`).
    pub tools: Vec<ToolInfo>,
}

/// The state of an MCP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub enum McpServerState {
    /// Not running: never started (servers start on first use) or stopped
    /// when idle.
    Stopped,
    /// Running; its tools are listed.
    Running,
    /// It failed to start or crashed (see `error`); it is started again on
    /// a later use, after a backoff.
    Failed,
}

/// One MCP server, as `codelab/listMcpServers` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct McpServerInfo {
    /// Its name: its tools are `mcp__<name>__<tool>`.
    pub name: String,
    /// Where it is configured: `user` (`codelab.toml`), `workspace` (a
    /// trusted workspace's `.codelab/config.toml`, named by `workspace`) or
    /// `session` (given to one session by its client, ACP's `mcpServers`;
    /// named by `sessionId`).
    pub source: String,
    /// The session it was given to, for `source: "session"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub session_id: Option<SessionId>,
    /// The workspace folder (a `file://` URI) whose configuration adds it,
    /// for `source: "workspace"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub workspace: Option<String>,
    /// `stdio` or `http`.
    pub transport: String,
    /// Its state.
    pub state: McpServerState,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<String>,
    /// Its tools, as the model sees their names, as last listed.
    pub tools: Vec<String>,
    /// When `failed`: milliseconds until the next use starts it again (it
    /// backs off from 1 s, doubling after each failure, up to a minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub retry_in_ms: Option<u64>,
}

/// `codelab/listMcpServers` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListMcpServersParams {
    /// Only the servers this session may use (its own, its workspace's, the
    /// user's). Without it: every server known (the user's, the trusted
    /// workspaces' that sessions have used, each session's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub session_id: Option<SessionId>,
}

/// `codelab/listMcpServers` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ListMcpServersResult {
    /// Every configured server, by name.
    pub servers: Vec<McpServerInfo>,
}

/// `codelab/getCurrentAgent` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct CurrentAgentResult {
    /// The session's id.
    pub session_id: SessionId,
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
    pub session_id: Option<SessionId>,
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

/// What a client offers under `capabilities.experimental.codelab` of
/// `initialize`. Anything absent is not offered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ClientCodelabCapabilities {
    /// The client answers `codelab/saveDocuments`: after an agent's edit to
    /// a document it has open (and had saved), the server asks it to save
    /// the document, so the file on disk holds the edit before the next tool
    /// call runs. Without it, the server writes the same text on disk itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub save_documents: Option<bool>,
    /// The client shows the context window's fill and the session's cost:
    /// the server sends it `codelab/contextUsage` after each model response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub context_usage: Option<bool>,
    /// The client shows a turn's combined diff: the server sends it
    /// `codelab/turnDiff` at the end of each turn that edited files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub turn_diff: Option<bool>,
}

/// `codelab/saveDocuments` parameters (server → client).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct SaveDocumentsParams {
    /// The documents to save, as the URIs of `didOpen`.
    pub uris: Vec<String>,
}

/// `codelab/saveDocuments` result: what the client saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct SaveDocumentsResult {
    /// The URIs saved: their buffers are on disk now.
    pub saved: Vec<String>,
    /// The URIs not saved, each with the reason. A URI in neither list
    /// counts as not saved. Omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(optional, as = "Option<Vec<SaveFailure>>")]
    pub failed: Vec<SaveFailure>,
}

/// A document the client did not save, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct SaveFailure {
    /// The document's URI.
    pub uri: String,
    /// Why it was not saved, for the model and the user.
    pub reason: String,
}

/// What the client says about the user's editor state with a message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageContext {
    /// Files open in the editor (URIs or workspace-relative paths).
    #[serde(default)]
    pub open_files: Vec<String>,
    /// The active file, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub active_file: Option<String>,
    /// The selected text, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub selection: Option<String>,
    /// Diagnostics the user sees, as text (`file:line: message`).
    #[serde(default)]
    pub diagnostics: Vec<String>,
}

/// `codelab/sendMessage` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendMessageParams {
    /// The session.
    pub session_id: SessionId,
    /// The user's message.
    pub text: String,
    /// Switch the session to this agent first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub agent: Option<String>,
    /// The editor's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub context: Option<MessageContext>,
}

/// `codelab/sendMessage` result: the turn runs on; follow its notifications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageResult {
    /// The new turn's id.
    pub turn_id: TurnId,
}

/// `codelab/cancelTurn` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct CancelTurnResult {
    /// The turn that was cancelled, or none if no turn was running.
    pub turn_id: Option<TurnId>,
}

/// `codelab/attachSession` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttachSessionParams {
    /// The session.
    pub session_id: SessionId,
    /// Replay persisted messages after this seq (default 0: everything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub after_seq: Option<u64>,
}

/// `codelab/attachSession` result: what the client missed, then live events follow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct AttachSessionResult {
    /// The session.
    pub session: Session,
    /// Persisted messages after `afterSeq`, in seq order.
    pub messages: Vec<Message>,
    /// The running turn, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub running_turn_id: Option<TurnId>,
    /// Questions waiting for an answer.
    pub pending_questions: Vec<QuestionParams>,
    /// Approvals waiting for a decision.
    pub pending_approvals: Vec<Approval>,
}

/// `codelab/switchAgent` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SwitchAgentParams {
    /// The session.
    pub session_id: SessionId,
    /// The agent's slug.
    pub agent: String,
}

/// `codelab/answerQuestion` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnswerQuestionParams {
    /// The session.
    pub session_id: SessionId,
    /// The question's id, from `codelab/question`.
    pub question_id: QuestionId,
    /// The answer.
    pub answer: String,
}

/// An empty acknowledgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct Ack {
    /// Always true.
    pub ok: bool,
}

/// `codelab/listAgents` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListAgentsParams {
    /// Include the agents this workspace folder defines in `.codelab/agents.toml`
    /// (default: the connection's first workspace folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub workspace_folder: Option<String>,
}

/// `codelab/token` notification: streamed text of the turn's current reply,
/// sent at once after a pause and coalesced when faster (at most one
/// notification per 4 ms, or per 16 KiB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct TokenParams {
    /// The session.
    pub session_id: SessionId,
    /// The turn.
    pub turn_id: TurnId,
    /// The session's seq.
    pub seq: u64,
    /// Text to append.
    pub delta: String,
}

/// `codelab/reasoning` notification: streamed reasoning of the turn's current
/// reply, kept apart from its text and coalesced the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningParams {
    /// The session.
    pub session_id: SessionId,
    /// The turn.
    pub turn_id: TurnId,
    /// The session's seq.
    pub seq: u64,
    /// Reasoning text to append.
    pub delta: String,
}

/// `codelab/toolCall` notification: a tool call and each change of its status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ToolCallParams {
    /// The session.
    pub session_id: SessionId,
    /// The turn.
    pub turn_id: TurnId,
    /// The session's seq.
    pub seq: u64,
    /// The call's id.
    pub tool_call_id: String,
    /// The tool's name.
    pub name: String,
    /// `read`, `edit`, `execute` or `interaction`.
    pub kind: String,
    /// The arguments.
    #[ts(type = "unknown")]
    pub params: serde_json::Value,
    /// The status.
    pub status: ToolCallStatus,
    /// The result text, once completed or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub result: Option<String>,
}

/// `codelab/turnCompleted` notification: exactly one per turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct TurnCompletedParams {
    /// The session.
    pub session_id: SessionId,
    /// The turn.
    pub turn_id: TurnId,
    /// The session's seq.
    pub seq: u64,
    /// Why it ended.
    pub stop_reason: StopReason,
    /// Tokens used by the turn's requests.
    pub usage: TokenUsage,
    /// Their cost in US dollars.
    pub cost_usd: f64,
    /// The final result (attempt_completion's, or the last reply's text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub result: Option<String>,
    /// The error, for `stopReason: "error"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<String>,
}

/// `codelab/contextUsage` notification: after each model response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ContextUsageParams {
    /// The session.
    pub session_id: SessionId,
    /// The turn.
    pub turn_id: TurnId,
    /// The session's seq.
    pub seq: u64,
    /// Tokens of the last request: the provider's count when it reported
    /// one, else the server's estimate.
    pub used_tokens: u64,
    /// The model's context window.
    pub context_window: u64,
    /// The last request's tokens (input, output, cache reads and writes).
    pub usage: TokenUsage,
    /// The turn's cost so far, in US dollars.
    pub turn_cost_usd: f64,
    /// The session's cost, in US dollars (of the requests this server made).
    pub session_cost_usd: f64,
}

/// `codelab/contextCompacted` notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ContextCompactedParams {
    /// The session.
    pub session_id: SessionId,
    /// The turn, when one was running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub turn_id: Option<TurnId>,
    /// The session's seq.
    pub seq: u64,
    /// What is now elided or summarised, with the estimated tokens of the
    /// request before and after.
    pub compaction: Compaction,
    /// Tool results newly elided.
    pub elided: u64,
    /// Whether the older turns were summarised by the model.
    pub summarized: bool,
}

/// One turn's checkpoint: the files its agent edits changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct TurnCheckpoint {
    /// The turn.
    pub turn_id: TurnId,
    /// Each file with its diff stat (before the turn's first edit, after
    /// its last).
    pub files: Vec<FileStat>,
}

/// `codelab/listCheckpoints` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ListCheckpointsResult {
    /// The turns that changed files, oldest first.
    pub turns: Vec<TurnCheckpoint>,
}

/// `codelab/restoreCheckpoint` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct RestoreCheckpointParams {
    /// The session.
    pub session_id: SessionId,
    /// The turn: files are put back as they were before it.
    pub turn_id: TurnId,
    /// Also restore files changed since the agent's last edit (conflicts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub overwrite: Option<bool>,
    /// Also truncate the conversation to before the turn: its messages and
    /// every later one are hidden from the model by a marker (they stay in
    /// the history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub truncate_conversation: Option<bool>,
}

/// `codelab/restoreCheckpoint` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct RestoreCheckpointResult {
    /// Files put back (written, or removed when the agent had created them).
    pub restored: Vec<String>,
    /// Files left alone: their content is not what the agent left (the user
    /// changed them since). Restore again with `overwrite: true` to put them
    /// back anyway.
    pub conflicts: Vec<String>,
    /// With `truncateConversation`: the first hidden message's seq.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub truncated_from_seq: Option<u64>,
}

/// `codelab/turnDiff` notification: at the end of a turn that edited files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct TurnDiffParams {
    /// The session.
    pub session_id: SessionId,
    /// The turn.
    pub turn_id: TurnId,
    /// The session's seq.
    pub seq: u64,
    /// Each file with its diff stat.
    pub files: Vec<FileStat>,
    /// The unified diff of every file the turn changed.
    pub diff: String,
}

/// `codelab/compactSession` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct CompactSessionResult {
    /// What is now elided or summarised; `null` when there was nothing to
    /// compact (the history is the latest turn only).
    pub compaction: Option<Compaction>,
}

/// `codelab/agentSwitched` notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentSwitchedParams {
    /// The session.
    pub session_id: SessionId,
    /// The session's seq.
    pub seq: u64,
    /// The previous agent.
    pub from: String,
    /// The new agent.
    pub to: String,
    /// Why.
    pub reason: String,
}

/// `codelab/modelChosen` notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ModelChosenParams {
    /// The session.
    pub session_id: SessionId,
    /// The session's seq.
    pub seq: u64,
    /// The model its turns use from now on; null: the configured one.
    pub model: Option<ChosenModel>,
}

/// `codelab/question` notification: the agent asks the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct QuestionParams {
    /// The session.
    pub session_id: SessionId,
    /// The turn.
    pub turn_id: TurnId,
    /// The session's seq.
    pub seq: u64,
    /// Answer with this id.
    pub question_id: QuestionId,
    /// The question.
    pub question: String,
    /// Suggested answers.
    pub suggestions: Vec<String>,
}

/// `codelab/commandOutput` notification: a chunk of a running command's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct CommandOutputParams {
    /// The session.
    pub session_id: SessionId,
    /// The turn.
    pub turn_id: TurnId,
    /// The session's seq.
    pub seq: u64,
    /// The execute_command call.
    pub tool_call_id: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// The text.
    pub text: String,
}

/// `codelab/message` notification: a message was added to the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct MessageAddedParams {
    /// The session.
    pub session_id: SessionId,
    /// The session's seq (the message's own).
    pub seq: u64,
    /// The message.
    pub message: Message,
}

/// A tool call waiting for the user's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// The approval's id.
    pub id: ApprovalId,
    /// The session.
    pub session_id: SessionId,
    /// The turn.
    pub turn_id: TurnId,
    /// The tool call.
    pub tool_call_id: String,
    /// The tool.
    pub tool: String,
    /// The arguments the model gave.
    #[ts(type = "unknown")]
    pub params: serde_json::Value,
    /// The rule that asked (`default: edits ask`, ...).
    pub rule: String,
    /// For edits: a unified diff of the change, when it can be computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub diff: Option<String>,
    /// For edits: each file the call would change, with its current and its
    /// proposed content, so an editor can show them side by side (and let
    /// the user edit the proposal before approving).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub files: Option<Vec<ApprovalFile>>,
    /// When it was asked.
    #[ts(type = "string")]
    pub created_at: DateTime<Utc>,
}

/// One file a pending edit would change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalFile {
    /// The path, relative to the session's workspace folder.
    pub path: String,
    /// What it holds now: the editor's buffer when open, else the disk (empty for a new file).
    pub current: String,
    /// What it would hold after the call.
    pub proposed: String,
}

/// `codelab/approvalRequired` notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequiredParams {
    /// The session.
    pub session_id: SessionId,
    /// The session's seq.
    pub seq: u64,
    /// The approval.
    pub approval: Approval,
}

/// `codelab/decideApproval` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecideApprovalParams {
    /// The approval.
    pub approval_id: ApprovalId,
    /// `approve`, `edit` or `reject`.
    pub decision: Decision,
    /// With `edit`: the new parameters (validated again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "unknown")]
    pub params: Option<serde_json::Value>,
    /// With `reject`: a note the model reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub feedback: Option<String>,
    /// With `approve`: `session` also allows this tool and argument pattern for the rest of the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub scope: Option<ApprovalScope>,
}

/// `codelab/approvalResolved` notification: sent to every attached client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalResolvedParams {
    /// The session.
    pub session_id: SessionId,
    /// The session's seq.
    pub seq: u64,
    /// The approval.
    pub approval_id: ApprovalId,
    /// The decision.
    pub decision: Decision,
    /// Who decided: `client:<n>`, `turn` (cancelled) or `timeout`.
    pub by: String,
}

/// `codelab/listPendingApprovals` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListPendingApprovalsParams {
    /// Only this session's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub session_id: Option<SessionId>,
}

/// `codelab/listPendingApprovals` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ListPendingApprovalsResult {
    /// Oldest first.
    pub approvals: Vec<Approval>,
}

/// `codelab/getPolicy` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetPolicyParams {
    /// Include this session's workspace rules and "allow always" decisions
    /// (default: the connection's first workspace folder, no session rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub session_id: Option<SessionId>,
}

/// One policy rule, with where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    /// Tool name, `*` wildcards allowed.
    pub tool: String,
    /// Path glob, for file tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub path: Option<String>,
    /// Command pattern, for `execute_command`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub command: Option<String>,
    /// The command must match exactly, not as a prefix.
    pub exact: bool,
    /// `allow`, `ask` or `deny`.
    pub action: String,
    /// For `ask`: seconds before the approval is rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub timeout_secs: Option<u64>,
    /// For commands: the sandbox mode they run in under this rule
    /// (`off`, `workspace-write` or `read-only`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub sandbox: Option<String>,
    /// For commands: the network stays on in the sandbox.
    #[serde(default)]
    pub network: bool,
    /// `builtin`, `user`, `workspace` or `session`.
    pub source: String,
}

/// How commands are sandboxed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct SandboxInfo {
    /// Whether commands can be sandboxed on this machine; when not, every
    /// command runs unsandboxed and asks.
    pub available: bool,
    /// Why not, when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reason: Option<String>,
    /// The mode commands run in unless a rule says otherwise (for the
    /// session's agent when a session is given).
    pub mode: String,
    /// Whether the network is on in the sandbox for every command.
    pub network: bool,
    /// Extra writable paths (beyond the workspace and the session's temp dir).
    pub writable: Vec<String>,
}

/// `codelab/getPolicy` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct GetPolicyResult {
    /// The effective rules, lowest scope first, in order within a scope.
    pub rules: Vec<PolicyRule>,
    /// Problems in policy files (`file:line: reason`); the last valid rules are in force.
    pub errors: Vec<String>,
    /// How commands are sandboxed.
    pub sandbox: SandboxInfo,
}

/// `codelab/listProcesses` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListProcessesParams {
    /// Only this session's (default: every session's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub session_id: Option<SessionId>,
}

/// A background command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProcessInfo {
    /// Its id within the session (`p1`), as the agent names it.
    pub id: String,
    /// The session that started it.
    pub session_id: SessionId,
    /// The command line.
    pub command: String,
    /// The process id of its launcher (its process group).
    pub pid: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Whether it runs in the sandbox.
    pub sandboxed: bool,
    /// Whether it is still running.
    pub running: bool,
    /// Its exit code once it ended (`128 + N` when signal N ended it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub exit_code: Option<i32>,
}

/// `codelab/listProcesses` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ListProcessesResult {
    /// In start order.
    pub processes: Vec<ProcessInfo>,
}

/// `codelab/listSessionMetrics` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListSessionMetricsParams {
    /// The `nextCursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub cursor: Option<String>,
    /// Page size, 1 to 200; default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// `codelab/listSessionMetrics` result: sessions with activity since start, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ListSessionMetricsResult {
    /// One page.
    pub sessions: Vec<SessionMetrics>,
    /// For the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub next_cursor: Option<String>,
}

/// `codelab/getAuditLog` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetAuditLogParams {
    /// Only this session's entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub session_id: Option<SessionId>,
    /// Only this category (`session`, `tool`, `approval`, `llm`, `agent`, `housekeeping`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub category: Option<String>,
    /// Only this type within the category.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[ts(optional, rename = "type")]
    pub kind: Option<String>,
    /// Entries at or after this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "string")]
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "string")]
    pub until: Option<DateTime<Utc>>,
    /// The `nextCursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub cursor: Option<String>,
    /// Page size, 1 to 500; default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Its id (time-ordered; stable across restarts).
    pub id: EventId,
    /// When it happened.
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    /// The session concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub session_id: Option<SessionId>,
    /// The category.
    pub category: String,
    /// The type within the category.
    #[serde(rename = "type")]
    #[ts(rename = "type")]
    pub kind: String,
    /// Details (secrets redacted).
    #[ts(type = "unknown")]
    pub payload: serde_json::Value,
}

/// `codelab/getAuditLog` result: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct GetAuditLogResult {
    /// One page.
    pub entries: Vec<AuditEntry>,
    /// For the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub next_cursor: Option<String>,
}

/// `codelab/subscribeEvents` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscribeEventsParams {
    /// Only these categories (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub categories: Option<Vec<String>>,
}

/// `codelab/subscribeEvents` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeEventsResult {
    /// Pass it to `codelab/unsubscribeEvents`.
    pub subscription_id: u64,
}

/// `codelab/unsubscribeEvents` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnsubscribeEventsParams {
    /// The subscription (default: all of this connection's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub subscription_id: Option<u64>,
}

/// `codelab/event` notification: one runtime event, for dashboards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct EventParams {
    /// The subscription it is for.
    pub subscription_id: u64,
    /// The event.
    pub event: AuditEntry,
    /// The turn it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub turn_id: Option<TurnId>,
}

/// `codelab/listFiles` and `codelab/readFile` parameters: a path in a
/// session's workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilePathParams {
    /// The session whose workspace folder holds the path.
    pub session_id: SessionId,
    /// A path relative to the workspace root (`/`-separated; `""` is the
    /// root), or an absolute path inside it.
    #[serde(default)]
    pub path: String,
}

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub enum FileKind {
    /// A regular file (or a symlink to one inside the workspace).
    File,
    /// A directory (or a symlink to one inside the workspace).
    Directory,
    /// A symlink leading outside the workspace or nowhere: listed, never followed.
    Symlink,
}

/// One entry of `codelab/listFiles`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    /// Its name.
    pub name: String,
    /// Its path relative to the workspace root.
    pub path: String,
    /// What it is.
    pub kind: FileKind,
    /// Its size in bytes (0 for directories).
    pub size: u64,
    /// Whether `.codelabignore` hides it from the agents (the user still sees it).
    pub ignored: bool,
    /// Whether an agent needs the user's approval to change it.
    pub protected: bool,
}

/// `codelab/listFiles` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ListFilesResult {
    /// The directory listed, relative to the root (`""` for the root).
    pub path: String,
    /// Its entries: directories first, then files, each by name.
    pub entries: Vec<FileEntry>,
}

/// `codelab/readFile` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReadFileResult {
    /// The path relative to the workspace root.
    pub path: String,
    /// The file's `file://` URI, as an editor names it in `textDocument/didOpen`.
    pub uri: String,
    /// Its text.
    pub text: String,
    /// Its version: the SHA-256 of its bytes. Pass it as `baseVersion` to
    /// change the file only if nobody changed it since.
    pub version: String,
}

/// `codelab/writeFile` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteFileParams {
    /// The session whose workspace holds the file.
    pub session_id: SessionId,
    /// The file's path.
    pub path: String,
    /// The new text.
    pub text: String,
    /// The version the text is based on; when the file is no longer at it
    /// (or gone), nothing is written and the answer is `fileConflict`.
    /// Absent: written whatever is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub base_version: Option<String>,
}

/// `codelab/createFile` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateFileParams {
    /// The session whose workspace gets the file.
    pub session_id: SessionId,
    /// The new file's or directory's path; missing parents are created.
    pub path: String,
    /// `directory` for an empty directory; default `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub kind: Option<FileKind>,
    /// The new file's text; default empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub text: Option<String>,
}

/// `codelab/renameFile` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenameFileParams {
    /// The session whose workspace holds both paths.
    pub session_id: SessionId,
    /// The file or directory to move.
    pub from: String,
    /// Where to; must not exist. Missing parents are created.
    pub to: String,
    /// For a file: the version the move is based on (see `writeFile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub base_version: Option<String>,
}

/// `codelab/deleteFile` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteFileParams {
    /// The session whose workspace holds the path.
    pub session_id: SessionId,
    /// The file or directory (deleted with everything in it).
    pub path: String,
    /// For a file: the version the deletion is based on (see `writeFile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub base_version: Option<String>,
}

/// The result of `codelab/writeFile`, `createFile`, `renameFile` and `deleteFile`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct FileChanged {
    /// The path now (the target of a rename), relative to the workspace root.
    pub path: String,
    /// The file's new version; absent for directories and deletions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub version: Option<String>,
}
