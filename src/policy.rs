//! Approval policies: which tool calls run, which ask the user, which are refused.
//!
//! A rule matches a tool name by wildcard (`write_*`, `*`) and optionally its
//! arguments: a path glob for file tools, a command pattern for
//! `execute_command` (a prefix with `*` wildcards, or an exact match). Rules
//! come in scopes, lowest first: built-in defaults, the user's `codelab.toml`,
//! the workspace's `.codelab/config.toml`, and the session's "allow always"
//! decisions. Within a scope the first matching rule wins; the highest scope
//! with a match decides, except that a `deny` beats any `allow` or `ask` that
//! is not more specific than it (specificity: an argument pattern beats an
//! exact tool name, which beats a wildcard). So a broad "allow every command"
//! never unlocks `rm -rf /`.
//!
//! Commands are judged part by part: the line is split on `&&`, `||`, `;`,
//! `|`, `&` and newlines; every part must be allowed for the whole to be; any
//! denied part denies the whole. Command or process substitution and output
//! redirection to a file force `ask` even where a rule allows. Writes to
//! protected paths always ask. (A workspace's own `allow` rules are only
//! used for workspaces the user trusts; see [`crate::settings`].)
//!
//! **The sandbox dimension.** A command runs in a [`SandboxMode`]: the
//! deciding rule's `sandbox`, else the agent's, else the global one
//! (`workspace-write` by default); `off` when the model asked for
//! `sandbox: false` or the sandbox is unavailable here. A sandboxed command
//! needs no approval by default: the built-in `ask` for commands becomes
//! `allow` inside the sandbox, and substitutions and redirections no longer
//! force a prompt (the sandbox bounds what they can write). User, workspace
//! and session rules still win: an explicit `ask` asks and a `deny` denies,
//! sandboxed or not, and the built-in deny list applies as always. An `allow`
//! holds up to its mode: a command that must run less confined than its
//! rules allow (outside the sandbox, say) asks. A command line that names an
//! ignored or protected path always asks. The network is on for a sandboxed
//! command only when the global setting says so or every part's deciding
//! rule has `network = true`.

use globset::{GlobBuilder, GlobMatcher};
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use crate::config::{ConfigError, TomlDoc};

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Run without asking.
    Allow,
    /// Ask the user.
    Ask,
    /// Refuse.
    Deny,
}

/// How a command is confined, least permissive first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    /// Sandboxed; writes only to the session's temp dir.
    ReadOnly,
    /// Sandboxed; writes to the workspace (protected paths excepted), the
    /// session's temp dir and configured extra paths.
    WorkspaceWrite,
    /// Not sandboxed.
    Off,
}

impl SandboxMode {
    /// The spelling in config files and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read-only",
            Self::WorkspaceWrite => "workspace-write",
            Self::Off => "off",
        }
    }
}

/// Where a rule comes from, lowest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Built into codelab-agent.
    Builtin,
    /// The user's `codelab.toml`.
    User,
    /// The workspace's `.codelab/config.toml`.
    Workspace,
    /// "Allow always" decisions of this session.
    Session,
}

/// A rule as written in a config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Tool name, `*` wildcards allowed.
    pub tool: String,
    /// Path glob, for file tools (relative to the workspace root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Command pattern, for `execute_command`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Match the command exactly rather than as a prefix.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exact: bool,
    /// What to do.
    pub action: Action,
    /// For `ask`: reject automatically after this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// For commands: the sandbox mode they run in under this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxMode>,
    /// For commands: the network stays on in the sandbox.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub network: bool,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// As written.
    pub spec: RuleSpec,
    /// Where it comes from.
    pub scope: Scope,
    tool: Regex,
    path: Option<GlobMatcher>,
    command: Option<Regex>,
}

/// Why a rule does not compile.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuleError {
    /// The path glob is invalid.
    #[error("invalid path glob {glob:?}: {error}")]
    Glob {
        /// The glob.
        glob: String,
        /// Why.
        error: globset::Error,
    },
    /// The tool or command pattern does not compile.
    #[error("invalid {field} pattern {pattern:?}: {error}")]
    Pattern {
        /// `tool` or `command`.
        field: &'static str,
        /// The pattern.
        pattern: String,
        /// Why.
        error: regex::Error,
    },
}

impl RuleError {
    /// The rule's field the error is about (`tool`, `path`, `command`).
    pub fn field(&self) -> &'static str {
        match self {
            Self::Glob { .. } => "path",
            Self::Pattern { field, .. } => field,
        }
    }
}

fn wildcard(pattern: &str, prefix: bool, field: &'static str) -> Result<Regex, RuleError> {
    let body: String = pattern
        .split('*')
        .map(regex::escape)
        .collect::<Vec<_>>()
        .join(".*");
    let re = if prefix {
        format!(r"^{body}(\s.*)?$")
    } else {
        format!("^{body}$")
    };
    Regex::new(&re).map_err(|error| RuleError::Pattern {
        field,
        pattern: pattern.to_owned(),
        error,
    })
}

impl Rule {
    /// Compiles a rule.
    ///
    /// # Errors
    /// An invalid glob or pattern.
    pub fn new(spec: RuleSpec, scope: Scope) -> Result<Self, RuleError> {
        let tool = wildcard(&spec.tool, false, "tool")?;
        let path = match &spec.path {
            Some(p) => Some(
                GlobBuilder::new(p)
                    .literal_separator(true)
                    .build()
                    .map_err(|error| RuleError::Glob {
                        glob: p.clone(),
                        error,
                    })?
                    .compile_matcher(),
            ),
            None => None,
        };
        let command = match &spec.command {
            Some(c) => Some(wildcard(c.trim(), !spec.exact, "command")?),
            None => None,
        };
        Ok(Self {
            spec,
            scope,
            tool,
            path,
            command,
        })
    }

    fn specificity(&self) -> u8 {
        if self.path.is_some() || self.command.is_some() {
            2
        } else if !self.spec.tool.contains('*') {
            1
        } else {
            0
        }
    }

    fn matches(&self, call: &Call<'_>, part: Option<&str>) -> bool {
        if !self.tool.is_match(call.tool) {
            return false;
        }
        if let Some(glob) = &self.path
            && (call.paths.is_empty() || !call.paths.iter().all(|p| glob.is_match(p)))
        {
            return false;
        }
        if let Some(cmd) = &self.command {
            match part {
                Some(p) => {
                    if !cmd.is_match(p.trim()) {
                        return false;
                    }
                }
                None => return false,
            }
        }
        true
    }
}

/// A tool call, as the gate sees it.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// The tool.
    pub tool: &'a str,
    /// Workspace-relative paths it would change or read.
    pub paths: Vec<String>,
    /// Whether any of them is protected.
    pub protected: bool,
    /// The command line, for `execute_command`.
    pub command: Option<&'a str>,
    /// For commands: how they may be sandboxed here.
    pub sandbox: Option<CommandSandbox>,
    /// An ignored or protected path the command line names, if any.
    pub names_hidden: Option<String>,
    /// The call changes nothing (a `git_branch` listing, say):
    /// a built-in `ask` becomes `allow`.
    pub read_only: bool,
}

/// The sandbox settings a command is judged with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSandbox {
    /// Whether commands can be sandboxed here (else every one runs `off`).
    pub available: bool,
    /// The mode unless a rule says otherwise: the agent's, else the global.
    pub default: SandboxMode,
    /// The network is on in the sandbox for every command.
    pub network: bool,
    /// The model asked to run this command outside the sandbox.
    pub outside: bool,
}

impl Default for CommandSandbox {
    /// No sandbox: every command runs `off` (the behaviour before it existed).
    fn default() -> Self {
        Self {
            available: false,
            default: SandboxMode::Off,
            network: true,
            outside: false,
        }
    }
}

/// How a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunIn {
    /// The sandbox mode.
    pub mode: SandboxMode,
    /// Whether it keeps the network (always, when `off`).
    pub network: bool,
}

/// The gate's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// What to do.
    pub action: Action,
    /// Which rule (or reason) decided, for the user and the audit log.
    pub rule: String,
    /// For `ask`: the approval's timeout, if the rule sets one.
    pub timeout_secs: Option<u64>,
    /// For commands: how it runs (once allowed or approved).
    pub run_in: Option<RunIn>,
}

/// A policy: rules of every scope.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
}

fn spec(tool: &str, command: Option<&str>, action: Action) -> RuleSpec {
    RuleSpec {
        tool: tool.into(),
        path: None,
        command: command.map(Into::into),
        exact: false,
        action,
        timeout_secs: None,
        sandbox: None,
        network: false,
    }
}

/// The built-in rules.
pub fn builtin_rules() -> Vec<RuleSpec> {
    let mut rules: Vec<RuleSpec> = [
        "rm -rf /",
        "rm -rf /*",
        "rm -rf ~",
        "rm -rf ~/*",
        "rm -fr /",
        "git push --force*",
        "git push -f*",
        "git push * --force*",
        "git push * -f",
        "mkfs*",
        "dd *of=/dev/*",
        ":(){*",
        "shutdown*",
        "reboot*",
        "chmod -R 777 /*",
    ]
    .iter()
    .map(|c| spec("execute_command", Some(c), Action::Deny))
    .collect();
    for t in [
        "read_file",
        "list_files",
        "search_in_code",
        "read_command_output",
        "stop_command",
        "ask_followup_question",
        "attempt_completion",
        "switch_mode",
        "new_task",
        "git_status",
        "git_diff",
        "git_log",
        "git_show",
    ] {
        rules.push(spec(t, None, Action::Allow));
    }
    for t in [
        "write_file",
        "apply_diff",
        "execute_command",
        "git_commit",
        "git_branch",
    ] {
        rules.push(spec(t, None, Action::Ask));
    }
    rules.push(spec("*", None, Action::Ask));
    rules
}

impl Default for Policy {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

/// Splits a command line into its parts and notes what forces a prompt.
pub fn split_command(line: &str) -> (Vec<String>, Option<&'static str>) {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut force = None;
    let chars: Vec<char> = line.chars().collect();
    let (mut single, mut double) = (false, false);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if single {
            if c == '\'' {
                single = false;
            }
            cur.push(c);
            i += 1;
            continue;
        }
        match c {
            '\\' => {
                cur.push(c);
                if let Some(n) = next {
                    cur.push(n);
                }
                i += 2;
                continue;
            }
            '\'' if !double => single = true,
            '"' => double = !double,
            '`' => force = force.or(Some("command substitution")),
            '$' if next == Some('(') => force = force.or(Some("command substitution")),
            '<' | '>' if next == Some('(') && !double => {
                force = force.or(Some("process substitution"))
            }
            '>' if !double => {
                // 2>&1 and >/dev/null are harmless; any other target is a file.
                let rest: String = chars[i + 1..].iter().collect();
                let rest = rest.trim_start_matches('>').trim_start();
                if !(rest.starts_with("&") || rest.starts_with("/dev/null")) {
                    force = force.or(Some("output redirection to a file"));
                }
            }
            '&' | '|' | ';' | '\n' if !double => {
                if !cur.trim().is_empty() {
                    parts.push(cur.trim().to_owned());
                }
                cur.clear();
                if (c == '&' || c == '|') && next == Some(c) {
                    i += 1;
                }
                // `>&`/`&>` redirections are not separators.
                if c == '&' && cur.is_empty() && i > 0 && chars[i - 1] == '>' {
                    cur.push_str(">&");
                }
                i += 1;
                continue;
            }
            _ => {}
        }
        cur.push(c);
        i += 1;
    }
    if !cur.trim().is_empty() {
        parts.push(cur.trim().to_owned());
    }
    (parts, force)
}

impl Policy {
    /// The built-in rules plus `extra` (compiled, with their scopes).
    pub fn new(extra: Vec<Rule>) -> Self {
        let mut rules: Vec<Rule> = builtin_rules()
            .into_iter()
            .filter_map(|s| Rule::new(s, Scope::Builtin).ok())
            .collect();
        rules.extend(extra);
        Self { rules }
    }

    /// The rules, lowest scope first, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Decides one part (or the whole call when it has no command).
    fn decide_part(&self, call: &Call<'_>, part: Option<&str>) -> Option<&Rule> {
        // The first match of each scope.
        let mut firsts: Vec<&Rule> = Vec::new();
        for scope in [
            Scope::Builtin,
            Scope::User,
            Scope::Workspace,
            Scope::Session,
        ] {
            if let Some(r) = self
                .rules
                .iter()
                .find(|r| r.scope == scope && r.matches(call, part))
            {
                firsts.push(r);
            }
        }
        let winner = *firsts.last()?;
        // A deny at least as specific as the winner wins.
        let deny = firsts
            .iter()
            .filter(|r| r.spec.action == Action::Deny && r.specificity() >= winner.specificity())
            .max_by_key(|r| (r.specificity(), r.scope));
        Some(deny.copied().unwrap_or(winner))
    }

    /// The verdict on a call.
    pub fn decide(&self, call: &Call<'_>) -> Verdict {
        let (parts, force) = match call.command {
            Some(line) => {
                let (p, f) = split_command(line);
                (p.into_iter().map(Some).collect::<Vec<_>>(), f)
            }
            None => (vec![None], None),
        };
        let parts = if parts.is_empty() {
            vec![Some(String::new())]
        } else {
            parts
        };
        let mut decided: Vec<&Rule> = Vec::with_capacity(parts.len());
        for part in &parts {
            let Some(rule) = self.decide_part(call, part.as_deref()) else {
                return Verdict {
                    action: Action::Ask,
                    rule: "no rule matched".into(),
                    timeout_secs: None,
                    run_in: None,
                };
            };
            if rule.spec.action == Action::Deny {
                return Verdict {
                    action: Action::Deny,
                    rule: describe(rule),
                    timeout_secs: None,
                    run_in: None,
                };
            }
            decided.push(rule);
        }
        match (call.command, call.sandbox) {
            (Some(_), Some(sb)) => Self::decide_command(call, &decided, force, sb),
            _ => Self::decide_plain(call, &decided, force),
        }
    }

    /// Parts that are all allowed or asked: the strongest action decides.
    fn decide_plain(call: &Call<'_>, decided: &[&Rule], force: Option<&'static str>) -> Verdict {
        let mut verdict = Verdict {
            action: Action::Allow,
            rule: String::new(),
            timeout_secs: None,
            run_in: call.command.map(|_| RunIn {
                mode: SandboxMode::Off,
                network: true,
            }),
        };
        for rule in decided {
            let a = rule.spec.action;
            if a > verdict.action || verdict.rule.is_empty() {
                verdict.action = a.max(verdict.action);
                verdict.rule = describe(rule);
                verdict.timeout_secs = rule.spec.timeout_secs;
            }
        }
        // A call that changes nothing runs unless a rule of the user's,
        // the workspace's or the session's asks.
        if call.read_only
            && verdict.action == Action::Ask
            && decided.iter().all(|r| r.scope == Scope::Builtin)
        {
            verdict.action = Action::Allow;
            verdict.rule = format!(
                "built-in rule: a {} call that changes nothing runs",
                call.tool
            );
            verdict.timeout_secs = None;
        }
        if verdict.action == Action::Allow {
            if let Some(why) = force {
                return Verdict {
                    action: Action::Ask,
                    rule: format!("{why} always asks"),
                    timeout_secs: None,
                    ..verdict
                };
            }
            if call.protected {
                return Verdict {
                    action: Action::Ask,
                    rule: "protected path (.codelab, .codelabignore, .git) always asks".into(),
                    timeout_secs: None,
                    ..verdict
                };
            }
            if let Some(p) = &call.names_hidden {
                return Verdict {
                    action: Action::Ask,
                    rule: format!(
                        "the command names an ignored or protected path ({p}), which always asks"
                    ),
                    timeout_secs: None,
                    ..verdict
                };
            }
        }
        verdict
    }

    /// A command with the sandbox dimension (see the module documentation).
    fn decide_command(
        call: &Call<'_>,
        decided: &[&Rule],
        force: Option<&'static str>,
        sb: CommandSandbox,
    ) -> Verdict {
        let base = if sb.available {
            sb.default
        } else {
            SandboxMode::Off
        };
        // The mode every part asks for; the whole runs in the least confined.
        let mode = if sb.outside || !sb.available {
            SandboxMode::Off
        } else {
            decided
                .iter()
                .map(|r| r.spec.sandbox.unwrap_or(base))
                .max()
                .unwrap_or(base)
        };
        let network =
            mode == SandboxMode::Off || sb.network || decided.iter().all(|r| r.spec.network);
        let run_in = Some(RunIn { mode, network });
        if mode == SandboxMode::Off {
            // Unsandboxed: the rules as they always were, except that an
            // allow bounded to a sandbox does not reach outside it.
            let mut v = Self::decide_plain(call, decided, force);
            if v.action == Action::Allow
                && let Some(r) = decided.iter().find(|r| {
                    sb.available && r.spec.sandbox.unwrap_or(sb.default) < SandboxMode::Off
                })
            {
                v = Verdict {
                    action: Action::Ask,
                    rule: format!(
                        "running outside the sandbox asks ({} allows it only in {})",
                        describe(r),
                        r.spec.sandbox.unwrap_or(sb.default).as_str()
                    ),
                    timeout_secs: None,
                    run_in,
                };
            }
            if v.action == Action::Ask && sb.available && sb.outside && !v.rule.contains("outside")
            {
                v.rule = format!(
                    "running outside the sandbox (sandbox: false) asks; {}",
                    v.rule
                );
            }
            return Verdict { run_in, ..v };
        }
        // Sandboxed: the built-in `ask` gives way; explicit rules stand.
        let mut verdict = Verdict {
            action: Action::Allow,
            rule: format!("sandboxed ({}), no approval needed", mode.as_str()),
            timeout_secs: None,
            run_in,
        };
        for rule in decided {
            let allowed = match rule.spec.action {
                Action::Allow => true,
                Action::Ask => rule.scope == Scope::Builtin,
                Action::Deny => false,
            };
            if !allowed {
                return Verdict {
                    action: Action::Ask,
                    rule: describe(rule),
                    timeout_secs: rule.spec.timeout_secs,
                    run_in,
                };
            }
            // An allow holds up to its own mode.
            let up_to = rule.spec.sandbox.unwrap_or(base);
            if up_to < mode {
                return Verdict {
                    action: Action::Ask,
                    rule: format!(
                        "{} allows it only in {}, and the command runs in {}",
                        describe(rule),
                        up_to.as_str(),
                        mode.as_str()
                    ),
                    timeout_secs: None,
                    run_in,
                };
            }
            if rule.spec.action == Action::Allow && rule.scope != Scope::Builtin {
                verdict.rule = format!("{}, sandboxed ({})", describe(rule), mode.as_str());
            }
        }
        if let Some(p) = &call.names_hidden {
            return Verdict {
                action: Action::Ask,
                rule: format!(
                    "the command names an ignored or protected path ({p}), which always asks"
                ),
                timeout_secs: None,
                run_in,
            };
        }
        verdict
    }
}

fn describe(r: &Rule) -> String {
    let mut s = format!(
        "{:?} rule: {} {}",
        r.scope,
        format!("{:?}", r.spec.action).to_lowercase(),
        r.spec.tool
    );
    if let Some(p) = &r.spec.path {
        s.push_str(&format!(" path {p}"));
    }
    if let Some(c) = &r.spec.command {
        s.push_str(&format!(
            " command {}{c}",
            if r.spec.exact { "= " } else { "" }
        ));
    }
    let mut s = s
        .to_lowercase()
        .replacen("builtin rule", "built-in rule", 1);
    if let Some(m) = r.spec.sandbox {
        s.push_str(&format!(" sandbox {}", m.as_str()));
    }
    if r.spec.network {
        s.push_str(" network");
    }
    s
}

/// The "allow always" rule recorded when a user approves with `scope: session`:
/// the same tool, and the same command (exact) or the same paths.
pub fn session_rule(tool: &str, paths: &[String], command: Option<&str>) -> RuleSpec {
    RuleSpec {
        tool: tool.to_owned(),
        path: if paths.len() == 1 {
            Some(globset_escape(&paths[0]))
        } else {
            None
        },
        command: command.map(str::to_owned),
        exact: command.is_some(),
        action: Action::Allow,
        timeout_secs: None,
        sandbox: None,
        network: false,
    }
}

fn globset_escape(p: &str) -> String {
    p.chars()
        .flat_map(|c| {
            if "*?[]{}".contains(c) {
                vec!['[', c, ']']
            } else {
                vec![c]
            }
        })
        .collect()
}

/// A rule as written in a file, with the positions of the values checked
/// after parsing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    tool: Spanned<String>,
    #[serde(default)]
    path: Option<Spanned<String>>,
    #[serde(default)]
    command: Option<Spanned<String>>,
    #[serde(default)]
    exact: bool,
    action: Action,
    #[serde(default)]
    timeout_secs: Option<u64>,
    #[serde(default)]
    sandbox: Option<SandboxMode>,
    #[serde(default)]
    network: bool,
}

/// The `[policy]` table of a config file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PolicySection {
    #[serde(default)]
    rules: Vec<RuleEntry>,
}

/// Compiles the `[policy]` table (`value`, of top-level key `policy`) of a
/// config file into rules of `scope`.
///
/// # Errors
/// A type error, an unknown field, an invalid glob or pattern: the file, the
/// line and the key (`policy.rules[1].path`).
pub fn rules_from_toml<'a>(
    doc: &TomlDoc<'a>,
    value: Spanned<DeValue<'a>>,
    scope: Scope,
) -> Result<Vec<Rule>, ConfigError> {
    let section: PolicySection = doc.value("policy", value)?;
    section
        .rules
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let span_of = |field: &str| match field {
                "path" => e.path.as_ref().map(Spanned::span),
                "command" => e.command.as_ref().map(Spanned::span),
                _ => Some(e.tool.span()),
            };
            let spec = RuleSpec {
                tool: e.tool.get_ref().clone(),
                path: e.path.as_ref().map(|p| p.get_ref().clone()),
                command: e.command.as_ref().map(|c| c.get_ref().clone()),
                exact: e.exact,
                action: e.action,
                timeout_secs: e.timeout_secs,
                sandbox: e.sandbox,
                network: e.network,
            };
            Rule::new(spec, scope).map_err(|err| {
                let field = err.field();
                doc.error(span_of(field), format!("policy.rules[{i}].{field}"), err)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        tool: &str,
        path: Option<&str>,
        command: Option<&str>,
        exact: bool,
        action: Action,
        scope: Scope,
    ) -> Rule {
        Rule::new(
            RuleSpec {
                tool: tool.into(),
                path: path.map(Into::into),
                command: command.map(Into::into),
                exact,
                action,
                timeout_secs: None,
                sandbox: None,
                network: false,
            },
            scope,
        )
        .expect("valid rule")
    }

    fn cmd(p: &Policy, line: &str) -> Action {
        p.decide(&Call {
            tool: "execute_command",
            paths: vec![],
            protected: false,
            command: Some(line),
            sandbox: None,
            names_hidden: None,
            read_only: false,
        })
        .action
    }

    fn file(p: &Policy, tool: &str, path: &str, protected: bool) -> Action {
        p.decide(&Call {
            tool,
            paths: vec![path.into()],
            protected,
            command: None,
            sandbox: None,
            names_hidden: None,
            read_only: false,
        })
        .action
    }

    #[test]
    fn defaults() {
        let p = Policy::default();
        assert_eq!(file(&p, "read_file", "src/a.rs", false), Action::Allow);
        assert_eq!(file(&p, "write_file", "src/a.rs", false), Action::Ask);
        assert_eq!(cmd(&p, "cargo test"), Action::Ask);
        assert_eq!(cmd(&p, "rm -rf /"), Action::Deny);
        assert_eq!(cmd(&p, "git push --force origin main"), Action::Deny);
        assert_eq!(cmd(&p, "git push origin main --force"), Action::Deny);
        assert_eq!(cmd(&p, "mkfs.ext4 /dev/sda1"), Action::Deny);
        assert_eq!(cmd(&p, "dd if=/dev/zero of=/dev/sda bs=1M"), Action::Deny);
        assert_eq!(file(&p, "unknown_tool", "x", false), Action::Ask);
    }

    #[test]
    fn a_call_that_changes_nothing_runs_unless_a_rule_of_the_user_asks() {
        let judge = |p: &Policy, read_only: bool| {
            p.decide(&Call {
                tool: "git_branch",
                paths: vec![String::new()],
                protected: false,
                command: None,
                sandbox: None,
                names_hidden: None,
                read_only,
            })
        };
        let p = Policy::default();
        assert_eq!(judge(&p, false).action, Action::Ask, "create, switch");
        let listing = judge(&p, true);
        assert_eq!(listing.action, Action::Allow);
        assert_eq!(
            listing.rule,
            "built-in rule: a git_branch call that changes nothing runs"
        );
        assert_eq!(file(&p, "git_commit", "", false), Action::Ask);
        assert_eq!(file(&p, "git_diff", "", false), Action::Allow);
        let p = Policy::new(vec![rule(
            "git_*",
            None,
            None,
            false,
            Action::Ask,
            Scope::User,
        )]);
        assert_eq!(judge(&p, true).action, Action::Ask, "the user's ask stands");
        let p = Policy::new(vec![rule(
            "git_branch",
            None,
            None,
            false,
            Action::Deny,
            Scope::User,
        )]);
        assert_eq!(judge(&p, true).action, Action::Deny);
    }

    #[test]
    fn wildcards_paths_and_precedence() {
        let p = Policy::new(vec![
            rule(
                "write_*",
                Some("docs/**"),
                None,
                false,
                Action::Allow,
                Scope::User,
            ),
            rule(
                "write_file",
                Some("docs/secret/**"),
                None,
                false,
                Action::Deny,
                Scope::User,
            ),
            rule(
                "apply_diff",
                None,
                None,
                false,
                Action::Allow,
                Scope::Workspace,
            ),
        ]);
        assert_eq!(
            file(&p, "write_file", "docs/guide.md", false),
            Action::Allow
        );
        assert_eq!(file(&p, "write_file", "src/main.rs", false), Action::Ask);
        assert_eq!(
            file(&p, "write_file", "docs/secret/x.md", false),
            Action::Allow,
            "first match wins within a scope"
        );
        assert_eq!(
            file(&p, "apply_diff", "src/main.rs", false),
            Action::Allow,
            "workspace beats built-in"
        );
        assert_eq!(
            file(&p, "apply_diff", ".git/config", true),
            Action::Ask,
            "protected paths ask"
        );
        let p = Policy::new(vec![
            rule(
                "write_file",
                Some("docs/secret/**"),
                None,
                false,
                Action::Deny,
                Scope::User,
            ),
            rule(
                "write_*",
                Some("docs/**"),
                None,
                false,
                Action::Allow,
                Scope::Workspace,
            ),
        ]);
        assert_eq!(
            file(&p, "write_file", "docs/secret/x.md", false),
            Action::Deny,
            "deny beats an equally specific allow"
        );
    }

    #[test]
    fn chained_commands_substitutions_redirections() {
        let p = Policy::new(vec![
            rule(
                "execute_command",
                None,
                Some("cargo"),
                false,
                Action::Allow,
                Scope::User,
            ),
            rule(
                "execute_command",
                None,
                Some("git status"),
                true,
                Action::Allow,
                Scope::User,
            ),
            rule(
                "execute_command",
                None,
                Some("echo"),
                false,
                Action::Allow,
                Scope::User,
            ),
            rule(
                "execute_command",
                None,
                None,
                false,
                Action::Allow,
                Scope::Session,
            ),
        ]);
        assert_eq!(cmd(&p, "cargo build && cargo test"), Action::Allow);
        assert_eq!(cmd(&p, "git status"), Action::Allow);
        assert_eq!(
            cmd(&p, "cargo test; rm -rf /"),
            Action::Deny,
            "a denied part denies the whole, even under a broad allow"
        );
        assert_eq!(cmd(&p, "echo $(cat ~/.ssh/id_rsa)"), Action::Ask);
        assert_eq!(cmd(&p, "echo `whoami`"), Action::Ask);
        assert_eq!(cmd(&p, "diff <(ls a) <(ls b)"), Action::Ask);
        assert_eq!(cmd(&p, "git show > ~/.ssh/authorized_keys"), Action::Ask);
        assert_eq!(
            cmd(&p, "cargo test 2>&1 | tail -5"),
            Action::Allow,
            "2>&1 is not a file"
        );
        assert_eq!(cmd(&p, "cargo build >/dev/null"), Action::Allow);
        assert_eq!(
            cmd(&p, "echo 'a > b; c'"),
            Action::Allow,
            "quoted operators are text"
        );

        let strict = Policy::new(vec![
            rule(
                "execute_command",
                None,
                Some("cargo"),
                false,
                Action::Allow,
                Scope::User,
            ),
            rule(
                "execute_command",
                None,
                Some("git status"),
                true,
                Action::Allow,
                Scope::User,
            ),
        ]);
        assert_eq!(
            cmd(&strict, "cargo test | grep x"),
            Action::Ask,
            "every part must be allowed"
        );
        assert_eq!(
            cmd(&strict, "git status --porcelain"),
            Action::Ask,
            "exact rules do not match longer commands"
        );
        assert_eq!(
            cmd(&strict, "cargofoo"),
            Action::Ask,
            "prefixes end at a word"
        );
        assert_eq!(
            split_command("a && b || c; d | e & f\ng").0,
            ["a", "b", "c", "d", "e", "f", "g"]
        );
    }

    fn sandboxed(available: bool, outside: bool) -> CommandSandbox {
        CommandSandbox {
            available,
            default: SandboxMode::WorkspaceWrite,
            network: false,
            outside,
        }
    }

    fn run(p: &Policy, line: &str, sb: CommandSandbox, hidden: Option<&str>) -> Verdict {
        p.decide(&Call {
            tool: "execute_command",
            paths: vec![],
            protected: false,
            command: Some(line),
            sandbox: Some(sb),
            names_hidden: hidden.map(Into::into),
            read_only: false,
        })
    }

    fn with(spec: RuleSpec) -> Rule {
        Rule::new(spec, Scope::User).expect("valid rule")
    }

    fn command_rule(command: &str, action: Action) -> RuleSpec {
        RuleSpec {
            command: Some(command.into()),
            ..spec("execute_command", None, action)
        }
    }

    #[test]
    fn a_sandboxed_command_needs_no_approval_by_default() {
        let p = Policy::default();
        let v = run(&p, "cargo test", sandboxed(true, false), None);
        assert_eq!(v.action, Action::Allow, "{v:?}");
        assert_eq!(
            v.run_in,
            Some(RunIn {
                mode: SandboxMode::WorkspaceWrite,
                network: false
            })
        );
        assert_eq!(
            run(&p, "echo $(id) > out.txt", sandboxed(true, false), None).action,
            Action::Allow,
            "substitutions and redirections are bounded by the sandbox"
        );
        assert_eq!(
            run(&p, "rm -rf /", sandboxed(true, false), None).action,
            Action::Deny,
            "the built-in deny list still applies"
        );
        let v = run(
            &p,
            "cat secret.env",
            sandboxed(true, false),
            Some("secret.env"),
        );
        assert_eq!(v.action, Action::Ask);
        assert!(v.rule.contains("secret.env"), "{v:?}");
    }

    #[test]
    fn outside_the_sandbox_asks_unless_a_rule_allows_it_there() {
        let p = Policy::default();
        let v = run(&p, "docker ps", sandboxed(true, true), None);
        assert_eq!(v.action, Action::Ask);
        assert_eq!(v.run_in.map(|r| r.mode), Some(SandboxMode::Off));
        // An allow bounded to the sandbox does not reach outside it.
        let p = Policy::new(vec![with(command_rule("docker", Action::Allow))]);
        let v = run(&p, "docker ps", sandboxed(true, true), None);
        assert_eq!(v.action, Action::Ask);
        assert!(v.rule.contains("outside the sandbox"), "{v:?}");
        // A rule with `sandbox = "off"` runs it outside without asking.
        let p = Policy::new(vec![with(RuleSpec {
            sandbox: Some(SandboxMode::Off),
            ..command_rule("docker", Action::Allow)
        })]);
        let v = run(&p, "docker ps", sandboxed(true, false), None);
        assert_eq!(v.action, Action::Allow, "{v:?}");
        assert_eq!(v.run_in.map(|r| r.mode), Some(SandboxMode::Off));
        // Chained with a part allowed only sandboxed, the whole asks.
        assert_eq!(
            run(&p, "docker ps && echo hi", sandboxed(true, false), None).action,
            Action::Ask
        );
    }

    #[test]
    fn user_rules_win_over_the_sandbox() {
        let p = Policy::new(vec![
            with(command_rule("npm publish", Action::Deny)),
            with(command_rule("git", Action::Ask)),
            with(RuleSpec {
                sandbox: Some(SandboxMode::ReadOnly),
                ..command_rule("ls", Action::Allow)
            }),
        ]);
        let sb = sandboxed(true, false);
        assert_eq!(run(&p, "npm publish", sb, None).action, Action::Deny);
        assert_eq!(run(&p, "git commit", sb, None).action, Action::Ask);
        let v = run(&p, "ls", sb, None);
        assert_eq!(
            (v.action, v.run_in.map(|r| r.mode)),
            (Action::Allow, Some(SandboxMode::ReadOnly))
        );
        // The least confined part decides the whole's mode.
        let v = run(&p, "ls && make", sb, None);
        assert_eq!(
            (v.action, v.run_in.map(|r| r.mode)),
            (Action::Ask, Some(SandboxMode::WorkspaceWrite)),
            "ls is allowed only read-only: {v:?}"
        );
    }

    #[test]
    fn without_a_sandbox_every_command_asks_as_before() {
        let p = Policy::default();
        let v = run(&p, "cargo test", sandboxed(false, false), None);
        assert_eq!(v.action, Action::Ask);
        assert_eq!(v.run_in.map(|r| r.mode), Some(SandboxMode::Off));
        let p = Policy::new(vec![with(command_rule("cargo", Action::Allow))]);
        assert_eq!(
            run(&p, "cargo test", sandboxed(false, false), None).action,
            Action::Allow,
            "the user's allow rules keep working"
        );
        assert_eq!(
            run(&p, "cargo test > log", sandboxed(false, false), None).action,
            Action::Ask,
            "redirections ask outside the sandbox"
        );
    }

    #[test]
    fn the_network_needs_every_part_or_the_global_setting() {
        let p = Policy::new(vec![with(RuleSpec {
            network: true,
            ..command_rule("npm install", Action::Allow)
        })]);
        let net =
            |line: &str, sb: CommandSandbox| run(&p, line, sb, None).run_in.map(|r| r.network);
        assert_eq!(net("npm install", sandboxed(true, false)), Some(true));
        assert_eq!(
            net("npm install && curl x", sandboxed(true, false)),
            Some(false)
        );
        let global = CommandSandbox {
            network: true,
            ..sandboxed(true, false)
        };
        assert_eq!(net("curl x", global), Some(true));
    }

    fn rules_of(text: &str) -> Result<Vec<Rule>, ConfigError> {
        let doc = TomlDoc::new(std::path::Path::new("/d/codelab.toml"), text);
        let mut root = doc.parse()?;
        match root.remove("policy") {
            Some(v) => rules_from_toml(&doc, v, Scope::User),
            None => Ok(Vec::new()),
        }
    }

    #[test]
    fn files_report_line_and_reason() {
        let rules = rules_of("[llm]\nmodel = \"x\"\n\n[[policy.rules]]\ntool = \"execute_command\"\ncommand = \"npm test\"\naction = \"allow\"\n").expect("valid");
        assert_eq!(rules.len(), 1);
        let err = rules_of("[[policy.rules]]\ntool = \"x\"\naction = \"maybe\"\n")
            .expect_err("invalid action");
        assert!(
            err.to_string()
                .starts_with("/d/codelab.toml:3: policy.rules[0].action: "),
            "{err}"
        );
        let err = rules_of(
            "[[policy.rules]]\ntool = \"a\"\naction = \"ask\"\n\n[[policy.rules]]\ntool = \"x\"\npath = \"[\"\naction = \"allow\"\n",
        )
        .expect_err("invalid glob");
        assert!(
            err.to_string()
                .starts_with("/d/codelab.toml:7: policy.rules[1].path: invalid path glob"),
            "{err}"
        );
        let err = rules_of("[[policy.rules]]\ntool = \"x\"\naction = \"ask\"\nexcat = true\n")
            .expect_err("unknown field");
        assert!(
            err.to_string()
                .starts_with("/d/codelab.toml:4: policy.rules[0].excat: unknown field"),
            "{err}"
        );
    }
}
