//! The requests of the protocol, one declaration each: name, parameter and
//! result types, errors, summary and example.
//!
//! A new request is a unit type here with its [`Method`] impl, an entry in
//! `for_each_request!` (in `methods.rs`), and a handler in
//! `server/methods/` (the dispatcher does not compile without one). A
//! request the server sends to the client implements [`ClientMethod`] and is
//! listed in `for_each_client_request!`.

use std::collections::BTreeMap;

use serde_json::json;

use super::errors::ErrorCode;
use super::examples as ex;
use super::methods::{ClientMethod, Method, NoParams};
use super::types::*;

/// `codelab/createSession`
#[derive(Debug, Clone, Copy)]
pub struct CreateSession;

impl Method for CreateSession {
    const NAME: &'static str = "codelab/createSession";
    const SUMMARY: &'static str = "Creates a session and persists it before answering. \
        `workspaceFolder` defaults to the connection's first workspace folder, `agent` to \
        `orchestrator`, `title` to \"New session\", which the session's first message \
        replaces (its first line, at most 60 characters).";
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::AgentNotFound, ErrorCode::StoreFailure];
    type Params = CreateSessionParams;
    type Result = Session;

    fn example_params() -> CreateSessionParams {
        CreateSessionParams {
            workspace_folder: Some(ex::WORKSPACE.into()),
            agent: Some("orchestrator".into()),
            title: Some("Fix the flaky parser test".into()),
        }
    }

    fn example_result() -> Session {
        Session {
            message_count: 0,
            last_seq: 0,
            ..ex::session()
        }
    }
}

/// `codelab/listSessions`
#[derive(Debug, Clone, Copy)]
pub struct ListSessions;

impl Method for ListSessions {
    const NAME: &'static str = "codelab/listSessions";
    const SUMMARY: &'static str = "Lists sessions, newest first (by creation time), one page \
        at a time. The cursor is opaque and stays valid when sessions are added or deleted; a \
        `limit` outside 1 to 200 or a cursor this method did not return is `invalidParams`.";
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::StoreFailure];
    type Params = ListSessionsParams;
    type Result = ListSessionsResult;

    fn example_params() -> ListSessionsParams {
        ListSessionsParams {
            cursor: Some(ex::subtask_session_id().to_string()),
            limit: Some(1),
        }
    }

    fn example_result() -> ListSessionsResult {
        ListSessionsResult {
            sessions: vec![ex::session()],
            next_cursor: Some(ex::session_id().to_string()),
        }
    }
}

/// `codelab/getSession`
#[derive(Debug, Clone, Copy)]
pub struct GetSession;

impl Method for GetSession {
    const NAME: &'static str = "codelab/getSession";
    const SUMMARY: &'static str = "Returns one session. A subtask's session names the session \
        and the `new_task` call it answers.";
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::SessionNotFound, ErrorCode::StoreFailure];
    type Params = SessionParams;
    type Result = Session;

    fn example_params() -> SessionParams {
        SessionParams {
            session_id: ex::subtask_session_id(),
        }
    }

    fn example_result() -> Session {
        ex::subtask_session()
    }
}

/// `codelab/deleteSession`
#[derive(Debug, Clone, Copy)]
pub struct DeleteSession;

impl Method for DeleteSession {
    const NAME: &'static str = "codelab/deleteSession";
    const SUMMARY: &'static str = "Deletes a session and its history, durably, before \
        answering. A session running a turn is not deleted (`sessionBusy`).";
    const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::SessionNotFound,
        ErrorCode::SessionBusy,
        ErrorCode::StoreFailure,
    ];
    type Params = SessionParams;
    type Result = DeleteSessionResult;

    fn example_params() -> SessionParams {
        SessionParams {
            session_id: ex::session_id(),
        }
    }

    fn example_result() -> DeleteSessionResult {
        DeleteSessionResult {
            session_id: ex::session_id(),
            deleted_messages: 2,
        }
    }
}

/// `codelab/getHistory`
#[derive(Debug, Clone, Copy)]
pub struct GetHistory;

impl Method for GetHistory {
    const NAME: &'static str = "codelab/getHistory";
    const SUMMARY: &'static str = "Returns a session's messages in seq order, starting after \
        `afterSeq`. Everything the server acknowledged is here, also after a restart. A \
        `limit` outside 1 to 1000 is `invalidParams`.";
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::SessionNotFound, ErrorCode::StoreFailure];
    type Params = GetHistoryParams;
    type Result = GetHistoryResult;

    fn example_params() -> GetHistoryParams {
        GetHistoryParams {
            session_id: ex::session_id(),
            after_seq: Some(0),
            limit: Some(3),
        }
    }

    fn example_result() -> GetHistoryResult {
        GetHistoryResult {
            messages: vec![
                ex::user_message(),
                ex::assistant_message(),
                ex::tool_message(),
            ],
            has_more: true,
        }
    }
}

/// `codelab/sendMessage`
#[derive(Debug, Clone, Copy)]
pub struct SendMessage;

impl Method for SendMessage {
    const NAME: &'static str = "codelab/sendMessage";
    const SUMMARY: &'static str = "Persists the user's message, starts a turn and answers at \
        once with the turn's id. The connection is attached to the session, so the turn's \
        notifications follow (`codelab/message`, `codelab/token`, `codelab/toolCall`, ...), \
        ending with exactly one `codelab/turnCompleted`. With `agent`, the session switches to \
        that agent first. A session runs one turn at a time: while one runs the answer is \
        `sessionBusy`.";
    const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::SessionNotFound,
        ErrorCode::AgentNotFound,
        ErrorCode::SessionBusy,
        ErrorCode::Overloaded,
        ErrorCode::StoreFailure,
    ];
    type Params = SendMessageParams;
    type Result = SendMessageResult;

    fn example_params() -> SendMessageParams {
        SendMessageParams {
            session_id: ex::session_id(),
            text: "Why does parse_header fail on CRLF input?".into(),
            agent: Some("debug".into()),
            context: Some(ex::context()),
        }
    }

    fn example_result() -> SendMessageResult {
        SendMessageResult {
            turn_id: ex::turn_id(),
        }
    }
}

/// `codelab/cancelTurn`
#[derive(Debug, Clone, Copy)]
pub struct CancelTurn;

impl Method for CancelTurn {
    const NAME: &'static str = "codelab/cancelTurn";
    const SUMMARY: &'static str = "Cancels the session's running turn and returns its id \
        (`null` when no turn was running). The turn still ends with `codelab/turnCompleted` \
        (`stopReason: \"cancelled\"`), and every open tool call gets a result, so the history \
        stays well-formed.";
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::SessionNotFound, ErrorCode::StoreFailure];
    type Params = SessionParams;
    type Result = CancelTurnResult;

    fn example_params() -> SessionParams {
        SessionParams {
            session_id: ex::session_id(),
        }
    }

    fn example_result() -> CancelTurnResult {
        CancelTurnResult {
            turn_id: Some(ex::turn_id()),
        }
    }
}

/// `codelab/compactSession`
#[derive(Debug, Clone, Copy)]
pub struct CompactSession;

impl Method for CompactSession {
    const NAME: &'static str = "codelab/compactSession";
    const SUMMARY: &'static str = "Compacts the session's context now, as the server does on \
        its own when a request would pass the threshold of the model's window: old tool \
        outputs are elided, and the turns before the latest one are summarised by the model. \
        Nothing leaves the history (`codelab/getHistory` still returns every message; the \
        compaction is a marker message). Sends `codelab/contextCompacted`. Not while a turn \
        runs.";
    const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::SessionNotFound,
        ErrorCode::SessionBusy,
        ErrorCode::StoreFailure,
        ErrorCode::InternalError,
    ];
    type Params = SessionParams;
    type Result = CompactSessionResult;

    fn example_params() -> SessionParams {
        SessionParams {
            session_id: ex::session_id(),
        }
    }

    fn example_result() -> CompactSessionResult {
        CompactSessionResult {
            compaction: Some(ex::compaction()),
        }
    }
}

/// `codelab/listCheckpoints`
#[derive(Debug, Clone, Copy)]
pub struct ListCheckpoints;

impl Method for ListCheckpoints {
    const NAME: &'static str = "codelab/listCheckpoints";
    const SUMMARY: &'static str = "The session's checkpoints: per turn whose agent edits \
        (`write_file`, `apply_diff`) changed files, each file with its diff stat. Changes made \
        by commands are not checkpointed.";
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::SessionNotFound, ErrorCode::StoreFailure];
    type Params = SessionParams;
    type Result = ListCheckpointsResult;

    fn example_params() -> SessionParams {
        SessionParams {
            session_id: ex::session_id(),
        }
    }

    fn example_result() -> ListCheckpointsResult {
        ListCheckpointsResult {
            turns: vec![TurnCheckpoint {
                turn_id: ex::turn_id(),
                files: vec![ex::file_stat()],
            }],
        }
    }
}

/// `codelab/restoreCheckpoint`
#[derive(Debug, Clone, Copy)]
pub struct RestoreCheckpoint;

impl Method for RestoreCheckpoint {
    const NAME: &'static str = "codelab/restoreCheckpoint";
    const SUMMARY: &'static str = "Puts the files the agent changed in `turnId` and later \
        back as they were before that turn: written through the editor that has a file open \
        (so its undo works), else atomically on disk; a file the agent created is removed. \
        A file whose content is no longer what the agent left (the user changed it) is a \
        conflict, left alone unless `overwrite` is true. Not while a turn runs.";
    const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::SessionNotFound,
        ErrorCode::SessionBusy,
        ErrorCode::InvalidParams,
        ErrorCode::StoreFailure,
    ];
    type Params = RestoreCheckpointParams;
    type Result = RestoreCheckpointResult;

    fn example_params() -> RestoreCheckpointParams {
        RestoreCheckpointParams {
            session_id: ex::session_id(),
            turn_id: ex::turn_id(),
            overwrite: None,
            truncate_conversation: Some(true),
        }
    }

    fn example_result() -> RestoreCheckpointResult {
        RestoreCheckpointResult {
            restored: vec!["src/parser.rs".into()],
            conflicts: vec!["README.md".into()],
            truncated_from_seq: Some(21),
        }
    }
}

/// `codelab/attachSession`
#[derive(Debug, Clone, Copy)]
pub struct AttachSession;

impl Method for AttachSession {
    const NAME: &'static str = "codelab/attachSession";
    const SUMMARY: &'static str = "Attaches this connection to a session: returns the \
        persisted messages after `afterSeq`, the running turn and what waits for the user \
        (questions, approvals); the session's notifications follow. The connection is \
        attached before the history is read, so nothing falls between the two: drop \
        notifications whose `seq` you already have. A connection that stops reading is \
        detached; attach again with the last seq it saw.";
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::SessionNotFound, ErrorCode::StoreFailure];
    type Params = AttachSessionParams;
    type Result = AttachSessionResult;

    fn example_params() -> AttachSessionParams {
        AttachSessionParams {
            session_id: ex::session_id(),
            after_seq: Some(1),
        }
    }

    fn example_result() -> AttachSessionResult {
        AttachSessionResult {
            session: Session {
                message_count: 3,
                last_seq: 6,
                ..ex::session()
            },
            messages: vec![ex::assistant_message(), ex::tool_message()],
            running_turn_id: Some(ex::turn_id()),
            pending_questions: vec![ex::question()],
            pending_approvals: vec![ex::approval()],
        }
    }
}

/// `codelab/detachSession`
#[derive(Debug, Clone, Copy)]
pub struct DetachSession;

impl Method for DetachSession {
    const NAME: &'static str = "codelab/detachSession";
    const SUMMARY: &'static str = "Stops this connection's notifications about a session. \
        Always succeeds: detaching twice, or from a session that does not exist, is not an \
        error.";
    const ERRORS: &'static [ErrorCode] = &[];
    type Params = SessionParams;
    type Result = Ack;

    fn example_params() -> SessionParams {
        SessionParams {
            session_id: ex::session_id(),
        }
    }

    fn example_result() -> Ack {
        Ack { ok: true }
    }
}

/// `codelab/answerQuestion`
#[derive(Debug, Clone, Copy)]
pub struct AnswerQuestion;

impl Method for AnswerQuestion {
    const NAME: &'static str = "codelab/answerQuestion";
    const SUMMARY: &'static str = "Answers a `codelab/question`; the waiting turn goes on. A \
        question is answered once: a second answer, or a question of another session, gets \
        `notPending`. After a restart the turn is resumed from the history.";
    const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::NotPending,
        ErrorCode::SessionNotFound,
        ErrorCode::SessionBusy,
        ErrorCode::StoreFailure,
    ];
    type Params = AnswerQuestionParams;
    type Result = Ack;

    fn example_params() -> AnswerQuestionParams {
        AnswerQuestionParams {
            session_id: ex::session_id(),
            question_id: ex::question_id(),
            answer: "Everywhere".into(),
        }
    }

    fn example_result() -> Ack {
        Ack { ok: true }
    }
}

/// `codelab/decideApproval`
#[derive(Debug, Clone, Copy)]
pub struct DecideApproval;

impl Method for DecideApproval {
    const NAME: &'static str = "codelab/decideApproval";
    const SUMMARY: &'static str = "Decides a pending approval and returns it: `approve`, \
        `edit` with new `params` (validated again; invalid ones are `invalidParams` and the \
        approval stays pending) or `reject` with `feedback` for the model. The first decision \
        wins; later ones get `notPending`. With `scope: \"session\"` the same tool and \
        argument pattern is allowed for the rest of the session. Every attached client gets \
        `codelab/approvalResolved`.";
    const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::NotPending,
        ErrorCode::SessionNotFound,
        ErrorCode::SessionBusy,
        ErrorCode::StoreFailure,
    ];
    type Params = DecideApprovalParams;
    type Result = Approval;

    fn example_params() -> DecideApprovalParams {
        DecideApprovalParams {
            approval_id: ex::approval_id(),
            decision: Decision::Edit,
            params: Some(json!({
                "path": "src/parser.rs",
                "diff": "<<<<<<< SEARCH\n    let line = input.split('\\n');\n=======\n    let line = input.split(\"\\r\\n\");\n>>>>>>> REPLACE\n"
            })),
            feedback: Some("Split on CRLF only; bare LF stays an error.".into()),
            scope: Some(ApprovalScope::Once),
        }
    }

    fn example_result() -> Approval {
        ex::approval()
    }
}

/// `codelab/listPendingApprovals`
#[derive(Debug, Clone, Copy)]
pub struct ListPendingApprovals;

impl Method for ListPendingApprovals {
    const NAME: &'static str = "codelab/listPendingApprovals";
    const SUMMARY: &'static str = "Lists the approvals waiting for a decision, oldest first: \
        one session's, or every session's without `sessionId`.";
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::StoreFailure];
    type Params = ListPendingApprovalsParams;
    type Result = ListPendingApprovalsResult;

    fn example_params() -> ListPendingApprovalsParams {
        ListPendingApprovalsParams {
            session_id: Some(ex::session_id()),
        }
    }

    fn example_result() -> ListPendingApprovalsResult {
        ListPendingApprovalsResult {
            approvals: vec![ex::approval()],
        }
    }
}

/// `codelab/getPolicy`
#[derive(Debug, Clone, Copy)]
pub struct GetPolicy;

impl Method for GetPolicy {
    const NAME: &'static str = "codelab/getPolicy";
    const SUMMARY: &'static str = "Returns the effective approval rules, lowest scope first \
        (built-in, user, workspace, session), the problems found in policy files (the last \
        valid rules stay in force), and how commands are sandboxed (whether the sandbox works \
        here, the default mode, the network, extra writable paths). With `sessionId`, the rules of the session's workspace and \
        its \"allow for this session\" decisions; without, those of the connection's first \
        workspace folder.";
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::SessionNotFound, ErrorCode::StoreFailure];
    type Params = GetPolicyParams;
    type Result = GetPolicyResult;

    fn example_params() -> GetPolicyParams {
        GetPolicyParams {
            session_id: Some(ex::session_id()),
        }
    }

    fn example_result() -> GetPolicyResult {
        GetPolicyResult {
            rules: vec![
                PolicyRule {
                    tool: "read_file".into(),
                    path: None,
                    command: None,
                    exact: false,
                    action: "allow".into(),
                    timeout_secs: None,
                    sandbox: None,
                    network: false,
                    source: "builtin".into(),
                },
                PolicyRule {
                    tool: "execute_command".into(),
                    path: None,
                    command: Some("cargo test".into()),
                    exact: true,
                    action: "allow".into(),
                    timeout_secs: None,
                    sandbox: Some("workspace-write".into()),
                    network: true,
                    source: "workspace".into(),
                },
                PolicyRule {
                    tool: "apply_diff".into(),
                    path: Some("src/**/*.rs".into()),
                    command: None,
                    exact: false,
                    action: "ask".into(),
                    timeout_secs: Some(600),
                    sandbox: None,
                    network: false,
                    source: "session".into(),
                },
            ],
            errors: vec![".codelab/policy.toml:7: unknown action `maybe`".into()],
            sandbox: SandboxInfo {
                available: true,
                reason: None,
                mode: "workspace-write".into(),
                network: false,
                writable: vec!["/home/ada/.cargo".into()],
            },
        }
    }
}

/// `codelab/listProcesses`
#[derive(Debug, Clone, Copy)]
pub struct ListProcesses;

impl Method for ListProcesses {
    const NAME: &'static str = "codelab/listProcesses";
    const SUMMARY: &'static str = "Lists the background commands (started by `execute_command` \
        with `background: true`), of one session or of all, in start order: running ones and \
        those that ended and were not yet collected. They count as running work; they are \
        stopped by the agent's `stop_command`, when their session is deleted, and when the \
        server exits.";
    const ERRORS: &'static [ErrorCode] = &[];
    type Params = ListProcessesParams;
    type Result = ListProcessesResult;

    fn example_params() -> ListProcessesParams {
        ListProcessesParams {
            session_id: Some(ex::session_id()),
        }
    }

    fn example_result() -> ListProcessesResult {
        ListProcessesResult {
            processes: vec![ProcessInfo {
                id: "p1".into(),
                session_id: ex::session_id(),
                command: "npm run dev".into(),
                pid: 48213,
                started_at: ex::time(),
                sandboxed: true,
                running: true,
                exit_code: None,
            }],
        }
    }
}

/// `codelab/listAgents`
#[derive(Debug, Clone, Copy)]
pub struct ListAgents;

impl Method for ListAgents {
    const NAME: &'static str = "codelab/listAgents";
    const SUMMARY: &'static str = "Lists the agents with their descriptions, the tools each \
        may call and their file restrictions, exactly as the server enforces them: the five \
        built-ins and the agents of the workspace's `.codelab/agents.toml`. A workspace's \
        agent and prompt files count only when the user trusts it (`[trust] workspaces` in \
        `codelab.toml`); otherwise `warnings` names the files ignored.";
    const ERRORS: &'static [ErrorCode] = &[];
    type Params = ListAgentsParams;
    type Result = ListAgentsResult;

    fn example_params() -> ListAgentsParams {
        ListAgentsParams {
            workspace_folder: Some(ex::WORKSPACE.into()),
        }
    }

    fn example_result() -> ListAgentsResult {
        ListAgentsResult {
            agents: vec![ex::orchestrator(), ex::architect()],
            warnings: vec![
                "/home/dev/parser/.codelab/agents.toml is ignored: the workspace is not trusted \
                 (add it to [trust] workspaces in codelab.toml)"
                    .into(),
            ],
        }
    }
}

/// `codelab/getCurrentAgent`
#[derive(Debug, Clone, Copy)]
pub struct GetCurrentAgent;

impl Method for GetCurrentAgent {
    const NAME: &'static str = "codelab/getCurrentAgent";
    const SUMMARY: &'static str = "Returns the agent currently handling a session (a \
        workspace's own agents included; `agentNotFound` when the session's agent no longer \
        exists).";
    const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::SessionNotFound,
        ErrorCode::AgentNotFound,
        ErrorCode::StoreFailure,
    ];
    type Params = SessionParams;
    type Result = CurrentAgentResult;

    fn example_params() -> SessionParams {
        SessionParams {
            session_id: ex::session_id(),
        }
    }

    fn example_result() -> CurrentAgentResult {
        CurrentAgentResult {
            session_id: ex::session_id(),
            agent: ex::architect(),
        }
    }
}

/// `codelab/switchAgent`
#[derive(Debug, Clone, Copy)]
pub struct SwitchAgent;

impl Method for SwitchAgent {
    const NAME: &'static str = "codelab/switchAgent";
    const SUMMARY: &'static str = "Switches the session to another agent and returns the \
        session. Attached clients get `codelab/agentSwitched` (unless the agent was already \
        the session's). Over a shared store, refused with `sessionBusy` while a turn of the \
        session runs on another instance.";
    const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::SessionNotFound,
        ErrorCode::AgentNotFound,
        ErrorCode::SessionBusy,
        ErrorCode::StoreFailure,
    ];
    type Params = SwitchAgentParams;
    type Result = Session;

    fn example_params() -> SwitchAgentParams {
        SwitchAgentParams {
            session_id: ex::session_id(),
            agent: "architect".into(),
        }
    }

    fn example_result() -> Session {
        Session {
            agent: "architect".into(),
            updated_at: ex::later(),
            ..ex::session()
        }
    }
}

/// `codelab/listTools`
#[derive(Debug, Clone, Copy)]
pub struct ListTools;

impl Method for ListTools {
    const NAME: &'static str = "codelab/listTools";
    const SUMMARY: &'static str = "Lists every tool with its kind, description and the JSON \
        Schema of its parameters: exactly what the model is given. A client can use the schema \
        to let the user edit a call's parameters before approving it (`codelab/decideApproval` \
        with decision `edit`); which tools an agent may call is in `codelab/listAgents`.";
    const ERRORS: &'static [ErrorCode] = &[];
    type Params = NoParams;
    type Result = ListToolsResult;

    fn example_params() -> NoParams {
        NoParams {}
    }

    fn example_result() -> ListToolsResult {
        ListToolsResult {
            tools: vec![ex::read_file_tool(), ex::write_file_tool()],
        }
    }
}

/// `codelab/listMcpServers`
#[derive(Debug, Clone, Copy)]
pub struct ListMcpServers;

impl Method for ListMcpServers {
    const NAME: &'static str = "codelab/listMcpServers";
    const SUMMARY: &'static str = "Lists the MCP servers with their state (`stopped`, \
        `running`, `failed` with the error and when it is started again) and the tools they \
        offer, as the model sees their names (`mcp__<server>__<tool>`): with `sessionId`, those \
        the session may use (its own, its trusted workspace's, the user's); without, every \
        server known (the user's, the trusted workspaces' that sessions used, each session's). \
        Does not start a server: servers start on the first turn of an agent that may use MCP \
        tools.";
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::SessionNotFound];
    type Params = ListMcpServersParams;
    type Result = ListMcpServersResult;

    fn example_params() -> ListMcpServersParams {
        ListMcpServersParams {
            session_id: Some(ex::session_id()),
        }
    }

    fn example_result() -> ListMcpServersResult {
        ListMcpServersResult {
            servers: vec![
                McpServerInfo {
                    name: "fs".into(),
                    source: "user".into(),
                    transport: "stdio".into(),
                    state: McpServerState::Running,
                    error: None,
                    tools: vec![
                        "mcp__fs__read_text_file".into(),
                        "mcp__fs__list_directory".into(),
                    ],
                    session_id: None,
                    workspace: None,
                    retry_in_ms: None,
                },
                McpServerInfo {
                    name: "everything".into(),
                    source: "session".into(),
                    transport: "stdio".into(),
                    state: McpServerState::Stopped,
                    error: None,
                    tools: vec![],
                    session_id: Some(ex::session_id()),
                    workspace: None,
                    retry_in_ms: None,
                },
                McpServerInfo {
                    name: "github".into(),
                    source: "user".into(),
                    transport: "http".into(),
                    state: McpServerState::Failed,
                    error: Some(
                        "the MCP server github did not answer initialize within 30 s".into(),
                    ),
                    tools: vec![],
                    session_id: None,
                    workspace: None,
                    retry_in_ms: Some(4000),
                },
            ],
        }
    }
}

/// `codelab/getDocument`
#[derive(Debug, Clone, Copy)]
pub struct GetDocument;

impl Method for GetDocument {
    const NAME: &'static str = "codelab/getDocument";
    const SUMMARY: &'static str = "Returns the server's copy of a document this connection \
        has open, with every change applied: what the tools read instead of the file on disk. \
        Lets a client check that its edits are in sync.";
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::DocumentNotOpen];
    type Params = GetDocumentParams;
    type Result = DocumentSnapshot;

    fn example_params() -> GetDocumentParams {
        GetDocumentParams {
            uri: "file:///home/ada/src/parser/src/lib.rs".into(),
        }
    }

    fn example_result() -> DocumentSnapshot {
        DocumentSnapshot {
            uri: "file:///home/ada/src/parser/src/lib.rs".into(),
            version: 7,
            language_id: "rust".into(),
            text: "pub fn parse() {}\n".into(),
        }
    }
}

/// `codelab/getMetrics`
#[derive(Debug, Clone, Copy)]
pub struct GetMetrics;

fn counts<const N: usize>(pairs: [(&str, u64); N]) -> BTreeMap<String, u64> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn percentiles(count: u64, p50: f64, p90: f64, p99: f64, max: f64) -> Percentiles {
    Percentiles {
        count,
        p50,
        p90,
        p99,
        max,
    }
}

impl Method for GetMetrics {
    const NAME: &'static str = "codelab/getMetrics";
    const SUMMARY: &'static str = "Returns the totals and rates since the process started, \
        counting every event published before the request: the figures `GET /metrics` \
        exposes.";
    const ERRORS: &'static [ErrorCode] = &[];
    type Params = NoParams;
    type Result = MetricsSnapshot;

    fn example_params() -> NoParams {
        NoParams {}
    }

    fn example_result() -> MetricsSnapshot {
        MetricsSnapshot {
            uptime_secs: 3600.5,
            sessions_created: 4,
            sessions_deleted: 1,
            turns: 12,
            turns_by_stop_reason: counts([("cancelled", 1), ("end_turn", 10), ("error", 1)]),
            messages_by_role: counts([("assistant", 30), ("tool", 26), ("user", 12)]),
            tool_calls: counts([
                ("apply_diff:completed", 3),
                ("apply_diff:rejected", 1),
                ("read_file:completed", 22),
            ]),
            approvals: counts([("approve", 3), ("reject", 1)]),
            llm_requests: 31,
            llm_failures: counts([("rate_limited", 1)]),
            tokens: TokenUsage {
                input_tokens: 48_210,
                output_tokens: 5_932,
                cache_read_tokens: 30_720,
                cache_write_tokens: 4_096,
            },
            cost_usd: 0.4215,
            turns_per_minute: 0.2,
            llm_requests_per_minute: 0.5,
            time_to_first_token_ms: percentiles(31, 420.0, 910.0, 1480.0, 1502.0),
            turn_duration_ms: percentiles(12, 8200.0, 21000.0, 40500.0, 41000.0),
            tool_duration_ms: percentiles(26, 3.0, 40.0, 950.0, 1210.0),
            events_published: 804,
            subscriber_lag: counts([("audit", 0), ("client:3", 2), ("metrics", 0)]),
        }
    }
}

/// `codelab/getSessionMetrics`
#[derive(Debug, Clone, Copy)]
pub struct GetSessionMetrics;

fn session_metrics() -> SessionMetrics {
    SessionMetrics {
        session_id: ex::session_id(),
        current_agent: Some("debug".into()),
        turns: 2,
        turns_by_stop_reason: counts([("end_turn", 2)]),
        messages: 9,
        tool_calls: counts([("apply_diff:completed", 1), ("read_file:completed", 3)]),
        llm_requests: 6,
        llm_failures: counts([("timeout_first_token", 1)]),
        tokens: ex::usage(),
        cost_usd: 0.0123,
        last_activity: Some(ex::later()),
    }
}

impl Method for GetSessionMetrics {
    const NAME: &'static str = "codelab/getSessionMetrics";
    const SUMMARY: &'static str = "Returns one session's figures since the process started \
        (zeros for a session without activity since then).";
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::SessionNotFound, ErrorCode::StoreFailure];
    type Params = SessionParams;
    type Result = SessionMetrics;

    fn example_params() -> SessionParams {
        SessionParams {
            session_id: ex::session_id(),
        }
    }

    fn example_result() -> SessionMetrics {
        session_metrics()
    }
}

/// `codelab/listSessionMetrics`
#[derive(Debug, Clone, Copy)]
pub struct ListSessionMetrics;

impl Method for ListSessionMetrics {
    const NAME: &'static str = "codelab/listSessionMetrics";
    const SUMMARY: &'static str = "Lists the figures of the sessions with activity since the \
        process started, newest first, one page at a time; a `limit` outside 1 to 200 or a \
        cursor this method did not return is `invalidParams`.";
    const ERRORS: &'static [ErrorCode] = &[];
    type Params = ListSessionMetricsParams;
    type Result = ListSessionMetricsResult;

    fn example_params() -> ListSessionMetricsParams {
        ListSessionMetricsParams {
            cursor: Some(ex::subtask_session_id().to_string()),
            limit: Some(1),
        }
    }

    fn example_result() -> ListSessionMetricsResult {
        ListSessionMetricsResult {
            sessions: vec![session_metrics()],
            next_cursor: Some(ex::session_id().to_string()),
        }
    }
}

/// `codelab/getAuditLog`
#[derive(Debug, Clone, Copy)]
pub struct GetAuditLog;

impl Method for GetAuditLog {
    const NAME: &'static str = "codelab/getAuditLog";
    const SUMMARY: &'static str = "Returns a page of the audit log, newest first, filtered by \
        session, category, type and time; every event published before the request is in it, \
        with secrets redacted. A `limit` outside 1 to 500 or a cursor this method did not \
        return is `invalidParams`.";
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::StoreFailure];
    type Params = GetAuditLogParams;
    type Result = GetAuditLogResult;

    fn example_params() -> GetAuditLogParams {
        GetAuditLogParams {
            session_id: Some(ex::session_id()),
            category: Some("approval".into()),
            kind: Some("decisionMade".into()),
            since: Some(ex::time()),
            until: Some(ex::later()),
            cursor: Some(ex::older_audit_id().to_string()),
            limit: Some(1),
        }
    }

    fn example_result() -> GetAuditLogResult {
        GetAuditLogResult {
            entries: vec![AuditEntry {
                id: ex::audit_id(),
                at: ex::later(),
                session_id: Some(ex::session_id()),
                category: "approval".into(),
                kind: "decisionMade".into(),
                payload: json!({
                    "approvalId": ex::approval_id(),
                    "tool": "apply_diff",
                    "decision": "approve",
                    "by": "client:3"
                }),
            }],
            next_cursor: Some(ex::audit_id().to_string()),
        }
    }
}

/// `codelab/subscribeEvents`
#[derive(Debug, Clone, Copy)]
pub struct SubscribeEvents;

impl Method for SubscribeEvents {
    const NAME: &'static str = "codelab/subscribeEvents";
    const SUMMARY: &'static str = "Subscribes this connection to runtime events, of every \
        category or of those listed (`agent`, `session`, `tool`, `approval`, `llm`; another \
        name is `invalidParams`); they follow as `codelab/event` notifications. A subscriber \
        that does not keep up loses events rather than slowing the server.";
    const ERRORS: &'static [ErrorCode] = &[];
    type Params = SubscribeEventsParams;
    type Result = SubscribeEventsResult;

    fn example_params() -> SubscribeEventsParams {
        SubscribeEventsParams {
            categories: Some(vec!["tool".into(), "approval".into()]),
        }
    }

    fn example_result() -> SubscribeEventsResult {
        SubscribeEventsResult { subscription_id: 3 }
    }
}

/// `codelab/unsubscribeEvents`
#[derive(Debug, Clone, Copy)]
pub struct UnsubscribeEvents;

impl Method for UnsubscribeEvents {
    const NAME: &'static str = "codelab/unsubscribeEvents";
    const SUMMARY: &'static str = "Ends one of this connection's event subscriptions, or all \
        of them without `subscriptionId`. Always succeeds.";
    const ERRORS: &'static [ErrorCode] = &[];
    type Params = UnsubscribeEventsParams;
    type Result = Ack;

    fn example_params() -> UnsubscribeEventsParams {
        UnsubscribeEventsParams {
            subscription_id: Some(3),
        }
    }

    fn example_result() -> Ack {
        Ack { ok: true }
    }
}

/// `codelab/listFiles`
#[derive(Debug, Clone, Copy)]
pub struct ListFiles;

impl Method for ListFiles {
    const NAME: &'static str = "codelab/listFiles";
    const SUMMARY: &'static str = "Lists a directory of the session's workspace folder, for a \
        client's file tree. The file methods serve the user, not the model: paths are confined \
        to the workspace by the same checks as the tools (no `..` above the root, no absolute \
        path elsewhere, no `~`, NUL, backslash or percent-encoding, no symlink leading out: \
        `pathRefused`), but ignored and protected files (`.codelabignore`, `.codelab/**`, \
        `.git/**`) are listed, read and written like any other, and marked. A symlink leading \
        out is listed as `symlink` and never followed.";
    const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::SessionNotFound,
        ErrorCode::PathRefused,
        ErrorCode::FileNotFound,
        ErrorCode::FileFailed,
    ];
    type Params = FilePathParams;
    type Result = ListFilesResult;

    fn example_params() -> FilePathParams {
        FilePathParams {
            session_id: ex::session_id(),
            path: String::new(),
        }
    }

    fn example_result() -> ListFilesResult {
        let entry = |name: &str, kind, size, ignored, protected| FileEntry {
            name: name.into(),
            path: name.into(),
            kind,
            size,
            ignored,
            protected,
        };
        ListFilesResult {
            path: String::new(),
            entries: vec![
                entry(".codelab", FileKind::Directory, 0, false, true),
                entry("src", FileKind::Directory, 0, false, false),
                entry(".codelabignore", FileKind::File, 12, false, true),
                entry(".env", FileKind::File, 48, true, false),
                entry("Cargo.toml", FileKind::File, 231, false, false),
            ],
        }
    }
}

/// `codelab/readFile`
#[derive(Debug, Clone, Copy)]
pub struct ReadFile;

impl Method for ReadFile {
    const NAME: &'static str = "codelab/readFile";
    const SUMMARY: &'static str = "Reads a text file of the session's workspace (confined as \
        `codelab/listFiles` says; ignored and protected files too) with its version, the \
        SHA-256 of its bytes, to pass as `baseVersion` when changing it. What is on disk, not \
        an editor's unsaved text. Binary, non-UTF-8 and files over the message size limit are \
        `fileFailed`.";
    const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::SessionNotFound,
        ErrorCode::PathRefused,
        ErrorCode::FileNotFound,
        ErrorCode::FileFailed,
    ];
    type Params = FilePathParams;
    type Result = ReadFileResult;

    fn example_params() -> FilePathParams {
        FilePathParams {
            session_id: ex::session_id(),
            path: "src/lib.rs".into(),
        }
    }

    fn example_result() -> ReadFileResult {
        ReadFileResult {
            path: "src/lib.rs".into(),
            uri: "file:///home/ada/src/parser/src/lib.rs".into(),
            text: "pub fn parse() {}\n".into(),
            version: ex::FILE_VERSION.into(),
        }
    }
}

/// `codelab/writeFile`
#[derive(Debug, Clone, Copy)]
pub struct WriteFile;

impl Method for WriteFile {
    const NAME: &'static str = "codelab/writeFile";
    const SUMMARY: &'static str = "Writes a text file of the session's workspace atomically \
        (created with its parents when missing), durably before answering. With \
        `baseVersion`, only if the file is still at that version: otherwise nothing is written \
        and the answer is `fileConflict`, so a save never overwrites an agent's or another \
        tab's change unseen.";
    const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::SessionNotFound,
        ErrorCode::PathRefused,
        ErrorCode::FileConflict,
        ErrorCode::FileFailed,
    ];
    type Params = WriteFileParams;
    type Result = FileChanged;

    fn example_params() -> WriteFileParams {
        WriteFileParams {
            session_id: ex::session_id(),
            path: "src/lib.rs".into(),
            text: "pub fn parse(input: &str) {}\n".into(),
            base_version: Some(ex::FILE_VERSION.into()),
        }
    }

    fn example_result() -> FileChanged {
        FileChanged {
            path: "src/lib.rs".into(),
            version: Some(ex::FILE_VERSION_SAVED.into()),
        }
    }
}

/// `codelab/createFile`
#[derive(Debug, Clone, Copy)]
pub struct CreateFile;

impl Method for CreateFile {
    const NAME: &'static str = "codelab/createFile";
    const SUMMARY: &'static str = "Creates a file (with `text`) or an empty directory in the \
        session's workspace, with its missing parents. Something already there is \
        `fileConflict`; nothing is overwritten.";
    const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::SessionNotFound,
        ErrorCode::PathRefused,
        ErrorCode::FileConflict,
        ErrorCode::FileFailed,
    ];
    type Params = CreateFileParams;
    type Result = FileChanged;

    fn example_params() -> CreateFileParams {
        CreateFileParams {
            session_id: ex::session_id(),
            path: "tests/crlf.rs".into(),
            kind: Some(FileKind::File),
            text: Some("#[test]\nfn crlf() {}\n".into()),
        }
    }

    fn example_result() -> FileChanged {
        FileChanged {
            path: "tests/crlf.rs".into(),
            version: Some(ex::FILE_VERSION.into()),
        }
    }
}

/// `codelab/renameFile`
#[derive(Debug, Clone, Copy)]
pub struct RenameFile;

impl Method for RenameFile {
    const NAME: &'static str = "codelab/renameFile";
    const SUMMARY: &'static str = "Moves a file or directory within the session's workspace. \
        The target must not exist (`fileConflict`); with `baseVersion`, a file moves only if \
        still at that version. The workspace root cannot be moved.";
    const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::SessionNotFound,
        ErrorCode::PathRefused,
        ErrorCode::FileNotFound,
        ErrorCode::FileConflict,
        ErrorCode::FileFailed,
    ];
    type Params = RenameFileParams;
    type Result = FileChanged;

    fn example_params() -> RenameFileParams {
        RenameFileParams {
            session_id: ex::session_id(),
            from: "tests/crlf.rs".into(),
            to: "tests/line_endings.rs".into(),
            base_version: Some(ex::FILE_VERSION.into()),
        }
    }

    fn example_result() -> FileChanged {
        FileChanged {
            path: "tests/line_endings.rs".into(),
            version: None,
        }
    }
}

/// `codelab/deleteFile`
#[derive(Debug, Clone, Copy)]
pub struct DeleteFile;

impl Method for DeleteFile {
    const NAME: &'static str = "codelab/deleteFile";
    const SUMMARY: &'static str = "Deletes a file, or a directory with everything in it, from \
        the session's workspace; with `baseVersion`, a file only if still at that version. The \
        workspace root cannot be deleted.";
    const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::SessionNotFound,
        ErrorCode::PathRefused,
        ErrorCode::FileNotFound,
        ErrorCode::FileConflict,
        ErrorCode::FileFailed,
    ];
    type Params = DeleteFileParams;
    type Result = FileChanged;

    fn example_params() -> DeleteFileParams {
        DeleteFileParams {
            session_id: ex::session_id(),
            path: "tests/line_endings.rs".into(),
            base_version: Some(ex::FILE_VERSION.into()),
        }
    }

    fn example_result() -> FileChanged {
        FileChanged {
            path: "tests/line_endings.rs".into(),
            version: None,
        }
    }
}

/// `codelab/saveDocuments` (server → client)
#[derive(Debug, Clone, Copy)]
pub struct SaveDocuments;

impl ClientMethod for SaveDocuments {
    const NAME: &'static str = "codelab/saveDocuments";
    const SUMMARY: &'static str = "Asks the client to save documents it has open, right after \
        an agent's edit reached them as `workspace/applyEdit`, so the file on disk holds the \
        edit before the next tool call runs (a build, the tests, `git diff`). Sent only to a \
        client that set `capabilities.experimental.codelab.saveDocuments` in `initialize`, and \
        only for a document whose buffer matched the file on disk before the edit: a buffer \
        holding the user's own unsaved changes gets the edit on top of them and is never saved \
        by the agent. The client saves as the user would (its save hooks run, `didSave` \
        follows) and answers once the files are written, listing what it saved and why it did \
        not save the others.";
    type Params = SaveDocumentsParams;
    type Result = SaveDocumentsResult;

    fn example_params() -> SaveDocumentsParams {
        SaveDocumentsParams {
            uris: vec![
                "file:///home/ada/src/parser/src/lib.rs".into(),
                "file:///home/ada/src/parser/README.md".into(),
            ],
        }
    }

    fn example_result() -> SaveDocumentsResult {
        SaveDocumentsResult {
            saved: vec!["file:///home/ada/src/parser/src/lib.rs".into()],
            failed: vec![SaveFailure {
                uri: "file:///home/ada/src/parser/README.md".into(),
                reason: "E212: Can't open file for writing".into(),
            }],
        }
    }
}
