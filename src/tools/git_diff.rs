//! `git_diff`: the working tree's changes, the staged ones, or a commit
//! range's, optionally for one path (see [`super::git`]).

use schemars::JsonSchema;
use serde::Deserialize;

use super::git::{Repo, check_range, pathspecs, present_diff};
use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};

/// Parameters of `git_diff`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Show the staged changes (the index against HEAD) rather than the
    /// unstaged ones (default false).
    #[serde(default)]
    pub staged: Option<bool>,
    /// Only this file or directory, relative to the workspace root.
    #[serde(default)]
    pub path: Option<String>,
    /// A commit range (`main..feature`, `HEAD~3..HEAD`), or one commit to
    /// compare the working tree with (`HEAD~1`). Not with `staged`.
    #[serde(default)]
    pub range: Option<String>,
}

/// The `git_diff` tool.
#[derive(Debug)]
pub struct GitDiff;

impl TypedTool for GitDiff {
    type Params = Params;
    const NAME: &'static str = "git_diff";
    const DESCRIPTION: &'static str = "Show a git diff of the workspace: unstaged changes by default, \
        staged ones with staged, or between commits with range (`A..B`, or one commit to compare the \
        working tree with). Optionally limited to one path. Long diffs are truncated.";
    const KIND: ToolKind = ToolKind::Read;

    /// The path it diffs (the whole workspace by default).
    fn subject(p: &Params) -> Subject {
        Subject::paths([p.path.clone().unwrap_or_else(|| ".".to_owned())])
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let ws = ctx.workspace()?;
        let staged = p.staged.unwrap_or(false);
        if staged && p.range.is_some() {
            return Err(ToolError::new(
                "give either staged or range, not both: staged compares the index with HEAD",
            ));
        }
        if let Some(r) = &p.range {
            check_range(r)?;
        }
        let specs = pathspecs(ws, p.path.as_slice())?;
        let repo = Repo::of(ctx)?;
        let cap = ctx.limits.output_bytes;
        let mut args = vec![
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--relative",
        ];
        if staged {
            args.push("--cached");
        }
        if let Some(r) = &p.range {
            args.push(r);
        }
        args.push("--");
        args.extend(specs.iter().map(String::as_str));
        let out = repo.run(ctx, &args, cap).await?.ok("git diff")?;
        let empty = match (&p.range, staged) {
            (Some(r), _) => format!("No differences for {r}."),
            (None, true) => "Nothing is staged.".to_owned(),
            (None, false) => "No unstaged changes.".to_owned(),
        };
        Ok(ToolOutput::text(present_diff(ws, &out, cap, &empty)))
    }
}
