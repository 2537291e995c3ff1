//! OpenAI Chat Completions, streamed; also what Ollama, vLLM, llama.cpp's
//! server, LM Studio, OpenRouter, LiteLLM and the CodeLab proxy speak.
//!
//! Tool calls arrive as deltas keyed by `index`; their id and name may come
//! in separate deltas and several calls may interleave. Arguments are parsed
//! when the reply is complete. The final chunk carries `usage` and no
//! choices (with `stream_options.include_usage`); `[DONE]` ends the stream.
//!
//! Reasoning arrives as `reasoning_content` deltas (DeepSeek, llama.cpp,
//! older vLLM) or `reasoning` deltas (vLLM, OpenRouter, Ollama); it goes
//! back as `reasoning_content` where the model's [`ReasoningReplay`] asks.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{
    ChatMessage, ChatRequest, Decoder, Endpoint, FinishReason, LlmError, LlmEvent, Provider,
    ProviderKind, ReasoningReplay, Usage, join_url,
};

/// The OpenAI Chat Completions format.
#[derive(Debug, Clone, Copy)]
pub struct OpenAi;

/// The request body.
pub fn body(req: &ChatRequest) -> Value {
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if !req.system.is_empty() {
        messages.push(json!({"role": "system", "content": req.system}));
    }
    for m in req.messages.iter() {
        messages.push(match m {
            ChatMessage::User { text } => json!({"role": "user", "content": text}),
            ChatMessage::Assistant {
                text,
                tool_calls,
                reasoning,
            } => {
                let mut msg = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
                let replay = match req.reasoning {
                    ReasoningReplay::Never => false,
                    ReasoningReplay::ToolCalls => !tool_calls.is_empty(),
                    ReasoningReplay::Always => true,
                };
                if replay {
                    // DeepSeek's thinking mode wants the field on every
                    // assistant message that made calls, even when empty.
                    msg["reasoning_content"] = json!(crate::domain::Reasoning::text_of(reasoning));
                }
                if !tool_calls.is_empty() {
                    msg["tool_calls"] = tool_calls
                        .iter()
                        .map(|c| {
                            json!({"id": c.id, "type": "function",
                                   "function": {"name": c.name, "arguments": c.arguments.to_string()}})
                        })
                        .collect();
                }
                msg
            }
            ChatMessage::Tool { call_id, content, .. } => {
                json!({"role": "tool", "tool_call_id": call_id, "content": content})
            }
        });
    }
    let mut body = json!({
        "model": req.model,
        "stream": true,
        "stream_options": {"include_usage": true},
        "messages": messages,
    });
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
    }
    if let Some(max) = req.max_tokens {
        body["max_tokens"] = json!(max);
    }
    body
}

impl Provider for OpenAi {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Openai
    }

    fn request(
        &self,
        http: &reqwest::Client,
        endpoint: &Endpoint,
        req: &ChatRequest,
    ) -> reqwest::RequestBuilder {
        let mut rb = http
            .post(join_url(&endpoint.base_url, "chat/completions"))
            .header("accept", "text/event-stream")
            .json(&body(req));
        if let Some(key) = &endpoint.api_key {
            rb = rb.bearer_auth(key);
        }
        for (k, v) in &endpoint.headers {
            rb = rb.header(k, v);
        }
        rb
    }

    fn decoder(&self) -> Box<dyn Decoder> {
        Box::new(OpenAiDecoder::default())
    }
}

/// A chunk without tool calls or usage: the shape of nearly every chunk of
/// a stream. Any other (tool calls, usage, an error instead of choices)
/// takes the general path.
#[derive(serde::Deserialize)]
struct FastChunk<'a> {
    #[serde(borrow)]
    choices: Option<Vec<FastChoice<'a>>>,
    #[serde(default)]
    usage: Option<serde::de::IgnoredAny>,
}

#[derive(serde::Deserialize)]
struct FastChoice<'a> {
    #[serde(borrow, default)]
    delta: FastDelta<'a>,
    #[serde(borrow, default)]
    finish_reason: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Default, serde::Deserialize)]
struct FastDelta<'a> {
    #[serde(borrow, default)]
    content: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning_content: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    tool_calls: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    function_call: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Default)]
struct PendingCall {
    id: Option<String>,
    name: Option<String>,
    args: String,
    started: bool,
}

/// Decodes Chat Completions chunks.
#[derive(Debug, Default)]
pub struct OpenAiDecoder {
    calls: BTreeMap<u64, PendingCall>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    done: bool,
    finished: bool,
}

fn finish_reason(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::EndTurn,
        "tool_calls" | "function_call" => FinishReason::ToolUse,
        "length" => FinishReason::MaxTokens,
        "content_filter" => FinishReason::Refusal,
        other => FinishReason::Other(other.to_owned()),
    }
}

fn usage(u: &Value) -> Usage {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let prompt = n(&u["prompt_tokens"]);
    let cached = n(&u["prompt_tokens_details"]["cached_tokens"]);
    Usage {
        input_tokens: prompt.saturating_sub(cached),
        output_tokens: n(&u["completion_tokens"]),
        cache_read_tokens: cached,
        cache_write_tokens: 0,
    }
}

impl OpenAiDecoder {
    fn tool_delta(&mut self, tc: &Value, out: &mut Vec<LlmEvent>) {
        let index = tc["index"].as_u64().unwrap_or(0);
        let call = self.calls.entry(index).or_default();
        if let Some(id) = tc["id"].as_str().filter(|s| !s.is_empty()) {
            call.id = Some(id.to_owned());
        }
        if let Some(name) = tc["function"]["name"].as_str().filter(|s| !s.is_empty()) {
            call.name.get_or_insert_with(String::new).push_str(name);
        }
        let piece = tc["function"]["arguments"].as_str().unwrap_or("");
        call.args.push_str(piece);
        if !call.started
            && let (Some(id), Some(name)) = (&call.id, &call.name)
        {
            call.started = true;
            out.push(LlmEvent::ToolCallStarted {
                id: id.clone(),
                name: name.clone(),
            });
            if !call.args.is_empty() {
                out.push(LlmEvent::ToolCallDelta {
                    id: id.clone(),
                    delta: call.args.clone(),
                });
            }
        } else if call.started && !piece.is_empty() {
            let id = call.id.clone().unwrap_or_default();
            out.push(LlmEvent::ToolCallDelta {
                id,
                delta: piece.to_owned(),
            });
        }
    }

    /// Everything still pending, in index order: the finished tool calls,
    /// the usage and the finish reason.
    fn complete(&mut self) -> Vec<LlmEvent> {
        if self.finished {
            return Vec::new();
        }
        self.finished = true;
        let mut out = Vec::new();
        for (index, call) in std::mem::take(&mut self.calls) {
            let id = call.id.unwrap_or_else(|| format!("call_{index}"));
            let name = call.name.unwrap_or_default();
            if !call.started {
                out.push(LlmEvent::ToolCallStarted {
                    id: id.clone(),
                    name: name.clone(),
                });
            }
            let arguments = super::ArgumentsError::parse(&call.args);
            out.push(LlmEvent::ToolCallFinished {
                id,
                name,
                arguments,
            });
        }
        if let Some(u) = self.usage.take() {
            out.push(LlmEvent::Usage(u));
        }
        let has_calls = out
            .iter()
            .any(|e| matches!(e, LlmEvent::ToolCallFinished { .. }));
        let reason = match self.finish.take() {
            Some(FinishReason::EndTurn) if has_calls => FinishReason::ToolUse,
            Some(r) => r,
            None if has_calls => FinishReason::ToolUse,
            None => FinishReason::EndTurn,
        };
        out.push(LlmEvent::Finish(reason));
        out
    }
}

impl Decoder for OpenAiDecoder {
    fn event(&mut self, _event: &str, data: &str) -> Result<Vec<LlmEvent>, LlmError> {
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(self.complete());
        }
        if data.is_empty() {
            return Ok(Vec::new());
        }
        // The common chunk (text or reasoning deltas, no tool calls, no
        // error) is read into borrowed fields without building a tree.
        if let Ok(fast) = serde_json::from_str::<FastChunk<'_>>(data)
            && let Some(choices) = fast.choices
            && fast.usage.is_none()
            && choices
                .iter()
                .all(|c| c.delta.tool_calls.is_none() && c.delta.function_call.is_none())
        {
            let mut out = Vec::new();
            for choice in choices {
                let delta = choice.delta;
                if let Some(r) = delta
                    .reasoning_content
                    .or(delta.reasoning)
                    .filter(|t| !t.is_empty())
                {
                    out.push(LlmEvent::ReasoningDelta(r.into_owned()));
                }
                if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                    out.push(LlmEvent::TextDelta(text.into_owned()));
                }
                if let Some(reason) = choice.finish_reason {
                    self.finish = Some(finish_reason(&reason));
                }
            }
            return Ok(out);
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| LlmError::Malformed(format!("{e} in chunk {}", truncate(data, 200))))?;
        if let Some(err) = chunk.get("error") {
            return Err(LlmError::Provider {
                kind: err["type"]
                    .as_str()
                    .or(err["code"].as_str())
                    .unwrap_or("error")
                    .to_owned(),
                message: err["message"]
                    .as_str()
                    .unwrap_or("unknown error")
                    .to_owned(),
            });
        }
        let mut out = Vec::new();
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage(u));
        }
        if let Some(choices) = chunk["choices"].as_array() {
            for choice in choices {
                let delta = &choice["delta"];
                if let Some(r) = delta["reasoning_content"]
                    .as_str()
                    .or_else(|| delta["reasoning"].as_str())
                    .filter(|t| !t.is_empty())
                {
                    out.push(LlmEvent::ReasoningDelta(r.to_owned()));
                }
                if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
                    out.push(LlmEvent::TextDelta(text.to_owned()));
                }
                if let Some(tcs) = delta["tool_calls"].as_array() {
                    for tc in tcs {
                        self.tool_delta(tc, &mut out);
                    }
                }
                if let Some(reason) = choice["finish_reason"].as_str() {
                    self.finish = Some(finish_reason(reason));
                }
            }
        } else if !chunk.get("usage").is_some_and(Value::is_object) {
            return Err(LlmError::Malformed(format!(
                "chunk without choices: {}",
                truncate(data, 200)
            )));
        }
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<LlmEvent>, LlmError> {
        if self.done || self.finish.is_some() {
            return Ok(self.complete());
        }
        Err(LlmError::StreamDropped(
            "the stream ended before the reply was complete".into(),
        ))
    }

    fn done(&self) -> bool {
        self.done
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(d: &mut OpenAiDecoder, chunks: &[Value]) -> Vec<LlmEvent> {
        let mut out = Vec::new();
        for c in chunks {
            out.extend(d.event("", &c.to_string()).expect("chunk"));
        }
        out.extend(d.event("", "[DONE]").expect("done"));
        out
    }

    #[test]
    fn assembles_interleaved_tool_calls_with_split_ids_and_names() {
        let mut d = OpenAiDecoder::default();
        let ev = feed(
            &mut d,
            &[
                json!({"choices":[{"delta":{"role":"assistant","content":"Let me "}}]}),
                json!({"choices":[{"delta":{"content":"look."}}]}),
                json!({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"arguments":""}}]}}]}),
                json!({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"read_file"}}]}}]}),
                json!({"choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"list_files","arguments":"{\"pa"}}]}}]}),
                json!({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"path\":"}}]}}]}),
                json!({"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"arguments":"th\":\"src\"}"}}]}}]}),
                json!({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"a.rs\"}"}}]}}]}),
                json!({"choices":[{"delta":{},"finish_reason":"tool_calls"}]}),
                json!({"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":60}}}),
            ],
        );
        let text: String = ev
            .iter()
            .filter_map(|e| match e {
                LlmEvent::TextDelta(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "Let me look.");
        let finished: Vec<_> = ev
            .iter()
            .filter_map(|e| match e {
                LlmEvent::ToolCallFinished {
                    id,
                    name,
                    arguments,
                } => Some((id.as_str(), name.as_str(), arguments.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            finished,
            vec![
                ("call_a", "read_file", Ok(json!({"path": "a.rs"}))),
                ("call_b", "list_files", Ok(json!({"path": "src"}))),
            ]
        );
        assert!(ev.contains(&LlmEvent::Usage(Usage {
            input_tokens: 40,
            output_tokens: 20,
            cache_read_tokens: 60,
            cache_write_tokens: 0
        })));
        assert_eq!(ev.last(), Some(&LlmEvent::Finish(FinishReason::ToolUse)));
        // Started precedes every delta of the same call.
        let started_a = ev
            .iter()
            .position(|e| matches!(e, LlmEvent::ToolCallStarted { id, .. } if id == "call_a"));
        let first_delta_a = ev
            .iter()
            .position(|e| matches!(e, LlmEvent::ToolCallDelta { id, .. } if id == "call_a"));
        assert!(started_a < first_delta_a);
    }

    #[test]
    fn invalid_arguments_are_reported_not_fatal() {
        let mut d = OpenAiDecoder::default();
        let ev = feed(
            &mut d,
            &[
                json!({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"x","arguments":"{oops"}}]},"finish_reason":"tool_calls"}]}),
            ],
        );
        assert!(ev.iter().any(|e| matches!(e, LlmEvent::ToolCallFinished { arguments: Err(m), .. } if m.to_string().contains("not valid JSON"))));
    }

    #[test]
    fn stream_cut_before_completion_is_an_error() {
        let mut d = OpenAiDecoder::default();
        d.event(
            "",
            &json!({"choices":[{"delta":{"content":"partial"}}]}).to_string(),
        )
        .expect("chunk");
        assert!(matches!(d.finish(), Err(LlmError::StreamDropped(_))));
        let mut d = OpenAiDecoder::default();
        assert!(matches!(
            d.event("", "{not json"),
            Err(LlmError::Malformed(_))
        ));
    }
}
