//! Renders the protocol contract from the method and notification
//! declarations and the Rust types: `protocol/schema.json` (schemas, errors
//! and the example of every message), `protocol/codelab-protocol.ts` and
//! `protocol/README.md` (a section per request and notification: direction,
//! summary, params and result with their fields, errors, examples).
//!
//! `tests/protocol.rs` fails when the committed files differ from these;
//! `UPDATE_PROTOCOL=1 cargo test --test protocol` rewrites them.

use std::fmt::Write as _;

use crate::domain::EventKind;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::errors::ErrorCode;
use super::methods::{self, Direction, Kind, MethodDoc};
use super::{FEATURES, PROTOCOL_VERSION};

/// The three generated files, as (file name, contents).
pub fn files() -> Vec<(&'static str, String)> {
    vec![
        ("schema.json", schema_json()),
        ("codelab-protocol.ts", typescript()),
        ("README.md", reference()),
    ]
}

/// A method with the schemas of its params and result.
type MethodSchemas = (MethodDoc, Option<Value>, Option<Value>);

fn definitions() -> (Map<String, Value>, Vec<MethodSchemas>) {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    for (ty, _) in methods::all_types() {
        (ty.schema)(&mut generator);
    }
    let methods = methods::all()
        .into_iter()
        .map(|m| {
            let params = m.params.map(|t| (t.schema)(&mut generator).to_value());
            let result = m.result.map(|t| (t.schema)(&mut generator).to_value());
            (m, params, result)
        })
        .collect();
    (generator.take_definitions(true), methods)
}

/// The JSON Schema of every method's parameters and result, with all types under `$defs`.
pub fn schema_json() -> String {
    let (defs, methods) = definitions();
    let mut events = Map::new();
    for e in EventKind::catalogue() {
        events.insert(
            format!("{}.{}", e.category.as_str(), e.name),
            json!({
                "category": e.category.as_str(),
                "type": e.name,
                "description": e.summary,
                "payload": {"$ref": format!("#/$defs/{}", (e.payload_name)())},
            }),
        );
    }
    let mut method_map = Map::new();
    for (m, params, result) in methods {
        let mut entry = Map::new();
        entry.insert("kind".into(), json!(kind_name(m.kind)));
        entry.insert("direction".into(), json!(direction_name(m.direction)));
        entry.insert("description".into(), json!(m.summary));
        entry.insert(
            "params".into(),
            params.unwrap_or_else(|| json!({"type": "object", "additionalProperties": false})),
        );
        if let Some(result) = result {
            entry.insert("result".into(), result);
        }
        if m.kind == Kind::Request {
            entry.insert(
                "errors".into(),
                json!(m.errors.iter().map(|e| e.code()).collect::<Vec<_>>()),
            );
        }
        let mut example = Map::new();
        example.insert("params".into(), m.example_params.clone());
        if let Some(result) = &m.example_result {
            example.insert("result".into(), result.clone());
        }
        entry.insert("example".into(), Value::Object(example));
        method_map.insert(m.name.into(), Value::Object(entry));
    }
    let errors: Map<String, Value> = ErrorCode::ALL
        .iter()
        .map(|e| (e.kind().to_owned(), json!({"code": e.code(), "retryable": e.retryable(), "description": e.description()})))
        .collect();
    let doc = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://codelab.dev/protocol/schema.json",
        "title": "codelab protocol",
        "description": "Methods and notifications of the codelab-agent protocol. Generated from the Rust types; do not edit. Each method's `example` is a wire snapshot: the tests parse it into the Rust types and require it to serialize back unchanged.",
        "protocolVersion": PROTOCOL_VERSION,
        "features": FEATURES,
        "methods": method_map,
        "events": events,
        "errors": errors,
        "$defs": defs,
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

/// TypeScript declarations of every wire type and of the method map.
pub fn typescript() -> String {
    let cfg = ts_rs::Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from the Rust types of codelab-agent; do not edit.\n\
         // Regenerate with: UPDATE_PROTOCOL=1 cargo test --test protocol\n\n",
    );
    let _ = writeln!(
        out,
        "export const PROTOCOL_VERSION = {PROTOCOL_VERSION:?};\n"
    );
    for (_, decl) in methods::all_types() {
        let _ = writeln!(out, "export {}\n", decl(&cfg));
    }
    out.push_str("/** Requests the client sends: method name to [params, result]. */\nexport interface CodelabRequests {\n");
    for m in methods::all() {
        if m.kind == Kind::Request && m.direction == Direction::ClientToServer {
            let params = m
                .params
                .map_or("Record<string, never>".to_owned(), |t| (t.name)());
            let result = m.result.map_or("null".to_owned(), |t| (t.name)());
            let _ = writeln!(out, "  {:?}: [{params}, {result}];", m.name);
        }
    }
    out.push_str("}\n\n/** Requests the server sends to a client that offered them: method name to [params, result]. */\nexport interface CodelabClientRequests {\n");
    for m in methods::all() {
        if m.kind == Kind::Request && m.direction == Direction::ServerToClient {
            let params = m
                .params
                .map_or("Record<string, never>".to_owned(), |t| (t.name)());
            let result = m.result.map_or("null".to_owned(), |t| (t.name)());
            let _ = writeln!(out, "  {:?}: [{params}, {result}];", m.name);
        }
    }
    out.push_str("}\n\n/** Notifications the server sends: method name to params. */\nexport interface CodelabNotifications {\n");
    for m in methods::all() {
        if m.kind == Kind::Notification && m.direction == Direction::ServerToClient {
            let params = m
                .params
                .map_or("Record<string, never>".to_owned(), |t| (t.name)());
            let _ = writeln!(out, "  {:?}: {params};", m.name);
        }
    }
    out.push_str("}\n\nexport const ErrorCodes = {\n");
    for e in ErrorCode::ALL {
        let _ = writeln!(out, "  {}: {},", e.kind(), e.code());
    }
    out.push_str("} as const;\n");
    out
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Request => "request",
        Kind::Notification => "notification",
    }
}

fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::ClientToServer => "clientToServer",
        Direction::ServerToClient => "serverToClient",
    }
}

/// The human-readable reference.
pub fn reference() -> String {
    let (defs, methods) = definitions();
    let mut out = String::new();
    out.push_str(INTRO.trim_start());
    let _ = writeln!(
        out,
        "\nProtocol version: **{PROTOCOL_VERSION}**. Features advertised: {}.\n",
        FEATURES
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    out.push_str(METHODS_INTRO.trim_start());
    out.push_str("\n| method | kind | direction | summary |\n|---|---|---|---|\n");
    for (m, _, _) in &methods {
        let first = m
            .summary
            .split(". ")
            .next()
            .unwrap_or(m.summary)
            .trim_end_matches('.');
        let _ = writeln!(
            out,
            "| [`{}`](#{}) | {} | {} | {first}. |",
            m.name,
            anchor(m.name),
            kind_name(m.kind),
            direction_name(m.direction)
        );
    }
    out.push('\n');

    out.push_str(REQUESTS_INTRO.trim_start());
    out.push('\n');
    for (m, params, result) in methods
        .iter()
        .filter(|(m, _, _)| m.kind == Kind::Request && m.direction == Direction::ClientToServer)
    {
        method_section(&mut out, &defs, m, params.as_ref(), result.as_ref());
    }
    out.push_str(CLIENT_REQUESTS_INTRO.trim_start());
    out.push('\n');
    for (m, params, result) in methods
        .iter()
        .filter(|(m, _, _)| m.kind == Kind::Request && m.direction == Direction::ServerToClient)
    {
        method_section(&mut out, &defs, m, params.as_ref(), result.as_ref());
    }
    out.push_str(NOTIFICATIONS_INTRO.trim_start());
    out.push('\n');
    for (m, params, result) in methods
        .iter()
        .filter(|(m, _, _)| m.kind == Kind::Notification)
    {
        method_section(&mut out, &defs, m, params.as_ref(), result.as_ref());
    }

    out.push_str(EVENTS_INTRO.trim_start());
    out.push('\n');
    out.push_str("| category | type | payload | meaning |\n|---|---|---|---|\n");
    for e in EventKind::catalogue() {
        let payload = (e.payload_name)();
        let _ = writeln!(
            out,
            "| `{}` | `{}` | [{payload}](#{}) | {} |",
            e.category.as_str(),
            e.name,
            anchor(&payload),
            e.summary
        );
    }
    out.push('\n');

    out.push_str("## Types\n\n");
    for (name, schema) in &defs {
        let _ = writeln!(out, "### {name}\n");
        if let Some(desc) = schema.get("description").and_then(Value::as_str) {
            let _ = writeln!(out, "{desc}\n");
        }
        if !fields_table(&mut out, "field", schema) {
            if let Some(variants) = schema
                .get("oneOf")
                .or_else(|| schema.get("anyOf"))
                .and_then(Value::as_array)
            {
                out.push_str("One of:\n\n");
                for v in variants {
                    let desc = v.get("description").and_then(Value::as_str).unwrap_or("");
                    let _ = writeln!(out, "- {}: {desc}", type_text(v));
                }
                out.push('\n');
            } else if let Some(values) = schema.get("enum").and_then(Value::as_array) {
                let vals: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
                let _ = writeln!(out, "One of {}.\n", vals.join(", "));
            }
        }
    }

    out.push_str("## Error codes\n\nEvery application error carries `data` of type [ErrorData](#errordata).\n\n| code | kind | retryable | meaning |\n|---|---|---|---|\n");
    for e in ErrorCode::ALL {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} |",
            e.code(),
            e.kind(),
            if e.retryable() { "yes" } else { "no" },
            e.description()
        );
    }
    out
}

/// One request's or notification's section of the reference: direction,
/// summary, params, result, errors, the fields of its params and result, and
/// its examples.
fn method_section(
    out: &mut String,
    defs: &Map<String, Value>,
    m: &MethodDoc,
    params: Option<&Value>,
    result: Option<&Value>,
) {
    let _ = writeln!(out, "### `{}`\n", m.name);
    let _ = writeln!(out, "{}\n", m.summary);
    let arrow = match m.direction {
        Direction::ClientToServer => "client → server",
        Direction::ServerToClient => "server → client",
    };
    let _ = writeln!(out, "- Direction: {arrow} ({})", kind_name(m.kind));
    let _ = writeln!(
        out,
        "- Params: {}",
        params.map_or("none (`{}` or absent)".to_owned(), type_text)
    );
    if m.kind == Kind::Request {
        let _ = writeln!(
            out,
            "- Result: {}",
            result.map_or("`null`".to_owned(), type_text)
        );
        if m.direction == Direction::ServerToClient {
            out.push_str("- Errors: a JSON-RPC error from the client counts as nothing saved\n");
        } else if m.errors.is_empty() {
            out.push_str("- Errors: none beyond the [generic ones](#requests)\n");
        } else {
            let errs: Vec<String> = m
                .errors
                .iter()
                .map(|e| format!("`{}` ({})", e.kind(), e.code()))
                .collect();
            let _ = writeln!(out, "- Errors: {}", errs.join(", "));
        }
    }
    out.push('\n');
    if let Some(def) = params.and_then(|p| definition(defs, p)) {
        fields_table(out, "param", def);
    }
    if let Some(def) = result.and_then(|r| definition(defs, r)) {
        fields_table(out, "result field", def);
    }
    let _ = writeln!(
        out,
        "Example params:\n\n```json\n{}\n```\n",
        pretty(&m.example_params)
    );
    if let Some(res) = &m.example_result {
        let _ = writeln!(out, "Example result:\n\n```json\n{}\n```\n", pretty(res));
    }
}

/// The definition a `$ref` schema points at.
fn definition<'a>(defs: &'a Map<String, Value>, schema: &Value) -> Option<&'a Value> {
    let name = schema
        .get("$ref")
        .and_then(Value::as_str)?
        .strip_prefix("#/$defs/")?;
    defs.get(name)
}

/// Renders the properties of an object schema as a table whose first column
/// is headed `label`; false when the schema has no properties.
fn fields_table(out: &mut String, label: &str, schema: &Value) -> bool {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return false;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "| {label} | type | required | description |\n|---|---|---|---|"
    );
    for (field, prop) in props {
        let desc = prop
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .replace('\n', " ")
            .replace('|', "\\|");
        let _ = writeln!(
            out,
            "| `{field}` | {} | {} | {desc} |",
            type_text(prop),
            if required.contains(&field.as_str()) {
                "yes"
            } else {
                "no"
            }
        );
    }
    out.push('\n');
    true
}

fn anchor(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// A short Markdown rendering of a property's type.
fn type_text(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("[{name}](#{})", name.to_lowercase());
    }
    if let Some(c) = schema.get("const") {
        return format!("`{c}`");
    }
    if let Some(any) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
    {
        return any.iter().map(type_text).collect::<Vec<_>>().join(" \\| ");
    }
    let ty = match schema.get("type") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => vec!["any".to_owned()],
    };
    ty.iter()
        .map(|t| match t.as_str() {
            "array" => format!(
                "{}[]",
                schema.get("items").map_or("any".to_owned(), type_text)
            ),
            "string" => match schema.get("format").and_then(Value::as_str) {
                Some(f) => format!("string ({f})"),
                None => "string".to_owned(),
            },
            "integer" => match schema.get("minimum") {
                Some(min) => format!("integer (≥ {min})"),
                None => "integer".to_owned(),
            },
            other => other.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" \\| ")
}

const INTRO: &str = r#"
# The codelab protocol

<!-- Generated from the Rust types in src/protocol/; do not edit.
     Regenerate with: UPDATE_PROTOCOL=1 cargo test --test protocol -->

codelab-agent speaks the Language Server Protocol, extended with `codelab/*`
methods and notifications for sessions, chat, agents and approvals. This file
is the contract with every editor; [`schema.json`](schema.json) is its machine
form and [`codelab-protocol.ts`](codelab-protocol.ts) its TypeScript types.

## Transports

- **stdio** (`codelab-agent` or `codelab-agent --stdio`): LSP framing, a
  `Content-Length: N\r\n\r\n` header before each JSON body. Nothing but protocol
  is ever written to stdout; logs go to stderr.
- **websocket** (`codelab-agent serve`, endpoint `/lsp`): exactly the same
  messages, one JSON-RPC message per text frame, no header. Every connection
  is its own LSP client; sessions are shared by all connections. The upgrade
  needs the server's token, in an `X-Internal-Auth` header or, from a browser,
  as a `codelab-token.<token>` entry of `Sec-WebSocket-Protocol`; a browser's
  `Origin` must be allowed. Requests are rate limited (`rateLimited`, with
  `data.retryAfterMs`); notifications are not counted.

Both carry the same methods. A message larger than the limit (16 MiB by
default) is discarded with a `messageTooLarge` error; the connection stays open.

## Lifecycle

`initialize` must come first: any other request before it gets
`serverNotInitialized` (-32002). The server chooses `utf-8` positions when the
client offers them in `general.positionEncodings`, else `utf-16`, and reports
its choice in `capabilities.positionEncoding`. It advertises the protocol under
`capabilities.experimental.codelab` (type [CodelabCapabilities](#codelabcapabilities)).
A client states what it offers beyond LSP under its own
`capabilities.experimental.codelab` (type
[ClientCodelabCapabilities](#clientcodelabcapabilities)): `saveDocuments: true`
if it answers [`codelab/saveDocuments`](#codelabsavedocuments).
After `shutdown`, requests get `invalidRequest`; `exit` ends the connection
(and the process, in stdio mode).

## Edits

An agent's approved edit (`write_file`, `apply_diff`) is on disk when the tool
call completes, before the next one runs, unless its result says otherwise.
Which editor applies it:

1. the connection that sent the message that started the turn, if it is
   still connected and has the file open;
2. else a connection attached to the session that has the file open (in the
   order they attached);
3. else any other connection that has the file open (the oldest first): its
   buffer is what the tools read as the file's text, so the server does not
   write the disk behind it;
4. else, when no editor has the file open, the server writes the file itself,
   atomically (a temporary file renamed over it). A client that does not set
   `workspace.applyEdit` never edits.

The editor gets one versioned `workspace/applyEdit` (`documentChanges`, the
version of its last `didChange`) whose text edits cover only the changed
regions of a line diff, trimmed to the characters that differ, in the
negotiated position encoding: cursors, marks, folds and breakpoints elsewhere
stay where they are, and the edit is one step of the buffer's undo. Then:

- if the buffer matched the file on disk before the edit, the server sends
  [`codelab/saveDocuments`](#codelabsavedocuments) to a client that offers it
  (and checks that the file on disk then holds the edit), or writes the same
  text on disk itself for a client that does not;
- if the buffer held unsaved changes of the user's, the edit is applied on top
  of them in the buffer and **nothing is saved**: the file on disk keeps its
  content, and the tool result tells the model so (the commands it runs see
  the old file) and that the user can undo the edit in the editor.

An editor that refuses the edit (`applied: false`) fails the tool call with
its `failureReason`; one that does not save says why in its answer, and the
tool result reports that the change is only in the buffer.

## Ordering

Messages sent by the server are not ordered relative to each other. Every
notification about a session carries the session's `seq`, a number that only
grows, shared with the `seq` of the session's persisted messages: sort by it,
and use it to resume (`afterSeq`).

## Versioning

`protocolVersion` is `MAJOR.MINOR`. Adding a method, a notification, an
optional parameter, a result field or an error code raises MINOR; clients must
ignore result fields and notifications they do not know. Removing or renaming
anything, or making a parameter required, raises MAJOR. Features are also
listed by name under `features`: anything not listed is unsupported.
"#;

const METHODS_INTRO: &str = r#"
## Methods

Every `codelab/*` request and notification, each declared once in
`src/protocol/` (requests, in either direction, in `requests.rs`,
notifications in `notifications.rs`); the server's dispatcher, this file,
`schema.json` and `codelab-protocol.ts` are all generated from those
declarations. Every example
below is a wire snapshot: the tests parse it into the Rust type and require it
to serialize back unchanged.
"#;

const REQUESTS_INTRO: &str = r#"
## Requests

Sent by the client; the server answers each with a result or an error. Besides
the errors listed for each method, any request may get the generic ones:
`invalidParams` (the params do not match the method's schema, or a value is
out of range; `data.field` names the field), `internalError`,
`serverNotInitialized` (before `initialize`), `invalidRequest` (after
`shutdown`) and, on the websocket, `rateLimited`. An unknown `codelab/*`
method gets `methodNotFound`.
"#;

const CLIENT_REQUESTS_INTRO: &str = r#"
## Requests to the client

Sent by the server, answered by the client, and only to a client that offered
them in `initialize` (under `capabilities.experimental.codelab`, see
[ClientCodelabCapabilities](#clientcodelabcapabilities)). The server waits for
the answer as long as for `workspace/applyEdit` (the client request timeout).
"#;

const EVENTS_INTRO: &str = r#"
## Events

What `codelab/event` carries and what `codelab/getAuditLog` returns: one entry
per runtime event, with its `category`, its `type` and a typed `payload`
(below). Audit entries of a turn add `turnId` to the payload. Categories a
client may subscribe to: `agent`, `session`, `tool`, `approval`, `llm`;
`housekeeping` entries are in the audit log only. New event types and new
optional payload fields may appear in a minor version: ignore what you do not
know.
"#;

const NOTIFICATIONS_INTRO: &str = r#"
## Notifications

Sent by the server, never answered. Session notifications go to every
connection attached to the session (by `codelab/sendMessage` or
`codelab/attachSession`) and carry the session's `seq`; `codelab/event` goes to
`codelab/subscribeEvents` subscribers. Ignore notifications you do not know.
"#;
