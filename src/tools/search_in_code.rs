//! `search_in_code`: a regex search over the workspace with ripgrep's engine:
//! a parallel walk honouring the ignore files, and the editors' unsaved
//! buffers searched from memory instead of the disk.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::sinks::Bytes;
use grep_searcher::{BinaryDetection, Searcher, SearcherBuilder};
use ignore::WalkState;
use schemars::JsonSchema;
use serde::Deserialize;

use super::list_files::{keep_first, threads, walk_order, workspace_walker};
use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};
use crate::workspace::Workspace;

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

/// Runs a search of `dir` in `ws`; returns the first `cap` hits in path
/// and line order (the same ones whatever the threads' timing) and the total
/// count of matching lines.
///
/// Each walking thread counts and keeps its own hits; they are merged once,
/// when the walk ends. A thread that already holds `cap` hits before a file
/// (in that order) records nothing of it, only counts.
///
/// # Errors
/// An invalid regex or glob.
pub fn search(
    ws: &Workspace,
    dir: &Path,
    regex: &str,
    glob: Option<&str>,
    buffers: &[(PathBuf, String)],
    cap: usize,
) -> Result<(Vec<Hit>, usize), ToolError> {
    let matcher = RegexMatcherBuilder::new()
        .line_terminator(Some(b'\n'))
        .build(regex)
        .map_err(|e| ToolError::new(format!("invalid regex: {e}")))?;
    let mut builder = workspace_walker(ws, dir, true);
    let glob_matcher = match glob {
        Some(g) => {
            let mut ob = ignore::overrides::OverrideBuilder::new(ws.root());
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
    let in_memory: HashSet<&Path> = buffers.iter().map(|(p, _)| p.as_path()).collect();
    let out = Mutex::new((Vec::new(), 0usize));
    let make_searcher = || {
        SearcherBuilder::new()
            .line_number(true)
            .binary_detection(BinaryDetection::quit(b'\0'))
            .build()
    };
    // Unsaved buffers, from memory.
    {
        let mut part = Part::new(cap, &out);
        for (path, text) in buffers {
            if !path.starts_with(dir) || ws.is_ignored(path) {
                continue;
            }
            if let Some(ov) = &glob_matcher
                && !ov.matched(path, false).is_whitelist()
            {
                continue;
            }
            part.search(&mut make_searcher(), &matcher, path, |s, m, sink| {
                s.search_slice(m, text.as_bytes(), sink)
            });
        }
    }
    builder.threads(threads());
    builder.build_parallel().run(|| {
        let matcher = &matcher;
        let mut searcher = make_searcher();
        let in_memory = &in_memory;
        let mut part = Part::new(cap, &out);
        Box::new(move |entry| {
            let Ok(entry) = entry else {
                return WalkState::Continue;
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            let path = entry.path();
            if !in_memory.is_empty() && in_memory.contains(path) {
                return WalkState::Continue;
            }
            part.search(&mut searcher, matcher, path, |s, m, sink| {
                s.search_path(m, path, sink)
            });
            WalkState::Continue
        })
    });
    let (mut hits, total) = out
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    first(&mut hits, cap);
    Ok((hits, total))
}

/// One thread's count and hits, merged into the shared result when dropped.
struct Part<'a> {
    hits: Vec<Hit>,
    total: usize,
    cap: usize,
    /// The path of this thread's `cap`-th hit, once it has `cap`: a later
    /// file after it in order cannot be among the first `cap`.
    last: Option<PathBuf>,
    out: &'a Mutex<(Vec<Hit>, usize)>,
}

impl<'a> Part<'a> {
    fn new(cap: usize, out: &'a Mutex<(Vec<Hit>, usize)>) -> Self {
        Self {
            hits: Vec::new(),
            total: 0,
            cap,
            last: None,
            out,
        }
    }

    /// Searches one file (or buffer), counting every matching line and
    /// keeping those that may be among the first `cap`.
    fn search(
        &mut self,
        searcher: &mut Searcher,
        matcher: &RegexMatcher,
        path: &Path,
        run: impl FnOnce(
            &mut Searcher,
            &RegexMatcher,
            &mut Bytes<&mut dyn FnMut(u64, &[u8]) -> Result<bool, std::io::Error>>,
        ) -> Result<(), std::io::Error>,
    ) {
        let keep = self.cap > 0
            && self
                .last
                .as_deref()
                .is_none_or(|last| walk_order(path, last).is_le());
        let (hits, total) = (&mut self.hits, &mut self.total);
        let mut on_match = |line: u64, bytes: &[u8]| {
            *total += 1;
            if keep {
                hits.push(Hit {
                    path: path.to_path_buf(),
                    line,
                    text: String::from_utf8_lossy(bytes)
                        .trim_end_matches(['\n', '\r'])
                        .to_owned(),
                });
            }
            Ok(true)
        };
        // A file that cannot be read is left out, as ripgrep does (it says so on stderr).
        let _ = run(searcher, matcher, &mut Bytes(&mut on_match));
        if self.hits.len() >= self.cap.max(1) * 2 {
            first(&mut self.hits, self.cap);
            self.last = self.hits.last().map(|h| h.path.clone());
        }
    }
}

impl Drop for Part<'_> {
    fn drop(&mut self) {
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        out.0.append(&mut self.hits);
        out.1 += self.total;
    }
}

/// Keeps the first `cap` hits, in order.
fn first(hits: &mut Vec<Hit>, cap: usize) {
    keep_first(hits, cap, |a, b| {
        walk_order(&a.path, &b.path).then(a.line.cmp(&b.line))
    });
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
            search(&ws2, &dir, &p.regex, p.file_glob.as_deref(), &buffers, cap)
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
