//! The notifications the server sends, one declaration each: each has its
//! own parameter type, which implements [`Notification`] with the name,
//! summary and example.
//!
//! A new notification is a new parameter type in `types.rs`, its
//! [`Notification`] impl here and an entry in
//! `for_each_notification!` (in `methods.rs`); the
//! server cannot send it before all three exist.

use serde_json::json;

use super::examples as ex;
use super::methods::Notification;
use super::types::*;

impl Notification for MessageAddedParams {
    const NAME: &'static str = "codelab/message";
    const SUMMARY: &'static str = "A message was persisted to the session's history (the \
        user's, the agent's reply, a tool's result); `seq` is the message's own, the one \
        `afterSeq` resumes from.";

    fn example() -> Self {
        MessageAddedParams {
            session_id: ex::session_id(),
            seq: 1,
            message: ex::user_message(),
        }
    }
}

impl Notification for TokenParams {
    const NAME: &'static str = "codelab/token";
    const SUMMARY: &'static str = "Streamed text of the turn's current reply: append `delta`. \
        A delta after a pause is sent at once; faster deltas are coalesced (at most one \
        notification per 4 ms, or per 16 KiB). The whole reply follows as \
        `codelab/message` once it is persisted.";

    fn example() -> Self {
        TokenParams {
            session_id: ex::session_id(),
            turn_id: ex::turn_id(),
            seq: 2,
            delta: "Let me read the ".into(),
        }
    }
}

impl Notification for ReasoningParams {
    const NAME: &'static str = "codelab/reasoning";
    const SUMMARY: &'static str = "Streamed reasoning of the turn's current reply (a \
        reasoning model's thinking: OpenAI-compatible `reasoning_content`, Anthropic \
        `thinking`), kept apart from its text: append `delta`. Coalesced like \
        `codelab/token`; the whole reasoning follows in the reply's `codelab/message` \
        (`message.reasoning`).";

    fn example() -> Self {
        ReasoningParams {
            session_id: ex::session_id(),
            turn_id: ex::turn_id(),
            seq: 2,
            delta: "The header parser splits on \"\\n\"; a CRLF line keeps its \"\\r\".".into(),
        }
    }
}

impl Notification for ToolCallParams {
    const NAME: &'static str = "codelab/toolCall";
    const SUMMARY: &'static str = "A tool call of the turn and each change of its status: \
        `pending` (announced; waiting for checks or approval), `in_progress`, then \
        `completed` or `failed` with the `result` text.";

    fn example() -> Self {
        ToolCallParams {
            session_id: ex::session_id(),
            turn_id: ex::turn_id(),
            seq: 4,
            tool_call_id: "call_1".into(),
            name: "read_file".into(),
            kind: "read".into(),
            params: json!({"path": "src/parser.rs"}),
            status: ToolCallStatus::Completed,
            result: Some(
                "1 | pub fn parse_header(input: &str) -> Result<Header, Error> {\n".into(),
            ),
        }
    }
}

impl Notification for CommandOutputParams {
    const NAME: &'static str = "codelab/commandOutput";
    const SUMMARY: &'static str = "A chunk of a running `execute_command`'s output, as it \
        arrives, from `stdout` or `stderr`. The call's `codelab/toolCall` carries the whole \
        result when it ends.";

    fn example() -> Self {
        CommandOutputParams {
            session_id: ex::session_id(),
            turn_id: ex::turn_id(),
            seq: 7,
            tool_call_id: "call_4".into(),
            stream: "stderr".into(),
            text: "test crlf::header ... FAILED\n".into(),
        }
    }
}

impl Notification for QuestionParams {
    const NAME: &'static str = "codelab/question";
    const SUMMARY: &'static str = "The agent asks the user; the turn waits for \
        `codelab/answerQuestion`. Questions still pending are in `codelab/attachSession`'s \
        result.";

    fn example() -> Self {
        ex::question()
    }
}

impl Notification for ApprovalRequiredParams {
    const NAME: &'static str = "codelab/approvalRequired";
    const SUMMARY: &'static str = "A tool call waits for the user's decision, as the approval \
        policy asks; the turn waits for `codelab/decideApproval`. Pending approvals are also \
        in `codelab/listPendingApprovals` and `codelab/attachSession`.";

    fn example() -> Self {
        ApprovalRequiredParams {
            session_id: ex::session_id(),
            seq: 6,
            approval: ex::approval(),
        }
    }
}

impl Notification for ApprovalResolvedParams {
    const NAME: &'static str = "codelab/approvalResolved";
    const SUMMARY: &'static str = "An approval was decided: by a client (`client:<n>`), \
        `cancelled` with its turn, or `timedOut`. Sent to every attached client, so the others \
        can close their prompt.";

    fn example() -> Self {
        ApprovalResolvedParams {
            session_id: ex::session_id(),
            seq: 8,
            approval_id: ex::approval_id(),
            decision: Decision::Approve,
            by: "client:3".into(),
        }
    }
}

impl Notification for AgentSwitchedParams {
    const NAME: &'static str = "codelab/agentSwitched";
    const SUMMARY: &'static str = "The session's agent changed: by `codelab/switchAgent`, by \
        `codelab/sendMessage`'s `agent`, or by the model's `switch_mode`.";

    fn example() -> Self {
        AgentSwitchedParams {
            session_id: ex::session_id(),
            seq: 9,
            from: "orchestrator".into(),
            to: "debug".into(),
            reason: "requested by the user".into(),
        }
    }
}

impl Notification for ModelChosenParams {
    const NAME: &'static str = "codelab/modelChosen";
    const SUMMARY: &'static str = "The model of the session's turns was chosen (by an ACP \
        client's `model` option); it goes over the editor's model settings for every turn of \
        the session, whichever client prompts, from the next model request on. `null`: the \
        configured model again.";

    fn example() -> Self {
        ModelChosenParams {
            session_id: ex::session_id(),
            seq: 10,
            model: Some(ChosenModel {
                provider: "anthropic".into(),
                model: "claude-sonnet-4-5".into(),
            }),
        }
    }
}

impl Notification for TurnCompletedParams {
    const NAME: &'static str = "codelab/turnCompleted";
    const SUMMARY: &'static str = "A turn ended: exactly one per turn, whatever ended it \
        (`end_turn`, `cancelled`, `max_iterations` or `error`, with `error` saying which), \
        with the tokens and cost of its model requests.";

    fn example() -> Self {
        TurnCompletedParams {
            session_id: ex::session_id(),
            turn_id: ex::turn_id(),
            seq: 12,
            stop_reason: StopReason::EndTurn,
            usage: ex::usage(),
            cost_usd: 0.0123,
            result: Some(
                "parse_header split lines on \\n only; it now accepts CRLF, and tests/crlf.rs \
                 passes."
                    .into(),
            ),
            error: None,
        }
    }
}

impl Notification for ContextUsageParams {
    const NAME: &'static str = "codelab/contextUsage";
    const SUMMARY: &'static str = "After each model response: how much of the model's context \
        window the request used, the request's tokens (with cache reads and writes), and the \
        cost of the turn and of the session, to a client that offered \
        `capabilities.experimental.codelab.contextUsage` (Neovim shows it in the chat's winbar).";

    fn example() -> Self {
        ContextUsageParams {
            session_id: ex::session_id(),
            turn_id: ex::turn_id(),
            seq: 7,
            used_tokens: 45_210,
            context_window: 128_000,
            usage: ex::usage(),
            turn_cost_usd: 0.0123,
            session_cost_usd: 0.4567,
        }
    }
}

impl Notification for ContextCompactedParams {
    const NAME: &'static str = "codelab/contextCompacted";
    const SUMMARY: &'static str = "The session's context was compacted: before a request that \
        would pass the threshold of the window, after the provider refused one as too long, \
        or on `codelab/compactSession`. Old tool outputs were elided and, if that was not \
        enough, the older turns summarised; the history keeps everything.";

    fn example() -> Self {
        ContextCompactedParams {
            session_id: ex::session_id(),
            turn_id: Some(ex::turn_id()),
            seq: 8,
            compaction: ex::compaction(),
            elided: 12,
            summarized: true,
        }
    }
}

impl Notification for TurnDiffParams {
    const NAME: &'static str = "codelab/turnDiff";
    const SUMMARY: &'static str = "At the end of a turn whose agent edits changed files (just \
        before `codelab/turnCompleted`), to a client that offered \
        `capabilities.experimental.codelab.turnDiff`: every file with its diff stat and the \
        combined unified diff, from before the turn's first edit to after its last.";

    fn example() -> Self {
        TurnDiffParams {
            session_id: ex::session_id(),
            turn_id: ex::turn_id(),
            seq: 11,
            files: vec![ex::file_stat()],
            diff: "--- a/src/parser.rs\n+++ b/src/parser.rs\n@@ -3 +3 @@\n-    let line = input.split('\\n');\n+    let line = input.lines();\n".into(),
        }
    }
}

impl Notification for EventParams {
    const NAME: &'static str = "codelab/event";
    const SUMMARY: &'static str = "One runtime event for a `codelab/subscribeEvents` \
        subscription (dashboards, audit views), whether or not the connection is attached to \
        the session. Payloads are redacted of secrets.";

    fn example() -> Self {
        EventParams {
            subscription_id: 3,
            event: AuditEntry {
                id: ex::audit_id(),
                at: ex::later(),
                session_id: Some(ex::session_id()),
                category: "tool".into(),
                kind: "completed".into(),
                payload: json!({
                    "tool": "read_file",
                    "toolCallId": "call_1",
                    "durationMs": 3,
                    "outcome": "completed"
                }),
            },
            turn_id: Some(ex::turn_id()),
        }
    }
}
