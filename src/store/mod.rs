//! The embedded store: sessions, messages, approvals and audit events in one
//! redb file.
//!
//! Invariants:
//! - One writer thread owns every write. Callers send it jobs; it runs all the
//!   jobs that are waiting in one write transaction (group commit) with
//!   [`Durability::Immediate`], and only then answers each caller. Anything a
//!   caller acknowledges to a client after `await`ing a write is on disk.
//! - A job validates before it writes: a job that fails leaves no partial
//!   change behind, so one job's logical error never aborts the batch it
//!   shares with others.
//! - Reads run on their own read transactions (MVCC snapshots) and never wait
//!   for the writer.
//! - The schema version is checked at open; see [`schema`].

mod error;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, WriteTransaction,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

pub use error::StoreError;
use schema::{APPROVALS, AUDIT, MESSAGES, QUESTIONS, SESSIONS};

use crate::protocol::types::{Approval, Message, QuestionParams, Session};

/// The file name of the store inside the data directory.
pub const STORE_FILE: &str = "codelab.redb";

/// How many jobs the writer takes into one transaction at most.
const MAX_BATCH: usize = 512;

/// A durable audit record: who did what, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// Time-ordered id (UUID v7); also the key.
    pub id: Uuid,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The session concerned, if any.
    pub session_id: Option<Uuid>,
    /// The event's category (`session`, `tool`, `approval`, ...).
    pub category: String,
    /// The event's type within its category.
    pub kind: String,
    /// Details.
    pub payload: serde_json::Value,
}

type Completion = Box<dyn FnOnce(Option<&StoreError>) + Send>;
type Job = Box<dyn FnOnce(Result<&WriteTransaction, &StoreError>) -> Completion + Send>;

enum WriterMsg {
    Job(Job),
    /// Stop after the jobs before it; answered once the thread has let go of the file.
    Stop(std::sync::mpsc::Sender<()>),
}

/// A handle to the store. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    jobs: mpsc::Sender<WriterMsg>,
    path: Arc<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (or creates) the store in `data_dir`, checks or migrates its
    /// schema, and starts the writer thread.
    ///
    /// # Errors
    /// [`StoreError::Locked`] when another process has the file open,
    /// [`StoreError::TooNew`] when a newer version wrote it, and I/O errors.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Io {
            path: data_dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        let path = data_dir.join(STORE_FILE);
        // An editor that restarts its server may start the new process while
        // the old one is still exiting: wait briefly for the lock to be released.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let db = loop {
            match Database::create(&path) {
                Ok(db) => break db,
                Err(redb::DatabaseError::DatabaseAlreadyOpen)
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => return Err(StoreError::from_open(&path, e)),
            }
        };
        schema::check_and_migrate(&db, &path)?;
        let db = Arc::new(db);
        let (jobs, rx) = mpsc::channel::<WriterMsg>(4096);
        let writer_db = Arc::clone(&db);
        std::thread::Builder::new()
            .name("codelab-store-writer".into())
            .spawn(move || writer_loop(writer_db, rx))
            .map_err(|e| StoreError::Io {
                path: path.clone(),
                reason: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(Self {
            db,
            jobs,
            path: Arc::new(path),
        })
    }

    /// The store file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in the writer's next transaction and returns its result once
    /// the transaction is durably committed.
    ///
    /// `f` must validate before writing: when it returns an error it must not
    /// have changed anything.
    pub async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |txn| {
            let result = match txn {
                Ok(txn) => f(txn),
                Err(e) => Err(e.clone()),
            };
            Box::new(move |commit_error: Option<&StoreError>| {
                let _ = tx.send(match commit_error {
                    Some(e) => Err(e.clone()),
                    None => result,
                });
            })
        });
        self.jobs
            .send(WriterMsg::Job(job))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        rx.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Runs a read on a fresh snapshot, off the async runtime.
    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&redb::ReadTransaction) -> Result<R, StoreError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read()?;
            f(&txn)
        })
        .await
        .map_err(|e| StoreError::Storage(format!("read task failed: {e}")))?
    }

    /// Stops the writer after the writes already queued and waits until it has
    /// released the file. Other clones of this handle then fail their writes
    /// with [`StoreError::WriterStopped`]; the file closes when the last is dropped.
    pub async fn close(self) {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.jobs.send(WriterMsg::Stop(tx)).await.is_ok() {
            let _ = tokio::task::spawn_blocking(move || rx.recv()).await;
        }
    }

    /// Whether the store answers reads.
    pub async fn reachable(&self) -> bool {
        self.read(|txn| Ok(txn.open_table(SESSIONS)?.len()?))
            .await
            .is_ok()
    }

    /// Persists a new session.
    pub async fn create_session(&self, session: Session) -> Result<Session, StoreError> {
        self.write(move |txn| {
            let mut table = txn.open_table(SESSIONS)?;
            table.insert(session.id.as_u128(), encode(&session)?.as_slice())?;
            Ok(session)
        })
        .await
    }

    /// Applies `change` to a stored session and persists the result.
    pub async fn update_session<F>(&self, id: Uuid, change: F) -> Result<Session, StoreError>
    where
        F: FnOnce(&mut Session) + Send + 'static,
    {
        self.write(move |txn| {
            let mut table = txn.open_table(SESSIONS)?;
            let mut session: Session = match table.get(id.as_u128())? {
                Some(v) => decode(v.value())?,
                None => return Err(StoreError::SessionNotFound(id)),
            };
            change(&mut session);
            session.updated_at = Utc::now();
            table.insert(id.as_u128(), encode(&session)?.as_slice())?;
            Ok(session)
        })
        .await
    }

    /// Deletes a session and its history; returns how many messages went with it.
    pub async fn delete_session(&self, id: Uuid) -> Result<u64, StoreError> {
        self.write(move |txn| {
            if txn.open_table(SESSIONS)?.get(id.as_u128())?.is_none() {
                return Err(StoreError::SessionNotFound(id));
            }
            purge_sessions(txn, &[id])
        })
        .await
    }

    /// Appends messages to a session's history (their `seq`s must be larger
    /// than the session's `last_seq`) and returns the updated session.
    pub async fn append_messages(
        &self,
        session_id: Uuid,
        messages: Vec<Message>,
    ) -> Result<Session, StoreError> {
        self.write(move |txn| {
            let mut sessions = txn.open_table(SESSIONS)?;
            let mut session: Session = match sessions.get(session_id.as_u128())? {
                Some(v) => decode(v.value())?,
                None => return Err(StoreError::SessionNotFound(session_id)),
            };
            let mut last = session.last_seq;
            for m in &messages {
                if m.session_id != session_id || m.seq <= last {
                    return Err(StoreError::Invalid(format!(
                        "message seq {} does not follow {last} in session {session_id}",
                        m.seq
                    )));
                }
                last = m.seq;
            }
            let encoded = messages.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
            let mut table = txn.open_table(MESSAGES)?;
            for (m, bytes) in messages.iter().zip(&encoded) {
                table.insert((session_id.as_u128(), m.seq), bytes.as_slice())?;
            }
            session.message_count += messages.len() as u64;
            session.last_seq = last;
            session.updated_at = Utc::now();
            sessions.insert(session_id.as_u128(), encode(&session)?.as_slice())?;
            Ok(session)
        })
        .await
    }

    /// Appends audit records.
    pub async fn append_audit(&self, records: Vec<AuditRecord>) -> Result<(), StoreError> {
        self.write(move |txn| {
            let encoded = records.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
            let mut table = txn.open_table(AUDIT)?;
            for (r, bytes) in records.iter().zip(&encoded) {
                table.insert(r.id.as_u128(), bytes.as_slice())?;
            }
            Ok(())
        })
        .await
    }

    /// One session.
    pub async fn get_session(&self, id: Uuid) -> Result<Session, StoreError> {
        self.read(move |txn| {
            let table = txn.open_table(SESSIONS)?;
            match table.get(id.as_u128())? {
                Some(v) => decode(v.value()),
                None => Err(StoreError::SessionNotFound(id)),
            }
        })
        .await
    }

    /// Sessions newest first, starting strictly before `before` (a session id).
    /// Returns the page and whether more follow.
    pub async fn list_sessions(
        &self,
        before: Option<Uuid>,
        limit: usize,
    ) -> Result<(Vec<Session>, bool), StoreError> {
        self.read(move |txn| {
            let table = txn.open_table(SESSIONS)?;
            let range = match before {
                Some(b) => table.range(..b.as_u128())?,
                None => table.range::<u128>(..)?,
            };
            let mut out = Vec::with_capacity(limit.min(256));
            let mut more = false;
            for entry in range.rev() {
                let (_, v) = entry?;
                if out.len() == limit {
                    more = true;
                    break;
                }
                out.push(decode(v.value())?);
            }
            Ok((out, more))
        })
        .await
    }

    /// A session's messages with `seq > after`, in order, at most `limit`;
    /// and whether more follow.
    pub async fn history(
        &self,
        session_id: Uuid,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), StoreError> {
        self.read(move |txn| {
            let sessions = txn.open_table(SESSIONS)?;
            if sessions.get(session_id.as_u128())?.is_none() {
                return Err(StoreError::SessionNotFound(session_id));
            }
            let table = txn.open_table(MESSAGES)?;
            let key = session_id.as_u128();
            let start = after.saturating_add(1);
            let mut out = Vec::with_capacity(limit.min(256));
            let mut more = false;
            if after < u64::MAX {
                for entry in table.range((key, start)..=(key, u64::MAX))? {
                    let (_, v) = entry?;
                    if out.len() == limit {
                        more = true;
                        break;
                    }
                    out.push(decode(v.value())?);
                }
            }
            Ok((out, more))
        })
        .await
    }

    /// Persists a pending approval.
    pub async fn put_approval(&self, approval: Approval) -> Result<(), StoreError> {
        self.write(move |txn| {
            txn.open_table(APPROVALS)?
                .insert(approval.id.as_u128(), encode(&approval)?.as_slice())?;
            Ok(())
        })
        .await
    }

    /// Removes a pending approval and writes `audit` in the same commit;
    /// `None` when it was already resolved (nothing is written then).
    pub async fn resolve_approval(
        &self,
        id: Uuid,
        audit: Option<AuditRecord>,
    ) -> Result<Option<Approval>, StoreError> {
        self.write(move |txn| {
            let mut table = txn.open_table(APPROVALS)?;
            let found: Option<Approval> = match table.get(id.as_u128())? {
                Some(v) => Some(decode(v.value())?),
                None => None,
            };
            if found.is_none() {
                return Ok(None);
            }
            let encoded = audit.as_ref().map(encode).transpose()?;
            table.remove(id.as_u128())?;
            if let (Some(a), Some(bytes)) = (&audit, encoded) {
                txn.open_table(AUDIT)?
                    .insert(a.id.as_u128(), bytes.as_slice())?;
            }
            Ok(found)
        })
        .await
    }

    /// One pending approval.
    pub async fn get_approval(&self, id: Uuid) -> Result<Option<Approval>, StoreError> {
        self.read(
            move |txn| match txn.open_table(APPROVALS)?.get(id.as_u128())? {
                Some(v) => Ok(Some(decode(v.value())?)),
                None => Ok(None),
            },
        )
        .await
    }

    /// Pending approvals, oldest first, optionally of one session.
    pub async fn list_approvals(&self, session: Option<Uuid>) -> Result<Vec<Approval>, StoreError> {
        self.read(move |txn| {
            let mut out: Vec<Approval> = Vec::new();
            for entry in txn.open_table(APPROVALS)?.range::<u128>(..)? {
                let (_, v) = entry?;
                let a: Approval = decode(v.value())?;
                if session.is_none_or(|s| s == a.session_id) {
                    out.push(a);
                }
            }
            out.sort_by_key(|a| a.created_at);
            Ok(out)
        })
        .await
    }

    /// Persists a pending question.
    pub async fn put_question(&self, q: QuestionParams) -> Result<(), StoreError> {
        self.write(move |txn| {
            txn.open_table(QUESTIONS)?
                .insert(q.question_id.as_u128(), encode(&q)?.as_slice())?;
            Ok(())
        })
        .await
    }

    /// Removes a pending question; `None` when it was already answered.
    pub async fn take_question(&self, id: Uuid) -> Result<Option<QuestionParams>, StoreError> {
        self.write(move |txn| {
            let mut table = txn.open_table(QUESTIONS)?;
            let found: Option<QuestionParams> = match table.get(id.as_u128())? {
                Some(v) => Some(decode(v.value())?),
                None => None,
            };
            if found.is_some() {
                table.remove(id.as_u128())?;
            }
            Ok(found)
        })
        .await
    }

    /// Pending questions, optionally of one session.
    pub async fn list_questions(
        &self,
        session: Option<Uuid>,
    ) -> Result<Vec<QuestionParams>, StoreError> {
        self.read(move |txn| {
            let mut out = Vec::new();
            for entry in txn.open_table(QUESTIONS)?.range::<u128>(..)? {
                let (_, v) = entry?;
                let q: QuestionParams = decode(v.value())?;
                if session.is_none_or(|s| s == q.session_id) {
                    out.push(q);
                }
            }
            Ok(out)
        })
        .await
    }

    /// Ids of sessions last updated before `before`, at most `limit`.
    pub async fn idle_sessions(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Uuid>, StoreError> {
        self.read(move |txn| {
            let mut out = Vec::new();
            for entry in txn.open_table(SESSIONS)?.range::<u128>(..)? {
                let (k, v) = entry?;
                let s: Session = decode(v.value())?;
                if s.updated_at < before {
                    out.push(Uuid::from_u128(k.value()));
                    if out.len() == limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    /// Deletes sessions (with their history, approvals and questions) in one commit.
    pub async fn delete_sessions(&self, ids: Vec<Uuid>) -> Result<(), StoreError> {
        self.write(move |txn| purge_sessions(txn, &ids).map(|_| ()))
            .await
    }

    /// Deletes at most `limit` of the oldest audit entries written before `before`.
    pub async fn delete_audit_before(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.write(move |txn| {
            let mut table = txn.open_table(AUDIT)?;
            let bound = time_bound(before);
            let keys: Vec<u128> = table
                .range(..bound)?
                .take(limit)
                .map(|e| e.map(|(k, _)| k.value()))
                .collect::<Result<_, _>>()?;
            for k in &keys {
                table.remove(*k)?;
            }
            Ok(keys.len())
        })
        .await
    }

    /// A page of audit entries, newest first: those before `cursor` (an
    /// entry id) and before `until`, at or after `since`, matching `keep`.
    pub async fn audit_page<F>(
        &self,
        cursor: Option<Uuid>,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        limit: usize,
        keep: F,
    ) -> Result<(Vec<AuditRecord>, bool), StoreError>
    where
        F: Fn(&AuditRecord) -> bool + Send + 'static,
    {
        self.read(move |txn| {
            let table = txn.open_table(AUDIT)?;
            let mut upper = cursor.map_or(u128::MAX, |c| c.as_u128());
            if let Some(u) = until {
                upper = upper.min(time_bound(u));
            }
            let mut out = Vec::new();
            let mut more = false;
            for entry in table.range(..upper)?.rev() {
                let (_, v) = entry?;
                let r: AuditRecord = decode(v.value())?;
                if since.is_some_and(|s| r.at < s) {
                    break;
                }
                if !keep(&r) {
                    continue;
                }
                if out.len() == limit {
                    more = true;
                    break;
                }
                out.push(r);
            }
            Ok((out, more))
        })
        .await
    }

    /// Audit records, newest first.
    pub async fn audit_records(&self, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        self.read(move |txn| {
            let table = txn.open_table(AUDIT)?;
            let mut out = Vec::new();
            for entry in table.range::<u128>(..)?.rev().take(limit) {
                let (_, v) = entry?;
                out.push(decode(v.value())?);
            }
            Ok(out)
        })
        .await
    }
}

/// Removes sessions with their messages, pending approvals and questions, in
/// the caller's transaction; returns how many messages went.
fn purge_sessions(txn: &WriteTransaction, ids: &[Uuid]) -> Result<u64, StoreError> {
    let owners: std::collections::HashSet<serde_json::Value> =
        ids.iter().map(|i| serde_json::json!(i)).collect();
    let mut sessions = txn.open_table(SESSIONS)?;
    let mut messages = txn.open_table(MESSAGES)?;
    let mut removed = 0u64;
    for id in ids {
        sessions.remove(id.as_u128())?;
        let key = id.as_u128();
        messages.retain_in((key, 0)..=(key, u64::MAX), |_, _| {
            removed += 1;
            false
        })?;
    }
    for table in [APPROVALS, QUESTIONS] {
        let mut t = txn.open_table(table)?;
        let mut doomed = Vec::new();
        for entry in t.range::<u128>(..)? {
            let (k, v) = entry?;
            let owner: serde_json::Value = decode(v.value())?;
            if owners.contains(&owner["sessionId"]) {
                doomed.push(k.value());
            }
        }
        for k in doomed {
            t.remove(k)?;
        }
    }
    Ok(removed)
}

/// The smallest UUID v7 of the millisecond `t`: every id made at `t` or
/// later sorts after it.
fn time_bound(t: DateTime<Utc>) -> u128 {
    let ms = u128::try_from(t.timestamp_millis().max(0)).unwrap_or(0);
    ms << 80
}

fn writer_loop(db: Arc<Database>, mut rx: mpsc::Receiver<WriterMsg>) {
    let mut stop = None;
    while let Some(first) = rx.blocking_recv() {
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                WriterMsg::Job(job) => batch.push(job),
                WriterMsg::Stop(ack) => {
                    stop = Some(ack);
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let count = batch.len();
            match run_batch(&db, batch) {
                Ok(()) => tracing::trace!(jobs = count, "store batch committed"),
                Err(e) => tracing::error!(jobs = count, error = %e, "store batch failed"),
            }
        }
        if stop.is_some() {
            break;
        }
    }
    drop(rx);
    drop(db);
    tracing::debug!("store writer stopped");
    if let Some(ack) = stop {
        let _ = ack.send(());
    }
}

/// Runs every job in one transaction, commits durably, then completes them.
fn run_batch(db: &Database, batch: Vec<Job>) -> Result<(), StoreError> {
    let mut txn = match db.begin_write() {
        Ok(t) => t,
        Err(e) => {
            let err = StoreError::from(e);
            for job in batch {
                job(Err(&err))(None);
            }
            return Err(err);
        }
    };
    if let Err(e) = txn.set_durability(Durability::Immediate) {
        tracing::warn!(error = %e, "cannot set durability");
    }
    let completions: Vec<Completion> = batch.into_iter().map(|job| job(Ok(&txn))).collect();
    match txn.commit() {
        Ok(()) => {
            for c in completions {
                c(None);
            }
            Ok(())
        }
        Err(e) => {
            let err = StoreError::from(e);
            for c in completions {
                c(Some(&err));
            }
            Err(err)
        }
    }
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("cannot decode: {e}")))
}
