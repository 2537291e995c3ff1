//! `read_command_output`: reads what a background command wrote since the
//! last read, optionally waiting for a line to appear.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::execute_command::describe_exit;
use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};

/// Parameters of `read_command_output`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The background command's id (`p1`), as execute_command gave it.
    pub id: String,
    /// Wait until the new output contains this text (or the command ends).
    #[serde(default)]
    pub wait_for: Option<String>,
    /// How long to wait for `wait_for`, in seconds (default 30).
    #[serde(default)]
    #[schemars(range(min = 1, max = 600))]
    pub timeout_secs: Option<u64>,
}

/// The `read_command_output` tool.
#[derive(Debug)]
pub struct ReadCommandOutput;

impl TypedTool for ReadCommandOutput {
    type Params = Params;
    const NAME: &'static str = "read_command_output";
    const DESCRIPTION: &'static str = "Read the output a background command (started with execute_command and \
        background: true) wrote since the last read, and whether it is still running. With wait_for, wait \
        (up to timeout_secs, default 30) until that text appears, e.g. a server's \"listening\" line.";
    const KIND: ToolKind = ToolKind::Read;

    /// Reads what a command of this session wrote: no path, no command.
    fn subject(_p: &Params) -> Subject {
        Subject::default()
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let wait = match &p.wait_for {
            Some(_) => Duration::from_secs(p.timeout_secs.unwrap_or(30).clamp(1, 600)),
            None => Duration::ZERO,
        };
        let read = tokio::select! {
            r = ctx.commands.processes.read(ctx.session_id, &p.id, p.wait_for.as_deref(), wait) => r,
            () = ctx.cancel.cancelled() => return Err(ToolError::new("cancelled")),
        }
        .map_err(|e| ToolError::new(e.to_string()))?;
        let mut text = format!("{}: {}", p.id, describe_exit(read.exit));
        if let (Some(w), false) = (&p.wait_for, read.found) {
            text.push_str(&format!(
                " ({w:?} did not appear{})",
                if read.exit.is_some() {
                    ""
                } else {
                    " within the timeout"
                }
            ));
        }
        text.push('\n');
        text.push_str(if read.text.is_empty() {
            "(no new output)"
        } else {
            &read.text
        });
        Ok(ToolOutput::text(text))
    }
}
