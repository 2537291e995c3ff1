//! `read_file`: a file's lines, numbered, from the open editor buffer if there
//! is one (unsaved changes included), else from disk.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};

/// Parameters of `read_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The file's path, relative to the workspace root.
    pub path: String,
    /// The first line to read, 1-based (default 1).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub offset: Option<usize>,
    /// How many lines to read (default 2000).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub limit: Option<usize>,
}

/// The `read_file` tool.
#[derive(Debug)]
pub struct ReadFile;

impl TypedTool for ReadFile {
    type Params = Params;
    const NAME: &'static str = "read_file";
    const DESCRIPTION: &'static str = "Read a text file of the workspace. Returns numbered lines (`N | text`). \
        Reads the editor's unsaved buffer when the file is open. Use offset and limit to page through long files.";
    const KIND: ToolKind = ToolKind::Read;

    /// The file it reads.
    fn subject(p: &Params) -> Subject {
        Subject::paths([p.path.clone()])
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let ws = ctx.workspace()?;
        let abs = ws.resolve_visible(&p.path)?;
        let shown = ws.relative(&abs);
        let text = ctx
            .current_text(&abs, &shown)?
            .ok_or_else(|| ToolError::new(format!("{shown} does not exist")))?;
        let offset = p.offset.unwrap_or(1);
        if offset == 0 {
            return Err(ToolError::new("offset is 1-based: the first line is 1"));
        }
        let limit = p.limit.unwrap_or(ctx.limits.read_lines);
        if limit == 0 {
            return Err(ToolError::new("limit must be at least 1"));
        }
        let lines: Vec<&str> = text.lines().collect();
        let total = lines.len();
        if total == 0 {
            return Ok(ToolOutput::text(format!("{shown} is empty.")));
        }
        if offset > total {
            return Err(ToolError::new(format!(
                "offset {offset} is past the end: {shown} has {total} lines"
            )));
        }
        let width = total.to_string().len();
        let mut out = String::new();
        let mut shortened = 0usize;
        let mut last = offset - 1;
        for (i, line) in lines.iter().enumerate().skip(offset - 1).take(limit) {
            let shown_line = if line.chars().count() > ctx.limits.line_chars {
                shortened += 1;
                let cut: String = line.chars().take(ctx.limits.line_chars).collect();
                format!("{cut}… [line truncated]")
            } else {
                (*line).to_owned()
            };
            let entry = format!("{:>width$} | {shown_line}\n", i + 1);
            if out.len() + entry.len() > ctx.limits.output_bytes {
                break;
            }
            out.push_str(&entry);
            last = i + 1;
        }
        let mut notes = Vec::new();
        if last < total {
            notes.push(format!(
                "Showing lines {offset}-{last} of {total}. Use offset={} to read on.",
                last + 1
            ));
        }
        if shortened > 0 {
            notes.push(format!(
                "{shortened} long lines were cut at {} characters.",
                ctx.limits.line_chars
            ));
        }
        if !notes.is_empty() {
            out.push_str(&format!("\n[{}]", notes.join(" ")));
        }
        Ok(ToolOutput::text(out))
    }
}
