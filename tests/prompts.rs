//! Snapshot tests of what the model sees: each agent's system prompt and the
//! tool schemas. Update with `UPDATE_SNAPSHOTS=1 cargo test --test prompts`.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

use std::path::Path;

use codelab_agent::agents::builtin;
use codelab_agent::runtime::prompt::{Environment, system_prompt, tool_specs};
use codelab_agent::tools::registry;

fn check(name: &str, actual: &str) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        return None;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    (expected != actual).then(|| name.to_owned())
}

#[test]
fn prompts_and_tool_schemas_match_their_snapshots() {
    let env = Environment {
        workspace: Some("/home/ada/src/parser".into()),
        open_files: vec!["src/lib.rs".into(), "README.md".into()],
        os: "linux".into(),
    };
    let mut stale = Vec::new();
    for agent in builtin() {
        let mut text = system_prompt(&agent, &env);
        text.push_str("\n---- tools ----\n");
        for spec in tool_specs(&agent, &registry()) {
            text.push_str(&format!(
                "{}: {}\n{}\n\n",
                spec.name,
                spec.description,
                serde_json::to_string_pretty(&spec.parameters).unwrap()
            ));
        }
        stale.extend(check(&format!("prompt-{}.txt", agent.slug), &text));
    }
    assert!(
        stale.is_empty(),
        "snapshots differ: {stale:?}; review and run UPDATE_SNAPSHOTS=1 cargo test --test prompts"
    );
}

#[test]
fn every_tool_schema_is_a_closed_object_the_model_can_fill() {
    for tool in registry() {
        let schema = tool.parameters();
        assert_eq!(schema["type"], "object", "{}", tool.name());
        assert_eq!(
            schema["additionalProperties"],
            false,
            "{} must refuse unknown fields",
            tool.name()
        );
        assert!(!tool.description().is_empty());
        assert!(
            !schema.to_string().contains("$ref"),
            "{} schema must be inlined",
            tool.name()
        );
    }
}
