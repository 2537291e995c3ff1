//! `git_commit`: records the workspace's changes in a commit (see
//! [`super::git`]). Asks by default; the approval shows the diff being
//! committed, computed on a scratch copy of the index so that previewing
//! changes nothing.
//!
//! What is committed: with `paths`, those files as they are now (new files
//! included), and nothing else; without, what is staged, or, when nothing
//! is, every change to tracked files in the workspace (`git commit -a`
//! limited to it). In a workspace inside a larger repository, a commit
//! refuses to take files staged outside the workspace. Hooks do not run
//! (they are code from the repository, outside the sandbox).

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

use super::git::{self, Repo, pathspecs};
use super::{PreviewContext, Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};
use crate::domain::EditPreview;
use crate::workspace::Workspace;

/// Parameters of `git_commit`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The commit message: a short subject line, then optionally a blank
    /// line and a body.
    pub message: String,
    /// The files or directories to commit as they are now (new files
    /// included), relative to the workspace root. Without: what is staged,
    /// or every change to tracked files when nothing is staged.
    #[serde(default)]
    pub paths: Option<Vec<String>>,
}

/// The `git_commit` tool.
#[derive(Debug)]
pub struct GitCommit;

/// Runs a git command to completion (for the few quick steps of a commit).
fn git(repo_root: &Path, index: Option<&Path>, args: &[&str]) -> Result<String, ToolError> {
    let mut c = git::command(repo_root);
    c.args(args);
    if let Some(i) = index {
        c.env("GIT_INDEX_FILE", i);
    }
    let out = c
        .output()
        .map_err(|e| ToolError::new(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let text = if err.trim().is_empty() {
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else {
            err.into_owned()
        };
        return Err(ToolError::new(format!(
            "git {} failed: {}",
            args.first().copied().unwrap_or_default(),
            text.trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What a commit takes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// These paths as they are.
    Paths(Vec<String>),
    /// What is staged.
    Staged,
    /// Every change to tracked files in the workspace.
    Tracked,
}

/// Decides what a commit takes, and stages it in `index` (the repository's
/// own, or a scratch copy for the preview).
fn stage(
    ws: &Workspace,
    repo: &Repo,
    index: Option<&Path>,
    paths: Option<&[String]>,
) -> Result<Plan, ToolError> {
    let root = &repo.root;
    if let Some(paths) = paths.filter(|p| !p.is_empty()) {
        let specs = pathspecs(ws, paths)?;
        let mut args = vec!["add", "-A", "--"];
        args.extend(specs.iter().map(String::as_str));
        git(root, index, &args)?;
        return Ok(Plan::Paths(specs));
    }
    let inside = git(
        root,
        index,
        &["diff", "--cached", "--name-only", "--relative", "--", "."],
    )?;
    let all = git(root, index, &["diff", "--cached", "--name-only"])?;
    if all.lines().count() > inside.lines().count() {
        return Err(ToolError::new(format!(
            "Refused: files outside the workspace are staged in the repository at {} \
             (a commit would take them too). Commit with paths, or ask the user to unstage them.",
            repo.top.display()
        )));
    }
    if !inside.trim().is_empty() {
        return Ok(Plan::Staged);
    }
    git(root, index, &["add", "-u", "--", "."])?;
    Ok(Plan::Tracked)
}

/// The scratch copy of the index a preview stages in; removed on drop.
struct ScratchIndex(PathBuf);

impl Drop for ScratchIndex {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn scratch_index(repo: &Repo) -> Result<ScratchIndex, ToolError> {
    let real = git(
        &repo.root,
        None,
        &["rev-parse", "--path-format=absolute", "--git-path", "index"],
    )?;
    let real = PathBuf::from(real.trim_end_matches('\n'));
    let scratch =
        std::env::temp_dir().join(format!("codelab-index-{}", uuid::Uuid::now_v7().simple()));
    if real.exists() {
        std::fs::copy(&real, &scratch)
            .map_err(|e| ToolError::new(format!("cannot copy the git index: {e}")))?;
    }
    Ok(ScratchIndex(scratch))
}

/// The diff a commit would record: staged in a scratch index.
fn preview_diff(ws: &Workspace, paths: Option<&[String]>) -> Result<String, ToolError> {
    let repo = git::open(ws)?;
    let scratch = scratch_index(&repo)?;
    let plan = stage(ws, &repo, Some(&scratch.0), paths)?;
    let mut args = vec![
        "diff",
        "--cached",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--relative",
        "--",
    ];
    let specs = match &plan {
        Plan::Paths(specs) => specs.clone(),
        Plan::Staged | Plan::Tracked => vec![".".to_owned()],
    };
    args.extend(specs.iter().map(String::as_str));
    let diff = git(&repo.root, Some(&scratch.0), &args)?;
    Ok(git::hide_ignored(ws, &diff).0)
}

impl TypedTool for GitCommit {
    type Params = Params;
    const NAME: &'static str = "git_commit";
    const DESCRIPTION: &'static str = "Commit changes in the workspace's git repository with a \
        message. With paths: those files as they are now (new files included), nothing else. \
        Without: what is staged, or every change to tracked files when nothing is staged. \
        Never amends or rewrites history.";
    const KIND: ToolKind = ToolKind::Edit;

    /// The paths it commits (the whole workspace without).
    fn subject(p: &Params) -> Subject {
        match &p.paths {
            Some(paths) if !paths.is_empty() => Subject::paths(paths.iter().cloned()),
            _ => Subject::paths([".".to_owned()]),
        }
    }

    /// The diff being committed.
    fn preview(p: &Params, at: &PreviewContext<'_>) -> Result<Option<EditPreview>, ToolError> {
        let diff = preview_diff(at.workspace, p.paths.as_deref())?;
        Ok(Some(EditPreview {
            diff,
            files: Vec::new(),
        }))
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        if p.message.trim().is_empty() {
            return Err(ToolError::new("the commit message is empty"));
        }
        let ws = ctx.workspace()?.clone();
        if ctx.cancel.is_cancelled() {
            return Err(ToolError::new("cancelled"));
        }
        // A few quick git steps; they run to the end once started, so a
        // commit is never left half made.
        tokio::task::spawn_blocking(move || {
            let repo = git::open(&ws)?;
            let plan = stage(&ws, &repo, None, p.paths.as_deref())?;
            let mut args = vec!["commit", "--no-verify", "--no-edit", "-m", &p.message];
            let specs;
            if let Plan::Paths(s) = &plan {
                specs = s.clone();
                args.push("--");
                args.extend(specs.iter().map(String::as_str));
            }
            let out = git(&repo.root, None, &args)?;
            let what = match plan {
                Plan::Paths(_) => "the given paths",
                Plan::Staged => "the staged changes",
                Plan::Tracked => "every change to tracked files",
            };
            Ok(ToolOutput::text(format!(
                "Committed {what}.\n{}",
                out.trim_end()
            )))
        })
        .await
        .map_err(|e| ToolError::new(format!("the commit did not finish: {e}")))?
    }
}
