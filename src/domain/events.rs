//! Typed events: what the runtime tells the world.
//!
//! Two families:
//! - [`Event`]: facts for observers (metrics, the audit log, dashboards),
//!   published on the event bus. One [`EventKind`] variant per event type,
//!   each with a typed payload; metrics and audit match variants, and the
//!   front ends serialize them at their edge (`codelab/event`,
//!   `codelab/getAuditLog`). Each payload type derives a JSON Schema, which
//!   is part of the generated protocol contract.
//! - [`SessionEvent`]: what happened in one session, in `seq` order, for the
//!   clients attached to it. Each front end translates a [`SessionUpdate`]
//!   into its own notifications (the codelab LSP front end to `codelab/*`).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use super::{
    ApprovalId, ApprovalScope, Compaction, Decision, EventId, FinishReason, Message, ModelChoice,
    PendingApproval, PendingQuestion, Role, SessionId, StopReason, TokenUsage, ToolCall,
    ToolCallStatus, ToolKind, TurnId,
};

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub enum Category {
    /// Agents: switched, processing started and completed, errors.
    Agent,
    /// Sessions: created, message added, deleted.
    Session,
    /// Tools: execution requested, approval required, completed, failed.
    Tool,
    /// Approvals: decisions.
    Approval,
    /// LLM requests: started, completed, failed.
    Llm,
    /// Housekeeping: expired data removed (audit log only).
    Housekeeping,
}

impl Category {
    /// The categories a client may subscribe to.
    pub const LIVE: [Self; 5] = [
        Self::Agent,
        Self::Session,
        Self::Tool,
        Self::Approval,
        Self::Llm,
    ];

    /// The category's name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Session => "session",
            Self::Tool => "tool",
            Self::Approval => "approval",
            Self::Llm => "llm",
            Self::Housekeeping => "housekeeping",
        }
    }
}

/// `session.created`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionCreated {
    /// The starting agent.
    pub agent: String,
    /// The title.
    pub title: String,
    /// The workspace folder URI.
    pub workspace_folder: Option<String>,
}

/// `session.deleted`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionDeleted {
    /// `client` (codelab/deleteSession) or `ttl` (housekeeping).
    pub reason: String,
    /// How many messages went with it (for `client`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub messages: Option<u64>,
}

/// `session.messageAdded`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct MessageAdded {
    /// Who wrote it.
    pub role: Role,
    /// Its seq.
    pub seq: u64,
}

/// `agent.switched`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentSwitched {
    /// The previous agent.
    pub from: String,
    /// The new agent.
    pub to: String,
    /// Why.
    pub reason: String,
}

/// `session.compacted`: a session's context was compacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ContextCompacted {
    /// Estimated tokens of the request before.
    pub tokens_before: u64,
    /// Estimated tokens of the request after.
    pub tokens_after: u64,
    /// Tool results newly elided.
    pub elided: u64,
    /// Whether the older turns were summarised by the model.
    pub summarized: bool,
    /// Why: `threshold`, `overflow` (the provider refused the request) or
    /// `request` (`codelab/compactSession`).
    pub reason: String,
}

/// `agent.processingStarted`: a turn started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProcessingStarted {
    /// The agent handling the session.
    pub agent: String,
}

/// `agent.processingCompleted` and `agent.error`: a turn ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct TurnEnded {
    /// Why it ended.
    pub stop_reason: StopReason,
    /// The error, for `stopReason: "error"` (else null).
    pub error: Option<String>,
    /// How long it ran.
    pub duration_ms: u64,
    /// Tokens of its model requests.
    pub usage: TokenUsage,
    /// Their cost in US dollars.
    pub cost_usd: f64,
    /// The agent at its end.
    pub agent: String,
}

/// `tool.executionRequested`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRequested {
    /// The tool.
    pub tool: String,
    /// The call.
    pub tool_call_id: String,
}

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub enum CallOutcomeKind {
    /// It ran and succeeded.
    Completed,
    /// It failed, was refused by a check or denied by policy.
    Failed,
    /// The user rejected it (or nobody approved in time).
    Rejected,
}

impl CallOutcomeKind {
    /// The outcome's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
        }
    }
}

/// `tool.completed` and `tool.failed`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ToolFinished {
    /// The tool.
    pub tool: String,
    /// The call.
    pub tool_call_id: String,
    /// How long it took, checks and approval included.
    pub duration_ms: u64,
    /// How it ended.
    pub outcome: CallOutcomeKind,
}

/// `tool.approvalRequired`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequested {
    /// The tool.
    pub tool: String,
    /// The call.
    pub tool_call_id: String,
    /// The approval.
    #[ts(type = "string")]
    pub approval_id: ApprovalId,
    /// The rule that asked.
    pub rule: String,
}

/// `approval.decisionMade`. On the bus it carries the decision; the audit
/// entry (written in the same commit as the resolution) adds the parameters,
/// the edit, the feedback, the scope and the rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct DecisionMade {
    /// The approval.
    #[ts(type = "string")]
    pub approval_id: ApprovalId,
    /// The tool.
    pub tool: String,
    /// The decision.
    pub decision: Decision,
    /// Who decided: `client:<n>`, `turn` (cancelled) or `timeout`.
    pub by: String,
    /// Audit log only: the parameters the model gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "unknown")]
    pub params: Option<Value>,
    /// Audit log only, with `edit`: the parameters that ran instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "unknown")]
    pub edited_params: Option<Value>,
    /// Audit log only, with `reject`: the user's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub feedback: Option<String>,
    /// Audit log only, with `approve`: how far it reaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub scope: Option<ApprovalScope>,
    /// Audit log only: the rule that asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub rule: Option<String>,
}

/// `llm.requestStarted`: one attempt of a model request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct RequestStarted {
    /// The provider's name.
    pub provider: String,
    /// The model.
    pub model: String,
    /// 1 for the first attempt, then one more per retry.
    pub attempt: u32,
}

/// `llm.requestCompleted`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct RequestCompleted {
    /// The provider's name.
    pub provider: String,
    /// The model.
    pub model: String,
    /// The attempt.
    pub attempt: u32,
    /// Tokens.
    pub usage: TokenUsage,
    /// Cost in US dollars.
    pub cost_usd: f64,
    /// How long the attempt took.
    pub duration_ms: u64,
    /// Time to the first output (null when there was none).
    pub time_to_first_token_ms: Option<u64>,
    /// Why the model stopped (null when it did not say).
    pub finish_reason: Option<FinishReason>,
}

/// `llm.requestFailed`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct RequestFailed {
    /// The provider's name.
    pub provider: String,
    /// The model.
    pub model: String,
    /// The attempt.
    pub attempt: u32,
    /// The classified reason (`rateLimited`, `timeout`, `cancelled`, ...).
    pub reason: String,
    /// The error, secrets redacted.
    pub error: String,
    /// Whether another attempt follows.
    pub retrying: bool,
    /// Whether output had already reached the consumer (then no retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub partial_output: Option<bool>,
    /// How long the attempt took (absent when it never started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub duration_ms: Option<u64>,
}

/// `housekeeping.cleanup` (audit log only)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct Cleanup {
    /// The sessions deleted for being idle.
    #[ts(type = "Array<string>")]
    pub sessions_deleted: Vec<SessionId>,
    /// How many audit entries were past their retention.
    pub audit_entries_deleted: usize,
    /// The session TTL in force.
    pub session_ttl_days: f64,
    /// The audit retention in force.
    pub audit_retention_days: f64,
}

macro_rules! event_kinds {
    ($( $variant:ident($payload:ty) = $cat:ident, $name:literal, $summary:literal; )*) => {
        /// Every event type, with its payload.
        #[derive(Debug, Clone, PartialEq)]
        pub enum EventKind {
            $( #[doc = $summary] $variant($payload), )*
        }

        impl EventKind {
            /// Its category.
            pub const fn category(&self) -> Category {
                match self { $( Self::$variant(_) => Category::$cat, )* }
            }

            /// Its type within the category (`requestStarted`, ...).
            pub const fn name(&self) -> &'static str {
                match self { $( Self::$variant(_) => $name, )* }
            }

            /// Its payload as JSON, as the front ends and the audit log show it.
            pub fn payload(&self) -> Value {
                let v = match self { $( Self::$variant(p) => serde_json::to_value(p), )* };
                v.unwrap_or(Value::Null)
            }

            /// Rebuilds the payload from JSON (after redaction).
            ///
            /// # Errors
            /// The JSON does not fit the variant's payload type.
            pub fn with_payload(&self, payload: Value) -> Result<Self, serde_json::Error> {
                Ok(match self { $( Self::$variant(_) => Self::$variant(serde_json::from_value(payload)?), )* })
            }

            /// Every event type: category, type name, payload schema and a
            /// summary, for the generated contract.
            pub fn catalogue() -> Vec<EventDoc> {
                vec![ $( EventDoc {
                    category: Category::$cat,
                    name: $name,
                    summary: $summary,
                    payload: |g| g.subschema_for::<$payload>(),
                    payload_name: || <$payload as TS>::name(&ts_rs::Config::new()),
                }, )* ]
            }
        }
    };
}

/// One event type, for the generated contract.
#[derive(Clone, Copy)]
pub struct EventDoc {
    /// Its category.
    pub category: Category,
    /// Its type name.
    pub name: &'static str,
    /// What it means.
    pub summary: &'static str,
    /// Its payload's schema.
    pub payload: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
    /// Its payload type's name.
    pub payload_name: fn() -> String,
}

impl std::fmt::Debug for EventDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.category.as_str(), self.name)
    }
}

event_kinds! {
    SessionCreated(SessionCreated) = Session, "created", "A session was created.";
    SessionDeleted(SessionDeleted) = Session, "deleted", "A session was deleted, by a client or for being idle.";
    MessageAdded(MessageAdded) = Session, "messageAdded", "A message was added to a session's history.";
    ContextCompacted(ContextCompacted) = Session, "compacted", "A session's context was compacted (old tool outputs elided, older turns summarised).";
    AgentSwitched(AgentSwitched) = Agent, "switched", "A session's agent changed.";
    ProcessingStarted(ProcessingStarted) = Agent, "processingStarted", "A turn started.";
    ProcessingCompleted(TurnEnded) = Agent, "processingCompleted", "A turn ended without an error.";
    TurnFailed(TurnEnded) = Agent, "error", "A turn ended with an error.";
    ExecutionRequested(ExecutionRequested) = Tool, "executionRequested", "The model asked for a tool call.";
    ToolCompleted(ToolFinished) = Tool, "completed", "A tool call succeeded.";
    ToolFailed(ToolFinished) = Tool, "failed", "A tool call failed, was refused or rejected.";
    ApprovalRequired(ApprovalRequested) = Tool, "approvalRequired", "A tool call waits for the user's approval.";
    DecisionMade(DecisionMade) = Approval, "decisionMade", "An approval was decided (by a client, a cancel or a timeout).";
    RequestStarted(RequestStarted) = Llm, "requestStarted", "A model request attempt started.";
    RequestCompleted(RequestCompleted) = Llm, "requestCompleted", "A model request attempt completed.";
    RequestFailed(RequestFailed) = Llm, "requestFailed", "A model request attempt failed.";
    Cleanup(Cleanup) = Housekeeping, "cleanup", "Housekeeping removed expired data.";
}

/// One event, stamped.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub at: DateTime<Utc>,
    pub session_id: Option<SessionId>,
    pub turn_id: Option<TurnId>,
    pub kind: EventKind,
}

impl Event {
    pub fn new(kind: EventKind) -> Self {
        Self {
            id: EventId::new(),
            at: Utc::now(),
            session_id: None,
            turn_id: None,
            kind,
        }
    }

    #[must_use]
    pub fn in_turn(mut self, session_id: Option<SessionId>, turn_id: Option<TurnId>) -> Self {
        self.session_id = session_id;
        self.turn_id = turn_id;
        self
    }

    pub const fn category(&self) -> Category {
        self.kind.category()
    }
}

/// Something that happened in a session, for the clients attached to it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEvent {
    pub session_id: SessionId,
    pub seq: u64,
    pub update: SessionUpdate,
}

/// What happened in a session.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionUpdate {
    Token {
        /// The turn.
        turn_id: TurnId,
        /// Text to append.
        delta: String,
    },
    /// Streamed reasoning of the turn's current reply, apart from its text.
    Reasoning {
        /// The turn.
        turn_id: TurnId,
        /// Reasoning text to append.
        delta: String,
    },
    ToolCall {
        /// The turn.
        turn_id: TurnId,
        /// The call (with the arguments it runs with).
        call: ToolCall,
        /// What the tool does.
        kind: ToolKind,
        /// Its status.
        status: ToolCallStatus,
        /// The result, once completed or failed.
        result: Option<String>,
    },
    TurnCompleted {
        /// The turn.
        turn_id: TurnId,
        /// Why.
        stop_reason: StopReason,
        /// Tokens used.
        usage: TokenUsage,
        /// Their cost.
        cost_usd: f64,
        /// The final result.
        result: Option<String>,
        /// The error, for `StopReason::Error`.
        error: Option<String>,
    },
    AgentSwitched {
        /// The previous agent.
        from: String,
        /// The new agent.
        to: String,
        /// Why.
        reason: String,
    },
    Question(PendingQuestion),
    /// The model of the session's turns was chosen (`None`: the configured
    /// one again).
    ModelChosen {
        /// The model chosen.
        model: Option<ModelChoice>,
    },
    CommandOutput {
        /// The turn.
        turn_id: TurnId,
        /// The execute_command call.
        tool_call_id: String,
        /// `stdout` or `stderr`.
        stream: String,
        /// The text.
        text: String,
    },
    MessageAdded(Box<Message>),
    /// After each model response: how full the context is, and the cost.
    ContextUsage(ContextUsage),
    /// The context was compacted (elided tool outputs, a summary).
    Compacted {
        /// The turn, if one was running.
        turn_id: Option<TurnId>,
        /// What was compacted.
        compaction: Compaction,
        /// Tool results newly elided.
        elided: u64,
        /// Whether a summary was made.
        summarized: bool,
    },
    ApprovalRequired(Box<PendingApproval>),
    /// At the end of a turn that edited files: the combined diff.
    TurnDiff {
        /// The turn.
        turn_id: TurnId,
        /// Each file with its diff stat.
        files: Vec<FileStat>,
        /// The unified diff of every file, from before the turn's first edit
        /// to after its last.
        diff: String,
    },
    ApprovalResolved {
        /// The approval.
        approval_id: ApprovalId,
        /// The decision.
        decision: Decision,
        /// Who decided.
        by: String,
    },
}

/// What a turn's edits did to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct FileStat {
    /// The path, relative to the workspace folder.
    pub path: String,
    /// `created`, `modified` or `deleted`.
    pub status: String,
    /// Lines added.
    pub added: u64,
    /// Lines removed.
    pub removed: u64,
}

/// How full a session's context is, after a model response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContextUsage {
    /// The turn.
    pub turn_id: TurnId,
    /// Tokens of the last request (the provider's count when it reported
    /// one, else the runtime's estimate).
    pub used_tokens: u64,
    /// The model's context window.
    pub context_window: u64,
    /// The last request's tokens (with cache reads and writes).
    pub usage: TokenUsage,
    /// The cost of the turn so far.
    pub turn_cost_usd: f64,
    /// The cost of the session so far (since the server started, plus the
    /// turns it ran).
    pub session_cost_usd: f64,
}

impl SessionUpdate {
    pub fn weight(&self) -> usize {
        256 + match self {
            Self::Token { delta, .. } | Self::Reasoning { delta, .. } => delta.len(),
            Self::CommandOutput { text, .. } => text.len(),
            Self::MessageAdded(m) => m.text.len(),
            Self::TurnDiff { diff, .. } => diff.len(),
            Self::ToolCall { result, .. } => result.as_ref().map_or(0, String::len),
            _ => 0,
        }
    }
}
