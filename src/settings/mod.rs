//! Every configuration file, read in one place.
//!
//! - The user's `codelab.toml` in the data directory is parsed **once**, at
//!   start, into [`UserSettings`] (`[llm]`, `[policy]`, `[agent]`, `[events]`,
//!   `[housekeeping]`, `[trust]`). An invalid file stops the start with a
//!   [`ConfigError`] naming the file, the line and the key; only an invalid
//!   `[policy]` is tolerated (reported by `codelab/getPolicy`, the built-in
//!   rules stay in force), as a broken policy must not lock the user out.
//! - A workspace's files are cached per workspace root and re-read only when
//!   one of them changed (modification time and size):
//!   `.codelab/config.toml` gives an `[llm]` overlay (without base URLs, keys
//!   or headers) and `[policy]` rules (an invalid policy keeps the last valid
//!   rules); `.codelab/agents.toml` and `.codelab/prompts/<slug>.md` give
//!   the workspace's agents.
//!
//! **Trust.** A cloned repository must not loosen what the user set up. For a
//! workspace not listed in `[trust] workspaces` of the user's file, its
//! `allow` rules are dropped (its `ask` and `deny` rules still apply), and its
//! `.codelab/agents.toml` and `.codelab/prompts/*.md` are ignored with a
//! warning (in `codelab/listAgents` and in the log).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::SystemTime;

use serde::Deserialize;
use toml::Spanned;

pub use crate::config::{ConfigError, TomlDoc, push_key, read_optional};

use crate::agents::{self, Agent, WORKSPACE_AGENTS_FILE, WORKSPACE_PROMPTS_DIR};
use crate::llm::config::LlmSettings;
use crate::mcp::ServerSpec;
use crate::policy::{Action, Rule, SandboxMode, Scope};

/// The user's config file, in the data directory.
pub const USER_CONFIG_FILE: &str = "codelab.toml";
/// The workspace config file, relative to a workspace folder.
pub const WORKSPACE_CONFIG_FILE: &str = ".codelab/config.toml";

/// The `[agent]` table of the user's file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentSettings {
    /// Model requests per turn at most (default 25).
    pub max_iterations: Option<usize>,
    /// execute_command's default timeout (default 300).
    pub command_timeout_secs: Option<u64>,
    /// Processes one command may run at once (default 4096; 0: no limit).
    pub command_max_processes: Option<u64>,
    /// apply_diff's fuzzy threshold, 0.5 to 1.0 (default 1.0: exact only).
    pub diff_threshold: Option<f64>,
}

/// `[agent]` as written, with the position of what is checked after parsing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentSection {
    max_iterations: Option<usize>,
    command_timeout_secs: Option<u64>,
    command_max_processes: Option<u64>,
    diff_threshold: Option<Spanned<f64>>,
}

/// The `[events]` table of the user's file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSettings {
    /// `category.type` names (or `category.*`) to drop from the bus.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// The `[sandbox]` table of the user's file: how commands are confined.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSettings {
    /// The mode commands run in unless a rule or the agent says otherwise
    /// (default `workspace-write`).
    #[serde(default = "default_mode")]
    pub mode: SandboxMode,
    /// Keep the network on in the sandbox for every command (default off).
    #[serde(default)]
    pub network: bool,
    /// Extra paths sandboxed commands may write (`~/` is the home directory),
    /// e.g. a package cache.
    #[serde(default)]
    pub writable: Vec<PathBuf>,
    /// The mode per agent slug, over `mode`.
    #[serde(default)]
    pub agents: HashMap<String, SandboxMode>,
}

fn default_mode() -> SandboxMode {
    SandboxMode::WorkspaceWrite
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            mode: default_mode(),
            network: false,
            writable: Vec::new(),
            agents: HashMap::new(),
        }
    }
}

impl SandboxSettings {
    /// The mode for an agent: its own, else the global one.
    pub fn mode_for(&self, agent: &str) -> SandboxMode {
        self.agents.get(agent).copied().unwrap_or(self.mode)
    }

    /// The extra writable paths, with `~/` expanded.
    pub fn writable_paths(&self) -> Vec<PathBuf> {
        self.writable
            .iter()
            .filter_map(|p| match p.strip_prefix("~") {
                Ok(rest) => dirs::home_dir().map(|h| h.join(rest)),
                Err(_) => Some(p.clone()),
            })
            .collect()
    }
}

/// The `[trust]` table of the user's file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSettings {
    /// Workspace folders whose own `allow` rules, agents and prompts count.
    #[serde(default)]
    pub workspaces: Vec<PathBuf>,
}

/// The `[mcp]` table: `[mcp.servers.<name>]`, one per MCP server.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct McpSection {
    #[serde(default)]
    servers: BTreeMap<String, ServerSpec>,
}

/// The user's file, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFile {
    #[serde(default)]
    llm: LlmSettings,
    #[serde(default)]
    agent: AgentSection,
    #[serde(default)]
    events: EventSettings,
    #[serde(default)]
    housekeeping: HousekeepingSettings,
    #[serde(default)]
    trust: TrustSettings,
    #[serde(default)]
    sandbox: SandboxSettings,
    #[serde(default)]
    mcp: McpSection,
    /// Compiled on its own (see [`UserSettings::parse`]); named here so that
    /// the message about an unknown key lists it.
    #[serde(default, rename = "policy")]
    _policy: Option<serde::de::IgnoredAny>,
}

/// The user's `codelab.toml`, parsed once.
#[derive(Debug, Clone, Default)]
pub struct UserSettings {
    /// `[llm]`.
    pub llm: LlmSettings,
    /// `[[policy.rules]]`, compiled (empty when invalid).
    pub policy: Vec<Rule>,
    /// Why `[policy]` is invalid, if it is.
    pub policy_error: Option<ConfigError>,
    /// `[agent]`.
    pub agent: AgentSettings,
    /// `[events]`.
    pub events: EventSettings,
    /// `[housekeeping]`.
    pub housekeeping: HousekeepingSettings,
    /// `[trust]`.
    pub trust: TrustSettings,
    /// `[sandbox]`.
    pub sandbox: SandboxSettings,
    /// `[mcp.servers.<name>]`: the MCP servers, checked.
    pub mcp: BTreeMap<String, ServerSpec>,
}

impl UserSettings {
    /// Reads the user's file; a missing file gives the defaults.
    ///
    /// # Errors
    /// An unreadable or invalid file (an invalid `[policy]` only sets
    /// [`Self::policy_error`]).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match read_optional(path)? {
            Some(text) => Self::parse(&TomlDoc::new(path, &text)),
            None => Ok(Self::default()),
        }
    }

    /// Parses the user's file.
    ///
    /// # Errors
    /// As [`Self::load`].
    pub fn parse(doc: &TomlDoc<'_>) -> Result<Self, ConfigError> {
        let mut root = doc.parse()?;
        let policy = root.remove("policy");
        let file: UserFile = doc.table(root)?;
        let diff_threshold = match file.agent.diff_threshold {
            Some(t) if !(0.5..=1.0).contains(t.get_ref()) => {
                return Err(doc.error(
                    Some(t.span()),
                    "agent.diff_threshold",
                    "must be between 0.5 and 1.0",
                ));
            }
            t => t.map(Spanned::into_inner),
        };
        for (name, spec) in &file.mcp.servers {
            spec.check(name)
                .map_err(|e| doc.error(None, format!("mcp.servers.{name}"), e))?;
        }
        let (policy, policy_error) = match policy {
            None => (Vec::new(), None),
            Some(v) => match crate::policy::rules_from_toml(doc, v, Scope::User) {
                Ok(rules) => (rules, None),
                Err(e) => (Vec::new(), Some(e)),
            },
        };
        Ok(Self {
            llm: file.llm,
            policy,
            policy_error,
            agent: AgentSettings {
                max_iterations: file.agent.max_iterations,
                command_timeout_secs: file.agent.command_timeout_secs,
                command_max_processes: file.agent.command_max_processes,
                diff_threshold,
            },
            events: file.events,
            housekeeping: file.housekeeping,
            trust: file.trust,
            sandbox: file.sandbox,
            mcp: file.mcp.servers,
        })
    }
}

/// What identifies a version of a file: its modification time and size
/// (`None`: missing or unreadable metadata).
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// The files a cached value was read from, with their stamps taken before
/// reading (so a change during the read is seen as a change next time).
#[derive(Debug, Default)]
struct Watched(Vec<(PathBuf, Stamp)>);

impl Watched {
    fn watch(&mut self, path: &Path) {
        self.0.push((path.to_path_buf(), stamp(path)));
    }

    fn read(&mut self, path: &Path) -> Result<Option<String>, ConfigError> {
        self.watch(path);
        read_optional(path)
    }

    fn fresh(&self) -> bool {
        self.0.iter().all(|(p, s)| stamp(p) == *s)
    }
}

/// The agents of a workspace, as the runtime uses them.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceAgents {
    /// The built-ins (with the workspace's prompt overrides when trusted) and
    /// the workspace's own agents (when trusted).
    pub agents: Vec<Agent>,
    /// Workspace files ignored because the workspace is not trusted.
    pub warnings: Vec<String>,
    /// Whether the workspace's agent and prompt files were ignored for lack of trust.
    pub untrusted: bool,
}

/// `.codelab/config.toml` of one workspace.
#[derive(Debug)]
struct ConfigFiles {
    watched: Watched,
    llm: Result<LlmSettings, ConfigError>,
    /// The last valid rules.
    rules: Vec<Rule>,
    /// `[mcp.servers.<name>]` (empty when invalid); used only when the
    /// workspace is trusted.
    mcp: BTreeMap<String, ServerSpec>,
}

/// `.codelab/agents.toml` and `.codelab/prompts/` of one workspace.
#[derive(Debug)]
struct AgentFiles {
    watched: Watched,
    trusted: bool,
    agents: Result<Arc<WorkspaceAgents>, ConfigError>,
}

#[derive(Debug, Default)]
struct WorkspaceFiles {
    config: Option<Arc<ConfigFiles>>,
    agents: Option<Arc<AgentFiles>>,
}

/// The user's settings, and a cache of every workspace's files.
#[derive(Debug)]
pub struct Settings {
    user_file: PathBuf,
    user: UserSettings,
    /// The environment's model settings.
    env: LlmSettings,
    /// The user's `[llm]` with the environment on top (read again by
    /// [`Self::reload_llm`]).
    llm_base: RwLock<LlmSettings>,
    workspaces: Mutex<HashMap<PathBuf, WorkspaceFiles>>,
    policy_errors: Mutex<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The key of a workspace: its canonical root.
fn canonical(root: &Path) -> PathBuf {
    root.canonicalize().unwrap_or_else(|_| root.to_path_buf())
}

impl Settings {
    /// Reads the user's `codelab.toml` in `data_dir` and puts the
    /// environment's LLM settings on top of its `[llm]`.
    ///
    /// # Errors
    /// An unreadable or invalid user file.
    pub fn load(data_dir: &Path, env: LlmSettings) -> Result<Self, ConfigError> {
        let user_file = data_dir.join(USER_CONFIG_FILE);
        let user = UserSettings::load(&user_file)?;
        Ok(Self::new(user_file, user, env))
    }

    /// Settings from an already parsed user file (`user_file` is where it lives).
    pub fn new(user_file: PathBuf, user: UserSettings, env: LlmSettings) -> Self {
        let mut llm_base = user.llm.clone();
        llm_base.overlay(env.clone());
        let mut policy_errors = Vec::new();
        if let Some(e) = &user.policy_error {
            tracing::error!("invalid policy, using the built-in rules only: {e}");
            policy_errors.push(e.to_string());
        }
        Self {
            user_file,
            user,
            env,
            llm_base: RwLock::new(llm_base),
            workspaces: Mutex::new(HashMap::new()),
            policy_errors: Mutex::new(policy_errors),
        }
    }

    /// The user's file.
    pub fn user(&self) -> &UserSettings {
        &self.user
    }

    /// The user's `[llm]` with the environment on top.
    pub fn llm_base(&self) -> LlmSettings {
        self.llm_base
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads the user file's `[llm]` again (`codelab-agent setup` may have
    /// written it since this process started) and returns the new model
    /// settings. The rest of the file is kept as it was read at start.
    ///
    /// # Errors
    /// The file became unreadable or invalid; the settings stay as they were.
    pub fn reload_llm(&self) -> Result<LlmSettings, ConfigError> {
        let mut base = UserSettings::load(&self.user_file)?.llm;
        base.overlay(self.env.clone());
        *self
            .llm_base
            .write()
            .unwrap_or_else(PoisonError::into_inner) = base.clone();
        Ok(base)
    }

    /// Whether the user trusts the workspace at `root` (`[trust] workspaces`).
    pub fn trusts(&self, root: &Path) -> bool {
        let root = canonical(root);
        self.user
            .trust
            .workspaces
            .iter()
            .any(|t| t.canonicalize().is_ok_and(|t| t == root))
    }

    /// The user's rules and those of the workspace at `root` (its `allow`
    /// rules only when the user trusts it). An invalid workspace policy is
    /// reported (see [`Self::policy_errors`]) and its last valid rules kept.
    pub fn rules(&self, root: Option<&Path>) -> Vec<Rule> {
        let mut rules = self.user.policy.clone();
        if let Some(root) = root {
            let root = canonical(root);
            let config = self.config(&root);
            let trusted = self.trusts(&root);
            rules.extend(
                config
                    .rules
                    .iter()
                    .filter(|r| trusted || r.spec.action != Action::Allow)
                    .cloned(),
            );
        }
        rules
    }

    /// The MCP servers of the workspace at `root` (`[mcp.servers.<name>]`
    /// of its `.codelab/config.toml`): none unless the user trusts it.
    pub fn workspace_mcp(&self, root: &Path) -> BTreeMap<String, ServerSpec> {
        let root = canonical(root);
        let config = self.config(&root);
        if config.mcp.is_empty() {
            return BTreeMap::new();
        }
        if !self.trusts(&root) {
            tracing::warn!(
                "the MCP servers of {} are ignored: the workspace is not trusted",
                root.display()
            );
            return BTreeMap::new();
        }
        config.mcp.clone()
    }

    /// Problems found in policy files (file, line, key and reason).
    pub fn policy_errors(&self) -> Vec<String> {
        lock(&self.policy_errors).clone()
    }

    /// The LLM settings for a workspace: the user's and the environment's,
    /// then the workspace's `[llm]`, then the editor's.
    ///
    /// # Errors
    /// An unreadable or invalid workspace `.codelab/config.toml`.
    pub fn llm(
        &self,
        root: Option<&Path>,
        editor: Option<&LlmSettings>,
    ) -> Result<LlmSettings, ConfigError> {
        let mut settings = self.llm_base();
        if let Some(root) = root {
            let config = self.config(&canonical(root));
            settings.overlay(config.llm.clone()?);
        }
        if let Some(editor) = editor {
            settings.overlay(editor.clone());
        }
        Ok(settings)
    }

    /// The agents of a workspace (the built-ins without one).
    ///
    /// # Errors
    /// An unreadable or invalid `.codelab/agents.toml` of a trusted workspace.
    pub fn agents(&self, root: Option<&Path>) -> Result<Arc<WorkspaceAgents>, ConfigError> {
        let Some(root) = root else {
            return Ok(Arc::new(WorkspaceAgents {
                agents: agents::builtin(),
                warnings: Vec::new(),
                untrusted: false,
            }));
        };
        let root = canonical(root);
        let trusted = self.trusts(&root);
        let cached = lock(&self.workspaces)
            .get(&root)
            .and_then(|w| w.agents.clone());
        if let Some(c) = cached
            && c.trusted == trusted
            && c.watched.fresh()
        {
            return c.agents.clone();
        }
        let loaded = Arc::new(self.load_agents(&root, trusted));
        lock(&self.workspaces).entry(root).or_default().agents = Some(Arc::clone(&loaded));
        loaded.agents.clone()
    }

    /// The cached `.codelab/config.toml` of `root` (canonical), re-read when it changed.
    fn config(&self, root: &Path) -> Arc<ConfigFiles> {
        let cached = lock(&self.workspaces)
            .get(root)
            .and_then(|w| w.config.clone());
        if let Some(c) = &cached
            && c.watched.fresh()
        {
            return Arc::clone(c);
        }
        let path = root.join(WORKSPACE_CONFIG_FILE);
        let mut watched = Watched::default();
        let (llm, rules, mcp) = match watched.read(&path) {
            Ok(None) => (Ok(LlmSettings::default()), Ok(Vec::new()), BTreeMap::new()),
            Ok(Some(text)) => parse_workspace_config(&TomlDoc::new(&path, &text)),
            Err(e) => (Err(e.clone()), Err(e), BTreeMap::new()),
        };
        let rules = rules.unwrap_or_else(|e| {
            tracing::error!("invalid workspace policy, keeping the last valid one: {e}");
            let e = e.to_string();
            let mut errors = lock(&self.policy_errors);
            if !errors.contains(&e) {
                errors.push(e);
            }
            cached.map(|c| c.rules.clone()).unwrap_or_default()
        });
        let loaded = Arc::new(ConfigFiles {
            watched,
            llm,
            rules,
            mcp,
        });
        lock(&self.workspaces)
            .entry(root.to_path_buf())
            .or_default()
            .config = Some(Arc::clone(&loaded));
        loaded
    }

    fn load_agents(&self, root: &Path, trusted: bool) -> AgentFiles {
        let mut watched = Watched::default();
        if trusted {
            let agents = agents::for_workspace(root, &mut |p| watched.read(p));
            if let Err(e) = &agents {
                tracing::error!("invalid workspace agents: {e}");
            }
            return AgentFiles {
                watched,
                trusted,
                agents: agents.map(|agents| {
                    Arc::new(WorkspaceAgents {
                        agents,
                        warnings: Vec::new(),
                        untrusted: false,
                    })
                }),
            };
        }
        // Untrusted: nothing is read, but what exists is named.
        let file = root.join(WORKSPACE_AGENTS_FILE);
        let dir = root.join(WORKSPACE_PROMPTS_DIR);
        watched.watch(&file);
        watched.watch(&dir);
        let mut ignored = Vec::new();
        if file.is_file() {
            ignored.push(file);
        }
        let mut prompts: Vec<PathBuf> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "md") && p.is_file())
            .collect();
        prompts.sort();
        ignored.extend(prompts);
        let warnings: Vec<String> = ignored
            .iter()
            .map(|p| {
                format!(
                    "{} is ignored: the workspace {} is not trusted (list it in [trust] workspaces of {} to use its agents and prompts)",
                    p.display(),
                    root.display(),
                    self.user_file.display()
                )
            })
            .collect();
        for w in &warnings {
            tracing::warn!("{w}");
        }
        AgentFiles {
            watched,
            trusted,
            agents: Ok(Arc::new(WorkspaceAgents {
                agents: agents::builtin(),
                warnings,
                untrusted: true,
            })),
        }
    }
}

type Parsed<T> = Result<T, ConfigError>;

/// `[llm]` (without what a workspace may not set) and `[policy]` of a
/// workspace's `.codelab/config.toml`; other tables are ignored with a warning.
fn parse_workspace_config(
    doc: &TomlDoc<'_>,
) -> (
    Parsed<LlmSettings>,
    Parsed<Vec<Rule>>,
    BTreeMap<String, ServerSpec>,
) {
    let mut root = match doc.parse() {
        Ok(r) => r,
        Err(e) => return (Err(e.clone()), Err(e), BTreeMap::new()),
    };
    let mcp = match root.remove("mcp") {
        Some(v) => {
            let parsed = doc.value::<McpSection>("mcp", v).and_then(|m| {
                for (name, spec) in &m.servers {
                    spec.check(name)
                        .map_err(|e| doc.error(None, format!("mcp.servers.{name}"), e))?;
                }
                Ok(m.servers)
            });
            parsed.unwrap_or_else(|e| {
                tracing::error!("invalid MCP servers in a workspace config, none used: {e}");
                BTreeMap::new()
            })
        }
        None => BTreeMap::new(),
    };
    let llm = match root.remove("llm") {
        Some(v) => LlmSettings::from_toml(doc, v).map(|s| s.without_endpoints(doc.path())),
        None => Ok(LlmSettings::default()),
    };
    let rules = match root.remove("policy") {
        Some(v) => crate::policy::rules_from_toml(doc, v, Scope::Workspace),
        None => Ok(Vec::new()),
    };
    for (key, _) in root.iter() {
        tracing::warn!(
            "{}:{}: ignoring `{}`: a workspace config has only [llm], [policy] and [mcp]",
            doc.path().display(),
            doc.line(key.span().start),
            key.get_ref()
        );
    }
    (llm, rules, mcp)
}

/// Housekeeping settings (`[housekeeping]` in `codelab.toml`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HousekeepingSettings {
    /// Sessions idle longer than this are deleted (default 30 days).
    pub session_ttl_days: f64,
    /// Audit entries older than this are deleted (default 90 days).
    pub audit_retention_days: f64,
    /// How often to look (default hourly).
    pub interval_secs: u64,
    /// Sessions or audit entries per commit.
    pub batch: usize,
}

impl Default for HousekeepingSettings {
    fn default() -> Self {
        Self {
            session_ttl_days: 30.0,
            audit_retention_days: 90.0,
            interval_secs: 3600,
            batch: 100,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "/home/u/.local/share/codelab-agent/codelab.toml";

    fn user(text: &str) -> Result<UserSettings, ConfigError> {
        UserSettings::parse(&TomlDoc::new(Path::new(USER), text))
    }

    #[test]
    fn the_user_file_is_read_into_one_struct() {
        let s = user(
            "[llm]\nmodel = \"m\"\n[[policy.rules]]\ntool = \"read_file\"\naction = \"deny\"\n\
             [agent]\nmax_iterations = 4\ndiff_threshold = 0.8\n[events]\nexclude = [\"llm.*\"]\n\
             [housekeeping]\ninterval_secs = 60\n[trust]\nworkspaces = [\"/src/a\"]\n",
        )
        .expect("valid");
        assert_eq!(s.llm.model.as_deref(), Some("m"));
        assert_eq!(s.policy.len(), 1);
        assert!(s.policy_error.is_none());
        assert_eq!(
            (s.agent.max_iterations, s.agent.diff_threshold),
            (Some(4), Some(0.8))
        );
        assert_eq!(s.events.exclude, ["llm.*"]);
        assert_eq!(s.housekeeping.interval_secs, 60);
        assert_eq!(s.trust.workspaces, [PathBuf::from("/src/a")]);
    }

    #[test]
    fn the_sandbox_table_sets_modes_network_and_paths() {
        let s = user("").expect("empty");
        assert_eq!(s.sandbox.mode, SandboxMode::WorkspaceWrite, "the default");
        assert!(!s.sandbox.network);
        let s = user(
            "[sandbox]\nmode = \"read-only\"\nnetwork = true\nwritable = [\"~/.cargo\", \"/opt/cache\"]\n\
             [sandbox.agents]\ncoder = \"workspace-write\"\n",
        )
        .expect("valid");
        assert_eq!(s.sandbox.mode_for("architect"), SandboxMode::ReadOnly);
        assert_eq!(s.sandbox.mode_for("coder"), SandboxMode::WorkspaceWrite);
        assert!(s.sandbox.network);
        let paths = s.sandbox.writable_paths();
        assert_eq!(paths[1], PathBuf::from("/opt/cache"));
        assert!(paths[0].ends_with(".cargo") && !paths[0].starts_with("~"));
        let err = user("[sandbox]\nmode = \"loose\"\n").expect_err("unknown mode");
        assert!(
            err.to_string()
                .starts_with(&format!("{USER}:2: sandbox.mode: unknown variant `loose`")),
            "{err}"
        );
    }

    #[test]
    fn a_type_error_names_file_line_and_key() {
        let err = user("[llm]\nmodel = \"m\"\n\n[llm.timeouts]\nidle_secs = \"x\"\n")
            .expect_err("type error");
        assert_eq!(
            err.to_string(),
            format!("{USER}:5: llm.timeouts.idle_secs: invalid type: string \"x\", expected f64")
        );
        let err = user("[housekeeping]\n\ninterval_secs = -1\n").expect_err("negative");
        assert_eq!(
            err.to_string(),
            format!(
                "{USER}:3: housekeeping.interval_secs: invalid value: integer `-1`, expected u64"
            )
        );
    }

    #[test]
    fn an_out_of_range_value_names_file_line_and_key() {
        let err = user("[agent]\nmax_iterations = 10\n\n\n\n\ndiff_threshold = 0.2\n")
            .expect_err("out of range");
        assert_eq!(
            err.to_string(),
            format!("{USER}:7: agent.diff_threshold: must be between 0.5 and 1.0")
        );
        assert_eq!(err.line(), Some(7));
        assert_eq!(err.key(), Some("agent.diff_threshold"));
        assert_eq!(err.path(), Path::new(USER));
    }

    #[test]
    fn an_unknown_field_names_file_line_and_key() {
        let err = user("[agent]\nmax_iterations = 10\ncommand_timeout = 5\n").expect_err("unknown");
        assert!(
            err.to_string().starts_with(&format!(
                "{USER}:3: agent.command_timeout: unknown field `command_timeout`"
            )),
            "{err}"
        );
        let err = user("[events]\nexclude = []\n[housekeping]\ninterval_secs = 1\n")
            .expect_err("unknown table");
        assert!(
            err.to_string().starts_with(&format!(
                "{USER}:3: housekeping: unknown field `housekeping`"
            )),
            "{err}"
        );
        assert!(err.to_string().contains("`policy`"), "{err}");
    }

    #[test]
    fn an_invalid_user_policy_is_reported_not_fatal() {
        let s = user(
            "[agent]\nmax_iterations = 3\n[[policy.rules]]\ntool = \"x\"\naction = \"maybe\"\n",
        )
        .expect("the rest is valid");
        assert!(s.policy.is_empty());
        let e = s.policy_error.expect("reported");
        assert_eq!(e.line(), Some(5));
        assert_eq!(e.key(), Some("policy.rules[0].action"));
        assert_eq!(s.agent.max_iterations, Some(3));
    }

    fn settings(data: &Path, trusted: &[&Path]) -> Settings {
        let user = UserSettings {
            trust: TrustSettings {
                workspaces: trusted.iter().map(|p| p.to_path_buf()).collect(),
            },
            ..Default::default()
        };
        Settings::new(data.join(USER_CONFIG_FILE), user, LlmSettings::default())
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    #[test]
    fn workspace_files_are_read_again_only_when_they_change() {
        let ws = tempfile::tempdir().expect("tempdir");
        let root = ws.path().canonicalize().expect("canonical");
        let s = settings(ws.path(), &[&root]);
        let config = root.join(WORKSPACE_CONFIG_FILE);
        write(&config, "[llm]\nmodel = \"a\"\n");
        assert_eq!(
            s.llm(Some(&root), None).expect("valid").model.as_deref(),
            Some("a")
        );
        let first = s.config(&root);
        assert!(
            Arc::ptr_eq(&first, &s.config(&root)),
            "an unchanged file is not read again"
        );
        write(&config, "[llm]\nmodel = \"bb\"\n");
        assert_eq!(
            s.llm(Some(&root), None).expect("valid").model.as_deref(),
            Some("bb")
        );
        // Agents: cached until agents.toml or a prompt changes.
        let agents = s.agents(Some(&root)).expect("agents");
        assert!(Arc::ptr_eq(
            &agents,
            &s.agents(Some(&root)).expect("agents")
        ));
        write(
            &root.join(WORKSPACE_PROMPTS_DIR).join("ask.md"),
            "Ask prompt",
        );
        let agents = s.agents(Some(&root)).expect("agents");
        let ask = agents.agents.iter().find(|a| a.slug == "ask").expect("ask");
        assert_eq!(ask.prompt, "Ask prompt");
        write(
            &root.join(WORKSPACE_PROMPTS_DIR).join("ask.md"),
            "Ask prompt, v2",
        );
        let agents = s.agents(Some(&root)).expect("agents");
        let ask = agents.agents.iter().find(|a| a.slug == "ask").expect("ask");
        assert_eq!(ask.prompt, "Ask prompt, v2");
    }

    #[test]
    fn an_invalid_workspace_policy_keeps_the_last_valid_rules() {
        let ws = tempfile::tempdir().expect("tempdir");
        let root = ws.path().canonicalize().expect("canonical");
        let s = settings(ws.path(), &[]);
        let config = root.join(WORKSPACE_CONFIG_FILE);
        write(
            &config,
            "[[policy.rules]]\ntool = \"execute_command\"\ncommand = \"npm publish\"\naction = \"deny\"\n",
        );
        assert_eq!(s.rules(Some(&root)).len(), 1);
        write(
            &config,
            "[[policy.rules]]\ntool = \"execute_command\"\n\npath = \"[\"\naction = \"deny\"\n",
        );
        let rules = s.rules(Some(&root));
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].spec.command.as_deref(), Some("npm publish"));
        let errors = s.policy_errors();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].contains(".codelab/config.toml:4: policy.rules[0].path: invalid path glob"),
            "{errors:?}"
        );
        // The [llm] part of the same file is still valid.
        assert!(s.llm(Some(&root), None).is_ok());
    }

    #[test]
    fn an_untrusted_workspace_keeps_only_ask_and_deny_and_no_agents() {
        let ws = tempfile::tempdir().expect("tempdir");
        let root = ws.path().canonicalize().expect("canonical");
        write(
            &root.join(WORKSPACE_CONFIG_FILE),
            "[[policy.rules]]\ntool = \"write_*\"\naction = \"allow\"\n[[policy.rules]]\ntool = \"x\"\naction = \"deny\"\n",
        );
        write(
            &root.join(WORKSPACE_AGENTS_FILE),
            "[[agents]]\nslug = \"docs\"\nname = \"Docs\"\ntools = [\"read_file\"]\n",
        );
        write(
            &root.join(WORKSPACE_PROMPTS_DIR).join("coder.md"),
            "Custom coder",
        );
        let untrusted = settings(ws.path(), &[]);
        assert_eq!(untrusted.rules(Some(&root)).len(), 1);
        let a = untrusted.agents(Some(&root)).expect("agents");
        assert!(a.untrusted);
        assert_eq!(a.agents, agents::builtin());
        assert_eq!(a.warnings.len(), 2, "{:?}", a.warnings);
        assert!(
            a.warnings[0].contains("agents.toml is ignored"),
            "{:?}",
            a.warnings
        );
        assert!(
            a.warnings[1].contains("coder.md is ignored"),
            "{:?}",
            a.warnings
        );

        let trusted = settings(ws.path(), &[&root]);
        assert_eq!(trusted.rules(Some(&root)).len(), 2);
        let a = trusted.agents(Some(&root)).expect("agents");
        assert!(!a.untrusted && a.warnings.is_empty());
        assert!(a.agents.iter().any(|a| a.slug == "docs"));
        assert!(
            a.agents
                .iter()
                .any(|a| a.slug == "coder" && a.prompt == "Custom coder")
        );
    }
}
