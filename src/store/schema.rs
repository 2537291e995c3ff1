//! Table definitions and schema versioning.
//!
//! The `meta` table holds `schema_version`. At open: a fresh file is stamped
//! with [`SCHEMA_VERSION`]; an older file is migrated step by step inside one
//! write transaction (all or nothing); a newer file is refused.

use std::path::Path;

use redb::{Database, ReadableDatabase, TableDefinition, WriteTransaction};

use super::StoreError;

/// The schema version this build writes.
pub const SCHEMA_VERSION: u64 = 3;

/// `key -> u64`: `schema_version`.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// `session id -> Session (JSON)`. UUID v7 keys sort by creation time.
pub const SESSIONS: TableDefinition<u128, &[u8]> = TableDefinition::new("sessions");
/// `(session id, seq) -> Message (JSON)`.
pub const MESSAGES: TableDefinition<(u128, u64), &[u8]> = TableDefinition::new("messages");
/// `approval id -> pending approval (JSON)`.
pub const APPROVALS: TableDefinition<u128, &[u8]> = TableDefinition::new("approvals");
/// `question id -> pending question (JSON)`.
pub const QUESTIONS: TableDefinition<u128, &[u8]> = TableDefinition::new("questions");
/// `audit id (UUID v7) -> AuditRecord (JSON)`: time-ordered.
pub const AUDIT: TableDefinition<u128, &[u8]> = TableDefinition::new("audit");

const VERSION_KEY: &str = "schema_version";

/// One migration step: from `version - 1` to `version`.
type Migration = fn(&WriteTransaction) -> Result<(), StoreError>;

/// Migrations, indexed by the version they produce minus one.
const MIGRATIONS: [Migration; SCHEMA_VERSION as usize] = [create_v1, v1_to_v2, v2_to_v3];

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
