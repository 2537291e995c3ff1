//! The session hub: per-session state shared by turns and connections.
//!
//! - `seq`: every event about a session gets the next number, allocated under
//!   the hub's lock and queued to every watcher in that order. A number
//!   reserved ahead of its event ([`SessionHub::reserve`], for a message
//!   that is stored before it is announced) holds back every later event
//!   until it is emitted or dropped, so each connection receives a session's
//!   events strictly in seq order. After a
//!   restart a session's counter resumes [`RESTART_GAP`] above its last
//!   persisted seq, so a number a client saw for a streamed (unpersisted)
//!   event is never reused.
//! - the running turn of each session (one at a time) and its cancel token;
//! - the watchers (attached connections) and their bounded queues: a
//!   connection whose queue is full is detached, and catches up by attaching
//!   again with the last seq it saw;
//! - the waiters for answers and approval decisions.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::domain::{
    ApprovalId, ApprovalScope, Decision, QuestionId, Session, SessionEvent, SessionId,
    SessionUpdate, TurnId,
};

/// How far a session's seq jumps when it is first loaded by a new process.
pub const RESTART_GAP: u64 = 1 << 20;

/// What a waiter waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitKey {
    /// A decision on an approval.
    Approval(ApprovalId),
    /// An answer to a question.
    Question(QuestionId),
    /// The result of a subtask (its session).
    Subtask(SessionId),
}

/// How a wait for the user ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// A question's answer.
    Answer(String),
    /// An approval decision.
    Decided {
        /// approve, edit or reject.
        decision: Decision,
        /// Edited parameters.
        params: Option<Value>,
        /// Feedback for the model.
        feedback: Option<String>,
        /// Scope of an approval.
        scope: Option<ApprovalScope>,
    },
}

/// A connection's queue of session events: a bounded channel, and behind it
/// an overflow bounded in bytes, so a client that reads slowly catches up and
/// one that stopped reading is disconnected once the overflow is full. Events
/// leave in the order they were queued.
pub struct EventQueue {
    tx: mpsc::Sender<Arc<SessionEvent>>,
    overflow: Mutex<(VecDeque<Arc<SessionEvent>>, usize)>,
    more: tokio::sync::Notify,
    kick: CancellationToken,
    limit_bytes: usize,
}

/// Roughly how many bytes an event takes on the wire.
fn weight(e: &SessionEvent) -> usize {
    e.update.weight()
}

impl EventQueue {
    /// A queue of `capacity` events plus `limit_bytes` of overflow; `kick` is
    /// cancelled when the overflow is full.
    pub fn new(
        capacity: usize,
        limit_bytes: usize,
        kick: CancellationToken,
    ) -> (Arc<Self>, mpsc::Receiver<Arc<SessionEvent>>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let q = Self {
            tx,
            overflow: Mutex::new((VecDeque::new(), 0)),
            more: tokio::sync::Notify::new(),
            kick,
            limit_bytes,
        };
        (Arc::new(q), rx)
    }

    /// Queues an event without waiting; false when the connection is gone or
    /// has been disconnected for not reading.
    fn push(&self, event: Arc<SessionEvent>) -> bool {
        if self.kick.is_cancelled() {
            return false;
        }
        let mut of = self
            .overflow
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let event = if of.0.is_empty() {
            match self.tx.try_send(event) {
                Ok(()) => return true,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
                Err(mpsc::error::TrySendError::Full(e)) => e,
            }
        } else {
            event
        };
        of.1 += weight(&event);
        of.0.push_back(event);
        if of.1 > self.limit_bytes {
            of.0.clear();
            of.1 = 0;
            self.kick.cancel();
            return false;
        }
        drop(of);
        self.more.notify_one();
        true
    }

    /// The next event for the connection, in order.
    pub async fn next(
        &self,
        rx: &mut mpsc::Receiver<Arc<SessionEvent>>,
    ) -> Option<Arc<SessionEvent>> {
        loop {
            if let Ok(e) = rx.try_recv() {
                return Some(e);
            }
            {
                let mut of = self
                    .overflow
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(e) = of.0.pop_front() {
                    of.1 = of.1.saturating_sub(weight(&e));
                    return Some(e);
                }
            }
            tokio::select! {
                e = rx.recv() => return e,
                () = self.more.notified() => {}
            }
        }
    }
}

/// A seq reserved for an event announced later. Dropping it without
/// [`Reservation::emit`] gives the number up (no event carries it) and lets
/// the events held behind it go.
#[must_use = "a reservation holds back the session's later events until it is emitted or dropped"]
pub struct Reservation<'a> {
    hub: &'a SessionHub,
    session: Session,
    seq: u64,
    done: bool,
}

impl Reservation<'_> {
    /// The reserved seq.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Queues the event with the reserved seq to every watcher.
    pub fn emit(mut self, update: SessionUpdate) {
        self.done = true;
        self.hub.release(&self.session, self.seq, Some(update));
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.hub.release(&self.session, self.seq, None);
        }
    }
}

struct Watcher {
    conn: u64,
    queue: Arc<EventQueue>,
}

#[derive(Default)]
struct SessionState {
    seq: u64,
    loaded: bool,
    running: Option<(TurnId, CancellationToken)>,
    watchers: Vec<Watcher>,
    /// Seqs reserved and not yet emitted or released.
    reserved: BTreeSet<u64>,
    /// Events held back behind a reserved seq, by seq.
    held: BTreeMap<u64, Arc<SessionEvent>>,
    /// The cost of the model requests this process made for the session.
    cost_usd: f64,
    /// The highest seq of another instance's event delivered here.
    remote_seq: u64,
    /// This instance lost the session's lease: its events stay local.
    fenced: bool,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<SessionId, SessionState>,
    waiters: HashMap<WaitKey, (SessionId, oneshot::Sender<Resolution>)>,
    /// With a shared store: where this instance's events go to be fanned
    /// out to the others, in seq order.
    outbox: Option<mpsc::UnboundedSender<Arc<SessionEvent>>>,
    /// Decisions forwarded to another instance, waiting for its receipt.
    acks: HashMap<WaitKey, oneshot::Sender<()>>,
}

/// The hub. One per process.
#[derive(Default)]
pub struct SessionHub {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for SessionHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionHub")
    }
}

impl SessionHub {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn state<'a>(inner: &'a mut Inner, session: &Session) -> &'a mut SessionState {
        let st = inner.sessions.entry(session.id).or_default();
        if !st.loaded {
            st.loaded = true;
            let fresh = session.last_seq == 0 && session.message_count == 0;
            st.seq = st.seq.max(if fresh {
                0
            } else {
                session.last_seq + RESTART_GAP
            });
        }
        st
    }

    /// Adds a request's cost to a session's and returns the session's total
    /// (of the requests this process made).
    pub fn add_cost(&self, session: &Session, cost: f64) -> f64 {
        let mut inner = self.lock();
        let st = Self::state(&mut inner, session);
        st.cost_usd += cost;
        st.cost_usd
    }

    /// Reserves the next seq of a session for an event announced later (a
    /// persisted message, emitted once stored). Until the reservation is
    /// emitted or dropped, later events of the session are held back, so
    /// they never reach a client before it.
    pub fn reserve(&self, session: &Session) -> Reservation<'_> {
        let mut inner = self.lock();
        let st = Self::state(&mut inner, session);
        st.seq += 1;
        let seq = st.seq;
        st.reserved.insert(seq);
        Reservation {
            hub: self,
            session: session.clone(),
            seq,
            done: false,
        }
    }

    /// Ends a reservation: queues its event (if any), then every held event
    /// no reservation stands before.
    fn release(&self, session: &Session, seq: u64, update: Option<SessionUpdate>) {
        let mut inner = self.lock();
        let outbox = inner.outbox.clone();
        let st = Self::state(&mut inner, session);
        st.reserved.remove(&seq);
        if let Some(update) = update {
            st.held.insert(
                seq,
                Arc::new(SessionEvent {
                    session_id: session.id,
                    seq,
                    update,
                }),
            );
        }
        let first_reserved = st.reserved.first().copied().unwrap_or(u64::MAX);
        while let Some(entry) = st.held.first_entry() {
            if *entry.key() > first_reserved {
                break;
            }
            let event = entry.remove();
            Self::deliver_now(outbox.as_ref(), st, session.id, event);
        }
    }

    /// Allocates a seq, builds the update with it and queues the event to
    /// every watcher.
    pub fn emit(&self, session: &Session, build: impl FnOnce(u64) -> SessionUpdate) -> u64 {
        let mut inner = self.lock();
        let outbox = inner.outbox.clone();
        let st = Self::state(&mut inner, session);
        st.seq += 1;
        let seq = st.seq;
        let event = Arc::new(SessionEvent {
            session_id: session.id,
            seq,
            update: build(seq),
        });
        Self::deliver(outbox.as_ref(), st, session.id, event);
        seq
    }

    /// Like [`Self::emit`], for a session this process has already loaded
    /// (during its turn); `None` otherwise.
    pub fn emit_loaded(
        &self,
        session_id: SessionId,
        build: impl FnOnce(u64) -> SessionUpdate,
    ) -> Option<u64> {
        let mut inner = self.lock();
        let outbox = inner.outbox.clone();
        let st = inner.sessions.get_mut(&session_id).filter(|s| s.loaded)?;
        st.seq += 1;
        let seq = st.seq;
        let event = Arc::new(SessionEvent {
            session_id,
            seq,
            update: build(seq),
        });
        Self::deliver(outbox.as_ref(), st, session_id, event);
        Some(seq)
    }

    /// Sends this instance's events to `outbox` from now on (a shared store).
    pub fn set_outbox(&self, outbox: mpsc::UnboundedSender<Arc<SessionEvent>>) {
        self.lock().outbox = Some(outbox);
    }

    /// Delivers another instance's event to the connections attached here:
    /// once, and only past the last seq delivered for the session. This
    /// instance's own counter moves past it, so that seqs keep increasing
    /// when the session's turns move here.
    pub fn deliver_remote(&self, event: Arc<SessionEvent>) {
        let mut inner = self.lock();
        let st = inner.sessions.entry(event.session_id).or_default();
        if event.seq <= st.remote_seq {
            return;
        }
        st.remote_seq = event.seq;
        st.seq = st.seq.max(event.seq);
        Self::deliver(None, st, event.session_id, event);
    }

    /// The highest seq of another instance's event delivered here for a
    /// session (0: none yet).
    pub fn remote_seq(&self, session_id: SessionId) -> u64 {
        self.lock()
            .sessions
            .get(&session_id)
            .map_or(0, |st| st.remote_seq)
    }

    /// Another instance's event `seq` of a session no connection here
    /// watches: not delivered, but counted as [`Self::deliver_remote`] does.
    /// False (nothing done) when a connection watches the session.
    pub fn pass_remote(&self, session_id: SessionId, seq: u64) -> bool {
        let mut inner = self.lock();
        let st = inner.sessions.entry(session_id).or_default();
        if !st.watchers.is_empty() {
            return false;
        }
        st.remote_seq = st.remote_seq.max(seq);
        st.seq = st.seq.max(seq);
        true
    }

    /// After a takeover: seqs continue past everything the previous owner
    /// may have streamed (its persisted last seq plus [`RESTART_GAP`]).
    pub fn resync(&self, session: &Session) {
        let mut inner = self.lock();
        let st = Self::state(&mut inner, session);
        st.seq = st.seq.max(session.last_seq + RESTART_GAP);
    }

    /// This instance lost the session's lease: its events no longer fan out.
    pub fn fence(&self, session_id: SessionId) {
        self.lock().sessions.entry(session_id).or_default().fenced = true;
    }

    /// This instance holds the session's lease (again).
    pub fn unfence(&self, session_id: SessionId) {
        if let Some(st) = self.lock().sessions.get_mut(&session_id) {
            st.fenced = false;
        }
    }

    /// Queues an event of this instance to the outbox (under the lock, so
    /// in seq order) unless the session's lease was lost.
    fn fan_out(
        outbox: Option<&mpsc::UnboundedSender<Arc<SessionEvent>>>,
        st: &SessionState,
        event: &Arc<SessionEvent>,
    ) {
        if let Some(tx) = outbox
            && !st.fenced
        {
            let _ = tx.send(Arc::clone(event));
        }
    }

    /// Queues a new event to every watcher (and, for this instance's own
    /// events, to the outbox), or holds it back behind a reserved seq: the
    /// watchers and the outbox both get a session's events in seq order.
    fn deliver(
        outbox: Option<&mpsc::UnboundedSender<Arc<SessionEvent>>>,
        st: &mut SessionState,
        session_id: SessionId,
        event: Arc<SessionEvent>,
    ) {
        if st.reserved.first().is_some_and(|r| *r < event.seq) {
            st.held.insert(event.seq, event);
            return;
        }
        Self::deliver_now(outbox, st, session_id, event);
    }

    fn deliver_now(
        outbox: Option<&mpsc::UnboundedSender<Arc<SessionEvent>>>,
        st: &mut SessionState,
        session_id: SessionId,
        event: Arc<SessionEvent>,
    ) {
        Self::fan_out(outbox, st, &event);
        st.watchers.retain(|w| {
            let kept = w.queue.push(Arc::clone(&event));
            if !kept && w.queue.kick.is_cancelled() {
                tracing::warn!(%session_id, conn = w.conn, "a client is not reading its events; disconnecting it (it can attach again)");
            }
            kept
        });
    }

    /// Attaches a connection to a session's events (idempotent).
    /// `kick` is cancelled if the connection stops reading: it is then
    /// disconnected, and catches up by attaching again.
    pub fn attach(&self, session: &Session, conn: u64, queue: Arc<EventQueue>) {
        let mut inner = self.lock();
        let st = Self::state(&mut inner, session);
        if !st.watchers.iter().any(|w| w.conn == conn) {
            st.watchers.push(Watcher { conn, queue });
        }
    }

    /// Detaches a connection from one session.
    pub fn detach(&self, session_id: SessionId, conn: u64) {
        if let Some(st) = self.lock().sessions.get_mut(&session_id) {
            st.watchers.retain(|w| w.conn != conn);
        }
    }

    /// The connections attached to a session, in the order they attached.
    pub fn watchers(&self, session_id: SessionId) -> Vec<u64> {
        self.lock()
            .sessions
            .get(&session_id)
            .map(|st| st.watchers.iter().map(|w| w.conn).collect())
            .unwrap_or_default()
    }

    /// Detaches a connection from every session.
    pub fn detach_all(&self, conn: u64) {
        for st in self.lock().sessions.values_mut() {
            st.watchers.retain(|w| w.conn != conn);
        }
    }

    /// How many turns are running.
    pub fn running_count(&self) -> usize {
        self.lock()
            .sessions
            .values()
            .filter(|s| s.running.is_some())
            .count()
    }

    /// Marks a turn as running; `Err` names the turn already running.
    pub fn begin_turn(
        &self,
        session: &Session,
        turn_id: TurnId,
        cancel: CancellationToken,
    ) -> Result<(), TurnId> {
        let mut inner = self.lock();
        let st = Self::state(&mut inner, session);
        match &st.running {
            Some((running, _)) => Err(*running),
            None => {
                st.running = Some((turn_id, cancel));
                Ok(())
            }
        }
    }

    /// Marks a turn as ended.
    pub fn end_turn(&self, session_id: SessionId, turn_id: TurnId) {
        if let Some(st) = self.lock().sessions.get_mut(&session_id)
            && st.running.as_ref().is_some_and(|(t, _)| *t == turn_id)
        {
            st.running = None;
        }
    }

    /// The running turn of a session.
    pub fn running(&self, session_id: SessionId) -> Option<TurnId> {
        self.lock()
            .sessions
            .get(&session_id)
            .and_then(|s| s.running.as_ref().map(|(t, _)| *t))
    }

    /// Cancels the running turn of a session; returns its id.
    pub fn cancel(&self, session_id: SessionId) -> Option<TurnId> {
        let inner = self.lock();
        let (turn, token) = inner.sessions.get(&session_id)?.running.as_ref()?;
        token.cancel();
        Some(*turn)
    }

    /// Registers a waiter for an answer or decision about `id` in `session_id`.
    pub fn wait_for(&self, session_id: SessionId, id: WaitKey) -> oneshot::Receiver<Resolution> {
        let (tx, rx) = oneshot::channel();
        self.lock().waiters.insert(id, (session_id, tx));
        rx
    }

    /// Waits for another instance's receipt of a decision forwarded to it.
    pub fn expect_ack(&self, id: WaitKey) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.lock().acks.insert(id, tx);
        rx
    }

    /// Another instance took a forwarded decision.
    pub fn ack(&self, id: WaitKey) {
        if let Some(tx) = self.lock().acks.remove(&id) {
            let _ = tx.send(());
        }
    }

    /// Stops waiting for a receipt.
    pub fn forget_ack(&self, id: WaitKey) {
        self.lock().acks.remove(&id);
    }

    /// Whether a waiter of this process waits for `id`.
    pub fn waits(&self, id: WaitKey) -> bool {
        self.lock().waiters.contains_key(&id)
    }

    /// Removes a waiter without resolving it.
    pub fn forget(&self, id: WaitKey) {
        self.lock().waiters.remove(&id);
    }

    /// Resolves a waiter; false when nobody waits for `id` (in this process).
    pub fn resolve(&self, id: WaitKey, resolution: Resolution) -> bool {
        match self.lock().waiters.remove(&id) {
            Some((_, tx)) => tx.send(resolution).is_ok(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::TurnId;

    fn session() -> Session {
        Session {
            id: SessionId::new(),
            title: String::new(),
            workspace_folder: None,
            agent: "ask".to_owned(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            message_count: 0,
            last_seq: 0,
            parent: None,
            model: None,
        }
    }

    fn token(delta: &str) -> SessionUpdate {
        SessionUpdate::Token {
            turn_id: TurnId::new(),
            delta: delta.to_owned(),
        }
    }

    fn drain(rx: &mut mpsc::Receiver<Arc<SessionEvent>>) -> Vec<u64> {
        let mut seqs = Vec::new();
        while let Ok(e) = rx.try_recv() {
            seqs.push(e.seq);
        }
        seqs
    }

    /// A message's seq is reserved before it is stored and emitted after;
    /// an event emitted meanwhile (a command's output, another
    /// connection's decision) must not reach the client before it.
    #[test]
    fn events_behind_a_reserved_seq_wait_for_it() {
        let hub = SessionHub::default();
        let s = session();
        let (queue, mut rx) = EventQueue::new(16, 1 << 20, CancellationToken::new());
        hub.attach(&s, 1, queue);
        hub.emit(&s, |_| token("a"));
        let first = hub.reserve(&s);
        let second = hub.reserve(&s);
        hub.emit(&s, |_| token("b"));
        assert_eq!(drain(&mut rx), [1], "held behind the reservations");
        second.emit(token("message 2"));
        assert_eq!(drain(&mut rx), Vec::<u64>::new(), "still behind seq 2");
        assert_eq!(first.seq(), 2);
        first.emit(token("message 1"));
        assert_eq!(drain(&mut rx), [2, 3, 4]);
        // A dropped reservation lets the events behind it go.
        let dropped = hub.reserve(&s);
        hub.emit(&s, |_| token("c"));
        assert_eq!(drain(&mut rx), Vec::<u64>::new());
        drop(dropped);
        assert_eq!(drain(&mut rx), [6]);
        hub.emit(&s, |_| token("d"));
        assert_eq!(drain(&mut rx), [7]);
    }
}
