//! `write_file`: creates or replaces a whole file, through the editor when it
//! applies edits (so undo works), else atomically on disk.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{FileEdit, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};

/// Parameters of `write_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The file's path, relative to the workspace root. Parent directories are created.
    pub path: String,
    /// The complete new content of the file.
    pub content: String,
}

/// The `write_file` tool.
#[derive(Debug)]
pub struct WriteFile;

impl TypedTool for WriteFile {
    type Params = Params;
    const NAME: &'static str = "write_file";
    const DESCRIPTION: &'static str = "Create a file or replace its whole content. Prefer apply_diff for changes \
        to existing files: write_file rewrites everything.";
    const KIND: ToolKind = ToolKind::Edit;

    fn edit_paths(p: &Params) -> Vec<String> {
        vec![p.path.clone()]
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let ws = ctx.workspace()?;
        let abs = ws.resolve_writable(&p.path)?;
        let shown = ws.relative(&abs);
        if abs.is_dir() {
            return Err(ToolError::new(format!("{shown} is a directory")));
        }
        let old = ctx
            .current_text(&abs, &shown)
            .or_else(|e| if abs.exists() { Err(e) } else { Ok(None) })?;
        let created = old.is_none();
        if old.as_deref() == Some(p.content.as_str()) {
            return Ok(ToolOutput::text(format!(
                "{shown} already has this content; nothing changed."
            )));
        }
        let lines = p.content.lines().count();
        ctx.commit_edit(
            FileEdit {
                path: abs,
                old_text: old,
                new_text: p.content,
            },
            &shown,
        )
        .await?;
        Ok(ToolOutput::text(if created {
            format!("Created {shown} ({lines} lines).")
        } else {
            format!("Replaced the content of {shown} ({lines} lines).")
        }))
    }
}
