//! The redb store on real files: the store contract (shared by every
//! backend), and what is redb's own: the file lock, schema versions and the
//! migration of files written by earlier releases.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

#[path = "contract/store.rs"]
#[macro_use]
mod contract;

use std::sync::Arc;

use codelab_agent::domain::{Session, SessionId};
use codelab_agent::protocol::types as wire;
use codelab_agent::store::{AuditQuery, RedbStore, STORE_FILE, Store, StoreError, schema};
use serde_json::{Value, json};

/// A redb file in a temporary directory.
struct Redb(tempfile::TempDir);

impl contract::Backend for Redb {
    async fn create() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(RedbStore::open(self.0.path()).unwrap())
    }
}

store_contract!(Redb);

#[tokio::test]
async fn same_process_second_open_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path()).unwrap();
    let err = RedbStore::open(dir.path()).expect_err("locked");
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("already open"));
    store.close().await;
}

#[tokio::test]
async fn an_older_schema_is_migrated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(STORE_FILE);
    let s = contract::session("from v1");
    {
        let db = redb::Database::create(&path).unwrap();
        schema::migrate_to(&db, &path, 1).unwrap();
        assert_eq!(schema::read_version(&db).unwrap(), 1);
        // Version 1 stored the wire JSON of release 0.1.
        let legacy = serde_json::to_vec(&wire::Session::from(s.clone())).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(schema::SESSIONS)
            .unwrap()
            .insert(s.id.as_u128(), legacy.as_slice())
            .unwrap();
        txn.commit().unwrap();
        // Version 1 had no approvals table.
        let read = redb::ReadableDatabase::begin_read(&db).unwrap();
        assert!(read.open_table(schema::APPROVALS).is_err());
    }
    let store = RedbStore::open(dir.path()).unwrap();
    assert_eq!(store.get_session(s.id).await.unwrap(), s);
    store.close().await;
    drop(store);
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
    let err = RedbStore::open(dir.path()).expect_err("too new");
    assert!(matches!(err, StoreError::TooNew { .. }), "{err:?}");
}

/// `tests/fixtures/store-v3.redb` was written by release 0.1 (schema version
/// 3, wire JSON records); `store-v3.expected.json` is what that release read
/// back from it, in its wire JSON. Opened by this release, the file is
/// migrated in place, and every session, message, pending approval, pending
/// question and audit entry reads back the same.
#[tokio::test]
async fn a_store_written_by_release_0_1_migrates_and_reads_back_whole() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixtures.join("store-v3.redb"), dir.path().join(STORE_FILE)).unwrap();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("store-v3.expected.json")).unwrap(),
    )
    .unwrap();
    {
        let db = redb::Database::create(dir.path().join(STORE_FILE)).unwrap();
        assert_eq!(schema::read_version(&db).unwrap(), 3);
    }

    // Twice: the migration runs on the first open, the second reads the
    // migrated file as it is.
    for _ in 0..2 {
        let store = RedbStore::open(dir.path()).unwrap();
        let mut sessions = store.list_sessions(None, 100).await.unwrap().items;
        sessions.sort_by_key(|s| s.id);
        let mut history = serde_json::Map::new();
        for s in &sessions {
            let messages: Vec<wire::Message> = store
                .history(s.id, 0, 1000)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(Into::into)
                .collect();
            history.insert(s.id.to_string(), json!(messages));
        }
        let approvals: Vec<wire::Approval> = store
            .list_approvals(None)
            .await
            .unwrap()
            .into_iter()
            .map(Into::into)
            .collect();
        let questions: Vec<wire::QuestionParams> = store
            .list_questions(None)
            .await
            .unwrap()
            .into_iter()
            .map(Into::into)
            .collect();
        // Release 0.1 serialized its audit record with the key `kind`, and
        // an absent session as null.
        let audit: Vec<Value> = store
            .audit_page(AuditQuery::default(), 100)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|r| {
                let mut v = json!(wire::AuditEntry::from(r));
                let o = v.as_object_mut().unwrap();
                let kind = o.remove("type").unwrap();
                o.insert("kind".into(), kind);
                o.entry("sessionId").or_insert(Value::Null);
                v
            })
            .collect();
        let sessions: Vec<wire::Session> = sessions.into_iter().map(Into::into).collect();
        let got = json!({
            "sessions": sessions,
            "messages": history,
            "approvals": approvals,
            "questions": questions,
            "audit": audit,
        });
        pretty_assertions::assert_eq!(got, expected);
        assert_eq!(got["sessions"].as_array().unwrap().len(), 3);
        assert_eq!(got["audit"].as_array().unwrap().len(), 4);
        store.close().await;
        drop(store);
        let db = redb::Database::create(dir.path().join(STORE_FILE)).unwrap();
        assert_eq!(schema::read_version(&db).unwrap(), schema::SCHEMA_VERSION);
    }
}

/// After the migration the records are the store's own, not the wire's: a
/// raw value names its record version and uses the store's field names.
#[tokio::test]
async fn records_are_versioned_and_independent_of_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path()).unwrap();
    let s: Session = store
        .create_session(contract::session("raw"))
        .await
        .unwrap();
    store.close().await;
    drop(store);
    let db = redb::Database::create(dir.path().join(STORE_FILE)).unwrap();
    let read = redb::ReadableDatabase::begin_read(&db).unwrap();
    let table = read.open_table(schema::SESSIONS).unwrap();
    let raw: Value =
        serde_json::from_slice(table.get(s.id.as_u128()).unwrap().unwrap().value()).unwrap();
    assert_eq!(raw["v"], "1");
    assert_eq!(raw["workspace_folder"], Value::Null);
    assert!(raw.get("workspaceFolder").is_none());
    let _: SessionId = s.id;
}
