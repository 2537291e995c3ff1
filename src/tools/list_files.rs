//! `list_files`: a directory's entries, honouring `.gitignore`, `.ignore` and
//! `.codelabignore`.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};
use crate::workspace::IGNORE_FILE;

/// Parameters of `list_files`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The directory, relative to the workspace root (default: the root).
    #[serde(default)]
    pub path: Option<String>,
    /// List subdirectories too (default false).
    #[serde(default)]
    pub recursive: Option<bool>,
}

/// The `list_files` tool.
#[derive(Debug)]
pub struct ListFiles;

/// Walks `dir` with ripgrep's rules; returns relative paths, directories marked with `/`.
pub fn walk(dir: &std::path::Path, recursive: bool) -> ignore::Walk {
    walker(dir, recursive).build()
}

/// The walker configuration shared by `list_files` and `search_in_code`.
pub fn walker(dir: &std::path::Path, recursive: bool) -> ignore::WalkBuilder {
    let mut b = ignore::WalkBuilder::new(dir);
    b.hidden(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .ignore(true)
        .parents(true)
        .require_git(false)
        .add_custom_ignore_filename(IGNORE_FILE)
        .sort_by_file_name(|a, b| a.cmp(b));
    if !recursive {
        b.max_depth(Some(1));
    }
    // Never descend into .git; it is noise for the model.
    b.filter_entry(|e| e.file_name() != ".git");
    b
}

impl TypedTool for ListFiles {
    type Params = Params;
    const NAME: &'static str = "list_files";
    const DESCRIPTION: &'static str = "List the files and directories in a directory of the workspace \
        (directories end with /). Ignored files are left out. Set recursive to list the whole tree.";
    const KIND: ToolKind = ToolKind::Read;

    /// The directory it lists (the root by default).
    fn subject(p: &Params) -> Subject {
        Subject::paths([p.path.clone().unwrap_or_else(|| ".".to_owned())])
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let ws = ctx.workspace()?;
        let dir = ws.resolve_visible(p.path.as_deref().unwrap_or(""))?;
        let shown = ws.relative(&dir);
        let shown = if shown.is_empty() {
            ".".to_owned()
        } else {
            shown
        };
        if !dir.is_dir() {
            return Err(ToolError::new(format!("{shown} is not a directory")));
        }
        let recursive = p.recursive.unwrap_or(false);
        let cap = ctx.limits.list_entries;
        let mut entries = Vec::new();
        let mut total = 0usize;
        for entry in walk(&dir, recursive) {
            if ctx.cancel.is_cancelled() {
                return Err(ToolError::new("cancelled"));
            }
            let Ok(entry) = entry else { continue };
            if entry.depth() == 0 {
                continue;
            }
            let path = entry.path();
            if ws.is_ignored(path) {
                continue;
            }
            total += 1;
            if entries.len() < cap {
                let mut rel = ws.relative(path);
                if entry.file_type().is_some_and(|t| t.is_dir()) {
                    rel.push('/');
                }
                entries.push(rel);
            }
        }
        if total == 0 {
            return Ok(ToolOutput::text(format!(
                "{shown} is empty (or everything in it is ignored)."
            )));
        }
        let mut out = entries.join("\n");
        if total > entries.len() {
            out.push_str(&format!(
                "\n\n[{} more entries not shown; list a subdirectory to see them]",
                total - entries.len()
            ));
        }
        Ok(ToolOutput::text(out))
    }
}
