//! The metrics collector: a bus subscriber that keeps totals, per-session
//! figures and latency samples, and serves them as `codelab/getMetrics` and
//! as Prometheus text. Both views read the same figures, so they agree.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::events::{Event, EventBus, Subscription};
use crate::llm::breaker::BreakerState;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::domain::events::{EventKind, TurnEnded};
use crate::domain::{SessionId, TokenUsage};

/// Latency percentiles, in milliseconds, over the most recent samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct Percentiles {
    /// How many samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// Figures of one session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionMetrics {
    /// The session.
    #[ts(type = "string")]
    pub session_id: SessionId,
    /// The agent now handling it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub current_agent: Option<String>,
    /// Turns started.
    pub turns: u64,
    /// Turns ended, by stop reason.
    pub turns_by_stop_reason: std::collections::BTreeMap<String, u64>,
    /// Messages added.
    pub messages: u64,
    /// Tool calls, by `tool:outcome`.
    pub tool_calls: std::collections::BTreeMap<String, u64>,
    /// LLM requests (attempts).
    pub llm_requests: u64,
    /// Failed LLM requests, by reason.
    pub llm_failures: std::collections::BTreeMap<String, u64>,
    /// Tokens.
    pub tokens: TokenUsage,
    /// Cost in US dollars.
    pub cost_usd: f64,
    /// The last event's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "string")]
    pub last_activity: Option<DateTime<Utc>>,
}

/// `codelab/getMetrics` result: totals since the process started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSnapshot {
    /// Seconds since the process started.
    pub uptime_secs: f64,
    /// Sessions created.
    pub sessions_created: u64,
    /// Sessions deleted.
    pub sessions_deleted: u64,
    /// Turns started.
    pub turns: u64,
    /// Turns ended, by stop reason.
    pub turns_by_stop_reason: std::collections::BTreeMap<String, u64>,
    /// Messages added, by role.
    pub messages_by_role: std::collections::BTreeMap<String, u64>,
    /// Tool calls, by `tool:outcome` (completed, failed, rejected).
    pub tool_calls: std::collections::BTreeMap<String, u64>,
    /// Approval decisions, by decision.
    pub approvals: std::collections::BTreeMap<String, u64>,
    /// LLM requests (attempts).
    pub llm_requests: u64,
    /// Failed LLM requests, by classified reason.
    pub llm_failures: std::collections::BTreeMap<String, u64>,
    /// Tokens over all requests.
    pub tokens: TokenUsage,
    /// Cost in US dollars.
    pub cost_usd: f64,
    /// Turns per minute since start.
    pub turns_per_minute: f64,
    /// LLM requests per minute since start.
    pub llm_requests_per_minute: f64,
    /// Time to first token.
    pub time_to_first_token_ms: Percentiles,
    /// Turn duration.
    pub turn_duration_ms: Percentiles,
    /// Tool call duration.
    pub tool_duration_ms: Percentiles,
    /// Events published on the bus.
    pub events_published: u64,
    /// Events each subscriber lost to a full queue.
    pub subscriber_lag: std::collections::BTreeMap<String, u64>,
}

/// Latency samples kept per figure.
const SAMPLES: usize = 10_000;

#[derive(Debug, Default)]
struct Samples(VecDeque<f64>);

impl Samples {
    fn push(&mut self, v: f64) {
        if self.0.len() == SAMPLES {
            self.0.pop_front();
        }
        self.0.push_back(v);
    }

    fn percentiles(&self) -> Percentiles {
        if self.0.is_empty() {
            return Percentiles::default();
        }
        let mut v: Vec<f64> = self.0.iter().copied().collect();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Percentiles {
            count: v.len() as u64,
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: v[v.len() - 1],
        }
    }
}

#[derive(Debug, Default)]
struct Figures {
    snapshot: MetricsSnapshot,
    ttft: Samples,
    turn: Samples,
    tool: Samples,
    sessions: HashMap<SessionId, SessionMetrics>,
}

fn bump(map: &mut BTreeMap<String, u64>, key: impl Into<String>) {
    *map.entry(key.into()).or_default() += 1;
}

impl Figures {
    fn apply(&mut self, e: &Event) {
        let s = &mut self.snapshot;
        let session = e.session_id.map(|id| {
            let m = self.sessions.entry(id).or_insert_with(|| SessionMetrics {
                session_id: id,
                ..Default::default()
            });
            m.last_activity = Some(e.at);
            m
        });
        match &e.kind {
            EventKind::SessionCreated(p) => {
                s.sessions_created += 1;
                if let Some(m) = session {
                    m.current_agent = Some(p.agent.clone());
                }
            }
            EventKind::SessionDeleted(_) => {
                s.sessions_deleted += 1;
                if let Some(id) = e.session_id {
                    self.sessions.remove(&id);
                }
            }
            EventKind::MessageAdded(p) => {
                bump(&mut s.messages_by_role, p.role.as_str());
                if let Some(m) = session {
                    m.messages += 1;
                }
            }
            EventKind::ProcessingStarted(p) => {
                s.turns += 1;
                if let Some(m) = session {
                    m.turns += 1;
                    m.current_agent = Some(p.agent.clone());
                }
            }
            EventKind::ProcessingCompleted(TurnEnded {
                stop_reason,
                duration_ms,
                ..
            })
            | EventKind::TurnFailed(TurnEnded {
                stop_reason,
                duration_ms,
                ..
            }) => {
                bump(&mut s.turns_by_stop_reason, stop_reason.as_str());
                self.turn.push(*duration_ms as f64);
                if let Some(m) = session {
                    bump(&mut m.turns_by_stop_reason, stop_reason.as_str());
                }
            }
            EventKind::AgentSwitched(p) => {
                if let Some(m) = session {
                    m.current_agent = Some(p.to.clone());
                }
            }
            EventKind::ToolCompleted(p) | EventKind::ToolFailed(p) => {
                let key = format!("{}:{}", p.tool, p.outcome.as_str());
                bump(&mut s.tool_calls, key.clone());
                self.tool.push(p.duration_ms as f64);
                if let Some(m) = session {
                    bump(&mut m.tool_calls, key);
                }
            }
            EventKind::DecisionMade(p) => bump(&mut s.approvals, p.decision.as_str()),
            EventKind::RequestStarted(_) => {
                s.llm_requests += 1;
                if let Some(m) = session {
                    m.llm_requests += 1;
                }
            }
            EventKind::RequestCompleted(p) => {
                s.tokens.add(&p.usage);
                s.cost_usd += p.cost_usd;
                if let Some(ms) = p.time_to_first_token_ms {
                    self.ttft.push(ms as f64);
                }
                if let Some(m) = session {
                    m.tokens.add(&p.usage);
                    m.cost_usd += p.cost_usd;
                }
            }
            EventKind::RequestFailed(p) => {
                bump(&mut s.llm_failures, p.reason.clone());
                if let Some(m) = session {
                    bump(&mut m.llm_failures, p.reason.clone());
                }
            }
            EventKind::ExecutionRequested(_)
            | EventKind::ContextCompacted(_)
            | EventKind::ApprovalRequired(_)
            | EventKind::Cleanup(_) => {}
        }
    }
}

/// The collector. Share it behind an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    figures: Mutex<Figures>,
    started: Instant,
    subscription: u64,
    breakers: Mutex<Vec<(String, BreakerState)>>,
    /// With a shared store: this instance's id, a label on every series (each
    /// instance serves its own figures).
    instance: Mutex<Option<String>>,
}

impl Metrics {
    /// Subscribes to the bus and starts the collecting task.
    pub fn start(bus: &Arc<EventBus>) -> Arc<Self> {
        let sub = bus.subscribe("metrics", 65_536, None);
        let metrics = Arc::new(Self {
            figures: Mutex::new(Figures::default()),
            started: Instant::now(),
            subscription: sub.id,
            breakers: Mutex::new(Vec::new()),
            instance: Mutex::new(None),
        });
        tokio::spawn(collect(Arc::clone(&metrics), sub));
        metrics
    }

    fn lock(&self) -> MutexGuard<'_, Figures> {
        self.figures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until every event published so far is counted.
    pub async fn sync(&self, bus: &EventBus) {
        bus.flush(self.subscription).await;
    }

    /// Records the providers' breaker states for the next scrape.
    pub fn set_breakers(&self, states: Vec<(String, BreakerState)>) {
        *self
            .breakers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = states;
    }

    /// Totals and rates.
    pub fn snapshot(&self, bus: &EventBus) -> MetricsSnapshot {
        let f = self.lock();
        let mut s = f.snapshot.clone();
        s.uptime_secs = self.started.elapsed().as_secs_f64();
        let minutes = (s.uptime_secs / 60.0).max(1.0 / 60.0);
        s.turns_per_minute = s.turns as f64 / minutes;
        s.llm_requests_per_minute = s.llm_requests as f64 / minutes;
        s.time_to_first_token_ms = f.ttft.percentiles();
        s.turn_duration_ms = f.turn.percentiles();
        s.tool_duration_ms = f.tool.percentiles();
        s.events_published = bus.published();
        s.subscriber_lag = bus.lag().into_iter().collect();
        s
    }

    /// One session's figures.
    pub fn session(&self, id: SessionId) -> Option<SessionMetrics> {
        self.lock().sessions.get(&id).cloned()
    }

    /// Sessions with figures, newest (by id) first, strictly before `before`.
    pub fn sessions(&self, before: Option<SessionId>, limit: usize) -> (Vec<SessionMetrics>, bool) {
        let f = self.lock();
        let mut ids: Vec<SessionId> = f
            .sessions
            .keys()
            .copied()
            .filter(|id| before.is_none_or(|b| *id < b))
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let more = ids.len() > limit;
        (
            ids.into_iter()
                .take(limit)
                .filter_map(|id| f.sessions.get(&id).cloned())
                .collect(),
            more,
        )
    }

    /// Labels every series with `instance` (several instances over one
    /// shared store).
    pub fn set_instance(&self, instance: String) {
        *self
            .instance
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(instance);
    }

    /// The Prometheus text exposition of the same figures.
    pub fn prometheus(self: &Arc<Self>, bus: &Arc<EventBus>) -> String {
        let instance = self
            .instance
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut registry = match instance {
            Some(i) => prometheus_client::registry::Registry::with_prefix_and_labels(
                "codelab",
                [(
                    std::borrow::Cow::Borrowed("instance"),
                    std::borrow::Cow::Owned(i),
                )]
                .into_iter(),
            ),
            None => prometheus_client::registry::Registry::with_prefix("codelab"),
        };
        registry.register_collector(Box::new(Exposition {
            metrics: Arc::clone(self),
            bus: Arc::clone(bus),
        }));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

async fn collect(metrics: Arc<Metrics>, mut sub: Subscription) {
    while let Some(e) = sub.next().await {
        metrics.lock().apply(&e);
    }
}

#[derive(Debug)]
struct Exposition {
    metrics: Arc<Metrics>,
    bus: Arc<EventBus>,
}

fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    ConstCounter::new(v).encode(enc.encode_descriptor(name, help, None, MetricType::Counter)?)
}

fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: f64,
) -> Result<(), std::fmt::Error> {
    ConstGauge::new(v).encode(enc.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

fn labelled(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    labels: &[&str],
    map: &BTreeMap<String, u64>,
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (key, v) in map {
        let values: Vec<&str> = if labels.len() == 2 {
            key.splitn(2, ':').collect()
        } else {
            vec![key.as_str()]
        };
        let set: Vec<(String, String)> = labels
            .iter()
            .zip(values)
            .map(|(l, v)| ((*l).to_owned(), v.to_owned()))
            .collect();
        ConstCounter::new(*v).encode(m.encode_family(&set)?)?;
    }
    Ok(())
}

fn quantiles(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    p: &Percentiles,
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (q, v) in [
        ("0.5", p.p50),
        ("0.9", p.p90),
        ("0.99", p.p99),
        ("1", p.max),
    ] {
        let set = vec![("quantile".to_owned(), q.to_owned())];
        ConstGauge::new(v / 1000.0).encode(m.encode_family(&set)?)?;
    }
    Ok(())
}

impl Collector for Exposition {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.metrics.snapshot(&self.bus);
        gauge(
            &mut enc,
            "uptime_seconds",
            "Seconds since the process started",
            s.uptime_secs,
        )?;
        counter(
            &mut enc,
            "sessions_created",
            "Sessions created",
            s.sessions_created,
        )?;
        counter(
            &mut enc,
            "sessions_deleted",
            "Sessions deleted",
            s.sessions_deleted,
        )?;
        counter(&mut enc, "turns", "Turns started", s.turns)?;
        labelled(
            &mut enc,
            "turns_completed",
            "Turns ended, by stop reason",
            &["stop_reason"],
            &s.turns_by_stop_reason,
        )?;
        labelled(
            &mut enc,
            "messages",
            "Messages added, by role",
            &["role"],
            &s.messages_by_role,
        )?;
        labelled(
            &mut enc,
            "tool_calls",
            "Tool calls, by tool and outcome",
            &["tool", "outcome"],
            &s.tool_calls,
        )?;
        labelled(
            &mut enc,
            "approvals",
            "Approval decisions",
            &["decision"],
            &s.approvals,
        )?;
        counter(
            &mut enc,
            "llm_requests",
            "LLM requests (attempts)",
            s.llm_requests,
        )?;
        labelled(
            &mut enc,
            "llm_failures",
            "Failed LLM requests, by reason",
            &["reason"],
            &s.llm_failures,
        )?;
        let t = s.tokens;
        let tokens: BTreeMap<String, u64> = [
            ("input", t.input_tokens),
            ("output", t.output_tokens),
            ("cache_read", t.cache_read_tokens),
            ("cache_write", t.cache_write_tokens),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        labelled(&mut enc, "tokens", "Tokens, by kind", &["kind"], &tokens)?;
        gauge(
            &mut enc,
            "cost_usd",
            "Cost of LLM requests in US dollars",
            s.cost_usd,
        )?;
        quantiles(
            &mut enc,
            "time_to_first_token_seconds",
            "Time to first token",
            &s.time_to_first_token_ms,
        )?;
        quantiles(
            &mut enc,
            "turn_duration_seconds",
            "Turn duration",
            &s.turn_duration_ms,
        )?;
        quantiles(
            &mut enc,
            "tool_duration_seconds",
            "Tool call duration",
            &s.tool_duration_ms,
        )?;
        counter(
            &mut enc,
            "events_published",
            "Events published on the bus",
            s.events_published,
        )?;
        labelled(
            &mut enc,
            "subscriber_lagged_events",
            "Events a subscriber lost to a full queue",
            &["subscriber"],
            &s.subscriber_lag,
        )?;
        let breakers = self
            .metrics
            .breakers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut m = enc.encode_descriptor(
            "provider_breaker_open",
            "1 when a provider's circuit breaker is open",
            None,
            MetricType::Gauge,
        )?;
        for (provider, state) in breakers {
            let set = vec![("provider".to_owned(), provider)];
            ConstGauge::new(i64::from(state != BreakerState::Closed))
                .encode(m.encode_family(&set)?)?;
        }
        Ok(())
    }
}
