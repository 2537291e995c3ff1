//! Newline-delimited JSON-RPC in front of the SDK.
//!
//! The SDK reads one message per line and logs, without answering, a line
//! that is not JSON; ACP clients deserve an answer. So every line from the
//! client is classified here first: a well-formed message goes on to the SDK
//! unchanged; a line that is not JSON gets a `-32700` parse error, one that is
//! JSON but no JSON-RPC message a `-32600` invalid request (with its id when it
//! has one), and a line longer than the message limit is skipped without being
//! buffered and answered `-32600`. Either way the connection goes on.
//!
//! `$/cancel_request` (which the SDK does not know) is handled here too: the
//! framing remembers which session each recent `session/prompt` request
//! was for, and a cancel of one of those ids goes on to the SDK as that
//! session's `session/cancel`, in its place in the stream (so a cancel right
//! behind its prompt is not lost, and the prompt answers `cancelled`); a
//! cancel of any other id is dropped, as JSON-RPC asks.
//!
//! `session/delete` is part of ACP v1, stabilised after the schema the pinned
//! SDK speaks (agent-client-protocol 0.10.4 has neither the method nor its
//! capability; see the pin in Cargo.toml). So it is carried here too: the
//! request goes on to the SDK as the extension method
//! [`DELETE_EXT`] (same id, same params), which the agent serves, and the
//! `initialize` answer gains `sessionCapabilities.delete` on its way out.
//! When the SDK learns the method, both rewrites go.
//!
//! `elicitation/create` (ACP v1, agent to client; the pinned SDK knows
//! neither it nor `$/cancel_request`) goes the other way: the agent sends it
//! as the extension request [`ELICIT_EXT`] (the SDK keeps the id and hands
//! back the client's answer), renamed here on its way out, its id remembered
//! by session and tool call, as are the SDK's `session/request_permission`
//! requests; the extension notification [`WITHDRAW_EXT`] naming the same
//! session and tool call leaves as `$/cancel_request` of that id (dropped
//! when no such request was sent).
//!
//! What goes to the client is written one whole line at a time from one
//! channel: the SDK's output and the answers given here never interleave
//! within a line, and nothing else reaches stdout.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// What to do with one line from the client.
#[derive(Debug, PartialEq)]
pub(super) enum Line {
    /// A blank line: nothing.
    Skip,
    /// A well-formed message: on to the SDK (the line, without its newline).
    Forward,
    /// Not a message: this error response goes back to the client.
    Answer(Value),
}

/// A JSON-RPC error response.
pub(super) fn error_response(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;

/// Classifies one line (without its line ending).
pub(super) fn classify(line: &[u8]) -> Line {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Line::Skip;
    }
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            return Line::Answer(error_response(
                Value::Null,
                PARSE_ERROR,
                format!("Parse error: the line is not JSON ({e})"),
            ));
        }
    };
    let invalid = |id: Value, why: &str| {
        Line::Answer(error_response(
            id,
            INVALID_REQUEST,
            format!("Invalid Request: {why}"),
        ))
    };
    let Some(obj) = value.as_object() else {
        let why = if value.is_array() {
            "batches are not part of ACP; send one message per line"
        } else {
            "expected a JSON-RPC message object"
        };
        return invalid(Value::Null, why);
    };
    let id = obj.get("id").cloned();
    let id_ok = match &id {
        None | Some(Value::Null | Value::String(_)) => true,
        Some(Value::Number(n)) => n.is_i64() || n.is_u64(),
        Some(_) => false,
    };
    if !id_ok {
        return invalid(Value::Null, "`id` must be a string or an integer");
    }
    let id = id.unwrap_or(Value::Null);
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid(id, "`jsonrpc` must be \"2.0\"");
    }
    match obj.get("method") {
        Some(Value::String(_)) => match obj.get("params") {
            None | Some(Value::Object(_) | Value::Array(_)) => Line::Forward,
            Some(_) => invalid(id, "`params` must be an object"),
        },
        Some(_) => invalid(id, "`method` must be a string"),
        None => {
            let answers =
                usize::from(obj.contains_key("result")) + usize::from(obj.contains_key("error"));
            if obj.contains_key("id") && answers == 1 {
                Line::Forward
            } else {
                invalid(
                    id,
                    "a message needs a `method` (request or notification), or an `id` with `result` or `error` (response)",
                )
            }
        }
    }
}

/// A line to write: the JSON and its newline.
pub(super) fn encode(value: &Value) -> Vec<u8> {
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    line
}

/// ACP's `session/delete`, which the pinned SDK does not route.
const DELETE: &str = "session/delete";
/// The extension method `session/delete` reaches the SDK as; the SDK hands
/// it to the agent's `ext_method` without its leading underscore.
pub(super) const DELETE_EXT: &str = "_codelab/session/delete";

/// ACP's `elicitation/create`.
const ELICIT: &str = "elicitation/create";
/// The extension request the agent sends `elicitation/create` as (on the
/// wire with the underscore the SDK puts in front of extension methods).
pub(super) const ELICIT_EXT: &str = "codelab/elicitation/create";
/// ACP's `session/request_permission`.
const PERMISSION: &str = "session/request_permission";
/// The extension notification that withdraws the agent's pending request
/// to the client about a session's tool call, `elicitation/create` or
/// `session/request_permission` (params `sessionId`, `toolCallId`): it was
/// resolved otherwise (decided in another editor, or its turn ended).
pub(super) const WITHDRAW_EXT: &str = "codelab/withdraw";

/// How many recent requests a withdrawal can name.
const REQUESTS_REMEMBERED: usize = 64;

/// The agent's recent requests a withdrawal can name, `elicitation/create`
/// and `session/request_permission`: ((session id, tool call id), request
/// id).
#[derive(Debug, Default)]
pub(super) struct Withdrawable {
    sent: std::collections::VecDeque<((String, String), Value)>,
}

impl Withdrawable {
    fn remember(&mut self, key: (String, String), id: Value) {
        if self.sent.len() == REQUESTS_REMEMBERED {
            self.sent.pop_front();
        }
        self.sent.push_back((key, id));
    }

    /// A line of the SDK's on its way to the client: the extension request
    /// [`ELICIT_EXT`] leaves as `elicitation/create`; a
    /// `session/request_permission` as it is, remembered; the extension
    /// notification [`WITHDRAW_EXT`] as `$/cancel_request` of the request it
    /// names (`None`: it names none, nothing goes out); any other line as it
    /// is.
    fn outgoing(&mut self, line: Vec<u8>) -> Option<Vec<u8>> {
        let permission = contains(&line, "\"session/request_permission\"");
        if !permission && !contains(&line, "_codelab/") {
            return Some(line);
        }
        let Ok(mut msg) = serde_json::from_slice::<Value>(&line) else {
            return Some(line);
        };
        let key = |msg: &Value| {
            let p = &msg["params"];
            let call = p["toolCallId"]
                .as_str()
                .or_else(|| p["toolCall"]["toolCallId"].as_str());
            (
                p["sessionId"].as_str().unwrap_or_default().to_owned(),
                call.unwrap_or_default().to_owned(),
            )
        };
        if msg["method"] == PERMISSION {
            if let Some(id) = msg.get("id").cloned() {
                self.remember(key(&msg), id);
            }
            return Some(line);
        }
        match msg["method"].as_str().and_then(|m| m.strip_prefix('_')) {
            Some(ELICIT_EXT) => {
                if let Some(id) = msg.get("id").cloned() {
                    self.remember(key(&msg), id);
                }
                msg["method"] = Value::from(ELICIT);
                Some(encode(&msg))
            }
            Some(WITHDRAW_EXT) => {
                let key = key(&msg);
                let i = self.sent.iter().position(|(k, _)| *k == key)?;
                let (_, id) = self.sent.remove(i)?;
                tracing::debug!(%id, "$/cancel_request of a request to the client");
                Some(encode(&json!({
                    "jsonrpc": "2.0",
                    "method": "$/cancel_request",
                    "params": {"requestId": id},
                })))
            }
            _ => Some(line),
        }
    }
}

/// How many recent `session/prompt` requests `$/cancel_request` can name.
const PROMPTS_REMEMBERED: usize = 64;

/// The recent prompt requests (id, session id), which `$/cancel_request`
/// may name.
#[derive(Debug, Default)]
pub(super) struct Cancels {
    prompts: std::collections::VecDeque<(Value, String)>,
}

/// What becomes of a well-formed message.
enum Seen {
    /// On to the SDK as it is.
    Forward,
    /// On to the SDK as this message instead.
    Replace(Value),
    /// Nowhere.
    Drop,
}

impl Cancels {
    /// Looks at a well-formed message on its way to the SDK: remembers a
    /// prompt's session; turns a `$/cancel_request` of a prompt into its
    /// session's `session/cancel`, and `session/delete` into
    /// [`DELETE_EXT`].
    fn observe(&mut self, line: &[u8]) -> Seen {
        if !contains(line, "session/prompt")
            && !contains(line, "$/cancel_request")
            && !contains(line, DELETE)
        {
            return Seen::Forward;
        }
        let Ok(msg) = serde_json::from_slice::<Value>(line) else {
            return Seen::Forward;
        };
        match msg["method"].as_str() {
            Some("session/prompt") => {
                if let (Some(id), Some(session)) =
                    (msg.get("id"), msg["params"]["sessionId"].as_str())
                {
                    if self.prompts.len() == PROMPTS_REMEMBERED {
                        self.prompts.pop_front();
                    }
                    self.prompts.push_back((id.clone(), session.to_owned()));
                }
                Seen::Forward
            }
            Some(DELETE) => {
                let mut msg = msg;
                msg["method"] = Value::from(DELETE_EXT);
                Seen::Replace(msg)
            }
            Some("$/cancel_request") => {
                let id = &msg["params"]["requestId"];
                match self.prompts.iter().position(|(p, _)| p == id) {
                    Some(i) => {
                        let (_, session) = self.prompts.remove(i).unwrap_or_default();
                        tracing::debug!(%id, %session, "$/cancel_request of a prompt");
                        Seen::Replace(json!({
                            "jsonrpc": "2.0",
                            "method": "session/cancel",
                            "params": {"sessionId": session},
                        }))
                    }
                    None => {
                        tracing::debug!(%id, "$/cancel_request of no pending prompt: ignored");
                        Seen::Drop
                    }
                }
            }
            _ => Seen::Forward,
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Reads the client's lines until `input` ends: well-formed messages go to
/// `sdk` (each with its newline), answers to `out`, cancels of prompt
/// requests on as `session/cancel` (see [`Cancels`]). Lines longer than
/// `max_bytes` are skipped as they arrive, never buffered whole.
///
/// # Errors
/// Reading `input` failed.
pub(super) async fn read_lines<R, S>(
    input: R,
    max_bytes: usize,
    mut sdk: S,
    out: mpsc::UnboundedSender<Vec<u8>>,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    S: AsyncWrite + Unpin,
{
    let cancels = &mut Cancels::default();
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut line = Vec::new();
    let mut skipped: Option<usize> = None;
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            // The last line may lack its newline.
            if skipped.is_none() && !line.is_empty() {
                handle(&line, &mut sdk, &out, cancels).await?;
            }
            break;
        }
        let (part, end) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        match &mut skipped {
            Some(n) => *n += part.len(),
            None if line.len() + part.len() > max_bytes => {
                skipped = Some(line.len() + part.len());
                line = Vec::new();
            }
            None => line.extend_from_slice(part),
        }
        let consumed = end.unwrap_or(part.len());
        reader.consume(consumed);
        if end.is_some() {
            match skipped.take() {
                Some(n) => {
                    tracing::warn!(bytes = n, max_bytes, "skipped an oversized ACP message");
                    let _ = out.send(encode(&error_response(
                        Value::Null,
                        INVALID_REQUEST,
                        format!(
                            "Invalid Request: a message of {n} bytes exceeds the limit of {max_bytes} bytes; it was skipped"
                        ),
                    )));
                }
                None => handle(&line, &mut sdk, &out, cancels).await?,
            }
            line.clear();
        }
    }
    sdk.shutdown().await
}

async fn handle<S: AsyncWrite + Unpin>(
    line: &[u8],
    sdk: &mut S,
    out: &mpsc::UnboundedSender<Vec<u8>>,
    cancels: &mut Cancels,
) -> std::io::Result<()> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match classify(line) {
        Line::Skip => Ok(()),
        Line::Forward => match cancels.observe(line) {
            Seen::Forward => {
                sdk.write_all(line).await?;
                sdk.write_all(b"\n").await?;
                sdk.flush().await
            }
            Seen::Replace(msg) => {
                sdk.write_all(&encode(&msg)).await?;
                sdk.flush().await
            }
            Seen::Drop => Ok(()),
        },
        Line::Answer(error) => {
            tracing::debug!(%error, "answered a malformed ACP message");
            let _ = out.send(encode(&error));
            Ok(())
        }
    }
}

/// Passes the SDK's output on to `out` one whole line at a time.
///
/// # Errors
/// Reading the SDK's output failed.
pub(super) async fn forward_lines<R: AsyncRead + Unpin>(
    from_sdk: R,
    out: mpsc::UnboundedSender<Vec<u8>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(from_sdk);
    let mut withdrawable = Withdrawable::default();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        let Some(line) = withdrawable.outgoing(advertise_delete(line)) else {
            continue;
        };
        if out.send(line).is_err() {
            return Ok(());
        }
    }
}

/// The `initialize` answer (the only message with `agentCapabilities`) with
/// `sessionCapabilities.delete` (see [`DELETE`]); any other line as it is.
fn advertise_delete(line: Vec<u8>) -> Vec<u8> {
    if !contains(&line, "\"agentCapabilities\"") {
        return line;
    }
    let Ok(mut msg) = serde_json::from_slice::<Value>(&line) else {
        return line;
    };
    match msg
        .get_mut("result")
        .and_then(|r| r.get_mut("agentCapabilities"))
        .and_then(|c| c.get_mut("sessionCapabilities"))
        .and_then(Value::as_object_mut)
    {
        Some(caps) => {
            caps.insert("delete".into(), json!({}));
            encode(&msg)
        }
        None => line,
    }
}

/// Writes whole lines to `output` until every sender is gone.
///
/// # Errors
/// Writing failed (the client went away).
pub(super) async fn write_lines<W: AsyncWrite + Unpin>(
    mut output: W,
    mut lines: mpsc::UnboundedReceiver<Vec<u8>>,
) -> std::io::Result<()> {
    while let Some(line) = lines.recv().await {
        output.write_all(&line).await?;
        output.flush().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(l: &Line) -> (i64, Value) {
        match l {
            Line::Answer(v) => (v["error"]["code"].as_i64().unwrap_or(0), v["id"].clone()),
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    #[test]
    fn well_formed_messages_go_on() {
        for ok in [
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":1}}"#,
            r#"{"jsonrpc":"2.0","method":"session/cancel","params":{"sessionId":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":"a","result":{}}"#,
            r#"{"jsonrpc":"2.0","id":0,"error":{"code":1,"message":"m"}}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"nope"}"#,
        ] {
            assert_eq!(classify(ok.as_bytes()), Line::Forward, "{ok}");
        }
        assert_eq!(classify(b"  \t"), Line::Skip);
    }

    #[test]
    fn malformed_lines_are_answered() {
        assert_eq!(code(&classify(b"{not json")), (-32700, Value::Null));
        assert_eq!(code(&classify(b"\xff\xfe")), (-32700, Value::Null));
        assert_eq!(code(&classify(b"[1,2]")), (-32600, Value::Null));
        assert_eq!(code(&classify(b"42")), (-32600, Value::Null));
        assert_eq!(
            code(&classify(br#"{"id":3,"method":"initialize"}"#)),
            (-32600, json!(3))
        );
        assert_eq!(
            code(&classify(br#"{"jsonrpc":"2.0","id":4,"method":7}"#)),
            (-32600, json!(4))
        );
        assert_eq!(
            code(&classify(br#"{"jsonrpc":"2.0","id":{"a":1},"method":"x"}"#)),
            (-32600, Value::Null)
        );
        assert_eq!(
            code(&classify(
                br#"{"jsonrpc":"2.0","id":5,"method":"x","params":3}"#
            )),
            (-32600, json!(5))
        );
        assert_eq!(
            code(&classify(br#"{"jsonrpc":"2.0","id":6}"#)),
            (-32600, json!(6))
        );
    }

    #[tokio::test]
    async fn a_cancel_request_of_a_prompt_becomes_its_sessions_cancel() {
        let prompt = |id: &str, session: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"session/prompt","params":{{"sessionId":"{session}","prompt":[]}}}}"#
            )
        };
        let cancel = |id: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","method":"$/cancel_request","params":{{"requestId":{id}}}}}"#
            )
        };
        let input = [
            prompt("1", "s1"),
            prompt("\"two\"", "s2"),
            cancel("\"two\""),
            cancel("1"),
            cancel("1"),
            cancel("99"),
        ]
        .join("\n");
        let (out_tx, mut out_rx) = mpsc::unbounded_channel();
        let mut sdk = Vec::new();
        read_lines(input.as_bytes(), 1000, &mut sdk, out_tx)
            .await
            .expect("reads");
        let session_cancel = |s: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","method":"session/cancel","params":{{"sessionId":"{s}"}}}}"#
            )
        };
        // Each prompt cancelled once, in its place; an unknown id is
        // dropped, and nothing is answered.
        assert_eq!(
            String::from_utf8_lossy(&sdk),
            format!(
                "{}\n{}\n{}\n{}\n",
                prompt("1", "s1"),
                prompt("\"two\"", "s2"),
                session_cancel("s2"),
                session_cancel("s1")
            )
        );
        assert!(out_rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn oversized_lines_are_skipped_and_the_next_one_goes_on() {
        let small = r#"{"jsonrpc":"2.0","id":1,"method":"a","params":{}}"#;
        let big = format!(
            r#"{{"jsonrpc":"2.0","id":2,"method":"b","params":{{"x":"{}"}}}}"#,
            "y".repeat(300)
        );
        let input = format!("{small}\n{big}\r\n\nnot json\n{small}");
        let (out_tx, mut out_rx) = mpsc::unbounded_channel();
        let mut sdk = Vec::new();
        read_lines(input.as_bytes(), 100, &mut sdk, out_tx)
            .await
            .expect("reads");
        assert_eq!(String::from_utf8_lossy(&sdk), format!("{small}\n{small}\n"));
        let first: Value =
            serde_json::from_slice(&out_rx.recv().await.expect("answer")).expect("json");
        assert_eq!(first["error"]["code"], -32600);
        assert!(
            first["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("exceeds the limit of 100 bytes"),
            "{first}"
        );
        let second: Value =
            serde_json::from_slice(&out_rx.recv().await.expect("answer")).expect("json");
        assert_eq!(second["error"]["code"], -32700);
        assert!(out_rx.recv().await.is_none());
    }

    #[test]
    fn elicitations_leave_as_elicitation_create_and_their_cancels_as_cancel_request() {
        let mut e = Withdrawable::default();
        let create = br#"{"jsonrpc":"2.0","id":7,"method":"_codelab/elicitation/create","params":{"sessionId":"s1","toolCallId":"q1","mode":"form","message":"?","requestedSchema":{"type":"object","properties":{}}}}
"#;
        let sent: Value =
            serde_json::from_slice(&e.outgoing(create.to_vec()).expect("sent")).expect("json");
        assert_eq!(
            (&sent["method"], &sent["id"], &sent["params"]["toolCallId"]),
            (&json!("elicitation/create"), &json!(7), &json!("q1"))
        );
        let cancel = |call: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","method":"_codelab/withdraw","params":{{"sessionId":"s1","toolCallId":"{call}"}}}}"#
            )
            .into_bytes()
        };
        assert_eq!(e.outgoing(cancel("q2")), None, "no such request");
        let cancelled: Value =
            serde_json::from_slice(&e.outgoing(cancel("q1")).expect("sent")).expect("json");
        assert_eq!(
            cancelled,
            json!({"jsonrpc": "2.0", "method": "$/cancel_request", "params": {"requestId": 7}})
        );
        assert_eq!(e.outgoing(cancel("q1")), None, "cancelled once");
        let other = b"{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{}}\n".to_vec();
        assert_eq!(e.outgoing(other.clone()), Some(other));
    }

    #[test]
    fn a_permission_request_is_withdrawn_by_its_cancel() {
        let mut e = Withdrawable::default();
        let ask = br#"{"jsonrpc":"2.0","id":3,"method":"session/request_permission","params":{"sessionId":"s1","toolCall":{"toolCallId":"w1"},"options":[]}}
"#;
        assert_eq!(e.outgoing(ask.to_vec()), Some(ask.to_vec()), "unchanged");
        let cancel = br#"{"jsonrpc":"2.0","method":"_codelab/withdraw","params":{"sessionId":"s1","toolCallId":"w1"}}"#;
        let cancelled: Value =
            serde_json::from_slice(&e.outgoing(cancel.to_vec()).expect("sent")).expect("json");
        assert_eq!(
            cancelled,
            json!({"jsonrpc": "2.0", "method": "$/cancel_request", "params": {"requestId": 3}})
        );
        assert_eq!(e.outgoing(cancel.to_vec()), None, "withdrawn once");
    }

    #[tokio::test]
    async fn session_delete_goes_on_as_the_extension_method_and_is_advertised() {
        let input =
            r#"{"jsonrpc":"2.0","id":3,"method":"session/delete","params":{"sessionId":"s1"}}"#;
        let (out_tx, _out_rx) = mpsc::unbounded_channel();
        let mut sdk = Vec::new();
        read_lines(input.as_bytes(), 1000, &mut sdk, out_tx)
            .await
            .expect("reads");
        let forwarded: Value = serde_json::from_slice(&sdk).expect("json");
        assert_eq!(
            forwarded,
            json!({"jsonrpc": "2.0", "id": 3, "method": DELETE_EXT, "params": {"sessionId": "s1"}})
        );

        let init = br#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1,"agentCapabilities":{"sessionCapabilities":{"list":{}}}}}
"#;
        let patched: Value =
            serde_json::from_slice(&advertise_delete(init.to_vec())).expect("json");
        assert_eq!(
            patched["result"]["agentCapabilities"]["sessionCapabilities"],
            json!({"list": {}, "delete": {}})
        );
        let other = b"{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{}}\n".to_vec();
        assert_eq!(advertise_delete(other.clone()), other);
    }
}
