//! Tools of Model Context Protocol servers, through the maintained Rust SDK
//! (`rmcp`), as client only: stdio servers (a child process) and Streamable
//! HTTP servers (a URL, headers, a bearer token read from the environment).
//!
//! Each configured server is a [`Server`]: it starts lazily, on the first
//! turn that needs its tools, within a start-up timeout; its tools are
//! listed again at every turn (so a changed list is picked up); a server that
//! crashed or failed to start is started again after a backoff (1 s, 2 s,
//! 4 s ... up to a minute), and until then its tools are missing and calling
//! one gives the model a clear error; a server unused for its idle time is
//! stopped. Every call has a timeout; cancelling a call (the turn was
//! cancelled) drops it, and `rmcp` then sends the server
//! `notifications/cancelled` with the call's request id.
//!
//! Each tool of a server is an [`McpTool`] named `mcp__<server>__<tool>`,
//! with the server's input schema, which the gate judges like any other:
//! agent availability (the `mcp` group: all of them, or only those the server
//! annotates read-only), policies (`mcp__github__*`), approvals and audit.
//! MCP tools act outside the runtime's confinement: they name no workspace
//! path the gate could check, and ask by default (the built-in `*` rule).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use rmcp::service::{RoleClient, RunningService};
use serde::Deserialize;
use serde_json::Value;

use crate::domain::ToolKind;
use crate::tools::{PreviewContext, Subject, Tool, ToolContext, ToolError, ToolOutput};

/// What the model sees before an MCP tool's own name.
pub const PREFIX: &str = "mcp__";
/// Default start-up (initialize) timeout.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Default timeout of one call.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// Default idle time after which a server is stopped.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest wait before a failed server is started again.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One server as configured (`[mcp.servers.<name>]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// stdio: the program to run.
    #[serde(default)]
    pub command: Option<String>,
    /// stdio: its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// stdio: environment variables set for it.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// stdio: its working directory.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Streamable HTTP: the server's URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Streamable HTTP: headers sent with every request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Streamable HTTP: the environment variable holding a bearer token.
    #[serde(default)]
    pub bearer_token_env: Option<String>,
    /// Seconds the server has to start and answer `initialize` (default 30).
    #[serde(default)]
    pub startup_timeout_secs: Option<u64>,
    /// Seconds one call may take (default 120).
    #[serde(default)]
    pub call_timeout_secs: Option<u64>,
    /// Seconds unused after which the server is stopped (default 600).
    #[serde(default)]
    pub idle_timeout_secs: Option<u64>,
}

/// Why a server's configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The name cannot be part of a tool name.
    #[error("server name {0:?} must be letters, digits, `-` or `_` (without `__`)")]
    Name(String),
    /// Neither or both of `command` and `url`.
    #[error("give either `command` (a stdio server) or `url` (a Streamable HTTP server)")]
    Transport,
    /// A setting of the other transport.
    #[error("`{0}` is for {1} servers only")]
    Misplaced(&'static str, &'static str),
}

impl ServerSpec {
    /// Checks a server's name and settings.
    ///
    /// # Errors
    /// A name that cannot be part of a tool name, or an incoherent transport.
    pub fn check(&self, name: &str) -> Result<(), SpecError> {
        let name_ok = !name.is_empty()
            && !name.contains("__")
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(SpecError::Name(name.to_owned()));
        }
        match (&self.command, &self.url) {
            (Some(_), None) => {
                if !self.headers.is_empty() {
                    return Err(SpecError::Misplaced("headers", "Streamable HTTP"));
                }
                if self.bearer_token_env.is_some() {
                    return Err(SpecError::Misplaced("bearer_token_env", "Streamable HTTP"));
                }
                Ok(())
            }
            (None, Some(_)) => {
                if !self.args.is_empty() {
                    return Err(SpecError::Misplaced("args", "stdio"));
                }
                if !self.env.is_empty() {
                    return Err(SpecError::Misplaced("env", "stdio"));
                }
                if self.cwd.is_some() {
                    return Err(SpecError::Misplaced("cwd", "stdio"));
                }
                Ok(())
            }
            _ => Err(SpecError::Transport),
        }
    }

    fn startup_timeout(&self) -> Duration {
        self.startup_timeout_secs
            .map_or(DEFAULT_STARTUP_TIMEOUT, Duration::from_secs)
    }

    fn call_timeout(&self) -> Duration {
        self.call_timeout_secs
            .map_or(DEFAULT_CALL_TIMEOUT, Duration::from_secs)
    }

    fn idle_timeout(&self) -> Duration {
        self.idle_timeout_secs
            .map_or(DEFAULT_IDLE_TIMEOUT, Duration::from_secs)
    }
}

/// Where a server's configuration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The user's `codelab.toml`.
    User,
    /// A trusted workspace's `.codelab/config.toml`.
    Workspace,
    /// The session (ACP's `mcpServers`).
    Session,
}

impl Source {
    /// Its name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Workspace => "workspace",
            Self::Session => "session",
        }
    }
}

/// A server's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not running (never started, or stopped when idle).
    Stopped,
    /// Running, with its tools known.
    Running,
    /// It failed to start or crashed; started again after the backoff.
    Failed(String),
}

/// A server's status, for `codelab/listMcpServers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Its name.
    pub name: String,
    /// Where it is configured.
    pub source: Source,
    /// `stdio` or `http`.
    pub transport: &'static str,
    /// Its state.
    pub state: State,
    /// Its tools (the names the model sees), as last listed.
    pub tools: Vec<String>,
    /// After a failure: how long until the next use starts it again.
    pub retry_in: Option<Duration>,
}

/// One tool of a server, as listed.
#[derive(Debug, Clone, PartialEq)]
struct ToolInfo {
    name: String,
    description: String,
    schema: Value,
    read_only: bool,
}

type Client = RunningService<RoleClient, ()>;

struct Running {
    client: Client,
    tools: Vec<ToolInfo>,
}

#[derive(Default)]
struct Inner {
    running: Option<Running>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<String>,
    tools: Vec<ToolInfo>,
}

/// One MCP server and its connection.
pub struct Server {
    name: String,
    source: Source,
    spec: ServerSpec,
    inner: tokio::sync::Mutex<Inner>,
    /// When it was last used, and the calls running (an idle server is one
    /// with no call running since its idle time).
    usage: Mutex<(Instant, usize)>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("name", &self.name)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Why a server could not be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct McpError(pub String);

fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(6)).min(MAX_BACKOFF)
}

impl Server {
    /// A server, not started.
    pub fn new(name: String, source: Source, spec: ServerSpec) -> Self {
        Self {
            name,
            source,
            spec,
            inner: tokio::sync::Mutex::new(Inner::default()),
            usage: Mutex::new((Instant::now(), 0)),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn touch(&self, delta: isize) {
        let mut u = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        u.0 = Instant::now();
        u.1 = u.1.saturating_add_signed(delta);
    }

    async fn connect(&self) -> Result<Client, McpError> {
        use rmcp::ServiceExt;
        let fail = |e: &dyn std::fmt::Display| {
            McpError(format!("the MCP server {} did not start: {e}", self.name))
        };
        if let Some(command) = &self.spec.command {
            let mut cmd = tokio::process::Command::new(command);
            cmd.args(&self.spec.args)
                .envs(&self.spec.env)
                .kill_on_drop(true);
            if let Some(cwd) = &self.spec.cwd {
                cmd.current_dir(cwd);
            }
            let (transport, stderr) = rmcp::transport::TokioChildProcess::builder(cmd)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| fail(&e))?;
            if let Some(stderr) = stderr {
                let name = self.name.clone();
                tokio::spawn(async move {
                    use tokio::io::AsyncBufReadExt;
                    let mut lines = tokio::io::BufReader::new(stderr).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        tracing::debug!(server = %name, "mcp server stderr: {line}");
                    }
                });
            }
            return ().serve(transport).await.map_err(|e| fail(&e));
        }
        let url = self.spec.url.clone().unwrap_or_default();
        let mut config =
            rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
                url,
            );
        if let Some(var) = &self.spec.bearer_token_env {
            let token = std::env::var(var).map_err(|_| {
                McpError(format!(
                    "the MCP server {}: the environment variable {var} (its bearer token) is not set",
                    self.name
                ))
            })?;
            config = config.auth_header(token);
        }
        let mut headers = std::collections::HashMap::new();
        for (k, v) in &self.spec.headers {
            let name =
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|e| fail(&e))?;
            let value = reqwest::header::HeaderValue::from_str(v).map_err(|e| fail(&e))?;
            headers.insert(name, value);
        }
        config = config.custom_headers(headers);
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().build().map_err(|e| fail(&e))?;
        let transport = rmcp::transport::StreamableHttpClientTransport::with_client(http, config);
        ().serve(transport).await.map_err(|e| fail(&e))
    }

    /// Lists the server's tools, starting it first if it is not running.
    async fn list(&self, inner: &mut Inner) -> Result<(), McpError> {
        if inner.running.as_ref().is_some_and(|r| r.client.is_closed()) {
            let r = inner.running.take();
            drop(r);
            inner.failures += 1;
            inner.retry_at = Some(Instant::now() + backoff(inner.failures));
            inner.last_error = Some(format!("the MCP server {} stopped", self.name));
        }
        if inner.running.is_none() {
            if let Some(at) = inner.retry_at
                && at > Instant::now()
            {
                return Err(McpError(format!(
                    "{}; it is started again in {} s",
                    inner.last_error.clone().unwrap_or_default(),
                    at.saturating_duration_since(Instant::now())
                        .as_secs()
                        .max(1)
                )));
            }
            let started = tokio::time::timeout(self.spec.startup_timeout(), self.connect()).await;
            let client = match started {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => return Err(self.failed(inner, e)),
                Err(_) => {
                    return Err(self.failed(
                        inner,
                        McpError(format!(
                            "the MCP server {} did not answer initialize within {} s",
                            self.name,
                            self.spec.startup_timeout().as_secs()
                        )),
                    ));
                }
            };
            inner.running = Some(Running {
                client,
                tools: Vec::new(),
            });
        }
        let Some(running) = inner.running.as_mut() else {
            return Err(McpError("not running".into()));
        };
        let listed = tokio::time::timeout(
            self.spec.call_timeout(),
            running.client.peer().list_all_tools(),
        )
        .await;
        let tools = match listed {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                let e = McpError(format!(
                    "the MCP server {} did not list its tools: {e}",
                    self.name
                ));
                inner.running = None;
                return Err(self.failed(inner, e));
            }
            Err(_) => {
                let e = McpError(format!(
                    "the MCP server {} did not list its tools within {} s",
                    self.name,
                    self.spec.call_timeout().as_secs()
                ));
                inner.running = None;
                return Err(self.failed(inner, e));
            }
        };
        let infos: Vec<ToolInfo> = tools
            .into_iter()
            .filter_map(|t| serde_json::to_value(&t).ok())
            .filter_map(|v| {
                let name = v["name"].as_str()?.to_owned();
                Some(ToolInfo {
                    description: v["description"].as_str().unwrap_or_default().to_owned(),
                    schema: match &v["inputSchema"] {
                        Value::Object(_) => v["inputSchema"].clone(),
                        _ => serde_json::json!({"type": "object"}),
                    },
                    read_only: v["annotations"]["readOnlyHint"].as_bool() == Some(true),
                    name,
                })
            })
            .collect();
        running.tools.clone_from(&infos);
        inner.tools = infos;
        inner.failures = 0;
        inner.retry_at = None;
        inner.last_error = None;
        Ok(())
    }

    fn failed(&self, inner: &mut Inner, e: McpError) -> McpError {
        inner.failures += 1;
        inner.retry_at = Some(Instant::now() + backoff(inner.failures));
        inner.last_error = Some(e.0.clone());
        tracing::warn!(server = %self.name, "{e}");
        e
    }

    /// The server's tools as the model sees them (starting the server if
    /// needed); none when it cannot be started.
    ///
    /// # Errors
    /// Why the server is unavailable.
    pub async fn tools(self: &Arc<Self>) -> Result<Vec<Arc<dyn Tool>>, McpError> {
        self.touch(0);
        let mut inner = self.inner.lock().await;
        self.list(&mut inner).await?;
        Ok(inner
            .tools
            .iter()
            .map(|t| {
                Arc::new(McpTool {
                    server: Arc::clone(self),
                    full_name: format!("{PREFIX}{}__{}", self.name, t.name),
                    info: t.clone(),
                }) as Arc<dyn Tool>
            })
            .collect())
    }

    /// Its status.
    pub async fn status(&self) -> Status {
        let inner = self.inner.lock().await;
        let state = match (&inner.running, &inner.last_error) {
            (Some(r), _) if !r.client.is_closed() => State::Running,
            (_, Some(e)) => State::Failed(e.clone()),
            _ => State::Stopped,
        };
        let retry_in = match state {
            State::Failed(_) => inner
                .retry_at
                .map(|at| at.saturating_duration_since(Instant::now())),
            _ => None,
        };
        Status {
            name: self.name.clone(),
            source: self.source,
            transport: if self.spec.command.is_some() {
                "stdio"
            } else {
                "http"
            },
            state,
            tools: inner
                .tools
                .iter()
                .map(|t| format!("{PREFIX}{}__{}", self.name, t.name))
                .collect(),
            retry_in,
        }
    }

    /// Stops the server now (its session ended); a later use starts it again.
    pub async fn stop(&self) {
        let mut inner = self.inner.lock().await;
        if let Some(r) = inner.running.take() {
            tracing::info!(server = %self.name, "stopping the MCP server");
            let _ = r.client.cancel().await;
        }
    }

    /// Stops the server if it has been idle for its idle time.
    pub async fn stop_if_idle(&self) {
        let (last, running) = *self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        if running > 0 || last.elapsed() < self.spec.idle_timeout() {
            return;
        }
        let mut inner = self.inner.lock().await;
        if let Some(r) = inner.running.take() {
            tracing::info!(server = %self.name, "stopping the idle MCP server");
            let _ = r.client.cancel().await;
        }
    }

    /// Calls one tool.
    async fn call(
        &self,
        tool: &str,
        args: Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        self.touch(1);
        let result = self.call_inner(tool, args, ctx).await;
        self.touch(-1);
        result
    }

    async fn call_inner(
        &self,
        tool: &str,
        args: Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let peer = {
            let mut inner = self.inner.lock().await;
            if inner.running.as_ref().is_none_or(|r| r.client.is_closed()) {
                self.list(&mut inner)
                    .await
                    .map_err(|e| ToolError::new(e.0))?;
            }
            match &inner.running {
                Some(r) => r.client.peer().clone(),
                None => {
                    return Err(ToolError::new(format!(
                        "the MCP server {} is not running",
                        self.name
                    )));
                }
            }
        };
        let mut params = rmcp::model::CallToolRequestParams::new(tool.to_owned());
        params.arguments = match args {
            Value::Object(m) => Some(m),
            _ => None,
        };
        let timeout = self.spec.call_timeout();
        let call = tokio::time::timeout(timeout, peer.call_tool(params));
        // Dropping the call (cancelled, timed out) sends the server
        // `notifications/cancelled` with its request id.
        let result = tokio::select! {
            r = call => r,
            () = ctx.cancel.cancelled() => return Err(ToolError::new("cancelled")),
        };
        let result = match result {
            Err(_) => {
                return Err(ToolError::new(format!(
                    "the MCP tool {tool} of {} did not answer within {} s; the call was cancelled",
                    self.name,
                    timeout.as_secs()
                )));
            }
            Ok(Err(e)) => {
                return Err(ToolError::new(format!(
                    "the MCP tool {tool} of {} failed: {e}",
                    self.name
                )));
            }
            Ok(Ok(r)) => r,
        };
        let value = serde_json::to_value(&result).unwrap_or_default();
        let text = render(&value, ctx.limits.output_bytes);
        if value["isError"].as_bool() == Some(true) {
            return Err(ToolError::new(text));
        }
        Ok(ToolOutput::text(text))
    }
}

/// A tool result as text for the model: text as is, images and audio
/// described, resources' text included; capped at `cap` bytes.
pub fn render(result: &Value, cap: usize) -> String {
    let mut out = String::new();
    for block in result["content"].as_array().into_iter().flatten() {
        if !out.is_empty() {
            out.push('\n');
        }
        match block["type"].as_str() {
            Some("text") => out.push_str(block["text"].as_str().unwrap_or_default()),
            Some(kind @ ("image" | "audio")) => out.push_str(&format!(
                "[{kind}: {}, {} bytes of base64]",
                block["mimeType"].as_str().unwrap_or("unknown type"),
                block["data"].as_str().map_or(0, str::len)
            )),
            Some("resource") => {
                let r = &block["resource"];
                let uri = r["uri"].as_str().unwrap_or_default();
                match r["text"].as_str() {
                    Some(t) => out.push_str(&format!("[resource {uri}]\n{t}")),
                    None => out.push_str(&format!(
                        "[resource {uri}: {}, {} bytes of base64]",
                        r["mimeType"].as_str().unwrap_or("binary"),
                        r["blob"].as_str().map_or(0, str::len)
                    )),
                }
            }
            Some("resource_link") => out.push_str(&format!(
                "[resource link {}: {}]",
                block["uri"].as_str().unwrap_or_default(),
                block["name"].as_str().unwrap_or_default()
            )),
            _ => out.push_str(&block.to_string()),
        }
    }
    if out.is_empty()
        && let Some(s) = result.get("structuredContent").filter(|s| !s.is_null())
    {
        out = s.to_string();
    }
    if out.len() > cap {
        let mut end = cap;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push_str(&format!(
            "\n[output truncated at {} KiB; not everything is shown]",
            cap / 1024
        ));
    }
    out
}

/// One tool of an MCP server, as the gate and the model see it.
pub struct McpTool {
    server: Arc<Server>,
    full_name: String,
    info: ToolInfo,
}

impl std::fmt::Debug for McpTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpTool")
            .field("name", &self.full_name)
            .finish_non_exhaustive()
    }
}

impl Tool for McpTool {
    fn name(&self) -> &str {
        &self.full_name
    }
    fn description(&self) -> &str {
        &self.info.description
    }
    fn kind(&self) -> ToolKind {
        if self.info.read_only {
            ToolKind::Read
        } else {
            ToolKind::Execute
        }
    }
    fn parameters(&self) -> Value {
        self.info.schema.clone()
    }
    fn mcp_read_only(&self) -> Option<bool> {
        Some(self.info.read_only)
    }
    fn check(&self, args: &Value) -> Result<Subject, ToolError> {
        if !args.is_object() {
            return Err(ToolError::new(format!(
                "invalid arguments for {}: expected a JSON object",
                self.full_name
            )));
        }
        // The server validates its own arguments; it names no workspace path.
        Ok(Subject::default())
    }
    fn preview(
        &self,
        _args: &Value,
        _at: &PreviewContext<'_>,
    ) -> Result<Option<crate::domain::EditPreview>, ToolError> {
        Ok(None)
    }
    fn call<'a>(
        &'a self,
        ctx: &'a ToolContext,
        args: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        Box::pin(self.server.call(&self.info.name, args, ctx))
    }
}

/// Every configured server, by name.
#[derive(Debug, Default)]
pub struct McpServers {
    servers: Mutex<BTreeMap<String, Arc<Server>>>,
}

impl McpServers {
    /// The servers of `specs` (checked already), none started.
    pub fn new(specs: &BTreeMap<String, ServerSpec>, source: Source) -> Arc<Self> {
        let servers = specs
            .iter()
            .map(|(name, spec)| {
                (
                    name.clone(),
                    Arc::new(Server::new(name.clone(), source, spec.clone())),
                )
            })
            .collect();
        let this = Arc::new(Self {
            servers: Mutex::new(servers),
        });
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&this);
            handle.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    let Some(this) = weak.upgrade() else { break };
                    for s in this.all() {
                        s.stop_if_idle().await;
                    }
                }
            });
        }
        this
    }

    fn all(&self) -> Vec<Arc<Server>> {
        self.servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Whether any server is configured.
    pub fn is_empty(&self) -> bool {
        self.servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// Every server's tools (servers start as needed), and for each server
    /// that cannot be reached its tools' name prefix (`mcp__<server>__`) and
    /// why (its state says so too).
    pub async fn tools(&self) -> (Vec<Arc<dyn Tool>>, Vec<(String, String)>) {
        let mut tools = Vec::new();
        let mut unavailable = Vec::new();
        for s in self.all() {
            match s.tools().await {
                Ok(t) => tools.extend(t),
                Err(e) => {
                    tracing::debug!(server = %s.name, "no tools: {e}");
                    unavailable.push((format!("{PREFIX}{}__", s.name), e.0));
                }
            }
        }
        (tools, unavailable)
    }

    /// Stops every server (the session they were given to ended).
    pub async fn stop_all(&self) {
        for s in self.all() {
            s.stop().await;
        }
    }

    /// Every server's status.
    pub async fn statuses(&self) -> Vec<Status> {
        let mut out = Vec::new();
        for s in self.all() {
            out.push(s.status().await);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_checked() {
        let stdio = ServerSpec {
            command: Some("npx".into()),
            ..ServerSpec::default()
        };
        assert_eq!(stdio.check("fs"), Ok(()));
        assert!(matches!(stdio.check("a__b"), Err(SpecError::Name(_))));
        assert!(matches!(stdio.check("a b"), Err(SpecError::Name(_))));
        assert_eq!(ServerSpec::default().check("x"), Err(SpecError::Transport));
        let http = ServerSpec {
            url: Some("http://127.0.0.1:1/mcp".into()),
            args: vec!["x".into()],
            ..ServerSpec::default()
        };
        assert_eq!(http.check("h"), Err(SpecError::Misplaced("args", "stdio")));
    }

    #[test]
    fn results_become_text_and_are_capped() {
        let r = serde_json::json!({"content": [
            {"type": "text", "text": "hello"},
            {"type": "image", "mimeType": "image/png", "data": "AAAA"},
            {"type": "resource", "resource": {"uri": "file:///a", "text": "body"}},
        ]});
        assert_eq!(
            render(&r, 1000),
            "hello\n[image: image/png, 4 bytes of base64]\n[resource file:///a]\nbody"
        );
        let long = serde_json::json!({"content": [{"type": "text", "text": "é".repeat(2000)}]});
        let out = render(&long, 1001);
        assert!(
            out.ends_with("[output truncated at 0 KiB; not everything is shown]"),
            "{out}"
        );
    }

    #[test]
    fn backoff_grows_to_a_minute() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
