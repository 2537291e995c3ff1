//! `search_in_code`: a regex search over the workspace with ripgrep's engine:
//! a parallel walk honouring the ignore files, and the editors' unsaved
//! buffers searched from memory instead of the disk.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use grep_regex::RegexMatcherBuilder;
use grep_searcher::sinks::UTF8;
use grep_searcher::{BinaryDetection, SearcherBuilder};
use ignore::WalkState;
use schemars::JsonSchema;
use serde::Deserialize;

use super::list_files::walker;
use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};

/// Parameters of `search_in_code`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// A regular expression in Rust regex syntax.
    pub regex: String,
    /// The directory to search, relative to the workspace root (default: the root).
    #[serde(default)]
    pub path: Option<String>,
    /// Only search files whose path matches this glob (`*.rs`, `src/**/*.ts`).
    #[serde(default)]
    pub file_glob: Option<String>,
}

/// The `search_in_code` tool.
#[derive(Debug)]
pub struct SearchInCode;

/// One match.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: u64,
    /// The line's text.
    pub text: String,
}

/// Runs a search; returns at most `cap` hits (sorted) and the total count.
///
/// # Errors
/// An invalid regex or glob.
pub fn search(
    root: &std::path::Path,
    dir: &std::path::Path,
    regex: &str,
    glob: Option<&str>,
    buffers: &[(PathBuf, String)],
    is_ignored: &(dyn Fn(&std::path::Path) -> bool + Sync),
    cap: usize,
) -> Result<(Vec<Hit>, usize), ToolError> {
    let matcher = RegexMatcherBuilder::new()
        .line_terminator(Some(b'\n'))
        .build(regex)
        .map_err(|e| ToolError::new(format!("invalid regex: {e}")))?;
    let mut builder = walker(dir, true);
    let glob_matcher = match glob {
        Some(g) => {
            let mut ob = ignore::overrides::OverrideBuilder::new(root);
            ob.add(g)
                .map_err(|e| ToolError::new(format!("invalid file_glob: {e}")))?;
            let ov = ob
                .build()
                .map_err(|e| ToolError::new(format!("invalid file_glob: {e}")))?;
            builder.overrides(ov.clone());
            Some(ov)
        }
        None => None,
    };
    let in_memory: HashSet<&PathBuf> = buffers.iter().map(|(p, _)| p).collect();
    let hits = Mutex::new(Vec::new());
    let total = AtomicUsize::new(0);
    let record = |path: &std::path::Path, line: u64, text: &str| {
        total.fetch_add(1, Ordering::Relaxed);
        let mut h = hits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if h.len() < cap * 4 {
            h.push(Hit {
                path: path.to_path_buf(),
                line,
                text: text.trim_end_matches(['\n', '\r']).to_owned(),
            });
        }
    };
    let make_searcher = || {
        SearcherBuilder::new()
            .line_number(true)
            .binary_detection(BinaryDetection::quit(b'\0'))
            .build()
    };
    // Unsaved buffers, from memory.
    for (path, text) in buffers {
        if !path.starts_with(dir) || is_ignored(path) {
            continue;
        }
        if let Some(ov) = &glob_matcher
            && !ov.matched(path, false).is_whitelist()
        {
            continue;
        }
        let _ = make_searcher().search_slice(
            &matcher,
            text.as_bytes(),
            UTF8(|line, t| {
                record(path, line, t);
                Ok(true)
            }),
        );
    }
    let matcher = Arc::new(matcher);
    builder.threads(std::thread::available_parallelism().map_or(2, |n| n.get().min(8)));
    builder.build_parallel().run(|| {
        let matcher = Arc::clone(&matcher);
        let mut searcher = make_searcher();
        let in_memory = &in_memory;
        let record = &record;
        Box::new(move |entry| {
            let Ok(entry) = entry else {
                return WalkState::Continue;
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            let path = entry.path();
            if in_memory.contains(&path.to_path_buf()) || is_ignored(path) {
                return WalkState::Continue;
            }
            let _ = searcher.search_path(
                matcher.as_ref(),
                path,
                UTF8(|line, t| {
                    record(path, line, t);
                    Ok(true)
                }),
            );
            WalkState::Continue
        })
    });
    let mut hits = hits
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    hits.sort();
    hits.truncate(cap);
    Ok((hits, total.into_inner()))
}

impl TypedTool for SearchInCode {
    type Params = Params;
    const NAME: &'static str = "search_in_code";
    const DESCRIPTION: &'static str = "Search the workspace's files with a regular expression (Rust regex syntax). \
        Returns `path:line: text` for each matching line, and the total count. Ignored files are skipped; \
        unsaved editor buffers are searched as they are.";
    const KIND: ToolKind = ToolKind::Read;

    /// The directory it searches (the root by default).
    fn subject(p: &Params) -> Subject {
        Subject::paths([p.path.clone().unwrap_or_else(|| ".".to_owned())])
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let ws = ctx.workspace()?.clone();
        let dir = ws.resolve_visible(p.path.as_deref().unwrap_or(""))?;
        if !dir.is_dir() {
            return Err(ToolError::new(format!(
                "{} is not a directory",
                ws.relative(&dir)
            )));
        }
        let buffers = ctx.buffers.all_under(ws.root());
        let cap = ctx.limits.search_matches;
        let ws2 = ws.clone();
        let (hits, total) = tokio::task::spawn_blocking(move || {
            search(
                ws2.root(),
                &dir,
                &p.regex,
                p.file_glob.as_deref(),
                &buffers,
                &|path| ws2.is_ignored(path),
                cap,
            )
        })
        .await
        .map_err(|e| ToolError::new(format!("search failed: {e}")))??;
        if total == 0 {
            return Ok(ToolOutput::text("No matches."));
        }
        let mut out: String = hits
            .iter()
            .map(|h| format!("{}:{}: {}\n", ws.relative(&h.path), h.line, h.text))
            .collect();
        if total > hits.len() {
            out.push_str(&format!("\n[{total} matches in all; showing the first {}. Narrow the regex, path or file_glob.]", hits.len()));
        } else {
            out.push_str(&format!("\n[{total} matches]"));
        }
        Ok(ToolOutput::text(out))
    }
}
