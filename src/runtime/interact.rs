//! How tools reach the user and steer the session during a turn.

use std::sync::Arc;

use chrono::Utc;
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::TurnInput;
use super::hub::{Resolution, WaitKey};
use super::turn::{send_message, switch_agent};
use super::{ConnId, Runtime};
use crate::domain::{
    ParentLink, PendingQuestion, QuestionId, Session, SessionId, SessionUpdate, TurnId,
};
use crate::llm::config::LlmSettings;
use crate::tools::{Interact, ToolError};

/// The [`Interact`] of one tool call.
pub(crate) struct CallInteract {
    pub(crate) rt: Arc<Runtime>,
    pub(crate) session_id: SessionId,
    pub(crate) turn_id: TurnId,
    pub(crate) tool_call_id: String,
    pub(crate) cancel: CancellationToken,
    pub(crate) conn: Option<ConnId>,
    pub(crate) editor_llm: Option<LlmSettings>,
}

fn err(e: impl std::fmt::Display) -> ToolError {
    ToolError::new(e.to_string())
}

impl Interact for CallInteract {
    fn ask(
        &self,
        question: String,
        suggestions: Vec<String>,
    ) -> BoxFuture<'_, Result<String, ToolError>> {
        Box::pin(async move {
            let session = self
                .rt
                .store
                .get_session(self.session_id)
                .await
                .map_err(err)?;
            let id = QuestionId::new();
            let rx = self.rt.hub.wait_for(self.session_id, WaitKey::Question(id));
            let reserved = self.rt.hub.reserve(&session);
            let seq = reserved.seq();
            let q = PendingQuestion {
                id,
                session_id: self.session_id,
                turn_id: self.turn_id,
                seq,
                question,
                suggestions,
            };
            // Persisted before anyone is told, so that a reconnect or a restart still shows it.
            self.rt.store.put_question(q.clone()).await.map_err(err)?;
            reserved.emit(SessionUpdate::Question(q));
            tokio::select! {
                r = rx => match r {
                    Ok(Resolution::Answer(a)) => Ok(a),
                    Ok(other) => Err(ToolError::new(format!("unexpected resolution {other:?}"))),
                    Err(_) => Err(ToolError::new("the question was dropped")),
                },
                () = self.cancel.cancelled() => {
                    self.rt.hub.forget(WaitKey::Question(id));
                    let _ = self.rt.store.take_question(id).await;
                    Err(ToolError::new("cancelled"))
                }
            }
        })
    }

    fn switch_agent(&self, to: String, reason: String) -> BoxFuture<'_, Result<(), ToolError>> {
        Box::pin(async move {
            switch_agent(&self.rt, self.session_id, &to, &reason)
                .await
                .map_err(err)
        })
    }

    fn subtask(&self, agent: String, message: String) -> BoxFuture<'_, Result<String, ToolError>> {
        Box::pin(async move {
            let parent = self
                .rt
                .store
                .get_session(self.session_id)
                .await
                .map_err(err)?;
            if !self
                .rt
                .agents_for(parent.workspace_folder.as_deref())
                .map_err(err)?
                .iter()
                .any(|a| a.slug == agent)
            {
                return Err(ToolError::new(format!("unknown agent `{agent}`")));
            }
            let title: String = message
                .lines()
                .next()
                .unwrap_or("Subtask")
                .chars()
                .take(60)
                .collect();
            let now = Utc::now();
            let child = Session {
                id: SessionId::new(),
                title: format!("Subtask: {title}"),
                workspace_folder: parent.workspace_folder.clone(),
                agent: agent.clone(),
                created_at: now,
                updated_at: now,
                message_count: 0,
                last_seq: 0,
                parent: Some(ParentLink {
                    session_id: parent.id,
                    tool_call_id: self.tool_call_id.clone(),
                }),
                // The parent's chosen model, as its turns use it.
                model: parent.model.clone(),
            };
            // The link is persisted with the child: a restart still finds the parent.
            let child = self.rt.store.create_session(child).await.map_err(err)?;
            let rx = self
                .rt
                .hub
                .wait_for(self.session_id, WaitKey::Subtask(child.id));
            let input = TurnInput {
                session_id: child.id,
                text: message,
                agent: None,
                context: None,
                conn: self.conn,
                editor_llm: self.editor_llm.clone(),
            };
            send_message(&self.rt, input).await.map_err(err)?;
            tokio::select! {
                r = rx => match r {
                    Ok(Resolution::Answer(result)) => Ok(result),
                    Ok(other) => Err(ToolError::new(format!("unexpected resolution {other:?}"))),
                    Err(_) => Err(ToolError::new("the subtask was dropped")),
                },
                () = self.cancel.cancelled() => {
                    self.rt.hub.forget(WaitKey::Subtask(child.id));
                    self.rt.hub.cancel(child.id);
                    Err(ToolError::new("cancelled"))
                }
            }
        })
    }

    fn command_output(&self, stream: &'static str, text: String) {
        self.rt
            .hub
            .emit_loaded(self.session_id, |_| SessionUpdate::CommandOutput {
                turn_id: self.turn_id,
                tool_call_id: self.tool_call_id.clone(),
                stream: stream.to_owned(),
                text,
            });
    }
}
