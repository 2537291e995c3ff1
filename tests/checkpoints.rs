//! Checkpoints and rollback, with the real binary, a real store and real
//! files: three edit turns, then a restore of the first puts every file back
//! byte for byte (one the agent created is removed, one it emptied is
//! filled again); a file the user changed since is a conflict.

#![allow(clippy::unwrap_used)]

mod support;

use codelab_agent::protocol::requests::{ListCheckpoints, RestoreCheckpoint};
use codelab_agent::protocol::types::{
    RestoreCheckpointParams, SessionParams, StopReason, TurnDiffParams,
};
use serde_json::json;
use support::agent::{Harness, calls, text, when};

const A: &[u8] = b"alpha\r\nline two\n";
const B: &[u8] = b"bravo content\nwith two lines\n";
const KEEP: &[u8] = b"never touched\n";

#[tokio::test]
async fn three_edit_turns_then_a_restore_of_the_first() {
    let replies = vec![
        when(
            "turn one",
            calls(
                "",
                &[
                    (
                        "c1",
                        "write_file",
                        json!({"path": "a.txt", "content": "alpha changed\n"}),
                    ),
                    (
                        "c2",
                        "write_file",
                        json!({"path": "sub/new.txt", "content": "created\n"}),
                    ),
                ],
            ),
        ),
        when("Created sub/new.txt", text("one done")),
        when(
            "turn two",
            calls(
                "",
                &[
                    ("c3", "write_file", json!({"path": "b.txt", "content": ""})),
                    (
                        "c4",
                        "write_file",
                        json!({"path": "a.txt", "content": "alpha twice\n"}),
                    ),
                ],
            ),
        ),
        when("Replaced the content of a.txt", text("two done")),
        when(
            "turn three",
            calls(
                "",
                &[(
                    "c5",
                    "apply_diff",
                    json!({"path": "a.txt", "diff": "<<<<<<< SEARCH\nalpha twice\n=======\nalpha thrice\n>>>>>>> REPLACE\n"}),
                )],
            ),
        ),
        when("Applied 1 block", text("three done")),
    ];
    let mut h =
        Harness::with_caps(replies, "coder", false, "", Some(json!({"turnDiff": true}))).await;
    let root = h.root();
    std::fs::write(root.join("a.txt"), A).unwrap();
    std::fs::write(root.join("b.txt"), B).unwrap();
    std::fs::write(root.join("keep.txt"), KEEP).unwrap();

    let mut turns = Vec::new();
    for (t, done) in [
        ("turn one", "one done"),
        ("turn two", "two done"),
        ("turn three", "three done"),
    ] {
        let log = h.turn(t).await;
        assert_eq!(
            log.stop(),
            StopReason::EndTurn,
            "{t}: {:?}",
            log.completed.error
        );
        assert_eq!(log.completed.result.as_deref(), Some(done));
        let diffs = log.all::<TurnDiffParams>();
        assert_eq!(diffs.len(), 1, "{t}: one combined diff per turn");
        turns.push((log.completed.turn_id, diffs.into_iter().next().unwrap()));
    }
    let d1 = &turns[0].1;
    let files: Vec<(&str, &str)> = d1
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.status.as_str()))
        .collect();
    assert_eq!(files, [("a.txt", "modified"), ("sub/new.txt", "created")]);
    assert!(
        d1.diff.contains("+alpha changed") && d1.diff.contains("+created"),
        "{}",
        d1.diff
    );
    let d2 = &turns[1].1;
    let b = d2.files.iter().find(|f| f.path == "b.txt").unwrap();
    assert_eq!((b.added, b.removed), (0, 2), "b.txt emptied");
    assert_eq!(
        std::fs::read(root.join("a.txt")).unwrap(),
        b"alpha thrice\n"
    );
    assert_eq!(std::fs::read(root.join("b.txt")).unwrap(), b"");

    let listed = h
        .client
        .call_typed::<ListCheckpoints>(SessionParams {
            session_id: h.session,
        })
        .await
        .turns;
    let ids: Vec<_> = listed.iter().map(|t| t.turn_id).collect();
    assert_eq!(ids, turns.iter().map(|t| t.0).collect::<Vec<_>>());
    assert_eq!(listed[1].files.len(), 2);
    assert_eq!(listed[2].files[0].path, "a.txt");

    // The user changes b.txt after the agent emptied it: a conflict.
    std::fs::write(root.join("b.txt"), b"the user's own text\n").unwrap();
    let r = h
        .client
        .call_typed::<RestoreCheckpoint>(RestoreCheckpointParams {
            session_id: h.session,
            turn_id: turns[0].0,
            overwrite: None,
            truncate_conversation: None,
        })
        .await;
    assert_eq!(r.restored, ["a.txt", "sub/new.txt"]);
    assert_eq!(r.conflicts, ["b.txt"]);
    assert_eq!(
        std::fs::read(root.join("a.txt")).unwrap(),
        A,
        "byte for byte, CRLF kept"
    );
    assert!(
        !root.join("sub/new.txt").exists(),
        "the created file is removed"
    );
    assert_eq!(
        std::fs::read(root.join("b.txt")).unwrap(),
        b"the user's own text\n"
    );
    assert_eq!(std::fs::read(root.join("keep.txt")).unwrap(), KEEP);

    // The client says to overwrite: b.txt is filled again.
    let r = h
        .client
        .call_typed::<RestoreCheckpoint>(RestoreCheckpointParams {
            session_id: h.session,
            turn_id: turns[0].0,
            overwrite: Some(true),
            truncate_conversation: None,
        })
        .await;
    assert!(r.conflicts.is_empty(), "{r:?}");
    assert_eq!(std::fs::read(root.join("b.txt")).unwrap(), B);
    assert_eq!(std::fs::read(root.join("a.txt")).unwrap(), A);
    assert!(!root.join("sub/new.txt").exists());
    // Nothing but the files the agent touched (and the user's) is in the workspace.
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a.txt", "b.txt", "keep.txt", "sub"]);
    h.finish().await;
}

/// A turn that changed nothing cannot be restored: a clear error.
#[tokio::test]
async fn restoring_a_turn_without_edits_is_a_clear_error() {
    let mut h = Harness::with_caps(
        vec![when("hi", text("hello"))],
        "coder",
        false,
        "",
        Some(json!({"turnDiff": true})),
    )
    .await;
    let log = h.turn("hi").await;
    assert!(
        log.all::<TurnDiffParams>().is_empty(),
        "no diff without edits"
    );
    let e = h
        .client
        .error_typed::<RestoreCheckpoint>(RestoreCheckpointParams {
            session_id: h.session,
            turn_id: log.completed.turn_id,
            overwrite: None,
            truncate_conversation: None,
        })
        .await;
    assert!(e.message.contains("changed no file"), "{e:?}");
    h.finish().await;
}

/// A restore may also truncate the conversation: the model no longer sees
/// the turn and what followed, while the history keeps every message.
#[tokio::test]
async fn a_restore_can_truncate_the_conversation() {
    let replies = vec![
        when(
            "first task",
            calls(
                "",
                &[(
                    "c1",
                    "write_file",
                    json!({"path": "a.txt", "content": "agent\n"}),
                )],
            ),
        ),
        when("Replaced the content of a.txt", text("first done")),
        when("second task", text("second done")),
        when("third task", text("third done")),
    ];
    let mut h =
        Harness::with_caps(replies, "coder", false, "", Some(json!({"turnDiff": true}))).await;
    std::fs::write(h.root().join("a.txt"), A).unwrap();
    let first = h.turn("first task").await;
    assert_eq!(
        first.stop(),
        StopReason::EndTurn,
        "{:?}",
        first.completed.error
    );
    first.all::<TurnDiffParams>();
    let second = h.turn("second task").await;
    assert_eq!(second.stop(), StopReason::EndTurn);
    let r = h
        .client
        .call_typed::<RestoreCheckpoint>(RestoreCheckpointParams {
            session_id: h.session,
            turn_id: first.completed.turn_id,
            overwrite: None,
            truncate_conversation: Some(true),
        })
        .await;
    assert_eq!(r.restored, ["a.txt"]);
    let from = r.truncated_from_seq.expect("truncated");
    // The marker is announced like any message.
    let added = h
        .client
        .expect::<codelab_agent::protocol::types::MessageAddedParams>()
        .await;
    assert_eq!(added.message.compaction.map(|c| c.rewound_from), Some(from));
    assert_eq!(std::fs::read(h.root().join("a.txt")).unwrap(), A);
    h.turn("third task").await;
    let sent = h.mock.requests().pop().unwrap().body["messages"].to_string();
    assert!(sent.contains("third task"), "{sent}");
    for gone in ["first task", "first done", "second task", "second done"] {
        assert!(!sent.contains(gone), "{gone} is hidden: {sent}");
    }
    let history = h
        .client
        .call_typed::<codelab_agent::protocol::requests::GetHistory>(
            codelab_agent::protocol::types::GetHistoryParams {
                session_id: h.session,
                after_seq: None,
                limit: None,
            },
        )
        .await
        .messages;
    let texts: Vec<&str> = history.iter().map(|m| m.text.as_str()).collect();
    assert!(
        texts.contains(&"first task") && texts.contains(&"second done"),
        "nothing lost: {texts:?}"
    );
    h.finish().await;
}

/// SIGKILL in the middle of a restore of many files: every file is whole,
/// either as the agent left it or as it was before the turn (never empty,
/// truncated or mixed), and the store opens again with the checkpoints and
/// the history intact: a second restore then completes.
#[tokio::test]
async fn sigkill_during_a_restore_leaves_every_file_whole_and_the_store_consistent() {
    const FILES: usize = 40;
    let old = |i: usize| format!("old content of file {i}\n").repeat(150);
    let new = |i: usize| format!("new content of file {i}\n").repeat(150);
    let writes: Vec<(String, serde_json::Value)> = (0..FILES)
        .map(|i| {
            (
                format!("w{i}"),
                json!({"path": format!("f{i:03}.txt"), "content": new(i)}),
            )
        })
        .collect();
    let call_list: Vec<(&str, &str, serde_json::Value)> = writes
        .iter()
        .map(|(id, args)| (id.as_str(), "write_file", args.clone()))
        .collect();
    let mut h = Harness::with_caps(
        vec![
            when("rewrite", calls("", &call_list)),
            support::agent::complete("c", "rewritten"),
        ],
        "coder",
        false,
        "[[policy.rules]]\ntool = \"write_file\"\naction = \"allow\"\n",
        None,
    )
    .await;
    let root = h.root();
    for i in 0..FILES {
        std::fs::write(root.join(format!("f{i:03}.txt")), old(i)).unwrap();
    }
    let log = h.turn("rewrite them all").await;
    assert_eq!(log.stop(), StopReason::EndTurn, "{:?}", log.completed.error);
    let turn_id = log.completed.turn_id;
    for i in 0..FILES {
        assert_eq!(
            std::fs::read_to_string(root.join(format!("f{i:03}.txt"))).unwrap(),
            new(i)
        );
    }
    // The restore starts; as soon as one file is back, the server dies.
    h.client.send_request(
        "codelab/restoreCheckpoint",
        Some(json!({"sessionId": h.session, "turnId": turn_id})),
    );
    let reverted = |i: usize| {
        std::fs::read_to_string(root.join(format!("f{i:03}.txt"))).is_ok_and(|t| t == old(i))
    };
    let mut seen = false;
    for _ in 0..20_000 {
        if (0..FILES).any(reverted) {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert!(seen, "the restore put no file back");
    h.server.kill().await;
    let _ = h.server.child.wait().await;
    let support::agent::Harness {
        mock,
        data,
        ws: _ws,
        server: _killed,
        client,
        session,
    } = h;
    client.abandon();
    let mut back = 0;
    for i in 0..FILES {
        let text = std::fs::read_to_string(root.join(format!("f{i:03}.txt"))).unwrap();
        assert!(
            text == old(i) || text == new(i),
            "f{i:03}.txt is neither before nor after: {} bytes",
            text.len()
        );
        back += usize::from(text == old(i));
    }
    // How far it got depends on timing (one file of forty in the runs
    // here); it is not asserted.
    assert!(back >= 1);

    // The store opens again, with the checkpoint and the history; the
    // restore done again completes (files already back are not conflicts:
    // they are as the checkpoint has them).
    let root_uri = support::file_uri(&root);
    let (mut server, mut client) = support::agent::restart(data.path(), &mock, &root_uri).await;
    let listed = client
        .call_typed::<ListCheckpoints>(SessionParams {
            session_id: session,
        })
        .await;
    assert_eq!(listed.turns.len(), 1, "{listed:?}");
    assert_eq!(listed.turns[0].files.len(), FILES);
    let report = client
        .call_typed::<RestoreCheckpoint>(RestoreCheckpointParams {
            session_id: session,
            turn_id,
            overwrite: None,
            truncate_conversation: None,
        })
        .await;
    assert!(report.conflicts.is_empty(), "{report:?}");
    assert_eq!(report.restored.len(), FILES, "{report:?}");
    for i in 0..FILES {
        assert!(reverted(i), "f{i:03}.txt restored");
    }
    client.finish().await;
    let _ = server.wait().await;
}

/// A 300-turn editing session (a whole-file write per turn, round-robin over
/// ten 4 KB files in a tree of 200, every 30th turn writing back an earlier
/// version): the store keeps each distinct content once, only of the files
/// edited, whatever the number of turns. Prints the storage figures for
/// BENCHMARKS.md (`--no-capture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stderr)]
async fn a_300_turn_editing_session_stores_each_content_once() {
    const TURNS: usize = 300;
    const EDITED: usize = 10;
    const TREE: usize = 200;
    let content = |file: usize, version: usize| {
        let mut s = format!("// file {file}, version {version}\n");
        while s.len() < 4096 {
            s.push_str(&format!(
                "fn step_{file}_{}() -> u32 {{ {version} }}\n",
                s.len()
            ));
        }
        s
    };
    // What turn i writes: version i of file i % 10, or on every 30th turn
    // the version of 20 turns before (stored already).
    let written = |i: usize| {
        let version = if i.is_multiple_of(30) { i - 20 } else { i };
        (i % EDITED, content(i % EDITED, version))
    };
    let mut h = Harness::with_caps(
        Vec::new(),
        "coder",
        false,
        // A small window: the session compacts (as a long one does), so
        // requests stay small; tests/context.rs checks the compaction.
        "[llm]\ncontext_window = 16000\n\n[[policy.rules]]\ntool = \"write_file\"\naction = \"allow\"\n",
        None,
    )
    .await;
    // Summaries first in the queue: they match only a summary request.
    h.mock.push((0..TURNS).map(|n| {
        when(
            "Summarise the conversation above",
            text(&format!("- Task: rewrite files on request; summary {n}.")),
        )
    }));
    let root = h.root();
    let mut tree_bytes = 0;
    for f in 0..TREE {
        let initial = content(f, 0);
        tree_bytes += initial.len();
        std::fs::write(root.join(format!("f{f:03}.rs")), initial).unwrap();
    }
    let mut distinct: std::collections::HashSet<String> =
        (0..EDITED).map(|f| content(f, 0)).collect();
    for i in 1..=TURNS {
        let tag = format!("[edit {i:03}]");
        let (file, text_written) = written(i);
        h.mock.push([
            when(
                &tag,
                support::agent::call(
                    &format!("w{i}"),
                    "write_file",
                    json!({"path": format!("f{file:03}.rs"), "content": text_written}),
                ),
            ),
            when(&format!("f{file:03}.rs"), text(&format!("edit {i} done"))),
        ]);
        let log = h.turn(&format!("{tag} rewrite f{file:03}.rs")).await;
        assert_eq!(
            log.stop(),
            StopReason::EndTurn,
            "turn {i}: {:?}",
            log.completed.error
        );
        assert_eq!(
            std::fs::read_to_string(root.join(format!("f{file:03}.rs"))).unwrap(),
            text_written
        );
        distinct.insert(text_written);
    }
    let listed = h
        .client
        .call_typed::<ListCheckpoints>(SessionParams {
            session_id: h.session,
        })
        .await;
    assert_eq!(listed.turns.len(), TURNS, "one checkpoint per edit turn");
    let session = h.session;
    let data = h.data;
    h.client.finish().await;
    assert_eq!(h.server.wait().await, Some(0));

    let store = codelab_agent::store::RedbStore::open(data.path()).unwrap();
    let checkpoints = codelab_agent::store::Store::checkpoints(&store, session)
        .await
        .unwrap();
    let mut stored: std::collections::HashMap<String, u64> = Default::default();
    for c in &checkpoints {
        assert!(
            c.path.starts_with('f') && c.path.ends_with(".rs"),
            "only edited files: {}",
            c.path
        );
        for r in c.before.iter().chain(&c.after) {
            stored.insert(r.hash.clone(), r.len);
        }
    }
    let stored_bytes: u64 = stored.values().sum();
    let expected: u64 = distinct.iter().map(|c| c.len() as u64).sum();
    assert_eq!(stored.len(), distinct.len(), "each content once");
    assert_eq!(stored_bytes, expected);
    for (hash, len) in &stored {
        let bytes = codelab_agent::store::Store::checkpoint_content(&store, hash.clone())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("content {hash} is missing"));
        assert_eq!(bytes.len() as u64, *len);
    }
    let file_len = std::fs::metadata(data.path().join("codelab.redb"))
        .map(|m| m.len())
        .unwrap_or_default();
    let per_turn_copy: usize = (1..=TURNS).map(|i| written(i).1.len()).sum();
    eprintln!(
        "{TURNS} edit turns over {EDITED} of {TREE} files: checkpoints hold {} distinct contents, {stored_bytes} bytes; a copy of the edited file per turn would be {per_turn_copy} bytes, a copy of the tree per turn {} bytes; the whole store file is {file_len} bytes",
        stored.len(),
        tree_bytes * TURNS
    );
    store.stop().await;
}
