//! The core shared by every connection: the store, the agents, the settings.
//!
//! Invariant: nothing here knows about JSON-RPC or LSP. Connections (in
//! [`crate::server`]) translate protocol messages into calls on the core.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use uuid::Uuid;

use crate::agents::{self, Agent};
use crate::config::Config;
use crate::events::EventBus;
use crate::llm::config::{LlmSettings, Target};
use crate::llm::{LlmClient, LlmError};
use crate::protocol::types::Session;
use crate::store::{Store, StoreError};

/// The user's config file, in the data directory.
pub const USER_CONFIG_FILE: &str = "codelab.toml";
/// The workspace config file, relative to a workspace folder.
pub const WORKSPACE_CONFIG_FILE: &str = ".codelab/config.toml";

/// Errors of core operations.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// No agent has that slug.
    #[error("unknown agent `{0}`")]
    UnknownAgent(String),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A configuration file is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// The local path of a `file://` URI.
pub fn uri_to_path(uri: &str) -> Option<PathBuf> {
    url::Url::parse(uri)
        .ok()
        .and_then(|u| u.to_file_path().ok())
}

/// The `file://` URI of a local path.
pub fn path_to_uri(path: &Path) -> Option<String> {
    url::Url::from_file_path(path).ok().map(String::from)
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
    /// The event bus.
    pub bus: Arc<EventBus>,
    /// The LLM client, shared by every turn.
    pub llm: LlmClient,
    /// LLM settings from the user's file and the environment.
    llm_base: LlmSettings,
    agents: Vec<Agent>,
}

impl Core {
    /// Opens the store in the configured data directory.
    ///
    /// # Errors
    /// When the store cannot be opened (locked by another process, too new, I/O).
    pub fn open(config: Config) -> Result<Self, CoreError> {
        let store = Store::open(&config.data_dir)?;
        let user_file = config.data_dir.join(USER_CONFIG_FILE);
        let mut llm_base = LlmSettings::from_file(&user_file).map_err(CoreError::Config)?;
        llm_base.overlay(LlmSettings::from_env());
        let bus = Arc::new(EventBus::new());
        let llm = LlmClient::new(llm_base.resilience().connect, Arc::clone(&bus))
            .map_err(|e| CoreError::Config(e.to_string()))?;
        Ok(Self {
            store,
            config,
            started: Instant::now(),
            bus,
            llm,
            llm_base,
            agents: agents::builtin(),
        })
    }

    /// The provider and model for a turn of `agent` in `workspace_folder`
    /// (a `file://` URI), with the editor's settings on top. See
    /// [`crate::llm::config`] for the order of precedence.
    ///
    /// # Errors
    /// [`LlmError::NotConfigured`] naming what to set, or an invalid
    /// workspace config file.
    pub fn llm_target(
        &self,
        workspace_folder: Option<&str>,
        editor: Option<&LlmSettings>,
        agent: Option<&str>,
    ) -> Result<Target, LlmError> {
        let mut settings = self.llm_base.clone();
        if let Some(dir) = workspace_folder.and_then(uri_to_path) {
            let ws = LlmSettings::from_workspace_file(&dir.join(WORKSPACE_CONFIG_FILE))
                .map_err(|e| LlmError::NotConfigured(format!("invalid workspace config: {e}")))?;
            settings.overlay(ws);
        }
        if let Some(editor) = editor {
            settings.overlay(editor.clone());
        }
        settings.resolve(agent)
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
