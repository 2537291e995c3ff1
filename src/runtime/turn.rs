//! Turns: the loop that streams model replies and runs their tool calls,
//! and the operations on pending approvals, questions and subtasks.
//!
//! Invariants:
//! - One turn at a time per session; every turn ends with exactly one
//!   `TurnCompleted` event carrying its stop reason, whatever happens.
//! - History is persisted as it happens (user message, each assistant reply
//!   with its tool calls, each tool result), and every tool call in the
//!   history gets exactly one result, also when a turn is cancelled or fails.
//! - A turn is rebuilt from the history alone: an assistant reply whose calls
//!   lack results is where a turn resumes (after an approval, an answer or a
//!   subtask that outlived the process that started it).
//! - Every tool call passes through [`Turn::execute`]: the agent's tool list,
//!   parameter validation, the agent's file restriction, the repetition guard,
//!   then the policy gate, before the tool runs. A tool's failure is a result
//!   the model reads; only a broken runtime ends a turn with an error.
//! - Nothing here knows JSON-RPC: events go to the [`hub`], and the server
//!   turns them into notifications.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Runtime;
use super::coalesce::{Coalescer, DeltaKind};
use super::context;
use super::gate;
use super::hub::{Resolution, WaitKey};
use super::interact::CallInteract;
use super::prompt;
use super::{ConnId, RuntimeError, TurnInput, TurnOutcome};
use crate::agents::Agent;
use crate::domain::events::ContextUsage;
use crate::domain::events::{
    AgentSwitched, ApprovalRequested, CallOutcomeKind, ContextCompacted, DecisionMade,
    ExecutionRequested, MessageAdded, ProcessingStarted, ToolFinished, TurnEnded,
};
use crate::domain::{
    ApprovalId, ApprovalScope, Decision, FinishReason, Message, PendingApproval, QuestionId,
    Reasoning, Role, Session, SessionId, SessionUpdate, StopReason, TokenUsage, ToolCall,
    ToolCallStatus, TurnId,
};
use crate::events::{Event, EventKind};
use crate::llm::config::{LlmSettings, Target};
use crate::llm::context::{Counter, Estimator};
use crate::llm::{ChatRequest, LlmEvent};
use crate::store::StoreError;
use crate::tools::{self, ToolContext, ToolKind};
use crate::workspace::Workspace;
use crate::workspace::uri_to_path;

/// Consecutive failed tool calls after which the user is asked how to go on.
pub const MAX_CONSECUTIVE_FAILURES: usize = 3;

/// Why a turn stops before its agent finished.
enum Stop {
    /// The client cancelled.
    Cancelled,
    /// The runtime could not go on; the turn ends with this error.
    Error(TurnError),
}

/// What broke a turn (tool failures are results the model reads, not these).
#[derive(Debug, thiserror::Error)]
enum TurnError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The model request failed (after its retries).
    #[error(transparent)]
    Model(#[from] crate::llm::LlmError),
    /// The session's agent or configuration is unusable.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The context could not be made to fit the model's window.
    #[error(transparent)]
    Compaction(context::CompactError),
    /// A wait for the user ended without a decision.
    #[error("{0}")]
    Interrupted(&'static str),
}

impl<E: Into<TurnError>> From<E> for Stop {
    fn from(e: E) -> Self {
        Self::Error(e.into())
    }
}

/// Persists a message and announces it.
pub(crate) async fn persist(
    rt: &Runtime,
    session_id: SessionId,
    mut message: Message,
) -> Result<Message, StoreError> {
    let session = rt.store.get_session(session_id).await?;
    let reserved = rt.hub.reserve(&session);
    message.seq = reserved.seq();
    message.session_id = session_id;
    rt.store
        .append_messages(session_id, vec![message.clone()])
        .await?;
    reserved.emit(SessionUpdate::MessageAdded(Box::new(message.clone())));
    rt.bus.publish(
        Event::new(EventKind::MessageAdded(MessageAdded {
            role: message.role,
            seq: message.seq,
        }))
        .in_turn(Some(session_id), message.turn_id),
    );
    Ok(message)
}

fn new_message(role: Role, turn_id: Option<TurnId>, text: String) -> Message {
    Message::new(role, turn_id, text)
}

fn tool_result(turn_id: TurnId, call_id: &str, text: String, is_error: bool) -> Message {
    Message::tool_result(turn_id, call_id, text, is_error)
}

/// The calls of the last assistant reply that have no result yet.
pub fn unanswered_calls(history: &[Message]) -> Vec<ToolCall> {
    let Some(pos) = history.iter().rposition(|m| m.role == Role::Assistant) else {
        return Vec::new();
    };
    let answered: HashSet<&str> = history[pos + 1..]
        .iter()
        .filter(|m| m.role == Role::Tool)
        .filter_map(|m| m.tool_call_id.as_deref())
        .collect();
    history[pos]
        .tool_calls
        .iter()
        .filter(|c| !answered.contains(c.id.as_str()))
        .cloned()
        .collect()
}

pub(super) async fn full_history(
    rt: &Runtime,
    session_id: SessionId,
) -> Result<Vec<Message>, StoreError> {
    Ok(rt.store.history(session_id, 0, usize::MAX).await?.items)
}

/// The agent a session uses, from its workspace's agents.
///
/// A session whose agent came from `.codelab/agents.toml` of a workspace the
/// user does not trust (its slug is not a built-in one, and the workspace's
/// agent files are ignored) continues with the default agent: the session is
/// switched, which clients see as `codelab/agentSwitched` with the reason.
pub(super) async fn session_agent(rt: &Runtime, session: &Session) -> Result<Agent, RuntimeError> {
    let set = rt.workspace_agents(session.workspace_folder.as_deref())?;
    if let Some(a) = set.agents.iter().find(|a| a.slug == session.agent) {
        return Ok(a.clone());
    }
    if !set.untrusted || crate::agents::find(&session.agent).is_some() {
        return Err(RuntimeError::UnknownAgent(session.agent.clone()));
    }
    let default = crate::agents::DEFAULT_AGENT;
    let reason = format!(
        "agent `{}` comes from {} of an untrusted workspace; continuing with {default}",
        session.agent,
        crate::agents::WORKSPACE_AGENTS_FILE
    );
    tracing::warn!(session = %session.id, "{reason}");
    switch_agent(rt, session.id, default, &reason).await?;
    set.agents
        .iter()
        .find(|a| a.slug == default)
        .cloned()
        .ok_or_else(|| RuntimeError::UnknownAgent(default.to_owned()))
}

pub(super) fn workspace_of(session: &Session) -> Option<Workspace> {
    session
        .workspace_folder
        .as_deref()
        .and_then(uri_to_path)
        .and_then(|p| Workspace::new(&p).ok())
}

/// Switches a session's agent, persists it and announces it.
pub(super) async fn switch_agent(
    rt: &Runtime,
    session_id: SessionId,
    to: &str,
    reason: &str,
) -> Result<(), RuntimeError> {
    let session = rt.store.get_session(session_id).await?;
    if !rt
        .agents_for(session.workspace_folder.as_deref())?
        .iter()
        .any(|a| a.slug == to)
    {
        return Err(RuntimeError::UnknownAgent(to.to_owned()));
    }
    let from = session.agent.clone();
    if from == to {
        return Ok(());
    }
    let session = rt
        .store
        .set_session_agent(session_id, to.to_owned())
        .await?;
    let switched = AgentSwitched {
        from,
        to: to.to_owned(),
        reason: reason.to_owned(),
    };
    rt.hub.emit(&session, |_| SessionUpdate::AgentSwitched {
        from: switched.from.clone(),
        to: switched.to.clone(),
        reason: switched.reason.clone(),
    });
    rt.bus
        .publish(Event::new(EventKind::AgentSwitched(switched)).in_turn(Some(session_id), None));
    Ok(())
}

/// Starts a turn for a user message; returns the turn's id at once.
///
/// # Errors
/// Unknown session or agent, a turn already running, a store failure.
pub(super) async fn send_message(
    rt: &Arc<Runtime>,
    input: TurnInput,
) -> Result<TurnId, RuntimeError> {
    let session = rt.store.get_session(input.session_id).await?;
    if let Some(a) = &input.agent
        && !rt
            .agents_for(session.workspace_folder.as_deref())?
            .iter()
            .any(|x| &x.slug == a)
    {
        return Err(RuntimeError::UnknownAgent(a.clone()));
    }
    let running = rt.hub.running_count();
    if running >= rt.max_turns {
        return Err(RuntimeError::Overloaded(running));
    }
    let turn_id = TurnId::new();
    let cancel = CancellationToken::new();
    rt.hub
        .begin_turn(&session, turn_id, cancel.clone())
        .map_err(|turn| RuntimeError::Busy {
            session: session.id,
            turn,
        })?;
    // A shared store: this instance takes the session's lease, unless a
    // turn runs on another instance.
    match super::cluster::take_lease_for_turn(rt, session.id, turn_id).await {
        Ok(super::cluster::Taken::Here { orphan }) => {
            if let Some(orphan) = orphan
                && let Err(e) = super::cluster::end_orphan(rt, session.id, orphan).await
            {
                tracing::warn!(session = %session.id, "cannot end the turn of a stopped instance: {e}");
            }
        }
        Ok(super::cluster::Taken::Elsewhere { owner }) => {
            rt.hub.end_turn(session.id, turn_id);
            return Err(RuntimeError::RunningElsewhere {
                session: session.id,
                instance: owner,
            });
        }
        Err(e) => {
            rt.hub.end_turn(session.id, turn_id);
            return Err(e);
        }
    }
    let started = async {
        if let Some(a) = &input.agent {
            switch_agent(rt, session.id, a, "requested by the user").await?;
        }
        // Calls left without results by an earlier process get one now.
        close_open_calls(
            rt,
            session.id,
            turn_id,
            "not run: the conversation moved on",
        )
        .await?;
        // An untitled session takes its title from its first message.
        let title = (session.title == crate::domain::UNTITLED)
            .then(|| crate::domain::title_from(&input.text))
            .flatten();
        let mut m = new_message(Role::User, Some(turn_id), input.text);
        m.context = input.context;
        persist(rt, session.id, m).await?;
        if let Some(title) = title {
            let change = crate::store::SessionChange {
                title: Some(title),
                ..Default::default()
            };
            rt.store.update_session(session.id, change).await?;
        }
        Ok::<(), RuntimeError>(())
    };
    if let Err(e) = started.await {
        rt.hub.end_turn(session.id, turn_id);
        super::cluster::release_turn(rt, session.id, turn_id).await;
        return Err(e);
    }
    let turn = Turn::new(
        Arc::clone(rt),
        session.id,
        turn_id,
        cancel,
        input.conn,
        input.editor_llm,
    );
    tokio::spawn(turn.run(HashMap::new(), None));
    Ok(turn_id)
}

/// Resumes a session whose pending call was resolved after the turn that
/// made it was lost (the process restarted). `presets` holds the resolution
/// of that call.
pub(crate) fn resume(
    rt: &Arc<Runtime>,
    session: &Session,
    presets: HashMap<String, Resolution>,
) -> Result<TurnId, RuntimeError> {
    resume_as(rt, session, TurnId::new(), presets)
}

/// [`resume`] with the turn's id chosen (the lease names it).
pub(crate) fn resume_as(
    rt: &Arc<Runtime>,
    session: &Session,
    turn_id: TurnId,
    presets: HashMap<String, Resolution>,
) -> Result<TurnId, RuntimeError> {
    let cancel = CancellationToken::new();
    rt.hub
        .begin_turn(session, turn_id, cancel.clone())
        .map_err(|turn| RuntimeError::Busy {
            session: session.id,
            turn,
        })?;
    tracing::info!(session = %session.id, turn = %turn_id, "resuming a session after a restart");
    let turn = Turn::new(Arc::clone(rt), session.id, turn_id, cancel, None, None);
    tokio::spawn(turn.run(presets, None));
    Ok(turn_id)
}

/// Gives every unanswered call of a session a result (`reason`), and drops
/// pending approvals and questions that belonged to them.
pub(super) async fn close_open_calls(
    rt: &Runtime,
    session_id: SessionId,
    turn_id: TurnId,
    reason: &str,
) -> Result<(), RuntimeError> {
    let history = full_history(rt, session_id).await?;
    let open = unanswered_calls(&history);
    if open.is_empty() {
        return Ok(());
    }
    for a in rt.store.list_approvals(Some(session_id)).await? {
        if open.iter().any(|c| c.id == a.tool_call_id) {
            resolve_approval_as(rt, &a, Decision::Cancelled, "turn").await?;
        }
    }
    for q in rt.store.list_questions(Some(session_id)).await? {
        rt.store.take_question(q.id).await?;
        rt.hub.forget(WaitKey::Question(q.id));
    }
    for c in open {
        persist(
            rt,
            session_id,
            tool_result(turn_id, &c.id, reason.to_owned(), true),
        )
        .await?;
    }
    Ok(())
}

/// Resolves a pending approval without a client's decision (cancel, timeout).
async fn resolve_approval_as(
    rt: &Runtime,
    a: &PendingApproval,
    decision: Decision,
    by: &str,
) -> Result<bool, RuntimeError> {
    let made = decision_made(a, decision, by);
    let audit = crate::audit::record(
        &Event::new(EventKind::DecisionMade(DecisionMade {
            params: Some(a.params.clone()),
            rule: Some(a.rule.clone()),
            ..made.clone()
        }))
        .in_turn(Some(a.session_id), None),
    );
    if rt
        .store
        .resolve_approval(a.id, Some(audit))
        .await?
        .is_none()
    {
        return Ok(false);
    }
    rt.hub.forget(WaitKey::Approval(a.id));
    let session = rt.store.get_session(a.session_id).await?;
    rt.hub.emit(&session, |_| SessionUpdate::ApprovalResolved {
        approval_id: a.id,
        decision,
        by: by.to_owned(),
    });
    rt.bus.publish(
        Event::new(EventKind::DecisionMade(made)).in_turn(Some(a.session_id), Some(a.turn_id)),
    );
    Ok(true)
}

/// The bus's view of a decision (the audit log adds the details).
fn decision_made(a: &PendingApproval, decision: Decision, by: &str) -> DecisionMade {
    DecisionMade {
        approval_id: a.id,
        tool: a.tool.clone(),
        decision,
        by: by.to_owned(),
        params: None,
        edited_params: None,
        feedback: None,
        scope: None,
        rule: None,
    }
}

/// Answers a pending question.
///
/// # Errors
/// The question is not pending.
pub(super) async fn answer_question(
    rt: &Arc<Runtime>,
    session_id: SessionId,
    question_id: QuestionId,
    answer: String,
) -> Result<(), RuntimeError> {
    let Some(q) = rt.store.take_question(question_id).await? else {
        return Err(RuntimeError::NotPending(format!(
            "question {question_id} is not pending (already answered, or unknown)"
        )));
    };
    if q.session_id != session_id {
        rt.store.put_question(q).await?;
        return Err(RuntimeError::NotPending(format!(
            "question {question_id} belongs to another session"
        )));
    }
    if rt.store.shared() && rt.hub.waits(WaitKey::Question(question_id)) {
        // Kept before the turn here acts on it (and before the client is
        // answered): acted on even if this instance dies first.
        let history = full_history(rt, session_id).await?;
        if let Some(call) = unanswered_calls(&history)
            .into_iter()
            .find(|c| c.name == "ask_followup_question")
        {
            super::cluster::keep_decision(
                rt,
                session_id,
                WaitKey::Question(question_id),
                call.id,
                &Resolution::Answer(answer.clone()),
                None,
            )
            .await?;
        }
    }
    if rt.hub.resolve(
        WaitKey::Question(question_id),
        Resolution::Answer(answer.clone()),
    ) {
        return Ok(());
    }
    // The turn that asked is gone (restart): resume from the answered call.
    let session = rt.store.get_session(session_id).await?;
    let history = full_history(rt, session_id).await?;
    match unanswered_calls(&history)
        .into_iter()
        .find(|c| c.name == "ask_followup_question")
    {
        Some(call) => {
            super::cluster::resume_or_forward(
                rt,
                &session,
                WaitKey::Question(question_id),
                call.id,
                Resolution::Answer(answer),
                None,
            )
            .await
        }
        None => Err(RuntimeError::NotPending(format!(
            "question {question_id} no longer has a waiting tool call"
        ))),
    }
}

/// Decides a pending approval. The first decision wins.
///
/// # Errors
/// Not pending (already decided), or edited parameters that are invalid
/// (the approval then stays pending).
pub(super) async fn decide_approval(
    rt: &Arc<Runtime>,
    approval_id: ApprovalId,
    d: super::ApprovalDecision,
    by: &str,
) -> Result<PendingApproval, RuntimeError> {
    let super::ApprovalDecision {
        decision,
        params,
        feedback,
        scope,
    } = d;
    let not_pending = || {
        RuntimeError::NotPending(format!(
            "approval {approval_id} was already decided (or does not exist)"
        ))
    };
    let approval = rt
        .store
        .get_approval(approval_id)
        .await?
        .ok_or_else(not_pending)?;
    let final_params = match decision {
        Decision::Approve => approval.params.clone(),
        Decision::Reject => approval.params.clone(),
        Decision::Edit => {
            let p = params.clone().ok_or_else(|| {
                RuntimeError::InvalidParams("`params` is required with decision `edit`".into())
            })?;
            if approval.tool.starts_with(crate::mcp::PREFIX) {
                // An MCP server's tool: the server validates its arguments.
                if !p.is_object() {
                    return Err(RuntimeError::InvalidParams(
                        "the edited parameters are invalid: expected a JSON object".into(),
                    ));
                }
                p
            } else {
                let tool = rt.gate.tool(&approval.tool).ok_or_else(|| {
                    RuntimeError::InvalidParams(format!("unknown tool {}", approval.tool))
                })?;
                tool.check(&p).map_err(|e| {
                    RuntimeError::InvalidParams(format!("the edited parameters are invalid: {e}"))
                })?;
                p
            }
        }
        Decision::Cancelled | Decision::TimedOut => {
            return Err(RuntimeError::InvalidParams(
                "a client may decide approve, edit or reject".into(),
            ));
        }
    };
    let made = decision_made(&approval, decision, by);
    let audit = crate::audit::record(
        &Event::new(EventKind::DecisionMade(DecisionMade {
            params: Some(approval.params.clone()),
            edited_params: (decision == Decision::Edit).then(|| final_params.clone()),
            feedback: feedback.clone(),
            scope,
            rule: Some(approval.rule.clone()),
            ..made.clone()
        }))
        .in_turn(Some(approval.session_id), None),
    );
    if rt
        .store
        .resolve_approval(approval_id, Some(audit))
        .await?
        .is_none()
    {
        return Err(not_pending());
    }
    let session = rt.store.get_session(approval.session_id).await?;
    if decision == Decision::Reject && scope == Some(ApprovalScope::Session) {
        // Rejected for the session: every later call of the tool is denied.
        let spec = crate::policy::RuleSpec {
            action: crate::policy::Action::Deny,
            ..crate::policy::session_rule(&approval.tool, &[], None)
        };
        if let Ok(rule) = crate::policy::Rule::new(spec, crate::policy::Scope::Session) {
            rt.add_session_rule(session.id, rule);
        }
    } else if scope == Some(ApprovalScope::Session) {
        let ws = workspace_of(&session);
        let subject = if approval.tool.starts_with(crate::mcp::PREFIX) {
            // An MCP server's tool names no path and no command.
            Ok(gate::ResolvedSubject::default())
        } else {
            rt.gate.subject(&approval.tool, &final_params, ws.as_ref())
        };
        if let Ok(subject) = subject {
            let mut spec = crate::policy::session_rule(
                &approval.tool,
                &subject.paths,
                subject.command.as_deref(),
            );
            // Allowed outside the sandbox, the same call may run there again.
            if subject.unsandboxed {
                spec.sandbox = Some(crate::policy::SandboxMode::Off);
            }
            if let Ok(rule) = crate::policy::Rule::new(spec, crate::policy::Scope::Session) {
                rt.add_session_rule(session.id, rule);
            }
        }
    }
    let announce = SessionUpdate::ApprovalResolved {
        approval_id,
        decision,
        by: by.to_owned(),
    };
    rt.bus.publish(
        Event::new(EventKind::DecisionMade(made)).in_turn(Some(session.id), Some(approval.turn_id)),
    );
    let resolution = Resolution::Decided {
        decision,
        params: Some(final_params),
        feedback,
        scope,
    };
    let key = WaitKey::Approval(approval_id);
    if rt.hub.waits(key) {
        // Kept before the turn here acts on it (and before the client is
        // answered): acted on even if this instance dies first.
        super::cluster::keep_decision(
            rt,
            session.id,
            key,
            approval.tool_call_id.clone(),
            &resolution,
            None,
        )
        .await?;
        rt.hub.emit(&session, |_| announce);
        if rt.hub.resolve(key, resolution.clone()) {
            return Ok(approval);
        }
        super::cluster::resume_or_forward(
            rt,
            &session,
            key,
            approval.tool_call_id.clone(),
            resolution,
            None,
        )
        .await?;
    } else {
        // The turn waiting for it is on another instance (which announces the
        // decision, allocating its seq), or gone (then this one announces it).
        super::cluster::resume_or_forward(
            rt,
            &session,
            key,
            approval.tool_call_id.clone(),
            resolution,
            Some(announce),
        )
        .await?;
    }
    Ok(approval)
}

/// What a finished subtask answers its parent's `new_task` call.
pub(crate) fn subtask_resolution(outcome: &TurnOutcome) -> Resolution {
    Resolution::Answer(match outcome.stop {
        StopReason::EndTurn => outcome.result.clone().unwrap_or_default(),
        _ => format!(
            "The subtask ended without a result ({:?}): {}",
            outcome.stop,
            outcome.error.clone().unwrap_or_default()
        ),
    })
}

/// Delivers a finished subtask's result to the parent's `new_task` call.
pub(crate) async fn deliver_subtask(rt: &Arc<Runtime>, child: &Session, outcome: &TurnOutcome) {
    let Some(link) = &child.parent else {
        return;
    };
    let (parent, call_id) = (link.session_id, link.tool_call_id.clone());
    let resolution = subtask_resolution(outcome);
    if rt
        .hub
        .resolve(WaitKey::Subtask(child.id), resolution.clone())
    {
        return;
    }
    // The parent's turn is gone (a restart, or it waits on another
    // instance): resume it from its new_task call, under the parent's lease
    // like any turn, or forward the result to the instance holding it.
    match rt.store.get_session(parent).await {
        Ok(p) => {
            if let Err(e) = super::cluster::resume_or_forward(
                rt,
                &p,
                WaitKey::Subtask(child.id),
                call_id,
                resolution,
                None,
            )
            .await
            {
                tracing::error!(%parent, "cannot resume the parent of a finished subtask: {e}");
            }
        }
        Err(e) => tracing::error!(%parent, "the parent of a finished subtask is gone: {e}"),
    }
}

/// What one model reply streamed so far.
#[derive(Default)]
struct Reply {
    text: String,
    reasoning: Vec<Reasoning>,
    calls: Vec<ToolCall>,
    /// The request's usage and cost.
    usage: TokenUsage,
    cost: f64,
    /// Why the model ended its reply, if it said.
    finish: Option<FinishReason>,
}

/// A model reply: its text, its tool calls, and why it ended.
type Answered = (String, Vec<ToolCall>, Option<FinishReason>);

/// The model target of a session's requests and the request without its
/// messages: the system prompt (byte-stable: no time, nothing volatile) and
/// the agent's built-in tools, in registry order; with the session's agent.
/// The model chosen for the session (by any client) goes over the editor's
/// settings, whichever front end started the turn.
pub(super) async fn request_base(
    rt: &Runtime,
    session: &Session,
    editor_llm: Option<&LlmSettings>,
) -> Result<(Target, ChatRequest, Agent), RuntimeError> {
    let agent = session_agent(rt, session).await?;
    let llm = super::session_llm(editor_llm, session.model.as_ref());
    let mut target = rt.llm_target(
        session.workspace_folder.as_deref(),
        llm.as_ref(),
        Some(&agent.slug),
    )?;
    if !target.context.configured
        && let Some(w) = rt.llm.server_window(&target).await
    {
        target.context = target.context.with_window(w);
    }
    let ws = workspace_of(session);
    let env = prompt::Environment {
        workspace: ws.as_ref().map(|w| w.root().display().to_string()),
        open_files: ws
            .as_ref()
            .map(|w| {
                tools::Buffers::all_under(&rt.docs, w.root())
                    .into_iter()
                    .map(|(p, _)| w.relative(&p))
                    .collect()
            })
            .unwrap_or_default(),
        os: std::env::consts::OS.to_owned(),
    };
    let base = ChatRequest {
        model: target.model.clone(),
        system: prompt::system_prompt(&agent, &env),
        messages: Arc::default(),
        tools: prompt::tool_specs(&agent, &tools::registry()),
        max_tokens: target.max_tokens,
        reasoning: target.reasoning,
        thinking_budget: target.thinking_budget,
    };
    Ok((target, base, agent))
}

/// Announces a compaction to the clients and on the bus.
pub(super) fn announce_compaction(
    rt: &Runtime,
    session: &Session,
    turn_id: Option<TurnId>,
    c: &context::Compacted,
    reason: &str,
) {
    let compaction = c.marker.compaction.unwrap_or_default();
    rt.hub.emit(session, |_| SessionUpdate::Compacted {
        turn_id,
        compaction,
        elided: c.elided,
        summarized: c.summarized,
    });
    rt.bus.publish(
        Event::new(EventKind::ContextCompacted(ContextCompacted {
            tokens_before: compaction.tokens_before,
            tokens_after: compaction.tokens_after,
            elided: c.elided,
            summarized: c.summarized,
            reason: reason.to_owned(),
        }))
        .in_turn(Some(session.id), turn_id),
    );
}

/// One running turn.
pub(crate) struct Turn {
    rt: Arc<Runtime>,
    session_id: SessionId,
    turn_id: TurnId,
    cancel: CancellationToken,
    conn: Option<ConnId>,
    editor_llm: Option<LlmSettings>,
    usage: TokenUsage,
    cost: f64,
    /// The session's history, read once and then only what was appended.
    history: Vec<Message>,
    /// The calibrated token estimate of this turn's requests.
    estimator: Estimator,
    /// What the next request carries, kept up to date with `history`.
    view: context::ContextView,
    failures: usize,
    repetition: gate::Repetition,
    /// The gate over the tools of this turn's latest model request: the
    /// built-in ones and the MCP servers' (listed again at every request).
    gate: gate::Gate,
    arg_errors: HashMap<String, String>,
    presets: HashMap<String, Resolution>,
}

enum CallOutcome {
    Done(tools::ToolOutput),
    Failed(String),
    Rejected(String),
}

impl Turn {
    fn new(
        rt: Arc<Runtime>,
        session_id: SessionId,
        turn_id: TurnId,
        cancel: CancellationToken,
        conn: Option<ConnId>,
        editor_llm: Option<LlmSettings>,
    ) -> Self {
        Self {
            rt,
            session_id,
            turn_id,
            cancel,
            conn,
            editor_llm,
            usage: TokenUsage::default(),
            cost: 0.0,
            history: Vec::new(),
            estimator: Estimator::default(),
            view: context::ContextView::default(),
            failures: 0,
            repetition: gate::Repetition::default(),
            gate: gate::Gate::default(),
            arg_errors: HashMap::new(),
            presets: HashMap::new(),
        }
    }

    async fn session(&self) -> Result<Session, Stop> {
        Ok(self.rt.store.get_session(self.session_id).await?)
    }

    /// Publishes an event of this turn on the bus.
    fn publish(&self, kind: EventKind) {
        self.rt
            .bus
            .publish(Event::new(kind).in_turn(Some(self.session_id), Some(self.turn_id)));
    }

    fn emit(&self, session: &Session, update: SessionUpdate) {
        self.rt.hub.emit(session, |_| update);
    }

    /// Runs the turn to its end and announces the end exactly once.
    pub(crate) async fn run(
        mut self,
        presets: HashMap<String, Resolution>,
        done: Option<tokio::sync::oneshot::Sender<TurnOutcome>>,
    ) {
        self.presets = presets;
        let started = Instant::now();
        let agent_slug = self
            .rt
            .store
            .get_session(self.session_id)
            .await
            .map(|s| s.agent)
            .unwrap_or_default();
        self.publish(EventKind::ProcessingStarted(ProcessingStarted {
            agent: agent_slug,
        }));
        let outcome = match self.drive().await {
            Ok(o) => o,
            Err(Stop::Cancelled) => TurnOutcome {
                stop: StopReason::Cancelled,
                result: None,
                error: None,
            },
            Err(Stop::Error(e)) => {
                if matches!(
                    e,
                    TurnError::Store(StoreError::Fenced { .. })
                        | TurnError::Runtime(RuntimeError::Store(StoreError::Fenced { .. }))
                ) {
                    // Another instance took the session over: what this one
                    // says about it from now on stays here.
                    self.rt.hub.fence(self.session_id);
                }
                TurnOutcome {
                    stop: StopReason::Error,
                    result: None,
                    error: Some(e.to_string()),
                }
            }
        };
        if outcome.stop != StopReason::EndTurn {
            let reason = match outcome.stop {
                StopReason::Cancelled => "not run: the turn was cancelled",
                StopReason::MaxIterations => "not run: the turn reached its iteration limit",
                _ => "not run: the turn ended with an error",
            };
            if let Err(e) = close_open_calls(&self.rt, self.session_id, self.turn_id, reason).await
            {
                tracing::error!(session = %self.session_id, "cannot close the open tool calls: {e}");
            }
        }
        let child = match self.rt.store.get_session(self.session_id).await {
            Ok(s) if s.parent.is_some() => Some(s),
            _ => None,
        };
        if let Some(child) = &child {
            // Kept for the parent before this turn ends in the store: an
            // instance taking the parent over resumes it with the result.
            super::cluster::keep_subtask_result(&self.rt, child, &outcome).await;
        }
        self.finish(&outcome, started).await;
        if let Some(done) = done {
            let _ = done.send(outcome.clone());
        }
        if let Some(child) = &child {
            deliver_subtask(&self.rt, child, &outcome).await;
        }
    }

    async fn finish(&self, outcome: &TurnOutcome, started: Instant) {
        self.rt.hub.end_turn(self.session_id, self.turn_id);
        if self.rt.store.shared() {
            // Every call has its result: the decisions kept for them are spent.
            if let Err(e) = self.rt.store.drop_decisions(self.session_id).await
                && !matches!(e, StoreError::Fenced { .. })
            {
                tracing::warn!(session = %self.session_id, "cannot drop the spent decisions: {e}");
            }
            // The turn is no longer running in the store before its end is
            // announced: an instance taking an expired lease over finds no
            // turn to end, and the turn ends once.
            match self
                .rt
                .store
                .finish_turn(self.session_id, self.turn_id)
                .await
            {
                Ok(()) => {}
                Err(StoreError::Fenced { .. }) => {
                    // Another instance took the session over: it announces
                    // the end of this turn.
                    self.rt.hub.fence(self.session_id);
                    tracing::warn!(session = %self.session_id, turn = %self.turn_id, "the session was taken over by another instance; it announces the end of the turn");
                    // Forget the lost lease (this instance's other writes
                    // to the session need none).
                    super::cluster::release(&self.rt, self.session_id).await;
                    return;
                }
                Err(e) => {
                    // The database is away: the clients learn that the turn
                    // ended; the lease is kept (renewed) until the store
                    // knows it too, so no other instance ends it again.
                    tracing::warn!(session = %self.session_id, "cannot mark the turn as ended in the store (retrying): {e}");
                    self.announce_end(outcome, started).await;
                    super::cluster::finish_later(&self.rt, self.session_id, self.turn_id);
                    return;
                }
            }
        }
        self.announce_end(outcome, started).await;
        super::cluster::release(&self.rt, self.session_id).await;
    }

    /// Announces the end of the turn (`turnCompleted`) and publishes it.
    async fn announce_end(&self, outcome: &TurnOutcome, started: Instant) {
        let session = match self.rt.store.get_session(self.session_id).await {
            Ok(s) => Some(s),
            Err(StoreError::SessionNotFound(_)) => {
                tracing::warn!(session = %self.session_id, "the session was deleted during its turn");
                return;
            }
            // The store is unreachable (a database restarting): the clients
            // still learn that the turn ended.
            Err(e) => {
                tracing::warn!(session = %self.session_id, "cannot read the session at the end of its turn: {e}");
                None
            }
        };
        if let Some(session) = &session {
            super::checkpoints::announce_turn_diff(&self.rt, session, self.turn_id).await;
        }
        let usage = self.usage;
        let completed = SessionUpdate::TurnCompleted {
            turn_id: self.turn_id,
            stop_reason: outcome.stop,
            usage,
            cost_usd: self.cost,
            result: outcome.result.clone(),
            error: outcome.error.clone(),
        };
        match &session {
            Some(session) => self.emit(session, completed),
            None => {
                self.rt.hub.emit_loaded(self.session_id, |_| completed);
            }
        }
        let ended = TurnEnded {
            stop_reason: outcome.stop,
            error: outcome.error.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
            usage,
            cost_usd: self.cost,
            agent: session.map(|s| s.agent).unwrap_or_default(),
        };
        let kind = if outcome.stop == StopReason::Error {
            EventKind::TurnFailed(ended)
        } else {
            EventKind::ProcessingCompleted(ended)
        };
        self.publish(kind);
    }

    async fn drive(&mut self) -> Result<TurnOutcome, Stop> {
        let mut iterations = 0usize;
        loop {
            if self.cancel.is_cancelled() {
                return Err(Stop::Cancelled);
            }
            self.refresh_history().await?;
            let open = unanswered_calls(&self.history);
            if !open.is_empty() {
                if let Some(result) = self.run_calls(open).await? {
                    return Ok(TurnOutcome {
                        stop: StopReason::EndTurn,
                        result: Some(result),
                        error: None,
                    });
                }
                if self.failures >= MAX_CONSECUTIVE_FAILURES {
                    self.ask_after_failures().await?;
                }
                continue;
            }
            if iterations >= self.rt.max_iterations {
                return Ok(TurnOutcome {
                    stop: StopReason::MaxIterations,
                    result: None,
                    error: Some(format!(
                        "the turn made {iterations} model requests, the limit"
                    )),
                });
            }
            iterations += 1;
            let (text, calls, finish) = self.model_step().await?;
            if calls.is_empty() {
                // A reply cut by the output limit or refused says so.
                let stop = match finish {
                    Some(FinishReason::MaxTokens) => StopReason::MaxTokens,
                    Some(FinishReason::Refusal) => StopReason::Refusal,
                    _ => StopReason::EndTurn,
                };
                return Ok(TurnOutcome {
                    stop,
                    result: Some(text),
                    error: None,
                });
            }
        }
    }

    /// Brings the in-memory history up to date: the whole history once, then
    /// only the messages appended since (by this turn or anything it ran).
    async fn refresh_history(&mut self) -> Result<(), StoreError> {
        let after = self.history.last().map_or(0, |m| m.seq);
        let new = self
            .rt
            .store
            .history(self.session_id, after, usize::MAX)
            .await?
            .items;
        self.history.extend(new);
        Ok(())
    }

    /// After repeated failures the user decides how to go on.
    async fn ask_after_failures(&mut self) -> Result<(), Stop> {
        let interact = self.interact("");
        let answer = tools::Interact::ask(
            &interact,
            format!("The last {MAX_CONSECUTIVE_FAILURES} tool calls failed. How should I proceed?"),
            vec!["Try a different approach".into(), "Stop here".into()],
        )
        .await
        .map_err(|_| Stop::Cancelled)?;
        self.failures = 0;
        persist(
            &self.rt,
            self.session_id,
            new_message(Role::User, Some(self.turn_id), answer),
        )
        .await?;
        Ok(())
    }

    fn interact(&self, call_id: &str) -> CallInteract {
        CallInteract {
            rt: Arc::clone(&self.rt),
            session_id: self.session_id,
            turn_id: self.turn_id,
            tool_call_id: call_id.to_owned(),
            cancel: self.cancel.clone(),
            conn: self.conn,
            editor_llm: self.editor_llm.clone(),
        }
    }

    /// Compacts the context if the next request needs it (or always, with
    /// `force`), announcing it; the marker joins the in-memory history.
    async fn compact(
        &mut self,
        session: &Session,
        target: &Target,
        base: &ChatRequest,
        force: bool,
        reason: &str,
    ) -> Result<(), Stop> {
        self.view.sync(&self.history);
        let tokens = self.estimator.calibrated(self.view.request_tokens(base));
        if !force && tokens <= target.context.compact_at() {
            return Ok(());
        }
        let compactor = context::Compactor {
            rt: &self.rt,
            session_id: self.session_id,
            turn_id: Some(self.turn_id),
            target,
            base,
            estimator: &self.estimator,
        };
        let done = compactor
            .run(&self.history, force)
            .await
            .map_err(|e| Stop::Error(TurnError::Compaction(e)))?;
        if let Some(c) = done {
            self.usage.add(&c.usage);
            self.cost += c.cost;
            self.rt.hub.add_cost(session, c.cost);
            announce_compaction(&self.rt, session, Some(self.turn_id), &c, reason);
            self.history.push(c.marker);
        }
        Ok(())
    }

    /// One model request: streams text to the clients, persists the reply.
    /// The request is compacted first when it would pass the threshold of
    /// the window, and once more (then retried once) when the provider
    /// refuses it as too long.
    async fn model_step(&mut self) -> Result<Answered, Stop> {
        let session = self.session().await?;
        let (target, mut base, agent) =
            request_base(&self.rt, &session, self.editor_llm.as_ref()).await?;
        let mut all = tools::registry();
        let builtin = all.len();
        let mut unavailable = Vec::new();
        if agent.allows_mcp(true) {
            let ws = workspace_of(&session);
            // Servers start here, on first use, within their start-up
            // timeout. The session's own servers first: a name they share
            // with the user's is theirs.
            let root = ws.as_ref().map(Workspace::root);
            for servers in self.rt.mcp_for(self.session_id, root) {
                let (tools, failed) = tokio::select! {
                    t = servers.tools() => t,
                    () = self.cancel.cancelled() => return Err(Stop::Cancelled),
                };
                for t in tools {
                    if !all.iter().any(|a| a.name() == t.name()) {
                        all.push(t);
                    }
                }
                unavailable.extend(failed);
            }
        }
        self.gate = gate::Gate::with_unavailable(all, unavailable);
        if self.gate.tools().len() > builtin {
            base.tools = prompt::tool_specs(&agent, self.gate.tools());
        }
        let counter = Counter::for_model(&target.model);
        if self.estimator.counter() != counter {
            counter.load().await;
            self.estimator = Estimator::new(counter);
            self.view.set_counter(counter);
        }
        self.view
            .set_cap(Some(context::result_cap(&target.context)));
        self.compact(&session, &target, &base, false, "threshold")
            .await?;
        let mut retried = false;
        loop {
            match self.model_request(&session, &target, &base).await {
                Err(Stop::Error(TurnError::Model(e)))
                    if !retried && crate::llm::context::is_overflow(&e) =>
                {
                    tracing::warn!(session = %self.session_id, "the provider refused the request as too long; compacting and retrying once: {e}");
                    retried = true;
                    self.compact(&session, &target, &base, true, "overflow")
                        .await?;
                }
                other => return other,
            }
        }
    }

    async fn model_request(
        &mut self,
        session: &Session,
        target: &Target,
        base: &ChatRequest,
    ) -> Result<Answered, Stop> {
        let session = session.clone();
        self.view.sync(&self.history);
        let raw = self.view.request_tokens(base);
        let estimate = self.estimator.calibrated(raw);
        let request = ChatRequest {
            messages: self.view.messages(),
            ..base.clone()
        };
        if estimate > target.context.hard_limit() {
            return Err(Stop::Error(TurnError::Compaction(
                context::CompactError::TooLarge {
                    needed: estimate,
                    limit: target.context.hard_limit(),
                    window: target.context.window,
                },
            )));
        }
        let ctx = crate::llm::client::CallContext {
            session_id: Some(self.session_id),
            turn_id: Some(self.turn_id),
        };
        let mut stream = self.rt.llm.stream(target, request, ctx);
        let mut reply = Reply::default();
        let mut batch = Coalescer::new();
        let mut failure = None;
        // One timer, moved only when the pending batch's deadline changes.
        let timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(timer);
        let mut armed: Option<Instant> = None;
        // Made once: a `cancelled()` future per event costs a registration.
        let cancel = self.cancel.clone();
        let cancelled = cancel.cancelled();
        tokio::pin!(cancelled);
        'events: loop {
            let due = batch.deadline();
            if due != armed {
                if let Some(at) = due {
                    timer.as_mut().reset(at);
                }
                armed = due;
            }
            tokio::select! {
                biased;
                () = &mut cancelled => {
                    failure = Some(Stop::Cancelled);
                    break;
                }
                () = &mut timer, if armed.is_some() => {
                    armed = None;
                    if let Some(b) = batch.take(Instant::now()) {
                        self.flush(&session, b);
                    }
                }
                item = stream.next() => {
                    let Some(first) = item else { break };
                    // This event and every one already received, at one time.
                    let now = Instant::now();
                    let ready = std::iter::from_fn(|| stream.next_ready());
                    for event in std::iter::once(first).chain(ready) {
                        match event {
                            Ok(event) => self.take(&mut reply, &mut batch, &session, target, event, now),
                            Err(e) => {
                                failure = Some(Stop::from(e));
                                break 'events;
                            }
                        }
                    }
                }
            }
        }
        drop(stream);
        if let Some(b) = batch.take(Instant::now()) {
            self.flush(&session, b);
        }
        let Reply {
            text,
            reasoning,
            calls,
            usage: request_usage,
            cost: request_cost,
            finish,
        } = reply;
        if let Some(stop) = failure {
            // Keep what was streamed; tool calls of an unfinished reply are dropped.
            if !text.is_empty() || !reasoning.is_empty() {
                let mut m = new_message(Role::Assistant, Some(self.turn_id), text);
                m.reasoning = reasoning;
                persist(&self.rt, self.session_id, m).await?;
            }
            return Err(stop);
        }
        let reported = request_usage.input_tokens
            + request_usage.cache_read_tokens
            + request_usage.cache_write_tokens;
        self.estimator.observe(raw, reported);
        let session_cost = self.rt.hub.add_cost(&session, request_cost);
        self.emit(
            &session,
            SessionUpdate::ContextUsage(ContextUsage {
                turn_id: self.turn_id,
                used_tokens: if reported > 0 { reported } else { estimate },
                context_window: target.context.window,
                usage: request_usage,
                turn_cost_usd: self.cost,
                session_cost_usd: session_cost,
            }),
        );
        let mut m = new_message(Role::Assistant, Some(self.turn_id), text.clone());
        m.tool_calls = calls.clone();
        m.reasoning = reasoning;
        let m = persist(&self.rt, self.session_id, m).await?;
        self.history.push(m);
        Ok((text, calls, finish))
    }

    /// Takes one event of the model's reply, received at `now`: streamed
    /// text and reasoning go out through the coalescer.
    fn take(
        &mut self,
        reply: &mut Reply,
        batch: &mut Coalescer,
        session: &Session,
        target: &Target,
        event: LlmEvent,
        now: Instant,
    ) {
        match event {
            LlmEvent::TextDelta(d) => {
                reply.text.push_str(&d);
                for b in batch.push(DeltaKind::Text, &d, now) {
                    self.flush(session, b);
                }
            }
            LlmEvent::ReasoningDelta(d) => {
                match reply.reasoning.last_mut() {
                    Some(r) if r.signature.is_none() && r.redacted.is_none() => {
                        r.text.push_str(&d);
                    }
                    _ => reply.reasoning.push(Reasoning {
                        text: d.clone(),
                        ..Reasoning::default()
                    }),
                }
                for b in batch.push(DeltaKind::Reasoning, &d, now) {
                    self.flush(session, b);
                }
            }
            LlmEvent::ReasoningSignature(s) => match reply.reasoning.last_mut() {
                Some(r) if r.signature.is_none() && r.redacted.is_none() => r.signature = Some(s),
                _ => reply.reasoning.push(Reasoning {
                    signature: Some(s),
                    ..Reasoning::default()
                }),
            },
            LlmEvent::RedactedReasoning(data) => reply.reasoning.push(Reasoning {
                redacted: Some(data),
                ..Reasoning::default()
            }),
            LlmEvent::ToolCallFinished {
                id,
                name,
                arguments,
            } => {
                let arguments = match arguments {
                    Ok(v) if v.is_object() => v,
                    Ok(other) => {
                        self.arg_errors.insert(
                            id.clone(),
                            format!("the arguments must be a JSON object, got {other}"),
                        );
                        json!({})
                    }
                    Err(e) => {
                        self.arg_errors.insert(id.clone(), e.to_string());
                        json!({})
                    }
                };
                reply.calls.push(ToolCall {
                    id,
                    name,
                    arguments,
                });
            }
            LlmEvent::Usage(u) => {
                let cost = target.prices.cost(&target.model, &u);
                self.usage.add(&u);
                self.cost += cost;
                reply.usage.add(&u);
                reply.cost += cost;
            }
            LlmEvent::Finish(f) => reply.finish = Some(f),
            _ => {}
        }
    }

    /// Sends one coalesced batch of streamed text.
    fn flush(&self, session: &Session, (kind, delta): (DeltaKind, String)) {
        let turn_id = self.turn_id;
        self.emit(
            session,
            match kind {
                DeltaKind::Text => SessionUpdate::Token { turn_id, delta },
                DeltaKind::Reasoning => SessionUpdate::Reasoning { turn_id, delta },
            },
        );
    }

    fn announce(
        &self,
        session: &Session,
        call: &ToolCall,
        kind: ToolKind,
        status: ToolCallStatus,
        result: Option<String>,
    ) {
        self.emit(
            session,
            SessionUpdate::ToolCall {
                turn_id: self.turn_id,
                call: call.clone(),
                kind,
                status,
                result,
            },
        );
    }

    /// Runs the open calls of the last reply, in order. Returns the
    /// completion result when `attempt_completion` ran.
    async fn run_calls(&mut self, calls: Vec<ToolCall>) -> Result<Option<String>, Stop> {
        let mut skip: Option<String> = None;
        let mut completion = None;
        for call in calls {
            let session = self.session().await?;
            let kind = self
                .rt
                .gate
                .tool(&call.name)
                .map_or(ToolKind::Interaction, |t| t.kind());
            if let Some(reason) = &skip {
                persist(
                    &self.rt,
                    self.session_id,
                    tool_result(self.turn_id, &call.id, reason.clone(), true),
                )
                .await?;
                self.announce(
                    &session,
                    &call,
                    kind,
                    ToolCallStatus::Failed,
                    Some(reason.clone()),
                );
                continue;
            }
            self.announce(&session, &call, kind, ToolCallStatus::Pending, None);
            self.publish(EventKind::ExecutionRequested(ExecutionRequested {
                tool: call.name.clone(),
                tool_call_id: call.id.clone(),
            }));
            let started = Instant::now();
            let outcome = self.execute(&session, &call).await?;
            let duration_ms = started.elapsed().as_millis() as u64;
            let (text, is_error) = match &outcome {
                CallOutcome::Done(o) => (o.content.clone(), false),
                CallOutcome::Failed(m) | CallOutcome::Rejected(m) => (m.clone(), true),
            };
            persist(
                &self.rt,
                self.session_id,
                tool_result(self.turn_id, &call.id, text.clone(), is_error),
            )
            .await?;
            let session = self.session().await?;
            let status = if is_error {
                ToolCallStatus::Failed
            } else {
                ToolCallStatus::Completed
            };
            self.announce(&session, &call, kind, status, Some(text));
            let finished = ToolFinished {
                tool: call.name.clone(),
                tool_call_id: call.id.clone(),
                duration_ms,
                outcome: match outcome {
                    CallOutcome::Done(_) => CallOutcomeKind::Completed,
                    CallOutcome::Failed(_) => CallOutcomeKind::Failed,
                    CallOutcome::Rejected(_) => CallOutcomeKind::Rejected,
                },
            };
            let kind = if is_error {
                EventKind::ToolFailed(finished)
            } else {
                EventKind::ToolCompleted(finished)
            };
            self.publish(kind);
            match outcome {
                CallOutcome::Done(o) => {
                    self.failures = 0;
                    if let Some(result) = o.completion {
                        completion = Some(result);
                        skip = Some("not run: attempt_completion ended the turn".to_owned());
                    }
                }
                CallOutcome::Failed(_) => self.failures += 1,
                CallOutcome::Rejected(_) => {
                    skip =
                        Some("not run: the user rejected an earlier call of this reply".to_owned());
                }
            }
        }
        Ok(completion)
    }

    /// Checks, gates and runs one call.
    async fn execute(&mut self, session: &Session, call: &ToolCall) -> Result<CallOutcome, Stop> {
        let agent = session_agent(&self.rt, session).await?;
        let malformed = self.arg_errors.remove(&call.id);
        let preset = self.presets.remove(&call.id);
        if let Some(Resolution::Answer(answer)) = &preset {
            // A question answered, or a subtask finished, after a restart.
            if let Err(r) = gate::known_tool(self.gate.tools(), &call.name)
                .and_then(|t| gate::allowed_for_agent(&agent, &**t))
            {
                return Ok(CallOutcome::Failed(r.to_string()));
            }
            let text = if call.name == "new_task" {
                format!("Subtask completed. Result:\n{answer}")
            } else {
                format!("The user answered: {answer}")
            };
            return Ok(CallOutcome::Done(tools::ToolOutput::text(text)));
        }
        let ws = workspace_of(session);
        let policy = self
            .rt
            .policy(ws.as_ref().map(Workspace::root), Some(self.session_id));
        let proposal = gate::Proposal {
            tool: &call.name,
            args: &call.arguments,
            malformed: malformed.as_deref(),
        };
        let sandbox = self.rt.command_sandbox(&agent.slug);
        let cx = gate::GateContext {
            agent: &agent,
            workspace: ws.as_ref(),
            policy: &policy,
            decided: preset.is_some(),
            sandbox,
        };
        let cleared = match self.gate.check(&proposal, &cx, &mut self.repetition) {
            Ok(c) => c,
            Err(refusal) => return Ok(CallOutcome::Failed(refusal.to_string())),
        };
        let tool = cleared.tool;
        let mut run_in = cleared.run_in;
        let mut args = call.arguments.clone();
        // The files it names, as the editors have them now: the preview and
        // the run read the user's unsaved text.
        let files = named_files(ws.as_ref(), &cleared.subject.paths);
        self.refresh_buffers(&files).await;
        let decision = match (preset, cleared.verdict) {
            (Some(r), _) => Some(r),
            (None, gate::Verdict::Ask { rule, timeout_secs }) => {
                let asked = self
                    .ask_approval(session, call, &*tool, &rule, timeout_secs, ws.as_ref())
                    .await?;
                // The user may have edited them while deciding.
                self.refresh_buffers(&files).await;
                Some(asked)
            }
            _ => None,
        };
        match decision {
            None | Some(Resolution::Answer(_)) => {}
            Some(Resolution::Decided {
                decision,
                params,
                feedback,
                ..
            }) => match decision {
                Decision::Approve => {}
                Decision::Edit => {
                    if let Some(p) = params {
                        // Where a command runs follows the parameters that run.
                        if let Ok(subject) = self.gate.subject(&call.name, &p, ws.as_ref()) {
                            run_in = policy.decide(&subject.call(&call.name, sandbox)).run_in;
                        }
                        args = p;
                    }
                }
                Decision::Reject => {
                    let mut msg = "The user rejected this call; it was not run.".to_owned();
                    if let Some(f) = feedback.filter(|f| !f.trim().is_empty()) {
                        msg.push_str(&format!(" The user's feedback: {f}"));
                    }
                    return Ok(CallOutcome::Rejected(msg));
                }
                Decision::TimedOut => {
                    return Ok(CallOutcome::Rejected(
                        "Nobody approved this call in time; it was not run.".into(),
                    ));
                }
                Decision::Cancelled => return Err(Stop::Cancelled),
            },
        }
        let running = ToolCall {
            arguments: args.clone(),
            ..call.clone()
        };
        self.announce(
            session,
            &running,
            tool.kind(),
            ToolCallStatus::InProgress,
            None,
        );
        let commands = self.rt.command_env(
            self.session_id,
            ws.as_ref().map(Workspace::root),
            run_in,
            sandbox,
        );
        let root = ws.as_ref().map(|w| w.root().to_path_buf());
        let ctx = ToolContext {
            session_id: self.session_id,
            call_id: call.id.clone(),
            workspace: ws,
            agent,
            buffers: Arc::new(DocsView(Arc::clone(&self.rt))),
            editors: Arc::new(TurnEditors {
                rt: Arc::clone(&self.rt),
                session_id: self.session_id,
                conn: self.conn,
            }),
            interact: Arc::new(self.interact(&call.id)),
            cancel: self.cancel.clone(),
            limits: self.rt.limits.clone(),
            checkpoints: Arc::new(super::checkpoints::TurnCheckpoints {
                rt: Arc::clone(&self.rt),
                session_id: self.session_id,
                turn_id: self.turn_id,
                root,
            }),
            commands,
        };
        let result = tokio::select! {
            r = tool.call(&ctx, args) => r,
            () = self.cancel.cancelled() => return Err(Stop::Cancelled),
        };
        if self.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        Ok(match result {
            Ok(o) => CallOutcome::Done(o),
            Err(e) => CallOutcome::Failed(e.0),
        })
    }

    /// Asks the editors of the turn's connection and of the session's
    /// attached ones for their buffers of `files` (see
    /// [`tools::Editor::refresh`]); a cancel stops waiting.
    async fn refresh_buffers(&self, files: &[std::path::PathBuf]) {
        if files.is_empty() {
            return;
        }
        let mut conns: Vec<ConnId> = self.conn.into_iter().collect();
        conns.extend(self.rt.hub.watchers(self.session_id));
        tokio::select! {
            () = self.rt.editors.refresh(files, &conns) => {}
            () = self.cancel.cancelled() => {}
        }
    }

    /// Persists an approval, announces it and waits for the decision.
    async fn ask_approval(
        &self,
        session: &Session,
        call: &ToolCall,
        tool: &dyn tools::Tool,
        rule: &str,
        timeout_secs: Option<u64>,
        ws: Option<&Workspace>,
    ) -> Result<Resolution, Stop> {
        let approval = PendingApproval {
            id: ApprovalId::new(),
            session_id: self.session_id,
            turn_id: self.turn_id,
            tool_call_id: call.id.clone(),
            tool: call.name.clone(),
            params: call.arguments.clone(),
            rule: rule.to_owned(),
            preview: ws.and_then(|workspace| {
                let at = tools::PreviewContext {
                    workspace,
                    buffers: &self.rt.docs,
                    diff_threshold: self.rt.limits.diff_threshold,
                };
                // A call whose edit cannot be previewed (a diff that matches
                // nothing) is still shown; running it gives the same error.
                tool.preview(&call.arguments, &at).ok().flatten()
            }),
            created_at: Utc::now(),
        };
        let rx = self
            .rt
            .hub
            .wait_for(self.session_id, WaitKey::Approval(approval.id));
        self.rt.store.put_approval(approval.clone()).await?;
        self.emit(
            session,
            SessionUpdate::ApprovalRequired(Box::new(approval.clone())),
        );
        self.publish(EventKind::ApprovalRequired(ApprovalRequested {
            tool: call.name.clone(),
            tool_call_id: call.id.clone(),
            approval_id: approval.id,
            rule: rule.to_owned(),
        }));
        let timeout = async {
            match timeout_secs {
                Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = rx => r.map_err(|_| Stop::Error(TurnError::Interrupted("the approval was dropped"))),
            () = self.cancel.cancelled() => {
                let _ = resolve_approval_as(&self.rt, &approval, Decision::Cancelled, "turn").await;
                Err(Stop::Cancelled)
            }
            () = timeout => {
                match resolve_approval_as(&self.rt, &approval, Decision::TimedOut, "timeout").await {
                    Ok(true) => Ok(Resolution::Decided { decision: Decision::TimedOut, params: None, feedback: None, scope: None }),
                    // A client decided at the same moment: its decision stands.
                    _ => Err(Stop::Error(TurnError::Interrupted("the approval was decided while timing out"))),
                }
            }
        }
    }
}

/// The files (not directories) among a call's workspace-relative paths,
/// absolute.
fn named_files(ws: Option<&Workspace>, paths: &[String]) -> Vec<std::path::PathBuf> {
    let Some(ws) = ws else { return Vec::new() };
    paths
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| ws.root().join(p))
        .filter(|p| !p.is_dir())
        .collect()
}

/// The connected editors as a turn's tools find them: the turn's own
/// connection first, then the session's attached ones, then the others
/// (the rule of [`super::editors`]).
pub(super) struct TurnEditors {
    pub(super) rt: Arc<Runtime>,
    pub(super) session_id: SessionId,
    pub(super) conn: Option<ConnId>,
}

impl tools::Editors for TurnEditors {
    fn editor_for(&self, path: &std::path::Path) -> Option<Arc<dyn tools::Editor>> {
        let mut preferred: Vec<ConnId> = self.conn.into_iter().collect();
        preferred.extend(self.rt.hub.watchers(self.session_id));
        self.rt.editors.editor_for(path, &preferred)
    }

    fn terminal(&self) -> Option<Arc<dyn tools::Editor>> {
        self.rt.editors.of(self.conn?).filter(|e| e.has_terminal())
    }
}

/// The open buffers of every connection, as tools see them.
struct DocsView(Arc<Runtime>);

impl tools::Buffers for DocsView {
    fn text(&self, path: &std::path::Path) -> Option<String> {
        self.0.docs.text(path)
    }
    fn all_under(&self, root: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
        self.0.docs.all_under(root)
    }
}
