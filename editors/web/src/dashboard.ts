// The dashboard: what the runtime costs and does, as charts (uPlot: small,
// fast, maintained). Figures from `codelab/getMetrics` (totals, latency
// percentiles, tool calls by tool and outcome), `listSessionMetrics` (tokens
// and cost per session), `listPendingApprovals` and the audit log (each
// model request's tokens, cost and latency over time).

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { MetricsSnapshot, SessionMetrics } from "../../../protocol/codelab-protocol.ts";
import type { Connection } from "./connection.ts";
import { requestSeries, toolOutcomes } from "./figures.ts";

/** Axis labels in dollars, with the digits small amounts need. */
const money = (_u: uPlot, ticks: number[]) => ticks.map((t) => `$${t >= 1 ? t.toFixed(2) : t.toPrecision(2)}`);

const COLORS = ["#4e9cf5", "#f5a524", "#17c964", "#f31260", "#9353d3", "#06b7db"];

function card(root: HTMLElement, title: string): HTMLElement {
  const c = document.createElement("div");
  c.className = "chart-card";
  const h = document.createElement("h4");
  h.textContent = title;
  const body = document.createElement("div");
  c.append(h, body);
  root.append(c);
  return body;
}

/** Bars per label: side by side for two series (the second on its own
 * right-hand scale when `dual`), stacked for more (`stacked`). */
function bars(el: HTMLElement, labels: string[], series: { label: string; values: number[] }[], opts: { dual?: boolean; stacked?: boolean } = {}) {
  const x = labels.map((_, i) => i);
  const n = series.length;
  let shown = series;
  if (opts.stacked) {
    // Each series drawn as the running total, the tallest first, so each shows as its own band.
    const totals = series.map((_, i) => labels.map((_, j) => series.slice(0, i + 1).reduce((a, s) => a + s.values[j], 0)));
    shown = series.map((s, i) => ({ label: s.label, values: totals[i] })).reverse();
  }
  const side = !opts.stacked && n === 2;
  new uPlot(
    {
      width: 460,
      height: 220,
      series: [
        {},
        ...shown.map((s, i) => {
          const color = COLORS[(opts.stacked ? n - 1 - i : i) % COLORS.length];
          return {
            label: s.label,
            fill: color,
            stroke: color,
            scale: side && opts.dual && i === 1 ? "r" : "y",
            paths: uPlot.paths.bars!({ size: [side ? 0.35 : 0.7, 60], align: side ? (i === 0 ? -1 : 1) : 0 }),
            points: { show: false },
          };
        }),
      ],
      scales: { x: { time: false, range: [-0.5, Math.max(labels.length - 0.5, 0.5)] } },
      axes: [
        { values: (_u: uPlot, ticks: number[]) => ticks.map((t) => (Number.isInteger(t) ? labels[t] ?? "" : "")), stroke: "#aaa", grid: { show: false } },
        { stroke: "#aaa" },
        ...(side && opts.dual ? [{ scale: "r", side: 1 as const, stroke: "#aaa", grid: { show: false }, size: 70, values: money }] : []),
      ],
    },
    [x, ...shown.map((s) => s.values)] as uPlot.AlignedData,
    el,
  );
}

function lines(el: HTMLElement, t: number[], series: { label: string; values: (number | null)[]; scale?: string }[], opts: { time?: boolean } = {}) {
  new uPlot(
    {
      width: 460,
      height: 220,
      scales: { x: { time: opts.time ?? true } },
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 2, scale: s.scale ?? "y" }))],
      axes: [{ stroke: "#aaa" }, { stroke: "#aaa" }, ...(series.some((s) => s.scale === "r") ? [{ scale: "r", side: 1 as const, stroke: "#aaa", grid: { show: false }, size: 70, values: money }] : [])],
    },
    [t, ...series.map((s) => s.values)] as uPlot.AlignedData,
    el,
  );
}

function empty(el: HTMLElement, text: string) {
  el.className = "empty";
  el.textContent = text;
}

export async function showDashboard(root: HTMLElement, conn: Connection): Promise<void> {
  const [m, sessions, pending, audit] = await Promise.all([
    conn.request("codelab/getMetrics", {}) as Promise<MetricsSnapshot>,
    conn.request("codelab/listSessionMetrics", { limit: 20 }),
    conn.request("codelab/listPendingApprovals", {}),
    conn.request("codelab/getAuditLog", { category: "llm", limit: 500 }),
  ]);
  root.replaceChildren();
  const totals = document.createElement("div");
  totals.className = "totals";
  const tok = m.tokens;
  const figures: [string, string][] = [
    ["cost", `$${m.costUsd.toFixed(4)}`],
    ["tokens", String(tok.inputTokens + tok.outputTokens + tok.cacheReadTokens + tok.cacheWriteTokens)],
    ["turns", String(m.turns)],
    ["model requests", String(m.llmRequests)],
    ["pending approvals", String(pending.approvals.length)],
  ];
  for (const [k, v] of figures) {
    const d = document.createElement("div");
    d.className = "figure";
    d.dataset.figure = k;
    d.innerHTML = `<div class="v"></div><div class="k"></div>`;
    d.querySelector(".v")!.textContent = v;
    d.querySelector(".k")!.textContent = k;
    totals.append(d);
  }
  root.append(totals);
  const grid = document.createElement("div");
  grid.className = "charts";
  root.append(grid);

  const per: SessionMetrics[] = sessions.sessions;
  const perEl = card(grid, "Tokens and cost per session");
  if (per.length === 0) empty(perEl, "no sessions yet");
  else
    bars(
      perEl,
      per.map((s) => s.sessionId.slice(-6)),
      [
        { label: "tokens", values: per.map((s) => s.tokens.inputTokens + s.tokens.outputTokens + s.tokens.cacheReadTokens + s.tokens.cacheWriteTokens) },
        { label: "cost ($)", values: per.map((s) => s.costUsd) },
      ],
      { dual: true },
    );

  const series = requestSeries(audit.entries);
  const timeEl = card(grid, "Tokens and cost over time");
  if (series.t.length === 0) empty(timeEl, "no model requests yet");
  else lines(timeEl, series.t, [{ label: "tokens", values: series.tokens }, { label: "cost ($)", values: series.cost, scale: "r" }]);

  const tools = toolOutcomes(m.toolCalls);
  const toolEl = card(grid, "Tool calls by tool and outcome");
  if (tools.tools.length === 0) empty(toolEl, "no tool calls yet");
  else bars(toolEl, tools.tools, tools.outcomes.map((o, i) => ({ label: o, values: tools.values[i] })), { stacked: true });

  const latEl = card(grid, "Latency (ms) by percentile: turns, first token, tools");
  const pct = (p: { p50: number; p90: number; p99: number; max: number }) => [p.p50, p.p90, p.p99, p.max];
  lines(latEl, [50, 90, 99, 100], [
    { label: "turn", values: pct(m.turnDurationMs) },
    { label: "first token", values: pct(m.timeToFirstTokenMs) },
    { label: "tool", values: pct(m.toolDurationMs) },
  ], { time: false });

  const modelEl = card(grid, "Model latency per request (ms)");
  if (series.t.length === 0) empty(modelEl, "no model requests yet");
  else lines(modelEl, series.t, [{ label: "duration", values: series.latency }, { label: "first token", values: series.ttft }]);
}
