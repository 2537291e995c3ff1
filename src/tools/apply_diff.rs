//! `apply_diff`: SEARCH/REPLACE blocks applied to one file; each block is
//! reported on its own, and what applied goes out as one edit.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{FileEdit, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};
use crate::diff::{self, BlockResult, Strategy};

/// Parameters of `apply_diff`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The file's path, relative to the workspace root.
    pub path: String,
    /// One or more blocks: `<<<<<<< SEARCH`, optional `:start_line:N` and `-------`,
    /// the exact lines to find, `=======`, the new lines, `>>>>>>> REPLACE`.
    pub diff: String,
}

/// The `apply_diff` tool.
#[derive(Debug)]
pub struct ApplyDiff;

impl TypedTool for ApplyDiff {
    type Params = Params;
    const NAME: &'static str = "apply_diff";
    const DESCRIPTION: &'static str = "Change an existing file with SEARCH/REPLACE blocks:\n\
        <<<<<<< SEARCH\n:start_line:N\n-------\n[exact lines to find]\n=======\n[new lines]\n>>>>>>> REPLACE\n\
        Several blocks may follow each other. SEARCH must match the file's current lines exactly \
        (read the file first); :start_line: says where to look. Each block succeeds or fails on its own.";
    const KIND: ToolKind = ToolKind::Edit;

    fn edit_paths(p: &Params) -> Vec<String> {
        vec![p.path.clone()]
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let ws = ctx.workspace()?;
        let abs = ws.resolve_visible(&p.path)?;
        let shown = ws.relative(&abs);
        let blocks = diff::parse(&p.diff)
            .map_err(|e| ToolError::new(format!("the diff is malformed: {e}")))?;
        let text = ctx.current_text(&abs, &shown)?.ok_or_else(|| {
            ToolError::new(format!(
                "{shown} does not exist; use write_file to create it"
            ))
        })?;
        let (new_text, results) = diff::apply(&text, &blocks, ctx.limits.diff_threshold);
        let applied = results
            .iter()
            .filter(|r| matches!(r, BlockResult::Applied { .. }))
            .count();
        let mut report = Vec::new();
        for (i, r) in results.iter().enumerate() {
            report.push(match r {
                BlockResult::Applied { line, strategy } => format!(
                    "Block {}: applied at line {line}{}.",
                    i + 1,
                    match strategy {
                        Strategy::ExactAtHint | Strategy::Exact => String::new(),
                        Strategy::Whitespace => " (ignoring whitespace)".to_owned(),
                        Strategy::Fuzzy(s) => format!(" (fuzzy, {:.0}% similar)", s * 100.0),
                    }
                ),
                BlockResult::Failed { reason, best } => {
                    let mut s = format!("Block {}: FAILED: {reason}.", i + 1);
                    if let Some((line, sim, text)) = best {
                        s.push_str(&format!(
                            " Closest text ({:.0}% similar) at line {line}:\n{}",
                            sim * 100.0,
                            text.lines()
                                .map(|l| format!("  {l}"))
                                .collect::<Vec<_>>()
                                .join("\n")
                        ));
                    }
                    s
                }
            });
        }
        let report = report.join("\n");
        if applied == 0 {
            return Err(ToolError::new(format!(
                "No change made to {shown}.\n{report}"
            )));
        }
        ctx.commit_edit(
            FileEdit {
                path: abs,
                old_text: Some(text),
                new_text,
            },
            &shown,
        )
        .await?;
        let summary = if applied == results.len() {
            format!("Applied {applied} block(s) to {shown}.")
        } else {
            format!(
                "Applied {applied} of {} blocks to {shown}; fix and resend the failed ones.",
                results.len()
            )
        };
        Ok(ToolOutput::text(format!("{summary}\n{report}")))
    }
}
