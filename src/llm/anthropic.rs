//! Anthropic Messages, streamed.
//!
//! Events: `message_start` (input usage), `content_block_start` (text or
//! `tool_use` with id and name), `content_block_delta` (`text_delta`,
//! `input_json_delta`), `content_block_stop` (a tool call is complete),
//! `message_delta` (stop reason, output usage), `message_stop`, `ping`, and
//! `error`. Unknown event types are ignored, as Anthropic asks.
//!
//! Extended thinking (a model's `thinking_budget`): `thinking` blocks stream
//! `thinking_delta`s and end with a `signature_delta`; `redacted_thinking`
//! blocks carry opaque `data`. Both go back, signed, before the text and
//! tool calls of their assistant message (the API requires them during tool
//! use); a block without a signature (another provider's reasoning) never
//! does.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::openai::truncate;
use super::{
    ChatMessage, ChatRequest, Decoder, Endpoint, FinishReason, LlmError, LlmEvent, Provider,
    ProviderKind, ReasoningReplay, Usage, join_url,
};

/// The API version sent in `anthropic-version`.
pub const API_VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the API; this is used when the request sets none.
pub const DEFAULT_MAX_TOKENS: u32 = 8192;

/// The Anthropic Messages format.
#[derive(Debug, Clone, Copy)]
pub struct Anthropic;

/// Marks a content block, tool or system block as a prompt-cache breakpoint.
fn cache_breakpoint(v: &mut Value) {
    v["cache_control"] = json!({"type": "ephemeral"});
}

/// The request body. Consecutive messages of one role are merged, since the
/// API wants user and assistant to alternate; tool results are user content.
///
/// Prompt caching: three `cache_control` breakpoints (the API allows four):
/// the last tool, the system prompt, and the last block of the last message.
/// Tools, system prompt and history are serialised the same way on every
/// request, so within a turn each request reads from the cache what the
/// previous one wrote and pays full price only for what is new.
pub fn body(req: &ChatRequest) -> Value {
    let mut messages: Vec<(String, Vec<Value>)> = Vec::new();
    let mut push = |role: &str, blocks: Vec<Value>| match messages.last_mut() {
        Some((r, content)) if r == role => content.extend(blocks),
        _ => messages.push((role.to_owned(), blocks)),
    };
    for m in req.messages.iter() {
        match m {
            ChatMessage::User { text } => push("user", vec![json!({"type": "text", "text": text})]),
            ChatMessage::Assistant {
                text,
                tool_calls,
                reasoning,
            } => {
                let mut blocks = Vec::new();
                if req.reasoning != ReasoningReplay::Never {
                    for r in reasoning {
                        if let Some(data) = &r.redacted {
                            blocks.push(json!({"type": "redacted_thinking", "data": data}));
                        } else if let Some(sig) = r.signature.as_ref().filter(|s| !s.is_empty()) {
                            blocks.push(
                                json!({"type": "thinking", "thinking": r.text, "signature": sig}),
                            );
                        }
                    }
                }
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                for c in tool_calls {
                    blocks.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}));
                }
                push("assistant", blocks);
            }
            ChatMessage::Tool {
                call_id,
                content,
                is_error,
                ..
            } => push(
                "user",
                vec![
                    json!({"type": "tool_result", "tool_use_id": call_id, "content": content, "is_error": is_error}),
                ],
            ),
        }
    }
    if let Some(block) = messages
        .last_mut()
        .and_then(|(_, content)| content.last_mut())
    {
        cache_breakpoint(block);
    }
    let mut max_tokens = req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    if let Some(budget) = req.thinking_budget {
        // The budget counts within max_tokens; leave room for the answer.
        max_tokens = max_tokens.max(budget.saturating_add(DEFAULT_MAX_TOKENS / 2));
    }
    let mut body = json!({
        "model": req.model,
        "max_tokens": max_tokens,
        "stream": true,
        "messages": messages.into_iter().map(|(role, content)| json!({"role": role, "content": content})).collect::<Vec<_>>(),
    });
    if let Some(budget) = req.thinking_budget {
        body["thinking"] = json!({"type": "enabled", "budget_tokens": budget});
    }
    if !req.system.is_empty() {
        let mut block = json!({"type": "text", "text": req.system});
        cache_breakpoint(&mut block);
        body["system"] = json!([block]);
    }
    if !req.tools.is_empty() {
        let mut tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
        if let Some(last) = tools.last_mut() {
            cache_breakpoint(last);
        }
        body["tools"] = json!(tools);
    }
    body
}

impl Provider for Anthropic {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Anthropic
    }

    fn request(
        &self,
        http: &reqwest::Client,
        endpoint: &Endpoint,
        req: &ChatRequest,
    ) -> reqwest::RequestBuilder {
        let mut rb = http
            .post(join_url(&endpoint.base_url, "messages"))
            .header("accept", "text/event-stream")
            .header("anthropic-version", API_VERSION)
            .json(&body(req));
        if let Some(key) = &endpoint.api_key {
            rb = rb.header("x-api-key", key);
        }
        for (k, v) in &endpoint.headers {
            rb = rb.header(k, v);
        }
        rb
    }

    fn decoder(&self) -> Box<dyn Decoder> {
        Box::new(AnthropicDecoder::default())
    }
}

#[derive(Debug)]
enum Block {
    Text,
    Tool {
        id: String,
        name: String,
        json: String,
    },
    Other,
}

/// Decodes Messages stream events.
#[derive(Debug, Default)]
pub struct AnthropicDecoder {
    blocks: BTreeMap<u64, Block>,
    usage: Usage,
    stop: Option<FinishReason>,
    done: bool,
}

fn stop_reason(s: &str) -> FinishReason {
    match s {
        "end_turn" | "stop_sequence" => FinishReason::EndTurn,
        "tool_use" => FinishReason::ToolUse,
        "max_tokens" => FinishReason::MaxTokens,
        "refusal" => FinishReason::Refusal,
        other => FinishReason::Other(other.to_owned()),
    }
}

fn finish_tool(id: String, name: String, json: &str) -> LlmEvent {
    let arguments = super::ArgumentsError::parse(json);
    LlmEvent::ToolCallFinished {
        id,
        name,
        arguments,
    }
}

impl Decoder for AnthropicDecoder {
    fn event(&mut self, event: &str, data: &str) -> Result<Vec<LlmEvent>, LlmError> {
        if data.trim().is_empty() {
            return Ok(Vec::new());
        }
        let v: Value = serde_json::from_str(data).map_err(|e| {
            LlmError::Malformed(format!("{e} in event {event:?}: {}", truncate(data, 200)))
        })?;
        let kind = v["type"].as_str().unwrap_or(event);
        let index = v["index"].as_u64().unwrap_or(0);
        let n = |x: &Value| x.as_u64().unwrap_or(0);
        let mut out = Vec::new();
        match kind {
            "message_start" => {
                let u = &v["message"]["usage"];
                self.usage.input_tokens = n(&u["input_tokens"]);
                self.usage.cache_read_tokens = n(&u["cache_read_input_tokens"]);
                self.usage.cache_write_tokens = n(&u["cache_creation_input_tokens"]);
                self.usage.output_tokens = n(&u["output_tokens"]);
            }
            "content_block_start" => {
                let block = &v["content_block"];
                match block["type"].as_str() {
                    Some("text") => {
                        if let Some(t) = block["text"].as_str().filter(|t| !t.is_empty()) {
                            out.push(LlmEvent::TextDelta(t.to_owned()));
                        }
                        self.blocks.insert(index, Block::Text);
                    }
                    Some("thinking") => {
                        if let Some(t) = block["thinking"].as_str().filter(|t| !t.is_empty()) {
                            out.push(LlmEvent::ReasoningDelta(t.to_owned()));
                        }
                        self.blocks.insert(index, Block::Other);
                    }
                    Some("redacted_thinking") => {
                        out.push(LlmEvent::RedactedReasoning(
                            block["data"].as_str().unwrap_or_default().to_owned(),
                        ));
                        self.blocks.insert(index, Block::Other);
                    }
                    Some("tool_use") => {
                        let id = block["id"].as_str().unwrap_or_default().to_owned();
                        let name = block["name"].as_str().unwrap_or_default().to_owned();
                        if id.is_empty() || name.is_empty() {
                            return Err(LlmError::Malformed(format!(
                                "tool_use block without id or name: {}",
                                truncate(data, 200)
                            )));
                        }
                        out.push(LlmEvent::ToolCallStarted {
                            id: id.clone(),
                            name: name.clone(),
                        });
                        self.blocks.insert(
                            index,
                            Block::Tool {
                                id,
                                name,
                                json: String::new(),
                            },
                        );
                    }
                    _ => {
                        self.blocks.insert(index, Block::Other);
                    }
                }
            }
            "content_block_delta" => {
                let delta = &v["delta"];
                match (delta["type"].as_str(), self.blocks.get_mut(&index)) {
                    (Some("text_delta"), _) => {
                        if let Some(t) = delta["text"].as_str().filter(|t| !t.is_empty()) {
                            out.push(LlmEvent::TextDelta(t.to_owned()));
                        }
                    }
                    (Some("thinking_delta"), _) => {
                        if let Some(t) = delta["thinking"].as_str().filter(|t| !t.is_empty()) {
                            out.push(LlmEvent::ReasoningDelta(t.to_owned()));
                        }
                    }
                    (Some("signature_delta"), _) => {
                        if let Some(s) = delta["signature"].as_str().filter(|s| !s.is_empty()) {
                            out.push(LlmEvent::ReasoningSignature(s.to_owned()));
                        }
                    }
                    (Some("input_json_delta"), Some(Block::Tool { id, json, .. })) => {
                        let piece = delta["partial_json"].as_str().unwrap_or_default();
                        json.push_str(piece);
                        if !piece.is_empty() {
                            out.push(LlmEvent::ToolCallDelta {
                                id: id.clone(),
                                delta: piece.to_owned(),
                            });
                        }
                    }
                    (Some("input_json_delta"), _) => {
                        return Err(LlmError::Malformed(format!(
                            "input_json_delta for block {index}, which is not a tool_use"
                        )));
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(Block::Tool { id, name, json }) = self.blocks.remove(&index) {
                    out.push(finish_tool(id, name, &json));
                }
            }
            "message_delta" => {
                if let Some(r) = v["delta"]["stop_reason"].as_str() {
                    self.stop = Some(stop_reason(r));
                }
                // Cumulative counts; newer API versions repeat the input counts here.
                let u = &v["usage"];
                if let Some(o) = u["output_tokens"].as_u64() {
                    self.usage.output_tokens = o;
                }
                if let Some(i) = u["input_tokens"].as_u64() {
                    self.usage.input_tokens = i;
                }
                if let Some(c) = u["cache_read_input_tokens"].as_u64() {
                    self.usage.cache_read_tokens = c;
                }
                if let Some(c) = u["cache_creation_input_tokens"].as_u64() {
                    self.usage.cache_write_tokens = c;
                }
            }
            "message_stop" => {
                self.done = true;
                out.extend(self.pending_tools());
                out.push(LlmEvent::Usage(self.usage));
                out.push(LlmEvent::Finish(
                    self.stop.take().unwrap_or(FinishReason::EndTurn),
                ));
            }
            "error" => {
                return Err(LlmError::Provider {
                    kind: v["error"]["type"].as_str().unwrap_or("error").to_owned(),
                    message: v["error"]["message"]
                        .as_str()
                        .unwrap_or("unknown error")
                        .to_owned(),
                });
            }
            _ => {} // ping, and event types added later
        }
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<LlmEvent>, LlmError> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(LlmError::StreamDropped(
                "the stream ended before message_stop".into(),
            ))
        }
    }

    fn done(&self) -> bool {
        self.done
    }
}

impl AnthropicDecoder {
    fn pending_tools(&mut self) -> Vec<LlmEvent> {
        std::mem::take(&mut self.blocks)
            .into_values()
            .filter_map(|b| match b {
                Block::Tool { id, name, json } => Some(finish_tool(id, name, &json)),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ToolCallRequest;

    #[test]
    fn decodes_text_and_tool_use() {
        let mut d = AnthropicDecoder::default();
        let events = [
            (
                "message_start",
                json!({"type":"message_start","message":{"usage":{"input_tokens":12,"cache_read_input_tokens":5,"cache_creation_input_tokens":3,"output_tokens":1}}}),
            ),
            (
                "content_block_start",
                json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            ),
            ("ping", json!({"type":"ping"})),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi "}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"there"}}),
            ),
            (
                "content_block_stop",
                json!({"type":"content_block_stop","index":0}),
            ),
            (
                "content_block_start",
                json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"read_file","input":{}}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"path\": \"a"}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":".rs\"}"}}),
            ),
            (
                "content_block_stop",
                json!({"type":"content_block_stop","index":1}),
            ),
            ("brand_new_event", json!({"type":"brand_new_event"})),
            (
                "message_delta",
                json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}}),
            ),
            ("message_stop", json!({"type":"message_stop"})),
        ];
        let mut out = Vec::new();
        for (e, data) in events {
            out.extend(d.event(e, &data.to_string()).expect("event"));
        }
        assert!(d.done());
        assert!(d.finish().expect("done").is_empty());
        assert_eq!(
            out,
            vec![
                LlmEvent::TextDelta("Hi ".into()),
                LlmEvent::TextDelta("there".into()),
                LlmEvent::ToolCallStarted {
                    id: "toolu_1".into(),
                    name: "read_file".into()
                },
                LlmEvent::ToolCallDelta {
                    id: "toolu_1".into(),
                    delta: "{\"path\": \"a".into()
                },
                LlmEvent::ToolCallDelta {
                    id: "toolu_1".into(),
                    delta: ".rs\"}".into()
                },
                LlmEvent::ToolCallFinished {
                    id: "toolu_1".into(),
                    name: "read_file".into(),
                    arguments: Ok(json!({"path": "a.rs"}))
                },
                LlmEvent::Usage(Usage {
                    input_tokens: 12,
                    output_tokens: 30,
                    cache_read_tokens: 5,
                    cache_write_tokens: 3
                }),
                LlmEvent::Finish(FinishReason::ToolUse),
            ]
        );
    }

    #[test]
    fn error_events_and_cut_streams() {
        let mut d = AnthropicDecoder::default();
        let err = d
            .event(
                "error",
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            )
            .expect_err("error event");
        assert_eq!(err.reason(), "provider_error");
        assert!(err.retryable());
        let mut d = AnthropicDecoder::default();
        assert!(matches!(d.finish(), Err(LlmError::StreamDropped(_))));
    }

    #[test]
    fn body_merges_tool_results_into_one_user_turn() {
        let req = ChatRequest {
            model: "claude".into(),
            system: "sys".into(),
            messages: vec![
                ChatMessage::User { text: "hi".into() },
                ChatMessage::Assistant {
                    text: String::new(),
                    tool_calls: vec![
                        ToolCallRequest {
                            id: "a".into(),
                            name: "x".into(),
                            arguments: json!({}),
                        },
                        ToolCallRequest {
                            id: "b".into(),
                            name: "y".into(),
                            arguments: json!({"k": 1}),
                        },
                    ],
                    reasoning: vec![],
                },
                ChatMessage::Tool {
                    call_id: "a".into(),
                    name: "x".into(),
                    content: "1".into(),
                    is_error: false,
                },
                ChatMessage::Tool {
                    call_id: "b".into(),
                    name: "y".into(),
                    content: "2".into(),
                    is_error: true,
                },
            ]
            .into(),
            tools: vec![],
            max_tokens: None,
            reasoning: Default::default(),
            thinking_budget: None,
        };
        let b = body(&req);
        let msgs = b["messages"].as_array().expect("messages");
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[2]["role"], "user");
        assert_eq!(msgs[2]["content"].as_array().map(Vec::len), Some(2));
        assert_eq!(b["system"][0]["text"], "sys");
        assert_eq!(b["system"][0]["cache_control"]["type"], "ephemeral");
        assert_eq!(msgs[2]["content"][1]["cache_control"]["type"], "ephemeral");
        assert!(msgs[2]["content"][0].get("cache_control").is_none());
        assert_eq!(b["max_tokens"], DEFAULT_MAX_TOKENS);
    }
}
