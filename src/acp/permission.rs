//! Approvals and questions as `session/request_permission`.
//!
//! An approval is asked with four options: `allow_once` (approve),
//! `allow_always` (approve, and the same tool and argument pattern is allowed
//! for the rest of the session: `ApprovalScope::Session`), `reject_once`
//! (reject) and `reject_always` (reject, and every later call of that tool in
//! the session is denied: a session deny rule, `ApprovalScope::Session` with
//! a rejection, whichever client asked). A question
//! (`ask_followup_question`) is asked with one option per suggested answer
//! and a `decline` option.
//!
//! The `cancelled` outcome is what a client answers once it cancelled the
//! turn: the turn is cancelled (if the client's `session/cancel` did not
//! already). A request whose approval was resolved meanwhile (by another
//! client, a timeout or the turn's cancellation) is no longer waited for: its
//! late answer changes nothing.

use std::rc::Rc;

use agent_client_protocol::{self as acp, Client as _};
use serde_json::json;
use tokio::sync::oneshot;

use super::connection::Connection;
use super::elicitation;
use super::events::text;
use super::transport::WITHDRAW_EXT;
use crate::domain::{ApprovalScope, Decision, PendingApproval, PendingQuestion};
use crate::runtime::ApprovalDecision;

/// Option ids of an approval.
pub(super) const ALLOW_ONCE: &str = "allow_once";
pub(super) const ALLOW_ALWAYS: &str = "allow_always";
pub(super) const REJECT_ONCE: &str = "reject_once";
pub(super) const REJECT_ALWAYS: &str = "reject_always";
/// The option of a question that answers nothing.
pub(super) const DECLINE: &str = "decline";
/// What the model reads when the user declined to answer.
pub(super) const DECLINED: &str = "The user chose not to answer.";

/// The options of an approval.
pub(super) fn approval_options() -> Vec<acp::PermissionOption> {
    vec![
        acp::PermissionOption::new(ALLOW_ONCE, "Allow", acp::PermissionOptionKind::AllowOnce),
        acp::PermissionOption::new(
            ALLOW_ALWAYS,
            "Always allow in this session",
            acp::PermissionOptionKind::AllowAlways,
        ),
        acp::PermissionOption::new(REJECT_ONCE, "Reject", acp::PermissionOptionKind::RejectOnce),
        acp::PermissionOption::new(
            REJECT_ALWAYS,
            "Always reject in this session",
            acp::PermissionOptionKind::RejectAlways,
        ),
    ]
}

/// What the user said about an approval.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ApprovalAnswer {
    /// Decide it.
    Decide { decision: ApprovalDecision },
    /// The client cancelled the turn.
    Cancelled,
}

fn decision(
    decision: Decision,
    scope: Option<ApprovalScope>,
    feedback: Option<String>,
) -> ApprovalDecision {
    ApprovalDecision {
        decision,
        params: None,
        feedback,
        scope,
    }
}

fn reject_always_feedback(tool: &str) -> String {
    format!("The user rejects every {tool} call for the rest of this session.")
}

/// The user's answer to an approval's request.
///
/// # Errors
/// An option this request did not offer (the message names it).
pub(super) fn approval_answer(
    tool: &str,
    outcome: &acp::RequestPermissionOutcome,
) -> Result<ApprovalAnswer, String> {
    let option = match outcome {
        acp::RequestPermissionOutcome::Cancelled => return Ok(ApprovalAnswer::Cancelled),
        acp::RequestPermissionOutcome::Selected(s) => s.option_id.0.as_ref(),
        _ => return Err("an outcome this agent does not know".into()),
    };
    let d = match option {
        ALLOW_ONCE => decision(Decision::Approve, Some(ApprovalScope::Once), None),
        ALLOW_ALWAYS => decision(Decision::Approve, Some(ApprovalScope::Session), None),
        REJECT_ONCE => decision(Decision::Reject, None, None),
        REJECT_ALWAYS => decision(
            Decision::Reject,
            Some(ApprovalScope::Session),
            Some(reject_always_feedback(tool)),
        ),
        other => return Err(format!("option `{other}` was not offered")),
    };
    Ok(ApprovalAnswer::Decide { decision: d })
}

/// The options of a question: one per suggestion, then `decline`.
pub(super) fn question_options(q: &PendingQuestion) -> Vec<acp::PermissionOption> {
    q.suggestions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            acp::PermissionOption::new(
                format!("answer-{i}"),
                s.clone(),
                acp::PermissionOptionKind::AllowOnce,
            )
        })
        .chain([acp::PermissionOption::new(
            DECLINE,
            "Don't answer",
            acp::PermissionOptionKind::RejectOnce,
        )])
        .collect()
}

/// The answer a question's request got (`None`: the client cancelled the turn).
///
/// # Errors
/// An option this request did not offer.
pub(super) fn question_answer(
    q: &PendingQuestion,
    outcome: &acp::RequestPermissionOutcome,
) -> Result<Option<String>, String> {
    let option = match outcome {
        acp::RequestPermissionOutcome::Cancelled => return Ok(None),
        acp::RequestPermissionOutcome::Selected(s) => s.option_id.0.as_ref(),
        _ => return Err("an outcome this agent does not know".into()),
    };
    if option == DECLINE {
        return Ok(Some(DECLINED.to_owned()));
    }
    option
        .strip_prefix("answer-")
        .and_then(|i| i.parse::<usize>().ok())
        .and_then(|i| q.suggestions.get(i))
        .map(|s| Some(s.clone()))
        .ok_or_else(|| format!("option `{option}` was not offered"))
}

/// Withdraws the agent's pending request to the client about a tool call
/// (a permission request or a form: it was decided elsewhere, or its turn
/// ended), so the client closes its prompt (`$/cancel_request`, sent by the
/// transport).
pub(super) async fn withdraw(
    peer: &acp::AgentSideConnection,
    session: &acp::SessionId,
    call: &str,
) {
    let params = json!({"sessionId": session.0.as_ref(), "toolCallId": call});
    let Ok(params) = serde_json::value::to_raw_value(&params) else {
        return;
    };
    if let Err(e) = peer
        .ext_notification(acp::ExtNotification::new(WITHDRAW_EXT, params.into()))
        .await
    {
        tracing::debug!("cannot withdraw a request to the client: {e}");
    }
}

/// Asks the client about an approval and decides it with the answer. Stops
/// waiting when `resolved` fires (the approval was resolved otherwise) and
/// withdraws the request.
pub(super) async fn ask_approval(
    conn: Rc<Connection>,
    session: acp::SessionId,
    approval: Box<PendingApproval>,
    call: Box<acp::ToolCallUpdate>,
    resolved: oneshot::Receiver<()>,
) {
    let decide = |d: ApprovalDecision| {
        let conn = Rc::clone(&conn);
        let id = approval.id;
        async move {
            if let Err(e) = conn.rt.decide_approval(id, d, &conn.by()).await {
                // Decided by someone else first: theirs stands.
                tracing::info!(approval = %id, "ACP decision not applied: {e}");
            }
        }
    };
    let Some(peer) = conn.peer() else { return };
    let call_id = call.tool_call_id.clone();
    let request = acp::RequestPermissionRequest::new(session.clone(), *call, approval_options());
    let response = tokio::select! {
        r = peer.request_permission(request) => r,
        _ = resolved => return withdraw(&peer, &session, &call_id.0).await,
    };
    conn.forget_approval(approval.id);
    match response
        .map_err(|e| e.to_string())
        .and_then(|r| approval_answer(&approval.tool, &r.outcome))
    {
        Ok(ApprovalAnswer::Decide { decision: d }) => decide(d).await,
        Ok(ApprovalAnswer::Cancelled) => conn.cancel_turn(approval.session_id).await,
        Err(e) => {
            // A client that cannot ask must not leave the turn waiting forever.
            tracing::warn!(approval = %approval.id, "the ACP client did not answer a permission request: {e}");
            let feedback =
                format!("The editor could not ask the user ({e}); the call was not run.");
            decide(decision(Decision::Reject, None, Some(feedback))).await;
        }
    }
}

/// What the model reads when its question was shown as a message.
pub(super) const ASKED_AS_MESSAGE: &str = "This editor cannot ask questions in a form or a \
    prompt: your question was shown to the user as a message. End your turn now; the user \
    answers in their next message.";

/// Asks the client a question and answers it with what the user said: in a
/// form (`elicitation/create`) when the client offers form elicitation, else
/// as a permission request with the suggestions as options, else (no
/// suggestions to offer, or the client failed the request) as a message
/// that the user answers with their next prompt. Stops waiting when
/// `resolved` fires (the turn ended, or another client answered); a form or
/// a permission request is then withdrawn.
pub(super) async fn ask_question(
    conn: Rc<Connection>,
    session: acp::SessionId,
    question: PendingQuestion,
    call: Box<acp::ToolCallUpdate>,
    synthetic: bool,
    resolved: oneshot::Receiver<()>,
) {
    let Some(peer) = conn.peer() else { return };
    let call_id = call.tool_call_id.clone();
    let answer = if conn.elicits() {
        // The tool call shows the question, as a permission request would.
        conn.notify(&session, acp::SessionUpdate::ToolCallUpdate(*call))
            .await;
        let asked = elicitation::ask(&peer, &session, &call_id.0, &question, resolved);
        match asked.await {
            Some(a) => a,
            None => return,
        }
    } else if question.suggestions.is_empty() {
        say_question(&conn, &session, &question).await
    } else {
        let request =
            acp::RequestPermissionRequest::new(session.clone(), *call, question_options(&question));
        let response = tokio::select! {
            r = peer.request_permission(request) => r,
            _ = resolved => return withdraw(&peer, &session, &call_id.0).await,
        };
        match response
            .map_err(|e| e.to_string())
            .and_then(|r| question_answer(&question, &r.outcome))
        {
            Ok(Some(a)) => a,
            Ok(None) => return conn.cancel_turn(question.session_id).await,
            Err(e) => {
                tracing::warn!(question = %question.id, "the ACP client did not answer a question: {e}");
                say_question(&conn, &session, &question).await
            }
        }
    };
    if let Err(e) = conn
        .rt
        .answer_question(question.session_id, question.id, answer.clone())
        .await
    {
        tracing::info!(question = %question.id, "ACP answer not applied: {e}");
        return;
    }
    if synthetic {
        let done = acp::ToolCallUpdate::new(
            call_id,
            acp::ToolCallUpdateFields::new()
                .status(acp::ToolCallStatus::Completed)
                .content(vec![acp::ToolCallContent::Content(acp::Content::new(
                    text(answer),
                ))]),
        );
        conn.notify(&session, acp::SessionUpdate::ToolCallUpdate(done))
            .await;
    }
}

/// Shows a question as the agent's message, with its suggestions; returns
/// what the model reads instead of an answer.
async fn say_question(conn: &Connection, session: &acp::SessionId, q: &PendingQuestion) -> String {
    let mut said = q.question.clone();
    for s in &q.suggestions {
        said.push_str("\n- ");
        said.push_str(s);
    }
    let chunk = acp::ContentChunk::new(text(said)).message_id(uuid::Uuid::new_v4().to_string());
    conn.notify(session, acp::SessionUpdate::AgentMessageChunk(chunk))
        .await;
    ASKED_AS_MESSAGE.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{QuestionId, SessionId, TurnId};

    fn selected(id: &str) -> acp::RequestPermissionOutcome {
        acp::RequestPermissionOutcome::Selected(acp::SelectedPermissionOutcome::new(id.to_owned()))
    }

    #[test]
    fn the_four_options_decide_approvals() {
        let kinds: Vec<_> = approval_options()
            .iter()
            .map(|o| serde_json::to_value(o).expect("json")["kind"].clone())
            .collect();
        assert_eq!(
            kinds,
            ["allow_once", "allow_always", "reject_once", "reject_always"]
        );
        let answer = |o| approval_answer("write_file", &selected(o)).expect("offered");
        let ApprovalAnswer::Decide { decision: d } = answer(ALLOW_ALWAYS) else {
            panic!()
        };
        assert_eq!(
            (d.decision, d.scope),
            (Decision::Approve, Some(ApprovalScope::Session))
        );
        let ApprovalAnswer::Decide { decision: d } = answer(ALLOW_ONCE) else {
            panic!()
        };
        assert_eq!(
            (d.decision, d.scope),
            (Decision::Approve, Some(ApprovalScope::Once))
        );
        let ApprovalAnswer::Decide { decision: d } = answer(REJECT_ONCE) else {
            panic!()
        };
        assert_eq!(
            (d.decision, d.scope, d.feedback),
            (Decision::Reject, None, None)
        );
        let ApprovalAnswer::Decide { decision: d } = answer(REJECT_ALWAYS) else {
            panic!()
        };
        assert_eq!(
            (d.decision, d.scope),
            (Decision::Reject, Some(ApprovalScope::Session)),
            "a session deny rule"
        );
        assert!(
            d.feedback
                .unwrap_or_default()
                .contains("every write_file call")
        );
        assert_eq!(
            approval_answer("t", &acp::RequestPermissionOutcome::Cancelled),
            Ok(ApprovalAnswer::Cancelled)
        );
        assert_eq!(
            approval_answer("t", &selected("maybe")),
            Err("option `maybe` was not offered".into())
        );
    }

    #[test]
    fn a_question_offers_its_suggestions() {
        let q = PendingQuestion {
            id: QuestionId::new(),
            session_id: SessionId::new(),
            turn_id: TurnId::new(),
            seq: 1,
            question: "Which file?".into(),
            suggestions: vec!["a.rs".into(), "b.rs".into()],
        };
        let names: Vec<_> = question_options(&q)
            .iter()
            .map(|o| o.name.clone())
            .collect();
        assert_eq!(names, ["a.rs", "b.rs", "Don't answer"]);
        assert_eq!(
            question_answer(&q, &selected("answer-1")),
            Ok(Some("b.rs".into()))
        );
        assert_eq!(
            question_answer(&q, &selected(DECLINE)),
            Ok(Some(DECLINED.into()))
        );
        assert_eq!(
            question_answer(&q, &acp::RequestPermissionOutcome::Cancelled),
            Ok(None)
        );
        assert!(question_answer(&q, &selected("answer-2")).is_err());
    }
}
