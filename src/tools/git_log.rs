//! `git_log`: the commit history, optionally of one path (see [`super::git`]).

use schemars::JsonSchema;
use serde::Deserialize;

use super::git::{Repo, capped_note, check_rev, pathspecs};
use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};

/// The most commits one call shows.
pub const MAX_LIMIT: usize = 200;

/// Parameters of `git_log`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Only commits that touch this file or directory, relative to the
    /// workspace root.
    #[serde(default)]
    pub path: Option<String>,
    /// How many commits, newest first (default 20, at most 200).
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<usize>,
    /// Start from this commit or branch (default HEAD).
    #[serde(default)]
    pub revision: Option<String>,
}

/// The `git_log` tool.
#[derive(Debug)]
pub struct GitLog;

impl TypedTool for GitLog {
    type Params = Params;
    const NAME: &'static str = "git_log";
    const DESCRIPTION: &'static str = "Show the git history of the workspace, newest first: each \
        commit's hash, date, author and subject. Optionally only commits touching one path, from \
        another revision, and how many (limit, default 20).";
    const KIND: ToolKind = ToolKind::Read;

    /// The path whose history it shows (the whole workspace by default).
    fn subject(p: &Params) -> Subject {
        Subject::paths([p.path.clone().unwrap_or_else(|| ".".to_owned())])
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let ws = ctx.workspace()?;
        let limit = p.limit.unwrap_or(20).clamp(1, MAX_LIMIT);
        if let Some(r) = &p.revision {
            check_rev(r)?;
        }
        let specs = pathspecs(ws, p.path.as_slice())?;
        let repo = Repo::of(ctx)?;
        let cap = ctx.limits.output_bytes;
        let n = format!("-n{limit}");
        let mut args = vec![
            "log",
            "--no-color",
            "--no-decorate",
            "--date=short",
            "--format=%h %ad %an: %s",
            &n,
        ];
        if let Some(r) = &p.revision {
            args.push(r);
        }
        args.push("--");
        args.extend(specs.iter().map(String::as_str));
        let out = repo.run(ctx, &args, cap).await?;
        if !out.success && out.stderr.contains("does not have any commits") {
            return Ok(ToolOutput::text("No commits yet."));
        }
        let out = out.ok("git log")?;
        let mut s = if out.stdout.trim().is_empty() {
            "No commits.".to_owned()
        } else {
            out.stdout.clone()
        };
        if out.truncated {
            s.push_str(&capped_note(cap, "Ask for fewer commits."));
        } else if out.stdout.lines().count() == limit {
            s.push_str(&format!(
                "[the {limit} newest shown; older commits may exist: raise limit (at most {MAX_LIMIT}) or give a revision]\n"
            ));
        }
        Ok(ToolOutput::text(s))
    }
}
