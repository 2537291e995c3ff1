//! The SDK's `Agent` trait: each ACP request becomes runtime calls.
//!
//! - `initialize`: protocol version 1 (what a client asks for otherwise is
//!   answered with 1, the latest this agent speaks), and the capabilities it
//!   has: `loadSession`, embedded context in prompts, `session/list`; the
//!   auth methods: `codelab-setup` (type `terminal`, to clients that offer
//!   `auth.terminal`: they run `codelab-agent acp setup` and reconnect) and
//!   `codelab-config` (type `agent`): the configured model provider.
//! - `authenticate`: succeeds when a model provider is configured, else
//!   `auth_required` saying what to set.
//! - `session/new`: the `cwd` becomes the session's workspace folder (a
//!   `file://` URI); `mcpServers` are accepted and ignored. Without a model
//!   provider configured the answer is `auth_required`.
//! - `session/load`: replays the stored history as `session/update`s, then
//!   answers; the session's events follow live.
//! - `session/prompt`: text, resource links and embedded text resources
//!   become the user message; the answer comes when the turn ends, with its
//!   stop reason (a turn that failed is a JSON-RPC error).
//! - `session/cancel`: cancels the running turn; its prompt answers `cancelled`.
//! - `session/set_mode`: agents are modes; switches the session's agent.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use agent_client_protocol as acp;

use super::connection::{Connection, acp_id};
use super::errors::{from_runtime, invalid_params, not_open, turn_failed, unknown_session};
use super::{CONFIG_AUTH_METHOD, SETUP_AUTH_METHOD, events};
use crate::domain::{ModelChoice, Session, SessionId, StopReason};
use crate::llm::LlmError;
use crate::runtime::TurnInput;
use crate::workspace::{path_to_uri, uri_to_path};

/// Sessions per `session/list` page.
const LIST_PAGE: usize = 50;

/// codelab-agent as an ACP agent, on one connection.
pub(super) struct CodelabAgent {
    conn: Rc<Connection>,
}

impl CodelabAgent {
    pub(super) fn new(conn: Rc<Connection>) -> Self {
        Self { conn }
    }

    /// The agents of a session's workspace as ACP modes.
    fn modes(&self, session: &Session) -> acp::Result<acp::SessionModeState> {
        modes(&self.conn, session)
    }

    /// Offers the slash commands for what ACP has no method for, once the
    /// client has the session (after this handler's answer).
    fn offer_commands(&self, session: &acp::SessionId) {
        let conn = Rc::clone(&self.conn);
        let session = session.clone();
        tokio::task::spawn_local(async move {
            tokio::task::yield_now().await;
            conn.notify(
                &session,
                acp::SessionUpdate::AvailableCommandsUpdate(acp::AvailableCommandsUpdate::new(
                    slash_commands(),
                )),
            )
            .await;
        });
    }

    /// Runs a slash command (`/compact`, `/agent NAME`, `/checkpoints`,
    /// `/restore N [truncate]`); `None` when the
    /// prompt is not one (it goes to the model).
    async fn slash_command(
        &self,
        args: &acp::PromptRequest,
        id: SessionId,
    ) -> Option<acp::Result<acp::PromptResponse>> {
        let [acp::ContentBlock::Text(t)] = args.prompt.as_slice() else {
            return None;
        };
        let text = t.text.trim();
        let (name, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let said = match name {
            "/compact" => match self.conn.rt.compact_session(id).await {
                Ok(Some(c)) => format!(
                    "Compacted the conversation: about {} tokens before, {} after.",
                    c.tokens_before, c.tokens_after
                ),
                Ok(None) => "Nothing to compact yet.".to_owned(),
                Err(e) => return Some(Err(from_runtime(&e))),
            },
            "/agent" => {
                let want = rest.trim();
                match self
                    .conn
                    .rt
                    .switch_agent(id, want, "requested by the user")
                    .await
                {
                    Ok(s) => format!("Switched to the {} agent.", s.agent),
                    Err(crate::runtime::RuntimeError::UnknownAgent(m)) => {
                        return Some(Err(invalid_params(format!("unknown agent `{m}`"))));
                    }
                    Err(e) => return Some(Err(from_runtime(&e))),
                }
            }
            "/checkpoints" => match self.conn.rt.list_checkpoints(id).await {
                Ok(list) if list.is_empty() => {
                    "No checkpoints yet: the agent has changed no file in this session.".to_owned()
                }
                Ok(list) => {
                    let mut out = String::from(
                        "Checkpoints (the files as they were before each turn that changed \
                         some; `/restore N` puts them back, `/restore N truncate` also hides \
                         the conversation from that turn on from the model):\n",
                    );
                    for (n, c) in list.iter().enumerate() {
                        let files: Vec<String> = c
                            .files
                            .iter()
                            .map(|f| {
                                format!("{} ({}, +{} -{})", f.path, f.status, f.added, f.removed)
                            })
                            .collect();
                        let _ =
                            writeln!(out, "{}. turn {}: {}", n + 1, c.turn_id, files.join(", "));
                    }
                    out
                }
                Err(e) => return Some(Err(from_runtime(&e))),
            },
            "/restore" => {
                let mut words = rest.split_whitespace();
                let which = words.next().unwrap_or_default();
                let truncate = match words.next() {
                    None => false,
                    Some("truncate") => true,
                    Some(other) => {
                        return Some(Err(invalid_params(format!(
                            "/restore N [truncate]: unexpected `{other}`"
                        ))));
                    }
                };
                let list = match self.conn.rt.list_checkpoints(id).await {
                    Ok(l) => l,
                    Err(e) => return Some(Err(from_runtime(&e))),
                };
                let Some(turn) = which
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|i| list.get(i))
                    .or_else(|| list.iter().find(|c| c.turn_id.to_string() == which))
                    .map(|c| c.turn_id)
                else {
                    return Some(Err(invalid_params(format!(
                        "/restore N: no checkpoint `{which}`; /checkpoints lists them (1 to {})",
                        list.len()
                    ))));
                };
                match self
                    .conn
                    .rt
                    .restore_checkpoint(id, turn, false, truncate, Some(self.conn.id))
                    .await
                {
                    Ok(r) => {
                        let mut out = format!(
                            "Restored {} file(s) as they were before turn {turn}",
                            r.restored.len()
                        );
                        if !r.restored.is_empty() {
                            let _ = write!(out, ": {}", r.restored.join(", "));
                        }
                        out.push('.');
                        if !r.conflicts.is_empty() {
                            let _ = write!(
                                out,
                                " Left alone, changed since the agent's edit: {}.",
                                r.conflicts.join(", ")
                            );
                        }
                        if r.truncated_from_seq.is_some() {
                            out.push_str(
                                " The conversation from that turn on is hidden from the model.",
                            );
                        }
                        out
                    }
                    Err(e) => return Some(Err(from_runtime(&e))),
                }
            }
            _ => return None,
        };
        self.conn
            .notify(
                &args.session_id,
                acp::SessionUpdate::AgentMessageChunk(acp::ContentChunk::new(said.into())),
            )
            .await;
        Some(Ok(acp::PromptResponse::new(acp::StopReason::EndTurn)))
    }

    /// Fails with `auth_required` when no model provider is configured (for
    /// the workspace, when there is one).
    fn check_model(&self, workspace_folder: Option<&str>) -> acp::Result<()> {
        let result =
            self.conn
                .rt
                .llm_target(workspace_folder, None, Some(crate::agents::DEFAULT_AGENT));
        match result {
            Ok(_) => Ok(()),
            Err(LlmError::NotConfigured(why)) => Err(acp::Error::new(
                acp::ErrorCode::AuthRequired.into(),
                format!("no model provider is configured: {why}"),
            )),
            Err(e) => Err(acp::Error::new(
                acp::ErrorCode::InternalError.into(),
                e.to_string(),
            )),
        }
    }

    /// An open session, or the error to answer.
    async fn open_session(&self, id: &acp::SessionId) -> acp::Result<SessionId> {
        let session = parse_session(id)?;
        if self.conn.is_open(session) {
            return Ok(session);
        }
        match self.conn.rt.get_session(session).await {
            Ok(_) => Err(not_open(id)),
            Err(e) => Err(from_runtime(&e)),
        }
    }
}

/// The slash commands offered with `available_commands_update`: the
/// runtime's operations that have no ACP method.
fn slash_commands() -> Vec<acp::AvailableCommand> {
    vec![
        acp::AvailableCommand::new(
            "compact",
            "Compact the conversation now: elide old tool outputs and summarise older turns",
        ),
        acp::AvailableCommand::new(
            "checkpoints",
            "List the checkpoints: the files as they were before each turn that changed some",
        ),
        acp::AvailableCommand::new(
            "restore",
            "Put the files back as they were before checkpoint N (`truncate`: also hide the \
             conversation from that turn on from the model)",
        )
        .input(acp::AvailableCommandInput::Unstructured(
            acp::UnstructuredCommandInput::new("N [truncate]"),
        )),
        acp::AvailableCommand::new("agent", "Switch the session's agent").input(
            acp::AvailableCommandInput::Unstructured(acp::UnstructuredCommandInput::new(
                "orchestrator, coder, architect, debug or ask",
            )),
        ),
    ]
}

/// The agents of a session's workspace as ACP modes.
fn modes(conn: &Connection, session: &Session) -> acp::Result<acp::SessionModeState> {
    let agents = conn
        .rt
        .agents_for(session.workspace_folder.as_deref())
        .map_err(|e| from_runtime(&e))?;
    let modes = agents
        .into_iter()
        .map(|a| acp::SessionMode::new(a.slug, a.name).description(a.description))
        .collect();
    Ok(acp::SessionModeState::new(session.agent.clone(), modes))
}

/// The id of a model choice: `provider/model`.
fn model_value(provider: &str, model: &str) -> String {
    format!("{provider}/{model}")
}

/// A session's configuration options: its agent (`mode`, the same as its
/// modes) and its model (`model`: the configured models; the one in use
/// first when the settings do not name it).
pub(super) fn config_options(
    conn: &Connection,
    session: &Session,
) -> acp::Result<Vec<acp::SessionConfigOption>> {
    Ok(config_options_of(conn, session, modes(conn, session)?))
}

/// [`config_options`] with the session's modes already read.
fn config_options_of(
    conn: &Connection,
    session: &Session,
    modes: acp::SessionModeState,
) -> Vec<acp::SessionConfigOption> {
    let mut out = vec![
        acp::SessionConfigOption::select(
            "mode",
            "Agent",
            modes.current_mode_id.0.to_string(),
            modes
                .available_modes
                .into_iter()
                .map(|m| {
                    acp::SessionConfigSelectOption::new(m.id.0.to_string(), m.name)
                        .description(m.description)
                })
                .collect::<Vec<_>>(),
        )
        .category(acp::SessionConfigOptionCategory::Mode)
        .description("The agent that answers: its role, tools and rules".to_owned()),
    ];
    let ws = session.workspace_folder.as_deref();
    let chosen = session.model.as_ref().map(crate::runtime::chosen_llm);
    let current = conn
        .rt
        .llm_target(ws, chosen.as_ref(), Some(&session.agent))
        .ok()
        .map(|t| (t.provider, t.model));
    let mut choices = conn.rt.model_choices(ws).unwrap_or_default();
    if let Some(c) = &current {
        if !choices.contains(c) {
            choices.insert(0, c.clone());
        }
        out.push(
            acp::SessionConfigOption::select(
                "model",
                "Model",
                model_value(&c.0, &c.1),
                choices
                    .iter()
                    .map(|(p, m)| {
                        acp::SessionConfigSelectOption::new(model_value(p, m), m.clone())
                            .description(format!("from {p}"))
                    })
                    .collect::<Vec<_>>(),
            )
            .category(acp::SessionConfigOptionCategory::Model)
            .description(
                "The model this session's turns use (an agent with its own model in \
                 codelab.toml keeps it)"
                    .to_owned(),
            ),
        );
    }
    out
}

/// The params of `session/delete`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteSession {
    session_id: acp::SessionId,
}

fn parse_session(id: &acp::SessionId) -> acp::Result<SessionId> {
    uuid::Uuid::parse_str(&id.0)
        .map(SessionId::from)
        .map_err(|_| unknown_session(id))
}

fn absolute_cwd(cwd: &Path) -> acp::Result<()> {
    if cwd.is_absolute() {
        Ok(())
    } else {
        Err(invalid_params(format!(
            "`cwd` must be an absolute path, got {}",
            cwd.display()
        )))
    }
}

/// How a resource is named in the user message: its path relative to the
/// workspace when it is a file in it, else its URI.
fn shown(uri: &str, root: Option<&Path>) -> String {
    uri_to_path(uri)
        .and_then(|p| {
            root.and_then(|r| p.strip_prefix(r).ok().map(|rel| rel.display().to_string()))
                .or_else(|| Some(p.display().to_string()))
        })
        .unwrap_or_else(|| uri.to_owned())
}

/// What a prompt says.
#[derive(Debug, PartialEq)]
pub(super) struct UserMessage {
    /// The user message.
    pub text: String,
    /// The workspace files its resource links name.
    pub files: Vec<PathBuf>,
}

/// A prompt's content as the user message: text as it is, resource links
/// inline as `@path`, embedded text resources inline as `@path` with their
/// text appended in `<resource>` blocks.
///
/// # Errors
/// Images and audio (not advertised), or a prompt with nothing in it.
pub(super) fn user_message(
    blocks: &[acp::ContentBlock],
    root: Option<&Path>,
) -> acp::Result<UserMessage> {
    let mut text = String::new();
    let mut attached = String::new();
    let mut files = Vec::new();
    for block in blocks {
        match block {
            acp::ContentBlock::Text(t) => text.push_str(&t.text),
            acp::ContentBlock::ResourceLink(l) => {
                text.push_str(&format!("@{}", shown(&l.uri, root)));
                if let Some(p) = uri_to_path(&l.uri)
                    && root.is_some_and(|r| p.starts_with(r))
                    && !files.contains(&p)
                {
                    files.push(p);
                }
            }
            acp::ContentBlock::Resource(r) => match &r.resource {
                acp::EmbeddedResourceResource::TextResourceContents(t) => {
                    let name = shown(&t.uri, root);
                    text.push_str(&format!("@{name}"));
                    attached.push_str(&format!(
                        "\n\n<resource path=\"{name}\">\n{}\n</resource>",
                        t.text.trim_end_matches('\n')
                    ));
                }
                acp::EmbeddedResourceResource::BlobResourceContents(b) => {
                    let name = shown(&b.uri, root);
                    text.push_str(&format!("@{name}"));
                    attached.push_str(&format!(
                        "\n\n(@{name} is binary; its content is not included)"
                    ));
                }
                _ => return Err(invalid_params("an embedded resource of an unknown kind")),
            },
            acp::ContentBlock::Image(_) => {
                return Err(invalid_params(
                    "image content is not supported (the agent does not advertise the `image` prompt capability)",
                ));
            }
            acp::ContentBlock::Audio(_) => {
                return Err(invalid_params(
                    "audio content is not supported (the agent does not advertise the `audio` prompt capability)",
                ));
            }
            _ => return Err(invalid_params("a content block of an unknown type")),
        }
    }
    text.push_str(&attached);
    if text.trim().is_empty() {
        return Err(invalid_params("the prompt is empty"));
    }
    Ok(UserMessage { text, files })
}

#[async_trait::async_trait(?Send)]
impl acp::Agent for CodelabAgent {
    async fn initialize(
        &self,
        args: acp::InitializeRequest,
    ) -> acp::Result<acp::InitializeResponse> {
        tracing::info!(
            client = ?args.client_info.as_ref().map(|i| &i.name),
            version = ?args.protocol_version,
            "ACP initialize"
        );
        let terminal_auth = args.client_capabilities.auth.terminal;
        self.conn.set_client(args.client_capabilities);
        let capabilities = acp::AgentCapabilities::new()
            .load_session(true)
            .prompt_capabilities(acp::PromptCapabilities::new().embedded_context(true))
            .mcp_capabilities(acp::McpCapabilities::new().http(true))
            .session_capabilities(
                acp::SessionCapabilities::new()
                    .list(acp::SessionListCapabilities::new())
                    .resume(acp::SessionResumeCapabilities::new())
                    .close(acp::SessionCloseCapabilities::new()),
            );
        let auth = acp::AuthMethodAgent::new(CONFIG_AUTH_METHOD, "CodeLab model settings")
            .description(
                "The model provider configured for codelab-agent: OPENAI_API_KEY or \
                 ANTHROPIC_API_KEY with CODELAB_MODEL in its environment, or [llm] in \
                 codelab.toml in its data directory (restart the agent after changing them).",
            );
        let mut auth_methods = Vec::new();
        if terminal_auth {
            auth_methods.push(acp::AuthMethod::Terminal(
                acp::AuthMethodTerminal::new(SETUP_AUTH_METHOD, "Set up a model provider")
                    .description(
                        "Choose the provider, API key and model in a terminal; they are saved \
                         in codelab.toml in the agent's data directory.",
                    )
                    .args(vec!["setup".to_owned()]),
            ));
        }
        auth_methods.push(acp::AuthMethod::Agent(auth));
        Ok(acp::InitializeResponse::new(acp::ProtocolVersion::V1)
            .agent_capabilities(capabilities)
            .auth_methods(auth_methods)
            .agent_info(
                acp::Implementation::new("codelab-agent", env!("CARGO_PKG_VERSION"))
                    .title("CodeLab Agent"),
            ))
    }

    async fn authenticate(
        &self,
        args: acp::AuthenticateRequest,
    ) -> acp::Result<acp::AuthenticateResponse> {
        // After the terminal method the client authenticates with either id:
        // both mean "use what is configured now".
        let method = args.method_id.0.as_ref();
        if method != CONFIG_AUTH_METHOD && method != SETUP_AUTH_METHOD {
            return Err(invalid_params(format!(
                "unknown auth method `{}`; this agent offers `{CONFIG_AUTH_METHOD}` and \
                 `{SETUP_AUTH_METHOD}`",
                args.method_id
            )));
        }
        self.check_model(None)?;
        Ok(acp::AuthenticateResponse::new())
    }

    async fn new_session(
        &self,
        args: acp::NewSessionRequest,
    ) -> acp::Result<acp::NewSessionResponse> {
        absolute_cwd(&args.cwd)?;
        if !args.cwd.is_dir() {
            return Err(invalid_params(format!(
                "`cwd` {} is not a directory",
                args.cwd.display()
            )));
        }
        let uri = path_to_uri(&args.cwd)
            .ok_or_else(|| invalid_params(format!("{} has no file URI", args.cwd.display())))?;
        let mcp = mcp_specs(&args.mcp_servers)?;
        self.check_model(Some(&uri))?;
        let rt = &self.conn.rt;
        let session = rt
            .create_session(Some(uri), None, None)
            .await
            .map_err(|e| from_runtime(&e))?;
        rt.set_session_mcp_servers(session.id, &mcp);
        self.conn.open(&session, Some(args.cwd));
        rt.attach(session.id, self.conn.id, self.conn.queue.clone(), u64::MAX)
            .await
            .map_err(|e| from_runtime(&e))?;
        let modes = self.modes(&session)?;
        let options = config_options_of(&self.conn, &session, modes.clone());
        tracing::info!(session = %session.id, "ACP session created");
        self.offer_commands(&acp_id(session.id));
        Ok(acp::NewSessionResponse::new(acp_id(session.id))
            .modes(modes)
            .config_options(options))
    }

    async fn load_session(
        &self,
        args: acp::LoadSessionRequest,
    ) -> acp::Result<acp::LoadSessionResponse> {
        absolute_cwd(&args.cwd)?;
        let id = parse_session(&args.session_id)?;
        let rt = &self.conn.rt;
        // Attached first, then read: nothing falls between the history and
        // the live events.
        let attached = rt
            .attach(id, self.conn.id, self.conn.queue.clone(), 0)
            .await
            .map_err(|e| from_runtime(&e))?;
        let root = attached
            .session
            .workspace_folder
            .as_deref()
            .and_then(uri_to_path)
            .unwrap_or_else(|| args.cwd.clone());
        if root != args.cwd {
            tracing::warn!(session = %id, cwd = %args.cwd.display(), workspace = %root.display(),
                "session/load with another cwd than the session's workspace folder; the session keeps its own");
        }
        rt.set_session_mcp_servers(id, &mcp_specs(&args.mcp_servers)?);
        self.conn.open(&attached.session, Some(root.clone()));
        for update in events::replay(&attached.messages, Some(&root)) {
            self.conn.notify(&args.session_id, update).await;
        }
        let modes = self.modes(&attached.session)?;
        let options = config_options_of(&self.conn, &attached.session, modes.clone());
        self.offer_commands(&args.session_id);
        Ok(acp::LoadSessionResponse::new()
            .modes(modes)
            .config_options(options))
    }

    async fn resume_session(
        &self,
        args: acp::ResumeSessionRequest,
    ) -> acp::Result<acp::ResumeSessionResponse> {
        absolute_cwd(&args.cwd)?;
        let id = parse_session(&args.session_id)?;
        let rt = &self.conn.rt;
        // No replay: only what happens from now on.
        let attached = rt
            .attach(id, self.conn.id, self.conn.queue.clone(), u64::MAX)
            .await
            .map_err(|e| from_runtime(&e))?;
        let root = attached
            .session
            .workspace_folder
            .as_deref()
            .and_then(uri_to_path)
            .unwrap_or_else(|| args.cwd.clone());
        rt.set_session_mcp_servers(id, &mcp_specs(&args.mcp_servers)?);
        self.conn.open(&attached.session, Some(root));
        let modes = self.modes(&attached.session)?;
        let options = config_options_of(&self.conn, &attached.session, modes.clone());
        tracing::info!(session = %id, "ACP session resumed");
        self.offer_commands(&args.session_id);
        Ok(acp::ResumeSessionResponse::new()
            .modes(modes)
            .config_options(options))
    }

    async fn close_session(
        &self,
        args: acp::CloseSessionRequest,
    ) -> acp::Result<acp::CloseSessionResponse> {
        let id = self.open_session(&args.session_id).await?;
        self.conn.close_session(id).await;
        tracing::info!(session = %id, "ACP session closed");
        Ok(acp::CloseSessionResponse::new())
    }

    /// `session/delete` (ACP v1), which reaches the agent as the extension
    /// method `_codelab/session/delete` (see `transport.rs`): the session,
    /// its history, approvals and checkpoints go, for every client. A
    /// session answering a prompt is not deleted (cancel it first).
    async fn ext_method(&self, args: acp::ExtRequest) -> acp::Result<acp::ExtResponse> {
        // The SDK hands an extension method over without its underscore.
        if Some(&*args.method) != super::transport::DELETE_EXT.strip_prefix('_') {
            return Err(acp::Error::method_not_found());
        }
        let params: DeleteSession = serde_json::from_str(args.params.get())
            .map_err(|e| invalid_params(format!("session/delete: {e}")))?;
        let id = parse_session(&params.session_id)?;
        let messages = self
            .conn
            .rt
            .delete_session(id)
            .await
            .map_err(|e| from_runtime(&e))?;
        if self.conn.is_open(id) {
            self.conn.close_session(id).await;
        }
        tracing::info!(session = %id, messages, "ACP session deleted");
        let empty = serde_json::value::to_raw_value(&serde_json::json!({}))
            .map_err(|e| acp::Error::new(acp::ErrorCode::InternalError.into(), e.to_string()))?;
        Ok(acp::ExtResponse::new(empty.into()))
    }

    async fn list_sessions(
        &self,
        args: acp::ListSessionsRequest,
    ) -> acp::Result<acp::ListSessionsResponse> {
        let before = match &args.cursor {
            Some(c) => Some(
                uuid::Uuid::parse_str(c)
                    .map(SessionId::from)
                    .map_err(|_| invalid_params(format!("invalid cursor `{c}`")))?,
            ),
            None => None,
        };
        let page = self
            .conn
            .rt
            .list_sessions(before, LIST_PAGE)
            .await
            .map_err(|e| from_runtime(&e))?;
        let next = if page.more {
            page.items.last().map(|s| s.id.to_string())
        } else {
            None
        };
        let sessions = page
            .items
            .into_iter()
            .filter(|s| s.parent.is_none())
            .filter_map(|s| {
                let cwd = s.workspace_folder.as_deref().and_then(uri_to_path)?;
                if args.cwd.as_ref().is_some_and(|want| *want != cwd) {
                    return None;
                }
                Some(
                    acp::SessionInfo::new(acp_id(s.id), cwd)
                        .title(s.title)
                        .updated_at(s.updated_at.to_rfc3339()),
                )
            })
            .collect();
        Ok(acp::ListSessionsResponse::new(sessions).next_cursor(next))
    }

    async fn prompt(&self, args: acp::PromptRequest) -> acp::Result<acp::PromptResponse> {
        let id = self.open_session(&args.session_id).await?;
        // The runtime finds a turn's editor (and a restore's) by its
        // connection: this one's writes go through the client, for the
        // session prompting now.
        if let Some(editor) = self.conn.editor(id) {
            self.conn.rt.editors().register(self.conn.id, editor);
        }
        if let Some(done) = self.slash_command(&args, id).await {
            return done;
        }
        let root = self.conn.root(id);
        let message = user_message(&args.prompt, root.as_deref())?;
        // From here a `session/cancel` is kept for the turn this starts.
        self.conn.prompt_starting(id);
        if !self.conn.rt.is_running(id) {
            self.conn
                .read_buffers(&args.session_id, message.files)
                .await;
        }
        let input = TurnInput {
            session_id: id,
            text: message.text,
            agent: None,
            context: None,
            conn: Some(self.conn.id),
            // The runtime applies the model chosen for the session.
            editor_llm: None,
        };
        let started = self
            .conn
            .rt
            .send_message(input, Some((self.conn.id, self.conn.queue.clone())))
            .await;
        let cancelled_meanwhile = self.conn.prompt_started(id);
        let turn = started.map_err(|e| from_runtime(&e))?;
        if cancelled_meanwhile {
            self.conn.cancel_turn(id).await;
        }
        let end = self.conn.wait_turn(id, turn).await.map_err(|_| {
            acp::Error::new(
                acp::ErrorCode::InternalError.into(),
                "the connection is closing",
            )
        })?;
        let stop = match end.stop {
            StopReason::EndTurn => acp::StopReason::EndTurn,
            StopReason::Cancelled => acp::StopReason::Cancelled,
            StopReason::MaxIterations => acp::StopReason::MaxTurnRequests,
            StopReason::MaxTokens => acp::StopReason::MaxTokens,
            StopReason::Refusal => acp::StopReason::Refusal,
            StopReason::Error => return Err(turn_failed(end.error.as_deref())),
        };
        Ok(acp::PromptResponse::new(stop))
    }

    async fn cancel(&self, args: acp::CancelNotification) -> acp::Result<()> {
        match parse_session(&args.session_id) {
            Ok(id) => self.conn.cancel_requested(id).await,
            Err(_) => {
                tracing::debug!(session = %args.session_id, "session/cancel for an unknown session")
            }
        }
        Ok(())
    }

    async fn set_session_mode(
        &self,
        args: acp::SetSessionModeRequest,
    ) -> acp::Result<acp::SetSessionModeResponse> {
        let id = self.open_session(&args.session_id).await?;
        match self
            .conn
            .rt
            .switch_agent(id, &args.mode_id.0, "requested by the user")
            .await
        {
            Ok(_) => Ok(acp::SetSessionModeResponse::new()),
            Err(crate::runtime::RuntimeError::UnknownAgent(m)) => {
                Err(invalid_params(format!("unknown mode `{m}`")))
            }
            Err(e) => Err(from_runtime(&e)),
        }
    }

    async fn set_session_config_option(
        &self,
        args: acp::SetSessionConfigOptionRequest,
    ) -> acp::Result<acp::SetSessionConfigOptionResponse> {
        let id = self.open_session(&args.session_id).await?;
        let rt = &self.conn.rt;
        let value = args.value.0.as_ref();
        match args.config_id.0.as_ref() {
            "mode" => match rt.switch_agent(id, value, "requested by the user").await {
                Ok(_) => {}
                Err(crate::runtime::RuntimeError::UnknownAgent(m)) => {
                    return Err(invalid_params(format!("unknown mode `{m}`")));
                }
                Err(e) => return Err(from_runtime(&e)),
            },
            "model" => {
                let session = rt.get_session(id).await.map_err(|e| from_runtime(&e))?;
                let choices = rt
                    .model_choices(session.workspace_folder.as_deref())
                    .map_err(|e| invalid_params(e.to_string()))?;
                let Some(choice) = choices
                    .into_iter()
                    .find(|(p, m)| model_value(p, m) == value)
                else {
                    return Err(invalid_params(format!(
                        "unknown model `{value}`: choose one of the `model` option's values"
                    )));
                };
                let (provider, model) = choice;
                rt.set_session_model(id, Some(ModelChoice { provider, model }))
                    .await
                    .map_err(|e| from_runtime(&e))?;
            }
            other => {
                return Err(invalid_params(format!(
                    "unknown configuration option `{other}` (options: mode, model)"
                )));
            }
        }
        let session = rt.get_session(id).await.map_err(|e| from_runtime(&e))?;
        Ok(acp::SetSessionConfigOptionResponse::new(config_options(
            &self.conn, &session,
        )?))
    }
}

/// The MCP servers an ACP client gave a session, as the runtime's specs:
/// stdio and Streamable HTTP ones (SSE servers are skipped with a warning).
/// A name is made usable in tool names (`[A-Za-z0-9_-]`, no `__`).
fn mcp_specs(
    servers: &[acp::McpServer],
) -> acp::Result<std::collections::BTreeMap<String, crate::mcp::ServerSpec>> {
    let mut specs = std::collections::BTreeMap::new();
    for server in servers {
        let (name, spec) = match server {
            acp::McpServer::Stdio(s) => (
                &s.name,
                crate::mcp::ServerSpec {
                    command: Some(s.command.display().to_string()),
                    args: s.args.clone(),
                    env: s
                        .env
                        .iter()
                        .map(|e| (e.name.clone(), e.value.clone()))
                        .collect(),
                    ..crate::mcp::ServerSpec::default()
                },
            ),
            acp::McpServer::Http(h) => (
                &h.name,
                crate::mcp::ServerSpec {
                    url: Some(h.url.clone()),
                    headers: h
                        .headers
                        .iter()
                        .map(|e| (e.name.clone(), e.value.clone()))
                        .collect(),
                    ..crate::mcp::ServerSpec::default()
                },
            ),
            other => {
                tracing::warn!("an MCP server over SSE is not supported; skipped: {other:?}");
                continue;
            }
        };
        let mut clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        while clean.contains("__") {
            clean = clean.replace("__", "_");
        }
        spec.check(&clean)
            .map_err(|e| invalid_params(format!("mcpServers: {name}: {e}")))?;
        specs.insert(clean, spec);
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(uri: &str) -> acp::ContentBlock {
        acp::ContentBlock::ResourceLink(acp::ResourceLink::new("a.rs", uri))
    }

    #[test]
    fn prompts_become_user_messages() {
        let root = Path::new("/ws");
        let text = |t: &str| events::text(t);
        let resource = acp::ContentBlock::Resource(acp::EmbeddedResource::new(
            acp::EmbeddedResourceResource::TextResourceContents(acp::TextResourceContents::new(
                "fn main() {}\n",
                "file:///ws/src/main.rs",
            )),
        ));
        let msg = user_message(
            &[
                text("Compare "),
                link("file:///ws/src/a.rs"),
                text(" and "),
                resource,
                link("file:///elsewhere/b.rs"),
            ],
            Some(root),
        )
        .expect("valid");
        assert_eq!(
            msg.text,
            "Compare @src/a.rs and @src/main.rs@/elsewhere/b.rs\n\n<resource path=\"src/main.rs\">\nfn main() {}\n</resource>"
        );
        // Only linked files in the workspace are read from the client.
        assert_eq!(msg.files, [PathBuf::from("/ws/src/a.rs")]);
        assert_eq!(
            user_message(&[link("https://example.com/x")], Some(root))
                .expect("valid")
                .text,
            "@https://example.com/x"
        );
        let err = user_message(&[text("  ")], Some(root)).expect_err("empty");
        assert_eq!(err.message, "the prompt is empty");
        let image = acp::ContentBlock::Image(acp::ImageContent::new("AAAA", "image/png"));
        let err = user_message(&[text("see"), image], Some(root)).expect_err("image");
        assert!(
            err.message.contains("image content is not supported"),
            "{}",
            err.message
        );
    }
}
