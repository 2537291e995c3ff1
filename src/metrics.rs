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
use serde_json::Value;
use uuid::Uuid;

use crate::events::{Category, Event, EventBus, Subscription};
use crate::llm::breaker::BreakerState;
use crate::protocol::types::{MetricsSnapshot, Percentiles, SessionMetrics, TokenUsage};

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
    sessions: HashMap<Uuid, SessionMetrics>,
}

fn add_usage(t: &mut TokenUsage, u: &Value) {
    let n = |k: &str| u[k].as_u64().unwrap_or(0);
    t.input_tokens += n("inputTokens");
    t.output_tokens += n("outputTokens");
    t.cache_read_tokens += n("cacheReadTokens");
    t.cache_write_tokens += n("cacheWriteTokens");
}

fn bump(map: &mut BTreeMap<String, u64>, key: impl Into<String>) {
    *map.entry(key.into()).or_default() += 1;
}

impl Figures {
    fn apply(&mut self, e: &Event) {
        let p = &e.payload;
        let s = &mut self.snapshot;
        let str_of = |k: &str| p[k].as_str().unwrap_or("unknown").to_owned();
        let session = e.session_id.map(|id| {
            let m = self.sessions.entry(id).or_insert_with(|| SessionMetrics {
                session_id: id,
                ..Default::default()
            });
            m.last_activity = Some(e.at);
            m
        });
        match (e.category, e.kind.as_str()) {
            (Category::Session, "created") => {
                s.sessions_created += 1;
                if let Some(m) = session {
                    m.current_agent = p["agent"].as_str().map(str::to_owned);
                }
            }
            (Category::Session, "deleted") => {
                s.sessions_deleted += 1;
                if let Some(id) = e.session_id {
                    self.sessions.remove(&id);
                }
            }
            (Category::Session, "messageAdded") => {
                bump(&mut s.messages_by_role, str_of("role"));
                if let Some(m) = session {
                    m.messages += 1;
                }
            }
            (Category::Agent, "processingStarted") => {
                s.turns += 1;
                if let Some(m) = session {
                    m.turns += 1;
                    m.current_agent = p["agent"].as_str().map(str::to_owned);
                }
            }
            (Category::Agent, "processingCompleted" | "error") => {
                bump(&mut s.turns_by_stop_reason, str_of("stopReason"));
                if let Some(ms) = p["durationMs"].as_f64() {
                    self.turn.push(ms);
                }
                if let Some(m) = session {
                    bump(&mut m.turns_by_stop_reason, str_of("stopReason"));
                }
            }
            (Category::Agent, "switched") => {
                if let Some(m) = session {
                    m.current_agent = p["to"].as_str().map(str::to_owned);
                }
            }
            (Category::Tool, "completed" | "failed") => {
                let key = format!("{}:{}", str_of("tool"), str_of("outcome"));
                bump(&mut s.tool_calls, key.clone());
                if let Some(ms) = p["durationMs"].as_f64() {
                    self.tool.push(ms);
                }
                if let Some(m) = session {
                    bump(&mut m.tool_calls, key);
                }
            }
            (Category::Approval, "decisionMade") => bump(&mut s.approvals, str_of("decision")),
            (Category::Llm, "requestStarted") => {
                s.llm_requests += 1;
                if let Some(m) = session {
                    m.llm_requests += 1;
                }
            }
            (Category::Llm, "requestCompleted") => {
                add_usage(&mut s.tokens, &p["usage"]);
                let cost = p["costUsd"].as_f64().unwrap_or(0.0);
                s.cost_usd += cost;
                if let Some(ms) = p["timeToFirstTokenMs"].as_f64() {
                    self.ttft.push(ms);
                }
                if let Some(m) = session {
                    add_usage(&mut m.tokens, &p["usage"]);
                    m.cost_usd += cost;
                }
            }
            (Category::Llm, "requestFailed") => {
                bump(&mut s.llm_failures, str_of("reason"));
                if let Some(m) = session {
                    bump(&mut m.llm_failures, str_of("reason"));
                }
            }
            _ => {}
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
    pub fn session(&self, id: Uuid) -> Option<SessionMetrics> {
        self.lock().sessions.get(&id).cloned()
    }

    /// Sessions with figures, newest (by id) first, strictly before `before`.
    pub fn sessions(&self, before: Option<Uuid>, limit: usize) -> (Vec<SessionMetrics>, bool) {
        let f = self.lock();
        let mut ids: Vec<Uuid> = f
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

    /// The Prometheus text exposition of the same figures.
    pub fn prometheus(self: &Arc<Self>, bus: &Arc<EventBus>) -> String {
        let mut registry = prometheus_client::registry::Registry::with_prefix("codelab");
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
