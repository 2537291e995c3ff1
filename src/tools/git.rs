//! What the git tools share: finding the workspace's repository, running the
//! `git` command line confined to the workspace, and capping what it prints.
//!
//! **Why the git command line rather than `gix`.** The tools commit, switch
//! branches (a checkout that rewrites the working tree) and render diffs
//! exactly as the user's own git does, honouring the repository's
//! configuration (attributes, ignore rules, rename detection); `gix` still
//! lacks a porcelain for commit and checkout, and would add a large
//! dependency tree to a crate that already builds slowly. git is installed
//! wherever a repository is.
//!
//! **Confinement.** Every command runs in the workspace root with every
//! `GIT_*` variable of this process removed (so nothing points git at another
//! repository or index), with literal pathspecs (a path the model gives is a
//! path, never pathspec magic such as `:(top)`), and limited to the
//! workspace's paths (`-- .` or the paths given, which the gate has confined
//! to the workspace). A workspace inside a larger repository works: diffs,
//! logs and status show the workspace's paths only, and commits take only
//! them. Nothing a repository configures runs: no hooks, no fsmonitor, no
//! external diff or textconv drivers, no pager. Options are never built from
//! the model's text: revisions are checked (no leading `-`, no whitespace, no
//! `:`), and no tool passes `--force` or rewrites history.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncReadExt;

use super::{ToolContext, ToolError};
use crate::workspace::Workspace;

/// The repository a workspace is in, as the git tools use it.
#[derive(Debug, Clone)]
pub struct Repo {
    /// The workspace root: where every command runs.
    pub root: PathBuf,
    /// The repository's top level (the workspace root or a parent of it).
    pub top: PathBuf,
}

/// What a git command printed.
#[derive(Debug)]
pub struct GitOutput {
    /// Standard output, as text, at most the cap.
    pub stdout: String,
    /// Whether standard output went past the cap (and was cut there).
    pub truncated: bool,
    /// Standard error, as text.
    pub stderr: String,
    /// Whether the command succeeded.
    pub success: bool,
}

impl GitOutput {
    /// Standard output, or the error git gave.
    ///
    /// # Errors
    /// When git failed: its standard error (or output) as the tool's error.
    pub fn ok(self, what: &str) -> Result<Self, ToolError> {
        if self.success {
            return Ok(self);
        }
        let why = if self.stderr.trim().is_empty() {
            self.stdout.trim()
        } else {
            self.stderr.trim()
        };
        Err(ToolError::new(format!("{what} failed: {why}")))
    }
}

/// The arguments every command gets before its own: nothing the repository
/// configures runs, nothing pages or colours, paths are literal.
const BASE_ARGS: [&str; 12] = [
    "--no-pager",
    "--literal-pathspecs",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "color.ui=false",
    "-c",
    "core.quotePath=false",
    "-c",
    "advice.statusHints=false",
];

/// A `git` command in `dir`, with this process's `GIT_*` variables removed.
pub fn command(dir: &Path) -> std::process::Command {
    let mut c = std::process::Command::new("git");
    c.current_dir(dir).args(BASE_ARGS).stdin(Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("GIT_") && !matches!(k.to_str(), Some("GIT_EXEC_PATH")) {
            c.env_remove(k);
        }
    }
    c.env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_EDITOR", "true");
    c
}

/// The repository the workspace is in.
///
/// # Errors
/// When git is not installed, or the workspace is in no repository.
pub fn open(ws: &Workspace) -> Result<Repo, ToolError> {
    let out = command(ws.root())
        .args(["rev-parse", "--show-toplevel"])
        .output()
        .map_err(|e| ToolError::new(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(ToolError::new(format!(
            "The workspace {} is not in a git repository, so git tools cannot be used here.",
            ws.root().display()
        )));
    }
    let top = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n'));
    let top = top.canonicalize().unwrap_or(top);
    Ok(Repo {
        root: ws.root().to_path_buf(),
        top,
    })
}

impl Repo {
    /// The repository of the call's workspace.
    ///
    /// # Errors
    /// No workspace, no git, or no repository.
    pub fn of(ctx: &ToolContext) -> Result<Self, ToolError> {
        open(ctx.workspace()?)
    }

    /// Whether the repository is larger than the workspace (the workspace is
    /// a subdirectory of it).
    pub fn is_larger(&self) -> bool {
        self.top != self.root
    }

    /// Runs git with `args` in the workspace root; standard output is cut at
    /// `cap` bytes (the command is stopped there). Cancelled with the call.
    ///
    /// # Errors
    /// When git cannot start, or the call is cancelled.
    pub async fn run(
        &self,
        ctx: &ToolContext,
        args: &[&str],
        cap: usize,
    ) -> Result<GitOutput, ToolError> {
        self.run_with(ctx, command(&self.root).args(args), cap)
            .await
    }

    /// Runs a prepared command (see [`command`]), as [`Self::run`].
    ///
    /// # Errors
    /// When git cannot start, or the call is cancelled.
    pub async fn run_with(
        &self,
        ctx: &ToolContext,
        cmd: &mut std::process::Command,
        cap: usize,
    ) -> Result<GitOutput, ToolError> {
        let mut cmd = tokio::process::Command::from(std::mem::replace(
            cmd,
            std::process::Command::new("git"),
        ));
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| ToolError::new(format!("cannot run git: {e}")))?;
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let read = async {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let read_out = async {
                if let Some(s) = stdout.as_mut() {
                    let _ = s.take(cap as u64 + 1).read_to_end(&mut out).await;
                }
                if out.len() > cap {
                    // Enough: stop it rather than read the rest (it would
                    // block on a full pipe, and its stderr never end).
                    let _ = child.start_kill();
                }
            };
            let read_err = async {
                if let Some(s) = stderr.as_mut() {
                    let _ = s.take(64 * 1024).read_to_end(&mut err).await;
                }
            };
            tokio::join!(read_out, read_err);
            (out, err)
        };
        let cancelled = ctx.cancel.clone();
        let (mut out, err) = tokio::select! {
            r = read => r,
            () = cancelled.cancelled() => {
                let _ = child.start_kill();
                return Err(ToolError::new("cancelled"));
            }
        };
        let truncated = out.len() > cap;
        out.truncate(cap);
        drop(stdout);
        drop(stderr);
        let status = tokio::select! {
            s = child.wait() => s.map_err(|e| ToolError::new(format!("git failed: {e}")))?,
            () = ctx.cancel.cancelled() => {
                let _ = child.start_kill();
                return Err(ToolError::new("cancelled"));
            }
        };
        let mut stdout = String::from_utf8_lossy(&out).into_owned();
        if truncated {
            // Cut at a line's end, so no line is half shown.
            if let Some(end) = stdout.rfind('\n') {
                stdout.truncate(end + 1);
            }
        }
        Ok(GitOutput {
            stdout,
            truncated,
            stderr: String::from_utf8_lossy(&err).into_owned(),
            success: truncated || status.success(),
        })
    }
}

/// The note that tells the model its output was cut.
pub fn capped_note(cap: usize, narrow: &str) -> String {
    format!(
        "\n[output truncated at {} KiB; not everything is shown. {narrow}]",
        cap / 1024
    )
}

/// Checks a revision the model gave (`HEAD~2`, `main`, `a1b2c3`, `v1.0^`):
/// it must not read as an option, name a file (`rev:path`) or hold spaces.
///
/// # Errors
/// Why it is refused.
pub fn check_rev(rev: &str) -> Result<(), ToolError> {
    let bad = rev.is_empty()
        || rev.starts_with('-')
        || rev.contains(':')
        || rev.contains("..")
        || rev.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad {
        return Err(ToolError::new(format!(
            "{rev:?} is not a revision this tool accepts (a commit, branch or tag name such as \
             HEAD~1, main or a1b2c3d; no options, no `rev:path`)"
        )));
    }
    Ok(())
}

/// Checks a range (`A..B`, `A...B`) or a single revision.
///
/// # Errors
/// Why it is refused.
pub fn check_range(range: &str) -> Result<(), ToolError> {
    let parts: Vec<&str> = if let Some((a, b)) = range.split_once("...") {
        vec![a, b]
    } else if let Some((a, b)) = range.split_once("..") {
        vec![a, b]
    } else {
        vec![range]
    };
    let single = parts.len() == 1;
    for p in parts {
        // `A..` and `..B` mean HEAD on the empty side.
        if single || !p.is_empty() {
            check_rev(p)?;
        }
    }
    Ok(())
}

/// The workspace-relative paths a call names, for git (`.` for the whole
/// workspace), after the gate confined them.
///
/// # Errors
/// A path that leads outside the workspace or is hidden by
/// `.codelabignore`.
pub fn pathspecs(ws: &Workspace, paths: &[String]) -> Result<Vec<String>, ToolError> {
    if paths.is_empty() {
        return Ok(vec![".".to_owned()]);
    }
    paths
        .iter()
        .map(|p| {
            let abs = ws.resolve_visible(p)?;
            let rel = ws.relative(&abs);
            Ok(if rel.is_empty() { ".".to_owned() } else { rel })
        })
        .collect()
}

/// Drops from a diff the files `.codelabignore` hides (and git's internals);
/// returns the diff and how many files were left out. Paths in the diff are
/// relative to the workspace (`--relative`).
pub fn hide_ignored(ws: &Workspace, diff: &str) -> (String, usize) {
    let mut out = String::with_capacity(diff.len());
    let mut hidden = 0;
    let mut keep = true;
    for line in diff.split_inclusive('\n') {
        if let Some(header) = line.strip_prefix("diff --git ") {
            keep = !diff_paths(header.trim_end())
                .iter()
                .any(|p| ws.is_ignored(&ws.root().join(p)));
            if !keep {
                hidden += 1;
            }
        }
        if keep {
            out.push_str(line);
        }
    }
    (out, hidden)
}

/// The paths of a `diff --git a/X b/Y` header.
fn diff_paths(header: &str) -> Vec<String> {
    let unquote = |s: &str| s.trim_matches('"').to_owned();
    // The usual case: the same path on both sides.
    let n = header.len();
    if n >= 5 && (n - 5).is_multiple_of(2) {
        let len = (n - 5) / 2;
        let a = &header.get(2..2 + len).unwrap_or_default();
        let b = &header.get(len + 5..).unwrap_or_default();
        if a == b && header.starts_with("a/") {
            return vec![unquote(a)];
        }
    }
    match header.split_once(" b/") {
        Some((a, b)) => vec![
            unquote(a.trim_start_matches("a/").trim_start_matches("\"a/")),
            unquote(b),
        ],
        None => Vec::new(),
    }
}

/// A diff with ignored files left out and the notes the model needs: empty,
/// capped, files hidden.
pub fn present_diff(ws: &Workspace, out: &GitOutput, cap: usize, empty: &str) -> String {
    let (text, hidden) = hide_ignored(ws, &out.stdout);
    let mut s = if text.trim().is_empty() && !out.truncated {
        empty.to_owned()
    } else {
        text
    };
    if hidden > 0 {
        s.push_str(&format!(
            "\n[{hidden} file(s) hidden by .codelabignore left out]"
        ));
    }
    if out.truncated {
        s.push_str(&capped_note(
            cap,
            "Ask for one path or a narrower range to see the rest.",
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_that_read_as_options_or_files_are_refused() {
        for ok in [
            "HEAD",
            "HEAD~2",
            "main",
            "a1b2c3d",
            "v1.0^",
            "@{u}",
            "origin/main",
        ] {
            assert!(check_rev(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "--output=/tmp/x",
            "-p",
            "HEAD:secret",
            "a b",
            "a..b",
            "x\n",
        ] {
            assert!(check_rev(bad).is_err(), "{bad:?}");
        }
        for ok in ["main..feature", "HEAD~3..HEAD", "a...b", "HEAD~1", "main.."] {
            assert!(check_range(ok).is_ok(), "{ok}");
        }
        for bad in ["--all", "a..--exec=x", "a..b:c", "a b..c"] {
            assert!(check_range(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn diff_headers_name_their_paths() {
        assert_eq!(diff_paths("a/src/x.rs b/src/x.rs"), ["src/x.rs"]);
        assert_eq!(diff_paths("a/a b/c b/a b/c"), ["a b/c"]);
        assert_eq!(diff_paths("a/old.rs b/new.rs"), ["old.rs", "new.rs"]);
    }
}
