//! The store's own records: how the domain model is written to disk.
//!
//! Every value is a JSON object tagged with its record version (`"v": 1`),
//! with the store's own field names (snake_case), independent of the wire
//! protocol: renaming a field for clients is not a storage migration. A new
//! record version adds a variant here and a conversion; old versions keep
//! decoding. Vocabulary enums are written through the store's own spellings
//! (for example [`RoleRec`]), never through the domain's serde.
//!
//! Every backend (redb today, PostgreSQL later) writes these records, so a
//! record read by one is read alike by another.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::domain::{
    AuditRecord, EditPreview, FileChange, Message, MessageContext, ModelChoice, ParentLink,
    PendingApproval, PendingQuestion, Role, Session, ToolCall,
};

use super::StoreError;

/// A stored session.
#[derive(Serialize, Deserialize)]
#[serde(tag = "v")]
pub(crate) enum SessionRec {
    #[serde(rename = "1")]
    V1(SessionV1),
}

#[derive(Serialize, Deserialize)]
pub(crate) struct SessionV1 {
    id: Uuid,
    title: String,
    workspace_folder: Option<String>,
    agent: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    message_count: u64,
    last_seq: u64,
    parent_session_id: Option<Uuid>,
    parent_tool_call_id: Option<String>,
    /// The chosen model's provider and name (both or neither); absent in
    /// records written before the choice was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
}

impl From<&Session> for SessionRec {
    fn from(s: &Session) -> Self {
        Self::V1(SessionV1 {
            id: s.id.uuid(),
            title: s.title.clone(),
            workspace_folder: s.workspace_folder.clone(),
            agent: s.agent.clone(),
            created_at: s.created_at,
            updated_at: s.updated_at,
            message_count: s.message_count,
            last_seq: s.last_seq,
            parent_session_id: s.parent.as_ref().map(|p| p.session_id.uuid()),
            parent_tool_call_id: s.parent.as_ref().map(|p| p.tool_call_id.clone()),
            model_provider: s.model.as_ref().map(|m| m.provider.clone()),
            model: s.model.as_ref().map(|m| m.model.clone()),
        })
    }
}

impl From<SessionRec> for Session {
    fn from(r: SessionRec) -> Self {
        let SessionRec::V1(s) = r;
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
            model: match (s.model_provider, s.model) {
                (Some(provider), Some(model)) => Some(ModelChoice { provider, model }),
                _ => None,
            },
        }
    }
}

/// The store's spelling of a role.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RoleRec {
    User,
    Assistant,
    Tool,
}

impl From<Role> for RoleRec {
    fn from(r: Role) -> Self {
        match r {
            Role::User => Self::User,
            Role::Assistant => Self::Assistant,
            Role::Tool => Self::Tool,
        }
    }
}

impl From<RoleRec> for Role {
    fn from(r: RoleRec) -> Self {
        match r {
            RoleRec::User => Self::User,
            RoleRec::Assistant => Self::Assistant,
            RoleRec::Tool => Self::Tool,
        }
    }
}

/// A stored message.
#[derive(Serialize, Deserialize)]
#[serde(tag = "v")]
pub(crate) enum MessageRec {
    #[serde(rename = "1")]
    V1(MessageV1),
}

#[derive(Serialize, Deserialize)]
pub(crate) struct MessageV1 {
    id: Uuid,
    session_id: Uuid,
    seq: u64,
    turn_id: Option<Uuid>,
    role: RoleRec,
    text: String,
    tool_calls: Vec<ToolCallV1>,
    tool_call_id: Option<String>,
    is_error: bool,
    context: Option<ContextV1>,
    created_at: DateTime<Utc>,
    /// Added in 0.3 (same record version: absent reads as `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compaction: Option<CompactionV1>,
    /// Added in 0.4 (same record version: absent reads as none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    reasoning: Vec<ReasoningV1>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ReasoningV1 {
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    redacted: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct CompactionV1 {
    summarized_through: u64,
    elided_through: u64,
    tokens_before: u64,
    tokens_after: u64,
    #[serde(default)]
    rewound_from: u64,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ToolCallV1 {
    id: String,
    name: String,
    arguments: Value,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ContextV1 {
    open_files: Vec<String>,
    active_file: Option<String>,
    selection: Option<String>,
    diagnostics: Vec<String>,
}

impl From<&Message> for MessageRec {
    fn from(m: &Message) -> Self {
        Self::V1(MessageV1 {
            id: m.id.uuid(),
            session_id: m.session_id.uuid(),
            seq: m.seq,
            turn_id: m.turn_id.map(Into::into),
            role: m.role.into(),
            text: m.text.clone(),
            tool_calls: m
                .tool_calls
                .iter()
                .map(|c| ToolCallV1 {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    arguments: c.arguments.clone(),
                })
                .collect(),
            tool_call_id: m.tool_call_id.clone(),
            is_error: m.is_error,
            context: m.context.as_ref().map(|c| ContextV1 {
                open_files: c.open_files.clone(),
                active_file: c.active_file.clone(),
                selection: c.selection.clone(),
                diagnostics: c.diagnostics.clone(),
            }),
            created_at: m.created_at,
            compaction: m.compaction.map(|c| CompactionV1 {
                summarized_through: c.summarized_through,
                elided_through: c.elided_through,
                tokens_before: c.tokens_before,
                tokens_after: c.tokens_after,
                rewound_from: c.rewound_from,
            }),
            reasoning: m
                .reasoning
                .iter()
                .map(|r| ReasoningV1 {
                    text: r.text.clone(),
                    signature: r.signature.clone(),
                    redacted: r.redacted.clone(),
                })
                .collect(),
        })
    }
}

impl From<MessageRec> for Message {
    fn from(r: MessageRec) -> Self {
        let MessageRec::V1(m) = r;
        Self {
            id: m.id.into(),
            session_id: m.session_id.into(),
            seq: m.seq,
            turn_id: m.turn_id.map(Into::into),
            role: m.role.into(),
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
            compaction: m.compaction.map(|c| crate::domain::Compaction {
                summarized_through: c.summarized_through,
                elided_through: c.elided_through,
                tokens_before: c.tokens_before,
                tokens_after: c.tokens_after,
                rewound_from: c.rewound_from,
            }),
            reasoning: m
                .reasoning
                .into_iter()
                .map(|r| crate::domain::Reasoning {
                    text: r.text,
                    signature: r.signature,
                    redacted: r.redacted,
                })
                .collect(),
        }
    }
}

/// A stored file checkpoint.
#[derive(Serialize, Deserialize)]
#[serde(tag = "v")]
pub(crate) enum CheckpointRec {
    #[serde(rename = "1")]
    V1(CheckpointV1),
}

#[derive(Serialize, Deserialize)]
pub(crate) struct CheckpointV1 {
    turn_id: Uuid,
    path: String,
    before: Option<ContentRefV1>,
    after: Option<ContentRefV1>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ContentRefV1 {
    hash: String,
    len: u64,
}

impl From<&crate::domain::FileCheckpoint> for CheckpointRec {
    fn from(c: &crate::domain::FileCheckpoint) -> Self {
        let r = |c: &crate::domain::ContentRef| ContentRefV1 {
            hash: c.hash.clone(),
            len: c.len,
        };
        Self::V1(CheckpointV1 {
            turn_id: c.turn_id.uuid(),
            path: c.path.clone(),
            before: c.before.as_ref().map(r),
            after: c.after.as_ref().map(r),
        })
    }
}

impl From<CheckpointRec> for crate::domain::FileCheckpoint {
    fn from(r: CheckpointRec) -> Self {
        let CheckpointRec::V1(c) = r;
        let r = |c: ContentRefV1| crate::domain::ContentRef {
            hash: c.hash,
            len: c.len,
        };
        Self {
            turn_id: c.turn_id.into(),
            path: c.path,
            before: c.before.map(r),
            after: c.after.map(r),
        }
    }
}

/// A stored pending approval.
#[derive(Serialize, Deserialize)]
#[serde(tag = "v")]
pub(crate) enum ApprovalRec {
    #[serde(rename = "1")]
    V1(ApprovalV1),
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ApprovalV1 {
    id: Uuid,
    session_id: Uuid,
    turn_id: Uuid,
    tool_call_id: String,
    tool: String,
    params: Value,
    rule: String,
    preview: Option<PreviewV1>,
    created_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct PreviewV1 {
    diff: String,
    files: Vec<FileChangeV1>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct FileChangeV1 {
    path: String,
    current: String,
    proposed: String,
}

impl ApprovalRec {
    /// The session it belongs to.
    pub(crate) fn session_id(&self) -> Uuid {
        let Self::V1(a) = self;
        a.session_id
    }
}

impl From<&PendingApproval> for ApprovalRec {
    fn from(a: &PendingApproval) -> Self {
        Self::V1(ApprovalV1 {
            id: a.id.uuid(),
            session_id: a.session_id.uuid(),
            turn_id: a.turn_id.uuid(),
            tool_call_id: a.tool_call_id.clone(),
            tool: a.tool.clone(),
            params: a.params.clone(),
            rule: a.rule.clone(),
            preview: a.preview.as_ref().map(|p| PreviewV1 {
                diff: p.diff.clone(),
                files: p
                    .files
                    .iter()
                    .map(|f| FileChangeV1 {
                        path: f.path.clone(),
                        current: f.current.clone(),
                        proposed: f.proposed.clone(),
                    })
                    .collect(),
            }),
            created_at: a.created_at,
        })
    }
}

impl From<ApprovalRec> for PendingApproval {
    fn from(r: ApprovalRec) -> Self {
        let ApprovalRec::V1(a) = r;
        Self {
            id: a.id.into(),
            session_id: a.session_id.into(),
            turn_id: a.turn_id.into(),
            tool_call_id: a.tool_call_id,
            tool: a.tool,
            params: a.params,
            rule: a.rule,
            preview: a.preview.map(|p| EditPreview {
                diff: p.diff,
                files: p
                    .files
                    .into_iter()
                    .map(|f| FileChange {
                        path: f.path,
                        current: f.current,
                        proposed: f.proposed,
                    })
                    .collect(),
            }),
            created_at: a.created_at,
        }
    }
}

/// A stored pending question.
#[derive(Serialize, Deserialize)]
#[serde(tag = "v")]
pub(crate) enum QuestionRec {
    #[serde(rename = "1")]
    V1(QuestionV1),
}

#[derive(Serialize, Deserialize)]
pub(crate) struct QuestionV1 {
    id: Uuid,
    session_id: Uuid,
    turn_id: Uuid,
    seq: u64,
    question: String,
    suggestions: Vec<String>,
}

impl QuestionRec {
    /// The session it belongs to.
    pub(crate) fn session_id(&self) -> Uuid {
        let Self::V1(q) = self;
        q.session_id
    }
}

impl From<&PendingQuestion> for QuestionRec {
    fn from(q: &PendingQuestion) -> Self {
        Self::V1(QuestionV1 {
            id: q.id.uuid(),
            session_id: q.session_id.uuid(),
            turn_id: q.turn_id.uuid(),
            seq: q.seq,
            question: q.question.clone(),
            suggestions: q.suggestions.clone(),
        })
    }
}

impl From<QuestionRec> for PendingQuestion {
    fn from(r: QuestionRec) -> Self {
        let QuestionRec::V1(q) = r;
        Self {
            id: q.id.into(),
            session_id: q.session_id.into(),
            turn_id: q.turn_id.into(),
            seq: q.seq,
            question: q.question,
            suggestions: q.suggestions,
        }
    }
}

/// A stored audit entry.
#[derive(Serialize, Deserialize)]
#[serde(tag = "v")]
pub(crate) enum AuditRec {
    #[serde(rename = "1")]
    V1(AuditV1),
}

#[derive(Serialize, Deserialize)]
pub(crate) struct AuditV1 {
    id: Uuid,
    at: DateTime<Utc>,
    session_id: Option<Uuid>,
    category: String,
    kind: String,
    payload: Value,
}

impl From<&AuditRecord> for AuditRec {
    fn from(a: &AuditRecord) -> Self {
        Self::V1(AuditV1 {
            id: a.id.uuid(),
            at: a.at,
            session_id: a.session_id.map(Into::into),
            category: a.category.clone(),
            kind: a.kind.clone(),
            payload: a.payload.clone(),
        })
    }
}

impl From<AuditRec> for AuditRecord {
    fn from(r: AuditRec) -> Self {
        let AuditRec::V1(a) = r;
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

/// Encodes a record.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))
}

/// Decodes a record.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("cannot decode: {e}")))
}

/// Encodes a domain value as its current record.
pub(crate) fn to_bytes<'a, D: 'a, R>(value: &'a D) -> Result<Vec<u8>, StoreError>
where
    R: Serialize + From<&'a D>,
{
    encode(&R::from(value))
}

/// Decodes a record into its domain value.
pub(crate) fn from_bytes<R, D>(bytes: &[u8]) -> Result<D, StoreError>
where
    R: for<'de> Deserialize<'de>,
    D: From<R>,
{
    decode::<R>(bytes).map(D::from)
}
