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
use crate::policy::{Policy, Rule, Scope};
use crate::store::{RedbStore, Store, StoreError};
use crate::tools::ToolLimits;

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

/// The `[events]` table of the user's config file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EventSettings {
    /// `category.type` names (or `category.*`) to drop from the bus.
    #[serde(default)]
    exclude: Vec<String>,
}

/// The sections of the user's config file that the core reads (`[llm]` and
/// `[policy]` are read by their own modules).
#[derive(Debug, Default, serde::Deserialize)]
struct UserFile {
    #[serde(default)]
    agent: AgentSettings,
    #[serde(default)]
    events: EventSettings,
    #[serde(default)]
    housekeeping: crate::housekeeping::Settings,
    #[serde(default)]
    trust: TrustSettings,
}

/// The `[trust]` table: workspaces whose own policy may allow things.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustSettings {
    /// Workspace folders (paths) whose `.codelab/config.toml` may add `allow` rules.
    #[serde(default)]
    workspaces: Vec<PathBuf>,
}

impl UserFile {
    fn read(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str::<Self>(&text)
                .map_err(|e| format!("{}: {}", path.display(), e.message())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }
}

/// The `[agent]` table of the user's config file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentSettings {
    /// Model requests per turn at most (default 25).
    max_iterations: Option<usize>,
    /// execute_command's default timeout (default 300).
    command_timeout_secs: Option<u64>,
    /// apply_diff's fuzzy threshold, 0.5 to 1.0 (default 1.0: exact only).
    diff_threshold: Option<f64>,
}

/// A workspace's policy rules, with the modification time they were read at.
type CachedRules = (Option<std::time::SystemTime>, Vec<Rule>);

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
    /// LLM settings from the user's file and the environment.
    llm_base: LlmSettings,
    user_rules: Vec<Rule>,
    policy_errors: Mutex<Vec<String>>,
    workspace_rules: Mutex<HashMap<PathBuf, CachedRules>>,
    session_rules: Mutex<HashMap<SessionId, Vec<Rule>>>,
    trusted: Vec<PathBuf>,
    conn_ids: AtomicU64,
}

impl Core {
    /// Opens the store in the configured data directory.
    ///
    /// # Errors
    /// When the store cannot be opened (locked by another process, too new, I/O).
    pub fn open(config: Config) -> Result<Self, CoreError> {
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(&config.data_dir)?);
        let user_file = config.data_dir.join(USER_CONFIG_FILE);
        let mut llm_base = LlmSettings::from_file(&user_file).map_err(CoreError::Config)?;
        llm_base.overlay(LlmSettings::from_env());
        let file = UserFile::read(&user_file).map_err(CoreError::Config)?;
        // Every secret the configuration knows is redacted from events.
        let secrets: Vec<String> = llm_base
            .providers
            .values()
            .flat_map(|p| p.api_key.iter().cloned().chain(p.headers.values().cloned()))
            .collect();
        let bus = Arc::new(EventBus::with_middleware(vec![
            Box::new(crate::events::Filter::new(file.events.exclude)),
            Box::new(crate::events::Redact::new(secrets)),
        ]));
        let metrics = crate::metrics::Metrics::start(&bus);
        let audit_subscription = crate::audit::start(&bus, Arc::clone(&store));
        let llm = LlmClient::new(llm_base.resilience().connect, Arc::clone(&bus))
            .map_err(|e| CoreError::Config(e.to_string()))?;
        let settings = file.agent;
        let mut limits = ToolLimits::default();
        if let Some(t) = settings.command_timeout_secs {
            limits.command_timeout_secs = t;
        }
        if let Some(t) = settings.diff_threshold {
            if !(0.5..=1.0).contains(&t) {
                return Err(CoreError::Config(format!(
                    "{}: agent.diff_threshold must be between 0.5 and 1.0",
                    user_file.display()
                )));
            }
            limits.diff_threshold = t;
        }
        let mut policy_errors = Vec::new();
        let user_rules =
            crate::policy::rules_from_file(&user_file, Scope::User).unwrap_or_else(|e| {
                tracing::error!("invalid policy, using the built-in rules only: {e}");
                policy_errors.push(e);
                Vec::new()
            });
        Ok(Self {
            store,
            config,
            started: Instant::now(),
            bus,
            llm,
            metrics,
            audit_subscription,
            housekeeping: file.housekeeping,
            hub: SessionHub::default(),
            docs: DocRegistry::default(),
            limits,
            max_iterations: settings.max_iterations.unwrap_or(25).max(1),
            llm_base,
            user_rules,
            policy_errors: Mutex::new(policy_errors),
            workspace_rules: Mutex::new(HashMap::new()),
            session_rules: Mutex::new(HashMap::new()),
            trusted: file.trust.workspaces,
            conn_ids: AtomicU64::new(1),
        })
    }

    /// A fresh connection id.
    pub fn next_conn_id(&self) -> u64 {
        self.conn_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// The effective policy of a session in a workspace folder. An invalid
    /// workspace policy file is reported and its last valid rules are kept.
    pub fn policy(&self, workspace_root: Option<&Path>, session: Option<SessionId>) -> Policy {
        let mut rules = self.user_rules.clone();
        if let Some(root) = workspace_root {
            let file = root.join(WORKSPACE_CONFIG_FILE);
            let mtime = std::fs::metadata(&file).and_then(|m| m.modified()).ok();
            let mut cache = self
                .workspace_rules
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let stale = cache.get(root).is_none_or(|(t, _)| *t != mtime);
            if stale {
                match crate::policy::rules_from_file(&file, Scope::Workspace) {
                    Ok(r) => {
                        cache.insert(root.to_path_buf(), (mtime, r));
                    }
                    Err(e) => {
                        tracing::error!(
                            "invalid workspace policy, keeping the last valid one: {e}"
                        );
                        let mut errors = self
                            .policy_errors
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        if !errors.contains(&e) {
                            errors.push(e);
                        }
                        let keep = cache.get(root).map(|(_, r)| r.clone()).unwrap_or_default();
                        cache.insert(root.to_path_buf(), (mtime, keep));
                    }
                }
            }
            if let Some((_, r)) = cache.get(root) {
                // A cloned repository must not unlock tools by itself: its own
                // `allow` rules count only when the user trusts the workspace.
                let trusted = self
                    .trusted
                    .iter()
                    .any(|t| t.canonicalize().is_ok_and(|t| t == root));
                rules.extend(
                    r.iter()
                        .filter(|rule| trusted || rule.spec.action != crate::policy::Action::Allow)
                        .cloned(),
                );
            }
        }
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

    /// Problems found in policy files (file, line and reason).
    pub fn policy_errors(&self) -> Vec<String> {
        self.policy_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
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

    /// The agents of a workspace folder (a `file://` URI): the built-ins with
    /// the workspace's prompt overrides, and its own agents.
    ///
    /// # Errors
    /// An invalid `.codelab/agents.toml`.
    pub fn agents_for(&self, workspace_folder: Option<&str>) -> Result<Vec<Agent>, CoreError> {
        let root = workspace_folder.and_then(uri_to_path);
        agents::for_workspace(root.as_deref()).map_err(CoreError::Config)
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
