//! Questions (`ask_followup_question`) as `elicitation/create` in form mode,
//! to clients that offer form elicitation (`clientCapabilities.elicitation.form`).
//!
//! The request is scoped to the session and the question's tool call; its
//! message is the question. The form (a flat object of primitive fields,
//! all the elicitation schema allows):
//! - without suggestions, one required string field `answer`;
//! - with suggestions, a string field `choice` whose `enum` is the
//!   suggestions, and a free text field `answer`, neither required. One
//!   field cannot be both: `enum` and `oneOf` restrict a string to their
//!   values, and the schema has no `anyOf` to add "or any text". The free
//!   text wins when both are filled in.
//!
//! `accept` answers the question with that text (an empty form: the user
//! chose not to answer); `decline` and `cancel` tell the model the user
//! chose not to answer. The pinned SDK knows neither the method nor
//! `$/cancel_request`: the request leaves as an extension request, renamed by
//! `transport.rs`, and when the question is resolved otherwise (the turn
//! ended, another client answered) the extension notification that
//! `transport.rs` turns into `$/cancel_request` of that request.

use agent_client_protocol::{self as acp, Client as _};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::permission::{DECLINED, withdraw};
use super::transport::ELICIT_EXT;
use crate::domain::PendingQuestion;

/// The form's field for a suggestion.
pub(super) const CHOICE: &str = "choice";
/// The form's free text field.
pub(super) const ANSWER: &str = "answer";

/// The params of the `elicitation/create` request that asks `q`, shown in
/// tool call `call`.
pub(super) fn request(session: &acp::SessionId, call: &str, q: &PendingQuestion) -> Value {
    let schema = if q.suggestions.is_empty() {
        json!({
            "type": "object",
            "properties": {ANSWER: {"type": "string", "title": "Answer"}},
            "required": [ANSWER],
        })
    } else {
        json!({
            "type": "object",
            "properties": {
                CHOICE: {"type": "string", "title": "Suggested answers", "enum": q.suggestions},
                ANSWER: {"type": "string", "title": "Or your own answer"},
            },
        })
    };
    json!({
        "sessionId": session.0.as_ref(),
        "toolCallId": call,
        "mode": "form",
        "message": q.question,
        "requestedSchema": schema,
    })
}

/// The answer the model reads, from the client's response.
///
/// # Errors
/// An action this agent does not know (the message names it).
pub(super) fn answer(response: &Value) -> Result<String, String> {
    match response["action"].as_str() {
        Some("accept") => {
            let field = |k: &str| {
                response["content"][k]
                    .as_str()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
            };
            Ok(field(ANSWER)
                .or_else(|| field(CHOICE))
                .map_or_else(|| DECLINED.to_owned(), str::to_owned))
        }
        Some("decline" | "cancel") => Ok(DECLINED.to_owned()),
        other => Err(format!(
            "an elicitation action this agent does not know: {}",
            other.unwrap_or("none")
        )),
    }
}

/// Asks the client `q` in a form; the answer for the model, or `None` when
/// `resolved` fired first (the question was resolved otherwise: the request
/// is cancelled).
pub(super) async fn ask(
    peer: &acp::AgentSideConnection,
    session: &acp::SessionId,
    call: &str,
    q: &PendingQuestion,
    resolved: oneshot::Receiver<()>,
) -> Option<String> {
    let raw = |v: &Value| serde_json::value::to_raw_value(v).ok().map(Into::into);
    let params = raw(&request(session, call, q))?;
    let response = tokio::select! {
        r = peer.ext_method(acp::ExtRequest::new(ELICIT_EXT, params)) => r,
        _ = resolved => {
            withdraw(peer, session, call).await;
            return None;
        }
    };
    let answered = response
        .map_err(|e| e.to_string())
        .and_then(|r| serde_json::from_str::<Value>(r.0.get()).map_err(|e| e.to_string()))
        .and_then(|v| answer(&v));
    Some(answered.unwrap_or_else(|e| {
        // A client that cannot ask must not leave the turn waiting forever.
        tracing::warn!(question = %q.id, "the ACP client did not answer an elicitation: {e}");
        DECLINED.to_owned()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{QuestionId, SessionId, TurnId};

    fn question(suggestions: &[&str]) -> PendingQuestion {
        PendingQuestion {
            id: QuestionId::new(),
            session_id: SessionId::new(),
            turn_id: TurnId::new(),
            seq: 1,
            question: "Which color?".into(),
            suggestions: suggestions.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn the_form_offers_the_suggestions_and_free_text() {
        let session = acp::SessionId::new("s1");
        let r = request(&session, "q1", &question(&["red", "blue"]));
        assert_eq!(
            (&r["sessionId"], &r["toolCallId"], &r["mode"], &r["message"]),
            (
                &json!("s1"),
                &json!("q1"),
                &json!("form"),
                &json!("Which color?")
            )
        );
        let schema = &r["requestedSchema"];
        assert_eq!(schema["properties"][CHOICE]["enum"], json!(["red", "blue"]));
        assert_eq!(schema["properties"][ANSWER]["type"], "string");
        assert!(schema.get("required").is_none(), "{schema}");

        let r = request(&session, "q2", &question(&[]));
        let schema = &r["requestedSchema"];
        assert!(schema["properties"].get(CHOICE).is_none(), "{schema}");
        assert_eq!(schema["required"], json!([ANSWER]));
    }

    #[test]
    fn accept_answers_decline_and_cancel_do_not() {
        let accept = |content: Value| answer(&json!({"action": "accept", "content": content}));
        assert_eq!(accept(json!({CHOICE: "blue"})), Ok("blue".into()));
        assert_eq!(
            accept(json!({CHOICE: "blue", ANSWER: " teal "})),
            Ok("teal".into()),
            "the free text wins"
        );
        assert_eq!(accept(json!({ANSWER: ""})), Ok(DECLINED.into()));
        assert_eq!(
            answer(&json!({"action": "accept"})),
            Ok(DECLINED.into()),
            "no content"
        );
        assert_eq!(answer(&json!({"action": "decline"})), Ok(DECLINED.into()));
        assert_eq!(answer(&json!({"action": "cancel"})), Ok(DECLINED.into()));
        assert!(answer(&json!({"action": "_later"})).is_err());
    }
}
