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
