//! The agents, as data: who they are, which tools they may call, and what
//! their edits are restricted to.
//!
//! `codelab/listAgents` returns exactly these definitions, and the runtime
//! enforces exactly these tool lists and restrictions, so what a client sees
//! is what is enforced.

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

/// An agent definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// Slug, used to select the agent.
    pub slug: &'static str,
    /// Display name.
    pub name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// Tools it may call.
    pub tools: Vec<&'static str>,
    /// Regex every edited path must match, if edits are restricted.
    pub file_restriction: Option<&'static str>,
    /// Its role prompt, from `prompts/<slug>.md`.
    pub prompt: &'static str,
}

impl Agent {
    /// The wire form.
    pub fn info(&self) -> AgentInfo {
        AgentInfo {
            slug: self.slug.to_owned(),
            name: self.name.to_owned(),
            description: self.description.to_owned(),
            tools: self.tools.iter().map(|t| (*t).to_owned()).collect(),
            file_restriction: self.file_restriction.map(str::to_owned),
        }
    }
}

fn tools(groups: &[&[&'static str]]) -> Vec<&'static str> {
    groups.iter().flat_map(|g| g.iter().copied()).collect()
}

/// The five built-in agents, in display order.
pub fn builtin() -> Vec<Agent> {
    vec![
        Agent {
            slug: "orchestrator",
            name: "Orchestrator",
            description: "Coordinates: routes a request to the right agent or delegates subtasks. \
                          Has no file or command tools.",
            tools: tools(&[&INTERACTION_TOOLS, &DELEGATION_TOOLS]),
            file_restriction: None,
            prompt: include_str!("../prompts/orchestrator.md"),
        },
        Agent {
            slug: "coder",
            name: "Coder",
            description: "Writes and changes code: reads, edits files and runs commands.",
            tools: tools(&[&READ_TOOLS, &EDIT_TOOLS, &EXECUTE_TOOLS, &INTERACTION_TOOLS]),
            file_restriction: None,
            prompt: include_str!("../prompts/coder.md"),
        },
        Agent {
            slug: "architect",
            name: "Architect",
            description: "Plans and designs; reads the code and may edit Markdown files only.",
            tools: tools(&[&READ_TOOLS, &EDIT_TOOLS, &INTERACTION_TOOLS]),
            file_restriction: Some(r"\.md$"),
            prompt: include_str!("../prompts/architect.md"),
        },
        Agent {
            slug: "debug",
            name: "Debug",
            description: "Investigates problems; read-only.",
            tools: tools(&[&READ_TOOLS, &INTERACTION_TOOLS]),
            file_restriction: None,
            prompt: include_str!("../prompts/debug.md"),
        },
        Agent {
            slug: "ask",
            name: "Ask",
            description: "Answers questions about the code with minimal tools.",
            tools: tools(&[&["read_file", "list_files"], &INTERACTION_TOOLS]),
            file_restriction: None,
            prompt: include_str!("../prompts/ask.md"),
        },
    ]
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
        let debug = find("debug").expect("debug exists");
        assert!(
            !debug
                .tools
                .iter()
                .any(|t| EDIT_TOOLS.contains(t) || EXECUTE_TOOLS.contains(t))
        );
        let ask = find("ask").expect("ask exists");
        assert!(!ask.tools.contains(&"search_in_code"));
        let orch = find("orchestrator").expect("orchestrator exists");
        assert!(
            !orch
                .tools
                .iter()
                .any(|t| READ_TOOLS.contains(t) || EDIT_TOOLS.contains(t))
        );
        assert_eq!(
            find("architect").and_then(|a| a.file_restriction),
            Some(r"\.md$")
        );
        for a in builtin() {
            for t in INTERACTION_TOOLS {
                assert!(a.tools.contains(&t), "{} lacks {t}", a.slug);
            }
            assert!(
                !a.prompt.trim().is_empty(),
                "{} has an empty prompt",
                a.slug
            );
        }
    }
}
