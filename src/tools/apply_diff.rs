//! `apply_diff`: SEARCH/REPLACE blocks applied to one file; each block is
//! reported on its own, and what applied goes out as one edit.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{
    Buffers, FileEdit, PreviewContext, Subject, ToolContext, ToolError, ToolKind, ToolOutput,
    TypedTool, current_text, file_preview,
};
use crate::diff::{self, BlockResult, Strategy};
use crate::domain::EditPreview;
use crate::workspace::Workspace;

/// Parameters of `apply_diff`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The file's path, relative to the workspace root.
    pub path: String,
    /// One or more blocks: `<<<<<<< SEARCH`, optional `:start_line:N` and `-------`,
    /// the exact lines to find, `=======`, the new lines, `>>>>>>> REPLACE`.
    pub diff: String,
}

/// The `apply_diff` tool.
#[derive(Debug)]
pub struct ApplyDiff;

/// What a call would do to its file: the file, its current text, the text
/// after the blocks that apply, and each block's result.
struct Plan {
    abs: PathBuf,
    shown: String,
    text: String,
    new_text: String,
    results: Vec<BlockResult>,
}

impl Plan {
    /// Works the blocks out against the file's current text (the open
    /// buffer's, else the disk's), changing nothing.
    fn new(
        ws: &Workspace,
        buffers: &dyn Buffers,
        diff_threshold: f64,
        p: &Params,
    ) -> Result<Self, ToolError> {
        let abs = ws.resolve_visible(&p.path)?;
        let shown = ws.relative(&abs);
        let blocks = diff::parse(&p.diff)
            .map_err(|e| ToolError::new(format!("the diff is malformed: {e}")))?;
        let text = current_text(buffers, &abs, &shown)?.ok_or_else(|| {
            ToolError::new(format!(
                "{shown} does not exist; use write_file to create it"
            ))
        })?;
        let (new_text, results) = diff::apply(&text, &blocks, diff_threshold);
        Ok(Self {
            abs,
            shown,
            text,
            new_text,
            results,
        })
    }

    /// How many blocks apply.
    fn applied(&self) -> usize {
        self.results
            .iter()
            .filter(|r| matches!(r, BlockResult::Applied { .. }))
            .count()
    }

    /// One line (or paragraph) per block, for the model.
    fn report(&self) -> String {
        let mut report = Vec::new();
        for (i, r) in self.results.iter().enumerate() {
            report.push(match r {
                BlockResult::Applied { line, strategy } => format!(
                    "Block {}: applied at line {line}{}.",
                    i + 1,
                    match strategy {
                        Strategy::ExactAtHint | Strategy::Exact => String::new(),
                        Strategy::Whitespace => " (ignoring whitespace)".to_owned(),
                        Strategy::Fuzzy(s) => format!(" (fuzzy, {:.0}% similar)", s * 100.0),
                    }
                ),
                BlockResult::Failed { reason, best } => {
                    let mut s = format!("Block {}: FAILED: {reason}.", i + 1);
                    if let Some((line, sim, text)) = best {
                        s.push_str(&format!(
                            " Closest text ({:.0}% similar) at line {line}:\n{}",
                            sim * 100.0,
                            text.lines()
                                .map(|l| format!("  {l}"))
                                .collect::<Vec<_>>()
                                .join("\n")
                        ));
                    }
                    s
                }
            });
        }
        report.join("\n")
    }

    /// The error when no block applies: nothing would change.
    fn nothing_applies(&self) -> ToolError {
        ToolError::new(format!(
            "No change made to {}.\n{}",
            self.shown,
            self.report()
        ))
    }
}

impl TypedTool for ApplyDiff {
    type Params = Params;
    const NAME: &'static str = "apply_diff";
    const DESCRIPTION: &'static str = "Change an existing file with SEARCH/REPLACE blocks:\n\
        <<<<<<< SEARCH\n:start_line:N\n-------\n[exact lines to find]\n=======\n[new lines]\n>>>>>>> REPLACE\n\
        Several blocks may follow each other. SEARCH must match the file's current lines exactly \
        (read the file first); :start_line: says where to look. Each block succeeds or fails on its own.";
    const KIND: ToolKind = ToolKind::Edit;

    /// The file it changes.
    fn subject(p: &Params) -> Subject {
        Subject::paths([p.path.clone()])
    }

    /// The file as it is and as it would be after the blocks that apply;
    /// when none applies, the error the call would fail with.
    fn preview(p: &Params, at: &PreviewContext<'_>) -> Result<Option<EditPreview>, ToolError> {
        let plan = Plan::new(at.workspace, at.buffers, at.diff_threshold, p)?;
        if plan.applied() == 0 {
            return Err(plan.nothing_applies());
        }
        Ok(Some(file_preview(plan.shown, plan.text, plan.new_text)))
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let plan = Plan::new(
            ctx.workspace()?,
            &*ctx.buffers,
            ctx.limits.diff_threshold,
            &p,
        )?;
        let applied = plan.applied();
        if applied == 0 {
            return Err(plan.nothing_applies());
        }
        let report = plan.report();
        let total = plan.results.len();
        let shown = plan.shown;
        let (committed, checkpoint) = ctx
            .commit_edit(
                FileEdit {
                    path: plan.abs,
                    new_text: plan.new_text,
                },
                &shown,
            )
            .await?;
        let summary = if applied == total {
            format!("Applied {applied} block(s) to {shown}.")
        } else {
            format!(
                "Applied {applied} of {total} blocks to {shown}; fix and resend the failed ones."
            )
        };
        let note = format!("{}{checkpoint}", committed.note(&shown));
        Ok(ToolOutput::text(format!("{summary}{note}\n{report}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::testing::OpenBuffers;

    fn block(search: &str, replace: &str) -> String {
        format!("<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n")
    }

    fn workspace() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
        std::fs::write(
            dir.path().join("src/lib.rs"),
            "fn a() {}\nfn b() {}\nfn c() {}\n",
        )
        .expect("write");
        let ws = Workspace::new(dir.path()).expect("workspace");
        (dir, ws)
    }

    fn preview(
        ws: &Workspace,
        buffers: &OpenBuffers,
        path: &str,
        diff: &str,
    ) -> Result<Option<EditPreview>, ToolError> {
        let at = PreviewContext {
            workspace: ws,
            buffers,
            diff_threshold: 1.0,
        };
        ApplyDiff::preview(
            &Params {
                path: path.into(),
                diff: diff.into(),
            },
            &at,
        )
    }

    #[test]
    fn a_matching_diff_is_previewed() {
        let (_d, ws) = workspace();
        let p = preview(
            &ws,
            &OpenBuffers::default(),
            "src/lib.rs",
            &block("fn b() {}", "fn b() { todo!() }"),
        )
        .expect("previews")
        .expect("an edit");
        assert_eq!(p.files[0].path, "src/lib.rs");
        assert_eq!(p.files[0].current, "fn a() {}\nfn b() {}\nfn c() {}\n");
        assert_eq!(
            p.files[0].proposed,
            "fn a() {}\nfn b() { todo!() }\nfn c() {}\n"
        );
        assert!(
            p.diff.contains("-fn b() {}\n+fn b() { todo!() }\n"),
            "{}",
            p.diff
        );
    }

    #[test]
    fn an_open_buffer_is_previewed_with_its_unsaved_text() {
        let (_d, ws) = workspace();
        let mut buffers = OpenBuffers::default();
        buffers.0.insert(
            ws.root().join("src/lib.rs"),
            "fn a() {}\nfn unsaved() {}\n".into(),
        );
        let p = preview(
            &ws,
            &buffers,
            "src/lib.rs",
            &block("fn unsaved() {}", "fn saved() {}"),
        )
        .expect("previews")
        .expect("an edit");
        assert_eq!(p.files[0].current, "fn a() {}\nfn unsaved() {}\n");
        assert_eq!(p.files[0].proposed, "fn a() {}\nfn saved() {}\n");
        // The disk's text is not what is edited.
        let err = preview(&ws, &buffers, "src/lib.rs", &block("fn b() {}", "x"))
            .expect_err("fn b is only on disk");
        assert!(err.0.starts_with("No change made to src/lib.rs."), "{err}");
    }

    #[test]
    fn a_diff_that_does_not_match_is_the_error_the_call_would_give() {
        let (_d, ws) = workspace();
        let err = preview(
            &ws,
            &OpenBuffers::default(),
            "src/lib.rs",
            &block("fn z() {}", "fn y() {}"),
        )
        .expect_err("nothing matches");
        assert!(
            err.0
                .starts_with("No change made to src/lib.rs.\nBlock 1: FAILED: "),
            "{err}"
        );
        // Some blocks apply: the preview shows what would change.
        let two = format!(
            "{}{}",
            block("fn a() {}", "fn a2() {}"),
            block("fn z() {}", "fn y() {}")
        );
        let p = preview(&ws, &OpenBuffers::default(), "src/lib.rs", &two)
            .expect("previews")
            .expect("an edit");
        assert_eq!(p.files[0].proposed, "fn a2() {}\nfn b() {}\nfn c() {}\n");
    }

    #[test]
    fn malformed_diffs_and_missing_files_are_errors() {
        let (_d, ws) = workspace();
        let buffers = OpenBuffers::default();
        let err = preview(&ws, &buffers, "src/lib.rs", "not a diff").expect_err("malformed");
        assert!(err.0.starts_with("the diff is malformed: "), "{err}");
        let err = preview(&ws, &buffers, "src/new.rs", &block("a", "b")).expect_err("missing");
        assert_eq!(
            err.0,
            "src/new.rs does not exist; use write_file to create it"
        );
        let err = preview(&ws, &buffers, "../x.rs", &block("a", "b")).expect_err("outside");
        assert!(err.0.contains("outside the workspace"), "{err}");
    }
}
