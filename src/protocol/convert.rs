//! The domain model as the codelab protocol shows it, and back.
//!
//! The only place where domain values become wire values: handlers and the
//! notification translator call these conversions, so a wire field can be
//! renamed here without touching the runtime or the store.

use crate::agents::Agent;
use crate::domain;
use crate::tools::Tool;

use super::types::{
    AgentInfo, Approval, ApprovalFile, AuditEntry, ChosenModel, McpServerInfo, McpServerState,
    Message, MessageContext, QuestionParams, Session, ToolCall, ToolInfo,
};

impl From<&Agent> for AgentInfo {
    fn from(a: &Agent) -> Self {
        Self {
            slug: a.slug.clone(),
            name: a.name.clone(),
            description: a.description.clone(),
            tools: a.tools.clone(),
            file_restriction: a.file_restriction.as_ref().map(|r| r.as_str().to_owned()),
        }
    }
}

/// A tool as clients see it: its parameter schema is the one the model is
/// given ([`Tool::parameters`]).
impl From<&dyn Tool> for ToolInfo {
    fn from(t: &dyn Tool) -> Self {
        Self {
            name: t.name().to_owned(),
            kind: t.kind(),
            description: t.description().to_owned(),
            parameters: t.parameters(),
        }
    }
}

impl From<crate::runtime::McpServerStatus> for McpServerInfo {
    fn from(m: crate::runtime::McpServerStatus) -> Self {
        let s = m.status;
        let (state, error) = match s.state {
            crate::mcp::State::Stopped => (McpServerState::Stopped, None),
            crate::mcp::State::Running => (McpServerState::Running, None),
            crate::mcp::State::Failed(e) => (McpServerState::Failed, Some(e)),
        };
        Self {
            name: s.name,
            source: s.source.as_str().to_owned(),
            session_id: match &m.scope {
                crate::runtime::McpScope::Session(id) => Some(*id),
                _ => None,
            },
            workspace: match &m.scope {
                crate::runtime::McpScope::Workspace(root) => crate::workspace::path_to_uri(root),
                _ => None,
            },
            transport: s.transport.to_owned(),
            state,
            error,
            tools: s.tools,
            retry_in_ms: s
                .retry_in
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

impl From<domain::Session> for Session {
    fn from(s: domain::Session) -> Self {
        let (parent_session_id, parent_tool_call_id) = match s.parent {
            Some(p) => (Some(p.session_id), Some(p.tool_call_id)),
            None => (None, None),
        };
        Self {
            id: s.id,
            title: s.title,
            workspace_folder: s.workspace_folder,
            agent: s.agent,
            created_at: s.created_at,
            updated_at: s.updated_at,
            message_count: s.message_count,
            last_seq: s.last_seq,
            parent_session_id,
            parent_tool_call_id,
            model: s.model.map(ChosenModel::from),
        }
    }
}

impl From<domain::ModelChoice> for ChosenModel {
    fn from(m: domain::ModelChoice) -> Self {
        Self {
            provider: m.provider,
            model: m.model,
        }
    }
}

impl From<domain::ToolCall> for ToolCall {
    fn from(c: domain::ToolCall) -> Self {
        Self {
            id: c.id,
            name: c.name,
            arguments: c.arguments,
        }
    }
}

impl From<domain::MessageContext> for MessageContext {
    fn from(c: domain::MessageContext) -> Self {
        Self {
            open_files: c.open_files,
            active_file: c.active_file,
            selection: c.selection,
            diagnostics: c.diagnostics,
        }
    }
}

impl From<MessageContext> for domain::MessageContext {
    fn from(c: MessageContext) -> Self {
        Self {
            open_files: c.open_files,
            active_file: c.active_file,
            selection: c.selection,
            diagnostics: c.diagnostics,
        }
    }
}

impl From<domain::Message> for Message {
    fn from(m: domain::Message) -> Self {
        Self {
            id: m.id,
            session_id: m.session_id,
            seq: m.seq,
            turn_id: m.turn_id,
            role: m.role,
            text: m.text,
            tool_calls: m.tool_calls.into_iter().map(Into::into).collect(),
            tool_call_id: m.tool_call_id,
            is_error: m.is_error,
            context: m.context.map(Into::into),
            created_at: m.created_at,
            compaction: m.compaction,
            reasoning: (!m.reasoning.is_empty())
                .then(|| domain::Reasoning::text_of(&m.reasoning))
                .filter(|t| !t.is_empty()),
        }
    }
}

impl From<domain::PendingApproval> for Approval {
    fn from(a: domain::PendingApproval) -> Self {
        let (diff, files) = match a.preview {
            Some(p) => (
                Some(p.diff),
                (!p.files.is_empty()).then(|| {
                    p.files
                        .into_iter()
                        .map(|f| ApprovalFile {
                            path: f.path,
                            current: f.current,
                            proposed: f.proposed,
                        })
                        .collect()
                }),
            ),
            None => (None, None),
        };
        Self {
            id: a.id,
            session_id: a.session_id,
            turn_id: a.turn_id,
            tool_call_id: a.tool_call_id,
            tool: a.tool,
            params: a.params,
            rule: a.rule,
            diff,
            files,
            created_at: a.created_at,
        }
    }
}

impl From<domain::PendingQuestion> for QuestionParams {
    fn from(q: domain::PendingQuestion) -> Self {
        Self {
            session_id: q.session_id,
            turn_id: q.turn_id,
            seq: q.seq,
            question_id: q.id,
            question: q.question,
            suggestions: q.suggestions,
        }
    }
}

impl From<domain::AuditRecord> for AuditEntry {
    fn from(r: domain::AuditRecord) -> Self {
        Self {
            id: r.id,
            at: r.at,
            session_id: r.session_id,
            category: r.category,
            kind: r.kind,
            payload: r.payload,
        }
    }
}

impl From<&domain::Event> for AuditEntry {
    fn from(e: &domain::Event) -> Self {
        Self {
            id: e.id,
            at: e.at,
            session_id: e.session_id,
            category: e.category().as_str().to_owned(),
            kind: e.kind.name().to_owned(),
            payload: e.kind.payload(),
        }
    }
}
