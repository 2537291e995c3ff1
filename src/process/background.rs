//! Background commands: started with `background: true`, they keep running
//! after their tool call returned. Each is tracked per session under a short
//! id (`p1`, `p2`, … in start order); its output is kept (bounded) for the
//! agent to read later, and it is stopped on request, when its session is
//! deleted, and when the server exits (dropping the table asks every one to
//! stop; the launcher's parent-death signal covers a server that was killed).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Exit, Spawned};
use crate::domain::SessionId;

/// Background commands a session may keep at once (running or not yet
/// collected).
pub const MAX_PER_SESSION: usize = 16;

/// Why a background command cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    /// No such id in this session.
    #[error("no background command `{0}` in this session; the ids are listed when one starts")]
    Unknown(String),
    /// The session has too many.
    #[error(
        "this session already has {MAX_PER_SESSION} background commands; stop one with stop_command first"
    )]
    TooMany,
}

/// A background command, as clients and the agent see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackgroundInfo {
    /// Its id within the session (`p1`).
    pub id: String,
    /// The session that started it.
    pub session_id: SessionId,
    /// The command line.
    pub command: String,
    /// The launcher's pid (its process group).
    pub pid: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Whether it runs in the sandbox.
    pub sandboxed: bool,
    /// How it ended, once it did.
    pub exit: Option<Exit>,
}

struct Entry {
    info: BackgroundInfo,
    spawned: Spawned,
    /// Where the agent's next read starts.
    read: u64,
}

#[derive(Default)]
struct Table {
    sessions: HashMap<SessionId, Vec<Entry>>,
    counters: HashMap<SessionId, u64>,
}

/// Every session's background commands.
#[derive(Default)]
pub struct Processes {
    table: Mutex<Table>,
}

impl std::fmt::Debug for Processes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processes")
            .field("running", &self.running())
            .finish()
    }
}

/// What a read of a background command's output found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// New output since the last read.
    pub text: String,
    /// How it ended, if it did.
    pub exit: Option<Exit>,
    /// Whether `wait_for` was found (always `true` without one).
    pub found: bool,
}

impl Processes {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The id the session's next background command gets, reserving a
    /// place for it.
    ///
    /// # Errors
    /// [`ProcessError::TooMany`] when the session holds the most it may;
    /// commands that ended are dropped first to make room.
    pub fn reserve(&self, session: SessionId) -> Result<String, ProcessError> {
        let mut t = self.lock();
        let list = t.sessions.entry(session).or_default();
        if list.len() >= MAX_PER_SESSION
            && let Some(pos) = list.iter().position(|e| e.spawned.exit().is_some())
        {
            list.remove(pos);
        }
        if list.len() >= MAX_PER_SESSION {
            return Err(ProcessError::TooMany);
        }
        let n = t.counters.entry(session).or_default();
        *n += 1;
        Ok(format!("p{n}"))
    }

    /// Tracks a started command under an id from [`Self::reserve`].
    pub fn add(&self, info: BackgroundInfo, spawned: Spawned) {
        self.lock()
            .sessions
            .entry(info.session_id)
            .or_default()
            .push(Entry {
                info,
                spawned,
                read: 0,
            });
    }

    fn find(&self, session: SessionId, id: &str) -> Result<(Spawned, u64), ProcessError> {
        self.lock()
            .sessions
            .get(&session)
            .and_then(|l| l.iter().find(|e| e.info.id == id))
            .map(|e| (e.spawned.clone(), e.read))
            .ok_or_else(|| ProcessError::Unknown(id.to_owned()))
    }

    fn set_read(&self, session: SessionId, id: &str, offset: u64) {
        if let Some(e) = self
            .lock()
            .sessions
            .get_mut(&session)
            .and_then(|l| l.iter_mut().find(|e| e.info.id == id))
        {
            e.read = e.read.max(offset);
        }
    }

    /// The output written since the last read. With `wait_for`, waits up
    /// to `wait` until that text appears in it (or the command ends).
    ///
    /// # Errors
    /// An unknown id.
    pub async fn read(
        &self,
        session: SessionId,
        id: &str,
        wait_for: Option<&str>,
        wait: Duration,
    ) -> Result<Read, ProcessError> {
        let (spawned, from) = self.find(session, id)?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let (text, next) = spawned.since(from);
            let exit = spawned.exit();
            let found = wait_for.is_none_or(|w| text.contains(w));
            if found || exit.is_some() || tokio::time::Instant::now() >= deadline {
                self.set_read(session, id, next);
                return Ok(Read { text, exit, found });
            }
            if tokio::time::timeout_at(deadline, spawned.more_than(next))
                .await
                .is_err()
            {
                continue;
            }
        }
    }

    /// Stops a background command and waits until it ended; returns its
    /// unread output.
    ///
    /// # Errors
    /// An unknown id.
    pub async fn stop(&self, session: SessionId, id: &str) -> Result<Read, ProcessError> {
        let (spawned, from) = self.find(session, id)?;
        spawned.stop();
        let exit = spawned.wait().await;
        let (text, next) = spawned.since(from);
        self.set_read(session, id, next);
        Ok(Read {
            text,
            exit: Some(exit),
            found: true,
        })
    }

    /// Stops every background command of a session and forgets them.
    pub async fn remove_session(&self, session: SessionId) {
        let entries = {
            let mut t = self.lock();
            t.counters.remove(&session);
            t.sessions.remove(&session).unwrap_or_default()
        };
        for e in &entries {
            e.spawned.stop();
        }
        for e in &entries {
            e.spawned.wait().await;
        }
    }

    /// Background commands, of one session or all, in start order.
    pub fn list(&self, session: Option<SessionId>) -> Vec<BackgroundInfo> {
        let t = self.lock();
        let mut out: Vec<BackgroundInfo> = t
            .sessions
            .iter()
            .filter(|(s, _)| session.is_none_or(|x| x == **s))
            .flat_map(|(_, l)| {
                l.iter().map(|e| BackgroundInfo {
                    exit: e.spawned.exit(),
                    ..e.info.clone()
                })
            })
            .collect();
        out.sort_by_key(|i| (i.started_at, i.pid));
        out
    }

    /// How many are still running.
    pub fn running(&self) -> usize {
        self.lock()
            .sessions
            .values()
            .flatten()
            .filter(|e| e.spawned.exit().is_none())
            .count()
    }
}

impl Drop for Processes {
    /// The server is going away: every background command is asked to stop
    /// (its launcher ends everything below it, even after the server is gone).
    fn drop(&mut self) {
        for e in self
            .table
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .sessions
            .values()
            .flatten()
        {
            if e.spawned.exit().is_none() {
                super::signal_group(e.spawned.pid, nix::sys::signal::Signal::SIGTERM);
            }
        }
    }
}
