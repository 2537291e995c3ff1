//! `git_status`: the workspace's branch and changed files (see [`super::git`]
//! for how git runs and what it may touch).

use schemars::JsonSchema;
use serde::Deserialize;

use super::git::{Repo, capped_note};
use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};

/// Parameters of `git_status`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// The `git_status` tool.
#[derive(Debug)]
pub struct GitStatus;

impl TypedTool for GitStatus {
    type Params = Params;
    const NAME: &'static str = "git_status";
    const DESCRIPTION: &'static str = "Show the git status of the workspace: the current branch, \
        its upstream, and the changed, staged and untracked files (short format: XY path, X staged, \
        Y unstaged, ?? untracked).";
    const KIND: ToolKind = ToolKind::Read;

    /// The whole workspace.
    fn subject(_: &Params) -> Subject {
        Subject::paths([".".to_owned()])
    }

    async fn run(&self, ctx: &ToolContext, _: Params) -> Result<ToolOutput, ToolError> {
        let ws = ctx.workspace()?;
        let repo = Repo::of(ctx)?;
        let cap = ctx.limits.output_bytes;
        let out = repo
            .run(
                ctx,
                &[
                    "status",
                    "--short",
                    "--branch",
                    "--untracked-files=all",
                    "--",
                    ".",
                ],
                cap,
            )
            .await?
            .ok("git status")?;
        let mut lines = out.stdout.lines();
        let branch = lines.next().unwrap_or_default().trim_start_matches("## ");
        let mut files = Vec::new();
        let mut hidden = 0;
        for line in lines {
            // `XY path` or `XY old -> new`.
            let path = line.get(3..).unwrap_or_default();
            let last = path.rsplit(" -> ").next().unwrap_or(path).trim_matches('"');
            if ws.is_ignored(&ws.root().join(last)) {
                hidden += 1;
            } else {
                files.push(line);
            }
        }
        let mut s = format!("On branch {branch}\n");
        if repo.is_larger() {
            s.push_str(&format!(
                "(the repository at {} is larger than the workspace; only the workspace's files are shown, relative to it)\n",
                repo.top.display()
            ));
        }
        if files.is_empty() {
            s.push_str("Nothing to commit: the working tree is clean.\n");
        } else {
            s.push_str(&files.join("\n"));
            s.push('\n');
        }
        if hidden > 0 {
            s.push_str(&format!(
                "[{hidden} file(s) hidden by .codelabignore left out]\n"
            ));
        }
        if out.truncated {
            s.push_str(&capped_note(
                cap,
                "Too many changed files to list them all.",
            ));
        }
        Ok(ToolOutput::text(s))
    }
}
