// Chat items as HTML for the webview: markdown for text, cards for tool calls,
// approvals and questions. Pure functions (the unit tests call them); the
// webview only swaps the HTML of the items that changed. Buttons carry
// `data-action` and the ids the extension needs; nothing here runs script.

import { Marked } from "marked";
import { assistantText, type ChatModel, type Item, type ToolItem, type ApprovalItem, type QuestionItem, type TurnEndItem, type CompactionItem } from "./chat.ts";

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

// Raw HTML in the model's markdown is shown as text, never interpreted.
const md = new Marked({ gfm: true, breaks: false });
md.use({
  renderer: {
    html(token: { text: string }) {
      return escapeHtml(token.text);
    },
    link(token: { href: string; text: string }) {
      const safe = /^(https?:|mailto:)/i.test(token.href) ? token.href : "#";
      return `<a href="${escapeHtml(safe)}">${escapeHtml(token.text)}</a>`;
    },
    image(token: { text: string }) {
      return escapeHtml(token.text);
    },
  },
});

export function markdown(text: string): string {
  return md.parse(text, { async: false }) as string;
}

function json(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2) ?? "null";
  } catch {
    return String(value);
  }
}

/** One line saying what a call does: the path or the command, else its first parameter. */
export function toolSummary(params: unknown): string {
  if (params && typeof params === "object") {
    const p = params as Record<string, unknown>;
    for (const k of ["path", "command", "query", "pattern", "url", "agent", "message"]) {
      if (typeof p[k] === "string") return p[k] as string;
    }
  }
  return "";
}

const statusLabel: Record<string, string> = {
  pending: "pending",
  in_progress: "running",
  completed: "completed",
  failed: "failed",
};

export function renderTool(item: ToolItem): string {
  const summary = toolSummary(item.params);
  const output = item.output.map((o) => o.text).join("");
  const done = item.status === "completed" || item.status === "failed";
  return `<div class="card tool status-${item.status}" data-tool="${escapeHtml(item.name)}" data-tool-call="${escapeHtml(item.id)}">
<div class="head">${item.toolKind ? `<span class="badge kind">${escapeHtml(item.toolKind)}</span>` : ""}<span class="name">${escapeHtml(item.name)}</span> <span class="summary">${escapeHtml(summary)}</span><span class="status">${escapeHtml(statusLabel[item.status] ?? item.status)}</span></div>
<details class="params"><summary>Parameters</summary><pre>${escapeHtml(json(item.params))}</pre></details>
${output && !done ? `<pre class="output live">${escapeHtml(output)}</pre>` : ""}
${done ? `<details class="result"${item.status === "failed" ? " open" : ""}><summary>Result</summary><pre>${escapeHtml(item.result ?? output)}</pre></details>` : ""}
</div>`;
}

export function renderApproval(item: ApprovalItem): string {
  const a = item.approval;
  const files = (a.files ?? []).map((f) => f.path);
  const what = files.length > 0 ? files.join(", ") : toolSummary(a.params);
  const id = escapeHtml(a.id);
  if (item.state !== "pending") {
    const by = item.by ? ` by ${escapeHtml(item.by)}` : "";
    return `<div class="card approval decided" data-approval="${id}"><div class="head"><span class="badge">approval</span><span class="name">${escapeHtml(a.tool)}</span> <span class="summary">${escapeHtml(what)}</span><span class="status">${escapeHtml(item.state)}${by}</span></div></div>`;
  }
  const canDiff = files.length > 0;
  return `<div class="card approval pending" data-approval="${id}">
<div class="head"><span class="badge">approval</span><span class="name">${escapeHtml(a.tool)}</span> <span class="summary">${escapeHtml(what)}</span><span class="status">waiting</span></div>
<div class="rule">${escapeHtml(a.rule)}</div>
${files.length > 1 ? `<div class="files">${files.map((f, i) => `<button data-action="diff" data-id="${id}" data-file="${i}" class="secondary file">${escapeHtml(f)}</button>`).join(" ")}</div>` : ""}
${a.diff ? `<details class="diff"><summary>Diff</summary><pre>${escapeHtml(a.diff)}</pre></details>` : `<details class="params"><summary>Parameters</summary><pre>${escapeHtml(json(a.params))}</pre></details>`}
<div class="buttons">
<button data-action="approve" data-id="${id}">Approve</button>
<button data-action="approveSession" data-id="${id}" class="secondary">Approve for this session</button>
${canDiff ? `<button data-action="diff" data-id="${id}" class="secondary">Show diff</button>` : ""}
<button data-action="edit" data-id="${id}" class="secondary">Edit</button>
<button data-action="reject" data-id="${id}" class="secondary">Reject</button>
</div>
<input class="feedback" data-feedback-for="${id}" placeholder="Feedback for the agent when rejecting (optional)">
</div>`;
}

export function renderQuestion(item: QuestionItem): string {
  const q = item.question;
  const id = escapeHtml(q.questionId);
  if (item.answer !== undefined) {
    return `<div class="card question answered" data-question="${id}"><div class="q">${escapeHtml(q.question)}</div><div class="answer">${escapeHtml(item.answer)}</div></div>`;
  }
  const buttons = q.suggestions
    .map((s) => `<button data-action="answer" data-id="${id}" data-answer="${escapeHtml(s)}">${escapeHtml(s)}</button>`)
    .join("\n");
  return `<div class="card question" data-question="${id}">
<div class="q">${escapeHtml(q.question)}</div>
<div class="buttons">${buttons}</div>
<div class="free"><input class="answer-text" data-answer-for="${id}" placeholder="Your answer"><button data-action="answerText" data-id="${id}" class="secondary">Answer</button></div>
</div>`;
}

export function renderTurnEnd(item: TurnEndItem, showResult = true): string {
  const parts = [escapeHtml(item.stopReason)];
  if (item.error) parts.push(escapeHtml(item.error));
  const u = item.usage;
  if (u && u.inputTokens + u.outputTokens + u.cacheReadTokens + u.cacheWriteTokens > 0) {
    parts.push(`${u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens} tokens in, ${u.outputTokens} out`);
  }
  if (item.costUsd !== undefined && item.costUsd > 0) parts.push(`$${item.costUsd.toFixed(4)}`);
  const result = item.result && showResult ? `<div class="md">${markdown(item.result)}</div>` : "";
  return `<div class="turn-end stop-${escapeHtml(item.stopReason)}">${result}<div>— ${parts.join(" · ")}</div></div>`;
}

/** A token count as "12.3k" (or "850"). */
export function shortTokens(n: number): string {
  return n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}

export function renderCompaction(item: CompactionItem): string {
  const c = item.compaction;
  if (c.rewoundFrom > 0) {
    return `<div class="compaction rewound">⋯ conversation truncated by a restore: the messages above, from that turn on, are hidden from the model</div>`;
  }
  const what = c.summarizedThrough > 0 ? "summarised" : "tool outputs elided";
  return `<div class="compaction">⋯ context compacted (${what}): ${shortTokens(c.tokensBefore)} → ${shortTokens(c.tokensAfter)} tokens</div>`;
}

/** `chat` tells whether a turn's result repeats one of its replies. */
export function renderItem(item: Item, agent?: string, chat?: ChatModel): string {
  switch (item.kind) {
    case "user": {
      const ctx = item.context?.activeFile ? `<div class="context">${escapeHtml(item.context.activeFile)}${item.context.selection ? " (selection)" : ""}</div>` : "";
      return `<div class="msg user"><div class="who">You</div>${ctx}<div class="md">${markdown(item.text)}</div></div>`;
    }
    case "assistant":
      return `<div class="msg assistant${item.final === undefined && !item.done ? " streaming" : ""}"><div class="who">${escapeHtml(agent ?? "Assistant")}</div><div class="md">${markdown(assistantText(item))}</div></div>`;
    case "tool":
      return renderTool(item);
    case "approval":
      return renderApproval(item);
    case "question":
      return renderQuestion(item);
    case "turnEnd":
      return renderTurnEnd(item, !chat?.resultIsReply(item));
    case "compaction":
      return renderCompaction(item);
    case "agent":
      return `<div class="agent-switch">→ ${escapeHtml(item.to)} <span class="reason">(${escapeHtml(item.reason)})</span></div>`;
  }
}

/** What `codelab/contextUsage` carries that the status bar shows. */
export interface ContextUsage {
  usedTokens: number;
  contextWindow: number;
  sessionCostUsd: number;
}

/** The status bar's context figure: "34% of 128k · $0.46". */
export function contextText(u: ContextUsage): string {
  const pct = u.contextWindow > 0 ? Math.round((100 * u.usedTokens) / u.contextWindow) : 0;
  const window = u.contextWindow >= 1000 ? `${Math.round(u.contextWindow / 1000)}k` : String(u.contextWindow);
  return `${pct}% of ${window} · $${u.sessionCostUsd.toFixed(2)}`;
}
