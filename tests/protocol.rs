//! The committed protocol files must be exactly what the Rust types generate.
//! Regenerate them with `UPDATE_PROTOCOL=1 cargo test --test protocol`.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

use std::path::Path;

use codelab_agent::protocol::generate;

#[test]
fn protocol_files_match_the_rust_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol");
    let update = std::env::var("UPDATE_PROTOCOL").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (name, contents) in generate::files() {
        let path = dir.join(name);
        if update {
            std::fs::write(&path, &contents)
                .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != contents {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "protocol/{stale:?} differ from what the Rust types generate; run \
         `UPDATE_PROTOCOL=1 cargo test --test protocol` and commit the result"
    );
}

#[test]
fn every_method_is_documented_with_valid_examples() {
    let schema: serde_json::Value =
        serde_json::from_str(&generate::schema_json()).expect("schema is JSON");
    let methods = codelab_agent::protocol::methods::all();
    let reference = generate::reference();
    for m in &methods {
        assert!(
            schema["methods"].get(m.name).is_some(),
            "{} missing from schema.json",
            m.name
        );
        assert!(
            reference.contains(&format!("### `{}`", m.name)),
            "{} missing from README",
            m.name
        );
        assert!(m.example_params.is_object(), "{} example params", m.name);
    }
    // Every $ref points at a definition.
    let text = generate::schema_json();
    for r in text.split("\"$ref\": \"#/$defs/").skip(1) {
        let name = r.split('"').next().unwrap_or_default();
        assert!(schema["$defs"].get(name).is_some(), "dangling $ref {name}");
    }
}
