//! The redb backend: sessions, messages, approvals and audit events in one
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
//! - The schema version is checked at open; see [`super::schema`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, WriteTransaction,
};
use tokio::sync::{mpsc, oneshot};

use super::records::{
    ApprovalRec, AuditRec, CheckpointRec, MessageRec, QuestionRec, SessionRec, decode, from_bytes,
    to_bytes,
};
use super::schema::{
    self, APPROVALS, AUDIT, CHECKPOINT_BLOBS, CHECKPOINT_REFS, CHECKPOINT_USAGE, CHECKPOINTS,
    MESSAGES, QUESTIONS, SESSIONS,
};
use super::{AuditQuery, Page, SessionChange, StoreError};
use crate::domain::{
    ApprovalId, AuditRecord, CheckpointOutcome, FileCheckpoint, Message, PendingApproval,
    PendingQuestion, QuestionId, Session, SessionId, TurnId,
};

/// The file name of the store inside the data directory.
pub const STORE_FILE: &str = "codelab.redb";

/// How many jobs the writer takes into one transaction at most.
const MAX_BATCH: usize = 512;

type Completion = Box<dyn FnOnce(Option<&StoreError>) + Send>;
type Job = Box<dyn FnOnce(Result<&WriteTransaction, &StoreError>) -> Completion + Send>;

enum WriterMsg {
    Job(Job),
    /// Stop after the jobs before it; answered once the thread has let go of the file.
    Stop(std::sync::mpsc::Sender<()>),
}

/// A handle to the store. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct RedbStore {
    db: Arc<Database>,
    jobs: mpsc::Sender<WriterMsg>,
    path: Arc<PathBuf>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish()
    }
}

impl RedbStore {
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

    /// Imports sessions in one commit (bulk loads: tools and benchmarks).
    ///
    /// # Errors
    /// A storage error; nothing is written then.
    pub async fn import_sessions(&self, sessions: Vec<Session>) -> Result<(), StoreError> {
        self.write(move |txn| {
            for s in &sessions {
                put_session(txn, s)?;
            }
            Ok(())
        })
        .await
    }

    /// Stops the writer after the writes already queued and waits until it has
    /// released the file. Other clones of this handle then fail their writes
    /// with [`StoreError::WriterStopped`]; the file closes when the last is dropped.
    pub async fn stop(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.jobs.send(WriterMsg::Stop(tx)).await.is_ok() {
            let _ = tokio::task::spawn_blocking(move || rx.recv()).await;
        }
    }
}

fn session_in(txn: &WriteTransaction, id: SessionId) -> Result<Session, StoreError> {
    match txn.open_table(SESSIONS)?.get(id.as_u128())? {
        Some(v) => from_bytes::<SessionRec, _>(v.value()),
        None => Err(StoreError::SessionNotFound(id)),
    }
}

fn put_session(txn: &WriteTransaction, session: &Session) -> Result<(), StoreError> {
    txn.open_table(SESSIONS)?.insert(
        session.id.as_u128(),
        to_bytes::<_, SessionRec>(session)?.as_slice(),
    )?;
    Ok(())
}

#[async_trait::async_trait]
impl super::Store for RedbStore {
    fn describe(&self) -> String {
        format!("redb {}", self.path.display())
    }

    async fn close(&self) {
        self.stop().await;
    }

    async fn reachable(&self) -> bool {
        self.read(|txn| Ok(txn.open_table(SESSIONS)?.len()?))
            .await
            .is_ok()
    }

    async fn create_session(&self, session: Session) -> Result<Session, StoreError> {
        self.write(move |txn| {
            put_session(txn, &session)?;
            Ok(session)
        })
        .await
    }

    async fn set_session_agent(&self, id: SessionId, agent: String) -> Result<Session, StoreError> {
        self.write(move |txn| {
            let mut session = session_in(txn, id)?;
            session.agent = agent;
            session.updated_at = Utc::now();
            put_session(txn, &session)?;
            Ok(session)
        })
        .await
    }

    async fn update_session(
        &self,
        id: SessionId,
        change: SessionChange,
    ) -> Result<Session, StoreError> {
        self.write(move |txn| {
            let mut session = session_in(txn, id)?;
            change.apply(&mut session, Utc::now());
            put_session(txn, &session)?;
            Ok(session)
        })
        .await
    }

    async fn delete_session(&self, id: SessionId) -> Result<u64, StoreError> {
        self.write(move |txn| {
            session_in(txn, id)?;
            purge_sessions(txn, &[id])
        })
        .await
    }

    async fn append_messages(
        &self,
        session_id: SessionId,
        messages: Vec<Message>,
    ) -> Result<Session, StoreError> {
        self.write(move |txn| {
            let mut session = session_in(txn, session_id)?;
            let last = super::check_appended(&session, &messages)?;
            let encoded = messages
                .iter()
                .map(to_bytes::<_, MessageRec>)
                .collect::<Result<Vec<_>, _>>()?;
            let mut table = txn.open_table(MESSAGES)?;
            for (m, bytes) in messages.iter().zip(&encoded) {
                table.insert((session_id.as_u128(), m.seq), bytes.as_slice())?;
            }
            session.message_count += messages.len() as u64;
            session.last_seq = last;
            session.updated_at = Utc::now();
            put_session(txn, &session)?;
            Ok(session)
        })
        .await
    }

    async fn append_audit(&self, records: Vec<AuditRecord>) -> Result<(), StoreError> {
        self.write(move |txn| {
            let encoded = records
                .iter()
                .map(to_bytes::<_, AuditRec>)
                .collect::<Result<Vec<_>, _>>()?;
            let mut table = txn.open_table(AUDIT)?;
            for (r, bytes) in records.iter().zip(&encoded) {
                table.insert(r.id.as_u128(), bytes.as_slice())?;
            }
            Ok(())
        })
        .await
    }

    async fn get_session(&self, id: SessionId) -> Result<Session, StoreError> {
        self.read(move |txn| {
            let table = txn.open_table(SESSIONS)?;
            match table.get(id.as_u128())? {
                Some(v) => from_bytes::<SessionRec, _>(v.value()),
                None => Err(StoreError::SessionNotFound(id)),
            }
        })
        .await
    }

    async fn list_sessions(
        &self,
        before: Option<SessionId>,
        limit: usize,
    ) -> Result<Page<Session>, StoreError> {
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
                out.push(from_bytes::<SessionRec, _>(v.value())?);
            }
            Ok(Page { items: out, more })
        })
        .await
    }

    async fn history(
        &self,
        session_id: SessionId,
        after: u64,
        limit: usize,
    ) -> Result<Page<Message>, StoreError> {
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
                    out.push(from_bytes::<MessageRec, _>(v.value())?);
                }
            }
            Ok(Page { items: out, more })
        })
        .await
    }

    async fn put_approval(&self, approval: PendingApproval) -> Result<(), StoreError> {
        self.write(move |txn| {
            txn.open_table(APPROVALS)?.insert(
                approval.id.as_u128(),
                to_bytes::<_, ApprovalRec>(&approval)?.as_slice(),
            )?;
            Ok(())
        })
        .await
    }

    async fn resolve_approval(
        &self,
        id: ApprovalId,
        audit: Option<AuditRecord>,
    ) -> Result<Option<PendingApproval>, StoreError> {
        self.write(move |txn| {
            let mut table = txn.open_table(APPROVALS)?;
            let found: Option<PendingApproval> = match table.get(id.as_u128())? {
                Some(v) => Some(from_bytes::<ApprovalRec, _>(v.value())?),
                None => None,
            };
            if found.is_none() {
                return Ok(None);
            }
            let encoded = audit.as_ref().map(to_bytes::<_, AuditRec>).transpose()?;
            table.remove(id.as_u128())?;
            if let (Some(a), Some(bytes)) = (&audit, encoded) {
                txn.open_table(AUDIT)?
                    .insert(a.id.as_u128(), bytes.as_slice())?;
            }
            Ok(found)
        })
        .await
    }

    async fn get_approval(&self, id: ApprovalId) -> Result<Option<PendingApproval>, StoreError> {
        self.read(
            move |txn| match txn.open_table(APPROVALS)?.get(id.as_u128())? {
                Some(v) => Ok(Some(from_bytes::<ApprovalRec, _>(v.value())?)),
                None => Ok(None),
            },
        )
        .await
    }

    async fn list_approvals(
        &self,
        session: Option<SessionId>,
    ) -> Result<Vec<PendingApproval>, StoreError> {
        self.read(move |txn| {
            let mut out: Vec<PendingApproval> = Vec::new();
            for entry in txn.open_table(APPROVALS)?.range::<u128>(..)? {
                let (_, v) = entry?;
                let a: PendingApproval = from_bytes::<ApprovalRec, _>(v.value())?;
                if session.is_none_or(|s| s == a.session_id) {
                    out.push(a);
                }
            }
            out.sort_by_key(|a| a.created_at);
            Ok(out)
        })
        .await
    }

    async fn put_question(&self, q: PendingQuestion) -> Result<(), StoreError> {
        self.write(move |txn| {
            txn.open_table(QUESTIONS)?
                .insert(q.id.as_u128(), to_bytes::<_, QuestionRec>(&q)?.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn take_question(&self, id: QuestionId) -> Result<Option<PendingQuestion>, StoreError> {
        self.write(move |txn| {
            let mut table = txn.open_table(QUESTIONS)?;
            let found: Option<PendingQuestion> = match table.get(id.as_u128())? {
                Some(v) => Some(from_bytes::<QuestionRec, _>(v.value())?),
                None => None,
            };
            if found.is_some() {
                table.remove(id.as_u128())?;
            }
            Ok(found)
        })
        .await
    }

    async fn list_questions(
        &self,
        session: Option<SessionId>,
    ) -> Result<Vec<PendingQuestion>, StoreError> {
        self.read(move |txn| {
            let mut out = Vec::new();
            for entry in txn.open_table(QUESTIONS)?.range::<u128>(..)? {
                let (_, v) = entry?;
                let q: PendingQuestion = from_bytes::<QuestionRec, _>(v.value())?;
                if session.is_none_or(|s| s == q.session_id) {
                    out.push(q);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn put_checkpoint(
        &self,
        session_id: SessionId,
        turn_id: TurnId,
        path: String,
        before: Option<Vec<u8>>,
        after: Option<Vec<u8>>,
        session_limit: u64,
    ) -> Result<CheckpointOutcome, StoreError> {
        // Hashing happens before the writer's transaction.
        let before = before.map(|b| (super::content_hash(&b), b));
        let after = after.map(|a| (super::content_hash(&a), a));
        self.write(move |txn| {
            session_in(txn, session_id)?;
            let key = (session_id.as_u128(), turn_id.as_u128(), path.as_str());
            let mut table = txn.open_table(CHECKPOINTS)?;
            let existing: Option<FileCheckpoint> = match table.get(key)? {
                Some(v) => Some(from_bytes::<CheckpointRec, _>(v.value())?),
                None => None,
            };
            let mut blobs = txn.open_table(CHECKPOINT_BLOBS)?;
            let mut refs = txn.open_table(CHECKPOINT_REFS)?;
            let mut usage = txn.open_table(CHECKPOINT_USAGE)?;
            let used = usage.get(session_id.as_u128())?.map_or(0, |v| v.value());
            // What this write would add: contents not stored yet.
            let sides = super::checkpoint_sides(existing.is_none(), &before, &after);
            let mut added = 0u64;
            let mut seen: Vec<&str> = Vec::new();
            for (hash, bytes) in &sides {
                if !seen.contains(&hash.as_str()) && blobs.get(hash.as_bytes())?.is_none() {
                    added += bytes.len() as u64;
                }
                seen.push(hash);
            }
            if used + added > session_limit {
                return Ok(CheckpointOutcome::SessionLimit {
                    used,
                    limit: session_limit,
                });
            }
            let (record, unref) =
                super::checkpoint_record(existing, turn_id, &path, before.as_ref(), after.as_ref());
            for (hash, bytes) in sides {
                let n = refs.get(hash.as_bytes())?.map_or(0, |v| v.value());
                if n == 0 {
                    blobs.insert(hash.as_bytes(), bytes.as_slice())?;
                }
                refs.insert(hash.as_bytes(), n + 1)?;
            }
            if let Some(hash) = unref {
                release(&mut blobs, &mut refs, &hash)?;
            }
            table.insert(key, to_bytes::<_, CheckpointRec>(&record)?.as_slice())?;
            usage.insert(session_id.as_u128(), used + added)?;
            Ok(CheckpointOutcome::Recorded)
        })
        .await
    }

    async fn checkpoints(&self, session_id: SessionId) -> Result<Vec<FileCheckpoint>, StoreError> {
        self.read(move |txn| {
            let key = session_id.as_u128();
            let table = txn.open_table(CHECKPOINTS)?;
            let mut out = Vec::new();
            for entry in table.range((key, 0u128, "")..)? {
                let (k, v) = entry?;
                if k.value().0 != key {
                    break;
                }
                out.push(from_bytes::<CheckpointRec, _>(v.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn checkpoint_content(&self, hash: String) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(move |txn| {
            Ok(txn
                .open_table(CHECKPOINT_BLOBS)?
                .get(hash.as_bytes())?
                .map(|v| v.value().to_vec()))
        })
        .await
    }

    async fn idle_sessions(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SessionId>, StoreError> {
        self.read(move |txn| {
            let mut out = Vec::new();
            for entry in txn.open_table(SESSIONS)?.range::<u128>(..)? {
                let (_, v) = entry?;
                let s: Session = from_bytes::<SessionRec, _>(v.value())?;
                if s.updated_at < before {
                    out.push(s.id);
                    if out.len() == limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn delete_sessions(&self, ids: Vec<SessionId>) -> Result<(), StoreError> {
        self.write(move |txn| purge_sessions(txn, &ids).map(|_| ()))
            .await
    }

    async fn delete_audit_before(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.write(move |txn| {
            let mut table = txn.open_table(AUDIT)?;
            let bound = super::time_bound(before);
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

    async fn audit_page(
        &self,
        query: AuditQuery,
        limit: usize,
    ) -> Result<Page<AuditRecord>, StoreError> {
        self.read(move |txn| {
            let table = txn.open_table(AUDIT)?;
            let mut upper = query.cursor.map_or(u128::MAX, |c| c.as_u128());
            if let Some(u) = query.until {
                upper = upper.min(super::time_bound(u));
            }
            let mut out = Vec::new();
            let mut more = false;
            for entry in table.range(..upper)?.rev() {
                let (_, v) = entry?;
                let r: AuditRecord = from_bytes::<AuditRec, _>(v.value())?;
                if query.since.is_some_and(|s| r.at < s) {
                    break;
                }
                if !query.matches(&r) {
                    continue;
                }
                if out.len() == limit {
                    more = true;
                    break;
                }
                out.push(r);
            }
            Ok(Page { items: out, more })
        })
        .await
    }
}

/// Removes sessions with their messages, pending approvals and questions, in
/// the caller's transaction; returns how many messages went.
/// Drops one reference to a content; the content goes with its last.
fn release(
    blobs: &mut redb::Table<&[u8], &[u8]>,
    refs: &mut redb::Table<&[u8], u64>,
    hash: &str,
) -> Result<(), StoreError> {
    let n = refs.get(hash.as_bytes())?.map_or(0, |v| v.value());
    if n <= 1 {
        refs.remove(hash.as_bytes())?;
        blobs.remove(hash.as_bytes())?;
    } else {
        refs.insert(hash.as_bytes(), n - 1)?;
    }
    Ok(())
}

/// Deletes a session's checkpoints, releasing their contents.
fn purge_checkpoints(txn: &WriteTransaction, id: SessionId) -> Result<(), StoreError> {
    let key = id.as_u128();
    let mut table = txn.open_table(CHECKPOINTS)?;
    let mut hashes = Vec::new();
    let mut keys = Vec::new();
    for entry in table.range((key, 0u128, "")..)? {
        let (k, v) = entry?;
        let (s, t, p) = k.value();
        if s != key {
            break;
        }
        let c: FileCheckpoint = from_bytes::<CheckpointRec, _>(v.value())?;
        hashes.extend(c.before.map(|r| r.hash));
        hashes.extend(c.after.map(|r| r.hash));
        keys.push((t, p.to_owned()));
    }
    for (t, p) in &keys {
        table.remove((key, *t, p.as_str()))?;
    }
    let mut blobs = txn.open_table(CHECKPOINT_BLOBS)?;
    let mut refs = txn.open_table(CHECKPOINT_REFS)?;
    for h in hashes {
        release(&mut blobs, &mut refs, &h)?;
    }
    txn.open_table(CHECKPOINT_USAGE)?.remove(key)?;
    Ok(())
}

fn purge_sessions(txn: &WriteTransaction, ids: &[SessionId]) -> Result<u64, StoreError> {
    for id in ids {
        purge_checkpoints(txn, *id)?;
    }
    let owners: std::collections::HashSet<uuid::Uuid> = ids.iter().map(|i| i.uuid()).collect();
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
    let mut doomed = Vec::new();
    let mut approvals = txn.open_table(APPROVALS)?;
    for entry in approvals.range::<u128>(..)? {
        let (k, v) = entry?;
        if owners.contains(&decode::<ApprovalRec>(v.value())?.session_id()) {
            doomed.push(k.value());
        }
    }
    for k in doomed.drain(..) {
        approvals.remove(k)?;
    }
    let mut questions = txn.open_table(QUESTIONS)?;
    for entry in questions.range::<u128>(..)? {
        let (k, v) = entry?;
        if owners.contains(&decode::<QuestionRec>(v.value())?.session_id()) {
            doomed.push(k.value());
        }
    }
    for k in doomed {
        questions.remove(k)?;
    }
    Ok(removed)
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
