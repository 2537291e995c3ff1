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
lastSeq: number, };

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
agents: Array<AgentInfo>, };

export type CurrentAgentResult = { 
/**
 * The session's id.
 */
sessionId: string, 
/**
 * The agent currently handling it.
 */
agent: AgentInfo, };

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
  "codelab/listAgents": [Record<string, never>, ListAgentsResult];
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
} as const;
