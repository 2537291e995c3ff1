//! The agents, as data: who they are, which tools they may call, and what
//! their edits are restricted to.
//!
//! `codelab/listAgents` returns exactly these definitions, and the runtime
//! enforces exactly these tool lists and restrictions, so what a client sees
//! is what is enforced. A workspace may add agents in `.codelab/agents.toml`
//! and override any agent's role prompt in `.codelab/prompts/<slug>.md`.

use std::path::Path;

use serde::Deserialize;

use crate::protocol::types::AgentInfo;

/// Read tools.
pub const READ_TOOLS: [&str; 3] = ["read_file", "list_files", "search_in_code"];
/// Edit tools.
pub const EDIT_TOOLS: [&str; 2] = ["write_file", "apply_diff"];
/// The command tool.
pub const EXECUTE_TOOLS: [&str; 1] = ["execute_command"];
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
    /// Regex every edited path must match, if edits are restricted.
    pub file_restriction: Option<String>,
    /// Its role prompt.
    pub prompt: String,
}

impl Agent {
    /// The wire form.
    pub fn info(&self) -> AgentInfo {
        AgentInfo {
            slug: self.slug.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            tools: self.tools.clone(),
            file_restriction: self.file_restriction.clone(),
        }
    }

    /// Whether the agent may call `tool`.
    pub fn allows(&self, tool: &str) -> bool {
        self.tools.iter().any(|t| t == tool)
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
    restriction: Option<&str>,
    prompt: &str,
) -> Agent {
    Agent {
        slug: slug.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
        tools,
        file_restriction: restriction.map(str::to_owned),
        prompt: prompt.to_owned(),
    }
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
            tools(&[&READ_TOOLS, &EDIT_TOOLS, &EXECUTE_TOOLS, &INTERACTION_TOOLS]),
            None,
            include_str!("../prompts/coder.md"),
        ),
        agent(
            "architect",
            "Architect",
            "Plans and designs; reads the code and may edit Markdown files only.",
            tools(&[&READ_TOOLS, &EDIT_TOOLS, &INTERACTION_TOOLS]),
            Some(r"\.md$"),
            include_str!("../prompts/architect.md"),
        ),
        agent(
            "debug",
            "Debug",
            "Investigates problems; read-only.",
            tools(&[&READ_TOOLS, &INTERACTION_TOOLS]),
            None,
            include_str!("../prompts/debug.md"),
        ),
        agent(
            "ask",
            "Ask",
            "Answers questions about the code with minimal tools.",
            tools(&[&["read_file", "list_files"], &INTERACTION_TOOLS]),
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
    tools: Vec<String>,
    #[serde(default)]
    file_restriction: Option<String>,
    #[serde(default)]
    prompt: Option<String>,
}

/// The agents of a workspace: the built-ins with their prompts overridden by
/// `.codelab/prompts/<slug>.md`, then the agents of `.codelab/agents.toml`
/// (which may also redefine a built-in by reusing its slug).
///
/// # Errors
/// A message naming the file and the problem (unknown tool, bad regex, ...).
pub fn for_workspace(root: Option<&Path>) -> Result<Vec<Agent>, String> {
    let mut agents = builtin();
    let Some(root) = root else { return Ok(agents) };
    let file = root.join(WORKSPACE_AGENTS_FILE);
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let parsed: AgentsFile = toml::from_str(&text)
                .map_err(|e| format!("{}: {}", file.display(), e.message()))?;
            for e in parsed.agents {
                let known: Vec<&str> = READ_TOOLS
                    .iter()
                    .chain(&EDIT_TOOLS)
                    .chain(&EXECUTE_TOOLS)
                    .chain(&INTERACTION_TOOLS)
                    .chain(&DELEGATION_TOOLS)
                    .copied()
                    .collect();
                if let Some(bad) = e.tools.iter().find(|t| !known.contains(&t.as_str())) {
                    return Err(format!(
                        "{}: agent `{}` names unknown tool `{bad}`",
                        file.display(),
                        e.slug
                    ));
                }
                if let Some(r) = &e.file_restriction {
                    regex::Regex::new(r).map_err(|err| {
                        format!(
                            "{}: agent `{}`: invalid file_restriction: {err}",
                            file.display(),
                            e.slug
                        )
                    })?;
                }
                let mut tools = e.tools;
                for t in INTERACTION_TOOLS {
                    if !tools.iter().any(|x| x == t) {
                        tools.push(t.to_owned());
                    }
                }
                let a = Agent {
                    slug: e.slug.clone(),
                    name: e.name,
                    description: e.description,
                    tools,
                    file_restriction: e.file_restriction,
                    prompt: e
                        .prompt
                        .unwrap_or_else(|| format!("You are {}, an agent of CodeLab.", e.slug)),
                };
                match agents.iter_mut().find(|x| x.slug == a.slug) {
                    Some(existing) => *existing = a,
                    None => agents.push(a),
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", file.display())),
    }
    for a in &mut agents {
        let p = root
            .join(WORKSPACE_PROMPTS_DIR)
            .join(format!("{}.md", a.slug));
        if let Ok(text) = std::fs::read_to_string(&p) {
            a.prompt = text;
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
        assert_eq!(
            find("architect")
                .and_then(|a| a.file_restriction)
                .as_deref(),
            Some(r"\.md$")
        );
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
        let agents = for_workspace(Some(dir.path())).expect("loads");
        let docs = agents
            .iter()
            .find(|a| a.slug == "docs")
            .expect("docs agent");
        assert!(
            docs.allows("write_file")
                && docs.allows("attempt_completion")
                && !docs.allows("execute_command")
        );
        assert_eq!(docs.file_restriction.as_deref(), Some("^docs/"));
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
            for_workspace(Some(dir.path()))
                .expect_err("unknown tool")
                .contains("rm_rf")
        );
    }
}
