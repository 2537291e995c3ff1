//! Checkpoints of agent edits, and rolling a session's files back.
//!
//! Before an agent edit changes a file on disk, the file's previous content
//! is saved in the store (content-addressed, deduplicated, only the files
//! edits touch: never the user's `.git`, never a copy of the tree, nothing
//! that grows with the repository). Per turn and file the store keeps the
//! content before the turn's first edit and after its last.
//!
//! What is covered: `write_file` and `apply_diff` (files created, changed or
//! emptied). What is not: changes made by commands (`execute_command`),
//! which the docs say; a restore leaves them as they are.
//!
//! Restoring a turn puts every file the agent changed in that turn or later
//! back as it was before the turn (a file the agent created is removed). A
//! file whose content is no longer what the agent left (the user changed it
//! since) is a conflict and left alone unless the client says to overwrite.
//! Each file is written atomically (a temporary file renamed over it), or
//! through the editor that has it open, so its undo works.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::{ConnId, Runtime, RuntimeError};
use crate::domain::events::FileStat;
use crate::domain::{CheckpointOutcome, FileCheckpoint, SessionId, SessionUpdate, TurnId};
use crate::store::content_hash;
use crate::tools::{self, FileEdit};
use crate::workspace::Workspace;

/// The largest file whose previous content is saved.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// The most new content one session's checkpoints store.
pub const MAX_SESSION_BYTES: u64 = 256 * 1024 * 1024;

/// One turn's checkpoint: the files it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnCheckpoint {
    /// The turn.
    pub turn_id: TurnId,
    /// The files, by path.
    pub files: Vec<FileStat>,
}

/// What a restore did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Files put back (written or removed).
    pub restored: Vec<String>,
    /// Files left alone: changed since the agent's last edit.
    pub conflicts: Vec<String>,
    /// The first message hidden from the model, when the conversation was
    /// truncated.
    pub truncated_from_seq: Option<u64>,
}

/// A turn's checkpoint recorder, given to its tools.
pub(super) struct TurnCheckpoints {
    pub rt: Arc<Runtime>,
    pub session_id: SessionId,
    pub turn_id: TurnId,
    pub root: Option<std::path::PathBuf>,
}

#[async_trait::async_trait]
impl tools::Checkpoints for TurnCheckpoints {
    async fn record(
        &self,
        path: &Path,
        before: Option<Vec<u8>>,
        after: Option<Vec<u8>>,
    ) -> Option<String> {
        let rel = match &self.root {
            Some(root) => path.strip_prefix(root).ok()?.to_string_lossy().into_owned(),
            None => return None,
        };
        let size = before.as_ref().map_or(0, Vec::len) as u64;
        if size > MAX_FILE_BYTES {
            return Some(format!(
                "{rel} was not checkpointed: it is larger than {} MiB, so this edit cannot be rolled back.",
                MAX_FILE_BYTES / 1024 / 1024
            ));
        }
        match self
            .rt
            .store
            .put_checkpoint(
                self.session_id,
                self.turn_id,
                rel.clone(),
                before,
                after,
                MAX_SESSION_BYTES,
            )
            .await
        {
            Ok(CheckpointOutcome::Recorded) => None,
            Ok(CheckpointOutcome::SessionLimit { used, limit }) => Some(format!(
                "{rel} was not checkpointed: this session's checkpoints hold {} MiB, the limit is {} MiB, so this edit cannot be rolled back.",
                used / 1024 / 1024,
                limit / 1024 / 1024
            )),
            Err(e) => {
                tracing::error!(session = %self.session_id, "cannot checkpoint {rel}: {e}");
                Some(format!(
                    "{rel} was not checkpointed ({e}), so this edit cannot be rolled back."
                ))
            }
        }
    }
}

async fn content(
    rt: &Runtime,
    r: Option<&crate::domain::ContentRef>,
) -> Result<Option<Vec<u8>>, RuntimeError> {
    match r {
        None => Ok(None),
        Some(r) => Ok(Some(
            rt.store
                .checkpoint_content(r.hash.clone())
                .await?
                .unwrap_or_default(),
        )),
    }
}

/// The line diff stat and unified diff between two contents.
fn diff(path: &str, before: Option<&[u8]>, after: Option<&[u8]>) -> (FileStat, String) {
    let old = before.map(String::from_utf8_lossy).unwrap_or_default();
    let new = after.map(String::from_utf8_lossy).unwrap_or_default();
    let d = similar::TextDiff::from_lines(old.as_ref(), new.as_ref());
    let (mut added, mut removed) = (0, 0);
    for c in d.iter_all_changes() {
        match c.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let status = match (before, after) {
        (None, _) => "created",
        (Some(_), None) => "deleted",
        _ => "modified",
    };
    let unified = d
        .unified_diff()
        .header(
            &if before.is_some() {
                format!("a/{path}")
            } else {
                "/dev/null".into()
            },
            &if after.is_some() {
                format!("b/{path}")
            } else {
                "/dev/null".into()
            },
        )
        .to_string();
    (
        FileStat {
            path: path.to_owned(),
            status: status.to_owned(),
            added,
            removed,
        },
        unified,
    )
}

/// A session's checkpoints, per turn, with each file's diff stat.
///
/// # Errors
/// Not found, or a store failure.
pub(super) async fn list(
    rt: &Runtime,
    session_id: SessionId,
) -> Result<Vec<TurnCheckpoint>, RuntimeError> {
    let cps = rt.store.checkpoints(session_id).await?;
    let mut out: Vec<TurnCheckpoint> = Vec::new();
    for c in cps {
        let before = content(rt, c.before.as_ref()).await?;
        let after = content(rt, c.after.as_ref()).await?;
        let (stat, _) = diff(&c.path, before.as_deref(), after.as_deref());
        match out.last_mut() {
            Some(t) if t.turn_id == c.turn_id => t.files.push(stat),
            _ => out.push(TurnCheckpoint {
                turn_id: c.turn_id,
                files: vec![stat],
            }),
        }
    }
    Ok(out)
}

/// The combined diff of one turn's edits, with each file's stat; `None`
/// when the turn changed no file.
pub(super) async fn turn_diff(
    rt: &Runtime,
    session_id: SessionId,
    turn_id: TurnId,
) -> Result<Option<(Vec<FileStat>, String)>, RuntimeError> {
    let cps: Vec<FileCheckpoint> = rt
        .store
        .checkpoints(session_id)
        .await?
        .into_iter()
        .filter(|c| c.turn_id == turn_id)
        .collect();
    if cps.is_empty() {
        return Ok(None);
    }
    let mut stats = Vec::new();
    let mut all = String::new();
    for c in cps {
        let before = content(rt, c.before.as_ref()).await?;
        let after = content(rt, c.after.as_ref()).await?;
        let (stat, unified) = diff(&c.path, before.as_deref(), after.as_deref());
        stats.push(stat);
        all.push_str(&unified);
    }
    Ok(Some((stats, all)))
}

/// Puts the files the agent changed in `turn_id` and later back as they
/// were before that turn.
///
/// # Errors
/// Not found, no workspace, a turn that changed nothing, busy, a store or
/// file system failure.
pub(super) async fn restore(
    rt: &Arc<Runtime>,
    session_id: SessionId,
    turn_id: TurnId,
    overwrite: bool,
    truncate: bool,
    conn: Option<ConnId>,
) -> Result<RestoreReport, RuntimeError> {
    let session = rt.store.get_session(session_id).await?;
    let ws: Workspace = super::turn::workspace_of(&session)
        .ok_or_else(|| RuntimeError::InvalidParams("the session has no workspace folder".into()))?;
    let cps = rt.store.checkpoints(session_id).await?;
    if !cps.iter().any(|c| c.turn_id == turn_id) {
        return Err(RuntimeError::InvalidParams(format!(
            "turn {turn_id} changed no file of session {session_id} (see codelab/listCheckpoints)"
        )));
    }
    // Held like a turn, so no turn edits the files meanwhile.
    let hold = TurnId::new();
    rt.hub
        .begin_turn(&session, hold, tokio_util::sync::CancellationToken::new())
        .map_err(|turn| RuntimeError::Busy {
            session: session.id,
            turn,
        })?;
    // And, over a shared store, under the session's lease.
    match super::cluster::take_lease(rt, session_id, None).await {
        Ok(super::cluster::Taken::Here { .. }) => {}
        Ok(super::cluster::Taken::Elsewhere { owner }) => {
            rt.hub.end_turn(session_id, hold);
            return Err(RuntimeError::RunningElsewhere {
                session: session_id,
                instance: owner,
            });
        }
        Err(e) => {
            rt.hub.end_turn(session_id, hold);
            return Err(e);
        }
    }
    let result = async {
        // Per path: before the first restored turn, after the last.
        let mut files: BTreeMap<
            String,
            (
                Option<crate::domain::ContentRef>,
                Option<crate::domain::ContentRef>,
            ),
        > = BTreeMap::new();
        for c in cps
            .into_iter()
            .filter(|c| c.turn_id.as_u128() >= turn_id.as_u128())
        {
            files
                .entry(c.path.clone())
                .and_modify(|e| e.1 = c.after.clone())
                .or_insert((c.before, c.after));
        }
        let editors = super::turn::TurnEditors {
            rt: Arc::clone(rt),
            session_id,
            conn,
        };
        let mut report = RestoreReport::default();
        for (path, (before, after)) in files {
            let abs = match ws.resolve(&path) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!("not restoring {path}: {e}");
                    report.conflicts.push(path);
                    continue;
                }
            };
            let now = std::fs::read(&abs).ok();
            let now_hash = now.as_deref().map(content_hash);
            // Already as it was before the turn (a restore interrupted after
            // this file, or the user put it back): nothing to do, no conflict.
            if now_hash == before.as_ref().map(|r| r.hash.clone()) {
                report.restored.push(path);
                continue;
            }
            let agent_left = after.as_ref().map(|r| r.hash.clone());
            if now_hash != agent_left && !overwrite {
                report.conflicts.push(path);
                continue;
            }
            match content(rt, before.as_ref()).await? {
                None => {
                    if now.is_some() {
                        std::fs::remove_file(&abs).map_err(|e| {
                            RuntimeError::InvalidParams(format!("cannot remove {path}: {e}"))
                        })?;
                    }
                }
                Some(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => {
                        tools::commit(
                            &editors,
                            FileEdit {
                                path: abs,
                                new_text: text,
                            },
                            &path,
                        )
                        .await
                        .map_err(|e| {
                            RuntimeError::InvalidParams(format!("cannot restore {path}: {}", e.0))
                        })?;
                    }
                    Err(e) => {
                        write_bytes_atomically(&abs, e.as_bytes()).map_err(|e| {
                            RuntimeError::InvalidParams(format!("cannot restore {path}: {e}"))
                        })?;
                    }
                },
            }
            report.restored.push(path);
        }
        if truncate {
            report.truncated_from_seq = truncate_conversation(rt, session_id, turn_id).await?;
        }
        Ok(report)
    }
    .await;
    rt.hub.end_turn(session_id, hold);
    super::cluster::release(rt, session_id).await;
    result
}

/// Hides the conversation from `turn_id` on from the model: a marker that
/// carries the summary and elisions in force and hides the turn's first
/// message and everything after it. Returns that message's seq.
/// Where truncating the conversation to before `turn_id` starts: the
/// user's message that began the exchange. A turn resumed after a restart
/// (an approval decided then) has a new id and begins with the result of
/// the call its predecessor made; cutting there would leave that call
/// without its result, so the cut goes back to the user's message before.
fn rewind_start(history: &[crate::domain::Message], turn_id: TurnId) -> Option<u64> {
    use crate::domain::Role;
    let first = history
        .iter()
        .position(|m| m.turn_id == Some(turn_id) && m.compaction.is_none())?;
    let start = history[..=first]
        .iter()
        .rposition(|m| m.role == Role::User && m.compaction.is_none())
        .unwrap_or(first);
    Some(history[start].seq)
}

async fn truncate_conversation(
    rt: &Runtime,
    session_id: SessionId,
    turn_id: TurnId,
) -> Result<Option<u64>, RuntimeError> {
    let history = rt.store.history(session_id, 0, usize::MAX).await?.items;
    let Some(from) = rewind_start(&history, turn_id) else {
        return Ok(None);
    };
    let (current, summary) = super::context::marker(&history)
        .map(|m| (m.compaction.unwrap_or_default(), m.text.clone()))
        .unwrap_or_default();
    let mut m = crate::domain::Message::new(crate::domain::Role::User, None, summary);
    m.compaction = Some(crate::domain::Compaction {
        rewound_from: from,
        ..current
    });
    super::turn::persist(rt, session_id, m).await?;
    Ok(Some(from))
}

fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent directory"))?;
    std::fs::create_dir_all(parent)?;
    let tmp = parent.join(format!(
        ".{}.codelab-restore",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Emits a turn's combined diff, if it changed files.
pub(super) async fn announce_turn_diff(
    rt: &Runtime,
    session: &crate::domain::Session,
    turn_id: TurnId,
) {
    match turn_diff(rt, session.id, turn_id).await {
        Ok(Some((files, diff))) => {
            rt.hub.emit(session, |_| SessionUpdate::TurnDiff {
                turn_id,
                files,
                diff,
            });
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(session = %session.id, "cannot build the turn's diff: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Compaction, Message, Role, ToolCall};
    use crate::llm::ChatMessage;

    fn at(seq: u64, mut m: Message) -> Message {
        m.seq = seq;
        m
    }

    #[test]
    fn a_resumed_turn_is_rewound_from_the_users_message_so_no_result_loses_its_call() {
        let (t1, t2, t3) = (TurnId::new(), TurnId::new(), TurnId::new());
        let mut call = Message::new(Role::Assistant, Some(t1), String::new());
        call.tool_calls = vec![ToolCall {
            id: "c1".into(),
            name: "write_file".into(),
            arguments: serde_json::json!({"path": "a"}),
        }];
        let mut history = vec![
            at(1, Message::new(Role::User, Some(t1), "edit a".into())),
            at(2, call),
            // After a restart the approval resumed the turn under a new id.
            at(3, Message::tool_result(t2, "c1", "Wrote a".into(), false)),
            at(4, Message::new(Role::Assistant, Some(t2), "done".into())),
            at(5, Message::new(Role::User, Some(t3), "next".into())),
            at(6, Message::new(Role::Assistant, Some(t3), "ok".into())),
        ];
        assert_eq!(rewind_start(&history, t2), Some(1));
        assert_eq!(rewind_start(&history, t1), Some(1));
        assert_eq!(rewind_start(&history, t3), Some(5));
        assert_eq!(rewind_start(&history, TurnId::new()), None);
        // The conversation truncated to before the resumed turn: no result
        // without its call.
        let mut marker = at(7, Message::new(Role::User, None, String::new()));
        marker.compaction = Some(Compaction {
            rewound_from: 1,
            ..Compaction::default()
        });
        history.push(marker);
        let view = super::super::context::view(&history);
        assert!(
            !view.iter().any(|m| matches!(m, ChatMessage::Tool { .. })),
            "{view:?}"
        );
        assert!(view.is_empty(), "{view:?}");
    }
}
