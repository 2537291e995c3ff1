//! `codelab/listTools` over the real binary: every tool, with the parameter
//! schema the model is given.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use serde_json::{Value, json};
use support::agent::{Harness, text};

fn by_name<'a>(tools: &'a [Value], name: &str) -> &'a Value {
    tools
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not listed"))
}

#[tokio::test]
async fn list_tools_gives_every_tool_with_the_schema_the_model_sees() {
    let mut h = Harness::new(vec![text("Nothing to do.")], "coder", false).await;
    let listed = h.client.call("codelab/listTools", json!({})).await;
    let tools = listed["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "read_file",
            "write_file",
            "list_files",
            "search_in_code",
            "execute_command",
            "read_command_output",
            "stop_command",
            "apply_diff",
            "ask_followup_question",
            "attempt_completion",
            "switch_mode",
            "new_task",
            "git_status",
            "git_diff",
            "git_log",
            "git_show",
            "git_commit",
            "git_branch",
        ]
    );

    let write = by_name(tools, "write_file");
    assert_eq!(write["kind"], "edit");
    assert!(
        write["description"]
            .as_str()
            .unwrap()
            .starts_with("Create a file")
    );
    let schema = &write["parameters"];
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["required"], json!(["path", "content"]));
    assert_eq!(schema["properties"]["path"]["type"], "string");
    assert_eq!(schema["properties"]["content"]["type"], "string");
    assert_eq!(schema["additionalProperties"], false);
    let kinds: Vec<(&str, &str)> = tools
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["kind"].as_str().unwrap()))
        .collect();
    for (name, kind) in [
        ("read_file", "read"),
        ("apply_diff", "edit"),
        ("execute_command", "execute"),
        ("new_task", "interaction"),
        ("git_diff", "read"),
        ("git_commit", "edit"),
    ] {
        assert!(kinds.contains(&(name, kind)), "{name} is {kind}: {kinds:?}");
    }
    assert_eq!(
        by_name(tools, "execute_command")["parameters"]["required"],
        json!(["command"])
    );

    // A turn of the coder: the tools the model is given are the coder's,
    // described exactly as listed.
    let log = h.turn("hi").await;
    assert_eq!(log.stop(), codelab_agent::domain::StopReason::EndTurn);
    let requests = h.mock.requests();
    let given = requests[0].body["tools"].as_array().unwrap();
    let agent = h
        .client
        .call("codelab/getCurrentAgent", json!({"sessionId": h.session}))
        .await;
    let coder_tools: Vec<&str> = agent["agent"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let mut given_names = Vec::new();
    for g in given {
        let f = &g["function"];
        let name = f["name"].as_str().unwrap();
        given_names.push(name);
        let l = by_name(tools, name);
        assert_eq!(f["parameters"], l["parameters"], "{name}'s schema");
        assert_eq!(f["description"], l["description"], "{name}'s description");
    }
    given_names.sort_unstable();
    // The `mcp` group names the MCP servers' tools (none configured here).
    let mut expected: Vec<&str> = coder_tools
        .iter()
        .copied()
        .filter(|t| *t != "mcp")
        .collect();
    assert!(coder_tools.contains(&"mcp"), "{coder_tools:?}");
    expected.sort_unstable();
    assert_eq!(given_names, expected);
    h.finish().await;
}

#[tokio::test]
async fn list_tools_refuses_parameters() {
    let mut h = Harness::new(vec![], "ask", false).await;
    let err = h
        .client
        .call_err("codelab/listTools", json!({"agent": "coder"}))
        .await;
    assert_eq!(err["code"], -32602, "{err}");
    h.finish().await;
}
