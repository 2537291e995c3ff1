//! Context windows: how many tokens a model takes, how many a request holds,
//! and whether a provider refused a request for being too long.
//!
//! - [`default_window`]: the context window of common model families, used
//!   when the settings name none (`[llm] context_window`, or per model under
//!   `[llm.models."<name>"]`).
//! - [`Counter`]: how a model's tokens are counted. Exactly, with the
//!   model's own BPE, where a maintained tokenizer crate has it (tiktoken-rs:
//!   `o200k_base` for GPT-4o, GPT-4.1, GPT-5 and the o-series, `cl100k_base`
//!   for GPT-4 and GPT-3.5); elsewhere (Claude, Llama, Qwen, DeepSeek,
//!   Mistral: their tokenizers ship with the model weights, not in a crate)
//!   by bytes at a conservative ratio (three bytes a token, where the BPE
//!   tokenizers of those families average about four on English and code).
//!   Either way each message costs a fixed overhead besides its text.
//! - [`Estimator`]: the count corrected by the `prompt_tokens` the provider
//!   reports for each request (chat templates add tokens no count sees):
//!   the ratio between the two is kept (smoothed, within bounds) and applied
//!   to the next estimate.
//! - [`is_overflow`]: the overflow errors of OpenAI, Anthropic, vLLM and
//!   llama.cpp. Ollama truncates silently instead, so there the estimate is
//!   the only guard.

use super::{ChatMessage, ChatRequest, LlmError};

/// Tokens every message costs beyond its text (role, separators).
pub const MESSAGE_OVERHEAD: u64 = 4;
/// Bytes per token the raw estimate assumes (conservative).
pub const BYTES_PER_TOKEN: u64 = 3;

/// The context window of a model, by family; `None` for an unknown model.
pub fn default_window(model: &str) -> Option<u64> {
    let m = model.to_ascii_lowercase();
    let m = m.rsplit('/').next().unwrap_or(&m);
    let table: &[(&str, u64)] = &[
        ("gpt-4.1", 1_047_576),
        ("gpt-5", 400_000),
        ("gpt-4o", 128_000),
        ("gpt-4-turbo", 128_000),
        ("gpt-4", 8_192),
        ("gpt-3.5", 16_385),
        ("o1", 200_000),
        ("o3", 200_000),
        ("o4", 200_000),
        ("claude", 200_000),
        ("llama-3", 128_000),
        ("llama3", 128_000),
        ("qwen2.5-coder", 32_768),
        ("qwen", 32_768),
        ("deepseek", 128_000),
        ("codestral", 256_000),
        ("mistral", 128_000),
        ("devstral", 128_000),
    ];
    table
        .iter()
        .find(|(prefix, _)| m.starts_with(prefix))
        .map(|(_, w)| *w)
}

/// The window used when neither the settings nor the table know the model.
pub const FALLBACK_WINDOW: u64 = 32_768;

/// The context limits of a model target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContextLimits {
    /// The context window, in tokens.
    pub window: u64,
    /// Tokens kept free for the reply.
    pub output_reserve: u64,
    /// The fill (0 to 1) of the window past which the context is compacted.
    pub threshold: f64,
    /// Whether the window was configured (else it came from the model family
    /// or the fallback, and a server that reports its own may correct it).
    pub configured: bool,
}

impl ContextLimits {
    /// Limits for `model`: the configured window, else the family's, else
    /// [`FALLBACK_WINDOW`]; the reserve defaults to the output limit, else a
    /// quarter of the window up to 8192.
    pub fn new(
        model: &str,
        window: Option<u64>,
        reserve: Option<u64>,
        max_tokens: Option<u32>,
        threshold: Option<f64>,
    ) -> Self {
        let configured = window.is_some();
        let window = window
            .or_else(|| default_window(model))
            .unwrap_or(FALLBACK_WINDOW)
            .max(256);
        let reserve = reserve
            .or(max_tokens.map(u64::from))
            .unwrap_or((window / 4).min(8192))
            .min(window / 2);
        Self {
            window,
            output_reserve: reserve,
            threshold: threshold.unwrap_or(0.8).clamp(0.1, 1.0),
            configured,
        }
    }

    /// The same limits for the window a server reported.
    #[must_use]
    pub fn with_window(self, window: u64) -> Self {
        let window = window.max(256);
        Self {
            window,
            output_reserve: self.output_reserve.min(window / 2),
            ..self
        }
    }

    /// The largest request that may be sent at all.
    pub fn hard_limit(&self) -> u64 {
        self.window.saturating_sub(self.output_reserve)
    }

    /// The request size past which the context is compacted.
    pub fn compact_at(&self) -> u64 {
        let t = (self.window as f64 * self.threshold) as u64;
        t.min(self.hard_limit())
    }
}

/// How a model's tokens are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Counter {
    /// Bytes at [`BYTES_PER_TOKEN`] (models without a tokenizer crate).
    #[default]
    Bytes,
    /// tiktoken's `o200k_base` (GPT-4o, GPT-4.1, GPT-5, o1, o3, o4).
    O200k,
    /// tiktoken's `cl100k_base` (GPT-4, GPT-3.5).
    Cl100k,
}

impl Counter {
    /// The counter for `model` (a router's `vendor/model` name counts as
    /// `model`; a fine-tuned `ft:base:...` as its base).
    pub fn for_model(model: &str) -> Self {
        use tiktoken_rs::tokenizer::{Tokenizer, get_tokenizer};
        let name = model
            .rsplit('/')
            .next()
            .unwrap_or(model)
            .to_ascii_lowercase();
        match get_tokenizer(&name) {
            Some(Tokenizer::O200kBase | Tokenizer::O200kHarmony) => Self::O200k,
            Some(Tokenizer::Cl100kBase) => Self::Cl100k,
            _ => Self::Bytes,
        }
    }

    fn bpe(self) -> Option<&'static tiktoken_rs::CoreBPE> {
        match self {
            Self::Bytes => None,
            Self::O200k => Some(tiktoken_rs::o200k_base_singleton()),
            Self::Cl100k => Some(tiktoken_rs::cl100k_base_singleton()),
        }
    }

    /// Loads the tokenizer's tables (a few hundred milliseconds, once per
    /// process) on a blocking thread, so that the first count does not stall
    /// the async threads.
    pub async fn load(self) {
        if self != Self::Bytes {
            // A panic while loading shows again at the first count.
            let _ = tokio::task::spawn_blocking(move || self.bpe().is_some()).await;
        }
    }

    /// A text's tokens.
    pub fn text(self, text: &str) -> u64 {
        match self.bpe() {
            Some(bpe) => bpe.encode_ordinary(text).len() as u64,
            None => raw_tokens(text),
        }
    }

    /// One message's tokens, its overhead included.
    pub fn message(self, m: &ChatMessage) -> u64 {
        MESSAGE_OVERHEAD
            + match m {
                ChatMessage::User { text } => self.text(text),
                ChatMessage::Assistant {
                    text,
                    tool_calls,
                    reasoning,
                } => {
                    self.text(text)
                        + reasoning
                            .iter()
                            .map(|r| {
                                self.text(&r.text)
                                    + r.signature.as_deref().map_or(0, |s| self.text(s))
                            })
                            .sum::<u64>()
                        + tool_calls
                            .iter()
                            .map(|c| {
                                MESSAGE_OVERHEAD
                                    + self.text(&c.id)
                                    + self.text(&c.name)
                                    + self.text(&c.arguments.to_string())
                            })
                            .sum::<u64>()
                }
                ChatMessage::Tool {
                    call_id, content, ..
                } => self.text(call_id) + self.text(content),
            }
    }

    /// What a request holds besides its messages (the system prompt and the
    /// tools).
    pub fn fixed(self, req: &ChatRequest) -> u64 {
        MESSAGE_OVERHEAD
            + self.text(&req.system)
            + req
                .tools
                .iter()
                .map(|t| {
                    MESSAGE_OVERHEAD
                        + self.text(&t.name)
                        + self.text(&t.description)
                        + self.text(&t.parameters.to_string())
                })
                .sum::<u64>()
    }

    /// A whole request's tokens.
    pub fn request(self, req: &ChatRequest) -> u64 {
        self.fixed(req) + req.messages.iter().map(|m| self.message(m)).sum::<u64>()
    }
}

/// A calibrated token estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimator {
    /// Reported tokens / counted tokens, smoothed.
    factor: f64,
    /// How tokens are counted.
    counter: Counter,
}

impl Default for Estimator {
    fn default() -> Self {
        Self::new(Counter::Bytes)
    }
}

/// The raw estimate of a text's tokens.
pub fn raw_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(BYTES_PER_TOKEN)
}

/// The raw estimate of one message's tokens.
pub fn raw_message_tokens(m: &ChatMessage) -> u64 {
    Counter::Bytes.message(m)
}

/// The raw estimate of a whole request.
pub fn raw_request_tokens(req: &ChatRequest) -> u64 {
    Counter::Bytes.request(req)
}

impl Estimator {
    /// An estimator counting with `counter`, not yet calibrated.
    pub fn new(counter: Counter) -> Self {
        Self {
            factor: 1.0,
            counter,
        }
    }

    /// How it counts.
    pub fn counter(&self) -> Counter {
        self.counter
    }

    /// A request's calibrated estimate.
    pub fn request(&self, req: &ChatRequest) -> u64 {
        self.calibrated(self.counter.request(req))
    }

    /// The calibrated estimate for a raw count.
    pub fn calibrated(&self, raw: u64) -> u64 {
        (raw as f64 * self.factor).ceil() as u64
    }

    /// The calibration factor in force.
    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// Learns from a provider's count of a request whose raw estimate was
    /// `raw`. Counts of zero (a server that reports nothing) are ignored. The
    /// factor moves halfway to the observed ratio and stays within 0.5..2,
    /// and it never goes below the observed ratio: an estimate may be high,
    /// it must not be low.
    pub fn observe(&mut self, raw: u64, reported: u64) {
        if raw == 0 || reported == 0 {
            return;
        }
        let ratio = reported as f64 / raw as f64;
        let next = f64::midpoint(self.factor, ratio).max(ratio);
        self.factor = next.clamp(0.5, 2.0);
    }
}

/// Whether a provider refused a request for being longer than the model's
/// context: OpenAI's `context_length_exceeded`, vLLM's "maximum context
/// length", Anthropic's "prompt is too long", llama.cpp's "exceeds the
/// available context size".
pub fn is_overflow(e: &LlmError) -> bool {
    let message = match e {
        LlmError::Http { status, message } if *status == 400 || *status == 413 => message,
        LlmError::Provider { message, .. } => message,
        _ => return false,
    };
    let m = message.to_ascii_lowercase();
    [
        "context_length_exceeded",
        "maximum context length",
        "prompt is too long",
        "exceeds the available context size",
        "exceed_context_size_error",
        "context window",
        "too many tokens",
        "input is too long",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_have_windows() {
        assert_eq!(default_window("gpt-4o-mini"), Some(128_000));
        assert_eq!(default_window("gpt-4.1-nano"), Some(1_047_576));
        assert_eq!(default_window("claude-sonnet-4-5"), Some(200_000));
        assert_eq!(
            default_window("meta-llama/Llama-3.1-8B-Instruct"),
            Some(128_000)
        );
        assert_eq!(
            default_window("Qwen/Qwen2.5-Coder-7B-Instruct"),
            Some(32_768)
        );
        assert_eq!(default_window("mystery-model"), None);
    }

    #[test]
    fn limits_keep_a_reserve_and_a_threshold() {
        let l = ContextLimits::new("x", Some(8000), None, None, None);
        assert_eq!(l.output_reserve, 2000);
        assert_eq!(l.hard_limit(), 6000);
        assert_eq!(l.compact_at(), 6000);
        let l = ContextLimits::new("gpt-4o", None, Some(4096), None, Some(0.5));
        assert_eq!(l.compact_at(), 64_000);
    }

    #[test]
    fn calibration_follows_the_provider_upwards_and_halfway_down() {
        let mut e = Estimator::default();
        e.observe(1000, 1500);
        assert!((e.factor() - 1.5).abs() < 1e-9);
        e.observe(1000, 500);
        assert!((e.factor() - 1.0).abs() < 1e-9);
        e.observe(1000, 0);
        assert!((e.factor() - 1.0).abs() < 1e-9);
        assert_eq!(e.calibrated(10), 10);
    }

    #[test]
    fn overflow_errors_of_each_provider() {
        let http = |m: &str| LlmError::Http {
            status: 400,
            message: m.into(),
        };
        assert!(is_overflow(&http(
            "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens."
        )));
        assert!(is_overflow(&http(
            "prompt is too long: 208310 tokens > 200000 maximum"
        )));
        assert!(is_overflow(&http(
            "request (14167 tokens) exceeds the available context size (2048 tokens), try increasing it"
        )));
        assert!(!is_overflow(&http("invalid api key")));
        assert!(!is_overflow(&LlmError::Server {
            status: 500,
            message: "maximum context length".into()
        }));
    }

    #[test]
    fn openai_families_are_counted_exactly_others_estimated() {
        assert_eq!(Counter::for_model("gpt-4o-mini"), Counter::O200k);
        assert_eq!(Counter::for_model("gpt-4.1"), Counter::O200k);
        assert_eq!(Counter::for_model("gpt-5-codex"), Counter::O200k);
        assert_eq!(Counter::for_model("o3-mini"), Counter::O200k);
        assert_eq!(Counter::for_model("openai/gpt-4o"), Counter::O200k);
        assert_eq!(Counter::for_model("ft:gpt-4o-mini:acme::1"), Counter::O200k);
        assert_eq!(Counter::for_model("gpt-4"), Counter::Cl100k);
        assert_eq!(Counter::for_model("gpt-3.5-turbo"), Counter::Cl100k);
        assert_eq!(Counter::for_model("claude-sonnet-4-5"), Counter::Bytes);
        assert_eq!(
            Counter::for_model("Qwen/Qwen2.5-Coder-7B-Instruct"),
            Counter::Bytes
        );
        // tiktoken's own counts: "hello world" is two tokens in both.
        assert_eq!(Counter::O200k.text("hello world"), 2);
        assert_eq!(Counter::Cl100k.text("hello world"), 2);
        // The estimate stays conservative against the exact count on code.
        let code = "fn parse(input: &str) -> Result<Header, Error> { todo!() }\n".repeat(50);
        assert!(Counter::Bytes.text(&code) >= Counter::O200k.text(&code));
        let m = ChatMessage::User { text: code.clone() };
        assert_eq!(
            Counter::O200k.message(&m),
            MESSAGE_OVERHEAD + Counter::O200k.text(&code)
        );
    }
}
