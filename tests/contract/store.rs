//! The store contract: the behaviour every `Store` backend must have.
//!
//! A backend's test file includes this module and runs [`store_contract!`]
//! with a type implementing [`Backend`] (how to open, and reopen, the same
//! storage). Every case runs against a fresh, empty storage.

#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;

use chrono::{Duration, Utc};
use codelab_agent::domain::{
    ApprovalId, AuditRecord, CheckpointOutcome, Compaction, EditPreview, EventId, FileChange,
    Message, MessageContext, ModelChoice, ParentLink, PendingApproval, PendingQuestion, QuestionId,
    Role, Session, SessionId, ToolCall, TurnId,
};
use codelab_agent::store::{AuditQuery, SessionChange, Store, StoreError};
use serde_json::json;

/// How a test opens a backend's storage.
pub trait Backend: Sized + Send + Sync + 'static {
    /// A fresh, empty storage.
    fn create() -> impl Future<Output = Self> + Send;
    /// Opens (or reopens) the storage: what was acknowledged before must be there.
    fn open(&self) -> impl Future<Output = Arc<dyn Store>> + Send;
}

/// Runs every case of the contract as its own test.
#[macro_export]
macro_rules! store_contract {
    ($backend:ty) => {
        $crate::store_contract!(@cases $backend;
            messages_persist_in_order_across_reopen,
            concurrent_writers_are_group_committed_and_all_durable,
            sessions_list_newest_first_in_pages,
            changing_the_agent_persists,
            changing_the_title_and_model_persists,
            every_field_reads_back,
            approvals_resolve_once_with_their_audit_entry,
            questions_are_taken_once,
            deleting_a_session_deletes_only_what_is_its_own,
            audit_pages_filter_and_keep_their_cursor,
            idle_sessions_and_old_audit_entries_are_found,
            checkpoints_keep_the_first_before_dedupe_and_go_with_their_session,
            checkpoints_stop_at_the_session_limit,
        );
    };
    (@cases $backend:ty; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let backend = <$backend as contract::Backend>::create().await;
                contract::$case(&backend).await;
            }
        )*
    };
}

pub fn session(title: &str) -> Session {
    Session {
        id: SessionId::new(),
        title: title.into(),
        workspace_folder: None,
        agent: "coder".into(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
        message_count: 0,
        last_seq: 0,
        parent: None,
        model: None,
    }
}

pub fn message(session_id: SessionId, seq: u64, role: Role, text: &str) -> Message {
    Message {
        session_id,
        seq,
        tool_calls: if role == Role::Assistant {
            vec![ToolCall {
                id: format!("call_{seq}"),
                name: "read_file".into(),
                arguments: json!({"path": "a.rs"}),
            }]
        } else {
            vec![]
        },
        ..Message::new(role, None, text.into())
    }
}

fn audit(session: Option<SessionId>, category: &str, kind: &str) -> AuditRecord {
    AuditRecord {
        id: EventId::new(),
        at: Utc::now(),
        session_id: session,
        category: category.into(),
        kind: kind.into(),
        payload: json!({"n": 1}),
    }
}

/// A pending approval of `session`.
pub fn pending_approval(session: SessionId) -> PendingApproval {
    approval(session, "call_1")
}

fn approval(session: SessionId, call: &str) -> PendingApproval {
    PendingApproval {
        id: ApprovalId::new(),
        session_id: session,
        turn_id: TurnId::new(),
        tool_call_id: call.into(),
        tool: "write_file".into(),
        params: json!({"path": "a.md", "content": "x"}),
        rule: "default: edits ask".into(),
        preview: Some(EditPreview {
            diff: "--- a/a.md\n+++ b/a.md\n".into(),
            files: vec![FileChange {
                path: "a.md".into(),
                current: "old\n".into(),
                proposed: "x".into(),
            }],
        }),
        created_at: Utc::now(),
    }
}

fn question(session: SessionId, seq: u64) -> PendingQuestion {
    PendingQuestion {
        id: QuestionId::new(),
        session_id: session,
        turn_id: TurnId::new(),
        seq,
        question: "Which?".into(),
        suggestions: vec!["a".into(), "b".into()],
    }
}

pub async fn messages_persist_in_order_across_reopen<B: Backend>(b: &B) {
    let store = b.open().await;
    let s = store.create_session(session("a")).await.unwrap();
    let other = store.create_session(session("b")).await.unwrap();
    let updated = store
        .append_messages(
            s.id,
            vec![
                message(s.id, 1, Role::User, "hi"),
                message(s.id, 2, Role::Assistant, "reading"),
            ],
        )
        .await
        .unwrap();
    assert_eq!((updated.message_count, updated.last_seq), (2, 2));
    store
        .append_messages(s.id, vec![message(s.id, 5, Role::Tool, "fn main() {}")])
        .await
        .unwrap();
    store
        .append_messages(other.id, vec![message(other.id, 1, Role::User, "other")])
        .await
        .unwrap();

    // A seq that does not follow is refused, and nothing of it is written.
    let err = store
        .append_messages(
            s.id,
            vec![
                message(s.id, 6, Role::User, "ok"),
                message(s.id, 5, Role::User, "dup"),
            ],
        )
        .await;
    assert!(matches!(err, Err(StoreError::Invalid(_))), "{err:?}");
    let err = store.append_messages(SessionId::new(), vec![]).await;
    assert!(matches!(err, Err(StoreError::SessionNotFound(_))));

    store
        .append_audit(vec![audit(Some(s.id), "session", "created")])
        .await
        .unwrap();
    store.close().await;
    drop(store);

    let store = b.open().await;
    let page = store.history(s.id, 0, 100).await.unwrap();
    assert!(!page.more);
    let all = page.items;
    assert_eq!(all.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 5]);
    assert_eq!(all[1].tool_calls[0].name, "read_file");
    let page = store.history(s.id, 1, 1).await.unwrap();
    assert!(page.more);
    assert_eq!(page.items[0].seq, 2);
    let tail = store.history(s.id, 5, 10).await.unwrap();
    assert!(tail.items.is_empty());
    assert_eq!(store.get_session(s.id).await.unwrap().message_count, 3);
    let audit = store.audit_page(AuditQuery::default(), 10).await.unwrap();
    assert_eq!(audit.items.len(), 1);

    // Deleting a session deletes its messages and only its messages.
    assert_eq!(store.delete_session(s.id).await.unwrap(), 3);
    assert!(matches!(
        store.history(s.id, 0, 10).await,
        Err(StoreError::SessionNotFound(_))
    ));
    assert_eq!(store.history(other.id, 0, 10).await.unwrap().items.len(), 1);
    store.close().await;
}

pub async fn concurrent_writers_are_group_committed_and_all_durable<B: Backend>(b: &B) {
    let store = b.open().await;
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(
            store
                .create_session(session(&format!("s{i}")))
                .await
                .unwrap()
                .id,
        );
    }
    let mut tasks = Vec::new();
    for id in ids.clone() {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for seq in 1..=50 {
                store
                    .append_messages(id, vec![message(id, seq, Role::User, "m")])
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    store.close().await;
    drop(store);
    let store = b.open().await;
    for id in ids {
        let msgs = store.history(id, 0, 1000).await.unwrap().items;
        assert_eq!(msgs.len(), 50);
        assert!(msgs.windows(2).all(|w| w[0].seq < w[1].seq));
    }
    store.close().await;
}

pub async fn sessions_list_newest_first_in_pages<B: Backend>(b: &B) {
    let store = b.open().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            store
                .create_session(session(&format!("s{i}")))
                .await
                .unwrap()
                .id,
        );
    }
    let first = store.list_sessions(None, 2).await.unwrap();
    assert!(first.more);
    assert_eq!(
        first.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        [ids[4], ids[3]]
    );
    let rest = store
        .list_sessions(Some(first.items[1].id), 10)
        .await
        .unwrap();
    assert!(!rest.more);
    assert_eq!(
        rest.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        [ids[2], ids[1], ids[0]]
    );
    assert!(matches!(
        store.get_session(SessionId::new()).await,
        Err(StoreError::SessionNotFound(_))
    ));
    store.close().await;
}

pub async fn changing_the_agent_persists<B: Backend>(b: &B) {
    let store = b.open().await;
    let s = store.create_session(session("a")).await.unwrap();
    let changed = store
        .set_session_agent(s.id, "architect".into())
        .await
        .unwrap();
    assert_eq!(changed.agent, "architect");
    assert!(changed.updated_at >= s.updated_at);
    assert!(matches!(
        store.set_session_agent(SessionId::new(), "x".into()).await,
        Err(StoreError::SessionNotFound(_))
    ));
    store.close().await;
    drop(store);
    let store = b.open().await;
    assert_eq!(store.get_session(s.id).await.unwrap().agent, "architect");
    store.close().await;
}

pub async fn changing_the_title_and_model_persists<B: Backend>(b: &B) {
    let store = b.open().await;
    let s = store.create_session(session("a")).await.unwrap();
    let chosen = ModelChoice {
        provider: "anthropic".into(),
        model: "claude-sonnet-4-5".into(),
    };
    let titled = store
        .update_session(
            s.id,
            SessionChange {
                title: Some("Fix the parser".into()),
                ..SessionChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (titled.title.as_str(), &titled.model),
        ("Fix the parser", &None)
    );
    assert!(titled.updated_at >= s.updated_at);
    // Only what the change names changes.
    let chose = store
        .update_session(
            s.id,
            SessionChange {
                model: Some(Some(chosen.clone())),
                ..SessionChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(chose.title, "Fix the parser");
    assert_eq!(chose.model.as_ref(), Some(&chosen));
    assert_eq!(chose.agent, "coder");
    assert!(matches!(
        store
            .update_session(SessionId::new(), SessionChange::default())
            .await,
        Err(StoreError::SessionNotFound(_))
    ));
    let other = store.create_session(session("b")).await.unwrap();
    store.close().await;
    drop(store);
    let store = b.open().await;
    let back = store.get_session(s.id).await.unwrap();
    assert_eq!(back.title, "Fix the parser");
    assert_eq!(back.model, Some(chosen));
    let listed = store.list_sessions(None, 10).await.unwrap();
    let found = listed.items.iter().find(|x| x.id == s.id).unwrap();
    assert_eq!(found.title, "Fix the parser");
    assert_eq!(store.get_session(other.id).await.unwrap().model, None);
    // Choosing none again: the configured model.
    let cleared = store
        .update_session(
            s.id,
            SessionChange {
                model: Some(None),
                ..SessionChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.model, None);
    store.close().await;
}

pub async fn every_field_reads_back<B: Backend>(b: &B) {
    let store = b.open().await;
    let parent = store.create_session(session("parent")).await.unwrap();
    let mut child = session("child");
    child.workspace_folder = Some("file:///work/p".into());
    child.parent = Some(ParentLink {
        session_id: parent.id,
        tool_call_id: "call_task".into(),
    });
    let child = store.create_session(child).await.unwrap();
    let mut m = message(child.id, 1, Role::User, "hello ✓");
    m.turn_id = Some(TurnId::new());
    m.context = Some(MessageContext {
        open_files: vec!["src/a.rs".into()],
        active_file: Some("src/a.rs".into()),
        selection: Some("fn a()".into()),
        diagnostics: vec!["src/a.rs:1: bad".into()],
    });
    let mut r = message(child.id, 2, Role::Tool, "failed");
    r.tool_call_id = Some("call_1".into());
    r.is_error = true;
    // A compaction marker: the summary as its text, what it covers.
    let mut c = message(child.id, 3, Role::User, "the summary so far");
    c.compaction = Some(Compaction {
        summarized_through: 1,
        elided_through: 2,
        tokens_before: 9000,
        tokens_after: 1200,
        rewound_from: 1,
    });
    store
        .append_messages(child.id, vec![m.clone(), r.clone(), c.clone()])
        .await
        .unwrap();
    let a = approval(child.id, "call_1");
    store.put_approval(a.clone()).await.unwrap();
    let q = question(child.id, 9);
    store.put_question(q.clone()).await.unwrap();
    let e = audit(Some(child.id), "tool", "completed");
    store.append_audit(vec![e.clone()]).await.unwrap();
    store.close().await;
    drop(store);

    let store = b.open().await;
    let got = store.get_session(child.id).await.unwrap();
    assert_eq!(got.parent, child.parent);
    assert_eq!(got.workspace_folder, child.workspace_folder);
    assert_eq!((got.message_count, got.last_seq), (3, 3));
    let history = store.history(child.id, 0, 10).await.unwrap().items;
    assert_eq!(history, vec![m, r, c]);
    assert_eq!(store.get_approval(a.id).await.unwrap(), Some(a));
    assert_eq!(store.list_questions(Some(child.id)).await.unwrap(), vec![q]);
    assert_eq!(
        store
            .audit_page(AuditQuery::default(), 10)
            .await
            .unwrap()
            .items,
        vec![e]
    );
    store.close().await;
}

pub async fn approvals_resolve_once_with_their_audit_entry<B: Backend>(b: &B) {
    let store = b.open().await;
    let s = store.create_session(session("a")).await.unwrap();
    let first = approval(s.id, "call_1");
    let second = approval(s.id, "call_2");
    store.put_approval(first.clone()).await.unwrap();
    store.put_approval(second.clone()).await.unwrap();
    assert_eq!(
        store
            .list_approvals(Some(s.id))
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect::<Vec<_>>(),
        [first.id, second.id],
        "oldest first"
    );
    assert!(
        store
            .list_approvals(Some(SessionId::new()))
            .await
            .unwrap()
            .is_empty()
    );
    // Eight callers race to resolve one approval: exactly one wins, and only
    // the winner's audit entry is written.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = Arc::clone(&store);
        let id = first.id;
        tasks.push(tokio::spawn(async move {
            let mut entry = audit(None, "approval", "decisionMade");
            entry.payload = json!({"by": i});
            store.resolve_approval(id, Some(entry)).await.unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        if let Some(a) = t.await.unwrap() {
            assert_eq!(a, first);
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    let entries = store
        .audit_page(
            AuditQuery {
                category: Some("approval".into()),
                ..AuditQuery::default()
            },
            100,
        )
        .await
        .unwrap();
    assert_eq!(entries.items.len(), 1);
    assert_eq!(store.get_approval(first.id).await.unwrap(), None);
    assert_eq!(store.resolve_approval(first.id, None).await.unwrap(), None);
    assert_eq!(store.list_approvals(None).await.unwrap(), vec![second]);
    store.close().await;
}

pub async fn questions_are_taken_once<B: Backend>(b: &B) {
    let store = b.open().await;
    let s = store.create_session(session("a")).await.unwrap();
    let q = question(s.id, 3);
    store.put_question(q.clone()).await.unwrap();
    assert_eq!(store.list_questions(None).await.unwrap(), vec![q.clone()]);
    assert_eq!(store.take_question(q.id).await.unwrap(), Some(q.clone()));
    assert_eq!(store.take_question(q.id).await.unwrap(), None);
    assert!(store.list_questions(Some(s.id)).await.unwrap().is_empty());
    store.close().await;
}

pub async fn deleting_a_session_deletes_only_what_is_its_own<B: Backend>(b: &B) {
    let store = b.open().await;
    let doomed = store.create_session(session("doomed")).await.unwrap();
    let kept = store.create_session(session("kept")).await.unwrap();
    for s in [doomed.id, kept.id] {
        store
            .append_messages(s, vec![message(s, 1, Role::User, "m")])
            .await
            .unwrap();
        store.put_approval(approval(s, "c")).await.unwrap();
        store.put_question(question(s, 2)).await.unwrap();
    }
    store.delete_sessions(vec![doomed.id]).await.unwrap();
    assert!(matches!(
        store.get_session(doomed.id).await,
        Err(StoreError::SessionNotFound(_))
    ));
    assert!(
        store
            .list_approvals(Some(doomed.id))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_questions(Some(doomed.id))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.list_approvals(Some(kept.id)).await.unwrap().len(), 1);
    assert_eq!(store.list_questions(Some(kept.id)).await.unwrap().len(), 1);
    assert_eq!(store.history(kept.id, 0, 10).await.unwrap().items.len(), 1);
    assert!(matches!(
        store.delete_session(doomed.id).await,
        Err(StoreError::SessionNotFound(_))
    ));
    store.close().await;
}

pub async fn audit_pages_filter_and_keep_their_cursor<B: Backend>(b: &B) {
    let store = b.open().await;
    let s = SessionId::new();
    let mut written = Vec::new();
    for i in 0..6 {
        let kind = if i % 2 == 0 { "completed" } else { "failed" };
        let e = audit((i < 4).then_some(s), "tool", kind);
        written.push(e.clone());
        store.append_audit(vec![e]).await.unwrap();
    }
    store
        .append_audit(vec![audit(None, "llm", "requestStarted")])
        .await
        .unwrap();
    let q = AuditQuery {
        category: Some("tool".into()),
        ..AuditQuery::default()
    };
    let first = store.audit_page(q.clone(), 4).await.unwrap();
    assert!(first.more);
    assert_eq!(
        first.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        written
            .iter()
            .rev()
            .take(4)
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        "newest first"
    );
    // New entries do not shift the next page.
    store
        .append_audit(vec![audit(Some(s), "tool", "completed")])
        .await
        .unwrap();
    let next = store
        .audit_page(
            AuditQuery {
                cursor: first.items.last().map(|e| e.id),
                ..q.clone()
            },
            4,
        )
        .await
        .unwrap();
    assert!(!next.more);
    assert_eq!(
        next.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        [written[1].id, written[0].id]
    );
    let mine = store
        .audit_page(
            AuditQuery {
                session_id: Some(s),
                kind: Some("failed".into()),
                ..AuditQuery::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        mine.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        [written[3].id, written[1].id]
    );
    store.close().await;
}

pub async fn idle_sessions_and_old_audit_entries_are_found<B: Backend>(b: &B) {
    let store = b.open().await;
    let mut old = session("old");
    old.created_at = Utc::now() - Duration::days(40);
    old.updated_at = old.created_at;
    let old = store.create_session(old).await.unwrap();
    let fresh = store.create_session(session("fresh")).await.unwrap();
    let idle = store
        .idle_sessions(Utc::now() - Duration::days(30), 10)
        .await
        .unwrap();
    assert_eq!(idle, vec![old.id]);
    assert!(!idle.contains(&fresh.id));

    let mut past = audit(None, "tool", "completed");
    past.id = EventId(uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        (Utc::now() - Duration::days(100)).timestamp() as u64,
        0,
    )));
    past.at = Utc::now() - Duration::days(100);
    let now = audit(None, "tool", "completed");
    store
        .append_audit(vec![past.clone(), now.clone()])
        .await
        .unwrap();
    let removed = store
        .delete_audit_before(Utc::now() - Duration::days(90), 10)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let left = store.audit_page(AuditQuery::default(), 10).await.unwrap();
    assert_eq!(left.items, vec![now]);
    store.close().await;
}

pub async fn checkpoints_keep_the_first_before_dedupe_and_go_with_their_session<B: Backend>(b: &B) {
    let store = b.open().await;
    let s = store.create_session(session("edits")).await.unwrap();
    let other = store.create_session(session("other")).await.unwrap();
    let (t1, t2) = (TurnId::new(), TurnId::new());
    let put = |sid, turn, path: &str, before: Option<&[u8]>, after: Option<&[u8]>| {
        let store = std::sync::Arc::clone(&store);
        let path = path.to_owned();
        let (before, after) = (before.map(<[u8]>::to_vec), after.map(<[u8]>::to_vec));
        async move {
            store
                .put_checkpoint(sid, turn, path, before, after, u64::MAX)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        put(s.id, t1, "a.rs", Some(b"v0"), Some(b"v1")).await,
        CheckpointOutcome::Recorded
    );
    // A second edit in the same turn keeps the first `before`.
    put(s.id, t1, "a.rs", Some(b"v1"), Some(b"v2")).await;
    put(s.id, t1, "new.rs", None, Some(b"v0")).await;
    put(s.id, t2, "a.rs", Some(b"v2"), None).await;
    put(other.id, t1, "x.rs", Some(b"v0"), Some(b"v0")).await;
    store.close().await;
    drop(store);

    let store = b.open().await;
    let got = store.checkpoints(s.id).await.unwrap();
    let hash = |b: &[u8]| codelab_agent::store::content_hash(b);
    let view: Vec<_> = got
        .iter()
        .map(|c| {
            (
                c.turn_id,
                c.path.as_str(),
                c.before.as_ref().map(|r| (r.hash.clone(), r.len)),
                c.after.as_ref().map(|r| r.hash.clone()),
            )
        })
        .collect();
    let mut turns = [t1, t2];
    turns.sort_by_key(|t| t.as_u128());
    assert_eq!(turns, [t1, t2], "turn ids are time-ordered");
    assert_eq!(
        view,
        vec![
            (t1, "a.rs", Some((hash(b"v0"), 2)), Some(hash(b"v2"))),
            (t1, "new.rs", None, Some(hash(b"v0"))),
            (t2, "a.rs", Some((hash(b"v2"), 2)), None),
        ]
    );
    for c in [b"v0".as_slice(), b"v2"] {
        assert_eq!(
            store.checkpoint_content(hash(c)).await.unwrap().as_deref(),
            Some(c)
        );
    }
    // Deleting a session releases only what no other session names.
    store.delete_sessions(vec![s.id]).await.unwrap();
    assert!(matches!(
        store.checkpoints(s.id).await.map(|c| c.is_empty()),
        Ok(true) | Err(StoreError::SessionNotFound(_))
    ));
    assert_eq!(store.checkpoints(other.id).await.unwrap().len(), 1);
    assert_eq!(
        store
            .checkpoint_content(hash(b"v0"))
            .await
            .unwrap()
            .as_deref(),
        Some(b"v0".as_slice()),
        "still named by the other session"
    );
    assert_eq!(store.checkpoint_content(hash(b"v2")).await.unwrap(), None);
    store.close().await;
}

pub async fn checkpoints_stop_at_the_session_limit<B: Backend>(b: &B) {
    let store = b.open().await;
    let s = store.create_session(session("big")).await.unwrap();
    let t = TurnId::new();
    let r = store
        .put_checkpoint(
            s.id,
            t,
            "a".into(),
            Some(vec![1; 60]),
            Some(vec![2; 30]),
            100,
        )
        .await
        .unwrap();
    assert_eq!(r, CheckpointOutcome::Recorded);
    let r = store
        .put_checkpoint(
            s.id,
            t,
            "b".into(),
            Some(vec![3; 60]),
            Some(vec![4; 1]),
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        r,
        CheckpointOutcome::SessionLimit {
            used: 90,
            limit: 100
        }
    );
    assert_eq!(
        store.checkpoints(s.id).await.unwrap().len(),
        1,
        "nothing written"
    );
    // Content already stored costs nothing new.
    let r = store
        .put_checkpoint(
            s.id,
            t,
            "c".into(),
            Some(vec![1; 60]),
            Some(vec![2; 30]),
            100,
        )
        .await
        .unwrap();
    assert_eq!(r, CheckpointOutcome::Recorded);
    store.close().await;
}
