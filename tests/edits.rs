//! Agent edits end to end: the real binary, the mock LLM, real files and
//! processes, and a client that is an editor (it applies
//! `workspace/applyEdit` to its buffers and saves on
//! `codelab/saveDocuments`). An approved edit is on disk before the next
//! tool call runs; an editor gets only the changed ranges; the user's
//! unsaved changes are never saved behind their back.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use std::path::{Path, PathBuf};

use codelab_agent::domain::SessionId;
use codelab_agent::protocol::requests::CreateSession;
use codelab_agent::protocol::types::{
    ApprovalRequiredParams, CreateSessionParams, SaveDocumentsParams, StopReason, ToolCallStatus,
};
use mock_llm::{MockLlm, Reply, Script};
use serde_json::{Value, json};
use support::agent::{ToolResult, TurnLog, approve, call, complete, drive, llm_env, send};
use support::editor::{Editor, Offer};
use support::typed::decode;
use support::{Client, ServerProcess, data_dir, file_uri};

/// A mock, a workspace, a stdio server and a client that is an editor.
struct Setup {
    mock: MockLlm,
    _data: tempfile::TempDir,
    _ws: tempfile::TempDir,
    root: PathBuf,
    _server: ServerProcess,
    client: Client,
    editor: Editor,
    session: SessionId,
}

impl Setup {
    async fn new(replies: Vec<Reply>, offer: Offer) -> Self {
        let mock = MockLlm::start(Script { replies }).await;
        let data = data_dir();
        let ws = tempfile::tempdir().unwrap();
        let root = ws.path().canonicalize().unwrap();
        let mut server = ServerProcess::stdio_env(data.path(), &llm_env(&mock));
        let mut client = server.stdio_client();
        let (_, editor) = client.initialize_editor(&root, offer).await;
        let session = client
            .call_typed::<CreateSession>(CreateSessionParams {
                agent: Some("coder".into()),
                ..Default::default()
            })
            .await
            .id;
        Self {
            mock,
            _data: data,
            _ws: ws,
            root,
            _server: server,
            client,
            editor,
            session,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes a file and opens it in the editor, as the disk holds it.
    fn open(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::write(&path, text).unwrap();
        self.editor.open(&self.client, &path);
        path
    }

    /// Runs a turn, approving everything.
    async fn turn(&mut self, text: &str) -> TurnLog {
        let turn = send(&mut self.client, self.session, text).await;
        let log = drive(&mut self.client, turn, |_| Some(approve()), |_| None).await;
        assert_eq!(log.stop(), StopReason::EndTurn, "{:?}", log.completed);
        log
    }

    async fn finish(self) {
        assert!(
            self.mock.violations().is_empty(),
            "{:?}",
            self.mock.violations()
        );
        self.client.finish().await;
    }
}

fn result(results: &[ToolResult], id: &str) -> (ToolCallStatus, String) {
    let r = results
        .iter()
        .find(|r| r.0 == id)
        .unwrap_or_else(|| panic!("no call {id} in {results:?}"));
    (r.1, r.2.clone())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The URIs of a recorded `codelab/saveDocuments`, read as its wire type.
fn save_uris(params: &Value) -> Vec<String> {
    decode::<SaveDocumentsParams>("codelab/saveDocuments params", params).uris
}

/// The text edits of a recorded `workspace/applyEdit` for one document:
/// (uri, version, edits).
fn document_edit(params: &Value) -> (String, i64, Vec<Value>) {
    let changes = params["edit"]["documentChanges"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "one document per edit: {params}");
    let c = &changes[0];
    (
        c["textDocument"]["uri"].as_str().unwrap().to_owned(),
        c["textDocument"]["version"].as_i64().unwrap(),
        c["edits"].as_array().unwrap().clone(),
    )
}

/// The file the editor has open gets the edit in its buffer and is saved
/// by the editor; the file nobody has open is written by the server; the
/// next command, `cat`, sees both new contents.
#[tokio::test]
async fn an_approved_edit_is_on_disk_before_the_next_command_runs() {
    let mut s = Setup::new(
        vec![
            call(
                "c1",
                "write_file",
                json!({"path": "NOTES.md", "content": "# Notes\nshipped\n"}),
            ),
            call(
                "c2",
                "write_file",
                json!({"path": "fresh.md", "content": "fresh\n"}),
            ),
            call(
                "c3",
                "execute_command",
                json!({"command": "cat NOTES.md fresh.md"}),
            ),
            complete("c4", "done"),
        ],
        Offer::default(),
    )
    .await;
    let notes = s.open("NOTES.md", "# Notes\n");
    let log = s.turn("write the notes").await;
    let results = log.tool_results();
    assert_eq!(
        result(&results, "c1"),
        (
            ToolCallStatus::Completed,
            "Replaced the content of NOTES.md (2 lines).".to_owned()
        )
    );
    assert_eq!(
        result(&results, "c2"),
        (
            ToolCallStatus::Completed,
            "Created fresh.md (1 lines).".to_owned()
        )
    );
    let (status, out) = result(&results, "c3");
    assert_eq!(status, ToolCallStatus::Completed, "{out}");
    assert!(out.contains("# Notes\nshipped\nfresh\n"), "{out}");
    // The open file went through the editor: one edit, then one save.
    let edit = s.client.take_server_request("workspace/applyEdit").unwrap();
    let (uri, version, edits) = document_edit(&edit);
    assert_eq!((uri.as_str(), version), (file_uri(&notes).as_str(), 1));
    assert_eq!(
        edits,
        [
            json!({"range": {"start": {"line": 0, "character": 7}, "end": {"line": 0, "character": 7}},
                "newText": "\nshipped"})
        ]
    );
    let save = s
        .client
        .take_server_request("codelab/saveDocuments")
        .unwrap();
    assert_eq!(save_uris(&save), [file_uri(&notes)]);
    // The other was not the editor's business: it has no buffer of it.
    assert!(
        s.client
            .take_server_request("workspace/applyEdit")
            .is_none()
    );
    assert!(
        s.client
            .take_server_request("codelab/saveDocuments")
            .is_none()
    );
    assert_eq!(s.editor.text(&notes), "# Notes\nshipped\n");
    assert!(!s.editor.modified(&notes), "the buffer is saved");
    assert_eq!(read(&notes), "# Notes\nshipped\n");
    assert_eq!(read(&s.path("fresh.md")), "fresh\n");
    // The server wrote fresh.md atomically: no temporary file is left.
    let names: Vec<String> = std::fs::read_dir(&s.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".codelab-")), "{names:?}");
    s.finish().await;
}

/// One line changed in a 10,000-line open document: the editor gets one
/// text edit, over the characters that differ on that line (UTF-16
/// positions, past an emoji), and nothing else.
#[tokio::test]
async fn one_changed_line_of_a_large_document_is_one_small_text_edit() {
    let diff = "<<<<<<< SEARCH\nline 5000 😀 old\n=======\nline 5000 😀 new\n>>>>>>> REPLACE\n";
    let mut s = Setup::new(
        vec![
            call("d1", "apply_diff", json!({"path": "big.txt", "diff": diff})),
            complete("d2", "done"),
        ],
        Offer::default(),
    )
    .await;
    let text: String = (1..=10_000)
        .map(|i| {
            if i == 5000 {
                "line 5000 😀 old\n".to_owned()
            } else {
                format!("line {i}\n")
            }
        })
        .collect();
    let big = s.open("big.txt", &text);
    let log = s.turn("make it new").await;
    let (status, out) = result(&log.tool_results(), "d1");
    assert_eq!(status, ToolCallStatus::Completed, "{out}");
    assert!(out.starts_with("Applied 1 block(s) to big.txt.\n"), "{out}");
    let edit = s.client.take_server_request("workspace/applyEdit").unwrap();
    let (uri, version, edits) = document_edit(&edit);
    assert_eq!((uri.as_str(), version), (file_uri(&big).as_str(), 1));
    // "line 5000 😀 " is 13 UTF-16 code units: the emoji counts two.
    assert_eq!(
        edits,
        [
            json!({"range": {"start": {"line": 4999, "character": 13}, "end": {"line": 4999, "character": 16}},
                "newText": "new"})
        ]
    );
    assert!(edit.to_string().len() < 400, "{edit}");
    s.client
        .take_server_request("codelab/saveDocuments")
        .unwrap();
    let expected = text.replace("😀 old", "😀 new");
    assert_eq!(s.editor.text(&big), expected);
    assert_eq!(read(&big), expected);
    s.finish().await;
}

/// The same in an editor that chose UTF-8 positions: the emoji counts
/// four bytes.
#[tokio::test]
async fn positions_follow_the_negotiated_encoding() {
    let diff = "<<<<<<< SEARCH\né 😀 old\n=======\né 😀 new\n>>>>>>> REPLACE\n";
    let mut s = Setup::new(
        vec![
            call("d1", "apply_diff", json!({"path": "u.txt", "diff": diff})),
            complete("d2", "done"),
        ],
        Offer {
            utf8: true,
            ..Offer::default()
        },
    )
    .await;
    let u = s.open("u.txt", "first\né 😀 old\nlast\n");
    s.turn("go").await;
    let edit = s.client.take_server_request("workspace/applyEdit").unwrap();
    let (_, _, edits) = document_edit(&edit);
    assert_eq!(
        edits,
        [
            json!({"range": {"start": {"line": 1, "character": 8}, "end": {"line": 1, "character": 11}},
                "newText": "new"})
        ]
    );
    s.client
        .take_server_request("codelab/saveDocuments")
        .unwrap();
    assert_eq!(read(&u), "first\né 😀 new\nlast\n");
    s.finish().await;
}

/// A buffer with the user's own unsaved changes gets the edit on top of
/// them, is not saved, and the model is told; the disk keeps the user's
/// last saved text.
#[tokio::test]
async fn unsaved_changes_of_the_user_are_never_saved_behind_their_back() {
    let mut s = Setup::new(
        vec![
            call(
                "c1",
                "write_file",
                json!({"path": "draft.md", "content": "the agent's text\n"}),
            ),
            complete("c2", "done"),
        ],
        Offer::default(),
    )
    .await;
    let draft = s.open("draft.md", "saved\n");
    s.editor
        .type_text(&s.client, &draft, "saved\nthe user's unsaved line\n");
    let log = s.turn("rewrite the draft").await;
    // The approval showed the buffer, the user's line included.
    let approvals = log.all::<ApprovalRequiredParams>();
    let files = approvals[0].approval.files.as_ref().unwrap();
    assert_eq!(files[0].current, "saved\nthe user's unsaved line\n");
    let (status, out) = result(&log.tool_results(), "c1");
    assert_eq!(status, ToolCallStatus::Completed, "{out}");
    assert!(
        out.starts_with("Changed draft.md in the editor (1 lines). draft.md had unsaved changes"),
        "{out}"
    );
    assert!(out.contains("NOT saved"), "{out}");
    s.client.take_server_request("workspace/applyEdit").unwrap();
    assert!(
        s.client
            .take_server_request("codelab/saveDocuments")
            .is_none(),
        "never saved"
    );
    assert_eq!(s.editor.text(&draft), "the agent's text\n");
    assert!(s.editor.modified(&draft));
    assert_eq!(
        read(&draft),
        "saved\n",
        "the disk keeps the user's saved text"
    );
    s.finish().await;
}

/// A client that applies edits but does not save on request: the buffer
/// gets the edit and the server writes the file. An edit the editor
/// refuses fails the call and changes nothing; a save that fails is
/// reported.
#[tokio::test]
async fn editors_that_do_not_save_refuse_or_fail_to_save() {
    let mut s = Setup::new(
        vec![
            call(
                "c1",
                "write_file",
                json!({"path": "a.txt", "content": "one\n"}),
            ),
            complete("c2", "done"),
            call(
                "c3",
                "write_file",
                json!({"path": "a.txt", "content": "two\n"}),
            ),
            complete("c4", "done"),
        ],
        Offer {
            save_documents: false,
            ..Offer::default()
        },
    )
    .await;
    let a = s.open("a.txt", "zero\n");
    let log = s.turn("one").await;
    assert_eq!(
        result(&log.tool_results(), "c1"),
        (
            ToolCallStatus::Completed,
            "Replaced the content of a.txt (1 lines).".to_owned()
        )
    );
    s.client.take_server_request("workspace/applyEdit").unwrap();
    assert_eq!(s.editor.text(&a), "one\n", "the buffer has the edit");
    assert_eq!(read(&a), "one\n", "and so has the disk");
    s.editor.refuse_edits("buffer is read-only");
    let log = s.turn("two").await;
    let (status, out) = result(&log.tool_results(), "c3");
    assert_eq!(status, ToolCallStatus::Failed);
    assert_eq!(
        out,
        "the editor did not apply the edit to a.txt: buffer is read-only"
    );
    s.client.take_server_request("workspace/applyEdit").unwrap();
    assert_eq!(read(&a), "one\n");
    s.finish().await;

    let mut s = Setup::new(
        vec![
            call(
                "c1",
                "write_file",
                json!({"path": "b.txt", "content": "new\n"}),
            ),
            complete("c2", "done"),
        ],
        Offer::default(),
    )
    .await;
    let b = s.open("b.txt", "old\n");
    s.editor.fail_saves("E212: Can't open file for writing");
    let log = s.turn("save it").await;
    let (status, out) = result(&log.tool_results(), "c1");
    assert_eq!(status, ToolCallStatus::Completed, "{out}");
    assert!(
        out.contains("the editor did not save it (E212: Can't open file for writing)"),
        "{out}"
    );
    s.client.take_server_request("workspace/applyEdit").unwrap();
    s.client
        .take_server_request("codelab/saveDocuments")
        .unwrap();
    assert_eq!(s.editor.text(&b), "new\n");
    assert_eq!(read(&b), "old\n");
    s.finish().await;
}

/// Which editor applies an edit: the connection that started the turn when
/// it has the file open, else another that has it open; no request goes to
/// a connection that does not.
#[tokio::test]
async fn the_turns_own_editor_first_then_one_that_has_the_file_open() {
    let mock = MockLlm::start(Script {
        replies: vec![
            call(
                "c1",
                "write_file",
                json!({"path": "shared.txt", "content": "first\n"}),
            ),
            complete("c2", "done"),
            call(
                "c3",
                "write_file",
                json!({"path": "shared.txt", "content": "second\n"}),
            ),
            complete("c4", "done"),
        ],
    })
    .await;
    let data = data_dir();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    let shared = root.join("shared.txt");
    std::fs::write(&shared, "zero\n").unwrap();
    let server = ServerProcess::websocket_env(data.path(), &llm_env(&mock)).await;
    let mut a = server.ws_client().await;
    let (_, a_editor) = a.initialize_editor(&root, Offer::default()).await;
    let mut b = server.ws_client().await;
    let (_, b_editor) = b.initialize_editor(&root, Offer::default()).await;
    b_editor.open(&b, &shared);
    let session = a
        .call_typed::<CreateSession>(CreateSessionParams {
            agent: Some("coder".into()),
            ..Default::default()
        })
        .await
        .id;

    // A started the turn but does not have the file open: B, which has, edits it.
    let turn = send(&mut a, session, "first").await;
    let (log, ()) = tokio::join!(
        drive(&mut a, turn, |_| Some(approve()), |_| None),
        b.answer_until("codelab/saveDocuments"),
    );
    assert_eq!(
        result(&log.tool_results(), "c1").0,
        ToolCallStatus::Completed
    );
    b.take_server_request("workspace/applyEdit").unwrap();
    b.take_server_request("codelab/saveDocuments").unwrap();
    assert_eq!(b_editor.text(&shared), "first\n");
    assert_eq!(read(&shared), "first\n");

    // Now A has it open too: A, the turn's own connection, edits it.
    a_editor.open(&a, &shared);
    let turn = send(&mut a, session, "second").await;
    let log = drive(&mut a, turn, |_| Some(approve()), |_| None).await;
    assert_eq!(
        result(&log.tool_results(), "c3").0,
        ToolCallStatus::Completed
    );
    a.take_server_request("workspace/applyEdit").unwrap();
    a.take_server_request("codelab/saveDocuments").unwrap();
    assert_eq!(a_editor.text(&shared), "second\n");
    assert_eq!(read(&shared), "second\n");
    // B got nothing more (its buffer is now behind the disk, as after any
    // change on disk: its editor reloads it).
    assert_eq!(b_editor.text(&shared), "first\n");
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    b.finish().await;
    a.finish().await;
}
