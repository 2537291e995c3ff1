//! Several instances over one shared store (PostgreSQL): leases, the
//! fan-out of session events, forwarded decisions, failover.
//!
//! A store of one process (redb) is not shared: nothing here runs, and
//! every lease is this process's.
//!
//! Invariants:
//! - **A session's turn runs on one instance at a time**, the one holding
//!   its lease (taken when a turn starts or resumes, renewed by the
//!   heartbeat every third of [`lease_ttl`], let go when the turn ends).
//!   Every write of a lease holder checks the fencing generation in the
//!   store: an instance that lost the lease cannot write afterwards.
//! - **Events fan out** through the store's broadcast (PostgreSQL `NOTIFY`),
//!   sent by one task in the order the hub allocated their seqs; a receiver
//!   delivers another instance's event to its own attached clients only if
//!   its seq is past the last it delivered for that session (no duplicate,
//!   no step back). A persisted event (a message, committed before it is
//!   announced) travels as its session and seq, and the receivers read the
//!   row, with the rows they missed since the last event they delivered (a
//!   gap of at most [`GAP_READ`]); the others (token deltas, tool call
//!   progress, ...) travel whole, split under PostgreSQL's payload limit.
//!   Persisted messages stay the truth for replay.
//! - **Decisions go to the owner, through the store.** A decision, answer
//!   or subtask result for a turn no turn of this instance waits for is
//!   first kept in the store (committed before the client is answered),
//!   then the owner is told; when the lease has expired (the owner died),
//!   the deciding instance, or the sweeper of any instance, takes the lease
//!   over and resumes the turn, under its own id, from the history and the
//!   kept decisions, as restart recovery does. A decision acts once: a
//!   kept decision whose call has a result is spent (dropped when the turn
//!   ends), and only the lease holder writes results.
//! - **No turn stays running forever, and a turn ends once.** A turn's end
//!   is written to the store (fenced) before it is announced; an expired
//!   lease over a turn still running in the store with nothing pending is
//!   taken over by the next instance whose sweeper finds it (the takeover
//!   claims the turn atomically): the open calls get results and the turn
//!   ends with an error stop reason. An instance that lost the lease does
//!   not announce the end of its turn.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::hub::{Resolution, WaitKey};
use super::{Runtime, RuntimeError, turn};
use crate::domain::events::ContextUsage;
use crate::domain::{
    ApprovalScope, Compaction, Decision, FileStat, Message, ModelChoice, PendingApproval,
    PendingQuestion, Session, SessionEvent, SessionId, SessionUpdate, StopReason, TokenUsage,
    ToolCall, ToolCallStatus, ToolKind, TurnId,
};
use crate::store::records::{ApprovalRec, MessageRec, QuestionRec};
use crate::store::{ForwardedDecision, LeaseOutcome, StoreError};

/// How long a lease lasts without renewal, unless `CODELAB_LEASE_MS` says
/// otherwise (tests use a short one).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// The lease time of this process.
pub fn lease_ttl() -> Duration {
    crate::config::env_var("CODELAB_LEASE_MS")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ms| *ms >= 100)
        .map_or(DEFAULT_LEASE, Duration::from_millis)
}

/// Who runs a session's turns now.
#[derive(Debug)]
pub(crate) enum Taken {
    /// This instance holds the lease; `orphan` is the turn of a dead
    /// instance it took the session from, if one was running.
    Here { orphan: Option<(TurnId, String)> },
    /// Another instance runs a turn.
    Elsewhere { owner: String },
}

/// Takes the lease of a session for a turn of this instance.
pub(crate) async fn take_lease(
    rt: &Runtime,
    session: SessionId,
    turn: Option<TurnId>,
) -> Result<Taken, RuntimeError> {
    if !rt.store.shared() {
        return Ok(Taken::Here { orphan: None });
    }
    match rt.store.acquire_lease(session, lease_ttl(), turn).await? {
        LeaseOutcome::Held {
            took_over_from,
            running_turn,
            handed_over,
            ..
        } => {
            rt.hub.unfence(session);
            if handed_over {
                // Continue the seqs above whatever the last owner streamed
                // (this instance may have missed some of it).
                let s = rt.store.get_session(session).await?;
                rt.hub.resync(&s);
            }
            if let Some(from) = &took_over_from {
                tracing::info!(%session, from = %from, "took the session over from an expired lease");
            }
            Ok(Taken::Here {
                orphan: running_turn.zip(took_over_from),
            })
        }
        LeaseOutcome::HeldElsewhere { owner, .. } => Ok(Taken::Elsewhere { owner }),
    }
}

/// How long a new turn waits for a lease whose turn has just ended (its
/// instance announces `turnCompleted`, then lets the lease go).
const RELEASE_WAIT: Duration = Duration::from_secs(1);

/// [`take_lease`] for a new turn: a lease held elsewhere is waited for
/// briefly, so that a client that saw `turnCompleted` and sends at once
/// through another instance is not refused.
pub(crate) async fn take_lease_for_turn(
    rt: &Runtime,
    session: SessionId,
    turn: TurnId,
) -> Result<Taken, RuntimeError> {
    let deadline = tokio::time::Instant::now() + RELEASE_WAIT;
    loop {
        match take_lease(rt, session, Some(turn)).await? {
            Taken::Elsewhere { .. } if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            taken => return Ok(taken),
        }
    }
}

/// Ends the turn of a dead instance: its open calls get a result and the
/// clients get `turnCompleted` with an error stop reason.
pub(crate) async fn end_orphan(
    rt: &Arc<Runtime>,
    session: SessionId,
    (turn_id, owner): (TurnId, String),
) -> Result<(), RuntimeError> {
    let reason = format!("not run: the instance {owner} running the turn stopped");
    turn::close_open_calls(rt, session, turn_id, &reason).await?;
    // Ended in the store before it is announced (once).
    rt.store.finish_turn(session, turn_id).await?;
    let s = rt.store.get_session(session).await?;
    rt.hub.emit(&s, |_| SessionUpdate::TurnCompleted {
        turn_id,
        stop_reason: StopReason::Error,
        usage: TokenUsage::default(),
        cost_usd: 0.0,
        result: None,
        error: Some(format!(
            "the instance {owner} running this turn stopped (its lease expired)"
        )),
    });
    tracing::warn!(%session, turn = %turn_id, %owner, "ended the turn of an instance that stopped");
    if s.parent.is_some() {
        // A subtask: its parent learns that it ended without a result.
        let outcome = super::TurnOutcome {
            stop: StopReason::Error,
            result: None,
            error: Some(format!("the instance {owner} running it stopped")),
        };
        keep_subtask_result(rt, &s, &outcome).await;
        let rt = Arc::clone(rt);
        tokio::spawn(async move { turn::deliver_subtask(&rt, &s, &outcome).await });
    }
    Ok(())
}

/// Lets the lease of a session go after `turn`, marked running under it,
/// did not run after all.
pub(crate) async fn release_turn(rt: &Runtime, session: SessionId, turn: TurnId) {
    if rt.store.shared()
        && let Err(e) = rt.store.finish_turn(session, turn).await
    {
        tracing::debug!(%session, "cannot mark the turn as not running: {e}");
    }
    release(rt, session).await;
}

/// Lets the lease of a session go after its turn.
pub(crate) async fn release(rt: &Runtime, session: SessionId) {
    // A turn started here since (the lease is the same) keeps it.
    if rt.store.shared()
        && rt.hub.running(session).is_none()
        && let Err(e) = rt.store.release_lease(session).await
    {
        tracing::warn!(%session, "cannot release the lease (it expires on its own): {e}");
    }
}

/// Marks a turn that ended here as ended in the store once the database
/// answers again, then lets the lease go; until then the heartbeat keeps
/// the lease, so no other instance takes the turn for a dead one and
/// announces its end a second time.
pub(crate) fn finish_later(rt: &Arc<Runtime>, session: SessionId, turn: TurnId) {
    let rt = Arc::clone(rt);
    tokio::spawn(async move {
        let ttl = lease_ttl();
        for _ in 0..40 {
            tokio::time::sleep(ttl / 4).await;
            match rt.store.finish_turn(session, turn).await {
                Ok(()) => {
                    release(&rt, session).await;
                    return;
                }
                Err(StoreError::Fenced { .. }) => return,
                Err(e) => tracing::debug!(%session, "cannot mark the turn as ended yet: {e}"),
            }
        }
        tracing::warn!(%session, %turn, "gave up marking the turn as ended in the store");
    });
}

/// Resumes a session whose waiting call was resolved here while no turn of
/// this process waits for it: forwarded to the instance whose turn waits,
/// else resumed here (after a restart, or taking over a dead instance's
/// lease).
///
/// Over a shared store the decision is first kept in the store (committed
/// before the deciding client is answered): whichever instance runs the
/// turn next acts on it, so a decision is not lost when the instance it was
/// forwarded to dies before acting, nor when the deciding one dies.
pub(crate) async fn resume_or_forward(
    rt: &Arc<Runtime>,
    session: &Session,
    key: WaitKey,
    call_id: String,
    resolution: Resolution,
    announce: Option<SessionUpdate>,
) -> Result<(), RuntimeError> {
    if !rt.store.shared() {
        if let Some(a) = announce {
            rt.hub.emit(session, |_| a);
        }
        let presets = HashMap::from([(call_id, resolution)]);
        turn::resume(rt, session, presets)?;
        return Ok(());
    }
    keep_decision(rt, session.id, key, call_id, &resolution, announce.as_ref()).await?;
    match take_for_resume(rt, session.id).await? {
        Ok(turn_id) => {
            resume_kept_or_release(rt, session, turn_id).await?;
            Ok(())
        }
        Err(owner) => {
            tracing::debug!(session = %session.id, %owner, "forwarding a decision to the instance running the turn");
            let receipt = rt.hub.expect_ack(key);
            send(
                rt,
                vec![Wire::Resolve {
                    from: rt.store.instance_id(),
                    session: session.id.uuid(),
                    key: KeyRec::from(key),
                    resolution: ResolutionRec::from(resolution),
                    announce: announce.as_ref().map(UpdateRec::from),
                }],
            )
            .await?;
            // Without a receipt the owner is gone (or its turn no longer
            // waits): take the session over once its lease runs out (the
            // sweeper of any instance does too, from the kept decision).
            let rt = Arc::clone(rt);
            let session = session.clone();
            tokio::spawn(async move {
                let ttl = lease_ttl();
                if let Ok(Ok(())) = tokio::time::timeout(ttl, receipt).await {
                    return;
                }
                rt.hub.forget_ack(key);
                let deadline = tokio::time::Instant::now() + ttl * 3;
                loop {
                    match take_for_resume(&rt, session.id).await {
                        Ok(Ok(turn_id)) => {
                            tracing::info!(session = %session.id, %owner, "resuming here a turn whose instance stopped");
                            if let Err(e) = resume_kept_or_release(&rt, &session, turn_id).await {
                                tracing::error!(session = %session.id, "cannot resume: {e}");
                            }
                            return;
                        }
                        Ok(Err(_)) if tokio::time::Instant::now() < deadline => {
                            tokio::time::sleep(ttl / 4).await;
                        }
                        Ok(Err(owner)) => {
                            tracing::info!(session = %session.id, %owner, "a forwarded decision is left to the instance holding the session");
                            return;
                        }
                        Err(e) => {
                            tracing::error!(session = %session.id, "cannot take the session over: {e}");
                            return;
                        }
                    }
                }
            });
            Ok(())
        }
    }
}

/// Keeps a finished subtask's result for its parent (a shared store), so
/// that the parent resumes with it wherever it resumes.
pub(crate) async fn keep_subtask_result(
    rt: &Runtime,
    child: &Session,
    outcome: &super::TurnOutcome,
) {
    let Some(link) = child.parent.as_ref().filter(|_| rt.store.shared()) else {
        return;
    };
    if let Err(e) = keep_decision(
        rt,
        link.session_id,
        WaitKey::Subtask(child.id),
        link.tool_call_id.clone(),
        &turn::subtask_resolution(outcome),
        None,
    )
    .await
    {
        tracing::warn!(parent = %link.session_id, child = %child.id, "cannot keep the result of a subtask: {e}");
    }
}

/// A decision kept in the shared store until its turn has the call's result.
#[derive(Serialize, Deserialize)]
struct KeptRec {
    key: KeyRec,
    resolution: ResolutionRec,
    /// What the instance resuming the turn announces first.
    announce: Option<UpdateRec>,
}

/// Keeps a decision in the shared store (nothing for a store of one
/// process): acknowledged, it is acted on by whichever instance runs the
/// turn next, even if the one whose turn waits for it dies first.
pub(crate) async fn keep_decision(
    rt: &Runtime,
    session: SessionId,
    key: WaitKey,
    call_id: String,
    resolution: &Resolution,
    announce: Option<&SessionUpdate>,
) -> Result<(), RuntimeError> {
    if !rt.store.shared() {
        return Ok(());
    }
    let rec = KeptRec {
        key: KeyRec::from(key),
        resolution: ResolutionRec::from(resolution.clone()),
        announce: announce.map(UpdateRec::from),
    };
    let payload = serde_json::to_string(&rec)
        .map_err(|e| StoreError::Invalid(format!("cannot encode a decision: {e}")))?;
    rt.store
        .put_decision(ForwardedDecision {
            session_id: session,
            call_id,
            payload,
        })
        .await?;
    Ok(())
}

/// Takes the lease of a session to resume its turn here: the turn of a
/// dead instance goes on under its own id (it ends once, here). `Err`
/// names the instance that holds the lease.
async fn take_for_resume(
    rt: &Runtime,
    session: SessionId,
) -> Result<Result<TurnId, String>, RuntimeError> {
    let fresh = TurnId::new();
    match take_lease(rt, session, Some(fresh)).await? {
        Taken::Here {
            orphan: Some((turn, _)),
        } => {
            // Ours now: name the turn that goes on.
            take_lease(rt, session, Some(turn)).await?;
            Ok(Ok(turn))
        }
        Taken::Here { orphan: None } => Ok(Ok(fresh)),
        Taken::Elsewhere { owner } => Ok(Err(owner)),
    }
}

/// Resumes, under the lease this instance holds, the turn of a session
/// waiting for the decisions kept in the store for its unanswered calls;
/// false when none is kept (the caller still holds the lease).
async fn resume_kept(
    rt: &Arc<Runtime>,
    session: &Session,
    turn_id: TurnId,
) -> Result<bool, RuntimeError> {
    let kept = rt.store.decisions(session.id).await?;
    if kept.is_empty() {
        return Ok(false);
    }
    let history = turn::full_history(rt, session.id).await?;
    let open: Vec<String> = turn::unanswered_calls(&history)
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut presets = HashMap::new();
    let mut announces = Vec::new();
    for d in kept {
        if !open.contains(&d.call_id) {
            continue; // acted on already
        }
        match serde_json::from_str::<KeptRec>(&d.payload) {
            Ok(rec) => {
                presets.insert(d.call_id, Resolution::from(rec.resolution));
                announces.extend(rec.announce.and_then(|a| a.into_domain().ok()));
            }
            Err(e) => {
                tracing::warn!(session = %session.id, call = %d.call_id, "an unreadable kept decision: {e}");
            }
        }
    }
    if presets.is_empty() {
        return Ok(false);
    }
    for a in announces {
        rt.hub.emit(session, |_| a);
    }
    turn::resume_as(rt, session, turn_id, presets)?;
    Ok(true)
}

/// [`resume_kept`] that lets the lease go when nothing was resumed.
async fn resume_kept_or_release(
    rt: &Arc<Runtime>,
    session: &Session,
    turn_id: TurnId,
) -> Result<bool, RuntimeError> {
    let resumed = resume_kept(rt, session, turn_id).await;
    if !matches!(resumed, Ok(true)) {
        release_turn(rt, session.id, turn_id).await;
    }
    resumed
}

/// Cancels a turn running on another instance; returns it.
pub(crate) async fn cancel_elsewhere(
    rt: &Runtime,
    session: SessionId,
) -> Result<Option<TurnId>, RuntimeError> {
    if !rt.store.shared() {
        return Ok(None);
    }
    let Some((_, turn)) = rt.store.session_lease(session).await? else {
        return Ok(None);
    };
    // Kept in the store (the owner's heartbeat reads it), then announced.
    if let Some(t) = turn {
        rt.store.request_cancel(session, t).await?;
    }
    send(
        rt,
        vec![Wire::Cancel {
            from: rt.store.instance_id(),
            session: session.uuid(),
        }],
    )
    .await?;
    Ok(turn)
}

async fn send(rt: &Runtime, messages: Vec<Wire>) -> Result<(), RuntimeError> {
    let encoded = messages
        .iter()
        .filter_map(|m| serde_json::to_string(m).ok())
        .collect();
    rt.store.broadcast(encoded).await?;
    Ok(())
}

/// Starts the machinery of a shared store: the outbox of events, the
/// listener, the heartbeat and the sweeper. Nothing for a store of one
/// process.
pub fn start(rt: &Arc<Runtime>) {
    if !rt.store.shared() {
        return;
    }
    let Some(mut inbox) = rt.store.listen() else {
        return;
    };
    let me = rt.store.instance_id();
    let (tx, mut outbox) = tokio::sync::mpsc::unbounded_channel::<Arc<SessionEvent>>();
    rt.hub.set_outbox(tx);

    // Outbox: this instance's events, in seq order, batched.
    let out_rt = Arc::clone(rt);
    let from = me.clone();
    tokio::spawn(async move {
        while let Some(first) = outbox.recv().await {
            let mut batch = vec![first];
            while batch.len() < 256
                && let Ok(e) = outbox.try_recv()
            {
                batch.push(e);
            }
            let wire: Vec<Wire> = batch
                .iter()
                .map(|e| match &e.update {
                    // Persisted (committed before it is announced): the
                    // receivers read the row.
                    SessionUpdate::MessageAdded(_) => Wire::Stored {
                        from: from.clone(),
                        session: e.session_id.uuid(),
                        seq: e.seq,
                    },
                    update => Wire::Event {
                        from: from.clone(),
                        session: e.session_id.uuid(),
                        seq: e.seq,
                        update: UpdateRec::from(update),
                    },
                })
                .collect();
            if let Err(e) = send(&out_rt, wire).await {
                tracing::warn!(error = %e, events = batch.len(), "cannot fan events out to the other instances");
            }
        }
    });

    // Inbox: the other instances' events, decisions and cancels.
    let in_rt = Arc::clone(rt);
    tokio::spawn(async move {
        while let Some(text) = inbox.recv().await {
            let wire: Wire = match serde_json::from_str(&text) {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(error = %e, "an unreadable message from another instance");
                    continue;
                }
            };
            receive(&in_rt, &me, wire).await;
        }
    });

    // Heartbeat: renew the leases; a lost one stops its turn here.
    let hb_rt = Arc::clone(rt);
    tokio::spawn(async move {
        let ttl = lease_ttl();
        let mut tick = tokio::time::interval(ttl / 3);
        loop {
            tick.tick().await;
            match hb_rt.store.renew_leases(ttl).await {
                Ok(lost) => {
                    for s in lost {
                        tracing::warn!(session = %s, "lost the lease of the session to another instance");
                        hb_rt.hub.fence(s);
                        hb_rt.hub.cancel(s);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot renew the leases"),
            }
            // Cancels asked through the store (their notification may have
            // been lost while the listener reconnected).
            match hb_rt.store.cancel_requests().await {
                Ok(asked) => {
                    for (s, t) in asked {
                        if hb_rt.hub.running(s) == Some(t) {
                            hb_rt.hub.cancel(s);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the cancel requests"),
            }
        }
    });

    // Sweeper: end the turns of instances that died with nothing pending.
    let sw_rt = Arc::clone(rt);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(lease_ttl() / 2);
        loop {
            tick.tick().await;
            if let Err(e) = sweep(&sw_rt).await {
                tracing::warn!(error = %e, "cannot look for the turns of stopped instances");
            }
        }
    });
}

/// One pass of the sweeper.
pub(crate) async fn sweep(rt: &Arc<Runtime>) -> Result<usize, RuntimeError> {
    let mut ended = 0;
    // A grace of one lease: an instance taking a dead instance's session
    // over to resume a decided turn comes first.
    for session in rt.store.orphaned_turns(16, lease_ttl()).await? {
        if rt.hub.running(session).is_some() {
            // Ours, and alive: the heartbeat was late.
            continue;
        }
        if let Taken::Here {
            orphan: Some(orphan),
        } = take_lease(rt, session, None).await?
        {
            // A decision kept for it: the turn goes on here.
            let s = rt.store.get_session(session).await?;
            take_lease(rt, session, Some(orphan.0)).await?;
            match resume_kept(rt, &s, orphan.0).await {
                Ok(true) => {
                    tracing::info!(%session, turn = %orphan.0, from = %orphan.1, "resumed a decided turn of an instance that stopped");
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(%session, "cannot resume a decided turn of an instance that stopped; ending it: {e}");
                }
            }
            let turn = orphan.0;
            let r = end_orphan(rt, session, orphan).await;
            release_turn(rt, session, turn).await;
            r?;
            ended += 1;
        } else {
            release(rt, session).await;
        }
    }
    Ok(ended)
}

/// How many persisted messages a receiver reads at most to fill a gap in
/// what it delivered (notifications lost while its listener reconnected).
const GAP_READ: u64 = 256;

/// Delivers another instance's persisted message `seq` to the clients
/// attached here, read from the store, after the messages of the session
/// it missed since the last event it delivered (their notifications lost
/// while its listener reconnected), in seq order, each once.
async fn receive_stored(rt: &Runtime, session: SessionId, seq: u64) {
    let last = rt.hub.remote_seq(session);
    if seq <= last || rt.hub.pass_remote(session, seq) {
        // Delivered already, or nobody here watches the session: no read.
        return;
    }
    // A session this instance has delivered nothing of yet: only this row.
    let after = if last == 0 || seq - last > GAP_READ {
        seq - 1
    } else {
        last
    };
    let limit = usize::try_from(seq - after).unwrap_or(usize::MAX);
    match rt.store.history(session, after, limit).await {
        Ok(page) => {
            if !page.items.iter().any(|m| m.seq == seq) {
                tracing::debug!(%session, seq, "a message announced by another instance is gone (its session was deleted?)");
            }
            for m in page.items.into_iter().filter(|m| m.seq <= seq) {
                rt.hub.deliver_remote(Arc::new(SessionEvent {
                    session_id: session,
                    seq: m.seq,
                    update: SessionUpdate::MessageAdded(Box::new(m)),
                }));
            }
        }
        Err(e) => {
            tracing::warn!(%session, seq, "cannot read a message announced by another instance: {e}")
        }
    }
}

async fn receive(rt: &Arc<Runtime>, me: &str, wire: Wire) {
    match wire {
        Wire::Stored { from, session, seq } if from != me => {
            receive_stored(rt, session.into(), seq).await;
        }
        Wire::Event {
            from,
            session,
            seq,
            update,
        } if from != me => match update.into_domain() {
            Ok(update) => rt.hub.deliver_remote(Arc::new(SessionEvent {
                session_id: session.into(),
                seq,
                update,
            })),
            Err(e) => tracing::warn!(%session, seq, "an unreadable event from {from}: {e}"),
        },
        Wire::Resolve {
            from,
            session,
            key,
            resolution,
            announce,
        } if from != me => {
            let key = WaitKey::from(key);
            // Only the instance whose turn waits has the waiter.
            if !rt.hub.waits(key) {
                return;
            }
            if let Some(a) = announce.and_then(|a| a.into_domain().ok()) {
                rt.hub.emit_loaded(session.into(), |_| a);
            }
            if rt.hub.resolve(key, resolution.into()) {
                tracing::debug!(?key, %from, "a decision made on another instance");
                let rt = Arc::clone(rt);
                tokio::spawn(async move {
                    let ack = Wire::Ack {
                        from: rt.store.instance_id(),
                        key: KeyRec::from(key),
                    };
                    if let Err(e) = send(&rt, vec![ack]).await {
                        tracing::warn!("cannot acknowledge a forwarded decision: {e}");
                    }
                });
            }
        }
        Wire::Ack { from, key } if from != me => rt.hub.ack(key.into()),
        Wire::Cancel { from, session } if from != me => {
            rt.hub.cancel(session.into());
        }
        _ => {}
    }
}

// --- what travels between instances ---------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Wire {
    /// A persisted event (a message): its row is the truth, read by the
    /// receivers.
    Stored {
        from: String,
        session: Uuid,
        seq: u64,
    },
    /// An event that is not stored (streamed tokens, tool call progress,
    /// ...): it travels whole, split under PostgreSQL's payload limit.
    Event {
        from: String,
        session: Uuid,
        seq: u64,
        update: UpdateRec,
    },
    Resolve {
        from: String,
        session: Uuid,
        key: KeyRec,
        resolution: ResolutionRec,
        /// What the owner announces first (seqs are the owner's).
        announce: Option<UpdateRec>,
    },
    Cancel {
        from: String,
        session: Uuid,
    },
    /// The owner took a forwarded decision.
    Ack {
        from: String,
        key: KeyRec,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KeyRec {
    Approval(Uuid),
    Question(Uuid),
    Subtask(Uuid),
}

impl From<WaitKey> for KeyRec {
    fn from(k: WaitKey) -> Self {
        match k {
            WaitKey::Approval(a) => Self::Approval(a.uuid()),
            WaitKey::Question(q) => Self::Question(q.uuid()),
            WaitKey::Subtask(s) => Self::Subtask(s.uuid()),
        }
    }
}

impl From<KeyRec> for WaitKey {
    fn from(k: KeyRec) -> Self {
        match k {
            KeyRec::Approval(a) => Self::Approval(a.into()),
            KeyRec::Question(q) => Self::Question(q.into()),
            KeyRec::Subtask(s) => Self::Subtask(s.into()),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum ResolutionRec {
    Answer {
        text: String,
    },
    Decided {
        decision: Decision,
        params: Option<Value>,
        feedback: Option<String>,
        scope: Option<ApprovalScope>,
    },
}

impl From<Resolution> for ResolutionRec {
    fn from(r: Resolution) -> Self {
        match r {
            Resolution::Answer(text) => Self::Answer { text },
            Resolution::Decided {
                decision,
                params,
                feedback,
                scope,
            } => Self::Decided {
                decision,
                params,
                feedback,
                scope,
            },
        }
    }
}

impl From<ResolutionRec> for Resolution {
    fn from(r: ResolutionRec) -> Self {
        match r {
            ResolutionRec::Answer { text } => Self::Answer(text),
            ResolutionRec::Decided {
                decision,
                params,
                feedback,
                scope,
            } => Self::Decided {
                decision,
                params,
                feedback,
                scope,
            },
        }
    }
}

#[derive(Serialize, Deserialize)]
struct CallRec {
    id: String,
    name: String,
    arguments: Value,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "u", rename_all = "snake_case")]
enum UpdateRec {
    Token {
        turn_id: Uuid,
        delta: String,
    },
    Reasoning {
        turn_id: Uuid,
        delta: String,
    },
    ToolCall {
        turn_id: Uuid,
        call: CallRec,
        kind: ToolKind,
        status: ToolCallStatus,
        result: Option<String>,
    },
    TurnCompleted {
        turn_id: Uuid,
        stop_reason: StopReason,
        usage: TokenUsage,
        cost_usd: f64,
        result: Option<String>,
        error: Option<String>,
    },
    AgentSwitched {
        from: String,
        to: String,
        reason: String,
    },
    Question {
        record: Value,
    },
    ModelChosen {
        /// Provider and model.
        model: Option<(String, String)>,
    },
    CommandOutput {
        turn_id: Uuid,
        tool_call_id: String,
        stream: String,
        text: String,
    },
    MessageAdded {
        record: Value,
    },
    ContextUsage {
        turn_id: Uuid,
        used_tokens: u64,
        context_window: u64,
        usage: TokenUsage,
        turn_cost_usd: f64,
        session_cost_usd: f64,
    },
    Compacted {
        turn_id: Option<Uuid>,
        compaction: Compaction,
        elided: u64,
        summarized: bool,
    },
    ApprovalRequired {
        record: Value,
    },
    TurnDiff {
        turn_id: Uuid,
        files: Vec<FileStat>,
        diff: String,
    },
    ApprovalResolved {
        approval_id: Uuid,
        decision: Decision,
        by: String,
    },
}

fn record<R: Serialize>(r: R) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

impl From<&SessionUpdate> for UpdateRec {
    fn from(u: &SessionUpdate) -> Self {
        match u.clone() {
            SessionUpdate::Token { turn_id, delta } => Self::Token {
                turn_id: turn_id.uuid(),
                delta,
            },
            SessionUpdate::Reasoning { turn_id, delta } => Self::Reasoning {
                turn_id: turn_id.uuid(),
                delta,
            },
            SessionUpdate::ToolCall {
                turn_id,
                call,
                kind,
                status,
                result,
            } => Self::ToolCall {
                turn_id: turn_id.uuid(),
                call: CallRec {
                    id: call.id,
                    name: call.name,
                    arguments: call.arguments,
                },
                kind,
                status,
                result,
            },
            SessionUpdate::TurnCompleted {
                turn_id,
                stop_reason,
                usage,
                cost_usd,
                result,
                error,
            } => Self::TurnCompleted {
                turn_id: turn_id.uuid(),
                stop_reason,
                usage,
                cost_usd,
                result,
                error,
            },
            SessionUpdate::AgentSwitched { from, to, reason } => {
                Self::AgentSwitched { from, to, reason }
            }
            SessionUpdate::ModelChosen { model } => Self::ModelChosen {
                model: model.map(|m| (m.provider, m.model)),
            },
            SessionUpdate::Question(q) => Self::Question {
                record: record(QuestionRec::from(&q)),
            },
            SessionUpdate::CommandOutput {
                turn_id,
                tool_call_id,
                stream,
                text,
            } => Self::CommandOutput {
                turn_id: turn_id.uuid(),
                tool_call_id,
                stream,
                text,
            },
            SessionUpdate::MessageAdded(m) => Self::MessageAdded {
                record: record(MessageRec::from(&*m)),
            },
            SessionUpdate::ContextUsage(c) => Self::ContextUsage {
                turn_id: c.turn_id.uuid(),
                used_tokens: c.used_tokens,
                context_window: c.context_window,
                usage: c.usage,
                turn_cost_usd: c.turn_cost_usd,
                session_cost_usd: c.session_cost_usd,
            },
            SessionUpdate::Compacted {
                turn_id,
                compaction,
                elided,
                summarized,
            } => Self::Compacted {
                turn_id: turn_id.map(TurnId::uuid),
                compaction,
                elided,
                summarized,
            },
            SessionUpdate::ApprovalRequired(a) => Self::ApprovalRequired {
                record: record(ApprovalRec::from(&*a)),
            },
            SessionUpdate::TurnDiff {
                turn_id,
                files,
                diff,
            } => Self::TurnDiff {
                turn_id: turn_id.uuid(),
                files,
                diff,
            },
            SessionUpdate::ApprovalResolved {
                approval_id,
                decision,
                by,
            } => Self::ApprovalResolved {
                approval_id: approval_id.uuid(),
                decision,
                by,
            },
        }
    }
}

impl UpdateRec {
    fn into_domain(self) -> Result<SessionUpdate, serde_json::Error> {
        Ok(match self {
            Self::Token { turn_id, delta } => SessionUpdate::Token {
                turn_id: turn_id.into(),
                delta,
            },
            Self::Reasoning { turn_id, delta } => SessionUpdate::Reasoning {
                turn_id: turn_id.into(),
                delta,
            },
            Self::ToolCall {
                turn_id,
                call,
                kind,
                status,
                result,
            } => SessionUpdate::ToolCall {
                turn_id: turn_id.into(),
                call: ToolCall {
                    id: call.id,
                    name: call.name,
                    arguments: call.arguments,
                },
                kind,
                status,
                result,
            },
            Self::TurnCompleted {
                turn_id,
                stop_reason,
                usage,
                cost_usd,
                result,
                error,
            } => SessionUpdate::TurnCompleted {
                turn_id: turn_id.into(),
                stop_reason,
                usage,
                cost_usd,
                result,
                error,
            },
            Self::AgentSwitched { from, to, reason } => {
                SessionUpdate::AgentSwitched { from, to, reason }
            }
            Self::ModelChosen { model } => SessionUpdate::ModelChosen {
                model: model.map(|(provider, model)| ModelChoice { provider, model }),
            },
            Self::Question { record } => SessionUpdate::Question(PendingQuestion::from(
                serde_json::from_value::<QuestionRec>(record)?,
            )),
            Self::CommandOutput {
                turn_id,
                tool_call_id,
                stream,
                text,
            } => SessionUpdate::CommandOutput {
                turn_id: turn_id.into(),
                tool_call_id,
                stream,
                text,
            },
            Self::MessageAdded { record } => {
                SessionUpdate::MessageAdded(Box::new(Message::from(serde_json::from_value::<
                    MessageRec,
                >(record)?)))
            }
            Self::ContextUsage {
                turn_id,
                used_tokens,
                context_window,
                usage,
                turn_cost_usd,
                session_cost_usd,
            } => SessionUpdate::ContextUsage(ContextUsage {
                turn_id: turn_id.into(),
                used_tokens,
                context_window,
                usage,
                turn_cost_usd,
                session_cost_usd,
            }),
            Self::Compacted {
                turn_id,
                compaction,
                elided,
                summarized,
            } => SessionUpdate::Compacted {
                turn_id: turn_id.map(TurnId::from),
                compaction,
                elided,
                summarized,
            },
            Self::ApprovalRequired { record } => SessionUpdate::ApprovalRequired(Box::new(
                PendingApproval::from(serde_json::from_value::<ApprovalRec>(record)?),
            )),
            Self::TurnDiff {
                turn_id,
                files,
                diff,
            } => SessionUpdate::TurnDiff {
                turn_id: turn_id.into(),
                files,
                diff,
            },
            Self::ApprovalResolved {
                approval_id,
                decision,
                by,
            } => SessionUpdate::ApprovalResolved {
                approval_id: approval_id.into(),
                decision,
                by,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::{ApprovalId, Role};

    fn roundtrip(update: SessionUpdate) {
        let text = serde_json::to_string(&Wire::Event {
            from: "a".into(),
            session: Uuid::now_v7(),
            seq: 7,
            update: UpdateRec::from(&update),
        })
        .unwrap();
        let Wire::Event { update: back, .. } = serde_json::from_str(&text).unwrap() else {
            panic!("an event")
        };
        assert_eq!(back.into_domain().unwrap(), update);
    }

    #[test]
    fn session_updates_travel_between_instances_unchanged() {
        let turn_id = TurnId::new();
        roundtrip(SessionUpdate::Token {
            turn_id,
            delta: "héllo".into(),
        });
        roundtrip(SessionUpdate::Reasoning {
            turn_id,
            delta: "thinking…".into(),
        });
        roundtrip(SessionUpdate::ToolCall {
            turn_id,
            call: ToolCall {
                id: "c1".into(),
                name: "read_file".into(),
                arguments: serde_json::json!({"path": "a.rs"}),
            },
            kind: ToolKind::Read,
            status: ToolCallStatus::Completed,
            result: Some("fn main() {}".into()),
        });
        roundtrip(SessionUpdate::TurnCompleted {
            turn_id,
            stop_reason: StopReason::Error,
            usage: TokenUsage {
                input_tokens: 3,
                output_tokens: 4,
                cache_read_tokens: 1,
                cache_write_tokens: 0,
            },
            cost_usd: 0.25,
            result: None,
            error: Some("gone".into()),
        });
        let mut m = Message::new(Role::Assistant, Some(turn_id), "text".into());
        m.seq = 9;
        roundtrip(SessionUpdate::MessageAdded(Box::new(m)));
        roundtrip(SessionUpdate::ApprovalResolved {
            approval_id: ApprovalId::new(),
            decision: Decision::Reject,
            by: "user".into(),
        });
        roundtrip(SessionUpdate::ContextUsage(ContextUsage {
            turn_id,
            used_tokens: 100,
            context_window: 8000,
            usage: TokenUsage::default(),
            turn_cost_usd: 0.5,
            session_cost_usd: 1.5,
        }));
        roundtrip(SessionUpdate::AgentSwitched {
            from: "coder".into(),
            to: "planner".into(),
            reason: "asked".into(),
        });
        roundtrip(SessionUpdate::ModelChosen {
            model: Some(ModelChoice {
                provider: "mock".into(),
                model: "model-b".into(),
            }),
        });
        roundtrip(SessionUpdate::ModelChosen { model: None });
    }

    #[test]
    fn decisions_travel_between_instances_unchanged() {
        let r = Resolution::Decided {
            decision: Decision::Edit,
            params: Some(serde_json::json!({"path": "b.rs"})),
            feedback: Some("smaller".into()),
            scope: Some(ApprovalScope::Session),
        };
        let back: Resolution = serde_json::from_str::<ResolutionRec>(
            &serde_json::to_string(&ResolutionRec::from(r.clone())).unwrap(),
        )
        .unwrap()
        .into();
        assert_eq!(back, r);
    }
}
