//! `stop_command`: stops a background command (`SIGTERM`, then `SIGKILL`
//! after the grace, to everything it started).

use schemars::JsonSchema;
use serde::Deserialize;

use super::execute_command::describe_exit;
use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};

/// Parameters of `stop_command`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The background command's id (`p1`), as execute_command gave it.
    pub id: String,
}

/// The `stop_command` tool.
#[derive(Debug)]
pub struct StopCommand;

impl TypedTool for StopCommand {
    type Params = Params;
    const NAME: &'static str = "stop_command";
    const DESCRIPTION: &'static str = "Stop a background command (started with execute_command and background: \
        true) and everything it started; returns its last unread output and how it ended.";
    const KIND: ToolKind = ToolKind::Execute;

    /// Stops what this session started: no path, no command line.
    fn subject(_p: &Params) -> Subject {
        Subject::default()
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let read = ctx
            .commands
            .processes
            .stop(ctx.session_id, &p.id)
            .await
            .map_err(|e| ToolError::new(e.to_string()))?;
        Ok(ToolOutput::text(format!(
            "{}: stopped; {}\n{}",
            p.id,
            describe_exit(read.exit),
            if read.text.is_empty() {
                "(no new output)"
            } else {
                &read.text
            }
        )))
    }
}
