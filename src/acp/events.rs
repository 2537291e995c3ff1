//! Session events as ACP `session/update`s: the one place where the
//! runtime's [`SessionEvent`]s, and a stored history being replayed, become
//! ACP values. Pure: no I/O, no async; the connection sends what comes out.
//!
//! - streamed text → `agent_message_chunk`;
//! - a tool call's first announcement → `tool_call` (title, kind, status,
//!   locations, raw input), every later one → `tool_call_update`; an edit
//!   waiting for approval gets `diff` content (old and new text from the
//!   approval's preview), kept when the call completes;
//! - command output → the call's content (the tail of what it printed);
//! - an agent switch → `current_mode_update` (agents are ACP modes);
//! - approvals and questions → permission requests (see `permission.rs`);
//! - the end of a turn → the prompt's answer; an `attempt_completion`
//!   result is sent as a last `agent_message_chunk` first, and calls the
//!   turn left open (cancelled while waiting, say) are marked `failed`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use agent_client_protocol as acp;
use serde_json::Value;

use crate::domain::{
    ApprovalId, Message, PendingApproval, PendingQuestion, Role, SessionEvent, SessionUpdate,
    StopReason, ToolCall, ToolCallStatus, ToolKind, TurnId,
};
use crate::tools;

/// ACP's kind and a verb for titles, per tool. ACP tells apart kinds the
/// domain's four do not (search, switch_mode, think), so this edge names the
/// tools; a test fails when a registered tool is missing here.
const TOOLS: &[(&str, acp::ToolKind, &str)] = &[
    ("read_file", acp::ToolKind::Read, "Read"),
    ("list_files", acp::ToolKind::Read, "List"),
    ("search_in_code", acp::ToolKind::Search, "Search"),
    ("write_file", acp::ToolKind::Edit, "Write"),
    ("apply_diff", acp::ToolKind::Edit, "Edit"),
    ("execute_command", acp::ToolKind::Execute, "Run"),
    (
        "read_command_output",
        acp::ToolKind::Read,
        "Read command output",
    ),
    ("stop_command", acp::ToolKind::Execute, "Stop command"),
    ("switch_mode", acp::ToolKind::SwitchMode, "Switch mode"),
    ("new_task", acp::ToolKind::Think, "Delegate a subtask"),
    ("git_status", acp::ToolKind::Read, "Git status"),
    ("git_diff", acp::ToolKind::Read, "Git diff"),
    ("git_log", acp::ToolKind::Read, "Git log"),
    ("git_show", acp::ToolKind::Read, "Git show"),
    ("git_commit", acp::ToolKind::Execute, "Commit"),
    ("git_branch", acp::ToolKind::Execute, "Branch"),
    ("ask_followup_question", acp::ToolKind::Other, "Ask"),
    (
        "attempt_completion",
        acp::ToolKind::Other,
        "Complete the task",
    ),
];

/// The tool that asks the user (its call is what a question answers).
const ASK_TOOL: &str = "ask_followup_question";
/// How the id of a tool call made up for a question begins.
pub(super) const SYNTHETIC_QUESTION: &str = "question-";
/// The tool that ends a turn with a result.
const COMPLETION_TOOL: &str = "attempt_completion";
/// The tool whose result lists matches, `path:line: text`.
const SEARCH_TOOL: &str = "search_in_code";
/// How much of a command's output a tool call shows (its tail).
const OUTPUT_TAIL_BYTES: usize = 64 * 1024;

/// ACP's kind of a tool call.
pub(super) fn acp_tool_kind(name: &str, kind: ToolKind) -> acp::ToolKind {
    TOOLS.iter().find(|(n, ..)| *n == name).map_or(
        match kind {
            ToolKind::Read => acp::ToolKind::Read,
            ToolKind::Edit => acp::ToolKind::Edit,
            ToolKind::Execute => acp::ToolKind::Execute,
            ToolKind::Interaction => acp::ToolKind::Other,
        },
        |(_, k, _)| *k,
    )
}

fn domain_kind(name: &str) -> ToolKind {
    tools::find(name).map_or(ToolKind::Interaction, |t| t.kind())
}

fn status(s: ToolCallStatus) -> acp::ToolCallStatus {
    match s {
        ToolCallStatus::Pending => acp::ToolCallStatus::Pending,
        ToolCallStatus::InProgress => acp::ToolCallStatus::InProgress,
        ToolCallStatus::Completed => acp::ToolCallStatus::Completed,
        ToolCallStatus::Failed => acp::ToolCallStatus::Failed,
    }
}

/// A text content block.
pub(super) fn text(s: impl Into<String>) -> acp::ContentBlock {
    acp::ContentBlock::Text(acp::TextContent::new(s.into()))
}

fn text_content(s: impl Into<String>) -> acp::ToolCallContent {
    acp::ToolCallContent::Content(acp::Content::new(text(s)))
}

/// What a call touches, as its tool states it (nothing for an unknown tool
/// or invalid arguments: the gate refuses those).
fn subject(call: &ToolCall) -> Option<tools::Subject> {
    tools::find(&call.name).and_then(|t| t.check(&call.arguments).ok())
}

/// A call's title: what it does to what (`Read src/a.rs`, ``Run `cargo test` ``).
pub(super) fn title(call: &ToolCall) -> String {
    let verb = TOOLS
        .iter()
        .find(|(n, ..)| *n == call.name)
        .map_or(call.name.as_str(), |(.., v)| *v);
    match subject(call) {
        Some(tools::Subject {
            command: Some(c), ..
        }) => format!("{verb} `{c}`"),
        Some(s) if s.paths.iter().any(|p| p != ".") => format!("{verb} {}", s.paths.join(", ")),
        _ => verb.to_owned(),
    }
}

fn absolute(root: Option<&Path>, path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    if p.is_absolute() {
        return Some(p.to_path_buf());
    }
    root.map(|r| r.join(p))
}

/// The files a call touches, as absolute paths, with the line it starts
/// at when its arguments say (a read's `offset`, an edit's first
/// `:start_line:`), so a following client opens the file there.
fn locations(call: &ToolCall, root: Option<&Path>) -> Vec<acp::ToolCallLocation> {
    let line = match call.name.as_str() {
        "read_file" => call.arguments["offset"].as_u64(),
        "apply_diff" => call.arguments["diff"].as_str().and_then(|d| {
            d.lines()
                .find_map(|l| l.trim().strip_prefix(":start_line:")?.trim().parse().ok())
        }),
        _ => None,
    }
    .and_then(|n| u32::try_from(n).ok())
    .filter(|n| *n > 0);
    subject(call)
        .map(|s| s.paths)
        .unwrap_or_default()
        .iter()
        .filter(|p| *p != ".")
        .filter_map(|p| absolute(root, p))
        .map(|p| acp::ToolCallLocation::new(p).line(line))
        .collect()
}

/// At most this many of a search's matches are given as locations.
const SEARCH_LOCATIONS: usize = 50;

/// A finished search's first matches as locations: `search_in_code`'s
/// result is one `path:line: text` line per match, paths relative to the
/// workspace.
fn search_locations(result: &str, root: Option<&Path>) -> Vec<acp::ToolCallLocation> {
    result
        .lines()
        .filter_map(|l| {
            let (path, rest) = l.split_once(':')?;
            let (line, _) = rest.split_once(": ")?;
            let line: u32 = line.parse().ok()?;
            Some(acp::ToolCallLocation::new(absolute(root, path)?).line(line))
        })
        .take(SEARCH_LOCATIONS)
        .collect()
}

/// An approval's edits as locations: each file at its first changed line.
fn edit_locations(a: &PendingApproval, root: Option<&Path>) -> Vec<acp::ToolCallLocation> {
    a.preview
        .iter()
        .flat_map(|p| &p.files)
        .filter_map(|f| {
            let first = f
                .current
                .lines()
                .zip(f.proposed.lines())
                .take_while(|(a, b)| a == b)
                .count();
            let line = u32::try_from(first + 1).ok();
            Some(acp::ToolCallLocation::new(absolute(root, &f.path)?).line(line))
        })
        .collect()
}

/// An approval's edits as `diff` contents (no old text for a file that is
/// new or empty).
fn diffs(a: &PendingApproval, root: Option<&Path>) -> Vec<acp::ToolCallContent> {
    a.preview
        .iter()
        .flat_map(|p| &p.files)
        .filter_map(|f| {
            let path = absolute(root, &f.path)?;
            let old = (!f.current.is_empty()).then(|| f.current.clone());
            Some(acp::ToolCallContent::Diff(
                acp::Diff::new(path, f.proposed.clone()).old_text(old),
            ))
        })
        .collect()
}

/// What the connection does about one event.
// Nearly every `Out` is an `Update` (one per streamed chunk), consumed at
// once: boxing it would add an allocation per token to save stack space.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(super) enum Out {
    /// Send this `session/update`.
    Update(acp::SessionUpdate),
    /// Ask for a decision on this approval, showing this tool call.
    Approval(Box<PendingApproval>, Box<acp::ToolCallUpdate>),
    /// Ask this question, showing this tool call (`synthetic` when the
    /// question belongs to no tool call and one was made up for it).
    Question {
        question: PendingQuestion,
        call: Box<acp::ToolCallUpdate>,
        synthetic: bool,
    },
    /// An approval was resolved (by anyone): stop asking.
    Resolved(ApprovalId),
    /// The question of this tool call was answered (by anyone): stop asking.
    QuestionDone(String),
    /// A turn ended: answer its prompt.
    TurnEnded { turn: TurnId, end: TurnEnd },
    /// The session's configuration changed (its agent or its model): send
    /// the options.
    ConfigChanged,
}

/// How a turn ended, for its prompt's answer.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TurnEnd {
    /// Why.
    pub stop: StopReason,
    /// The error, for `StopReason::Error`.
    pub error: Option<String>,
}

#[derive(Debug, Default)]
struct CallView {
    /// Content every update of the call carries: its diffs, the client's
    /// terminal that runs its command.
    diffs: Vec<acp::ToolCallContent>,
    /// Its `tool_call` was sent.
    announced: bool,
    /// Its kind as the runtime announced it (an MCP tool's comes from its
    /// server's annotations, which the name alone does not tell).
    kind: Option<ToolKind>,
    output: String,
    /// Completed or failed.
    done: bool,
}

/// What one connection has shown of one session's current turn.
#[derive(Debug, Default)]
pub(super) struct SessionView {
    /// The workspace folder, for absolute paths.
    pub root: Option<PathBuf>,
    calls: HashMap<String, CallView>,
    asking: Option<String>,
    completed: bool,
    /// The turn's reply being streamed, and its ordinal among the turn's
    /// replies that have text or reasoning (see [`reply_id`]).
    reply: Option<(TurnId, u32)>,
    /// A tool call was shown since the reply's last chunk: the next chunk
    /// starts the turn's next reply.
    called_since_reply: bool,
}

/// The ACP `messageId` of the `ordinal`th reply (counting those with text
/// or reasoning) of `turn`: the same live and when a loaded session is
/// replayed, so clients do not show a message twice. A UUID, as ACP
/// requires: the turn's, with the ordinal mixed into its last 32 bits
/// (version and variant kept).
pub(super) fn reply_id(turn: TurnId, ordinal: u32) -> String {
    uuid::Uuid::from_u128(turn.as_u128() ^ u128::from(ordinal + 1)).to_string()
}

impl SessionView {
    /// A view of a session working in `root`.
    pub fn new(root: Option<PathBuf>) -> Self {
        Self {
            root,
            ..Self::default()
        }
    }

    /// Translates one event.
    pub fn translate(&mut self, event: &SessionEvent) -> Vec<Out> {
        match &event.update {
            SessionUpdate::Token { turn_id, delta } => {
                let id = self.reply_chunk(*turn_id);
                vec![Out::Update(acp::SessionUpdate::AgentMessageChunk(
                    acp::ContentChunk::new(text(delta.clone())).message_id(id),
                ))]
            }
            SessionUpdate::Reasoning { turn_id, delta } => {
                let id = self.reply_chunk(*turn_id);
                vec![Out::Update(acp::SessionUpdate::AgentThoughtChunk(
                    acp::ContentChunk::new(text(delta.clone())).message_id(id),
                ))]
            }
            SessionUpdate::ToolCall {
                call,
                kind,
                status,
                result,
                ..
            } => {
                let mut out = vec![Out::Update(self.tool_call(
                    call,
                    *kind,
                    *status,
                    result.as_deref(),
                ))];
                if call.name == ASK_TOOL
                    && matches!(status, ToolCallStatus::Completed | ToolCallStatus::Failed)
                {
                    out.push(Out::QuestionDone(call.id.clone()));
                }
                out
            }
            SessionUpdate::ApprovalRequired(a) => {
                let diffs = diffs(a, self.root.as_deref());
                let call = ToolCall {
                    id: a.tool_call_id.clone(),
                    name: a.tool.clone(),
                    arguments: a.params.clone(),
                };
                let view = self.calls.entry(call.id.clone()).or_default();
                // The permission request shows the call: no `tool_call` after.
                view.announced = true;
                view.diffs.clone_from(&diffs);
                let kind = view.kind.unwrap_or_else(|| domain_kind(&call.name));
                let mut out = Vec::new();
                if !diffs.is_empty() {
                    out.push(Out::Update(acp::SessionUpdate::ToolCallUpdate(
                        acp::ToolCallUpdate::new(
                            call.id.clone(),
                            acp::ToolCallUpdateFields::new().content(diffs.clone()),
                        ),
                    )));
                }
                let fields = acp::ToolCallUpdateFields::new()
                    .title(title(&call))
                    .kind(acp_tool_kind(&call.name, kind))
                    .status(acp::ToolCallStatus::Pending)
                    .content(diffs)
                    .locations(if a.preview.is_some() {
                        edit_locations(a, self.root.as_deref())
                    } else {
                        locations(&call, self.root.as_deref())
                    })
                    .raw_input(call.arguments.clone());
                out.push(Out::Approval(
                    a.clone(),
                    Box::new(acp::ToolCallUpdate::new(call.id, fields)),
                ));
                out
            }
            SessionUpdate::ApprovalResolved { approval_id, .. } => {
                vec![Out::Resolved(*approval_id)]
            }
            SessionUpdate::Question(q) => {
                let mut out = Vec::new();
                let (id, synthetic) = match self.asking.take() {
                    Some(id) => (id, false),
                    None => {
                        let id = format!("{SYNTHETIC_QUESTION}{}", q.id);
                        out.push(Out::Update(acp::SessionUpdate::ToolCall(
                            acp::ToolCall::new(id.clone(), "Ask")
                                .kind(acp::ToolKind::Other)
                                .status(acp::ToolCallStatus::Pending)
                                .content(vec![text_content(q.question.clone())]),
                        )));
                        (id, true)
                    }
                };
                let fields = acp::ToolCallUpdateFields::new()
                    .title(q.question.clone())
                    .kind(acp::ToolKind::Other)
                    .status(acp::ToolCallStatus::Pending);
                out.push(Out::Question {
                    question: q.clone(),
                    call: Box::new(acp::ToolCallUpdate::new(id, fields)),
                    synthetic,
                });
                out
            }
            SessionUpdate::ModelChosen { .. } => vec![Out::ConfigChanged],
            SessionUpdate::AgentSwitched { to, .. } => vec![
                Out::Update(acp::SessionUpdate::CurrentModeUpdate(
                    acp::CurrentModeUpdate::new(to.clone()),
                )),
                Out::ConfigChanged,
            ],
            SessionUpdate::CommandOutput {
                tool_call_id,
                text: chunk,
                ..
            } => {
                let view = self.calls.entry(tool_call_id.clone()).or_default();
                view.announced = true;
                view.output.push_str(chunk);
                if view.output.len() > OUTPUT_TAIL_BYTES {
                    let mut cut = view.output.len() - OUTPUT_TAIL_BYTES;
                    while !view.output.is_char_boundary(cut) {
                        cut += 1;
                    }
                    view.output.drain(..cut);
                }
                let mut content = view.diffs.clone();
                content.push(text_content(format!("```\n{}\n```", view.output)));
                vec![Out::Update(acp::SessionUpdate::ToolCallUpdate(
                    acp::ToolCallUpdate::new(
                        tool_call_id.clone(),
                        acp::ToolCallUpdateFields::new().content(content),
                    ),
                ))]
            }
            SessionUpdate::TurnCompleted {
                turn_id,
                stop_reason,
                result,
                error,
                ..
            } => {
                let mut out = Vec::new();
                if self.completed
                    && *stop_reason == StopReason::EndTurn
                    && let Some(r) = result.as_ref().filter(|r| !r.is_empty())
                {
                    // The completion's result, shown as one more message.
                    self.called_since_reply = true;
                    let id = self.reply_chunk(*turn_id);
                    out.push(Out::Update(acp::SessionUpdate::AgentMessageChunk(
                        acp::ContentChunk::new(text(r.clone())).message_id(id),
                    )));
                }
                // Calls the turn left open (cancelled while pending, say)
                // did not run: the client should not show them running.
                let reason = match stop_reason {
                    StopReason::Cancelled => "Not run: the turn was cancelled.",
                    StopReason::MaxIterations => "Not run: the turn reached its iteration limit.",
                    StopReason::Error
                    | StopReason::EndTurn
                    | StopReason::MaxTokens
                    | StopReason::Refusal => "Not run: the turn ended.",
                };
                let mut open: Vec<&String> = self
                    .calls
                    .iter()
                    .filter(|(_, c)| !c.done)
                    .map(|(id, _)| id)
                    .collect();
                open.sort();
                for id in open {
                    out.push(Out::Update(acp::SessionUpdate::ToolCallUpdate(
                        acp::ToolCallUpdate::new(
                            id.clone(),
                            acp::ToolCallUpdateFields::new()
                                .status(acp::ToolCallStatus::Failed)
                                .content(vec![text_content(reason)]),
                        ),
                    )));
                }
                self.calls.clear();
                self.asking = None;
                self.completed = false;
                self.reply = None;
                self.called_since_reply = false;
                out.push(Out::TurnEnded {
                    turn: *turn_id,
                    end: TurnEnd {
                        stop: *stop_reason,
                        error: error.clone(),
                    },
                });
                out
            }
            // What was persisted arrives live as tokens and tool calls;
            // stored messages are shown only when a session is loaded.
            // The context used, the window and the session's cost.
            SessionUpdate::ContextUsage(u) => vec![Out::Update(acp::SessionUpdate::UsageUpdate(
                acp::UsageUpdate::new(u.used_tokens, u.context_window)
                    .cost(acp::Cost::new(u.session_cost_usd, "USD")),
            ))],
            SessionUpdate::MessageAdded(_)
            | SessionUpdate::Compacted { .. }
            | SessionUpdate::TurnDiff { .. } => Vec::new(),
        }
    }

    /// The client's terminal runs a call's command: the call shows it from
    /// now on; the update to send now, when the call is shown already (else
    /// its `tool_call` will carry it).
    pub fn terminal(
        &mut self,
        call: &str,
        terminal: acp::TerminalId,
    ) -> Option<acp::SessionUpdate> {
        let view = self.calls.entry(call.to_owned()).or_default();
        view.diffs
            .push(acp::ToolCallContent::Terminal(acp::Terminal::new(terminal)));
        view.announced.then(|| {
            acp::SessionUpdate::ToolCallUpdate(acp::ToolCallUpdate::new(
                call.to_owned(),
                acp::ToolCallUpdateFields::new().content(view.diffs.clone()),
            ))
        })
    }

    /// The message id of a reply chunk of `turn`: the current reply's, or
    /// the next one's after a tool call.
    fn reply_chunk(&mut self, turn: TurnId) -> String {
        let ordinal = match self.reply {
            Some((t, n)) if t == turn => n + u32::from(self.called_since_reply),
            _ => 0,
        };
        self.reply = Some((turn, ordinal));
        self.called_since_reply = false;
        reply_id(turn, ordinal)
    }

    fn tool_call(
        &mut self,
        call: &ToolCall,
        kind: ToolKind,
        s: ToolCallStatus,
        result: Option<&str>,
    ) -> acp::SessionUpdate {
        self.called_since_reply = true;
        let view = self.calls.entry(call.id.clone()).or_default();
        let first = !std::mem::replace(&mut view.announced, true);
        view.kind = Some(kind);
        view.done = matches!(s, ToolCallStatus::Completed | ToolCallStatus::Failed);
        if call.name == ASK_TOOL && s == ToolCallStatus::InProgress {
            self.asking = Some(call.id.clone());
        }
        if call.name == COMPLETION_TOOL && s == ToolCallStatus::Completed {
            self.completed = true;
        }
        let mut content = view.diffs.clone();
        if let Some(r) = result {
            content.push(text_content(r));
        }
        let raw_output = result.map(|r| Value::String(r.to_owned()));
        // A search's matches are where it points, once it found them.
        let found = result
            .filter(|_| call.name == SEARCH_TOOL && s == ToolCallStatus::Completed)
            .map(|r| search_locations(r, self.root.as_deref()))
            .filter(|l| !l.is_empty());
        if first {
            let mut tc = acp::ToolCall::new(call.id.clone(), title(call))
                .kind(acp_tool_kind(&call.name, kind))
                .status(status(s))
                .locations(
                    found
                        .clone()
                        .unwrap_or_else(|| locations(call, self.root.as_deref())),
                )
                .raw_input(call.arguments.clone())
                .content(content);
            if let Some(o) = raw_output {
                tc = tc.raw_output(o);
            }
            return acp::SessionUpdate::ToolCall(tc);
        }
        let mut fields = acp::ToolCallUpdateFields::new().status(status(s));
        if s == ToolCallStatus::InProgress {
            // Approved with edited parameters: the call runs with these.
            fields = fields.raw_input(call.arguments.clone());
        }
        if result.is_some() {
            fields = fields.content(content).raw_output(raw_output);
        }
        if let Some(found) = found {
            fields = fields.locations(found);
        }
        acp::SessionUpdate::ToolCallUpdate(acp::ToolCallUpdate::new(call.id.clone(), fields))
    }
}

/// A stored history as the updates that show it: each user message as a
/// `user_message_chunk`, each reply's reasoning as an `agent_thought_chunk`
/// and its text as an `agent_message_chunk`, each
/// tool call as one `tool_call` with its final status and result.
pub(super) fn replay(messages: &[Message], root: Option<&Path>) -> Vec<acp::SessionUpdate> {
    let results: HashMap<&str, &Message> = messages
        .iter()
        .filter(|m| m.role == Role::Tool)
        .filter_map(|m| m.tool_call_id.as_deref().map(|id| (id, m)))
        .collect();
    let mut out = Vec::new();
    // Each turn's replies with text or reasoning, counted as they stream.
    let mut replies: HashMap<TurnId, u32> = HashMap::new();
    // Compaction markers are the server's own, not the conversation's.
    for m in messages.iter().filter(|m| m.compaction.is_none()) {
        match m.role {
            Role::User if !m.text.is_empty() => out.push(acp::SessionUpdate::UserMessageChunk(
                acp::ContentChunk::new(text(m.text.clone())).message_id(m.id.to_string()),
            )),
            Role::Assistant => {
                let thought = crate::domain::Reasoning::text_of(&m.reasoning);
                let id = if thought.is_empty() && m.text.is_empty() {
                    None
                } else if let Some(turn) = m.turn_id {
                    let n = replies.entry(turn).or_default();
                    *n += 1;
                    Some(reply_id(turn, *n - 1))
                } else {
                    Some(m.id.to_string())
                };
                if !thought.is_empty() {
                    out.push(acp::SessionUpdate::AgentThoughtChunk(
                        acp::ContentChunk::new(text(thought)).message_id(id.clone()),
                    ));
                }
                if !m.text.is_empty() {
                    out.push(acp::SessionUpdate::AgentMessageChunk(
                        acp::ContentChunk::new(text(m.text.clone())).message_id(id),
                    ));
                }
                for call in &m.tool_calls {
                    let result = results.get(call.id.as_str());
                    let s = match result {
                        Some(r) if r.is_error => acp::ToolCallStatus::Failed,
                        Some(_) => acp::ToolCallStatus::Completed,
                        None => acp::ToolCallStatus::Pending,
                    };
                    let found = result
                        .filter(|r| call.name == SEARCH_TOOL && !r.is_error)
                        .map(|r| search_locations(&r.text, root))
                        .filter(|l| !l.is_empty());
                    let mut tc = acp::ToolCall::new(call.id.clone(), title(call))
                        .kind(acp_tool_kind(&call.name, domain_kind(&call.name)))
                        .status(s)
                        .locations(found.unwrap_or_else(|| locations(call, root)))
                        .raw_input(call.arguments.clone());
                    if let Some(r) = result {
                        tc = tc
                            .content(vec![text_content(r.text.clone())])
                            .raw_output(Value::String(r.text.clone()));
                    }
                    out.push(acp::SessionUpdate::ToolCall(tc));
                }
            }
            Role::User | Role::Tool => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::{EditPreview, FileChange, QuestionId, SessionId};

    fn event(update: SessionUpdate) -> SessionEvent {
        SessionEvent {
            session_id: SessionId::new(),
            seq: 1,
            update,
        }
    }

    fn wire(u: &acp::SessionUpdate) -> Value {
        serde_json::to_value(u).expect("serializes")
    }

    fn updates(outs: &[Out]) -> Vec<Value> {
        outs.iter()
            .filter_map(|o| match o {
                Out::Update(u) => Some(wire(u)),
                _ => None,
            })
            .collect()
    }

    fn call(id: &str, name: &str, args: Value) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: args,
        }
    }

    fn tool_event(c: &ToolCall, s: ToolCallStatus, result: Option<&str>) -> SessionEvent {
        event(SessionUpdate::ToolCall {
            turn_id: TurnId::new(),
            call: c.clone(),
            kind: domain_kind(&c.name),
            status: s,
            result: result.map(str::to_owned),
        })
    }

    #[test]
    fn every_tool_has_an_acp_kind_and_a_verb() {
        for t in tools::registry() {
            assert!(
                TOOLS.iter().any(|(n, ..)| *n == t.name()),
                "{} is missing from acp::events::TOOLS",
                t.name()
            );
        }
        assert_eq!(
            acp_tool_kind("search_in_code", ToolKind::Read),
            acp::ToolKind::Search
        );
        assert_eq!(
            acp_tool_kind("switch_mode", ToolKind::Interaction),
            acp::ToolKind::SwitchMode
        );
        assert_eq!(
            acp_tool_kind("new_task", ToolKind::Interaction),
            acp::ToolKind::Think
        );
        assert_eq!(
            acp_tool_kind("someday", ToolKind::Execute),
            acp::ToolKind::Execute
        );
    }

    #[test]
    fn titles_name_what_a_call_touches() {
        assert_eq!(
            title(&call("1", "read_file", json!({"path": "src/a.rs"}))),
            "Read src/a.rs"
        );
        assert_eq!(
            title(&call(
                "1",
                "execute_command",
                json!({"command": "cargo test"})
            )),
            "Run `cargo test`"
        );
        assert_eq!(
            title(&call("1", "search_in_code", json!({"regex": "x"}))),
            "Search"
        );
        assert_eq!(title(&call("1", "write_file", json!({"bad": 1}))), "Write");
        assert_eq!(title(&call("1", "mystery", json!({}))), "mystery");
    }

    #[test]
    fn tokens_become_message_chunks() {
        let mut v = SessionView::default();
        let turn = TurnId::new();
        let out = v.translate(&event(SessionUpdate::Token {
            turn_id: turn,
            delta: "Hel".into(),
        }));
        assert_eq!(
            updates(&out),
            [
                json!({"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "Hel"}, "messageId": reply_id(turn, 0)})
            ]
        );
    }

    #[test]
    fn reasoning_becomes_thought_chunks() {
        let mut v = SessionView::default();
        let turn = TurnId::new();
        let out = v.translate(&event(SessionUpdate::Reasoning {
            turn_id: turn,
            delta: "Hmm".into(),
        }));
        assert_eq!(
            updates(&out),
            [
                json!({"sessionUpdate": "agent_thought_chunk", "content": {"type": "text", "text": "Hmm"}, "messageId": reply_id(turn, 0)})
            ]
        );
    }

    #[test]
    fn a_call_is_announced_once_then_updated() {
        let mut v = SessionView::new(Some(PathBuf::from("/ws")));
        let c = call("c1", "read_file", json!({"path": "a.txt"}));
        let first = updates(&v.translate(&tool_event(&c, ToolCallStatus::Pending, None)));
        assert_eq!(
            first,
            [json!({
                "sessionUpdate": "tool_call",
                "toolCallId": "c1",
                "title": "Read a.txt",
                "kind": "read",
                // `pending` is the default, which the SDK leaves out.
                "locations": [{"path": "/ws/a.txt"}],
                "rawInput": {"path": "a.txt"},
            })]
        );
        let running = updates(&v.translate(&tool_event(&c, ToolCallStatus::InProgress, None)));
        assert_eq!(
            running,
            [
                json!({"sessionUpdate": "tool_call_update", "toolCallId": "c1", "status": "in_progress", "rawInput": {"path": "a.txt"}})
            ]
        );
        let done = updates(&v.translate(&tool_event(
            &c,
            ToolCallStatus::Failed,
            Some("no such file"),
        )));
        assert_eq!(
            done,
            [json!({
                "sessionUpdate": "tool_call_update",
                "toolCallId": "c1",
                "status": "failed",
                "content": [{"type": "content", "content": {"type": "text", "text": "no such file"}}],
                "rawOutput": "no such file",
            })]
        );
    }

    #[test]
    fn an_edit_waiting_for_approval_shows_its_diff_until_it_completes() {
        let mut v = SessionView::new(Some(PathBuf::from("/ws")));
        let c = call(
            "e1",
            "write_file",
            json!({"path": "b.md", "content": "new\n"}),
        );
        v.translate(&tool_event(&c, ToolCallStatus::Pending, None));
        let approval = PendingApproval {
            id: ApprovalId::new(),
            session_id: SessionId::new(),
            turn_id: TurnId::new(),
            tool_call_id: "e1".into(),
            tool: "write_file".into(),
            params: c.arguments.clone(),
            rule: "ask".into(),
            preview: Some(EditPreview {
                diff: String::new(),
                files: vec![FileChange {
                    path: "b.md".into(),
                    current: "old\n".into(),
                    proposed: "new\n".into(),
                }],
            }),
            created_at: chrono::Utc::now(),
        };
        let out = v.translate(&event(SessionUpdate::ApprovalRequired(Box::new(
            approval.clone(),
        ))));
        let diff =
            json!({"type": "diff", "path": "/ws/b.md", "oldText": "old\n", "newText": "new\n"});
        assert_eq!(
            updates(&out),
            [json!({"sessionUpdate": "tool_call_update", "toolCallId": "e1", "content": [diff]})]
        );
        let Some(Out::Approval(a, tc)) = out.last() else {
            panic!("no approval: {out:?}");
        };
        assert_eq!(a.id, approval.id);
        assert_eq!(
            serde_json::to_value(tc).expect("json"),
            json!({
                "toolCallId": "e1",
                "title": "Write b.md",
                "kind": "edit",
                "status": "pending",
                "content": [diff],
                "locations": [{"path": "/ws/b.md", "line": 1}],
                "rawInput": {"path": "b.md", "content": "new\n"},
            })
        );
        let done = updates(&v.translate(&tool_event(
            &c,
            ToolCallStatus::Completed,
            Some("wrote b.md"),
        )));
        assert_eq!(
            done[0]["content"],
            json!([diff, {"type": "content", "content": {"type": "text", "text": "wrote b.md"}}])
        );
    }

    #[test]
    fn an_mcp_tools_approval_keeps_the_kind_the_runtime_announced() {
        let mut v = SessionView::default();
        let c = call("m1", "mcp__fs__read_text_file", json!({"path": "/a"}));
        v.translate(&event(SessionUpdate::ToolCall {
            turn_id: TurnId::new(),
            call: c.clone(),
            kind: ToolKind::Read,
            status: ToolCallStatus::Pending,
            result: None,
        }));
        let approval = PendingApproval {
            id: ApprovalId::new(),
            session_id: SessionId::new(),
            turn_id: TurnId::new(),
            tool_call_id: "m1".into(),
            tool: c.name.clone(),
            params: c.arguments.clone(),
            rule: "ask".into(),
            preview: None,
            created_at: chrono::Utc::now(),
        };
        let out = v.translate(&event(SessionUpdate::ApprovalRequired(Box::new(approval))));
        let Some(Out::Approval(_, tc)) = out.last() else {
            panic!("no approval: {out:?}");
        };
        assert_eq!(serde_json::to_value(tc).expect("json")["kind"], "read");
    }

    #[test]
    fn a_question_belongs_to_its_call_or_gets_one() {
        let mut v = SessionView::default();
        let c = call("q1", "ask_followup_question", json!({"question": "Which?"}));
        v.translate(&tool_event(&c, ToolCallStatus::Pending, None));
        v.translate(&tool_event(&c, ToolCallStatus::InProgress, None));
        let q = PendingQuestion {
            id: QuestionId::new(),
            session_id: SessionId::new(),
            turn_id: TurnId::new(),
            seq: 3,
            question: "Which?".into(),
            suggestions: vec!["a".into(), "b".into()],
        };
        let out = v.translate(&event(SessionUpdate::Question(q.clone())));
        assert!(updates(&out).is_empty());
        let Some(Out::Question {
            call, synthetic, ..
        }) = out.last()
        else {
            panic!("{out:?}")
        };
        assert_eq!(call.tool_call_id.0.as_ref(), "q1");
        assert!(!synthetic);
        // Asked outside a call (after repeated failures): a call is made up.
        let out = v.translate(&event(SessionUpdate::Question(q.clone())));
        assert_eq!(updates(&out)[0]["toolCallId"], format!("question-{}", q.id));
        assert!(matches!(
            out.last(),
            Some(Out::Question {
                synthetic: true,
                ..
            })
        ));
        // Answered (by any client): the asking stops.
        let out = v.translate(&tool_event(
            &c,
            ToolCallStatus::Completed,
            Some("The user answered: a"),
        ));
        assert!(
            matches!(out.last(), Some(Out::QuestionDone(id)) if id == "q1"),
            "{out:?}"
        );
        let other = self::call("r1", "read_file", json!({"path": "a.rs"}));
        let out = v.translate(&tool_event(&other, ToolCallStatus::Completed, Some("x")));
        assert!(!out.iter().any(|o| matches!(o, Out::QuestionDone(_))));
    }

    #[test]
    fn a_completion_result_is_said_before_the_turn_ends() {
        let mut v = SessionView::default();
        let c = call("d", "attempt_completion", json!({"result": "All done."}));
        v.translate(&tool_event(&c, ToolCallStatus::Completed, Some("ok")));
        let turn = TurnId::new();
        let out = v.translate(&event(SessionUpdate::TurnCompleted {
            turn_id: turn,
            stop_reason: StopReason::EndTurn,
            usage: Default::default(),
            cost_usd: 0.0,
            result: Some("All done.".into()),
            error: None,
        }));
        assert_eq!(
            updates(&out),
            [
                json!({"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "All done."}, "messageId": reply_id(turn, 0)})
            ]
        );
        assert!(matches!(
            out.last(),
            Some(Out::TurnEnded { turn: t, end }) if *t == turn && end.stop == StopReason::EndTurn
        ));
        // A plain reply's result was streamed already: not said twice.
        let out = v.translate(&event(SessionUpdate::TurnCompleted {
            turn_id: turn,
            stop_reason: StopReason::EndTurn,
            usage: Default::default(),
            cost_usd: 0.0,
            result: Some("streamed".into()),
            error: None,
        }));
        assert!(updates(&out).is_empty());
    }

    #[test]
    fn calls_left_open_by_a_cancelled_turn_are_shown_as_not_run() {
        let mut v = SessionView::default();
        let done = call("a", "read_file", json!({"path": "x"}));
        let open = call("b", "write_file", json!({"path": "y", "content": ""}));
        v.translate(&tool_event(&done, ToolCallStatus::Pending, None));
        v.translate(&tool_event(&done, ToolCallStatus::Completed, Some("x")));
        v.translate(&tool_event(&open, ToolCallStatus::Pending, None));
        let out = v.translate(&event(SessionUpdate::TurnCompleted {
            turn_id: TurnId::new(),
            stop_reason: StopReason::Cancelled,
            usage: Default::default(),
            cost_usd: 0.0,
            result: None,
            error: None,
        }));
        assert_eq!(
            updates(&out),
            [json!({
                "sessionUpdate": "tool_call_update",
                "toolCallId": "b",
                "status": "failed",
                "content": [{"type": "content", "content": {"type": "text", "text": "Not run: the turn was cancelled."}}],
            })]
        );
    }

    #[test]
    fn command_output_keeps_its_tail() {
        let mut v = SessionView::default();
        let id = "x1".to_owned();
        let mut last = Vec::new();
        for _ in 0..3 {
            last = updates(&v.translate(&event(SessionUpdate::CommandOutput {
                turn_id: TurnId::new(),
                tool_call_id: id.clone(),
                stream: "stdout".into(),
                text: "é".repeat(OUTPUT_TAIL_BYTES / 3),
            })));
        }
        let shown = last[0]["content"][0]["content"]["text"]
            .as_str()
            .expect("text");
        assert!(shown.len() <= OUTPUT_TAIL_BYTES + 8, "{}", shown.len());
        assert!(shown.starts_with("```\né"));
    }

    #[test]
    fn a_history_replays_as_messages_and_finished_calls() {
        let session = SessionId::new();
        let mut user = Message::new(Role::User, None, "write it".into());
        user.session_id = session;
        let mut reply = Message::new(Role::Assistant, None, "On it.".into());
        reply.tool_calls = vec![
            call("w", "write_file", json!({"path": "a", "content": "x"})),
            call("r", "read_file", json!({"path": "b"})),
        ];
        let turn = TurnId::new();
        let done = Message::tool_result(turn, "w", "wrote a".into(), false);
        let failed = Message::tool_result(turn, "r", "rejected".into(), true);
        let (user_id, reply_id) = (user.id, reply.id);
        let out: Vec<Value> = replay(&[user, reply, done, failed], Some(Path::new("/ws")))
            .iter()
            .map(wire)
            .collect();
        assert_eq!(out.len(), 4, "{out:#?}");
        assert_eq!(
            out[0],
            json!({"sessionUpdate": "user_message_chunk", "content": {"type": "text", "text": "write it"}, "messageId": user_id.to_string()})
        );
        assert_eq!(out[1]["sessionUpdate"], "agent_message_chunk");
        assert_eq!(out[1]["messageId"], reply_id.to_string());
        assert_eq!(out[2]["status"], "completed");
        assert_eq!(out[2]["kind"], "edit");
        assert_eq!(out[3]["status"], "failed");
        assert_eq!(out[3]["rawOutput"], "rejected");
    }

    /// A reply's chunks carry one message id, the next reply (after a tool
    /// call) another, and a loaded session replays each stored reply with
    /// the id it streamed with: a client that saw the turn live and then
    /// loads the session recognises the messages.
    #[test]
    fn replies_keep_their_message_ids_from_live_to_replay() {
        let turn = TurnId::new();
        let read = call("c1", "read_file", json!({"path": "a"}));
        let mut view = SessionView::new(Some(PathBuf::from("/ws")));
        let mut live = Vec::new();
        for e in [
            event(SessionUpdate::Reasoning {
                turn_id: turn,
                delta: "think".into(),
            }),
            event(SessionUpdate::Token {
                turn_id: turn,
                delta: "Reading ".into(),
            }),
            event(SessionUpdate::Token {
                turn_id: turn,
                delta: "a.".into(),
            }),
            tool_event(&read, ToolCallStatus::InProgress, None),
            tool_event(&read, ToolCallStatus::Completed, Some("x")),
            event(SessionUpdate::Token {
                turn_id: turn,
                delta: "Done.".into(),
            }),
        ] {
            for out in view.translate(&e) {
                if let Out::Update(
                    acp::SessionUpdate::AgentMessageChunk(c)
                    | acp::SessionUpdate::AgentThoughtChunk(c),
                ) = out
                {
                    live.push(c.message_id.expect("an id"));
                }
            }
        }
        assert_eq!(live.len(), 4);
        assert!(live[..3].iter().all(|id| *id == live[0]), "{live:?}");
        assert_ne!(live[3], live[0]);
        assert!(uuid::Uuid::parse_str(&live[3]).is_ok());

        let mut first = Message::new(Role::Assistant, Some(turn), "Reading a.".into());
        first.reasoning = vec![crate::domain::Reasoning {
            text: "think".into(),
            signature: None,
            redacted: None,
        }];
        first.tool_calls = vec![read];
        let result = Message::tool_result(turn, "c1", "x".into(), false);
        let second = Message::new(Role::Assistant, Some(turn), "Done.".into());
        let replayed: Vec<String> = replay(&[first, result, second], None)
            .into_iter()
            .filter_map(|u| match u {
                acp::SessionUpdate::AgentMessageChunk(c)
                | acp::SessionUpdate::AgentThoughtChunk(c) => c.message_id,
                _ => None,
            })
            .collect();
        assert_eq!(
            replayed,
            vec![live[0].clone(), live[0].clone(), live[3].clone()]
        );
    }

    /// Locations carry lines where the call says where: a read's offset,
    /// an edit's `:start_line:`, a search's matches once found, and an
    /// approval's edits at their first changed line.
    #[test]
    fn locations_point_at_lines() {
        let root = Some(Path::new("/ws"));
        let read = call("r", "read_file", json!({"path": "a.rs", "offset": 40}));
        assert_eq!(
            serde_json::to_value(locations(&read, root)).unwrap(),
            json!([{"path": "/ws/a.rs", "line": 40}])
        );
        let edit = call(
            "e",
            "apply_diff",
            json!({"path": "b.rs", "diff": "<<<<<<< SEARCH\n:start_line:12\n-------\nx\n=======\ny\n>>>>>>> REPLACE"}),
        );
        assert_eq!(
            serde_json::to_value(locations(&edit, root)).unwrap(),
            json!([{"path": "/ws/b.rs", "line": 12}])
        );
        let plain = call("p", "read_file", json!({"path": "c.rs"}));
        assert_eq!(
            serde_json::to_value(locations(&plain, root)).unwrap(),
            json!([{"path": "/ws/c.rs"}])
        );

        let mut v = SessionView::new(Some(PathBuf::from("/ws")));
        let search = call("s", "search_in_code", json!({"regex": "fn main"}));
        v.translate(&tool_event(&search, ToolCallStatus::InProgress, None));
        let done = updates(&v.translate(&tool_event(
            &search,
            ToolCallStatus::Completed,
            Some("src/main.rs:3: fn main() {\nsrc/bin/x.rs:10: fn main() {}\n\n[2 matches]"),
        )));
        assert_eq!(
            done[0]["locations"],
            json!([{"path": "/ws/src/main.rs", "line": 3}, {"path": "/ws/src/bin/x.rs", "line": 10}])
        );

        let approval = PendingApproval {
            id: ApprovalId::new(),
            session_id: SessionId::new(),
            turn_id: TurnId::new(),
            tool_call_id: "w".into(),
            tool: "write_file".into(),
            params: json!({"path": "d.txt", "content": "one\nTWO\nthree\n"}),
            rule: "ask".into(),
            preview: Some(EditPreview {
                files: vec![FileChange {
                    path: "d.txt".into(),
                    current: "one\ntwo\nthree\n".into(),
                    proposed: "one\nTWO\nthree\n".into(),
                }],
                diff: String::new(),
            }),
            created_at: chrono::Utc::now(),
        };
        let out = v.translate(&event(SessionUpdate::ApprovalRequired(Box::new(approval))));
        let Some(Out::Approval(_, call)) = out.last() else {
            panic!("{out:?}")
        };
        assert_eq!(
            serde_json::to_value(&call.fields.locations).unwrap(),
            json!([{"path": "/ws/d.txt", "line": 2}])
        );
    }
}
