// The dashboard's figures from the protocol's metrics and audit entries:
// pure functions (unit-tested), charted by dashboard.ts.

import type { AuditEntry } from "../../../protocol/codelab-protocol.ts";

/** `tool:outcome` counts as one row per tool with a count per outcome. */
export function toolOutcomes(counts: Record<string, number>): { tools: string[]; outcomes: string[]; values: number[][] } {
  const tools = new Set<string>();
  const outcomes = new Set<string>();
  for (const key of Object.keys(counts)) {
    const i = key.lastIndexOf(":");
    tools.add(i < 0 ? key : key.slice(0, i));
    outcomes.add(i < 0 ? "completed" : key.slice(i + 1));
  }
  const t = [...tools].sort();
  const o = [...outcomes].sort();
  const values = o.map((out) => t.map((tool) => counts[`${tool}:${out}`] ?? (out === "completed" ? counts[tool] ?? 0 : 0)));
  return { tools: t, outcomes: o, values };
}

/** The model requests of the audit log as time series: seconds, cumulative tokens and cost, latency. */
export function requestSeries(entries: AuditEntry[]): { t: number[]; tokens: number[]; cost: number[]; latency: number[]; ttft: (number | null)[] } {
  const done = entries
    .filter((e) => e.category === "llm" && e.type === "requestCompleted")
    .sort((a, b) => a.at.localeCompare(b.at));
  const out = { t: [] as number[], tokens: [] as number[], cost: [] as number[], latency: [] as number[], ttft: [] as (number | null)[] };
  let tokens = 0;
  let cost = 0;
  for (const e of done) {
    const p = e.payload as any;
    const u = p?.usage ?? {};
    tokens += (u.inputTokens ?? 0) + (u.outputTokens ?? 0) + (u.cacheReadTokens ?? 0) + (u.cacheWriteTokens ?? 0);
    cost += p?.costUsd ?? 0;
    out.t.push(Date.parse(e.at) / 1000);
    out.tokens.push(tokens);
    out.cost.push(cost);
    out.latency.push(p?.durationMs ?? 0);
    out.ttft.push(p?.timeToFirstTokenMs ?? null);
  }
  return out;
}

