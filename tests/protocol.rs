//! The committed protocol files must be exactly what the Rust types generate.
//! Regenerate them with `UPDATE_PROTOCOL=1 cargo test --test protocol`.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

use std::path::Path;

use codelab_agent::protocol::generate;
use codelab_agent::protocol::methods::{self, Direction, Kind};
use serde_json::Value;

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

/// Whether this run rewrites the committed files.
fn updating() -> bool {
    std::env::var("UPDATE_PROTOCOL").is_ok_and(|v| v == "1")
}

/// A committed protocol file; when updating, what it is being rewritten to
/// (another test writes it concurrently).
fn committed(name: &str) -> String {
    if updating() {
        return generate::files()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, contents)| contents)
            .unwrap_or_default();
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("protocol")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The README section of `name`: from its heading to the next heading.
fn section<'a>(readme: &'a str, name: &str) -> Option<&'a str> {
    let heading = format!("### `{name}`\n");
    let start = readme.find(&heading)? + heading.len();
    readme[start..].split("\n#").next()
}

/// The JSON of the code block after `label` in a section.
fn json_after(section: &str, label: &str) -> Option<Value> {
    let rest = section.split(&format!("{label}\n\n```json\n")).nth(1)?;
    let block = rest.split("\n```").next()?;
    Some(serde_json::from_str(block).expect("README examples are JSON"))
}

/// Every declared request and notification (which, the traits being sealed
/// to the declaration lists, is everything the server can dispatch or send)
/// has a complete section in the committed README: direction, summary,
/// params with their fields, result and errors, and its examples.
#[test]
fn every_request_and_notification_has_a_complete_readme_section() {
    let readme = committed("README.md");
    let schema: Value = serde_json::from_str(&committed("schema.json")).expect("schema is JSON");
    let methods = methods::all();
    assert_eq!(
        methods.iter().filter(|m| m.kind == Kind::Request).count(),
        methods::requests().len() + methods::client_requests().len()
    );
    assert!(
        methods::client_requests()
            .iter()
            .all(|m| m.direction == Direction::ServerToClient)
    );
    assert_eq!(
        methods
            .iter()
            .filter(|m| m.kind == Kind::Notification)
            .count(),
        methods::notifications().len()
    );
    for m in &methods {
        let s = section(&readme, m.name)
            .unwrap_or_else(|| panic!("{} is missing from protocol/README.md", m.name));
        let direction = match (m.kind, m.direction) {
            (Kind::Request, Direction::ClientToServer) => "- Direction: client → server (request)",
            (Kind::Request, Direction::ServerToClient) => "- Direction: server → client (request)",
            (Kind::Notification, _) => "- Direction: server → client (notification)",
        };
        assert!(s.contains(direction), "{}: direction", m.name);
        assert!(s.contains(m.summary), "{}: summary", m.name);
        assert!(s.contains("- Params: "), "{}: params", m.name);
        // Every field of the params and of the result is in the section's tables.
        let entry = &schema["methods"][m.name];
        for (part, label) in [("params", "param"), ("result", "result field")] {
            let Some(name) = entry[part]["$ref"].as_str() else {
                continue;
            };
            let def = &schema["$defs"][name.trim_start_matches("#/$defs/")];
            let Some(props) = def["properties"].as_object() else {
                continue;
            };
            assert!(
                s.contains(&format!("| {label} | type |")),
                "{}: {label} table",
                m.name
            );
            for field in props.keys() {
                assert!(
                    s.contains(&format!("| `{field}` |")),
                    "{}: {part} field `{field}` is not in its section",
                    m.name
                );
            }
        }
        assert_eq!(
            json_after(s, "Example params:").as_ref(),
            Some(&m.example_params),
            "{}: example params",
            m.name
        );
        if m.kind == Kind::Request {
            assert!(s.contains("- Result: "), "{}: result", m.name);
            for e in m.errors {
                assert!(
                    s.contains(&format!("`{}` ({})", e.kind(), e.code())),
                    "{}: error {}",
                    m.name,
                    e.kind()
                );
            }
            assert_eq!(
                json_after(s, "Example result:"),
                m.example_result,
                "{}: example result",
                m.name
            );
        }
    }
    // Nothing else is documented as a method.
    let documented: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("### `codelab/"))
        .collect();
    assert_eq!(documented.len(), methods.len(), "{documented:?}");
}

/// The wire snapshots: every example committed in `protocol/schema.json`
/// (the same as the README's) is exactly what its declaration generates, and
/// parses into its Rust type (a request's params as the server parses them)
/// and serializes back unchanged. A renamed, added or removed field in a wire
/// type fails here, although server and client share the Rust types.
#[test]
fn wire_examples_round_trip_through_the_rust_types() {
    let schema: Value = serde_json::from_str(&committed("schema.json")).expect("schema is JSON");
    let methods = methods::all();
    let committed_names: Vec<&String> = schema["methods"]
        .as_object()
        .expect("methods")
        .keys()
        .collect();
    assert_eq!(committed_names.len(), methods.len(), "{committed_names:?}");
    let stale = "differs from what its declaration generates; run \
                 `UPDATE_PROTOCOL=1 cargo test --test protocol` and review the diff";
    for m in &methods {
        let example = &schema["methods"][m.name]["example"];
        let params = &example["params"];
        assert!(
            params.is_object(),
            "{}: no committed example params",
            m.name
        );
        let back = (m.round_trip_params)(params)
            .unwrap_or_else(|e| panic!("{}: the committed example params {e}", m.name));
        assert_eq!(&back, params, "{}: params do not round-trip", m.name);
        assert_eq!(
            params, &m.example_params,
            "{}: the example params {stale}",
            m.name
        );
        match (m.kind, m.round_trip_result) {
            (Kind::Request, Some(round_trip)) => {
                let result = &example["result"];
                assert!(!result.is_null(), "{}: no committed example result", m.name);
                let back = round_trip(result)
                    .unwrap_or_else(|e| panic!("{}: the committed example result {e}", m.name));
                assert_eq!(&back, result, "{}: result does not round-trip", m.name);
                assert_eq!(
                    Some(result),
                    m.example_result.as_ref(),
                    "{}: the example result {stale}",
                    m.name
                );
            }
            (Kind::Request, None) => panic!("{}: a request without a result type", m.name),
            (Kind::Notification, _) => {
                assert!(example.get("result").is_none(), "{}: result", m.name);
            }
        }
    }
}

/// The round trip catches a renamed field anywhere at the top level of any
/// example: parse errors for required and refused fields, a changed value
/// for optional and defaulted ones.
#[test]
fn renaming_any_example_field_breaks_its_round_trip() {
    let mut checked = 0;
    for m in methods::all() {
        let mut cases = vec![(m.example_params.clone(), m.round_trip_params)];
        if let (Some(result), Some(rt)) = (m.example_result.clone(), m.round_trip_result) {
            cases.push((result, rt));
        }
        for (example, round_trip) in cases {
            let Some(fields) = example.as_object() else {
                continue;
            };
            for key in fields.keys() {
                let mut renamed = example.clone();
                let obj = renamed.as_object_mut().expect("object");
                let value = obj.remove(key).expect("present");
                obj.insert(format!("{key}Renamed"), value);
                if let Ok(back) = round_trip(&renamed) {
                    assert_ne!(back, renamed, "{}: renaming `{key}` goes unnoticed", m.name);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} fields checked");
}

/// Every params and result type a method names is declared in the
/// TypeScript file, and every declaration is listed in its maps.
#[test]
fn every_method_type_is_declared_in_typescript() {
    let ts = committed("codelab-protocol.ts");
    let declared: Vec<String> = methods::all_types()
        .iter()
        .map(|(ty, _)| (ty.name)())
        .collect();
    for m in methods::all() {
        for ty in [m.params, m.result].into_iter().flatten() {
            let name = (ty.name)();
            assert!(
                declared.contains(&name),
                "{}: {name} is not declared",
                m.name
            );
            assert!(ts.contains(&format!("export type {name} ")), "{name}");
        }
        assert!(
            ts.contains(&format!("  {:?}: ", m.name)),
            "{} in the maps",
            m.name
        );
    }
}

/// Every type the TypeScript declarations name is declared in the same file,
/// so a client can compile them as they are.
#[test]
fn every_typescript_type_named_is_declared() {
    let ts = codelab_agent::protocol::generate::typescript();
    let declared: std::collections::HashSet<&str> = ts
        .lines()
        .filter_map(|l| l.strip_prefix("export type "))
        .filter_map(|l| l.split([' ', '=', '<']).next())
        .collect();
    let builtins = ["Array", "Record", "Partial"];
    let mut missing = std::collections::BTreeSet::new();
    let mut word = String::new();
    for c in ts.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if word.starts_with(|f: char| f.is_ascii_uppercase())
            && (c == ',' || c == '>' || c == ';' || c == ' ' || c == '|' || c == '\n' || c == '<')
            && !declared.contains(word.as_str())
            && !builtins.contains(&word.as_str())
        {
            missing.insert(word.clone());
        }
        word.clear();
    }
    // Words in comments are prose, not types: only those used after a colon count.
    let used: std::collections::BTreeSet<String> = missing
        .into_iter()
        .filter(|w| {
            ts.contains(&format!(": {w},"))
                || ts.contains(&format!(": {w} "))
                || ts.contains(&format!(": {w};"))
                || ts.contains(&format!("<{w}>"))
                || ts.contains(&format!("| {w}"))
        })
        .collect();
    assert!(used.is_empty(), "named but not declared: {used:?}");
}
