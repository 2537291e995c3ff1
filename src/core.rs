//! The core shared by every connection: the store, the agents, the settings.
//!
//! Invariant: nothing here knows about JSON-RPC or LSP. Connections (in
//! [`crate::server`]) translate protocol messages into calls on the core.

use std::time::Instant;

use chrono::Utc;
use uuid::Uuid;

use crate::agents::{self, Agent};
use crate::config::Config;
use crate::protocol::types::Session;
use crate::store::{Store, StoreError};

/// Errors of core operations.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// No agent has that slug.
    #[error("unknown agent `{0}`")]
    UnknownAgent(String),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The shared core. One per process.
#[derive(Debug)]
pub struct Core {
    /// The store.
    pub store: Store,
    /// Settings.
    pub config: Config,
    /// When the process started.
    pub started: Instant,
    agents: Vec<Agent>,
}

impl Core {
    /// Opens the store in the configured data directory.
    ///
    /// # Errors
    /// When the store cannot be opened (locked by another process, too new, I/O).
    pub fn open(config: Config) -> Result<Self, StoreError> {
        let store = Store::open(&config.data_dir)?;
        Ok(Self {
            store,
            config,
            started: Instant::now(),
            agents: agents::builtin(),
        })
    }

    /// The agents, in display order.
    pub fn agents(&self) -> &[Agent] {
        &self.agents
    }

    /// An agent by slug.
    pub fn agent(&self, slug: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.slug == slug)
    }

    /// Creates and persists a session.
    pub async fn create_session(
        &self,
        workspace_folder: Option<String>,
        agent: Option<String>,
        title: Option<String>,
    ) -> Result<Session, CoreError> {
        let agent = agent.unwrap_or_else(|| agents::DEFAULT_AGENT.to_owned());
        if self.agent(&agent).is_none() {
            return Err(CoreError::UnknownAgent(agent));
        }
        let now = Utc::now();
        let session = Session {
            id: Uuid::now_v7(),
            title: title
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "New session".to_owned()),
            workspace_folder,
            agent,
            created_at: now,
            updated_at: now,
            message_count: 0,
            last_seq: 0,
        };
        Ok(self.store.create_session(session).await?)
    }
}
