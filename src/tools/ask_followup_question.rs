//! `ask_followup_question`: asks the user and waits for the answer.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};

/// Parameters of `ask_followup_question`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The question.
    pub question: String,
    /// Up to four suggested answers the user can pick.
    #[serde(default)]
    #[schemars(length(max = 4))]
    pub suggestions: Vec<String>,
}

/// The `ask_followup_question` tool.
#[derive(Debug)]
pub struct AskFollowupQuestion;

impl TypedTool for AskFollowupQuestion {
    type Params = Params;
    const NAME: &'static str = "ask_followup_question";
    const DESCRIPTION: &'static str = "Ask the user a question when you need information to go on. Offer up to \
        four concrete suggested answers. The user's answer is the result.";
    const KIND: ToolKind = ToolKind::Interaction;

    /// Touches no file and runs no command.
    fn subject(_p: &Params) -> Subject {
        Subject::default()
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        if p.question.trim().is_empty() {
            return Err(ToolError::new("the question is empty"));
        }
        if p.suggestions.len() > 4 {
            return Err(ToolError::new("at most four suggestions"));
        }
        let answer = ctx.interact.ask(p.question, p.suggestions).await?;
        Ok(ToolOutput::text(format!("The user answered: {answer}")))
    }
}
