// The chat's pure logic: ordering by seq, replays, approvals, tool cards.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ChatModel, assistantText, type AssistantItem, type ToolItem } from "../../src/chat.ts";
import { renderItem, renderTool, renderApproval, markdown, toolSummary, contextText } from "../../src/render.ts";
import { validate } from "../../src/validate.ts";

const S = "s1";
const T = "t1";
const msg = (seq: number, role: "user" | "assistant" | "tool", text: string, extra: object = {}) => ({
  sessionId: S,
  seq,
  message: { id: `m${seq}`, sessionId: S, seq, turnId: T, role, text, toolCalls: [], isError: false, createdAt: "2026-11-24T09:30:00Z", ...extra },
});

test("tokens are joined in seq order, whatever order they arrive in", () => {
  const chat = new ChatModel(S);
  chat.apply("codelab/token", { sessionId: S, turnId: T, seq: 2, delta: "Hel" });
  chat.apply("codelab/token", { sessionId: S, turnId: T, seq: 4, delta: "world" });
  chat.apply("codelab/token", { sessionId: S, turnId: T, seq: 3, delta: "lo " });
  const items = chat.list();
  assert.equal(items.length, 1);
  assert.equal(assistantText(items[0] as AssistantItem), "Hello world");
  assert.equal(chat.runningTurn, T);
});

test("a replayed notification is applied once", () => {
  const chat = new ChatModel(S);
  const token = { sessionId: S, turnId: T, seq: 2, delta: "once" };
  assert.equal(chat.apply("codelab/token", token), true);
  assert.equal(chat.apply("codelab/token", token), false);
  assert.equal(assistantText(chat.list()[0] as AssistantItem), "once");
  assert.equal(chat.lastSeq, 2);
});

test("the persisted reply replaces the streamed block instead of adding a second one", () => {
  const chat = new ChatModel(S);
  chat.apply("codelab/message", msg(1, "user", "hi"));
  chat.apply("codelab/token", { sessionId: S, turnId: T, seq: 2, delta: "Hel" });
  chat.apply("codelab/token", { sessionId: S, turnId: T, seq: 3, delta: "lo" });
  chat.apply("codelab/message", msg(4, "assistant", "Hello"));
  const items = chat.list();
  assert.deepEqual(items.map((i) => i.kind), ["user", "assistant"]);
  assert.equal((items[1] as AssistantItem).final, "Hello");
  // The same history replayed by attachSession after a reconnect changes nothing.
  chat.attached({
    session: { id: S, title: "t", workspaceFolder: null, agent: "coder", createdAt: "", updatedAt: "", lastSeq: 4, messageCount: 2 } as any,
    messages: [msg(1, "user", "hi").message, msg(4, "assistant", "Hello").message] as any,
    pendingApprovals: [],
    pendingQuestions: [],
  });
  assert.equal(chat.list().length, 2);
});

test("the reply shows once whatever order the turn's end, its message and its tokens arrive in", () => {
  const end = { sessionId: S, turnId: T, seq: 5, stopReason: "end_turn", usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, costUsd: 0 };
  // The turn's end before the reply's message.
  const a = new ChatModel(S);
  a.apply("codelab/token", { sessionId: S, turnId: T, seq: 2, delta: "Hel" });
  a.apply("codelab/token", { sessionId: S, turnId: T, seq: 3, delta: "lo" });
  a.apply("codelab/turnCompleted", end);
  a.apply("codelab/message", msg(4, "assistant", "Hello"));
  assert.deepEqual(a.list().map((i) => i.kind), ["assistant", "turnEnd"]);
  assert.equal(assistantText(a.list()[0] as AssistantItem), "Hello");
  // A token that comes after all that changes nothing, and the turn stays ended.
  a.apply("codelab/token", { sessionId: S, turnId: T, seq: 1, delta: "late" });
  assert.equal(a.runningTurn, undefined, "a late token does not mark the ended turn running");
  assert.equal(assistantText(a.list()[0] as AssistantItem), "Hello");
  // The message before one of its tokens.
  const b = new ChatModel(S);
  b.apply("codelab/token", { sessionId: S, turnId: T, seq: 2, delta: "Hel" });
  b.apply("codelab/message", msg(4, "assistant", "Hello"));
  b.apply("codelab/token", { sessionId: S, turnId: T, seq: 3, delta: "lo" });
  b.apply("codelab/turnCompleted", end);
  assert.deepEqual(b.list().map((i) => i.kind), ["assistant", "turnEnd"]);
  assert.equal(assistantText(b.list()[0] as AssistantItem), "Hello");
  assert.doesNotMatch(renderItem(b.list()[0]), /streaming/);
  // A reply after a tool call, its message before all of its tokens.
  const c = new ChatModel(S);
  c.apply("codelab/toolCall", { sessionId: S, turnId: T, seq: 2, toolCallId: "c1", name: "read_file", kind: "read", params: {}, status: "completed", result: "x" });
  c.apply("codelab/message", msg(6, "assistant", "Done."));
  c.apply("codelab/token", { sessionId: S, turnId: T, seq: 4, delta: "Do" });
  c.apply("codelab/token", { sessionId: S, turnId: T, seq: 5, delta: "ne." });
  assert.deepEqual(c.list().map((i) => i.kind), ["tool", "assistant"]);
  assert.equal(assistantText(c.list()[1] as AssistantItem), "Done.");
  // The next reply's tokens still stream.
  c.apply("codelab/token", { sessionId: S, turnId: T, seq: 7, delta: "More" });
  assert.deepEqual(c.list().map((i) => i.kind), ["tool", "assistant", "assistant"]);
});

test("notifications of another session are ignored", () => {
  const chat = new ChatModel(S);
  assert.equal(chat.apply("codelab/token", { sessionId: "other", turnId: T, seq: 2, delta: "x" }), false);
  assert.equal(chat.list().length, 0);
});

test("a tool call's card follows its status; a late pending does not undo completed", () => {
  const chat = new ChatModel(S);
  const call = { sessionId: S, turnId: T, toolCallId: "c1", name: "execute_command", kind: "execute", params: { command: "ls" } };
  chat.apply("codelab/toolCall", { ...call, seq: 5, status: "pending" });
  chat.apply("codelab/commandOutput", { sessionId: S, turnId: T, seq: 7, toolCallId: "c1", stream: "stdout", text: "b\n" });
  chat.apply("codelab/commandOutput", { sessionId: S, turnId: T, seq: 6, toolCallId: "c1", stream: "stdout", text: "a\n" });
  chat.apply("codelab/toolCall", { ...call, seq: 6.5, status: "in_progress" });
  let item = chat.get("t:c1") as ToolItem;
  assert.equal(item.status, "in_progress");
  assert.match(renderTool(item), /<pre class="output live">a\nb\n<\/pre>/);
  chat.apply("codelab/toolCall", { ...call, seq: 9, status: "completed", result: "Exit code: 0" });
  chat.apply("codelab/toolCall", { ...call, seq: 4, status: "pending" });
  item = chat.get("t:c1") as ToolItem;
  assert.equal(item.status, "completed");
  const html = renderTool(item);
  assert.match(html, /status-completed/);
  assert.match(html, /<span class="badge kind">execute<\/span>/);
  assert.match(html, /<summary>Result<\/summary><pre>Exit code: 0<\/pre>/);
  assert.doesNotMatch(html, /output live/);
});

test("a replayed history rebuilds tool cards from the assistant's calls and the tool results", () => {
  const chat = new ChatModel(S);
  chat.message({ ...msg(2, "assistant", "", { toolCalls: [{ id: "d1", name: "apply_diff", arguments: { path: "lib.rs" } }] }).message } as any, 2);
  chat.message({ ...msg(3, "tool", "Applied.", { toolCallId: "d1", isError: false }).message } as any, 3);
  const items = chat.list();
  assert.equal(items.length, 1);
  const tool = items[0] as ToolItem;
  assert.equal(tool.status, "completed");
  assert.equal(tool.result, "Applied.");
  assert.equal(toolSummary(tool.params), "lib.rs");
});

test("an approval is pending until resolved, here or elsewhere", () => {
  const chat = new ChatModel(S);
  const approval = {
    id: "a1",
    sessionId: S,
    turnId: T,
    toolCallId: "d1",
    tool: "apply_diff",
    params: { path: "lib.rs", diff: "x" },
    rule: "default: edits ask",
    diff: "--- a/lib.rs\n+++ b/lib.rs\n",
    files: [{ path: "lib.rs", current: "a\n", proposed: "b\n" }],
    createdAt: "",
  };
  chat.apply("codelab/approvalRequired", { sessionId: S, seq: 3, approval });
  assert.equal(chat.pendingApprovals().length, 1);
  const html = renderApproval(chat.pendingApprovals()[0]);
  for (const action of ["approve", "approveSession", "diff", "edit", "reject"]) {
    assert.match(html, new RegExp(`data-action="${action}" data-id="a1"`));
  }
  // Listed again by attachSession (a reload): still one card.
  assert.equal(chat.approvalRequired(approval as any, undefined, 10), false);
  chat.apply("codelab/approvalResolved", { sessionId: S, seq: 4, approvalId: "a1", decision: "approve", by: "client:2" });
  assert.equal(chat.pendingApprovals().length, 0);
  const decided = renderItem(chat.get("p:a1")!);
  assert.match(decided, /approve by client:2/);
  assert.doesNotMatch(decided, /<button/);
});

test("a question shows its suggestions as buttons, then the answer", () => {
  const chat = new ChatModel(S);
  chat.apply("codelab/question", { sessionId: S, turnId: T, seq: 3, questionId: "q1", question: "Which?", suggestions: ["A <b>", "B"] });
  const html = renderItem(chat.get("q:q1")!);
  assert.match(html, /data-action="answer" data-id="q1" data-answer="A &lt;b&gt;"/);
  chat.answered("q1", "B");
  assert.match(renderItem(chat.get("q:q1")!), /class="answer">B</);
});

test("a turn's end shows the stop reason, tokens and cost", () => {
  const chat = new ChatModel(S);
  chat.runningTurn = T;
  chat.apply("codelab/turnCompleted", {
    sessionId: S, turnId: T, seq: 9, stopReason: "end_turn",
    usage: { inputTokens: 100, outputTokens: 20, cacheReadTokens: 5, cacheWriteTokens: 0 }, costUsd: 0.0123,
  });
  assert.equal(chat.runningTurn, undefined);
  const html = renderItem(chat.get(`e:${T}`)!);
  assert.match(html, /end_turn · 105 tokens in, 20 out · \$0\.0123/);
});

test("a turn's result shows unless it repeats the turn's reply", () => {
  const chat = new ChatModel(S);
  chat.apply("codelab/message", msg(2, "assistant", "Changed it."));
  const end = { sessionId: S, turnId: T, seq: 3, stopReason: "end_turn", usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, costUsd: 0 };
  chat.apply("codelab/turnCompleted", { ...end, result: "Changed it." });
  assert.doesNotMatch(renderItem(chat.get(`e:${T}`)!, "coder", chat), /Changed it/);
  const other = new ChatModel(S);
  other.apply("codelab/turnCompleted", { ...end, result: "Painted it blue." });
  assert.match(renderItem(other.get(`e:${T}`)!, "coder", other), /Painted it blue\./);
});

test("markdown is rendered, and raw HTML from the model is shown as text", () => {
  assert.match(markdown("**bold** `code`"), /<strong>bold<\/strong> <code>code<\/code>/);
  const html = markdown("<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>");
  assert.doesNotMatch(html, /<script>|<img/);
  assert.match(html, /&lt;script&gt;/);
  assert.doesNotMatch(markdown("[x](javascript:alert(1))"), /javascript:/);
});

test("edited parameters are checked against the tool's schema", () => {
  const schema = { type: "object", required: ["path", "diff"], properties: { path: { type: "string" }, diff: { type: "string" } }, additionalProperties: false };
  assert.deepEqual(validate({ path: "a", diff: "b" }, schema), []);
  assert.deepEqual(validate({ path: 1, diff: "b", extra: true }, schema), ["params.path should be string", "params.extra is not allowed"]);
  assert.deepEqual(validate({ path: "a" }, schema), ["params.diff is required"]);
});

test("the server is found on PATH or by its path, and missing means undefined", async () => {
  const { findExecutable } = await import("../../src/server.ts");
  const fs = await import("node:fs");
  const os = await import("node:os");
  const path = await import("node:path");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "codelab-bin-"));
  const bin = path.join(dir, "codelab-agent");
  fs.writeFileSync(bin, "#!/bin/sh\n");
  fs.chmodSync(bin, 0o755);
  fs.writeFileSync(path.join(dir, "not-executable"), "");
  assert.equal(findExecutable("codelab-agent", `/nonexistent:${dir}`), bin);
  assert.equal(findExecutable(bin, ""), bin);
  assert.equal(findExecutable("codelab-agent", "/nonexistent"), undefined);
  assert.equal(findExecutable("not-executable", dir), undefined);
  assert.equal(findExecutable(dir, ""), undefined, "a folder is not a binary");
  fs.rmSync(dir, { recursive: true });
});

test("the status bar's context figure: share of the window and the session's cost", () => {
  assert.equal(contextText({ usedTokens: 43520, contextWindow: 128000, sessionCostUsd: 0.4567 }), "34% of 128k · $0.46");
  assert.equal(contextText({ usedTokens: 10, contextWindow: 0, sessionCostUsd: 0 }), "0% of 0 · $0.00");
});

test("a compaction marker is a note, not a message of the user; a restore's marker says the conversation was truncated", () => {
  const chat = new ChatModel(S);
  chat.apply("codelab/message", msg(1, "user", "make it public"));
  const compaction = { summarizedThrough: 1, elidedThrough: 0, tokensBefore: 12_345, tokensAfter: 850, rewoundFrom: 0 };
  assert.equal(chat.apply("codelab/message", msg(2, "user", "Summary: …", { turnId: undefined, compaction })), true);
  const items = chat.list();
  assert.deepEqual(items.map((i) => i.kind), ["user", "compaction"]);
  const html = renderItem(items[1]);
  assert.match(html, /class="compaction"/);
  assert.match(html, /context compacted \(summarised\): 12\.3k → 850 tokens/);
  assert.doesNotMatch(html, /Summary/);
  chat.apply("codelab/message", msg(3, "user", "Summary: …", { turnId: undefined, compaction: { ...compaction, rewoundFrom: 1 } }));
  assert.match(renderItem(chat.list()[2]), /compaction rewound.*conversation truncated/);
  // A turn's prompt, for the checkpoints' list.
  assert.equal(chat.prompt(T), "make it public");
  assert.equal(chat.prompt("other"), undefined);
  // A turn resumed after a restart (a new id): the user's last message before it.
  chat.apply("codelab/message", msg(4, "user", "one more edit", { turnId: "t2" }));
  chat.apply("codelab/token", { sessionId: S, turnId: "t3", seq: 5, delta: "Back again." });
  assert.equal(chat.prompt("t3"), "one more edit");
});

test("the latest context usage wins; an older one replayed late changes nothing", () => {
  const chat = new ChatModel(S);
  const usage = (seq: number, usedTokens: number) => ({ sessionId: S, turnId: T, seq, usedTokens, contextWindow: 128_000, usage: {}, turnCostUsd: 0, sessionCostUsd: 0.5 });
  assert.equal(chat.apply("codelab/contextUsage", usage(5, 40_000)), true);
  assert.equal(chat.apply("codelab/contextUsage", usage(3, 1_000)), false);
  assert.equal(chat.usage?.usedTokens, 40_000);
  assert.equal(contextText(chat.usage!), "31% of 128k · $0.50");
  assert.equal(chat.apply("codelab/contextUsage", { ...usage(9, 1), sessionId: "other" }), false);
});
