//! The context a request carries, and its compaction.
//!
//! The store keeps every message. What a request carries is the history
//! seen through the latest compaction marker (a message whose `compaction`
//! is set): messages up to `summarized_through` are replaced by the marker's
//! summary, tool results up to `elided_through` by a short note (the call
//! stays, so pairing holds). Markers are messages, so a compaction is
//! persisted like any other step and `getHistory` still returns everything.
//!
//! Compacting, when the next request would pass the threshold of the window
//! (or the provider refused one as too long, or a client asked):
//! 1. elide the tool outputs before the latest turn; if that is enough, stop;
//! 2. else summarise everything before the latest turn with the model (the
//!    previous summary is updated, not rewritten), keeping the latest turn
//!    verbatim; a single turn too long on its own is cut before its last
//!    model reply instead;
//! 3. at most one summary per request: if the request still does not fit the
//!    window, the turn stops with [`CompactError::TooLarge`].
//!
//! Cut points are always before a user or assistant message, so a tool
//! result never loses its call.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use super::Runtime;
use super::prompt;
use crate::domain::{Compaction, Message, Role, SessionId, TokenUsage, TurnId};
use crate::llm::config::Target;
use crate::llm::context::{Counter, Estimator, raw_message_tokens};
use crate::llm::{ChatMessage, ChatRequest, LlmError, LlmEvent};

/// Tool outputs shorter than this are never elided.
pub const ELIDE_MIN_BYTES: usize = 256;
/// How the summary starts, as the model reads it.
pub const SUMMARY_HEADER: &str = "[Summary of the earlier conversation, written when it was compacted to fit the context window]";
/// The instruction that ends a summary request.
pub const SUMMARY_INSTRUCTION: &str = "Summarise the conversation above for your own later use. Keep: the user's task and every requirement they stated; decisions made and why; every file read, created or changed (with what changed); commands run and what they showed; open todo items and the next step. Be concise and factual; use short bullet lists.";

/// Why a context could not be compacted.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    /// Even compacted, the request does not fit the model's window.
    #[error(
        "the context does not fit the model's window: the request needs about {needed} tokens, at most {limit} fit (window {window}); a single message may be too large"
    )]
    TooLarge {
        /// Estimated tokens after compaction.
        needed: u64,
        /// The largest request allowed.
        limit: u64,
        /// The window.
        window: u64,
    },
    /// The summary request failed.
    #[error("the summary request failed: {0}")]
    Model(#[from] LlmError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The seq ranges `[from, to)` that restores hid from the model.
pub fn hidden_ranges(history: &[Message]) -> Vec<(u64, u64)> {
    history
        .iter()
        .filter_map(|m| {
            let c = m.compaction?;
            (c.rewound_from > 0).then_some((c.rewound_from, m.seq))
        })
        .collect()
}

fn hidden(seq: u64, ranges: &[(u64, u64)]) -> bool {
    ranges.iter().any(|&(from, to)| seq >= from && seq < to)
}

/// The marker in force: the last one in `history`.
pub fn marker(history: &[Message]) -> Option<&Message> {
    history.iter().rev().find(|m| m.compaction.is_some())
}

fn elided_note(m: &Message, tool: &str) -> String {
    format!(
        "[output of {tool} elided to save context ({} bytes); call the tool again if you need it]",
        m.text.len()
    )
}

/// The history as the model sees it under `compaction` and `summary`.
pub fn view_with(history: &[Message], compaction: Compaction, summary: &str) -> Vec<ChatMessage> {
    let mut out = Vec::with_capacity(history.len() + 1);
    if compaction.summarized_through > 0 && !summary.is_empty() {
        out.push(ChatMessage::User {
            text: format!("{SUMMARY_HEADER}\n{summary}"),
        });
    }
    let mut names: HashMap<&str, &str> = HashMap::new();
    let ranges = hidden_ranges(history);
    for m in history {
        if m.compaction.is_some()
            || m.seq <= compaction.summarized_through
            || hidden(m.seq, &ranges)
        {
            continue;
        }
        for c in &m.tool_calls {
            names.insert(c.id.as_str(), c.name.as_str());
        }
        let elide = m.role == Role::Tool
            && m.seq <= compaction.elided_through
            && m.text.len() > ELIDE_MIN_BYTES;
        if elide {
            let id = m.tool_call_id.clone().unwrap_or_default();
            let tool = names.get(id.as_str()).copied().unwrap_or("the tool");
            out.push(ChatMessage::Tool {
                content: elided_note(m, tool),
                call_id: id,
                name: String::new(),
                is_error: m.is_error,
            });
        } else {
            out.extend(prompt::chat_messages(std::slice::from_ref(m)));
        }
    }
    out
}

/// The history as the model sees it under the marker in force.
pub fn view(history: &[Message]) -> Vec<ChatMessage> {
    match marker(history) {
        Some(m) => view_with(history, m.compaction.unwrap_or_default(), &m.text),
        None => view_with(history, Compaction::default(), ""),
    }
}

/// A request's estimated tokens.
pub fn estimate(req: &ChatRequest, est: &Estimator) -> u64 {
    est.request(req)
}

/// The most tokens one tool result may take in a request: half of the
/// largest request. A byte cap on a tool's output cannot promise this (a
/// flood of `y` lines is a token a byte), and a result longer than the
/// window would otherwise end the turn.
pub fn result_cap(limits: &crate::llm::context::ContextLimits) -> u64 {
    (limits.hard_limit() / 2).max(256)
}

/// Cuts the middle out of each tool result longer than `cap` tokens (its
/// head and tail stay, with a note saying how much was left out and how to
/// see it). The stored result stays whole; the cut is a pure function of
/// the text, so every request of a session carries the same bytes.
pub fn cap_results(messages: &mut [ChatMessage], counter: Counter, cap: u64) {
    for m in messages {
        if let ChatMessage::Tool { content, .. } = m
            && let Some(cut) = cap_text(content, counter, cap)
        {
            *content = cut;
        }
    }
}

fn cap_text(text: &str, counter: Counter, cap: u64) -> Option<String> {
    // A token is at least a byte: a text of at most `cap` bytes fits
    // without being counted (the view counts it once, as a message).
    if text.len() as u64 <= cap {
        return None;
    }
    let tokens = counter.text(text);
    if tokens <= cap {
        return None;
    }
    // Keep a share of the bytes in proportion, then shrink until it fits.
    let mut keep = (text.len() as u128 * u128::from(cap) * 9 / 10 / u128::from(tokens)) as usize;
    for _ in 0..8 {
        let half = keep / 2;
        let mut head = half.min(text.len());
        while !text.is_char_boundary(head) {
            head -= 1;
        }
        let mut tail = text.len().saturating_sub(half).max(head);
        while !text.is_char_boundary(tail) {
            tail += 1;
        }
        let cut = format!(
            "{}\n[... {} bytes of this output left out to fit the model's context window ({tokens} tokens; a result may take {cap}); run a narrower command or read a smaller range to see them ...]\n{}",
            &text[..head],
            tail - head,
            &text[tail..]
        );
        if counter.text(&cut) <= cap {
            return Some(cut);
        }
        keep /= 2;
    }
    Some(format!(
        "[this output ({tokens} tokens) was left out: it does not fit the model's context window; run a narrower command]"
    ))
}

/// What the next request of a turn carries, kept up to date as the turn's
/// history grows, so that building a request costs the same at 10 messages
/// and at 1,000: messages appended since the last request are converted and
/// counted once (the exact tokenizer costs a few microseconds per kilobyte);
/// the view is shared with the request, not copied. A compaction or restore
/// marker changes how earlier messages are seen, so it rebuilds the view,
/// as does a change of tokenizer (another model).
#[derive(Debug, Clone, Default)]
pub struct ContextView {
    messages: Arc<Vec<ChatMessage>>,
    /// Counted tokens of `messages`, uncalibrated.
    tokens: u64,
    /// How many messages of the history are folded in.
    folded: usize,
    counter: Counter,
    /// The most tokens a tool result takes ([`cap_results`]), if capped.
    cap: Option<u64>,
    /// The fixed part of the last request counted: its system prompt and
    /// tools, and their tokens.
    fixed: Option<(String, Vec<crate::llm::ToolSpec>, u64)>,
}

impl ContextView {
    /// An empty view counting with `counter`.
    pub fn new(counter: Counter) -> Self {
        Self {
            counter,
            ..Self::default()
        }
    }

    /// How it counts.
    pub fn counter(&self) -> Counter {
        self.counter
    }

    /// Counts with `counter` from now on (recounting what it holds).
    pub fn set_counter(&mut self, counter: Counter) {
        if counter != self.counter {
            *self = Self {
                cap: self.cap,
                ..Self::new(counter)
            };
        }
    }

    /// Caps tool results at `cap` tokens from now on (rebuilding the view
    /// when that changes).
    pub fn set_cap(&mut self, cap: Option<u64>) {
        if cap != self.cap {
            *self = Self {
                cap,
                ..Self::new(self.counter)
            };
        }
    }

    /// Brings the view up to `history`, of which the view has seen a
    /// prefix.
    pub fn sync(&mut self, history: &[Message]) {
        if self.folded == history.len() {
            return;
        }
        let new = history.get(self.folded..).unwrap_or_default();
        if self.folded > history.len() || new.iter().any(|m| m.compaction.is_some()) {
            let mut messages = view(history);
            if let Some(cap) = self.cap {
                cap_results(&mut messages, self.counter, cap);
            }
            self.tokens = messages.iter().map(|m| self.counter.message(m)).sum();
            self.messages = Arc::new(messages);
        } else {
            let mut added = prompt::chat_messages(new);
            if let Some(cap) = self.cap {
                cap_results(&mut added, self.counter, cap);
            }
            self.tokens += added.iter().map(|m| self.counter.message(m)).sum::<u64>();
            // Copies only when a request still holds the previous view.
            Arc::make_mut(&mut self.messages).extend(added);
        }
        self.folded = history.len();
    }

    /// The messages of the next request.
    pub fn messages(&self) -> Arc<Vec<ChatMessage>> {
        Arc::clone(&self.messages)
    }

    /// The counted (uncalibrated) tokens of `base` carrying this view's
    /// messages: the fixed part is counted again only when it changed.
    pub fn request_tokens(&mut self, base: &ChatRequest) -> u64 {
        let fixed = match &self.fixed {
            Some((system, tools, n)) if *system == base.system && *tools == base.tools => *n,
            _ => {
                let n = self.counter.fixed(base);
                self.fixed = Some((base.system.clone(), base.tools.clone(), n));
                n
            }
        };
        fixed + self.tokens
    }
}

/// What a compaction did.
#[derive(Debug, Clone)]
pub struct Compacted {
    /// The persisted marker.
    pub marker: Message,
    /// Tool results newly elided.
    pub elided: u64,
    /// Whether a summary was made.
    pub summarized: bool,
    /// The summary request's usage.
    pub usage: TokenUsage,
    /// Its cost.
    pub cost: f64,
}

/// Everything a compaction needs besides the history.
pub struct Compactor<'a> {
    /// The runtime.
    pub rt: &'a Runtime,
    /// The session.
    pub session_id: SessionId,
    /// The running turn, if any.
    pub turn_id: Option<TurnId>,
    /// The target of the requests (its limits, its provider).
    pub target: &'a Target,
    /// The request without messages (system prompt, tools).
    pub base: &'a ChatRequest,
    /// The estimate.
    pub estimator: &'a Estimator,
}

fn elided_count(history: &[Message], from: Compaction, to: Compaction) -> u64 {
    history
        .iter()
        .filter(|m| {
            m.role == Role::Tool
                && m.compaction.is_none()
                && m.text.len() > ELIDE_MIN_BYTES
                && m.seq > from.elided_through.max(from.summarized_through)
                && m.seq <= to.elided_through
                && m.seq > to.summarized_through
        })
        .count() as u64
}

impl Compactor<'_> {
    fn tokens(&self, mut messages: Vec<ChatMessage>) -> u64 {
        cap_results(
            &mut messages,
            self.estimator.counter(),
            result_cap(&self.target.context),
        );
        let req = ChatRequest {
            messages: Arc::new(messages),
            ..self.base.clone()
        };
        estimate(&req, self.estimator)
    }

    /// Compacts when the request for `history` would pass the threshold (or
    /// always, with `force`). Returns `None` when nothing was (or could be)
    /// compacted and the request fits.
    ///
    /// # Errors
    /// The request cannot be made to fit, the summary request failed, or the
    /// store failed.
    pub async fn run(
        &self,
        history: &[Message],
        force: bool,
    ) -> Result<Option<Compacted>, CompactError> {
        let limits = self.target.context;
        let (current, summary) = marker(history)
            .map(|m| (m.compaction.unwrap_or_default(), m.text.clone()))
            .unwrap_or_default();
        let before = self.tokens(view_with(history, current, &summary));
        if !force && before <= limits.compact_at() {
            return Ok(None);
        }
        let ranges = hidden_ranges(history);
        let live: Vec<&Message> = history
            .iter()
            .filter(|m| m.compaction.is_none() && !hidden(m.seq, &ranges))
            .collect();
        // The latest turn starts at the last user message; a cut is always
        // before a user or assistant message.
        let turn_start = live.iter().rposition(|m| m.role == Role::User);
        let last_reply = live.iter().rposition(|m| m.role == Role::Assistant);
        let seq_before = |i: usize| if i == 0 { 0 } else { live[i - 1].seq };
        let mut cuts: Vec<u64> = Vec::new();
        if let Some(i) = turn_start {
            cuts.push(seq_before(i));
        }
        if let Some(i) = last_reply
            && turn_start.is_none_or(|t| i > t)
        {
            cuts.push(seq_before(i));
        }
        let mut best: Option<(Compaction, String, bool, u64)> = None;
        // 1. Elision only.
        for &cut in &cuts {
            if cut <= current.elided_through.max(current.summarized_through) {
                continue;
            }
            let next = Compaction {
                elided_through: cut,
                rewound_from: 0,
                ..current
            };
            let tokens = self.tokens(view_with(history, next, &summary));
            best = Some((next, summary.clone(), false, tokens));
            if tokens <= limits.compact_at() && !force {
                break;
            }
        }
        let fits = |b: &Option<(Compaction, String, bool, u64)>| {
            b.as_ref()
                .is_some_and(|(_, _, _, t)| *t <= limits.compact_at())
        };
        let mut usage = TokenUsage::default();
        let mut cost = 0.0;
        if !fits(&best) || force {
            // 2. One summary: up to the first cut that summarises something new.
            if let Some(&cut) = cuts.iter().find(|&&c| c > current.summarized_through) {
                let (text, u, c) = self.summarise(history, current, &summary, cut).await?;
                usage = u;
                cost = c;
                let next = Compaction {
                    summarized_through: cut,
                    elided_through: best
                        .as_ref()
                        .map_or(current.elided_through, |b| b.0.elided_through)
                        .max(cut),
                    rewound_from: 0,
                    ..current
                };
                let tokens = self.tokens(view_with(history, next, &text));
                best = Some((next, text, true, tokens));
            }
        }
        let Some((mut next, text, summarized, after)) = best.map(|mut b| {
            b.0.rewound_from = 0;
            b
        }) else {
            if before > limits.hard_limit() {
                return Err(CompactError::TooLarge {
                    needed: before,
                    limit: limits.hard_limit(),
                    window: limits.window,
                });
            }
            return Ok(None);
        };
        if after > limits.hard_limit() {
            return Err(CompactError::TooLarge {
                needed: after,
                limit: limits.hard_limit(),
                window: limits.window,
            });
        }
        next.tokens_before = before;
        next.tokens_after = after;
        let elided = elided_count(history, current, next);
        let mut m = Message::new(Role::User, self.turn_id, text);
        m.compaction = Some(next);
        let marker = super::turn::persist(self.rt, self.session_id, m).await?;
        Ok(Some(Compacted {
            marker,
            elided,
            summarized,
            usage,
            cost,
        }))
    }

    /// Asks the model for a summary of the messages up to `through`
    /// (updating `previous`). The request is bounded to the window: long
    /// tool outputs are cut, and the oldest part is left out if needed.
    async fn summarise(
        &self,
        history: &[Message],
        current: Compaction,
        previous: &str,
        through: u64,
    ) -> Result<(String, TokenUsage, f64), CompactError> {
        const PER_MESSAGE: usize = 1500;
        let limits = self.target.context;
        let ranges = hidden_ranges(history);
        let part: Vec<Message> = history
            .iter()
            .filter(|m| {
                m.compaction.is_none()
                    && !hidden(m.seq, &ranges)
                    && m.seq > current.summarized_through
                    && m.seq <= through
            })
            .cloned()
            .collect();
        let mut lines: Vec<String> = Vec::new();
        for m in view_with(&part, Compaction::default(), "") {
            let mut s = String::new();
            match m {
                ChatMessage::User { text } => {
                    let _ = write!(s, "USER: {}", cut(&text, PER_MESSAGE));
                }
                ChatMessage::Assistant {
                    text, tool_calls, ..
                } => {
                    let _ = write!(s, "ASSISTANT: {}", cut(&text, PER_MESSAGE));
                    for c in tool_calls {
                        let _ = write!(
                            s,
                            "\n  CALL {} {}",
                            c.name,
                            cut(&c.arguments.to_string(), 300)
                        );
                    }
                }
                ChatMessage::Tool { content, .. } => {
                    let _ = write!(s, "RESULT: {}", cut(&content, PER_MESSAGE));
                }
            }
            lines.push(s);
        }
        // The budget: half the largest request, in raw tokens.
        let budget = (limits.hard_limit() / 2).max(256);
        let fixed = raw_message_tokens(&ChatMessage::User {
            text: format!("{previous}\n{SUMMARY_INSTRUCTION}"),
        });
        let mut used = fixed;
        let mut start = lines.len();
        while start > 0 {
            let t = crate::llm::context::raw_tokens(&lines[start - 1]) + 1;
            if used + t > budget {
                break;
            }
            used += t;
            start -= 1;
        }
        let mut text = String::new();
        if !previous.is_empty() {
            let _ = writeln!(text, "The summary so far:\n{previous}\n");
        }
        text.push_str("The conversation since:\n");
        if start > 0 {
            let _ = writeln!(
                text,
                "[{start} earlier messages left out to fit the window]"
            );
        }
        for l in &lines[start..] {
            text.push_str(l);
            text.push('\n');
        }
        text.push('\n');
        text.push_str(SUMMARY_INSTRUCTION);
        let request = ChatRequest {
            model: self.target.compaction_model.clone(),
            system: "You summarise a coding agent's conversation so that the agent can continue the task from the summary alone.".to_owned(),
            messages: Arc::new(vec![ChatMessage::User { text }]),
            tools: Vec::new(),
            max_tokens: Some(u32::try_from((limits.window / 8).clamp(256, 4096)).unwrap_or(4096)),
            reasoning: crate::llm::ReasoningReplay::Never,
            thinking_budget: None,
        };
        let mut target = self.target.clone();
        target.model = self.target.compaction_model.clone();
        let ctx = crate::llm::client::CallContext {
            session_id: Some(self.session_id),
            turn_id: self.turn_id,
        };
        let mut stream = self.rt.llm.stream(&target, request, ctx);
        let mut summary = String::new();
        let mut usage = TokenUsage::default();
        while let Some(ev) = stream.next().await {
            match ev? {
                LlmEvent::TextDelta(d) => summary.push_str(&d),
                LlmEvent::Usage(u) => usage.add(&u),
                _ => {}
            }
        }
        let cost = target.prices.cost(&target.model, &usage);
        Ok((summary.trim().to_owned(), usage, cost))
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} more bytes]", &s[..end], s.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ToolCall, TurnId};

    fn msg(seq: u64, role: Role, text: &str) -> Message {
        let mut m = Message::new(role, Some(TurnId::new()), text.to_owned());
        m.seq = seq;
        m
    }

    fn history() -> Vec<Message> {
        let mut a = msg(2, Role::Assistant, "");
        a.tool_calls = vec![ToolCall {
            id: "c1".into(),
            name: "read_file".into(),
            arguments: serde_json::json!({"path": "a"}),
        }];
        let mut r = msg(3, Role::Tool, &"x".repeat(1000));
        r.tool_call_id = Some("c1".into());
        vec![
            msg(1, Role::User, "first"),
            a,
            r,
            msg(4, Role::Assistant, "done"),
            msg(5, Role::User, "second"),
        ]
    }

    #[test]
    fn elision_keeps_the_call_and_notes_the_output() {
        let h = history();
        let v = view_with(
            &h,
            Compaction {
                elided_through: 4,
                ..Default::default()
            },
            "",
        );
        assert_eq!(v.len(), 5);
        match &v[2] {
            ChatMessage::Tool {
                call_id, content, ..
            } => {
                assert_eq!(call_id, "c1");
                assert!(content.contains("elided"), "{content}");
                assert!(content.contains("read_file"), "{content}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_summary_replaces_what_it_covers_and_markers_are_never_sent() {
        let mut h = history();
        let mut marker = msg(6, Role::User, "they asked for X");
        marker.compaction = Some(Compaction {
            summarized_through: 4,
            elided_through: 4,
            ..Default::default()
        });
        h.push(marker);
        let v = view(&h);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(
            matches!(&v[0], ChatMessage::User { text } if text.starts_with(SUMMARY_HEADER) && text.ends_with("they asked for X"))
        );
        assert!(matches!(&v[1], ChatMessage::User { text } if text == "second"));
    }

    #[test]
    fn the_view_kept_in_step_equals_the_view_built_from_scratch() {
        let full = history();
        let mut marker = msg(6, Role::User, "they asked for X");
        marker.compaction = Some(Compaction {
            summarized_through: 4,
            elided_through: 4,
            ..Default::default()
        });
        let mut grown = full.clone();
        grown.push(marker);
        grown.push(msg(7, Role::Assistant, "on it"));
        let base = ChatRequest {
            model: "gpt-4o".into(),
            system: "sys".into(),
            messages: Arc::default(),
            tools: Vec::new(),
            max_tokens: None,
            reasoning: crate::llm::ReasoningReplay::Never,
            thinking_budget: None,
        };
        for counter in [Counter::Bytes, Counter::O200k] {
            let mut v = ContextView::new(counter);
            // One message at a time, through the marker (a rebuild) and past it.
            for n in 1..=grown.len() {
                let h = &grown[..n];
                v.sync(h);
                let expected = view(h);
                assert_eq!(*v.messages(), expected, "after {n} messages");
                let req = ChatRequest {
                    messages: Arc::new(expected),
                    ..base.clone()
                };
                assert_eq!(v.request_tokens(&base), counter.request(&req), "after {n}");
            }
            // A request that still holds the view does not see later messages.
            let held = v.messages();
            let mut more = grown.clone();
            more.push(msg(8, Role::User, "third"));
            v.sync(&more);
            assert_eq!(held.len() + 1, v.messages().len());
            // Another counter recounts.
            v.set_counter(Counter::Cl100k);
            v.sync(&more);
            assert_eq!(*v.messages(), view(&more));
        }
    }

    #[test]
    fn a_tool_result_past_the_cap_keeps_its_head_and_tail_within_it() {
        let flood = format!("BEGIN\n{}END\n", "y\n".repeat(50_000));
        let mut messages = vec![
            ChatMessage::Tool {
                call_id: "c1".into(),
                name: String::new(),
                content: flood.clone(),
                is_error: false,
            },
            ChatMessage::Tool {
                call_id: "c2".into(),
                name: String::new(),
                content: "short".into(),
                is_error: false,
            },
        ];
        cap_results(&mut messages, Counter::O200k, 1000);
        let ChatMessage::Tool { content, .. } = &messages[0] else {
            panic!()
        };
        assert!(Counter::O200k.text(content) <= 1000, "{}", content.len());
        assert!(content.starts_with("BEGIN\ny\n") && content.ends_with("y\nEND\n"));
        assert!(content.contains("left out to fit the model's context window"));
        assert!(matches!(&messages[1], ChatMessage::Tool { content, .. } if content == "short"));
        // The same text is cut the same way (byte-stable requests).
        let again = cap_text(&flood, Counter::O200k, 1000).unwrap();
        assert_eq!(&again, content);
        // The view kept in step applies the same cap.
        let mut call = msg(1, Role::Assistant, "");
        call.tool_calls = vec![ToolCall {
            id: "c1".into(),
            name: "execute_command".into(),
            arguments: serde_json::json!({"command": "yes"}),
        }];
        let mut out = msg(2, Role::Tool, &flood);
        out.tool_call_id = Some("c1".into());
        let h = vec![call, out];
        let mut v = ContextView::new(Counter::O200k);
        v.set_cap(Some(1000));
        v.sync(&h);
        let mut expected = view(&h);
        cap_results(&mut expected, Counter::O200k, 1000);
        assert_eq!(*v.messages(), expected);
    }
}
