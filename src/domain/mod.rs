//! The domain model: what the runtime and the stores talk about.
//!
//! Layer 1 of the layering in `ARCHITECTURE.md`: plain data with newtype ids.
//! Nothing here knows JSON-RPC, a storage format or tokio. The front ends
//! translate these types to their wire types at their edge
//! (`protocol::convert` for the codelab protocol); the stores translate them
//! to their own versioned records (`store::records`).
//!
//! The small vocabulary enums ([`Role`], [`Decision`], [`ApprovalScope`],
//! [`StopReason`], [`ToolCallStatus`], [`ToolKind`]) are shared with the wire
//! as they are: they derive the wire's serde spelling and schemas, and the
//! wire snapshot tests guard that spelling. Stores do not persist them through
//! serde (see `store::records`).

pub mod events;
pub use events::FileStat;
mod ids;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use events::{Category, Event, EventKind, SessionEvent, SessionUpdate};
pub use ids::{ApprovalId, EventId, MessageId, QuestionId, SessionId, TurnId};

/// The agent a new session starts with.
pub const DEFAULT_AGENT: &str = "orchestrator";

/// The title of a session nobody named: its first message names it.
pub const UNTITLED: &str = "New session";

/// The longest title taken from a first message, in characters.
const TITLE_CHARS: usize = 60;

/// A session's title from its first message: the first line with text,
/// spaces collapsed, cut at a word to [`TITLE_CHARS`] characters; `None`
/// when the message has no text.
pub fn title_from(message: &str) -> Option<String> {
    let line = message.lines().find(|l| !l.trim().is_empty())?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut title = String::new();
    for word in &words {
        let len = title.chars().count() + usize::from(!title.is_empty()) + word.chars().count();
        if len > TITLE_CHARS {
            if title.is_empty() {
                title = word.chars().take(TITLE_CHARS).collect();
            }
            title.push('…');
            return Some(title);
        }
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(word);
    }
    Some(title)
}

/// The model chosen for a session's turns (the ACP `model` option).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice {
    /// The provider, as `codelab.toml` names it.
    pub provider: String,
    /// The model.
    pub model: String,
}

/// A chat session: one conversation with the agents, bound to a workspace folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Its id (time-ordered).
    pub id: SessionId,
    /// A human-readable title.
    pub title: String,
    /// The workspace folder (a `file://` URI) it works in, if any.
    pub workspace_folder: Option<String>,
    /// The slug of the agent handling it.
    pub agent: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// How many messages its history holds.
    pub message_count: u64,
    /// The highest seq of its persisted messages.
    pub last_seq: u64,
    /// For a subtask: the session that delegated it, and the `new_task` call it answers.
    pub parent: Option<ParentLink>,
    /// The model chosen for its turns, if one was.
    pub model: Option<ModelChoice>,
}

/// Where a subtask's result goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentLink {
    /// The delegating session.
    pub session_id: SessionId,
    /// Its `new_task` call.
    pub tool_call_id: String,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// The user.
    User,
    /// The model, speaking as the session's agent.
    Assistant,
    /// The result of a tool call.
    Tool,
}

impl Role {
    /// The role's name (`user`, `assistant`, `tool`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
        }
    }
}

/// A tool call made by the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// Its id, unique within the session (chosen by the model provider).
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments, a JSON object (what the model sent).
    pub arguments: serde_json::Value,
}

/// What the editor told about the user's state with a message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageContext {
    /// Files open in the editor.
    pub open_files: Vec<String>,
    /// The active file.
    pub active_file: Option<String>,
    /// The selected text.
    pub selection: Option<String>,
    /// Diagnostics the user sees, as text.
    pub diagnostics: Vec<String>,
}

/// One entry of a session's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Its stable id.
    pub id: MessageId,
    /// The session it belongs to.
    pub session_id: SessionId,
    /// Its position in the session (shared with the session's events).
    pub seq: u64,
    /// The turn that produced it.
    pub turn_id: Option<TurnId>,
    /// Who wrote it.
    pub role: Role,
    /// The text (for a tool message, the tool's result).
    pub text: String,
    /// Tool calls of an assistant message.
    pub tool_calls: Vec<ToolCall>,
    /// For a tool message: the call it answers.
    pub tool_call_id: Option<String>,
    /// For a tool message: whether the tool failed.
    pub is_error: bool,
    /// For a user message: the editor's state.
    pub context: Option<MessageContext>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// For a compaction marker: what the model no longer sees verbatim.
    /// Such a message is never sent as itself; its `text` is the summary of
    /// everything up to `summarized_through` (empty when none).
    pub compaction: Option<Compaction>,
    /// For an assistant message: the model's reasoning, as it streamed it,
    /// in order (sent back to the provider as its API requires).
    pub reasoning: Vec<Reasoning>,
}

/// One block of a model's reasoning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reasoning {
    /// The reasoning text (empty for a redacted block).
    pub text: String,
    /// Anthropic: the block's signature, which the API checks when the
    /// block is sent back during tool use.
    pub signature: Option<String>,
    /// Anthropic: the opaque data of a `redacted_thinking` block.
    pub redacted: Option<String>,
}

impl Reasoning {
    /// The text of every block, joined.
    pub fn text_of(blocks: &[Reasoning]) -> String {
        blocks.iter().map(|b| b.text.as_str()).collect()
    }
}

/// A compaction of a session's context, recorded as a marker message: the
/// history keeps everything, the marker says what requests replace.
///
/// Messages with `seq <= summarized_through` are replaced by the marker's
/// summary; tool results with `seq <= elided_through` are sent as a short
/// note (the call itself stays). The latest marker of a session is the one in
/// force; each carries the whole summary so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct Compaction {
    /// Messages up to this seq are summarised (0: none).
    pub summarized_through: u64,
    /// Tool results up to this seq are elided (0: none).
    pub elided_through: u64,
    /// The estimated tokens of the request before the compaction.
    pub tokens_before: u64,
    /// The estimated tokens of the request after it.
    pub tokens_after: u64,
    /// A restore truncated the conversation: messages from this seq up to
    /// the marker are hidden from the model (0: none). Each marker hides its
    /// own range; the messages stay in the history.
    #[serde(default)]
    pub rewound_from: u64,
}

impl Message {
    /// A new message of `role`, not yet placed in a session (the runtime
    /// sets `session_id` and `seq` when it persists it).
    pub fn new(role: Role, turn_id: Option<TurnId>, text: String) -> Self {
        Self {
            id: MessageId::new(),
            session_id: SessionId::default(),
            seq: 0,
            turn_id,
            role,
            text,
            tool_calls: Vec::new(),
            tool_call_id: None,
            is_error: false,
            context: None,
            created_at: Utc::now(),
            compaction: None,
            reasoning: Vec::new(),
        }
    }

    /// A tool's result for `call_id`.
    pub fn tool_result(turn_id: TurnId, call_id: &str, text: String, is_error: bool) -> Self {
        Self {
            tool_call_id: Some(call_id.to_owned()),
            is_error,
            ..Self::new(Role::Tool, Some(turn_id), text)
        }
    }
}

/// Content saved by a checkpoint, by its SHA-256 (hex) and length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentRef {
    /// SHA-256 of the bytes, lower-case hex.
    pub hash: String,
    /// Their length.
    pub len: u64,
}

/// What a turn's agent edits did to one file: its content before the turn's
/// first edit and after its last (`None`: the file did not exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheckpoint {
    /// The turn.
    pub turn_id: TurnId,
    /// The path, relative to the session's workspace folder.
    pub path: String,
    /// Before the turn's first edit of it.
    pub before: Option<ContentRef>,
    /// After the turn's last edit of it.
    pub after: Option<ContentRef>,
}

/// Whether a checkpoint was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointOutcome {
    /// Recorded (or updated).
    Recorded,
    /// Not recorded: the session's checkpoints would pass their limit.
    SessionLimit {
        /// Bytes the session's checkpoints hold.
        used: u64,
        /// The limit.
        limit: u64,
    },
}

/// One file an edit would change: what it holds now and what it would hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// The path, relative to the workspace folder.
    pub path: String,
    /// The current content (the editor's buffer when open, else the disk;
    /// empty for a new file).
    pub current: String,
    /// The proposed content.
    pub proposed: String,
}

/// What an edit call would change, shown while it waits for approval.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EditPreview {
    /// A unified diff of every file.
    pub diff: String,
    /// Each file, whole.
    pub files: Vec<FileChange>,
}

/// A tool call waiting for the user's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingApproval {
    /// Its id.
    pub id: ApprovalId,
    /// The session.
    pub session_id: SessionId,
    /// The turn that asked.
    pub turn_id: TurnId,
    /// The tool call.
    pub tool_call_id: String,
    /// The tool.
    pub tool: String,
    /// The arguments the model gave.
    pub params: serde_json::Value,
    /// The rule that asked.
    pub rule: String,
    /// For edits: what would change.
    pub preview: Option<EditPreview>,
    /// When it was asked.
    pub created_at: DateTime<Utc>,
}

/// A question the agent asked the user, waiting for an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingQuestion {
    /// Its id.
    pub id: QuestionId,
    /// The session.
    pub session_id: SessionId,
    /// The turn that asked.
    pub turn_id: TurnId,
    /// The seq it was announced with.
    pub seq: u64,
    /// The question.
    pub question: String,
    /// Suggested answers.
    pub suggestions: Vec<String>,
}

/// A decision on an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    /// Run the call as it is.
    Approve,
    /// Run it with the given parameters instead.
    Edit,
    /// Do not run it.
    Reject,
    /// The turn was cancelled (only in `approvalResolved`).
    Cancelled,
    /// The approval timed out (only in `approvalResolved`).
    TimedOut,
}

impl Decision {
    /// The decision's name on the wire (`approve`, ..., `timedOut`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Edit => "edit",
            Self::Reject => "reject",
            Self::Cancelled => "cancelled",
            Self::TimedOut => "timedOut",
        }
    }
}

/// How far an approval reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalScope {
    /// This call only.
    Once,
    /// This call and the same tool and argument pattern for the rest of the
    /// session; with a rejection, every later call of the tool in the session
    /// is denied.
    Session,
}

/// Why a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The agent finished (attempt_completion, or a reply without tool calls).
    EndTurn,
    /// The client cancelled.
    Cancelled,
    /// The iteration limit was reached.
    MaxIterations,
    /// The model's reply reached its output token limit.
    MaxTokens,
    /// The model refused to answer (or its provider filtered the reply).
    Refusal,
    /// An error ended it; `error` says which.
    Error,
}

impl StopReason {
    /// The reason's name (`end_turn`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EndTurn => "end_turn",
            Self::Cancelled => "cancelled",
            Self::MaxIterations => "max_iterations",
            Self::MaxTokens => "max_tokens",
            Self::Refusal => "refusal",
            Self::Error => "error",
        }
    }
}

/// A tool call's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum ToolCallStatus {
    /// Announced; waiting for checks or approval.
    Pending,
    /// Running.
    InProgress,
    /// Done.
    Completed,
    /// Failed, refused or rejected; `result` says why.
    Failed,
}

/// What a tool does, for the gate and for clients' icons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub enum ToolKind {
    /// Reads files.
    Read,
    /// Changes files.
    Edit,
    /// Runs commands.
    Execute,
    /// Talks to the user or steers the session.
    Interaction,
}

impl ToolKind {
    /// The kind's name (`read`, `edit`, `execute`, `interaction`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Edit => "edit",
            Self::Execute => "execute",
            Self::Interaction => "interaction",
        }
    }
}

/// Token counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsage {
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to cache.
    pub cache_write_tokens: u64,
}

impl TokenUsage {
    /// Adds another request's usage.
    pub fn add(&mut self, other: &TokenUsage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
    }
}

/// Why the model stopped a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub enum FinishReason {
    /// It finished its reply.
    EndTurn,
    /// It wants tool results.
    ToolUse,
    /// It hit the output token limit.
    MaxTokens,
    /// It refused or was filtered.
    Refusal,
    /// Something else, as the provider named it.
    Other(String),
}

/// A durable audit entry: an event as the audit log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Time-ordered id; also the key.
    pub id: EventId,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The session concerned.
    pub session_id: Option<SessionId>,
    /// The event's category (`session`, `tool`, `approval`, ...).
    pub category: String,
    /// The event's type within its category.
    pub kind: String,
    /// Details, as the event serializes them.
    pub payload: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::title_from;

    #[test]
    fn a_title_is_the_first_line_with_text_cut_at_a_word() {
        assert_eq!(
            title_from("\n  Fix   the parser\nand more").as_deref(),
            Some("Fix the parser")
        );
        let long = "word ".repeat(30);
        let t = title_from(&long).expect("a title");
        assert!(t.ends_with("word…"), "{t}");
        assert!(t.chars().count() <= 61, "{t}");
        let one = "x".repeat(100);
        assert_eq!(title_from(&one), Some(format!("{}…", "x".repeat(60))));
        assert_eq!(title_from(" \n \t"), None);
    }
}
