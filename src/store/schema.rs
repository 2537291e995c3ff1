//! Table definitions and schema versioning.
//!
//! The `meta` table holds `schema_version`. At open: a fresh file is stamped
//! with [`SCHEMA_VERSION`]; an older file is migrated step by step inside one
//! write transaction (all or nothing); a newer file is refused.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use super::StoreError;

/// The schema version this build writes.
pub const SCHEMA_VERSION: u64 = 5;

/// `key -> u64`: `schema_version`.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// `session id -> session record`. UUID v7 keys sort by creation time.
pub const SESSIONS: TableDefinition<u128, &[u8]> = TableDefinition::new("sessions");
/// `(session id, seq) -> message record`.
pub const MESSAGES: TableDefinition<(u128, u64), &[u8]> = TableDefinition::new("messages");
/// `approval id -> pending approval record`.
pub const APPROVALS: TableDefinition<u128, &[u8]> = TableDefinition::new("approvals");
/// `question id -> pending question record`.
pub const QUESTIONS: TableDefinition<u128, &[u8]> = TableDefinition::new("questions");
/// `audit id (UUID v7) -> audit record`: time-ordered.
///
/// Since version 4 every value is a versioned record of [`super::records`];
/// versions 1 to 3 stored the wire types of release 0.1 ([`super::legacy`]).
pub const AUDIT: TableDefinition<u128, &[u8]> = TableDefinition::new("audit");

/// `(session id, turn id, path) -> checkpoint record`: what a turn's edits
/// did to a file. UUID v7 turn ids sort by time.
pub const CHECKPOINTS: TableDefinition<(u128, u128, &str), &[u8]> =
    TableDefinition::new("checkpoints");
/// `SHA-256 -> content`: checkpointed contents, each stored once.
pub const CHECKPOINT_BLOBS: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("checkpoint_blobs");
/// `SHA-256 -> references`: how many checkpoint sides name a content.
pub const CHECKPOINT_REFS: TableDefinition<&[u8], u64> = TableDefinition::new("checkpoint_refs");
/// `session id -> bytes`: the new content a session's checkpoints stored.
pub const CHECKPOINT_USAGE: TableDefinition<u128, u64> = TableDefinition::new("checkpoint_usage");

const VERSION_KEY: &str = "schema_version";

/// One migration step: from `version - 1` to `version`.
type Migration = fn(&WriteTransaction) -> Result<(), StoreError>;

/// Migrations, indexed by the version they produce minus one.
const MIGRATIONS: [Migration; SCHEMA_VERSION as usize] =
    [create_v1, v1_to_v2, v2_to_v3, v3_to_v4, v4_to_v5];

/// Version 5: file checkpoints of agent edits, their contents by hash.
fn v4_to_v5(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(CHECKPOINTS)?;
    txn.open_table(CHECKPOINT_BLOBS)?;
    txn.open_table(CHECKPOINT_REFS)?;
    txn.open_table(CHECKPOINT_USAGE)?;
    Ok(())
}

/// Version 1: the four tables.
fn create_v1(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(SESSIONS)?;
    txn.open_table(MESSAGES)?;
    txn.open_table(AUDIT)?;
    Ok(())
}

/// Version 2: pending approvals get their own table.
fn v1_to_v2(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(APPROVALS)?;
    Ok(())
}

/// Version 3: pending follow-up questions survive restarts.
fn v2_to_v3(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(QUESTIONS)?;
    Ok(())
}

/// Version 4: every value becomes the store's own versioned record instead
/// of the wire JSON of release 0.1, so the wire can change without a migration.
fn v3_to_v4(txn: &WriteTransaction) -> Result<(), StoreError> {
    use super::legacy::{ApprovalV0, AuditV0, MessageV0, QuestionV0, SessionV0};
    use super::records::{
        ApprovalRec, AuditRec, MessageRec, QuestionRec, SessionRec, decode, encode,
    };
    use crate::domain::{AuditRecord, Message, PendingApproval, PendingQuestion, Session};

    fn rewrite<K, Old, D, New>(
        txn: &WriteTransaction,
        table: TableDefinition<K, &[u8]>,
    ) -> Result<usize, StoreError>
    where
        K: redb::Key + 'static,
        for<'a> K: redb::Value<SelfType<'a> = K> + Copy,
        Old: for<'de> serde::Deserialize<'de>,
        D: From<Old>,
        New: serde::Serialize + for<'a> From<&'a D>,
    {
        let mut t = txn.open_table(table)?;
        let mut rewritten = Vec::new();
        for entry in t.iter()? {
            let (k, v) = entry?;
            let value: D = decode::<Old>(v.value())?.into();
            rewritten.push((k.value(), encode(&New::from(&value))?));
        }
        for (k, bytes) in &rewritten {
            t.insert(*k, bytes.as_slice())?;
        }
        Ok(rewritten.len())
    }

    let sessions = rewrite::<u128, SessionV0, Session, SessionRec>(txn, SESSIONS)?;
    let messages = rewrite::<(u128, u64), MessageV0, Message, MessageRec>(txn, MESSAGES)?;
    let approvals = rewrite::<u128, ApprovalV0, PendingApproval, ApprovalRec>(txn, APPROVALS)?;
    let questions = rewrite::<u128, QuestionV0, PendingQuestion, QuestionRec>(txn, QUESTIONS)?;
    let audit = rewrite::<u128, AuditV0, AuditRecord, AuditRec>(txn, AUDIT)?;
    tracing::info!(
        sessions,
        messages,
        approvals,
        questions,
        audit,
        "store records rewritten in the version 4 format"
    );
    Ok(())
}

/// Reads the file's schema version (0 for a fresh file).
pub fn read_version(db: &Database) -> Result<u64, StoreError> {
    let txn = db.begin_read()?;
    match txn.open_table(META) {
        Ok(table) => Ok(table.get(VERSION_KEY)?.map(|v| v.value()).unwrap_or(0)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Checks the version and migrates an older file to [`SCHEMA_VERSION`].
pub fn check_and_migrate(db: &Database, path: &Path) -> Result<(), StoreError> {
    migrate_to(db, path, SCHEMA_VERSION)
}

/// Migrates to `target` (at most [`SCHEMA_VERSION`]) in one write transaction.
pub fn migrate_to(db: &Database, path: &Path, target: u64) -> Result<(), StoreError> {
    let found = read_version(db)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found >= target {
        return Ok(());
    }
    let mut txn = db.begin_write()?;
    if let Err(e) = txn.set_durability(redb::Durability::Immediate) {
        tracing::warn!(error = %e, "cannot set durability");
    }
    for version in found + 1..=target {
        tracing::info!(from = version - 1, to = version, "migrating store schema");
        let step = MIGRATIONS
            .get((version - 1) as usize)
            .ok_or_else(|| StoreError::Invalid(format!("no migration to version {version}")))?;
        step(&txn)?;
    }
    txn.open_table(META)?.insert(VERSION_KEY, target)?;
    txn.commit()?;
    Ok(())
}

/// Stamps a version without migrating (for tests of the version check).
pub fn force_version(db: &Database, version: u64) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    txn.open_table(META)?.insert(VERSION_KEY, version)?;
    txn.commit()?;
    Ok(())
}
