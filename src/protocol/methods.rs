//! The method table: every method and notification of the protocol, with its
//! parameter and result types, errors and an example.
//!
//! The server dispatches `codelab/*` requests by these names, and the
//! generated reference is rendered from this table, so the two cannot differ.

use chrono::{DateTime, TimeZone, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::{Value, json};
use ts_rs::TS;
use uuid::Uuid;

use super::errors::ErrorCode;
use super::types::*;

/// Whether a message expects a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request: the receiver answers with a result or an error.
    Request,
    /// A notification: no answer.
    Notification,
}

/// Who sends the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent by the editor or backend to the server.
    ClientToServer,
    /// Sent by the server to the client.
    ServerToClient,
}

/// A Rust wire type, seen by the generators.
#[derive(Clone, Copy)]
pub struct TypeRef {
    /// The type's name in the schema and in TypeScript.
    pub name: fn() -> String,
    /// Adds the type to a schema generator and returns a reference to it.
    pub schema: fn(&mut SchemaGenerator) -> Schema,
}

impl std::fmt::Debug for TypeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&(self.name)())
    }
}

/// A [`TypeRef`] for `T`.
pub fn type_ref<T: JsonSchema + TS>() -> TypeRef {
    TypeRef {
        name: || T::name(&ts_rs::Config::new()),
        schema: |generator| generator.subschema_for::<T>(),
    }
}

/// One method or notification.
#[derive(Debug, Clone)]
pub struct MethodDoc {
    /// The method name on the wire.
    pub name: &'static str,
    /// Request or notification.
    pub kind: Kind,
    /// Who sends it.
    pub direction: Direction,
    /// What it does, in Markdown.
    pub summary: &'static str,
    /// The parameter type; `None` when it takes none.
    pub params: Option<TypeRef>,
    /// The result type, for requests.
    pub result: Option<TypeRef>,
    /// The application errors it may return (beyond the generic JSON-RPC ones).
    pub errors: &'static [ErrorCode],
    /// Example parameters.
    pub example_params: Value,
    /// Example result, for requests.
    pub example_result: Option<Value>,
}

/// Method names, as constants for the dispatcher.
pub mod names {
    /// `codelab/createSession`
    pub const CREATE_SESSION: &str = "codelab/createSession";
    /// `codelab/listSessions`
    pub const LIST_SESSIONS: &str = "codelab/listSessions";
    /// `codelab/getSession`
    pub const GET_SESSION: &str = "codelab/getSession";
    /// `codelab/deleteSession`
    pub const DELETE_SESSION: &str = "codelab/deleteSession";
    /// `codelab/getHistory`
    pub const GET_HISTORY: &str = "codelab/getHistory";
    /// `codelab/listAgents`
    pub const LIST_AGENTS: &str = "codelab/listAgents";
    /// `codelab/getCurrentAgent`
    pub const GET_CURRENT_AGENT: &str = "codelab/getCurrentAgent";
    /// `codelab/getDocument`
    pub const GET_DOCUMENT: &str = "codelab/getDocument";
    /// `codelab/sendMessage`
    pub const SEND_MESSAGE: &str = "codelab/sendMessage";
    /// `codelab/cancelTurn`
    pub const CANCEL_TURN: &str = "codelab/cancelTurn";
    /// `codelab/attachSession`
    pub const ATTACH_SESSION: &str = "codelab/attachSession";
    /// `codelab/detachSession`
    pub const DETACH_SESSION: &str = "codelab/detachSession";
    /// `codelab/switchAgent`
    pub const SWITCH_AGENT: &str = "codelab/switchAgent";
    /// `codelab/answerQuestion`
    pub const ANSWER_QUESTION: &str = "codelab/answerQuestion";
    /// `codelab/decideApproval`
    pub const DECIDE_APPROVAL: &str = "codelab/decideApproval";
    /// `codelab/listPendingApprovals`
    pub const LIST_PENDING_APPROVALS: &str = "codelab/listPendingApprovals";
    /// `codelab/getPolicy`
    pub const GET_POLICY: &str = "codelab/getPolicy";
    /// `codelab/getMetrics`
    pub const GET_METRICS: &str = "codelab/getMetrics";
    /// `codelab/getSessionMetrics`
    pub const GET_SESSION_METRICS: &str = "codelab/getSessionMetrics";
    /// `codelab/listSessionMetrics`
    pub const LIST_SESSION_METRICS: &str = "codelab/listSessionMetrics";
    /// `codelab/getAuditLog`
    pub const GET_AUDIT_LOG: &str = "codelab/getAuditLog";
    /// `codelab/subscribeEvents`
    pub const SUBSCRIBE_EVENTS: &str = "codelab/subscribeEvents";
    /// `codelab/unsubscribeEvents`
    pub const UNSUBSCRIBE_EVENTS: &str = "codelab/unsubscribeEvents";
    /// `codelab/event`
    pub const EVENT: &str = "codelab/event";
    /// `codelab/token`
    pub const TOKEN: &str = "codelab/token";
    /// `codelab/toolCall`
    pub const TOOL_CALL: &str = "codelab/toolCall";
    /// `codelab/turnCompleted`
    pub const TURN_COMPLETED: &str = "codelab/turnCompleted";
    /// `codelab/agentSwitched`
    pub const AGENT_SWITCHED: &str = "codelab/agentSwitched";
    /// `codelab/question`
    pub const QUESTION: &str = "codelab/question";
    /// `codelab/commandOutput`
    pub const COMMAND_OUTPUT: &str = "codelab/commandOutput";
    /// `codelab/message`
    pub const MESSAGE: &str = "codelab/message";
    /// `codelab/approvalRequired`
    pub const APPROVAL_REQUIRED: &str = "codelab/approvalRequired";
    /// `codelab/approvalResolved`
    pub const APPROVAL_RESOLVED: &str = "codelab/approvalResolved";
}

/// Fixed values so that examples are reproducible.
fn example_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 30, 0)
        .single()
        .unwrap_or_default()
}

fn example_session_id() -> Uuid {
    Uuid::from_u128(0x0196_b1f2_7c3e_7a10_9f4e_2d6c_8a1b_3e5f)
}

fn example_session() -> Session {
    Session {
        id: example_session_id(),
        title: "Fix the flaky parser test".into(),
        workspace_folder: Some("file:///home/ada/src/parser".into()),
        agent: "orchestrator".into(),
        created_at: example_time(),
        updated_at: example_time(),
        message_count: 2,
        last_seq: 2,
        parent_session_id: None,
        parent_tool_call_id: None,
    }
}

fn example_agent() -> AgentInfo {
    AgentInfo {
        slug: "architect".into(),
        name: "Architect".into(),
        description: "Plans and designs; may edit Markdown files only.".into(),
        tools: vec![
            "read_file".into(),
            "list_files".into(),
            "search_in_code".into(),
            "write_file".into(),
            "apply_diff".into(),
            "ask_followup_question".into(),
            "attempt_completion".into(),
            "switch_mode".into(),
        ],
        file_restriction: Some(r"\.md$".into()),
    }
}

fn to_value(value: impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Every method and notification of the protocol, in documentation order.
pub fn all() -> Vec<MethodDoc> {
    let sid = example_session_id();
    vec![
        MethodDoc {
            name: names::CREATE_SESSION,
            kind: Kind::Request,
            direction: Direction::ClientToServer,
            summary: "Creates a session and persists it before answering. `workspaceFolder` \
                      defaults to the connection's first workspace folder, `agent` to \
                      `orchestrator`, `title` to \"New session\".",
            params: Some(type_ref::<CreateSessionParams>()),
            result: Some(type_ref::<Session>()),
            errors: &[ErrorCode::AgentNotFound, ErrorCode::StoreFailure],
            example_params: to_value(CreateSessionParams {
                workspace_folder: Some("file:///home/ada/src/parser".into()),
                agent: None,
                title: Some("Fix the flaky parser test".into()),
            }),
            example_result: Some(to_value(Session {
                message_count: 0,
                last_seq: 0,
                ..example_session()
            })),
        },
        MethodDoc {
            name: names::LIST_SESSIONS,
            kind: Kind::Request,
            direction: Direction::ClientToServer,
            summary: "Lists sessions, newest first (by creation time), one page at a time. \
                      The cursor is opaque and stays valid when sessions are added or deleted.",
            params: Some(type_ref::<ListSessionsParams>()),
            result: Some(type_ref::<ListSessionsResult>()),
            errors: &[ErrorCode::StoreFailure],
            example_params: to_value(ListSessionsParams {
                cursor: None,
                limit: Some(1),
            }),
            example_result: Some(to_value(ListSessionsResult {
                sessions: vec![example_session()],
                next_cursor: Some(sid.to_string()),
            })),
        },
        MethodDoc {
            name: names::GET_SESSION,
            kind: Kind::Request,
            direction: Direction::ClientToServer,
            summary: "Returns one session.",
            params: Some(type_ref::<SessionParams>()),
            result: Some(type_ref::<Session>()),
            errors: &[ErrorCode::SessionNotFound, ErrorCode::StoreFailure],
            example_params: to_value(SessionParams { session_id: sid }),
            example_result: Some(to_value(example_session())),
        },
        MethodDoc {
            name: names::DELETE_SESSION,
            kind: Kind::Request,
            direction: Direction::ClientToServer,
            summary: "Deletes a session and its history, durably, before answering.",
            params: Some(type_ref::<SessionParams>()),
            result: Some(type_ref::<DeleteSessionResult>()),
            errors: &[
                ErrorCode::SessionNotFound,
                ErrorCode::SessionBusy,
                ErrorCode::StoreFailure,
            ],
            example_params: to_value(SessionParams { session_id: sid }),
            example_result: Some(to_value(DeleteSessionResult {
                session_id: sid,
                deleted_messages: 2,
            })),
        },
        MethodDoc {
            name: names::GET_HISTORY,
            kind: Kind::Request,
            direction: Direction::ClientToServer,
            summary: "Returns a session's messages in seq order, starting after `afterSeq`. \
                      Everything the server acknowledged is here, also after a restart.",
            params: Some(type_ref::<GetHistoryParams>()),
            result: Some(type_ref::<GetHistoryResult>()),
            errors: &[ErrorCode::SessionNotFound, ErrorCode::StoreFailure],
            example_params: to_value(GetHistoryParams {
                session_id: sid,
                after_seq: Some(0),
                limit: Some(2),
            }),
            example_result: Some(to_value(GetHistoryResult {
                messages: vec![
                    Message {
                        id: Uuid::from_u128(0x0196_b1f2_7c3f_7b20_8a11_0c2d_3e4f_5a6b),
                        session_id: sid,
                        seq: 1,
                        turn_id: None,
                        role: Role::User,
                        text: "Why does parse_header fail on CRLF input?".into(),
                        tool_calls: vec![],
                        tool_call_id: None,
                        is_error: false,
                        context: None,
                        created_at: example_time(),
                    },
                    Message {
                        id: Uuid::from_u128(0x0196_b1f2_7c40_7c30_9b22_1d3e_4f5a_6b7c),
                        session_id: sid,
                        seq: 2,
                        turn_id: None,
                        role: Role::Assistant,
                        text: "Let me read the parser first.".into(),
                        tool_calls: vec![ToolCall {
                            id: "call_1".into(),
                            name: "read_file".into(),
                            arguments: json!({"path": "src/parser.rs"}),
                        }],
                        tool_call_id: None,
                        is_error: false,
                        context: None,
                        created_at: example_time(),
                    },
                ],
                has_more: false,
            })),
        },
        MethodDoc {
            name: names::LIST_AGENTS,
            kind: Kind::Request,
            direction: Direction::ClientToServer,
            summary: "Lists the agents with their descriptions, the tools each may call and \
                      their file restrictions, exactly as the server enforces them: the five \
                      built-ins and the agents of the workspace's `.codelab/agents.toml`. \
                      A workspace's agent and prompt files count only when the user trusts it \
                      (`[trust] workspaces` in `codelab.toml`); otherwise `warnings` names the \
                      files ignored.",
            params: Some(type_ref::<ListAgentsParams>()),
            result: Some(type_ref::<ListAgentsResult>()),
            errors: &[],
            example_params: json!({}),
            example_result: Some(to_value(ListAgentsResult {
                agents: vec![example_agent()],
                warnings: Vec::new(),
            })),
        },
        MethodDoc {
            name: names::GET_CURRENT_AGENT,
            kind: Kind::Request,
            direction: Direction::ClientToServer,
            summary: "Returns the agent currently handling a session.",
            params: Some(type_ref::<SessionParams>()),
            result: Some(type_ref::<CurrentAgentResult>()),
            errors: &[ErrorCode::SessionNotFound, ErrorCode::StoreFailure],
            example_params: to_value(SessionParams { session_id: sid }),
            example_result: Some(to_value(CurrentAgentResult {
                session_id: sid,
                agent: example_agent(),
            })),
        },
        MethodDoc {
            name: names::GET_DOCUMENT,
            kind: Kind::Request,
            direction: Direction::ClientToServer,
            summary: "Returns the server's copy of a document this connection has open, with \
                      every change applied: what the tools read instead of the file on disk. \
                      Lets a client check that its edits are in sync.",
            params: Some(type_ref::<GetDocumentParams>()),
            result: Some(type_ref::<DocumentSnapshot>()),
            errors: &[ErrorCode::DocumentNotOpen],
            example_params: to_value(GetDocumentParams {
                uri: "file:///home/ada/src/parser/src/lib.rs".into(),
            }),
            example_result: Some(to_value(DocumentSnapshot {
                uri: "file:///home/ada/src/parser/src/lib.rs".into(),
                version: 7,
                language_id: "rust".into(),
                text: "pub fn parse() {}\n".into(),
            })),
        },
    ]
}

/// A wire type and the function that renders its TypeScript declaration.
pub type TypeEntry = (TypeRef, fn(&ts_rs::Config) -> String);

/// Every wire type, in the order the TypeScript file declares them.
pub fn all_types() -> Vec<TypeEntry> {
    fn entry<T: JsonSchema + TS>() -> TypeEntry {
        (type_ref::<T>(), |cfg| T::decl(cfg))
    }
    vec![
        entry::<Session>(),
        entry::<Role>(),
        entry::<ToolCall>(),
        entry::<Message>(),
        entry::<AgentInfo>(),
        entry::<CreateSessionParams>(),
        entry::<ListSessionsParams>(),
        entry::<ListSessionsResult>(),
        entry::<SessionParams>(),
        entry::<DeleteSessionResult>(),
        entry::<GetHistoryParams>(),
        entry::<GetHistoryResult>(),
        entry::<ListAgentsResult>(),
        entry::<CurrentAgentResult>(),
        entry::<MessageContext>(),
        entry::<SendMessageParams>(),
        entry::<SendMessageResult>(),
        entry::<CancelTurnResult>(),
        entry::<AttachSessionParams>(),
        entry::<AttachSessionResult>(),
        entry::<SwitchAgentParams>(),
        entry::<AnswerQuestionParams>(),
        entry::<Ack>(),
        entry::<ListAgentsParams>(),
        entry::<TokenUsage>(),
        entry::<TokenParams>(),
        entry::<ToolCallStatus>(),
        entry::<ToolCallParams>(),
        entry::<StopReason>(),
        entry::<TurnCompletedParams>(),
        entry::<AgentSwitchedParams>(),
        entry::<QuestionParams>(),
        entry::<CommandOutputParams>(),
        entry::<MessageAddedParams>(),
        entry::<Approval>(),
        entry::<ApprovalRequiredParams>(),
        entry::<Decision>(),
        entry::<ApprovalScope>(),
        entry::<DecideApprovalParams>(),
        entry::<ApprovalResolvedParams>(),
        entry::<ListPendingApprovalsParams>(),
        entry::<ListPendingApprovalsResult>(),
        entry::<GetPolicyParams>(),
        entry::<PolicyRule>(),
        entry::<GetPolicyResult>(),
        entry::<Percentiles>(),
        entry::<SessionMetrics>(),
        entry::<MetricsSnapshot>(),
        entry::<ListSessionMetricsParams>(),
        entry::<ListSessionMetricsResult>(),
        entry::<GetAuditLogParams>(),
        entry::<AuditEntry>(),
        entry::<GetAuditLogResult>(),
        entry::<SubscribeEventsParams>(),
        entry::<SubscribeEventsResult>(),
        entry::<UnsubscribeEventsParams>(),
        entry::<EventParams>(),
        entry::<GetDocumentParams>(),
        entry::<DocumentSnapshot>(),
        entry::<CodelabCapabilities>(),
        entry::<InvalidParamsData>(),
        entry::<ErrorData>(),
    ]
}
