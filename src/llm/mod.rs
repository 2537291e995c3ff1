//! LLM providers: streamed chat with tool calls, and the resilience around
//! them (timeouts, retries, a circuit breaker, cancellation).
//!
//! - [`Provider`] is one wire format: how to build the HTTP request and how to
//!   decode its Server-Sent Events into [`LlmEvent`]s. [`openai`] and
//!   [`anthropic`] implement it. Decoders are pure: bytes in, events out.
//! - [`client::LlmClient`] sends a request through a provider and owns every
//!   failure: it retries only before any output was streamed, opens the
//!   breaker after repeated failures, enforces the first-token and idle
//!   timeouts, stops the HTTP stream as soon as the consumer drops it, and
//!   publishes LLM events.
//! - [`config`] resolves which provider and model a turn uses, from files,
//!   the environment and the editor; [`pricing`] turns usage into cost.

pub mod anthropic;
pub mod breaker;
pub mod client;
pub mod config;
pub mod context;
pub mod error;
pub mod openai;
pub mod pricing;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use client::LlmClient;
pub use error::LlmError;

/// A chat request in provider-neutral form.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The model name.
    pub model: String,
    /// The system prompt.
    pub system: String,
    /// The conversation so far: shared, so that a turn hands the history it
    /// keeps to each request without copying it.
    pub messages: std::sync::Arc<Vec<ChatMessage>>,
    /// The tools the model may call.
    pub tools: Vec<ToolSpec>,
    /// An output token limit, if any.
    pub max_tokens: Option<u32>,
    /// Which earlier reasoning is sent back (the model's setting).
    pub reasoning: ReasoningReplay,
    /// Anthropic: extended thinking with this budget of tokens.
    pub thinking_budget: Option<u32>,
}

/// Which of a model's earlier reasoning goes back to it with the history,
/// as its API requires: a per-model setting (`[llm.models."<name>"]
/// reasoning = "..."`) with defaults by model family
/// ([`ReasoningReplay::default_for`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningReplay {
    /// Never (most OpenAI-compatible servers drop it; the older
    /// `deepseek-reasoner` answers 400 when it is sent).
    #[default]
    Never,
    /// OpenAI-compatible `reasoning_content` on every assistant message that
    /// made tool calls (DeepSeek's thinking mode answers 400 without it).
    ToolCalls,
    /// All of it: `reasoning_content` on every assistant message; for
    /// Anthropic, thinking blocks with their signatures (required during
    /// tool use; blocks without a signature are never sent).
    Always,
}

impl ReasoningReplay {
    /// The default for a model of a provider kind.
    pub fn default_for(kind: ProviderKind, model: &str) -> Self {
        let m = model.to_ascii_lowercase();
        match kind {
            ProviderKind::Anthropic => Self::Always,
            ProviderKind::Openai if m.contains("deepseek-reasoner") => Self::Never,
            ProviderKind::Openai if m.contains("deepseek") => Self::ToolCalls,
            ProviderKind::Openai => Self::Never,
        }
    }
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatMessage {
    /// The user's text.
    User {
        /// The text.
        text: String,
    },
    /// The model's earlier reply.
    Assistant {
        /// Its text.
        text: String,
        /// The tool calls it made.
        tool_calls: Vec<ToolCallRequest>,
        /// Its reasoning, sent back as [`ChatRequest::reasoning`] says.
        reasoning: Vec<crate::domain::Reasoning>,
    },
    /// The result of a tool call.
    Tool {
        /// The call it answers.
        call_id: String,
        /// The tool's name.
        name: String,
        /// The result text.
        content: String,
        /// Whether the tool failed.
        is_error: bool,
    },
}

/// A tool call the model made, as sent back in history.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCallRequest {
    /// The call's id.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments.
    pub arguments: Value,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// The tool's name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its parameters as JSON Schema.
    pub parameters: Value,
}

/// Token counts of a request (the domain's [`TokenUsage`]). Cached input
/// tokens are counted in `cache_read_tokens` (read from cache) and
/// `cache_write_tokens` (written to cache).
pub use crate::domain::TokenUsage as Usage;

/// Why the model stopped.
pub use crate::domain::FinishReason;

/// Tool-call arguments that are not valid JSON, as the model sent them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the arguments are not valid JSON ({reason}): {text}")]
pub struct ArgumentsError {
    /// The parser's complaint.
    pub reason: String,
    /// What the model sent.
    pub text: String,
}

impl ArgumentsError {
    /// Parses `text` (empty counts as `{}`) as the arguments of a call.
    ///
    /// # Errors
    /// When `text` is not valid JSON.
    pub fn parse(text: &str) -> Result<Value, Self> {
        let text = if text.trim().is_empty() { "{}" } else { text };
        serde_json::from_str::<Value>(text).map_err(|e| Self {
            reason: e.to_string(),
            text: text.to_owned(),
        })
    }
}

/// What a provider stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum LlmEvent {
    /// Text to append to the reply.
    TextDelta(String),
    /// Reasoning to append (OpenAI-compatible `reasoning_content` or
    /// `reasoning`, an Anthropic `thinking_delta`).
    ReasoningDelta(String),
    /// Anthropic: the signature that ends the current thinking block.
    ReasoningSignature(String),
    /// Anthropic: a `redacted_thinking` block's data.
    RedactedReasoning(String),
    /// A tool call began.
    ToolCallStarted {
        /// The call's id.
        id: String,
        /// The tool's name.
        name: String,
    },
    /// A piece of a tool call's JSON arguments.
    ToolCallDelta {
        /// The call's id.
        id: String,
        /// The piece.
        delta: String,
    },
    /// A tool call is complete.
    ToolCallFinished {
        /// The call's id.
        id: String,
        /// The tool's name.
        name: String,
        /// The parsed arguments, or why they are not valid JSON.
        arguments: Result<Value, ArgumentsError>,
    },
    /// Token counts for the request.
    Usage(Usage),
    /// The reply is complete.
    Finish(FinishReason),
}

impl LlmEvent {
    /// Whether this event is output the consumer has seen (text or tool calls),
    /// after which a failed request may no longer be retried.
    pub fn is_output(&self) -> bool {
        matches!(
            self,
            Self::TextDelta(_)
                | Self::ReasoningDelta(_)
                | Self::ToolCallStarted { .. }
                | Self::ToolCallDelta { .. }
                | Self::ToolCallFinished { .. }
        )
    }
}

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI Chat Completions and compatible servers.
    Openai,
    /// Anthropic Messages.
    Anthropic,
}

/// Where and how to reach a provider, with the secrets it needs.
#[derive(Clone, PartialEq)]
pub struct Endpoint {
    /// Base URL, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// API key, if the server needs one.
    pub api_key: Option<String>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Decodes one provider's SSE events into [`LlmEvent`]s.
pub trait Decoder: Send {
    /// Handles one SSE event (its `event:` name, possibly empty, and its data).
    ///
    /// # Errors
    /// A malformed event, or an error the provider reported in the stream.
    fn event(&mut self, event: &str, data: &str) -> Result<Vec<LlmEvent>, LlmError>;

    /// Called when the stream ends; returns what is still pending.
    ///
    /// # Errors
    /// When the stream ended before the reply was complete.
    fn finish(&mut self) -> Result<Vec<LlmEvent>, LlmError>;

    /// Whether the provider signalled the end of the reply.
    fn done(&self) -> bool;
}

/// One wire format.
pub trait Provider: Send + Sync {
    /// Which format this is.
    fn kind(&self) -> ProviderKind;

    /// Builds the streaming HTTP request.
    fn request(
        &self,
        http: &reqwest::Client,
        endpoint: &Endpoint,
        req: &ChatRequest,
    ) -> reqwest::RequestBuilder;

    /// A fresh decoder for one response.
    fn decoder(&self) -> Box<dyn Decoder>;
}

/// The provider implementation for a kind.
pub fn provider_for(kind: ProviderKind) -> &'static dyn Provider {
    match kind {
        ProviderKind::Openai => &openai::OpenAi,
        ProviderKind::Anthropic => &anthropic::Anthropic,
    }
}

/// Joins a base URL and a path with exactly one slash.
pub(crate) fn join_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}
