//! The test client as an editor: it keeps the documents it opened as
//! buffers, applies `workspace/applyEdit` to them (checking the version and
//! reading positions in the negotiated encoding), tells the server with
//! `didChange`, and answers `codelab/saveDocuments` by writing the buffer to
//! disk and sending `didSave`, in that order, before its answer, as a real
//! editor does. Every request still lands in the client's queue, so a test
//! takes (and so checks) each one with `take_server_request`.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::{Client, Out, file_uri};

/// One open document.
#[derive(Debug, Clone)]
struct Buffer {
    path: PathBuf,
    version: i64,
    text: String,
    /// The text as last read from or written to disk.
    saved: String,
}

#[derive(Debug, Default)]
struct State {
    utf8: bool,
    saves: bool,
    buffers: HashMap<String, Buffer>,
    /// `applied: false` with this reason, for every edit.
    refuse: Option<String>,
    /// Answer saves with this failure instead of saving.
    save_failure: Option<String>,
}

/// The editor side of a [`Client`]: what the test reads and steers.
#[derive(Clone)]
pub struct Editor {
    state: Arc<Mutex<State>>,
}

/// What `initialize_editor` offers.
#[derive(Debug, Clone, Copy)]
pub struct Offer {
    /// `workspace.applyEdit`.
    pub apply_edit: bool,
    /// `experimental.codelab.saveDocuments`.
    pub save_documents: bool,
    /// Offer only utf-8 positions (else only utf-16).
    pub utf8: bool,
}

impl Default for Offer {
    fn default() -> Self {
        Self {
            apply_edit: true,
            save_documents: true,
            utf8: false,
        }
    }
}

/// The byte offset of an LSP position in `text` (lines broken at `\n`,
/// `\r\n` and `\r`); panics on a position the editor would not accept.
fn offset(text: &str, pos: &Value, utf8: bool) -> usize {
    let line = pos["line"].as_u64().unwrap() as usize;
    let character = pos["character"].as_u64().unwrap() as usize;
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut n = 0;
    while n < line {
        let rest = &bytes[start..];
        let i = rest
            .iter()
            .position(|b| *b == b'\n' || *b == b'\r')
            .unwrap_or_else(|| panic!("line {line} is past the end of the document"));
        let step = if rest[i..].starts_with(b"\r\n") { 2 } else { 1 };
        start += i + step;
        n += 1;
    }
    let line_text = &text[start..];
    let end = line_text.find(['\n', '\r']).unwrap_or(line_text.len());
    let line_text = &line_text[..end];
    let mut units = 0;
    for (i, c) in line_text.char_indices() {
        if units == character {
            return start + i;
        }
        let width = if utf8 { c.len_utf8() } else { c.len_utf16() };
        assert!(
            units + width <= character,
            "position {pos} falls inside the character {c:?}"
        );
        units += width;
    }
    assert_eq!(
        units, character,
        "position {pos} is past the end of line {line}"
    );
    start + end
}

impl State {
    fn apply_edit(&mut self, params: &Value) -> (Value, Vec<Value>) {
        if let Some(reason) = &self.refuse {
            return (
                json!({"applied": false, "failureReason": reason}),
                Vec::new(),
            );
        }
        let mut notes = Vec::new();
        for doc_edit in params["edit"]["documentChanges"].as_array().unwrap() {
            let uri = doc_edit["textDocument"]["uri"].as_str().unwrap();
            let utf8 = self.utf8;
            let Some(buf) = self.buffers.get_mut(uri) else {
                return (
                    json!({"applied": false, "failureReason": format!("{uri} is not open")}),
                    Vec::new(),
                );
            };
            if doc_edit["textDocument"]["version"].as_i64() != Some(buf.version) {
                return (
                    json!({"applied": false, "failureReason": "the document changed since"}),
                    Vec::new(),
                );
            }
            let mut ranges: Vec<(usize, usize, String)> = doc_edit["edits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        offset(&buf.text, &e["range"]["start"], utf8),
                        offset(&buf.text, &e["range"]["end"], utf8),
                        e["newText"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            ranges.sort_by_key(|r| r.0);
            for w in ranges.windows(2) {
                assert!(w[0].1 <= w[1].0, "overlapping edits: {doc_edit}");
            }
            for (a, b, t) in ranges.into_iter().rev() {
                buf.text.replace_range(a..b, &t);
            }
            buf.version += 1;
            notes.push(
                json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                    "textDocument": {"uri": uri, "version": buf.version},
                    "contentChanges": [{"text": buf.text}],
                }}),
            );
        }
        (json!({"applied": true}), notes)
    }

    fn save(&mut self, params: &Value) -> (Value, Vec<Value>) {
        let mut saved = Vec::new();
        let mut failed = Vec::new();
        let mut notes = Vec::new();
        for uri in params["uris"].as_array().unwrap() {
            let uri = uri.as_str().unwrap();
            match (self.buffers.get_mut(uri), &self.save_failure) {
                (None, _) => failed.push(json!({"uri": uri, "reason": "not open"})),
                (Some(_), Some(reason)) => failed.push(json!({"uri": uri, "reason": reason})),
                (Some(buf), None) => {
                    std::fs::write(&buf.path, &buf.text).unwrap();
                    buf.saved = buf.text.clone();
                    notes.push(
                        json!({"jsonrpc": "2.0", "method": "textDocument/didSave", "params": {
                            "textDocument": {"uri": uri}, "text": buf.text,
                        }}),
                    );
                    saved.push(uri.to_owned());
                }
            }
        }
        let mut result = json!({"saved": saved});
        if !failed.is_empty() {
            result["failed"] = json!(failed);
        }
        (result, notes)
    }
}

impl Client {
    /// `initialize` + `initialized` as an editor offering `offer`, with the
    /// workspace folder `root`; installs the handler that applies edits and
    /// saves. Returns the `initialize` result and the editor.
    pub async fn initialize_editor(&mut self, root: &Path, offer: Offer) -> (Value, Editor) {
        let state = Arc::new(Mutex::new(State {
            utf8: offer.utf8,
            saves: offer.save_documents,
            ..State::default()
        }));
        let mut caps = json!({
            "workspace": {"applyEdit": offer.apply_edit, "workspaceFolders": true,
                          "workspaceEdit": {"documentChanges": true}},
            "general": {"positionEncodings": [if offer.utf8 { "utf-8" } else { "utf-16" }]},
        });
        if offer.save_documents {
            caps["experimental"] = json!({"codelab": {"saveDocuments": true}});
        }
        let params = json!({"processId": null, "rootUri": null, "capabilities": caps,
            "workspaceFolders": [{"uri": file_uri(root), "name": "ws"}],
            "clientInfo": {"name": "codelab-test-editor"}});
        let result = self.call("initialize", params).await;
        let negotiated = result["capabilities"]["positionEncoding"].clone();
        assert_eq!(
            negotiated,
            if offer.utf8 { "utf-8" } else { "utf-16" },
            "{result}"
        );
        self.notify("initialized", json!({}));
        let out = self.out.clone();
        let handled = Arc::clone(&state);
        self.on_request(move |method, params| {
            let mut st = handled.lock().unwrap();
            let (result, notes) = match method {
                "workspace/applyEdit" => st.apply_edit(params),
                "codelab/saveDocuments" => {
                    assert!(
                        st.saves,
                        "saveDocuments sent to a client that did not offer it"
                    );
                    st.save(params)
                }
                other => panic!("unexpected server request {other}"),
            };
            // What the editor tells the server goes out before its answer.
            for n in notes {
                out.send(Out::Text(n.to_string())).unwrap();
            }
            result
        });
        (result, Editor { state })
    }
}

impl Client {
    /// Answers the server's requests until one of `method` has been
    /// answered, for an editor that is not attached to the session (so no
    /// notification tells it when to read). Other messages stay queued.
    pub async fn answer_until(&mut self, method: &str) {
        while !self
            .queued
            .iter()
            .any(|m| m.get("serverRequest").and_then(Value::as_str) == Some(method))
        {
            let msg = tokio::time::timeout(super::TIMEOUT, self.inbox.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "timed out waiting for {method}\nserver log:\n{}",
                        self.logs()
                    )
                })
                .unwrap_or_else(|| panic!("connection closed\nserver log:\n{}", self.logs()));
            if msg.get("method").is_some() && msg.get("id").is_some() {
                let name = msg["method"].as_str().unwrap_or_default().to_owned();
                let result = (self.handler)(&name, &msg["params"]);
                self.send_raw(
                    json!({"jsonrpc": "2.0", "id": msg["id"], "result": result}).to_string(),
                );
                self.queued
                    .push_back(json!({"serverRequest": name, "params": msg["params"]}));
            } else {
                self.queued.push_back(msg);
            }
        }
    }
}

impl Editor {
    /// Opens `path` as its file on disk holds it (or empty when there is none).
    pub fn open(&self, client: &Client, path: &Path) {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let uri = file_uri(path);
        client.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "plaintext", "version": 1, "text": text}}),
        );
        self.state.lock().unwrap().buffers.insert(
            uri,
            Buffer {
                path: path.to_path_buf(),
                version: 1,
                text: text.clone(),
                saved: text,
            },
        );
    }

    /// Closes `path`.
    pub fn close(&self, client: &Client, path: &Path) {
        let uri = file_uri(path);
        self.state.lock().unwrap().buffers.remove(&uri);
        client.notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": uri}}),
        );
    }

    /// The user types: the buffer of `path` becomes `text`, unsaved.
    pub fn type_text(&self, client: &Client, path: &Path, text: &str) {
        let uri = file_uri(path);
        let version = {
            let mut st = self.state.lock().unwrap();
            let buf = st.buffers.get_mut(&uri).expect("open");
            buf.text = text.to_owned();
            buf.version += 1;
            buf.version
        };
        client.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        );
    }

    /// The buffer of `path`.
    pub fn text(&self, path: &Path) -> String {
        self.state.lock().unwrap().buffers[&file_uri(path)]
            .text
            .clone()
    }

    /// Whether the buffer of `path` differs from what was last saved.
    pub fn modified(&self, path: &Path) -> bool {
        let st = self.state.lock().unwrap();
        let b = &st.buffers[&file_uri(path)];
        b.text != b.saved
    }

    /// Refuses every edit from now on, with `reason`.
    pub fn refuse_edits(&self, reason: &str) {
        self.state.lock().unwrap().refuse = Some(reason.to_owned());
    }

    /// Fails every save from now on, with `reason`.
    pub fn fail_saves(&self, reason: &str) {
        self.state.lock().unwrap().save_failure = Some(reason.to_owned());
    }
}
