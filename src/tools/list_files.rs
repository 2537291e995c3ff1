//! `list_files`: a directory's entries, honouring `.gitignore`, `.ignore` and
//! `.codelabignore`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::WalkState;
use schemars::JsonSchema;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};
use crate::workspace::{IGNORE_FILE, Workspace};

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

/// [`walker`] over a directory of `ws` (already resolved, so neither it nor
/// its parents are excluded) that also leaves out what the workspace's
/// `.codelabignore` excludes, without descending into an excluded directory.
pub fn workspace_walker(ws: &Workspace, dir: &Path, recursive: bool) -> ignore::WalkBuilder {
    let mut b = walker(dir, recursive);
    let ws = ws.clone();
    b.filter_entry(move |e| {
        if e.file_name() == ".git" {
            return false;
        }
        if e.depth() == 0 {
            return true;
        }
        let is_dir = match e.file_type() {
            // A link to a directory matches `dir/` patterns as one.
            Some(t) if t.is_symlink() => e.path().is_dir(),
            Some(t) => t.is_dir(),
            None => false,
        };
        !ws.ignores_entry(e.path(), is_dir)
    });
    b
}

/// What a listing found: its first entries in order, and the counts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// The first `cap` entries, sorted as a depth-first walk in name order
    /// (a directory right before its contents).
    pub entries: Vec<(PathBuf, bool)>,
    /// Files in all.
    pub files: usize,
    /// Directories in all.
    pub dirs: usize,
    /// Other entries in all: symbolic links (not followed) and the like.
    pub others: usize,
}

/// Lists `dir` (not itself) with a parallel walk, keeping the first `cap`
/// entries in order.
pub fn list(
    ws: &Workspace,
    dir: &Path,
    recursive: bool,
    cap: usize,
    cancel: &CancellationToken,
) -> Listing {
    /// One walking thread's part, merged when the walk drops it.
    struct Part<'a> {
        entries: Vec<(PathBuf, bool)>,
        files: usize,
        dirs: usize,
        others: usize,
        cap: usize,
        out: &'a Mutex<Listing>,
    }
    impl Part<'_> {
        fn keep(&mut self, path: PathBuf, is_dir: bool) {
            self.entries.push((path, is_dir));
            // Bounded memory: keep this thread's first `cap` in order.
            if self.entries.len() >= (self.cap * 2).max(TRIM_AT) {
                first(&mut self.entries, self.cap);
            }
        }
    }
    impl Drop for Part<'_> {
        fn drop(&mut self) {
            let mut out = self
                .out
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            out.entries.append(&mut self.entries);
            out.files += self.files;
            out.dirs += self.dirs;
            out.others += self.others;
        }
    }
    let out = Mutex::new(Listing::default());
    let mut builder = workspace_walker(ws, dir, recursive);
    builder.threads(threads());
    builder.build_parallel().run(|| {
        let mut part = Part {
            entries: Vec::new(),
            files: 0,
            dirs: 0,
            others: 0,
            cap,
            out: &out,
        };
        Box::new(move |entry| {
            if cancel.is_cancelled() {
                return WalkState::Quit;
            }
            let Ok(entry) = entry else {
                return WalkState::Continue;
            };
            if entry.depth() == 0 {
                return WalkState::Continue;
            }
            let is_dir = match entry.file_type() {
                Some(t) if t.is_dir() => {
                    part.dirs += 1;
                    true
                }
                Some(t) if t.is_file() => {
                    part.files += 1;
                    false
                }
                _ => {
                    part.others += 1;
                    false
                }
            };
            part.keep(entry.into_path(), is_dir);
            WalkState::Continue
        })
    });
    let mut listing = out
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    first(&mut listing.entries, cap);
    listing
}

/// A thread trims its entries to the first `cap` once it holds this many
/// (or twice `cap`): rarely, since trimming is linear.
const TRIM_AT: usize = 1 << 16;

/// Keeps the `cap` first entries, in order.
fn first(entries: &mut Vec<(PathBuf, bool)>, cap: usize) {
    keep_first(entries, cap, |a, b| walk_order(&a.0, &b.0));
}

/// Keeps the first `cap` items in `order`, sorted: linear in the items,
/// then a sort of `cap`.
pub(crate) fn keep_first<T>(
    items: &mut Vec<T>,
    cap: usize,
    order: impl Fn(&T, &T) -> std::cmp::Ordering,
) {
    if items.len() > cap && cap > 0 {
        items.select_nth_unstable_by(cap - 1, &order);
    }
    items.truncate(cap);
    items.sort_unstable_by(&order);
}

/// The order of a depth-first walk in name order (a directory right before
/// its contents), which is the order of `Path`'s comparison by components,
/// computed on the bytes: a separator sorts before every other byte.
pub(crate) fn walk_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    let (a, b) = (
        a.as_os_str().as_encoded_bytes(),
        b.as_os_str().as_encoded_bytes(),
    );
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let key = |c: u8| {
        if std::path::is_separator(char::from(c)) {
            0
        } else {
            c
        }
    };
    match (a.get(same), b.get(same)) {
        (Some(&x), Some(&y)) => key(x).cmp(&key(y)),
        _ => a.len().cmp(&b.len()),
    }
}

/// Threads for a parallel walk: ripgrep's choice (the cores, at most 12).
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(12))
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
        let walked = {
            let (ws, dir, cancel) = (ws.clone(), dir.clone(), ctx.cancel.clone());
            tokio::task::spawn_blocking(move || list(&ws, &dir, recursive, cap, &cancel))
                .await
                .map_err(|e| ToolError::new(format!("listing failed: {e}")))?
        };
        if ctx.cancel.is_cancelled() {
            return Err(ToolError::new("cancelled"));
        }
        let total = walked.files + walked.dirs + walked.others;
        if total == 0 {
            return Ok(ToolOutput::text(format!(
                "{shown} is empty (or everything in it is ignored)."
            )));
        }
        let entries: Vec<String> = walked
            .entries
            .iter()
            .map(|(path, is_dir)| {
                let mut rel = ws.relative(path);
                if *is_dir {
                    rel.push('/');
                }
                rel
            })
            .collect();
        let mut out = entries.join("\n");
        if total > entries.len() {
            let others = if walked.others > 0 {
                format!(", {} links and other entries", walked.others)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "\n\n[{} more entries not shown ({total} in all: {} files, {} directories{others}); list a subdirectory to see them]",
                total - entries.len(),
                walked.files,
                walked.dirs,
            ));
        }
        Ok(ToolOutput::text(out))
    }
}
