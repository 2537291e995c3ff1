//! Configuration through the real binary: errors that name the file, the
//! line and the key, and workspace trust for agents and prompt overrides.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use std::path::Path;

use codelab_agent::protocol::types::StopReason;
use serde_json::{Value, json};
use support::agent::{drive, restart, text};
use support::{data_dir, file_uri};

/// Runs `codelab-agent --stdio --standalone --data-dir DIR` with stdin
/// closed (that a client reports its daemon's configuration error is in
/// `tests/daemon.rs`).
async fn start_with(data: &Path) -> std::process::Output {
    tokio::process::Command::new(support::binary())
        .args(["--stdio", "--standalone"])
        .arg("--data-dir")
        .arg(data)
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run")
}

#[tokio::test]
async fn an_invalid_user_config_stops_the_start_naming_file_line_and_key() {
    let cases = [
        (
            "[llm]\nmodel = \"m\"\n\n[llm.timeouts]\nidle_secs = \"x\"\n",
            ":5: llm.timeouts.idle_secs: invalid type: string \"x\", expected f64",
        ),
        (
            "[agent]\nmax_iterations = 10\n\n# fuzzier\ndiff_threshold = 0.2\n",
            ":5: agent.diff_threshold: must be between 0.5 and 1.0",
        ),
        (
            "[events]\nexclude = []\n[trust]\nworkspace = [\"/src\"]\n",
            ":4: trust.workspace: unknown field `workspace`, expected `workspaces`",
        ),
    ];
    for (file, expected) in cases {
        let data = data_dir();
        let path = data.path().join("codelab.toml");
        std::fs::write(&path, file).unwrap();
        let out = start_with(data.path()).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(out.stdout.is_empty(), "nothing on stdout");
        let wanted = format!("{}{expected}", path.display());
        assert_eq!(
            stderr.matches(&wanted).count(),
            1,
            "wanted {wanted:?} once in:\n{stderr}"
        );
    }
    // The same directory with a valid file starts.
    let data = data_dir();
    std::fs::write(
        data.path().join("codelab.toml"),
        "[agent]\ndiff_threshold = 0.9\n",
    )
    .unwrap();
    let out = start_with(data.path()).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A workspace with its own agent `docs` and a prompt override for `coder`.
fn workspace_with_agents() -> (tempfile::TempDir, std::path::PathBuf) {
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join(".codelab/prompts")).unwrap();
    std::fs::write(
        root.join(".codelab/agents.toml"),
        "[[agents]]\nslug = \"docs\"\nname = \"Docs writer\"\ntools = [\"read_file\", \"write_file\"]\n\
         prompt = \"You write clear documentation.\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join(".codelab/prompts/coder.md"),
        "Custom coder prompt from the workspace.",
    )
    .unwrap();
    (ws, root)
}

fn trust(data: &Path, root: &Path) {
    std::fs::write(
        data.join("codelab.toml"),
        format!("[trust]\nworkspaces = [{:?}]\n", root.display().to_string()),
    )
    .unwrap();
}

fn slugs(list: &Value) -> Vec<&str> {
    list["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["slug"].as_str().unwrap())
        .collect()
}

fn system_prompt(req: &mock_llm::RecordedRequest) -> String {
    req.body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn one_turn(c: &mut support::Client, session: &Value, msg: &str) -> support::agent::TurnLog {
    let r = c
        .call(
            "codelab/sendMessage",
            json!({"sessionId": session, "text": msg}),
        )
        .await;
    drive(c, r["turnId"].as_str().unwrap(), |_| None, |_| None).await
}

#[tokio::test]
async fn an_untrusted_workspace_s_agents_and_prompts_are_ignored_with_a_warning() {
    let (_ws, root) = workspace_with_agents();
    let uri = file_uri(&root);
    for trusted in [false, true] {
        let mock = mock_llm::MockLlm::start(mock_llm::Script {
            replies: vec![text("done")],
        })
        .await;
        let data = data_dir();
        if trusted {
            trust(data.path(), &root);
        }
        let (mut server, mut c) = restart(data.path(), &mock, &uri).await;
        let list = c.call("codelab/listAgents", json!({})).await;
        if trusted {
            assert!(slugs(&list).contains(&"docs"), "{list}");
            assert!(list.get("warnings").is_none(), "omitted when empty: {list}");
        } else {
            assert_eq!(
                slugs(&list),
                ["orchestrator", "coder", "architect", "debug", "ask"]
            );
            let warnings: Vec<&str> = list["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap())
                .collect();
            assert_eq!(warnings.len(), 2, "{warnings:?}");
            let agents_file = root.join(".codelab/agents.toml").display().to_string();
            let prompt_file = root.join(".codelab/prompts/coder.md").display().to_string();
            assert!(
                warnings[0].starts_with(&format!("{agents_file} is ignored"))
                    && warnings[0].contains("not trusted")
                    && warnings[0].contains("[trust] workspaces"),
                "{warnings:?}"
            );
            assert!(
                warnings[1].starts_with(&format!("{prompt_file} is ignored")),
                "{warnings:?}"
            );
            // The same warning is in the log.
            server
                .logs
                .wait_for(|log| {
                    log.lines()
                        .find(|l| {
                            l.contains("WARN") && l.contains(&format!("{agents_file} is ignored"))
                        })
                        .map(str::to_owned)
                })
                .await;
            // The ignored agent cannot be chosen.
            let err = c
                .call_err("codelab/createSession", json!({"agent": "docs"}))
                .await;
            assert_eq!(err["code"], -33004, "{err}");
        }
        // The coder's prompt is the workspace's only when trusted.
        let s = c
            .call("codelab/createSession", json!({"agent": "coder"}))
            .await;
        let log = one_turn(&mut c, &s["id"], "hello").await;
        assert_eq!(log.stop(), StopReason::EndTurn);
        let system = system_prompt(&mock.requests()[0]);
        assert_eq!(
            system.contains("Custom coder prompt from the workspace."),
            trusted,
            "trusted {trusted}: {system}"
        );
        assert_eq!(
            system.contains("You are the Coder of CodeLab"),
            !trusted,
            "trusted {trusted}: {system}"
        );
        assert!(mock.violations().is_empty(), "{:?}", mock.violations());
        c.finish().await;
        assert_eq!(server.wait().await, Some(0));
    }
}

#[tokio::test]
async fn a_session_on_an_untrusted_workspace_agent_continues_with_the_default_agent() {
    let (_ws, root) = workspace_with_agents();
    let uri = file_uri(&root);
    let mock = mock_llm::MockLlm::start(mock_llm::Script {
        replies: vec![text("docs at work"), text("orchestrator at work")],
    })
    .await;
    let data = data_dir();
    // Trusted: the session is created on the workspace's agent and runs with it.
    trust(data.path(), &root);
    let (mut server, mut c) = restart(data.path(), &mock, &uri).await;
    let s = c
        .call("codelab/createSession", json!({"agent": "docs"}))
        .await;
    let log = one_turn(&mut c, &s["id"], "first").await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    assert!(log.of("codelab/agentSwitched").is_empty());
    assert!(system_prompt(&mock.requests()[0]).contains("You write clear documentation."));
    c.finish().await;
    assert_eq!(server.wait().await, Some(0));

    // The user no longer trusts the workspace.
    std::fs::remove_file(data.path().join("codelab.toml")).unwrap();
    let (mut server, mut c) = restart(data.path(), &mock, &uri).await;
    let log = one_turn(&mut c, &s["id"], "second").await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    let switched = log.of("codelab/agentSwitched");
    assert_eq!(switched.len(), 1, "{:?}", log.events);
    assert_eq!(switched[0]["from"], "docs");
    assert_eq!(switched[0]["to"], "orchestrator");
    assert_eq!(
        switched[0]["reason"],
        "agent `docs` comes from .codelab/agents.toml of an untrusted workspace; continuing with orchestrator"
    );
    let req = &mock.requests()[1];
    assert!(
        system_prompt(req).contains("You are the Orchestrator of CodeLab"),
        "{}",
        system_prompt(req)
    );
    let tools: Vec<&str> = req.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(
        tools.contains(&"new_task") && !tools.contains(&"write_file"),
        "{tools:?}"
    );
    let current = c
        .call("codelab/getCurrentAgent", json!({"sessionId": s["id"]}))
        .await;
    assert_eq!(current["agent"]["slug"], "orchestrator");
    let stored = c
        .call("codelab/getSession", json!({"sessionId": s["id"]}))
        .await;
    assert_eq!(stored["agent"], "orchestrator", "the switch is persisted");
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    c.finish().await;
    assert_eq!(server.wait().await, Some(0));
}
