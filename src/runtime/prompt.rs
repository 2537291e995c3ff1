//! What the model sees: the system prompt (the agent's role, the rules of
//! tool use, the environment) and the history as chat messages.

use std::fmt::Write as _;

use crate::agents::Agent;
use crate::domain::{Message, MessageContext, Role};
use crate::llm::{ChatMessage, ToolCallRequest, ToolSpec};
use crate::tools::Tool;

/// Facts about where the agent works.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// The workspace root, if any.
    pub workspace: Option<String>,
    /// Files open in the editor, workspace-relative.
    pub open_files: Vec<String>,
    /// The operating system.
    pub os: String,
}

/// The system prompt of `agent`.
pub fn system_prompt(agent: &Agent, env: &Environment) -> String {
    let mut s = agent.prompt.trim().to_owned();
    s.push_str("\n\n# How to work\n");
    s.push_str("- Act through the tools; the user sees every call and may have to approve edits and commands.\n");
    s.push_str("- Paths are relative to the workspace root. Nothing outside the workspace can be read or changed.\n");
    s.push_str("- A tool's error is a result like any other: read it and adapt; never repeat a failing call unchanged.\n");
    s.push_str("- When the task is done, call attempt_completion with the result.\n");
    let _ = writeln!(s, "\n# Your tools\n{}", agent.tools_described().join(", "));
    if let Some(r) = &agent.file_restriction {
        let _ = writeln!(
            s,
            "You may only edit files whose path matches the regular expression `{r}`."
        );
    }
    s.push_str("\n# Environment\n");
    match &env.workspace {
        Some(w) => {
            let _ = writeln!(s, "Workspace root: {w}");
        }
        None => s.push_str("No workspace folder: file tools are unavailable.\n"),
    }
    let _ = writeln!(s, "Operating system: {}", env.os);
    if !env.open_files.is_empty() {
        let _ = writeln!(s, "Open in the editor: {}", env.open_files.join(", "));
    }
    s
}

/// The tools of `agent`, as the model sees them.
pub fn tool_specs(agent: &Agent, registry: &[std::sync::Arc<dyn Tool>]) -> Vec<ToolSpec> {
    registry
        .iter()
        .filter(|t| super::gate::may_use(agent, &***t))
        .map(|t| ToolSpec {
            name: t.name().to_owned(),
            description: t.description().to_owned(),
            parameters: t.parameters(),
        })
        .collect()
}

/// A user message with its editor context, as the model reads it.
pub fn user_text(text: &str, context: Option<&MessageContext>) -> String {
    let Some(c) = context else {
        return text.to_owned();
    };
    let mut s = text.to_owned();
    let mut ctx = String::new();
    if let Some(a) = &c.active_file {
        let _ = writeln!(ctx, "Active file: {a}");
    }
    if !c.open_files.is_empty() {
        let _ = writeln!(ctx, "Open files: {}", c.open_files.join(", "));
    }
    if let Some(sel) = &c.selection {
        let _ = writeln!(ctx, "Selection:\n```\n{sel}\n```");
    }
    if !c.diagnostics.is_empty() {
        ctx.push_str("Diagnostics:\n");
        for d in &c.diagnostics {
            let _ = writeln!(ctx, "- {d}");
        }
    }
    if !ctx.is_empty() {
        let _ = write!(s, "\n\n<editor_context>\n{ctx}</editor_context>");
    }
    s
}

/// The history as chat messages.
pub fn chat_messages(history: &[Message]) -> Vec<ChatMessage> {
    history
        .iter()
        .map(|m| match m.role {
            Role::User => ChatMessage::User {
                text: user_text(&m.text, m.context.as_ref()),
            },
            Role::Assistant => ChatMessage::Assistant {
                text: m.text.clone(),
                tool_calls: m
                    .tool_calls
                    .iter()
                    .map(|c| ToolCallRequest {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        arguments: c.arguments.clone(),
                    })
                    .collect(),
                reasoning: m.reasoning.clone(),
            },
            Role::Tool => ChatMessage::Tool {
                call_id: m.tool_call_id.clone().unwrap_or_default(),
                name: String::new(),
                content: m.text.clone(),
                is_error: m.is_error,
            },
        })
        .collect()
}
