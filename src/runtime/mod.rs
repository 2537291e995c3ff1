//! The runtime: one [`Runtime`] owns the session hub, the running turns,
//! the waiters for approvals, answers and subtasks, and the session rules,
//! and offers a method per client operation.
//!
//! Layer 5 of the layering in `ARCHITECTURE.md`. It speaks the domain model
//! ([`crate::domain`]) and reaches the world through ports: the [`Store`]
//! contract, the model client, the tools' `Editors`/`Buffers`/`Interact`. What
//! happens is published as domain events: [`crate::domain::Event`]s on the
//! bus for observers, [`crate::domain::SessionEvent`]s through the hub for the
//! clients attached to a session. It knows nothing of JSON-RPC, LSP or any
//! wire type; each front end translates at its edge.
//!
//! Invariants:
//! - One turn at a time per session; every turn ends with exactly one
//!   `TurnCompleted` carrying its stop reason, whatever happens.
//! - History is persisted as it happens, and every tool call in the history
//!   gets exactly one result, also when a turn is cancelled or fails.
//! - A turn is rebuilt from the history alone: an assistant reply whose calls
//!   lack results is where a turn resumes (after an approval, an answer or a
//!   subtask that outlived the process that started it).
//! - Every tool call passes the gate before it runs. A tool's failure is a
//!   result the model reads; only a broken runtime ends a turn with an error.

pub mod checkpoints;
pub mod cluster;
mod coalesce;
pub mod context;
pub mod editors;
pub mod gate;
pub mod hub;
mod interact;
pub mod prompt;
mod turn;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::Utc;

use crate::agents::{self, Agent};
use crate::documents::DocRegistry;
use crate::domain::events::{SessionCreated, SessionDeleted};
use crate::domain::{
    ApprovalId, ApprovalScope, AuditRecord, Decision, Message, MessageContext, PendingApproval,
    PendingQuestion, QuestionId, Session, SessionId, StopReason, TurnId,
};
use crate::events::{Event, EventBus, EventKind};
use crate::llm::config::{LlmSettings, Target};
use crate::llm::{LlmClient, LlmError};
use crate::policy::{CommandSandbox, Policy, Rule};
use crate::process::{BackgroundInfo, Launcher, Processes, Support};
use crate::settings::{ConfigError, Settings, WorkspaceAgents};
use crate::store::{AuditQuery, Page, Store, StoreError};
use crate::tools::ToolLimits;
use crate::workspace::uri_to_path;
pub use editors::EditorRegistry;
use hub::{EventQueue, SessionHub};

pub use coalesce::{TOKEN_BATCH_BYTES, TOKEN_INTERVAL};
pub use turn::{MAX_CONSECUTIVE_FAILURES, unanswered_calls};

/// The model settings a session's chosen model puts over the others: its
/// provider and model.
pub fn chosen_llm(chosen: &crate::domain::ModelChoice) -> LlmSettings {
    LlmSettings {
        provider: Some(chosen.provider.clone()),
        model: Some(chosen.model.clone()),
        ..LlmSettings::default()
    }
}

/// The model settings of a session's requests: the editor's (those its
/// connection sent, if any) with the model chosen for the session over
/// them, so the choice holds whichever client prompts.
pub fn session_llm(
    editor: Option<&LlmSettings>,
    chosen: Option<&crate::domain::ModelChoice>,
) -> Option<LlmSettings> {
    let Some(chosen) = chosen else {
        return editor.cloned();
    };
    let mut llm = editor.cloned().unwrap_or_default();
    llm.overlay(chosen_llm(chosen));
    Some(llm)
}

/// Errors of runtime operations requested by clients: the one client-facing
/// error enum. Each front end maps it to its wire errors in one place.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No such session.
    #[error("session {0} not found")]
    SessionNotFound(SessionId),
    /// A turn is running.
    #[error("session {session} is busy with turn {turn}")]
    Busy {
        /// The session.
        session: SessionId,
        /// The running turn.
        turn: TurnId,
    },
    /// A turn of the session runs on another instance (a shared store).
    #[error("session {session} is running a turn on instance {instance}")]
    RunningElsewhere {
        /// The session.
        session: SessionId,
        /// The instance running it.
        instance: String,
    },
    /// No such agent.
    #[error("unknown agent `{0}`")]
    UnknownAgent(String),
    /// No such question or approval, or it was already answered.
    #[error("{0}")]
    NotPending(String),
    /// Parameters a client sent are invalid.
    #[error("{0}")]
    InvalidParams(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// A configuration file is invalid (the message names the file, the line and the key).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Too many turns are running.
    #[error("{0} turns are running, the most this server runs at once; retry later")]
    Overloaded(usize),
    /// The context could not be compacted.
    #[error(transparent)]
    Compaction(#[from] context::CompactError),
    /// No model is configured, or its settings are unusable.
    #[error(transparent)]
    Model(#[from] LlmError),
}

impl From<StoreError> for RuntimeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::SessionNotFound(id) => Self::SessionNotFound(id),
            other => Self::Store(other),
        }
    }
}

/// A message from a client that starts a turn.
pub struct TurnInput {
    /// The session.
    pub session_id: SessionId,
    /// The text.
    pub text: String,
    /// Switch to this agent first.
    pub agent: Option<String>,
    /// The editor's state.
    pub context: Option<MessageContext>,
    /// The connection that sent it: its editor, if it has a file open,
    /// applies the turn's edits to that file (see [`editors`]).
    pub conn: Option<ConnId>,
    /// The client's LLM settings.
    pub editor_llm: Option<LlmSettings>,
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnOutcome {
    /// Why.
    pub stop: StopReason,
    /// The result text.
    pub result: Option<String>,
    /// The error.
    pub error: Option<String>,
}

/// A client's decision on a pending approval.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalDecision {
    /// approve, edit or reject.
    pub decision: Decision,
    /// With `edit`: the parameters to run with instead.
    pub params: Option<serde_json::Value>,
    /// With `reject`: a note the model reads.
    pub feedback: Option<String>,
    /// With `approve`: `Session` also allows the same tool and argument
    /// pattern for the rest of the session.
    pub scope: Option<ApprovalScope>,
}

/// What a client attaching to a session gets: the state to catch up from,
/// after which live events follow through its queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Attached {
    /// The session.
    pub session: Session,
    /// Persisted messages after the seq the client asked for.
    pub messages: Vec<Message>,
    /// The running turn.
    pub running_turn: Option<TurnId>,
    /// Questions waiting for an answer.
    pub questions: Vec<PendingQuestion>,
    /// Approvals waiting for a decision.
    pub approvals: Vec<PendingApproval>,
}

/// Who is connected: a front end's connection, for attaching to sessions.
pub type ConnId = u64;

/// What the runtime is built from: the adapters, chosen by the wiring.
pub struct Parts {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The event bus (with its middleware).
    pub bus: Arc<EventBus>,
    /// The model client.
    pub llm: LlmClient,
    /// The user's settings and the workspaces' files.
    pub settings: Settings,
    /// The secrets the bus redacts (updated when the settings are read again).
    pub secrets: crate::events::Secrets,
    /// Caps on tool results.
    pub limits: ToolLimits,
    /// Turns running at once, over all sessions, at most.
    pub max_turns: usize,
    /// The audit logger's bus subscription (reads of the audit log wait for it).
    pub audit_subscription: Option<u64>,
    /// How commands start here, and whether they can be sandboxed.
    pub launcher: Arc<Launcher>,
    /// Where each session's temp dir (a sandboxed command's `TMPDIR`) lives.
    pub tmp_dir: std::path::PathBuf,
}

/// The MCP servers of each trusted workspace, with the specs they were made of.
type WorkspaceMcp = HashMap<
    std::path::PathBuf,
    (
        std::collections::BTreeMap<String, crate::mcp::ServerSpec>,
        Arc<crate::mcp::McpServers>,
    ),
>;

/// Whose MCP servers a group is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpScope {
    /// The user's `codelab.toml`.
    User,
    /// A trusted workspace's `.codelab/config.toml` (its root).
    Workspace(std::path::PathBuf),
    /// Given to one session by a front end (ACP's `mcpServers`).
    Session(SessionId),
}

/// One MCP server's status and whose it is.
#[derive(Debug, Clone)]
pub struct McpServerStatus {
    /// The server's status.
    pub status: crate::mcp::Status,
    /// Whose it is.
    pub scope: McpScope,
}

/// The runtime. One per process, shared by every connection of every front end.
pub struct Runtime {
    store: Arc<dyn Store>,
    bus: Arc<EventBus>,
    llm: LlmClient,
    settings: Settings,
    secrets: crate::events::Secrets,
    hub: SessionHub,
    docs: DocRegistry,
    editors: EditorRegistry,
    limits: ToolLimits,
    max_iterations: usize,
    max_turns: usize,
    audit_subscription: Option<u64>,
    session_rules: Mutex<HashMap<SessionId, Vec<Rule>>>,
    gate: gate::Gate,
    /// The MCP servers of the user's file.
    mcp: Arc<crate::mcp::McpServers>,
    /// The MCP servers a front end gave a session (ACP's `mcpServers`).
    session_mcp: Mutex<HashMap<SessionId, Arc<crate::mcp::McpServers>>>,
    /// The MCP servers of trusted workspaces, with the specs they were made of.
    workspace_mcp: Mutex<WorkspaceMcp>,
    launcher: Arc<Launcher>,
    processes: Arc<Processes>,
    tmp_dir: std::path::PathBuf,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("store", &self.store)
            .field("running", &self.hub.running_count())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime over these parts.
    pub fn new(parts: Parts) -> Self {
        let max_iterations = parts
            .settings
            .user()
            .agent
            .max_iterations
            .unwrap_or(25)
            .max(1);
        let mcp = crate::mcp::McpServers::new(&parts.settings.user().mcp, crate::mcp::Source::User);
        Self {
            store: parts.store,
            bus: parts.bus,
            llm: parts.llm,
            settings: parts.settings,
            secrets: parts.secrets,
            hub: SessionHub::default(),
            docs: DocRegistry::default(),
            editors: EditorRegistry::default(),
            limits: parts.limits,
            max_iterations,
            max_turns: parts.max_turns,
            audit_subscription: parts.audit_subscription,
            session_rules: Mutex::new(HashMap::new()),
            gate: gate::Gate::default(),
            mcp,
            session_mcp: Mutex::new(HashMap::new()),
            workspace_mcp: Mutex::new(HashMap::new()),
            launcher: parts.launcher,
            processes: Arc::new(Processes::default()),
            tmp_dir: parts.tmp_dir,
        }
    }

    /// The MCP servers.
    pub fn mcp(&self) -> &Arc<crate::mcp::McpServers> {
        &self.mcp
    }

    /// Gives a session its own MCP servers (ACP's `mcpServers` of
    /// `session/new`), beside the user's; replaces those it had.
    pub fn set_session_mcp_servers(
        &self,
        session: SessionId,
        specs: &std::collections::BTreeMap<String, crate::mcp::ServerSpec>,
    ) {
        let mut map = self
            .session_mcp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if specs.is_empty() {
            map.remove(&session);
        } else {
            map.insert(
                session,
                crate::mcp::McpServers::new(specs, crate::mcp::Source::Session),
            );
        }
    }

    /// The MCP servers a session may use: its own, its trusted workspace's,
    /// then the user's.
    pub(crate) fn mcp_for(
        &self,
        session: SessionId,
        root: Option<&Path>,
    ) -> Vec<Arc<crate::mcp::McpServers>> {
        self.mcp_groups(session, root)
            .into_iter()
            .map(|(servers, _)| servers)
            .collect()
    }

    /// [`Runtime::mcp_for`], each group with whose it is.
    fn mcp_groups(
        &self,
        session: SessionId,
        root: Option<&Path>,
    ) -> Vec<(Arc<crate::mcp::McpServers>, McpScope)> {
        let own = self
            .session_mcp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&session)
            .cloned();
        let workspace = root.and_then(|root| {
            let specs = self.settings.workspace_mcp(root);
            let mut map = self
                .workspace_mcp
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if specs.is_empty() {
                map.remove(root);
                return None;
            }
            match map.get(root) {
                Some((s, servers)) if *s == specs => Some(Arc::clone(servers)),
                _ => {
                    let servers =
                        crate::mcp::McpServers::new(&specs, crate::mcp::Source::Workspace);
                    map.insert(root.to_path_buf(), (specs, Arc::clone(&servers)));
                    Some(servers)
                }
            }
        });
        own.map(|s| (s, McpScope::Session(session)))
            .into_iter()
            .chain(workspace.map(|s| {
                (
                    s,
                    McpScope::Workspace(root.map(Path::to_path_buf).unwrap_or_default()),
                )
            }))
            .chain(std::iter::once((Arc::clone(&self.mcp), McpScope::User)))
            .filter(|(m, _)| !m.is_empty())
            .collect()
    }

    /// The MCP servers' states: those `session` may use (its own, its
    /// workspace's, the user's), or without a session every server known
    /// (the user's, each trusted workspace's a session has used, each
    /// session's). Starts none.
    ///
    /// # Errors
    /// The session does not exist, or a store failure.
    pub async fn mcp_statuses(
        &self,
        session: Option<SessionId>,
    ) -> Result<Vec<McpServerStatus>, RuntimeError> {
        let groups = match session {
            Some(id) => {
                let s = self.store.get_session(id).await?;
                let ws = turn::workspace_of(&s);
                self.mcp_groups(id, ws.as_ref().map(crate::workspace::Workspace::root))
            }
            None => {
                let mut groups = vec![(Arc::clone(&self.mcp), McpScope::User)];
                groups.extend(
                    self.workspace_mcp
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .iter()
                        .map(|(root, (_, s))| (Arc::clone(s), McpScope::Workspace(root.clone()))),
                );
                groups.extend(
                    self.session_mcp
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .iter()
                        .map(|(id, s)| (Arc::clone(s), McpScope::Session(*id))),
                );
                groups
            }
        };
        let mut out = Vec::new();
        for (servers, scope) in groups {
            for status in servers.statuses().await {
                out.push(McpServerStatus {
                    status,
                    scope: scope.clone(),
                });
            }
        }
        Ok(out)
    }

    /// Stops and forgets the MCP servers a front end gave a session (the
    /// session was deleted, or closed by the client that gave them).
    pub async fn drop_session_mcp_servers(&self, session: SessionId) {
        let servers = self
            .session_mcp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&session);
        if let Some(servers) = servers {
            servers.stop_all().await;
        }
    }

    /// The store (for health checks and tools that inspect it).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The event bus.
    pub fn bus(&self) -> &Arc<EventBus> {
        &self.bus
    }

    /// The model client (for its circuit breakers' states).
    pub fn llm(&self) -> &LlmClient {
        &self.llm
    }

    /// Every connection's open documents.
    pub fn docs(&self) -> &DocRegistry {
        &self.docs
    }

    /// The editors of the connections whose clients apply edits: a front
    /// end registers each one and the turns' edits find them here.
    pub fn editors(&self) -> &EditorRegistry {
        &self.editors
    }

    /// The user's settings and the workspaces' files.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Reads the user file's model settings again (after `codelab-agent
    /// setup` wrote them, while this process kept running) and redacts
    /// their secrets from events from now on.
    ///
    /// # Errors
    /// The user file became unreadable or invalid; nothing changes.
    pub fn reload_llm_settings(&self) -> Result<(), crate::config::ConfigError> {
        let base = self.settings.reload_llm()?;
        self.secrets.set(base.secrets());
        Ok(())
    }

    /// Whether a session is running a turn.
    pub fn is_running(&self, id: SessionId) -> bool {
        self.hub.running(id).is_some()
    }

    /// How many turns are running.
    pub fn running_turns(&self) -> usize {
        self.hub.running_count()
    }

    /// Whether any work runs: a turn, or a background command (for an idle
    /// check: a server with either is not idle).
    pub fn has_running_work(&self) -> bool {
        self.hub.running_count() > 0 || self.processes.running() > 0
    }

    /// Background commands, of one session or all, in start order.
    pub fn background_commands(&self, session: Option<SessionId>) -> Vec<BackgroundInfo> {
        self.processes.list(session)
    }

    /// Whether commands can be sandboxed here, and why not.
    pub fn sandbox_support(&self) -> &Support {
        self.launcher.support()
    }

    /// The sandbox settings a command of `agent` is judged with.
    pub fn command_sandbox(&self, agent: &str) -> CommandSandbox {
        let user = &self.settings.user().sandbox;
        CommandSandbox {
            available: self.launcher.support().available(),
            default: user.mode_for(agent),
            network: user.network,
            outside: false,
        }
    }

    /// What a tool call's commands run with: the launcher, the background
    /// commands, and the sandbox of `run_in` (the policy's word; a command
    /// denied by it never gets here, so `None` means the default mode).
    pub(crate) fn command_env(
        &self,
        session: SessionId,
        workspace: Option<&Path>,
        run_in: Option<crate::policy::RunIn>,
        sandbox: CommandSandbox,
    ) -> crate::process::CommandEnv {
        use crate::policy::SandboxMode;
        let run_in = run_in.unwrap_or(crate::policy::RunIn {
            mode: if sandbox.available {
                sandbox.default
            } else {
                SandboxMode::Off
            },
            network: sandbox.network,
        });
        let spec = match run_in.mode {
            SandboxMode::Off => None,
            mode => Some(self.sandbox_spec(session, workspace, mode, run_in.network)),
        };
        crate::process::CommandEnv {
            launcher: Arc::clone(&self.launcher),
            processes: Arc::clone(&self.processes),
            sandbox: spec.filter(|_| sandbox.available),
            grace: self.limits.kill_grace,
            max_processes: self.limits.max_processes,
        }
    }

    /// The sandbox of a session's command in `workspace`: in
    /// `workspace-write`, the workspace (its protected paths read-only) and
    /// the configured extra paths are writable; the temp dir always is.
    fn sandbox_spec(
        &self,
        session: SessionId,
        workspace: Option<&Path>,
        mode: crate::policy::SandboxMode,
        network: bool,
    ) -> crate::process::SandboxSpec {
        let mut writable = Vec::new();
        let mut read_only = Vec::new();
        let mut absent = Vec::new();
        if mode == crate::policy::SandboxMode::WorkspaceWrite {
            if let Some(root) = workspace {
                writable.push(root.to_path_buf());
                let (there, not): (Vec<_>, Vec<_>) = crate::workspace::PROTECTED
                    .iter()
                    .map(|p| root.join(p))
                    .partition(|p| p.symlink_metadata().is_ok());
                read_only = there;
                absent = not;
            }
            writable.extend(self.settings.user().sandbox.writable_paths());
        }
        crate::process::SandboxSpec {
            writable,
            read_only,
            network,
            tmpdir: self.session_tmp_dir(session),
            // Walked by the sandbox's init, off the server's threads.
            mask_ignored: workspace.map(Path::to_path_buf),
            absent,
        }
    }

    /// A session's temp dir (created when a sandboxed command needs it).
    pub fn session_tmp_dir(&self, id: SessionId) -> std::path::PathBuf {
        self.tmp_dir.join(id.to_string())
    }

    // --- sessions -------------------------------------------------------

    /// Creates and persists a session.
    ///
    /// # Errors
    /// An unknown agent, an invalid workspace agents file, a store failure.
    pub async fn create_session(
        &self,
        workspace_folder: Option<String>,
        agent: Option<String>,
        title: Option<String>,
    ) -> Result<Session, RuntimeError> {
        let agent = agent.unwrap_or_else(|| agents::DEFAULT_AGENT.to_owned());
        if !self
            .agents_for(workspace_folder.as_deref())?
            .iter()
            .any(|a| a.slug == agent)
        {
            return Err(RuntimeError::UnknownAgent(agent));
        }
        let now = Utc::now();
        let session = Session {
            id: SessionId::new(),
            title: title
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| crate::domain::UNTITLED.to_owned()),
            workspace_folder,
            agent,
            created_at: now,
            updated_at: now,
            message_count: 0,
            last_seq: 0,
            parent: None,
            model: None,
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

    /// One session.
    ///
    /// # Errors
    /// Not found, or a store failure.
    pub async fn get_session(&self, id: SessionId) -> Result<Session, RuntimeError> {
        Ok(self.store.get_session(id).await?)
    }

    /// Chooses the model of a session's turns (`None`: the configured
    /// one) and keeps the choice with the session; the clients attached to
    /// it are told (`SessionUpdate::ModelChosen`). Its turns use it from
    /// their next model request on, whichever client prompts.
    ///
    /// # Errors
    /// Not found, or a store failure.
    pub async fn set_session_model(
        &self,
        id: SessionId,
        model: Option<crate::domain::ModelChoice>,
    ) -> Result<Session, RuntimeError> {
        let change = crate::store::SessionChange {
            model: Some(model.clone()),
            ..Default::default()
        };
        let session = self.store.update_session(id, change).await?;
        self.hub
            .emit(&session, |_| crate::domain::SessionUpdate::ModelChosen {
                model,
            });
        Ok(session)
    }

    /// Sessions newest first, strictly before `before`.
    ///
    /// # Errors
    /// A store failure.
    pub async fn list_sessions(
        &self,
        before: Option<SessionId>,
        limit: usize,
    ) -> Result<Page<Session>, RuntimeError> {
        Ok(self.store.list_sessions(before, limit).await?)
    }

    /// Deletes a session that is not running a turn; returns how many
    /// messages went with it.
    ///
    /// # Errors
    /// Busy, not found, or a store failure.
    pub async fn delete_session(&self, id: SessionId) -> Result<u64, RuntimeError> {
        if let Some(turn) = self.hub.running(id) {
            return Err(RuntimeError::Busy { session: id, turn });
        }
        if let Some((instance, _)) = self.store.session_lease(id).await? {
            return Err(RuntimeError::RunningElsewhere {
                session: id,
                instance,
            });
        }
        let n = self.store.delete_session(id).await?;
        self.processes.remove_session(id).await;
        self.drop_session_mcp_servers(id).await;
        let _ = std::fs::remove_dir_all(self.session_tmp_dir(id));
        self.bus.publish(
            Event::new(EventKind::SessionDeleted(SessionDeleted {
                reason: "client".into(),
                messages: Some(n),
            }))
            .in_turn(Some(id), None),
        );
        Ok(n)
    }

    /// A session's messages after `after`, in seq order.
    ///
    /// # Errors
    /// Not found, or a store failure.
    pub async fn history(
        &self,
        id: SessionId,
        after: u64,
        limit: usize,
    ) -> Result<Page<Message>, RuntimeError> {
        Ok(self.store.history(id, after, limit).await?)
    }

    /// Attaches a connection to a session's events, then reads what it
    /// missed: nothing can fall between the replay and the live events (a
    /// client drops what it has seen by seq).
    ///
    /// # Errors
    /// Not found, or a store failure.
    pub async fn attach(
        &self,
        id: SessionId,
        conn: ConnId,
        queue: Arc<EventQueue>,
        after_seq: u64,
    ) -> Result<Attached, RuntimeError> {
        let session = self.store.get_session(id).await?;
        self.hub.attach(&session, conn, queue);
        let messages = self.store.history(id, after_seq, usize::MAX).await?.items;
        let questions = self.store.list_questions(Some(id)).await?;
        let approvals = self.store.list_approvals(Some(id)).await?;
        let session = self.store.get_session(id).await?;
        // A turn may run on another instance (a shared store).
        let running_turn = match self.hub.running(session.id) {
            Some(t) => Some(t),
            None => self.store.session_lease(id).await?.and_then(|(_, t)| t),
        };
        Ok(Attached {
            running_turn,
            session,
            messages,
            questions,
            approvals,
        })
    }

    /// Detaches a connection from one session.
    pub fn detach(&self, id: SessionId, conn: ConnId) {
        self.hub.detach(id, conn);
    }

    /// Forgets a connection that went away: it is detached from every
    /// session, and its documents and its editor are dropped. Its running
    /// turns go on (their edits go to another editor, or to disk).
    pub fn disconnect(&self, conn: ConnId) {
        self.hub.detach_all(conn);
        self.editors.unregister(conn);
        self.docs.unregister(conn);
    }

    // --- turns ----------------------------------------------------------

    /// Starts a turn for a user message and attaches `conn` to the session;
    /// returns the turn's id at once.
    ///
    /// # Errors
    /// Unknown session or agent, a turn already running, too many turns, a
    /// store failure.
    pub async fn send_message(
        self: &Arc<Self>,
        input: TurnInput,
        attach: Option<(ConnId, Arc<EventQueue>)>,
    ) -> Result<TurnId, RuntimeError> {
        if let Some((conn, queue)) = attach {
            let session = self.store.get_session(input.session_id).await?;
            self.hub.attach(&session, conn, queue);
        }
        turn::send_message(self, input).await
    }

    /// Cancels the running turn of a session; returns it.
    ///
    /// # Errors
    /// Not found, or a store failure.
    pub async fn cancel_turn(&self, id: SessionId) -> Result<Option<TurnId>, RuntimeError> {
        self.store.get_session(id).await?;
        match self.hub.cancel(id) {
            Some(turn) => Ok(Some(turn)),
            // The turn may run on another instance: its owner cancels it.
            None => cluster::cancel_elsewhere(self, id).await,
        }
    }

    /// Compacts a session's context now (elides old tool outputs and
    /// summarises the turns before the latest one); returns the marker in
    /// force, `None` when there was nothing to compact. Not while a turn runs.
    ///
    /// # Errors
    /// Not found, busy, the summary request failed, or a store failure.
    pub async fn compact_session(
        &self,
        id: SessionId,
    ) -> Result<Option<crate::domain::Compaction>, RuntimeError> {
        let session = self.store.get_session(id).await?;
        // Held like a turn, so that no turn starts meanwhile.
        let hold = TurnId::new();
        self.hub
            .begin_turn(&session, hold, tokio_util::sync::CancellationToken::new())
            .map_err(|turn| RuntimeError::Busy {
                session: session.id,
                turn,
            })?;
        // And, over a shared store, under the session's lease.
        match cluster::take_lease(self, id, None).await {
            Ok(cluster::Taken::Here { .. }) => {}
            Ok(cluster::Taken::Elsewhere { owner }) => {
                self.hub.end_turn(id, hold);
                return Err(RuntimeError::RunningElsewhere {
                    session: id,
                    instance: owner,
                });
            }
            Err(e) => {
                self.hub.end_turn(id, hold);
                return Err(e);
            }
        }
        let result = async {
            let (target, base, _) = turn::request_base(self, &session, None).await?;
            let history = self.store.history(id, 0, usize::MAX).await?.items;
            let counter = crate::llm::context::Counter::for_model(&target.model);
            counter.load().await;
            let estimator = crate::llm::context::Estimator::new(counter);
            let compactor = context::Compactor {
                rt: self,
                session_id: id,
                turn_id: None,
                target: &target,
                base: &base,
                estimator: &estimator,
            };
            let done = compactor.run(&history, true).await?;
            if let Some(c) = &done {
                self.hub.add_cost(&session, c.cost);
                turn::announce_compaction(self, &session, None, c, "request");
            }
            Ok(done.and_then(|c| c.marker.compaction))
        }
        .await;
        self.hub.end_turn(id, hold);
        cluster::release(self, id).await;
        result
    }

    /// A session's checkpoints: per turn, the files its edits changed.
    ///
    /// # Errors
    /// Not found, or a store failure.
    pub async fn list_checkpoints(
        &self,
        id: SessionId,
    ) -> Result<Vec<checkpoints::TurnCheckpoint>, RuntimeError> {
        self.store.get_session(id).await?;
        checkpoints::list(self, id).await
    }

    /// Puts the files the agent changed in `turn_id` and later back as they
    /// were before that turn; files changed since by someone else are
    /// conflicts, left alone unless `overwrite`. With `truncate`, the
    /// conversation from that turn on is hidden from the model by a marker
    /// (the messages stay in the history). Edits go through the editor
    /// of `conn` (or another that has the file open), else to disk.
    ///
    /// # Errors
    /// Not found, no workspace, a turn that changed nothing, busy, a store
    /// or file system failure.
    pub async fn restore_checkpoint(
        self: &Arc<Self>,
        id: SessionId,
        turn_id: TurnId,
        overwrite: bool,
        truncate: bool,
        conn: Option<ConnId>,
    ) -> Result<checkpoints::RestoreReport, RuntimeError> {
        checkpoints::restore(self, id, turn_id, overwrite, truncate, conn).await
    }

    /// Switches a session's agent; returns the session.
    ///
    /// # Errors
    /// Unknown session or agent, or a store failure.
    pub async fn switch_agent(
        &self,
        id: SessionId,
        agent: &str,
        reason: &str,
    ) -> Result<Session, RuntimeError> {
        // Over a shared store the switch is announced with the seqs of the
        // instance holding the session's lease: taken here when no turn runs
        // (a turn running here holds it already), refused while a turn runs
        // on another instance.
        let mut took = false;
        if self.hub.running(id).is_none() {
            match cluster::take_lease(self, id, None).await? {
                cluster::Taken::Here { .. } => took = true,
                cluster::Taken::Elsewhere { owner } => {
                    return Err(RuntimeError::RunningElsewhere {
                        session: id,
                        instance: owner,
                    });
                }
            }
        }
        let switched = turn::switch_agent(self, id, agent, reason).await;
        if took {
            cluster::release(self, id).await;
        }
        switched?;
        Ok(self.store.get_session(id).await?)
    }

    /// Answers a pending question; the turn that asked goes on (or resumes,
    /// when it was lost to a restart).
    ///
    /// # Errors
    /// The question is not pending.
    pub async fn answer_question(
        self: &Arc<Self>,
        session: SessionId,
        question: QuestionId,
        answer: String,
    ) -> Result<(), RuntimeError> {
        turn::answer_question(self, session, question, answer).await
    }

    /// Decides a pending approval. The first decision wins; `by` names who
    /// decided (for the audit log and the other clients).
    ///
    /// # Errors
    /// Not pending, or edited parameters that are invalid (the approval
    /// then stays pending).
    pub async fn decide_approval(
        self: &Arc<Self>,
        id: ApprovalId,
        decision: ApprovalDecision,
        by: &str,
    ) -> Result<PendingApproval, RuntimeError> {
        turn::decide_approval(self, id, decision, by).await
    }

    /// Pending approvals, oldest first, optionally of one session.
    ///
    /// # Errors
    /// A store failure.
    pub async fn pending_approvals(
        &self,
        session: Option<SessionId>,
    ) -> Result<Vec<PendingApproval>, RuntimeError> {
        Ok(self.store.list_approvals(session).await?)
    }

    // --- agents, policy, model ------------------------------------------

    /// The agents of a workspace folder (a `file://` URI) with the warnings
    /// about workspace files ignored for lack of trust.
    ///
    /// # Errors
    /// An invalid `.codelab/agents.toml`.
    pub fn workspace_agents(
        &self,
        workspace_folder: Option<&str>,
    ) -> Result<Arc<WorkspaceAgents>, RuntimeError> {
        let root = workspace_folder.and_then(uri_to_path);
        Ok(self.settings.agents(root.as_deref())?)
    }

    /// The agents of a workspace folder (a `file://` URI).
    ///
    /// # Errors
    /// An invalid `.codelab/agents.toml`.
    pub fn agents_for(&self, workspace_folder: Option<&str>) -> Result<Vec<Agent>, RuntimeError> {
        Ok(self.workspace_agents(workspace_folder)?.agents.clone())
    }

    /// The agent handling a session (a session on an agent from an untrusted
    /// workspace continues with the default agent, announced as a switch).
    ///
    /// # Errors
    /// Unknown session or agent, or a store failure.
    pub async fn current_agent(&self, id: SessionId) -> Result<Agent, RuntimeError> {
        let session = self.store.get_session(id).await?;
        turn::session_agent(self, &session).await
    }

    /// The effective policy of a session in a workspace folder: built-in,
    /// user, workspace (its `allow` rules only when trusted) and the
    /// session's "allow always" rules.
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
    fn add_session_rule(&self, session: SessionId, rule: Rule) {
        self.session_rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(session)
            .or_default()
            .push(rule);
    }

    /// Problems found in policy files (file, line and reason).
    pub fn policy_errors(&self) -> Vec<String> {
        self.settings.policy_errors()
    }

    /// The provider and model for a turn of `agent` in `workspace_folder`
    /// (a `file://` URI), with the editor's settings on top.
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
        let target = || {
            self.settings
                .llm(root.as_deref(), editor)
                .map_err(|e| LlmError::NotConfigured(format!("invalid workspace config: {e}")))?
                .resolve(agent)
        };
        match target() {
            // `codelab-agent setup` (ACP's terminal auth) may have written a
            // provider while this process kept running: read the user's
            // `[llm]` again before giving up.
            Err(LlmError::NotConfigured(_)) if self.reload_llm_settings().is_ok() => target(),
            result => result,
        }
    }

    /// The models a session in `workspace_folder` may choose from, each with
    /// its provider ([`LlmSettings::model_choices`]).
    ///
    /// # Errors
    /// The workspace's configuration is invalid.
    pub fn model_choices(
        &self,
        workspace_folder: Option<&str>,
    ) -> Result<Vec<(String, String)>, LlmError> {
        let root = workspace_folder.and_then(uri_to_path);
        Ok(self
            .settings
            .llm(root.as_deref(), None)
            .map_err(|e| LlmError::NotConfigured(format!("invalid workspace config: {e}")))?
            .model_choices())
    }

    // --- observability --------------------------------------------------

    /// A page of the audit log, newest first, with everything published
    /// before the call written.
    ///
    /// # Errors
    /// A store failure.
    pub async fn audit_page(
        &self,
        query: AuditQuery,
        limit: usize,
    ) -> Result<Page<AuditRecord>, RuntimeError> {
        if let Some(id) = self.audit_subscription {
            self.bus.flush(id).await;
        }
        Ok(self.store.audit_page(query, limit).await?)
    }
}
/// The open documents of every connection, as tools see them.
impl crate::tools::Buffers for DocRegistry {
    fn text(&self, path: &std::path::Path) -> Option<String> {
        let mut found = None;
        self.each(|p, d| {
            if p == path {
                found = Some(d.text.to_string());
                false
            } else {
                true
            }
        });
        found
    }

    fn all_under(&self, root: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
        let mut out = Vec::new();
        self.each(|p, d| {
            if p.starts_with(root)
                && !out
                    .iter()
                    .any(|(q, _): &(std::path::PathBuf, String)| q == p)
            {
                out.push((p.to_path_buf(), d.text.to_string()));
            }
            true
        });
        out
    }
}

#[cfg(test)]
mod tests;
