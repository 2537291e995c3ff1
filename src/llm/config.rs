//! Which provider and model a turn uses, from every source of settings.
//!
//! Sources, from lowest to highest precedence (a higher one overrides the
//! fields it sets, provider by provider and field by field):
//! 1. built-in defaults (base URLs of OpenAI and Anthropic, timeouts, retry,
//!    breaker and prices);
//! 2. the user's `codelab.toml` in the data directory, table `[llm]`;
//! 3. the environment: `OPENAI_API_KEY`, `OPENAI_BASE_URL`,
//!    `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`, `CODELAB_PROVIDER`,
//!    `CODELAB_MODEL` (an empty variable counts as unset);
//! 4. the workspace's `.codelab/config.toml`, table `[llm]`, which may choose
//!    providers, models, limits and prices but may **not** set a provider's
//!    `base_url`, `api_key`, `api_key_env` or `headers`: a cloned repository
//!    must not be able to send your API key to a server of its choosing;
//! 5. the editor: LSP `initializationOptions` (`{"llm": {...}}`, also accepted
//!    under `{"codelab": {"llm": {...}}}`), then each
//!    `workspace/didChangeConfiguration` (same shapes, under `settings`).
//!
//! With exactly one provider configured it is the default. An agent may name
//! its own provider and model under `[llm.agents.<slug>]`, which wins over
//! the general `provider` and `model`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::context::ContextLimits;
use super::pricing::{Price, PriceTable};
use super::{Endpoint, LlmError, ProviderKind};
use crate::config::env_var;
use crate::config::{ConfigError, TomlDoc};

/// One provider's settings (every field optional: layers fill them in).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// The wire format; inferred from the name `openai` or `anthropic`.
    pub kind: Option<ProviderKind>,
    /// The base URL (`https://api.openai.com/v1`).
    pub base_url: Option<String>,
    /// The API key.
    pub api_key: Option<String>,
    /// The name of an environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// The default model of this provider.
    pub model: Option<String>,
    /// Extra HTTP headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl ProviderSettings {
    fn overlay(&mut self, top: ProviderSettings) {
        if top.kind.is_some() {
            self.kind = top.kind;
        }
        if top.base_url.is_some() {
            self.base_url = top.base_url;
        }
        if top.api_key.is_some() {
            self.api_key = top.api_key;
        }
        if top.api_key_env.is_some() {
            self.api_key_env = top.api_key_env;
        }
        if top.model.is_some() {
            self.model = top.model;
        }
        self.headers.extend(top.headers);
    }
}

/// An agent's own choice of provider and model.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentModel {
    /// The provider's name.
    pub provider: Option<String>,
    /// The model.
    pub model: Option<String>,
}

/// Timeouts, in seconds.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutSettings {
    /// Establishing the connection.
    pub connect_secs: Option<f64>,
    /// From sending the request to the first token.
    pub first_token_secs: Option<f64>,
    /// Between two chunks of the stream.
    pub idle_secs: Option<f64>,
}

/// Retry settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    /// Retries after the first attempt.
    pub max_retries: Option<usize>,
    /// The first backoff delay.
    pub min_delay_ms: Option<u64>,
    /// The largest backoff delay.
    pub max_delay_ms: Option<u64>,
}

/// Circuit breaker settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSettings {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: Option<u32>,
    /// How long it stays open before a probe.
    pub cooldown_secs: Option<f64>,
}

/// The `[llm]` settings of one source.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmSettings {
    /// The default provider's name.
    pub provider: Option<String>,
    /// The default model.
    pub model: Option<String>,
    /// An output token limit per request.
    pub max_tokens: Option<u32>,
    /// Providers by name.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSettings>,
    /// Per-agent provider and model.
    #[serde(default)]
    pub agents: BTreeMap<String, AgentModel>,
    /// Timeouts.
    #[serde(default)]
    pub timeouts: TimeoutSettings,
    /// Retries.
    #[serde(default)]
    pub retry: RetrySettings,
    /// The circuit breaker.
    #[serde(default)]
    pub breaker: BreakerSettings,
    /// Prices per model, overriding the built-in table.
    #[serde(default)]
    pub prices: BTreeMap<String, Price>,
    /// The context window of the model, in tokens (default: by model family).
    pub context_window: Option<u64>,
    /// Tokens kept free for the reply (default: `max_tokens`, else a quarter
    /// of the window up to 8192).
    pub output_reserve: Option<u64>,
    /// The fill of the window (0.1 to 1) past which the context is
    /// compacted (default 0.8).
    pub compact_threshold: Option<f64>,
    /// The model that summarises older turns (default: the turn's own), of
    /// the same provider.
    pub compaction_model: Option<String>,
    /// Per-model context settings, overriding the general ones.
    #[serde(default)]
    pub models: BTreeMap<String, ModelSettings>,
}

/// One model's settings (`[llm.models."<name>"]`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// Its context window, in tokens.
    pub context_window: Option<u64>,
    /// Tokens kept free for its reply.
    pub output_reserve: Option<u64>,
    /// Which of its earlier reasoning is sent back with the history
    /// (`never`, `tool_calls`, `always`; default by model family).
    pub reasoning: Option<super::ReasoningReplay>,
    /// Anthropic: extended thinking, with this budget of tokens.
    pub thinking_budget: Option<u32>,
}

macro_rules! take {
    ($self:ident, $top:ident, $($field:ident).+) => {
        if $top.$($field).+.is_some() {
            $self.$($field).+ = $top.$($field).+;
        }
    };
}

impl LlmSettings {
    /// Overlays a higher-precedence source.
    pub fn overlay(&mut self, top: LlmSettings) {
        take!(self, top, provider);
        take!(self, top, model);
        take!(self, top, max_tokens);
        for (name, p) in top.providers {
            self.providers.entry(name).or_default().overlay(p);
        }
        for (slug, a) in top.agents {
            let entry = self.agents.entry(slug).or_default();
            if a.provider.is_some() {
                entry.provider = a.provider;
            }
            if a.model.is_some() {
                entry.model = a.model;
            }
        }
        take!(self, top, timeouts.connect_secs);
        take!(self, top, timeouts.first_token_secs);
        take!(self, top, timeouts.idle_secs);
        take!(self, top, retry.max_retries);
        take!(self, top, retry.min_delay_ms);
        take!(self, top, retry.max_delay_ms);
        take!(self, top, breaker.failure_threshold);
        take!(self, top, breaker.cooldown_secs);
        self.prices.extend(top.prices);
        take!(self, top, context_window);
        take!(self, top, output_reserve);
        take!(self, top, compact_threshold);
        take!(self, top, compaction_model);
        for (name, m) in top.models {
            let entry = self.models.entry(name).or_default();
            if m.context_window.is_some() {
                entry.context_window = m.context_window;
            }
            if m.output_reserve.is_some() {
                entry.output_reserve = m.output_reserve;
            }
            if m.reasoning.is_some() {
                entry.reasoning = m.reasoning;
            }
            if m.thinking_budget.is_some() {
                entry.thinking_budget = m.thinking_budget;
            }
        }
    }

    /// The environment's settings.
    pub fn from_env() -> Self {
        let mut s = LlmSettings {
            provider: env_var("CODELAB_PROVIDER"),
            model: env_var("CODELAB_MODEL"),
            ..Default::default()
        };
        for (name, key, url) in [
            ("openai", "OPENAI_API_KEY", "OPENAI_BASE_URL"),
            ("anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
        ] {
            let (key, url) = (env_var(key), env_var(url));
            if key.is_some() || url.is_some() {
                s.providers.insert(
                    name.to_owned(),
                    ProviderSettings {
                        api_key: key,
                        base_url: url,
                        ..Default::default()
                    },
                );
            }
        }
        s
    }

    /// Reads the `[llm]` table (`value`, of top-level key `llm`) of a config file.
    ///
    /// # Errors
    /// A type error or an unknown field, naming the file, the line and the
    /// dotted key (`llm.timeouts.idle_secs`).
    pub fn from_toml<'a>(
        doc: &TomlDoc<'a>,
        value: toml::Spanned<toml::de::DeValue<'a>>,
    ) -> Result<Self, ConfigError> {
        doc.value("llm", value)
    }

    /// Drops what a workspace file may not set (base URLs, keys, key
    /// variables, headers), with a warning naming the file.
    pub fn without_endpoints(mut self, path: &Path) -> Self {
        for (name, p) in &mut self.providers {
            if p.base_url.is_some()
                || p.api_key.is_some()
                || p.api_key_env.is_some()
                || !p.headers.is_empty()
            {
                tracing::warn!(
                    file = %path.display(),
                    provider = %name,
                    "ignoring base_url, api_key, api_key_env and headers from a workspace config; set them in the user config"
                );
            }
            p.base_url = None;
            p.api_key = None;
            p.api_key_env = None;
            p.headers.clear();
        }
        self
    }

    /// Reads the editor's settings: `{"llm": {...}}` or `{"codelab": {"llm": {...}}}`.
    ///
    /// # Errors
    /// When the `llm` value does not match the settings' shape.
    pub fn from_editor(value: &Value) -> Result<Option<Self>, EditorSettingsError> {
        let llm = value
            .get("llm")
            .or_else(|| value.get("codelab").and_then(|c| c.get("llm")));
        match llm {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_path_to_error::deserialize(v.clone())
                .map(Some)
                .map_err(|e| EditorSettingsError {
                    key: format!("llm.{}", e.path()),
                    reason: e.inner().to_string(),
                }),
        }
    }
}

/// Invalid model settings sent by an editor (initialization options or a
/// configuration change): the dotted key and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct EditorSettingsError {
    /// The dotted key (`llm.retry.max_retries`).
    pub key: String,
    /// Why it was refused.
    pub reason: String,
}

/// Timeouts, retry and breaker settings with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Resilience {
    /// Connect timeout.
    pub connect: Duration,
    /// First-token deadline.
    pub first_token: Duration,
    /// Idle timeout between chunks.
    pub idle: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// First backoff delay.
    pub min_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
    /// Failures that open the breaker.
    pub breaker_threshold: u32,
    /// Breaker cooldown.
    pub breaker_cooldown: Duration,
}

/// Everything needed to send one turn's requests.
#[derive(Debug, Clone)]
pub struct Target {
    /// The provider's configured name.
    pub provider: String,
    /// Its wire format.
    pub kind: ProviderKind,
    /// Where it is, with its secrets.
    pub endpoint: Endpoint,
    /// The model.
    pub model: String,
    /// The output token limit.
    pub max_tokens: Option<u32>,
    /// Timeouts, retry and breaker.
    pub resilience: Resilience,
    /// Prices.
    pub prices: PriceTable,
    /// The model's context window, reply reserve and compaction threshold.
    pub context: ContextLimits,
    /// The model that summarises older turns.
    pub compaction_model: String,
    /// Which earlier reasoning is sent back to the model.
    pub reasoning: super::ReasoningReplay,
    /// Anthropic: the extended-thinking budget, if enabled.
    pub thinking_budget: Option<u32>,
}

fn secs(v: Option<f64>, default: f64) -> Duration {
    Duration::try_from_secs_f64(v.unwrap_or(default).max(0.0)).unwrap_or(Duration::from_secs(3600))
}

const NOT_CONFIGURED_HINT: &str = "set OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server such as Ollama) \
     or ANTHROPIC_API_KEY, or add [llm.providers.<name>] to codelab.toml in the data directory";

impl LlmSettings {
    /// Every secret these settings hold (API keys and header values), to
    /// redact from events.
    pub fn secrets(&self) -> Vec<String> {
        self.providers
            .values()
            .flat_map(|p| p.api_key.iter().cloned().chain(p.headers.values().cloned()))
            .collect()
    }

    /// The timeouts, retry and breaker settings, with defaults.
    pub fn resilience(&self) -> Resilience {
        Resilience {
            connect: secs(self.timeouts.connect_secs, 10.0),
            first_token: secs(self.timeouts.first_token_secs, 60.0),
            idle: secs(self.timeouts.idle_secs, 30.0),
            max_retries: self.retry.max_retries.unwrap_or(3),
            min_delay: Duration::from_millis(self.retry.min_delay_ms.unwrap_or(500)),
            max_delay: Duration::from_millis(self.retry.max_delay_ms.unwrap_or(8000)),
            breaker_threshold: self.breaker.failure_threshold.unwrap_or(5),
            breaker_cooldown: secs(self.breaker.cooldown_secs, 30.0),
        }
    }

    /// The models these settings name, each with its provider (the default
    /// provider for a model named without one): the top-level model, each
    /// provider's, each agent's, and those of `[llm.models]`. In order, without
    /// repeats; a model whose provider cannot be told is left out.
    pub fn model_choices(&self) -> Vec<(String, String)> {
        let default = self.provider.clone().or_else(|| {
            (self.providers.len() == 1)
                .then(|| self.providers.keys().next().cloned())
                .flatten()
        });
        let mut out: Vec<(String, String)> = Vec::new();
        let mut push = |provider: Option<String>, model: Option<String>| {
            if let (Some(p), Some(m)) = (provider, model)
                && self.providers.contains_key(&p)
                && !out.iter().any(|(a, b)| *a == p && *b == m)
            {
                out.push((p, m));
            }
        };
        push(default.clone(), self.model.clone());
        for (name, p) in &self.providers {
            push(Some(name.clone()), p.model.clone());
        }
        for a in self.agents.values() {
            push(
                a.provider.clone().or_else(|| default.clone()),
                a.model.clone(),
            );
        }
        for m in self.models.keys() {
            push(default.clone(), Some(m.clone()));
        }
        out
    }

    /// Resolves the provider and model for `agent`.
    ///
    /// # Errors
    /// [`LlmError::NotConfigured`] naming what to set.
    pub fn resolve(&self, agent: Option<&str>) -> Result<Target, LlmError> {
        if self.providers.is_empty() {
            return Err(LlmError::NotConfigured(NOT_CONFIGURED_HINT.to_owned()));
        }
        let agent_choice = agent.and_then(|a| self.agents.get(a));
        let names = || {
            self.providers
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        };
        let name = match agent_choice
            .and_then(|a| a.provider.clone())
            .or_else(|| self.provider.clone())
        {
            Some(n) => n,
            None if self.providers.len() == 1 => {
                self.providers.keys().next().cloned().unwrap_or_default()
            }
            None => {
                return Err(LlmError::NotConfigured(format!(
                    "several providers are configured ({}); choose one with CODELAB_PROVIDER or llm.provider",
                    names()
                )));
            }
        };
        let Some(p) = self.providers.get(&name) else {
            return Err(LlmError::NotConfigured(format!(
                "provider `{name}` is not configured (configured: {}); {NOT_CONFIGURED_HINT}",
                names()
            )));
        };
        let kind = match (p.kind, name.as_str()) {
            (Some(k), _) => k,
            (None, "openai") => ProviderKind::Openai,
            (None, "anthropic") => ProviderKind::Anthropic,
            (None, other) => {
                return Err(LlmError::NotConfigured(format!(
                    "provider `{other}` has no kind: set llm.providers.{other}.kind to \"openai\" or \"anthropic\""
                )));
            }
        };
        let base_url = p.base_url.clone().unwrap_or_else(|| {
            match kind {
                ProviderKind::Openai => "https://api.openai.com/v1",
                ProviderKind::Anthropic => "https://api.anthropic.com/v1",
            }
            .to_owned()
        });
        let api_key = p
            .api_key
            .clone()
            .or_else(|| p.api_key_env.as_deref().and_then(env_var));
        let model = agent_choice
            .and_then(|a| a.model.clone())
            .or_else(|| self.model.clone())
            .or_else(|| p.model.clone())
            .ok_or_else(|| {
                LlmError::NotConfigured(format!(
                    "no model for provider `{name}`: set CODELAB_MODEL, llm.model or llm.providers.{name}.model"
                ))
            })?;
        let mut prices = PriceTable::default();
        prices.extend(self.prices.clone());
        let per_model = self.models.get(&model);
        let context = ContextLimits::new(
            &model,
            per_model
                .and_then(|m| m.context_window)
                .or(self.context_window),
            per_model
                .and_then(|m| m.output_reserve)
                .or(self.output_reserve),
            self.max_tokens,
            self.compact_threshold,
        );
        let compaction_model = self
            .compaction_model
            .clone()
            .unwrap_or_else(|| model.clone());
        let reasoning = per_model
            .and_then(|m| m.reasoning)
            .unwrap_or_else(|| super::ReasoningReplay::default_for(kind, &model));
        let thinking_budget = per_model.and_then(|m| m.thinking_budget);
        Ok(Target {
            provider: name,
            kind,
            endpoint: Endpoint {
                base_url,
                api_key,
                headers: p.headers.clone().into_iter().collect(),
            },
            model,
            max_tokens: self.max_tokens,
            resilience: self.resilience(),
            prices,
            context,
            compaction_model,
            reasoning,
            thinking_budget,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(kind: Option<ProviderKind>, url: &str, model: Option<&str>) -> ProviderSettings {
        ProviderSettings {
            kind,
            base_url: Some(url.into()),
            model: model.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn nothing_configured_names_what_to_set() {
        let err = LlmSettings::default()
            .resolve(None)
            .expect_err("not configured");
        assert!(err.to_string().contains("OPENAI_API_KEY"), "{err}");
        assert_eq!(err.reason(), "not_configured");
    }

    #[test]
    fn layers_override_field_by_field() {
        let mut s = LlmSettings::default();
        s.providers.insert(
            "local".into(),
            provider(
                Some(ProviderKind::Openai),
                "http://localhost:11434/v1",
                Some("llama3"),
            ),
        );
        // One provider: it is the default, with its own model.
        let t = s.resolve(None).expect("resolves");
        assert_eq!((t.provider.as_str(), t.model.as_str()), ("local", "llama3"));
        // A higher layer adds a provider and picks a model; the default must now be chosen.
        let mut top = LlmSettings::default();
        top.providers.insert(
            "anthropic".into(),
            ProviderSettings {
                api_key: Some("sk-ant".into()),
                ..Default::default()
            },
        );
        s.overlay(top);
        assert!(s.resolve(None).is_err(), "two providers and no choice");
        s.overlay(LlmSettings {
            provider: Some("anthropic".into()),
            model: Some("claude-sonnet-4".into()),
            ..Default::default()
        });
        let t = s.resolve(None).expect("resolves");
        assert_eq!(t.kind, ProviderKind::Anthropic);
        assert_eq!(t.endpoint.base_url, "https://api.anthropic.com/v1");
        assert_eq!(t.endpoint.api_key.as_deref(), Some("sk-ant"));
        assert_eq!(t.model, "claude-sonnet-4");
        // An agent names its own provider and model.
        s.agents.insert(
            "coder".into(),
            AgentModel {
                provider: Some("local".into()),
                model: Some("qwen-coder".into()),
            },
        );
        let t = s.resolve(Some("coder")).expect("resolves");
        assert_eq!(
            (t.provider.as_str(), t.model.as_str()),
            ("local", "qwen-coder")
        );
        let t = s.resolve(Some("ask")).expect("resolves");
        assert_eq!(t.provider, "anthropic");
    }

    fn llm_of(text: &str) -> Result<LlmSettings, ConfigError> {
        let doc = TomlDoc::new(Path::new("/w/.codelab/config.toml"), text);
        let mut root = doc.parse()?;
        match root.remove("llm") {
            Some(v) => LlmSettings::from_toml(&doc, v),
            None => Ok(LlmSettings::default()),
        }
    }

    #[test]
    fn workspace_files_cannot_redirect_keys_and_errors_name_the_line() {
        let s = llm_of(
            "[llm]\nmodel = \"gpt-4o\"\n[llm.providers.openai]\nbase_url = \"https://evil.example\"\napi_key = \"x\"\nmodel = \"m\"\n",
        )
        .expect("parses")
        .without_endpoints(Path::new("/w/.codelab/config.toml"));
        let p = &s.providers["openai"];
        assert_eq!(
            (p.base_url.as_ref(), p.api_key.as_ref(), p.model.as_deref()),
            (None, None, Some("m"))
        );
        assert_eq!(s.model.as_deref(), Some("gpt-4o"));

        let err = llm_of("[llm]\nmodel = \"a\"\nmodle = 3\n").expect_err("unknown field");
        assert!(
            err.to_string()
                .starts_with("/w/.codelab/config.toml:3: llm.modle: unknown field `modle`"),
            "{err}"
        );
        let err =
            llm_of("[llm.retry]\nmax_retries = 1\n\n[llm.prices.\"qwen2.5\"]\ninput = \"free\"\n")
                .expect_err("type error");
        assert!(
            err.to_string().starts_with(
                "/w/.codelab/config.toml:5: llm.prices.\"qwen2.5\".input: invalid type: string \"free\""
            ),
            "{err}"
        );
        assert_eq!(llm_of("").expect("empty"), LlmSettings::default());
    }

    #[test]
    fn editor_settings_in_both_shapes() {
        let a = LlmSettings::from_editor(&serde_json::json!({"llm": {"model": "x"}})).expect("ok");
        let b = LlmSettings::from_editor(&serde_json::json!({"codelab": {"llm": {"model": "x"}}}))
            .expect("ok");
        assert_eq!(a, b);
        assert_eq!(a.and_then(|s| s.model).as_deref(), Some("x"));
        let err = LlmSettings::from_editor(
            &serde_json::json!({"llm": {"retry": {"max_retries": "many"}}}),
        )
        .expect_err("bad");
        assert_eq!(err.key, "llm.retry.max_retries");
        assert!(err.to_string().contains("retry.max_retries"), "{err}");
    }
}
