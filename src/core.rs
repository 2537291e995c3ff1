//! The core shared by every connection: the store, the agents, the settings.
//!
//! Invariant: nothing here knows about JSON-RPC or LSP. Connections (in
//! [`crate::server`]) translate protocol messages into calls on the core.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::agent::hub::SessionHub;
use crate::agents::{self, Agent};
use crate::config::Config;
use crate::documents::DocRegistry;
use crate::domain::events::{SessionCreated, SessionDeleted};
use crate::domain::{Session, SessionId};
use crate::events::EventBus;
use crate::events::{Event, EventKind};
use crate::llm::config::{LlmSettings, Target};
use crate::llm::{LlmClient, LlmError};
use crate::policy::{Policy, Rule};
use crate::settings::{ConfigError, Settings, WorkspaceAgents};
use crate::store::{RedbStore, Store, StoreError};
use crate::tools::ToolLimits;

pub use crate::settings::{USER_CONFIG_FILE, WORKSPACE_CONFIG_FILE};

/// Errors of core operations.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// No agent has that slug.
    #[error("unknown agent `{0}`")]
    UnknownAgent(String),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A configuration file is invalid (the message names the file, the
    /// line and the key).
    #[error("invalid configuration: {0}")]
    Config(ConfigError),
    /// The HTTP client for the model providers cannot be built.
    #[error("cannot start the LLM client: {0}")]
    LlmClient(LlmError),
}

impl From<ConfigError> for CoreError {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
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
    pub store: Arc<dyn Store>,
    /// Settings.
    pub config: Config,
    /// When the process started.
    pub started: Instant,
    /// The event bus.
    pub bus: Arc<EventBus>,
    /// The LLM client, shared by every turn.
    pub llm: LlmClient,
    /// The metrics collector.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The audit logger's subscription (to wait for its writes).
    pub audit_subscription: u64,
    /// Housekeeping settings.
    pub housekeeping: crate::housekeeping::Settings,
    /// Sessions: seq, running turns, watchers, waiters.
    pub hub: SessionHub,
    /// Every connection's open documents.
    pub docs: DocRegistry,
    /// Caps on tool results.
    pub limits: ToolLimits,
    /// The most model requests one turn may make.
    pub max_iterations: usize,
    /// The user's `codelab.toml` and the workspaces' files.
    settings: Settings,
    session_rules: Mutex<HashMap<SessionId, Vec<Rule>>>,
    conn_ids: AtomicU64,
}

impl Core {
    /// Opens the store in the configured data directory and reads the
    /// user's `codelab.toml` there.
    ///
    /// # Errors
    /// When the store cannot be opened (locked by another process, too new,
    /// I/O), or the user's config file is unreadable or invalid.
    pub fn open(config: Config) -> Result<Self, CoreError> {
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(&config.data_dir)?);
        let settings = Settings::load(&config.data_dir, LlmSettings::from_env())?;
        let llm_base = settings.llm_base();
        // Every secret the configuration knows is redacted from events.
        let secrets: Vec<String> = llm_base
            .providers
            .values()
            .flat_map(|p| p.api_key.iter().cloned().chain(p.headers.values().cloned()))
            .collect();
        let user = settings.user();
        let bus = Arc::new(EventBus::with_middleware(vec![
            Box::new(crate::events::Filter::new(user.events.exclude.clone())),
            Box::new(crate::events::Redact::new(secrets)),
        ]));
        let metrics = crate::metrics::Metrics::start(&bus);
        let audit_subscription = crate::audit::start(&bus, Arc::clone(&store));
        let llm = LlmClient::new(llm_base.resilience().connect, Arc::clone(&bus))
            .map_err(CoreError::LlmClient)?;
        let mut limits = ToolLimits::default();
        if let Some(t) = user.agent.command_timeout_secs {
            limits.command_timeout_secs = t;
        }
        if let Some(t) = user.agent.diff_threshold {
            limits.diff_threshold = t;
        }
        Ok(Self {
            store,
            config,
            started: Instant::now(),
            bus,
            llm,
            metrics,
            audit_subscription,
            housekeeping: user.housekeeping.clone(),
            hub: SessionHub::default(),
            docs: DocRegistry::default(),
            limits,
            max_iterations: user.agent.max_iterations.unwrap_or(25).max(1),
            session_rules: Mutex::new(HashMap::new()),
            conn_ids: AtomicU64::new(1),
            settings,
        })
    }

    /// The user's settings and the workspaces' files.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// A fresh connection id.
    pub fn next_conn_id(&self) -> u64 {
        self.conn_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// The effective policy of a session in a workspace folder. An invalid
    /// workspace policy file is reported and its last valid rules are kept;
    /// a workspace's own `allow` rules count only when the user trusts it.
    pub fn policy(&self, workspace_root: Option<&Path>, session: Option<SessionId>) -> Policy {
        let mut rules = self.settings.rules(workspace_root);
        if let Some(s) = session
            && let Some(r) = self
                .session_rules
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&s)
        {
            rules.extend(r.iter().cloned());
        }
        Policy::new(rules)
    }

    /// Records an "allow always" rule for a session.
    pub fn add_session_rule(&self, session: SessionId, rule: Rule) {
        self.session_rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(session)
            .or_default()
            .push(rule);
    }

    /// Problems found in policy files (file, line, key and reason).
    pub fn policy_errors(&self) -> Vec<String> {
        self.settings.policy_errors()
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
        let root = workspace_folder.and_then(uri_to_path);
        self.settings
            .llm(root.as_deref(), editor)
            .map_err(|e| LlmError::NotConfigured(format!("invalid workspace config: {e}")))?
            .resolve(agent)
    }

    /// The agents of a workspace folder (a `file://` URI): the built-ins with
    /// the workspace's prompt overrides, and its own agents (both only when
    /// the user trusts the workspace).
    ///
    /// # Errors
    /// An invalid `.codelab/agents.toml`.
    pub fn agents_for(&self, workspace_folder: Option<&str>) -> Result<Vec<Agent>, CoreError> {
        Ok(self.workspace_agents(workspace_folder)?.agents.clone())
    }

    /// The agents of a workspace folder (a `file://` URI) with the warnings
    /// about workspace files ignored for lack of trust.
    ///
    /// # Errors
    /// An invalid `.codelab/agents.toml`.
    pub fn workspace_agents(
        &self,
        workspace_folder: Option<&str>,
    ) -> Result<Arc<WorkspaceAgents>, CoreError> {
        let root = workspace_folder.and_then(uri_to_path);
        Ok(self.settings.agents(root.as_deref())?)
    }

    /// Creates and persists a session.
    pub async fn create_session(
        &self,
        workspace_folder: Option<String>,
        agent: Option<String>,
        title: Option<String>,
    ) -> Result<Session, CoreError> {
        let agent = agent.unwrap_or_else(|| agents::DEFAULT_AGENT.to_owned());
        if !self
            .agents_for(workspace_folder.as_deref())?
            .iter()
            .any(|a| a.slug == agent)
        {
            return Err(CoreError::UnknownAgent(agent));
        }
        let now = Utc::now();
        let session = Session {
            id: SessionId::new(),
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
            parent: None,
        };
        let session = self.store.create_session(session).await?;
        self.bus.publish(
            Event::new(EventKind::SessionCreated(SessionCreated {
                agent: session.agent.clone(),
                title: session.title.clone(),
                workspace_folder: session.workspace_folder.clone(),
            }))
            .in_turn(Some(session.id), None),
        );
        Ok(session)
    }

    /// Deletes a session that is not running a turn.
    ///
    /// # Errors
    /// Busy, not found, or a store failure.
    pub async fn delete_session(&self, id: SessionId) -> Result<u64, crate::agent::RuntimeError> {
        if let Some(turn) = self.hub.running(id) {
            return Err(crate::agent::RuntimeError::Busy { session: id, turn });
        }
        let n = self.store.delete_session(id).await.map_err(|e| match e {
            StoreError::SessionNotFound(id) => crate::agent::RuntimeError::SessionNotFound(id),
            other => crate::agent::RuntimeError::Store(other),
        })?;
        self.bus.publish(
            Event::new(EventKind::SessionDeleted(SessionDeleted {
                reason: "client".into(),
                messages: Some(n),
            }))
            .in_turn(Some(id), None),
        );
        Ok(n)
    }
}
