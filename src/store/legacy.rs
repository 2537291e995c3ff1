//! Records as schema versions 1 to 3 wrote them: the wire types of release
//! 0.1 as JSON (camelCase). Read only by the migration to version 4, which
//! rewrites each of them as the store's own versioned record
//! ([`super::records`]).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::domain::{
    AuditRecord, EditPreview, Message, MessageContext, ParentLink, PendingApproval,
    PendingQuestion, Role, Session, ToolCall,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionV0 {
    id: Uuid,
    title: String,
    workspace_folder: Option<String>,
    agent: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    message_count: u64,
    last_seq: u64,
    #[serde(default)]
    parent_session_id: Option<Uuid>,
    #[serde(default)]
    parent_tool_call_id: Option<String>,
}

impl From<SessionV0> for Session {
    fn from(s: SessionV0) -> Self {
        Self {
            id: s.id.into(),
            title: s.title,
            workspace_folder: s.workspace_folder,
            agent: s.agent,
            created_at: s.created_at,
            updated_at: s.updated_at,
            message_count: s.message_count,
            last_seq: s.last_seq,
            parent: match (s.parent_session_id, s.parent_tool_call_id) {
                (Some(p), Some(c)) => Some(ParentLink {
                    session_id: p.into(),
                    tool_call_id: c,
                }),
                _ => None,
            },
            model: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum RoleV0 {
    User,
    Assistant,
    Tool,
}

#[derive(Deserialize)]
struct ToolCallV0 {
    id: String,
    name: String,
    arguments: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContextV0 {
    #[serde(default)]
    open_files: Vec<String>,
    #[serde(default)]
    active_file: Option<String>,
    #[serde(default)]
    selection: Option<String>,
    #[serde(default)]
    diagnostics: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageV0 {
    id: Uuid,
    session_id: Uuid,
    seq: u64,
    #[serde(default)]
    turn_id: Option<Uuid>,
    role: RoleV0,
    text: String,
    #[serde(default)]
    tool_calls: Vec<ToolCallV0>,
    #[serde(default)]
    tool_call_id: Option<String>,
    #[serde(default)]
    is_error: bool,
    #[serde(default)]
    context: Option<ContextV0>,
    created_at: DateTime<Utc>,
}

impl From<MessageV0> for Message {
    fn from(m: MessageV0) -> Self {
        Self {
            id: m.id.into(),
            session_id: m.session_id.into(),
            seq: m.seq,
            turn_id: m.turn_id.map(Into::into),
            role: match m.role {
                RoleV0::User => Role::User,
                RoleV0::Assistant => Role::Assistant,
                RoleV0::Tool => Role::Tool,
            },
            text: m.text,
            tool_calls: m
                .tool_calls
                .into_iter()
                .map(|c| ToolCall {
                    id: c.id,
                    name: c.name,
                    arguments: c.arguments,
                })
                .collect(),
            tool_call_id: m.tool_call_id,
            is_error: m.is_error,
            context: m.context.map(|c| MessageContext {
                open_files: c.open_files,
                active_file: c.active_file,
                selection: c.selection,
                diagnostics: c.diagnostics,
            }),
            created_at: m.created_at,
            compaction: None,
            reasoning: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApprovalV0 {
    id: Uuid,
    session_id: Uuid,
    turn_id: Uuid,
    tool_call_id: String,
    tool: String,
    params: Value,
    rule: String,
    #[serde(default)]
    diff: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<ApprovalV0> for PendingApproval {
    fn from(a: ApprovalV0) -> Self {
        Self {
            id: a.id.into(),
            session_id: a.session_id.into(),
            turn_id: a.turn_id.into(),
            tool_call_id: a.tool_call_id,
            tool: a.tool,
            params: a.params,
            rule: a.rule,
            // Release 0.1 kept only the diff; the whole contents were not stored.
            preview: a.diff.map(|diff| EditPreview {
                diff,
                files: Vec::new(),
            }),
            created_at: a.created_at,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QuestionV0 {
    session_id: Uuid,
    turn_id: Uuid,
    seq: u64,
    question_id: Uuid,
    question: String,
    suggestions: Vec<String>,
}

impl From<QuestionV0> for PendingQuestion {
    fn from(q: QuestionV0) -> Self {
        Self {
            id: q.question_id.into(),
            session_id: q.session_id.into(),
            turn_id: q.turn_id.into(),
            seq: q.seq,
            question: q.question,
            suggestions: q.suggestions,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditV0 {
    id: Uuid,
    at: DateTime<Utc>,
    session_id: Option<Uuid>,
    category: String,
    kind: String,
    payload: Value,
}

impl From<AuditV0> for AuditRecord {
    fn from(a: AuditV0) -> Self {
        Self {
            id: a.id.into(),
            at: a.at,
            session_id: a.session_id.map(Into::into),
            category: a.category,
            kind: a.kind,
            payload: a.payload,
        }
    }
}
