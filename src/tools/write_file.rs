//! `write_file`: creates or replaces a whole file. An editor that has the
//! file open gets the change in its buffer (so undo works) and saves it; a
//! file no editor has open is written atomically on disk
//! ([`ToolContext::commit_edit`]).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{
    Buffers, FileEdit, PreviewContext, Subject, ToolContext, ToolError, ToolKind, ToolOutput,
    TypedTool, current_text, file_preview,
};
use crate::domain::EditPreview;
use crate::workspace::Workspace;

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

/// The file a call writes: its absolute path, how it is shown, and its
/// current text (the open buffer's, else the disk's; `None` when it is new).
struct Target {
    abs: PathBuf,
    shown: String,
    old: Option<String>,
}

fn target(ws: &Workspace, buffers: &dyn Buffers, path: &str) -> Result<Target, ToolError> {
    let abs = ws.resolve_writable(path)?;
    let shown = ws.relative(&abs);
    if abs.is_dir() {
        return Err(ToolError::new(format!("{shown} is a directory")));
    }
    let old = current_text(buffers, &abs, &shown)
        .or_else(|e| if abs.exists() { Err(e) } else { Ok(None) })?;
    Ok(Target { abs, shown, old })
}

impl TypedTool for WriteFile {
    type Params = Params;
    const NAME: &'static str = "write_file";
    const DESCRIPTION: &'static str = "Create a file or replace its whole content. Prefer apply_diff for changes \
        to existing files: write_file rewrites everything.";
    const KIND: ToolKind = ToolKind::Edit;

    /// The file it writes.
    fn subject(p: &Params) -> Subject {
        Subject::paths([p.path.clone()])
    }

    /// The file's current text (empty when it is new) and the new content.
    fn preview(p: &Params, at: &PreviewContext<'_>) -> Result<Option<EditPreview>, ToolError> {
        let t = target(at.workspace, at.buffers, &p.path)?;
        Ok(Some(file_preview(
            t.shown,
            t.old.unwrap_or_default(),
            p.content.clone(),
        )))
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let Target { abs, shown, old } = target(ctx.workspace()?, &*ctx.buffers, &p.path)?;
        let created = old.is_none();
        if old.as_deref() == Some(p.content.as_str()) {
            return Ok(ToolOutput::text(format!(
                "{shown} already has this content; nothing changed."
            )));
        }
        let lines = p.content.lines().count();
        let (committed, checkpoint) = ctx
            .commit_edit(
                FileEdit {
                    path: abs,
                    new_text: p.content,
                },
                &shown,
            )
            .await?;
        let done = match (created, committed.on_disk()) {
            (true, true) => format!("Created {shown} ({lines} lines)."),
            (false, true) => format!("Replaced the content of {shown} ({lines} lines)."),
            (_, false) => format!("Changed {shown} in the editor ({lines} lines)."),
        };
        Ok(ToolOutput::text(format!(
            "{done}{}{checkpoint}",
            committed.note(&shown)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::testing::OpenBuffers;

    fn preview(
        ws: &Workspace,
        buffers: &OpenBuffers,
        path: &str,
        content: &str,
    ) -> Result<Option<EditPreview>, ToolError> {
        let at = PreviewContext {
            workspace: ws,
            buffers,
            diff_threshold: 1.0,
        };
        WriteFile::preview(
            &Params {
                path: path.into(),
                content: content.into(),
            },
            &at,
        )
    }

    fn workspace() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("docs")).expect("mkdir");
        std::fs::write(dir.path().join("docs/plan.md"), "# Plan\nold\n").expect("write");
        std::fs::write(dir.path().join(".codelabignore"), "*.key\n").expect("write");
        let ws = Workspace::new(dir.path()).expect("workspace");
        (dir, ws)
    }

    #[test]
    fn a_new_file_is_previewed_against_nothing() {
        let (_d, ws) = workspace();
        let p = preview(&ws, &OpenBuffers::default(), "docs/new.md", "hello\n")
            .expect("previews")
            .expect("an edit");
        assert_eq!(p.files.len(), 1);
        assert_eq!(p.files[0].path, "docs/new.md");
        assert_eq!(p.files[0].current, "");
        assert_eq!(p.files[0].proposed, "hello\n");
        assert!(p.diff.contains("+hello"), "{}", p.diff);
        assert!(p.diff.starts_with("--- a/docs/new.md\n+++ b/docs/new.md\n"));
    }

    #[test]
    fn an_existing_file_is_previewed_against_the_disk() {
        let (_d, ws) = workspace();
        let p = preview(
            &ws,
            &OpenBuffers::default(),
            "./docs/plan.md",
            "# Plan\nnew\n",
        )
        .expect("previews")
        .expect("an edit");
        assert_eq!(p.files[0].path, "docs/plan.md", "workspace-relative");
        assert_eq!(p.files[0].current, "# Plan\nold\n");
        assert_eq!(p.files[0].proposed, "# Plan\nnew\n");
        assert!(p.diff.contains("-old\n+new\n"), "{}", p.diff);
    }

    #[test]
    fn an_open_buffer_is_previewed_with_its_unsaved_text() {
        let (_d, ws) = workspace();
        let mut buffers = OpenBuffers::default();
        buffers
            .0
            .insert(ws.root().join("docs/plan.md"), "# Plan\nunsaved\n".into());
        let p = preview(&ws, &buffers, "docs/plan.md", "# Plan\nnew\n")
            .expect("previews")
            .expect("an edit");
        assert_eq!(p.files[0].current, "# Plan\nunsaved\n");
        assert!(p.diff.contains("-unsaved\n+new\n"), "{}", p.diff);
    }

    #[test]
    fn refused_paths_are_errors_not_previews() {
        let (d, ws) = workspace();
        let buffers = OpenBuffers::default();
        let err = preview(&ws, &buffers, "../outside.md", "x").expect_err("outside");
        assert!(err.0.contains("outside the workspace"), "{err}");
        let err = preview(&ws, &buffers, "id.key", "x").expect_err("ignored");
        assert!(err.0.contains(".codelabignore"), "{err}");
        let err = preview(&ws, &buffers, "docs", "x").expect_err("a directory");
        assert_eq!(err.0, "docs is a directory");
        std::fs::write(d.path().join("blob.bin"), [0u8, 1, 2]).expect("write");
        let err = preview(&ws, &buffers, "blob.bin", "x").expect_err("binary");
        assert!(err.0.contains("binary"), "{err}");
    }
}
