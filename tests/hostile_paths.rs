//! A table of path attacks through every file tool: none escapes the
//! workspace, and each gets a clear error (or, for writes into protected
//! places, the gate asks the user).

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use codelab_agent::agents;
use codelab_agent::policy::{Action, Policy};
use codelab_agent::runtime::gate;
use codelab_agent::tools::{self, Buffers, Interact, ToolContext, ToolError, ToolLimits};
use codelab_agent::workspace::Workspace;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// No editor buffers.
struct NoBuffers;
impl Buffers for NoBuffers {
    fn text(&self, _: &Path) -> Option<String> {
        None
    }
    fn all_under(&self, _: &Path) -> Vec<(PathBuf, String)> {
        Vec::new()
    }
}

/// File tools never ask the user anything.
struct NoUser;
impl Interact for NoUser {
    fn ask(&self, _: String, _: Vec<String>) -> BoxFuture<'_, Result<String, ToolError>> {
        Box::pin(async { Err(ToolError::new("no user")) })
    }
    fn switch_agent(&self, _: String, _: String) -> BoxFuture<'_, Result<(), ToolError>> {
        Box::pin(async { Err(ToolError::new("no user")) })
    }
    fn subtask(&self, _: String, _: String) -> BoxFuture<'_, Result<String, ToolError>> {
        Box::pin(async { Err(ToolError::new("no user")) })
    }
    fn command_output(&self, _: &'static str, _: String) {}
}

fn args(tool: &str, path: &str) -> Value {
    match tool {
        "read_file" | "list_files" => json!({"path": path}),
        "write_file" => json!({"path": path, "content": "pwned"}),
        "search_in_code" => json!({"regex": "secret", "path": path}),
        "apply_diff" => {
            json!({"path": path, "diff": "<<<<<<< SEARCH\ntop secret\n=======\npwned\n>>>>>>> REPLACE\n"})
        }
        "execute_command" => json!({"command": "echo pwned > escaped.txt", "cwd": path}),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn no_attack_escapes_any_file_tool() {
    let ws_dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let root = ws_dir.path();
    support::hostile::fixture(root, outside.path());
    let ws = Workspace::new(root).unwrap();
    let policy = Policy::default();
    let table = support::hostile::attacks(outside.path());
    assert!(table.len() >= 50, "{} attacks", table.len());
    let mut checked = 0;
    for tool_name in [
        "read_file",
        "write_file",
        "list_files",
        "search_in_code",
        "apply_diff",
        "execute_command",
    ] {
        let tool = tools::find(tool_name).unwrap();
        for attack in &table {
            let a = args(tool_name, attack);
            // What the runtime does before running a tool: the gate on resolved paths.
            if let Ok(subject) = tool.check(&a)
                && let Ok(resolved) = gate::within_workspace(Some(&ws), tool.kind(), subject)
                && resolved.protected
            {
                let v = policy.decide(&resolved.call(tool_name, Default::default()));
                assert_ne!(
                    v.action,
                    Action::Allow,
                    "{tool_name} {attack:?}: a protected write must never run unasked"
                );
                continue;
            }
            let ctx = ctx(&ws, ToolLimits::default());
            let result = tool.call(&ctx, a).await;
            let msg = match result {
                Err(e) => e.0,
                Ok(out) => panic!("{tool_name} {attack:?} succeeded: {}", out.content),
            };
            assert!(
                [
                    "outside the workspace",
                    "invalid path",
                    "excluded by .codelabignore",
                    "does not exist",
                    "is not a directory",
                    "is a directory",
                    "invalid arguments"
                ]
                .iter()
                .any(|k| msg.contains(k)),
                "{tool_name} {attack:?}: unclear error: {msg}"
            );
            assert!(
                !msg.contains("top secret") && !msg.contains("root:"),
                "{tool_name} {attack:?} leaked: {msg}"
            );
            checked += 1;
        }
    }
    assert!(checked > 250, "{checked} attacks checked");
    // Nothing changed outside, and nothing was written inside either.
    assert_eq!(
        std::fs::read_to_string(outside.path().join("secret.txt")).unwrap(),
        "top secret\n"
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    assert!(!root.join("escaped.txt").exists());
    assert_eq!(
        std::fs::read_to_string(root.join(".git/config")).unwrap(),
        "[core]\n"
    );
}

fn ctx(ws: &Workspace, limits: ToolLimits) -> ToolContext {
    ToolContext {
        session_id: codelab_agent::domain::SessionId::default(),
        call_id: "call_1".into(),
        workspace: Some(ws.clone()),
        agent: agents::find("coder").unwrap(),
        buffers: Arc::new(NoBuffers),
        editors: Arc::new(codelab_agent::tools::NoEditors),
        interact: Arc::new(NoUser),
        cancel: CancellationToken::new(),
        limits,
        commands: Default::default(),
        checkpoints: Arc::new(codelab_agent::tools::NoCheckpoints),
    }
}

#[tokio::test]
async fn read_and_list_refuse_binaries_and_say_what_they_cut() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("blob.bin"), b"ELF\0\x01\x02binary").unwrap();
    let long: String = (1..=50)
        .map(|i| format!("line {i} {}\n", "x".repeat(i * 10)))
        .collect();
    std::fs::write(root.join("long.txt"), &long).unwrap();
    for i in 0..30 {
        std::fs::write(root.join(format!("f{i:02}.txt")), "x").unwrap();
    }
    let ws = Workspace::new(root).unwrap();
    let limits = ToolLimits {
        read_lines: 10,
        line_chars: 100,
        list_entries: 5,
        ..ToolLimits::default()
    };
    let c = ctx(&ws, limits);
    let read = tools::find("read_file").unwrap();
    let err = read
        .call(&c, json!({"path": "blob.bin"}))
        .await
        .unwrap_err();
    assert!(err.0.contains("binary file"), "{}", err.0);
    let out = read
        .call(&c, json!({"path": "long.txt"}))
        .await
        .unwrap()
        .content;
    assert!(out.starts_with(" 1 | line 1 "), "{out}");
    assert!(
        out.contains("Showing lines 1-10 of 50. Use offset=11 to read on."),
        "{out}"
    );
    assert!(
        out.contains("long lines were cut at 100 characters"),
        "{out}"
    );
    let page = read
        .call(&c, json!({"path": "long.txt", "offset": 49, "limit": 5}))
        .await
        .unwrap()
        .content;
    assert!(
        page.contains("49 | line 49") && page.contains("50 | line 50") && !page.contains("Showing"),
        "{page}"
    );
    let err = read
        .call(&c, json!({"path": "long.txt", "offset": 0}))
        .await
        .unwrap_err();
    assert!(err.0.contains("1-based"), "{}", err.0);
    let list = tools::find("list_files")
        .unwrap()
        .call(&c, json!({}))
        .await
        .unwrap()
        .content;
    assert_eq!(list.lines().take_while(|l| !l.is_empty()).count(), 5);
    assert!(list.contains("[27 more entries not shown"), "{list}");
}

/// Writes `files` files with matches spread over nested directories.
fn tree_of_matches(root: &Path, dirs: usize, files: usize) -> usize {
    let mut matches = 0;
    for d in 0..dirs {
        // Names whose byte order differs from the walk's order: `d-x` sorts
        // before `d/…` byte-wise but after it in a depth-first walk.
        let dir = root.join(format!("d{d:02}")).join("inner");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(root.join(format!("d{d:02}-x.txt")), "needle top\n").unwrap();
        matches += 1;
        for f in 0..files {
            let text: String = (0..3)
                .map(|i| format!("line {i}\nneedle {d} {f} {i}\n"))
                .collect();
            std::fs::write(dir.join(format!("f{f:02}.txt")), text).unwrap();
            matches += 3;
        }
    }
    matches
}

#[tokio::test]
async fn search_shows_the_first_matches_in_walk_order_and_counts_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let all = tree_of_matches(root, 12, 20);
    // Ignored: neither searched nor counted.
    std::fs::create_dir_all(root.join("secret")).unwrap();
    std::fs::write(root.join("secret/s.txt"), "needle hidden\n").unwrap();
    std::fs::write(root.join(".codelabignore"), "secret/\n").unwrap();
    // A matching line that is not UTF-8 is counted and shown lossily.
    std::fs::write(root.join("d00-x.txt"), b"needle \xff\xfe unique\n").unwrap();
    let ws = Workspace::new(root).unwrap();
    let cap = 7;
    // The expected first matches: every matching line, sorted as a walk
    // visits them (a directory right before its contents).
    let mut expected: Vec<(PathBuf, u64)> = Vec::new();
    for entry in walkdir(root) {
        let text = std::fs::read(&entry).unwrap();
        for (i, line) in text.split(|b| *b == b'\n').enumerate() {
            if line.starts_with(b"needle") && !entry.starts_with(root.join("secret")) {
                expected.push((entry.clone(), i as u64 + 1));
            }
        }
    }
    expected.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    assert_eq!(expected.len(), all);
    // The same first matches on every run, whatever the threads did.
    for _ in 0..5 {
        let (hits, total) =
            tools::search_in_code::search(&ws, ws.root(), "needle", None, &[], cap).unwrap();
        assert_eq!(total, all);
        let got: Vec<(PathBuf, u64)> = hits.iter().map(|h| (h.path.clone(), h.line)).collect();
        assert_eq!(got, expected[..cap]);
    }
    let limits = ToolLimits {
        search_matches: cap,
        ..ToolLimits::default()
    };
    let c = ctx(&ws, limits);
    let out = tools::find("search_in_code")
        .unwrap()
        .call(&c, json!({"regex": "needle"}))
        .await
        .unwrap()
        .content;
    assert!(
        out.starts_with("d00/inner/f00.txt:2: needle 0 0 0\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!("[{all} matches in all; showing the first {cap}.")),
        "{out}"
    );
    assert!(!out.contains("secret"), "{out}");
    let out = tools::find("search_in_code")
        .unwrap()
        .call(&c, json!({"regex": "unique"}))
        .await
        .unwrap()
        .content;
    assert_eq!(
        out,
        "d00-x.txt:1: needle \u{fffd}\u{fffd} unique\n\n[1 matches]"
    );
}

/// Every file under `root`, recursively.
fn walkdir(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != ".codelabignore") {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn list_files_walks_in_parallel_in_name_order_and_counts_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tree_of_matches(root, 12, 20);
    std::fs::create_dir_all(root.join("secret/deep")).unwrap();
    std::fs::write(root.join("secret/deep/s.txt"), "x").unwrap();
    std::fs::write(root.join(".codelabignore"), "secret/\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("d00-x.txt", root.join("link")).unwrap();
    let ws = Workspace::new(root).unwrap();
    // The sequential walk in name order, the ignored directory left out.
    let sequential: Vec<(PathBuf, bool)> = tools::list_files::walk(ws.root(), true)
        .filter_map(Result::ok)
        .filter(|e| e.depth() > 0 && !e.path().starts_with(root.join("secret")))
        .map(|e| {
            (
                e.path().to_path_buf(),
                e.file_type().is_some_and(|t| t.is_dir()),
            )
        })
        .collect();
    let dirs = sequential.iter().filter(|e| e.1).count();
    for cap in [5, 100, 10_000] {
        let listing = tools::list_files::list(&ws, ws.root(), true, cap, &CancellationToken::new());
        assert_eq!(
            listing.entries,
            sequential[..cap.min(sequential.len())],
            "cap {cap}"
        );
        assert_eq!(listing.dirs, dirs);
        assert_eq!(
            listing.files,
            12 + 12 * 20 + 1,
            "the files and .codelabignore"
        );
        assert_eq!(listing.others, usize::from(cfg!(unix)), "the link");
    }
    let limits = ToolLimits {
        list_entries: 3,
        ..ToolLimits::default()
    };
    let c = ctx(&ws, limits);
    let out = tools::find("list_files")
        .unwrap()
        .call(&c, json!({"recursive": true}))
        .await
        .unwrap()
        .content;
    let shown: Vec<&str> = out.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(shown, [".codelabignore", "d00/", "d00/inner/"]);
    let total = sequential.len();
    assert!(
        out.contains(&format!(
            "[{} more entries not shown ({total} in all: {} files, {dirs} directories, 1 links and other entries)",
            total - 3,
            12 + 12 * 20 + 1
        )),
        "{out}"
    );
}
