//! The agents, as data: who they are, which tools they may call, and what
//! their edits are restricted to.
//!
//! `codelab/listAgents` returns exactly these definitions, and the runtime
//! enforces exactly these tool lists and restrictions, so what a client sees
//! is what is enforced. A workspace the user trusts may add agents in
//! `.codelab/agents.toml` and override any agent's role prompt in
//! `.codelab/prompts/<slug>.md` (see [`crate::settings`] for the trust rule).

use std::fmt;
use std::path::Path;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use crate::config::{ConfigError, TomlDoc};

/// Read tools.
pub const READ_TOOLS: [&str; 3] = ["read_file", "list_files", "search_in_code"];
/// Edit tools.
pub const EDIT_TOOLS: [&str; 2] = ["write_file", "apply_diff"];
/// The command tool.
pub const EXECUTE_TOOLS: [&str; 3] = ["execute_command", "read_command_output", "stop_command"];
/// Git tools that change nothing (every agent with read tools has them).
pub const GIT_READ_TOOLS: [&str; 4] = ["git_status", "git_diff", "git_log", "git_show"];
/// Git tools that change the repository (commit, create and switch branches).
pub const GIT_WRITE_TOOLS: [&str; 2] = ["git_commit", "git_branch"];
/// The MCP group: every tool of every MCP server (`mcp__<server>__<tool>`).
pub const MCP_TOOLS: &str = "mcp";
/// The MCP group, limited to the tools their server annotates read-only.
pub const MCP_READ_ONLY_TOOLS: &str = "mcp:read-only";
/// Tools every agent may call.
pub const INTERACTION_TOOLS: [&str; 3] =
    ["ask_followup_question", "attempt_completion", "switch_mode"];
/// The delegation tool (orchestrator only).
pub const DELEGATION_TOOLS: [&str; 1] = ["new_task"];

/// The slug of the agent a new session starts with.
pub const DEFAULT_AGENT: &str = "orchestrator";
/// Where a workspace defines extra agents.
pub const WORKSPACE_AGENTS_FILE: &str = ".codelab/agents.toml";
/// Where a workspace overrides role prompts (`<slug>.md`).
pub const WORKSPACE_PROMPTS_DIR: &str = ".codelab/prompts";

/// The regular expression every path an agent edits must match, compiled
/// once when the agents are loaded.
#[derive(Debug, Clone)]
pub struct FileRestriction(Regex);

impl FileRestriction {
    /// Compiles a restriction.
    ///
    /// # Errors
    /// When `pattern` is not a valid regular expression.
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        Regex::new(pattern).map(Self)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether the agent may edit `path` (workspace-relative, or as given).
    pub fn allows(&self, path: &str) -> bool {
        self.0.is_match(path)
    }
}

/// Two restrictions are equal when their patterns are.
impl PartialEq for FileRestriction {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for FileRestriction {}

impl fmt::Display for FileRestriction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An agent definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// Slug, used to select the agent.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Tools it may call.
    pub tools: Vec<String>,
    /// What every edited path must match, if edits are restricted.
    pub file_restriction: Option<FileRestriction>,
    /// Its role prompt.
    pub prompt: String,
}

impl Agent {
    /// Whether the agent may call `tool` (a built-in tool, by name).
    pub fn allows(&self, tool: &str) -> bool {
        self.tools.iter().any(|t| t == tool)
    }

    /// Whether the agent may call a tool of an MCP server, which its server
    /// annotates read-only or not.
    pub fn allows_mcp(&self, read_only: bool) -> bool {
        self.allows(MCP_TOOLS) || (read_only && self.allows(MCP_READ_ONLY_TOOLS))
    }

    /// Its tools as the model reads them: tool names, and the MCP groups
    /// (which are not tool names) said in words.
    pub fn tools_described(&self) -> Vec<String> {
        self.tools
            .iter()
            .map(|t| match t.as_str() {
                MCP_TOOLS => "the tools of MCP servers (mcp__<server>__<tool>)".to_owned(),
                MCP_READ_ONLY_TOOLS => {
                    "the read-only tools of MCP servers (mcp__<server>__<tool>)".to_owned()
                }
                _ => t.clone(),
            })
            .collect()
    }
}

fn tools(groups: &[&[&str]]) -> Vec<String> {
    groups
        .iter()
        .flat_map(|g| g.iter().map(|t| (*t).to_owned()))
        .collect()
}

fn agent(
    slug: &str,
    name: &str,
    description: &str,
    tools: Vec<String>,
    restriction: Option<FileRestriction>,
    prompt: &str,
) -> Agent {
    Agent {
        slug: slug.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
        tools,
        file_restriction: restriction,
        prompt: prompt.to_owned(),
    }
}

/// Markdown files only: the architect's restriction.
fn markdown_only() -> Option<FileRestriction> {
    // A constant pattern: `builtin_restrictions_compile` proves it compiles.
    FileRestriction::new(r"\.md$").ok()
}

/// The five built-in agents, in display order.
pub fn builtin() -> Vec<Agent> {
    vec![
        agent(
            "orchestrator",
            "Orchestrator",
            "Coordinates: routes a request to the right agent or delegates subtasks. Has no file or command tools.",
            tools(&[&INTERACTION_TOOLS, &DELEGATION_TOOLS]),
            None,
            include_str!("../prompts/orchestrator.md"),
        ),
        agent(
            "coder",
            "Coder",
            "Writes and changes code: reads, edits files and runs commands.",
            tools(&[
                &READ_TOOLS,
                &EDIT_TOOLS,
                &EXECUTE_TOOLS,
                &GIT_READ_TOOLS,
                &GIT_WRITE_TOOLS,
                &[MCP_TOOLS],
                &INTERACTION_TOOLS,
            ]),
            None,
            include_str!("../prompts/coder.md"),
        ),
        agent(
            "architect",
            "Architect",
            "Plans and designs; reads the code and may edit Markdown files only.",
            tools(&[
                &READ_TOOLS,
                &EDIT_TOOLS,
                &GIT_READ_TOOLS,
                &INTERACTION_TOOLS,
            ]),
            markdown_only(),
            include_str!("../prompts/architect.md"),
        ),
        agent(
            "debug",
            "Debug",
            "Investigates problems; read-only.",
            tools(&[
                &READ_TOOLS,
                &GIT_READ_TOOLS,
                &[MCP_READ_ONLY_TOOLS],
                &INTERACTION_TOOLS,
            ]),
            None,
            include_str!("../prompts/debug.md"),
        ),
        agent(
            "ask",
            "Ask",
            "Answers questions about the code with minimal tools.",
            tools(&[
                &["read_file", "list_files"],
                &GIT_READ_TOOLS,
                &[MCP_READ_ONLY_TOOLS],
                &INTERACTION_TOOLS,
            ]),
            None,
            include_str!("../prompts/ask.md"),
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentsFile {
    #[serde(default)]
    agents: Vec<AgentEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentEntry {
    slug: String,
    name: String,
    #[serde(default)]
    description: String,
    tools: Vec<Spanned<String>>,
    #[serde(default)]
    file_restriction: Option<Spanned<String>>,
    #[serde(default)]
    prompt: Option<String>,
}

/// Every tool an agent may name.
fn known_tools() -> impl Iterator<Item = &'static str> {
    READ_TOOLS
        .iter()
        .chain(&EDIT_TOOLS)
        .chain(&EXECUTE_TOOLS)
        .chain(&GIT_READ_TOOLS)
        .chain(&GIT_WRITE_TOOLS)
        .chain(&[MCP_TOOLS, MCP_READ_ONLY_TOOLS])
        .chain(&INTERACTION_TOOLS)
        .chain(&DELEGATION_TOOLS)
        .copied()
}

/// The agents defined by a `.codelab/agents.toml` document, checked.
///
/// # Errors
/// A type error, an unknown field, an unknown tool or an invalid
/// `file_restriction`: the file, the line and the key (`agents[0].tools[2]`).
pub fn from_toml(doc: &TomlDoc<'_>) -> Result<Vec<Agent>, ConfigError> {
    let file: AgentsFile = doc.table(doc.parse()?)?;
    let mut agents = Vec::new();
    for (i, e) in file.agents.into_iter().enumerate() {
        for (j, t) in e.tools.iter().enumerate() {
            if !known_tools().any(|k| k == t.get_ref()) {
                return Err(doc.error(
                    Some(t.span()),
                    format!("agents[{i}].tools[{j}]"),
                    format!("agent `{}` names unknown tool `{}`", e.slug, t.get_ref()),
                ));
            }
        }
        let file_restriction = match &e.file_restriction {
            Some(r) => Some(FileRestriction::new(r.get_ref()).map_err(|err| {
                doc.error(
                    Some(r.span()),
                    format!("agents[{i}].file_restriction"),
                    format!("agent `{}`: invalid regex: {err}", e.slug),
                )
            })?),
            None => None,
        };
        let mut tools: Vec<String> = e.tools.into_iter().map(Spanned::into_inner).collect();
        for t in INTERACTION_TOOLS {
            if !tools.iter().any(|x| x == t) {
                tools.push(t.to_owned());
            }
        }
        agents.push(Agent {
            prompt: e
                .prompt
                .unwrap_or_else(|| format!("You are {}, an agent of CodeLab.", e.slug)),
            slug: e.slug,
            name: e.name,
            description: e.description,
            tools,
            file_restriction,
        });
    }
    Ok(agents)
}

/// The agents of a trusted workspace: the built-ins with their prompts
/// overridden by `.codelab/prompts/<slug>.md`, then the agents of
/// `.codelab/agents.toml` (which may also redefine a built-in by reusing its
/// slug). Files are read through `read` (`Ok(None)`: no such file), so the
/// caller can note what was read. Whether the workspace is trusted is the
/// caller's business: see [`crate::settings`].
///
/// # Errors
/// An unreadable or invalid `.codelab/agents.toml` (see [`from_toml`]).
pub fn for_workspace(
    root: &Path,
    read: &mut dyn FnMut(&Path) -> Result<Option<String>, ConfigError>,
) -> Result<Vec<Agent>, ConfigError> {
    let mut agents = builtin();
    let file = root.join(WORKSPACE_AGENTS_FILE);
    if let Some(text) = read(&file)? {
        for a in from_toml(&TomlDoc::new(&file, &text))? {
            match agents.iter_mut().find(|x| x.slug == a.slug) {
                Some(existing) => *existing = a,
                None => agents.push(a),
            }
        }
    }
    for a in &mut agents {
        let p = root
            .join(WORKSPACE_PROMPTS_DIR)
            .join(format!("{}.md", a.slug));
        match read(&p) {
            Ok(Some(text)) => a.prompt = text,
            Ok(None) => {}
            Err(e) => tracing::warn!("ignoring a prompt override: {e}"),
        }
    }
    Ok(agents)
}

/// Finds a built-in agent by slug.
pub fn find(slug: &str) -> Option<Agent> {
    builtin().into_iter().find(|a| a.slug == slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restrictions_are_as_documented() {
        let has = |a: &Agent, tools: &[&str]| tools.iter().any(|t| a.allows(t));
        let debug = find("debug").expect("debug exists");
        assert!(!has(&debug, &EDIT_TOOLS) && !has(&debug, &EXECUTE_TOOLS));
        let ask = find("ask").expect("ask exists");
        assert!(!ask.allows("search_in_code"));
        let orch = find("orchestrator").expect("orchestrator exists");
        assert!(!has(&orch, &READ_TOOLS) && !has(&orch, &EDIT_TOOLS) && orch.allows("new_task"));
        let architect = find("architect").expect("architect exists");
        let restriction = architect
            .file_restriction
            .as_ref()
            .expect("the architect's edits are restricted");
        assert_eq!(restriction.as_str(), r"\.md$");
        assert!(restriction.allows("docs/plan.md") && !restriction.allows("src/main.rs"));
        for a in builtin() {
            for t in INTERACTION_TOOLS {
                assert!(a.allows(t), "{} lacks {t}", a.slug);
            }
            assert!(
                !a.prompt.trim().is_empty(),
                "{} has an empty prompt",
                a.slug
            );
        }
    }

    /// Only the architect is restricted among the built-ins, and its
    /// restriction compiles (a built-in that did not would lose it).
    #[test]
    fn builtin_restrictions_compile() {
        let restricted: Vec<String> = builtin()
            .into_iter()
            .filter_map(|a| a.file_restriction.map(|r| format!("{}: {r}", a.slug)))
            .collect();
        assert_eq!(restricted, [r"architect: \.md$"]);
    }

    #[test]
    fn restrictions_compare_by_pattern() {
        let a = FileRestriction::new("^docs/").expect("valid");
        assert_eq!(a, FileRestriction::new("^docs/").expect("valid"));
        assert_ne!(a, FileRestriction::new("^doc/").expect("valid"));
        assert!(FileRestriction::new("(").is_err());
    }

    #[test]
    fn workspace_agents_and_prompt_overrides() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(WORKSPACE_PROMPTS_DIR)).expect("mkdir");
        std::fs::write(
            dir.path().join(WORKSPACE_PROMPTS_DIR).join("coder.md"),
            "Custom coder prompt",
        )
        .expect("write");
        std::fs::write(
            dir.path().join(WORKSPACE_AGENTS_FILE),
            "[[agents]]\nslug = \"docs\"\nname = \"Docs\"\ntools = [\"read_file\", \"write_file\"]\nfile_restriction = \"^docs/\"\n",
        )
        .expect("write");
        let agents = for_workspace(dir.path(), &mut crate::config::read_optional).expect("loads");
        let docs = agents
            .iter()
            .find(|a| a.slug == "docs")
            .expect("docs agent");
        assert!(
            docs.allows("write_file")
                && docs.allows("attempt_completion")
                && !docs.allows("execute_command")
        );
        let restriction = docs.file_restriction.as_ref().expect("restricted");
        assert_eq!(restriction.as_str(), "^docs/");
        assert!(restriction.allows("docs/a.md") && !restriction.allows("src/docs/a.md"));
        assert_eq!(
            agents
                .iter()
                .find(|a| a.slug == "coder")
                .map(|a| a.prompt.as_str()),
            Some("Custom coder prompt")
        );
        std::fs::write(
            dir.path().join(WORKSPACE_AGENTS_FILE),
            "[[agents]]\nslug = \"x\"\nname = \"X\"\ntools = [\"rm_rf\"]\n",
        )
        .expect("write");
        assert!(
            for_workspace(dir.path(), &mut crate::config::read_optional)
                .expect_err("unknown tool")
                .to_string()
                .contains("rm_rf")
        );
    }

    fn agents_of(text: &str) -> Result<Vec<Agent>, ConfigError> {
        from_toml(&TomlDoc::new(Path::new("/w/.codelab/agents.toml"), text))
    }

    #[test]
    fn agent_file_errors_name_line_and_key() {
        let err = agents_of(
            "[[agents]]\nslug = \"a\"\nname = \"A\"\ntools = [\"read_file\"]\n\n[[agents]]\nslug = \"x\"\nname = \"X\"\ntools = [\"read_file\",\n  \"rm_rf\"]\n",
        )
        .expect_err("unknown tool");
        assert_eq!(
            err.to_string(),
            "/w/.codelab/agents.toml:10: agents[1].tools[1]: agent `x` names unknown tool `rm_rf`"
        );
        let err = agents_of(
            "[[agents]]\nslug = \"x\"\nname = \"X\"\ntools = []\nfile_restriction = \"(\"\n",
        )
        .expect_err("bad regex");
        assert!(
            err.to_string().starts_with(
                "/w/.codelab/agents.toml:5: agents[0].file_restriction: agent `x`: invalid regex"
            ),
            "{err}"
        );
        let err = agents_of("[[agents]]\nslug = \"x\"\nname = \"X\"\ntool = []\n")
            .expect_err("unknown field");
        assert!(
            err.to_string()
                .starts_with("/w/.codelab/agents.toml:4: agents[0].tool: unknown field `tool`"),
            "{err}"
        );
        let err = agents_of("[agent]\nslug = \"x\"\n").expect_err("unknown table");
        assert!(
            err.to_string()
                .starts_with("/w/.codelab/agents.toml:1: agent: unknown field `agent`"),
            "{err}"
        );
    }
}
