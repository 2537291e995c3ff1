//! The tool gate: whether a tool call the model proposed may run, must be
//! approved first, or is refused, and what it would touch.
//!
//! A short pipeline of named steps, each one function with one
//! responsibility, run in this order by [`Gate::check`]:
//!
//! 1. [`known_tool`]: the tool exists.
//! 2. [`allowed_for_agent`]: the agent may call it.
//! 3. [`valid_arguments`]: the arguments parse as the tool's parameter type
//!    (the only parse), which states the call's [`Subject`].
//! 4. [`file_restriction`]: an edit's paths match the agent's restriction.
//! 5. [`Repetition::observe`]: not the third identical call in a row.
//! 6. [`within_workspace`]: every path resolves inside the workspace; the
//!    result is the call's [`ResolvedSubject`] (workspace-relative paths,
//!    whether an edit touches a protected path, the command).
//! 7. [`policy`]: the approval rules decide: run, ask, or refuse.
//!
//! A refusal is a [`Refusal`], whose text is what the model reads as the
//! call's result. Anything that passes is [`Cleared`]: the tool, the resolved
//! subject and the [`Verdict`], so the runtime never reads tool arguments as
//! raw JSON.
//!
//! Pure: no async, no I/O beyond what [`Workspace::resolve`] does to follow
//! symlinks. The repetition guard's state belongs to the turn and is passed
//! in.

use std::sync::Arc;

use serde_json::Value;

use crate::agents::Agent;
use crate::policy::{Action, Call, CommandSandbox, Policy, RunIn};
use crate::tools::{self, Subject, Tool, ToolError, ToolKind};
use crate::workspace::{PathError, Workspace};

/// A tool call as the model proposed it.
#[derive(Debug, Clone, Copy)]
pub struct Proposal<'a> {
    /// The tool's name.
    pub tool: &'a str,
    /// The arguments (`{}` when the model's could not be read).
    pub args: &'a Value,
    /// Why the model's arguments could not be read as a JSON object, when
    /// they could not.
    pub malformed: Option<&'a str>,
}

impl<'a> Proposal<'a> {
    /// A call with readable arguments.
    pub fn new(tool: &'a str, args: &'a Value) -> Self {
        Self {
            tool,
            args,
            malformed: None,
        }
    }
}

/// What the gate judges a call against.
#[derive(Debug, Clone, Copy)]
pub struct GateContext<'a> {
    /// The agent making the call.
    pub agent: &'a Agent,
    /// The session's workspace, if it has one.
    pub workspace: Option<&'a Workspace>,
    /// The approval rules of the session's scopes.
    pub policy: &'a Policy,
    /// The user already decided this call (an approval resolved after the
    /// turn that asked was lost): the policy is not consulted again, and the
    /// verdict is [`Verdict::Decided`].
    pub decided: bool,
    /// How commands may be sandboxed (its `outside` is the call's own).
    pub sandbox: CommandSandbox,
}

/// Why a call does not run. Its text is what the model reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No tool has this name.
    #[error("There is no tool named `{0}`.")]
    UnknownTool(String),
    /// The tool's MCP server could not be reached, so its tools are not
    /// offered now.
    #[error("The tool `{tool}` is unavailable: {reason}")]
    Unavailable {
        /// The tool.
        tool: String,
        /// Why its server is unavailable (and when it is tried again).
        reason: String,
    },
    /// The agent may not call the tool.
    #[error(
        "The {agent} agent cannot use {tool}. Its tools are: {}. Use switch_mode if another agent should do this.",
        tools.join(", ")
    )]
    NotAllowed {
        /// The agent's slug.
        agent: String,
        /// The tool.
        tool: String,
        /// The tools the agent may call.
        tools: Vec<String>,
    },
    /// The model's arguments were not a readable JSON object.
    #[error("Invalid arguments for {tool}: {reason}")]
    MalformedArguments {
        /// The tool.
        tool: String,
        /// Why they could not be read.
        reason: String,
    },
    /// The arguments do not parse as the tool's parameters.
    #[error("{0}")]
    InvalidArguments(ToolError),
    /// An edit outside the agent's file restriction.
    #[error(
        "File restriction: the {agent} agent may only edit files matching `{pattern}`; `{path}` does not match."
    )]
    FileRestriction {
        /// The agent's slug.
        agent: String,
        /// The restriction's pattern.
        pattern: String,
        /// The path that does not match.
        path: String,
    },
    /// The same call for the third time in a row.
    #[error(
        "Refused: this exact call was already made twice in a row. Change your approach, or ask the user."
    )]
    Repeated,
    /// A path is malformed or leads outside the workspace, or there is no
    /// workspace.
    #[error("{0}")]
    Path(PathError),
    /// A policy rule denies the call.
    #[error("Denied by policy ({rule}). Do not retry this call.")]
    Denied {
        /// The rule, as the policy describes it.
        rule: String,
    },
}

/// The repetition guard's state: the last call that reached it and how many
/// times in a row it was made. One per turn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repetition {
    last: Option<(String, String)>,
    repeats: usize,
}

/// Identical calls in a row after which the next one is refused.
pub const MAX_REPEATS: usize = 2;

impl Repetition {
    /// Step 5: notes the call; refuses it when it is the third identical
    /// call (same tool, same arguments) in a row.
    ///
    /// # Errors
    /// [`Refusal::Repeated`].
    pub fn observe(&mut self, call: &Proposal<'_>) -> Result<(), Refusal> {
        let key = (call.tool.to_owned(), call.args.to_string());
        if self.last.as_ref() == Some(&key) {
            self.repeats += 1;
        } else {
            self.last = Some(key);
            self.repeats = 1;
        }
        if self.repeats > MAX_REPEATS {
            return Err(Refusal::Repeated);
        }
        Ok(())
    }
}

/// What a call touches, resolved against the workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedSubject {
    /// The paths it reads or changes, workspace-relative with `/` separators
    /// (`""` is the root). Empty when the session has no workspace and the
    /// call names no path.
    pub paths: Vec<String>,
    /// Whether it changes a protected path (`.codelab/**`, `.codelabignore`,
    /// `.git/**`), which always asks.
    pub protected: bool,
    /// The command line it runs.
    pub command: Option<String>,
    /// An ignored or protected workspace path the command line names
    /// (workspace-relative), which always asks.
    pub names_hidden: Option<String>,
    /// The model asked to run the command outside the sandbox.
    pub unsandboxed: bool,
    /// The call changes nothing (see [`Subject::read_only`]).
    pub read_only: bool,
}

impl ResolvedSubject {
    /// The call as the policy judges it, with the sandbox settings for
    /// commands.
    pub fn call<'a>(&'a self, tool: &'a str, sandbox: CommandSandbox) -> Call<'a> {
        Call {
            tool,
            paths: self.paths.clone(),
            protected: self.protected,
            command: self.command.as_deref(),
            sandbox: self.command.as_ref().map(|_| CommandSandbox {
                outside: self.unsandboxed,
                ..sandbox
            }),
            names_hidden: self.names_hidden.clone(),
            read_only: self.read_only,
        }
    }
}

/// What to do with a call that passed every step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Run it.
    Run,
    /// Ask the user first.
    Ask {
        /// The rule (or reason) that asks, for the user and the audit log.
        rule: String,
        /// Reject automatically after this many seconds, if the rule says so.
        timeout_secs: Option<u64>,
    },
    /// The user already decided (see [`GateContext::decided`]): apply that
    /// decision.
    Decided,
}

/// A call that passed the gate.
#[derive(Clone)]
pub struct Cleared {
    /// The tool to run.
    pub tool: Arc<dyn Tool>,
    /// What it touches.
    pub subject: ResolvedSubject,
    /// Run, ask, or apply the decision already made.
    pub verdict: Verdict,
    /// For commands: the sandbox it runs in once it may run.
    pub run_in: Option<RunIn>,
}

impl std::fmt::Debug for Cleared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cleared")
            .field("tool", &self.tool.name())
            .field("subject", &self.subject)
            .field("verdict", &self.verdict)
            .field("run_in", &self.run_in)
            .finish()
    }
}

/// Step 1: the tool exists.
///
/// # Errors
/// [`Refusal::UnknownTool`].
pub fn known_tool<'t>(
    tools: &'t [Arc<dyn Tool>],
    name: &str,
) -> Result<&'t Arc<dyn Tool>, Refusal> {
    tools
        .iter()
        .find(|t| t.name() == name)
        .ok_or_else(|| Refusal::UnknownTool(name.to_owned()))
}

/// Step 2: the agent may call the tool.
///
/// # Errors
/// [`Refusal::NotAllowed`], listing the agent's tools.
pub fn allowed_for_agent(agent: &Agent, tool: &dyn Tool) -> Result<(), Refusal> {
    if may_use(agent, tool) {
        return Ok(());
    }
    Err(Refusal::NotAllowed {
        agent: agent.slug.clone(),
        tool: tool.name().to_owned(),
        tools: agent.tools_described(),
    })
}

/// Whether the agent may use the tool: a built-in one by name, an MCP
/// server's through the agent's `mcp` group (all of them, or only those
/// annotated read-only).
pub fn may_use(agent: &Agent, tool: &dyn Tool) -> bool {
    match tool.mcp_read_only() {
        None => agent.allows(tool.name()),
        Some(read_only) => agent.allows_mcp(read_only),
    }
}

/// Step 3: the arguments parse as the tool's parameters (the one parse of
/// the gate); returns what the call touches, as the tool states it.
///
/// # Errors
/// [`Refusal::MalformedArguments`] when the model's arguments were not
/// readable, [`Refusal::InvalidArguments`] naming the failing field.
pub fn valid_arguments(tool: &dyn Tool, call: &Proposal<'_>) -> Result<Subject, Refusal> {
    if let Some(reason) = call.malformed {
        return Err(Refusal::MalformedArguments {
            tool: call.tool.to_owned(),
            reason: reason.to_owned(),
        });
    }
    tool.check(call.args).map_err(Refusal::InvalidArguments)
}

/// Step 4: every path an edit changes matches the agent's file restriction.
///
/// A path is matched workspace-relative when it resolves (so `./docs/a.md`
/// and an absolute path inside are judged as `docs/a.md`, and a symlink
/// named `notes.md` that leads to `src/main.rs` is judged as what it
/// changes), else as given. Other kinds of tools are not restricted.
///
/// # Errors
/// [`Refusal::FileRestriction`] with the first path that does not match.
pub fn file_restriction(
    agent: &Agent,
    kind: ToolKind,
    subject: &Subject,
    workspace: Option<&Workspace>,
) -> Result<(), Refusal> {
    let Some(restriction) = &agent.file_restriction else {
        return Ok(());
    };
    if kind != ToolKind::Edit {
        return Ok(());
    }
    for given in &subject.paths {
        let judged = workspace
            .and_then(|w| w.resolve(given).ok().map(|abs| w.relative(&abs)))
            .unwrap_or_else(|| given.clone());
        if !restriction.allows(&judged) {
            return Err(Refusal::FileRestriction {
                agent: agent.slug.clone(),
                pattern: restriction.as_str().to_owned(),
                path: judged,
            });
        }
    }
    Ok(())
}

/// Step 6: every path resolves inside the workspace (symlinks followed);
/// returns them workspace-relative, whether an edit touches a protected
/// path, and the command.
///
/// # Errors
/// [`Refusal::Path`]: a path that is malformed or leads outside, or
/// [`PathError::NoWorkspace`] when the call names a path and the session has
/// no workspace.
pub fn within_workspace(
    workspace: Option<&Workspace>,
    kind: ToolKind,
    subject: Subject,
) -> Result<ResolvedSubject, Refusal> {
    let mut resolved = ResolvedSubject {
        paths: Vec::with_capacity(subject.paths.len()),
        protected: false,
        names_hidden: match (workspace, &subject.command) {
            (Some(ws), Some(line)) => hidden_path_named(ws, subject.cwd.as_deref(), line),
            _ => None,
        },
        command: subject.command,
        unsandboxed: subject.unsandboxed,
        read_only: subject.read_only,
    };
    if subject.paths.is_empty() {
        return Ok(resolved);
    }
    let ws = workspace.ok_or(Refusal::Path(PathError::NoWorkspace))?;
    for given in &subject.paths {
        let abs = ws.resolve(given).map_err(Refusal::Path)?;
        // Reading a protected file is an ordinary read; changing one asks.
        resolved.protected |= kind == ToolKind::Edit && ws.is_protected(&abs);
        resolved.paths.push(ws.relative(&abs));
    }
    Ok(resolved)
}

/// The first word of a command line that names an ignored or protected
/// path of the workspace (`cat secret.env`, `echo x > .git/hooks/pre-commit`),
/// workspace-relative. Words are split as the shell would roughly split
/// them (quotes removed, `--opt=VALUE` and redirections looked into); a
/// word that leads outside the workspace or is not a path is skipped.
pub fn hidden_path_named(ws: &Workspace, cwd: Option<&str>, line: &str) -> Option<String> {
    let base = cwd.unwrap_or("").trim_end_matches('/');
    let words = line
        .split(|c: char| c.is_whitespace() || "&|;()<>`$=".contains(c))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '"'))
        .filter(|w| !w.is_empty() && !w.starts_with('-'));
    for word in words {
        if !(word.contains('.') || word.contains('/')) {
            continue;
        }
        let rel = if word.starts_with('/') || base.is_empty() {
            word.to_owned()
        } else {
            format!("{base}/{word}")
        };
        let Ok(abs) = ws.resolve(&rel) else {
            continue;
        };
        if abs != ws.root() && (ws.is_protected(&abs) || ws.is_ignored(&abs)) {
            return Some(ws.relative(&abs));
        }
    }
    None
}

/// Step 7: the approval rules decide; for commands, also the sandbox they
/// run in.
///
/// # Errors
/// [`Refusal::Denied`] naming the rule.
pub fn policy(
    policy: &Policy,
    tool: &str,
    subject: &ResolvedSubject,
    sandbox: CommandSandbox,
) -> Result<(Verdict, Option<RunIn>), Refusal> {
    let v = policy.decide(&subject.call(tool, sandbox));
    let verdict = match v.action {
        Action::Allow => Verdict::Run,
        Action::Ask => Verdict::Ask {
            rule: v.rule,
            timeout_secs: v.timeout_secs,
        },
        Action::Deny => return Err(Refusal::Denied { rule: v.rule }),
    };
    Ok((verdict, v.run_in))
}

/// The gate over a set of tools.
#[derive(Clone)]
pub struct Gate {
    tools: Vec<Arc<dyn Tool>>,
    /// Tool-name prefixes (`mcp__<server>__`) of MCP servers that could not
    /// be reached, with why: a call to one of their tools is told so.
    unavailable: Vec<(String, String)>,
}

impl Default for Gate {
    /// The gate over every tool ([`tools::registry`]).
    fn default() -> Self {
        Self::new(tools::registry())
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.tools.iter().map(|t| t.name()))
            .finish()
    }
}

impl Gate {
    /// The gate over `tools`.
    pub fn new(tools: Vec<Arc<dyn Tool>>) -> Self {
        Self {
            tools,
            unavailable: Vec::new(),
        }
    }

    /// The gate over `tools`, knowing which MCP servers (by tool-name
    /// prefix) could not be reached and why.
    pub fn with_unavailable(tools: Vec<Arc<dyn Tool>>, unavailable: Vec<(String, String)>) -> Self {
        Self { tools, unavailable }
    }

    /// Step 1 with what the gate knows of unreachable MCP servers.
    fn known(&self, name: &str) -> Result<&Arc<dyn Tool>, Refusal> {
        known_tool(&self.tools, name).map_err(|e| {
            self.unavailable
                .iter()
                .find(|(prefix, _)| name.starts_with(prefix.as_str()))
                .map_or(e, |(_, reason)| Refusal::Unavailable {
                    tool: name.to_owned(),
                    reason: reason.clone(),
                })
        })
    }

    /// The tools it knows.
    pub fn tools(&self) -> &[Arc<dyn Tool>] {
        &self.tools
    }

    /// A tool by name.
    pub fn tool(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.iter().find(|t| t.name() == name)
    }

    /// Runs every step, in order, on one call.
    ///
    /// # Errors
    /// The first step's [`Refusal`]; its text is the call's result.
    pub fn check(
        &self,
        call: &Proposal<'_>,
        cx: &GateContext<'_>,
        repetition: &mut Repetition,
    ) -> Result<Cleared, Refusal> {
        let tool = self.known(call.tool)?;
        allowed_for_agent(cx.agent, &**tool)?;
        let subject = valid_arguments(&**tool, call)?;
        file_restriction(cx.agent, tool.kind(), &subject, cx.workspace)?;
        repetition.observe(call)?;
        let subject = within_workspace(cx.workspace, tool.kind(), subject)?;
        let (verdict, run_in) = if cx.decided {
            // The user decided; the rules still say where a command runs.
            let v = cx.policy.decide(&subject.call(call.tool, cx.sandbox));
            (Verdict::Decided, v.run_in)
        } else {
            policy(cx.policy, call.tool, &subject, cx.sandbox)?
        };
        Ok(Cleared {
            tool: Arc::clone(tool),
            subject,
            verdict,
            run_in,
        })
    }

    /// What a call with these arguments touches, without judging it: for
    /// parameters a user edited before approving, and for the session rule
    /// an "allow always" records ([`crate::policy::session_rule`] of the
    /// result's paths and command).
    ///
    /// # Errors
    /// An unknown tool, invalid arguments, or a path refused by the workspace.
    pub fn subject(
        &self,
        tool: &str,
        args: &Value,
        workspace: Option<&Workspace>,
    ) -> Result<ResolvedSubject, Refusal> {
        let t = self.known(tool)?;
        let subject = valid_arguments(&**t, &Proposal::new(tool, args))?;
        within_workspace(workspace, t.kind(), subject)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::agents;
    use crate::policy::{Rule, RuleSpec, Scope};

    struct Fixture {
        _dir: tempfile::TempDir,
        ws: Workspace,
        gate: Gate,
        policy: Policy,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("src")).expect("mkdir");
        std::fs::create_dir_all(root.join("docs")).expect("mkdir");
        std::fs::create_dir_all(root.join(".codelab")).expect("mkdir");
        std::fs::write(root.join("src/main.rs"), "fn main() {}\n").expect("write");
        std::fs::write(root.join("docs/plan.md"), "# Plan\n").expect("write");
        std::fs::write(root.join(".codelab/config.toml"), "").expect("write");
        let ws = Workspace::new(root).expect("workspace");
        Fixture {
            _dir: dir,
            ws,
            gate: Gate::default(),
            policy: Policy::default(),
        }
    }

    fn agent(slug: &str) -> Agent {
        agents::find(slug).expect("built-in agent")
    }

    impl Fixture {
        fn cx<'a>(&'a self, agent: &'a Agent) -> GateContext<'a> {
            GateContext {
                agent,
                workspace: Some(&self.ws),
                policy: &self.policy,
                decided: false,
                sandbox: CommandSandbox::default(),
            }
        }

        /// One call through the whole gate, with a fresh repetition guard.
        fn check(&self, agent: &str, tool: &str, args: Value) -> Result<Cleared, Refusal> {
            let agent = agents::find(agent).expect("built-in agent");
            self.gate.check(
                &Proposal::new(tool, &args),
                &self.cx(&agent),
                &mut Repetition::default(),
            )
        }

        fn refusal(&self, agent: &str, tool: &str, args: Value) -> String {
            self.check(agent, tool, args)
                .expect_err("refused")
                .to_string()
        }

        fn verdict(&self, agent: &str, tool: &str, args: Value) -> Verdict {
            self.check(agent, tool, args).expect("cleared").verdict
        }
    }

    fn user_rule(spec: RuleSpec) -> Rule {
        Rule::new(spec, Scope::User).expect("valid rule")
    }

    fn spec(tool: &str, path: Option<&str>, action: Action) -> RuleSpec {
        RuleSpec {
            tool: tool.into(),
            path: path.map(Into::into),
            command: None,
            exact: false,
            action,
            timeout_secs: None,
            sandbox: None,
            network: false,
        }
    }

    #[test]
    fn unknown_tool() {
        let f = fixture();
        assert_eq!(
            f.refusal("coder", "rm_rf", json!({})),
            "There is no tool named `rm_rf`."
        );
        assert!(matches!(
            known_tool(f.gate.tools(), "rm_rf"),
            Err(Refusal::UnknownTool(t)) if t == "rm_rf"
        ));
        assert_eq!(
            known_tool(f.gate.tools(), "read_file").map(|t| t.name()),
            Ok("read_file")
        );
    }

    #[test]
    fn tool_not_allowed_for_the_agent_lists_its_tools() {
        let f = fixture();
        assert_eq!(
            f.refusal(
                "debug",
                "write_file",
                json!({"path": "a.md", "content": ""})
            ),
            "The debug agent cannot use write_file. Its tools are: read_file, list_files, \
             search_in_code, git_status, git_diff, git_log, git_show, the read-only tools of MCP \
             servers (mcp__<server>__<tool>), ask_followup_question, attempt_completion, switch_mode. Use \
             switch_mode if another agent should do this."
        );
        assert_eq!(
            f.refusal("orchestrator", "read_file", json!({"path": "x"}))
                .split(". ")
                .next(),
            Some("The orchestrator agent cannot use read_file")
        );
        let exec = tools::find("execute_command").expect("registered");
        assert!(allowed_for_agent(&agent("coder"), &*exec).is_ok());
    }

    #[test]
    fn invalid_arguments_name_the_field() {
        let f = fixture();
        let msg = f.refusal("coder", "write_file", json!({"path": "a.rs"}));
        assert!(
            msg.starts_with("invalid arguments for write_file: ") && msg.contains("content"),
            "{msg}"
        );
        let msg = f.refusal("coder", "read_file", json!({"path": "a.rs", "limt": 3}));
        assert!(msg.contains("limt"), "{msg}");
        // Arguments the model sent that were not a JSON object at all.
        let args = json!({});
        let agent = agent("coder");
        let malformed = Proposal {
            tool: "write_file",
            args: &args,
            malformed: Some("expected value at line 1 column 1"),
        };
        assert_eq!(
            f.gate
                .check(&malformed, &f.cx(&agent), &mut Repetition::default())
                .expect_err("refused")
                .to_string(),
            "Invalid arguments for write_file: expected value at line 1 column 1"
        );
    }

    #[test]
    fn the_architect_may_only_edit_markdown() {
        let f = fixture();
        assert_eq!(
            f.refusal(
                "architect",
                "write_file",
                json!({"path": "src/main.rs", "content": "x"})
            ),
            r"File restriction: the architect agent may only edit files matching `\.md$`; `src/main.rs` does not match."
        );
        assert_eq!(
            f.refusal(
                "architect",
                "apply_diff",
                json!({"path": "src/main.rs", "diff": "d"})
            ),
            r"File restriction: the architect agent may only edit files matching `\.md$`; `src/main.rs` does not match."
        );
        assert!(matches!(
            f.verdict(
                "architect",
                "write_file",
                json!({"path": "docs/plan.md", "content": "x"})
            ),
            Verdict::Ask { .. }
        ));
        // Reading is not restricted; the coder is not restricted at all.
        assert_eq!(
            f.verdict("architect", "read_file", json!({"path": "src/main.rs"})),
            Verdict::Run
        );
        assert!(
            f.check(
                "coder",
                "write_file",
                json!({"path": "src/main.rs", "content": "x"})
            )
            .is_ok()
        );
    }

    #[test]
    fn a_restriction_judges_what_a_symlink_changes() {
        let f = fixture();
        std::os::unix::fs::symlink(
            f.ws.root().join("src/main.rs"),
            f.ws.root().join("notes.md"),
        )
        .expect("symlink");
        let architect = agent("architect");
        let subject = Subject::paths(["notes.md".to_owned()]);
        assert_eq!(
            file_restriction(&architect, ToolKind::Edit, &subject, Some(&f.ws)),
            Err(Refusal::FileRestriction {
                agent: "architect".into(),
                pattern: r"\.md$".into(),
                path: "src/main.rs".into(),
            })
        );
        // Without a workspace, the path as given is judged.
        assert!(file_restriction(&architect, ToolKind::Edit, &subject, None).is_ok());
        // An absolute path inside is judged workspace-relative.
        let docs = agents::FileRestriction::new("^docs/").expect("valid");
        let writer = Agent {
            file_restriction: Some(docs),
            ..agent("coder")
        };
        let abs = f.ws.root().join("docs/new.md").display().to_string();
        assert!(
            file_restriction(&writer, ToolKind::Edit, &Subject::paths([abs]), Some(&f.ws)).is_ok()
        );
    }

    #[test]
    fn paths_escaping_the_workspace_are_refused() {
        let f = fixture();
        let msg = f.refusal(
            "coder",
            "write_file",
            json!({"path": "../escape.rs", "content": "x"}),
        );
        assert_eq!(
            msg,
            format!(
                "path \"../escape.rs\" is outside the workspace {}; use a path inside it",
                f.ws.root().display()
            )
        );
        assert!(matches!(
            f.check("coder", "read_file", json!({"path": "/etc/passwd"})),
            Err(Refusal::Path(PathError::Outside { .. }))
        ));
        assert!(matches!(
            f.check("coder", "list_files", json!({"path": "src/../../.."})),
            Err(Refusal::Path(PathError::Outside { .. }))
        ));
        let outside = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(outside.path(), f.ws.root().join("link")).expect("symlink");
        assert!(matches!(
            f.check(
                "coder",
                "write_file",
                json!({"path": "link/x.rs", "content": ""})
            ),
            Err(Refusal::Path(PathError::Outside { .. }))
        ));
        // No workspace: a call that names a path cannot run.
        let coder = agent("coder");
        let cx = GateContext {
            workspace: None,
            ..f.cx(&coder)
        };
        let args = json!({"path": "src/main.rs"});
        assert_eq!(
            f.gate
                .check(
                    &Proposal::new("read_file", &args),
                    &cx,
                    &mut Repetition::default()
                )
                .expect_err("refused"),
            Refusal::Path(PathError::NoWorkspace)
        );
        // A command names no path.
        let args = json!({"command": "ls"});
        assert!(
            f.gate
                .check(
                    &Proposal::new("execute_command", &args),
                    &cx,
                    &mut Repetition::default()
                )
                .is_ok()
        );
    }

    #[test]
    fn the_subject_is_resolved_workspace_relative() {
        let f = fixture();
        let cleared = f
            .check(
                "coder",
                "write_file",
                json!({"path": "./src/../src/new.rs", "content": "x"}),
            )
            .expect("cleared");
        assert_eq!(cleared.tool.name(), "write_file");
        assert_eq!(
            cleared.subject,
            ResolvedSubject {
                paths: vec!["src/new.rs".into()],
                ..ResolvedSubject::default()
            }
        );
        let cleared = f.check("coder", "list_files", json!({})).expect("cleared");
        assert_eq!(cleared.subject.paths, [""], "the root");
        let cleared = f
            .check(
                "coder",
                "execute_command",
                json!({"command": "cargo test", "cwd": "src"}),
            )
            .expect("cleared");
        assert_eq!(
            cleared.subject,
            ResolvedSubject {
                command: Some("cargo test".into()),
                ..ResolvedSubject::default()
            }
        );
        assert_eq!(
            f.gate
                .subject(
                    "apply_diff",
                    &json!({"path": "docs/plan.md", "diff": "d"}),
                    Some(&f.ws)
                )
                .expect("subject")
                .paths,
            ["docs/plan.md"]
        );
        assert!(matches!(
            f.gate
                .subject("apply_diff", &json!({"path": 3}), Some(&f.ws)),
            Err(Refusal::InvalidArguments(_))
        ));
    }

    #[test]
    fn the_third_identical_call_in_a_row_is_refused() {
        let f = fixture();
        let coder = agent("coder");
        let cx = f.cx(&coder);
        let mut rep = Repetition::default();
        let same = json!({"path": "src/main.rs"});
        let other = json!({"path": "docs/plan.md"});
        let mut check = |args: &Value| {
            f.gate
                .check(&Proposal::new("read_file", args), &cx, &mut rep)
        };
        assert!(check(&same).is_ok());
        assert!(check(&same).is_ok());
        assert_eq!(
            check(&same).expect_err("third in a row").to_string(),
            "Refused: this exact call was already made twice in a row. Change your approach, or ask the user."
        );
        assert!(check(&same).is_err(), "and every one after it");
        // Another call in between starts the count again.
        assert!(check(&other).is_ok());
        assert!(check(&same).is_ok());
        assert!(check(&same).is_ok());
        // The same arguments for another tool are another call.
        let mut rep = Repetition::default();
        let args = json!({"path": "src"});
        for tool in ["list_files", "list_files", "search_in_code"] {
            let call = Proposal {
                tool,
                args: &args,
                malformed: None,
            };
            assert!(rep.observe(&call).is_ok(), "{tool}");
        }
    }

    #[test]
    fn calls_refused_earlier_do_not_count_as_repeats() {
        let f = fixture();
        let architect = agent("architect");
        let cx = f.cx(&architect);
        let mut rep = Repetition::default();
        let args = json!({"path": "src/main.rs", "content": "x"});
        for _ in 0..3 {
            assert!(matches!(
                f.gate
                    .check(&Proposal::new("write_file", &args), &cx, &mut rep),
                Err(Refusal::FileRestriction { .. })
            ));
        }
        assert_eq!(rep, Repetition::default());
    }

    #[test]
    fn policy_allows_asks_and_denies() {
        let f = fixture();
        assert_eq!(
            f.verdict("coder", "read_file", json!({"path": "src/main.rs"})),
            Verdict::Run
        );
        assert_eq!(
            f.verdict(
                "coder",
                "write_file",
                json!({"path": "src/main.rs", "content": "x"})
            ),
            Verdict::Ask {
                rule: "built-in rule: ask write_file".into(),
                timeout_secs: None,
            }
        );
        assert_eq!(
            f.refusal("coder", "execute_command", json!({"command": "rm -rf /"})),
            "Denied by policy (built-in rule: deny execute_command command rm -rf /). Do not retry this call."
        );
        // A user's rules: allow edits under docs/, ask with a timeout, deny a path.
        let mut f = f;
        f.policy = Policy::new(vec![
            user_rule(spec("write_file", Some("docs/**"), Action::Allow)),
            user_rule(RuleSpec {
                timeout_secs: Some(30),
                ..spec("apply_diff", None, Action::Ask)
            }),
            user_rule(spec("read_file", Some("src/secret*"), Action::Deny)),
        ]);
        assert_eq!(
            f.verdict(
                "coder",
                "write_file",
                json!({"path": "docs/plan.md", "content": "x"})
            ),
            Verdict::Run
        );
        assert_eq!(
            f.verdict(
                "coder",
                "apply_diff",
                json!({"path": "src/main.rs", "diff": "d"})
            ),
            Verdict::Ask {
                rule: "user rule: ask apply_diff".into(),
                timeout_secs: Some(30),
            }
        );
        assert!(matches!(
            f.check("coder", "read_file", json!({"path": "src/secret.txt"})),
            Err(Refusal::Denied { rule }) if rule == "user rule: deny read_file path src/secret*"
        ));
    }

    #[test]
    fn changing_a_protected_path_always_asks_reading_it_does_not() {
        let mut f = fixture();
        f.policy = Policy::new(vec![user_rule(spec("write_file", None, Action::Allow))]);
        let cleared = f
            .check(
                "coder",
                "write_file",
                json!({"path": ".codelab/config.toml", "content": "x"}),
            )
            .expect("cleared");
        assert!(cleared.subject.protected);
        assert_eq!(
            cleared.verdict,
            Verdict::Ask {
                rule: "protected path (.codelab, .codelabignore, .git) always asks".into(),
                timeout_secs: None,
            }
        );
        assert_eq!(
            f.verdict(
                "coder",
                "write_file",
                json!({"path": "src/main.rs", "content": "x"})
            ),
            Verdict::Run
        );
        let read = f
            .check(
                "coder",
                "read_file",
                json!({"path": ".codelab/config.toml"}),
            )
            .expect("cleared");
        assert!(!read.subject.protected);
        assert_eq!(read.verdict, Verdict::Run);
    }

    #[test]
    fn a_command_naming_an_ignored_or_protected_path_is_noted() {
        let f = fixture();
        std::fs::write(f.ws.root().join(".codelabignore"), "secret.env\n").expect("write");
        std::fs::write(f.ws.root().join("secret.env"), "x").expect("write");
        let ws = Workspace::new(f.ws.root()).expect("workspace");
        let named = |cwd: Option<&str>, line: &str| hidden_path_named(&ws, cwd, line);
        assert_eq!(named(None, "cat secret.env"), Some("secret.env".into()));
        assert_eq!(
            named(None, "cat 'secret.env' | wc"),
            Some("secret.env".into())
        );
        assert_eq!(
            named(None, "echo x > .git/hooks/pre-commit"),
            Some(".git/hooks/pre-commit".into())
        );
        assert_eq!(
            named(Some("src"), "cp a ../.codelab/config.toml"),
            Some(".codelab/config.toml".into())
        );
        assert_eq!(named(None, "cargo test --all"), None);
        assert_eq!(named(None, "git status"), None, "git is not .git");
        assert_eq!(
            named(None, "cat /etc/passwd"),
            None,
            "outside is the sandbox's business"
        );
        // The gate notes it; the policy then asks, sandboxed or not.
        let cleared = f
            .check(
                "coder",
                "execute_command",
                json!({"command": "cat .codelab/config.toml"}),
            )
            .expect("cleared");
        assert_eq!(
            cleared.subject.names_hidden.as_deref(),
            Some(".codelab/config.toml")
        );
        assert!(matches!(cleared.verdict, Verdict::Ask { .. }));
    }

    #[test]
    fn a_decided_call_skips_the_policy_only() {
        let f = fixture();
        let coder = agent("coder");
        let cx = GateContext {
            decided: true,
            ..f.cx(&coder)
        };
        let args = json!({"command": "rm -rf /"});
        let cleared = f
            .gate
            .check(
                &Proposal::new("execute_command", &args),
                &cx,
                &mut Repetition::default(),
            )
            .expect("the user's decision stands");
        assert_eq!(cleared.verdict, Verdict::Decided);
        let args = json!({"path": "../x", "content": ""});
        assert!(matches!(
            f.gate.check(
                &Proposal::new("write_file", &args),
                &cx,
                &mut Repetition::default()
            ),
            Err(Refusal::Path(_))
        ));
    }
}
