// Generated from the Rust types of codelab-agent; do not edit.
// Regenerate with: UPDATE_PROTOCOL=1 cargo test --test protocol

export const PROTOCOL_VERSION = "0.1";

export type Session = { 
/**
 * The session's id, a UUID v7 (time-ordered).
 */
id: string, 
/**
 * A human-readable title.
 */
title: string, 
/**
 * The workspace folder (a `file://` URI) the session works in, if any.
 */
workspaceFolder: string | null, 
/**
 * The slug of the agent currently handling the session.
 */
agent: string, 
/**
 * When the session was created.
 */
createdAt: string, 
/**
 * When the session last changed.
 */
updatedAt: string, 
/**
 * How many messages the session's history holds.
 */
messageCount: number, 
/**
 * The highest `seq` used by the session so far; events carry larger ones.
 */
lastSeq: number, 
/**
 * For a subtask's session: the session that delegated it.
 */
parentSessionId?: string, 
/**
 * For a subtask's session: the parent's `new_task` call it answers.
 */
parentToolCallId?: string, };

export type Role = "user" | "assistant" | "tool";

export type ToolCall = { 
/**
 * The call's id, unique within the session.
 */
id: string, 
/**
 * The tool's name.
 */
name: string, 
/**
 * The arguments, as a JSON object.
 */
arguments: unknown, };

export type Message = { 
/**
 * The message's stable id (UUID v7).
 */
id: string, 
/**
 * The session it belongs to.
 */
sessionId: string, 
/**
 * Its position in the session: strictly increasing, shared with the
 * session's streamed events, so a client can resume after any seq.
 */
seq: number, 
/**
 * The turn that produced it, if any.
 */
turnId?: string, 
/**
 * Who wrote it.
 */
role: Role, 
/**
 * The text (for a tool message, the tool's result).
 */
text: string, 
/**
 * Tool calls made in an assistant message (empty otherwise).
 */
toolCalls: Array<ToolCall>, 
/**
 * For a tool message: the call it answers.
 */
toolCallId?: string, 
/**
 * For a tool message: whether the tool failed.
 */
isError: boolean, 
/**
 * For a user message: the editor state sent with it.
 */
context?: MessageContext, 
/**
 * When it was written.
 */
createdAt: string, };

export type AgentInfo = { 
/**
 * The agent's slug, used to select it (`coder`, `architect`, ...).
 */
slug: string, 
/**
 * Its display name.
 */
name: string, 
/**
 * What it is for.
 */
description: string, 
/**
 * The tools it may call, by name.
 */
tools: Array<string>, 
/**
 * A regular expression that every path it edits must match, if its edits
 * are restricted (the architect's is `\.md$`).
 */
fileRestriction?: string, };

export type CreateSessionParams = { 
/**
 * The workspace folder URI; defaults to the connection's first workspace folder.
 */
workspaceFolder?: string, 
/**
 * The starting agent; defaults to `orchestrator`.
 */
agent?: string, 
/**
 * A title; defaults to "New session".
 */
title?: string, };

export type ListSessionsParams = { 
/**
 * The `nextCursor` of the previous page; omit for the first page.
 */
cursor?: string, 
/**
 * Page size, 1 to 200; default 50.
 */
limit?: number, };

export type ListSessionsResult = { 
/**
 * One page of sessions, newest first (by creation).
 */
sessions: Array<Session>, 
/**
 * Pass this as `cursor` to get the next page; absent on the last page.
 */
nextCursor?: string, };

export type SessionParams = { 
/**
 * The session's id.
 */
sessionId: string, };

export type DeleteSessionResult = { 
/**
 * The deleted session's id.
 */
sessionId: string, 
/**
 * How many messages were deleted with it.
 */
deletedMessages: number, };

export type GetHistoryParams = { 
/**
 * The session's id.
 */
sessionId: string, 
/**
 * Return only messages with a larger seq; omit to start at the beginning.
 */
afterSeq?: number, 
/**
 * Page size, 1 to 1000; default 200.
 */
limit?: number, };

export type GetHistoryResult = { 
/**
 * Messages in increasing seq.
 */
messages: Array<Message>, 
/**
 * Whether more messages follow; pass the last seq as `afterSeq` to get them.
 */
hasMore: boolean, };

export type ListAgentsResult = { 
/**
 * Every agent, in a stable order.
 */
agents: Array<AgentInfo>, 
/**
 * Workspace files that were ignored (`.codelab/agents.toml` and
 * `.codelab/prompts/*.md` of a workspace the user does not trust).
 * Omitted when empty.
 */
warnings?: Array<string>, };

export type CurrentAgentResult = { 
/**
 * The session's id.
 */
sessionId: string, 
/**
 * The agent currently handling it.
 */
agent: AgentInfo, };

export type MessageContext = { 
/**
 * Files open in the editor (URIs or workspace-relative paths).
 */
openFiles: Array<string>, 
/**
 * The active file, if any.
 */
activeFile?: string, 
/**
 * The selected text, if any.
 */
selection?: string, 
/**
 * Diagnostics the user sees, as text (`file:line: message`).
 */
diagnostics: Array<string>, };

export type SendMessageParams = { 
/**
 * The session.
 */
sessionId: string, 
/**
 * The user's message.
 */
text: string, 
/**
 * Switch the session to this agent first.
 */
agent?: string, 
/**
 * The editor's state.
 */
context?: MessageContext, };

export type SendMessageResult = { 
/**
 * The new turn's id.
 */
turnId: string, };

export type CancelTurnResult = { 
/**
 * The turn that was cancelled, or none if no turn was running.
 */
turnId: string | null, };

export type AttachSessionParams = { 
/**
 * The session.
 */
sessionId: string, 
/**
 * Replay persisted messages after this seq (default 0: everything).
 */
afterSeq?: number, };

export type AttachSessionResult = { 
/**
 * The session.
 */
session: Session, 
/**
 * Persisted messages after `afterSeq`, in seq order.
 */
messages: Array<Message>, 
/**
 * The running turn, if any.
 */
runningTurnId?: string, 
/**
 * Questions waiting for an answer.
 */
pendingQuestions: Array<QuestionParams>, 
/**
 * Approvals waiting for a decision.
 */
pendingApprovals: Array<Approval>, };

export type SwitchAgentParams = { 
/**
 * The session.
 */
sessionId: string, 
/**
 * The agent's slug.
 */
agent: string, };

export type AnswerQuestionParams = { 
/**
 * The session.
 */
sessionId: string, 
/**
 * The question's id, from `codelab/question`.
 */
questionId: string, 
/**
 * The answer.
 */
answer: string, };

export type Ack = { 
/**
 * Always true.
 */
ok: boolean, };

export type ListAgentsParams = { 
/**
 * Include the agents this workspace folder defines in `.codelab/agents.toml`
 * (default: the connection's first workspace folder).
 */
workspaceFolder?: string, };

export type TokenUsage = { 
/**
 * Uncached input tokens.
 */
inputTokens: number, 
/**
 * Output tokens.
 */
outputTokens: number, 
/**
 * Input tokens read from cache.
 */
cacheReadTokens: number, 
/**
 * Input tokens written to cache.
 */
cacheWriteTokens: number, };

export type TokenParams = { 
/**
 * The session.
 */
sessionId: string, 
/**
 * The turn.
 */
turnId: string, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * Text to append.
 */
delta: string, };

export type ToolCallStatus = "pending" | "in_progress" | "completed" | "failed";

export type ToolCallParams = { 
/**
 * The session.
 */
sessionId: string, 
/**
 * The turn.
 */
turnId: string, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * The call's id.
 */
toolCallId: string, 
/**
 * The tool's name.
 */
name: string, 
/**
 * `read`, `edit`, `execute` or `interaction`.
 */
kind: string, 
/**
 * The arguments.
 */
params: unknown, 
/**
 * The status.
 */
status: ToolCallStatus, 
/**
 * The result text, once completed or failed.
 */
result?: string, };

export type StopReason = "end_turn" | "cancelled" | "max_iterations" | "error";

export type TurnCompletedParams = { 
/**
 * The session.
 */
sessionId: string, 
/**
 * The turn.
 */
turnId: string, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * Why it ended.
 */
stopReason: StopReason, 
/**
 * Tokens used by the turn's requests.
 */
usage: TokenUsage, 
/**
 * Their cost in US dollars.
 */
costUsd: number, 
/**
 * The final result (attempt_completion's, or the last reply's text).
 */
result?: string, 
/**
 * The error, for `stopReason: "error"`.
 */
error?: string, };

export type AgentSwitchedParams = { 
/**
 * The session.
 */
sessionId: string, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * The previous agent.
 */
from: string, 
/**
 * The new agent.
 */
to: string, 
/**
 * Why.
 */
reason: string, };

export type QuestionParams = { 
/**
 * The session.
 */
sessionId: string, 
/**
 * The turn.
 */
turnId: string, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * Answer with this id.
 */
questionId: string, 
/**
 * The question.
 */
question: string, 
/**
 * Suggested answers.
 */
suggestions: Array<string>, };

export type CommandOutputParams = { 
/**
 * The session.
 */
sessionId: string, 
/**
 * The turn.
 */
turnId: string, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * The execute_command call.
 */
toolCallId: string, 
/**
 * `stdout` or `stderr`.
 */
stream: string, 
/**
 * The text.
 */
text: string, };

export type MessageAddedParams = { 
/**
 * The session.
 */
sessionId: string, 
/**
 * The session's seq (the message's own).
 */
seq: number, 
/**
 * The message.
 */
message: Message, };

export type Approval = { 
/**
 * The approval's id.
 */
id: string, 
/**
 * The session.
 */
sessionId: string, 
/**
 * The turn.
 */
turnId: string, 
/**
 * The tool call.
 */
toolCallId: string, 
/**
 * The tool.
 */
tool: string, 
/**
 * The arguments the model gave.
 */
params: unknown, 
/**
 * The rule that asked (`default: edits ask`, ...).
 */
rule: string, 
/**
 * For edits: a unified diff of the change, when it can be computed.
 */
diff?: string, 
/**
 * When it was asked.
 */
createdAt: string, };

export type ApprovalRequiredParams = { 
/**
 * The session.
 */
sessionId: string, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * The approval.
 */
approval: Approval, };

export type Decision = "approve" | "edit" | "reject" | "cancelled" | "timedOut";

export type ApprovalScope = "once" | "session";

export type DecideApprovalParams = { 
/**
 * The approval.
 */
approvalId: string, 
/**
 * `approve`, `edit` or `reject`.
 */
decision: Decision, 
/**
 * With `edit`: the new parameters (validated again).
 */
params?: unknown, 
/**
 * With `reject`: a note the model reads.
 */
feedback?: string, 
/**
 * With `approve`: `session` also allows this tool and argument pattern for the rest of the session.
 */
scope?: ApprovalScope, };

export type ApprovalResolvedParams = { 
/**
 * The session.
 */
sessionId: string, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * The approval.
 */
approvalId: string, 
/**
 * The decision.
 */
decision: Decision, 
/**
 * Who decided: `client:<n>`, `turn` (cancelled) or `timeout`.
 */
by: string, };

export type ListPendingApprovalsParams = { 
/**
 * Only this session's.
 */
sessionId?: string, };

export type ListPendingApprovalsResult = { 
/**
 * Oldest first.
 */
approvals: Array<Approval>, };

export type GetPolicyParams = { 
/**
 * Include this session's workspace rules and "allow always" decisions
 * (default: the connection's first workspace folder, no session rules).
 */
sessionId?: string, };

export type PolicyRule = { 
/**
 * Tool name, `*` wildcards allowed.
 */
tool: string, 
/**
 * Path glob, for file tools.
 */
path?: string, 
/**
 * Command pattern, for `execute_command`.
 */
command?: string, 
/**
 * The command must match exactly, not as a prefix.
 */
exact: boolean, 
/**
 * `allow`, `ask` or `deny`.
 */
action: string, 
/**
 * For `ask`: seconds before the approval is rejected.
 */
timeoutSecs?: number, 
/**
 * `builtin`, `user`, `workspace` or `session`.
 */
source: string, };

export type GetPolicyResult = { 
/**
 * The effective rules, lowest scope first, in order within a scope.
 */
rules: Array<PolicyRule>, 
/**
 * Problems in policy files (`file:line: reason`); the last valid rules are in force.
 */
errors: Array<string>, };

export type Percentiles = { 
/**
 * How many samples.
 */
count: number, 
/**
 * Median.
 */
p50: number, 
/**
 * 90th percentile.
 */
p90: number, 
/**
 * 99th percentile.
 */
p99: number, 
/**
 * Largest.
 */
max: number, };

export type SessionMetrics = { 
/**
 * The session.
 */
sessionId: string, 
/**
 * The agent now handling it.
 */
currentAgent?: string, 
/**
 * Turns started.
 */
turns: number, 
/**
 * Turns ended, by stop reason.
 */
turnsByStopReason: { [key in string]: number }, 
/**
 * Messages added.
 */
messages: number, 
/**
 * Tool calls, by `tool:outcome`.
 */
toolCalls: { [key in string]: number }, 
/**
 * LLM requests (attempts).
 */
llmRequests: number, 
/**
 * Failed LLM requests, by reason.
 */
llmFailures: { [key in string]: number }, 
/**
 * Tokens.
 */
tokens: TokenUsage, 
/**
 * Cost in US dollars.
 */
costUsd: number, 
/**
 * The last event's time.
 */
lastActivity?: string, };

export type MetricsSnapshot = { 
/**
 * Seconds since the process started.
 */
uptimeSecs: number, 
/**
 * Sessions created.
 */
sessionsCreated: number, 
/**
 * Sessions deleted.
 */
sessionsDeleted: number, 
/**
 * Turns started.
 */
turns: number, 
/**
 * Turns ended, by stop reason.
 */
turnsByStopReason: { [key in string]: number }, 
/**
 * Messages added, by role.
 */
messagesByRole: { [key in string]: number }, 
/**
 * Tool calls, by `tool:outcome` (completed, failed, rejected).
 */
toolCalls: { [key in string]: number }, 
/**
 * Approval decisions, by decision.
 */
approvals: { [key in string]: number }, 
/**
 * LLM requests (attempts).
 */
llmRequests: number, 
/**
 * Failed LLM requests, by classified reason.
 */
llmFailures: { [key in string]: number }, 
/**
 * Tokens over all requests.
 */
tokens: TokenUsage, 
/**
 * Cost in US dollars.
 */
costUsd: number, 
/**
 * Turns per minute since start.
 */
turnsPerMinute: number, 
/**
 * LLM requests per minute since start.
 */
llmRequestsPerMinute: number, 
/**
 * Time to first token.
 */
timeToFirstTokenMs: Percentiles, 
/**
 * Turn duration.
 */
turnDurationMs: Percentiles, 
/**
 * Tool call duration.
 */
toolDurationMs: Percentiles, 
/**
 * Events published on the bus.
 */
eventsPublished: number, 
/**
 * Events each subscriber lost to a full queue.
 */
subscriberLag: { [key in string]: number }, };

export type ListSessionMetricsParams = { 
/**
 * The `nextCursor` of the previous page.
 */
cursor?: string, 
/**
 * Page size, 1 to 200; default 50.
 */
limit?: number, };

export type ListSessionMetricsResult = { 
/**
 * One page.
 */
sessions: Array<SessionMetrics>, 
/**
 * For the next page.
 */
nextCursor?: string, };

export type GetAuditLogParams = { 
/**
 * Only this session's entries.
 */
sessionId?: string, 
/**
 * Only this category (`session`, `tool`, `approval`, `llm`, `agent`, `housekeeping`).
 */
category?: string, 
/**
 * Only this type within the category.
 */
type?: string, 
/**
 * Entries at or after this time (RFC 3339).
 */
since?: string, 
/**
 * Entries before this time (RFC 3339).
 */
until?: string, 
/**
 * The `nextCursor` of the previous page.
 */
cursor?: string, 
/**
 * Page size, 1 to 500; default 100.
 */
limit?: number, };

export type AuditEntry = { 
/**
 * Its id (time-ordered; stable across restarts).
 */
id: string, 
/**
 * When it happened.
 */
at: string, 
/**
 * The session concerned.
 */
sessionId?: string, 
/**
 * The category.
 */
category: string, 
/**
 * The type within the category.
 */
type: string, 
/**
 * Details (secrets redacted).
 */
payload: unknown, };

export type GetAuditLogResult = { 
/**
 * One page.
 */
entries: Array<AuditEntry>, 
/**
 * For the next page.
 */
nextCursor?: string, };

export type SubscribeEventsParams = { 
/**
 * Only these categories (default: all).
 */
categories?: Array<string>, };

export type SubscribeEventsResult = { 
/**
 * Pass it to `codelab/unsubscribeEvents`.
 */
subscriptionId: number, };

export type UnsubscribeEventsParams = { 
/**
 * The subscription (default: all of this connection's).
 */
subscriptionId?: number, };

export type EventParams = { 
/**
 * The subscription it is for.
 */
subscriptionId: number, 
/**
 * The event.
 */
event: AuditEntry, 
/**
 * The turn it belongs to.
 */
turnId?: string, };

export type GetDocumentParams = { 
/**
 * The document's URI, as sent in `textDocument/didOpen`.
 */
uri: string, };

export type DocumentSnapshot = { 
/**
 * The document's URI.
 */
uri: string, 
/**
 * The version of the last change applied.
 */
version: number, 
/**
 * The language id from `didOpen`.
 */
languageId: string, 
/**
 * The full text, unsaved changes included.
 */
text: string, };

export type CodelabCapabilities = { 
/**
 * The protocol version, `MAJOR.MINOR`. See the versioning rule.
 */
protocolVersion: string, 
/**
 * The server's version.
 */
serverVersion: string, 
/**
 * Feature names the server supports; anything not listed is unsupported.
 */
features: Array<string>, 
/**
 * The position encoding chosen for this connection (`utf-8` or `utf-16`).
 */
positionEncoding: string, };

export type InvalidParamsData = { 
/**
 * The path of the failing field (`limit`, `context.files[0]`), or `.` for the whole.
 */
field: string, 
/**
 * Why it was refused.
 */
reason: string, };

export type ErrorData = { 
/**
 * A stable, machine-readable name for the error (`sessionNotFound`, ...).
 */
kind: string, 
/**
 * Whether the same request may succeed if retried later.
 */
retryable: boolean, 
/**
 * The session concerned, if any.
 */
sessionId?: string, 
/**
 * The field concerned, for invalid parameters.
 */
field?: string, 
/**
 * More detail, for humans.
 */
detail?: string, };

/** Requests the client sends: method name to [params, result]. */
export interface CodelabRequests {
  "codelab/createSession": [CreateSessionParams, Session];
  "codelab/listSessions": [ListSessionsParams, ListSessionsResult];
  "codelab/getSession": [SessionParams, Session];
  "codelab/deleteSession": [SessionParams, DeleteSessionResult];
  "codelab/getHistory": [GetHistoryParams, GetHistoryResult];
  "codelab/listAgents": [ListAgentsParams, ListAgentsResult];
  "codelab/getCurrentAgent": [SessionParams, CurrentAgentResult];
  "codelab/getDocument": [GetDocumentParams, DocumentSnapshot];
}

/** Notifications the server sends: method name to params. */
export interface CodelabNotifications {
}

export const ErrorCodes = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  serverNotInitialized: -32002,
  requestCancelled: -32800,
  sessionNotFound: -33001,
  sessionBusy: -33002,
  storeFailure: -33003,
  agentNotFound: -33004,
  messageTooLarge: -33005,
  documentNotOpen: -33006,
  notPending: -33007,
  rateLimited: -33008,
  overloaded: -33009,
} as const;
