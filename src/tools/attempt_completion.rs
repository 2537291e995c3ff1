//! `attempt_completion`: ends the turn with a result.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};

/// Parameters of `attempt_completion`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// What was done, for the user.
    pub result: String,
}

/// The `attempt_completion` tool.
#[derive(Debug)]
pub struct AttemptCompletion;

impl TypedTool for AttemptCompletion {
    type Params = Params;
    const NAME: &'static str = "attempt_completion";
    const DESCRIPTION: &'static str = "Finish the task: give the user the final result. Use it once the work is \
        done and checked; the turn ends here.";
    const KIND: ToolKind = ToolKind::Interaction;

    /// Touches no file and runs no command.
    fn subject(_p: &Params) -> Subject {
        Subject::default()
    }

    async fn run(&self, _ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput {
            content: "The result was given to the user.".to_owned(),
            completion: Some(p.result),
        })
    }
}
