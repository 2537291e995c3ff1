//! `new_task`: delegates a subtask to a child session (orchestrator only).

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};

/// Parameters of `new_task`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The agent that does the subtask.
    pub mode: String,
    /// Everything the subtask needs to know: it does not see this conversation.
    pub message: String,
}

/// The `new_task` tool.
#[derive(Debug)]
pub struct NewTask;

impl TypedTool for NewTask {
    type Params = Params;
    const NAME: &'static str = "new_task";
    const DESCRIPTION: &'static str = "Delegate a subtask to an agent in a new child session. The message must \
        contain everything the subtask needs. The subtask's final result is this tool's result.";
    const KIND: ToolKind = ToolKind::Interaction;

    /// Touches no file and runs no command.
    fn subject(_p: &Params) -> Subject {
        Subject::default()
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let result = ctx
            .interact
            .subtask(p.mode.trim().to_owned(), p.message)
            .await?;
        Ok(ToolOutput::text(format!(
            "Subtask completed. Result:\n{result}"
        )))
    }
}
