//! `git_show`: one commit, its message and its changes to the workspace
//! (see [`super::git`]).

use schemars::JsonSchema;
use serde::Deserialize;

use super::git::{Repo, check_rev, pathspecs, present_diff};
use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};

/// Parameters of `git_show`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The commit (a hash, branch, tag or `HEAD~N`; default HEAD).
    #[serde(default)]
    pub revision: Option<String>,
    /// Only the changes to this file or directory, relative to the
    /// workspace root.
    #[serde(default)]
    pub path: Option<String>,
}

/// The `git_show` tool.
#[derive(Debug)]
pub struct GitShow;

impl TypedTool for GitShow {
    type Params = Params;
    const NAME: &'static str = "git_show";
    const DESCRIPTION: &'static str = "Show one git commit (default HEAD): its hash, author, date, \
        message and diff, optionally only for one path. Long diffs are truncated.";
    const KIND: ToolKind = ToolKind::Read;

    /// The path whose changes it shows (the whole workspace by default).
    fn subject(p: &Params) -> Subject {
        Subject::paths([p.path.clone().unwrap_or_else(|| ".".to_owned())])
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let ws = ctx.workspace()?;
        let rev = p.revision.as_deref().unwrap_or("HEAD");
        check_rev(rev)?;
        let specs = pathspecs(ws, p.path.as_slice())?;
        let repo = Repo::of(ctx)?;
        let cap = ctx.limits.output_bytes;
        // A commit only: a blob's or tree's hash would show file contents
        // that no path check saw.
        let spec = format!("{rev}^{{commit}}");
        let commit = repo
            .run(
                ctx,
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    "--end-of-options",
                    &spec,
                ],
                4096,
            )
            .await?;
        if !commit.success {
            return Err(ToolError::new(format!(
                "{rev} is not a commit of this repository"
            )));
        }
        let hash = commit.stdout.trim().to_owned();
        let mut args = vec![
            "show",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--relative",
            "--date=iso",
            "--format=commit %H%nAuthor: %an <%ae>%nDate:   %ad%n%n%w(0,4,4)%B",
            &hash,
            "--",
        ];
        args.extend(specs.iter().map(String::as_str));
        let out = repo.run(ctx, &args, cap).await?.ok("git show")?;
        Ok(ToolOutput::text(present_diff(ws, &out, cap, "")))
    }
}
