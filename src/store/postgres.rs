//! The PostgreSQL backend: the store shared by several `serve` instances.
//!
//! Invariants:
//! - **Acknowledged means durable.** Every write runs in a transaction that
//!   is committed (with the server's default `synchronous_commit = on`)
//!   before its future resolves.
//! - **Group commit.** One writer task owns the writes: it takes every job
//!   that is waiting (at most [`MAX_BATCH`]) into one transaction, each job
//!   inside its own savepoint (a job that fails is rolled back alone and
//!   the others still commit), commits once, then answers every caller. A
//!   hundred sessions appending at once pay for a few WAL flushes, not a
//!   hundred.
//! - **All or nothing** per job, as in redb: a job validates before it
//!   writes, and its savepoint undoes whatever a failing statement did.
//! - **Resolution happens once**, across instances too: approvals and
//!   questions are taken with `DELETE ... RETURNING`, which one transaction
//!   wins.
//! - Reads run on pooled connections and never wait for the writer.
//! - **Schema.** Migrations run at open inside one transaction holding a
//!   transaction-level advisory lock ([`MIGRATION_LOCK`]): instances starting
//!   together migrate once; a database written by a newer build is refused
//!   ([`StoreError::DatabaseTooNew`]).
//! - **Timeouts and reconnection.** Every connection has a
//!   `statement_timeout` ([`STATEMENT_TIMEOUT`]); the pool hands out only
//!   open connections, so after the database restarts the next checkout
//!   connects again. Writes that were in flight when it went away fail (their
//!   callers are told; nothing was acknowledged).
//! - Records are the store's own versioned JSON ([`super::records`]), the
//!   same bytes redb keeps, in `bytea` columns; the columns beside them hold
//!   only what the queries filter and order by.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::NoTls;
use uuid::Uuid;

use super::records::{
    ApprovalRec, AuditRec, CheckpointRec, MessageRec, QuestionRec, SessionRec, from_bytes, to_bytes,
};
use super::{AuditQuery, Page, SessionChange, StoreError};
use crate::domain::{
    ApprovalId, AuditRecord, CheckpointOutcome, FileCheckpoint, Message, PendingApproval,
    PendingQuestion, QuestionId, Session, SessionId, TurnId,
};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 2;

/// The advisory lock key migrations hold (`codelab` in ASCII).
pub const MIGRATION_LOCK: i64 = 0x0063_6f64_656c_6162;

/// How long one statement may run before the server cancels it.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// How many jobs the writer takes into one transaction at most.
const MAX_BATCH: usize = 256;

/// Connections in the pool (reads, and the writer's one).
const POOL_SIZE: usize = 16;

/// The migrations, indexed by the version they produce minus one. Each runs
/// inside the migration transaction.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    r#"
CREATE TABLE codelab_sessions (
    id uuid PRIMARY KEY,
    updated_at timestamptz NOT NULL,
    last_seq bigint NOT NULL,
    record bytea NOT NULL,
    lease_owner text,
    lease_until timestamptz,
    lease_gen bigint NOT NULL DEFAULT 0,
    running_turn uuid,
    last_owner text
);
CREATE INDEX codelab_sessions_updated ON codelab_sessions (updated_at);
CREATE TABLE codelab_messages (
    session_id uuid NOT NULL REFERENCES codelab_sessions (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    record bytea NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE TABLE codelab_approvals (
    id uuid PRIMARY KEY,
    session_id uuid NOT NULL,
    created_at timestamptz NOT NULL,
    record bytea NOT NULL
);
CREATE INDEX codelab_approvals_session ON codelab_approvals (session_id);
CREATE TABLE codelab_questions (
    id uuid PRIMARY KEY,
    session_id uuid NOT NULL,
    record bytea NOT NULL
);
CREATE INDEX codelab_questions_session ON codelab_questions (session_id);
CREATE TABLE codelab_audit (
    id uuid PRIMARY KEY,
    at timestamptz NOT NULL,
    session_id uuid,
    category text NOT NULL,
    kind text NOT NULL,
    record bytea NOT NULL
);
CREATE TABLE codelab_checkpoints (
    session_id uuid NOT NULL,
    turn_id uuid NOT NULL,
    path text COLLATE "C" NOT NULL,
    record bytea NOT NULL,
    PRIMARY KEY (session_id, turn_id, path)
);
CREATE TABLE codelab_checkpoint_blobs (
    hash text PRIMARY KEY,
    content bytea NOT NULL,
    refs bigint NOT NULL
);
CREATE TABLE codelab_singletons (
    name text PRIMARY KEY,
    owner text NOT NULL,
    until timestamptz NOT NULL
);
CREATE TABLE codelab_checkpoint_usage (
    session_id uuid PRIMARY KEY,
    bytes bigint NOT NULL
);
"#,
    r#"
CREATE TABLE codelab_decisions (
    session_id uuid NOT NULL REFERENCES codelab_sessions (id) ON DELETE CASCADE,
    call_id text NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    payload text NOT NULL,
    PRIMARY KEY (session_id, call_id)
);
ALTER TABLE codelab_sessions ADD COLUMN cancel_turn uuid;
-- The parent of a subtask's session (sessions created before stay NULL).
ALTER TABLE codelab_sessions ADD COLUMN parent_id uuid;
CREATE INDEX codelab_sessions_parent ON codelab_sessions (parent_id);
"#,
];

type Completion = Box<dyn FnOnce(Option<&StoreError>) + Send>;
/// A write: runs on the writer's connection inside the batch transaction (or
/// is handed the error that kept it from running) and says whether it
/// succeeded (a failed job's savepoint is rolled back).
type Job = Box<
    dyn for<'t> FnOnce(
            Result<&'t ClientWrapper, &'t StoreError>,
        ) -> BoxFuture<'t, (bool, Completion)>
        + Send,
>;

enum WriterMsg {
    Job(Job),
    Stop(oneshot::Sender<()>),
}

/// A handle to the PostgreSQL store. Cheap to clone; clones share the pool
/// and the writer.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    jobs: mpsc::Sender<WriterMsg>,
    /// The URL without its password, for logs.
    display: Arc<str>,
    /// How to connect (the listener has a connection of its own).
    config: tokio_postgres::Config,
    /// This instance's id, in the leases it takes.
    instance: Arc<str>,
    /// The sessions whose lease this instance holds, with the fencing
    /// generation: each write to one of them checks the generation in the
    /// same transaction.
    held: Arc<std::sync::Mutex<std::collections::HashMap<SessionId, i64>>>,
}

/// The generation remembered for a session whose lease the heartbeat found
/// lost: every write of this instance to it fails the fence check until it
/// takes the lease again or lets it go (its turn ended).
const LOST: i64 = -1;

/// What a write checks before touching a session: this instance holds the
/// lease at this generation (`None`: it holds none, nothing to check).
type Fence = Option<(Arc<str>, i64)>;

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.display)
            .finish()
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => Self::Storage(format!("database error: {}: {}", db.code().code(), db)),
            None => Self::Storage(format!("database error: {e}")),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => Self::Storage(format!("cannot reach the database: {other}")),
        }
    }
}

/// The URL with its password replaced, for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "postgres://(unparsable URL)".into(),
    }
}

impl PgStore {
    /// Connects to the database at `url` (a `postgres://` URL or a libpq
    /// key=value string), runs the migrations under the advisory lock, and
    /// starts the writer.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a malformed URL, [`StoreError::Storage`]
    /// when the database cannot be reached, and
    /// [`StoreError::DatabaseTooNew`] when a newer build migrated it.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let instance = format!(
            "{}-{}",
            std::process::id(),
            &Uuid::new_v4().simple().to_string()[..8]
        );
        Self::connect_as(url, &instance).await
    }

    /// Like [`Self::connect`], naming this instance `instance` (in leases,
    /// metrics and logs).
    ///
    /// # Errors
    /// As [`Self::connect`].
    pub async fn connect_as(url: &str, instance: &str) -> Result<Self, StoreError> {
        let display: Arc<str> = redact_url(url).into();
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Invalid(format!("store URL {display}: {e}")))?;
        let timeout_ms = STATEMENT_TIMEOUT.as_millis();
        let options = match config.get_options() {
            Some(o) => format!("{o} -c statement_timeout={timeout_ms}"),
            None => format!("-c statement_timeout={timeout_ms}"),
        };
        config.options(&options);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("codelab-agent");
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(15)))
            .create_timeout(Some(Duration::from_secs(10)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Invalid(format!("store URL {display}: {e}")))?;
        migrate(&pool, &display, SCHEMA_VERSION).await?;
        let (jobs, rx) = mpsc::channel(4096);
        tokio::spawn(writer_loop(pool.clone(), rx));
        Ok(Self {
            pool,
            jobs,
            display,
            config,
            instance: instance.into(),
            held: Arc::default(),
        })
    }

    /// The fence of a write to `session`.
    fn fence(&self, session: SessionId) -> Fence {
        let held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.get(&session).map(|g| (Arc::clone(&self.instance), *g))
    }

    /// The fence of a write only the lease holder may make: without the
    /// lease (lost, the heartbeat found) another instance took the session
    /// over.
    fn holder_fence(&self, session: SessionId) -> Result<Fence, StoreError> {
        match self.fence(session) {
            Some(fence) => Ok(Some(fence)),
            None => Err(StoreError::Fenced {
                session,
                generation: 0,
            }),
        }
    }

    /// The pool (for the lease and fan-out machinery beside the store).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Runs `f` in the writer's next transaction and returns its result once
    /// the transaction is committed.
    async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: for<'t> FnOnce(&'t ClientWrapper) -> BoxFuture<'t, Result<R, StoreError>>
            + Send
            + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |client| {
            Box::pin(async move {
                let result = match client {
                    Ok(client) => f(client).await,
                    Err(e) => Err(e.clone()),
                };
                let ok = result.is_ok();
                let done: Completion = Box::new(move |commit_error: Option<&StoreError>| {
                    let _ = tx.send(match commit_error {
                        Some(e) => Err(e.clone()),
                        None => result,
                    });
                });
                (ok, done)
            })
        });
        self.jobs
            .send(WriterMsg::Job(job))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        rx.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// A pooled connection for reads.
    async fn reader(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }
}

/// Creates the meta tables, checks the version and migrates, in one
/// transaction under the advisory lock.
async fn migrate(pool: &Pool, display: &str, target: i64) -> Result<(), StoreError> {
    let mut client = pool.get().await?;
    let txn = client.transaction().await?;
    txn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    txn.batch_execute(
        "CREATE TABLE IF NOT EXISTS codelab_meta (key text PRIMARY KEY, value bigint NOT NULL);
         CREATE TABLE IF NOT EXISTS codelab_migrations (
             version bigint PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now(),
             applied_by text NOT NULL DEFAULT current_setting('application_name')
         );",
    )
    .await?;
    let found: i64 = txn
        .query_opt(
            "SELECT value FROM codelab_meta WHERE key = 'schema_version'",
            &[],
        )
        .await?
        .map_or(0, |r| r.get(0));
    if found > SCHEMA_VERSION {
        return Err(StoreError::DatabaseTooNew {
            store: display.to_owned(),
            found: u64::try_from(found).unwrap_or(u64::MAX),
            supported: SCHEMA_VERSION as u64,
        });
    }
    if found >= target {
        txn.commit().await?;
        return Ok(());
    }
    for version in found + 1..=target {
        tracing::info!(
            from = version - 1,
            to = version,
            "migrating the database schema"
        );
        let sql = MIGRATIONS
            .get((version - 1) as usize)
            .ok_or_else(|| StoreError::Invalid(format!("no migration to version {version}")))?;
        txn.batch_execute(sql).await?;
        txn.execute(
            "INSERT INTO codelab_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await?;
    }
    txn.execute(
        "INSERT INTO codelab_meta (key, value) VALUES ('schema_version', $1)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[&target],
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Stamps a schema version without migrating (tests of the version check).
///
/// # Errors
/// A database error.
pub async fn force_version(url: &str, version: i64) -> Result<(), StoreError> {
    let store = PgStore::connect(url).await?;
    let client = store.pool.get().await?;
    client
        .execute(
            "UPDATE codelab_meta SET value = $1 WHERE key = 'schema_version'",
            &[&version],
        )
        .await?;
    drop(client);
    store.stop().await;
    Ok(())
}

impl PgStore {
    /// Stops the writer after the jobs already queued.
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(WriterMsg::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn writer_loop(pool: Pool, mut rx: mpsc::Receiver<WriterMsg>) {
    let mut stop = None;
    while let Some(first) = rx.recv().await {
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
            match run_batch(&pool, batch).await {
                Ok(()) => tracing::trace!(jobs = count, "store batch committed"),
                Err(e) => tracing::warn!(jobs = count, error = %e, "store batch failed"),
            }
        }
        if stop.is_some() {
            break;
        }
    }
    pool.close();
    if let Some(ack) = stop {
        let _ = ack.send(());
    }
}

/// Runs every job in one transaction (each in a savepoint when several
/// share it), commits, then completes them.
async fn run_batch(pool: &Pool, batch: Vec<Job>) -> Result<(), StoreError> {
    let client = match pool.get().await {
        Ok(c) => c,
        Err(e) => {
            let err = StoreError::from(e);
            fail_all(batch, &err).await;
            return Err(err);
        }
    };
    if let Err(e) = client.batch_execute("BEGIN").await {
        let err = StoreError::from(e);
        fail_all(batch, &err).await;
        return Err(err);
    }
    let several = batch.len() > 1;
    let mut completions = Vec::with_capacity(batch.len());
    let mut broken: Option<StoreError> = None;
    let mut all_ok = true;
    for job in batch {
        if several
            && broken.is_none()
            && let Err(e) = client.batch_execute("SAVEPOINT job").await
        {
            broken = Some(e.into());
        }
        if let Some(err) = &broken {
            // The connection failed under an earlier job: this one cannot run.
            completions.push(job(Err(err)).await.1);
            continue;
        }
        let (ok, done) = job(Ok(&client)).await;
        all_ok &= ok;
        completions.push(done);
        let settle = match (several, ok) {
            (false, _) => Ok(()),
            (true, true) => client.batch_execute("RELEASE SAVEPOINT job").await,
            (true, false) => client.batch_execute("ROLLBACK TO SAVEPOINT job").await,
        };
        if let Err(e) = settle {
            broken = Some(e.into());
        }
    }
    let end = match broken {
        Some(e) => Err(e),
        // A lone job that failed: nothing of it may stay.
        None if !several && !all_ok => client
            .batch_execute("ROLLBACK")
            .await
            .map_err(StoreError::from),
        None => client
            .batch_execute("COMMIT")
            .await
            .map_err(StoreError::from),
    };
    match end {
        Ok(()) => {
            for c in completions {
                c(None);
            }
            Ok(())
        }
        Err(err) => {
            let _ = client.batch_execute("ROLLBACK").await;
            for c in completions {
                c(Some(&err));
            }
            Err(err)
        }
    }
}

fn fail_all(batch: Vec<Job>, err: &StoreError) -> BoxFuture<'_, ()> {
    Box::pin(async move {
        for job in batch {
            job(Err(err)).await.1(Some(err));
        }
    })
}

/// A `u64` count or seq as PostgreSQL's `bigint`.
fn big(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Invalid(format!("{n} does not fit in a bigint")))
}

/// A `usize` limit as a `LIMIT` (one more, to learn whether more follow).
fn limit_plus_one(limit: usize) -> i64 {
    i64::try_from(limit)
        .unwrap_or(i64::MAX - 1)
        .saturating_add(1)
}

/// Splits `rows` decoded past `limit` into a page.
fn page<T>(mut items: Vec<T>, limit: usize) -> Page<T> {
    let more = items.len() > limit;
    items.truncate(limit);
    Page { items, more }
}

/// Locks a session's row, checks the fence, and reads the session.
async fn session_for_update(
    c: &ClientWrapper,
    id: SessionId,
    fence: &Fence,
) -> Result<Session, StoreError> {
    let st = c
        .prepare_cached(
            "SELECT record, lease_owner, lease_gen FROM codelab_sessions WHERE id = $1 FOR UPDATE",
        )
        .await?;
    match c.query_opt(&st, &[&id.uuid()]).await? {
        Some(row) => {
            check_fence(id, fence, row.get(1), row.get(2))?;
            from_bytes::<SessionRec, _>(row.get::<_, &[u8]>(0))
        }
        None => Err(StoreError::SessionNotFound(id)),
    }
}

/// Refuses a write of an instance that no longer holds the lease it took.
fn check_fence(
    id: SessionId,
    fence: &Fence,
    owner: Option<&str>,
    generation: i64,
) -> Result<(), StoreError> {
    match fence {
        Some((me, held)) if owner != Some(&**me) || generation != *held => {
            Err(StoreError::Fenced {
                session: id,
                generation: u64::try_from(*held).unwrap_or(0),
            })
        }
        _ => Ok(()),
    }
}

/// Checks the fence of a write that does not rewrite the session row.
async fn fence_only(c: &ClientWrapper, id: SessionId, fence: &Fence) -> Result<(), StoreError> {
    if fence.is_none() {
        return Ok(());
    }
    let st = c
        .prepare_cached(
            "SELECT lease_owner, lease_gen FROM codelab_sessions WHERE id = $1 FOR SHARE",
        )
        .await?;
    match c.query_opt(&st, &[&id.uuid()]).await? {
        Some(row) => check_fence(id, fence, row.get(0), row.get(1)),
        None => Err(StoreError::SessionNotFound(id)),
    }
}

async fn put_session(c: &ClientWrapper, s: &Session) -> Result<(), StoreError> {
    let st = c
        .prepare_cached(
            "INSERT INTO codelab_sessions (id, updated_at, last_seq, record, parent_id)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET updated_at = EXCLUDED.updated_at,
                 last_seq = EXCLUDED.last_seq, record = EXCLUDED.record",
        )
        .await?;
    let record = to_bytes::<_, SessionRec>(s)?;
    c.execute(
        &st,
        &[
            &s.id.uuid(),
            &s.updated_at,
            &big(s.last_seq)?,
            &record,
            &s.parent.as_ref().map(|p| p.session_id.uuid()),
        ],
    )
    .await?;
    Ok(())
}

/// Drops one reference to each content; a content goes with its last.
async fn release(c: &ClientWrapper, hashes: &[String]) -> Result<(), StoreError> {
    let dec = c
        .prepare_cached("UPDATE codelab_checkpoint_blobs SET refs = refs - 1 WHERE hash = $1")
        .await?;
    for h in hashes {
        c.execute(&dec, &[h]).await?;
    }
    if !hashes.is_empty() {
        let gone = c
            .prepare_cached(
                "DELETE FROM codelab_checkpoint_blobs WHERE hash = ANY($1) AND refs <= 0",
            )
            .await?;
        c.execute(&gone, &[&hashes]).await?;
    }
    Ok(())
}

/// Deletes sessions with their messages (by cascade), approvals, questions
/// and checkpoints; returns how many messages went.
async fn purge_sessions(c: &ClientWrapper, ids: &[SessionId]) -> Result<u64, StoreError> {
    let ids: Vec<Uuid> = ids.iter().map(|i| i.uuid()).collect();
    let rows = c
        .query(
            "DELETE FROM codelab_checkpoints WHERE session_id = ANY($1) RETURNING record",
            &[&ids],
        )
        .await?;
    let mut hashes = Vec::new();
    for row in rows {
        let cp: FileCheckpoint = from_bytes::<CheckpointRec, _>(row.get::<_, &[u8]>(0))?;
        hashes.extend(cp.before.map(|r| r.hash));
        hashes.extend(cp.after.map(|r| r.hash));
    }
    release(c, &hashes).await?;
    c.execute(
        "DELETE FROM codelab_checkpoint_usage WHERE session_id = ANY($1)",
        &[&ids],
    )
    .await?;
    let removed: i64 = c
        .query_one(
            "SELECT count(*) FROM codelab_messages WHERE session_id = ANY($1)",
            &[&ids],
        )
        .await?
        .get(0);
    c.execute(
        "DELETE FROM codelab_approvals WHERE session_id = ANY($1)",
        &[&ids],
    )
    .await?;
    c.execute(
        "DELETE FROM codelab_questions WHERE session_id = ANY($1)",
        &[&ids],
    )
    .await?;
    c.execute("DELETE FROM codelab_sessions WHERE id = ANY($1)", &[&ids])
        .await?;
    Ok(u64::try_from(removed).unwrap_or(0))
}

async fn insert_audit(c: &ClientWrapper, records: &[AuditRecord]) -> Result<(), StoreError> {
    let st = c
        .prepare_cached(
            "INSERT INTO codelab_audit (id, at, session_id, category, kind, record)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await?;
    for r in records {
        let bytes = to_bytes::<_, AuditRec>(r)?;
        c.execute(
            &st,
            &[
                &r.id.uuid(),
                &r.at,
                &r.session_id.map(|s| s.uuid()),
                &r.category,
                &r.kind,
                &bytes,
            ],
        )
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl super::Store for PgStore {
    fn describe(&self) -> String {
        format!("postgres {}", self.display)
    }

    async fn close(&self) {
        self.stop().await;
    }

    async fn reachable(&self) -> bool {
        match self.pool.get().await {
            Ok(c) => c.simple_query("SELECT 1").await.is_ok(),
            Err(_) => false,
        }
    }

    async fn create_session(&self, session: Session) -> Result<Session, StoreError> {
        self.write(move |c| {
            Box::pin(async move {
                put_session(c, &session).await?;
                Ok(session)
            })
        })
        .await
    }

    async fn set_session_agent(&self, id: SessionId, agent: String) -> Result<Session, StoreError> {
        let fence = self.fence(id);
        self.write(move |c| {
            Box::pin(async move {
                let mut session = session_for_update(c, id, &fence).await?;
                session.agent = agent;
                session.updated_at = Utc::now();
                put_session(c, &session).await?;
                Ok(session)
            })
        })
        .await
    }

    async fn update_session(
        &self,
        id: SessionId,
        change: SessionChange,
    ) -> Result<Session, StoreError> {
        let fence = self.fence(id);
        self.write(move |c| {
            Box::pin(async move {
                let mut session = session_for_update(c, id, &fence).await?;
                change.apply(&mut session, Utc::now());
                put_session(c, &session).await?;
                Ok(session)
            })
        })
        .await
    }

    async fn delete_session(&self, id: SessionId) -> Result<u64, StoreError> {
        let fence = self.fence(id);
        self.write(move |c| {
            Box::pin(async move {
                session_for_update(c, id, &fence).await?;
                purge_sessions(c, &[id]).await
            })
        })
        .await
    }

    async fn append_messages(
        &self,
        session_id: SessionId,
        messages: Vec<Message>,
    ) -> Result<Session, StoreError> {
        let fence = self.fence(session_id);
        self.write(move |c| {
            Box::pin(async move {
                let mut session = session_for_update(c, session_id, &fence).await?;
                let last = super::check_appended(&session, &messages)?;
                let mut seqs = Vec::with_capacity(messages.len());
                let mut records = Vec::with_capacity(messages.len());
                for m in &messages {
                    seqs.push(big(m.seq)?);
                    records.push(to_bytes::<_, MessageRec>(m)?);
                }
                let st = c
                    .prepare_cached(
                        "INSERT INTO codelab_messages (session_id, seq, record)
                         SELECT $1, s, r FROM unnest($2::bigint[], $3::bytea[]) AS t(s, r)",
                    )
                    .await?;
                c.execute(&st, &[&session_id.uuid(), &seqs, &records])
                    .await?;
                session.message_count += messages.len() as u64;
                session.last_seq = last;
                session.updated_at = Utc::now();
                put_session(c, &session).await?;
                Ok(session)
            })
        })
        .await
    }

    async fn append_audit(&self, records: Vec<AuditRecord>) -> Result<(), StoreError> {
        self.write(move |c| Box::pin(async move { insert_audit(c, &records).await }))
            .await
    }

    async fn get_session(&self, id: SessionId) -> Result<Session, StoreError> {
        let c = self.reader().await?;
        let st = c
            .prepare_cached("SELECT record FROM codelab_sessions WHERE id = $1")
            .await?;
        match c.query_opt(&st, &[&id.uuid()]).await? {
            Some(row) => from_bytes::<SessionRec, _>(row.get::<_, &[u8]>(0)),
            None => Err(StoreError::SessionNotFound(id)),
        }
    }

    async fn list_sessions(
        &self,
        before: Option<SessionId>,
        limit: usize,
    ) -> Result<Page<Session>, StoreError> {
        let c = self.reader().await?;
        let st = c
            .prepare_cached(
                "SELECT record FROM codelab_sessions WHERE ($1::uuid IS NULL OR id < $1)
                 ORDER BY id DESC LIMIT $2",
            )
            .await?;
        let rows = c
            .query(&st, &[&before.map(|b| b.uuid()), &limit_plus_one(limit)])
            .await?;
        let items = rows
            .iter()
            .map(|r| from_bytes::<SessionRec, _>(r.get::<_, &[u8]>(0)))
            .collect::<Result<Vec<Session>, _>>()?;
        Ok(page(items, limit))
    }

    async fn history(
        &self,
        session_id: SessionId,
        after: u64,
        limit: usize,
    ) -> Result<Page<Message>, StoreError> {
        let c = self.reader().await?;
        // One snapshot for the existence check and the rows.
        let st = c
            .prepare_cached(
                "SELECT s.id, m.record FROM codelab_sessions s
                 LEFT JOIN LATERAL (
                     SELECT record FROM codelab_messages
                     WHERE session_id = s.id AND seq > $2 ORDER BY seq LIMIT $3
                 ) m ON true
                 WHERE s.id = $1",
            )
            .await?;
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows = c
            .query(&st, &[&session_id.uuid(), &after, &limit_plus_one(limit)])
            .await?;
        if rows.is_empty() {
            return Err(StoreError::SessionNotFound(session_id));
        }
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(bytes) = row.get::<_, Option<&[u8]>>(1) {
                items.push(from_bytes::<MessageRec, _>(bytes)?);
            }
        }
        Ok(page(items, limit))
    }

    async fn put_approval(&self, approval: PendingApproval) -> Result<(), StoreError> {
        let fence = self.fence(approval.session_id);
        self.write(move |c| {
            Box::pin(async move {
                fence_only(c, approval.session_id, &fence).await?;
                let bytes = to_bytes::<_, ApprovalRec>(&approval)?;
                c.execute(
                    "INSERT INTO codelab_approvals (id, session_id, created_at, record)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
                    &[
                        &approval.id.uuid(),
                        &approval.session_id.uuid(),
                        &approval.created_at,
                        &bytes,
                    ],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn resolve_approval(
        &self,
        id: ApprovalId,
        audit: Option<AuditRecord>,
    ) -> Result<Option<PendingApproval>, StoreError> {
        self.write(move |c| {
            Box::pin(async move {
                let encoded = audit.as_ref().map(to_bytes::<_, AuditRec>).transpose()?;
                let st = c
                    .prepare_cached("DELETE FROM codelab_approvals WHERE id = $1 RETURNING record")
                    .await?;
                let Some(row) = c.query_opt(&st, &[&id.uuid()]).await? else {
                    return Ok(None);
                };
                let found: PendingApproval = from_bytes::<ApprovalRec, _>(row.get::<_, &[u8]>(0))?;
                if let (Some(a), Some(_)) = (&audit, encoded) {
                    insert_audit(c, std::slice::from_ref(a)).await?;
                }
                Ok(Some(found))
            })
        })
        .await
    }

    async fn get_approval(&self, id: ApprovalId) -> Result<Option<PendingApproval>, StoreError> {
        let c = self.reader().await?;
        let row = c
            .query_opt(
                "SELECT record FROM codelab_approvals WHERE id = $1",
                &[&id.uuid()],
            )
            .await?;
        row.map(|r| from_bytes::<ApprovalRec, _>(r.get::<_, &[u8]>(0)))
            .transpose()
    }

    async fn list_approvals(
        &self,
        session: Option<SessionId>,
    ) -> Result<Vec<PendingApproval>, StoreError> {
        let c = self.reader().await?;
        let rows = c
            .query(
                "SELECT record FROM codelab_approvals WHERE ($1::uuid IS NULL OR session_id = $1)
                 ORDER BY created_at, id",
                &[&session.map(|s| s.uuid())],
            )
            .await?;
        rows.iter()
            .map(|r| from_bytes::<ApprovalRec, _>(r.get::<_, &[u8]>(0)))
            .collect()
    }

    async fn put_question(&self, q: PendingQuestion) -> Result<(), StoreError> {
        let fence = self.fence(q.session_id);
        self.write(move |c| {
            Box::pin(async move {
                fence_only(c, q.session_id, &fence).await?;
                let bytes = to_bytes::<_, QuestionRec>(&q)?;
                c.execute(
                    "INSERT INTO codelab_questions (id, session_id, record) VALUES ($1, $2, $3)
                     ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
                    &[&q.id.uuid(), &q.session_id.uuid(), &bytes],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn take_question(&self, id: QuestionId) -> Result<Option<PendingQuestion>, StoreError> {
        self.write(move |c| {
            Box::pin(async move {
                let row = c
                    .query_opt(
                        "DELETE FROM codelab_questions WHERE id = $1 RETURNING record",
                        &[&id.uuid()],
                    )
                    .await?;
                row.map(|r| from_bytes::<QuestionRec, _>(r.get::<_, &[u8]>(0)))
                    .transpose()
            })
        })
        .await
    }

    async fn list_questions(
        &self,
        session: Option<SessionId>,
    ) -> Result<Vec<PendingQuestion>, StoreError> {
        let c = self.reader().await?;
        let rows = c
            .query(
                "SELECT record FROM codelab_questions WHERE ($1::uuid IS NULL OR session_id = $1)
                 ORDER BY id",
                &[&session.map(|s| s.uuid())],
            )
            .await?;
        rows.iter()
            .map(|r| from_bytes::<QuestionRec, _>(r.get::<_, &[u8]>(0)))
            .collect()
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
        let before = before.map(|b| (super::content_hash(&b), b));
        let after = after.map(|a| (super::content_hash(&a), a));
        let fence = self.fence(session_id);
        self.write(move |c| {
            Box::pin(async move {
                session_for_update(c, session_id, &fence).await?;
                let existing: Option<FileCheckpoint> = c
                    .query_opt(
                        "SELECT record FROM codelab_checkpoints
                         WHERE session_id = $1 AND turn_id = $2 AND path = $3",
                        &[&session_id.uuid(), &turn_id.uuid(), &path],
                    )
                    .await?
                    .map(|r| from_bytes::<CheckpointRec, _>(r.get::<_, &[u8]>(0)))
                    .transpose()?;
                let used: i64 = c
                    .query_opt(
                        "SELECT bytes FROM codelab_checkpoint_usage WHERE session_id = $1",
                        &[&session_id.uuid()],
                    )
                    .await?
                    .map_or(0, |r| r.get(0));
                let used = u64::try_from(used).unwrap_or(0);
                let sides = super::checkpoint_sides(existing.is_none(), &before, &after);
                let mut added = 0u64;
                let mut seen: Vec<&str> = Vec::new();
                for (hash, bytes) in &sides {
                    if !seen.contains(&hash.as_str()) {
                        let stored = c
                            .query_opt(
                                "SELECT 1 FROM codelab_checkpoint_blobs WHERE hash = $1",
                                &[hash],
                            )
                            .await?
                            .is_some();
                        if !stored {
                            added += bytes.len() as u64;
                        }
                    }
                    seen.push(hash);
                }
                if used + added > session_limit {
                    return Ok(CheckpointOutcome::SessionLimit {
                        used,
                        limit: session_limit,
                    });
                }
                let (record, unref) = super::checkpoint_record(
                    existing,
                    turn_id,
                    &path,
                    before.as_ref(),
                    after.as_ref(),
                );
                    for (hash, bytes) in sides {
                    c.execute(
                        "INSERT INTO codelab_checkpoint_blobs (hash, content, refs) VALUES ($1, $2, 1)
                         ON CONFLICT (hash) DO UPDATE SET refs = codelab_checkpoint_blobs.refs + 1",
                        &[hash, bytes],
                    )
                    .await?;
                }
                release(c, unref.as_slice()).await?;
                let bytes = to_bytes::<_, CheckpointRec>(&record)?;
                c.execute(
                    "INSERT INTO codelab_checkpoints (session_id, turn_id, path, record)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (session_id, turn_id, path) DO UPDATE SET record = EXCLUDED.record",
                    &[&session_id.uuid(), &turn_id.uuid(), &path, &bytes],
                )
                .await?;
                c.execute(
                    "INSERT INTO codelab_checkpoint_usage (session_id, bytes) VALUES ($1, $2)
                     ON CONFLICT (session_id) DO UPDATE SET bytes = EXCLUDED.bytes",
                    &[&session_id.uuid(), &big(used + added)?],
                )
                .await?;
                Ok(CheckpointOutcome::Recorded)
            })
        })
        .await
    }

    async fn checkpoints(&self, session_id: SessionId) -> Result<Vec<FileCheckpoint>, StoreError> {
        let c = self.reader().await?;
        let rows = c
            .query(
                "SELECT record FROM codelab_checkpoints WHERE session_id = $1
                 ORDER BY turn_id, path",
                &[&session_id.uuid()],
            )
            .await?;
        rows.iter()
            .map(|r| from_bytes::<CheckpointRec, _>(r.get::<_, &[u8]>(0)))
            .collect()
    }

    async fn checkpoint_content(&self, hash: String) -> Result<Option<Vec<u8>>, StoreError> {
        let c = self.reader().await?;
        Ok(c.query_opt(
            "SELECT content FROM codelab_checkpoint_blobs WHERE hash = $1",
            &[&hash],
        )
        .await?
        .map(|r| r.get::<_, Vec<u8>>(0)))
    }

    async fn idle_sessions(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SessionId>, StoreError> {
        let c = self.reader().await?;
        let rows = c
            .query(
                "SELECT id FROM codelab_sessions WHERE updated_at < $1 ORDER BY id LIMIT $2",
                &[&before, &i64::try_from(limit).unwrap_or(i64::MAX)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| SessionId::from(r.get::<_, Uuid>(0)))
            .collect())
    }

    async fn delete_sessions(&self, ids: Vec<SessionId>) -> Result<(), StoreError> {
        self.write(move |c| Box::pin(async move { purge_sessions(c, &ids).await.map(|_| ()) }))
            .await
    }

    async fn delete_audit_before(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let bound = Uuid::from_u128(super::time_bound(before));
        self.write(move |c| {
            Box::pin(async move {
                let n = c
                    .execute(
                        "DELETE FROM codelab_audit WHERE id IN (
                             SELECT id FROM codelab_audit WHERE id < $1 ORDER BY id LIMIT $2)",
                        &[&bound, &i64::try_from(limit).unwrap_or(i64::MAX)],
                    )
                    .await?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            })
        })
        .await
    }

    fn instance_id(&self) -> String {
        self.instance.to_string()
    }

    fn shared(&self) -> bool {
        true
    }

    async fn acquire_lease(
        &self,
        session: SessionId,
        ttl: Duration,
        turn: Option<TurnId>,
    ) -> Result<super::LeaseOutcome, StoreError> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let c = self.reader().await?;
        // The database's clock decides expiry: the instances' clocks may differ.
        let st = c
            .prepare_cached(
                "WITH prev AS (
                     SELECT id, lease_owner, lease_until, running_turn, last_owner
                     FROM codelab_sessions WHERE id = $1 FOR UPDATE
                 )
                 UPDATE codelab_sessions s SET
                     lease_gen = CASE WHEN s.lease_owner IS DISTINCT FROM $2
                                      THEN s.lease_gen + 1 ELSE s.lease_gen END,
                     lease_owner = $2,
                     last_owner = $2,
                     lease_until = clock_timestamp() + $3::bigint * interval '1 millisecond',
                     running_turn = $4
                 FROM prev
                 WHERE s.id = prev.id
                   AND (prev.lease_owner IS NULL OR prev.lease_owner = $2
                        OR prev.lease_until < clock_timestamp())
                 RETURNING s.lease_gen, prev.lease_owner, prev.lease_until < clock_timestamp(),
                           prev.running_turn, coalesce(prev.last_owner <> $2, false)",
            )
            .await?;
        let row = c
            .query_opt(
                &st,
                &[
                    &session.uuid(),
                    &&*self.instance,
                    &ttl_ms,
                    &turn.map(|t| t.uuid()),
                ],
            )
            .await?;
        if let Some(row) = row {
            let generation: i64 = row.get(0);
            let previous: Option<String> = row.get(1);
            let expired: Option<bool> = row.get(2);
            let running: Option<Uuid> = row.get(3);
            let handed_over: bool = row.get(4);
            self.held
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(session, generation);
            let took_over = previous.filter(|p| **p != *self.instance && expired == Some(true));
            return Ok(super::LeaseOutcome::Held {
                generation: u64::try_from(generation).unwrap_or(0),
                running_turn: if took_over.is_some() {
                    running.map(TurnId::from)
                } else {
                    None
                },
                took_over_from: took_over,
                handed_over,
            });
        }
        let row = c
            .query_opt(
                "SELECT lease_owner, lease_until FROM codelab_sessions WHERE id = $1",
                &[&session.uuid()],
            )
            .await?
            .ok_or(StoreError::SessionNotFound(session))?;
        Ok(super::LeaseOutcome::HeldElsewhere {
            owner: row.get::<_, Option<String>>(0).unwrap_or_default(),
            until: row
                .get::<_, Option<DateTime<Utc>>>(1)
                .unwrap_or_else(Utc::now),
        })
    }

    async fn renew_leases(&self, ttl: Duration) -> Result<Vec<SessionId>, StoreError> {
        let held: Vec<(SessionId, i64)> = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|(_, g)| **g != LOST)
            .map(|(s, g)| (*s, *g))
            .collect();
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = held.iter().map(|(s, _)| s.uuid()).collect();
        let gens: Vec<i64> = held.iter().map(|(_, g)| *g).collect();
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let c = self.reader().await?;
        let rows = c
            .query(
                "UPDATE codelab_sessions s
                 SET lease_until = clock_timestamp() + $3::bigint * interval '1 millisecond'
                 FROM unnest($1::uuid[], $2::bigint[]) AS h(id, gen)
                 WHERE s.id = h.id AND s.lease_gen = h.gen AND s.lease_owner = $4
                 RETURNING s.id",
                &[&ids, &gens, &ttl_ms, &&*self.instance],
            )
            .await?;
        let kept: std::collections::HashSet<Uuid> = rows.iter().map(|r| r.get(0)).collect();
        let lost: Vec<SessionId> = held
            .iter()
            .map(|(s, _)| *s)
            .filter(|s| !kept.contains(&s.uuid()))
            .collect();
        let mut map = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for s in &lost {
            map.insert(*s, LOST);
        }
        Ok(lost)
    }

    async fn release_lease(&self, session: SessionId) -> Result<(), StoreError> {
        let Some(generation) = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&session)
            .copied()
        else {
            return Ok(());
        };
        if generation != LOST {
            // Not while a turn runs under it (one that took it meanwhile:
            // it lets it go when it ends).
            let c = self.reader().await?;
            let n = c
                .execute(
                    "UPDATE codelab_sessions SET lease_owner = NULL, lease_until = NULL
                     WHERE id = $1 AND lease_owner = $2 AND lease_gen = $3
                       AND running_turn IS NULL",
                    &[&session.uuid(), &&*self.instance, &generation],
                )
                .await?;
            if n == 0 {
                let still = c
                    .query_opt(
                        "SELECT 1 FROM codelab_sessions
                         WHERE id = $1 AND lease_owner = $2 AND lease_gen = $3",
                        &[&session.uuid(), &&*self.instance, &generation],
                    )
                    .await?;
                if still.is_some() {
                    return Ok(());
                }
            }
        }
        // Forgotten unless taken again meanwhile (a new generation).
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.get(&session) == Some(&generation) {
            held.remove(&session);
        }
        Ok(())
    }

    async fn session_lease(
        &self,
        session: SessionId,
    ) -> Result<Option<(String, Option<TurnId>)>, StoreError> {
        let c = self.reader().await?;
        let row = c
            .query_opt(
                "SELECT lease_owner, running_turn FROM codelab_sessions
                 WHERE id = $1 AND lease_owner IS NOT NULL AND lease_until >= clock_timestamp()",
                &[&session.uuid()],
            )
            .await?;
        Ok(row.map(|r| {
            (
                r.get::<_, String>(0),
                r.get::<_, Option<Uuid>>(1).map(TurnId::from),
            )
        }))
    }

    async fn orphaned_turns(
        &self,
        limit: usize,
        grace: Duration,
    ) -> Result<Vec<SessionId>, StoreError> {
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let c = self.reader().await?;
        let rows = c
            .query(
                "SELECT s.id FROM codelab_sessions s
                 WHERE s.running_turn IS NOT NULL
                   AND s.lease_until < clock_timestamp() - $2::bigint * interval '1 millisecond'
                   AND NOT EXISTS (SELECT 1 FROM codelab_approvals a WHERE a.session_id = s.id)
                   AND NOT EXISTS (SELECT 1 FROM codelab_questions q WHERE q.session_id = s.id)
                   -- A parent waits for its subtask while the child's turn
                   -- runs or waits (the child is swept first).
                   AND NOT EXISTS (
                       SELECT 1 FROM codelab_sessions c WHERE c.parent_id = s.id
                         AND (c.running_turn IS NOT NULL
                              OR EXISTS (SELECT 1 FROM codelab_approvals a WHERE a.session_id = c.id)
                              OR EXISTS (SELECT 1 FROM codelab_questions q WHERE q.session_id = c.id)))
                 LIMIT $1",
                &[&i64::try_from(limit).unwrap_or(i64::MAX), &grace_ms],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| SessionId::from(r.get::<_, Uuid>(0)))
            .collect())
    }

    async fn finish_turn(&self, session: SessionId, turn: TurnId) -> Result<(), StoreError> {
        // A turn runs under its lease.
        let fence = self.holder_fence(session)?;
        self.write(move |c| {
            Box::pin(async move {
                fence_only(c, session, &fence).await?;
                c.execute(
                    "UPDATE codelab_sessions SET running_turn = NULL, cancel_turn = NULL
                     WHERE id = $1 AND running_turn = $2",
                    &[&session.uuid(), &turn.uuid()],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn request_cancel(&self, session: SessionId, turn: TurnId) -> Result<(), StoreError> {
        let c = self.reader().await?;
        c.execute(
            "UPDATE codelab_sessions SET cancel_turn = $2 WHERE id = $1 AND running_turn = $2",
            &[&session.uuid(), &turn.uuid()],
        )
        .await?;
        Ok(())
    }

    async fn cancel_requests(&self) -> Result<Vec<(SessionId, TurnId)>, StoreError> {
        let c = self.reader().await?;
        let rows = c
            .query(
                "SELECT id, cancel_turn FROM codelab_sessions
                 WHERE lease_owner = $1 AND cancel_turn IS NOT NULL AND cancel_turn = running_turn",
                &[&&*self.instance],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    SessionId::from(r.get::<_, Uuid>(0)),
                    TurnId::from(r.get::<_, Uuid>(1)),
                )
            })
            .collect())
    }

    async fn put_decision(&self, d: super::ForwardedDecision) -> Result<(), StoreError> {
        self.write(move |c| {
            Box::pin(async move {
                let n = c
                    .execute(
                        "INSERT INTO codelab_decisions (session_id, call_id, payload)
                         SELECT id, $2, $3 FROM codelab_sessions WHERE id = $1
                         ON CONFLICT (session_id, call_id) DO UPDATE SET payload = EXCLUDED.payload",
                        &[&d.session_id.uuid(), &d.call_id, &d.payload],
                    )
                    .await?;
                if n == 0 {
                    return Err(StoreError::SessionNotFound(d.session_id));
                }
                Ok(())
            })
        })
        .await
    }

    async fn decisions(
        &self,
        session: SessionId,
    ) -> Result<Vec<super::ForwardedDecision>, StoreError> {
        let c = self.reader().await?;
        let rows = c
            .query(
                "SELECT call_id, payload FROM codelab_decisions WHERE session_id = $1
                 ORDER BY at, call_id",
                &[&session.uuid()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| super::ForwardedDecision {
                session_id: session,
                call_id: r.get(0),
                payload: r.get(1),
            })
            .collect())
    }

    async fn drop_decisions(&self, session: SessionId) -> Result<(), StoreError> {
        // Only the lease holder's turn spends decisions.
        let fence = self.holder_fence(session)?;
        self.write(move |c| {
            Box::pin(async move {
                fence_only(c, session, &fence).await?;
                c.execute(
                    "DELETE FROM codelab_decisions WHERE session_id = $1",
                    &[&session.uuid()],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn try_singleton(&self, name: &str, ttl: Duration) -> Result<bool, StoreError> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let c = self.reader().await?;
        let n = c
            .execute(
                "INSERT INTO codelab_singletons (name, owner, until)
                 VALUES ($1, $2, clock_timestamp() + $3::bigint * interval '1 millisecond')
                 ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
                 WHERE codelab_singletons.owner = EXCLUDED.owner
                    OR codelab_singletons.until < clock_timestamp()",
                &[&name, &&*self.instance, &ttl_ms],
            )
            .await?;
        Ok(n == 1)
    }

    async fn broadcast(&self, messages: Vec<String>) -> Result<(), StoreError> {
        let mut chunks = Vec::new();
        for m in &messages {
            chunk(m, &mut chunks);
        }
        let c = self.reader().await?;
        // One statement: the notifications go out in the array's order.
        let st = c
            .prepare_cached("SELECT pg_notify('codelab', p) FROM unnest($1::text[]) AS p")
            .await?;
        c.query(&st, &[&chunks]).await?;
        Ok(())
    }

    fn listen(&self) -> Option<mpsc::Receiver<String>> {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(listen_loop(self.config.clone(), tx));
        Some(rx)
    }

    async fn audit_page(
        &self,
        query: AuditQuery,
        limit: usize,
    ) -> Result<Page<AuditRecord>, StoreError> {
        let mut upper = query.cursor.map_or(u128::MAX, |c| c.as_u128());
        if let Some(u) = query.until {
            upper = upper.min(super::time_bound(u));
        }
        let c = self.reader().await?;
        let st = c
            .prepare_cached(
                "SELECT record FROM codelab_audit
                 WHERE id < $1
                   AND ($2::timestamptz IS NULL OR at >= $2)
                   AND ($3::uuid IS NULL OR session_id = $3)
                   AND ($4::text IS NULL OR category = $4)
                   AND ($5::text IS NULL OR kind = $5)
                 ORDER BY id DESC LIMIT $6",
            )
            .await?;
        let rows = c
            .query(
                &st,
                &[
                    &Uuid::from_u128(upper),
                    &query.since,
                    &query.session_id.map(|s| s.uuid()),
                    &query.category,
                    &query.kind,
                    &limit_plus_one(limit),
                ],
            )
            .await?;
        let items = rows
            .iter()
            .map(|r| from_bytes::<AuditRec, _>(r.get::<_, &[u8]>(0)))
            .collect::<Result<Vec<AuditRecord>, _>>()?;
        Ok(page(items, limit))
    }
}

/// The most payload bytes of one notification (PostgreSQL's limit is 8000).
const NOTIFY_CHUNK: usize = 7000;

/// Splits a message into notifications: `id:index:count:` then a part of
/// the text (cut on a character boundary).
fn chunk(message: &str, out: &mut Vec<String>) {
    let id = Uuid::new_v4().simple().to_string();
    let mut parts = Vec::new();
    let mut rest = message;
    while !rest.is_empty() || parts.is_empty() {
        let mut cut = rest.len().min(NOTIFY_CHUNK);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        parts.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    let n = parts.len();
    for (i, p) in parts.into_iter().enumerate() {
        out.push(format!("{id}:{i}:{n}:{p}"));
    }
}

/// Puts split messages back together; notifications of one sender arrive
/// in order, so a message's parts are consecutive per sender.
#[derive(Default)]
struct Reassembly {
    partial: std::collections::HashMap<String, (usize, String)>,
}

impl Reassembly {
    fn push(&mut self, payload: &str) -> Option<String> {
        let mut it = payload.splitn(4, ':');
        let (id, i, n, body) = (it.next()?, it.next()?, it.next()?, it.next()?);
        let (i, n): (usize, usize) = (i.parse().ok()?, n.parse().ok()?);
        if n == 1 {
            return Some(body.to_owned());
        }
        let entry = self
            .partial
            .entry(id.to_owned())
            .or_insert_with(|| (0, String::new()));
        if entry.0 != i {
            // A part went missing (a reconnection): drop the message.
            self.partial.remove(id);
            return None;
        }
        entry.0 += 1;
        entry.1.push_str(body);
        if entry.0 == n {
            return self.partial.remove(id).map(|(_, s)| s);
        }
        None
    }
}

/// Listens for the instances' notifications on a connection of its own,
/// connecting again when it drops (what was sent meanwhile is lost: the
/// rows stay the truth), until `tx` is closed.
async fn listen_loop(config: tokio_postgres::Config, tx: mpsc::Sender<String>) {
    use futures::StreamExt as _;
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut conn)) => {
                let (ntx, mut nrx) = mpsc::unbounded_channel::<String>();
                let driver = tokio::spawn(async move {
                    let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
                    while let Some(m) = messages.next().await {
                        match m {
                            Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                                if ntx.send(n.payload().to_owned()).is_err() {
                                    break;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "the listening connection failed");
                                break;
                            }
                        }
                    }
                });
                match client.batch_execute("LISTEN codelab").await {
                    Ok(()) => {
                        tracing::info!("listening for the other instances");
                        let mut parts = Reassembly::default();
                        while let Some(payload) = nrx.recv().await {
                            if let Some(m) = parts.push(&payload)
                                && tx.send(m).await.is_err()
                            {
                                driver.abort();
                                return;
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot LISTEN"),
                }
                driver.abort();
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot connect to listen for the other instances")
            }
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_split_under_the_notify_limit_and_put_back() {
        let message: String = "é".repeat(9000) + "end";
        let mut chunks = Vec::new();
        chunk(&message, &mut chunks);
        chunk("short", &mut chunks);
        assert_eq!(chunks.len(), 4);
        assert!(chunks.iter().all(|c| c.len() < 8000));
        let mut r = Reassembly::default();
        let out: Vec<String> = chunks.iter().filter_map(|c| r.push(c)).collect();
        assert_eq!(out, [message, "short".to_owned()]);
    }
}
