//! The store API on a real redb file: messages, group commit, reopen,
//! migration.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

use chrono::Utc;
use codelab_agent::protocol::types::{Message, Role, Session, ToolCall};
use codelab_agent::store::{AuditRecord, STORE_FILE, Store, StoreError, schema};
use serde_json::json;
use uuid::Uuid;

fn session(title: &str) -> Session {
    Session {
        id: Uuid::now_v7(),
        title: title.into(),
        workspace_folder: None,
        agent: "coder".into(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
        message_count: 0,
        last_seq: 0,
        parent_session_id: None,
        parent_tool_call_id: None,
    }
}

fn message(session_id: Uuid, seq: u64, role: Role, text: &str) -> Message {
    Message {
        id: Uuid::now_v7(),
        session_id,
        seq,
        turn_id: None,
        role,
        text: text.into(),
        tool_calls: if role == Role::Assistant {
            vec![ToolCall {
                id: format!("call_{seq}"),
                name: "read_file".into(),
                arguments: json!({"path": "a.rs"}),
            }]
        } else {
            vec![]
        },
        tool_call_id: None,
        is_error: false,
        context: None,
        created_at: Utc::now(),
    }
}

#[tokio::test]
async fn messages_persist_in_order_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
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
    let err = store.append_messages(Uuid::now_v7(), vec![]).await;
    assert!(matches!(err, Err(StoreError::SessionNotFound(_))));

    store
        .append_audit(vec![AuditRecord {
            id: Uuid::now_v7(),
            at: Utc::now(),
            session_id: Some(s.id),
            category: "session".into(),
            kind: "created".into(),
            payload: json!({"title": "a"}),
        }])
        .await
        .unwrap();
    store.close().await;

    let store = Store::open(dir.path()).unwrap();
    let (all, more) = store.history(s.id, 0, 100).await.unwrap();
    assert!(!more);
    assert_eq!(all.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 5]);
    assert_eq!(all[1].tool_calls[0].name, "read_file");
    let (page, more) = store.history(s.id, 1, 1).await.unwrap();
    assert!(more);
    assert_eq!(page[0].seq, 2);
    let (tail, _) = store.history(s.id, 5, 10).await.unwrap();
    assert!(tail.is_empty());
    assert_eq!(store.get_session(s.id).await.unwrap().message_count, 3);
    assert_eq!(store.audit_records(10).await.unwrap().len(), 1);

    // Deleting a session deletes its messages and only its messages.
    assert_eq!(store.delete_session(s.id).await.unwrap(), 3);
    assert!(matches!(
        store.history(s.id, 0, 10).await,
        Err(StoreError::SessionNotFound(_))
    ));
    assert_eq!(store.history(other.id, 0, 10).await.unwrap().0.len(), 1);
    store.close().await;
}

#[tokio::test]
async fn concurrent_writers_are_group_committed_and_all_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
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
        let store = store.clone();
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
    let store = Store::open(dir.path()).unwrap();
    for id in ids {
        let (msgs, _) = store.history(id, 0, 1000).await.unwrap();
        assert_eq!(msgs.len(), 50);
        assert!(msgs.windows(2).all(|w| w[0].seq < w[1].seq));
    }
    store.close().await;
}

#[tokio::test]
async fn same_process_second_open_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).expect_err("locked");
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("already open"));
    store.close().await;
}

#[tokio::test]
async fn an_older_schema_is_migrated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(STORE_FILE);
    let s = session("from v1");
    {
        let db = redb::Database::create(&path).unwrap();
        schema::migrate_to(&db, &path, 1).unwrap();
        assert_eq!(schema::read_version(&db).unwrap(), 1);
        let txn = db.begin_write().unwrap();
        txn.open_table(schema::SESSIONS)
            .unwrap()
            .insert(s.id.as_u128(), serde_json::to_vec(&s).unwrap().as_slice())
            .unwrap();
        txn.commit().unwrap();
        // Version 1 had no approvals table.
        let read = redb::ReadableDatabase::begin_read(&db).unwrap();
        assert!(read.open_table(schema::APPROVALS).is_err());
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.get_session(s.id).await.unwrap(), s);
    store.close().await;
    let db = redb::Database::create(&path).unwrap();
    assert_eq!(schema::read_version(&db).unwrap(), schema::SCHEMA_VERSION);
    let read = redb::ReadableDatabase::begin_read(&db).unwrap();
    assert!(read.open_table(schema::APPROVALS).is_ok());
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = redb::Database::create(dir.path().join(STORE_FILE)).unwrap();
        schema::force_version(&db, schema::SCHEMA_VERSION + 1).unwrap();
    }
    let err = Store::open(dir.path()).expect_err("too new");
    assert!(matches!(err, StoreError::TooNew { .. }), "{err:?}");
}
