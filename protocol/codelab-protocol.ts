// Generated from the Rust types of codelab-agent; do not edit.
// Regenerate with: UPDATE_PROTOCOL=1 cargo test --test protocol

export const PROTOCOL_VERSION = "0.3";

export type SessionId = string;

export type TurnId = string;

export type MessageId = string;

export type ApprovalId = string;

export type QuestionId = string;

export type EventId = string;

export type Session = { 
/**
 * The session's id, a UUID v7 (time-ordered).
 */
id: SessionId, 
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
parentSessionId?: SessionId, 
/**
 * For a subtask's session: the parent's `new_task` call it answers.
 */
parentToolCallId?: string, 
/**
 * The model chosen for the session's turns (an ACP client's `model`
 * option), when one was; else its turns use the configured model.
 */
model?: ChosenModel, };

export type ChosenModel = { 
/**
 * The provider, as `codelab.toml` names it (`openai`, `anthropic`...).
 */
provider: string, 
/**
 * The model.
 */
model: string, };

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
id: MessageId, 
/**
 * The session it belongs to.
 */
sessionId: SessionId, 
/**
 * Its position in the session: strictly increasing, shared with the
 * session's streamed events, so a client can resume after any seq.
 */
seq: number, 
/**
 * The turn that produced it, if any.
 */
turnId?: TurnId, 
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
createdAt: string, 
/**
 * Present on a compaction marker (role `user`, never sent to the model
 * as itself): its `text` is the summary that replaces the messages up
 * to `summarizedThrough`; tool results up to `elidedThrough` are sent as
 * a short note. Nothing is deleted: the history still holds them all.
 */
compaction?: Compaction, 
/**
 * For an assistant message: the model's reasoning, as it streamed it
 * (`codelab/reasoning`), kept apart from `text`.
 */
reasoning?: string, };

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
 * A title; defaults to "New session", which the session's first message
 * replaces.
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
sessionId: SessionId, };

export type DeleteSessionResult = { 
/**
 * The deleted session's id.
 */
sessionId: SessionId, 
/**
 * How many messages were deleted with it.
 */
deletedMessages: number, };

export type GetHistoryParams = { 
/**
 * The session's id.
 */
sessionId: SessionId, 
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
sessionId: SessionId, 
/**
 * The agent currently handling it.
 */
agent: AgentInfo, };

export type ToolKind = "read" | "edit" | "execute" | "interaction";

export type ToolInfo = { 
/**
 * The tool's name, as in tool calls and approvals (`write_file`, ...).
 */
name: string, 
/**
 * What it does: reads files, edits them, runs commands or talks to the user.
 */
kind: ToolKind, 
/**
 * Its description, as the model reads it.
 */
description: string, 
/**
 * The JSON Schema (draft 2020-12, subschemas inlined) of its parameters:
 * exactly what the model is given. A call's `arguments`, and the
 * `params` of a `decideApproval` with decision `edit`, must satisfy it.
 */
parameters: Record<string, unknown>, };

export type ListToolsResult = { 
/**
 * Every tool, in a stable order. Which an agent may call is in its
 * `tools` (`codelab/listAgents`).
 */
tools: Array<ToolInfo>, };

export type McpServerState = "stopped" | "running" | "failed";

export type McpServerInfo = { 
/**
 * Its name: its tools are `mcp__<name>__<tool>`.
 */
name: string, 
/**
 * Where it is configured: `user` (`codelab.toml`), `workspace` (a
 * trusted workspace's `.codelab/config.toml`, named by `workspace`) or
 * `session` (given to one session by its client, ACP's `mcpServers`;
 * named by `sessionId`).
 */
source: string, 
/**
 * The session it was given to, for `source: "session"`.
 */
sessionId?: SessionId, 
/**
 * The workspace folder (a `file://` URI) whose configuration adds it,
 * for `source: "workspace"`.
 */
workspace?: string, 
/**
 * `stdio` or `http`.
 */
transport: string, 
/**
 * Its state.
 */
state: McpServerState, 
/**
 * Why it failed, when it did.
 */
error?: string, 
/**
 * Its tools, as the model sees their names, as last listed.
 */
tools: Array<string>, 
/**
 * When `failed`: milliseconds until the next use starts it again (it
 * backs off from 1 s, doubling after each failure, up to a minute).
 */
retryInMs?: number, };

export type ListMcpServersParams = { 
/**
 * Only the servers this session may use (its own, its workspace's, the
 * user's). Without it: every server known (the user's, the trusted
 * workspaces' that sessions have used, each session's).
 */
sessionId?: SessionId, };

export type ListMcpServersResult = { 
/**
 * Every configured server, by name.
 */
servers: Array<McpServerInfo>, };

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
sessionId: SessionId, 
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
turnId: TurnId, };

export type CancelTurnResult = { 
/**
 * The turn that was cancelled, or none if no turn was running.
 */
turnId: TurnId | null, };

export type Compaction = { 
/**
 * Messages up to this seq are summarised (0: none).
 */
summarizedThrough: number, 
/**
 * Tool results up to this seq are elided (0: none).
 */
elidedThrough: number, 
/**
 * The estimated tokens of the request before the compaction.
 */
tokensBefore: number, 
/**
 * The estimated tokens of the request after it.
 */
tokensAfter: number, 
/**
 * A restore truncated the conversation: messages from this seq up to
 * the marker are hidden from the model (0: none). Each marker hides its
 * own range; the messages stay in the history.
 */
rewoundFrom: number, };

export type CompactSessionResult = { 
/**
 * What is now elided or summarised; `null` when there was nothing to
 * compact (the history is the latest turn only).
 */
compaction: Compaction | null, };

export type FileStat = { 
/**
 * The path, relative to the workspace folder.
 */
path: string, 
/**
 * `created`, `modified` or `deleted`.
 */
status: string, 
/**
 * Lines added.
 */
added: number, 
/**
 * Lines removed.
 */
removed: number, };

export type TurnCheckpoint = { 
/**
 * The turn.
 */
turnId: TurnId, 
/**
 * Each file with its diff stat (before the turn's first edit, after
 * its last).
 */
files: Array<FileStat>, };

export type ListCheckpointsResult = { 
/**
 * The turns that changed files, oldest first.
 */
turns: Array<TurnCheckpoint>, };

export type RestoreCheckpointParams = { 
/**
 * The session.
 */
sessionId: SessionId, 
/**
 * The turn: files are put back as they were before it.
 */
turnId: TurnId, 
/**
 * Also restore files changed since the agent's last edit (conflicts).
 */
overwrite?: boolean, 
/**
 * Also truncate the conversation to before the turn: its messages and
 * every later one are hidden from the model by a marker (they stay in
 * the history).
 */
truncateConversation?: boolean, };

export type RestoreCheckpointResult = { 
/**
 * Files put back (written, or removed when the agent had created them).
 */
restored: Array<string>, 
/**
 * Files left alone: their content is not what the agent left (the user
 * changed them since). Restore again with `overwrite: true` to put them
 * back anyway.
 */
conflicts: Array<string>, 
/**
 * With `truncateConversation`: the first hidden message's seq.
 */
truncatedFromSeq?: number, };

export type TurnDiffParams = { 
/**
 * The session.
 */
sessionId: SessionId, 
/**
 * The turn.
 */
turnId: TurnId, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * Each file with its diff stat.
 */
files: Array<FileStat>, 
/**
 * The unified diff of every file the turn changed.
 */
diff: string, };

export type ContextUsageParams = { 
/**
 * The session.
 */
sessionId: SessionId, 
/**
 * The turn.
 */
turnId: TurnId, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * Tokens of the last request: the provider's count when it reported
 * one, else the server's estimate.
 */
usedTokens: number, 
/**
 * The model's context window.
 */
contextWindow: number, 
/**
 * The last request's tokens (input, output, cache reads and writes).
 */
usage: TokenUsage, 
/**
 * The turn's cost so far, in US dollars.
 */
turnCostUsd: number, 
/**
 * The session's cost, in US dollars (of the requests this server made).
 */
sessionCostUsd: number, };

export type ContextCompactedParams = { 
/**
 * The session.
 */
sessionId: SessionId, 
/**
 * The turn, when one was running.
 */
turnId?: TurnId, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * What is now elided or summarised, with the estimated tokens of the
 * request before and after.
 */
compaction: Compaction, 
/**
 * Tool results newly elided.
 */
elided: number, 
/**
 * Whether the older turns were summarised by the model.
 */
summarized: boolean, };

export type AttachSessionParams = { 
/**
 * The session.
 */
sessionId: SessionId, 
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
runningTurnId?: TurnId, 
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
sessionId: SessionId, 
/**
 * The agent's slug.
 */
agent: string, };

export type AnswerQuestionParams = { 
/**
 * The session.
 */
sessionId: SessionId, 
/**
 * The question's id, from `codelab/question`.
 */
questionId: QuestionId, 
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
sessionId: SessionId, 
/**
 * The turn.
 */
turnId: TurnId, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * Text to append.
 */
delta: string, };

export type ReasoningParams = { 
/**
 * The session.
 */
sessionId: SessionId, 
/**
 * The turn.
 */
turnId: TurnId, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * Reasoning text to append.
 */
delta: string, };

export type ToolCallStatus = "pending" | "in_progress" | "completed" | "failed";

export type ToolCallParams = { 
/**
 * The session.
 */
sessionId: SessionId, 
/**
 * The turn.
 */
turnId: TurnId, 
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

export type StopReason = "end_turn" | "cancelled" | "max_iterations" | "max_tokens" | "refusal" | "error";

export type TurnCompletedParams = { 
/**
 * The session.
 */
sessionId: SessionId, 
/**
 * The turn.
 */
turnId: TurnId, 
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
sessionId: SessionId, 
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

export type ModelChosenParams = { 
/**
 * The session.
 */
sessionId: SessionId, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * The model its turns use from now on; null: the configured one.
 */
model: ChosenModel | null, };

export type QuestionParams = { 
/**
 * The session.
 */
sessionId: SessionId, 
/**
 * The turn.
 */
turnId: TurnId, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * Answer with this id.
 */
questionId: QuestionId, 
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
sessionId: SessionId, 
/**
 * The turn.
 */
turnId: TurnId, 
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
sessionId: SessionId, 
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
id: ApprovalId, 
/**
 * The session.
 */
sessionId: SessionId, 
/**
 * The turn.
 */
turnId: TurnId, 
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
 * For edits: each file the call would change, with its current and its
 * proposed content, so an editor can show them side by side (and let
 * the user edit the proposal before approving).
 */
files?: Array<ApprovalFile>, 
/**
 * When it was asked.
 */
createdAt: string, };

export type ApprovalFile = { 
/**
 * The path, relative to the session's workspace folder.
 */
path: string, 
/**
 * What it holds now: the editor's buffer when open, else the disk (empty for a new file).
 */
current: string, 
/**
 * What it would hold after the call.
 */
proposed: string, };

export type ApprovalRequiredParams = { 
/**
 * The session.
 */
sessionId: SessionId, 
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
approvalId: ApprovalId, 
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
sessionId: SessionId, 
/**
 * The session's seq.
 */
seq: number, 
/**
 * The approval.
 */
approvalId: ApprovalId, 
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
sessionId?: SessionId, };

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
sessionId?: SessionId, };

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
 * For commands: the sandbox mode they run in under this rule
 * (`off`, `workspace-write` or `read-only`).
 */
sandbox?: string, 
/**
 * For commands: the network stays on in the sandbox.
 */
network: boolean, 
/**
 * `builtin`, `user`, `workspace` or `session`.
 */
source: string, };

export type SandboxInfo = { 
/**
 * Whether commands can be sandboxed on this machine; when not, every
 * command runs unsandboxed and asks.
 */
available: boolean, 
/**
 * Why not, when not.
 */
reason?: string, 
/**
 * The mode commands run in unless a rule says otherwise (for the
 * session's agent when a session is given).
 */
mode: string, 
/**
 * Whether the network is on in the sandbox for every command.
 */
network: boolean, 
/**
 * Extra writable paths (beyond the workspace and the session's temp dir).
 */
writable: Array<string>, };

export type GetPolicyResult = { 
/**
 * The effective rules, lowest scope first, in order within a scope.
 */
rules: Array<PolicyRule>, 
/**
 * Problems in policy files (`file:line: reason`); the last valid rules are in force.
 */
errors: Array<string>, 
/**
 * How commands are sandboxed.
 */
sandbox: SandboxInfo, };

export type ListProcessesParams = { 
/**
 * Only this session's (default: every session's).
 */
sessionId?: SessionId, };

export type ProcessInfo = { 
/**
 * Its id within the session (`p1`), as the agent names it.
 */
id: string, 
/**
 * The session that started it.
 */
sessionId: SessionId, 
/**
 * The command line.
 */
command: string, 
/**
 * The process id of its launcher (its process group).
 */
pid: number, 
/**
 * When it started.
 */
startedAt: string, 
/**
 * Whether it runs in the sandbox.
 */
sandboxed: boolean, 
/**
 * Whether it is still running.
 */
running: boolean, 
/**
 * Its exit code once it ended (`128 + N` when signal N ended it).
 */
exitCode?: number, };

export type ListProcessesResult = { 
/**
 * In start order.
 */
processes: Array<ProcessInfo>, };

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
sessionId?: SessionId, 
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
id: EventId, 
/**
 * When it happened.
 */
at: string, 
/**
 * The session concerned.
 */
sessionId?: SessionId, 
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
turnId?: TurnId, };

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

export type FilePathParams = { 
/**
 * The session whose workspace folder holds the path.
 */
sessionId: SessionId, 
/**
 * A path relative to the workspace root (`/`-separated; `""` is the
 * root), or an absolute path inside it.
 */
path: string, };

export type FileKind = "file" | "directory" | "symlink";

export type FileEntry = { 
/**
 * Its name.
 */
name: string, 
/**
 * Its path relative to the workspace root.
 */
path: string, 
/**
 * What it is.
 */
kind: FileKind, 
/**
 * Its size in bytes (0 for directories).
 */
size: number, 
/**
 * Whether `.codelabignore` hides it from the agents (the user still sees it).
 */
ignored: boolean, 
/**
 * Whether an agent needs the user's approval to change it.
 */
protected: boolean, };

export type ListFilesResult = { 
/**
 * The directory listed, relative to the root (`""` for the root).
 */
path: string, 
/**
 * Its entries: directories first, then files, each by name.
 */
entries: Array<FileEntry>, };

export type ReadFileResult = { 
/**
 * The path relative to the workspace root.
 */
path: string, 
/**
 * The file's `file://` URI, as an editor names it in `textDocument/didOpen`.
 */
uri: string, 
/**
 * Its text.
 */
text: string, 
/**
 * Its version: the SHA-256 of its bytes. Pass it as `baseVersion` to
 * change the file only if nobody changed it since.
 */
version: string, };

export type WriteFileParams = { 
/**
 * The session whose workspace holds the file.
 */
sessionId: SessionId, 
/**
 * The file's path.
 */
path: string, 
/**
 * The new text.
 */
text: string, 
/**
 * The version the text is based on; when the file is no longer at it
 * (or gone), nothing is written and the answer is `fileConflict`.
 * Absent: written whatever is there.
 */
baseVersion?: string, };

export type CreateFileParams = { 
/**
 * The session whose workspace gets the file.
 */
sessionId: SessionId, 
/**
 * The new file's or directory's path; missing parents are created.
 */
path: string, 
/**
 * `directory` for an empty directory; default `file`.
 */
kind?: FileKind, 
/**
 * The new file's text; default empty.
 */
text?: string, };

export type RenameFileParams = { 
/**
 * The session whose workspace holds both paths.
 */
sessionId: SessionId, 
/**
 * The file or directory to move.
 */
from: string, 
/**
 * Where to; must not exist. Missing parents are created.
 */
to: string, 
/**
 * For a file: the version the move is based on (see `writeFile`).
 */
baseVersion?: string, };

export type DeleteFileParams = { 
/**
 * The session whose workspace holds the path.
 */
sessionId: SessionId, 
/**
 * The file or directory (deleted with everything in it).
 */
path: string, 
/**
 * For a file: the version the deletion is based on (see `writeFile`).
 */
baseVersion?: string, };

export type FileChanged = { 
/**
 * The path now (the target of a rename), relative to the workspace root.
 */
path: string, 
/**
 * The file's new version; absent for directories and deletions.
 */
version?: string, };

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

export type ClientCodelabCapabilities = { 
/**
 * The client answers `codelab/saveDocuments`: after an agent's edit to
 * a document it has open (and had saved), the server asks it to save
 * the document, so the file on disk holds the edit before the next tool
 * call runs. Without it, the server writes the same text on disk itself.
 */
saveDocuments?: boolean, 
/**
 * The client shows the context window's fill and the session's cost:
 * the server sends it `codelab/contextUsage` after each model response.
 */
contextUsage?: boolean, 
/**
 * The client shows a turn's combined diff: the server sends it
 * `codelab/turnDiff` at the end of each turn that edited files.
 */
turnDiff?: boolean, };

export type SaveDocumentsParams = { 
/**
 * The documents to save, as the URIs of `didOpen`.
 */
uris: Array<string>, };

export type SaveFailure = { 
/**
 * The document's URI.
 */
uri: string, 
/**
 * Why it was not saved, for the model and the user.
 */
reason: string, };

export type SaveDocumentsResult = { 
/**
 * The URIs saved: their buffers are on disk now.
 */
saved: Array<string>, 
/**
 * The URIs not saved, each with the reason. A URI in neither list
 * counts as not saved. Omitted when empty.
 */
failed?: Array<SaveFailure>, };

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
sessionId?: SessionId, 
/**
 * The field concerned, for invalid parameters.
 */
field?: string, 
/**
 * More detail, for humans.
 */
detail?: string, };

export type Category = "agent" | "session" | "tool" | "approval" | "llm" | "housekeeping";

export type SessionCreated = { 
/**
 * The starting agent.
 */
agent: string, 
/**
 * The title.
 */
title: string, 
/**
 * The workspace folder URI.
 */
workspaceFolder: string | null, };

export type SessionDeleted = { 
/**
 * `client` (codelab/deleteSession) or `ttl` (housekeeping).
 */
reason: string, 
/**
 * How many messages went with it (for `client`).
 */
messages?: number, };

export type MessageAdded = { 
/**
 * Who wrote it.
 */
role: Role, 
/**
 * Its seq.
 */
seq: number, };

export type ContextCompacted = { 
/**
 * Estimated tokens of the request before.
 */
tokensBefore: number, 
/**
 * Estimated tokens of the request after.
 */
tokensAfter: number, 
/**
 * Tool results newly elided.
 */
elided: number, 
/**
 * Whether the older turns were summarised by the model.
 */
summarized: boolean, 
/**
 * Why: `threshold`, `overflow` (the provider refused the request) or
 * `request` (`codelab/compactSession`).
 */
reason: string, };

export type AgentSwitched = { 
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

export type ProcessingStarted = { 
/**
 * The agent handling the session.
 */
agent: string, };

export type TurnEnded = { 
/**
 * Why it ended.
 */
stopReason: StopReason, 
/**
 * The error, for `stopReason: "error"` (else null).
 */
error: string | null, 
/**
 * How long it ran.
 */
durationMs: number, 
/**
 * Tokens of its model requests.
 */
usage: TokenUsage, 
/**
 * Their cost in US dollars.
 */
costUsd: number, 
/**
 * The agent at its end.
 */
agent: string, };

export type ExecutionRequested = { 
/**
 * The tool.
 */
tool: string, 
/**
 * The call.
 */
toolCallId: string, };

export type CallOutcomeKind = "completed" | "failed" | "rejected";

export type ToolFinished = { 
/**
 * The tool.
 */
tool: string, 
/**
 * The call.
 */
toolCallId: string, 
/**
 * How long it took, checks and approval included.
 */
durationMs: number, 
/**
 * How it ended.
 */
outcome: CallOutcomeKind, };

export type ApprovalRequested = { 
/**
 * The tool.
 */
tool: string, 
/**
 * The call.
 */
toolCallId: string, 
/**
 * The approval.
 */
approvalId: string, 
/**
 * The rule that asked.
 */
rule: string, };

export type DecisionMade = { 
/**
 * The approval.
 */
approvalId: string, 
/**
 * The tool.
 */
tool: string, 
/**
 * The decision.
 */
decision: Decision, 
/**
 * Who decided: `client:<n>`, `turn` (cancelled) or `timeout`.
 */
by: string, 
/**
 * Audit log only: the parameters the model gave.
 */
params?: unknown, 
/**
 * Audit log only, with `edit`: the parameters that ran instead.
 */
editedParams?: unknown, 
/**
 * Audit log only, with `reject`: the user's note.
 */
feedback?: string, 
/**
 * Audit log only, with `approve`: how far it reaches.
 */
scope?: ApprovalScope, 
/**
 * Audit log only: the rule that asked.
 */
rule?: string, };

export type RequestStarted = { 
/**
 * The provider's name.
 */
provider: string, 
/**
 * The model.
 */
model: string, 
/**
 * 1 for the first attempt, then one more per retry.
 */
attempt: number, };

export type RequestCompleted = { 
/**
 * The provider's name.
 */
provider: string, 
/**
 * The model.
 */
model: string, 
/**
 * The attempt.
 */
attempt: number, 
/**
 * Tokens.
 */
usage: TokenUsage, 
/**
 * Cost in US dollars.
 */
costUsd: number, 
/**
 * How long the attempt took.
 */
durationMs: number, 
/**
 * Time to the first output (null when there was none).
 */
timeToFirstTokenMs: number | null, 
/**
 * Why the model stopped (null when it did not say).
 */
finishReason: FinishReason | null, };

export type RequestFailed = { 
/**
 * The provider's name.
 */
provider: string, 
/**
 * The model.
 */
model: string, 
/**
 * The attempt.
 */
attempt: number, 
/**
 * The classified reason (`rateLimited`, `timeout`, `cancelled`, ...).
 */
reason: string, 
/**
 * The error, secrets redacted.
 */
error: string, 
/**
 * Whether another attempt follows.
 */
retrying: boolean, 
/**
 * Whether output had already reached the consumer (then no retry).
 */
partialOutput?: boolean, 
/**
 * How long the attempt took (absent when it never started).
 */
durationMs?: number, };

export type Cleanup = { 
/**
 * The sessions deleted for being idle.
 */
sessionsDeleted: Array<string>, 
/**
 * How many audit entries were past their retention.
 */
auditEntriesDeleted: number, 
/**
 * The session TTL in force.
 */
sessionTtlDays: number, 
/**
 * The audit retention in force.
 */
auditRetentionDays: number, };

export type FinishReason = "endTurn" | "toolUse" | "maxTokens" | "refusal" | { "other": string };

/** Requests the client sends: method name to [params, result]. */
export interface CodelabRequests {
  "codelab/createSession": [CreateSessionParams, Session];
  "codelab/listSessions": [ListSessionsParams, ListSessionsResult];
  "codelab/getSession": [SessionParams, Session];
  "codelab/deleteSession": [SessionParams, DeleteSessionResult];
  "codelab/getHistory": [GetHistoryParams, GetHistoryResult];
  "codelab/sendMessage": [SendMessageParams, SendMessageResult];
  "codelab/cancelTurn": [SessionParams, CancelTurnResult];
  "codelab/compactSession": [SessionParams, CompactSessionResult];
  "codelab/listCheckpoints": [SessionParams, ListCheckpointsResult];
  "codelab/restoreCheckpoint": [RestoreCheckpointParams, RestoreCheckpointResult];
  "codelab/attachSession": [AttachSessionParams, AttachSessionResult];
  "codelab/detachSession": [SessionParams, Ack];
  "codelab/answerQuestion": [AnswerQuestionParams, Ack];
  "codelab/decideApproval": [DecideApprovalParams, Approval];
  "codelab/listPendingApprovals": [ListPendingApprovalsParams, ListPendingApprovalsResult];
  "codelab/getPolicy": [GetPolicyParams, GetPolicyResult];
  "codelab/listProcesses": [ListProcessesParams, ListProcessesResult];
  "codelab/listAgents": [ListAgentsParams, ListAgentsResult];
  "codelab/getCurrentAgent": [SessionParams, CurrentAgentResult];
  "codelab/switchAgent": [SwitchAgentParams, Session];
  "codelab/listTools": [Record<string, never>, ListToolsResult];
  "codelab/listMcpServers": [ListMcpServersParams, ListMcpServersResult];
  "codelab/getDocument": [GetDocumentParams, DocumentSnapshot];
  "codelab/getMetrics": [Record<string, never>, MetricsSnapshot];
  "codelab/getSessionMetrics": [SessionParams, SessionMetrics];
  "codelab/listSessionMetrics": [ListSessionMetricsParams, ListSessionMetricsResult];
  "codelab/getAuditLog": [GetAuditLogParams, GetAuditLogResult];
  "codelab/subscribeEvents": [SubscribeEventsParams, SubscribeEventsResult];
  "codelab/unsubscribeEvents": [UnsubscribeEventsParams, Ack];
  "codelab/listFiles": [FilePathParams, ListFilesResult];
  "codelab/readFile": [FilePathParams, ReadFileResult];
  "codelab/writeFile": [WriteFileParams, FileChanged];
  "codelab/createFile": [CreateFileParams, FileChanged];
  "codelab/renameFile": [RenameFileParams, FileChanged];
  "codelab/deleteFile": [DeleteFileParams, FileChanged];
}

/** Requests the server sends to a client that offered them: method name to [params, result]. */
export interface CodelabClientRequests {
  "codelab/saveDocuments": [SaveDocumentsParams, SaveDocumentsResult];
}

/** Notifications the server sends: method name to params. */
export interface CodelabNotifications {
  "codelab/message": MessageAddedParams;
  "codelab/token": TokenParams;
  "codelab/reasoning": ReasoningParams;
  "codelab/toolCall": ToolCallParams;
  "codelab/commandOutput": CommandOutputParams;
  "codelab/question": QuestionParams;
  "codelab/approvalRequired": ApprovalRequiredParams;
  "codelab/approvalResolved": ApprovalResolvedParams;
  "codelab/agentSwitched": AgentSwitchedParams;
  "codelab/modelChosen": ModelChosenParams;
  "codelab/turnCompleted": TurnCompletedParams;
  "codelab/contextUsage": ContextUsageParams;
  "codelab/contextCompacted": ContextCompactedParams;
  "codelab/turnDiff": TurnDiffParams;
  "codelab/event": EventParams;
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
  pathRefused: -33010,
  fileNotFound: -33011,
  fileConflict: -33012,
  fileFailed: -33013,
} as const;
