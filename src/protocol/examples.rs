//! Fixed values shared by the examples of the method and notification
//! declarations, so that the generated examples are reproducible and tell one
//! consistent story: Ada asks why the parser fails on CRLF input.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::domain::{ApprovalId, EventId, QuestionId, SessionId, TurnId};

use super::types::{
    AgentInfo, Approval, Message, MessageContext, QuestionParams, Role, Session, TokenUsage,
    ToolCall, ToolInfo,
};

/// The time every example happens at.
pub(super) fn time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 30, 0)
        .single()
        .unwrap_or_default()
}

/// A second, later time (for ranges and "last activity").
pub(super) fn later() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 31, 12)
        .single()
        .unwrap_or_default()
}

/// The example session.
pub(super) fn session_id() -> SessionId {
    Uuid::from_u128(0x0196_b1f2_7c3e_7a10_9f4e_2d6c_8a1b_3e5f).into()
}

/// A subtask's session, delegated by [`session_id`].
pub(super) fn subtask_session_id() -> SessionId {
    Uuid::from_u128(0x0196_b1f3_0a12_7e55_8c01_4d2e_6f70_8192).into()
}

/// The running turn.
pub(super) fn turn_id() -> TurnId {
    Uuid::from_u128(0x0196_b1f2_8a00_7d40_a1b2_c3d4_e5f6_0718).into()
}

/// A pending question.
pub(super) fn question_id() -> QuestionId {
    Uuid::from_u128(0x0196_b1f2_9b11_7e51_b2c3_d4e5_f607_1829).into()
}

/// A pending approval.
pub(super) fn approval_id() -> ApprovalId {
    Uuid::from_u128(0x0196_b1f2_ac22_7f62_83d4_e5f6_0718_293a).into()
}

/// An audit entry.
pub(super) fn audit_id() -> EventId {
    Uuid::from_u128(0x0196_b1f2_bd33_7073_94e5_f607_1829_3a4b).into()
}

/// Another audit entry (a cursor).
pub(super) fn older_audit_id() -> EventId {
    Uuid::from_u128(0x0196_b1f2_ce44_7184_a5f6_0718_293a_4b5c).into()
}

/// The workspace folder.
pub(super) const WORKSPACE: &str = "file:///home/ada/src/parser";

/// The session, two messages in.
pub(super) fn session() -> Session {
    Session {
        id: session_id(),
        title: "Fix the flaky parser test".into(),
        workspace_folder: Some(WORKSPACE.into()),
        agent: "orchestrator".into(),
        created_at: time(),
        updated_at: time(),
        message_count: 2,
        last_seq: 2,
        parent_session_id: None,
        parent_tool_call_id: None,
        model: None,
    }
}

/// A subtask's session, with its parent.
pub(super) fn subtask_session() -> Session {
    Session {
        id: subtask_session_id(),
        title: "Subtask: reproduce the CRLF failure".into(),
        workspace_folder: Some(WORKSPACE.into()),
        agent: "debug".into(),
        created_at: later(),
        updated_at: later(),
        message_count: 1,
        last_seq: 1,
        parent_session_id: Some(session_id()),
        parent_tool_call_id: Some("call_2".into()),
        model: None,
    }
}

/// The architect, whose edits are restricted to Markdown.
pub(super) fn architect() -> AgentInfo {
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

/// The orchestrator, unrestricted.
pub(super) fn orchestrator() -> AgentInfo {
    AgentInfo {
        slug: "orchestrator".into(),
        name: "Orchestrator".into(),
        description: "Breaks work into subtasks and delegates them.".into(),
        tools: vec![
            "new_task".into(),
            "ask_followup_question".into(),
            "attempt_completion".into(),
            "switch_mode".into(),
        ],
        file_restriction: None,
    }
}

/// `read_file`, as the model is given it.
pub(super) fn read_file_tool() -> ToolInfo {
    ToolInfo::from(&crate::tools::read_file::ReadFile as &dyn crate::tools::Tool)
}

/// `write_file`, as the model is given it.
pub(super) fn write_file_tool() -> ToolInfo {
    ToolInfo::from(&crate::tools::write_file::WriteFile as &dyn crate::tools::Tool)
}

/// The editor state sent with the user's message.
pub(super) fn context() -> MessageContext {
    MessageContext {
        open_files: vec!["src/parser.rs".into(), "tests/crlf.rs".into()],
        active_file: Some("src/parser.rs".into()),
        selection: Some("fn parse_header(input: &str)".into()),
        diagnostics: vec!["tests/crlf.rs:12: assertion failed: header.is_ok()".into()],
    }
}

/// The user's message (seq 1).
pub(super) fn user_message() -> Message {
    Message {
        id: Uuid::from_u128(0x0196_b1f2_7c3f_7b20_8a11_0c2d_3e4f_5a6b).into(),
        session_id: session_id(),
        seq: 1,
        turn_id: Some(turn_id()),
        role: Role::User,
        text: "Why does parse_header fail on CRLF input?".into(),
        tool_calls: vec![],
        tool_call_id: None,
        is_error: false,
        context: Some(context()),
        created_at: time(),
        compaction: None,
        reasoning: None,
    }
}

/// The read_file call of [`assistant_message`].
pub(super) fn read_call() -> ToolCall {
    ToolCall {
        id: "call_1".into(),
        name: "read_file".into(),
        arguments: json!({"path": "src/parser.rs"}),
    }
}

/// The assistant's reply (seq 2), calling a tool.
pub(super) fn assistant_message() -> Message {
    Message {
        id: Uuid::from_u128(0x0196_b1f2_7c40_7c30_9b22_1d3e_4f5a_6b7c).into(),
        session_id: session_id(),
        seq: 2,
        turn_id: Some(turn_id()),
        role: Role::Assistant,
        text: "Let me read the parser first.".into(),
        tool_calls: vec![read_call()],
        tool_call_id: None,
        is_error: false,
        context: None,
        created_at: time(),
        compaction: None,
        reasoning: Some(
            "The failure is about line endings; the parser is where headers are split.".into(),
        ),
    }
}

/// The tool's result (seq 3).
pub(super) fn tool_message() -> Message {
    Message {
        id: Uuid::from_u128(0x0196_b1f2_7c41_7d40_8c33_2e4f_5a6b_7c8d).into(),
        session_id: session_id(),
        seq: 3,
        turn_id: Some(turn_id()),
        role: Role::Tool,
        text: "1 | pub fn parse_header(input: &str) -> Result<Header, Error> {\n".into(),
        tool_calls: vec![],
        tool_call_id: Some("call_1".into()),
        is_error: false,
        context: None,
        created_at: time(),
        compaction: None,
        reasoning: None,
    }
}

/// A pending question (seq 5).
pub(super) fn question() -> QuestionParams {
    QuestionParams {
        session_id: session_id(),
        turn_id: turn_id(),
        seq: 5,
        question_id: question_id(),
        question: "Should CRLF be accepted everywhere, or only in headers?".into(),
        suggestions: vec!["Everywhere".into(), "Only in headers".into()],
    }
}

/// A pending approval of an edit.
pub(super) fn approval() -> Approval {
    Approval {
        id: approval_id(),
        session_id: session_id(),
        turn_id: turn_id(),
        tool_call_id: "call_3".into(),
        tool: "apply_diff".into(),
        params: json!({
            "path": "src/parser.rs",
            "diff": "<<<<<<< SEARCH\n    let line = input.split('\\n');\n=======\n    let line = input.lines();\n>>>>>>> REPLACE\n"
        }),
        rule: "default: edits ask".into(),
        diff: Some(
            "--- a/src/parser.rs\n+++ b/src/parser.rs\n@@ -3 +3 @@\n-    let line = input.split('\\n');\n+    let line = input.lines();\n"
                .into(),
        ),
        files: Some(vec![super::types::ApprovalFile {
            path: "src/parser.rs".into(),
            current: "use crate::Header;\n\n    let line = input.split('\\n');\n".into(),
            proposed: "use crate::Header;\n\n    let line = input.lines();\n".into(),
        }]),
        created_at: time(),
    }
}

/// Token counts of one turn.
pub(super) fn usage() -> TokenUsage {
    TokenUsage {
        input_tokens: 1830,
        output_tokens: 212,
        cache_read_tokens: 1024,
        cache_write_tokens: 0,
    }
}

/// A compaction: a summary of the first 40 messages, tool outputs elided up to 52.
pub(super) fn compaction() -> crate::domain::Compaction {
    crate::domain::Compaction {
        summarized_through: 40,
        elided_through: 52,
        tokens_before: 104_000,
        tokens_after: 21_500,
        rewound_from: 0,
    }
}

/// One file a turn changed.
pub(super) fn file_stat() -> crate::domain::FileStat {
    crate::domain::FileStat {
        path: "src/parser.rs".into(),
        status: "modified".into(),
        added: 1,
        removed: 1,
    }
}

/// The version of `src/lib.rs` as read (the SHA-256 of its bytes).
pub(super) const FILE_VERSION: &str =
    "5f2b1c9e0d4a7b36e8f1a2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b";

/// Its version after the user's save.
pub(super) const FILE_VERSION_SAVED: &str =
    "9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5";
