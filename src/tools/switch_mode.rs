//! `switch_mode`: hands the session to another agent.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};

/// Parameters of `switch_mode`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The agent's slug: orchestrator, coder, architect, debug or ask.
    pub mode: String,
    /// Why, for the user.
    pub reason: String,
}

/// The `switch_mode` tool.
#[derive(Debug)]
pub struct SwitchMode;

impl TypedTool for SwitchMode {
    type Params = Params;
    const NAME: &'static str = "switch_mode";
    const DESCRIPTION: &'static str = "Hand the conversation to another agent (coder, architect, debug, ask, \
        orchestrator). The new agent continues this turn with its own tools.";
    const KIND: ToolKind = ToolKind::Interaction;

    /// Touches no file and runs no command.
    fn subject(_p: &Params) -> Subject {
        Subject::default()
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let to = p.mode.trim().to_owned();
        ctx.interact.switch_agent(to.clone(), p.reason).await?;
        Ok(ToolOutput::text(format!(
            "Switched to {to}. Continue as {to}."
        )))
    }
}
