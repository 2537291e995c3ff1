//! Storage: the contract the runtime needs ([`Store`]) and its backends.
//!
//! Layer 4 (adapters) of the layering in `ARCHITECTURE.md`. The runtime sees
//! only the [`Store`] trait and the domain model; each backend keeps its own
//! versioned records ([`records`]), so the wire protocol can change without a
//! storage migration.
//!
//! The contract, which every backend passes (the shared suite in
//! `tests/contract/store.rs`, run on redb by `tests/store.rs` and on
//! PostgreSQL by `tests/store_postgres.rs`):
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
pub mod postgres;
pub(crate) mod records;
mod redb;
pub mod schema;

use chrono::{DateTime, Utc};

pub use self::postgres::PgStore;
pub use self::redb::RedbStore;
pub use error::StoreError;

use crate::domain::{
    ApprovalId, AuditRecord, CheckpointOutcome, EventId, FileCheckpoint, Message, ModelChoice,
    PendingApproval, PendingQuestion, QuestionId, Session, SessionId, TurnId,
};

/// A change to a session's title and chosen model: the fields it names
/// (`Some`) change, the others stay.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionChange {
    /// The new title.
    pub title: Option<String>,
    /// The new model choice (`Some(None)`: none, the configured model).
    pub model: Option<Option<ModelChoice>>,
}

impl SessionChange {
    /// Applies the change, and stamps `updated_at` with `now`.
    pub fn apply(self, session: &mut Session, now: DateTime<Utc>) {
        if let Some(title) = self.title {
            session.title = title;
        }
        if let Some(model) = self.model {
            session.model = model;
        }
        session.updated_at = now;
    }
}

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

/// The outcome of [`Store::acquire_lease`].
#[derive(Debug, Clone, PartialEq)]
pub enum LeaseOutcome {
    /// This instance holds the lease now.
    Held {
        /// The fencing generation: it grows each time the session changes
        /// hands, and every write of this instance checks it.
        generation: u64,
        /// The instance that held it before, when this was a takeover of an
        /// expired lease (its turn died with it).
        took_over_from: Option<String>,
        /// The turn that instance had marked as running, if any.
        running_turn: Option<TurnId>,
        /// Another instance held it last (the session's seqs must jump
        /// past whatever that one streamed).
        handed_over: bool,
    },
    /// Another instance holds it and has renewed it in time.
    HeldElsewhere {
        /// That instance.
        owner: String,
        /// When its lease expires unless renewed.
        until: DateTime<Utc>,
    },
}

/// A decision made on one instance for a turn waiting on another (or for a
/// turn whose instance died), kept in the shared store until the turn has
/// the call's result: the instance that runs the turn next, its owner or
/// whoever takes its lease over, acts on it. Acknowledged means durable
/// across instances.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardedDecision {
    /// The session whose turn waits.
    pub session_id: SessionId,
    /// The tool call the decision resolves (one decision per call).
    pub call_id: String,
    /// The runtime's encoding of the resolution (opaque to the store).
    pub payload: String,
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

    /// Changes a session's title and chosen model (what `change` names);
    /// returns the updated session.
    async fn update_session(
        &self,
        id: SessionId,
        change: SessionChange,
    ) -> Result<Session, StoreError>;

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

    // --- leases: several instances over one shared store ----------------
    //
    // A store one process owns (redb) has nothing to share: the defaults say
    // this process holds every lease.

    /// This instance's id (in leases, metrics and logs).
    fn instance_id(&self) -> String {
        "local".into()
    }

    /// Whether several instances may share this store.
    fn shared(&self) -> bool {
        false
    }

    /// Takes (or renews) the lease of a session for `ttl`, with `turn` as
    /// the turn running under it. Free, expired or already ours: taken;
    /// held by another instance in time: [`LeaseOutcome::HeldElsewhere`].
    async fn acquire_lease(
        &self,
        _session: SessionId,
        _ttl: std::time::Duration,
        _turn: Option<TurnId>,
    ) -> Result<LeaseOutcome, StoreError> {
        Ok(LeaseOutcome::Held {
            generation: 0,
            took_over_from: None,
            running_turn: None,
            handed_over: false,
        })
    }

    /// Extends every lease this instance holds by `ttl`; returns the
    /// sessions whose lease it has lost (taken over after expiring).
    async fn renew_leases(&self, _ttl: std::time::Duration) -> Result<Vec<SessionId>, StoreError> {
        Ok(Vec::new())
    }

    /// Lets a session's lease go (its turn ended): not while a turn is
    /// marked running under it ([`Store::finish_turn`] first).
    async fn release_lease(&self, _session: SessionId) -> Result<(), StoreError> {
        Ok(())
    }

    /// The live lease of a session: its owner and the turn it runs.
    async fn session_lease(
        &self,
        _session: SessionId,
    ) -> Result<Option<(String, Option<TurnId>)>, StoreError> {
        Ok(None)
    }

    /// Sessions whose lease expired more than `grace` ago while a turn ran
    /// under it, with no approval or question pending (those resume when
    /// answered) and no subtask of theirs running or waiting (its result
    /// resumes them): turns whose instance died. At most `limit`.
    async fn orphaned_turns(
        &self,
        _limit: usize,
        _grace: std::time::Duration,
    ) -> Result<Vec<SessionId>, StoreError> {
        Ok(Vec::new())
    }

    /// Marks `turn` as no longer running under this instance's lease (the
    /// turn ended here), before its end is announced: an instance taking an
    /// expired lease over then finds no turn to end, so a turn ends once.
    /// [`StoreError::Fenced`] when this instance no longer holds the lease
    /// (another instance took the session over and announces the end).
    async fn finish_turn(&self, _session: SessionId, _turn: TurnId) -> Result<(), StoreError> {
        Ok(())
    }

    /// Asks the instance running `turn` to cancel it, through the store (its
    /// heartbeat reads the request: a cancel outlives a lost notification);
    /// nothing when the turn no longer runs.
    async fn request_cancel(&self, _session: SessionId, _turn: TurnId) -> Result<(), StoreError> {
        Ok(())
    }

    /// The turns running under this instance's leases whose cancel was
    /// requested.
    async fn cancel_requests(&self) -> Result<Vec<(SessionId, TurnId)>, StoreError> {
        Ok(Vec::new())
    }

    /// Keeps a decision forwarded to the instance running the turn, committed
    /// before the deciding client is answered; replaces an earlier one for
    /// the same call. A store of one process forwards nothing.
    async fn put_decision(&self, decision: ForwardedDecision) -> Result<(), StoreError> {
        Err(StoreError::Invalid(format!(
            "a store of one process keeps no forwarded decisions (call {} of session {})",
            decision.call_id, decision.session_id
        )))
    }

    /// The forwarded decisions kept for a session, oldest first.
    async fn decisions(&self, _session: SessionId) -> Result<Vec<ForwardedDecision>, StoreError> {
        Ok(Vec::new())
    }

    /// Drops the forwarded decisions of a session (its turn ended: every call
    /// has a result); [`StoreError::Fenced`] unless this instance holds the
    /// session's lease.
    async fn drop_decisions(&self, _session: SessionId) -> Result<(), StoreError> {
        Ok(())
    }

    /// Takes or renews the named singleton for `ttl` (housekeeping runs on
    /// one instance at a time); false while another instance holds it.
    async fn try_singleton(
        &self,
        _name: &str,
        _ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// Sends a message to the other instances sharing the store, in the
    /// order of the calls (nothing for a store of one process).
    async fn broadcast(&self, _messages: Vec<String>) -> Result<(), StoreError> {
        Ok(())
    }

    /// The messages the instances broadcast (this one's included), in the
    /// order each sent them; `None` for a store of one process. Called
    /// once.
    fn listen(&self) -> Option<tokio::sync::mpsc::Receiver<String>> {
        None
    }
}

/// A content with its hash, as a checkpoint stores it.
pub(crate) type HashedContent = (String, Vec<u8>);

/// The contents a checkpoint write stores: the before-content only on a
/// turn's first edit of the file (later edits keep it), and the after.
pub(crate) fn checkpoint_sides<'a>(
    first_edit: bool,
    before: &'a Option<HashedContent>,
    after: &'a Option<HashedContent>,
) -> Vec<&'a HashedContent> {
    let mut sides = Vec::new();
    if first_edit {
        sides.extend(before.as_ref());
    }
    sides.extend(after.as_ref());
    sides
}

/// The record a checkpoint write leaves, and the content it stops
/// referencing (the previous after-content of the same turn and file).
pub(crate) fn checkpoint_record(
    existing: Option<FileCheckpoint>,
    turn_id: TurnId,
    path: &str,
    before: Option<&HashedContent>,
    after: Option<&HashedContent>,
) -> (FileCheckpoint, Option<String>) {
    let content_ref = |(hash, bytes): &HashedContent| crate::domain::ContentRef {
        hash: hash.clone(),
        len: bytes.len() as u64,
    };
    match existing {
        Some(mut c) => {
            let unref = c.after.take().map(|r| r.hash);
            c.after = after.map(content_ref);
            (c, unref)
        }
        None => (
            FileCheckpoint {
                turn_id,
                path: path.to_owned(),
                before: before.map(content_ref),
                after: after.map(content_ref),
            },
            None,
        ),
    }
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
