//! Storage: the contract the runtime needs ([`Store`]) and its backends.
//!
//! Layer 4 (adapters) of the layering in `ARCHITECTURE.md`. The runtime sees
//! only the [`Store`] trait and the domain model; each backend keeps its own
//! versioned records ([`records`]), so the wire protocol can change without a
//! storage migration.
//!
//! The contract, which every backend passes (the shared suite in
//! `tests/support/store_contract.rs`):
//! - **Acknowledged means durable.** A write's future resolves only after
//!   the write is committed durably; a crash after that loses nothing.
//! - **All or nothing.** A write that fails leaves no partial change (an
//!   `append_messages` whose seqs do not follow writes none of them).
//! - **Resolution happens once.** `resolve_approval` and `take_question`
//!   return the pending item to exactly one caller; the others get `None`.
//! - **Order.** Sessions list newest first, history in seq order, audit
//!   entries newest first with stable cursors.

mod error;
mod legacy;
pub(crate) mod records;
mod redb;
pub mod schema;

use chrono::{DateTime, Utc};

pub use self::redb::RedbStore;
pub use error::StoreError;

use crate::domain::{
    ApprovalId, AuditRecord, CheckpointOutcome, EventId, FileCheckpoint, Message, PendingApproval,
    PendingQuestion, QuestionId, Session, SessionId, TurnId,
};

/// The SHA-256 of `bytes`, lower-case hex: how checkpoint contents are named.
pub fn content_hash(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The file name of the redb store inside the data directory.
pub const STORE_FILE: &str = "codelab.redb";

/// One page of a listing, and whether more follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Whether more follow.
    pub more: bool,
}

/// Which audit entries a page holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    /// Entries strictly older than this one (a cursor from a previous page).
    pub cursor: Option<EventId>,
    /// At or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only this session's.
    pub session_id: Option<SessionId>,
    /// Only this category.
    pub category: Option<String>,
    /// Only this type.
    pub kind: Option<String>,
}

impl AuditQuery {
    /// Whether an entry passes the session, category and type filters.
    pub fn matches(&self, r: &AuditRecord) -> bool {
        self.session_id.is_none_or(|s| r.session_id == Some(s))
            && self.category.as_ref().is_none_or(|c| &r.category == c)
            && self.kind.as_ref().is_none_or(|k| &r.kind == k)
    }
}

/// What the runtime needs from storage. Every backend passes the contract
/// suite; see the module documentation for the guarantees.
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which backend and where, for logs and health reports.
    fn describe(&self) -> String;

    /// Finishes the writes already accepted and releases the storage.
    async fn close(&self);

    /// Whether the store answers reads.
    async fn reachable(&self) -> bool;

    /// Persists a new session.
    async fn create_session(&self, session: Session) -> Result<Session, StoreError>;

    /// Changes a session's agent; returns the updated session.
    async fn set_session_agent(&self, id: SessionId, agent: String) -> Result<Session, StoreError>;

    /// Deletes a session with its history, pending approvals and questions;
    /// returns how many messages went with it.
    async fn delete_session(&self, id: SessionId) -> Result<u64, StoreError>;

    /// Appends messages (their seqs must be larger than the session's
    /// `last_seq`, increasing) and returns the updated session.
    async fn append_messages(
        &self,
        session_id: SessionId,
        messages: Vec<Message>,
    ) -> Result<Session, StoreError>;

    /// Appends audit entries.
    async fn append_audit(&self, records: Vec<AuditRecord>) -> Result<(), StoreError>;

    /// One session.
    async fn get_session(&self, id: SessionId) -> Result<Session, StoreError>;

    /// Sessions newest first, strictly before `before` (a session id).
    async fn list_sessions(
        &self,
        before: Option<SessionId>,
        limit: usize,
    ) -> Result<Page<Session>, StoreError>;

    /// A session's messages with `seq > after`, in order, at most `limit`.
    async fn history(
        &self,
        session_id: SessionId,
        after: u64,
        limit: usize,
    ) -> Result<Page<Message>, StoreError>;

    /// Persists a pending approval.
    async fn put_approval(&self, approval: PendingApproval) -> Result<(), StoreError>;

    /// Removes a pending approval and writes `audit` in the same commit;
    /// `None` when it was already resolved (nothing is written then).
    async fn resolve_approval(
        &self,
        id: ApprovalId,
        audit: Option<AuditRecord>,
    ) -> Result<Option<PendingApproval>, StoreError>;

    /// One pending approval.
    async fn get_approval(&self, id: ApprovalId) -> Result<Option<PendingApproval>, StoreError>;

    /// Pending approvals, oldest first, optionally of one session.
    async fn list_approvals(
        &self,
        session: Option<SessionId>,
    ) -> Result<Vec<PendingApproval>, StoreError>;

    /// Persists a pending question.
    async fn put_question(&self, question: PendingQuestion) -> Result<(), StoreError>;

    /// Removes a pending question; `None` when it was already answered.
    async fn take_question(&self, id: QuestionId) -> Result<Option<PendingQuestion>, StoreError>;

    /// Pending questions, optionally of one session.
    async fn list_questions(
        &self,
        session: Option<SessionId>,
    ) -> Result<Vec<PendingQuestion>, StoreError>;

    /// Records an agent edit of `path` in `turn`: the content before the
    /// turn's first edit of it (kept from the first call) and after its
    /// latest (`None`: no file). Contents are stored once per SHA-256
    /// (deduplicated across files, turns and sessions); new bytes count
    /// against the session's `session_limit`, and past it nothing is
    /// written ([`CheckpointOutcome::SessionLimit`]).
    async fn put_checkpoint(
        &self,
        session_id: SessionId,
        turn_id: TurnId,
        path: String,
        before: Option<Vec<u8>>,
        after: Option<Vec<u8>>,
        session_limit: u64,
    ) -> Result<CheckpointOutcome, StoreError>;

    /// A session's file checkpoints, by turn (oldest first), then path.
    async fn checkpoints(&self, session_id: SessionId) -> Result<Vec<FileCheckpoint>, StoreError>;

    /// Saved content by its hash.
    async fn checkpoint_content(&self, hash: String) -> Result<Option<Vec<u8>>, StoreError>;

    /// Ids of sessions last updated before `before`, at most `limit`.
    async fn idle_sessions(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SessionId>, StoreError>;

    /// Deletes sessions (with their history, approvals and questions) in one commit.
    async fn delete_sessions(&self, ids: Vec<SessionId>) -> Result<(), StoreError>;

    /// Deletes at most `limit` of the oldest audit entries written before `before`.
    async fn delete_audit_before(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, StoreError>;

    /// A page of audit entries, newest first.
    async fn audit_page(
        &self,
        query: AuditQuery,
        limit: usize,
    ) -> Result<Page<AuditRecord>, StoreError>;
}

/// Checks that `messages` may be appended to `session`: theirs, with seqs
/// increasing past its `last_seq`. Returns the new `last_seq`.
///
/// # Errors
/// [`StoreError::Invalid`] naming the first message that does not follow.
pub fn check_appended(session: &Session, messages: &[Message]) -> Result<u64, StoreError> {
    let mut last = session.last_seq;
    for m in messages {
        if m.session_id != session.id || m.seq <= last {
            return Err(StoreError::Invalid(format!(
                "message seq {} does not follow {last} in session {}",
                m.seq, session.id
            )));
        }
        last = m.seq;
    }
    Ok(last)
}

/// The smallest UUID v7 of the millisecond `t`: every id made at `t` or
/// later sorts after it.
pub fn time_bound(t: DateTime<Utc>) -> u128 {
    let ms = u128::try_from(t.timestamp_millis().max(0)).unwrap_or(0);
    ms << 80
}
