//! Classified LLM failures.

use std::time::Duration;

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// No connection within the connect timeout.
    Connect,
    /// No first token before the deadline.
    FirstToken,
    /// Too long between two chunks.
    Idle,
}

/// Why an LLM request failed. Messages never contain secrets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// No provider is configured.
    #[error("no LLM provider configured: {0}")]
    NotConfigured(String),
    /// The connection failed.
    #[error("cannot reach the LLM provider: {0}")]
    Connect(String),
    /// A timeout fired.
    #[error("the LLM provider timed out ({})", match .0 {
        TimeoutPhase::Connect => "no connection",
        TimeoutPhase::FirstToken => "no first token before the deadline",
        TimeoutPhase::Idle => "idle between chunks for too long",
    })]
    Timeout(TimeoutPhase),
    /// 429.
    #[error("rate limited by the LLM provider{}: {message}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs_f64())).unwrap_or_default())]
    RateLimited {
        /// The server's `Retry-After`.
        retry_after: Option<Duration>,
        /// The server's message.
        message: String,
    },
    /// 5xx.
    #[error("the LLM provider failed with HTTP {status}: {message}")]
    Server {
        /// The status code.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// Any other HTTP error (bad request, authentication).
    #[error("the LLM provider refused the request with HTTP {status}: {message}")]
    Http {
        /// The status code.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The stream broke before the reply was complete.
    #[error("the LLM stream was cut: {0}")]
    StreamDropped(String),
    /// An event could not be parsed.
    #[error("malformed event from the LLM provider: {0}")]
    Malformed(String),
    /// The provider reported an error inside the stream.
    #[error("the LLM provider reported {kind}: {message}")]
    Provider {
        /// The provider's error type.
        kind: String,
        /// Its message.
        message: String,
    },
    /// The breaker is open.
    #[error("the LLM provider `{provider}` is failing; not trying again for {}s", retry_in.as_secs())]
    CircuitOpen {
        /// The provider's name.
        provider: String,
        /// When the next probe is allowed.
        retry_in: Duration,
    },
    /// The consumer went away.
    #[error("cancelled")]
    Cancelled,
}

impl LlmError {
    /// A stable name for metrics and events.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotConfigured(_) => "not_configured",
            Self::Connect(_) => "connect",
            Self::Timeout(TimeoutPhase::Connect) => "timeout_connect",
            Self::Timeout(TimeoutPhase::FirstToken) => "timeout_first_token",
            Self::Timeout(TimeoutPhase::Idle) => "timeout_idle",
            Self::RateLimited { .. } => "rate_limited",
            Self::Server { .. } => "server_error",
            Self::Http { .. } => "http_error",
            Self::StreamDropped(_) => "stream_dropped",
            Self::Malformed(_) => "malformed",
            Self::Provider { .. } => "provider_error",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether a retry may succeed (if no output was streamed yet).
    pub fn retryable(&self) -> bool {
        match self {
            Self::Connect(_)
            | Self::Timeout(_)
            | Self::RateLimited { .. }
            | Self::Server { .. }
            | Self::StreamDropped(_) => true,
            Self::Provider { kind, .. } => {
                matches!(
                    kind.as_str(),
                    "overloaded_error" | "api_error" | "rate_limit_error"
                )
            }
            _ => false,
        }
    }

    /// Whether the failure counts against the provider's circuit breaker.
    pub fn counts_for_breaker(&self) -> bool {
        !matches!(
            self,
            Self::NotConfigured(_)
                | Self::Http { .. }
                | Self::CircuitOpen { .. }
                | Self::Cancelled
                | Self::Malformed(_)
        )
    }

    /// The delay the server asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Replaces every occurrence of each secret in the error's text.
    #[must_use]
    pub fn redacted(self, secrets: &[&str]) -> Self {
        let r = |s: String| redact(&s, secrets);
        match self {
            Self::NotConfigured(s) => Self::NotConfigured(r(s)),
            Self::Connect(s) => Self::Connect(r(s)),
            Self::RateLimited {
                retry_after,
                message,
            } => Self::RateLimited {
                retry_after,
                message: r(message),
            },
            Self::Server { status, message } => Self::Server {
                status,
                message: r(message),
            },
            Self::Http { status, message } => Self::Http {
                status,
                message: r(message),
            },
            Self::StreamDropped(s) => Self::StreamDropped(r(s)),
            Self::Malformed(s) => Self::Malformed(r(s)),
            Self::Provider { kind, message } => Self::Provider {
                kind: r(kind),
                message: r(message),
            },
            other => other,
        }
    }
}

/// Replaces every occurrence of each (non-trivial) secret with `[REDACTED]`.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if s.len() >= 4 {
            out = out.replace(s, "[REDACTED]");
        }
    }
    out
}
