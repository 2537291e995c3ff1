//! `git_branch`: lists, creates and switches branches (see [`super::git`]).
//! Listing changes nothing and runs without asking; creating and switching
//! ask by default. Switching is refused while the working tree has
//! uncommitted changes (nothing of the user's is carried over or lost), and
//! in a workspace inside a larger repository (a switch would change files
//! outside the workspace).

use schemars::JsonSchema;
use serde::Deserialize;

use super::git::{Repo, check_rev};
use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};

/// What `git_branch` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BranchAction {
    /// List the local branches, the current one marked.
    #[default]
    List,
    /// Create a branch (without switching to it).
    Create,
    /// Switch to an existing branch.
    Switch,
}

/// Parameters of `git_branch`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// list (default), create or switch.
    #[serde(default)]
    pub action: BranchAction,
    /// The branch to create or switch to.
    #[serde(default)]
    pub name: Option<String>,
    /// create: the commit the new branch starts at (default HEAD).
    #[serde(default)]
    pub start_point: Option<String>,
}

/// The `git_branch` tool.
#[derive(Debug)]
pub struct GitBranch;

/// Checks a branch name: git's own rules, and never an option.
async fn check_name(repo: &Repo, ctx: &ToolContext, name: &str) -> Result<(), ToolError> {
    check_rev(name)?;
    let out = repo
        .run(ctx, &["check-ref-format", "--branch", name], 4096)
        .await?;
    if !out.success {
        return Err(ToolError::new(format!(
            "{name:?} is not a valid branch name"
        )));
    }
    Ok(())
}

impl TypedTool for GitBranch {
    type Params = Params;
    const NAME: &'static str = "git_branch";
    const DESCRIPTION: &'static str = "List the git branches (action list, the default), create one \
        (action create, with name and optionally start_point; does not switch), or switch to one \
        (action switch, with name; refused while there are uncommitted changes).";
    const KIND: ToolKind = ToolKind::Edit;

    /// The whole workspace; listing changes nothing.
    fn subject(p: &Params) -> Subject {
        Subject {
            read_only: p.action == BranchAction::List,
            ..Subject::paths([".".to_owned()])
        }
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let repo = Repo::of(ctx)?;
        let name = || {
            p.name
                .as_deref()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| ToolError::new("name is required to create or switch a branch"))
        };
        match p.action {
            BranchAction::List => {
                let out = repo
                    .run(
                        ctx,
                        &["branch", "--no-color", "--list", "--format=%(HEAD) %(refname:short) %(objectname:short) %(contents:subject)"],
                        ctx.limits.output_bytes,
                    )
                    .await?
                    .ok("git branch")?;
                let mut s = if out.stdout.trim().is_empty() {
                    "No branches yet (no commit has been made).".to_owned()
                } else {
                    format!("Branches (* marks the current one):\n{}", out.stdout)
                };
                if out.truncated {
                    s.push_str(&super::git::capped_note(
                        ctx.limits.output_bytes,
                        "Too many branches.",
                    ));
                }
                Ok(ToolOutput::text(s))
            }
            BranchAction::Create => {
                let name = name()?;
                check_name(&repo, ctx, name).await?;
                let mut args = vec!["branch", "--no-track", "--", name];
                if let Some(start) = &p.start_point {
                    check_rev(start)?;
                    args.push(start);
                }
                repo.run(ctx, &args, 4096).await?.ok("git branch")?;
                Ok(ToolOutput::text(format!(
                    "Created branch {name}; the current branch did not change (switch to it with action switch)."
                )))
            }
            BranchAction::Switch => {
                let name = name()?;
                check_name(&repo, ctx, name).await?;
                if repo.is_larger() {
                    return Err(ToolError::new(format!(
                        "Refused: the repository at {} is larger than the workspace, and switching \
                         branches would change files outside the workspace. Ask the user to switch.",
                        repo.top.display()
                    )));
                }
                let dirty = repo
                    .run(
                        ctx,
                        &["status", "--porcelain", "--untracked-files=no"],
                        64 * 1024,
                    )
                    .await?
                    .ok("git status")?;
                if !dirty.stdout.trim().is_empty() {
                    let files: Vec<&str> = dirty.stdout.lines().take(20).collect();
                    return Err(ToolError::new(format!(
                        "Refused: the working tree has uncommitted changes, which switching to \
                         {name} could carry over or lose. Commit them first (git_commit), or ask \
                         the user. Changed:\n{}",
                        files.join("\n")
                    )));
                }
                let out = repo
                    .run(ctx, &["switch", "--no-guess", name], 64 * 1024)
                    .await?
                    .ok("git switch")?;
                let said = if out.stderr.trim().is_empty() {
                    out.stdout
                } else {
                    out.stderr
                };
                Ok(ToolOutput::text(format!(
                    "Switched to branch {name}.\n{}",
                    said.trim_end()
                )))
            }
        }
    }
}
